/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness every bench_<module>.c uses: calibrate, warm up, sample, and
 * print one table per benchmark with a ratio column against a baseline from the same run.
 */
#ifndef VC_BENCH_HARNESS_H
#define VC_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Statistics over samples, each one a time per operation in nanoseconds. */
struct vcb_stats {
	double min;
	double median;
	double p99; /* nearest-rank 99th percentile of the samples */
	double mean;
	size_t samples;
};

/** Sorts @p samples in place and fills @p out; @p n may be 0 (all fields 0). */
void vcb_stats_compute(double *samples, size_t n, struct vcb_stats *out);

/** How cases are sampled. vcb_init() fills it from the command line. */
struct vcb_config {
	double sample_ns;     /* one sample runs enough operations to last this long */
	double budget_ns;     /* time spent sampling one case (after warm-up) */
	unsigned warmup;      /* samples run and discarded first */
	unsigned min_samples; /* taken even when the budget runs out */
	unsigned max_samples; /* stop early when reached */
	bool quick;           /* --quick: a smoke run that proves the benchmark works */
};

/** The active configuration (after vcb_init()). */
extern struct vcb_config vcb_cfg;

/**
 * Parses the common flags: --quick (or VC_BENCH_QUICK=1 in the environment) and --help.
 * Exits on --help or an unknown flag.
 */
void vcb_init(int argc, char **argv);

/** Runs @p ops operations; the harness times each call. */
typedef void (*vcb_fn)(void *ctx, uint64_t ops);

struct vcb_table;

/**
 * Starts a table. @p bench names the benchmark program (e.g. "ring"), @p title the
 * table, @p baseline the case every other row is compared with (it must be added to
 * the same table). Aborts on allocation failure: benchmarks are programs, not library.
 */
struct vcb_table *vcb_table_new(const char *bench, const char *title, const char *baseline);

/**
 * Measures one case: calibrates the operation count per sample to vcb_cfg.sample_ns,
 * runs vcb_cfg.warmup samples, then samples until the budget is spent.
 * @return the row's statistics (ns per operation), valid until the table is freed.
 */
const struct vcb_stats *vcb_run(struct vcb_table *t, const char *name, vcb_fn fn, void *ctx);

/** Adds a row measured by the caller (@p ns_per_op), for cases that time themselves. */
void vcb_add(struct vcb_table *t, const char *name, const struct vcb_stats *ns_per_op);

/** Adds an extra column value to row @p name (e.g. "notify/Mmsg"); up to 4 per row. */
void vcb_note(struct vcb_table *t, const char *name, const char *key, double value);

/**
 * Prints the table to @p out (human-readable), then one machine-readable line per row
 * ("BENCH {json}") for scripts, and frees the table.
 * @return 0, or -1 if the baseline row is missing (the ratio column then reads "n/a").
 */
int vcb_table_finish(struct vcb_table *t, FILE *out);

/** Monotonic time in nanoseconds. */
uint64_t vcb_now_ns(void);

/** A case timed as a whole: one call of @c fn is one operation (seconds long, say). */
struct vcb_once {
	const char *name;
	void (*fn)(void);
	void (*prep)(void); /**< run untimed before each call of @c fn; may be NULL */
};

/** Trials vcb_run_rounds() takes at most. */
#define VCB_MAX_ROUNDS 16

/**
 * Times @p n whole-operation cases round-robin, @p trials rounds (so drift on a noisy
 * machine hits every case alike), and adds one row per case to @p t with its statistics,
 * "MB/s" when @p bytes > 0 (bytes per operation over the median), and "min/base-min",
 * the ratio of its best trial to the best trial of case @p base: slow trials on these
 * hosts are outside interference, so the minimums compare the work.
 */
void vcb_run_rounds(struct vcb_table *t, const struct vcb_once *cases, int n, int base,
		    int trials, double bytes);

/**
 * Runs a command (stdout to /dev/null, in directory @p dir if not NULL) and waits.
 * @return its exit status, or -1 if it could not start or died of a signal.
 */
int vcb_command(const char *const argv[], const char *dir);

/** Fills @p len bytes (a multiple of 8) with xorshift output: incompressible data. */
void vcb_fill_random(void *buf, size_t len, uint64_t *state);

/** Exit status of a benchmark that cannot run here (Meson counts it as a skip). */
#define VCB_SKIP 77
/**
 * Whether /dev/kvm is usable: opened read-write and answering KVM_GET_API_VERSION.
 * @return true; false with the reason in @p why
 */
bool vcb_kvm_usable(char *why, size_t len);

/** Keeps the compiler from discarding a computed value. */
#define vcb_keep(v) __asm__ volatile("" : : "r"(v) : "memory")

#endif /* VC_BENCH_HARNESS_H */

// SPDX-License-Identifier: MIT
// Benchmark harness: calibration, sampling, statistics, table and JSON-line output.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_ROWS 64
#define MAX_NOTES 4

struct vcb_config vcb_cfg = {
	.sample_ns = 2e6,
	.budget_ns = 300e6,
	.warmup = 3,
	.min_samples = 15,
	.max_samples = 2000,
};

struct row {
	char name[64];
	struct vcb_stats st;
	unsigned nnotes;
	char note_key[MAX_NOTES][24];
	double note_val[MAX_NOTES];
};

struct vcb_table {
	char bench[32];
	char title[96];
	char baseline[64];
	unsigned nrows;
	struct row rows[MAX_ROWS];
};

uint64_t vcb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void vcb_stats_compute(double *s, size_t n, struct vcb_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return;
	qsort(s, n, sizeof(*s), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	out->samples = n;
	out->min = s[0];
	out->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	/* Nearest rank: the smallest sample with at least 99% of samples at or below it. */
	size_t rank = (size_t)ceil(0.99 * (double)n);
	out->p99 = s[rank - 1];
	out->mean = sum / (double)n;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--quick]\n"
		   "  --quick  a short smoke run (also VC_BENCH_QUICK=1); figures are noisy\n",
		prog);
}

void vcb_init(int argc, char **argv)
{
	bool quick = getenv("VC_BENCH_QUICK") && strcmp(getenv("VC_BENCH_QUICK"), "0");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, argv[0]);
			exit(0);
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], argv[i]);
			usage(stderr, argv[0]);
			exit(2);
		}
	}
	if (quick) {
		vcb_cfg.sample_ns = 2e5;
		vcb_cfg.budget_ns = 5e6;
		vcb_cfg.warmup = 1;
		vcb_cfg.min_samples = 3;
		vcb_cfg.max_samples = 50;
		vcb_cfg.quick = true;
	}
}

struct vcb_table *vcb_table_new(const char *bench, const char *title, const char *baseline)
{
	struct vcb_table *t = calloc(1, sizeof(*t));
	if (!t) {
		perror("vcb_table_new");
		abort();
	}
	snprintf(t->bench, sizeof(t->bench), "%s", bench);
	snprintf(t->title, sizeof(t->title), "%s", title);
	snprintf(t->baseline, sizeof(t->baseline), "%s", baseline);
	return t;
}

static struct row *find_row(struct vcb_table *t, const char *name)
{
	for (unsigned i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].name, name))
			return &t->rows[i];
	return NULL;
}

static struct row *new_row(struct vcb_table *t, const char *name)
{
	if (t->nrows == MAX_ROWS) {
		fprintf(stderr, "bench %s: more than %d rows in '%s'\n", t->bench, MAX_ROWS,
			t->title);
		abort();
	}
	struct row *r = &t->rows[t->nrows++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

static double time_ops(vcb_fn fn, void *ctx, uint64_t ops)
{
	uint64_t t0 = vcb_now_ns();
	fn(ctx, ops);
	return (double)(vcb_now_ns() - t0);
}

const struct vcb_stats *vcb_run(struct vcb_table *t, const char *name, vcb_fn fn, void *ctx)
{
	/* Calibrate: grow the batch until one sample lasts sample_ns. */
	uint64_t ops = 1;
	for (;;) {
		double ns = time_ops(fn, ctx, ops);
		if (ns >= vcb_cfg.sample_ns || ops >= (1ull << 40))
			break;
		double grow = ns > 0 ? vcb_cfg.sample_ns / ns * 1.1 : 100;
		grow = grow < 2 ? 2 : grow > 100 ? 100 : grow;
		ops = (uint64_t)((double)ops * grow);
	}
	for (unsigned i = 0; i < vcb_cfg.warmup; i++)
		time_ops(fn, ctx, ops);

	double *samples = malloc(sizeof(double) * vcb_cfg.max_samples);
	if (!samples) {
		perror("vcb_run");
		abort();
	}
	size_t n = 0;
	double spent = 0;
	while (n < vcb_cfg.max_samples && (n < vcb_cfg.min_samples || spent < vcb_cfg.budget_ns)) {
		double ns = time_ops(fn, ctx, ops);
		spent += ns;
		samples[n++] = ns / (double)ops;
	}
	struct row *r = new_row(t, name);
	vcb_stats_compute(samples, n, &r->st);
	free(samples);
	return &r->st;
}

void vcb_add(struct vcb_table *t, const char *name, const struct vcb_stats *st)
{
	new_row(t, name)->st = *st;
}

void vcb_note(struct vcb_table *t, const char *name, const char *key, double value)
{
	struct row *r = find_row(t, name);
	if (!r || r->nnotes == MAX_NOTES) {
		fprintf(stderr, "bench %s: cannot note '%s' on row '%s'\n", t->bench, key, name);
		abort();
	}
	snprintf(r->note_key[r->nnotes], sizeof(r->note_key[0]), "%s", key);
	r->note_val[r->nnotes++] = value;
}

/* Prints a time with a unit that keeps 3-4 significant digits. */
static void fmt_time(char *buf, size_t len, double ns)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.2f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
}

static void print_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, out);
	}
	fputc('"', out);
}

int vcb_table_finish(struct vcb_table *t, FILE *out)
{
	struct row *base = find_row(t, t->baseline);
	double base_median = base ? base->st.median : NAN;

	fprintf(out, "\n== %s: %s%s\n", t->bench, t->title, vcb_cfg.quick ? " (quick run)" : "");
	fprintf(out, "%-34s %11s %11s %11s %12s %10s", "case", "min", "median", "p99",
		"ops/s", "time/base");
	/* Extra columns: the union of note keys, in order of first appearance. */
	const char *keys[MAX_ROWS * MAX_NOTES];
	unsigned nkeys = 0;
	for (unsigned i = 0; i < t->nrows; i++)
		for (unsigned k = 0; k < t->rows[i].nnotes; k++) {
			unsigned j = 0;
			while (j < nkeys && strcmp(keys[j], t->rows[i].note_key[k]))
				j++;
			if (j == nkeys)
				keys[nkeys++] = t->rows[i].note_key[k];
		}
	for (unsigned j = 0; j < nkeys; j++)
		fprintf(out, " %14s", keys[j]);
	fputc('\n', out);

	for (unsigned i = 0; i < t->nrows; i++) {
		struct row *r = &t->rows[i];
		char mn[24], md[24], p99[24], ratio[24];
		fmt_time(mn, sizeof(mn), r->st.min);
		fmt_time(md, sizeof(md), r->st.median);
		fmt_time(p99, sizeof(p99), r->st.p99);
		if (base && base_median > 0)
			snprintf(ratio, sizeof(ratio), "%.3fx", r->st.median / base_median);
		else
			snprintf(ratio, sizeof(ratio), "n/a");
		double ops = r->st.median > 0 ? 1e9 / r->st.median : 0;
		fprintf(out, "%-34s %11s %11s %11s %12.4g %10s", r->name, mn, md, p99, ops, ratio);
		for (unsigned j = 0; j < nkeys; j++) {
			unsigned k = 0;
			while (k < r->nnotes && strcmp(r->note_key[k], keys[j]))
				k++;
			if (k < r->nnotes)
				fprintf(out, " %14.4g", r->note_val[k]);
			else
				fprintf(out, " %14s", "-");
		}
		fputc('\n', out);
	}
	fprintf(out, "(time per operation; time/base = median / median of '%s', lower is faster)\n",
		t->baseline);

	for (unsigned i = 0; i < t->nrows; i++) {
		struct row *r = &t->rows[i];
		fputs("BENCH {\"bench\":", out);
		print_json_string(out, t->bench);
		fputs(",\"table\":", out);
		print_json_string(out, t->title);
		fputs(",\"case\":", out);
		print_json_string(out, r->name);
		fputs(",\"baseline\":", out);
		print_json_string(out, t->baseline);
		fprintf(out, ",\"min_ns\":%.3f,\"median_ns\":%.3f,\"p99_ns\":%.3f,\"mean_ns\":%.3f,"
			     "\"samples\":%zu",
			r->st.min, r->st.median, r->st.p99, r->st.mean, r->st.samples);
		if (base && base_median > 0)
			fprintf(out, ",\"ratio\":%.5f", r->st.median / base_median);
		for (unsigned k = 0; k < r->nnotes; k++) {
			fputc(',', out);
			print_json_string(out, r->note_key[k]);
			fprintf(out, ":%.6g", r->note_val[k]);
		}
		fputs(",\"quick\":", out);
		fputs(vcb_cfg.quick ? "true}\n" : "false}\n", out);
	}
	fflush(out);
	free(t);
	return base ? 0 : -1;
}

void vcb_run_rounds(struct vcb_table *t, const struct vcb_once *cases, int n, int base,
		    int trials, double bytes)
{
	double *times = calloc((size_t)n * VCB_MAX_ROUNDS, sizeof(*times));
	double *mins = calloc((size_t)n, sizeof(*mins));

	if (!times || !mins)
		abort();
	if (trials > VCB_MAX_ROUNDS)
		trials = VCB_MAX_ROUNDS;
	for (int k = 0; k < trials; k++)
		for (int i = 0; i < n; i++) {
			if (cases[i].prep)
				cases[i].prep();
			uint64_t t0 = vcb_now_ns();
			cases[i].fn();
			times[i * VCB_MAX_ROUNDS + k] = (double)(vcb_now_ns() - t0);
		}
	for (int i = 0; i < n; i++) {
		struct vcb_stats s;
		vcb_stats_compute(&times[i * VCB_MAX_ROUNDS], (size_t)trials, &s);
		vcb_add(t, cases[i].name, &s);
		mins[i] = s.min;
		if (bytes > 0)
			vcb_note(t, cases[i].name, "MB/s", bytes / 1e6 / (s.median * 1e-9));
	}
	for (int i = 0; i < n; i++)
		vcb_note(t, cases[i].name, "min/base-min", mins[i] / mins[base]);
	free(times);
	free(mins);
}

int vcb_command(const char *const argv[], const char *dir)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (dir)
		posix_spawn_file_actions_addchdir_np(&fa, dir);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

void vcb_fill_random(void *buf, size_t len, uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull, *p = buf;

	for (size_t k = 0; k < len / 8; k++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[k] = x;
	}
	*state = x;
}

bool vcb_kvm_usable(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "no usable /dev/kvm (%s)", strerror(errno));
		return false;
	}
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (api != KVM_API_VERSION) {
		snprintf(why, len, "/dev/kvm does not answer KVM_GET_API_VERSION");
		return false;
	}
	return true;
}

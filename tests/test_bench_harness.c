// SPDX-License-Identifier: MIT
// Tests of bench/harness.c: the statistics, the sampling loop and the table output.
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

Test(stats, even_count_median_and_nearest_rank_p99)
{
	double s[100];
	for (int i = 0; i < 100; i++)
		s[i] = 100 - i; /* reversed: compute must sort */
	struct vcb_stats st;
	vcb_stats_compute(s, 100, &st);
	cr_assert_float_eq(st.min, 1, 1e-9);
	cr_assert_float_eq(st.median, 50.5, 1e-9);
	cr_assert_float_eq(st.p99, 99, 1e-9);
	cr_assert_float_eq(st.mean, 50.5, 1e-9);
	cr_assert_eq(st.samples, 100);
}

Test(stats, odd_count_and_single_sample)
{
	double s[] = {5, 1, 3};
	struct vcb_stats st;
	vcb_stats_compute(s, 3, &st);
	cr_assert_float_eq(st.median, 3, 1e-9);
	cr_assert_float_eq(st.p99, 5, 1e-9);

	double one[] = {7};
	vcb_stats_compute(one, 1, &st);
	cr_assert_float_eq(st.min, 7, 1e-9);
	cr_assert_float_eq(st.median, 7, 1e-9);
	cr_assert_float_eq(st.p99, 7, 1e-9);
}

Test(stats, empty_is_all_zero)
{
	struct vcb_stats st;
	memset(&st, 0xff, sizeof(st));
	vcb_stats_compute(NULL, 0, &st);
	cr_assert_eq(st.samples, 0);
	cr_assert_float_eq(st.median, 0, 1e-9);
}

struct counting {
	uint64_t calls, max_ops, total_ops;
};

static void spin_ops(void *ctx, uint64_t ops)
{
	struct counting *c = ctx;
	c->calls++;
	c->total_ops += ops;
	if (ops > c->max_ops)
		c->max_ops = ops;
	for (volatile uint64_t i = 0; i < ops * 10; i++)
		;
}

static void quick_config(void)
{
	char prog[] = "test", quick[] = "--quick";
	char *argv[] = {prog, quick, NULL};
	vcb_init(2, argv);
}

Test(run, calibrates_then_takes_at_least_min_samples, .init = quick_config)
{
	struct counting c = {0};
	struct vcb_table *t = vcb_table_new("test", "spin", "spin");
	const struct vcb_stats *st = vcb_run(t, "spin", spin_ops, &c);
	cr_assert_geq(st->samples, vcb_cfg.min_samples);
	cr_assert_leq(st->samples, vcb_cfg.max_samples);
	cr_assert_gt(c.max_ops, 1, "the batch never grew past one operation");
	cr_assert_gt(st->median, 0);
	cr_assert_leq(st->min, st->median);
	cr_assert_leq(st->median, st->p99);
	FILE *devnull = fopen("/dev/null", "w");
	cr_assert_eq(vcb_table_finish(t, devnull), 0);
	fclose(devnull);
}

Test(table, prints_ratio_against_baseline_and_json_lines)
{
	struct vcb_table *t = vcb_table_new("demo", "two rows", "base");
	struct vcb_stats base = {.min = 10, .median = 10, .p99 = 12, .mean = 10, .samples = 5};
	struct vcb_stats fast = {.min = 4, .median = 5, .p99 = 6, .mean = 5, .samples = 5};
	vcb_add(t, "base", &base);
	vcb_add(t, "fast", &fast);
	vcb_note(t, "fast", "notify/Mmsg", 42);

	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	cr_assert_eq(vcb_table_finish(t, out), 0);
	fclose(out);
	cr_assert_not_null(strstr(buf, "== demo: two rows"));
	cr_assert_not_null(strstr(buf, "1.000x"));
	cr_assert_not_null(strstr(buf, "0.500x"));
	cr_assert_not_null(strstr(buf, "notify/Mmsg"));
	cr_assert_not_null(strstr(buf, "BENCH {\"bench\":\"demo\",\"table\":\"two rows\","
				       "\"case\":\"fast\",\"baseline\":\"base\""));
	cr_assert_not_null(strstr(buf, "\"ratio\":0.50000,\"notify/Mmsg\":42"));
	free(buf);
}

Test(table, missing_baseline_is_reported)
{
	struct vcb_table *t = vcb_table_new("demo", "no base", "absent");
	struct vcb_stats st = {.min = 1, .median = 1, .p99 = 1, .mean = 1, .samples = 1};
	vcb_add(t, "only", &st);
	FILE *devnull = fopen("/dev/null", "w");
	cr_assert_eq(vcb_table_finish(t, devnull), -1);
	fclose(devnull);
}

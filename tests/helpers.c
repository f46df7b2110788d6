// SPDX-License-Identifier: MIT
// Helpers shared by the Criterion tests.
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/common.h>

#include "helpers.h"

uint64_t th_clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double th_stress_seconds(double dflt)
{
	const char *s = getenv("VC_STRESS_SECONDS");
	double v = s ? strtod(s, NULL) : 0;
	return v > 0 ? v : dflt;
}

uint64_t th_rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

char th_dir[PATH_MAX];
char th_last_log[1024];

static void capture_log(enum vc_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	if (level == VC_LOG_ERROR)
		snprintf(th_last_log, sizeof(th_last_log), "%s", msg);
}

void th_scratch_begin(const char *tag)
{
	snprintf(th_dir, sizeof(th_dir), "/tmp/vc-test-%s-XXXXXX", tag);
	if (!mkdtemp(th_dir)) {
		perror("mkdtemp");
		abort();
	}
	th_last_log[0] = '\0';
	vc_set_log_fn(capture_log, NULL);
}

void th_scratch_end(void)
{
	vc_set_log_fn(NULL, NULL);
	th_remove_tree(th_dir);
}

char *th_path(const char *name)
{
	static char buf[4][PATH_MAX + 300];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", th_dir, name);
	return p;
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

void th_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void *th_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n = -1;
	if (f && fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!buf || fseek(f, 0, SEEK_SET) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "th_read_file: %s: %s\n", path, strerror(errno));
		abort();
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

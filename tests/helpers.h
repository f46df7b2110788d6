/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the Criterion tests. */
#ifndef VC_TESTS_HELPERS_H
#define VC_TESTS_HELPERS_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on @clock. */
uint64_t th_clock_ns(clockid_t clock);

/* Seconds a stress test runs: @dflt, or VC_STRESS_SECONDS from the environment. */
double th_stress_seconds(double dflt);

/* A deterministic 64-bit PRNG (splitmix64) so failures reproduce. */
uint64_t th_rand64(uint64_t *state);

/*
 * A scratch directory for tests that write files, and the library's error messages
 * while it exists. th_scratch_begin() creates /tmp/vc-test-TAG-XXXXXX (in th_dir) and
 * starts capturing VC_LOG_ERROR lines (the latest in th_last_log); th_scratch_end()
 * stops the capture and removes the directory with everything in it.
 */
#include <limits.h>
extern char th_dir[PATH_MAX];
extern char th_last_log[1024];
void th_scratch_begin(const char *tag);
void th_scratch_end(void);

/* th_dir/NAME, in one of four rotating buffers (so a call may hold four at once). */
char *th_path(const char *name);

/* The whole file at @path, malloc'd (*@len its size, the buffer one byte longer). A file
 * that cannot be read ends the test process with the path and the reason. */
void *th_read_file(const char *path, size_t *len);

/* Removes @path and, if it is a directory, everything below it. */
void th_remove_tree(const char *path);

#endif /* VC_TESTS_HELPERS_H */

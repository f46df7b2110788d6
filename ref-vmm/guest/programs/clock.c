// SPDX-License-Identifier: MIT
// clock[:N] — time from the shared timer page, read at CPL3 with no exit, side by side
// with the VMM's VCG_HC_CLOCK hypercall (one exit per read): N rounds (default 5) of
// "page before, hypercall, page after", checked to be in order and monotonic, then the
// cost of each way to read time from this task, in TSC cycles (a raw rdtsc for scale).
#include "../user/ulib.h"

#define COST_ROUNDS 2000

int main(void)
{
	long rounds = arg_long(5);
	uint64_t before, after, last = 0;
	int rc = clock_ns(&before);
	if (rc) {
		printf("clock: no timer page (%d): the VMM gave none\n", rc);
		return 1;
	}
	for (long i = 0; i < rounds; i++) {
		clock_ns(&before);
		int64_t host = hcall_direct(VCG_HC_CLOCK, 0, 0);
		clock_ns(&after);
		printf("clock: page %lu ns, hypercall %ld ns, page after %lu ns\n",
		       (unsigned long)before, (long)host, (unsigned long)after);
		if (before < last || after < before) {
			printf("clock: the page went backwards\n");
			return 1;
		}
		last = after;
	}
	/* The cost of each way, in TSC cycles per read. */
	uint64_t t0 = rdtsc(), sink = 0;
	for (int i = 0; i < COST_ROUNDS; i++)
		sink += rdtsc();
	uint64_t t1 = rdtsc();
	for (int i = 0; i < COST_ROUNDS; i++) {
		uint64_t ns;
		clock_ns(&ns);
		sink += ns;
	}
	uint64_t t2 = rdtsc();
	int hcalls = COST_ROUNDS / 20; /* each is an exit: fewer of them */
	for (int i = 0; i < hcalls; i++)
		sink += (uint64_t)hcall_direct(VCG_HC_CLOCK, 0, 0);
	uint64_t t3 = rdtsc();
	printf("clock: rdtsc %lu tsc/read, page %lu tsc/read, hypercall %lu tsc/read (%lu)\n",
	       (unsigned long)((t1 - t0) / COST_ROUNDS), (unsigned long)((t2 - t1) / COST_ROUNDS),
	       (unsigned long)((t3 - t2) / (uint64_t)hcalls), (unsigned long)(sink & 1));
	return 0;
}

// SPDX-License-Identifier: MIT
// clockpeer[:MS] — one timestamp from the shared timer page per line the host writes to
// vc-vmm's standard input (VCG_HC_INPUT_LINE): a test on the host paces two VMs sharing a
// page (vc-vmm --timerpage-share) and checks their timestamps interleave. Each line is
// "clockpeer: page NS ticks N stale 0|1": stale when the page's tick counter stood still
// for MS milliseconds (default VC_TIMERPAGE_STALE_MS) by this task's TSC, as it does once
// the writing VMM is gone. Ends with 0 at the end of input; 1 if time went backwards.
#include "../user/ulib.h"

int main(void)
{
	long bound = arg_long(VC_TIMERPAGE_STALE_MS);
	uint64_t ns, last = 0;
	int rc = clock_ns(&ns);
	if (rc) {
		printf("clockpeer: no timer page (%d)\n", rc);
		return 1;
	}
	struct vc_timerpage_abi_watch watch = {0};
	vc_timerpage_abi_stale(ulib_timerpage, &watch, (uint32_t)bound); /* arms it */
	int backwards = 0;
	for (;;) {
		int64_t got = hcall_direct(VCG_HC_INPUT_LINE, 0, 0);
		if (got < 0) {
			printf("clockpeer: no input (%ld)\n", (long)got);
			return 1;
		}
		if (got == 0)
			break;
		/* Ordered: the timestamp is taken after the line arrived, not before. */
		rc = vc_timerpage_abi_read_ordered(&ns, ulib_timerpage);
		int stale = vc_timerpage_abi_stale(ulib_timerpage, &watch, (uint32_t)bound);
		if (rc) {
			printf("clockpeer: page error %d stale %d\n", rc, stale);
			continue;
		}
		if (ns < last)
			backwards++;
		last = ns;
		printf("clockpeer: page %lu ticks %lu stale %d\n", (unsigned long)ns,
		       (unsigned long)vc_timerpage_abi_ticks(ulib_timerpage), stale);
	}
	if (backwards)
		printf("clockpeer: time went backwards %d times\n", backwards);
	return backwards ? 1 : 0;
}

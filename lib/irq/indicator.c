// SPDX-License-Identifier: MIT
// The interrupt indicator: a pending bit per 16-bit requester id under two summary levels
// (1024 leaf words -> 16 summary words -> 1 top word), set bottom-up by any thread and
// read-and-cleared top-down, so a scan touches only the words that hold pending bits.
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <virtcore/irq.h>

#define LEAVES 1024u /* 65536 / 64 */
#define SUMMARIES 16u /* 1024 / 64 */

struct vc_irq_indicator {
	_Alignas(64) _Atomic uint64_t top;
	_Alignas(64) _Atomic uint64_t summary[SUMMARIES];
	_Alignas(64) _Atomic uint64_t leaf[LEAVES];
};

VC_API int vc_irq_indicator_create(vc_irq_indicator **out)
{
	if (!out)
		return -EINVAL;
	vc_irq_indicator *ind = aligned_alloc(64, sizeof(*ind));
	if (!ind)
		return -ENOMEM;
	atomic_init(&ind->top, 0);
	for (unsigned i = 0; i < SUMMARIES; i++)
		atomic_init(&ind->summary[i], 0);
	for (unsigned i = 0; i < LEAVES; i++)
		atomic_init(&ind->leaf[i], 0);
	*out = ind;
	return 0;
}

VC_API void vc_irq_indicator_destroy(vc_irq_indicator *ind)
{
	free(ind);
}

/*
 * Sets @bits in leaf word @w and propagates upwards. Only the setter that turns a word
 * from empty to non-empty marks the level above: any later bit in that word is either
 * taken by the scanner's exchange of the word, or finds it empty again and propagates
 * itself. The orders: a summary bit is published (release) after its leaf bits, and the
 * scanner exchanges a level (acquire) before the level below, so it never finds a summary
 * bit whose leaf bits it cannot see.
 */
static void set_bits(vc_irq_indicator *ind, unsigned w, uint64_t bits)
{
	if (atomic_fetch_or_explicit(&ind->leaf[w], bits, memory_order_acq_rel))
		return;
	unsigned s = w / 64;
	if (atomic_fetch_or_explicit(&ind->summary[s], 1ull << (w % 64), memory_order_acq_rel))
		return;
	atomic_fetch_or_explicit(&ind->top, 1ull << s, memory_order_release);
}

VC_API int vc_irq_indicator_set(vc_irq_indicator *ind, uint32_t requester)
{
	if (!ind || requester > 0xffff)
		return -EINVAL;
	set_bits(ind, requester / 64, 1ull << (requester % 64));
	return 0;
}

VC_API int vc_irq_indicator_test(const vc_irq_indicator *ind, uint32_t requester)
{
	if (!ind || requester > 0xffff)
		return -EINVAL;
	vc_irq_indicator *m = (vc_irq_indicator *)ind; /* atomic loads take non-const */
	return (atomic_load_explicit(&m->leaf[requester / 64], memory_order_acquire) >>
		(requester % 64)) & 1;
}

/* Puts back what a full output buffer could not take: same propagation as a setter. */
static void put_back_summary(vc_irq_indicator *ind, unsigned s, uint64_t bits)
{
	if (!bits)
		return;
	if (!atomic_fetch_or_explicit(&ind->summary[s], bits, memory_order_acq_rel))
		atomic_fetch_or_explicit(&ind->top, 1ull << s, memory_order_release);
}

VC_API int vc_irq_indicator_scan(vc_irq_indicator *ind, uint16_t *out, size_t max)
{
	if (!ind || (!out && max))
		return -EINVAL;
	/* A plain load first: an idle indicator costs one shared read, no locked op. */
	if (!max || !atomic_load_explicit(&ind->top, memory_order_relaxed))
		return 0;
	size_t n = 0;
	uint64_t top = atomic_exchange_explicit(&ind->top, 0, memory_order_acq_rel);
	while (top) {
		unsigned s = (unsigned)__builtin_ctzll(top);
		top &= top - 1;
		uint64_t sum = atomic_exchange_explicit(&ind->summary[s], 0, memory_order_acq_rel);
		while (sum) {
			unsigned w = s * 64 + (unsigned)__builtin_ctzll(sum);
			sum &= sum - 1;
			uint64_t bits = atomic_exchange_explicit(&ind->leaf[w], 0, memory_order_acq_rel);
			while (bits) {
				if (n == max) {
					set_bits(ind, w, bits);
					put_back_summary(ind, s, sum);
					if (top)
						atomic_fetch_or_explicit(&ind->top, top,
									 memory_order_release);
					return (int)n;
				}
				out[n++] = (uint16_t)(w * 64 + (unsigned)__builtin_ctzll(bits));
				bits &= bits - 1;
			}
		}
	}
	return (int)n;
}

/* SPDX-License-Identifier: MIT */
/*
 * The interrupt indicator's memory layout (a wire ABI) and its freestanding inline setter
 * and scanner, so the indicator can live in memory two sides share: a VMM sets requesters
 * pending in guest RAM and raises one interrupt, the guest's handler scans and dispatches
 * (seed US20100262741A1). The library's vc_irq_indicator (irq.h) is this layout in host
 * memory. No libc; fixed-width little-endian fields, no pointers.
 *
 * A pending bit per 16-bit requester id under two summary levels: 1024 leaf words, 16
 * summary words (bit w % 64 of summary[w / 64]: leaf word w is non-empty), one top word
 * (bit s: summary word s is non-empty). Setters work bottom-up, the scanner reads and
 * clears top-down, so a scan touches only the words that hold pending bits: with 1 of
 * 4096 requesters pending it reads 3 words where a flat bitmap needs 64.
 *
 * Every set is reported exactly once, by the scan it raced with or a later one; none is
 * lost, none reported twice, any number of setters and scanners at once. The argument:
 * only the setter that turns a word from empty to non-empty marks the level above (a
 * later bit in that word is taken by the scanner's exchange of the word, or finds it
 * empty again and propagates itself); a summary bit is published (release) after its
 * leaf bits and the scanner exchanges a level (acquire) before the level below, so it
 * never finds a summary bit whose leaf bits it cannot see.
 */
#ifndef VIRTCORE_IRQ_ABI_H
#define VIRTCORE_IRQ_ABI_H

#include <stddef.h>
#include <stdint.h>

/** Requester ids 0..65535. */
#define VC_IRQ_ABI_REQUESTERS 65536u
#define VC_IRQ_ABI_LEAVES 1024u   /* 65536 / 64 */
#define VC_IRQ_ABI_SUMMARIES 16u  /* 1024 / 64 */
/** Bytes of struct vc_irq_indicator_abi. */
#define VC_IRQ_ABI_INDICATOR_SIZE 8384u
/** Returned for a requester above 65535 (the Linux -EINVAL, as the library returns). */
#define VC_IRQ_ABI_ERR_INVAL (-22)

/** The indicator: all zero is "nothing pending", so zeroed memory is a valid indicator. */
struct vc_irq_indicator_abi {
	uint64_t top;                            /* 0: bit s: summary[s] is non-empty */
	uint64_t pad0[7];                        /* 8: its own cache line */
	uint64_t summary[VC_IRQ_ABI_SUMMARIES];  /* 64: bit b of [s]: leaf[s * 64 + b] */
	uint64_t leaf[VC_IRQ_ABI_LEAVES];        /* 192: bit b of [w]: requester w * 64 + b */
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct vc_irq_indicator_abi) == VC_IRQ_ABI_INDICATOR_SIZE,
	       "indicator size");
_Static_assert(offsetof(struct vc_irq_indicator_abi, summary) == 64, "summary level");
_Static_assert(offsetof(struct vc_irq_indicator_abi, leaf) == 192, "leaf level");
#endif

/* Sets @bits in leaf word @w and propagates upwards (the rule above). */
static inline void vc_irq_abi_set_bits(struct vc_irq_indicator_abi *ind, unsigned w,
				       uint64_t bits)
{
	if (__atomic_fetch_or(&ind->leaf[w], bits, __ATOMIC_ACQ_REL))
		return;
	unsigned s = w / 64;
	if (__atomic_fetch_or(&ind->summary[s], 1ull << (w % 64), __ATOMIC_ACQ_REL))
		return;
	__atomic_fetch_or(&ind->top, 1ull << s, __ATOMIC_RELEASE);
}

/**
 * @brief Marks @p requester pending; setting a pending one again coalesces.
 * @return 0; VC_IRQ_ABI_ERR_INVAL for a requester above 65535
 */
static inline int vc_irq_abi_indicator_set(struct vc_irq_indicator_abi *ind, uint32_t requester)
{
	if (requester >= VC_IRQ_ABI_REQUESTERS)
		return VC_IRQ_ABI_ERR_INVAL;
	vc_irq_abi_set_bits(ind, requester / 64, 1ull << (requester % 64));
	return 0;
}

/** @brief 1 if @p requester is pending, 0 if not, VC_IRQ_ABI_ERR_INVAL above 65535. */
static inline int vc_irq_abi_indicator_test(const struct vc_irq_indicator_abi *ind,
					    uint32_t requester)
{
	if (requester >= VC_IRQ_ABI_REQUESTERS)
		return VC_IRQ_ABI_ERR_INVAL;
	return (int)((__atomic_load_n(&ind->leaf[requester / 64], __ATOMIC_ACQUIRE) >>
		      (requester % 64)) & 1);
}

/**
 * @brief Reads and clears up to @p max pending requesters into @p out, lowest id first
 * within a scan; the rest stay pending for the next call.
 * @return the number written (0: nothing pending)
 */
static inline size_t vc_irq_abi_indicator_scan(struct vc_irq_indicator_abi *ind, uint16_t *out,
					       size_t max)
{
	/* A plain load first: an idle indicator costs one shared read, no locked op. */
	if (!max || !__atomic_load_n(&ind->top, __ATOMIC_RELAXED))
		return 0;
	size_t n = 0;
	uint64_t top = __atomic_exchange_n(&ind->top, 0, __ATOMIC_ACQ_REL);
	while (top) {
		unsigned s = (unsigned)__builtin_ctzll(top);
		top &= top - 1;
		uint64_t sum = __atomic_exchange_n(&ind->summary[s], 0, __ATOMIC_ACQ_REL);
		while (sum) {
			unsigned w = s * 64 + (unsigned)__builtin_ctzll(sum);
			sum &= sum - 1;
			uint64_t bits = __atomic_exchange_n(&ind->leaf[w], 0, __ATOMIC_ACQ_REL);
			while (bits) {
				if (n == max) {
					/* Full: what is left goes back, as setters would put it. */
					vc_irq_abi_set_bits(ind, w, bits);
					if (sum && !__atomic_fetch_or(&ind->summary[s], sum,
								      __ATOMIC_ACQ_REL))
						__atomic_fetch_or(&ind->top, 1ull << s,
								  __ATOMIC_RELEASE);
					if (top)
						__atomic_fetch_or(&ind->top, top, __ATOMIC_RELEASE);
					return n;
				}
				out[n++] = (uint16_t)(w * 64 + (unsigned)__builtin_ctzll(bits));
				bits &= bits - 1;
			}
		}
	}
	return n;
}

#endif /* VIRTCORE_IRQ_ABI_H */

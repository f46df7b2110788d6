/*
 * SPDX-License-Identifier: MIT
 * Promela model of the ring's doze handshake (include/virtcore/ring_abi.h), checked with
 * spin by check_ring_model.py. Two rings in ping-pong, so both directions are covered:
 * the driver produces requests and consumes completions, the device the reverse.
 *
 * Memory model: x86-TSO. Each process's stores go into its own FIFO store buffer (a
 * channel), drained to memory by a flusher at any moment; a load sees the process's own
 * newest buffered store to that address, else memory. A full fence blocks until the
 * buffer is empty; xchg drains it and acts on memory atomically. The consumer's sleep is
 * a blocking eventfd: wait takes the count when it is non-zero, notify adds one.
 *
 * A lost wake-up leaves a consumer blocked in wait and its producer blocked waiting for
 * consumption: spin reports an invalid end state. Configuration (spin -D...):
 *   MODE_FLAG    0: EVENT_IDX mode, 1: flag mode with the exchange
 *   FENCE_P_REQ, FENCE_C_REQ, FENCE_P_COMP, FENCE_C_COMP   1: the fence is present
 */
#ifndef MODE_FLAG
#define MODE_FLAG 0
#endif
#ifndef FENCE_P_REQ
#define FENCE_P_REQ 1
#endif
#ifndef FENCE_C_REQ
#define FENCE_C_REQ 1
#endif
#ifndef FENCE_P_COMP
#define FENCE_P_COMP 1
#endif
#ifndef FENCE_C_COMP
#define FENCE_C_COMP 1
#endif

#define ROUNDS 2
#define SB_DEPTH 3

/* addresses: per ring R (0 = requests, 1 = completions) */
#define PROD(R) (R * 4 + 0)
#define CONS(R) (R * 4 + 1)
#define WAKE(R) (R * 4 + 2)
#define FLAG(R) (R * 4 + 3)
#define ACTIVE 0
#define DOZING 1
#define NOTIFIED 2

byte mem[8];
byte evt[2];           /* eventfd counters */
chan sb[2] = [SB_DEPTH] of { byte, byte };   /* store buffers: driver 0, device 1 */

proctype flusher(byte p)
{
	byte a, v;
end:	do
	:: atomic { sb[p] ? a, v -> mem[a] = v }
	od
}

inline store(p, a, v) { sb[p] ! a, v }

/* r = the newest buffered store to a by p, else memory */
inline load(p, a, r)
{
	atomic {
		r = mem[a];
		n = len(sb[p]);
		do
		:: n > 0 -> sb[p] ? ta, tv; if :: ta == a -> r = tv :: else fi; sb[p] ! ta, tv; n--
		:: else -> break
		od
	}
}

inline fence(p) { len(sb[p]) == 0 }

/* producer p publishes one entry on ring R: store index, FENCE P, notify decision */
inline publish(p, R, own, with_fence)
{
	own++;
	store(p, PROD(R), own);
	if
	:: with_fence -> fence(p)
	:: else -> skip
	fi;
#if MODE_FLAG
	load(p, FLAG(R), t);
	if
	:: t == DOZING ->
		atomic { fence(p); t = mem[FLAG(R)]; mem[FLAG(R)] = NOTIFIED };
		if
		:: t == DOZING -> evt[R]++
		:: else -> skip
		fi
	:: else -> skip
	fi
#else
	load(p, WAKE(R), t);
	if
	:: t == own - 1 -> evt[R]++    /* wake in [old, new) for a one-entry publish */
	:: else -> skip
	fi
#endif
}

/* consumer p takes one entry from ring R, dozing while it is empty */
inline consume(p, R, own, with_fence)
{
	do
	:: load(p, PROD(R), t);
		if
		:: t != own -> own++; store(p, CONS(R), own); break
		:: else ->
#if MODE_FLAG
			store(p, FLAG(R), DOZING);
#else
			store(p, WAKE(R), own);
#endif
			if
			:: with_fence -> fence(p)
			:: else -> skip
			fi;
			load(p, PROD(R), t);
			if
			:: t == own ->
				atomic { evt[R] > 0 -> evt[R] = 0 }   /* sleep until notified */
			:: else -> skip
			fi;
#if MODE_FLAG
			store(p, FLAG(R), ACTIVE)
#else
			skip
#endif
		fi
	od
}

proctype driver()
{
	byte t, ta, tv, n, req_prod = 0, comp_cons = 0;
	do
	:: req_prod < ROUNDS ->
		publish(0, 0, req_prod, FENCE_P_REQ);
		consume(0, 1, comp_cons, FENCE_C_COMP)
	:: else -> break
	od
}

proctype device()
{
	byte t, ta, tv, n, req_cons = 0, comp_prod = 0;
	do
	:: req_cons < ROUNDS ->
		consume(1, 0, req_cons, FENCE_C_REQ);
		publish(1, 1, comp_prod, FENCE_P_COMP)
	:: else -> break
	od
}

init
{
	atomic {
		mem[WAKE(0)] = 255;   /* formatted one behind: no doze announced yet */
		mem[WAKE(1)] = 255;
		run flusher(0);
		run flusher(1);
		run driver();
		run device()
	}
}

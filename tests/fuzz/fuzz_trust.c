// SPDX-License-Identifier: MIT
// libFuzzer target over the trust readers: the reference-value list parser (with and
// without a pinned key, then the text form) and the TCG event-log reader (then every
// event and a PCR replay). Input: one selector byte, then the bytes to parse.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/trust.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vc_trust_key *key;

static void fuzz_list(const uint8_t *p, size_t n)
{
	vc_trust_list *l;
	VC_OPTS(vc_trust_load_opts, unverified, .flags = VC_TRUST_LOAD_UNVERIFIED);
	VC_OPTS(vc_trust_load_opts, pinned, .key = key);

	if (vc_trust_list_load(&l, p, n, &pinned) == 0)
		abort(); /* nobody can sign with the fuzzer's freshly generated key */
	if (vc_trust_list_load(&l, p, n, &unverified) != 0)
		return;
	char text[16384];
	if (vc_trust_list_text(l, text, sizeof(text)) < 0)
		abort();
	uint8_t back[16384];
	long m = vc_trust_list_serialize(l, back, sizeof(back));
	if (m != (long)n || memcmp(back, p, n) != 0)
		abort(); /* a valid list serialises back to the same bytes */
	for (unsigned i = 0; i < vc_trust_list_count(l); i++) {
		struct vc_trust_stage st;
		if (vc_trust_list_get(&st, l, i) != 0)
			abort();
	}
	vc_trust_list_destroy(l);
}

static void fuzz_log(const uint8_t *p, size_t n)
{
	vc_trust_log *log;
	if (vc_trust_log_load(&log, p, n) != 0)
		return;
	for (unsigned i = 0; i < vc_trust_log_count(log); i++) {
		struct vc_trust_event ev;
		if (vc_trust_log_event(&ev, log, i) != 0 || ev.data + ev.data_size > p + n + (ev.data - p))
			abort();
	}
	uint8_t pcr[VC_TRUST_DIGEST_MAX];
	for (uint32_t r = 0; r < VC_TRUST_PCR_COUNT; r++)
		vc_trust_log_pcr(pcr, log, r);
	long m = vc_trust_log_serialize(log, NULL, 0);
	if (m != (long)n)
		abort(); /* the reader accepts exactly the log's length */
	vc_trust_log_destroy(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!key && vc_trust_key_generate(&key) != 0)
		abort();
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_log(data + 1, size - 1);
	else
		fuzz_list(data + 1, size - 1);
	return 0;
}

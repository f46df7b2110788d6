// SPDX-License-Identifier: MIT
// --trust LIST [--trust-key PUBLIC.pem]: the boot modules are the chain's stages. With a
// key, vc-vmm loads the list only if that key signed it and verifies every module, in
// order, before the VM exists (a refusal names the stage and both digests). Either way
// the list is copied to VCG_TRUST_LIST_GPA, where guest stages verify each other with
// the freestanding parser (guest program `trust`).
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <virtcore/trust.h>

#include "arch/x86/pvh.h"
#include "guest/abi.h"
#include "vmm.h"

static vc_trust_list *list;
static uint8_t serialized[VCG_TRUST_LIST_MAX];
static long serialized_len;

int trust_check_modules(const char *list_path, const char *key_path,
			const struct pvh_module *mods, unsigned nmods)
{
	vc_trust_key *key = NULL;
	vc_trust_chain *chain = NULL;
	int rc;

	vc_error_clear();
	rc = key_path ? vc_trust_key_load(&key, key_path) : 0;
	if (rc) {
		vmm_err("--trust-key %s: %s", key_path, vmm_lib_detail(rc, "trust: "));
		goto out;
	}
	VC_OPTS(vc_trust_load_opts, o, .key = key, .flags = key ? 0 : VC_TRUST_LOAD_UNVERIFIED);
	rc = vc_trust_list_load_path(&list, list_path, &o);
	if (rc) {
		vmm_err("--trust %s: %s", list_path, vmm_lib_detail(rc, "trust: "));
		goto out;
	}
	serialized_len = vc_trust_list_serialize(list, serialized, sizeof(serialized));
	if (serialized_len < 0) {
		rc = (int)serialized_len;
		vmm_err("--trust %s: %s", list_path, vc_strerror(rc));
		goto out;
	}
	if (!key) {
		fprintf(stderr, "vc-vmm: --trust %s: no --trust-key: the list's signature and the "
			"modules are not checked here, only by the guest\n", list_path);
		goto out;
	}
	rc = vc_trust_chain_create(&chain, list);
	for (unsigned i = 0; rc == 0 && i < nmods; i++)
		rc = vc_trust_chain_verify_mem(NULL, chain, mods[i].name, mods[i].data, mods[i].size);
	if (rc == 0)
		rc = vc_trust_chain_finish(NULL, chain);
	if (rc)
		vmm_err("--trust %s: %s", list_path, vmm_lib_detail(rc, "trust: "));
out:
	vc_trust_chain_destroy(chain);
	vc_trust_key_destroy(key);
	return rc ? -1 : 0;
}

long trust_place_list(vc_gmem *gmem)
{
	if (!list)
		return 0;
	int rc = vc_gmem_write(gmem, VCG_TRUST_LIST_GPA, serialized, (size_t)serialized_len);
	vc_trust_list_destroy(list);
	list = NULL;
	if (rc)
		vmm_err("--trust: cannot place the list at %#x: %s", VCG_TRUST_LIST_GPA,
			vc_strerror(rc));
	return rc ? -1 : serialized_len;
}

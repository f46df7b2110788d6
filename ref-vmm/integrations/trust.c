// SPDX-License-Identifier: MIT
// Where vc-vmm uses libvirtcore's trust module.
// --trust LIST [--trust-key PUBLIC.pem]: the boot modules are the chain's stages. With a
// key, vc-vmm loads the list only if that key signed it and verifies every module, in
// order, before the VM exists (a refusal names the stage and both digests). Either way
// the list is copied to VCG_TRUST_LIST_GPA, where guest stages verify each other with
// the freestanding parser (guest program `trust`).
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <virtcore/trust.h>

#include "../guest/abi.h"
#include "../vmm.h"

struct trust_state {
	uint8_t serialized[VCG_TRUST_LIST_MAX]; /* the list as the guest gets it */
	long serialized_len;                    /* 0: no --trust */
	long placed;                            /* bytes placed in guest RAM */
};

static int trust_prepare(struct vm *vm, void *st)
{
	struct trust_state *s = st;
	const char *list_path = vm->cfg->trust_path, *key_path = vm->cfg->trust_key;
	const struct vc_pvh_module *mods = vm->mods;
	unsigned nmods = vm->nmods;
	vc_trust_list *list = NULL;
	vc_trust_key *key = NULL;
	vc_trust_chain *chain = NULL;
	int rc;

	if (!list_path)
		return 0;
	vc_error_clear();
	if (!vc_has_module("trust")) {
		vmm_err("--trust: %s", vc_error_last());
		return -EOPNOTSUPP;
	}
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
	s->serialized_len = vc_trust_list_serialize(list, s->serialized, sizeof(s->serialized));
	if (s->serialized_len < 0) {
		rc = (int)s->serialized_len;
		s->serialized_len = 0;
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
	vc_trust_list_destroy(list);
	return rc;
}

static int trust_load(struct vm *vm, void *st)
{
	struct trust_state *s = st;
	if (!s->serialized_len)
		return 0;
	int rc = vc_gmem_write(vm->gmem, VCG_TRUST_LIST_GPA, s->serialized,
			       (size_t)s->serialized_len);
	if (rc) {
		vmm_err("--trust: cannot place the list at %#x: %s", VCG_TRUST_LIST_GPA,
			vc_strerror(rc));
		return rc;
	}
	s->placed = s->serialized_len;
	return 0;
}

long trust_list_size(const struct vm *vm)
{
	const struct trust_state *s = vm->part[PART_TRUST];
	return s ? s->placed : 0;
}

const struct vmm_part trust_part = {
	.name = "trust",
	.state_size = sizeof(struct trust_state),
	.prepare = trust_prepare,
	.load = trust_load,
};

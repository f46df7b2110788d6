// SPDX-License-Identifier: MIT
// trust — a guest stage verifying the next ones against the reference-value list the VMM
// placed at VCG_TRUST_LIST_GPA (`vc-vmm --trust`), with libvirtcore's freestanding
// SHA-256 and list parser. With a block device (`--pack`) each stage is the disk's image
// of the stage's name, found with pack_format.h's freestanding index reader and read over
// the device's rings; without one, boot module i must be stage i. A stage must have the
// exact size and digest; the first refusal stops the chain (exit status 1).
#include <virtcore/pack_format.h>
#include <virtcore/trust_abi.h>

#include "../abi.h"
#include "../user/ulib.h"

static void print_hex(const uint8_t *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		printf("%02x", d[i]);
}

static struct vc_pack_header disk_hdr;
static struct vc_pack_entry disk_ent[VC_PACK_MAX_IMAGES];

/* Reads and checks the packed disk's index. 0, or a message and -1. */
static int disk_index(long size)
{
	if (disk_read(&disk_hdr, sizeof(disk_hdr), VC_PACK_HEADER_OFFSET) != sizeof(disk_hdr) ||
	    disk_read(disk_ent, sizeof(disk_ent), VC_PACK_ENTRIES_OFFSET) != sizeof(disk_ent)) {
		printf("trust: cannot read the disk's index\n");
		return -1;
	}
	if (vc_pack_abi_header(&disk_hdr, (uint64_t)size) || vc_pack_abi_entries(&disk_hdr, disk_ent)) {
		printf("trust: the disk's index is not a valid packed-disk index\n");
		return -1;
	}
	return 0;
}

/* Hashes the disk's image named @name; its size, or -2 when there is none. */
static long hash_image(const char *name, uint8_t digest[32])
{
	static char buf[65536];
	struct vc_sha256 s;
	int i = vc_pack_abi_find(&disk_hdr, disk_ent, name, strlen(name));
	if (i < 0)
		return -2;
	const struct vc_pack_entry *e = &disk_ent[i];
	vc_sha256_init(&s);
	for (uint64_t off = 0; off < e->size;) {
		size_t n = e->size - off < sizeof(buf) ? (size_t)(e->size - off) : sizeof(buf);
		if (disk_read(buf, n, e->offset + off) != (long)n)
			return -5;
		vc_sha256_update(&s, buf, n);
		off += n;
	}
	vc_sha256_final(digest, &s);
	return (long)e->size;
}

/* Hashes boot module @index while reading it in pieces (modules can be large). */
static long hash_module(int index, uint8_t digest[32])
{
	static char buf[4096];
	struct vc_sha256 s;
	long size = module_size(index);

	if (size < 0)
		return size;
	vc_sha256_init(&s);
	for (long off = 0; off < size;) {
		long n = module_read(index, buf, sizeof(buf), (size_t)off);
		if (n <= 0)
			return -5;
		vc_sha256_update(&s, buf, (size_t)n);
		off += n;
	}
	vc_sha256_final(digest, &s);
	return size;
}

int main(void)
{
	static uint64_t list[VCG_TRUST_LIST_MAX / 8];
	struct vc_trust_view v;
	long n = trust_list(list, sizeof(list));

	if (n < 0) {
		printf("trust: no reference-value list from the VMM (error %ld)\n", n);
		return 1;
	}
	if (vc_trust_abi_parse(&v, list, (size_t)n) != 0 || v.alg != VC_TRUST_ALG_SHA256) {
		printf("trust: the list is malformed or not SHA-256\n");
		return 1;
	}
	long disk = disk_size();
	if (disk >= 0 && disk_index(disk) != 0)
		return 1;
	for (uint32_t i = 0; i < v.count; i++) {
		const struct vc_trust_entry *e = &v.ent[i];
		uint8_t d[32];
		long size = disk >= 0 ? hash_image(e->name, d) : hash_module((int)i, d);
		if (size < 0) {
			if (disk < 0)
				printf("trust: stage %s: missing (no boot module %u)\n", e->name, i);
			else if (size == -2)
				printf("trust: stage %s: missing (no image of that name on the disk)\n",
				       e->name);
			else
				printf("trust: stage %s: the disk read failed (%ld)\n", e->name, size);
			return 1;
		}
		if ((uint64_t)size != e->size) {
			printf("trust: stage %s: size mismatch (expected %lu bytes, got %ld)\n",
			       e->name, (unsigned long)e->size, size);
			return 1;
		}
		unsigned diff = 0;
		for (int k = 0; k < 32; k++)
			diff |= d[k] ^ e->digest[k];
		if (diff) {
			printf("trust: stage %s: digest mismatch (expected ", e->name);
			print_hex(e->digest, 32);
			printf(", got ");
			print_hex(d, 32);
			printf(")\n");
			return 1;
		}
		printf("trust: stage %s: OK, %ld bytes, sha256 ", e->name, size);
		print_hex(d, 32);
		printf("\n");
	}
	if (disk < 0 && module_size((int)v.count) >= 0) {
		printf("trust: boot module %u is not in the list\n", v.count);
		return 1;
	}
	printf("trust: %u stages verified in order%s%s\n", v.count,
	       disk >= 0 ? " from the block device" : "",
	       v.sig ? " (a signed list)" : " (an unsigned list)");
	return 0;
}

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates the C source of virtcore._native, the cffi extension (API mode) the Python
package is built on. meson runs it and compiles the output against the installed
headers, so the C compiler checks every declaration below against libvirtcore's
headers: a field, type or prototype that drifted fails the build (the import check
that meson runs right after catches a struct whose size or offsets changed).

Usage: _build.py OUT.c
"""
import sys

import cffi

# Only what the Python modules use, spelled as the headers spell it. Structs are
# declared field for field (no `...;`): cffi then verifies their layout.
CDEF = r"""
/* common.h */
const char *vc_strerror(int err);
unsigned long vc_version(void);
const char *vc_version_string(void);
int vc_has_module(const char *name);
const char *vc_error_last(void);
void vc_error_clear(void);

/* gmem.h */
typedef struct vc_gmem vc_gmem;
enum vc_gmem_flags { VC_GMEM_READONLY = 1 };
struct vc_gmem_region_info {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	unsigned flags;
};
int vc_gmem_create(vc_gmem **out);
void vc_gmem_destroy(vc_gmem *gm);
int vc_gmem_add(vc_gmem *gm, uint64_t gpa, uint64_t size, void *hva, unsigned flags);
int vc_gmem_remove(vc_gmem *gm, uint64_t gpa);
int vc_gmem_read(const vc_gmem *gm, uint64_t gpa, void *dst, size_t len);
int vc_gmem_write(const vc_gmem *gm, uint64_t gpa, const void *src, size_t len);
int vc_gmem_region(struct vc_gmem_region_info *out, const vc_gmem *gm, unsigned index);
unsigned vc_gmem_region_count(const vc_gmem *gm);

/* pack.h */
#define VC_PACK_NAME_MAX 255
#define VC_PACK_ALIGN_4K 4096
#define VC_PACK_ALIGN_1M 1048576
typedef struct vc_pack_writer vc_pack_writer;
typedef struct vc_pack vc_pack;
enum vc_pack_create_flags { VC_PACK_CREATE_SYNC = 1, VC_PACK_CREATE_SERIAL = 2 };
struct vc_pack_create_opts {
	size_t sz;
	uint64_t disk_size;
	uint32_t align;
	uint32_t flags;
	uint32_t mode;
	uint32_t pad;
};
struct vc_pack_image {
	char name[256];
	uint64_t offset;
	uint64_t size;
	uint8_t sha256[32];
	uint8_t uuid[16];
	uint32_t index;
};
struct vc_pack_info {
	uint64_t disk_size;
	uint64_t data_start;
	uint64_t data_end;
	uint64_t used;
	uint32_t align;
	uint32_t count;
	uint8_t disk_uuid[16];
};
int vc_pack_writer_open(vc_pack_writer **out, const char *path, const struct vc_pack_create_opts *opts);
int vc_pack_writer_add_path(vc_pack_writer *w, const char *name, const char *path);
int vc_pack_writer_add_fd(vc_pack_writer *w, const char *name, int fd);
int vc_pack_writer_commit(vc_pack_writer *w);
void vc_pack_writer_close(vc_pack_writer *w);
int vc_pack_open(vc_pack **out, const char *path);
void vc_pack_close(vc_pack *p);
int vc_pack_info(struct vc_pack_info *out, const vc_pack *p);
unsigned vc_pack_count(const vc_pack *p);
int vc_pack_get(struct vc_pack_image *out, const vc_pack *p, unsigned index);
int vc_pack_find(struct vc_pack_image *out, const vc_pack *p, const char *name);
int vc_pack_extract_path(vc_pack *p, unsigned index, const char *path, unsigned mode);
int vc_pack_extract_all(vc_pack *p, const char *dir, unsigned mode);
int vc_pack_verify(unsigned *out_bad, vc_pack *p);

/* rewrite.h, rewrite_format.h */
typedef struct vc_rewrite vc_rewrite;
enum vc_rewrite_class {
	VC_REWRITE_INTERRUPT_FLAG = 1, VC_REWRITE_FLAGS, VC_REWRITE_HALT, VC_REWRITE_IO,
	VC_REWRITE_MSR, VC_REWRITE_CONTROL_REG, VC_REWRITE_DEBUG_REG,
	VC_REWRITE_DESCRIPTOR_TABLE, VC_REWRITE_MACHINE_STATUS, VC_REWRITE_TLB,
	VC_REWRITE_CACHE, VC_REWRITE_CPUID, VC_REWRITE_TIMESTAMP, VC_REWRITE_PERF_COUNTER,
	VC_REWRITE_SWAPGS, VC_REWRITE_SYSTEM_RETURN, VC_REWRITE_XCR,
	VC_REWRITE_SEGMENT_CHECK, VC_REWRITE_SEGMENT_REG, VC_REWRITE_CLASS_COUNT
};
enum vc_rewrite_promote {
	VC_REWRITE_PROMOTE_YES = 0, VC_REWRITE_PROMOTE_TARGET, VC_REWRITE_PROMOTE_TABLE,
	VC_REWRITE_PROMOTE_UNMOVABLE, VC_REWRITE_PROMOTE_END
};
#define VC_REWRITE_SITE_RELOC 1
#define VC_REWRITE_SITE_EX_TABLE 2
#define VC_REWRITE_SITE_JUMP_TABLE 4
struct vc_rewrite_site {
	uint32_t section;
	const char *section_name;
	uint64_t offset;
	unsigned length;
	enum vc_rewrite_class cls;
	unsigned flags;
	unsigned reloc_mask;
	const char *mnemonic;
	uint8_t bytes[15];
	enum vc_rewrite_promote promote;
	unsigned displaced;
};
int vc_rewrite_load(vc_rewrite **out, const void *data, size_t size);
int vc_rewrite_load_path(vc_rewrite **out, const char *path);
void vc_rewrite_destroy(vc_rewrite *m);
size_t vc_rewrite_count(const vc_rewrite *m);
int vc_rewrite_get(struct vc_rewrite_site *out, const vc_rewrite *m, size_t i);
long vc_rewrite_find(const vc_rewrite *m, uint32_t section, uint64_t offset);
int vc_rewrite_is_patched(const vc_rewrite *m);
long vc_rewrite_patch(const vc_rewrite *m, void *buf, size_t len);
long vc_rewrite_restore(const void *data, size_t size, void *buf, size_t len);
const char *vc_rewrite_class_name(enum vc_rewrite_class cls);
const char *vc_rewrite_promote_name(enum vc_rewrite_promote p);

/* ring.h */
#define VC_RING_PRODUCER 1
#define VC_RING_CONSUMER 2
#define VC_RING_ALWAYS_NOTIFY 1
#define VC_RING_MODE_EVENT_IDX 1
#define VC_RING_MODE_FLAG 2
typedef struct vc_ring vc_ring;
struct vc_ring_notifier {
	int (*notify)(void *ctx);
	int (*wait)(void *ctx, int64_t timeout_ns);
	void *ctx;
};
struct vc_ring_format_opts {
	size_t sz;
	uint32_t slot_count;
	uint32_t slot_size;
	uint32_t mode;
	uint32_t pad;
};
struct vc_ring_attach_opts {
	size_t sz;
	uint32_t role;
	uint32_t flags;
	int64_t spin_max_ns;
	struct vc_ring_notifier notifier;
};
struct vc_ring_stats {
	uint64_t messages, publishes, notifications, suppressed, notify_errors, dozes,
		doze_aborts, wakeups, spurious_wakeups, spin_hits, timeouts;
	int64_t spin_ns, spin_max_ns;
};
size_t vc_ring_size(uint32_t slot_count, uint32_t slot_size);
int vc_ring_format(void *mem, size_t len, const struct vc_ring_format_opts *opts);
int vc_ring_attach(vc_ring **out, void *mem, size_t len, const struct vc_ring_attach_opts *opts);
void vc_ring_detach(vc_ring *r);
uint32_t vc_ring_slot_size(const vc_ring *r);
uint32_t vc_ring_slot_count(const vc_ring *r);
int vc_ring_push(vc_ring *r, const void *msg, size_t len);
int vc_ring_pop(vc_ring *r, void *msg, size_t len);
int vc_ring_wait(vc_ring *r, int64_t timeout_ns);
int vc_ring_is_broken(const vc_ring *r);
int vc_ring_get_stats(const vc_ring *r, struct vc_ring_stats *stats, size_t size);
int vc_ring_eventfd_notifier(struct vc_ring_notifier *out, int fd);

/* timerpage.h, timerpage_abi.h */
#define VC_TIMERPAGE_SIZE 4096
#define VC_TIMERPAGE_MAGIC 0x50544356
struct vc_timerpage_abi {
	uint32_t magic;
	uint32_t version;
	uint32_t seq;
	uint32_t flags;
	uint64_t base_tsc;
	uint64_t base_ns;
	uint32_t base_frac;
	uint32_t tsc_mul;
	int32_t tsc_shift;
	uint32_t pad0;
	uint64_t tick_count;
	uint64_t tick_period_ns;
	uint64_t tsc_hz;
	uint64_t rebase_count;
	uint32_t clock_id;
	uint32_t page_size;
	uint32_t pad1[10];
	uint8_t reserved[3968];
};
struct vc_timerpage_abi_watch {
	uint64_t ticks;
	uint64_t tsc;
	uint32_t armed;
	uint32_t pad;
};
typedef struct vc_timerpage vc_timerpage;
struct vc_timerpage_opts {
	size_t sz;
	uint32_t tick_hz;
	uint32_t flags;
	uint32_t clock_id;
	uint32_t rebase_ms;
	uint32_t max_slew_ppm;
	uint32_t pad;
	uint64_t tsc_hz;
};
int vc_timerpage_create_memfd(vc_timerpage **out, const struct vc_timerpage_opts *opts);
void vc_timerpage_destroy(vc_timerpage *tp);
int vc_timerpage_update(vc_timerpage *tp);
int vc_timerpage_start(vc_timerpage *tp);
int vc_timerpage_stop(vc_timerpage *tp);
int vc_timerpage_fd(const vc_timerpage *tp);
int vc_timerpage_check(const void *page, size_t len);
int vc_timerpage_read(uint64_t *out, const struct vc_timerpage_abi *page);
uint64_t vc_timerpage_ticks(const struct vc_timerpage_abi *page);
int vc_timerpage_stale(const struct vc_timerpage_abi *page, struct vc_timerpage_abi_watch *watch, uint32_t max_ms);

/* trust.h, trust_abi.h */
#define VC_TRUST_ALG_SHA256 0x000B
#define VC_TRUST_ALG_SHA384 0x000C
#define VC_TRUST_EV_IPL 0x0000000D
#define VC_TRUST_PCR_DEFAULT 9
enum vc_trust_role {
	VC_TRUST_ROLE_STAGE = 0, VC_TRUST_ROLE_FIRMWARE = 1, VC_TRUST_ROLE_KERNEL = 2,
	VC_TRUST_ROLE_INITRD = 3, VC_TRUST_ROLE_MODULE = 4, VC_TRUST_ROLE_CONFIG = 5,
	VC_TRUST_ROLE_MAX = 5
};
enum vc_trust_load_flags { VC_TRUST_LOAD_UNVERIFIED = 1 };
enum vc_trust_refusal {
	VC_TRUST_OK = 0, VC_TRUST_UNKNOWN_STAGE, VC_TRUST_OUT_OF_ORDER, VC_TRUST_SIZE_MISMATCH,
	VC_TRUST_DIGEST_MISMATCH, VC_TRUST_CHAIN_BROKEN, VC_TRUST_MISSING_STAGE
};
typedef struct vc_trust_list vc_trust_list;
typedef struct vc_trust_key vc_trust_key;
typedef struct vc_trust_chain vc_trust_chain;
typedef struct vc_trust_log vc_trust_log;
struct vc_trust_load_opts {
	size_t sz;
	const vc_trust_key *key;
	uint32_t flags;
	uint32_t pad;
};
struct vc_trust_stage {
	char name[48];
	enum vc_trust_role role;
	uint32_t alg;
	unsigned digest_size;
	uint8_t digest[48];
	uint64_t size;
};
struct vc_trust_verdict {
	enum vc_trust_refusal refusal;
	int index;
	int expected_index;
	char name[48];
	unsigned digest_size;
	uint8_t expected[48];
	uint8_t actual[48];
	uint64_t expected_size, actual_size;
};
struct vc_trust_event {
	uint32_t pcr;
	uint32_t type;
	unsigned digest_size;
	uint8_t digest[48];
	uint32_t data_size;
	const uint8_t *data;
};
unsigned vc_trust_digest_size(uint32_t alg);
int vc_trust_measure_mem(uint8_t *out, uint32_t alg, const void *data, size_t len);
int vc_trust_measure_path(uint8_t *out, uint64_t *out_size, uint32_t alg, const char *path);
int vc_trust_key_generate(vc_trust_key **out);
int vc_trust_key_load(vc_trust_key **out, const char *path);
int vc_trust_key_save(const vc_trust_key *key, const char *private_path, const char *public_path);
void vc_trust_key_id(uint8_t out[32], const vc_trust_key *key);
void vc_trust_key_destroy(vc_trust_key *key);
int vc_trust_list_create(vc_trust_list **out, uint32_t alg);
int vc_trust_list_add(vc_trust_list *l, const char *name, enum vc_trust_role role, const uint8_t *digest, uint64_t size);
int vc_trust_list_add_path(vc_trust_list *l, const char *name, enum vc_trust_role role, const char *path);
int vc_trust_list_sign(vc_trust_list *l, const vc_trust_key *key);
long vc_trust_list_serialize(const vc_trust_list *l, void *buf, size_t len);
int vc_trust_list_load(vc_trust_list **out, const void *buf, size_t len, const struct vc_trust_load_opts *opts);
int vc_trust_list_load_path(vc_trust_list **out, const char *path, const struct vc_trust_load_opts *opts);
int vc_trust_list_save(const vc_trust_list *l, const char *path);
void vc_trust_list_destroy(vc_trust_list *l);
unsigned vc_trust_list_count(const vc_trust_list *l);
uint32_t vc_trust_list_alg(const vc_trust_list *l);
int vc_trust_list_signed(const vc_trust_list *l);
int vc_trust_list_get(struct vc_trust_stage *out, const vc_trust_list *l, unsigned index);
long vc_trust_list_text(const vc_trust_list *l, char *buf, size_t len);
const char *vc_trust_role_name(enum vc_trust_role role);
int vc_trust_chain_create(vc_trust_chain **out, const vc_trust_list *list);
int vc_trust_chain_verify_digest(struct vc_trust_verdict *out, vc_trust_chain *c, const char *name, const uint8_t *digest, uint64_t size);
int vc_trust_chain_verify_mem(struct vc_trust_verdict *out, vc_trust_chain *c, const char *name, const void *data, size_t len);
int vc_trust_chain_verify_path(struct vc_trust_verdict *out, vc_trust_chain *c, const char *name, const char *path);
int vc_trust_chain_finish(struct vc_trust_verdict *out, vc_trust_chain *c);
unsigned vc_trust_chain_pcr(uint8_t *out, const vc_trust_chain *c);
unsigned vc_trust_chain_position(const vc_trust_chain *c);
void vc_trust_chain_destroy(vc_trust_chain *c);
int vc_trust_chain_set_log(vc_trust_chain *c, vc_trust_log *log, uint32_t pcr);
int vc_trust_log_create(vc_trust_log **out, uint32_t alg);
int vc_trust_log_add(vc_trust_log *log, uint32_t pcr, uint32_t type, const uint8_t *digest, const void *data, uint32_t data_size);
long vc_trust_log_serialize(const vc_trust_log *log, void *buf, size_t len);
int vc_trust_log_save(const vc_trust_log *log, const char *path);
int vc_trust_log_load(vc_trust_log **out, const void *buf, size_t len);
int vc_trust_log_load_path(vc_trust_log **out, const char *path);
uint32_t vc_trust_log_alg(const vc_trust_log *log);
unsigned vc_trust_log_count(const vc_trust_log *log);
int vc_trust_log_event(struct vc_trust_event *out, const vc_trust_log *log, unsigned index);
unsigned vc_trust_log_pcr(uint8_t *out, const vc_trust_log *log, uint32_t pcr);
void vc_trust_log_destroy(vc_trust_log *log);

/* spt.h: the reference walker */
enum vc_spt_mode { VC_SPT_MODE_32 = 1, VC_SPT_MODE_PAE = 2, VC_SPT_MODE_LONG4 = 3, VC_SPT_MODE_LONG5 = 4 };
enum vc_spt_access { VC_SPT_READ = 0, VC_SPT_WRITE = 1, VC_SPT_USER = 2, VC_SPT_FETCH = 4, VC_SPT_IMPLICIT = 8 };
struct vc_spt_cpu {
	enum vc_spt_mode mode;
	uint64_t cr3;
	unsigned wp : 1;
	unsigned nxe : 1;
	unsigned pse : 1;
	unsigned smep : 1;
	unsigned smap : 1;
	unsigned ac : 1;
	unsigned pke : 1;
	unsigned amd : 1;
	unsigned no_1g : 1;
	unsigned maxphyaddr;
};
struct vc_spt_walk {
	int fault;
	uint32_t error_code;
	int noncanonical;
	uint64_t gpa;
	uint64_t page_size;
	unsigned levels;
	uint64_t entry_gpa[5];
	uint64_t entry[5];
	int writable, user, executable;
};
int vc_spt_walk(struct vc_spt_walk *out, const vc_gmem *gm, const struct vc_spt_cpu *cpu, uint64_t gva, unsigned access, unsigned flags);

/* irq.h */
#define VC_IRQ_CPU_NONE 4294967295
#define VC_IRQ_VM_NONE 4294967295
#define VC_IRQ_OPT_STRICT_VM 1
enum vc_irq_mode { VC_IRQ_DEDICATED = 1, VC_IRQ_SHARED = 2 };
typedef struct vc_irq vc_irq;
typedef struct vc_irq_indicator vc_irq_indicator;
struct vc_irq_route {
	uint32_t device;
	uint32_t cpu;
	uint32_t path;
	uint32_t irq;
	uint32_t requester;
};
struct vc_irq_change {
	struct vc_irq_route old_route;
	struct vc_irq_route new_route;
};
struct vc_irq_opts {
	size_t sz;
	uint32_t flags;
	uint32_t pad;
};
int vc_irq_create(vc_irq **out, const struct vc_irq_opts *opts);
void vc_irq_destroy(vc_irq *irq);
int vc_irq_cpu_add(vc_irq *irq, uint32_t cpu, uint32_t vm, bool intercept, uint32_t load);
int vc_irq_cpu_remove(vc_irq *irq, uint32_t cpu);
int vc_irq_cpu_assign(vc_irq *irq, uint32_t cpu, uint32_t vm);
int vc_irq_cpu_set_intercept(vc_irq *irq, uint32_t cpu, bool intercept);
int vc_irq_cpu_set_load(vc_irq *irq, uint32_t cpu, uint32_t load);
int vc_irq_device_add(vc_irq *irq, uint32_t device, uint32_t requester, uint32_t mode, uint32_t vm, uint32_t irqnum);
int vc_irq_device_remove(vc_irq *irq, uint32_t device);
int vc_irq_device_set_mode(vc_irq *irq, uint32_t device, uint32_t mode);
int vc_irq_device_assign(vc_irq *irq, uint32_t device, uint32_t vm);
int vc_irq_rebalance(vc_irq *irq);
const struct vc_irq_change *vc_irq_changes(size_t *out_count, const vc_irq *irq);
int vc_irq_route(struct vc_irq_route *out, const vc_irq *irq, uint32_t device);
int vc_irq_device_by_requester(uint32_t *out, const vc_irq *irq, uint32_t requester);
int vc_irq_counts(size_t *out_devices, size_t *out_cpus, const vc_irq *irq);
int vc_irq_indicator_create(vc_irq_indicator **out);
void vc_irq_indicator_destroy(vc_irq_indicator *ind);
int vc_irq_indicator_set(vc_irq_indicator *ind, uint32_t requester);
int vc_irq_indicator_test(const vc_irq_indicator *ind, uint32_t requester);
int vc_irq_indicator_scan(vc_irq_indicator *ind, uint16_t *buf, size_t max);

/* trace.h */
#define VC_TRACE_BUCKETS 32
enum vc_trace_source { VC_TRACE_USERSPACE = 1, VC_TRACE_KERNEL = 2 };
typedef struct vc_trace vc_trace;
struct vc_trace_opts {
	size_t sz;
	int pid;
	uint32_t pad;
};
struct vc_trace_row {
	enum vc_trace_source source;
	uint32_t reason;
	uint64_t addr;
	int write;
	uint64_t count;
	uint64_t timed;
	uint64_t total_ns;
	uint64_t hist[32];
};
struct vc_trace_probe {
	const char *name;
	uint64_t count;
	int attached;
};
int vc_trace_open(vc_trace **out, const struct vc_trace_opts *opts);
void vc_trace_close(vc_trace *t);
int vc_trace_snapshot(vc_trace *t, struct vc_trace_row *rows, unsigned max);
int vc_trace_probes(vc_trace *t, struct vc_trace_probe *probes, unsigned max);
const char *vc_trace_reason_name(uint32_t reason);
"""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source('virtcore._native', '#include <virtcore/virtcore.h>\n')
    ffi.emit_c_code(sys.argv[1])


if __name__ == '__main__':
    main()

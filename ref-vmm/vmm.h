/* SPDX-License-Identifier: MIT */
/* vc-vmm's internal interfaces: the VM, its vCPUs, the port-I/O bus and devices. */
#ifndef VC_REFVMM_VMM_H
#define VC_REFVMM_VMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

#include <virtcore/gmem.h>
#include <virtcore/spt.h>

#define VMM_MAX_CPUS 64

struct vm;

/* A port-I/O handler: @data holds @size bytes (1, 2 or 4); on an IN it fills them. */
typedef void (*pio_fn)(struct vm *vm, void *opaque, uint16_t port, bool is_write, uint8_t *data,
		       unsigned size);

/* An MMIO handler: same contract, @addr is the guest-physical address. */
typedef void (*mmio_fn)(struct vm *vm, void *opaque, uint64_t addr, bool is_write, uint8_t *data,
			unsigned size);

struct mmio_range {
	uint64_t base, len;
	mmio_fn fn;
	void *opaque;
};

struct pio_range {
	uint16_t base, len;
	pio_fn fn;
	void *opaque;
};

struct vcpu {
	struct vm *vm;
	int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	vc_spt_vcpu *spt; /* guest-virtual translation (guest-virt.c), made at first use */
};

/* A KVM memory slot of guest RAM. */
struct ram_slot {
	unsigned slot;
	uint64_t gpa, size;
	void *hva;
	uint64_t *dirty; /* KVM_GET_DIRTY_LOG bitmap, once dirty logging is on */
};

struct vm {
	int kvm_fd, vm_fd;
	size_t run_size;
	vc_gmem *gmem;
	void *ram;           /* one anonymous mapping */
	uint64_t ram_size;   /* bytes of guest RAM */
	uint64_t low_size;   /* of which below the 3 GiB hole */

	struct ram_slot slots[2];
	unsigned nslots;

	unsigned ncpus;
	struct vcpu cpus[VMM_MAX_CPUS];

	/* guest-virt.c: the shadow page-table cache and what keeps it right. */
	struct {
		vc_spt *spt;
		pthread_mutex_t lock; /* the cache, its vCPU handles, the dirty log */
		int logging, no_log;  /* dirty logging started; it failed (flush instead) */
		unsigned maxphy;      /* the guest's MAXPHYADDR */
		uint64_t dirty_frames;
	} virt;

	struct pio_range pio[16];
	unsigned npio;
	struct mmio_range mmio[8];
	unsigned nmmio;

	/* Set once by whichever vCPU ends the VM; the main thread waits for it. */
	pthread_mutex_t lock;
	pthread_cond_t stopped_cv;
	bool stopped;
	int exit_status;
	atomic_bool stopping;
};

/* vm.c */
/* Guest RAM (one anonymous mapping) and its vc_gmem map, without KVM: the loader fills
 * it before any VM exists, and --dry-run stops there. 0, or -errno reported. */
int vm_memory_create(struct vm *vm, uint64_t ram_bytes);
/* The KVM VM over the RAM of vm_memory_create(): irqchip, memory slots, @ncpus vCPUs. */
int vm_create(struct vm *vm, unsigned ncpus);
void vm_destroy(struct vm *vm);
void vm_register_pio(struct vm *vm, uint16_t base, uint16_t len, pio_fn fn, void *opaque);
void vm_register_mmio(struct vm *vm, uint64_t base, uint64_t len, mmio_fn fn, void *opaque);
/* Ends the VM with @status (first caller wins); safe from any vCPU thread. */
void vm_stop(struct vm *vm, int status);
int vm_run(struct vm *vm);

/* vcpu.c */
/* The vCPU whose thread this is (NULL on the main thread): devices that need the
 * caller's registers (guest-virtual hypercall arguments) find it here. */
extern __thread struct vcpu *vcpu_self;
int vcpu_create(struct vm *vm, int index);
void *vcpu_thread(void *arg);
void vcpu_report_failure(struct vcpu *cpu, const char *what);

/* arch/x86/cpu-setup.c */
int x86_setup_cpuid(struct vm *vm, struct vcpu *cpu);
int x86_setup_pvh_regs(struct vcpu *cpu, uint32_t entry, uint32_t start_info);

/* guest-virt.c: reading guest-virtual memory with the calling vCPU's page tables. */
#define VIRT_READ_MAX (1u << 20)
int vm_virt_init(struct vm *vm);
void vm_virt_destroy(struct vm *vm);
/* Passes [@gva, @gva + @len) to @sink in contiguous host pieces, after checking that
 * every page is readable with @access (enum vc_spt_access). 0; -EFAULT (nothing
 * passed); -E2BIG over VIRT_READ_MAX; other -errno. Any vCPU thread. */
int vcpu_virt_read(struct vcpu *cpu, uint64_t gva, uint64_t len, unsigned access,
		   void (*sink)(const void *p, size_t n, void *ctx), void *ctx);
/* One line of the cache's statistics on stderr (--spt-stats). */
void vm_virt_report(struct vm *vm);

/* devices */
void console_init(void);
void console_restore(void);
void console_write(const char *buf, size_t len);
void console_flush(void);
int serial_init(struct vm *vm);
void exit_dev_init(struct vm *vm);
void null_dev_init(struct vm *vm);
void hcall_dev_init(struct vm *vm);

/* pack-modules.c: appends every image of packed disk @disk to @mods (at most @max in
 * all, *@n so far), after validating it and checking every digest. 0, or -1 reported. */
struct pvh_module;
int pack_load_modules(const char *disk, struct pvh_module *mods, unsigned max, unsigned *n);

/* trust-stages.c: --trust. Loads the list (signature checked against @key_path if not
 * NULL, then every module verified in order as the chain's stages); 0, or -1 reported. */
int trust_check_modules(const char *list_path, const char *key_path,
			const struct pvh_module *mods, unsigned nmods);
/* Copies the loaded list to VCG_TRUST_LIST_GPA (nothing without --trust); the bytes
 * placed (0 without a list), or -1 reported. */
long trust_place_list(vc_gmem *gmem);

/* plan.c: --dry-run. What the loader placed, read back from guest RAM. */
struct pvh_image;
struct plan {
	const vc_gmem *gmem;
	const char *kernel_path;
	const struct pvh_image *img;
	const struct pvh_module *mods; /* in start-info order, for their digests */
	uint64_t mem;
	unsigned ncpus;
	uint64_t start_info_gpa;
	long trust_list_size; /* 0: no list */
};
/* Prints the plan as text, or with @json as one JSON document; 0, or -1 reported. */
int plan_print(FILE *f, bool json, const struct plan *p);

/* Messages: "vc-vmm: ..." on stderr. */
void vmm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The library's detail of this thread's last failure without the module's @prefix
 * ("pack: "), or vc_strerror(@rc) when it recorded none. */
const char *vmm_lib_detail(int rc, const char *prefix);

#endif

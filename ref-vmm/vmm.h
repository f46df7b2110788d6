/* SPDX-License-Identifier: MIT */
/*
 * vc-vmm's internal interfaces: the VM, its vCPUs, the exit bus, and the parts table
 * (devices and module integrations, parts.c) that everything else plugs into.
 *
 * struct vm and struct vcpu hold only what every part shares; a part keeps its own
 * state in vm->part[its id], allocated and zeroed by vm_parts_create().
 */
#ifndef VC_REFVMM_VMM_H
#define VC_REFVMM_VMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

#include <virtcore/gmem.h>
#include <virtcore/irq.h>
#include <virtcore/pvh.h>

#define VMM_MAX_CPUS 64
#define VMM_MAX_MODULES VC_PVH_MAX_MODULES

struct vm;
struct vcpu;

/* A port-I/O handler, called on the vCPU that exited: @data holds @size bytes
 * (1, 2 or 4); on an IN it fills them. */
typedef void (*pio_fn)(struct vcpu *cpu, void *opaque, uint16_t port, bool is_write,
		       uint8_t *data, unsigned size);

/* An MMIO handler: same contract, @addr is the guest-physical address. */
typedef void (*mmio_fn)(struct vcpu *cpu, void *opaque, uint64_t addr, bool is_write,
			uint8_t *data, unsigned size);

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
	int fd;               /* -1 in a test harness: register sets come from run->s */
	struct kvm_run *run;
	pthread_t thread;
	/* VCG_HC_CPU_START for this application processor (under vm->lock), and whether its
	 * thread has set it up; `kicked`: KVM_RUN was interrupted for it. */
	bool start_requested, started;
	uint32_t start_entry;
	pthread_t self;       /* the thread's own id, set by it before thread_running */
	atomic_bool thread_running, kicked;
};

/* A KVM memory slot of guest RAM (one gmem region each). */
struct ram_slot {
	unsigned slot;
	uint64_t gpa, size;
	void *hva;
};


/* What the command line asked for. Parts read what concerns them. */
struct vmm_config {
	const char *kernel_path;
	const char *cmdline;
	uint64_t mem;
	unsigned ncpus;
	const char *pack_path;                 /* --pack */
	const char *trust_path, *trust_key;    /* --trust, --trust-key */
	bool spt_stats;                        /* --spt-stats */
	const char *prefetch;                  /* --regs: ioctl, sync or learned */
	bool prefetch_stats;                   /* --regs-stats */
	bool blk_stats;                        /* --blk-stats */
	const char *timerpage_share;           /* --timerpage-share */
	const char *timerpage_mode;            /* --timerpage-mode: auto, tsc, tick (NULL: auto) */
	const char *control_path;              /* --control: a FIFO of control lines */
};

/* The parts: devices and module integrations, in the order they start (parts.c). */
enum vmm_part_id {
	PART_PACK,     /* integrations/pack.c: --pack images as boot modules */
	PART_TRUST,    /* integrations/trust.c: --trust list checked and placed */
	PART_PREFETCH, /* integrations/prefetch.c: learned register prefetch on exits */
	PART_SPT,      /* integrations/spt.c: guest-virtual reads through the spt cache */
	PART_SERIAL,   /* devices/serial.c: COM1 */
	PART_EXIT,     /* devices/exit.c: port 0x501 */
	PART_NULL,     /* devices/null.c: port 0x512 */
	PART_HCALL,    /* devices/hcall.c: hypercall port and MMIO doorbell */
	PART_IRQ,      /* integrations/irq.c: device interrupts routed by the irq policy */
	PART_BLK,      /* devices/blk.c: the --pack disk over rings, ioeventfd, irqfd */
	PART_TIMERPAGE, /* integrations/timerpage.c: the shared timer page, read-only */
	PART_IRQTEST,  /* devices/irqtest.c: test interrupt sources, an indicator in guest RAM */
	PART_CONTROL,  /* integrations/control.c: --control, the control language */
	PART_COUNT,
};

/*
 * One part. Every hook is optional; each returns 0 or a negative errno after reporting
 * why (vmm_err). A failing hook stops the boot: every part's exit hook then runs, in
 * reverse order, and ends whatever its state says was made, so vc-vmm exits 1 with
 * nothing left behind.
 */
struct vmm_part {
	const char *name;
	size_t state_size; /* zeroed bytes at vm->part[id] for the part's own state */
	/* Inputs are checked, nothing exists yet: add boot modules, verify. */
	int (*prepare)(struct vm *vm, void *state);
	/* Guest RAM exists and holds the kernel, KVM does not (this runs under --dry-run
	 * too): place what the guest finds at boot. */
	int (*load)(struct vm *vm, void *state);
	/* The VM and its vCPUs exist (or a test harness's stand-ins): register exits,
	 * start threads. */
	int (*init)(struct vm *vm, void *state);
	/* After the vCPUs stopped (or a later part failed to start). */
	void (*exit)(struct vm *vm, void *state);
};

struct vm {
	int kvm_fd, vm_fd;   /* -1 in a test harness */
	size_t run_size;
	vc_gmem *gmem;
	void *ram;           /* one anonymous mapping */
	uint64_t ram_size;   /* bytes of guest RAM */
	uint64_t low_size;   /* of which below the 3 GiB hole */

	struct ram_slot slots[2];
	unsigned nslots;

	unsigned ncpus;
	struct vcpu cpus[VMM_MAX_CPUS];
	/* What the guest's CPUID (set by x86_setup_cpuid) says about paging; zero in a
	 * test harness, where the host's width and Intel's rules apply. */
	struct {
		unsigned maxphyaddr;
		bool amd;   /* vendor AMD or Hygon: KVM walks its tables by AMD's rules */
		bool no_1g; /* no 1 GiB pages */
	} guest_paging;

	const struct vmm_config *cfg;
	struct vc_pvh_module mods[VMM_MAX_MODULES]; /* --module files, then --pack images */
	unsigned nmods;

	void *part[PART_COUNT];

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

/* parts.c */
/* Allocates every part's state. 0, or -ENOMEM reported. */
int vm_parts_create(struct vm *vm);
/* Runs one phase's hook of every part in table order; stops at the first failure. */
int vm_parts_prepare(struct vm *vm);
int vm_parts_load(struct vm *vm);
int vm_parts_init(struct vm *vm);
/* Every part's exit hook in reverse order, then frees every state. */
void vm_parts_destroy(struct vm *vm);

/* vm.c */
/* Guest RAM (one anonymous mapping) and its vc_gmem map, without KVM: the loader fills
 * it before any VM exists, and --dry-run stops there. 0, or -errno reported. */
int vm_memory_create(struct vm *vm, uint64_t ram_bytes);
/* The KVM VM over the RAM of vm_memory_create(): irqchip, memory slots, @ncpus vCPUs. */
int vm_create(struct vm *vm, unsigned ncpus);
void vm_destroy(struct vm *vm);
/* 0, or -ENOSPC reported when the bus is full (a part's init then fails). */
int vm_register_pio(struct vm *vm, uint16_t base, uint16_t len, pio_fn fn, void *opaque);
int vm_register_mmio(struct vm *vm, uint64_t base, uint64_t len, mmio_fn fn, void *opaque);
/* Changes @slot's KVM flags (KVM_MEM_LOG_DIRTY_PAGES). 0, or -errno. */
int vm_slot_set_flags(struct vm *vm, const struct ram_slot *slot, uint32_t flags);
/* Ends the VM with @status (first caller wins); safe from any vCPU thread. */
void vm_stop(struct vm *vm, int status);
int vm_run(struct vm *vm);

/* vcpu.c */
int vcpu_create(struct vm *vm, int index);
/* VCG_HC_CPU_START from the guest: vCPU @index (not 0) runs from @entry in the PVH entry
 * state, %ebx = @index. 0, -EINVAL, -EBUSY (asked before). */
int vcpu_request_start(struct vm *vm, unsigned index, uint64_t entry);
void *vcpu_thread(void *arg);
/* Handles the exit in cpu->run. true to enter the guest again, false when the VM ends
 * (reported). The KVM_RUN loop calls it; so do the device tests' harness. */
bool vcpu_handle_exit(struct vcpu *cpu);
void vcpu_report_failure(struct vcpu *cpu, const char *what);

/* integrations/prefetch.c: the vCPU's register sets, read from what KVM delivered with
 * the exit (KVM_CAP_SYNC_REGS) when the prefetch table asked for it, else by ioctl (a
 * miss, which teaches the table). 0, or -errno. */
int vcpu_get_regs(struct vcpu *cpu, struct kvm_regs *out);
int vcpu_get_sregs(struct vcpu *cpu, struct kvm_sregs *out);
/* Writes go back with the next KVM_RUN (kvm_dirty_regs) when the set came with the
 * exit, else by ioctl. */
int vcpu_set_regs(struct vcpu *cpu, const struct kvm_regs *regs);
/* Called by the run loop: before KVM_RUN (sets kvm_valid_regs) and after each exit. */
void vcpu_prefetch_enter(struct vcpu *cpu);
void vcpu_prefetch_exit(struct vcpu *cpu);

/* arch/x86/cpu-setup.c */
int x86_setup_cpuid(struct vm *vm, struct vcpu *cpu);
int x86_setup_pvh_regs(struct vcpu *cpu, uint32_t entry, uint32_t start_info);

/* integrations/spt.c: reading guest-virtual memory with the calling vCPU's page tables. */
#define VIRT_READ_MAX (1u << 20)
/* Passes [@gva, @gva + @len) to @sink in contiguous host pieces, after checking that
 * every page is readable with @access (enum vc_spt_access). 0; -EFAULT (nothing
 * passed); -E2BIG over VIRT_READ_MAX; other -errno. Any vCPU thread. */
int vcpu_virt_read(struct vcpu *cpu, uint64_t gva, uint64_t len, unsigned access,
		   void (*sink)(const void *p, size_t n, void *ctx), void *ctx);

/* devices/console.c: the guest console is this process's stdout (one per process). */
void console_init(void);
/* Where console output goes (STDOUT_FILENO unless a test harness says otherwise). */
void console_set_fd(int fd);
void console_restore(void);
void console_write(const char *buf, size_t len);
void console_flush(void);

/* integrations/pack.c: the --pack disk, open read-only, and its size (the block device
 * serves it). 0, or -ENOENT without --pack. The descriptor stays the pack part's. */
int vm_pack_disk(const struct vm *vm, int *fd, uint64_t *size);

/* devices/blk.c: queue @q's eventfds (the doorbell KVM signals, the interrupt the device
 * raises), for a test harness that plays KVM's side. 0, or -EINVAL. */
int blk_queue_eventfds(const struct vm *vm, unsigned q, int *doorbell, int *irq);
/* integrations/irq.c: device interrupts, routed by libvirtcore's irq policy onto KVM. */
#define IRQ_MAX_DEVICES 128
#define IRQ_GSI_BASE 24u /* GSIs 0..23 stay the irqchip pins KVM routes by default */

/* What the router does to KVM: vc-vmm's are the ioctls (KVM_SET_GSI_ROUTING, KVM_IRQFD,
 * KVM_SIGNAL_MSI); tests put a recording fake in their place. Each returns 0 or -errno. */
struct irq_kvm {
	int (*set_routing)(void *ctx, const struct kvm_irq_routing_entry *e, unsigned n);
	int (*irqfd)(void *ctx, int fd, uint32_t gsi, bool assign);
	int (*signal_msi)(void *ctx, uint32_t apic_id, uint8_t vector);
	void *ctx;
};

struct irq_stats {
	uint64_t changes;        /* routes the policy's diffs named */
	uint64_t routing_calls;  /* KVM_SET_GSI_ROUTING calls */
	uint64_t routes_written; /* table entries those calls added, removed or rewrote */
	uint64_t irqfd_calls;    /* KVM_IRQFD assignments and deassignments */
	uint64_t emulated;       /* interrupts the router injected (KVM_SIGNAL_MSI) */
	uint64_t held;           /* interrupts held while their device had no eligible vCPU */
	uint64_t delivered_held; /* held interrupts delivered when a route came back */
};

/* A device whose interrupt is the eventfd @fd, raised with @vector; @mode a
 * VC_IRQ_DEDICATED or VC_IRQ_SHARED. The policy routes it; 0 or -errno (-EEXIST,
 * -ENOSPC past IRQ_MAX_DEVICES). @id at most 65535 (it is the requester id too). */
int irq_device_add(struct vm *vm, uint32_t id, uint32_t mode, int fd, uint8_t vector);
/* The device's route removed and its eventfd released; 0 or -ENOENT. */
int irq_device_remove(struct vm *vm, uint32_t id);
/* A vCPU's interception: on, its device interrupts go through the router thread. */
int irq_cpu_set_intercept(struct vm *vm, unsigned cpu, bool intercept);
/* A vCPU going offline (its devices move) or online again. 0 or -EINVAL (no change). */
int irq_cpu_set_online(struct vm *vm, unsigned cpu, bool online, bool intercept);
/* A device's current route (path PENDING when no vCPU is eligible). 0 or -ENOENT. */
int irq_route_of(struct vm *vm, uint32_t id, struct vc_irq_route *out);
void irq_get_stats(struct vm *vm, struct irq_stats *out);
/* Every route re-programmed, as a VMM without the diff would: the benchmark's baseline. */
int irq_reprogram_all(struct vm *vm);
/* Replaces the KVM side (tests without KVM). */
void irq_set_kvm(struct vm *vm, const struct irq_kvm *kvm);
/* The MSI address that names @apic_id (fixed delivery, physical destination). */
uint32_t irq_msi_address(uint32_t apic_id);
/* The GSI of router slot @slot. */
uint32_t irq_device_gsi(unsigned slot);

/* One synchronous read of the disk (VCG_HC_BLK_READ): @task_slot -1 for the kernel
 * (any guest RAM), else only into queue @task_slot + 1's window. len or -errno. */
int64_t blk_sync_read(struct vm *vm, int task_slot, uint64_t offset, uint64_t gpa,
		      uint64_t len);
/* Per-queue counters (--blk-stats). */
struct blk_queue_stats {
	uint64_t requests, bytes, batches, doorbells, interrupts, suppressed;
	int state; /* as the ENABLE register reads */
};
int blk_queue_get_stats(const struct vm *vm, unsigned q, struct blk_queue_stats *out);

/* A vCPU's state in the router: online (taking device interrupts) and intercepting.
 * 0 or -EINVAL. */
int irq_cpu_get(struct vm *vm, unsigned cpu, bool *online, bool *intercept);

/* devices/irqtest.c: the test interrupt sources (guest/abi.h, VCG_HC_IRQTEST_*). */
/* The guest's struct vcg_irqtest_area at @gpa and the sources' @vector. 0, -EINVAL. */
int irqtest_setup(struct vm *vm, uint64_t gpa, uint64_t vector);
/* Source @id (0..4095) as a device of the router, dedicated or shared (VC_IRQ_*). 0,
 * -ENODEV (no setup yet), -EINVAL, -EEXIST, -ENOSPC, -errno. */
int irqtest_add(struct vm *vm, uint32_t id, uint32_t mode);
int irqtest_remove(struct vm *vm, uint32_t id);
/* Fires sources [@first, @first + @count): sources fired, or -errno with none fired. */
int64_t irqtest_fire(struct vm *vm, uint64_t first, uint64_t count);

/* integrations/control.c: one line of the control language (ref-vmm/README.md) from
 * --control or VCG_HC_CONTROL; replies and errors go to stderr. 0 or -errno. */
int control_line(struct vm *vm, const char *line, size_t len);

/* integrations/timerpage.c: guest stores to the read-only timer page, refused. */
uint64_t timerpage_refused(const struct vm *vm);

/* integrations/trust.c: the bytes of the list placed in guest RAM (0: no --trust). */
long trust_list_size(const struct vm *vm);

/* plan.c: --dry-run. What the loader placed, read back from guest RAM. */
struct plan {
	const struct vm *vm;
	const struct vc_pvh_image *img;
	uint64_t start_info_gpa;
};
/* Prints the plan as text, or with @json as one JSON document; 0, or -1 reported. */
int plan_print(FILE *f, bool json, const struct plan *p);

/* input.c: the files vc-vmm gives the guest (--kernel, --module, --pack), held in memory
 * the VMM owns: read once through one descriptor into a sealed memfd, so what is parsed
 * and verified is byte for byte what the guest gets, whatever happens to the file. */
struct vmm_input {
	const uint8_t *data; /* read-only mapping of the copy ("" when empty) */
	size_t size;
	int fd;              /* the sealed memfd (-1 when empty): pread() it, map it */
};
#define VMM_INPUT_BLOCK 1u /* vmm_input_open(): a block device is acceptable */
/* Opens @path (messages say "@option @path: ...", or "@path: ..." when @option is NULL):
 * a regular file (or a block device with
 * VMM_INPUT_BLOCK), without waiting on a FIFO. The fd, or -1 reported. */
int vmm_input_open(const char *option, const char *path, unsigned allow);
/* Copies @size bytes of @src from offset 0 into a new sealed memfd; -1 reported (a file
 * that ends sooner shrank while it was read). */
int vmm_input_copy(struct vmm_input *in, const char *option, const char *path, int src,
		   uint64_t size);
/* vmm_input_open() and vmm_input_copy() of the whole file, refused when larger than
 * @limit bytes (@limit_what says what bounds it). 0, or -1 reported. */
int vmm_input_read(struct vmm_input *in, const char *option, const char *path,
		   uint64_t limit, const char *limit_what);
void vmm_input_release(struct vmm_input *in);

/* Messages: "vc-vmm: ..." on stderr. */
void vmm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The library's detail of this thread's last failure without the module's @prefix
 * ("pack: "), or vc_strerror(@rc) when it recorded none. */
const char *vmm_lib_detail(int rc, const char *prefix);

#endif

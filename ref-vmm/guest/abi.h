/* SPDX-License-Identifier: MIT */
/*
 * The contract between vc-vmm and its guest runtime: I/O ports and the hypercall
 * block (the PVH start info is in <virtcore/pvh_abi.h>). Included by the VMM (hosted
 * C) and by the guest (freestanding C), so it uses only fixed-width types and no libc.
 */
#ifndef VC_REFVMM_GUEST_ABI_H
#define VC_REFVMM_GUEST_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* The PVH boot protocol (start info, entry note): libvirtcore's pvh module. */
#include <virtcore/pvh_abi.h>
#ifndef __ASSEMBLER__
#include <virtcore/irq_abi.h>
#endif

/* Console: an 8250 UART at COM1 (works under QEMU too). */
#define VCG_PORT_COM1 0x3f8

/* Exit device: a write of the status ends vc-vmm with that status (0..255).
 * Same port as QEMU's isa-debug-exit, which exits with (status << 1) | 1. */
#define VCG_PORT_EXIT 0x501

/* Null port: writes are ignored, reads return 0. Each access is one exit to the VMM
 * and nothing else, which makes exits countable (vc-trace's test, exit benchmarks). */
#define VCG_PORT_NULL 0x512

/*
 * Hypercall port. A 32-bit `out` of the guest-physical address of a struct
 * vcg_hcall asks the VMM to run it; the VMM writes @ret before the guest resumes.
 * A 32-bit `in` returns VCG_HCALL_MAGIC, so the guest can tell vc-vmm from other
 * VMMs (QEMU returns all ones) and fall back to the UART.
 */
#define VCG_PORT_HCALL 0x510
#define VCG_HCALL_MAGIC 0x564d4d56u /* "VMMV" */

/*
 * The same hypercall as an MMIO doorbell: a 32-bit store of the block's address
 * at offset 0 of this page (a 32-bit load returns VCG_HCALL_MAGIC). A CPL3 task
 * can reach it with the page mapped, where port I/O would need IOPL (which
 * kvm_pvm does not honour: `out` at CPL3 raises #GP there).
 */
#define VCG_MMIO_HCALL 0xfe000000u

/*
 * Task doorbells: page 1 + N of the doorbell range is task slot N's. The kernel maps a
 * task's page (and not the kernel's page 0) into the task and registers the task's
 * block with VCG_HC_TASK_REGISTER; the VMM knows the caller from the MMIO address alone.
 * A call through a task doorbell runs only on the slot's registered block (a store of
 * any other address gets -EPERM in the registered block's ret, and nothing is read or
 * written at the address stored) and only the calls a task may make: NOP, ECHO, CLOCK
 * CONSOLE_WRITE_VIRT (guest-virtual, checked with user permission) and BLK_READ (into its
 * own queue's window). The others
 * (physical addresses, VM exit, registration) get -EPERM: the kernel makes them.
 */
#define VCG_MMIO_TASK_DOORBELLS (VCG_MMIO_HCALL + 0x1000u)
#define VCG_TASK_DOORBELLS 64

/*
 * The reference-value list (include/virtcore/trust_abi.h) that `vc-vmm --trust` copies
 * into guest memory before boot, for guest stages to verify each other with. Below 1 MiB,
 * above the boot information; the guest's page allocator never hands it out.
 */
#define VCG_TRUST_LIST_GPA 0x30000u
#define VCG_TRUST_LIST_MAX 0x4000u

/*
 * Block device (ref-vmm/devices/blk.c): the packed disk of `--pack`, read-only, served
 * over queues of two rings each (include/virtcore/ring_abi.h) that the guest formats in
 * its RAM: a request ring (guest produces struct vcg_blk_req) followed, at
 * vc_ring_pair_offset(), by a completion ring (the VMM produces struct vcg_blk_done).
 * Both directions use the doze protocol: the guest rings the doorbell only when a
 * publish says the VMM's I/O thread dozes, the VMM raises the queue's interrupt only
 * when the guest's side dozes (VC_RING_MODE_EVENT_IDX or FLAG, the guest's choice).
 *
 * Config page (32-bit MMIO at VCG_MMIO_BLK, announced on the command line (below); each
 * access is an exit, for setup only):
 * read MAGIC, SIZE (disk bytes, two halves), MAX_IO, QUEUES; select a queue with
 * QUEUE_SEL, give it the ring pair (RING: page-aligned gpa, RING_LEN bytes), the window
 * its requests may write into (DMA: gpa and DMA_LEN; 0 = all of guest RAM), the
 * interrupt vector for completions (VECTOR: 32..255, delivered as an MSI to the vCPU
 * vc-vmm's interrupt policy picks, one with interception off when there is one; 0 =
 * none, the guest polls; `DEST` is read and ignored) and FLAGS, then write 1 to ENABLE
 * (0 disables).
 * Reading ENABLE gives the queue's state: 1 serving, 0 off, or -errno (why the last
 * enable was refused, or -EIO once a hostile request broke the queue).
 *
 * Doorbell of queue N: any 32-bit store to VCG_MMIO_BLK + 0x1000 * (1 + N). It is a KVM
 * ioeventfd (the store wakes the I/O thread without an exit to vc-vmm), and a page of
 * its own so a kernel can map one queue's doorbell into a task.
 *
 * The VMM copies each request out of the ring before checking it. A request that is not
 * a read, is empty or longer than MAX_IO, reaches past the disk, or writes outside the
 * queue's window or guest RAM breaks the queue: it is reported once and answered no
 * more, and the VM runs on. Completions come in request order (one per request).
 */
#define VCG_MMIO_BLK 0xfe100000u
/* How the guest learns of the device: vc-vmm appends this key to the kernel command line
 * when it has a disk to serve (as Firecracker announces its virtio-mmio devices), with
 * the config page's guest-physical address in hex: `vc.blk=0xfe100000`. */
#define VCG_BLK_CMDLINE_KEY "vc.blk="
#define VCG_BLK_MAGIC 0x4b4c4256u /* "VBLK" */
#define VCG_BLK_QUEUES 8
#define VCG_BLK_MAX_IO (1u << 20)
#define VCG_BLK_RING_MAX (1u << 20)
#define VCG_BLK_REG_MAGIC 0x00     /* r */
#define VCG_BLK_REG_SIZE_LO 0x04   /* r */
#define VCG_BLK_REG_SIZE_HI 0x08   /* r */
#define VCG_BLK_REG_MAX_IO 0x0c    /* r */
#define VCG_BLK_REG_QUEUES 0x10    /* r */
#define VCG_BLK_REG_QUEUE_SEL 0x14 /* w */
#define VCG_BLK_REG_RING_LO 0x18   /* w */
#define VCG_BLK_REG_RING_HI 0x1c   /* w */
#define VCG_BLK_REG_RING_LEN 0x20  /* w */
#define VCG_BLK_REG_DMA_LO 0x24    /* w */
#define VCG_BLK_REG_DMA_HI 0x28    /* w */
#define VCG_BLK_REG_DMA_LEN 0x2c   /* w */
#define VCG_BLK_REG_VECTOR 0x30    /* w */
#define VCG_BLK_REG_DEST 0x34      /* w: ignored (the VMM's policy picks the vCPU) */
#define VCG_BLK_REG_FLAGS 0x38     /* w: VCG_BLK_F_* */
#define VCG_BLK_REG_ENABLE 0x3c    /* w: 1 / 0; r: 1, 0 or -errno */
#define VCG_BLK_F_ALWAYS_NOTIFY 1u /* interrupt on every completion (a baseline) */
#define VCG_BLK_DOORBELL_AT(base, n) ((base) + 0x1000u * (1u + (n)))
#define VCG_BLK_DOORBELL(n) VCG_BLK_DOORBELL_AT(VCG_MMIO_BLK, n)
#define VCG_BLK_OP_READ 1u

#ifndef __ASSEMBLER__
struct vcg_blk_req {
	uint64_t id;     /* echoed in the completion */
	uint64_t offset; /* disk byte offset */
	uint64_t gpa;    /* where the bytes go */
	uint32_t len;    /* bytes, 1..VCG_BLK_MAX_IO */
	uint32_t op;     /* VCG_BLK_OP_READ */
};
_Static_assert(sizeof(struct vcg_blk_req) == 32, "vcg_blk_req layout");

struct vcg_blk_done {
	uint64_t id;
	int64_t status; /* bytes read, or -errno (-EIO: the disk read failed) */
};
_Static_assert(sizeof(struct vcg_blk_done) == 16, "vcg_blk_done layout");
#endif

/*
 * The shared timer page (libvirtcore timerpage, layout in <virtcore/timerpage_abi.h>):
 * vc-vmm maps it here as read-only memory and announces it on the command line
 * (`vc.timerpage=0xfe200000`). A guest store to it exits and is refused; the page keeps
 * the host's CLOCK_MONOTONIC, extrapolated with the TSC, which reads the host's in the
 * guest (vc-vmm makes every vCPU's TSC offset 0).
 */
#define VCG_TIMERPAGE_GPA 0xfe200000u
#define VCG_TIMERPAGE_CMDLINE_KEY "vc.timerpage="

#ifndef __ASSEMBLER__
enum vcg_hcall_nr {
	VCG_HC_NOP = 0,           /* round trip only; ret = 0 */
	VCG_HC_CONSOLE_WRITE = 1, /* args: gpa, len; writes to the console; ret = len */
	VCG_HC_EXIT = 2,          /* args: status; ends the VM */
	VCG_HC_ECHO = 3,          /* args: x; ret = x + 1 (proves the VMM saw the block) */
	VCG_HC_CLOCK = 4,         /* ret = host CLOCK_MONOTONIC in ns */
	VCG_HC_CONSOLE_WRITE_VIRT = 5, /* args: gva, len: console bytes at a guest-virtual
					* address, read through the calling vCPU's current page
					* tables with user-mode permission (the VMM translates with
					* libvirtcore's shadow page-table cache); ret = len, or
					* -EFAULT if any byte is not readable by user mode */
	VCG_HC_TASK_REGISTER = 6, /* args: slot, gpa: the block of task doorbell `slot`
				   * (kernel only; gpa 0 unregisters); ret = 0, -EINVAL */
	VCG_HC_BLK_READ = 7,      /* args: offset, gpa, len: one synchronous read of the
				   * block device's disk (the baseline its rings are measured
				   * against). From task slot N only into queue N + 1's window
				   * (-EPERM otherwise); ret = len, -EINVAL (bad range),
				   * -EFAULT (not guest RAM), -ENODEV (no disk), -EIO */
	VCG_HC_INPUT_LINE = 8,    /* waits for one line on vc-vmm's standard input (a pipe or
				   * file; a terminal is the UART's) and discards it: how a
				   * test on the host paces a guest. ret = the line's bytes
				   * with its newline (>= 1), 0 at end of input, -EBUSY when
				   * stdin is a terminal, -ECANCELED when the VM stops */
	VCG_HC_CPU_COUNT = 9,     /* ret = the VM's vCPUs (--cpus) */
	VCG_HC_CPU_START = 10,    /* args: cpu, entry: starts vCPU `cpu` (1..count-1, once) in
				   * the PVH entry state (32-bit protected mode, paging off) at
				   * the 32-bit address `entry`, %ebx = cpu. The paravirtual start:
				   * no INIT/SIPI, no real mode. ret 0, -EINVAL, -EBUSY (started) */
	VCG_HC_CPU_SET_ONLINE = 11, /* args: cpu, online: the calling vCPU (it must be `cpu`)
				   * leaves (0) or rejoins (1) the CPUs that take device
				   * interrupts; vc-vmm's irq policy moves the routes. ret 0,
				   * -EPERM (another vCPU), -EINVAL (no change) */
	VCG_HC_CONTROL = 12,      /* args: gpa, len: one line of the control language of
				   * `vc-vmm --control` (ref-vmm/README.md); ret 0 or -errno */
	VCG_HC_IRQTEST_SETUP = 13, /* args: gpa, vector: the struct vcg_irqtest_area (64-byte
				   * aligned, in RAM) and the vector of the test sources.
				   * ret 0, -EINVAL */
	VCG_HC_IRQTEST_FIRE = 14, /* args: first, count: test sources first..first+count-1
				   * (each added with `device add`) each set their requester id in
				   * the area's indicator, then raise their interrupt. A task may
				   * call it. ret = sources fired, -ENOENT (one is not there: none
				   * fired), -ENODEV (no setup), -EINVAL */
};

/*
 * The test interrupt sources (`vc-vmm --control`'s `device add ID dedicated|shared`): each
 * is a device of vc-vmm's irq router with its own eventfd, requester id ID (0..4095), all
 * on one vector. On VCG_HC_IRQTEST_FIRE a source sets its bit in the indicator (the
 * library's layout, <virtcore/irq_abi.h>), stores the host TSC in fire_tsc, and raises its
 * interrupt, which reaches the guest by the route vc-vmm's policy gave it: an irqfd (no
 * VMM), the router thread (KVM_SIGNAL_MSI), or held until a route comes back. The guest's
 * handler scans the indicator for what is pending.
 */
#define VCG_IRQTEST_SOURCES 4096u

struct vcg_irqtest_area {
	struct vc_irq_indicator_abi indicator;
	uint64_t fire_tsc; /* host TSC when the last source fired (the vCPUs' TSC too) */
	uint64_t pad[7];
};
_Static_assert(sizeof(struct vcg_irqtest_area) == VC_IRQ_ABI_INDICATOR_SIZE + 64,
	       "vcg_irqtest_area layout");

struct vcg_hcall {
	uint32_t nr;      /* enum vcg_hcall_nr */
	uint32_t reserved;
	uint64_t args[4];
	int64_t ret;      /* written by the VMM: >= 0 result, < 0 -errno */
};
_Static_assert(sizeof(struct vcg_hcall) == 48, "vcg_hcall layout");

#endif /* !__ASSEMBLER__ */

#endif /* VC_REFVMM_GUEST_ABI_H */

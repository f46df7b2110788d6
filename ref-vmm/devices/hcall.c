// SPDX-License-Identifier: MIT
// Hypercalls: the guest stores the physical address of a struct vcg_hcall into the
// hypercall port or a doorbell page; the VMM reads the block through the guest memory
// map (bounds-checked), runs it, and writes the result back through the map (so the
// write is marked dirty). Writing 0 is a no-op round trip that reads no memory.
//
// Who is calling is told by where the store landed: the port and doorbell page 0 are the
// guest kernel's (every call); task doorbell N (guest/abi.h) is task slot N's, which may
// only use the block the kernel registered for it and only the calls a task may make.
// Arguments that are guest-virtual addresses go through integrations/spt.c with the
// calling vCPU's page tables and user permission.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/spt.h>

#include "../guest/abi.h"
#include "../vmm.h"

#define CONSOLE_WRITE_MAX (1u << 20)
#define KERNEL (-1) /* the caller of the port and doorbell page 0 */

struct hcall_state {
	/* The block each task doorbell may use (0: none), set by VCG_HC_TASK_REGISTER from
	 * the kernel, read by any vCPU's exit. */
	_Atomic uint64_t task_block[VCG_TASK_DOORBELLS];
	atomic_uint_fast64_t refused; /* task calls refused (-EPERM) */
	pthread_mutex_t input_lock;   /* one VCG_HC_INPUT_LINE reader at a time */
};

static void console_sink(const void *p, size_t n, void *ctx)
{
	(void)ctx;
	console_write(p, n);
}

/* The calls a task may make through its own doorbell. */
static bool task_may(uint32_t nr)
{
	return nr == VCG_HC_NOP || nr == VCG_HC_ECHO || nr == VCG_HC_CLOCK ||
	       nr == VCG_HC_CONSOLE_WRITE_VIRT || nr == VCG_HC_BLK_READ ||
	       nr == VCG_HC_INPUT_LINE || nr == VCG_HC_IRQTEST_FIRE;
}

/* VCG_HC_INPUT_LINE: the calling vCPU waits (in 100 ms polls, so a stopping VM is not
 * held up) for a line on stdin. Byte by byte: the rest stays for the next call. */
static int64_t input_line(struct vm *vm, struct hcall_state *s)
{
	if (isatty(STDIN_FILENO))
		return -EBUSY;
	int64_t n = 0;
	pthread_mutex_lock(&s->input_lock);
	for (;;) {
		if (atomic_load(&vm->stopping)) {
			n = -ECANCELED;
			break;
		}
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		int r = poll(&p, 1, 100);
		if (r == 0 || (r < 0 && errno == EINTR))
			continue;
		char c;
		ssize_t k = r < 0 ? -1 : read(STDIN_FILENO, &c, 1);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0) {
			n = -errno;
			break;
		}
		if (k == 0)
			break; /* end of input: a last line without its newline counts */
		n++;
		if (c == '\n')
			break;
	}
	pthread_mutex_unlock(&s->input_lock);
	return n;
}

static int64_t run_hcall(struct vcpu *cpu, struct hcall_state *s, int slot,
			 const struct vcg_hcall *hc)
{
	struct vm *vm = cpu->vm;
	if (slot != KERNEL && !task_may(hc->nr)) {
		atomic_fetch_add(&s->refused, 1);
		return -EPERM;
	}
	switch (hc->nr) {
	case VCG_HC_NOP:
		return 0;
	case VCG_HC_CONSOLE_WRITE: {
		uint64_t len = hc->args[1];
		if (len > CONSOLE_WRITE_MAX)
			return -E2BIG;
		const char *p = vc_gmem_ptr(vm->gmem, hc->args[0], (size_t)len, 0);
		if (!p)
			return -EFAULT;
		console_write(p, (size_t)len);
		return (int64_t)len;
	}
	case VCG_HC_CONSOLE_WRITE_VIRT: {
		/* A user buffer, read through the caller's page tables with user permission:
		 * the guest kernel cannot make us read what its task may not. */
		uint64_t len = hc->args[1];
		if (len > CONSOLE_WRITE_MAX)
			return -E2BIG;
		int rc = vcpu_virt_read(cpu, hc->args[0], len, VC_SPT_USER, console_sink, NULL);
		return rc < 0 ? rc : (int64_t)len;
	}
	case VCG_HC_EXIT:
		vm_stop(vm, (int)(hc->args[0] & 0xff));
		return 0;
	case VCG_HC_ECHO:
		return (int64_t)(hc->args[0] + 1);
	case VCG_HC_BLK_READ:
		return blk_sync_read(vm, slot == KERNEL ? -1 : slot, hc->args[0], hc->args[1],
				     hc->args[2]);
	case VCG_HC_INPUT_LINE:
		return input_line(vm, s);
	case VCG_HC_CLOCK: {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	case VCG_HC_CPU_COUNT:
		return vm->ncpus;
	case VCG_HC_CPU_START:
		return vcpu_request_start(vm, hc->args[0] > UINT32_MAX ? 0 : (unsigned)hc->args[0],
					  hc->args[1]);
	case VCG_HC_CPU_SET_ONLINE: {
		/* A vCPU takes only itself offline: it has stopped taking interrupts. */
		bool online, intercept;
		if (hc->args[0] != (uint64_t)cpu->index)
			return -EPERM;
		if (irq_cpu_get(vm, (unsigned)cpu->index, &online, &intercept))
			return -EINVAL;
		return irq_cpu_set_online(vm, (unsigned)cpu->index, hc->args[1] != 0, intercept) < 0
			       ? -EINVAL : 0;
	}
	case VCG_HC_CONTROL: {
		uint64_t len = hc->args[1];
		const char *p = len <= 4096 ? vc_gmem_ptr(vm->gmem, hc->args[0], (size_t)len, 0) : NULL;
		if (!p)
			return -EFAULT;
		return control_line(vm, p, (size_t)len);
	}
	case VCG_HC_IRQTEST_SETUP:
		return irqtest_setup(vm, hc->args[0], hc->args[1]);
	case VCG_HC_IRQTEST_FIRE:
		return irqtest_fire(vm, hc->args[0], hc->args[1]);
	case VCG_HC_TASK_REGISTER: {
		uint64_t n = hc->args[0], gpa = hc->args[1];
		if (n >= VCG_TASK_DOORBELLS ||
		    (gpa && !vc_gmem_ptr(vm->gmem, gpa, sizeof(struct vcg_hcall), 1)))
			return -EINVAL;
		atomic_store(&s->task_block[n], gpa);
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static void write_ret(const vc_gmem *gm, uint64_t block, int64_t ret)
{
	/* Through the map's write path: the page is marked dirty for the spt cache, which
	 * must hear of it if the guest put the block on one of its page-table frames. */
	vc_gmem_write(gm, block + offsetof(struct vcg_hcall, ret), &ret, sizeof(ret));
}

/* A doorbell store or port access by @slot (KERNEL or a task slot). */
static void hcall_access(struct vcpu *cpu, int slot, bool is_write, uint8_t *data, unsigned size)
{
	struct hcall_state *s = cpu->vm->part[PART_HCALL];
	const vc_gmem *gm = cpu->vm->gmem;
	if (!is_write) {
		uint32_t magic = VCG_HCALL_MAGIC;
		memcpy(data, &magic, size < 4 ? size : 4);
		return;
	}
	if (size != 4)
		return; /* only 32-bit writes carry an address */
	uint32_t gpa;
	memcpy(&gpa, data, 4);
	if (gpa == 0)
		return;
	if (slot != KERNEL) {
		uint64_t mine = atomic_load(&s->task_block[slot]);
		if (!mine)
			return; /* no task there: nothing to answer in */
		if (gpa != mine) {
			/* Not its block: the address stored is neither read nor written. */
			atomic_fetch_add(&s->refused, 1);
			write_ret(gm, mine, -EPERM);
			return;
		}
	}
	/* The guest may change the block while we run it: read it once. */
	struct vcg_hcall copy;
	if (vc_gmem_read(gm, gpa, &copy, sizeof(copy))) {
		vmm_err("hypercall block at %#x is outside guest RAM; ignored", gpa);
		return;
	}
	write_ret(gm, gpa, run_hcall(cpu, s, slot, &copy));
}

static void hcall_pio(struct vcpu *cpu, void *opaque, uint16_t port, bool is_write,
		      uint8_t *data, unsigned size)
{
	(void)opaque;
	(void)port;
	hcall_access(cpu, KERNEL, is_write, data, size);
}

static void hcall_mmio(struct vcpu *cpu, void *opaque, uint64_t addr, bool is_write,
		       uint8_t *data, unsigned size)
{
	(void)opaque;
	uint64_t page = (addr - VCG_MMIO_HCALL) / 4096, off = addr & 4095;
	if (off == 0)
		hcall_access(cpu, page == 0 ? KERNEL : (int)page - 1, is_write, data, size);
	else if (!is_write)
		memset(data, 0xff, size);
}

static int hcall_init(struct vm *vm, void *st)
{
	struct hcall_state *s = st;
	pthread_mutex_init(&s->input_lock, NULL);
	int rc = vm_register_pio(vm, VCG_PORT_HCALL, 4, hcall_pio, NULL);
	return rc ? rc : vm_register_mmio(vm, VCG_MMIO_HCALL, 4096 * (1 + VCG_TASK_DOORBELLS),
					  hcall_mmio, NULL);
}

const struct vmm_part hcall_part = {
	.name = "hcall",
	.state_size = sizeof(struct hcall_state),
	.init = hcall_init,
};

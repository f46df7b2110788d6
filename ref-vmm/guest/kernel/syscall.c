// SPDX-License-Identifier: MIT
// System-call dispatch for CPL3 tasks.
#include "../syscalls.h"
#include "kernel.h"

#define EFAULT 14
#define EINVAL 22
#define ENOENT 2
#define ENOSYS 38

static int64_t sys_write(uint64_t buf, uint64_t len)
{
	char kbuf[512];
	uint64_t done = 0;

	/* Under vc-vmm the VMM reads the task's buffer itself, through this task's page
	 * tables with user permission: no copy here at CPL0 (every instruction of it is
	 * emulated on kvm_pvm). Elsewhere, copy and print. */
	if (console_has_hcall())
		return hcall(VCG_HC_CONSOLE_WRITE_VIRT, buf, len);
	while (done < len) {
		size_t n = len - done < sizeof(kbuf) ? len - done : sizeof(kbuf);
		if (copy_from_user(kbuf, buf + done, n))
			return -EFAULT;
		console_write(kbuf, n);
		done += n;
	}
	return (int64_t)len;
}

static int64_t sys_module(uint64_t index, uint64_t buf, uint64_t len, uint64_t offset)
{
	const struct vc_pvh_modlist_entry *m = module_get((int)index);
	if (!m)
		return -ENOENT;
	if (!buf)
		return (int64_t)m->size;
	if (offset >= m->size)
		return 0;
	if (len > m->size - offset)
		len = m->size - offset;
	if (copy_to_user(buf, (const void *)(uintptr_t)(m->paddr + offset), len))
		return -EFAULT;
	return (int64_t)len;
}

/* The list at VCG_TRUST_LIST_GPA, if the VMM put one there (its magic says so). The
 * bytes are the VMM's; the program that reads them validates them. */
static int64_t sys_trust_list(uint64_t buf, uint64_t len)
{
	const char *list = (const char *)(uintptr_t)VCG_TRUST_LIST_GPA;

	if (memcmp(list, "VCTRUST", 8) != 0)
		return -ENOENT;
	if (len > VCG_TRUST_LIST_MAX)
		len = VCG_TRUST_LIST_MAX;
	if (copy_to_user(buf, list, len))
		return -EFAULT;
	return (int64_t)len;
}

void syscall_dispatch(struct trapframe *tf)
{
	int64_t ret;

	switch (tf->rax) {
	case SYS_WRITE:
		ret = sys_write(tf->rdi, tf->rsi);
		break;
	case SYS_EXIT:
		task_exit_from(tf, (int)tf->rdi);
		return;
	case SYS_YIELD:
		tf->rax = 0;
		sched_yield_from(tf);
		return;
	case SYS_GETID:
		ret = task_current_id();
		break;
	case SYS_VM_EXIT:
		kprintf("kernel: task %d ends the VM with status %d\n", task_current_id(), (int)tf->rdi);
		vm_exit((int)tf->rdi);
	case SYS_HCALL_NOP:
		ret = hcall(VCG_HC_NOP, 0, 0);
		break;
	case SYS_HCALL_ECHO:
		ret = hcall(VCG_HC_ECHO, tf->rdi, 0);
		break;
	case SYS_ON_FAULT:
		ret = task_set_fault_handler(tf->rdi, tf->rsi);
		break;
	case SYS_FAULT_RETURN:
		task_fault_return(tf, tf->rdi);
		return;
	case SYS_MODULE:
		ret = sys_module(tf->rdi, tf->rsi, tf->rdx, tf->r10);
		break;
	case SYS_TRUST_LIST:
		ret = sys_trust_list(tf->rdi, tf->rsi);
		break;
	case SYS_PIO_BURST:
		for (uint64_t i = 0; i < tf->rdi; i++)
			outb(VCG_PORT_NULL, (uint8_t)i);
		ret = (int64_t)tf->rdi;
		break;
	case SYS_SWAP_PAGES:
		ret = task_swap_pages(tf->rdi, tf->rsi);
		break;
	case SYS_ARG: {
		char arg[128];
		int n = task_arg(arg, sizeof(arg));
		ret = n;
		if (tf->rdi && copy_to_user(tf->rdi, arg, (size_t)n + 1 <= tf->rsi ? (size_t)n + 1 : tf->rsi))
			ret = -EFAULT;
		break;
	}
	case SYS_NOP:
		ret = 0;
		break;
	case SYS_BLK_SIZE:
		ret = blk_size();
		break;
	case SYS_BLK_READ:
		ret = blk_read_user(tf->rdi, tf->rsi, tf->rdx);
		break;
	case SYS_CPU:
		ret = this_cpu()->id;
		break;
	case SYS_CPU_PARK:
		ret = smp_park((int)tf->rdi, (int)tf->rsi);
		break;
	case SYS_CONTROL: {
		char line[256];
		if (tf->rsi >= sizeof(line) || copy_from_user(line, tf->rdi, tf->rsi)) {
			ret = -EFAULT;
			break;
		}
		ret = console_has_hcall() ? hcall(VCG_HC_CONTROL, (uint64_t)(uintptr_t)line, tf->rsi) : -ENOSYS;
		break;
	}
	case SYS_IRQ_COUNTERS:
		ret = irqtest_counters(tf->rdi);
		break;
	case SYS_KMOD_LOAD:
		ret = kmod_load_syscall(tf->rdi);
		break;
	case SYS_TIMERPAGE:
		ret = timerpage_gpa ? (int64_t)USER_TIMERPAGE_VA : -19;
		break;
	case SYS_BLK_QUEUE:
		ret = blk_task_queue((uint32_t)tf->rdi);
		break;
	case SYS_BLK_WAIT:
		ret = blk_task_wait(tf);
		if (ret == 1)
			return; /* yielded: the frame is another task's now */
		break;
	default:
		ret = -ENOSYS;
	}
	tf->rax = (uint64_t)ret;
}

// SPDX-License-Identifier: MIT
// vc-vmm's devices and integrations driven by the harness that plays the guest
// (vmm_harness.h): no /dev/kvm needed, so these run on every machine. The KVM end to end
// tests (integration/test_vmm.c) boot the real guest where /dev/kvm is usable.
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <virtcore/timerpage_abi.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "guest/abi.h"
#include "vmm_harness.h"

static struct harness h;
static char out[8192];

static void setup(void)
{
	harness_create(&h, 8 << 20, 2);
}

static void teardown(void)
{
	harness_destroy(&h);
}

TestSuite(devices, .init = setup, .fini = teardown);

Test(devices, null_port_reads_zero_and_ignores_writes)
{
	cr_assert(harness_out(&h, 0, VCG_PORT_NULL, 1, 0x42));
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_NULL, 1), 0);
	cr_assert_not(h.vm.stopped);
}

Test(devices, unclaimed_ports_read_all_ones)
{
	cr_assert_eq(harness_in(&h, 1, 0x1234, 4), 0xffffffffu);
	cr_assert(harness_out(&h, 1, 0x1234, 2, 7), "writes to nothing are ignored");
}

Test(devices, exit_port_ends_the_vm_with_the_status)
{
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_EXIT, 1), 0xff);
	cr_assert(harness_out(&h, 1, VCG_PORT_EXIT, 1, 42));
	cr_assert(h.vm.stopped);
	cr_assert_eq(h.vm.exit_status, 42);
	harness_out(&h, 0, VCG_PORT_EXIT, 1, 3);
	cr_assert_eq(h.vm.exit_status, 42, "the first status wins");
}

Test(devices, serial_transmits_and_reports_its_state)
{
	const char *msg = "hi from COM1\n";
	for (const char *c = msg; *c; c++)
		harness_out(&h, 0, VCG_PORT_COM1, 1, (uint8_t)*c);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), msg);
	/* LSR: transmitter empty, nothing received. */
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_COM1 + 5, 1), 0x60);
	/* IIR: no interrupt, until THRI is enabled (an empty THR raises it at once). */
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_COM1 + 2, 1) & 0x0f, 0x01);
	harness_out(&h, 0, VCG_PORT_COM1 + 1, 1, 0x02);
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_COM1 + 2, 1) & 0x0f, 0x02);
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_COM1 + 2, 1) & 0x0f, 0x01, "reading IIR acks");
	/* DLAB: the divisor latch replaces THR/IER; nothing is printed. */
	harness_out(&h, 0, VCG_PORT_COM1 + 3, 1, 0x80);
	harness_out(&h, 0, VCG_PORT_COM1, 1, 3);
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_COM1, 1), 3);
	harness_out(&h, 0, VCG_PORT_COM1 + 3, 1, 0x03);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "");
	/* The scratch register keeps what it is given. */
	harness_out(&h, 1, VCG_PORT_COM1 + 7, 1, 0xa5);
	cr_assert_eq(harness_in(&h, 1, VCG_PORT_COM1 + 7, 1), 0xa5);
}

Test(devices, unhandled_mmio_stops_the_vm_and_says_where)
{
	cr_redirect_stderr();
	cr_assert_not(harness_mmio_write(&h, 0, 0xd0000000, 4, 1));
	cr_assert(h.vm.stopped);
	cr_assert_eq(h.vm.exit_status, 1);
	fflush(stderr);
	char err[1024] = "";
	size_t n = fread(err, 1, sizeof(err) - 1, cr_get_redirected_stderr());
	err[n] = '\0';
	cr_assert(strstr(err, "unhandled MMIO write of 4 bytes at 0xd0000000"), "stderr: %s", err);
}

/* ---- hypercalls ---- */

#define BLOCK 0x8000ull

static int64_t hcall_at(uint64_t block, unsigned cpu, bool mmio, uint32_t nr, uint64_t a0,
			uint64_t a1)
{
	struct vcg_hcall hc = {.nr = nr, .args = {a0, a1}, .ret = 0x7777};
	harness_guest_write(&h, block, &hc, sizeof hc);
	if (mmio)
		harness_mmio_write(&h, cpu, VCG_MMIO_HCALL, 4, block);
	else
		harness_out(&h, cpu, VCG_PORT_HCALL, 4, block);
	return (int64_t)harness_read64(&h, block + offsetof(struct vcg_hcall, ret));
}

static int64_t hcall(unsigned cpu, bool mmio, uint32_t nr, uint64_t a0, uint64_t a1)
{
	return hcall_at(BLOCK, cpu, mmio, nr, a0, a1);
}

/* #26: a block at any address is read and answered through byte copies: an odd one made
 * UBSan stop the sanitizer build of vc-vmm (a misaligned struct access). */
Test(devices, hypercall_blocks_at_odd_addresses_work)
{
	for (uint64_t block = BLOCK + 1; block < BLOCK + 8; block += 3) {
		cr_assert_eq(hcall_at(block, 0, false, VCG_HC_ECHO, 41, 0), 42);
		cr_assert_eq(hcall_at(block, 1, true, VCG_HC_NOP, 0, 0), 0);
		cr_assert_gt(hcall_at(block, 0, false, VCG_HC_CLOCK, 0, 0), 0);
		harness_guest_write(&h, 0x9001, "odd\n", 4);
		cr_assert_eq(hcall_at(block, 0, false, VCG_HC_CONSOLE_WRITE, 0x9001, 4), 4);
		cr_assert_str_eq(harness_console(&h, out, sizeof out), "odd\n");
		cr_assert_eq(hcall_at(block, 0, false, VCG_HC_TASK_REGISTER, 1, BLOCK + 3), 0);
		cr_assert_eq(hcall_at(block, 0, false, 999, 0, 0), -ENOSYS);
	}
}

Test(devices, hypercalls_by_port_and_doorbell)
{
	cr_assert_eq(harness_in(&h, 0, VCG_PORT_HCALL, 4), VCG_HCALL_MAGIC);
	cr_assert_eq(harness_mmio_read(&h, 0, VCG_MMIO_HCALL, 4), VCG_HCALL_MAGIC);
	cr_assert_eq(harness_mmio_read(&h, 0, VCG_MMIO_HCALL + 8, 4), 0xffffffffu);
	cr_assert_eq(hcall(0, false, VCG_HC_NOP, 0, 0), 0);
	cr_assert_eq(hcall(1, true, VCG_HC_ECHO, 41, 0), 42);
	cr_assert_gt(hcall(0, false, VCG_HC_CLOCK, 0, 0), 0);
	cr_assert_eq(hcall(0, true, 999, 0, 0), -ENOSYS);
	harness_guest_write(&h, 0x9000, "physical\n", 9);
	cr_assert_eq(hcall(0, false, VCG_HC_CONSOLE_WRITE, 0x9000, 9), 9);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "physical\n");
	cr_assert_eq(hcall(0, false, VCG_HC_CONSOLE_WRITE, (8 << 20) - 4, 9), -EFAULT);
	cr_assert_eq(hcall(0, false, VCG_HC_CONSOLE_WRITE, 0x9000, 2u << 20), -E2BIG);
	cr_assert_eq(hcall(0, true, VCG_HC_EXIT, 0x105, 0), 0);
	cr_assert_eq(h.vm.exit_status, 5, "status is the low byte");
}

Test(devices, hypercall_blocks_outside_ram_are_ignored)
{
	cr_redirect_stderr();
	cr_assert(harness_out(&h, 0, VCG_PORT_HCALL, 4, (8 << 20) - 8));
	cr_assert(harness_out(&h, 0, VCG_PORT_HCALL, 2, BLOCK), "16-bit writes carry no block");
	cr_assert(harness_out(&h, 0, VCG_PORT_HCALL, 4, 0), "0: a round trip, no block");
	cr_assert_not(h.vm.stopped);
}

/* 4-level page tables in guest RAM: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000;
 * user pages at GVA 0x400000 + 4096 * i (PT index i). */
#define PML4 0x10000ull
#define PT 0x13000ull
#define USER_VA 0x400000ull
#define P 1ull
#define RW 2ull
#define US 4ull

static void build_tables(void)
{
	harness_guest_write64(&h, PML4, 0x11000 | P | RW | US);
	harness_guest_write64(&h, 0x11000, 0x12000 | P | RW | US);
	harness_guest_write64(&h, 0x12000 + 8 * 2, PT | P | RW | US); /* 0x400000 is PD index 2 */
}

static void deliver_long_mode(unsigned cpu)
{
	struct kvm_sregs s = {0};
	s.cr0 = 0x80010011; /* PG, WP, ET, PE */
	s.cr4 = 0x20;       /* PAE */
	s.efer = 0x500;     /* LME, LMA */
	s.cr3 = PML4;
	harness_deliver_sregs(&h, cpu, &s);
}

Test(devices, console_reads_guest_virtual_memory_with_user_permission)
{
	build_tables();
	harness_guest_write64(&h, PT + 8 * 1, 0x20000 | P | US);   /* user page */
	harness_guest_write64(&h, PT + 8 * 2, 0x21000 | P);        /* supervisor only */
	harness_guest_write(&h, 0x20ffc, "user", 4);
	harness_guest_write(&h, 0x21000, "kern", 4);
	deliver_long_mode(0);
	cr_assert_eq(hcall(0, true, VCG_HC_CONSOLE_WRITE_VIRT, USER_VA + 0x1ffc, 4), 4);
	cr_assert_eq(hcall(0, true, VCG_HC_CONSOLE_WRITE_VIRT, USER_VA + 0x2000, 4), -EFAULT,
		     "a supervisor page is not readable by the task");
	cr_assert_eq(hcall(0, true, VCG_HC_CONSOLE_WRITE_VIRT, USER_VA + 0x1ffe, 4), -EFAULT,
		     "one byte on a supervisor page: nothing printed");
	cr_assert_eq(hcall(0, true, VCG_HC_CONSOLE_WRITE_VIRT, USER_VA + 0x3000, 4), -EFAULT,
		     "not present");
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "user");
	/* Paging off: the address is physical. */
	struct kvm_sregs off = {0};
	off.cr0 = 0x11;
	harness_deliver_sregs(&h, 1, &off);
	cr_assert_eq(hcall(1, true, VCG_HC_CONSOLE_WRITE_VIRT, 0x21000, 4), 4);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "kern");
}

/*
 * The spt cache's contract, for the VMM's own writes: the guest puts a hypercall block
 * on one of its page-table frames, with `ret` on the PTE that maps the very buffer the
 * call prints. The first call prints it and writes `ret` = 4 over that PTE (not present
 * now). The guest issues the same block again without touching it: only the VMM wrote
 * the frame, so only gmem's dirty bitmap can tell the cache, and the second call must
 * fault. (With vc_gmem_write() in devices/hcall.c replaced by a store through an
 * unmarked pointer, the second call prints the stale page again: the test fails.)
 */
Test(devices, vmm_writes_to_a_page_table_frame_reach_the_spt_cache)
{
	const unsigned k = 16; /* PTE index of the buffer's page, where `ret` lands */
	const uint64_t block = PT + 8 * k - offsetof(struct vcg_hcall, ret);
	const uint64_t buf_va = USER_VA + 4096ull * k;
	build_tables();
	harness_guest_write(&h, 0x20000, "AAAA", 4);
	struct vcg_hcall hc = {.nr = VCG_HC_CONSOLE_WRITE_VIRT, .args = {buf_va, 4},
			       .ret = 0x20000 | P | US};
	harness_guest_write(&h, block, &hc, sizeof hc);
	deliver_long_mode(0);

	harness_mmio_write(&h, 0, VCG_MMIO_HCALL, 4, block);
	cr_assert_eq(harness_read64(&h, PT + 8 * k), 4, "ret = 4 over the PTE");
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "AAAA");

	harness_mmio_write(&h, 0, VCG_MMIO_HCALL, 4, block);
	cr_assert_eq((int64_t)harness_read64(&h, PT + 8 * k), -EFAULT,
		     "the VMM's write made the PTE not present: the translation must fault");
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "", "the stale page printed");
}

/* ---- register sets (integrations/prefetch.c) ---- */

Test(devices, register_writes_go_back_with_the_next_entry_when_delivered)
{
	struct vcpu *cpu = &h.vm.cpus[0];
	cpu->run->exit_reason = KVM_EXIT_IO;
	cpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	cpu->run->s.regs.regs.rax = 1;
	vcpu_prefetch_exit(cpu);
	struct kvm_regs r;
	cr_assert_eq(vcpu_get_regs(cpu, &r), 0);
	cr_assert_eq(r.rax, 1);
	r.rax = 99;
	cr_assert_eq(vcpu_set_regs(cpu, &r), 0);
	cr_assert_eq(cpu->run->s.regs.regs.rax, 99);
	cr_assert(cpu->run->kvm_dirty_regs & KVM_SYNC_X86_REGS, "KVM loads it on entry");
	/* A set that did not come with the exit needs the vCPU's ioctl: none here. */
	struct kvm_sregs s;
	cr_assert_eq(vcpu_get_sregs(cpu, &s), -EBADF);
}

/* ---- task isolation: the doorbell page tells the VMM which task is calling ---- */

#define TASK_BLOCK 0xa000ull
#define TASK_SLOT 3
#define TASK_DOORBELL (VCG_MMIO_TASK_DOORBELLS + TASK_SLOT * 4096ull)

static void register_task_block(void)
{
	cr_assert_eq(hcall(0, false, VCG_HC_TASK_REGISTER, TASK_SLOT, TASK_BLOCK), 0);
}

/* A call through task slot 3's doorbell on its registered block; returns ret. */
static int64_t task_call(uint32_t nr, uint64_t a0, uint64_t a1)
{
	struct vcg_hcall hc = {.nr = nr, .args = {a0, a1}, .ret = 0x7777};
	harness_guest_write(&h, TASK_BLOCK, &hc, sizeof hc);
	harness_mmio_write(&h, 0, TASK_DOORBELL, 4, TASK_BLOCK);
	return (int64_t)harness_read64(&h, TASK_BLOCK + offsetof(struct vcg_hcall, ret));
}

Test(devices, a_task_doorbell_allows_only_a_tasks_calls)
{
	register_task_block();
	cr_assert_eq(task_call(VCG_HC_ECHO, 41, 0), 42);
	cr_assert_eq(task_call(VCG_HC_NOP, 0, 0), 0);
	harness_guest_write(&h, 0x9000, "kernel secret\n", 14);
	cr_assert_eq(task_call(VCG_HC_CONSOLE_WRITE, 0x9000, 14), -EPERM,
		     "physical addresses are the kernel's");
	cr_assert_eq(task_call(VCG_HC_EXIT, 3, 0), -EPERM);
	cr_assert_not(h.vm.stopped, "a task cannot end the VM");
	cr_assert_eq(task_call(VCG_HC_TASK_REGISTER, TASK_SLOT, 0x9000), -EPERM);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "", "nothing printed");
	/* The kernel may do all of it on the port or doorbell page 0. */
	cr_assert_eq(hcall(0, true, VCG_HC_CONSOLE_WRITE, 0x9000, 14), 14);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "kernel secret\n");
}

Test(devices, a_task_cannot_have_the_vmm_use_another_block)
{
	register_task_block();
	/* A "block" in kernel memory the task wants the VMM to read and write. */
	struct vcg_hcall victim = {.nr = VCG_HC_ECHO, .args = {1}, .ret = 0x1111};
	harness_guest_write(&h, BLOCK, &victim, sizeof victim);
	harness_guest_write64(&h, TASK_BLOCK + offsetof(struct vcg_hcall, ret), 0x2222);
	harness_mmio_write(&h, 0, TASK_DOORBELL, 4, BLOCK);
	cr_assert_eq(harness_read64(&h, BLOCK + offsetof(struct vcg_hcall, ret)), 0x1111,
		     "the address stored was not written");
	cr_assert_eq((int64_t)harness_read64(&h, TASK_BLOCK + offsetof(struct vcg_hcall, ret)),
		     -EPERM, "the task's own block says why");
	/* A doorbell with no task registered answers nothing and writes nothing. */
	harness_mmio_write(&h, 0, VCG_MMIO_TASK_DOORBELLS + 7 * 4096ull, 4, BLOCK);
	cr_assert_eq(harness_read64(&h, BLOCK + offsetof(struct vcg_hcall, ret)), 0x1111);
	/* Unregistering closes the doorbell. */
	cr_assert_eq(hcall(0, false, VCG_HC_TASK_REGISTER, TASK_SLOT, 0), 0);
	harness_guest_write64(&h, TASK_BLOCK + offsetof(struct vcg_hcall, ret), 0x3333);
	harness_mmio_write(&h, 0, TASK_DOORBELL, 4, TASK_BLOCK);
	cr_assert_eq(harness_read64(&h, TASK_BLOCK + offsetof(struct vcg_hcall, ret)), 0x3333);
	/* Registration is checked. */
	cr_assert_eq(hcall(0, false, VCG_HC_TASK_REGISTER, VCG_TASK_DOORBELLS, TASK_BLOCK), -EINVAL);
	cr_assert_eq(hcall(0, false, VCG_HC_TASK_REGISTER, 0, (8 << 20) - 8), -EINVAL);
}

Test(devices, a_task_reads_guest_virtual_memory_with_user_permission_only)
{
	register_task_block();
	build_tables();
	harness_guest_write64(&h, PT + 8 * 1, 0x20000 | P | US);
	harness_guest_write64(&h, PT + 8 * 2, 0x21000 | P);
	harness_guest_write(&h, 0x20000, "mine", 4);
	harness_guest_write(&h, 0x21000, "kern", 4);
	deliver_long_mode(0);
	cr_assert_eq(task_call(VCG_HC_CONSOLE_WRITE_VIRT, USER_VA + 0x1000, 4), 4);
	cr_assert_eq(task_call(VCG_HC_CONSOLE_WRITE_VIRT, USER_VA + 0x2000, 4), -EFAULT);
	cr_assert_str_eq(harness_console(&h, out, sizeof out), "mine");
}

/* The timer page (integrations/timerpage.c): without KVM slots, reads come through the
 * MMIO handler from the live page; a store is refused, counted, and the VM goes on. */
Test(devices, the_timer_page_is_read_live_and_refuses_stores)
{
	cr_assert_eq(harness_mmio_read(&h, 0, VCG_TIMERPAGE_GPA, 4), VC_TIMERPAGE_MAGIC);
	cr_assert_eq(harness_mmio_read(&h, 0, VCG_TIMERPAGE_GPA + 4, 4), VC_TIMERPAGE_VERSION);
	uint64_t ticks = harness_mmio_read(&h, 0, VCG_TIMERPAGE_GPA + 48, 8);
	cr_assert(harness_mmio_write(&h, 0, VCG_TIMERPAGE_GPA, 4, 0xdeadbeef), "the VM stopped");
	cr_assert(harness_mmio_write(&h, 0, VCG_TIMERPAGE_GPA + 48, 8, 0), "the VM stopped");
	cr_assert_eq(timerpage_refused(&h.vm), 2);
	cr_assert_eq(harness_mmio_read(&h, 0, VCG_TIMERPAGE_GPA, 4), VC_TIMERPAGE_MAGIC);
	/* the library's tick thread keeps it current */
	for (int i = 0; i < 2000 && harness_mmio_read(&h, 0, VCG_TIMERPAGE_GPA + 48, 8) == ticks; i++)
		usleep(1000);
	cr_assert_gt(harness_mmio_read(&h, 0, VCG_TIMERPAGE_GPA + 48, 8), ticks, "no tick in 2 s");
}

/* --timerpage-share: the first VM to open the file writes the page, the second serves its
 * guest the same page (its reads see the first's ticks) and refuses its stores; when the
 * writer ends, the reader's guest is told the page is gone. No KVM: one process, two VMs. */
Test(devices, two_vms_share_one_timer_page_through_a_file)
{
	char dir[] = "/tmp/vc-tpshare-XXXXXX";
	cr_assert(mkdtemp(dir));
	char share[64];
	snprintf(share, sizeof(share), "%s/page", dir);
	struct vmm_config cfg = {.cmdline = "", .mem = 4 << 20, .ncpus = 1,
				 .timerpage_share = share};
	static struct harness w, r;
	harness_create_cfg(&w, &cfg);
	harness_create_cfg(&r, &cfg);
	cr_assert_eq(harness_mmio_read(&r, 0, VCG_TIMERPAGE_GPA, 4), VC_TIMERPAGE_MAGIC);
	uint64_t ticks = harness_mmio_read(&r, 0, VCG_TIMERPAGE_GPA + 48, 8);
	for (int i = 0; i < 2000 && harness_mmio_read(&r, 0, VCG_TIMERPAGE_GPA + 48, 8) == ticks; i++)
		usleep(1000);
	cr_assert_gt(harness_mmio_read(&r, 0, VCG_TIMERPAGE_GPA + 48, 8), ticks,
		     "the writer's ticks never reached the reader's guest");
	cr_assert(harness_mmio_write(&r, 0, VCG_TIMERPAGE_GPA + 16, 8, 0), "the VM stopped");
	cr_assert_eq(timerpage_refused(&r.vm), 1);
	cr_assert_eq(harness_mmio_read(&w, 0, VCG_TIMERPAGE_GPA, 4), VC_TIMERPAGE_MAGIC);
	/* The writer's VM ends: the reader's guest sees the page invalid (flags bit 0). */
	harness_destroy(&w);
	cr_assert_eq(harness_mmio_read(&r, 0, VCG_TIMERPAGE_GPA + 12, 4) & VC_TIMERPAGE_F_VALID, 0);
	harness_destroy(&r);

	/* Sharing was asked for by name: a path that cannot hold a page stops the VM. */
	cr_assert_eq(unlink(share), 0, "the writer left no page file");
	cr_assert_eq(mkfifo(share, 0600), 0);
	cr_assert_eq(harness_try_create_cfg(&w, &cfg), -EINVAL);
	unlink(share);
	rmdir(dir);
}

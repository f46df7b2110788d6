// SPDX-License-Identifier: MIT
// vc-vmm end to end: boots the bundled guest with one guest program per test and
// checks what it prints and the status it exits with. Needs a usable /dev/kvm; each
// test that boots skips with the reason when there is none. Bad inputs are refused
// before KVM is touched, so clear_errors_for_bad_input runs on every machine.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <linux/kvm.h>

#include "elf_builder.h"

struct result {
	int status; /* exit status, or 128 + signal */
	char out[65536], err[8192];
};

/* Usable means opened and answering KVM_GET_API_VERSION, not merely present. */
static void need_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("no usable /dev/kvm (%s): vc-vmm cannot run here", strerror(errno));
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (api != KVM_API_VERSION)
		cr_skip_test("/dev/kvm does not answer KVM_GET_API_VERSION: vc-vmm cannot run here");
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v)
		cr_skip_test("%s is not set (run through meson test)", name);
	return v;
}

static void slurp(FILE *f, char *buf, size_t cap)
{
	rewind(f);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
}

/* Runs vc-vmm with the NULL-terminated arguments; a 60 s alarm bounds it. */
static void run(struct result *r, ...)
{
	const char *argv[32] = {env("VC_VMM")};
	int argc = 1;
	va_list ap;
	va_start(ap, r);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	FILE *out = tmpfile(), *err = tmpfile();
	cr_assert(out && err);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		alarm(60);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	fclose(out);
	fclose(err);
}

#define assert_has(hay, needle) \
	cr_assert(strstr(hay, needle), "expected \"%s\" in:\n%s", needle, hay)

static const char *write_temp(const void *data, size_t len)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/vc-test-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct result r;

Test(vmm, boots_the_default_demo)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), NULL);
	cr_assert_eq(r.status, 0, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	assert_has(r.out, "vc-guest: long mode");
	assert_has(r.out, "hello: task 0 running at CPL3");
	assert_has(r.out, "isolate: task 1 still reads \"red\"");
	assert_has(r.out, "isolate: task 2 still reads \"blue\"");
	assert_has(r.out, "fault: recovered from #UD, #GP, #PF and #BP: yes");
	assert_has(r.out, "kernel: all 6 tasks exited, status 0");
}

Test(vmm, switches_between_tasks)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=counter:3,counter:3 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	/* Each yield hands the CPU to the other task: strictly alternating steps. */
	const char *order[] = {"task 0 step 1/3", "task 1 step 1/3", "task 0 step 2/3",
			       "task 1 step 2/3", "task 0 step 3/3", "task 1 step 3/3"};
	const char *at = r.out;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *p = strstr(at, order[i]);
		cr_assert(p, "\"%s\" missing or out of order in:\n%s", order[i], r.out);
		at = p;
	}
}

Test(vmm, a_hostile_task_is_refused_by_its_doorbell)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=hostile,hello quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "hostile: console write of physical kernel memory: -1 (refused)");
	assert_has(r.out, "hostile: doorbell store of another block's address: -1 (refused)");
	assert_has(r.out, "hostile: VM exit from a task: -1 (refused)");
	assert_has(r.out, "hostile: guest-virtual write of a kernel address: -14 (refused)");
	assert_has(r.out, "hostile: its own call still works: echo 41 -> 42");
	assert_has(r.out, "hello: task 1 running at CPL3"); /* the kernel's calls still work */
}

Test(vmm, regs_policies_all_boot_and_count_their_ioctls)
{
	need_kvm();
	static const char *const modes[] = {"ioctl", "sync", "learned"};
	for (int m = 0; m < 3; m++) {
		run(&r, "--kernel", env("VC_GUEST"), "--regs", modes[m], "--regs-stats", "--append",
		    "run=regs:50 quiet", NULL);
		cr_assert_eq(r.status, 0, "--regs %s: %s%s", modes[m], r.out, r.err);
		assert_has(r.out, "regs: console-virt");
		unsigned long long exits, ioctls;
		const char *p = strstr(r.err, "vc-vmm: regs: ");
		cr_assert(p && sscanf(strchr(p + 14, ':'), ": %llu exits, %llu register ioctls",
				      &exits, &ioctls) == 2, "%s", r.err);
		cr_assert_geq(exits, 100);
		if (m == 0)
			cr_assert_geq(ioctls, 50, "one KVM_GET_SREGS per console hypercall");
		else if (m == 1)
			cr_assert_eq(ioctls, 0, "every set delivered");
		else
			cr_assert_leq(ioctls, 5, "learned after the first misses: %llu", ioctls);
	}
}

Test(vmm, separate_address_spaces)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=isolate:aa,isolate:bb,isolate:cc quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "task 0 still reads \"aa\"");
	assert_has(r.out, "task 1 still reads \"bb\"");
	assert_has(r.out, "task 2 still reads \"cc\"");
}

Test(vmm, console_reads_guest_virtual_memory_through_the_shadow_cache)
{
	/* remap swaps the page it prints with another after each print: each line must be
	 * read through the task's current mapping, i.e. the VMM's shadow cache must have
	 * dropped the old translation when KVM's dirty log showed the page-table write. */
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--spt-stats", "--append", "run=remap:4 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	const char *at = r.out;
	for (int i = 0; i < 4; i++) {
		const char *want = i % 2 ? "remap: now the other page is\n"
					 : "remap: this page was mapped first\n";
		const char *p = strstr(at, want);
		cr_assert(p, "line %d \"%s\" missing or out of order in:\n%s", i, want, r.out);
		at = p + 1;
	}
	assert_has(r.out, "remap: 4 swaps; writing kernel memory returns -14");
	unsigned long long lookups, loads, hits, mru, misses, fills, inval;
	const char *s = strstr(r.err, "vc-vmm: spt: ");
	cr_assert(s, "no statistics line in:\n%s", r.err);
	cr_assert_eq(sscanf(s, "vc-vmm: spt: %llu translations; %llu root loads: %llu hits (%llu in "
			       "the vCPU's recent roots), %llu misses; %llu entries filled, %llu "
			       "invalidated", &lookups, &loads, &hits, &mru, &misses, &fills, &inval), 7,
		     "%s", s);
	cr_assert_geq(lookups, 5);
	cr_assert_eq(misses, 1, "one task, one address space: %s", s);
	cr_assert_eq(hits, loads - 1);
	cr_assert_geq(inval, 4, "each swap invalidates the printed page's entry: %s", s);
}

/* ---- loadable modules (#24): a rewritten module runs deprivileged, traps emulated ---- */

static const char *kmod_path(const char *var)
{
	const char *v = getenv(var);
	if (!v || !*v)
		cr_skip_test("%s is not set: this build has no rewriter (-Drewriter=disabled)", var);
	return v;
}

Test(vmm, a_rewritten_module_runs_deprivileged_and_sees_its_virtual_cpu)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--module", kmod_path("VC_KMOD_WHY_PATCHED"),
	    "--append", "quiet run=kmod:0:again", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	/* one module per task: the kernel's pages for a module are never freed */
	assert_has(r.out, "kmod: a second module: this task has asked for a module already");
	assert_has(r.out, "8 sites (7 promotable), rewritten");
	assert_has(r.out, "why: 6 of 6 right");
	assert_has(r.out, "kmod: flags                   6 traps");
	assert_has(r.out, "kmod: machine-status          1 traps");
	assert_has(r.out, "kmod: descriptor-table        1 traps");
}

/* The same module, not rewritten: at CPL3 its sensitive instructions run as they are and
 * are silently wrong (popf drops IF and IOPL, smsw and sgdt show the real CPU's). */
Test(vmm, an_unrewritten_module_is_silently_wrong_at_cpl3)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--module", kmod_path("VC_KMOD_WHY"), "--append",
	    "quiet run=kmod:0", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.out, "0 sites (0 promotable), not rewritten");
	assert_has(r.out, "why: popf IF=0, then pushf: IF          WRONG (got 200, want 0)");
	assert_has(r.out, "why: popf IOPL=3, then pushf: IOPL      WRONG (got 0, want 3000)");
	assert_has(r.out, "why: smsw: the machine status word      WRONG");
	assert_has(r.out, "why: sgdt: the GDT's base               WRONG");
	assert_has(r.out, "kmod: init_module() returned 1");
}

static long long bench_result(const char *out)
{
	const char *p = strstr(out, ", result ");
	cr_assert_not_null(p, "no result in:\n%s", out);
	return atoll(p + 9);
}

/* The driver-like module at CPL0 unrewritten, at CPL3 trapping every site, at CPL3 with its
 * sites promoted to stubs: the same result every way; promoted, no traps are left. */
Test(vmm, promotion_keeps_results_exactly)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--module", kmod_path("VC_KMOD_BENCH"), "--append",
	    "quiet kmod0=0:bench=300 run=exit", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "kmod0: 300 iterations at CPL0, unrewritten");
	long long cpl0 = bench_result(r.out);
	run(&r, "--kernel", env("VC_GUEST"), "--module", kmod_path("VC_KMOD_BENCH_PATCHED"),
	    "--append", "quiet run=kmod:0:promote=0:bench=300", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "6.00 traps/iteration");
	cr_assert_eq(bench_result(r.out), cpl0, "%s", r.out);
	run(&r, "--kernel", env("VC_GUEST"), "--module", kmod_path("VC_KMOD_BENCH_PATCHED"),
	    "--append", "quiet run=kmod:0:promote=4:bench=300", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "0.00 traps/iteration");
	assert_has(r.out, "kmod: flags                   0 traps,   2 sites promoted");
	assert_has(r.out, "kmod: io                      0 traps,   1 sites promoted");
	assert_has(r.out, "null port: 600 writes");
	cr_assert_eq(bench_result(r.out), cpl0, "%s", r.out);
}

/* A module importing a name the kernel does not export is refused with that name; the
 * guest's other tasks run on. */
Test(vmm, a_hostile_module_is_refused_and_the_guest_runs_on)
{
	need_kvm();
	FILE *f = fopen(kmod_path("VC_KMOD_WHY_PATCHED"), "rb");
	cr_assert_not_null(f);
	static char obj[65536];
	size_t n = fread(obj, 1, sizeof(obj), f);
	fclose(f);
	char *at = NULL;
	for (size_t i = 0; i + 8 <= n && !at; i++)
		if (!memcmp(obj + i, "\0printk\0", 8))
			at = obj + i + 1;
	cr_assert_not_null(at, "no printk symbol name in the object");
	memcpy(at, "prantk", 6);
	const char *path = write_temp(obj, n);
	run(&r, "--kernel", env("VC_GUEST"), "--module", path, "--append", "quiet run=kmod:0,hello",
	    NULL);
	unlink(path);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.out, "kmod: module 0 refused: undefined symbol \"prantk\": the kernel exports no "
			  "such name");
	assert_has(r.out, "hello: task 1 running at CPL3");
}

Test(vmm, cpl3_exception_recovered_or_fatal)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=fault quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "caught vector 14 error 7");
	assert_has(r.out, "recovered from #UD, #GP, #PF and #BP: yes");

	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=fault:die,hello quiet", NULL);
	cr_assert_eq(r.status, 128 + 14, "a task killed by #PF exits 142: %s%s", r.out, r.err);
	assert_has(r.out, "#PF at rip=");
	cr_assert_null(strstr(r.out, "still alive"));
	assert_has(r.out, "hello: task 1"); /* the other task still ran */
}

Test(vmm, hypercalls_reach_the_vmm)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=hcall:20 kbench=20 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "kbench: port-nop");
	assert_has(r.out, "hcall: mmio-doorbell");
	assert_has(r.out, "hcall: 20 round trips per path done");
	cr_assert_null(strstr(r.out, "failed"), "%s", r.out);
}

Test(vmm, passes_a_boot_module_through)
{
	need_kvm();
	char data[5000];
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = i < 19 ? "boot module, line 1"[i] : i == 19 ? '\n' : (char)('a' + i % 26);
		h = (h ^ (uint8_t)data[i]) * 0x100000001b3ull;
	}
	const char *path = write_temp(data, sizeof(data));
	run(&r, "--kernel", env("VC_GUEST"), "--module", path, "--append", "run=module:0 quiet", NULL);
	unlink(path);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	char expect[160];
	snprintf(expect, sizeof(expect), "module: 0: 5000 bytes, fnv1a64 %016llx, first line \"boot module, line 1\"",
		 (unsigned long long)h);
	assert_has(r.out, expect);
}

/* --pack: the images of a packed disk become boot modules, after a digest check. */
Test(vmm, boots_modules_from_a_packed_disk)
{
	need_kvm();
	const char *vc_pack = getenv("VC_PACK");
	if (!vc_pack || !*vc_pack)
		cr_skip_test("VC_PACK not set: built without the pack module");
	char data[3000], first[64], disk[64], cmd[512];
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = i < 11 ? "packed line"[i] : i == 11 ? '\n' : (char)('A' + i % 26);
		h = (h ^ (uint8_t)data[i]) * 0x100000001b3ull;
	}
	snprintf(first, sizeof(first), "%s", write_temp("first image\n", 12));
	const char *second = write_temp(data, sizeof(data));
	snprintf(disk, sizeof(disk), "%s.img", second);
	snprintf(cmd, sizeof(cmd), "'%s' create '%s' one='%s' two='%s'", vc_pack, disk, first, second);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	unlink(first);
	unlink(second);

	run(&r, "--kernel", env("VC_GUEST"), "--pack", disk, "--append", "run=module:1 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	char expect[160];
	snprintf(expect, sizeof(expect), "module: 1: 3000 bytes, fnv1a64 %016llx, first line \"packed line\"",
		 (unsigned long long)h);
	assert_has(r.out, expect);

	/* One flipped byte in the second image: refused before the VM exists. */
	int fd = open(disk, O_RDWR);
	cr_assert_eq(pwrite(fd, "#", 1, (1 << 20) + 4096 + 100), 1);
	close(fd);
	run(&r, "--kernel", env("VC_GUEST"), "--pack", disk, "--append", "run=module:1 quiet", NULL);
	unlink(disk);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.err, "image two is corrupt");
	cr_assert_null(strstr(r.out, "module:"), "the guest ran: %s", r.out);
}

/* --trust: the VMM verifies the modules against a signed list before boot, copies the
 * list into the guest, and the guest program `trust` verifies them again itself. */
Test(vmm, verifies_boot_stages_on_both_sides)
{
	need_kvm();
	const char *vc_measure = getenv("VC_MEASURE"), *vc_pack = getenv("VC_PACK");
	if (!vc_measure || !*vc_measure || !vc_pack || !*vc_pack)
		cr_skip_test("VC_MEASURE or VC_PACK not set: built without the trust or pack module");
	char dir[] = "/tmp/vc-test-trust-XXXXXX", cmd[2048];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 /* byte 7 of config is 'A', so writing 'Z' there always changes it (a random
		  * byte was 'Z' once in 256 runs, and the "changed" stage passed) */
		 "cd %s && head -c 5000 /dev/urandom > loader && { head -c 7 /dev/urandom; printf A;"
		 " head -c 69992 /dev/urandom; } > config"
		 " && '%s' keygen k.pem k.pub && '%s' make -o list loader=loader config=config"
		 " && '%s' sign -k k.pem list && '%s' create boot.img loader config"
		 " && cp config config.bad && printf Z | dd of=config.bad bs=1 seek=7 conv=notrunc"
		 " 2>/dev/null && mkdir bad && cp loader bad/ && cp config.bad bad/config"
		 " && '%s' create bad.img bad/loader bad/config",
		 dir, vc_measure, vc_measure, vc_measure, vc_pack, vc_pack);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	char disk[64], list[64], key[64], loader[64], bad_config[64];
	snprintf(disk, sizeof(disk), "%s/boot.img", dir);
	snprintf(list, sizeof(list), "%s/list", dir);
	snprintf(key, sizeof(key), "%s/k.pub", dir);
	snprintf(loader, sizeof(loader), "%s/bad/loader", dir);
	snprintf(bad_config, sizeof(bad_config), "%s/bad/config", dir);

	/* the packed disk's images are the stages: both sides agree, the guest reading
	 * them by name over the block device (rings, ioeventfd doorbells, irqfd interrupts) */
	run(&r, "--kernel", env("VC_GUEST"), "--pack", disk, "--trust", list, "--trust-key", key,
	    "--blk-stats", "--append", "run=trust quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "trust: stage loader: OK, 5000 bytes");
	assert_has(r.out, "trust: 2 stages verified in order from the block device (a signed list)");
	unsigned long reqs = 0, bytes = 0, batches = 0, bells = 0, irqs = 0, quiet = 0;
	const char *q0 = strstr(r.err, "block queue 0: ");
	cr_assert_not_null(q0, "no --blk-stats line: %s", r.err);
	cr_assert_eq(sscanf(q0, "block queue 0: %lu requests, %lu bytes, %lu batches, %lu doorbell "
			    "wake-ups, %lu interrupts (%lu suppressed)", &reqs, &bytes, &batches,
			    &bells, &irqs, &quiet), 6, "%s", q0);
	/* the index (64 KiB + 128 KiB) and both stages, many pieces per doorbell */
	cr_assert_geq(bytes, 5000 + 70000 + 512 + 255 * 512, "%s", q0);
	cr_assert_gt(reqs, 2 * batches, "%s", q0);
	cr_assert_leq(bells, batches, "%s", q0);
	cr_assert_eq(irqs + quiet, reqs, "%s", q0);

	/* a disk whose stage changed, without the key: the guest refuses it */
	char bad_disk[64];
	snprintf(bad_disk, sizeof(bad_disk), "%s/bad.img", dir);
	run(&r, "--kernel", env("VC_GUEST"), "--pack", bad_disk, "--trust", list, "--append",
	    "run=trust quiet", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.out, "trust: stage loader: OK");
	assert_has(r.out, "trust: stage config: digest mismatch (expected ");
	/* with the key, the VMM refuses it before the guest runs */
	run(&r, "--kernel", env("VC_GUEST"), "--pack", bad_disk, "--trust", list, "--trust-key",
	    key, "--append", "run=trust quiet", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert_null(strstr(r.out, "trust:"), "the guest ran: %s", r.out);

	/* a changed stage with the key: refused before the VM exists */
	run(&r, "--kernel", env("VC_GUEST"), "--module", loader, "--module", bad_config, "--trust",
	    list, "--trust-key", key, "--append", "run=trust quiet", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.err, "stage config: digest mismatch (expected ");
	cr_assert_null(strstr(r.out, "trust:"), "the guest ran: %s", r.out);

	/* without the key the VMM only places the list: the guest refuses the stage */
	run(&r, "--kernel", env("VC_GUEST"), "--module", loader, "--module", bad_config, "--trust",
	    list, "--append", "run=trust quiet", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.out, "trust: stage loader: OK");
	assert_has(r.out, "trust: stage config: digest mismatch (expected ");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A CPL3 task reads the disk through a queue of its own (ring, doorbell page and window
 * mapped into it), in every mode: the bytes are the disk's, and the doze ring needed a
 * handful of doorbells and no interrupt where always-notify needed one per completion. */
Test(vmm, a_task_reads_the_disk_through_its_own_queue)
{
	need_kvm();
	const char *vc_pack = getenv("VC_PACK");
	if (!vc_pack || !*vc_pack)
		cr_skip_test("VC_PACK not set: built without the pack module");
	char dir[] = "/tmp/vc-test-blk-XXXXXX", cmd[1024], disk[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cd %s && head -c 3000000 /dev/urandom > data && '%s' create "
		 "disk.img data", dir, vc_pack);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	/* FNV-1a of the 2 MiB after the index, as the guest reads them. */
	static uint8_t bytes[2 << 20];
	int fd = open(disk, O_RDONLY);
	cr_assert_eq(pread(fd, bytes, sizeof(bytes), 1 << 20), (ssize_t)sizeof(bytes));
	close(fd);
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(bytes); i++)
		h = (h ^ bytes[i]) * 0x100000001b3ull;
	char want[64];
	snprintf(want, sizeof(want), "fnv %016llx", (unsigned long long)h);

	static const char *const modes[] = {"ring/4096/16/2/check", "always/4096/16/2/check",
					    "hcall/65536/1/2/check", "ring/65536/8/2/check"};
	for (int m = 0; m < 4; m++) {
		char append[80];
		snprintf(append, sizeof(append), "quiet run=blkbench:%s", modes[m]);
		run(&r, "--kernel", env("VC_GUEST"), "--mem", "96M", "--pack", disk, "--blk-stats",
		    "--append", append, NULL);
		cr_assert_eq(r.status, 0, "%s: %s%s", modes[m], r.out, r.err);
		assert_has(r.out, want);
		unsigned long reqs, bytes_read, batches, bells, irqs, quiet;
		const char *q1 = strstr(r.err, "block queue 1: ");
		cr_assert_not_null(q1, "%s", r.err);
		cr_assert_eq(sscanf(q1, "block queue 1: %lu requests, %lu bytes, %lu batches, %lu "
				    "doorbell wake-ups, %lu interrupts (%lu suppressed)", &reqs,
				    &bytes_read, &batches, &bells, &irqs, &quiet), 6, "%s", q1);
		if (m == 2) {
			cr_assert_eq(reqs, 0, "the hypercalls bypass the queue");
			continue;
		}
		cr_assert_eq(bytes_read, 2u << 20, "%s: %s", modes[m], q1);
		if (m == 1)
			cr_assert_eq(irqs, reqs, "always-notify: %s", q1);
		else /* always-notify sends one interrupt per completion (and a doorbell per
		      * submit); the doze protocol far fewer. A loaded machine (CI runs tests
		      * side by side) makes both sides doze more often: no tighter bound. */
			cr_assert_lt(irqs + bells, reqs / 2, "%s: the doze ring notified often: %s",
				     modes[m], q1);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* The shared timer page: a CPL3 task reads host time from it with no exit, in order with
 * the VMM's clock hypercall; a store to it is refused and the guest runs on. */
/* The rounds of run=clock: each page reading in order with the hypercall's host time
 * within @slack_ns; returns how many there were. */
static unsigned clock_rounds(const char *out, long long slack_ns)
{
	unsigned rounds = 0;
	for (const char *p = out; (p = strstr(p, "clock: page ")) != NULL; p++) {
		unsigned long long before, after;
		long long host;
		if (sscanf(p, "clock: page %llu ns, hypercall %lld ns, page after %llu ns", &before,
			   &host, &after) != 3)
			continue;
		cr_assert_leq((long long)before, host + slack_ns, "%s", p);
		cr_assert_geq((long long)after + slack_ns, host, "%s", p);
		rounds++;
	}
	return rounds;
}

Test(vmm, tasks_read_the_timer_page_and_cannot_write_it)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=clock:20 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	/* The page follows CLOCK_MONOTONIC within the library's bound (docs/timerpage.md:
	 * the tests hold TSC mode to 2 ms; tick mode lags by the tick, more when starved). */
	bool tsc = strstr(r.out, "clock: the page extrapolates with the TSC") != NULL;
	cr_assert(tsc || strstr(r.out, "clock: tick resolution only"), "%s", r.out);
	cr_assert_eq(clock_rounds(r.out, tsc ? 2000000 : 200000000), 20, "%s", r.out);
	assert_has(r.out, "tsc/read, page ");
	cr_assert_null(strstr(r.err, "timer page reads wrong"), "%s", r.err);

	/* Tick mode asked for: the guest says so, and its time still keeps order. */
	run(&r, "--kernel", env("VC_GUEST"), "--timerpage-mode", "tick", "--append",
	    "run=clock:5 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "clock: tick resolution only (1000000 ns)");
	cr_assert_eq(clock_rounds(r.out, 200000000), 5, "%s", r.out);

	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=clock:1 tpwrite quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "kernel: stored to the timer page: magic now 50544356");
	assert_has(r.err, "wrote to the read-only timer page at 0xfe200000; refused");
}

/* A vc-vmm this test talks to: its stdin and stdout are pipes the test holds. */
struct peer {
	pid_t pid;
	FILE *in, *out;
	FILE *err;
};

/* vc-vmm --kernel GUEST ARGS... with its stdin and stdout piped to the test. */
static void peer_start_argv(struct peer *p, const char *const *args)
{
	const char *argv[24] = {env("VC_VMM"), "--kernel", env("VC_GUEST")}; /* before the fork */
	for (int i = 0; args[i] && i < 20; i++)
		argv[3 + i] = args[i];
	int in[2], out[2];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	p->err = tmpfile();
	cr_assert(p->err);
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(fileno(p->err), 2);
		close(in[1]);
		close(out[0]);
		alarm(60);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = fdopen(in[1], "w");
	p->out = fdopen(out[0], "r");
	cr_assert(p->in && p->out);
}

static void peer_start(struct peer *p, const char *share, const char *program)
{
	const char *args[] = {"--timerpage-share", share, "--append", program, NULL};
	peer_start_argv(p, args);
}

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Asks the peer's guest for one timestamp: a line to its stdin, its "clockpeer:" answer. */
static void peer_ask(struct peer *p, uint64_t *ns, uint64_t *ticks, int *stale)
{
	cr_assert_eq(fputs("go\n", p->in) >= 0 && fflush(p->in) == 0, 1);
	char line[256];
	while (fgets(line, sizeof(line), p->out)) {
		unsigned long long v, t;
		if (sscanf(line, "clockpeer: page %llu ticks %llu stale %d", &v, &t, stale) == 3) {
			*ns = v;
			*ticks = t;
			return;
		}
		cr_assert_null(strstr(line, "clockpeer:"), "the guest said: %s", line);
	}
	char err[4096] = "";
	slurp(p->err, err, sizeof(err));
	cr_assert_fail("vc-vmm %d ended without answering: %s", p->pid, err);
}

/* Ends the peer (end of its input) and returns its status; its stderr into @err. */
static int peer_end(struct peer *p, char *err, size_t cap)
{
	fclose(p->in);
	int ws;
	cr_assert_eq(waitpid(p->pid, &ws, 0), p->pid);
	fclose(p->out);
	slurp(p->err, err, cap);
	fclose(p->err);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The seed: two VMs, one page. The first vc-vmm writes the page, the second maps the same
 * page read-only; the test paces their guests alternately and holds every timestamp to
 * the host's CLOCK_MONOTONIC read around it and to the other VM's last one. Then the
 * writer is killed: the reader's time never goes back and its page turns stale. The
 * reader's guest also tries to write the page (tpwrite): refused, the writer unaffected. */
Test(vmm, two_vms_share_one_timer_page, .timeout = 120)
{
	need_kvm();
	char dir[] = "/tmp/vc-tpshare-XXXXXX";
	cr_assert(mkdtemp(dir));
	char share[64];
	snprintf(share, sizeof(share), "%s/page", dir);

	struct peer writer, reader;
	peer_start(&writer, share, "run=clockpeer:100 quiet");
	/* The reader starts once the writer's page is there, so the roles are known. */
	uint64_t t0 = host_ns();
	uint32_t head[4] = {0}; /* magic, version, seq, flags */
	for (;;) {
		int fd = open(share, O_RDONLY);
		if (fd >= 0) {
			if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head))
				head[0] = 0;
			close(fd);
		}
		if (head[0] == 0x50544356u)
			break;
		cr_assert_lt(host_ns() - t0, 30000000000ull, "the writer published no page");
		usleep(1000);
	}
	peer_start(&reader, share, "run=clockpeer:100 tpwrite quiet");

	/* TSC mode follows the clock within the library's bound (tests hold it to 2 ms) and
	 * tells apart two readings microseconds apart; tick mode lags by a (starved) tick and
	 * may give two readings the same time. The page's flags say which mode it is in. */
	bool tsc = head[3] & 2;
	const uint64_t slack = tsc ? 2000000 : 200000000;
	uint64_t last_w = 0, last_r = 0, ns, ticks, last_ticks = 0;
	int stale;
	for (int i = 0; i < 20; i++) {
		struct peer *p = i % 2 ? &reader : &writer;
		uint64_t *last = i % 2 ? &last_r : &last_w;
		uint64_t before = host_ns();
		peer_ask(p, &ns, &ticks, &stale);
		uint64_t after = host_ns();
		cr_assert_eq(stale, 0, "round %d: a live page said stale", i);
		cr_assert(ns + slack >= before && ns <= after + slack,
			  "round %d: page %lu outside the host's %lu..%lu", i, ns, before, after);
		/* Causally after the other VM's timestamp, on the same page: strictly later. */
		cr_assert_geq(ns, (i % 2 ? last_w : last_r) + tsc, "round %d: not after the other VM", i);
		cr_assert_geq(ns, *last + tsc, "round %d: not monotonic", i);
		*last = ns;
		/* One tick counter: the two pages are one (separate pages count apart). */
		cr_assert_geq(ticks, last_ticks, "round %d: tick %lu after %lu", i, ticks, last_ticks);
		last_ticks = ticks;
	}

	kill(writer.pid, SIGKILL);
	char err[8192];
	cr_assert_eq(peer_end(&writer, err, sizeof(err)), 128 + SIGKILL);
	/* The first answer may still see the counter move since the last; the bound is
	 * 100 ms by the guest's TSC, so after 300 ms of silence the page is stale. */
	peer_ask(&reader, &ns, &ticks, &stale);
	cr_assert_geq(ns, last_r, "time went back when the writer died");
	last_r = ns;
	usleep(300000);
	peer_ask(&reader, &ns, &ticks, &stale);
	cr_assert_eq(stale, 1, "the reader did not see its page go stale");
	cr_assert_geq(ns, last_r, "time went back after the writer died");
	cr_assert_eq(peer_end(&reader, err, sizeof(err)), 0, "the reader's guest failed: %s", err);
	assert_has(err, "wrote to the read-only timer page at 0xfe200000; refused");
	unlink(share);
	rmdir(dir);
}

/* #23: four CPUs, the test interrupt sources, and the change sequence of the guest's `irq`
 * program (guest/programs/irq.c): every request seen exactly once, none on an offline CPU,
 * the shared sources' interrupts held while no CPU intercepts and delivered after. */
Test(vmm, interrupts_routed_by_the_policy_across_changes_on_four_cpus, .timeout = 120)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--cpus", "4", "--append", "run=irq@0 quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "irq: every request seen exactly once, on an online CPU");
	int phases = 0;
	for (const char *p = r.out; (p = strstr(p, "requests, each seen once")); p++)
		phases++;
	cr_assert_eq(phases, 7, "%s", r.out);
	assert_has(r.out, "cpu 2 offline ");
	unsigned long long changes, calls, written, irqfds, injected, held, later;
	const char *s = strstr(r.err, "control: stats: ");
	cr_assert(s, "%s", r.err);
	cr_assert_eq(sscanf(s, "control: stats: %llu route changes, %llu routing calls, %llu routes "
			       "written, %llu irqfd calls, %llu injected by the router, %llu held, "
			       "%llu delivered later", &changes, &calls, &written, &irqfds, &injected,
			    &held, &later), 7, "%s", s);
	cr_assert_gt(injected, 0, "no interrupt went through the router");
	cr_assert_eq(held, later, "held interrupts not all delivered: %s", s);
	cr_assert_gt(held, 0, "the shared sources were never held: %s", s);
	cr_assert_leq(calls, changes, "more routing calls than route changes: %s", s);
}

Test(vmm, tasks_run_on_every_cpu_and_where_pinned)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--cpus", "4", "--append",
	    "run=hello,hello,hello,hello@2,hello:x quiet", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	/* Unpinned tasks take the CPUs in turn; the pinned one does not count in the turn. */
	static const int want[] = {0, 1, 2, 2, 3};
	for (int i = 0; i < 5; i++) {
		char line[64];
		snprintf(line, sizeof(line), "hello: task %d running at CPL3 on CPU %d,", i, want[i]);
		assert_has(r.out, line);
	}
	run(&r, "--kernel", env("VC_GUEST"), "--cpus", "2", "--append", "run=hello@2 quiet", NULL);
	cr_assert_eq(r.status, 126, "%s%s", r.out, r.err);
	assert_has(r.out, "hello@2: not a CPU of this VM (0 to 1)");
}

static bool wait_for(FILE *f, const char *needle, char *buf, size_t cap)
{
	for (int i = 0; i < 1000; i++) {
		slurp(f, buf, cap);
		if (strstr(buf, needle))
			return true;
		usleep(10000);
	}
	return false;
}

/* --control: a FIFO vc-vmm makes and removes; commands re-route, bad lines are reported and
 * change nothing, the guest runs on. */
Test(vmm, control_fifo_changes_routes_at_run_time, .timeout = 120)
{
	need_kvm();
	char dir[] = "/tmp/vc-control-XXXXXX";
	cr_assert(mkdtemp(dir));
	char fifo[64];
	snprintf(fifo, sizeof(fifo), "%s/ctl", dir);
	struct peer p;
	const char *args[] = {"--cpus", "2", "--control", fifo, "--append", "run=clockpeer:100 quiet",
			      NULL};
	peer_start_argv(&p, args);
	uint64_t ns, ticks;
	int stale;
	peer_ask(&p, &ns, &ticks, &stale); /* the guest is up: its indicator is set up */
	int fd = open(fifo, O_WRONLY);
	cr_assert_geq(fd, 0, "%s: %s", fifo, strerror(errno));
	static const char cmds[] = "device add 3 dedicated\n"
				   "device add 4 shared\n"
				   "cpu 1 intercept on\n"
				   "# a comment\n"
				   "bogus line\n"
				   "cpu 7 intercept on\n"
				   "device add 3 shared\n"
				   "device remove 4\n"
				   "cpu 1 offline\n"
				   "stats\n";
	cr_assert_eq(write(fd, cmds, sizeof(cmds) - 1), (ssize_t)sizeof(cmds) - 1);
	close(fd);
	char err[8192];
	cr_assert(wait_for(p.err, "control: stats: ", err, sizeof(err)), "%s", err);
	assert_has(err, "control: \"bogus line\": not a command");
	assert_has(err, "control: \"cpu 7 intercept on\": No such device or address");
	assert_has(err, "control: \"device add 3 shared\": File exists");
	/* add 3 (1 route), add 4 (pending: no CPU intercepts yet), cpu 1 intercepts (4 gets it,
	 * and 3 leaves cpu 1 if it was there), remove 4, cpu 1 offline: at least 4 changes. */
	unsigned long long changes;
	const char *s = strstr(err, "control: stats: ");
	cr_assert_eq(sscanf(s, "control: stats: %llu route changes", &changes), 1);
	cr_assert_geq(changes, 4, "%s", s);
	peer_ask(&p, &ns, &ticks, &stale); /* still running */
	cr_assert_eq(peer_end(&p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(access(fifo, F_OK), -1, "vc-vmm left its FIFO behind");
	rmdir(dir);
}

Test(vmm, exits_with_the_chosen_status)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=exit:42 quiet", NULL);
	cr_assert_eq(r.status, 42, "%s%s", r.out, r.err);
	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=exit:0,hello quiet", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_null(strstr(r.out, "hello:"), "the VM ended before the second task");
}

Test(vmm, runs_with_more_vcpus_and_memory)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--cpus", "2", "--mem", "256M", "--append", "run=hello", NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	assert_has(r.out, "hello: task 0");
}

Test(vmm, reports_guest_failures)
{
	need_kvm();
	run(&r, "--kernel", env("VC_GUEST"), "--append", "crash=triple quiet", NULL);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	assert_has(r.err, "triple fault");
	assert_has(r.err, "rip=");

	/* int3 at CPL0: an emulation failure on kvm_pvm, a guest panic on hardware KVM. */
	run(&r, "--kernel", env("VC_GUEST"), "--append", "crash=int3 quiet", NULL);
	cr_assert_neq(r.status, 0);
	cr_assert(strstr(r.err, "instruction bytes: cc") || strstr(r.out, "PANIC: #BP"),
		  "stdout:\n%s\nstderr:\n%s", r.out, r.err);

	run(&r, "--kernel", env("VC_GUEST"), "--append", "run=nosuchprogram", NULL);
	cr_assert_eq(r.status, 126);
	assert_has(r.out, "unknown program 'nosuchprogram'");
}

Test(vmm, clear_errors_for_bad_input)
{
	run(&r, "--kernel", "/nonexistent/kernel.elf", NULL);
	cr_assert_eq(r.status, 1);
	assert_has(r.err, "vc-vmm: /nonexistent/kernel.elf: No such file or directory");

	const char *p = write_temp("#!/bin/sh\necho hi\n", 18);
	run(&r, "--kernel", p, NULL);
	unlink(p);
	cr_assert_eq(r.status, 1);
	assert_has(r.err, "not an ELF file");

	static uint8_t elf[65536];
	struct eb_opts o = {.nseg = 1, .no_note = 1};
	o.seg[0] = (struct eb_seg){0x100000, 0x100, 0x1000, -1, 0};
	p = write_temp(elf, eb_build(elf, sizeof(elf), &o));
	run(&r, "--kernel", p, NULL);
	unlink(p);
	cr_assert_eq(r.status, 1);
	assert_has(r.err, "no PVH entry note");

	o.no_note = 0;
	o.seg[0] = (struct eb_seg){0x100000, 0x100, 0x10000000, -1, 0}; /* 256 MiB of bss */
	p = write_temp(elf, eb_build(elf, sizeof(elf), &o));
	run(&r, "--kernel", p, "--mem", "64M", NULL);
	unlink(p);
	cr_assert_eq(r.status, 1);
	assert_has(r.err, "too little memory");

	run(&r, "--kernel", env("VC_GUEST"), "--mem", "1M", NULL);
	cr_assert_eq(r.status, 2);
	assert_has(r.err, "--mem 1M");

	char big[] = "/tmp/vc-bigmod-XXXXXX";
	int fd = mkstemp(big);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 << 20), 0); /* sparse 4 MiB */
	close(fd);
	run(&r, "--kernel", env("VC_GUEST"), "--mem", "3M", "--module", big, NULL);
	unlink(big);
	cr_assert_eq(r.status, 1, "%s", r.err);
	assert_has(r.err, "does not fit");

	/* --control wants a FIFO (or nothing there): a regular file is refused, untouched. */
	p = write_temp("keep", 4);
	run(&r, "--kernel", env("VC_GUEST"), "--control", p, NULL);
	cr_assert_eq(r.status, 1, "%s", r.err);
	assert_has(r.err, "not a FIFO");
	char kept[8] = "";
	fd = open(p, O_RDONLY);
	cr_assert_eq(read(fd, kept, sizeof(kept)), 4);
	close(fd);
	unlink(p);
	cr_assert_str_eq(kept, "keep");

	run(&r, NULL);
	cr_assert_eq(r.status, 2);
	assert_has(r.err, "--kernel ELF is required");
	run(&r, "--cpus", "0", "--kernel", env("VC_GUEST"), NULL);
	cr_assert_eq(r.status, 2);
	run(&r, "--help", NULL);
	cr_assert_eq(r.status, 0);
	assert_has(r.out, "Usage: vc-vmm --kernel ELF");
}

// SPDX-License-Identifier: MIT
// vc-vmm against its peers, one run, side by side:
//  1. boot: process start to the guest's first console line and to its exit,
//     vc-vmm vs. QEMU (-M microvm and -M pc, -accel kvm) booting the same ELF;
//  2. exit round trip from guest CPL0: vc-vmm's hypercall port vs. a bare KVM_RUN
//     loop in this process (KVM's own cost) vs. QEMU handling the same port write;
//  3. from a CPL3 task: every path the guest runtime has, in vc-vmm and QEMU;
//  4. register prefetch (`vc-vmm --regs`): the guest-virtual console hypercall (the VMM
//     reads the vCPU's control registers) and a null-port exit (it reads nothing), with
//     a KVM_GET_SREGS per call, with KVM_CAP_SYNC_REGS on every exit, and learned;
//  5. the block device (`--pack`): a CPL3 task reads 64 MiB of a packed disk in 4 KiB
//     and 64 KiB requests at queue depths 1, 16 and 64 over its own queue with the doze
//     protocol (ioeventfd doorbell, irqfd interrupt, each only for a dozing side), the
//     same queue notifying always, and one synchronous hypercall per request;
//  6. the timer page: time read from a CPL3 task through the page (no exit) vs the
//     VCG_HC_CLOCK hypercall vs the guest's raw rdtsc, and the page's accuracy against the
//     host's CLOCK_MONOTONIC sampled at hypercalls for 10 s with every host CPU loaded.
//  7. interrupt routing (#23, `--cpus 4 run=irq@0:bench`): the latency from a device's
//     event (host TSC) to the guest's handler, straight to the vCPU by irqfd vs through
//     the VMM's router thread (KVM_SIGNAL_MSI); one vCPU of 4 going offline under 64
//     devices, the policy's diff applied vs every route and irqfd rewritten; the guest's
//     indicator scan with 1 of 4096 requesters pending vs a linear scan (at CPL3).
//  8. a rewritten module (#24, the driver-like kmods/bench.c: pushf; pop; cli; work;
//     push; popf; rdtsc; a null-port write; rdmsr of EFER per iteration): at CPL0
//     unrewritten (kmod0=, every instruction emulated here), at CPL3 rewritten with
//     every site a trap the guest kernel emulates, at CPL3 with the sites promoted to
//     stubs; time and traps per iteration, and whether the three agree on the result.
// VC_BENCH_VMM=boot,trips,prefetch,blk,timer,irq,rewrite picks sections (default: all).
// Paths come from VC_VMM and VC_GUEST (meson sets them). QEMU rows are skipped,
// saying so, when qemu-system-x86_64 is not installed.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <virtcore/pack.h>
#include <virtcore/timerpage.h>

#include "harness.h"

static const char *vmm, *guest;
static double ns_per_tsc;
static int have_qemu;

#define MAX_RUNS 32
#define OUT_MAX 65536

/* One child run: its stdout and stderr, and when its first line and its exit happened. */
struct run {
	char out[OUT_MAX];
	char err[8192];
	size_t len;
	double first_line_ns, exit_ns;
	int status;
};

static int spawn(const char *const argv[], struct run *r)
{
	int p[2];
	if (pipe(p) < 0)
		return -errno;
	int errfd = memfd_create("stderr", MFD_CLOEXEC);
	if (errfd < 0)
		return -errno;
	uint64_t t0 = vcb_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(p[1], 1);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(errfd, 2);
		close(p[0]);
		alarm(120);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	r->len = 0;
	r->first_line_ns = -1;
	for (;;) {
		ssize_t n = read(p[0], r->out + r->len, OUT_MAX - 1 - r->len);
		if (n <= 0)
			break;
		if (r->first_line_ns < 0 && memchr(r->out + r->len, '\n', (size_t)n))
			r->first_line_ns = (double)(vcb_now_ns() - t0);
		r->len += (size_t)n;
		if (r->len == OUT_MAX - 1)
			break;
	}
	r->out[r->len] = 0;
	close(p[0]);
	int ws;
	waitpid(pid, &ws, 0);
	r->exit_ns = (double)(vcb_now_ns() - t0);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	ssize_t n = pread(errfd, r->err, sizeof(r->err) - 1, 0);
	r->err[n > 0 ? n : 0] = '\0';
	close(errfd);
	return 0;
}

enum peer { PEER_VCVMM, PEER_QEMU_MICROVM, PEER_QEMU_PC };
static const char *const peer_names[] = {"vc-vmm", "qemu -M microvm -accel kvm", "qemu -M pc -accel kvm"};

static int boot(enum peer peer, const char *append, struct run *r)
{
	if (peer == PEER_VCVMM) {
		const char *argv[] = {vmm, "--kernel", guest, "--mem", "64M", "--append", append, NULL};
		return spawn(argv, r);
	}
	const char *argv[] = {"qemu-system-x86_64", "-M",
			peer == PEER_QEMU_PC ? "pc" : "microvm,x-option-roms=off,rtc=off",
			"-accel", "kvm", "-m", "64M", "-nodefaults", "-no-user-config", "-nographic",
			"-serial", "stdio", "-device", "isa-debug-exit,iobase=0x501,iosize=1",
			"-kernel", guest, "-append", append, NULL};
	return spawn(argv, r);
}

/* "prefix N tsc/call" in the output, as nanoseconds; -1 if absent. */
static double parse_tsc(const char *out, const char *prefix)
{
	const char *p = strstr(out, prefix);
	if (!p)
		return -1;
	return strtod(p + strlen(prefix), NULL) * ns_per_tsc;
}

static void bench_boot(void)
{
	unsigned runs = vcb_cfg.quick ? 1 : 10;
	struct vcb_table *first = vcb_table_new("vmm", "boot: process start to the guest's first console line (ns/boot)",
						peer_names[PEER_QEMU_MICROVM]);
	struct vcb_table *done = vcb_table_new("vmm", "boot: process start to exit, 6 CPL3 tasks run (ns/boot)",
					       peer_names[PEER_QEMU_MICROVM]);
	for (int peer = 0; peer < 3; peer++) {
		if (peer != PEER_VCVMM && (!have_qemu || (vcb_cfg.quick && peer == PEER_QEMU_PC)))
			continue; /* -M pc boots through SeaBIOS: seconds, not for a smoke run */
		double a[MAX_RUNS], b[MAX_RUNS];
		unsigned n = 0;
		for (unsigned i = 0; i < runs; i++) {
			static struct run r;
			if (boot((enum peer)peer, "", &r) || r.first_line_ns < 0) {
				fprintf(stderr, "bench_vmm: %s did not boot the guest\n", peer_names[peer]);
				continue;
			}
			if (!strstr(r.out, "all 6 tasks exited, status 0"))
				fprintf(stderr, "bench_vmm: %s: the guest did not finish:\n%s\n", peer_names[peer], r.out);
			a[n] = r.first_line_ns;
			b[n++] = r.exit_ns;
		}
		struct vcb_stats s;
		vcb_stats_compute(a, n, &s);
		vcb_add(first, peer_names[peer], &s);
		vcb_stats_compute(b, n, &s);
		vcb_add(done, peer_names[peer], &s);
	}
	vcb_table_finish(first, stdout);
	vcb_table_finish(done, stdout);
}

/* ---- a bare KVM_RUN loop: the least any VMM can pay per port exit ---- */

static double bare_kvm_ns(int mmio, unsigned iters)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -1;
	int vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
	size_t mem_size = 1 << 20;
	uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* 32-bit code at 0x1000: mov edx, 0x510; xor eax, eax; 1: out dx, eax (or mov [0xfe000000], eax); jmp 1b */
	static const uint8_t pio[] = {0xba, 0x10, 0x05, 0, 0, 0x31, 0xc0, 0xef, 0xeb, 0xfd};
	static const uint8_t mm[] = {0xba, 0x10, 0x05, 0, 0, 0x31, 0xc0, 0xa3, 0, 0, 0, 0xfe, 0xeb, 0xf9};
	memcpy(mem + 0x1000, mmio ? mm : pio, mmio ? sizeof(mm) : sizeof(pio));
	struct kvm_userspace_memory_region region = {.memory_size = mem_size,
						     .userspace_addr = (uint64_t)(uintptr_t)mem};
	ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region);
	ioctl(vmfd, KVM_CREATE_IRQCHIP, 0);
	int cpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	struct kvm_sregs sregs;
	ioctl(cpu, KVM_GET_SREGS, &sregs);
	struct kvm_segment code = {.limit = 0xffffffff, .selector = 8, .type = 0xb, .present = 1,
				   .db = 1, .s = 1, .g = 1};
	struct kvm_segment data = code;
	data.type = 3;
	data.selector = 16;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.ss = sregs.fs = sregs.gs = data;
	sregs.cr0 = 0x11;
	ioctl(cpu, KVM_SET_SREGS, &sregs);
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
	ioctl(cpu, KVM_SET_REGS, &regs);

	double ns = -1;
	uint64_t t0 = 0;
	for (unsigned i = 0; i < iters + 50; i++) {
		if (i == 50)
			t0 = vcb_now_ns(); /* after a warm-up */
		if (ioctl(cpu, KVM_RUN, 0) < 0 ||
		    run->exit_reason != (mmio ? KVM_EXIT_MMIO : KVM_EXIT_IO)) {
			fprintf(stderr, "bench_vmm: bare loop: unexpected exit %u\n", run->exit_reason);
			goto out;
		}
	}
	ns = (double)(vcb_now_ns() - t0) / iters;
out:
	munmap(run, (size_t)run_size);
	munmap(mem, mem_size);
	close(cpu);
	close(vmfd);
	close(kvm);
	return ns;
}

struct path {
	const char *label, *prefix;
};

static void table_from_runs(struct vcb_table *t, const char *peer, const struct path *paths, size_t npaths,
			    struct run *runs, unsigned nruns)
{
	for (size_t k = 0; k < npaths; k++) {
		double v[MAX_RUNS];
		unsigned n = 0;
		for (unsigned i = 0; i < nruns; i++) {
			double ns = parse_tsc(runs[i].out, paths[k].prefix);
			if (ns >= 0)
				v[n++] = ns;
		}
		if (!n)
			continue;
		char name[160];
		snprintf(name, sizeof(name), "%s: %s", peer, paths[k].label);
		struct vcb_stats s;
		vcb_stats_compute(v, n, &s);
		vcb_add(t, name, &s);
	}
}

static void bench_round_trips(void)
{
	unsigned runs = vcb_cfg.quick ? 1 : 5, iters = vcb_cfg.quick ? 50 : 2000;
	char append[128];
	snprintf(append, sizeof(append), "quiet kbench=%u run=hcall:%u", iters, iters);

	static struct run vc[MAX_RUNS], qemu[MAX_RUNS];
	unsigned nq = 0;
	for (unsigned i = 0; i < runs; i++) {
		if (boot(PEER_VCVMM, append, &vc[i]) || vc[i].status != 0)
			fprintf(stderr, "bench_vmm: vc-vmm round-trip run failed (status %d):\n%s\n", vc[i].status,
				vc[i].out);
		if (have_qemu && boot(PEER_QEMU_MICROVM, append, &qemu[nq]) == 0)
			nq++;
	}

	struct vcb_table *t = vcb_table_new("vmm", "exit round trip from guest CPL0 (ns/round trip)",
					    "bare KVM_RUN loop: out (KVM's own cost)");
	struct vcb_stats s;
	double v[MAX_RUNS];
	for (int mmio = 0; mmio < 2; mmio++) {
		unsigned n = 0;
		for (unsigned i = 0; i < runs; i++) {
			double ns = bare_kvm_ns(mmio, iters);
			if (ns > 0)
				v[n++] = ns;
		}
		vcb_stats_compute(v, n, &s);
		vcb_add(t, mmio ? "bare KVM_RUN loop: MMIO store" : "bare KVM_RUN loop: out (KVM's own cost)", &s);
	}
	static const struct path cpl0[] = {
		{"out 0 to the hypercall port (no-op)", "kbench: port-nop "},
		{"hypercall through a block (C helper, emulated)", "kbench: port-hcall-block "},
	};
	table_from_runs(t, "vc-vmm", cpl0, 2, vc, runs);
	table_from_runs(t, "qemu microvm", cpl0, 1, qemu, nq);
	vcb_table_finish(t, stdout);

	static const struct path cpl3[] = {
		{"MMIO doorbell store from CPL3", "hcall: mmio-doorbell "},
		{"MMIO doorbell + hypercall block", "hcall: mmio-hcall-block "},
		{"syscall -> guest kernel -> out", "hcall: syscall+hypercall "},
		{"int $0x80 -> guest kernel -> out", "hcall: int80+hypercall "},
		{"syscall -> guest kernel, no exit", "hcall: syscall-only "},
	};
	t = vcb_table_new("vmm", "round trip from a CPL3 task (ns/round trip)",
			  "vc-vmm: MMIO doorbell store from CPL3");
	table_from_runs(t, "vc-vmm", cpl3, 5, vc, runs);
	table_from_runs(t, "qemu microvm", cpl3, 1, qemu, nq);
	vcb_table_finish(t, stdout);
}

/* ---- 4. register prefetch ---- */

static const char *const regs_modes[] = {"ioctl", "sync", "learned"};

/* "vc-vmm: regs: MODE: E exits, I register ioctls" in stderr: I, or -1. */
static double register_ioctls(const char *err)
{
	const char *p = strstr(err, "vc-vmm: regs: ");
	unsigned long long exits, ioctls;
	p = p ? strchr(p + 14, ':') : NULL;
	if (!p || sscanf(p, ": %llu exits, %llu register ioctls", &exits, &ioctls) != 2 || !exits)
		return -1;
	return (double)ioctls;
}

static void bench_prefetch(void)
{
	unsigned runs = vcb_cfg.quick ? 1 : 11, iters = vcb_cfg.quick ? 50 : 5000;
	char append[64];
	snprintf(append, sizeof(append), "quiet run=regs:%u", iters);
	static struct run r[3][MAX_RUNS];
	/* Round-robin over the modes, so drift on the host hits each alike. */
	for (unsigned i = 0; i < runs; i++) {
		for (int m = 0; m < 3; m++) {
			const char *argv[] = {vmm, "--kernel", guest, "--mem", "64M", "--regs",
					      regs_modes[m], "--regs-stats", "--append", append, NULL};
			if (spawn(argv, &r[m][i]) || r[m][i].status != 0)
				fprintf(stderr, "bench_vmm: --regs %s run failed (status %d):\n%s%s\n",
					regs_modes[m], r[m][i].status, r[m][i].out, r[m][i].err);
		}
	}
	static const struct path paths[] = {
		{"console hypercall from CPL3 (reads SREGS)", "regs: console-virt "},
		{"null-port exit (reads nothing)", "regs: null-port "},
	};
	for (int k = 0; k < 2; k++) {
		char title[160], base[64];
		snprintf(title, sizeof(title), "register prefetch: %s (ns/exit)", paths[k].label);
		snprintf(base, sizeof(base), "--regs ioctl");
		struct vcb_table *t = vcb_table_new("vmm", title, base);
		for (int m = 0; m < 3; m++) {
			double v[MAX_RUNS], io[MAX_RUNS];
			unsigned n = 0, nio = 0;
			for (unsigned i = 0; i < runs; i++) {
				double ns = parse_tsc(r[m][i].out, paths[k].prefix);
				double q = register_ioctls(r[m][i].err);
				if (ns >= 0)
					v[n++] = ns;
				if (q >= 0)
					io[nio++] = q;
			}
			if (!n)
				continue;
			char name[32];
			snprintf(name, sizeof(name), "--regs %s", regs_modes[m]);
			struct vcb_stats s;
			vcb_stats_compute(v, n, &s);
			vcb_add(t, name, &s);
			if (nio) {
				vcb_stats_compute(io, nio, &s);
				vcb_note(t, name, "register ioctls/boot", s.median);
			}
		}
		vcb_table_finish(t, stdout);
	}
}

/* ---- 5. the block device ---- */

#define BLK_MIB 64

/* A packed disk holding one image of BLK_MIB MiB of pseudo-random bytes, in @dir. */
static int make_blk_disk(char dir[], char disk[], size_t len)
{
	if (!mkdtemp(dir))
		return -errno;
	char img[256];
	snprintf(img, sizeof(img), "%s/data", dir);
	snprintf(disk, len, "%s/disk.img", dir);
	FILE *f = fopen(img, "w");
	if (!f)
		return -errno;
	static uint64_t buf[1 << 17];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int m = 0; m < BLK_MIB; m++) {
		for (size_t i = 0; i < sizeof(buf) / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = x;
		}
		fwrite(buf, 1, 1 << 20, f);
	}
	if (fclose(f))
		return -EIO;
	vc_pack_writer *w;
	int rc = vc_pack_writer_open(&w, disk, NULL);
	if (!rc)
		rc = vc_pack_writer_add_path(w, "data", img);
	if (!rc)
		rc = vc_pack_writer_commit(w);
	vc_pack_writer_close(w);
	unlink(img);
	return rc;
}

/* The numbers one run prints. */
struct blk_run {
	double requests, tsc, doorbells, waits, interrupts, exits;
};

static int parse_blk(const struct run *r, struct blk_run *b)
{
	const char *g = strstr(r->out, "blkbench: "), *v = strstr(r->err, "block queue 1: ");
	const char *e = strstr(r->err, "vc-vmm: regs: ");
	unsigned long long req, bytes, tsc, bells, waits, vreq, vbytes, batches, wakes, irqs, quiet,
		exits;
	e = e ? strchr(e + 14, ':') : NULL;
	if (!g || !v || !e || r->status != 0 ||
	    sscanf(strchr(g, ':') + 1, "%*s %*s %*s %llu requests, %llu bytes, %llu tsc, %llu doorbells, "
		   "%llu waits", &req, &bytes, &tsc, &bells, &waits) != 5 ||
	    sscanf(v, "block queue 1: %llu requests, %llu bytes, %llu batches, %llu doorbell "
		   "wake-ups, %llu interrupts (%llu suppressed)", &vreq, &vbytes, &batches, &wakes,
		   &irqs, &quiet) != 6 ||
	    sscanf(e, ": %llu exits", &exits) != 1)
		return -1;
	*b = (struct blk_run){(double)req, (double)tsc, (double)bells, (double)waits,
			      (double)irqs, (double)exits};
	return 0;
}

static void bench_blk(void)
{
	if (!vc_has_module("pack")) {
		printf("bench_vmm: blk: skipped: built without the pack module\n");
		return;
	}
	char dir[] = "/tmp/vc-bench-blk-XXXXXX", disk[256];
	int rc = make_blk_disk(dir, disk, sizeof(disk));
	if (rc) {
		fprintf(stderr, "bench_vmm: blk: cannot make the disk: %s\n", strerror(-rc));
		return;
	}
	static const char *const modes[] = {"ring", "always", "hcall"};
	static const char *const labels[] = {"doze ring", "always-notify ring", "hypercall per request"};
	static const unsigned sizes[] = {4096, 65536}, depths[] = {1, 16, 64};
	unsigned runs = vcb_cfg.quick ? 1 : 3, mib = vcb_cfg.quick ? 8 : BLK_MIB;
	/* The exits of a boot that sets its queue up and reads nothing: subtracted, so the
	 * rows count the exits the reads cost. */
	static struct run empty;
	struct blk_run none;
	const char *argv0[] = {vmm, "--kernel", guest, "--mem", "192M", "--pack", disk,
			       "--blk-stats", "--regs-stats", "--append",
			       "quiet run=blkbench:ring/4096/1/0", NULL};
	if (spawn(argv0, &empty) || parse_blk(&empty, &none)) {
		fprintf(stderr, "bench_vmm: blk: the empty run failed:\n%s%s\n", empty.out, empty.err);
		return;
	}
	for (int s = 0; s < 2; s++) {
		for (int d = 0; d < 3; d++) {
			static struct run r[3][MAX_RUNS];
			for (unsigned i = 0; i < runs; i++) {
				for (int m = 0; m < 3; m++) {
					char append[96];
					snprintf(append, sizeof(append), "quiet run=blkbench:%s/%u/%u/%u",
						 modes[m], sizes[s], m == 2 ? 1 : depths[d], mib);
					const char *argv[] = {vmm, "--kernel", guest, "--mem", "192M",
							      "--pack", disk, "--blk-stats", "--regs-stats",
							      "--append", append, NULL};
					if (spawn(argv, &r[m][i]) || r[m][i].status != 0)
						fprintf(stderr, "bench_vmm: blk %s failed (status %d):\n%s%s\n",
							append, r[m][i].status, r[m][i].out, r[m][i].err);
				}
			}
			char title[160];
			snprintf(title, sizeof(title), "block device: a CPL3 task reads %u MiB in %u KiB "
				 "requests, depth %u (ns/request)", mib, sizes[s] / 1024, depths[d]);
			struct vcb_table *t = vcb_table_new("vmm", title, labels[2]);
			for (int m = 0; m < 3; m++) {
				double ns[MAX_RUNS];
				struct blk_run b[MAX_RUNS];
				unsigned n = 0;
				for (unsigned i = 0; i < runs; i++)
					if (parse_blk(&r[m][i], &b[n]) == 0 && b[n].requests > 0) {
						b[n].exits -= none.exits;
						ns[n] = b[n].tsc * ns_per_tsc / b[n].requests;
						n++;
					}
				if (!n)
					continue;
				struct vcb_stats st;
				vcb_stats_compute(ns, n, &st);
				vcb_add(t, labels[m], &st);
				/* The median run's counts (they barely vary). */
				const struct blk_run *mid = &b[n / 2];
				vcb_note(t, labels[m], "MB/s", sizes[s] / st.median * 1e3);
				vcb_note(t, labels[m], "(exits+bells)/req",
					 (mid->exits + mid->doorbells) / mid->requests);
				vcb_note(t, labels[m], "irqs/completion", mid->interrupts / mid->requests);
				vcb_note(t, labels[m], "waits/req", mid->waits / mid->requests);
			}
			vcb_table_finish(t, stdout);
		}
	}
	unlink(disk);
	rmdir(dir);
}

/* ---- 6. the timer page ---- */

static unsigned long long after_text(const char *out, const char *prefix)
{
	const char *p = strstr(out, prefix);
	return p ? strtoull(p + strlen(prefix), NULL, 10) : 0;
}

/* Busy processes, one per online CPU, until stop_load(): the host is loaded. */
static int start_load(pid_t *pids, int max)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int k = 0;
	for (; k < n && k < max; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			alarm(300);
			for (volatile unsigned long x = 0;; x++)
				;
		}
		if (pids[k] < 0)
			break;
	}
	return k;
}

static void stop_load(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
}

static void bench_timer(void)
{
	unsigned runs = vcb_cfg.quick ? 1 : 5;
	static struct run r[MAX_RUNS];
	unsigned ok = 0;
	for (unsigned i = 0; i < runs; i++) {
		const char *argv[] = {vmm, "--kernel", guest, "--append", "quiet run=clock:1", NULL};
		if (spawn(argv, &r[ok]) == 0 && r[ok].status == 0 && strstr(r[ok].out, "tsc/read"))
			ok++;
		else
			fprintf(stderr, "bench_vmm: timer run failed:\n%s%s\n", r[ok].out, r[ok].err);
	}
	static const struct path paths[] = {
		{"raw rdtsc in the guest", "clock: rdtsc "},
		{"timer page (clock_ns, no exit)", "tsc/read, page "},
		{"VCG_HC_CLOCK hypercall (one exit)", "tsc/read, hypercall "},
	};
	struct vcb_table *t = vcb_table_new("vmm", "time read from a CPL3 task (ns/read, median "
					    "of 64 interleaved batches per run)",
					    "vc-vmm: raw rdtsc in the guest");
	table_from_runs(t, "vc-vmm", paths, 3, r, ok);
	vcb_table_finish(t, stdout);

	/* Accuracy under load: a vCPU thread preempted mid-bracket only widens the bracket;
	 * the page (TSC mode) does not depend on when the tick thread runs. */
	unsigned seconds = vcb_cfg.quick ? 2 : 10;
	char append[64];
	snprintf(append, sizeof(append), "quiet run=clock:0/%u", seconds);
	pid_t load[64];
	int nload = start_load(load, 64);
	static struct run acc;
	const char *argv[] = {vmm, "--kernel", guest, "--append", append, NULL};
	int rc = spawn(argv, &acc);
	stop_load(load, nload);
	if (rc || acc.status != 0 || !strstr(acc.out, "clock: accuracy over ")) {
		fprintf(stderr, "bench_vmm: timer accuracy run failed:\n%s%s\n", acc.out, acc.err);
		return;
	}
	printf("\n### vmm: timer page accuracy against CLOCK_MONOTONIC, %u s, %d busy host "
	       "processes\n\n", seconds, nload);
	printf("| samples (one hypercall each) | host outside the page's bracket, worst | "
	       "median \\|bracket middle - host\\| | widest bracket |\n|---|---|---|---|\n");
	printf("| %llu | %llu ns | %llu ns | %llu ns |\n", after_text(acc.out, "accuracy over "),
	       after_text(acc.out, "bracket by at most "),
	       after_text(acc.out, "median |bracket middle - host| "),
	       after_text(acc.out, "widest bracket "));
}

static double median_of(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

enum { IRQ_DIRECT, IRQ_ROUTED, IRQ_DIFF_ROUTES, IRQ_DIFF_IRQFD, IRQ_DIFF_NS, IRQ_FULL_ROUTES,
       IRQ_FULL_IRQFD, IRQ_FULL_NS, IRQ_SCAN, IRQ_LINEAR, IRQ_FIGURES };

static int parse_irq(const char *out, double *f)
{
	const char *a = strstr(out, "irq-bench: latency fire to guest handler: ");
	const char *b = strstr(out, "vc-vmm: irq-bench: cpu 1 offline: ");
	const char *c = strstr(out, "irq-bench: scan 1 of 4096 pending: ");
	unsigned long v[8], calls, s[4];
	if (!a || !b || !c ||
	    sscanf(a, "irq-bench: latency fire to guest handler: direct (irqfd) %lu ns, through the "
		      "VMM (KVM_SIGNAL_MSI) %lu ns", &v[0], &v[1]) != 2 ||
	    sscanf(b, "vc-vmm: irq-bench: cpu 1 offline: diff %lu routes, %lu routing call(s), %lu "
		      "irqfd calls, %lu ns; full rewrite %lu routes, %lu irqfd calls, %lu ns",
		   &v[2], &calls, &v[3], &v[4], &v[5], &v[6], &v[7]) != 7 ||
	    sscanf(c, "irq-bench: scan 1 of 4096 pending: indicator %lu.%lu ns, linear %lu.%lu ns",
		   &s[0], &s[1], &s[2], &s[3]) != 4)
		return -1;
	f[IRQ_DIRECT] = (double)v[0], f[IRQ_ROUTED] = (double)v[1];
	f[IRQ_DIFF_ROUTES] = (double)v[2], f[IRQ_DIFF_IRQFD] = (double)v[3];
	f[IRQ_DIFF_NS] = (double)v[4], f[IRQ_FULL_ROUTES] = (double)v[5];
	f[IRQ_FULL_IRQFD] = (double)v[6], f[IRQ_FULL_NS] = (double)v[7];
	f[IRQ_SCAN] = (double)s[0] + (double)s[1] / 100;
	f[IRQ_LINEAR] = (double)s[2] + (double)s[3] / 100;
	return 0;
}

static void bench_irq(void)
{
	unsigned runs = vcb_cfg.quick ? 1 : 5, ok = 0;
	static double f[IRQ_FIGURES][MAX_RUNS];
	static struct run r;
	for (unsigned i = 0; i < runs; i++) {
		const char *argv[] = {vmm, "--kernel", guest, "--cpus", "4", "--append",
				      "quiet run=irq@0:bench", NULL};
		double one[IRQ_FIGURES];
		if (spawn(argv, &r) == 0 && r.status == 0 && parse_irq(r.out, one) == 0) {
			for (unsigned k = 0; k < IRQ_FIGURES; k++)
				f[k][ok] = one[k];
			ok++;
		} else {
			fprintf(stderr, "bench_vmm: irq run failed:\n%s%s\n", r.out, r.err);
		}
	}
	if (!ok)
		return;
	double m[IRQ_FIGURES];
	for (unsigned k = 0; k < IRQ_FIGURES; k++)
		m[k] = median_of(f[k], ok);
	printf("\n### vmm: interrupt routing, --cpus 4 (median of %u runs)\n\n", ok);
	printf("| what | with the module | baseline | ratio |\n|---|---|---|---|\n");
	printf("| latency, device event to guest handler (41 interrupts a run, median) | direct "
	       "(irqfd, no VMM) %.1f us | through the VMM (router thread, KVM_SIGNAL_MSI) %.1f us | "
	       "%.2fx |\n", m[IRQ_DIRECT] / 1e3, m[IRQ_ROUTED] / 1e3, m[IRQ_ROUTED] / m[IRQ_DIRECT]);
	printf("| one vCPU of 4 offline, 64 devices: routes written | diff: %.0f | full rewrite: "
	       "%.0f | %.1fx |\n", m[IRQ_DIFF_ROUTES], m[IRQ_FULL_ROUTES],
	       m[IRQ_FULL_ROUTES] / (m[IRQ_DIFF_ROUTES] ? m[IRQ_DIFF_ROUTES] : 1));
	printf("| same: irqfd calls | %.0f | %.0f | |\n", m[IRQ_DIFF_IRQFD], m[IRQ_FULL_IRQFD]);
	printf("| same: time on real KVM | %.1f us | %.1f us | %.1fx |\n", m[IRQ_DIFF_NS] / 1e3,
	       m[IRQ_FULL_NS] / 1e3, m[IRQ_FULL_NS] / m[IRQ_DIFF_NS]);
	printf("| guest scan, 1 of 4096 pending (CPL3) | indicator %.2f ns | linear %.2f ns | "
	       "%.1fx |\n", m[IRQ_SCAN], m[IRQ_LINEAR], m[IRQ_LINEAR] / m[IRQ_SCAN]);
}

/* One module run: tsc per iteration, traps per iteration (x100) and the result. */
static int kmod_run(const char *module, const char *append, const char *prefix, double *tsc,
		    double *traps, long long *result)
{
	static struct run r;
	const char *argv[] = {vmm, "--kernel", guest, "--module", module, "--append", append, NULL};
	const char *p;
	unsigned long iters, per, t100 = 0, whole = 0;
	if (spawn(argv, &r) || r.status != 0 || !(p = strstr(r.out, prefix))) {
		fprintf(stderr, "bench_vmm: module run (%s) failed:\n%s%s\n", append, r.out, r.err);
		return -1;
	}
	const char *fig = strstr(p + strlen(prefix), ": "); /* "N iterations at CPLx[, how]: FIGURES" */
	int n = fig && sscanf(p + strlen(prefix), "%lu", &iters) == 1
			? sscanf(fig + 2, "%lu tsc/iteration, %lu.%lu", &per, &whole, &t100) : 0;
	const char *res = strstr(p, ", result ");
	if (n < 1 || !res) {
		fprintf(stderr, "bench_vmm: cannot read the module's figures:\n%s\n", r.out);
		return -1;
	}
	*tsc = (double)per;
	*traps = n == 3 ? (double)whole + (double)t100 / 100 : 0;
	*result = atoll(res + 9);
	return 0;
}

static void bench_rewrite(void)
{
	const char *plain = getenv("VC_KMOD_BENCH"), *patched = getenv("VC_KMOD_BENCH_PATCHED");
	if (!plain || !patched) {
		printf("bench_vmm: rewrite rows skipped: built without the rewriter\n");
		return;
	}
	const unsigned runs = vcb_cfg.quick ? 1 : 5;
	const unsigned fast_iters = vcb_cfg.quick ? 200 : 20000, trap_iters = vcb_cfg.quick ? 10 : 100;
	char a_fast[96], a_trap[96], b[96], c[96];
	snprintf(a_fast, sizeof(a_fast), "quiet kmod0=0:bench=%u run=exit", fast_iters);
	snprintf(a_trap, sizeof(a_trap), "quiet kmod0=0:bench=%u run=exit", trap_iters);
	snprintf(b, sizeof(b), "quiet run=kmod:0:promote=0:bench=%u", trap_iters);
	snprintf(c, sizeof(c), "quiet run=kmod:0:bench=%u", fast_iters);
	static double ta[MAX_RUNS], tb[MAX_RUNS], tc[MAX_RUNS], trb[MAX_RUNS], trc[MAX_RUNS];
	unsigned ok = 0;
	int agree = 1;
	for (unsigned i = 0; i < runs; i++) {
		double x, tr;
		long long ra, ra2, rb, rc;
		if (kmod_run(plain, a_fast, "kmod0: ", &ta[ok], &x, &ra) ||
		    kmod_run(plain, a_trap, "kmod0: ", &x, &tr, &ra2) ||
		    kmod_run(patched, b, "kmod: bench: ", &tb[ok], &trb[ok], &rb) ||
		    kmod_run(patched, c, "kmod: bench: ", &tc[ok], &trc[ok], &rc))
			continue;
		agree &= ra == rc && ra2 == rb;
		ok++;
	}
	if (!ok)
		return;
	double a = median_of(ta, ok), bb = median_of(tb, ok), cc = median_of(tc, ok);
	double nb = median_of(trb, ok), nc = median_of(trc, ok);
	printf("\n### vmm: a rewritten module, kmods/bench.c (median of %u runs; %u iterations, %u "
	       "when every site traps)\n\n", ok, fast_iters, trap_iters);
	printf("| how the module runs | per iteration | traps per iteration | vs (a) |\n|---|---|---|---|\n");
	printf("| (a) CPL0, unrewritten (baseline: emulated here) | %.2f us | 0 | 1x |\n",
	       a * ns_per_tsc / 1e3);
	printf("| (b) CPL3, rewritten, every site a trap the guest kernel emulates | %.2f us | %.2f | "
	       "%.3fx |\n", bb * ns_per_tsc / 1e3, nb, a / bb);
	printf("| (c) CPL3, rewritten, hot sites promoted to stubs | %.3f us | %.2f | **%.1fx** |\n",
	       cc * ns_per_tsc / 1e3, nc, a / cc);
	printf("\nresults of (a), (b) and (c) agree: %s\n", agree ? "yes" : "NO");
}

int main(int argc, char **argv)
{
	vcb_init(argc, argv);
	vmm = getenv("VC_VMM");
	guest = getenv("VC_GUEST");
	if (!vmm || !guest) {
		fprintf(stderr, "bench_vmm: set VC_VMM and VC_GUEST (meson test --benchmark does)\n");
		return 1;
	}
	char why[128];
	if (!vcb_kvm_usable(why, sizeof(why))) {
		printf("bench_vmm: skipped: %s\n", why);
		return VCB_SKIP;
	}
	uint64_t hz;
	uint32_t source;
	if (vc_timerpage_calibrate_tsc(&hz, &source) || !hz) {
		fprintf(stderr, "bench_vmm: cannot calibrate the TSC\n");
		return 1;
	}
	ns_per_tsc = 1e9 / (double)hz;
	have_qemu = system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
	if (!have_qemu)
		printf("bench_vmm: qemu-system-x86_64 not installed: QEMU rows skipped (scripts/setup installs it)\n");
	signal(SIGPIPE, SIG_IGN);
	const char *only = getenv("VC_BENCH_VMM");
	if (!only || strstr(only, "boot"))
		bench_boot();
	if (!only || strstr(only, "trips"))
		bench_round_trips();
	if (!only || strstr(only, "prefetch"))
		bench_prefetch();
	if (!only || strstr(only, "blk"))
		bench_blk();
	if (!only || strstr(only, "timer"))
		bench_timer();
	if (!only || strstr(only, "irq"))
		bench_irq();
	if (!only || strstr(only, "rewrite"))
		bench_rewrite();
	return 0;
}

// SPDX-License-Identifier: MIT
// vc-vmm: boots a PVH kernel on /dev/kvm. Command line:
//   vc-vmm --kernel ELF [--module FILE]... [--append "CMDLINE"] [--mem 64M] [--cpus N]
//          [--dry-run [--json]]
// Every input is checked and the guest laid out in its RAM before /dev/kvm is opened.
// The boot runs the parts table (parts.c) phase by phase: prepare, load, init.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/abi.h"
#include "vmm.h"

#define DEFAULT_MEM (64ull << 20)
#define MIN_MEM (2ull << 20)
#define MAX_MEM (1ull << 40)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vc-vmm --kernel ELF [--module FILE]... [--pack DISK] [--trust LIST\n"
		"              [--trust-key PUB]] [--append \"CMDLINE\"] [--mem 64M] [--cpus N]\n"
		"              [--spt-stats] [--regs ioctl|sync|learned] [--regs-stats]\n"
		"              [--blk-stats] [--timerpage-share PATH]\n"
		"              [--timerpage-mode auto|tsc|tick] [--control PATH]\n"
		"              [--dry-run [--json]]\n"
		"Boot a PVH kernel (an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note) on /dev/kvm.\n\n"
		"  --kernel ELF      the kernel to boot (required)\n"
		"  --module FILE     a boot module, passed in the PVH start info (repeatable, up to %d)\n"
		"  --pack DISK       every image of a packed disk (vc-pack) as a boot module named\n"
		"                    after it, after --module ones; the disk is verified first.\n"
		"                    The guest also reads the disk through the block device\n"
		"                    (rings in guest RAM, KVM ioeventfd doorbells, irqfd interrupts)\n"
		"  --trust LIST      a reference-value list (vc-measure) whose stages are the boot\n"
		"                    modules, in order; copied to guest address 0x30000\n"
		"  --trust-key PUB   the public key LIST must be signed by; then every module is\n"
		"                    verified before the VM starts\n"
		"  --append CMDLINE  the kernel command line\n"
		"  --mem SIZE        guest RAM, 2M to 1T, with an optional K, M, G or T suffix\n"
		"                    (default 64M; reserved, not allocated: pages are used as\n"
		"                    the guest touches them)\n"
		"  --cpus N          number of vCPUs, 1 to %d (default 1)\n"
		"  --spt-stats       at exit, print the shadow page-table cache's counters (the\n"
		"                    guest's console writes are read at guest-virtual addresses\n"
		"                    through it) on stderr\n"
		"  --regs POLICY     how exit handlers get the vCPU's registers: ioctl (one\n"
		"                    KVM_GET_* per read), sync (KVM delivers every set with\n"
		"                    every exit) or learned (default: the sets each kind of exit\n"
		"                    needed, learned by libvirtcore's prefetch table)\n"
		"  --regs-stats      at exit, print exits, register ioctls and prefetch counters\n"
		"  --blk-stats       at exit, print each block queue's requests, bytes, batches,\n"
		"                    doorbell wake-ups and interrupts (sent and suppressed)\n"
		"  --timerpage-share PATH\n"
		"                    the guest's timer page is the one in file PATH, shared with\n"
		"                    other vc-vmm processes: the first to open PATH writes the\n"
		"                    time into it, the others map it read-only (their guests\n"
		"                    read the writer's page). PATH must be absent, empty or a\n"
		"                    timer page; a killed writer's page is taken over by the next\n"
		"                    vc-vmm to open it\n"
		"  --timerpage-mode auto|tsc|tick\n"
		"                    whether guests extrapolate the page's time with the TSC:\n"
		"                    auto (default) decides from the host's evidence (invariant\n"
		"                    TSC, clocksource, a measurement), tsc forces it, tick gives\n"
		"                    guests tick resolution; the page's writer decides\n"
		"  --control PATH    run-time changes, one command per line, read from the FIFO\n"
		"                    PATH (made if absent, removed at exit): `cpu N intercept\n"
		"                    on|off`, `cpu N offline|online`, `device add ID\n"
		"                    dedicated|shared`, `device remove ID`, `stats`\n"
		"                    (ref-vmm/README.md, Control)\n"
		"  --dry-run         check every input and lay the guest out in memory, then\n"
		"                    print the boot plan (guest-physical layout, start info,\n"
		"                    modules with their SHA-256, command line, trust list) and\n"
		"                    exit 0 without creating a VM: works without /dev/kvm\n"
		"  --json            with --dry-run: the plan as one JSON document\n"
		"  --help            show this help\n\n"
		"The guest console is COM1 (and the hypercall console) on stdout. vc-vmm exits\n"
		"with the status the guest writes to the exit port (0x501), or 1 on a guest\n"
		"failure (triple fault, emulation failure, unhandled exit), reported on stderr.\n",
		VMM_MAX_MODULES, VMM_MAX_CPUS);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || v > (MAX_MEM >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'}, {"module", required_argument, NULL, 'm'},
		{"append", required_argument, NULL, 'a'}, {"mem", required_argument, NULL, 'M'},
		{"cpus", required_argument, NULL, 'c'},   {"help", no_argument, NULL, 'h'},
		{"pack", required_argument, NULL, 'p'},
		{"trust", required_argument, NULL, 't'},
		{"trust-key", required_argument, NULL, 'K'},
		{"spt-stats", no_argument, NULL, 'S'},
		{"regs", required_argument, NULL, 'R'},
		{"regs-stats", no_argument, NULL, 'r'},
		{"blk-stats", no_argument, NULL, 'B'},
		{"timerpage-share", required_argument, NULL, 'T'},
		{"timerpage-mode", required_argument, NULL, 'X'},
		{"control", required_argument, NULL, 'C'},
		{"dry-run", no_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'J'},
		{NULL, 0, NULL, 0},
	};
	static struct vmm_config cfg = {.cmdline = "", .mem = DEFAULT_MEM, .ncpus = 1};
	const char *module_paths[VMM_MAX_MODULES];
	unsigned nmods = 0;
	int dry_run = 0, json = 0;
	int opt;

	/* A reader that goes away (`vc-vmm ... | head -1`) must not kill the VM: writes to a
	 * closed stdout fail with EPIPE instead, and the console drops the guest's output. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			cfg.kernel_path = optarg;
			break;
		case 'm':
			if (nmods == VMM_MAX_MODULES) {
				vmm_err("at most %d --module options", VMM_MAX_MODULES);
				return 2;
			}
			module_paths[nmods++] = optarg;
			break;
		case 'a':
			cfg.cmdline = optarg;
			break;
		case 'p':
			cfg.pack_path = optarg;
			break;
		case 't':
			cfg.trust_path = optarg;
			break;
		case 'K':
			cfg.trust_key = optarg;
			break;
		case 'S':
			cfg.spt_stats = true;
			break;
		case 'R':
			if (strcmp(optarg, "ioctl") && strcmp(optarg, "sync") && strcmp(optarg, "learned")) {
				vmm_err("--regs %s: expected ioctl, sync or learned", optarg);
				return 2;
			}
			cfg.prefetch = optarg;
			break;
		case 'r':
			cfg.prefetch_stats = true;
			break;
		case 'B':
			cfg.blk_stats = true;
			break;
		case 'T':
			if (!*optarg) {
				vmm_err("--timerpage-share: expected a file path");
				return 2;
			}
			cfg.timerpage_share = optarg;
			break;
		case 'X':
			if (strcmp(optarg, "auto") && strcmp(optarg, "tsc") && strcmp(optarg, "tick")) {
				vmm_err("--timerpage-mode %s: expected auto, tsc or tick", optarg);
				return 2;
			}
			cfg.timerpage_mode = optarg;
			break;
		case 'C':
			if (!*optarg) {
				vmm_err("--control: expected a FIFO path");
				return 2;
			}
			cfg.control_path = optarg;
			break;
		case 'D':
			dry_run = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'M':
			if (parse_size(optarg, &cfg.mem) || cfg.mem < MIN_MEM) {
				vmm_err("--mem %s: expected a size from 2M to 1T, like 64M or 1G", optarg);
				return 2;
			}
			break;
		case 'c': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > VMM_MAX_CPUS) {
				vmm_err("--cpus %s: expected 1 to %d", optarg, VMM_MAX_CPUS);
				return 2;
			}
			cfg.ncpus = (unsigned)n;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		vmm_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!cfg.kernel_path) {
		vmm_err("--kernel ELF is required");
		usage(stderr);
		return 2;
	}
	if (json && !dry_run) {
		vmm_err("--json goes with --dry-run (the plan is what it formats)");
		return 2;
	}
	if (strlen(cfg.cmdline) >= VC_PVH_CMDLINE_MAX) {
		vmm_err("--append: command line longer than %d bytes", VC_PVH_CMDLINE_MAX - 1);
		return 2;
	}
	/* The guest learns where its devices are from its command line: the block device
	 * when there is a disk to serve, the timer page always. */
	static char cmdline[VC_PVH_CMDLINE_MAX];
	char blk[40] = "";
	if (cfg.pack_path)
		snprintf(blk, sizeof(blk), " %s%#x", VCG_BLK_CMDLINE_KEY, VCG_MMIO_BLK);
	int n = snprintf(cmdline, sizeof(cmdline), "%s%s %s%#x", cfg.cmdline, blk,
			 VCG_TIMERPAGE_CMDLINE_KEY, VCG_TIMERPAGE_GPA);
	if (n < 0 || (size_t)n >= sizeof(cmdline)) {
		vmm_err("--append: command line longer than %zu bytes with the devices' "
			"announcements (%s, %s) added", sizeof(cmdline) - 1, VCG_BLK_CMDLINE_KEY,
			VCG_TIMERPAGE_CMDLINE_KEY);
		return 2;
	}
	cfg.cmdline = *cmdline == ' ' ? cmdline + 1 : cmdline;
	if (cfg.trust_key && !cfg.trust_path) {
		vmm_err("--trust-key needs --trust LIST");
		return 2;
	}

	static struct vm vm;
	int status = 1;
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;

	/* Files first: a typo should not cost a VM. Each is copied into memory of ours
	 * before anything parses or verifies it (input.c). */
	static struct vmm_input kernel, mods[VMM_MAX_MODULES];
	for (unsigned i = 0; i < VMM_MAX_MODULES; i++)
		mods[i].fd = -1;
	kernel.fd = -1;
	if (vmm_input_read(&kernel, NULL, cfg.kernel_path, cfg.mem, "guest RAM (--mem)"))
		goto out;
	for (unsigned i = 0; i < nmods; i++) {
		if (vmm_input_read(&mods[i], NULL, module_paths[i], cfg.mem,
				   "guest RAM (--mem)"))
			goto out;
		vm.mods[vm.nmods++] = (struct vc_pvh_module){base_name(module_paths[i]),
							     mods[i].data, mods[i].size};
	}
	if (vm_parts_create(&vm) || vm_parts_prepare(&vm))
		goto out;

	struct vc_pvh_image img;
	uint64_t low_end = cfg.mem < (3ull << 30) ? cfg.mem : (3ull << 30);
	int rc = vc_pvh_parse(&img, kernel.data, kernel.size, UINT64_MAX);
	if (rc) {
		vmm_err("%s: %s", cfg.kernel_path, vmm_lib_detail(rc, "pvh: "));
		goto out;
	}
	if (img.end > low_end) {
		vmm_err("--mem %lluK is too little memory: %s needs RAM up to %#llx",
			(unsigned long long)(cfg.mem >> 10), cfg.kernel_path,
			(unsigned long long)img.end);
		goto out;
	}

	/* Guest RAM and everything in it before KVM: a module that does not fit is an
	 * input error on every machine, and --dry-run shows exactly what a boot would use. */
	if (vm_memory_create(&vm, cfg.mem))
		goto out;
	if ((rc = vc_pvh_load(vm.gmem, &img, kernel.data))) {
		vmm_err("%s: %s", cfg.kernel_path, vmm_lib_detail(rc, "pvh: "));
		goto out;
	}
	if (vm_parts_load(&vm))
		goto out;
	struct vc_pvh_ram ram = {low_end, cfg.mem - low_end};
	uint64_t si;
	rc = vc_pvh_setup(&si, vm.gmem, &ram, &img, cfg.cmdline, vm.mods, vm.nmods);
	if (rc) {
		vmm_err("%s", vmm_lib_detail(rc, "pvh: "));
		goto out;
	}
	if (dry_run) {
		struct plan plan = {&vm, &img, si};
		status = plan_print(stdout, json, &plan) ? 1 : 0;
		goto out;
	}

	if (vm_create(&vm, cfg.ncpus))
		goto out;
	rc = x86_setup_pvh_regs(&vm.cpus[0], img.entry, (uint32_t)si);
	if (rc) {
		vmm_err("cannot set the boot vCPU's registers: %s", strerror(-rc));
		goto out;
	}
	console_init();
	if (vm_parts_init(&vm))
		goto out;
	status = vm_run(&vm);
out:
	console_flush();
	console_restore();
	vm_parts_destroy(&vm);
	vm_destroy(&vm);
	for (unsigned i = 0; i < nmods; i++)
		vmm_input_release(&mods[i]);
	vmm_input_release(&kernel);
	return status;
}

// SPDX-License-Identifier: MIT
// vc-vmm: boots a PVH kernel on /dev/kvm. Command line:
//   vc-vmm --kernel ELF [--module FILE]... [--append "CMDLINE"] [--mem 64M] [--cpus N]
//          [--dry-run [--json]]
// Every input is checked and the guest laid out in its RAM before /dev/kvm is opened.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/pvh.h"
#include "vmm.h"

#define DEFAULT_MEM (64ull << 20)
#define MIN_MEM (2ull << 20)
#define MAX_MEM (1ull << 40)

void vmm_err(const char *fmt, ...)
{
	va_list ap;
	fputs("vc-vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *vmm_lib_detail(int rc, const char *prefix)
{
	const char *msg = vc_error_last();
	size_t n = strlen(prefix);
	if (strncmp(msg, prefix, n) == 0)
		msg += n;
	return msg[0] ? msg : vc_strerror(rc);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vc-vmm --kernel ELF [--module FILE]... [--pack DISK] [--trust LIST\n"
		"              [--trust-key PUB]] [--append \"CMDLINE\"] [--mem 64M] [--cpus N]\n"
		"              [--spt-stats] [--dry-run [--json]]\n"
		"Boot a PVH kernel (an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note) on /dev/kvm.\n\n"
		"  --kernel ELF      the kernel to boot (required)\n"
		"  --module FILE     a boot module, passed in the PVH start info (repeatable, up to %d)\n"
		"  --pack DISK       every image of a packed disk (vc-pack) as a boot module named\n"
		"                    after it, after --module ones; the disk is verified first\n"
		"  --trust LIST      a reference-value list (vc-measure) whose stages are the boot\n"
		"                    modules, in order; copied to guest address 0x30000\n"
		"  --trust-key PUB   the public key LIST must be signed by; then every module is\n"
		"                    verified before the VM starts\n"
		"  --append CMDLINE  the kernel command line\n"
		"  --mem SIZE        guest RAM, with an optional K, M or G suffix (default 64M)\n"
		"  --cpus N          number of vCPUs, 1 to %d (default 1)\n"
		"  --spt-stats       at exit, print the shadow page-table cache's counters (the\n"
		"                    guest's console writes are read at guest-virtual addresses\n"
		"                    through it) on stderr\n"
		"  --dry-run         check every input and lay the guest out in memory, then\n"
		"                    print the boot plan (guest-physical layout, start info,\n"
		"                    modules with their SHA-256, command line, trust list) and\n"
		"                    exit 0 without creating a VM: works without /dev/kvm\n"
		"  --json            with --dry-run: the plan as one JSON document\n"
		"  --help            show this help\n\n"
		"The guest console is COM1 (and the hypercall console) on stdout. vc-vmm exits\n"
		"with the status the guest writes to the exit port (0x501), or 1 on a guest\n"
		"failure (triple fault, emulation failure, unhandled exit), reported on stderr.\n",
		PVH_MAX_MODULES, VMM_MAX_CPUS);
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

struct mapped_file {
	const char *path;
	const uint8_t *data;
	size_t size;
};

static int map_file(const char *path, struct mapped_file *f)
{
	f->path = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vmm_err("%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vmm_err("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	f->size = (size_t)st.st_size;
	f->data = (const uint8_t *)"";
	if (f->size) {
		void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			vmm_err("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		f->data = p;
	}
	close(fd);
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
		{"dry-run", no_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'J'},
		{NULL, 0, NULL, 0},
	};
	const char *kernel_path = NULL, *cmdline = "", *pack_path = NULL;
	const char *trust_path = NULL, *trust_key = NULL;
	const char *module_paths[PVH_MAX_MODULES];
	unsigned nmods = 0, ncpus = 1;
	int spt_stats = 0, dry_run = 0, json = 0;
	uint64_t mem = DEFAULT_MEM;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			kernel_path = optarg;
			break;
		case 'm':
			if (nmods == PVH_MAX_MODULES) {
				vmm_err("at most %d --module options", PVH_MAX_MODULES);
				return 2;
			}
			module_paths[nmods++] = optarg;
			break;
		case 'a':
			cmdline = optarg;
			break;
		case 'p':
			pack_path = optarg;
			break;
		case 't':
			trust_path = optarg;
			break;
		case 'K':
			trust_key = optarg;
			break;
		case 'S':
			spt_stats = 1;
			break;
		case 'D':
			dry_run = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'M':
			if (parse_size(optarg, &mem) || mem < MIN_MEM) {
				vmm_err("--mem %s: expected a size of at least 2M, like 64M or 1G", optarg);
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
			ncpus = (unsigned)n;
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
	if (!kernel_path) {
		vmm_err("--kernel ELF is required");
		usage(stderr);
		return 2;
	}
	if (json && !dry_run) {
		vmm_err("--json goes with --dry-run (the plan is what it formats)");
		return 2;
	}
	if (strlen(cmdline) >= PVH_CMDLINE_MAX) {
		vmm_err("--append: command line longer than %d bytes", PVH_CMDLINE_MAX - 1);
		return 2;
	}

	/* Files first: a typo should not cost a VM. */
	struct mapped_file kernel, mods[PVH_MAX_MODULES];
	if (map_file(kernel_path, &kernel))
		return 1;
	for (unsigned i = 0; i < nmods; i++)
		if (map_file(module_paths[i], &mods[i]))
			return 1;

	struct pvh_module pm[PVH_MAX_MODULES];
	for (unsigned i = 0; i < nmods; i++)
		pm[i] = (struct pvh_module){base_name(mods[i].path), mods[i].data, mods[i].size};
	if (pack_path) {
#ifdef VMM_HAVE_PACK
		if (pack_load_modules(pack_path, pm, PVH_MAX_MODULES, &nmods))
			return 1;
#else
		vmm_err("--pack: this vc-vmm was built without the pack module (uuid-dev, libssl-dev)");
		return 2;
#endif
	}

	if (trust_key && !trust_path) {
		vmm_err("--trust-key needs --trust LIST");
		return 2;
	}
	if (trust_path) {
#ifdef VMM_HAVE_TRUST
		if (trust_check_modules(trust_path, trust_key, pm, nmods))
			return 1;
#else
		vmm_err("--trust: this vc-vmm was built without the trust module (libssl-dev)");
		return 2;
#endif
	}

	char err[256];
	struct pvh_image img;
	uint64_t low_end = mem < (3ull << 30) ? mem : (3ull << 30);
	if (pvh_parse(kernel.data, kernel.size, UINT64_MAX, &img, err, sizeof(err))) {
		vmm_err("%s: %s", kernel_path, err);
		return 1;
	}
	if (img.end > low_end) {
		vmm_err("--mem %lluK is too little memory: %s needs RAM up to %#llx",
			(unsigned long long)(mem >> 10), kernel_path, (unsigned long long)img.end);
		return 1;
	}

	/* Guest RAM and everything in it before KVM: a module that does not fit is an
	 * input error on every machine, and --dry-run shows exactly what a boot would use. */
	static struct vm vm;
	int status = 1;
	if (vm_memory_create(&vm, mem))
		goto out;
	if (pvh_load(&img, kernel.data, vm.gmem)) {
		vmm_err("%s: cannot load its segments", kernel_path);
		goto out;
	}
	long trust_size = 0;
#ifdef VMM_HAVE_TRUST
	trust_size = trust_place_list(vm.gmem);
	if (trust_size < 0)
		goto out;
#endif
	struct pvh_ram ram = {low_end, mem - low_end};
	int64_t si = pvh_setup(vm.gmem, &ram, &img, cmdline, pm, nmods, err, sizeof(err));
	if (si < 0) {
		vmm_err("%s", err);
		goto out;
	}
	if (dry_run) {
		struct plan plan = {vm.gmem, kernel_path, &img, pm, mem, ncpus, (uint64_t)si,
				    trust_size};
		status = plan_print(stdout, json, &plan) ? 1 : 0;
		goto out;
	}

	if (vm_create(&vm, ncpus) || vm_virt_init(&vm))
		goto out;
	int rc = x86_setup_pvh_regs(&vm.cpus[0], img.entry, (uint32_t)si);
	if (rc) {
		vmm_err("cannot set the boot vCPU's registers: %s", strerror(-rc));
		goto out;
	}
	console_init();
	exit_dev_init(&vm);
	null_dev_init(&vm);
	hcall_dev_init(&vm);
	if (serial_init(&vm))
		goto out;
	status = vm_run(&vm);
	if (spt_stats)
		vm_virt_report(&vm);
out:
	console_flush();
	console_restore();
	vm_destroy(&vm);
	return status;
}

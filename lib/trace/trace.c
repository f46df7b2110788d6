// SPDX-License-Identifier: MIT
// vc_trace_*: loads vc_trace.bpf.c (through its generated skeleton), attaches it, and
// reads the per-CPU maps into sorted snapshots.
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <virtcore/trace.h>

#include "trace-shared.h"
#include "util/log.h"
#include "util/opts.h"
#include "vc_trace.skel.h"

static const char *const probe_names[] = {
	"ring_notify", "ring_suppressed", "ring_doze", "ring_wake",
	"trust_stage_verified", "trust_stage_refused",
};
#define NPROBES (sizeof(probe_names) / sizeof(probe_names[0]))
_Static_assert(NPROBES <= VC__TRACE_MAX_PROBES, "probe table");

struct vc_trace {
	struct vc_trace_bpf *skel;
	int ncpus;
	struct bpf_link *probe_links[NPROBES];
};

/* The libvirtcore.so this process runs with: the probes live in it (in the core, which
 * loaded this module's library, when that is how trace runs; else in the program). */
static int library_path(char *out, size_t len)
{
	Dl_info info;
	void *core = dlsym(RTLD_DEFAULT, "vc_ring_push");
	if (!dladdr(core ? core : (void *)vc_trace_open, &info) || !info.dli_fname)
		return -ENOENT;
	if (!realpath(info.dli_fname, out) || strlen(out) >= len)
		return -ENOENT;
	return 0;
}

/* Attaches on_probe to each USDT probe; a probe that is missing is left unattached. */
static void attach_probes(vc_trace *t, int pid)
{
	char lib[PATH_MAX];

	if (library_path(lib, sizeof(lib)) != 0 || !strstr(lib, ".so")) {
		vc__debug("trace: libvirtcore is linked statically here: no USDT probes to attach");
		return;
	}
	for (unsigned i = 0; i < NPROBES; i++) {
		LIBBPF_OPTS(bpf_usdt_opts, o, .usdt_cookie = i);
		t->probe_links[i] = bpf_program__attach_usdt(t->skel->progs.on_probe,
							     pid ? pid : -1, lib, "virtcore",
							     probe_names[i], &o);
		if (!t->probe_links[i])
			vc__debug("trace: probe %s not attached in %s", probe_names[i], lib);
	}
}

/* libbpf's diagnostics go to our log callback, never to stderr. */
static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (level == LIBBPF_WARN)
		vc__debug("trace: libbpf: %s", line);
	return 0;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool tracepoint_exists(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "/sys/kernel/tracing/events/kvm/%s", name);
	if (exists(p))
		return true;
	snprintf(p, sizeof(p), "/sys/kernel/debug/tracing/events/kvm/%s", name);
	return exists(p);
}

/* A VMM holds a KVM VM file descriptor ("anon_inode:kvm-vm"). */
static int check_vmm(int pid)
{
	char dir[64], link[PATH_MAX], target[64];
	struct dirent *d;

	if (kill(pid, 0) != 0 && errno == ESRCH) {
		vc__err("trace: no process %d", pid);
		return -ESRCH;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	DIR *fds = opendir(dir);
	if (!fds) {
		int rc = -errno;
		vc__err("trace: cannot read %s: %s", dir, vc_strerror(rc));
		return rc;
	}
	bool vm = false;
	while (!vm && (d = readdir(fds))) {
		snprintf(link, sizeof(link), "%s/%s", dir, d->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			vm = strcmp(target, "anon_inode:kvm-vm") == 0;
		}
	}
	closedir(fds);
	if (!vm) {
		vc__err("trace: process %d is not a VMM (it has no KVM VM open)", pid);
		return -EINVAL;
	}
	return 0;
}

VC_API int vc_trace_open(vc_trace **out, const struct vc_trace_opts *opts)
{
	struct vc_trace_opts o;
	int rc;

	if (!out)
		return -EINVAL;
	if ((rc = VC__OPTS_COPY(o, opts, vc_trace_opts, pid)))
		return rc;
	if (o.pid < 0)
		return -EINVAL;
	libbpf_set_print(libbpf_to_log);
	if (!exists("/sys/kernel/btf/vmlinux")) {
		vc__err("trace: this kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE cannot "
			"relocate the BPF programs");
		return -EOPNOTSUPP;
	}
	if (!tracepoint_exists("kvm_userspace_exit") || !tracepoint_exists("kvm_pio") ||
	    !tracepoint_exists("kvm_fpu")) {
		vc__err("trace: no kvm tracepoints (is KVM in this kernel, tracefs mounted?)");
		return -ENOENT;
	}
	if (o.pid && (rc = check_vmm(o.pid)) != 0)
		return rc;

	vc_trace *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncpus = libbpf_num_possible_cpus();
	t->skel = vc_trace_bpf__open();
	if (!t->skel || t->ncpus <= 0) {
		rc = -errno ? -errno : -ENOMEM;
		vc__err("trace: cannot open the BPF object: %s", vc_strerror(rc));
		free(t);
		return rc;
	}
	t->skel->rodata->target_tgid = (__u32)o.pid;
	/* VT-x/SVM exits: attached where the kernel has the tracepoints. */
	if (!tracepoint_exists("kvm_exit") || !tracepoint_exists("kvm_entry")) {
		bpf_program__set_autoload(t->skel->progs.on_kernel_exit, false);
		bpf_program__set_autoload(t->skel->progs.on_kernel_entry, false);
	}
	if (!tracepoint_exists("kvm_mmio"))
		bpf_program__set_autoload(t->skel->progs.on_mmio, false);
	/* on_probe is attached by hand, once per USDT probe */
	bpf_program__set_autoattach(t->skel->progs.on_probe, false);
	rc = vc_trace_bpf__load(t->skel);
	if (!rc)
		rc = vc_trace_bpf__attach(t->skel);
	if (!rc)
		attach_probes(t, o.pid);
	if (rc) {
		rc = rc < 0 ? rc : -EIO;
		if (rc == -EPERM || rc == -EACCES)
			vc__err("trace: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)");
		else
			vc__err("trace: cannot load or attach the BPF programs: %s", vc_strerror(rc));
		vc_trace_bpf__destroy(t->skel);
		free(t);
		return rc == -EACCES ? -EPERM : rc;
	}
	*out = t;
	return 0;
}

VC_API void vc_trace_close(vc_trace *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < NPROBES; i++)
		bpf_link__destroy(t->probe_links[i]);
	vc_trace_bpf__destroy(t->skel);
	free(t);
}

static int by_count(const void *a, const void *b)
{
	const struct vc_trace_row *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

VC_API int vc_trace_snapshot(vc_trace *t, struct vc_trace_row *rows, unsigned max)
{
	if (!t || (max && !rows))
		return -EINVAL;
	int fd = bpf_map__fd(t->skel->maps.stats);
	struct vc__trace_val *vals = calloc((size_t)t->ncpus, sizeof(*vals));
	struct vc_trace_row *all = calloc(VC__TRACE_MAX_KEYS, sizeof(*all));
	struct vc__trace_key key, next;
	unsigned n = 0;
	int rc = 0;

	if (!vals || !all) {
		rc = -ENOMEM;
		goto out;
	}
	void *prev = NULL;
	while (n < VC__TRACE_MAX_KEYS && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals) != 0)
			continue; /* deleted meanwhile: cannot happen, maps only grow */
		struct vc_trace_row *r = &all[n++];
		r->source = (enum vc_trace_source)key.source;
		r->reason = key.reason;
		r->addr = key.addr;
		r->write = !!(key.flags & VC__TRACE_F_WRITE);
		for (int c = 0; c < t->ncpus; c++) {
			r->count += vals[c].count;
			r->timed += vals[c].timed;
			r->total_ns += vals[c].total_ns;
			for (int b = 0; b < VC_TRACE_BUCKETS; b++)
				r->hist[b] += vals[c].hist[b];
		}
	}
	qsort(all, n, sizeof(*all), by_count);
	if (rows)
		memcpy(rows, all, (n < max ? n : max) * sizeof(*rows));
	rc = (int)n;
out:
	free(vals);
	free(all);
	return rc;
}

VC_API int vc_trace_probes(vc_trace *t, struct vc_trace_probe *probes, unsigned max)
{
	if (!t || (max && !probes))
		return -EINVAL;
	int fd = bpf_map__fd(t->skel->maps.probe_counts);
	uint64_t *vals = calloc((size_t)t->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (unsigned i = 0; i < NPROBES && i < max; i++) {
		__u32 key = i;
		probes[i].name = probe_names[i];
		probes[i].attached = t->probe_links[i] != NULL;
		probes[i].count = 0;
		if (bpf_map_lookup_elem(fd, &key, vals) == 0)
			for (int c = 0; c < t->ncpus; c++)
				probes[i].count += vals[c];
	}
	free(vals);
	return (int)NPROBES;
}

VC_API const char *vc_trace_reason_name(uint32_t reason)
{
	/* KVM_EXIT_* from <linux/kvm.h> */
	static const char *const names[] = {
		"UNKNOWN", "EXCEPTION", "IO", "HYPERCALL", "DEBUG", "HLT", "MMIO",
		"IRQ_WINDOW_OPEN", "SHUTDOWN", "FAIL_ENTRY", "INTR", "SET_TPR", "TPR_ACCESS",
		"S390_SIEIC", "S390_RESET", "DCR", "NMI", "INTERNAL_ERROR", "OSI", "PAPR_HCALL",
		"S390_UCONTROL", "WATCHDOG", "S390_TSCH", "EPR", "SYSTEM_EVENT", "S390_STSI",
		"IOAPIC_EOI", "HYPERV", "ARM_NISV", "X86_RDMSR", "X86_WRMSR", "DIRTY_RING_FULL",
		"AP_RESET_HOLD", "X86_BUS_LOCK", "XEN", "RISCV_SBI", "RISCV_CSR", "NOTIFY",
		"LOONGARCH_IOCSR", "MEMORY_FAULT",
	};
	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

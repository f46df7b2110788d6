// SPDX-License-Identifier: MIT
// The rewrite module's handle: open (read, check, scan), the sites, lookup by address.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/log.h"
#include "rewrite-internal.h"

static const char *const class_names[VC_REWRITE_CLASS_COUNT] = {
	[VC_REWRITE_INTERRUPT_FLAG] = "interrupt-flag",
	[VC_REWRITE_FLAGS] = "flags",
	[VC_REWRITE_HALT] = "halt",
	[VC_REWRITE_IO] = "io",
	[VC_REWRITE_MSR] = "msr",
	[VC_REWRITE_CONTROL_REG] = "control-register",
	[VC_REWRITE_DEBUG_REG] = "debug-register",
	[VC_REWRITE_DESCRIPTOR_TABLE] = "descriptor-table",
	[VC_REWRITE_MACHINE_STATUS] = "machine-status",
	[VC_REWRITE_TLB] = "tlb",
	[VC_REWRITE_CACHE] = "cache",
	[VC_REWRITE_CPUID] = "cpuid",
	[VC_REWRITE_TIMESTAMP] = "timestamp",
	[VC_REWRITE_PERF_COUNTER] = "perf-counter",
	[VC_REWRITE_SWAPGS] = "swapgs",
	[VC_REWRITE_SYSTEM_RETURN] = "system-return",
	[VC_REWRITE_XCR] = "xcr",
	[VC_REWRITE_SEGMENT_CHECK] = "segment-check",
	[VC_REWRITE_SEGMENT_REG] = "segment-register",
};

VC_API const char *vc_rewrite_class_name(enum vc_rewrite_class cls)
{
	if ((unsigned)cls >= VC_REWRITE_CLASS_COUNT || !class_names[cls])
		return "unknown";
	return class_names[cls];
}

/* Reads, checks and scans @m->data; frees @m on an error. */
static int open_module(struct vc_rewrite *m, vc_rewrite **out)
{
	int rc = vc__rewrite_load(m);
	if (!rc)
		rc = vc__rewrite_scan(m);
	if (!rc)
		rc = vc__rewrite_mark(m);
	if (rc) {
		vc_rewrite_destroy(m);
		return rc;
	}
	*out = m;
	return 0;
}

VC_API int vc_rewrite_load(vc_rewrite **out, const void *data, size_t size)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!data && size)
		return -EINVAL;
	struct vc_rewrite *m = calloc(1, sizeof(*m));
	if (!m || !(m->data = malloc(size ? size : 1))) {
		free(m);
		return -ENOMEM;
	}
	if (size)
		memcpy(m->data, data, size);
	m->size = size;
	return open_module(m, out);
}

VC_API int vc_rewrite_load_path(vc_rewrite **out, const char *path)
{
	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int e = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR :
		!S_ISREG(st.st_mode) ? -EINVAL : 0;
	if (e) {
		close(fd);
		return e;
	}
	if (st.st_size == 0) {
		close(fd);
		return vc_rewrite_load(out, "", 0);
	}
	/* A private, writable mapping: no copy, and libelf may write (copy-on-write)
	 * without touching the file. */
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	struct vc_rewrite *m = calloc(1, sizeof(*m));
	if (!m) {
		munmap(map, (size_t)st.st_size);
		return -ENOMEM;
	}
	m->data = map;
	m->size = (size_t)st.st_size;
	m->mapped = 1;
	return open_module(m, out);
}

VC_API void vc_rewrite_destroy(vc_rewrite *m)
{
	if (!m)
		return;
	vc__rewrite_unload(m);
	free(m->sites);
	if (m->mapped)
		munmap(m->data, m->size);
	else
		free(m->data);
	free(m);
}

VC_API size_t vc_rewrite_count(const vc_rewrite *m)
{
	return m ? m->nsites : 0;
}

VC_API int vc_rewrite_get(struct vc_rewrite_site *out, const vc_rewrite *m, size_t i)
{
	if (!m || !out)
		return -EINVAL;
	if (i >= m->nsites)
		return -ENOENT;
	*out = m->sites[i];
	return 0;
}

VC_API long vc_rewrite_find(const vc_rewrite *m, uint32_t section, uint64_t offset)
{
	if (!m)
		return -EINVAL;
	long i = vc__rewrite_site_at(m, section, offset);
	return i >= 0 ? i : -ENOENT;
}

VC_API int vc_rewrite_is_patched(const vc_rewrite *m)
{
	return m && m->table_section != 0;
}

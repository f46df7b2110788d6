// SPDX-License-Identifier: MIT
// The rewrite module's handle: open (read, check, scan), the sites, lookup by address.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/input.h"
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
	if (!rc)
		rc = vc__rewrite_promote(m);
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

/* Reads @size bytes of @fd into @buf: -EIO when the file ends sooner (it shrank). */
static int read_exactly(int fd, uint8_t *buf, size_t size)
{
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			vc__err("rewrite: the file shrank while it was read (%zu of %zu bytes)",
				got, size);
			return -EIO;
		}
		got += (size_t)n;
	}
	return 0;
}

VC_API int vc_rewrite_load_path(vc_rewrite **out, const char *path)
{
	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	const char *what;
	int fd = vc__input_open(path, 0, &what);
	if (fd < 0) {
		if (what)
			vc__err("rewrite: %s, not an ELF object file", what);
		return fd;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size > VC_REWRITE_MAX_FILE) {
		vc__err("rewrite: %llu bytes; an object file this library rewrites is at most %llu "
			"(VC_REWRITE_MAX_FILE)", (unsigned long long)st.st_size,
			(unsigned long long)VC_REWRITE_MAX_FILE);
		close(fd);
		return -EFBIG;
	}
	/* Read, not mapped: the bytes scanned are the bytes patched even if the file changes
	 * meanwhile, and a file truncated under us is an error, not SIGBUS. */
	struct vc_rewrite *m = calloc(1, sizeof(*m));
	int rc = m && (m->data = malloc(st.st_size ? (size_t)st.st_size : 1)) ? 0 : -ENOMEM;
	if (!rc)
		rc = read_exactly(fd, m->data, (size_t)st.st_size);
	close(fd);
	if (rc) {
		if (m)
			free(m->data);
		free(m);
		return rc;
	}
	m->size = (size_t)st.st_size;
	return open_module(m, out);
}

VC_API void vc_rewrite_destroy(vc_rewrite *m)
{
	if (!m)
		return;
	vc__rewrite_unload(m);
	free(m->sites);
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

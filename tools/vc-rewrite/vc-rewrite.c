// SPDX-License-Identifier: MIT
// vc-rewrite: find the sensitive instructions of an x86-64 relocatable object, trap them,
// and undo it. The interface is fixed (scripts depend on it); see `vc-rewrite --help`.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <virtcore/rewrite.h>

#include "error-capture.h"
#include "stdout-check.h"
#include "text.h"
#include "input.h"
#include "output.h"

static const char *prog = "vc-rewrite";

static const char usage_main[] =
	"usage: vc-rewrite COMMAND [OPTIONS] ...\n"
	"Finds the virtualization-sensitive instructions (cli, in/out, mov to CR3, rdmsr,\n"
	"lgdt, iret... docs/rewrite.md has the full list) of an x86-64 ELF relocatable object\n"
	"(.o, .ko), and writes a copy where each is replaced by a trap for the VMM.\n"
	"\n"
	"commands:\n"
	"  scan [--json] MODULE          list the sensitive instructions\n"
	"  patch MODULE -o OUT           write OUT: every site trapped (int3, then nop), the\n"
	"                                table of sites added as the section .vc.sensitive\n"
	"  restore PATCHED -o OUT        write OUT: the object PATCHED was made from, exactly\n"
	"\n"
	"`vc-rewrite COMMAND --help` describes one command. Exit status 0 on success, 1 on\n"
	"failure (with `vc-rewrite: FILE: what is wrong` on stderr), 2 on a usage error.\n";

static const char usage_scan[] =
	"usage: vc-rewrite scan [--json] MODULE\n"
	"Lists each sensitive instruction: section, offset in it, length, class, mnemonic (as\n"
	"objdump spells it), flags and bytes. Flags: reloc (a relocation fills bytes inside\n"
	"it), ex_table / jump_table (__ex_table or __jump_table names it). PROMOTE: whether a\n"
	"loader may replace the site by a 5-byte jump once it is hot (yes+N: borrowing the N\n"
	"bytes after it), or why not: branch-target, table, unmovable, code-end. --json\n"
	"prints a JSON array of objects with the keys section, section_index, offset, length,\n"
	"mnemonic, class, flags (an array of strings), promote (one of those words),\n"
	"displaced (N) and bytes (hex).\n";

static const char usage_patch[] =
	"usage: vc-rewrite patch MODULE -o OUT\n"
	"Writes OUT: MODULE with every site replaced by int3 and nops up to its length (bytes\n"
	"a relocation fills are left for the loader), every other byte, relocation and symbol\n"
	"unchanged, and the table of sites (with their original bytes) in a new section\n"
	".vc.sensitive. OUT is written beside itself and renamed into place: on an error\n"
	"nothing is left.\n";

static const char usage_restore[] =
	"usage: vc-rewrite restore PATCHED -o OUT\n"
	"Writes OUT: the object PATCHED was made from, byte for byte. Refused if PATCHED has\n"
	"no .vc.sensitive table or a site no longer holds its trap.\n";

/* `vc-rewrite: FILE: detail`: the library's message (without "rewrite: "), or the
 * system's words for the code (the library logs every error of its own). */
static int fail(const char *file, int rc)
{
	const char *msg = tool_last_error() ? tool_last_error() : strerror(-rc);
	fprintf(stderr, "%s: %s: %s\n", prog, file, msg);
	tool_clear_error();
	return 1;
}

/* An output refused by write_atomically(): say what is there. */
static int fail_output(const char *out, int rc, const char *what)
{
	if (!what)
		return fail(out, rc);
	fprintf(stderr, "%s: %s: %s, not a regular file: left as it was (the output must be a "
		"regular file, a symlink to one, or a new name)\n", prog, out, what);
	tool_clear_error();
	return 1;
}

static int usage_error(const char *usage, const char *what)
{
	fprintf(stderr, "%s: %s\n%s", prog, what, usage);
	return 2;
}

static int unknown_option(const char *usage, char **argv)
{
	char what[256];
	snprintf(what, sizeof(what), "unknown option \"%s\"", argv[optind - 1]);
	return usage_error(usage, what);
}

static int open_module(const char *path, vc_rewrite **m)
{
	int rc = vc_rewrite_load_path(m, path);
	if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR)
		tool_clear_error(); /* the errno says it best */
	return rc;
}

static void flag_names(unsigned flags, char *buf, size_t len, bool json)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{VC_REWRITE_SITE_RELOC, "reloc"},
		     {VC_REWRITE_SITE_EX_TABLE, "ex_table"},
		     {VC_REWRITE_SITE_JUMP_TABLE, "jump_table"}};
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit))
			continue;
		at += (size_t)snprintf(buf + at, len - at, json ? "%s\"%s\"" : "%s%s",
				       at ? "," : "", names[i].name);
	}
	if (!at && !json)
		snprintf(buf, len, "-");
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'h')
			return fputs(usage_scan, stdout), 0;
		else
			return unknown_option(usage_scan, argv);
	}
	if (argc - optind != 1)
		return usage_error(usage_scan, "scan: one MODULE expected");
	const char *path = argv[optind];
	vc_rewrite *m;
	int rc = open_module(path, &m);
	if (rc)
		return fail(path, rc);
	size_t n = vc_rewrite_count(m);
	if (json)
		putchar('[');
	else
		printf("%-20s %10s %3s  %-17s %-9s %-9s %-13s %s\n", "SECTION", "OFFSET", "LEN",
		       "CLASS", "MNEMONIC", "FLAGS", "PROMOTE", "BYTES");
	for (size_t i = 0; i < n; i++) {
		struct vc_rewrite_site s;
		char flags[64], bytes[48];
		vc_rewrite_get(&s, m, i);
		flag_names(s.flags, flags, sizeof(flags), json);
		for (unsigned k = 0; k < s.length; k++)
			snprintf(bytes + 2 * k, sizeof(bytes) - 2 * k, "%02x", s.bytes[k]);
		if (json) {
			printf("%s\n{\"section\":", i ? "," : "");
			json_string(s.section_name);
			printf(",\"section_index\":%u,\"offset\":%llu,\"length\":%u,\"mnemonic\":\"%s\","
			       "\"class\":\"%s\",\"flags\":[%s],\"promote\":\"%s\",\"displaced\":%u,"
			       "\"bytes\":\"%s\"}",
			       s.section, (unsigned long long)s.offset, s.length, s.mnemonic,
			       vc_rewrite_class_name(s.cls), flags, vc_rewrite_promote_name(s.promote),
			       s.displaced, bytes);
		} else {
			/* a section name is the file's: no control reaches the terminal */
			char name[VC__ESCAPED_SIZE(64)];
			vc__escape(s.section_name, strlen(s.section_name), name, sizeof(name));
			char promote[24];
			snprintf(promote, sizeof(promote), s.promote == VC_REWRITE_PROMOTE_YES ?
				 "%s+%u" : "%s", vc_rewrite_promote_name(s.promote), s.displaced);
			printf("%-20s %#10llx %3u  %-17s %-9s %-9s %-13s %s\n", name,
			       (unsigned long long)s.offset, s.length, vc_rewrite_class_name(s.cls),
			       s.mnemonic, flags, promote, bytes);
		}
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
	else
		printf("%zu sensitive instruction%s%s\n", n, n == 1 ? "" : "s",
		       vc_rewrite_is_patched(m) ? " (already rewritten: it has .vc.sensitive)" : "");
	vc_rewrite_destroy(m);
	return 0;
}

/* Writes @len bytes to a new file beside where @out leads (through symlinks), with @mode,
 * then renames it there: a failure or an interruption leaves nothing behind, and a device
 * node, FIFO or directory at @out is refused untouched (*what says which). */
static int write_atomically(const char *out, const void *data, size_t len, mode_t mode,
			    const char **what)
{
	struct vc__output o;
	int rc = vc__output_begin(&o, AT_FDCWD, out, 0600, "vc-rewrite", what);
	for (size_t done = 0; done < len && !rc;) {
		ssize_t n = write(o.fd, (const char *)data + done, len - done);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (!rc && fchmod(o.fd, mode & 07777) < 0)
		rc = -errno;
	if (!rc)
		return vc__output_commit(&o, false);
	vc__output_abandon(&o);
	return rc;
}

/* Reads a patched object whole, bounded as the library bounds what it loads: a sparse
 * 16 GiB "module" is refused at once, not read into memory. 0, or 1 with the reason on
 * stderr. */
static int read_whole(const char *path, void **data, size_t *len, mode_t *mode)
{
	*data = NULL;
	const char *what;
	int fd = vc__input_open(path, 0, &what);
	if (fd < 0) {
		if (!what)
			return fail(path, fd);
		fprintf(stderr, "%s: %s: %s, not an ELF object file\n", prog, path, what);
		return 1;
	}
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (!rc && (uint64_t)st.st_size > VC_REWRITE_MAX_FILE) {
		fprintf(stderr, "%s: %s: %lld bytes; an object file vc-rewrite reads is at most "
			"%llu\n", prog, path, (long long)st.st_size, VC_REWRITE_MAX_FILE);
		close(fd);
		return 1;
	}
	if (!rc && !(*data = malloc(st.st_size ? (size_t)st.st_size : 1)))
		rc = -ENOMEM;
	size_t got = 0;
	while (!rc && got < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)*data + got, (size_t)st.st_size - got);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n == 0)
			rc = -EIO; /* it shrank while we read it */
		else if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	*len = got;
	*mode = st.st_mode;
	if (rc == -EIO)
		fprintf(stderr, "%s: %s: shrank while it was read\n", prog, path);
	return rc == -EIO ? 1 : rc ? fail(path, rc) : 0;
}

/* patch and restore: MODULE -o OUT. */
static int parse_in_out(int argc, char **argv, const char *usage, const char **in,
			const char **out)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int opt;
	*out = NULL;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (opt == 'o')
			*out = optarg;
		else if (opt == 'h')
			return fputs(usage, stdout), 0;
		else
			return unknown_option(usage, argv);
	}
	if (argc - optind != 1 || !*out || !**out)
		return usage_error(usage, "one input file and -o OUT expected");
	*in = argv[optind];
	return -1;
}

static int cmd_patch(int argc, char **argv)
{
	const char *in, *out;
	int rc = parse_in_out(argc, argv, usage_patch, &in, &out);
	if (rc >= 0)
		return rc;
	vc_rewrite *m;
	if ((rc = open_module(in, &m)))
		return fail(in, rc);
	struct stat st;
	mode_t mode = stat(in, &st) == 0 ? st.st_mode : 0644;
	long len = vc_rewrite_patch(m, NULL, 0);
	void *img = len > 0 ? malloc((size_t)len) : NULL;
	if (len > 0)
		len = img ? vc_rewrite_patch(m, img, (size_t)len) : -ENOMEM;
	if (len < 0) {
		free(img);
		vc_rewrite_destroy(m);
		return fail(in, (int)len);
	}
	size_t n = vc_rewrite_count(m), flagged = 0, promotable = 0;
	for (size_t i = 0; i < n; i++) {
		struct vc_rewrite_site s;
		vc_rewrite_get(&s, m, i);
		flagged += s.flags != 0;
		promotable += s.promote == VC_REWRITE_PROMOTE_YES;
	}
	vc_rewrite_destroy(m);
	const char *what;
	rc = write_atomically(out, img, (size_t)len, mode, &what);
	free(img);
	if (rc)
		return fail_output(out, rc, what);
	printf("%s: %zu site%s trapped (%zu with a relocation or an __ex_table/__jump_table "
	       "entry: see scan; %zu promotable), table in .vc.sensitive\n", out, n,
	       n == 1 ? "" : "s", flagged, promotable);
	return 0;
}

static int cmd_restore(int argc, char **argv)
{
	const char *in, *out;
	int rc = parse_in_out(argc, argv, usage_restore, &in, &out);
	if (rc >= 0)
		return rc;
	void *data = NULL;
	size_t len = 0;
	mode_t mode = 0644;
	if (read_whole(in, &data, &len, &mode)) {
		free(data);
		return 1;
	}
	/* the original is never larger than the rewritten object: restore in place */
	long olen = vc_rewrite_restore(data, len, data, len);
	if (olen < 0) {
		free(data);
		return fail(in, (int)olen);
	}
	const char *what;
	rc = write_atomically(out, data, (size_t)olen, mode, &what);
	free(data);
	return rc ? fail_output(out, rc, what) : 0;
}

int main(int argc, char **argv)
{
	tool_capture_errors("rewrite: ");
	tool_check_stdout_at_exit(prog);
	opterr = 0; /* our own message, in our format */
	if (argc < 2)
		return usage_error(usage_main, "a command is required");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return fputs(usage_main, stdout), 0;
	if (!strcmp(cmd, "--version")) {
		printf("vc-rewrite (libvirtcore) %s\n", vc_version_string());
		return 0;
	}
	argc--, argv++;
	if (!strcmp(cmd, "scan"))
		return cmd_scan(argc, argv);
	if (!strcmp(cmd, "patch"))
		return cmd_patch(argc, argv);
	if (!strcmp(cmd, "restore"))
		return cmd_restore(argc, argv);
	fprintf(stderr, "%s: unknown command \"%s\"\n%s", prog, cmd, usage_main);
	return 2;
}

// SPDX-License-Identifier: MIT
// vc-pack: pack images into one GPT-compatible disk, list, extract and verify them.
// The interface is fixed (scripts depend on it); see `vc-pack --help` and README.md.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uuid/uuid.h>
#include <virtcore/pack.h>

#include "error-capture.h"
#include "stdout-check.h"
#include "text.h"

static const char *prog = "vc-pack";

static const char usage_main[] =
	"usage: vc-pack COMMAND [OPTIONS] ...\n"
	"Packs files into one disk image whose fixed-size index is also a GPT: every image\n"
	"is a partition named after it (/dev/disk/by-partlabel/NAME in a Linux guest).\n"
	"\n"
	"commands:\n"
	"  create [--size BYTES] [--align 4k|1m] DISK FILE...   pack FILEs into DISK\n"
	"  list [--json] DISK                                   list the images\n"
	"  extract DISK [NAME...] [-C DIR]                      write images out as files\n"
	"  verify DISK                                          check the index and digests\n"
	"\n"
	"`vc-pack COMMAND --help` describes one command. Exit status 0 on success, 1 on\n"
	"failure (with `vc-pack: DISK: what is wrong` on stderr), 2 on a usage error.\n";

static const char usage_create[] =
	"usage: vc-pack create [--size BYTES] [--align 4k|1m] DISK FILE...\n"
	"Creates DISK holding each FILE as an image, in order. The image is named after the\n"
	"file's base name; NAME=FILE names it explicitly. A FILE may be a pipe or '-' style\n"
	"path such as /dev/stdin (read to its end).\n"
	"\n"
	"  --size BYTES     fixed disk size (a multiple of 512; suffixes K, M, G, T are\n"
	"                   powers of 1024); default: the smallest disk that fits\n"
	"  --align 4k|1m    align images to 4 KiB (default) or 1 MiB\n"
	"\n"
	"The disk is written to a temporary file beside DISK and renamed at the end: on any\n"
	"error DISK is left as it was. Free space and holes in the files stay sparse.\n";

static const char usage_list[] =
	"usage: vc-pack list [--json] DISK\n"
	"Lists the images of DISK (after validating its index): name, size in bytes, offset\n"
	"in bytes, SHA-256 and UUID. --json prints a JSON array of objects with the keys\n"
	"index, name, size, offset, sha256, uuid, partition.\n";

static const char usage_extract[] =
	"usage: vc-pack extract DISK [NAME...] [-C DIR]\n"
	"Writes the named images (all when no NAME is given) as files named after them in\n"
	"DIR (default: the current directory). Each is checked against its SHA-256 and\n"
	"renamed into place only when it matches.\n";

static const char usage_verify[] =
	"usage: vc-pack verify DISK\n"
	"Checks DISK: the protective MBR, both GPT copies, the index and its CRCs, that the\n"
	"images lie in order inside the disk, and every image against its SHA-256.\n";

/* Prints `vc-pack: WHAT: detail` where detail is the library's message if there is one
 * (without its "pack: " and a repeated "WHAT: " prefix), else the error code's text. */
static int fail(const char *what, int rc)
{
	const char *msg = tool_last_error() ? tool_last_error() : vc_strerror(rc);
	size_t wl = strlen(what);

	if (strncmp(msg, what, wl) == 0 && strncmp(msg + wl, ": ", 2) == 0)
		msg += wl + 2;
	fprintf(stderr, "%s: %s: %s\n", prog, what, msg);
	tool_clear_error();
	return 1;
}

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return 2;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (*end == 'i' && end[1] == 'B'))
		end += 2;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"size", required_argument, NULL, 's'},
		{"align", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	VC_OPTS(vc_pack_create_opts, o);
	int c;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &o.disk_size) || o.disk_size == 0)
				return usage_error(usage_create, "--size %s: not a size in bytes",
						   optarg);
			break;
		case 'a':
			if (strcmp(optarg, "4k") == 0)
				o.align = VC_PACK_ALIGN_4K;
			else if (strcmp(optarg, "1m") == 0)
				o.align = VC_PACK_ALIGN_1M;
			else
				return usage_error(usage_create, "--align %s: use 4k or 1m", optarg);
			break;
		case 'h':
			fputs(usage_create, stdout);
			return 0;
		default:
			fputs(usage_create, stderr);
			return 2;
		}
	}
	if (argc - optind < 1)
		return usage_error(usage_create, "create needs a DISK%s", "");
	const char *disk = argv[optind++];
	if (o.disk_size % VC_PACK_SECTOR) {
		fprintf(stderr, "%s: %s: --size %" PRIu64 " is not a multiple of 512\n", prog,
			disk, o.disk_size);
		return 1;
	}

	vc_pack_writer *w;
	int rc = vc_pack_writer_open(&w, disk, &o);
	if (rc)
		return fail(disk, rc);
	for (int i = optind; i < argc; i++) {
		char *arg = argv[i], *eq = strchr(arg, '=');
		char *name = NULL;
		const char *path = arg;
		struct stat st;

		/* NAME=FILE, unless the whole argument is an existing file. */
		if (eq && eq != arg && stat(arg, &st) != 0) {
			name = strndup(arg, (size_t)(eq - arg));
			path = eq + 1;
		}
		rc = vc_pack_writer_add_path(w, name, path);
		free(name);
		if (rc) {
			vc_pack_writer_close(w);
			return fail(disk, rc);
		}
	}
	rc = vc_pack_writer_commit(w);
	vc_pack_writer_close(w);
	return rc ? fail(disk, rc) : 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p); /* names are valid UTF-8 (the library checks) */
	}
	putchar('"');
}

static int open_disk(const char *disk, vc_pack **p)
{
	int rc = vc_pack_open(p, disk);
	return rc ? fail(disk, rc) : 0;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			fputs(usage_list, stdout);
			return 0;
		} else {
			fputs(usage_list, stderr);
			return 2;
		}
	}
	if (argc - optind != 1)
		return usage_error(usage_list, "list needs exactly one DISK%s", "");
	const char *disk = argv[optind];
	vc_pack *p;
	if (open_disk(disk, &p))
		return 1;

	unsigned n = vc_pack_count(p);
	if (json)
		putchar('[');
	else
		printf("%-5s %14s %14s  %-64s  %-36s  %s\n", "INDEX", "SIZE", "OFFSET", "SHA256",
		       "UUID", "NAME");
	for (unsigned i = 0; i < n; i++) {
		struct vc_pack_image img;
		char hex[65], uuid[37];

		vc_pack_get(&img, p, i);
		vc_pack_hex(hex, img.sha256);
		uuid_unparse_lower(img.uuid, uuid);
		if (json) {
			printf("%s\n  {\"index\": %u, \"name\": ", i ? "," : "", i);
			json_string(img.name);
			printf(", \"size\": %" PRIu64 ", \"offset\": %" PRIu64
			       ", \"sha256\": \"%s\", \"uuid\": \"%s\", \"partition\": %u}",
			       img.size, img.offset, hex, uuid, i + 1);
		} else {
			printf("%-5u %14" PRIu64 " %14" PRIu64 "  %s  %s  %s\n", i, img.size,
			       img.offset, hex, uuid, img.name);
		}
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
	vc_pack_close(p);
	return ferror(stdout) ? fail("stdout", -EIO) : 0;
}

static int cmd_extract(int argc, char **argv)
{
	const char *dir = ".";
	const char *disk = NULL;
	char **names = calloc((size_t)argc, sizeof(*names));
	int nnames = 0, rc = 0;

	if (!names)
		return fail("extract", -ENOMEM);
	if (wants_help(argc, argv)) {
		fputs(usage_extract, stdout);
		free(names);
		return 0;
	}
	/* -C may come anywhere (the interface puts it last); "--" ends the options. */
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		if (!opts_done && strcmp(argv[i], "--") == 0) {
			opts_done = true;
		} else if (!opts_done && strcmp(argv[i], "-C") == 0) {
			if (++i == argc) {
				free(names);
				return usage_error(usage_extract, "-C needs a DIR%s", "");
			}
			dir = argv[i];
		} else if (!opts_done && strncmp(argv[i], "-C", 2) == 0) {
			dir = argv[i] + 2;
		} else if (!opts_done && argv[i][0] == '-' && argv[i][1]) {
			free(names);
			return usage_error(usage_extract, "unknown option %s", argv[i]);
		} else if (!disk) {
			disk = argv[i];
		} else {
			names[nnames++] = argv[i];
		}
	}
	if (!disk) {
		free(names);
		return usage_error(usage_extract, "extract needs a DISK%s", "");
	}
	if (!*dir) { /* -C "$UNSET": never "/" */
		free(names);
		return usage_error(usage_extract, "-C needs a DIR, not an empty name%s", "");
	}

	vc_pack *p;
	if (open_disk(disk, &p)) {
		free(names);
		return 1;
	}
	/* Every name must exist before anything is written. */
	for (int i = 0; i < nnames; i++) {
		if (vc_pack_find(NULL, p, names[i]) < 0) {
			char name[VC__ESCAPED_SIZE(64)];
			vc__escape(names[i], strlen(names[i]), name, sizeof(name));
			fprintf(stderr, "%s: %s: no image named \"%s\"\n", prog, disk, name);
			rc = 1;
		}
	}
	if (rc == 0 && nnames == 0) {
		int err = vc_pack_extract_all(p, dir, 0);
		if (err)
			rc = fail(disk, err);
	}
	/* By name: into DIR opened once, each image relative to it (no "DIR/NAME" strings). */
	int dirfd = rc == 0 && nnames ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && nnames && dirfd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
		rc = 1;
	}
	for (int k = 0; rc == 0 && k < nnames; k++) {
		struct vc_pack_image img;
		int idx = vc_pack_find(&img, p, names[k]);
		int err = vc_pack_extract_at(p, (unsigned)idx, dirfd, img.name, 0);
		if (err)
			rc = fail(disk, err);
	}
	if (dirfd >= 0)
		close(dirfd);
	vc_pack_close(p);
	free(names);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		fputs(usage_verify, stdout);
		return 0;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1]))
		return usage_error(usage_verify, "verify needs exactly one DISK%s", "");
	const char *disk = argv[1];
	vc_pack *p;
	if (open_disk(disk, &p))
		return 1;

	int rc = vc_pack_verify(NULL, p);
	struct vc_pack_info info;
	vc_pack_info(&info, p);
	vc_pack_close(p);
	if (rc)
		return fail(disk, rc);
	printf("%s: %u images, %" PRIu64 " bytes of %" PRIu64 ", index and digests OK\n", disk,
	       info.count, info.used, info.disk_size);
	return 0;
}

int main(int argc, char **argv)
{
	tool_capture_errors("pack: ");
	tool_check_stdout_at_exit(prog);
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("vc-pack (libvirtcore) %s\n", vc_version_string());
		return 0;
	}
	argc--, argv++;
	if (strcmp(cmd, "create") == 0)
		return cmd_create(argc, argv);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(argc, argv);
	if (strcmp(cmd, "extract") == 0)
		return cmd_extract(argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv);
	fprintf(stderr, "%s: unknown command \"%s\"\n%s", prog, cmd, usage_main);
	return 2;
}

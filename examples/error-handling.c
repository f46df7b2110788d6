// SPDX-License-Identifier: MIT
// Shows the conventions every libvirtcore call follows: check the library version
// against the headers, route the library's diagnostics, turn error codes into text.
#include <errno.h>
#include <stdio.h>

#include <virtcore/virtcore.h>

static void print_diagnostic(enum vc_log_level level, const char *msg, void *userdata)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *prog = userdata;

	fprintf(stderr, "%s: libvirtcore %s: %s\n", prog, names[level], msg);
}

int main(int argc, char **argv)
{
	(void)argc;

	/* A program built against newer headers than the library it loads may call
	 * functions the library lacks: refuse early with a clear message. */
	if (vc_version() < VC_VERSION_NUMBER) {
		fprintf(stderr, "%s: built for libvirtcore %s but loaded %s\n", argv[0],
			VC_VERSION_STRING, vc_version_string());
		return 1;
	}
	printf("libvirtcore %s (headers %s)\n", vc_version_string(), VC_VERSION_STRING);

	/* The library never prints; diagnostics go to this callback once installed. */
	vc_set_log_fn(print_diagnostic, argv[0]);

	/* Every function returns 0 or a count on success and -errno on failure. */
	static const int codes[] = {-EINVAL, -ENOSPC, -EAGAIN, -EBADMSG, -EKEYREJECTED};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		printf("%4d  %s\n", codes[i], vc_strerror(codes[i]));

	vc_set_log_fn(NULL, NULL);
	return 0;
}

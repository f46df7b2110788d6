// SPDX-License-Identifier: MIT
// Standard output checked at exit (stdout-check.h), as coreutils' close_stdout does.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdout-check.h"

static const char *tool_name = "";

static void check_stdout(void)
{
	/* ferror(): a write that failed earlier may have been dropped from the buffer, so
	 * a clean fclose() alone does not prove everything arrived. */
	int failed = ferror(stdout);
	errno = 0;
	if (fclose(stdout) != 0 && !failed)
		failed = 1;
	if (!failed)
		return;
	int e = errno ? errno : EIO;
	if (e != EPIPE)
		fprintf(stderr, "%s: standard output: %s\n", tool_name, strerror(e));
	_exit(1); /* the status main() returned would say success */
}

void tool_check_stdout_at_exit(const char *prog)
{
	tool_name = prog;
	atexit(check_stdout);
}

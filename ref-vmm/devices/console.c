// SPDX-License-Identifier: MIT
// The host side of the guest console: output to stdout (line-buffered unless
// stdout is a terminal), and the terminal put in raw mode while the guest owns
// stdin, restored on every way out (normal exit, signals, fatal errors).
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../vmm.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static char out_buf[4096];
static size_t out_len;
static int out_is_tty;
static int out_fd = STDOUT_FILENO;

static struct termios saved;
static volatile sig_atomic_t raw_active;

static bool out_gone; /* the reader closed stdout (EPIPE): nothing more is written */

static void write_all(const char *p, size_t n)
{
	while (n && !out_gone) {
		ssize_t w = write(out_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return; /* a non-blocking reader's full pipe: this output is dropped */
		if (w <= 0) {
			/* stdout closed (vc-vmm ignores SIGPIPE): the guest keeps running, its
			 * output is lost, and the exit status is still the guest's */
			out_gone = errno == EPIPE;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void console_restore(void)
{
	if (raw_active) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		raw_active = 0;
	}
}

static void on_fatal_signal(int sig)
{
	console_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void console_init(void)
{
	out_is_tty = isatty(STDOUT_FILENO);
	atexit(console_flush);
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0)
		return;
	struct termios raw = saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST; /* keep \n -> \r\n for our own messages */
	raw.c_lflag |= ISIG;  /* Ctrl-C still stops vc-vmm */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return;
	raw_active = 1;
	atexit(console_restore);
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGABRT, SIGBUS};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal_signal);
}

void console_set_fd(int fd)
{
	console_flush();
	pthread_mutex_lock(&out_lock);
	out_fd = fd;
	out_gone = false;
	pthread_mutex_unlock(&out_lock);
}

void console_flush(void)
{
	pthread_mutex_lock(&out_lock);
	write_all(out_buf, out_len);
	out_len = 0;
	pthread_mutex_unlock(&out_lock);
}

void console_write(const char *buf, size_t len)
{
	pthread_mutex_lock(&out_lock);
	if (out_len + len > sizeof(out_buf)) {
		write_all(out_buf, out_len);
		out_len = 0;
	}
	if (len > sizeof(out_buf)) {
		write_all(buf, len);
	} else {
		memcpy(out_buf + out_len, buf, len);
		out_len += len;
	}
	/* A terminal sees every byte at once; a pipe gets whole lines. */
	if (out_is_tty || (len && memchr(buf, '\n', len))) {
		write_all(out_buf, out_len);
		out_len = 0;
	}
	pthread_mutex_unlock(&out_lock);
}

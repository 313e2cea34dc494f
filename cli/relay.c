/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "relay.h"

/* What is passed on after the command exited, at most: a process it left
 * behind that keeps writing must not keep enter from returning. */
#define DRAIN_MAX (1u << 20)

/* Three ^] within a second end the command, whatever it does with the
 * keys and signals it gets (as machinectl shell does). */
#define ESCAPE_CHAR 0x1d
#define ESCAPE_COUNT 3
#define ESCAPE_WINDOW_MS 1000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cli_relay_signals(sigset_t *ret)
{
	sigemptyset(ret);
	sigaddset(ret, SIGCHLD);
	sigaddset(ret, SIGWINCH);
	sigaddset(ret, SIGTERM);
	sigaddset(ret, SIGHUP);
	sigaddset(ret, SIGINT);
	sigaddset(ret, SIGQUIT);
	sigaddset(ret, SIGCONT);
	sigaddset(ret, SIGTSTP);
}

static void copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(to, TIOCSWINSZ, &ws);
}

static void set_raw(struct cli_relay *r)
{
	struct termios raw = r->saved;

	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		r->raw = true;
}

int cli_relay_open(struct cli_relay *r, char *err, size_t errlen)
{
	*r = (struct cli_relay){ .master = -1, .child_fd = { -1, -1, -1 }, .ours = { -1, -1, -1 } };

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &r->saved) < 0) {
		/* Pipes: stdin's read end and the write ends are the child's. */
		for (int i = 0; i < 3; i++) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0) {
				int e = errno;
				snprintf(err, errlen, "pipe: %s", strerror(e));
				cli_relay_close(r);
				return -e;
			}
			r->child_fd[i] = p[i == 0 ? 0 : 1];
			r->ours[i] = p[i == 0 ? 1 : 0];
			(void)fcntl(r->ours[i], F_SETFL, O_NONBLOCK);
		}
		return 0;
	}
	r->pty = true;
	r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->master < 0 || grantpt(r->master) < 0 || unlockpt(r->master) < 0 ||
	    ptsname_r(r->master, r->tty_name, sizeof(r->tty_name)) != 0) {
		snprintf(err, errlen, "cannot make a pty: %s", strerror(errno));
		cli_relay_close(r);
		return -EIO;
	}
	/* The slave by the master, not by a path someone could have changed. */
	r->child_fd[0] = ioctl(r->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r->child_fd[0] < 0) {
		snprintf(err, errlen, "cannot open the pty's slave: %s", strerror(errno));
		cli_relay_close(r);
		return -EIO;
	}
	/* The user's side starts with root's terminal's modes and size. */
	(void)tcsetattr(r->child_fd[0], TCSANOW, &r->saved);
	copy_winsize(STDIN_FILENO, r->master);
	(void)fcntl(r->master, F_SETFL, O_NONBLOCK);
	return 0;
}

int cli_relay_child(struct cli_relay *r)
{
	if (setsid() < 0)
		return -errno;
	if (r->pty && ioctl(r->child_fd[0], TIOCSCTTY, 0) < 0)
		return -errno;
	for (int i = 0; i < 3; i++) {
		int fd = r->child_fd[r->pty ? 0 : i];
		/* dup2 leaves FD_CLOEXEC off on the copy: these three survive exec. */
		if (dup2(fd, i) < 0)
			return -errno;
	}
	/* Root's terminal is gone from 0-2; nothing else is to reach the
	 * command either. The cell's fds stay open until exec, for setns. */
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Writes all of buf to a blocking fd (root's stdout or stderr). */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -errno;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One read from a non-blocking source, passed on to dst. Returns bytes
 * passed (> 0), 0 at end (EOF, EIO of a hung-up pty), -EAGAIN, or -errno. */
static ssize_t pass(int src, int dst)
{
	char buf[4096];
	ssize_t n = read(src, buf, sizeof(buf));

	if (n < 0 && errno == EIO)
		return 0; /* every slave fd is closed */
	if (n < 0)
		return -errno;
	if (n > 0 && write_all(dst, buf, (size_t)n) < 0)
		return -EPIPE;
	return n;
}

/* The signal `sig` passed on to the command's process group (its session
 * leader's, which is its own pid), or the command alone. */
static void forward(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0)
		(void)kill(pid, sig);
}

int cli_relay_run(struct cli_relay *r, pid_t pid, int *ret_status)
{
	_cleanup_close_ int sfd = -1;
	int in_dst = r->pty ? r->master : r->ours[0];
	char in_buf[4096];
	size_t in_len = 0, in_off = 0;
	bool in_open = true, out_open[2] = { true, !r->pty };
	unsigned n_escape = 0;
	uint64_t escape_start = 0;
	sigset_t mask;
	int status = 0;

	/* The child's ends are the child's: a pipe reaches EOF when it closes them. */
	for (int i = 0; i < 3; i++)
		nscell_closep(&r->child_fd[i]);
	cli_relay_signals(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	if (r->pty)
		set_raw(r);
	for (;;) {
		struct pollfd p[4] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = -1 },
			{ .fd = -1 },
			{ .fd = -1 },
		};
		pid_t w;

		/* Before every wait: the child may have exited before the signalfd existed. */
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (in_open && in_len == 0)
			p[1] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		else if (in_len > 0)
			p[1] = (struct pollfd){ .fd = in_dst, .events = POLLOUT };
		if (out_open[0])
			p[2] = (struct pollfd){ .fd = r->pty ? r->master : r->ours[1], .events = POLLIN };
		if (out_open[1])
			p[3] = (struct pollfd){ .fd = r->ours[2], .events = POLLIN };
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH && r->pty)
					copy_winsize(STDIN_FILENO, r->master);
				else if (si.ssi_signo == SIGCONT && r->pty)
					set_raw(r); /* a shell may have reset it while we were stopped */
				else if (si.ssi_signo == SIGTSTP) {
					/* Stopped from outside: root's terminal as it was meanwhile. */
					if (r->raw) {
						(void)tcsetattr(STDIN_FILENO, TCSANOW, &r->saved);
						r->raw = false;
					}
					(void)kill(getpid(), SIGSTOP);
				} else if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH &&
					   si.ssi_signo != SIGCONT)
					forward(pid, (int)si.ssi_signo);
			}
		}
		if (p[1].fd == STDIN_FILENO && p[1].revents) {
			ssize_t n = read(STDIN_FILENO, in_buf, sizeof(in_buf));
			if (n > 0) {
				in_len = (size_t)n;
				in_off = 0;
				for (ssize_t i = 0; r->pty && i < n && !r->escaped; i++) {
					if (in_buf[i] != ESCAPE_CHAR) {
						n_escape = 0;
						continue;
					}
					if (n_escape == 0 || now_ms() - escape_start > ESCAPE_WINDOW_MS) {
						n_escape = 0;
						escape_start = now_ms();
					}
					if (++n_escape == ESCAPE_COUNT) {
						r->escaped = true;
						forward(pid, SIGHUP);
						(void)kill(pid, SIGKILL);
						in_len = 0;
						in_open = false;
					}
				}
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* Root's side ended: EOF to a pipe, a hangup to a pty. */
				in_open = false;
				if (r->pty)
					forward(pid, SIGHUP);
				else
					nscell_closep(&r->ours[0]);
			}
		} else if (p[1].fd >= 0 && p[1].revents) {
			ssize_t n = write(in_dst, in_buf + in_off, in_len);
			if (n > 0) {
				in_off += (size_t)n;
				in_len -= (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				in_len = 0; /* nobody reads it any more */
				in_open = false;
			}
		}
		for (int k = 0; k < 2; k++) {
			if (p[2 + k].fd < 0 || !p[2 + k].revents)
				continue;
			ssize_t n = pass(p[2 + k].fd, k == 0 ? STDOUT_FILENO : STDERR_FILENO);
			if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR)) {
				out_open[k] = false;
				/* Nobody takes it any more: the command's writes fail (EPIPE). */
				if (!r->pty)
					nscell_closep(&r->ours[1 + k]);
			}
		}
	}
	/* What the command wrote before it exited, and no more than DRAIN_MAX. */
	for (int k = 0; k < 2; k++) {
		int src = k == 0 ? (r->pty ? r->master : r->ours[1]) : r->ours[2];
		size_t total = 0;
		ssize_t n;

		if (!out_open[k] || src < 0)
			continue;
		while (total < DRAIN_MAX && (n = pass(src, k == 0 ? STDOUT_FILENO : STDERR_FILENO)) > 0)
			total += (size_t)n;
	}
	*ret_status = status;
	return 0;
}

void cli_relay_close(struct cli_relay *r)
{
	if (r->raw) {
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &r->saved);
		r->raw = false;
	}
	nscell_closep(&r->master);
	for (int i = 0; i < 3; i++) {
		nscell_closep(&r->child_fd[i]);
		nscell_closep(&r->ours[i]);
	}
}

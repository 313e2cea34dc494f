/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-init: PID 1 of a cell.
 *
 * nscell-open (or nscell-run-helper) execs this inside the cell's fresh namespaces, after it has
 * made the mounts, with these fds (see proto.h) and nothing else:
 *   3  the cell socket, listening (RUNDIR/cells/<id>.sock, root-only dir)
 *   4  RUNDIR/cells, to unlink that socket when the cell ends
 *   5  RUNDIR/locks/user-<uid> (an open file description of its own), taken
 *      around "find or create a cell" by every helper of that user
 *   6  a pipe carrying one struct nscell_init_msg (its config and settings)
 *   7  the sessions' user namespace, when the policy asks for one
 * and in NSCELL_RELAY_PID, when the cell has one, the pid of nscell-relay
 * (relay.c; not in argv: "nscell-init\0<id>\0" is how a cell's PID 1 is known),
 * forked before the exec: our child, so its pid stays its own until we reap
 * it. It serves the user, not the sessions: it is not counted among the
 * cell's processes, and kill(-1) ends it with the rest.
 *
 * Its whole job:
 *   - reap every child (orphans of the cell are reparented here);
 *   - accept JOIN from the helper: a session is its connection plus a pidfd
 *     of the process that opened it (sshd's monitor, su, login...);
 *   - end a session on LEAVE, on EOF of its connection, or when the opener
 *     exits (close_session is not guaranteed: kill -9, aborted logins);
 *   - when no session is left apply the logout policy: kill everything now,
 *     or let it drain until the cell is empty or the drain limit is hit;
 *   - to end: take the user's lock without blocking (a helper holding it
 *     may be waiting on us to answer its JOIN), unlink the socket, close the
 *     listener so late joiners make a fresh cell, kill(-1), exit. The exit
 *     of PID 1 takes the pid namespace, and with it the mount namespace and
 *     every tmpfs, away.
 *
 * It is static and avoids stdio so that an idle cell costs a few private
 * pages: thousands of cells share its text. For the same reason an idle
 * init has no heap, no vDSO in use, and nothing large in .data or .bss:
 * large answers are built in scratch pages (init_scratch) given back once
 * sent, and the settings are kept packed (init-conn.c).
 *
 * This file is the process (signals, reaping, fds, config, the event loop);
 * the cell protocol and its sessions are init-conn.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "init-conn.h"

#define FIRST_JOIN_TIMEOUT_USEC (30u * 1000000u)

void logf_(int prio, const char *fmt, ...)
{
	va_list ap;
	/* A handful of messages per cell: an idle cell keeps no socket. (Open
	 * each time: closelog() forgets the ident in some C libraries.) */
	openlog(g.ident, 0, LOG_AUTHPRIV);
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
	closelog();
}

void init_kill_all(void)
{
	kill(-1, SIGKILL);
}

_Noreturn void init_exit(int code)
{
	_exit(code);
}

static void reap(void)
{
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		if (pid == g.relay_pid)
			g.relay_pid = 0;
}

static void on_signal(void)
{
	struct signalfd_siginfo si;
	while (read(g.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGTERM:
		case SIGINT:
		case SIGHUP:
			/* Before the first JOIN, SIGTERM is the parent-death signal
			 * the helper set: it died before its session joined. */
			end_cell(g.next_session_no == 0 ? "never-joined" : "terminated");
			break;
		default:
			break;
		}
	}
	reap();
	if (g.state == NSCELL_CELL_DRAINING && count_processes() == 0)
		end_cell("drained");
}

static bool read_full(void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(NSCELL_INIT_FD_CONFIG, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* The message is read into pages of its own, given back once copied: an
 * idle init keeps only what it needs (thousands of cells add it up). */
static bool read_config(void)
{
	struct nscell_init_msg *m = init_scratch(sizeof(*m));
	bool ok;

	if (!m)
		return false;
	ok = read_full(m, sizeof(*m)) && nscell_init_msg_check(m, sizeof(*m)) == 0;
	if (ok) {
		g.cfg = m->config;
		init_settings_keep(&m->settings);
		g.private_logins = m->settings.private_logins;
	}
	munmap(m, sizeof(*m));
	close(NSCELL_INIT_FD_CONFIG);
	return ok;
}

int main(int argc, char **argv)
{
	sigset_t mask;

	if (getpid() != 1 || argc < 2) {
		static const char msg[] = "nscell-init: started by nscell-open or nscell-run-helper as PID 1 of a cell only\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		return 1;
	}
	prctl(PR_SET_DUMPABLE, 0);
	/* The clock by system calls, not the vDSO: its pages would cost every
	 * init page tables of their own (8-12 kB) for its few timestamps (a
	 * join, a log line). A C library that looks the vDSO up when first
	 * asked (musl) then finds none in the auxiliary vector, which follows
	 * argv and the environment; one that did at start-up keeps using it,
	 * and only this saving is lost. */
	{
		char **e = argv + argc + 1;
		while (*e)
			e++;
		for (unsigned long *a = (unsigned long *)(e + 1); a[0] != AT_NULL; a += 2)
			if (a[0] == AT_SYSINFO_EHDR)
				a[1] = 0;
	}

	sigfillset(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* Every signal is read from the signalfd; none may be ignored (an
	 * ignored SIGCHLD reaps behind our back). The rest of what a caller
	 * could set (rlimits, scheduling, oom_score_adj, fds 0-2...) the helper
	 * left before it made us; we inherit its defaults. */
	for (int sig = 1; sig < _NSIG; sig++) {
		/* By the kernel's call: the C library refuses the signals it keeps
		 * for itself, which a caller can still have left ignored. All zero
		 * is SIG_DFL in every architecture's layout. */
		unsigned long zero[16] = { 0 };
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, zero, NULL, (size_t)(_NSIG / 8));
	}

	if (!read_config())
		return 1;
	{
		const char *v = getenv("NSCELL_RELAY_PID"); /* the helper's, not a caller's */
		char *end;
		long pid = v ? strtol(v, &end, 10) : 0;
		if (v && *end == '\0' && pid > 1 && pid <= 0x3fffffff)
			g.relay_pid = (pid_t)pid;
	}
	snprintf(g.ident, sizeof(g.ident), "nscell-init[%d]", (int)g.cfg.init_pid_host);

	g.listenfd = NSCELL_INIT_FD_LISTEN;
	/* The registry entry is ours while its inode is the one the helper
	 * bound for us: never unlink a later cell's entry of the same name. */
	{
		char name[NSCELL_CELL_ID_MAX + 8];
		struct stat st;
		snprintf(name, sizeof(name), "%s.sock", g.cfg.cell_id);
		if (fstatat(NSCELL_INIT_FD_CELLS, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			g.sock_ino = st.st_ino;
	}
	g.cellsfd = NSCELL_INIT_FD_CELLS;
	g.lockfd = NSCELL_INIT_FD_LOCK;
	if (g.cfg.has_userns)
		g.usernsfd = NSCELL_INIT_FD_USERNS;
	fcntl(g.listenfd, F_SETFL, O_NONBLOCK);
	for (int fd = NSCELL_INIT_FD_LISTEN; fd <= NSCELL_INIT_FD_USERNS; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);

	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	g.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	g.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (g.epfd < 0 || g.sigfd < 0 || g.timerfd < 0) {
		logf_(LOG_ERR, "event=init-error cell=%s error=\"%m\"", g.cfg.cell_id);
		return 1;
	}
	epoll_add(g.sigfd, TAG_SIGNAL);
	epoll_add(g.listenfd, TAG_LISTEN);
	epoll_add(g.timerfd, TAG_TIMER);
	if (!init_logins_start()) {
		logf_(LOG_ERR, "event=init-error cell=%s error=\"PrivateLogins: cannot keep the login records' copies: %m\"",
		      g.cfg.cell_id);
		return 1;
	}
	g.state = NSCELL_CELL_ACTIVE;
	/* A helper that dies between making the cell and joining it leaves a
	 * cell nobody will ever join: give the first JOIN a deadline. */
	set_timer(FIRST_JOIN_TIMEOUT_USEC, false);

	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(g.epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			end_cell("error");
			continue;
		}
		for (int k = 0; k < n; k++) {
			if (evs[k].data.u64 == TAG_SIGNAL)
				on_signal();
			else if (evs[k].data.u64 == TAG_LOGINS_INOTIFY)
				init_logins_inotify();
			else if (evs[k].data.u64 == TAG_LOGINS_TIMER)
				init_logins_timer();
			else
				conn_dispatch(evs[k].data.u64);
		}
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: nscell-init's cell protocol, driven through the init's
 * own code (helper/init-conn.c is linked into this target). Up to four clients
 * connect to the cell socket and send JOIN, JOIN_SAME (with the cell's
 * settings or one byte off), LEAVE, STATUS, SETTINGS, TERMINATE (in this version, in version 0, in a newer one, cut short) or any
 * bytes, with no, one or two descriptors (a pidfd, a pipe
 * standing for the opener, /dev/null); openers exit; clients hang up; the
 * logout policy and the process count the init sees change. The init's epoll loop is replayed
 * here event by event, exactly as its main() dispatches them.
 *
 * Beyond ASan/UBSan, checked after every step: every answer is in the
 * init's version with a head that tells its size; the init's session count is
 * the number of joined connections; it never stays half-ended; it never
 * exits except by ending the cell; and when a run is over and every
 * connection is gone, the open descriptors are exactly those open before
 * the run (received fds the protocol did not ask for are closed).
 *
 * What init-conn.c asks of the program around it (kill everything, exit,
 * log) is provided here, and its /proc is a directory of this run;
 * nothing else is changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "init-conn.h"
#include "open-fds.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLIENTS 4

static jmp_buf exit_jump;
static int exit_code;
static bool procs_busy;
static char top_dir[64], proc_busy_dir[96], proc_empty_dir[96], cells_dir[96];
static struct sockaddr_un listen_addr;
static socklen_t listen_addr_len;

static struct client {
	int fd;      /* our end of a connection to the cell socket */
	int opener;  /* write end of the pipe standing for its opener, or -1 */
} clients[CLIENTS];

/* Only ending the cell kills, and it kills everything in it. */
void init_kill_all(void)
{
	if (g.state != NSCELL_CELL_ENDING)
		abort();
}

_Noreturn void init_exit(int code)
{
	exit_code = code;
	longjmp(exit_jump, 1);
}

/* Formatted, so that a field the init did not bound is caught here. */
void logf_(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

static void set_procs_busy(bool busy)
{
	procs_busy = busy;
	g.proc_path = busy ? proc_busy_dir : proc_empty_dir;
}

static void make_listener(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&listen_addr, listen_addr_len) < 0 ||
	    listen(fd, 16) < 0)
		abort();
	g.listenfd = fd;
	epoll_add(g.listenfd, TAG_LISTEN);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

/* Nothing of a run stays in /tmp. */
static void remove_top_dir(void)
{
	if (top_dir[0])
		nftw(top_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup_once(void)
{
	static const char *const busy[] = { "1", "2", "42", "self", "x1", "007" };
	char p[160];

	snprintf(top_dir, sizeof(top_dir), "/tmp/nscell-fuzz-init.XXXXXX");
	if (!mkdtemp(top_dir))
		abort();
	atexit(remove_top_dir);
	snprintf(proc_busy_dir, sizeof(proc_busy_dir), "%s/proc-busy", top_dir);
	snprintf(proc_empty_dir, sizeof(proc_empty_dir), "%s/proc-empty", top_dir);
	snprintf(cells_dir, sizeof(cells_dir), "%s/cells", top_dir);
	if (mkdir(proc_busy_dir, 0700) < 0 || mkdir(proc_empty_dir, 0700) < 0 || mkdir(cells_dir, 0700) < 0)
		abort();
	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", proc_busy_dir, busy[i]);
		mkdir(p, 0700);
	}
	snprintf(p, sizeof(p), "%s/1", proc_empty_dir);
	mkdir(p, 0700);

	g.cellsfd = open(cells_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof(p), "%s/lock", cells_dir);
	g.lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	g.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	g.sigfd = -1;
	if (g.cellsfd < 0 || g.lockfd < 0 || g.epfd < 0 || g.timerfd < 0)
		abort();
	epoll_add(g.timerfd, TAG_TIMER);

	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sun_family = AF_UNIX;
	/* Abstract: nothing in the file system, gone with the process. */
	snprintf(listen_addr.sun_path + 1, sizeof(listen_addr.sun_path) - 1,
		 "nscell-fuzz-init-%d", (int)getpid());
	listen_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				      strlen(listen_addr.sun_path + 1));
	for (int i = 0; i < CLIENTS; i++)
		clients[i] = (struct client){ .fd = -1, .opener = -1 };
}

/* Back to a fresh, ACTIVE cell with no connection. */
static void reset_cell(uint8_t logout, uint8_t drain)
{
	/* The connection table stays, as in a long-lived init (it may be the
	 * init's static first block: never freed). */
	for (size_t i = 0; i < g.n_conns; i++)
		if (g.conns[i].kind != CONN_FREE)
			conn_close(i);
	g.n_sessions = 0;
	g.next_session_no = 0;
	g.state = NSCELL_CELL_ACTIVE;
	g.end_reason = NULL;
	set_timer(0, false);
	if (g.listenfd >= 0)
		close(g.listenfd);
	g.listenfd = -1;
	memset(&g.cfg, 0, sizeof(g.cfg));
	snprintf(g.cfg.cell_id, sizeof(g.cfg.cell_id), "session-00000000f0220000");
	g.cfg.logout = logout & 1 ? NSCELL_LOGOUT_DRAIN : NSCELL_LOGOUT_KILL;
	g.cfg.drain_limit_sec = drain % 4;
	for (int i = 0; i < CLIENTS; i++) {
		if (clients[i].fd >= 0)
			close(clients[i].fd);
		if (clients[i].opener >= 0)
			close(clients[i].opener);
		clients[i] = (struct client){ .fd = -1, .opener = -1 };
	}
}

static void check_invariants(void)
{
	unsigned sessions = 0;

	for (size_t i = 0; i < g.n_conns; i++) {
		struct conn *c = &g.conns[i];
		if (c->kind == CONN_SESSION) {
			sessions++;
			/* The connection may be gone (EOF without LEAVE): then
			 * the opener's exit ends the session. */
			if (c->opener < 0)
				abort();
		} else if (c->kind == CONN_PENDING) {
			if (c->fd < 0 || c->opener >= 0)
				abort();
		} else if (c->fd >= 0 || c->opener >= 0) {
			abort();
		}
	}
	if (sessions != g.n_sessions)
		abort();
	/* Ending either finishes at once (the lock is free here) or waits for
	 * the lock; it never stays ENDING with the lock free. */
	if (g.state == NSCELL_CELL_ENDING)
		abort();
	if (g.state == NSCELL_CELL_DRAINING && g.n_sessions > 0)
		abort();
}

/* One pass of the init's main loop, until nothing is ready. */
static void dispatch(void)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		struct epoll_event evs[16];
		int n = epoll_wait(g.epfd, evs, 16, 0);
		if (n <= 0)
			break;
		for (int k = 0; k < n; k++)
			conn_dispatch(evs[k].data.u64);
		check_invariants();
	}
}

/* Everything the init sent us: read it and close the descriptors it carried. */
static void drain_client(struct client *cl)
{
	char buf[sizeof(struct nscell_cell_status) + 16];
	int fds[4];
	size_t n_fds;

	if (cl->fd < 0)
		return;
	for (int i = 0; i < 8; i++) {
		ssize_t n = recv(cl->fd, buf, 0, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0)
			return;
		n = nscell_recv_fds(cl->fd, buf, sizeof(buf), fds, 4, &n_fds);
		if (n >= 0 || n == -EMSGSIZE)
			for (size_t k = 0; n >= 0 && k < n_fds; k++)
				close(fds[k]);
		if (n <= 0)
			return;
		/* Whatever was asked, in whatever version: the init answers in its
		 * own, with a head that tells the answer's true size. */
		struct nscell_msg_head h;
		if ((size_t)n < sizeof(h))
			abort();
		memcpy(&h, buf, sizeof(h));
		if (h.magic != NSCELL_PROTO_MAGIC || h.version != NSCELL_PROTO_VERSION ||
		    h.size != (size_t)n || (h.error < 0 && (size_t)n != sizeof(h)))
			abort();
	}
}

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static void send_message(struct input *in, struct client *cl, uint8_t how)
{
	union {
		struct nscell_cell_join join;
		struct nscell_msg_head head;
		uint32_t v0[2];
		uint8_t raw[sizeof(struct nscell_cell_join) + 8];
	} msg;
	static union {
		struct nscell_cell_join_same m;
		uint8_t raw[sizeof(struct nscell_cell_join_same) + 1]; /* one byte long */
	} same_buf;
	struct nscell_cell_join_same *same = &same_buf.m;
	const void *buf = &msg;
	size_t len;
	int fds[2], n_fds = 0, pipefd[2] = { -1, -1 };
	int self = -1;
	uint8_t form, op;

	memset(&msg, 0, sizeof(msg));
	switch ((how >> 4) & 3) {
	case 0: /* any bytes */
		len = next(in);
		for (size_t i = 0; i < len; i++)
			msg.raw[i] = next(in);
		break;
	case 1: /* a well-formed JOIN */
	case 3: /* a JOIN one byte short or long */
		nscell_cell_join_encode(&msg.join, (pid_t)(next(in) | next(in) << 8), NULL, NULL,
					NULL);
		/* Unterminated text fields: the init must bound them itself. */
		memset(msg.join.service, next(in) | 1, sizeof(msg.join.service));
		memset(msg.join.tty, next(in), sizeof(msg.join.tty));
		memset(msg.join.rhost, next(in), sizeof(msg.join.rhost));
		len = sizeof(msg.join);
		form = next(in);
		if (form & 1) {
			/* JOIN_SAME: the cell's own settings, or one byte off. */
			static struct nscell_settings part;
			size_t at = next(in);
			ssize_t n;

			at = (at | (size_t)next(in) << 8) % sizeof(part);
			init_settings_get(&part);
			if (form & 2)
				((uint8_t *)&part)[at] ^= 1;
			n = nscell_cell_join_same_encode(same, msg.join.opener_pid, NULL, NULL, NULL,
							 &part);
			if (n < 0)
				abort(); /* the cell's own part always fits */
			memcpy(same->join.service, msg.join.service, sizeof(msg.join.service));
			memcpy(same->join.tty, msg.join.tty, sizeof(msg.join.tty));
			memcpy(same->join.rhost, msg.join.rhost, sizeof(msg.join.rhost));
			/* Records cut or bent: the init must refuse, not read past. */
			if ((form & 4) && n > (ssize_t)sizeof(same->join) + 2)
				same_buf.raw[sizeof(same->join) +
					     next(in) % (n - (ssize_t)sizeof(same->join))] ^= next(in);
			buf = same;
			len = (size_t)n;
		}
		if (((how >> 4) & 3) == 3) {
			len += (next(in) & 1) ? 1 : (size_t)-1;
			/* a size that agrees: still wrong */
			if (buf == same)
				same->join.head.size = (uint32_t)len;
			else
				msg.join.head.size = (uint32_t)len;
		}
		break;
	default: /* a bare head: magic (or not), any op, in any version */
		form = next(in);
		op = next(in);
		nscell_msg_head_init(&msg.head, op % 7, sizeof(msg.head));
		len = sizeof(msg.head);
		switch ((form >> 3) & 3) {
		case 1: /* version 0: {magic, op}, what 0.1.0 and 0.2.0 send */
			msg.v0[1] = op % 6;
			len = sizeof(msg.v0);
			break;
		case 2: /* a newer version than the init's, maybe longer than any of its */
			msg.head.version = (uint16_t)(NSCELL_PROTO_VERSION + 1 + ((op >> 3) & 7));
			if (op & 0x80)
				len = sizeof(msg.raw);
			msg.head.size = (uint32_t)len;
			break;
		case 3: /* a head cut short */
			len = (size_t)(op >> 3) % sizeof(msg.head);
			break;
		default:
			break;
		}
		if (!(form & 7))
			msg.head.magic = 0x4e53434du;
		break;
	}

	switch ((how >> 2) & 3) {
	case 1:
		self = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (self < 0)
			abort();
		fds[n_fds++] = self;
		break;
	case 2:
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			abort();
		fds[n_fds++] = pipefd[0];
		break;
	case 3:
		self = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (self < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
			abort();
		fds[n_fds++] = pipefd[0];
		fds[n_fds++] = self;
		break;
	default:
		break;
	}
	(void)!nscell_send_fds(cl->fd, buf, len, fds, (size_t)n_fds);
	if (self >= 0)
		close(self);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0) {
		if (cl->opener >= 0)
			close(cl->opener);
		cl->opener = pipefd[1];
	}
}

static void run(struct input *in)
{
	while (in->left) {
		uint8_t op = next(in);
		struct client *cl = &clients[(op >> 3) & (CLIENTS - 1)];

		switch (op & 7) {
		case 0: /* connect */
			if (cl->fd >= 0)
				break;
			cl->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (cl->fd < 0)
				abort();
			if (connect(cl->fd, (struct sockaddr *)&listen_addr, listen_addr_len) < 0) {
				/* The cell closed its listener: it is ending. */
				close(cl->fd);
				cl->fd = -1;
			}
			break;
		case 1:
		case 2: /* a message, its template and fds from the next byte */
			if (cl->fd >= 0)
				send_message(in, cl, next(in));
			break;
		case 3: /* hang up */
			if (cl->fd >= 0)
				close(cl->fd);
			cl->fd = -1;
			break;
		case 4: /* the opener exits */
			if (cl->opener >= 0)
				close(cl->opener);
			cl->opener = -1;
			break;
		case 5: /* processes come and go in the cell */
			set_procs_busy(!procs_busy);
			break;
		case 6: /* read what the init answered */
			drain_client(cl);
			break;
		case 7: /* close_session's LEAVE */
			if (cl->fd >= 0)
				nscell_cell_leave(cl->fd, NSCELL_PROTO_VERSION);
			break;
		}
		dispatch();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool set_up;
	static struct open_fds before;
	struct input in = { data, size };
	uint8_t logout, drain;

	if (!set_up) {
		setup_once();
		set_up = true;
	}
	/* Nothing of the init's connections is open here: the last input
	 * ended with reset_cell(). */
	open_fds_get(&before);
	logout = next(&in);
	drain = next(&in);
	set_procs_busy(logout & 2);
	reset_cell(logout, drain);
	make_listener();

	exit_code = -1;
	if (setjmp(exit_jump) == 0) {
		run(&in);
	} else {
		/* The init exited: only ending the cell may do that, with 0. */
		if (exit_code != 0 || g.state != NSCELL_CELL_ENDING || g.listenfd >= 0)
			abort();
		for (size_t i = 0; i < g.n_conns; i++)
			if (g.conns[i].kind != CONN_FREE)
				abort(); /* it exits only after closing every connection */
	}

	reset_cell(0, 0);
	if (!open_fds_unchanged(&before))
		abort(); /* a descriptor the init received or made leaked, or it closed one not its own */
	return 0;
}

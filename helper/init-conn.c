/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-init's connections and sessions; see init-conn.h and, for what the
 * init is for, the top comment of init.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "init-conn.h"

#define MAX_CONNS 4096
#define INITIAL_CONNS 8

struct init_state g = { .listenfd = -1, .usernsfd = -1, .loginsfd = -1, .proc_path = "/proc" };

uint64_t now_usec(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void set_timer(uint64_t usec, bool periodic)
{
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)(usec / 1000000u);
	its.it_value.tv_nsec = (long)(usec % 1000000u) * 1000;
	if (usec == 0 && periodic)
		its.it_value.tv_nsec = 1;
	if (periodic)
		its.it_interval = its.it_value;
	timerfd_settime(g.timerfd, 0, &its, NULL);
}

/* Processes in the cell other than this init, from the cell's own /proc.
 * By getdents64 into a small buffer: opendir() would malloc its stream, and
 * the first malloc leaves a heap, its allocator's pages and a page table in
 * every init for good (an idle cell keeps no heap). */
unsigned count_processes(void)
{
	char b[1024];
	unsigned n = 0;
	long got;
	int d = open(g.proc_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (d < 0)
		return 0;
	while ((got = syscall(SYS_getdents64, d, b, sizeof(b))) > 0) {
		for (long p = 0; p < got;) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen;
			const char *name = b + p + 19, *q = name;
			long pid = 0;

			memcpy(&reclen, b + p + 16, sizeof(reclen));
			p += reclen;
			if (*q < '1' || *q > '9')
				continue;
			while (*q >= '0' && *q <= '9' && pid <= 0x3fffffff)
				pid = pid * 10 + (*q++ - '0');
			if (*q == '\0' && pid != 1 && (g.relay_pid <= 0 || pid != (long)g.relay_pid))
				n++;
		}
	}
	close(d);
	return n;
}

/* Scratch pages for what is too large for the stack (a page of stack once
 * touched stays with the init), given back once used. Asked for just past
 * the program's own data, in the range whose page tables it has anyway:
 * elsewhere they would be page tables of their own, kept for the init's
 * life after the pages are gone. */
void *init_scratch(size_t len)
{
	extern char _end[];
	uintptr_t page = 4096, near = ((uintptr_t)_end + 2 * page - 1) & ~(page - 1);
	void *p = mmap((void *)near, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void epoll_add(int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logf_(LOG_ERR, "event=init-error cell=%s error=\"epoll: %m\"", g.cfg.cell_id);
		init_exit(1);
	}
}

void conn_close(size_t i)
{
	struct conn *c = &g.conns[i];
	if (c->fd >= 0)
		close(c->fd);
	if (c->opener >= 0)
		close(c->opener);
	if (c->kind == CONN_SESSION)
		g.n_sessions--;
	*c = (struct conn){ .kind = CONN_FREE, .fd = -1, .opener = -1 };
}

static void last_session_gone(void)
{
	if (g.state != NSCELL_CELL_ACTIVE || g.n_sessions > 0)
		return;
	if (g.cfg.logout == NSCELL_LOGOUT_DRAIN && count_processes() > 0) {
		g.state = NSCELL_CELL_DRAINING;
		g.drain_deadline_usec = now_usec(CLOCK_MONOTONIC) + g.cfg.drain_limit_sec * 1000000u;
		logf_(LOG_INFO, "event=cell-draining cell=%s limit=%llus", g.cfg.cell_id,
		      (unsigned long long)g.cfg.drain_limit_sec);
		set_timer(1000000u, true);
		return;
	}
	end_cell(g.cfg.logout == NSCELL_LOGOUT_DRAIN ? "drained" : "logout");
}

static void session_end(size_t i, const char *reason)
{
	struct conn *c = &g.conns[i];
	logf_(LOG_INFO, "event=session-left cell=%s session=%u reason=%s", g.cfg.cell_id,
	      c->info.session_no, reason);
	conn_close(i);
	last_session_gone();
}

static int conn_slot(void)
{
	for (size_t i = 0; i < g.n_conns; i++)
		if (g.conns[i].kind == CONN_FREE)
			return (int)i;
	if (g.n_conns >= MAX_CONNS)
		return -1;
	size_t n = g.n_conns ? g.n_conns * 2 : INITIAL_CONNS;
	if (n > MAX_CONNS)
		n = MAX_CONNS;
	/* The first slots live in .bss: an idle cell has no heap at all. */
	static struct conn initial[INITIAL_CONNS];
	struct conn *nc;
	if (!g.conns) {
		nc = initial;
	} else {
		nc = g.conns == initial ? malloc(n * sizeof(*nc)) : realloc(g.conns, n * sizeof(*nc));
		if (!nc)
			return -1;
		if (g.conns == initial)
			memcpy(nc, initial, sizeof(initial));
	}
	for (size_t i = g.n_conns; i < n; i++)
		nc[i] = (struct conn){ .kind = CONN_FREE, .fd = -1, .opener = -1 };
	g.conns = nc;
	size_t first = g.n_conns;
	g.n_conns = n;
	return (int)first;
}

static void on_accept(void)
{
	for (;;) {
		int fd = accept4(g.listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct ucred cred;
		socklen_t sl = sizeof(cred);
		/* The socket lives in a root-only directory; check anyway. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0 || cred.uid != 0) {
			close(fd);
			continue;
		}
		int i = conn_slot();
		if (i < 0) {
			close(fd);
			continue;
		}
		g.conns[i].kind = CONN_PENDING;
		g.conns[i].fd = fd;
		epoll_add(fd, TAG_CONN | ((uint64_t)i << 8));
	}
}

static void reply(int fd, uint32_t op, int32_t error, uint32_t session_no, const int *fds,
		  size_t n_fds)
{
	struct nscell_cell_reply r = {
		.session_no = session_no,
		.namespaces = g.cfg.namespaces,
	};

	/* An error is the head alone (proto.h). */
	nscell_msg_head_init(&r.head, op, error < 0 ? sizeof(r.head) : sizeof(r));
	r.head.error = error;
	nscell_send_fds(fd, &r, r.head.size, fds, n_fds);
}

static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* JOIN, and JOIN_SAME once its settings agree: answered in its op. */
static void do_join(size_t i, uint32_t op, const struct nscell_cell_join *j, int opener)
{
	struct conn *c = &g.conns[i];

	if (g.state == NSCELL_CELL_ENDING || opener < 0) {
		reply(c->fd, op, -ESTALE, 0, NULL, 0);
		if (opener >= 0)
			close(opener);
		conn_close(i);
		return;
	}
	int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self < 0) {
		reply(c->fd, op, -errno, 0, NULL, 0);
		close(opener);
		conn_close(i);
		return;
	}
	c->kind = CONN_SESSION;
	c->opener = opener;
	c->info.session_no = ++g.next_session_no;
	c->info.opener_pid = j->opener_pid;
	c->info.joined_usec = now_usec(CLOCK_REALTIME);
	copy_field(c->info.service, sizeof(c->info.service), j->service);
	copy_field(c->info.tty, sizeof(c->info.tty), j->tty);
	copy_field(c->info.rhost, sizeof(c->info.rhost), j->rhost);
	g.n_sessions++;
	if (g.next_session_no == 1) {
		set_timer(0, false); /* the first-join deadline is met */
		prctl(PR_SET_PDEATHSIG, 0); /* the helper may go now */
	}
	if (g.state == NSCELL_CELL_DRAINING) {
		/* Someone came back (tmux reattach): the cell lives on. */
		g.state = NSCELL_CELL_ACTIVE;
		set_timer(0, false);
	}
	epoll_add(opener, TAG_OPENER | ((uint64_t)i << 8));
	{
		/* Receivers tell the namespaces after the pidfd by their type. */
		int fds[3] = { self, -1, -1 }, n = 1;
		if (g.usernsfd >= 0)
			fds[n++] = g.usernsfd;
		if (g.loginsfd >= 0)
			fds[n++] = g.loginsfd;
		reply(c->fd, op, 0, c->info.session_no, fds, (size_t)n);
	}
	close(self);
	/* Logged here, where every join lands (a new login, a login joining
	 * a user's cell, nscell run, nscell enter); after the answer, so the
	 * login does not wait for syslog. */
	logf_(LOG_INFO,
	      "event=session-joined cell=%s session=%u uid=%u service=%s tty=%s rhost=%s opener_pid=%d",
	      g.cfg.cell_id, c->info.session_no, (unsigned)g.cfg.uid,
	      c->info.service[0] ? c->info.service : "-", c->info.tty[0] ? c->info.tty : "-",
	      c->info.rhost[0] ? c->info.rhost : "-", (int)c->info.opener_pid);
}

static void do_status(size_t i)
{
	/* Every login of a user with MaxCells asks each of the user's cells:
	 * the answer (17 kB) lives in scratch pages only while it is sent. */
	struct nscell_cell_status *st = init_scratch(sizeof(*st));
	unsigned k = 0;

	if (!st) {
		reply(g.conns[i].fd, NSCELL_CELL_STATUS, -ENOMEM, 0, NULL, 0);
		conn_close(i);
		return;
	}
	nscell_msg_head_init(&st->head, NSCELL_CELL_STATUS, sizeof(*st));
	st->config = g.cfg;
	st->state = g.state;
	st->n_sessions = g.n_sessions;
	st->n_processes = count_processes();
	for (size_t s = 0; s < g.n_conns && k < NSCELL_STATUS_SESSIONS_MAX; s++)
		if (g.conns[s].kind == CONN_SESSION)
			st->sessions[k++] = g.conns[s].info;
	nscell_send_fds(g.conns[i].fd, st, sizeof(*st), NULL, 0);
	munmap(st, sizeof(*st));
	conn_close(i);
}

/* The settings, packed (proto.h): mostly unused string space (the view's
 * path lists alone are 5 kB), and a .bss page never written costs nothing.
 * In common storage, which the link puts after all of .bss: the pages they
 * leave unwritten lie past everything else. JOIN_SAME compares a login's
 * part with these bytes; SETTINGS gives them back unpacked. */
__attribute__((common)) unsigned char init_settings_kept[NSCELL_SETTINGS_PACKED_MAX];
static size_t kept_len;

void init_settings_keep(const struct nscell_settings *s)
{
	/* Cannot fail: the room is the bound (proto.h). */
	ssize_t n = nscell_settings_pack(s, init_settings_kept, sizeof(init_settings_kept));

	kept_len = n < 0 ? 0 : (size_t)n;
}

void init_settings_get(struct nscell_settings *s)
{
	(void)nscell_settings_unpack(init_settings_kept, kept_len, s);
}

static void do_settings(size_t i)
{
	/* 6 kB: scratch pages, not the stack. */
	struct nscell_cell_settings *a = init_scratch(sizeof(*a));

	if (!a) {
		reply(g.conns[i].fd, NSCELL_CELL_SETTINGS, -ENOMEM, 0, NULL, 0);
		conn_close(i);
		return;
	}
	init_settings_get(&a->settings);
	nscell_msg_head_init(&a->head, NSCELL_CELL_SETTINGS, sizeof(*a));
	nscell_send_fds(g.conns[i].fd, a, sizeof(*a), NULL, 0);
	munmap(a, sizeof(*a));
	conn_close(i);
}

static void on_conn(size_t i)
{
	struct conn *c = &g.conns[i];
	union {
		struct nscell_cell_join join;
		struct nscell_cell_join_same same; /* the largest: 1 kB */
		struct nscell_msg_head head;
	} msg;
	struct nscell_msg_head h;
	int fds[1];
	int rc;
	size_t n_fds = 0;
	ssize_t n;

	if (i >= g.n_conns || c->kind == CONN_FREE)
		return;
	n = nscell_recv_fds(c->fd, &msg, sizeof(msg), fds, 1, &n_fds);
	if (n == -EAGAIN)
		return;
	if (c->kind == CONN_SESSION) {
		if (n_fds)
			close(fds[0]);
		if (n > 0) { /* LEAVE (or garbage from our own module) */
			session_end(i, "close");
			return;
		}
		/* EOF: the opener dropped the socket without a LEAVE, or died
		 * (a dying process closes its fds before its pidfd reports).
		 * Either way the opener's own exit is what ends the session. */
		struct pollfd pfd = { .fd = c->opener, .events = POLLIN };
		if (poll(&pfd, 1, 0) > 0) {
			session_end(i, "opener-exit");
			return;
		}
		close(c->fd);
		c->fd = -1;
		return;
	}

	/* A pending connection: its first message says what it wants. Version
	 * 0 (or not ours at all): close, as a version 0 init does with what it
	 * does not know. A newer version: say which one we speak. */
	if (n == -EMSGSIZE) {
		/* Longer than any request of ours, a newer version's maybe:
		 * what arrived is its start. */
		rc = nscell_msg_head_decode(&msg, sizeof(msg), &h);
		if (rc == 0)
			rc = -EPROTO;
	} else {
		rc = n > 0 ? nscell_msg_head_decode(&msg, (size_t)n, &h) : -EPROTO;
	}
	if (rc < 0) {
		if (n_fds)
			close(fds[0]);
		if (rc == -EPROTONOSUPPORT)
			reply(c->fd, h.op, -EPROTONOSUPPORT, 0, NULL, 0);
		conn_close(i);
		return;
	}
	if (h.op != NSCELL_CELL_JOIN && h.op != NSCELL_CELL_JOIN_SAME &&
	    n != (ssize_t)sizeof(msg.head)) {
		if (n_fds)
			close(fds[0]);
		reply(c->fd, h.op, -EPROTO, 0, NULL, 0);
		conn_close(i);
		return;
	}
	switch (h.op) {
	case NSCELL_CELL_JOIN:
		if (nscell_cell_join_check(&msg.join, (size_t)n) < 0 || n_fds != 1) {
			if (n_fds)
				close(fds[0]);
			reply(c->fd, NSCELL_CELL_JOIN, -EPROTO, 0, NULL, 0);
			conn_close(i);
			return;
		}
		do_join(i, NSCELL_CELL_JOIN, &msg.join, fds[0]);
		return;
	case NSCELL_CELL_JOIN_SAME:
		/* Joined only with the cell-level settings this cell was made
		 * with, byte for byte (proto.h). */
		rc = n_fds == 1 ? nscell_cell_join_same_check(&msg.same, (size_t)n, init_settings_kept,
							      kept_len) :
				  -EPROTO;
		if (rc < 0) {
			if (n_fds)
				close(fds[0]);
			reply(c->fd, NSCELL_CELL_JOIN_SAME, rc, 0, NULL, 0);
			conn_close(i);
			return;
		}
		do_join(i, NSCELL_CELL_JOIN_SAME, &msg.same.join, fds[0]);
		return;
	case NSCELL_CELL_STATUS:
		if (n_fds)
			close(fds[0]);
		do_status(i);
		return;
	case NSCELL_CELL_SETTINGS:
		if (n_fds)
			close(fds[0]);
		do_settings(i);
		return;
	case NSCELL_CELL_TERMINATE:
		if (n_fds)
			close(fds[0]);
		reply(c->fd, NSCELL_CELL_TERMINATE, 0, 0, NULL, 0);
		conn_close(i);
		end_cell("terminated");
		return;
	default:
		if (n_fds)
			close(fds[0]);
		reply(c->fd, h.op, -EOPNOTSUPP, 0, NULL, 0);
		conn_close(i);
		return;
	}
}

/* Try to finish ending; returns only if the user's lock is busy. */
static void try_finish(void)
{
	char name[NSCELL_CELL_ID_MAX + 8];

	if (flock(g.lockfd, LOCK_EX | LOCK_NB) < 0) {
		set_timer(10000u, true); /* a helper is mid-join: serve it, retry */
		return;
	}
	snprintf(name, sizeof(name), "%s.sock", g.cfg.cell_id);
	{
		struct stat st;
		if (g.sock_ino && fstatat(g.cellsfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ino == g.sock_ino)
			unlinkat(g.cellsfd, name, 0);
	}
	close(g.listenfd);
	g.listenfd = -1;
	flock(g.lockfd, LOCK_UN);

	for (size_t i = 0; i < g.n_conns; i++)
		if (g.conns[i].kind != CONN_FREE)
			conn_close(i);
	init_kill_all();
	logf_(LOG_INFO, "event=cell-ended cell=%s reason=%s", g.cfg.cell_id, g.end_reason);
	init_exit(0);
}

void end_cell(const char *reason)
{
	if (g.state == NSCELL_CELL_ENDING)
		return;
	g.state = NSCELL_CELL_ENDING;
	g.end_reason = reason;
	try_finish();
}

static void on_timer(void)
{
	uint64_t ticks;
	if (read(g.timerfd, &ticks, sizeof(ticks)) < 0)
		return;
	if (g.state == NSCELL_CELL_ENDING) {
		try_finish();
		return;
	}
	if (g.state == NSCELL_CELL_ACTIVE && g.next_session_no == 0) {
		end_cell("never-joined");
		return;
	}
	if (g.state != NSCELL_CELL_DRAINING)
		return;
	if (count_processes() == 0)
		end_cell("drained");
	else if (now_usec(CLOCK_MONOTONIC) >= g.drain_deadline_usec)
		end_cell("drain-limit");
}

void conn_dispatch(uint64_t tag)
{
	size_t idx = (size_t)(tag >> 8);

	switch (tag & 0xff) {
	case TAG_LISTEN:
		if (g.listenfd >= 0)
			on_accept();
		break;
	case TAG_TIMER:
		on_timer();
		break;
	case TAG_CONN:
		on_conn(idx);
		break;
	case TAG_OPENER:
		if (idx < g.n_conns && g.conns[idx].kind == CONN_SESSION)
			session_end(idx, "opener-exit");
		break;
	default:
		break;
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user manager relay: `systemctl --user` inside a cell.
 *
 * systemctl --user connects to $XDG_RUNTIME_DIR/systemd/private and wants
 * the peer's pid from SO_PEERCRED. The user's manager runs outside the
 * cell's pid namespace, so that pid reads 0, and systemd 257 gives up
 * ("Failed to connect to user scope bus via local transport"). So a cell
 * whose user has a manager socket at creation gets a socket of its own over
 * that path (in the cell's mount namespace only), served by nscell-relay:
 * a process of the cell, running as the user, that relays each connection
 * to the real socket. systemctl sees a peer with a visible pid and its own
 * uid; the manager sees the user (AUTH EXTERNAL must name the uid that
 * connected, and it is the user's).
 *
 * Why a process of the user's own and not the cell's init: the init is
 * root with CAP_KILL only; connecting as the user would need CAP_SETUID or
 * CAP_DAC_OVERRIDE in PID 1, and every byte and fd a user sends would be
 * parsed by the process that ends every session of the cell. The relay has
 * the user's rights and no others (all ids the user's, no capabilities,
 * no_new_privs, not dumpable): what a hostile client can do to it (flood,
 * stall, crash, kill it) it can do to its own processes anyway, and the only
 * thing it reaches, the user's own manager, the user reaches from outside
 * the cell too (and from inside through the user's D-Bus). With a user
 * namespace in the policy the sessions see root as nobody: the relay's uid
 * is mapped, the init's is not. The init leaves it out of the count of the
 * cell's processes (its pid is NSCELL_RELAY_PID), so a cell still ends when its
 * sessions are gone, and its kill(-1) takes it away.
 *
 * Setup (relay_start, in the setup child, root, before the init's exec):
 *   1. a scratch tmpfs over RUNDIR in the cell's mount namespace; bind a
 *      socket there, owned by the user 0600; clone it with open_tree();
 *   2. fork the relay: it closes every fd but the socket and a detached
 *      clone of /run/user/UID/systemd (open_tree on the O_PATH fd the walk
 *      as the user found), becomes the user, listen()s (SO_PEERCRED is the
 *      listener's: its pid and uid) and says so on a pipe;
 *   3. only then is the clone moved over the private socket, by fd; the
 *      scratch tmpfs is detached. A relay that did not come up in
 *      RELAY_READY_MS is killed and the socket covered with /dev/null.
 *
 * The relay: one poll() loop over fixed arrays. RELAY_CONNS_MAX connections
 * at a time (further ones wait in the backlog), each with one RELAY_BUF
 * buffer and up to RELAY_FDS_MAX descriptors per direction; nothing is
 * allocated. Each connection to the real socket is made anew through the
 * detached clone (/proc/self/fd/N/private: resolved in a mount of its own,
 * not the cell's, so not to ourselves), which also finds the socket of a
 * manager that re-executed; non-blocking, retried until RELAY_CONNECT_MS.
 * Bytes pass unchanged. SCM_RIGHTS fds (sd-bus negotiates them) pass with
 * the bytes they came with; since a stream read can join the tail of one
 * message to the next one and its fds, reads stop at D-Bus message
 * boundaries: the text of the authentication up to the client's BEGIN and
 * the server's matching replies, then the 16-byte fixed header, which gives
 * each message's length. A peer breaking the framing gets its own
 * connection closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#define RELAY_CONNS_MAX 16
#define RELAY_BUF 8192
#define RELAY_FDS_MAX 253 /* SCM_MAX_FD: the most one message can carry */
#define RELAY_CONNECT_MS 5000
#define RELAY_READY_MS 2000
#define RELAY_FD_LISTEN 3
#define RELAY_FD_UPSTREAM 4 /* detached clone of /run/user/UID/systemd */
#define RELAY_SCRATCH NSCELL_RUNDIR "/user-manager"
#define DBUS_HEAD 16
#define DBUS_MESSAGE_MAX (128u << 20) /* the D-Bus specification's limit */

enum frame { FRAME_TEXT, FRAME_HEAD, FRAME_BODY };

/* What a direction knows of the authentication text it has passed. */
struct text_state {
	unsigned lines; /* complete lines, BEGIN not counted */
	char line[8];   /* the current line's start, NULs and CR left out */
	size_t line_len;
	bool done;      /* binary from the next byte on */
};

struct dir {
	char buf[RELAY_BUF];
	size_t len, off; /* bytes read, bytes of those written */
	int fds[RELAY_FDS_MAX];
	size_t n_fds;    /* received with buf, go out with its first write */
	bool eof, shut;
	bool boundary;   /* the next byte read starts a message: only into an empty buf */
	enum frame frame;
	struct text_state text;
	uint8_t head[DBUS_HEAD];
	size_t head_len;
	uint64_t left;   /* FRAME_BODY: bytes left in the message */
};

struct pair {
	bool used, connecting;
	int fd[2]; /* 0: the client in the cell, 1: the manager */
	uint64_t deadline_ms;
	struct dir d[2]; /* d[0]: client to manager, d[1]: manager to client */
};

static struct pair pairs[RELAY_CONNS_MAX];
static uint64_t accept_paused_until; /* out of fds or memory: not in a busy loop */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void dir_reset(struct dir *d)
{
	for (size_t i = 0; i < d->n_fds; i++)
		close(d->fds[i]);
	d->n_fds = d->len = d->off = d->head_len = 0;
	d->left = 0;
	d->eof = d->shut = d->boundary = false;
	d->frame = FRAME_TEXT;
	memset(&d->text, 0, sizeof(d->text));
}

static void pair_close(struct pair *p)
{
	for (int k = 0; k < 2; k++) {
		if (p->fd[k] >= 0)
			close(p->fd[k]);
		dir_reset(&p->d[k]);
	}
	p->used = p->connecting = false;
	p->fd[0] = p->fd[1] = -1;
}

/*
 * Scan authentication text: how many of these bytes are still text (all of
 * them, or up to the end of the line after which the direction is binary).
 * The client's text ends with its BEGIN line; the server answers each
 * other line of the client with one line, so its text ends once it has
 * answered all of them (`client`: the client's state, for the server).
 */
static size_t text_scan(struct text_state *t, const struct text_state *client, const char *b,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (c != '\n') {
			if (c != '\0' && c != '\r' && t->line_len < sizeof(t->line))
				t->line[t->line_len] = c;
			if (c != '\0' && c != '\r')
				t->line_len++;
			continue;
		}
		bool begin = !client && t->line_len == 5 && memcmp(t->line, "BEGIN", 5) == 0;
		t->line_len = 0;
		if (begin) {
			t->done = true;
			return i + 1;
		}
		t->lines++;
		if (client && client->done && t->lines >= client->lines) {
			t->done = true;
			return i + 1;
		}
	}
	return n;
}

/* After n more bytes of a binary message: where its framing stands. */
static int frame_advance(struct dir *d, const char *b, size_t n)
{
	while (n > 0) {
		if (d->frame == FRAME_HEAD) {
			size_t k = DBUS_HEAD - d->head_len;
			if (k > n)
				k = n;
			memcpy(d->head + d->head_len, b, k);
			d->head_len += k;
			b += k;
			n -= k;
			if (d->head_len < DBUS_HEAD)
				continue;
			uint32_t body, fields;
			const uint8_t *h = d->head;
			if (h[0] == 'l') {
				body = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
				fields = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
			} else if (h[0] == 'B') {
				body = (uint32_t)h[7] | (uint32_t)h[6] << 8 | (uint32_t)h[5] << 16 | (uint32_t)h[4] << 24;
				fields = (uint32_t)h[15] | (uint32_t)h[14] << 8 | (uint32_t)h[13] << 16 | (uint32_t)h[12] << 24;
			} else {
				return -EBADMSG;
			}
			if (body > DBUS_MESSAGE_MAX || fields > DBUS_MESSAGE_MAX)
				return -EBADMSG;
			d->head_len = 0;
			d->left = (((uint64_t)fields + 7) & ~(uint64_t)7) + body;
			d->frame = d->left ? FRAME_BODY : FRAME_HEAD;
			d->boundary = d->left == 0;
		} else {
			size_t k = n < d->left ? n : (size_t)d->left;
			d->left -= k;
			b += k;
			n -= k;
			if (d->left == 0) {
				d->frame = FRAME_HEAD;
				d->boundary = true;
			}
		}
	}
	return 0;
}

/* How many bytes may be read into d now without crossing a message. */
static size_t dir_room(const struct dir *d)
{
	size_t space = RELAY_BUF - d->len;

	if (d->eof || d->n_fds || (d->len && d->boundary) || space == 0)
		return 0;
	if (d->frame == FRAME_HEAD && space > DBUS_HEAD - d->head_len)
		return DBUS_HEAD - d->head_len;
	if (d->frame == FRAME_BODY && space > d->left)
		return (size_t)d->left;
	return space;
}

/* Read what may be read; 0, or -1 to end the connection. */
static int dir_read(struct dir *d, int from, const struct text_state *client)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
	} cm;
	size_t room = dir_room(d);
	struct text_state t = d->text;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	ssize_t n;

	if (d->frame == FRAME_TEXT && client && client->done && t.lines >= client->lines) {
		/* The server has answered every line before the client's BEGIN. */
		d->text.done = true;
		d->frame = FRAME_HEAD;
		d->boundary = true;
		room = dir_room(d);
	}
	if (room == 0)
		return 0;
	if (d->frame == FRAME_TEXT) {
		/* Look first, then take exactly the text. */
		n = recv(from, d->buf + d->len, room, MSG_PEEK | MSG_DONTWAIT);
		if (n > 0)
			room = text_scan(&t, client, d->buf + d->len, (size_t)n);
	}
	iov = (struct iovec){ .iov_base = d->buf + d->len, .iov_len = room };
	n = recvmsg(from, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, in + i, sizeof(fd));
			if (d->n_fds < RELAY_FDS_MAX)
				d->fds[d->n_fds++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		return -1; /* fds were lost: the message can no longer be passed on whole */
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	d->boundary = false;
	if (d->frame == FRAME_TEXT) {
		if ((size_t)n != room)
			return -1; /* less than we looked at: cannot be, we are the one reader */
		d->text = t;
		d->len += (size_t)n;
		if (t.done) {
			d->frame = FRAME_HEAD;
			d->boundary = true;
		}
		return 0;
	}
	if (frame_advance(d, d->buf + d->len, (size_t)n) < 0)
		return -1;
	d->len += (size_t)n;
	return 0;
}

/* Write what is read; 0, or -1 to end the connection. */
static int dir_write(struct dir *d, int to)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
	} cm;
	struct iovec iov = { .iov_base = d->buf + d->off, .iov_len = d->len - d->off };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (d->len > d->off) {
		if (d->n_fds) {
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * d->n_fds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * d->n_fds);
			memcpy(CMSG_DATA(c), d->fds, sizeof(int) * d->n_fds);
		}
		n = sendmsg(to, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		for (size_t i = 0; i < d->n_fds; i++)
			close(d->fds[i]);
		d->n_fds = 0;
		d->off += (size_t)n;
		if (d->off == d->len)
			d->off = d->len = 0;
	}
	if (d->eof && d->len == 0 && !d->shut) {
		shutdown(to, SHUT_WR);
		d->shut = true;
	}
	return 0;
}

static void upstream_connect(struct pair *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/private", RELAY_FD_UPSTREAM);
	if (connect(p->fd[1], (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		p->connecting = false;
		return;
	}
	/* A full backlog (EAGAIN on a non-blocking AF_UNIX connect): again
	 * later, until the deadline. Anything else, or too late: give up. */
	if ((errno != EAGAIN && errno != EINTR) || now_ms() >= p->deadline_ms)
		pair_close(p);
}

static void on_accept(void)
{
	struct pair *p = NULL;
	int c;

	for (size_t i = 0; i < RELAY_CONNS_MAX && !p; i++)
		if (!pairs[i].used)
			p = &pairs[i];
	if (!p)
		return;
	c = accept4(RELAY_FD_LISTEN, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			accept_paused_until = now_ms() + 100;
		return;
	}
	p->used = p->connecting = true;
	p->fd[0] = c;
	p->fd[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->deadline_ms = now_ms() + RELAY_CONNECT_MS;
	for (int k = 0; k < 2; k++)
		dir_reset(&p->d[k]);
	if (p->fd[1] < 0) {
		pair_close(p);
		return;
	}
	upstream_connect(p);
}

static _Noreturn void relay_loop(void)
{
	for (size_t i = 0; i < RELAY_CONNS_MAX; i++)
		pairs[i] = (struct pair){ .fd = { -1, -1 } };
	for (;;) {
		struct pollfd pfd[1 + 2 * RELAY_CONNS_MAX];
		size_t used = 0;
		bool connecting = false, paused = now_ms() < accept_paused_until;

		for (size_t i = 0; i < RELAY_CONNS_MAX; i++) {
			struct pair *p = &pairs[i];
			for (int k = 0; k < 2; k++) {
				short ev = 0;
				if (p->used && !p->connecting) {
					/* fd k is read for d[k] and written for d[1-k]. */
					if (dir_room(&p->d[k]))
						ev |= POLLIN;
					if (p->d[1 - k].len > p->d[1 - k].off)
						ev |= POLLOUT;
				}
				/* Not asked for anything: not polled (a hangup
				 * would wake us again and again). */
				pfd[1 + 2 * i + (size_t)k] = (struct pollfd){ .fd = ev ? p->fd[k] : -1,
									    .events = ev };
			}
			if (p->used) {
				used++;
				connecting |= p->connecting;
			}
		}
		pfd[0] = (struct pollfd){ .fd = used < RELAY_CONNS_MAX && !paused ? RELAY_FD_LISTEN : -1,
					  .events = POLLIN };
		if (poll(pfd, 1 + 2 * RELAY_CONNS_MAX, connecting ? 20 : paused ? 100 : -1) < 0 &&
		    errno != EINTR)
			_exit(1);
		if (pfd[0].revents & POLLIN)
			on_accept();
		for (size_t i = 0; i < RELAY_CONNS_MAX; i++) {
			struct pair *p = &pairs[i];
			if (!p->used)
				continue;
			if (p->connecting) {
				upstream_connect(p);
				continue;
			}
			int rc = 0;
			for (int k = 0; k < 2 && rc == 0; k++) {
				short re = pfd[1 + 2 * i + (size_t)k].revents;
				if (re & (POLLIN | POLLHUP | POLLERR))
					rc = dir_read(&p->d[k], p->fd[k], k == 1 ? &p->d[0].text : NULL);
			}
			for (int k = 0; k < 2 && rc == 0; k++)
				rc = dir_write(&p->d[k], p->fd[1 - k]);
			if (rc < 0 || (p->d[0].shut && p->d[1].shut))
				pair_close(p);
		}
	}
}

/* The relay process: fds RELAY_FD_LISTEN and RELAY_FD_UPSTREAM, ready. */
static _Noreturn void relay_child(int sock, int updir, int ready, uid_t uid, gid_t gid)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	/* Only what it uses, at fixed numbers; fds 0-2 on /dev/null (the
	 * caller's, for the run verb, must not be held open by a cell). */
	if (null < 0)
		_exit(1);
	int want[3] = { sock, updir, ready };
	int high[3];
	for (int i = 0; i < 3; i++)
		if ((high[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 64)) < 0)
			_exit(1);
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(null, fd) < 0)
			_exit(1);
	if (dup2(high[0], RELAY_FD_LISTEN) < 0 || dup2(high[1], RELAY_FD_UPSTREAM) < 0 ||
	    dup2(high[2], 5) < 0)
		_exit(1);
	syscall(SYS_close_range, 6, ~0U, 0);

	/* The user, and nothing more: credentials in the order groups, gid,
	 * uid; changing them also leaves us not dumpable. */
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(1);
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		_exit(1);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NAME, "nscell-relay");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fcntl(RELAY_FD_LISTEN, F_SETFL, O_NONBLOCK);

	/* SO_PEERCRED of every connection is this call's: our pid, the user. */
	if (listen(RELAY_FD_LISTEN, 64) < 0)
		_exit(1);
	if (write(5, "1", 1) != 1)
		_exit(1);
	close(5);
	relay_loop();
}

pid_t relay_start(uid_t uid, gid_t gid, int sysd, int target)
{
	_cleanup_close_ int sock = -1, updir = -1, path = -1, tree = -1;
	int ready[2] = { -1, -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t pid = -1;
	char c;

	/* The detached clone the relay reaches the real socket through: a
	 * mount of its own, without what we put over "private" below. */
	updir = (int)syscall(SYS_open_tree, sysd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (updir < 0)
		return -errno;
	if (mount("nscell", NSCELL_RUNDIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0700,size=4k,nr_inodes=4") < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", RELAY_SCRATCH);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchownat(AT_FDCWD, RELAY_SCRATCH, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(AT_FDCWD, RELAY_SCRATCH, 0600, 0) < 0)
		goto fail;
	path = open(RELAY_SCRATCH, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path < 0)
		goto fail;
	tree = (int)syscall(SYS_open_tree, path, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0 || pipe2(ready, O_CLOEXEC) < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		relay_child(sock, updir, ready[1], uid, gid);
	close(ready[1]);
	ready[1] = -1;
	{
		struct pollfd p = { .fd = ready[0], .events = POLLIN };
		if (poll(&p, 1, RELAY_READY_MS) != 1 || read(ready[0], &c, 1) != 1)
			goto fail;
	}
	if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		goto fail;
	close(ready[0]);
	umount2(NSCELL_RUNDIR, MNT_DETACH);
	return pid;
fail: {
	int err = errno ? errno : EIO;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	umount2(NSCELL_RUNDIR, MNT_DETACH);
	return -err;
}
}

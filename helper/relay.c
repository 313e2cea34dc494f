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
 * relay-start.c starts it from the setup child (root), before the init's
 * exec: a socket of its own bound on a scratch tmpfs, the user's ids,
 * no_new_privs, exec of this small static program (~50 kB private while
 * relaying, not a copy of the helper's memory). It listen()s:
 * SO_PEERCRED of every connection is the listener's, its pid and the user.
 * Only then is the socket mounted over the private one.
 *
 * The relay: one poll() loop over fixed arrays. RELAY_CONNS_MAX connections
 * at a time (further ones wait in the backlog), each with one RELAY_BUF
 * buffer and up to RELAY_FDS_MAX descriptors per direction, mapped at
 * accept and unmapped at close: at most RELAY_CONNS_MAX times 18 kB.
 * Each connection to the real socket is made anew through the detached clone (/proc/self/fd/N/private: resolved in a mount of its own,
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
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>


#define RELAY_CONNS_MAX 16
#define RELAY_BUF 8192
#define RELAY_FDS_MAX 253 /* SCM_MAX_FD: the most one message can carry */
#define RELAY_CONNECT_MS 5000
#define RELAY_FD_LISTEN 3
#define RELAY_FD_UPSTREAM 4 /* detached clone of /run/user/UID/systemd */
#define RELAY_FD_READY 5    /* a pipe: one byte once listening */
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
	struct dir *d; /* [0]: client to manager, [1]: manager to client; mapped
			* while the connection lasts, so an idle relay holds none */
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
		if (p->d)
			dir_reset(&p->d[k]);
	}
	if (p->d)
		munmap(p->d, 2 * sizeof(struct dir));
	p->d = NULL;
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
	p->d = mmap(NULL, 2 * sizeof(struct dir), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->d == MAP_FAILED) {
		p->d = NULL;
		pair_close(p);
		return;
	}
	for (int k = 0; k < 2; k++)
		dir_reset(&p->d[k]);
	if (p->fd[1] < 0) {
		pair_close(p);
		return;
	}
	upstream_connect(p);
}

/* One round for a connection after poll(): read what came, write what is read. */
static void pair_step(struct pair *p, const short revents[2])
{
	int rc = 0;

	if (p->connecting) {
		upstream_connect(p);
		return;
	}
	for (int k = 0; k < 2 && rc == 0; k++)
		if (revents[k] & (POLLIN | POLLHUP | POLLERR))
			rc = dir_read(&p->d[k], p->fd[k], k == 1 ? &p->d[0].text : NULL);
	for (int k = 0; k < 2 && rc == 0; k++)
		rc = dir_write(&p->d[k], p->fd[1 - k]);
	if (rc < 0 || (p->d[0].shut && p->d[1].shut))
		pair_close(p);
}

static _Noreturn void relay_loop(void)
{
	for (size_t i = 0; i < RELAY_CONNS_MAX; i++)
		pairs[i].fd[0] = pairs[i].fd[1] = -1;
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
			short re[2] = { pfd[1 + 2 * i].revents, pfd[2 + 2 * i].revents };
			pair_step(p, re);
		}
	}
}

int main(int argc, char **argv)
{
	sigset_t none;
	struct stat st;

	/* Not dumpable from the start: the user's processes share our uid. */
	prctl(PR_SET_DUMPABLE, 0);
	if (argc != 1 || fstat(RELAY_FD_LISTEN, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    fstat(RELAY_FD_READY, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		static const char msg[] = "nscell-relay: started by nscell-helper in a cell only\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		return 1;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fcntl(RELAY_FD_LISTEN, F_SETFL, O_NONBLOCK);
	for (int fd = RELAY_FD_LISTEN; fd <= RELAY_FD_READY; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);

	/* SO_PEERCRED of every connection is this call's: our pid, the user. */
	if (listen(RELAY_FD_LISTEN, 64) < 0)
		return 1;
	if (write(RELAY_FD_READY, "1", 1) != 1)
		return 1;
	close(RELAY_FD_READY);
	relay_loop();
}

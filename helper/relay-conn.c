/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-relay's connections; see relay-conn.h and, for what the relay is
 * for, the top comment of relay.c.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay-conn.h"

#define DBUS_MESSAGE_MAX (128u << 20) /* the D-Bus specification's limit */

void dir_reset(struct dir *d)
{
	for (size_t i = 0; i < d->n_fds; i++)
		close(d->fds[i]);
	d->n_fds = d->len = d->off = d->head_len = 0;
	d->left = 0;
	d->eof = d->shut = d->boundary = false;
	d->frame = FRAME_TEXT;
	memset(&d->text, 0, sizeof(d->text));
}

void pair_close(struct pair *p)
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
size_t dir_room(const struct dir *d)
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

/* One round for a connection after poll(): read what came, write what is read. */
void pair_step(struct pair *p, const short revents[2])
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

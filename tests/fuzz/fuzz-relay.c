/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: nscell-relay's handling of one connection, driven
 * through the relay's own code (helper/relay-conn.c is linked into this
 * target).
 * A client (the cell's side) and a manager each send any bytes in any
 * pieces, descriptors attached to any piece, and shut down their side; the
 * relay's connection, between two socketpairs, takes one step after each.
 * The text of the authentication, D-Bus headers of any lengths, and bytes
 * that are neither, all reach the framing.
 *
 * Beyond ASan/UBSan, checked: what each side receives is a prefix of what
 * the other sent (bytes pass unchanged, or the connection ends), never more
 * descriptors than the other side sent; and once the run is over, the
 * connection's buffers are unmapped and the open descriptors are exactly
 * those open before it.
 *
 * Input: records of [op, len, len bytes]; op bit 0: the side (client,
 * manager), bits 1-2: write, write with an fd, shut down writing, or only
 * step.
 *
 * The connection is connected to its manager from the start, so what
 * relay-conn.c asks of the program around it (the connect) is never asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "open-fds.h"
#include "relay-conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENT_MAX 65536

void upstream_connect(struct pair *p)
{
	abort();
}

static struct {
	uint8_t sent[2][SENT_MAX], got[2][SENT_MAX];
	size_t n_sent[2], n_got[2], fds_sent[2], fds_got[2];
} io;

/* Everything waiting at a side's end: kept, descriptors counted and closed. */
static void drain(int fd, int side)
{
	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
		} cm;
		uint8_t b[4096];
		struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int x;
				memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(x));
				close(x);
				io.fds_got[side]++;
			}
		}
		if (io.n_got[side] + (size_t)n > SENT_MAX)
			abort();
		memcpy(io.got[side] + io.n_got[side], b, (size_t)n);
		io.n_got[side] += (size_t)n;
	}
}

static void step(struct pair *p, int ends[2])
{
	static const short all[2] = { POLLIN | POLLOUT, POLLIN | POLLOUT };

	if (p->used)
		pair_step(p, all);
	/* ends[0] is the client's, and receives what the manager sent. */
	drain(ends[0], 0);
	drain(ends[1], 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct open_fds before;
	int cl[2], up[2], null;
	struct pair p = { .used = true, .fd = { -1, -1 } };

	open_fds_get(&before);
	memset(&io, 0, sizeof(io));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, cl) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, up) < 0)
		abort();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	p.fd[0] = cl[1];
	p.fd[1] = up[0];
	p.d = mmap(NULL, 2 * sizeof(struct dir), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (null < 0 || p.d == MAP_FAILED)
		abort();
	dir_reset(&p.d[0]);
	dir_reset(&p.d[1]);
	int ends[2] = { cl[0], up[1] };

	while (size >= 2) {
		int side = data[0] & 1, kind = (data[0] >> 1) & 3;
		size_t len = data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if ((kind == 0 || kind == 1) && p.used && io.n_sent[side] + len <= SENT_MAX) {
			/* Only what the kernel took counts as sent. */
			ssize_t n;
			{
				union {
					struct cmsghdr h;
					char buf[CMSG_SPACE(sizeof(int))];
				} cm;
				struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
				struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
				if (kind == 1) {
					memset(&cm, 0, sizeof(cm));
					mh.msg_control = cm.buf;
					mh.msg_controllen = sizeof(cm.buf);
					struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
					c->cmsg_level = SOL_SOCKET;
					c->cmsg_type = SCM_RIGHTS;
					c->cmsg_len = CMSG_LEN(sizeof(int));
					memcpy(CMSG_DATA(c), &null, sizeof(int));
				}
				n = len ? sendmsg(ends[side], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
			}
			if (n > 0) {
				memcpy(io.sent[side] + io.n_sent[side], data, (size_t)n);
				io.n_sent[side] += (size_t)n;
				if (kind == 1)
					io.fds_sent[side]++;
			}
		} else if (kind == 2) {
			shutdown(ends[side], SHUT_WR);
		}
		data += len;
		size -= len;
		step(&p, ends);
	}
	for (int i = 0; i < 8; i++)
		step(&p, ends);

	/* ends[0] got what the manager (side 1) sent, and the reverse. */
	if (io.n_got[0] > io.n_sent[1] || memcmp(io.got[0], io.sent[1], io.n_got[0]) != 0)
		abort();
	if (io.n_got[1] > io.n_sent[0] || memcmp(io.got[1], io.sent[0], io.n_got[1]) != 0)
		abort();
	if (io.fds_got[0] > io.fds_sent[1] || io.fds_got[1] > io.fds_sent[0])
		abort();
	if (p.used)
		pair_close(&p);
	if (p.d)
		abort();
	close(cl[0]);
	close(up[1]);
	close(null);
	if (!open_fds_unchanged(&before))
		abort();
	return 0;
}

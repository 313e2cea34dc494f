/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: nscell_recv_fds() on what a peer can put on an AF_UNIX
 * SOCK_SEQPACKET socket: any payload, 0..40 file descriptors spread over one
 * or more SCM_RIGHTS messages, SCM_CREDENTIALS, a receive buffer shorter
 * than the message, and any max_fds. Every program of nscell receives
 * through it (module <- helper, helper <- init, init <- helper).
 *
 * Checked: the return value is the message length, -EMSGSIZE exactly when
 * the payload or the descriptors did not fit, or EOF; at most max_fds
 * descriptors come back, each open and close-on-exec, unused slots are -1;
 * and once the caller closes what it got, not one descriptor is left open
 * (the "never leak what we did not ask for" promise).
 *
 * Input layout: byte 0 = flags, byte 1 = number of fds to send, byte 2 =
 * max_fds, byte 3 = receive buffer length, then the payload.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "open-fds.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FDS_MAX 40

/* Send `payload` with `n` fds (dups of `src`), in `parts` SCM_RIGHTS headers. */
static int send_msg(int sock, const void *payload, size_t len, int src, size_t n, size_t parts)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDS_MAX) * 4];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	size_t per, left = n, used = 0;

	if (n > 0) {
		memset(&control, 0, sizeof(control));
		if (parts == 0 || parts > n)
			parts = 1;
		per = (n + parts - 1) / parts;
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		while (left > 0 && c) {
			size_t k = left < per ? left : per;
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * k);
			for (size_t i = 0; i < k; i++)
				memcpy(CMSG_DATA(c) + i * sizeof(int), &src, sizeof(int));
			used += CMSG_SPACE(sizeof(int) * k);
			left -= k;
			c = CMSG_NXTHDR(&msg, c); /* against the whole buffer */
		}
		msg.msg_controllen = used;
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct open_fds before;
	uint8_t payload_buf[512];
	uint8_t rbuf[256 + 16];
	int fds[FDS_MAX + 1];
	int sv[2], src;
	size_t n_send, max_fds, rlen, plen, n_fds = 12345, parts;
	uint8_t flags;
	bool sent = true, fits;
	ssize_t n;

	if (size < 4)
		return 0;
	open_fds_get(&before);
	flags = data[0];
	n_send = data[1] % (FDS_MAX + 1);
	max_fds = data[2] % (FDS_MAX + 1);
	rlen = data[3];
	plen = size - 4 < sizeof(payload_buf) ? size - 4 : sizeof(payload_buf);
	memcpy(payload_buf, data + 4, plen);
	parts = 1 + ((flags >> 4) & 3);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (flags & 1) {
		int one = 1;
		setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	}
	src = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		abort();
	if (flags & 2) {
		/* The peer went away: EOF, or the message then EOF. */
		if (flags & 4)
			sent = send_msg(sv[0], payload_buf, plen, src, n_send, parts) == 0;
		else
			sent = false;
		close(sv[0]);
		sv[0] = -1;
	} else if (send_msg(sv[0], payload_buf, plen, src, n_send, parts) < 0) {
		n_send = 0; /* e.g. a zero-length message with no fds is still a message */
		if (send_msg(sv[0], payload_buf, plen, src, 0, 1) < 0)
			abort();
	}
	close(src);

	memset(fds, 0x7f, sizeof(fds));
	fds[max_fds] = 0x5a5a5a5a; /* a canary just past what we allow */
	n = nscell_recv_fds(sv[1], rbuf, rlen, fds, max_fds, &n_fds);

	if (fds[max_fds] != 0x5a5a5a5a)
		abort(); /* wrote past max_fds */
	if (n >= 0) {
		if ((size_t)n > rlen || n_fds > max_fds)
			abort();
		for (size_t i = 0; i < max_fds; i++) {
			if (i < n_fds) {
				int fl = fcntl(fds[i], F_GETFD);
				if (fl < 0 || !(fl & FD_CLOEXEC))
					abort();
			} else if (fds[i] != -1) {
				abort();
			}
		}
		if (sent && (size_t)n != plen)
			abort(); /* one message is one message */
		if (!sent && (n != 0 || n_fds != 0))
			abort(); /* EOF carries nothing */
	} else {
		if (n != -EMSGSIZE && n != -EAGAIN)
			abort();
		if (n == -EMSGSIZE && n_fds != 0)
			abort();
		for (size_t i = 0; i < max_fds; i++)
			if (fds[i] != -1)
				abort();
	}
	/* The payload must fit in the buffer and the fds in the 8-slot control
	 * buffer (SCM_CREDENTIALS, when the peer asked for it, takes room too). */
	fits = plen <= rlen && (n_send == 0 || (n_send <= 8 && !(flags & 1)));
	if (sent && n != -EAGAIN && fits != (n != -EMSGSIZE))
		abort();
	if (n >= 0)
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
	if (sv[0] >= 0)
		close(sv[0]);
	close(sv[1]);
	if (!open_fds_unchanged(&before))
		abort(); /* a descriptor leaked (or one not ours was closed) */
	return 0;
}

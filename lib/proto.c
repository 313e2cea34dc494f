/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Encoding and decoding of the module->helper request, and fd passing.
 * The decoder is the first thing the setuid helper runs on caller data:
 * it trusts no length, no terminator and no key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

#define REQUEST_TAG "NSCELL1"

struct field {
	const char *key;
	size_t offset;
};

static const struct field request_fields[] = {
	{ "user", offsetof(struct nscell_request, user) },
	{ "service", offsetof(struct nscell_request, service) },
	{ "tty", offsetof(struct nscell_request, tty) },
	{ "rhost", offsetof(struct nscell_request, rhost) },
	{ "ruser", offsetof(struct nscell_request, ruser) },
	{ "conf", offsetof(struct nscell_request, conf) },
};

static bool text_ok(const char *s, size_t n)
{
	/* Printable bytes only: these values end up in logs and in status
	 * output, where control characters could forge lines. UTF-8 passes. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int put(char *buf, size_t size, size_t *pos, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);

	if (kl + 1 + vl + 1 > size - *pos)
		return -E2BIG;
	memcpy(buf + *pos, key, kl);
	buf[*pos + kl] = '=';
	memcpy(buf + *pos + kl + 1, value, vl);
	buf[*pos + kl + 1 + vl] = '\0';
	*pos += kl + 1 + vl + 1;
	return 0;
}

int nscell_request_open(struct nscell_request *r, const char *user, const char *service,
			const char *tty, const char *rhost, const char *ruser, const char *conf,
			bool debug)
{
	/* In the order of request_fields. */
	const char *v[] = { user, service, tty, rhost, ruser, conf };
	_Static_assert(sizeof(v) / sizeof(v[0]) == sizeof(request_fields) / sizeof(request_fields[0]),
		       "one value per request field");

	*r = (struct nscell_request){ .verb = NSCELL_VERB_OPEN, .debug = debug };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *dst = (char *)r + request_fields[i].offset;
		if (!v[i])
			continue;
		if (strlen(v[i]) >= NSCELL_FIELD_MAX)
			return -ENAMETOOLONG;
		strcpy(dst, v[i]);
	}
	return 0;
}

ssize_t nscell_request_encode(const struct nscell_request *r, char *buf, size_t size)
{
	size_t pos = 0;
	int rc;

	if (size < sizeof(REQUEST_TAG))
		return -E2BIG;
	memcpy(buf, REQUEST_TAG, sizeof(REQUEST_TAG));
	pos = sizeof(REQUEST_TAG);

	if (r->verb != NSCELL_VERB_OPEN)
		return -EINVAL;
	rc = put(buf, size, &pos, "verb", "open");
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(request_fields) / sizeof(request_fields[0]); i++) {
		const char *v = (const char *)r + request_fields[i].offset;
		if (!v[0])
			continue;
		rc = put(buf, size, &pos, request_fields[i].key, v);
		if (rc < 0)
			return rc;
	}
	if (r->debug) {
		rc = put(buf, size, &pos, "debug", "1");
		if (rc < 0)
			return rc;
	}
	return (ssize_t)pos;
}

int nscell_request_decode(const char *buf, size_t len, struct nscell_request *ret)
{
	struct nscell_request r = { 0 };
	unsigned seen = 0; /* bit per field, plus verb and debug */
	size_t pos;

	if (len > NSCELL_REQUEST_MAX)
		return -E2BIG;
	if (len < sizeof(REQUEST_TAG) || memcmp(buf, REQUEST_TAG, sizeof(REQUEST_TAG)) != 0)
		return -EINVAL;
	if (buf[len - 1] != '\0')
		return -EINVAL;

	for (pos = sizeof(REQUEST_TAG); pos < len;) {
		const char *entry = buf + pos;
		size_t n = strnlen(entry, len - pos); /* terminated: checked above */
		const char *eq = memchr(entry, '=', n);
		size_t kl, vl;
		bool known = false;

		pos += n + 1;
		if (!eq)
			return -EINVAL;
		kl = (size_t)(eq - entry);
		vl = n - kl - 1;
		if (!text_ok(eq + 1, vl))
			return -EINVAL;

		if (kl == 4 && memcmp(entry, "verb", 4) == 0) {
			if (seen & (1u << 30) || vl != 4 || memcmp(eq + 1, "open", 4) != 0)
				return -EINVAL;
			seen |= 1u << 30;
			r.verb = NSCELL_VERB_OPEN;
			continue;
		}
		if (kl == 5 && memcmp(entry, "debug", 5) == 0) {
			if (seen & (1u << 29) || vl != 1 || (eq[1] != '0' && eq[1] != '1'))
				return -EINVAL;
			seen |= 1u << 29;
			r.debug = eq[1] == '1';
			continue;
		}
		for (size_t i = 0; i < sizeof(request_fields) / sizeof(request_fields[0]); i++) {
			const struct field *f = &request_fields[i];
			if (strlen(f->key) != kl || memcmp(entry, f->key, kl) != 0)
				continue;
			if (seen & (1u << i))
				return -EINVAL; /* a key given twice is ambiguous */
			if (vl == 0 || vl >= NSCELL_FIELD_MAX)
				return -EINVAL;
			seen |= 1u << i;
			memcpy((char *)&r + f->offset, eq + 1, vl);
			known = true;
			break;
		}
		if (!known)
			return -EINVAL;
	}

	if (r.verb != NSCELL_VERB_OPEN || !r.user[0])
		return -EINVAL;
	*ret = r;
	return 0;
}

int nscell_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds > 4)
		return -EINVAL;
	if (n_fds > 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

ssize_t nscell_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds,
			size_t *ret_n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	size_t got = 0;
	ssize_t n;

	for (size_t i = 0; i < max_fds; i++)
		fds[i] = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < max_fds)
				fds[got++] = fd;
			else
				close(fd); /* never leak what we did not ask for */
		}
	}
	if (ret_n_fds)
		*ret_n_fds = got;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (size_t i = 0; i < got; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		if (ret_n_fds)
			*ret_n_fds = 0;
		return -EMSGSIZE;
	}
	return n;
}

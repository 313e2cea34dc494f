/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The client side of the cell socket. Every op is one connection: connect,
 * one message, one answer (STATUS, TERMINATE, SETTINGS), or a connection
 * that stays open as the session (JOIN, JOIN_SAME). Answers are checked in proto.c before a field
 * is used. An init of version 0 (0.1.0, 0.2.0, still running after an
 * upgrade) closes on a versioned request: STATUS, TERMINATE and JOIN ask it
 * again in version 0 (proto.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "cellctl.h"
#include "nsjoin.h"
#include "cleanup.h"
#include "settings-keys.h"

#define CELLS_DIR NSCELL_RUNDIR "/cells"

bool nscell_cell_id_valid(const char *id)
{
	const char *p;

	if (strncmp(id, "user-", 5) == 0) {
		/* A decimal uid: 1 to 10 digits, no leading zero. */
		size_t n = 0;
		p = id + 5;
		if (p[0] == '0' && p[1])
			return false;
		for (; *p; p++, n++)
			if (*p < '0' || *p > '9' || n >= 10)
				return false;
		return n > 0;
	}
	if (strncmp(id, "session-", 8) == 0) {
		p = id + 8;
		for (size_t i = 0; i < 16; i++)
			if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
				return false;
		return p[16] == '\0';
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void nscell_cellctl_list_free(char **ids)
{
	if (!ids)
		return;
	for (char **p = ids; *p; p++)
		free(*p);
	free(ids);
}

int nscell_cellctl_list(char ***ret_ids, size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	char **ids = NULL;
	size_t n = 0, allocated = 0;
	struct dirent *e;
	int fd;

	fd = open(CELLS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	while ((errno = 0, e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char *id;

		if (len < 6 || strcmp(e->d_name + len - 5, ".sock") != 0)
			continue;
		id = strndup(e->d_name, len - 5);
		if (!id)
			goto oom;
		if (!nscell_cell_id_valid(id)) {
			free(id);
			continue;
		}
		if (n + 2 > allocated) {
			size_t na = allocated ? allocated * 2 : 16;
			char **nids = realloc(ids, na * sizeof(char *));
			if (!nids) {
				free(id);
				goto oom;
			}
			ids = nids;
			allocated = na;
		}
		ids[n++] = id;
		ids[n] = NULL;
	}
	if (errno) {
		int r = -errno;
		if (ids)
			ids[n] = NULL;
		nscell_cellctl_list_free(ids);
		return r;
	}
	if (!ids) {
		ids = calloc(1, sizeof(char *));
		if (!ids)
			return -ENOMEM;
	}
	qsort(ids, n, sizeof(char *), cmp_str);
	*ret_ids = ids;
	if (ret_n)
		*ret_n = n;
	return 0;
oom:
	nscell_cellctl_list_free(ids);
	return -ENOMEM;
}

static int cell_connect(const char *id, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n;

	if (!nscell_cell_id_valid(id))
		return -EINVAL;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", CELLS_DIR, id);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The listener is non-blocking in the init, but connect() itself only
	 * blocks when the backlog is full; a bound keeps that short too. */
	struct timeval tv = { .tv_sec = NSCELL_CELLCTL_TIMEOUT_MS / 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1)) < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* One message in, up to max_fds fds; -ETIMEDOUT if nothing comes in time. */
static ssize_t recv_answer(int fd, void *buf, size_t len, int *fds, size_t max_fds,
			   size_t *ret_n_fds)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, NSCELL_CELLCTL_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = nscell_recv_fds(fd, buf, len, fds, max_fds, ret_n_fds);
	if (n == 0)
		return -ECONNRESET;
	return n;
}

/* Send one request of `len` bytes (+ fds) on a new connection and read one
 * answer of up to `size` bytes (+ up to max_fds). Returns its length or
 * -errno; -ECONNRESET is the EOF by which an init of an older version says
 * it does not know the request. On success *ret_fd is the connection. */
static ssize_t ask(const char *id, const void *req, size_t len, const int *fds, size_t n_fds,
		   void *answer, size_t size, int *ret_fds, size_t max_fds, size_t *ret_n_fds,
		   int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int rc;

	rc = cell_connect(id, &fd);
	if (rc < 0)
		return rc;
	rc = nscell_send_fds(fd, req, len, fds, n_fds);
	if (rc < 0)
		return rc;
	n = recv_answer(fd, answer, size, ret_fds, max_fds, ret_n_fds);
	if (n >= 0 && ret_fd)
		*ret_fd = TAKE_FD(fd);
	return n;
}

/* A question without descriptors (STATUS, TERMINATE, SETTINGS) in this
 * release's version: the head alone. */
static ssize_t ask_head(const char *id, uint32_t op, void *answer, size_t size)
{
	struct nscell_msg_head h;

	nscell_msg_head_init(&h, op, sizeof(h));
	return ask(id, &h, sizeof(h), NULL, 0, answer, size, NULL, 0, NULL, NULL);
}

/* The same in version 0, for an init that closed on the versioned one. */
static ssize_t ask_v0(const char *id, uint32_t op, void *answer, size_t size)
{
	uint32_t req[2];

	nscell_v0_request(req, op);
	return ask(id, req, sizeof(req), NULL, 0, answer, size, NULL, 0, NULL, NULL);
}

static int status_v0(const char *id, struct nscell_cell_status *ret)
{
	_cleanup_free_ struct nscell_v0_status *v0 = malloc(sizeof(*v0) + 1);
	ssize_t n;

	if (!v0)
		return -ENOMEM;
	n = ask_v0(id, NSCELL_CELL_STATUS, v0, sizeof(*v0) + 1);
	if (n == -EMSGSIZE)
		return -EPROTO;
	if (n < 0)
		return (int)n;
	return nscell_v0_status_decode(v0, (size_t)n, id, ret);
}

int nscell_cellctl_status(const char *id, struct nscell_cell_status *ret)
{
	_cleanup_free_ struct nscell_cell_status *st = NULL;
	ssize_t n;
	int r;

	/* One byte more than expected, so a longer (foreign) answer shows as
	 * a size mismatch rather than as a truncated match. */
	st = malloc(sizeof(*st) + 1);
	if (!st)
		return -ENOMEM;
	n = ask_head(id, NSCELL_CELL_STATUS, st, sizeof(*st) + 1);
	if (n == -ECONNRESET)
		return status_v0(id, ret);
	if (n == -EMSGSIZE)
		return -EPROTO;
	if (n < 0)
		return (int)n;
	r = nscell_cell_status_check(st, (size_t)n, id);
	if (r < 0)
		return r;
	*ret = *st;
	return 0;
}

int nscell_cellctl_version(const char *id, unsigned *ret)
{
	_cleanup_free_ struct nscell_cell_status *st = malloc(sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	rc = nscell_cellctl_status(id, st);
	if (rc == 0)
		*ret = st->head.version;
	return rc;
}

int nscell_cellctl_terminate(const char *id)
{
	union {
		struct nscell_cell_reply v1;
		struct nscell_v0_reply v0;
	} r;
	ssize_t n = ask_head(id, NSCELL_CELL_TERMINATE, &r, sizeof(r));

	if (n == -ECONNRESET) {
		n = ask_v0(id, NSCELL_CELL_TERMINATE, &r, sizeof(r));
		if (n < 0)
			return (int)n;
		return nscell_v0_reply_decode(&r, (size_t)n, NSCELL_CELL_TERMINATE, &r.v1);
	}
	if (n < 0)
		return (int)n;
	return nscell_msg_answer_check(&r, (size_t)n, NSCELL_CELL_TERMINATE, sizeof(r.v1));
}

int nscell_cellctl_settings(const char *id, struct nscell_settings *ret)
{
	struct nscell_cell_settings a;
	ssize_t n = ask_head(id, NSCELL_CELL_SETTINGS, &a, sizeof(a));
	int rc;

	if (n == -ECONNRESET) {
		/* An init of version 0, or one ending just now: the probe
		 * (STATUS in version 0) tells which. Its settings are not read:
		 * their layout is 0.2.0's, and 0.1.0 has none. */
		unsigned version;
		rc = nscell_cellctl_version(id, &version);
		if (rc == 0 && version == 0)
			return -EPROTONOSUPPORT;
		return rc < 0 ? rc : -ECONNRESET;
	}
	if (n == -EMSGSIZE)
		return -EPROTO;
	if (n < 0)
		return (int)n;
	rc = nscell_cell_settings_check(&a, (size_t)n);
	if (rc < 0)
		return rc;
	*ret = a.settings;
	return 0;
}

int nscell_cellctl_count_user_cells(uid_t uid, unsigned *ret)
{
	_cleanup_free_ struct nscell_cell_status *st = malloc(sizeof(*st));
	char **ids = NULL;
	unsigned n = 0;
	int rc;

	if (!st)
		return -ENOMEM;
	rc = nscell_cellctl_list(&ids, NULL);
	if (rc == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (rc < 0)
		return rc;
	for (char **p = ids; *p; p++) {
		char name[NSCELL_CELL_ID_MAX + 8];
		struct stat sb;

		snprintf(name, sizeof(name), "%s/%s.sock", CELLS_DIR, *p);
		if (lstat(name, &sb) < 0 || sb.st_uid != uid || !S_ISSOCK(sb.st_mode))
			continue;
		if (nscell_cellctl_status(*p, st) == 0 && st->config.uid == uid &&
		    st->state != NSCELL_CELL_ENDING)
			n++;
	}
	nscell_cellctl_list_free(ids);
	*ret = n;
	return 0;
}

/* A JOIN answer checked as `rc`, on connection *fd with its fds: the
 * session, or the fds closed and -errno. */
static int session_take(int rc, int *fd, int fds[3], size_t n_fds,
			const struct nscell_cell_reply *r, unsigned version,
			struct nscell_cellctl_session *ret)
{
	if (rc == 0 && n_fds < 1)
		rc = -EPROTO;
	if (rc < 0) {
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		return rc;
	}
	/* The session's own socket must not block a LEAVE at close. */
	struct timeval tv = { 0 };
	setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret->sock = TAKE_FD(*fd);
	ret->init_pidfd = fds[0];
	if (nscell_ns_sort_fds(fds + 1, n_fds - 1, &ret->userns_fd, &ret->logins_fd) < 0) {
		nscell_cellctl_session_close(ret);
		return -EPROTO;
	}
	ret->session_no = r->session_no;
	ret->namespaces = r->namespaces;
	ret->v0 = version == 0;
	return 0;
}

int nscell_cellctl_join(const char *id, int opener_pidfd, pid_t opener_pid, const char *service,
			const char *tty, const char *rhost, struct nscell_cellctl_session *ret)
{
	_cleanup_close_ int fd = -1;
	union {
		struct nscell_cell_join v1;
		struct nscell_v0_join v0;
	} j;
	union {
		struct nscell_cell_reply v1;
		struct nscell_v0_reply v0;
	} r;
	int fds[3] = { -1, -1, -1 };
	size_t n_fds = 0;
	unsigned version = NSCELL_PROTO_VERSION;
	ssize_t n;
	int rc;

	nscell_cell_join_encode(&j.v1, opener_pid, service, tty, rhost);
	n = ask(id, &j, sizeof(j.v1), &opener_pidfd, 1, &r, sizeof(r), fds, 3, &n_fds, &fd);
	if (n == -ECONNRESET) {
		/* An init of version 0 closes on a versioned JOIN, joining nothing. */
		version = 0;
		nscell_v0_join_encode(&j.v0, opener_pid, service, tty, rhost);
		n = ask(id, &j, sizeof(j.v0), &opener_pidfd, 1, &r, sizeof(r), fds, 3, &n_fds, &fd);
	}
	if (n < 0)
		return (int)n;
	if (version == 0)
		rc = nscell_v0_reply_decode(&r, (size_t)n, NSCELL_CELL_JOIN, &r.v1);
	else
		rc = nscell_msg_answer_check(&r, (size_t)n, NSCELL_CELL_JOIN, sizeof(r.v1));
	return session_take(rc, &fd, fds, n_fds, &r.v1, version, ret);
}

int nscell_cellctl_join_same(const char *id, const struct nscell_settings *want, int opener_pidfd,
			     pid_t opener_pid, const char *service, const char *tty,
			     const char *rhost, struct nscell_cellctl_session *ret)
{
	_cleanup_close_ int fd = -1;
	struct nscell_settings part;
	struct nscell_cell_join_same m;
	struct nscell_cell_reply r;
	int fds[3] = { -1, -1, -1 };
	size_t n_fds = 0;
	ssize_t n;

	nscell_settings_cell_part(want, &part);
	n = nscell_cell_join_same_encode(&m, opener_pid, service, tty, rhost, &part);
	if (n < 0)
		return -EMSGSIZE; /* too many paths for one request: SETTINGS and JOIN */
	n = ask(id, &m, (size_t)n, &opener_pidfd, 1, &r, sizeof(r), fds, 3, &n_fds, &fd);
	if (n < 0)
		return (int)n;
	return session_take(nscell_msg_answer_check(&r, (size_t)n, NSCELL_CELL_JOIN_SAME, sizeof(r)),
			    &fd, fds, n_fds, &r, NSCELL_PROTO_VERSION, ret);
}

void nscell_cellctl_leave(int *sock, unsigned version)
{
	/* Non-blocking by construction: one small datagram to a socket with an
	 * empty queue. */
	if (*sock >= 0)
		nscell_cell_leave(*sock, version);
	nscell_closep(sock);
	*sock = -1;
}

void nscell_cellctl_session_close(struct nscell_cellctl_session *s)
{
	nscell_cellctl_leave(&s->sock, s->v0 ? 0 : NSCELL_PROTO_VERSION);
	nscell_closep(&s->init_pidfd);
	nscell_closep(&s->userns_fd);
	nscell_closep(&s->logins_fd);
	s->sock = s->init_pidfd = s->userns_fd = s->logins_fd = -1;
}

const char *nscell_cell_state_name(uint32_t state)
{
	switch (state) {
	case NSCELL_CELL_ACTIVE:
		return "active";
	case NSCELL_CELL_DRAINING:
		return "draining";
	case NSCELL_CELL_ENDING:
		return "ending";
	default:
		return "unknown";
	}
}

bool nscell_inside_cell(void)
{
	struct statfs sfs;

	if (statfs(NSCELL_RUNDIR, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC && (sfs.f_flags & ST_RDONLY);
}

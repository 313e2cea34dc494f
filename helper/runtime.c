/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The runtime directory and the registry of live cells.
 *
 * RUNDIR (default /run/nscell) is root-owned 0700, so nothing below it is
 * reachable by users; each cell's init listens on RUNDIR/cells/<id>.sock, and
 * the socket *is* the registry entry: it exists exactly while the init serves
 * it. Every "find or create" holds RUNDIR/lock (flock), so two logins of one
 * user that race end in one cell; an ending init takes the same lock to unlink
 * its socket, so it never removes a newer cell's entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cellctl.h"
#include "cleanup.h"
#include "helper.h"

static int open_private_dir(int parent, const char *name, const char *what, char *err,
			    size_t errlen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", what, strerror(errno));
		return -errno;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", what, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Someone else's or a loosened directory could feed a later join a fake
	 * cell: refuse rather than repair, and say so. */
	if (st.st_uid != 0 || (st.st_mode & 0077) != 0) {
		snprintf(err, errlen, "%s is not root-owned mode 0700 (uid %u, mode %04o); refusing",
			 what, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return TAKE_FD(fd);
}

int runtime_open(struct runtime *rt, char *err, size_t errlen)
{
	_cleanup_close_ int root = -1, dir = -1, cells = -1, lock = -1;
	const char *base = NSCELL_RUNDIR;
	const char *slash = strrchr(base, '/');
	_cleanup_free_ char *parent = NULL;

	if (base[0] != '/' || !slash || !slash[1]) {
		snprintf(err, errlen, "bad compiled-in runtime directory %s", base);
		return -EINVAL;
	}
	parent = strndup(base, slash == base ? 1 : (size_t)(slash - base));
	if (!parent)
		return -ENOMEM;
	root = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		snprintf(err, errlen, "cannot open %s: %s", parent, strerror(errno));
		return -errno;
	}
	dir = open_private_dir(root, slash + 1, base, err, errlen);
	if (dir < 0)
		return dir;
	cells = open_private_dir(dir, "cells", NSCELL_RUNDIR "/cells", err, errlen);
	if (cells < 0)
		return cells;
	lock = openat(dir, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0) {
		snprintf(err, errlen, "cannot open %s/lock: %s", base, strerror(errno));
		return -errno;
	}
	rt->dirfd = TAKE_FD(dir);
	rt->cellsfd = TAKE_FD(cells);
	rt->lockfd = TAKE_FD(lock);
	return 0;
}

void runtime_close(struct runtime *rt)
{
	nscell_closep(&rt->dirfd);
	nscell_closep(&rt->cellsfd);
	nscell_closep(&rt->lockfd);
	rt->dirfd = rt->cellsfd = rt->lockfd = -1;
}

int runtime_lock(struct runtime *rt)
{
	while (flock(rt->lockfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void runtime_unlock(struct runtime *rt)
{
	flock(rt->lockfd, LOCK_UN);
}

static int cell_address(const char *cell_id, struct sockaddr_un *sa, socklen_t *len)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/cells/%s.sock", NSCELL_RUNDIR,
		     cell_id);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

int cell_listen(struct runtime *rt, const char *cell_id, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;
	socklen_t len;
	char name[NSCELL_CELL_ID_MAX + 8];
	int rc;

	rc = cell_address(cell_id, &sa, &len);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		if (errno != EADDRINUSE)
			return -errno;
		/* A stale entry (its init died without unlinking): we hold the
		 * lock and already failed to join it, so it is dead. */
		snprintf(name, sizeof(name), "%s.sock", cell_id);
		unlinkat(rt->cellsfd, name, 0);
		if (bind(fd, (struct sockaddr *)&sa, len) < 0)
			return -errno;
	}
	if (listen(fd, 128) < 0) {
		rc = -errno;
		snprintf(name, sizeof(name), "%s.sock", cell_id);
		unlinkat(rt->cellsfd, name, 0);
		return rc;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int cell_join(const char *cell_id, const struct helper_login *l, int *ret_sock,
	      int *ret_init_pidfd, int *ret_userns_fd, unsigned *ret_session_no,
	      unsigned *ret_namespaces)
{
	struct nscell_cellctl_session sess;
	int rc;

	rc = nscell_cellctl_join(cell_id, l->opener_pidfd, l->opener_pid, l->req->service,
				 l->req->tty, l->req->rhost, &sess);
	if (rc < 0)
		return rc;
	*ret_sock = sess.sock;
	*ret_init_pidfd = sess.init_pidfd;
	*ret_userns_fd = sess.userns_fd;
	*ret_session_no = sess.session_no;
	*ret_namespaces = sess.namespaces;
	return 0;
}

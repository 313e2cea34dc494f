/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The runtime directory and the registry of live cells.
 *
 * RUNDIR (default /run/nscell) is root-owned 0700, so nothing below it is
 * reachable by users; each cell's init listens on RUNDIR/cells/<id>.sock, and
 * the socket *is* the registry entry: it exists exactly while the init serves
 * it. Every "find or create" of a user holds that user's lock,
 * RUNDIR/locks/user-<uid> (flock), so two logins of one user that race end in
 * one cell and the count of their cells (MaxCells) is exact; an ending init
 * takes the same lock to unlink its socket, so it never removes a newer
 * cell's entry. There is no lock that two users share: whatever one user's
 * login does while holding its lock can delay only that user's logins, and
 * a wait for the lock has a deadline.
 *
 * A cell's socket is bound as <id>.new and renamed to <id>.sock by the setup
 * child just before it execs the init: an entry in the registry is always
 * served, so nobody who lists or counts cells waits on a cell still being made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cellctl.h"
#include "cleanup.h"
#include "helper.h"

static int open_private_dir(int parent, const char *name, const char *what, char *err,
			    size_t errlen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* Open first, create only if missing: mkdirat() takes the parent's
	 * lock even when the name exists, and every user can read /run and
	 * hold its lock (see cell.c). */
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", what, strerror(errno));
			return -errno;
		}
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
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
	lock = open_private_dir(dir, "locks", NSCELL_RUNDIR "/locks", err, errlen);
	if (lock < 0)
		return lock;
	rt->dirfd = TAKE_FD(dir);
	rt->cellsfd = TAKE_FD(cells);
	rt->locksfd = TAKE_FD(lock);
	rt->lockfd = -1;
	return 0;
}

void runtime_close(struct runtime *rt)
{
	nscell_closep(&rt->dirfd);
	nscell_closep(&rt->cellsfd);
	nscell_closep(&rt->locksfd);
	nscell_closep(&rt->lockfd);
	rt->dirfd = rt->cellsfd = rt->locksfd = rt->lockfd = -1;
}

static void lock_name(uid_t uid, char *buf, size_t size)
{
	snprintf(buf, size, "user-%u", (unsigned)uid);
}

int runtime_open_user_lock(struct runtime *rt, uid_t uid)
{
	char name[32];
	int fd;

	lock_name(uid, name, sizeof(name));
	fd = openat(rt->locksfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = openat(rt->locksfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int runtime_lock_user(struct runtime *rt, uid_t uid)
{
	struct timespec start, now, pause = { .tv_nsec = 20 * 1000000 };
	int fd;

	fd = runtime_open_user_lock(rt, uid);
	if (fd < 0)
		return fd;
	/* flock() has no deadline of its own: poll it. The holder is another
	 * login of the same user, which itself works under deadlines. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int64_t waited_ms;

		if (errno != EWOULDBLOCK && errno != EINTR) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (int64_t)(now.tv_sec - start.tv_sec) * 1000 +
			    (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= HELPER_LOCK_WAIT_MS) {
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&pause, NULL);
	}
	rt->lockfd = fd;
	return 0;
}

void runtime_unlock(struct runtime *rt)
{
	/* Closing drops the lock: this is the only fd of its open file
	 * description (the setup child closes its copy first thing, and the
	 * init gets a description of its own). */
	nscell_closep(&rt->lockfd);
	rt->lockfd = -1;
}

void cell_entry_names(const char *cell_id, char *pending, char *live, size_t size)
{
	snprintf(pending, size, "%s.new", cell_id);
	snprintf(live, size, "%s.sock", cell_id);
}

static int cell_address(const char *cell_id, struct sockaddr_un *sa, socklen_t *len)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/cells/%s.new", NSCELL_RUNDIR,
		     cell_id);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

int cell_listen(struct runtime *rt, const char *cell_id, uid_t owner, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;
	socklen_t len;
	char name[NSCELL_CELL_ID_MAX + 8], live[NSCELL_CELL_ID_MAX + 8];
	int rc;

	cell_entry_names(cell_id, name, live, sizeof(name));
	rc = cell_address(cell_id, &sa, &len);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		if (errno != EADDRINUSE)
			return -errno;
		/* Left by a helper killed while making this cell: we hold the
		 * user's lock (or the id is fresh), so nobody else is. */
		unlinkat(rt->cellsfd, name, 0);
		if (bind(fd, (struct sockaddr *)&sa, len) < 0)
			return -errno;
	}
	/* The entry's owner says whose cell it is, so that counting a user's
	 * cells asks none of another user's inits anything. Group root keeps
	 * it connectable by root without DAC override (mode 0660). Nobody else
	 * reaches it: RUNDIR is root's 0700, and the init accepts uid 0 only. */
	if (fchmodat(rt->cellsfd, name, 0660, 0) < 0 ||
	    fchownat(rt->cellsfd, name, owner, 0, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		unlinkat(rt->cellsfd, name, 0);
		return rc;
	}
	if (listen(fd, 128) < 0) {
		rc = -errno;
		unlinkat(rt->cellsfd, name, 0);
		return rc;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int cell_join(const char *cell_id, const struct helper_login *l, int *ret_sock,
	      int *ret_init_pidfd, int *ret_userns_fd, int *ret_logins_fd, unsigned *ret_session_no,
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
	*ret_logins_fd = sess.logins_fd;
	*ret_session_no = sess.session_no;
	*ret_namespaces = sess.namespaces;
	return 0;
}

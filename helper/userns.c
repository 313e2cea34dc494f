/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user namespace a cell's sessions run in.
 *
 * It maps the login user's uid and each of their groups to themselves and
 * nothing else: every other id, root included, shows as the overflow id, a
 * setuid-root binary runs without root, and files keep their real owners
 * (DAC still decides what a user may touch).
 *
 * It is deliberately not the owner of the cell's pid and mount namespaces
 * (those belong to the initial user namespace): a session that owned them
 * could unmount the cell's /proc and /tmp, and root could no longer create
 * files in a /tmp mounted by a user namespace it is not mapped in.
 *
 * A short-lived child unshares it and waits; we write its maps, keep an fd to
 * its ns/user, and let the child go. Nothing names the child by a pid that
 * could be another process's by then: it is pinned by a pidfd from clone3(),
 * its /proc directory is opened and then proved to be the child's (the
 * pidfd still reaches a live child after the open, so its pid was never
 * free), and the maps are written through that directory fd. The namespace
 * must also be owned by root: a user's own namespace never gets our maps.
 *
 * setgroups is "deny": no process in the namespace may change its
 * supplementary groups, so nobody can drop a group to get past a file that
 * denies that group (the CVE-2014-8989 class). The user's groups are still
 * mapped: the login program sets them before it enters the namespace (sshd
 * and su/runuser call initgroups before open_session/setcred; nscell run and
 * nscell enter set them before setns), the groups travel with the process,
 * and the map only makes them show as themselves (and usable in chgrp)
 * instead of as the overflow gid. "allow" would be needed only by a program
 * that calls setgroups() after entering; none that enters here does (sudo
 * enters at open_session but calls setgroups() later only for a runas group
 * list it already set: see SECURITY.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#define MAP_LINES_MAX 340 /* the kernel's limit on lines in a map */

#ifndef P_PIDFD
#define P_PIDFD 3 /* waitid() on a pidfd, Linux 5.4 */
#endif

static int write_file(int procdir, const char *name, const char *text)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);

	fd = openat(procdir, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return -errno;
	return 0;
}

static int gid_map(const struct nscell_identity *id, char **ret)
{
	size_t n = id->n_groups < MAP_LINES_MAX ? id->n_groups : MAP_LINES_MAX;
	size_t size = 1 + n * 24;
	char *buf = malloc(size), *p = buf;

	if (!buf)
		return -ENOMEM;
	*p = '\0';
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		/* A gid listed twice would make the kernel reject the map. */
		for (size_t k = 0; k < i; k++)
			dup |= id->gids[k] == id->gids[i];
		if (!dup)
			p += snprintf(p, size - (size_t)(p - buf), "%u %u 1\n",
				      (unsigned)id->gids[i], (unsigned)id->gids[i]);
	}
	*ret = buf;
	return 0;
}

/* The child's /proc directory, proved to be the child's. */
static int open_child_procdir(pid_t pid, int pidfd)
{
	_cleanup_close_ int dir = -1, ns = -1;
	char path[32];
	uid_t owner = (uid_t)-1;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	/* After the open: if the child were gone (reaped behind our back), its
	 * pid could have been anyone's when we opened it. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return -ESRCH;
	ns = openat(dir, "ns/user", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	if (ioctl(ns, NS_GET_OWNER_UID, &owner) < 0)
		return -errno;
	if (owner != 0)
		return -EPERM;
	return TAKE_FD(dir);
}

int userns_create(const struct nscell_identity *id, int *ret_fd, char *err, size_t errlen)
{
	int ready[2] = { -1, -1 }, hold[2] = { -1, -1 };
	_cleanup_free_ char *gids = NULL;
	_cleanup_close_ int pidfd = -1, procdir = -1;
	struct clone_args args = { 0 };
	char uidmap[40], c;
	pid_t pid;
	int fd = -1, rc;

	rc = gid_map(id, &gids);
	if (rc < 0)
		return rc;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	/* clone3, not fork: the pidfd exists from the child's first instant.
	 * The child makes system calls only (no C library state is shared). */
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0) {
		char r;
		close(ready[0]);
		close(hold[1]); /* so the parent's close is our EOF */
		/* The helper is not dumpable, and we would inherit that: the
		 * parent, without CAP_SYS_PTRACE, could not open our ns/user.
		 * This child runs no user code and is root's. */
		prctl(PR_SET_DUMPABLE, 1);
		r = unshare(CLONE_NEWUSER) < 0 ? 'e' : 'k';
		(void)!write(ready[1], &r, 1);
		(void)!read(hold[0], &r, 1); /* until the parent is done */
		_exit(0);
	}
	close(ready[1]);
	ready[1] = -1;
	close(hold[0]);
	hold[0] = -1;

	if (read(ready[0], &c, 1) != 1 || c != 'k') {
		rc = -EPERM;
		snprintf(err, errlen, "cannot create a user namespace");
		goto reap;
	}
	procdir = open_child_procdir(pid, pidfd);
	if (procdir < 0) {
		rc = procdir;
		snprintf(err, errlen, "cannot pin the user namespace's process: %s", strerror(-rc));
		goto reap;
	}
	snprintf(uidmap, sizeof(uidmap), "%u %u 1\n", (unsigned)id->uid, (unsigned)id->uid);
	rc = write_file(procdir, "uid_map", uidmap);
	if (rc == 0)
		rc = write_file(procdir, "setgroups", "deny");
	if (rc == 0)
		rc = write_file(procdir, "gid_map", gids);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write the user namespace's id maps: %s", strerror(-rc));
		goto reap;
	}
	fd = openat(procdir, "ns/user", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open the user namespace: %s", strerror(errno));
	}
reap:
	close(hold[1]);
	hold[1] = -1;
	{
		siginfo_t si;
		while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
	}
	if (fd >= 0)
		*ret_fd = fd;
out:
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (hold[i] >= 0)
			close(hold[i]);
	}
	return rc;
}

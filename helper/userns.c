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
 * /proc/<child>/ns/user, and let the child go. The child is ours and not yet
 * reaped, so its pid cannot be reused under us.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#define MAP_LINES_MAX 340 /* the kernel's limit on lines in a map */

static int write_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
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

int userns_create(const struct nscell_identity *id, int *ret_fd, char *err, size_t errlen)
{
	int ready[2] = { -1, -1 }, hold[2] = { -1, -1 };
	_cleanup_free_ char *gids = NULL;
	char uidmap[40], path[64], c;
	pid_t pid;
	int fd = -1, rc;

	rc = gid_map(id, &gids);
	if (rc < 0)
		return rc;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	pid = fork();
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
	snprintf(uidmap, sizeof(uidmap), "%u %u 1\n", (unsigned)id->uid, (unsigned)id->uid);
	rc = write_file(pid, "uid_map", uidmap);
	if (rc == 0)
		rc = write_file(pid, "gid_map", gids);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write the user namespace's id maps: %s", strerror(-rc));
		goto reap;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	}
reap:
	close(hold[1]);
	hold[1] = -1;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting a cell's nscell-relay, in the setup child (root, before the
 * init's exec); what the relay is and why it is the user's: relay.c.
 *
 *   1. a scratch tmpfs over RUNDIR in the cell's mount namespace; bind a
 *      socket there, owned by the user 0600; clone it with open_tree();
 *   2. fork: the child keeps the socket (fd 3), a detached clone of
 *      /run/user/UID/systemd (fd 4, open_tree on the O_PATH fd the walk as
 *      the user found) and a pipe (fd 5), closes every other fd, becomes the
 *      user (groups, gid, uid; no_new_privs) and execs NSCELL_RELAY_PATH,
 *      pinned and checked like the init; the relay listen()s and says so;
 *   3. only then is the clone moved over the private socket, by fd, and the
 *      scratch tmpfs detached. A relay not up within RELAY_READY_MS is
 *      killed and nothing is mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#ifndef OPEN_TREE_CLONE
#include <linux/mount.h> /* musl: the new mount API is the kernel header's */
#endif
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#define RELAY_READY_MS 2000
#define RELAY_SCRATCH NSCELL_RUNDIR "/user-manager"

static _Noreturn void relay_child(int bin, int sock, int updir, int ready, uid_t uid, gid_t gid)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int want[4] = { sock, updir, ready, bin };
	int high[4];

	/* Only what it uses, at fixed numbers; fds 0-2 on /dev/null (the
	 * caller's, for the run verb, must not be held open by a cell). */
	if (null < 0)
		_exit(1);
	for (int i = 0; i < 4; i++)
		/* above the targets 3-6, below 64 (past it the fd table grows) */
		if ((high[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 7)) < 0)
			_exit(1);
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(null, fd) < 0)
			_exit(1);
	for (int i = 0; i < 3; i++)
		if (dup2(high[i], 3 + i) < 0)
			_exit(1);
	if (dup2(high[3], 6) < 0 || fcntl(6, F_SETFD, FD_CLOEXEC) < 0)
		_exit(1);
	syscall(SYS_close_range, 7, ~0U, 0);

	/* The user, and nothing more: groups, gid, uid, in that order. */
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(1);
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		_exit(1);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(1);
	char *const argv[] = { (char *)"nscell-relay", NULL };
	char *const envp[] = { NULL };
	syscall(SYS_execveat, 6, "", argv, envp, AT_EMPTY_PATH);
	_exit(127);
}

/* The relay binary, pinned and checked like the init's. */
static int open_relay(void)
{
	_cleanup_close_ int fd = open(NSCELL_RELAY_PATH, O_PATH | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022))
		return -EPERM;
	return TAKE_FD(fd);
}

pid_t relay_start(uid_t uid, gid_t gid, int sysd, int target)
{
	_cleanup_close_ int bin = -1, sock = -1, updir = -1, path = -1, tree = -1;
	int ready[2] = { -1, -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t pid = -1;
	char c;

	bin = open_relay();
	if (bin < 0)
		return bin;
	/* The detached clone the relay reaches the real socket through: a
	 * mount of its own, without what we put over "private" below. */
	updir = (int)syscall(SYS_open_tree, sysd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (updir < 0)
		return -errno;
	if (mount("nscell", NSCELL_RUNDIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0700,size=4k,nr_inodes=4") < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", RELAY_SCRATCH);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchownat(AT_FDCWD, RELAY_SCRATCH, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(AT_FDCWD, RELAY_SCRATCH, 0600, 0) < 0)
		goto fail;
	path = open(RELAY_SCRATCH, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path < 0)
		goto fail;
	tree = (int)syscall(SYS_open_tree, path, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0 || pipe2(ready, O_CLOEXEC) < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		relay_child(bin, sock, updir, ready[1], uid, gid);
	close(ready[1]);
	ready[1] = -1;
	{
		struct pollfd p = { .fd = ready[0], .events = POLLIN };
		if (poll(&p, 1, RELAY_READY_MS) != 1 || read(ready[0], &c, 1) != 1)
			goto fail;
	}
	if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		goto fail;
	close(ready[0]);
	umount2(NSCELL_RUNDIR, MNT_DETACH);
	return pid;
fail: {
	int err = errno ? errno : EIO;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	umount2(NSCELL_RUNDIR, MNT_DETACH);
	return -err;
}
}

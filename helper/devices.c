/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PrivateDevices: the cell's /dev holds only what a login session uses — the
 * pseudo-devices (null zero full random urandom tty), ptmx and the terminals
 * in /dev/pts, /dev/shm, /dev/mqueue, /dev/log, and the fd, stdin, stdout,
 * stderr links. No disk, no /dev/kvm, no GPU, no /dev/fuse, no input or
 * sound device exists there, whatever the host's modes allow.
 *
 * Phases, in the cell's child (root, before any user process exists in the
 * cell). Every path read is in the host's /dev, which only root may write,
 * and is reached from one directory fd opened first, without following
 * links; every mount is made by fd.
 *
 *  1. Gather from the host's /dev while it is still visible: the devpts
 *     mount at /dev/pts, cloned (not a new instance: the session's terminal
 *     is a pty of the host's devpts — sshd's monitor allocates it after the
 *     session's cell exists, su, login and sudo get their caller's — and
 *     glibc's ttyname(), tty(1), ptsname() and chown of the pty name it by
 *     /dev/pts/N, which a new instance would not have); whatever the cell
 *     has at /dev/shm (its own tmpfs, its persistent directory or the host's,
 *     as DevShm says), cloned; /dev/mqueue: a new mqueue instance for the
 *     cell's IPC namespace if it has one, else the host's, cloned.
 *  2. A new tmpfs (nosuid, noexec, mode 0755, a few inodes), filled through
 *     its root fd: each node copied from the host's (same type, device
 *     number, owner and mode; mknod needs CAP_MKNOD, and binds of the host's
 *     nodes would not do for ptmx: the kernel finds a ptmx node's devpts by
 *     looking up "pts" beside the node's own dentry, which a bind of a single
 *     file leaves outside the mount); a node the host has as a link (ptmx ->
 *     pts/ptmx where devpts runs with ptmxmode=0666) stays a link; /dev/log
 *     as the host has it: a link copied, a socket bound.
 *  3. The tmpfs over /dev, then the pieces of phase 1 onto it.
 *
 * Nothing propagates out (/ is already slave or private). Inside, no user
 * can uncover the host's /dev: umount needs CAP_SYS_ADMIN over the cell's
 * mount namespace, and the kernel locks these mounts in any mount namespace
 * a user makes from it (in a user namespace of their own).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

/* The nodes copied from the host's /dev when it has them. */
static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty", "ptmx" };

static const struct {
	const char *name, *target;
} links[] = {
	{ "fd", "/proc/self/fd" },
	{ "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" },
};

static int clone_tree(int dirfd, const char *name, unsigned flags)
{
	int fd = (int)syscall(SYS_open_tree, dirfd, name,
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW | flags);
	return fd < 0 ? -errno : fd;
}

static bool is_fs(int fd, long magic)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)magic;
}

/* A new file system of `type`, detached; attrs are MOUNT_ATTR_*. */
static int new_fs(const char *type, const char *const *opts, unsigned attrs)
{
	_cleanup_close_ int fs = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return -errno;
	for (size_t i = 0; opts && opts[i]; i += 2)
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, opts[i], opts[i + 1], 0) < 0)
			return -errno;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
	return mnt < 0 ? -errno : mnt;
}

/* Copy the host's node or link `name` into dev; nothing if the host has
 * neither. */
static int copy_node(int host, int dev, const char *name)
{
	struct stat st;
	char target[256];
	ssize_t n;

	if (fstatat(host, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(host, name, target, sizeof(target));
		if (n < 0)
			return -errno;
		if ((size_t)n >= sizeof(target))
			return -ENAMETOOLONG;
		target[n] = '\0';
		return symlinkat(target, dev, name) < 0 ? -errno : 0;
	}
	if (!S_ISCHR(st.st_mode))
		return 0;
	/* Under umask 0 (devices_private): the mode is the host's at once. */
	if (mknodat(dev, name, S_IFCHR | (st.st_mode & 0777), st.st_rdev) < 0)
		return -errno;
	if ((st.st_uid != 0 || st.st_gid != 0) &&
	    fchownat(dev, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* The mountpoint's own mode does not matter: the mount covers it. */
static int attach(int tree, int dev, const char *name, bool dir)
{
	if (dir ? mkdirat(dev, name, 0755) < 0 : mknodat(dev, name, S_IFREG | 0644, 0) < 0)
		return -errno;
	if (syscall(SYS_move_mount, tree, "", dev, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

int devices_private(unsigned namespaces, const char **ret_what)
{
	static const char *const tmpfs_opts[] = { "mode", "0755", "size", "64k", "nr_inodes", "64", NULL };
	_cleanup_close_ int host = -1, pts = -1, shm = -1, mq = -1, log = -1, dev = -1;
	char logtarget[256] = "";
	struct stat st;
	int rc;

#define STEP(what_, expr_)                   \
	do {                                 \
		*ret_what = (what_);         \
		if ((rc = (expr_)) < 0)      \
			return rc;           \
	} while (0)

	/* 1. Gather. */
	*ret_what = "open /dev";
	host = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (host < 0)
		return -errno;
	STEP("clone /dev/pts", pts = clone_tree(host, "pts", 0));
	*ret_what = "/dev/pts is not a devpts mount: the session's terminal would be lost";
	if (!is_fs(pts, DEVPTS_SUPER_MAGIC))
		return -ENODEV;
	shm = clone_tree(host, "shm", AT_RECURSIVE);
	if (shm < 0 && shm != -ENOENT)
		STEP("clone /dev/shm", shm);
	if (namespaces & NSCELL_NS_IPC) {
		STEP("mount a new mqueue", mq = new_fs("mqueue", NULL,
						       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
	} else {
		mq = clone_tree(host, "mqueue", 0);
		if (mq >= 0 && !is_fs(mq, MQUEUE_MAGIC)) {
			close(mq);
			mq = -1;
		}
	}
	if (fstatat(host, "log", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISSOCK(st.st_mode)) {
			STEP("clone /dev/log", log = clone_tree(host, "log", 0));
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(host, "log", logtarget, sizeof(logtarget) - 1);
			logtarget[n > 0 ? n : 0] = '\0'; /* unreadable: left out */
		}
	}

	/* 2. The new /dev, filled. */
	STEP("mount a tmpfs for /dev",
	     dev = new_fs("tmpfs", tmpfs_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC));
	*ret_what = "make the device nodes";
	{
		/* The helper's umask (077) would take the nodes' modes: one
		 * syscall here instead of a chmod per node. */
		mode_t old = umask(0);
		rc = 0;
		for (size_t i = 0; i < NSCELL_ELEMENTSOF(nodes) && rc >= 0; i++)
			rc = copy_node(host, dev, nodes[i]);
		umask(old);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(links); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0)
			return -errno;
	if (logtarget[0] && symlinkat(logtarget, dev, "log") < 0)
		return -errno;

	/* 3. Over /dev, then the pieces onto it. */
	*ret_what = "mount the new /dev";
	if (syscall(SYS_move_mount, dev, "", AT_FDCWD, "/dev", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	STEP("mount /dev/pts", attach(pts, dev, "pts", true));
	if (shm >= 0)
		STEP("mount /dev/shm", attach(shm, dev, "shm", true));
	if (mq >= 0)
		STEP("mount /dev/mqueue", attach(mq, dev, "mqueue", true));
	if (log >= 0)
		STEP("mount /dev/log", attach(log, dev, "log", false));
#undef STEP
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A cell's own cgroup (cellcg.h). Every path is opened by fd from the
 * cgroup2 mount down, with O_NOFOLLOW, and every directory on the way must
 * be root's and unwritable by group and others: a cgroup a user could
 * write is one whose limits they could raise, or whose processes they could
 * move or freeze. A process writes "0" (itself) into cgroup.procs, never
 * another's pid: a pid can be reused between looking it up and writing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cellcg.h"
#include "cleanup.h"

int nscell_cellcg_mount(const char **ret_path)
{
	static const char *const where[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		_cleanup_close_ int fd = open(where[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct statfs sf;

		if (fd < 0)
			continue;
		if (fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC) {
			if (ret_path)
				*ret_path = where[i];
			return TAKE_FD(fd);
		}
	}
	return -ENOENT;
}

void nscell_cellcg_name(uid_t uid, const char *cell_id, char *buf, size_t size)
{
	snprintf(buf, size, "u%u.%s", (unsigned)uid, cell_id);
}

int nscell_cellcg_open_root_dir(int parent, const char *name)
{
	_cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != 0 || (st.st_mode & 0022))
		return -EPERM;
	return TAKE_FD(fd);
}

int nscell_cellcg_open(uid_t uid, const char *cell_id)
{
	_cleanup_close_ int mnt = -1, top = -1;
	char name[128];

	if (!cell_id[0] || strchr(cell_id, '/') || cell_id[0] == '.')
		return -EINVAL;
	mnt = nscell_cellcg_mount(NULL);
	if (mnt < 0)
		return mnt;
	top = nscell_cellcg_open_root_dir(mnt, NSCELL_CELLCG_DIR);
	if (top < 0)
		return top;
	nscell_cellcg_name(uid, cell_id, name, sizeof(name));
	return nscell_cellcg_open_root_dir(top, name);
}

int nscell_cellcg_enter(uid_t uid, const char *cell_id, char *why, size_t whylen)
{
	_cleanup_close_ int dir = -1, procs = -1;
	struct stat st;

	dir = nscell_cellcg_open(uid, cell_id);
	if (dir == -ENOENT)
		return 0;
	if (dir < 0) {
		snprintf(why, whylen, "cannot open the cgroup of cell %s: %s", cell_id, strerror(-dir));
		return dir;
	}
	errno = EPERM; /* for a file that is not root's */
	procs = openat(dir, "cgroup.procs", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (procs < 0 || fstat(procs, &st) < 0 || st.st_uid != 0 || (st.st_mode & 0022) ||
	    write(procs, "0", 1) != 1) {
		int e = errno;
		snprintf(why, whylen, "cannot enter the cgroup of cell %s: %s", cell_id, strerror(e));
		return -e;
	}
	return 1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PrivateLogins: the cell's second mount namespace, where its user's
 * processes live and the login records show only the user's own.
 *
 * The records are written by root processes of the cell's own mount
 * namespace (sshd's monitor and login after open_session, PAM modules at
 * open and close): a filtered copy there would swallow those writes. So the
 * setup child, once the cell's namespace (M1) is complete, makes a child of
 * it (M2, a slave: it receives every later host mount and sends none),
 * covers each record file there with a read-only, root-owned copy (logind's
 * state directories with a directory of copies) -- but utmp's copy, which
 * stays writable to whom the real file is (its owner, group and mode):
 * Debian 12's login writes its record there, in the shell's child, and
 * setgid-utmp helpers theirs; the init carries the user's own records on to
 * the real file (init-logins.c) -- and
 * returns to M1 to exec the init with:
 *   NSCELL_INIT_FD_LOGINS_NS     M2, handed to every session with its JOIN
 *                                answer (pam_nscell(8) says who enters it where)
 *   NSCELL_INIT_FD_LOGINS_COPY+i the copy of nscell_logins_files[i] (a directory
 *                                fd for logind's), or closed
 *                                when the host has no such file (and for the
 *                                databases, which stay empty)
 * The init fills the copies and keeps them current (init-logins.c). Nothing
 * is in the cell yet: no user can race a path here; the files' paths are
 * fixed and under root's directories, and no symlink is followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"
#include "logins-filter.h"

/* Bind `src` (a file of the staging tmpfs) over the host file `path`,
 * read-only unless `rw`. The paths are fixed and root's; Debian 13 has the
 * wtmpdb database as a link into /var/log: what is covered is the file it
 * names, which must be a regular file of root's. Its owner, group and mode
 * go to the copy of a file `rw` (`copy`), never writable by others. */
static int cover(const char *src, const char *path, bool dir, bool rw, int copy)
{
	/* logind's directories are opened without following a link. */
	_cleanup_close_ int t = open(path, O_PATH | O_CLOEXEC | (dir ? O_NOFOLLOW | O_DIRECTORY : 0));
	char at[40];
	struct stat st;

	if (t < 0)
		return -errno;
	if (fstat(t, &st) < 0)
		return -errno;
	if (!(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) || st.st_uid != 0)
		return -EINVAL;
	if (rw && (fchown(copy, 0, st.st_gid) < 0 || fchmod(copy, st.st_mode & 0664) < 0))
		return -errno;
	snprintf(at, sizeof(at), "/proc/self/fd/%d", t);
	if (mount(src, at, NULL, MS_BIND, NULL) < 0)
		return -errno;
	/* The fd still names the covered file: the remount by its path. */
	if (mount(NULL, path, NULL,
		  MS_BIND | MS_REMOUNT | (rw ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return -errno;
	return 0;
}

/* The copies' inodes: the files, logind's two directories and the user's
 * own entries in them (a session each, one user file), with room for a
 * temporary one each. More sessions than that are not copied. */
#define NSCELL_LOGINS_INODES "256"

int logins_setup(int *ret_fds, char *err, size_t errlen)
{
	_cleanup_close_ int m1 = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	char src[sizeof(NSCELL_RUNDIR) + 16];
	int rc;

	for (size_t i = 0; i <= NSCELL_LOGINS_N_FILES; i++)
		ret_fds[i] = -1;
	if (m1 < 0 || unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		snprintf(err, errlen, "PrivateLogins: cannot make the sessions' mount namespace: %s",
			 strerror(errno));
		return -errno;
	}
	/* The copies' tmpfs is staged on RUNDIR (covered empty in M1 already)
	 * and detached once bound: only the binds and the init's fds hold it. */
	if (mount("nscell-logins", NSCELL_RUNDIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=16m,nr_inodes=" NSCELL_LOGINS_INODES) < 0) {
		rc = -errno;
		snprintf(err, errlen, "PrivateLogins: mount tmpfs on %s: %s", NSCELL_RUNDIR, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++) {
		const struct nscell_logins_file *f = &nscell_logins_files[i];
		bool dir = f->kind == NSCELL_LOGINS_SESSIONS || f->kind == NSCELL_LOGINS_USERS;
		struct stat st;
		int fd;

		if (stat(f->path, &st) < 0 && errno == ENOENT)
			continue; /* nothing to hide (a link to nothing yet included) */
		snprintf(src, sizeof(src), "%s/%s", NSCELL_RUNDIR, f->copy);
		/* logind's directories: a directory of copies, which the init
		 * replaces by name in it (logind itself renames its files). */
		if (dir && mkdir(src, 0755) < 0)
			fd = -1;
		else
			fd = dir ? open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				 : open(src, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			rc = -errno;
			goto fail_path;
		}
		ret_fds[1 + i] = fd;
		if (fchmod(fd, dir ? 0755 : 0644) < 0) { /* readable as the real ones are, whatever the umask */
			rc = -errno;
			goto fail_path;
		}
		rc = cover(src, f->path, dir, f->kind == NSCELL_LOGINS_UTMP, fd);
		if (rc < 0)
			goto fail_path;
		if (f->kind == NSCELL_LOGINS_EMPTY) {
			close(fd); /* stays empty: nothing for the init to keep */
			ret_fds[1 + i] = -1;
		}
		continue;
fail_path:
		snprintf(err, errlen, "PrivateLogins: cover %s: %s", f->path, strerror(-rc));
		goto fail;
	}
	ret_fds[0] = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ret_fds[0] < 0 || umount2(NSCELL_RUNDIR, MNT_DETACH) < 0 || setns(m1, CLONE_NEWNS) < 0) {
		rc = -errno;
		snprintf(err, errlen, "PrivateLogins: cannot return to the cell's mount namespace: %s",
			 strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	for (size_t i = 0; i <= NSCELL_LOGINS_N_FILES; i++)
		nscell_closep(&ret_fds[i]);
	return rc;
}

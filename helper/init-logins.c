/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-init's part of PrivateLogins: the copies of the login records that
 * cover the real ones in the sessions' mount namespace (logins.c made them)
 * are filled at start and kept current, from the real files of the cell's
 * own namespace, where the host's writers keep writing.
 *
 * inotify on each real file; a burst of writes (one login writes several
 * records) is taken in one pass after LOGINS_DEBOUNCE_MSEC. The real files
 * are root's and the copies unwritable in the cell, so no user can make a
 * pass longer; a pass reads at most NSCELL_LOGINS_COPY_MAX of each file,
 * and wtmp, which only grows, from where the last pass stopped; a copy
 * holds the user's records of the real file's last NSCELL_LOGINS_COPY_MAX.
 *
 * logind's state directories (sessions, users: what `who` reads on a
 * systemd host) are copied entry by entry into the copy directory: each
 * pass lists the real directory (NSCELL_LOGINS_DIR_ENTRIES at most), writes
 * each of the user's own files (NSCELL_LOGINS_STATE_MAX at most) under a
 * temporary name and renames it over the copy, so a reader never sees half
 * a file, and removes the copies whose file is gone or no longer the user's.
 *
 * Not followed: a real file replaced (wtmp rotated) is read anew from its
 * path, but the sessions' namespace keeps its cover on the old file's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

#include "init-conn.h"
#include "logins-filter.h"

#define LOGINS_DEBOUNCE_MSEC 20
#define WATCH_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF | \
		    IN_DONT_FOLLOW)
#define DIR_WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | \
			IN_MOVE_SELF | IN_DELETE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR)
#define COPY_TMP ".nscell-new"

static struct {
	const char *user;
	int inofd, timerfd;
	int wd[NSCELL_LOGINS_N_FILES];
	unsigned dirty; /* bit i: nscell_logins_files[i] changed */
	unsigned full;  /* bit i: its copy reached NSCELL_LOGINS_COPY_MAX */
	bool armed;
	/* wtmp: where the real file was read up to, and the copy written */
	ino_t ino[NSCELL_LOGINS_N_FILES];
	off_t in_off[NSCELL_LOGINS_N_FILES], out_off[NSCELL_LOGINS_N_FILES];
} L = { .inofd = -1, .timerfd = -1 };

static int copy_fd(size_t i)
{
	return NSCELL_INIT_FD_LOGINS_COPY + (int)i;
}

static void refresh_records(size_t i, int in, const struct stat *st)
{
	unsigned char buf[8 * NSCELL_UTMP_RECORD];
	int out = copy_fd(i);
	bool append = nscell_logins_files[i].kind == NSCELL_LOGINS_WTMP;

	size_t pass = 0;

	/* utmp, a new or a shorter wtmp, a full copy: all again, from the
	 * file's last NSCELL_LOGINS_COPY_MAX (some 10,900 records). */
	if (!append || st->st_ino != L.ino[i] || st->st_size < L.in_off[i] ||
	    L.full & (1u << i)) {
		off_t from = st->st_size > (off_t)NSCELL_LOGINS_COPY_MAX ?
				     (st->st_size - (off_t)NSCELL_LOGINS_COPY_MAX) /
					     NSCELL_UTMP_RECORD * NSCELL_UTMP_RECORD : 0;
		L.in_off[i] = from;
		L.out_off[i] = 0;
		L.ino[i] = st->st_ino;
		L.full &= ~(1u << i);
	}
	while (pass < NSCELL_LOGINS_COPY_MAX) {
		ssize_t n = pread(in, buf, sizeof(buf), L.in_off[i]);
		size_t whole, w;
		if (n <= 0)
			break;
		whole = (size_t)n - (size_t)n % NSCELL_UTMP_RECORD;
		if (whole == 0)
			break; /* a record being written: the next event completes it */
		w = nscell_utmp_filter(buf, whole, buf, L.user);
		if (L.out_off[i] + (off_t)w > (off_t)NSCELL_LOGINS_COPY_MAX) {
			L.full |= 1u << i; /* the next pass starts the window again */
			L.dirty |= 1u << i;
			break;
		}
		if (w && pwrite(out, buf, w, L.out_off[i]) != (ssize_t)w)
			break;
		L.in_off[i] += (off_t)whole;
		L.out_off[i] += (off_t)w;
		pass += whole;
	}
	(void)!ftruncate(out, L.out_off[i]);
}

static void refresh_lastlog(size_t i, int in)
{
	unsigned char rec[NSCELL_LASTLOG_RECORD];
	uint64_t off = nscell_lastlog_offset(g.cfg.uid);
	ssize_t n = pread(in, rec, sizeof(rec), (off_t)off);
	int out = copy_fd(i);

	if (n != (ssize_t)sizeof(rec)) {
		(void)!ftruncate(out, 0); /* never logged in */
		return;
	}
	/* Sparse: every other uid's record reads as never logged in. */
	if (ftruncate(out, (off_t)(off + sizeof(rec))) == 0)
		(void)!pwrite(out, rec, sizeof(rec), (off_t)off);
}

static bool is_dir_kind(enum nscell_logins_kind k)
{
	return k == NSCELL_LOGINS_SESSIONS || k == NSCELL_LOGINS_USERS;
}

/* Read the entry `name` of the real directory `dir` into buf (a regular
 * file of root's, NSCELL_LOGINS_STATE_MAX at most, no FIFO such as a
 * session's .ref opened): its length if it is the user's, else -1. */
static ssize_t logind_entry(enum nscell_logins_kind kind, int dir, const char *name, char *buf)
{
	struct stat st;
	ssize_t n;
	int fd;

	if (name[0] == '.' || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_uid != 0 || st.st_size > NSCELL_LOGINS_STATE_MAX)
		return -1;
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		n = -1;
	else
		n = read(fd, buf, NSCELL_LOGINS_STATE_MAX + 1);
	close(fd);
	if (n < 0 || n > NSCELL_LOGINS_STATE_MAX ||
	    !nscell_logind_visible(kind, name, buf, (size_t)n, g.cfg.uid))
		return -1;
	return n;
}

/* Each name of directory fd `dir` (NSCELL_LOGINS_DIR_ENTRIES at most), to fn. */
static void each_entry(int dir, void (*fn)(size_t i, int real, const char *name), size_t i, int real)
{
	char b[2048];
	unsigned seen = 0;
	long n;

	lseek(dir, 0, SEEK_SET);
	while (seen < NSCELL_LOGINS_DIR_ENTRIES && (n = syscall(SYS_getdents64, dir, b, sizeof(b))) > 0) {
		for (long p = 0; p < n && seen < NSCELL_LOGINS_DIR_ENTRIES; seen++) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen;
			memcpy(&reclen, b + p + 16, sizeof(reclen));
			fn(i, real, b + p + 19);
			p += reclen;
		}
	}
}

/* A copy whose real file is gone or not the user's any more goes. */
static void prune(size_t i, int real, const char *name)
{
	char buf[NSCELL_LOGINS_STATE_MAX + 1];

	if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
		return;
	if (logind_entry(nscell_logins_files[i].kind, real, name, buf) < 0)
		(void)unlinkat(copy_fd(i), name, 0);
}

/* A file of the user's is copied whole, then renamed over its copy. */
static void copy(size_t i, int real, const char *name)
{
	char buf[NSCELL_LOGINS_STATE_MAX + 1];
	ssize_t n = logind_entry(nscell_logins_files[i].kind, real, name, buf);
	int out;

	if (n < 0)
		return;
	out = openat(copy_fd(i), COPY_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0)
		return;
	if (fchmod(out, 0644) == 0 && write(out, buf, (size_t)n) == n && close(out) == 0)
		(void)renameat(copy_fd(i), COPY_TMP, copy_fd(i), name);
	else
		close(out);
	(void)unlinkat(copy_fd(i), COPY_TMP, 0);
}

static void refresh(size_t i)
{
	const struct nscell_logins_file *f = &nscell_logins_files[i];
	bool dir = is_dir_kind(f->kind);
	int in = open(f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	struct stat st;

	if (L.wd[i] < 0)
		L.wd[i] = inotify_add_watch(L.inofd, f->path, dir ? DIR_WATCH_MASK : WATCH_MASK);
	if (in < 0 || fstat(in, &st) < 0 || !(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) ||
	    (dir && st.st_uid != 0)) {
		if (in >= 0)
			close(in);
		return; /* gone for now: the copy keeps what it had */
	}
	if (dir) {
		each_entry(copy_fd(i), prune, i, in);
		each_entry(in, copy, i, in);
	} else if (f->kind == NSCELL_LOGINS_LASTLOG)
		refresh_lastlog(i, in);
	else
		refresh_records(i, in, &st);
	close(in);
}

bool init_logins_start(void)
{
	struct stat st;

	if (!g.private_logins)
		return true;
	L.user = getenv("NSCELL_LOGINS_USER");
	L.inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	L.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!L.user || !L.user[0] || L.inofd < 0 || L.timerfd < 0 ||
	    fstat(NSCELL_INIT_FD_LOGINS_NS, &st) < 0)
		return false;
	fcntl(NSCELL_INIT_FD_LOGINS_NS, F_SETFD, FD_CLOEXEC);
	g.loginsfd = NSCELL_INIT_FD_LOGINS_NS;
	for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++) {
		L.wd[i] = -1;
		if (fcntl(copy_fd(i), F_SETFD, FD_CLOEXEC) < 0)
			continue; /* the host has no such file */
		L.dirty |= 1u << i;
	}
	/* Watches first, then the first pass: nothing written in between is lost. */
	for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++)
		if (L.dirty & (1u << i))
			L.wd[i] = inotify_add_watch(L.inofd, nscell_logins_files[i].path,
						    is_dir_kind(nscell_logins_files[i].kind) ?
							    DIR_WATCH_MASK : WATCH_MASK);
	epoll_add(L.inofd, TAG_LOGINS_INOTIFY);
	epoll_add(L.timerfd, TAG_LOGINS_TIMER);
	init_logins_timer();
	return true;
}

/* One pass LOGINS_DEBOUNCE_MSEC after the first change of a burst. */
static void arm(void)
{
	struct itimerspec t = { .it_value = { 0, LOGINS_DEBOUNCE_MSEC * 1000000L } };

	if (L.dirty && !L.armed && timerfd_settime(L.timerfd, 0, &t, NULL) == 0)
		L.armed = true;
}

void init_logins_inotify(void)
{
	union {
		struct inotify_event ev;
		char b[4096];
	} u;
	ssize_t n;

	while ((n = read(L.inofd, u.b, sizeof(u.b))) > 0) {
		for (char *p = u.b; p < u.b + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++) {
				if (ev->wd != L.wd[i])
					continue;
				L.dirty |= 1u << i;
				if (ev->mask & (IN_IGNORED | IN_MOVE_SELF | IN_DELETE_SELF)) {
					/* Replaced: watch the new file at the next pass. */
					if (!(ev->mask & IN_IGNORED))
						inotify_rm_watch(L.inofd, ev->wd);
					L.wd[i] = -1;
				}
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	arm();
}

void init_logins_timer(void)
{
	uint64_t ticks;
	unsigned dirty = L.dirty;

	(void)!read(L.timerfd, &ticks, sizeof(ticks));
	L.armed = false;
	L.dirty = 0;
	for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++)
		if (dirty & (1u << i))
			refresh(i);
	arm(); /* a copy that filled up starts again */
}

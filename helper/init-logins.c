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
 * Not followed: a real file replaced (wtmp rotated) is read anew from its
 * path, but the sessions' namespace keeps its cover on the old file's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

#include "init-conn.h"
#include "logins-filter.h"

#define LOGINS_DEBOUNCE_MSEC 20
#define WATCH_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF | \
		    IN_DONT_FOLLOW)

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

static void refresh(size_t i)
{
	const struct nscell_logins_file *f = &nscell_logins_files[i];
	int in = open(f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (L.wd[i] < 0)
		L.wd[i] = inotify_add_watch(L.inofd, f->path, WATCH_MASK);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (in >= 0)
			close(in);
		return; /* gone for now: the copy keeps what it had */
	}
	if (f->kind == NSCELL_LOGINS_LASTLOG)
		refresh_lastlog(i, in);
	else
		refresh_records(i, in, &st);
	close(in);
}

bool init_logins_start(void)
{
	struct stat st;

	if (!g.settings.private_logins)
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
			L.wd[i] = inotify_add_watch(L.inofd, nscell_logins_files[i].path, WATCH_MASK);
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

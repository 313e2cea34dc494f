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
 * utmp's copy is writable to whom the real file is (logins.c): Debian 12's
 * login writes its record there, as root, in the shell's child. A pass
 * after a write compares the copy with what the init last saw in it, and
 * each record that changed and is the user's own login or the logout of
 * one (logins-filter.h) goes to the real file, where pututline() would put
 * it; anything else stays in the copy and is logged. Locks are the C
 * library's (fcntl on the whole file) but never waited for: open file
 * description locks tried once a pass. A copy's reader (the user) can delay
 * only the copy's own refresh; the real file locked by another goes on
 * being tried, LOGINS_BUSY_MAX_MSEC at most, then the records are dropped.
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
#define LOGINS_BUSY_RETRY_MSEC 100   /* the real utmp locked by another */
#define LOGINS_READER_RETRY_MSEC 1000 /* the copy read-locked by its user */
#define LOGINS_BUSY_MAX_MSEC 10000   /* as long as the C library waits for it */
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
	unsigned written; /* bit i: its copy was written (utmp's alone can be) */
	int cwd[NSCELL_LOGINS_N_FILES]; /* the watch on a writable copy */
	bool armed;
	/* utmp's copy as the init last saw it; the real file locked since */
	unsigned char *seen;
	size_t seenlen;
	uint64_t busy_since;
	/* wtmp: where the real file was read up to, and the copy written */
	ino_t ino[NSCELL_LOGINS_N_FILES];
	off_t in_off[NSCELL_LOGINS_N_FILES], out_off[NSCELL_LOGINS_N_FILES];
} L = { .inofd = -1, .timerfd = -1 };

static void arm(unsigned msec);

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

static void refresh(size_t i);

/* An open file description lock on the whole file, never waited for. */
static int try_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* All of a file, NSCELL_LOGINS_COPY_MAX at most, and `room` bytes more
 * allocated; NULL with *len 0 when empty or unreadable. */
static unsigned char *read_all(int fd, size_t room, size_t *len)
{
	struct stat st;
	unsigned char *b;
	size_t n = 0;

	*len = 0;
	if (fstat(fd, &st) < 0)
		return NULL;
	n = st.st_size <= 0 ? 0 : (size_t)st.st_size < NSCELL_LOGINS_COPY_MAX ? (size_t)st.st_size :
									  NSCELL_LOGINS_COPY_MAX;
	if (n + room == 0)
		return NULL;
	b = malloc(n + room);
	if (!b)
		return NULL;
	while (*len < n) {
		ssize_t r = pread(fd, b + *len, n - *len, (off_t)*len);
		if (r <= 0)
			break;
		*len += (size_t)r;
	}
	return b;
}

/* Whether the terminal of the record's line is the cell's user's now: a
 * character device of /dev, no link followed at its end. */
static bool holds_line(const unsigned char *rec)
{
	char line[NSCELL_UTMP_LINE_LEN + 1], path[sizeof("/dev/") + NSCELL_UTMP_LINE_LEN];
	struct stat st;
	bool mine;
	int fd;

	memcpy(line, rec + NSCELL_UTMP_LINE_OFF, NSCELL_UTMP_LINE_LEN);
	line[NSCELL_UTMP_LINE_LEN] = '\0';
	if (!line[0] || line[0] == '/' || strstr(line, ".."))
		return false;
	snprintf(path, sizeof(path), "/dev/%s", line);
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	mine = fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_uid == g.cfg.uid;
	close(fd);
	return mine;
}

/* The records of the copy `cur` that differ from what the init last saw go
 * to the real utmp. -EAGAIN while another holds its lock. */
static int forward(size_t i, const unsigned char *cur, size_t len)
{
	const char *path = nscell_logins_files[i].path;
	unsigned changed = 0, done = 0, refused = 0;
	unsigned char *real = NULL;
	size_t rlen = 0, whole;
	struct stat st;
	int fd, rc = 0;

	for (size_t r = 0; r + NSCELL_UTMP_RECORD <= len; r += NSCELL_UTMP_RECORD)
		if (r + NSCELL_UTMP_RECORD > L.seenlen || memcmp(cur + r, L.seen + r, NSCELL_UTMP_RECORD))
			changed++;
	if (!changed)
		return 0;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    st.st_size > (off_t)NSCELL_LOGINS_COPY_MAX) {
		logf_(LOG_WARNING, "event=logins-not-forwarded cell=%s records=%u error=\"%s is not a file of root's to write (or over %u bytes)\"",
		      g.cfg.cell_id, changed, path, NSCELL_LOGINS_COPY_MAX);
		goto out;
	}
	if (try_lock(fd, F_WRLCK) < 0) {
		if (errno == EAGAIN || errno == EACCES)
			rc = -EAGAIN;
		else
			logf_(LOG_WARNING, "event=logins-not-forwarded cell=%s records=%u error=\"lock %s: %m\"",
			      g.cfg.cell_id, changed, path);
		goto out;
	}
	real = read_all(fd, (size_t)changed * NSCELL_UTMP_RECORD, &rlen);
	if (!real) {
		logf_(LOG_WARNING, "event=logins-not-forwarded cell=%s records=%u error=\"read %s: %m\"",
		      g.cfg.cell_id, changed, path);
		goto out;
	}
	whole = rlen - rlen % NSCELL_UTMP_RECORD;
	if (whole != rlen) /* a torn record at the end: as the C library, cut it */
		(void)!ftruncate(fd, (off_t)whole);
	for (size_t r = 0; r + NSCELL_UTMP_RECORD <= len; r += NSCELL_UTMP_RECORD) {
		const unsigned char *rec = cur + r;
		size_t slot;

		if (r + NSCELL_UTMP_RECORD <= L.seenlen && !memcmp(rec, L.seen + r, NSCELL_UTMP_RECORD))
			continue;
		slot = nscell_utmp_slot(real, whole, rec);
		if (!nscell_utmp_forwardable(rec, slot == SIZE_MAX ? NULL : real + slot, L.user,
					     holds_line(rec))) {
			refused++;
			continue;
		}
		if (slot == SIZE_MAX)
			slot = whole;
		if (pwrite(fd, rec, NSCELL_UTMP_RECORD, (off_t)slot) != NSCELL_UTMP_RECORD)
			break;
		memcpy(real + slot, rec, NSCELL_UTMP_RECORD);
		if (slot == whole)
			whole += NSCELL_UTMP_RECORD;
		done++;
	}
	if (refused)
		logf_(LOG_WARNING, "event=logins-not-forwarded cell=%s records=%u error=\"records written in the sessions' utmp that are not %s's own logins or their logouts stay there\"",
		      g.cfg.cell_id, refused, L.user);
	if (done)
		logf_(LOG_INFO, "event=logins-forwarded cell=%s records=%u", g.cfg.cell_id, done);
out:
	free(real);
	if (fd >= 0)
		close(fd); /* and its lock */
	return rc;
}

/* utmp: what the sessions wrote goes on to the real file first, then the
 * copy is refreshed if the real one changed, under the copy's write lock
 * (no writer in between); read-locked by its user, the refresh waits. */
static void utmp_pass(size_t i, bool host_changed)
{
	int copy = copy_fd(i);
	bool excl = try_lock(copy, F_WRLCK) == 0;
	unsigned char *cur;
	size_t len;

	if (!excl && try_lock(copy, F_RDLCK) < 0) {
		L.written |= 1u << i; /* a writer at work: its record next pass */
		L.dirty |= host_changed ? 1u << i : 0;
		arm(LOGINS_DEBOUNCE_MSEC);
		return;
	}
	cur = read_all(copy, 0, &len);
	if (forward(i, cur, len) == -EAGAIN) {
		uint64_t now = now_usec(CLOCK_MONOTONIC) / 1000u;
		if (!L.busy_since)
			L.busy_since = now;
		if (now - L.busy_since < LOGINS_BUSY_MAX_MSEC) {
			free(cur);
			(void)try_lock(copy, F_UNLCK);
			L.written |= 1u << i;
			L.dirty |= host_changed ? 1u << i : 0;
			arm(LOGINS_BUSY_RETRY_MSEC);
			return;
		}
		logf_(LOG_WARNING, "event=logins-not-forwarded cell=%s error=\"%s stayed locked for %u ms: the records the sessions wrote are not on it\"",
		      g.cfg.cell_id, nscell_logins_files[i].path, LOGINS_BUSY_MAX_MSEC);
	}
	L.busy_since = 0;
	free(L.seen);
	L.seen = cur; /* what differs from this is a new write */
	L.seenlen = len;
	if (host_changed && excl) {
		refresh(i);
		free(L.seen);
		L.seen = read_all(copy, 0, &L.seenlen);
	} else if (host_changed) {
		L.dirty |= 1u << i;
		arm(LOGINS_READER_RETRY_MSEC);
	}
	(void)try_lock(copy, F_UNLCK);
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
	for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++) {
		char self[40];

		L.cwd[i] = -1;
		if (!(L.dirty & (1u << i)))
			continue;
		L.wd[i] = inotify_add_watch(L.inofd, nscell_logins_files[i].path,
					    is_dir_kind(nscell_logins_files[i].kind) ?
						    DIR_WATCH_MASK : WATCH_MASK);
		/* The copy by its fd: its tmpfs is mounted nowhere here. */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", copy_fd(i));
		if (nscell_logins_files[i].kind == NSCELL_LOGINS_UTMP &&
		    (L.cwd[i] = inotify_add_watch(L.inofd, self, IN_MODIFY | IN_CLOSE_WRITE)) < 0)
			return false;
	}
	epoll_add(L.inofd, TAG_LOGINS_INOTIFY);
	epoll_add(L.timerfd, TAG_LOGINS_TIMER);
	init_logins_timer();
	return true;
}

/* One pass `msec` after the first change of a burst (LOGINS_DEBOUNCE_MSEC),
 * or a retry's. */
static void arm(unsigned msec)
{
	struct itimerspec t = { .it_value = { msec / 1000, (long)(msec % 1000) * 1000000L } };

	if ((L.dirty || L.written) && !L.armed && timerfd_settime(L.timerfd, 0, &t, NULL) == 0)
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
				if (ev->wd == L.cwd[i] && ev->wd >= 0)
					L.written |= 1u << i;
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
	arm(LOGINS_DEBOUNCE_MSEC);
}

void init_logins_timer(void)
{
	uint64_t ticks;
	unsigned dirty = L.dirty, written = L.written;

	(void)!read(L.timerfd, &ticks, sizeof(ticks));
	L.armed = false;
	L.dirty = L.written = 0;
	for (size_t i = 0; i < NSCELL_LOGINS_N_FILES; i++) {
		if (nscell_logins_files[i].kind == NSCELL_LOGINS_UTMP && ((dirty | written) & (1u << i)))
			utmp_pass(i, dirty & (1u << i));
		else if (dirty & (1u << i))
			refresh(i);
	}
	arm(LOGINS_DEBOUNCE_MSEC); /* a copy that filled up starts again */
}

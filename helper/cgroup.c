/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The helper and the inits it makes live in cgroups the caller cannot write.
 *
 * A cgroup delegated to a user (systemd does it for user@UID.service, so
 * every systemd --user unit runs in one; pam_cgfs does it on LXC hosts) is
 * the user's to control: cgroup.freeze stops every process in it,
 * cgroup.kill SIGKILLs them, memory.max, cpu.max and pids.max starve them.
 * Processes inherit their parent's cgroup, and `nscell run` is called from
 * such units: left there, the root helper could be frozen while it holds
 * its registry lock, and a cell's init killed.
 *
 * So before any privileged step the helper checks, for every hierarchy it is
 * in, that neither its cgroup nor an ancestor up to the hierarchy's root is
 * owned by a non-root uid or writable by group or others (check_hierarchy
 * says which files). That is the common case (an sshd, su or login session
 * scope, cron's session, the root cgroup) and costs one small /proc read and
 * a few fstatat()s. Otherwise it moves itself:
 *
 *  - on a systemd host, into a transient scope systemd makes for it (a
 *    cgroup made behind systemd's back would break its single-writer rule),
 *    in the root-owned user-UID.slice, so that the user's resources stay
 *    accounted to the user and `loginctl terminate-user` still ends it.
 *    The scope has no Delegate=, so it is root's. systemd is asked over its
 *    private socket (root only, no bus daemon needed); libsystemd is loaded
 *    only then (linked in, it costs every helper start ~0.6 ms on this class
 *    of machine, the open verb included);
 *  - elsewhere, into <hierarchy>/nscell, a cgroup of nscell's own that the
 *    helper makes root-owned 0755 in each hierarchy where it has to move.
 *
 * Children inherit the cgroup, so a cell's init is born in the safe one. The
 * run verb's command goes back into the caller's cgroup before it is
 * executed (helper_return_to_caller_cgroup): a systemd --user unit keeps
 * accounting for and stopping its own command.
 *
 * Where no cgroup file system is mounted, nothing is delegated: nothing to
 * do. If no safe cgroup can be had, the helper refuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#include "sdbus.h"

#define MAX_HIERARCHIES 16

/* The files through which the processes of a cgroup are moved, frozen or
 * killed (see check_hierarchy). */
static const char *const v2_files[] = { "cgroup.procs", "cgroup.freeze", "cgroup.kill" };
static const char *const v1_files[] = { "cgroup.procs", "tasks", "freezer.state" };

struct hierarchy {
	char *controllers; /* "" for cgroup v2, "cpu,cpuacct", "name=systemd"... */
	char *path;        /* the caller's cgroup in it, from /proc/self/cgroup */
	char *mount;       /* where it is mounted, NULL if nowhere here */
	bool unsafe;
	uid_t owner;       /* of the first unsafe node, for the log */
	char *where;       /* ... and its path */
};

/* Ways back into the caller's cgroups, opened while we were still full
 * root: writing cgroup.procs is checked against the opener's credentials. */
static int way_back[MAX_HIERARCHIES];
static size_t n_way_back;

static char *read_small(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t size = 4096, len = 0;

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n;
		if (len + 1 >= size || !buf) {
			char *b;
			if (size > (1u << 22))
				return NULL;
			b = realloc(buf, size *= 2);
			if (!b)
				return NULL;
			buf = b;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return TAKE_PTR(buf);
}

static void hierarchies_free(struct hierarchy *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].controllers);
		free(h[i].path);
		free(h[i].mount);
		free(h[i].where);
	}
}

/*
 * /proc/self/cgroup: "ID:CONTROLLERS:PATH" per hierarchy. Cgroup names below
 * a delegated cgroup are the user's choice and may hold a newline: a line
 * that does not parse, or a hierarchy seen twice, makes the whole answer
 * unknown (-EBADMSG: refused). A newline that still parses cuts the path
 * short inside the user's own cgroup, which then does not exist or is the
 * user's: unsafe either way.
 */
static int read_hierarchies(struct hierarchy *h, size_t *ret_n, bool *ret_all_root)
{
	_cleanup_free_ char *text = read_small("/proc/self/cgroup");
	char *save = NULL, *line;
	bool all_root = true;
	size_t n = 0;

	if (!text)
		return errno == ENOENT ? 0 : -errno;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/' || n >= MAX_HIERARCHIES)
			return -EBADMSG;
		*c2 = '\0';
		for (size_t i = 0; i < n; i++)
			if (strcmp(h[i].controllers, c1 + 1) == 0)
				return -EBADMSG;
		h[n].controllers = strdup(c1 + 1);
		h[n].path = strdup(c2 + 1);
		if (!h[n].controllers || !h[n].path) {
			n++;
			hierarchies_free(h, n);
			return -ENOMEM;
		}
		if (strcmp(h[n].path, "/") != 0)
			all_root = false;
		n++;
	}
	*ret_n = n;
	*ret_all_root = all_root;
	return 0;
}

/* Is every controller of `want` ("cpu,cpuacct") an option in `opts`? */
static bool has_controllers(const char *opts, const char *want)
{
	_cleanup_free_ char *w = strdup(want);
	char *save = NULL;

	if (!w || !*want)
		return false;
	for (char *c = strtok_r(w, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(c);
		const char *p = opts;
		bool found = false;
		while (p && *p) {
			if (strncmp(p, c, len) == 0 && (p[len] == ',' || p[len] == '\0'))
				found = true;
			p = strchr(p, ',');
			if (p)
				p++;
		}
		if (!found)
			return false;
	}
	return true;
}

/* Where each hierarchy is mounted whole (root "/"), from mountinfo: for
 * those not found where systemd and every distribution mount them. */
static int find_mounts(struct hierarchy *h, size_t n)
{
	_cleanup_free_ char *text = read_small("/proc/self/mountinfo");
	char *save = NULL, *line;

	if (!text)
		return -errno;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *root = NULL, *mnt = NULL, *fstype = NULL, *superopts = NULL;
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %ms %ms", &root, &mnt) != 2 ||
		    sscanf(dash + 3, "%ms %*s %ms", &fstype, &superopts) != 2)
			continue;
		/* Only whole hierarchies at plain paths (mountinfo escapes
		 * spaces and backslashes; cgroup mounts have none). */
		if (strcmp(root, "/") != 0 || strchr(mnt, '\\'))
			continue;
		for (size_t i = 0; i < n; i++) {
			bool v2 = h[i].controllers[0] == '\0';
			if (h[i].mount || strcmp(h[i].path, "/") == 0)
				continue;
			if (v2 ? strcmp(fstype, "cgroup2") == 0 :
				 strcmp(fstype, "cgroup") == 0 &&
					 has_controllers(superopts, h[i].controllers)) {
				h[i].mount = strdup(mnt);
				if (!h[i].mount)
					return -ENOMEM;
			}
		}
	}
	return 0;
}

/* The usual places: /sys/fs/cgroup (unified), /sys/fs/cgroup/unified
 * (hybrid), /sys/fs/cgroup/<controllers> (v1; name=X at X), each checked to
 * be a cgroup file system of the right version. Saves reading mountinfo. */
static bool find_mount_usual(struct hierarchy *h)
{
	static const char *const v2_places[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	bool v2 = h->controllers[0] == '\0';
	char v1_place[128];
	const char *places[2];
	size_t n = 0;

	if (v2) {
		places[n++] = v2_places[0];
		places[n++] = v2_places[1];
	} else {
		const char *name = strncmp(h->controllers, "name=", 5) == 0 ? h->controllers + 5 :
									       h->controllers;
		if (snprintf(v1_place, sizeof(v1_place), "/sys/fs/cgroup/%s", name) >=
		    (int)sizeof(v1_place))
			return false;
		places[n++] = v1_place;
	}
	for (size_t i = 0; i < n; i++) {
		struct statfs sf;
		if (statfs(places[i], &sf) == 0 &&
		    (unsigned long)sf.f_type == (v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC)) {
			h->mount = strdup(places[i]);
			return h->mount != NULL;
		}
	}
	return false;
}

/* A cgroup directory (which must exist) or control file (which need not:
 * not every hierarchy has every file) that a non-root uid owns or that group
 * or others may write. */
static bool node_unsafe(int dirfd, const char *path, bool dir, uid_t *ret_owner)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW | (*path ? 0 : AT_EMPTY_PATH)) < 0)
		return dir || errno != ENOENT;
	if (st.st_uid != 0 || (st.st_mode & 0022) || (dir && !S_ISDIR(st.st_mode))) {
		*ret_owner = st.st_uid;
		return true;
	}
	return false;
}

static void mark_unsafe(struct hierarchy *h, const char *rel, size_t rel_len, const char *file,
			uid_t owner)
{
	h->unsafe = true;
	h->owner = owner;
	free(h->where);
	if (asprintf(&h->where, "%s%.*s%s%s", h->mount, (int)rel_len, rel, file ? "/" : "",
		     file ? file : "") < 0)
		h->where = NULL;
}

/*
 * From the hierarchy's root down to the caller's cgroup, by fd and without
 * following links: every cgroup's directory, and the control files of the
 * caller's own. The files of a cgroup are made by the kernel root-owned
 * (0644, cgroup.kill 0200), or, in a cgroup a user made, the user's:
 * delegation (systemd's Delegate=, pam_cgfs) chowns the directory with
 * cgroup.procs, cgroup.threads and cgroup.subtree_control. So a directory
 * with a non-root owner is what delegation looks like at any depth; the own
 * cgroup's files are checked too, for one file granted alone. (Checking
 * every file of every ancestor would double the cost, here ~15 us a level,
 * for grants nobody makes.)
 */
static void check_hierarchy(struct hierarchy *h)
{
	_cleanup_close_ int fd = -1;
	bool v2 = h->controllers[0] == '\0';
	const char *const *files = v2 ? v2_files : v1_files;
	size_t n_files = v2 ? NSCELL_ELEMENTSOF(v2_files) : NSCELL_ELEMENTSOF(v1_files);
	const char *p = h->path;

	fd = open(h->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		mark_unsafe(h, "", 0, NULL, (uid_t)-1);
		return;
	}
	for (;;) {
		char name[256];
		uid_t owner = (uid_t)-1;
		const char *comp, *bad = NULL;
		size_t len;
		int nfd;

		while (*p == '/')
			p++;
		comp = p;
		len = strcspn(p, "/");
		p += len;
		/* ".." is how a cgroup namespace shows what lies outside it:
		 * nothing we can look at. */
		if (len >= sizeof(name) || (comp[0] == '.' && (len == 1 || (len == 2 && comp[1] == '.')))) {
			mark_unsafe(h, h->path, (size_t)(p - h->path), NULL, (uid_t)-1);
			return;
		}
		memcpy(name, comp, len);
		name[len] = '\0';
		nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			mark_unsafe(h, h->path, (size_t)(p - h->path), NULL, (uid_t)-1);
			return;
		}
		close(fd);
		fd = nfd;
		if (node_unsafe(fd, "", true, &owner))
			bad = "";
		while (*p == '/')
			p++;
		for (size_t i = 0; !*p && !bad && i < n_files; i++)
			if (node_unsafe(fd, files[i], false, &owner))
				bad = files[i];
		if (bad) {
			mark_unsafe(h, h->path, (size_t)(comp + len - h->path), *bad ? bad : NULL, owner);
			return;
		}
		if (!*p)
			return;
	}
}

/* Fill h[] and mark each hierarchy we are in unsafely. Returns the number
 * of hierarchies, or -errno when they cannot be read (then: unsafe). */
static int survey(struct hierarchy *h, size_t *ret_n, bool *ret_any_unsafe)
{
	bool all_root = false, any = false, need_mountinfo = false;
	size_t n = 0;
	int rc;

	rc = read_hierarchies(h, &n, &all_root);
	if (rc < 0)
		return rc;
	*ret_n = n;
	*ret_any_unsafe = false;
	/* The root cgroup of every hierarchy is the kernel's: nothing to look at. */
	if (n == 0 || all_root)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i].path, "/") != 0 && !find_mount_usual(&h[i]))
			need_mountinfo = true;
	if (need_mountinfo) {
		rc = find_mounts(h, n);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		/* In the root cgroup, or not mounted here (then nobody here can
		 * write it either). */
		if (strcmp(h[i].path, "/") == 0 || !h[i].mount)
			continue;
		check_hierarchy(&h[i]);
		any = any || h[i].unsafe;
	}
	*ret_any_unsafe = any;
	return 0;
}

static int open_procs(const char *mount, const char *path)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s%s/cgroup.procs", mount, strcmp(path, "/") == 0 ? "" : path) < 0)
		return -ENOMEM;
	/* The path was just walked without links; a user can rename nothing
	 * in a v2 hierarchy, and O_NOFOLLOW guards the last step. */
	return open(p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
}

static int write_self(int procs_fd)
{
	ssize_t n = write(procs_fd, "0", 1);
	return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

/* <mount>/nscell, root-owned 0755, and into it. A concurrent rmdir of an
 * empty one (the test suite's clean-up) is retried. */
static int move_into_own(const struct hierarchy *h)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		_cleanup_close_ int mfd = -1, dfd = -1, pfd = -1;
		struct stat st;
		int rc;

		mfd = open(h->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			return -errno;
		if (mkdirat(mfd, "nscell", 0755) < 0 && errno != EEXIST)
			return -errno;
		dfd = openat(mfd, "nscell", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (fstat(dfd, &st) < 0)
			return -errno;
		if (st.st_uid != 0 || (st.st_mode & 0022))
			return -EPERM;
		pfd = openat(dfd, "cgroup.procs", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0) {
			if (errno == ENOENT || errno == ENODEV)
				continue;
			return -errno;
		}
		rc = write_self(pfd);
		if (rc == -ENODEV || rc == -ENOENT)
			continue;
		return rc;
	}
	return -EAGAIN;
}

#if HAVE_SD_BUS
struct job_wait {
	const char *job;
	bool done;
	char result[32];
	const struct helper_sdbus *s;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct job_wait *w = userdata;
	const char *path = NULL, *unit = NULL, *result = NULL;
	uint32_t id;

	if (w->s->message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !w->job)
		return 0;
	if (path && strcmp(path, w->job) == 0) {
		w->done = true;
		snprintf(w->result, sizeof(w->result), "%s", result ? result : "?");
	}
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Only this caller waits here (no lock is held yet); still, a stuck
 * systemd must not keep it forever. */
#define SYSTEMD_DEADLINE_USEC (10u * 1000000u)

static int move_into_scope(uid_t uid, char *err, size_t errlen)
{
	struct helper_sdbus s = { 0 };
	sd_bus *bus = NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	struct job_wait w = { .s = &s };
	const char *job = NULL;
	char unit[64], slice[32];
	unsigned char r[4] = { 0 };
	uint64_t deadline = now_usec() + SYSTEMD_DEADLINE_USEC;
	int rc;

	rc = helper_sdbus_load(&s);
	if (rc < 0) {
		snprintf(err, errlen, "libsystemd.so.0 cannot be loaded (%s) to ask systemd for a scope",
			 rc == -ENOENT ? "not installed" : "too old");
		return rc;
	}
	(void)!getrandom(r, sizeof(r), GRND_NONBLOCK);
	snprintf(unit, sizeof(unit), "nscell-helper-%d-%02x%02x%02x%02x.scope", (int)getpid(),
		 r[0], r[1], r[2], r[3]);
	snprintf(slice, sizeof(slice), "user-%u.slice", (unsigned)uid);

	rc = helper_sdbus_connect(&s, &bus);
	if (rc < 0) {
		snprintf(err, errlen, "cannot reach systemd on /run/systemd/private: %s", strerror(-rc));
		goto out;
	}
	rc = s.match_signal(bus, NULL, NULL, "/org/freedesktop/systemd1",
			    "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &w);
	if (rc >= 0)
		rc = s.message_new_method_call(bus, &m, "org.freedesktop.systemd1",
					       "/org/freedesktop/systemd1",
					       "org.freedesktop.systemd1.Manager",
					       "StartTransientUnit");
	if (rc >= 0)
		rc = s.message_append(m, "ss", unit, "fail");
	if (rc >= 0)
		rc = s.message_open_container(m, 'a', "(sv)");
	if (rc >= 0)
		rc = s.message_append(m, "(sv)", "Description", "s",
				      "nscell helper and the cells it makes");
	if (rc >= 0)
		rc = s.message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)getpid());
	/* The slice of the user who could write the cgroup we left; unknown
	 * (or root): where systemd puts scopes by default. */
	if (rc >= 0 && uid != 0 && uid != (uid_t)-1)
		rc = s.message_append(m, "(sv)", "Slice", "s", slice);
	if (rc >= 0)
		rc = s.message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
	if (rc >= 0)
		rc = s.message_close_container(m);
	if (rc >= 0)
		rc = s.message_append(m, "a(sa(sv))", 0);
	if (rc < 0) {
		snprintf(err, errlen, "cannot build the request to systemd: %s", strerror(-rc));
		goto out;
	}
	rc = s.call(bus, m, SYSTEMD_DEADLINE_USEC, &e, &reply);
	if (rc < 0) {
		snprintf(err, errlen, "systemd refused the scope %s: %s", unit,
			 e.message ? e.message : strerror(-rc));
		goto out;
	}
	rc = s.message_read(reply, "o", &job);
	if (rc < 0) {
		snprintf(err, errlen, "unexpected answer from systemd: %s", strerror(-rc));
		goto out;
	}
	w.job = job;
	while (!w.done) {
		uint64_t t = now_usec();
		if (t >= deadline) {
			rc = -ETIMEDOUT;
			snprintf(err, errlen, "systemd did not start the scope %s within %u s", unit,
				 SYSTEMD_DEADLINE_USEC / 1000000u);
			goto out;
		}
		rc = s.process(bus, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "lost systemd while it started %s: %s", unit, strerror(-rc));
			goto out;
		}
		if (rc == 0)
			(void)s.wait(bus, deadline - t);
	}
	if (strcmp(w.result, "done") != 0) {
		rc = -EIO;
		snprintf(err, errlen, "systemd could not start the scope %s: %s", unit, w.result);
		goto out;
	}
	rc = 0;
out:
	if (m)
		s.message_unref(m);
	if (reply)
		s.message_unref(reply);
	if (s.error_free)
		s.error_free(&e);
	if (bus)
		s.flush_close_unref(bus);
	/* The library stays loaded: its destructors would run at exit anyway. */
	return rc;
}
#else
static int move_into_scope(uid_t uid, char *err, size_t errlen)
{
	snprintf(err, errlen, "this build has no systemd support to ask systemd for a scope");
	return -ENOSYS;
}
#endif

void (*helper_systemd_handover)(const char *why);

bool helper_systemd_host(void)
{
	struct stat st;
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *hier_name(const struct hierarchy *h)
{
	return h->controllers[0] ? h->controllers : "cgroup2";
}

int helper_leave_caller_cgroup(char *err, size_t errlen)
{
	struct hierarchy h[MAX_HIERARCHIES] = { 0 };
	const struct hierarchy *first = NULL;
	size_t n = 0;
	bool unsafe = false;
	int rc;

	rc = survey(h, &n, &unsafe);
	if (rc < 0) {
		/* Cannot tell: nothing is known to be safe. */
		snprintf(err, errlen, "cannot read the caller's cgroups: %s", strerror(-rc));
		goto out;
	}
	if (!unsafe)
		goto out;
	/* Nothing moved, nothing logged yet: a build without sd-bus hands the
	 * whole login to one with it (open.c). */
	if (helper_systemd_handover && helper_systemd_host())
		helper_systemd_handover("the caller's cgroup is writable by a user and only systemd may make a scope here");

	for (size_t i = 0; i < n; i++) {
		if (!h[i].unsafe)
			continue;
		/* The v2 hierarchy (listed first) names the user best. */
		if (!first || (!h[i].controllers[0] && first->controllers[0]))
			first = &h[i];
		helper_log(LOG_NOTICE,
			   "event=cgroup-leave hierarchy=%s cgroup=%s%s unsafe=%s owner=%d",
			   hier_name(&h[i]), h[i].mount, h[i].path, h[i].where ? h[i].where : "?",
			   h[i].owner == (uid_t)-1 ? -1 : (int)h[i].owner);
		if (n_way_back < MAX_HIERARCHIES) {
			rc = open_procs(h[i].mount, h[i].path);
			if (rc >= 0)
				way_back[n_way_back++] = rc;
		}
	}

	if (helper_systemd_host()) {
		rc = move_into_scope(first->owner, err, errlen);
		if (rc < 0)
			goto out;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (!h[i].unsafe)
				continue;
			rc = move_into_own(&h[i]);
			if (rc < 0) {
				snprintf(err, errlen,
					 "cgroup %s%.120s is writable by uid %d, and nscell's own %s/nscell cannot be used: %s",
					 h[i].mount, h[i].path, (int)h[i].owner, h[i].mount,
					 rc == -EPERM ? "not a root-owned cgroup unwritable by others" :
							strerror(-rc));
				goto out;
			}
		}
	}

	/* Whatever did the move, the proof is where we are now. */
	hierarchies_free(h, n);
	memset(h, 0, sizeof(h));
	n = 0;
	rc = survey(h, &n, &unsafe);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read our cgroups after moving: %s", strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (h[i].unsafe) {
			rc = -EPERM;
			snprintf(err, errlen, "still in a cgroup writable by uid %d after moving: %.120s (%s)",
				 (int)h[i].owner, h[i].where ? h[i].where : h[i].path, hier_name(&h[i]));
			goto out;
		}
out:
	hierarchies_free(h, n);
	return rc < 0 ? rc : 0;
}

int helper_return_to_caller_cgroup(void)
{
	for (size_t i = 0; i < n_way_back; i++) {
		int rc = write_self(way_back[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

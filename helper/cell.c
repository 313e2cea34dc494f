/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making a cell: clone3() into new namespaces; the child, PID 1 of the new
 * pid namespace, lays out the mounts and execs nscell-init.
 *
 * Everything the child does happens before any user process exists in the
 * cell, and every path it touches is either fixed (/proc, /tmp, /var/tmp,
 * /dev/shm, /dev with PrivateDevices (devices.c), RUNDIR) or under
 * PersistentRoot, which must be root-owned and unwritable by others along its
 * whole length, checked component by component with O_NOFOLLOW, so no user
 * can race a symlink or a FIFO into it; the view's paths (view.c) are walked
 * without following any symlink, and as the user below the user's own
 * directories. The one
 * exception, the user's runtime directory, is looked into from the dcache
 * only (RESOLVE_CACHED): no lookup there can wait on a lock or a file system
 * the user controls.
 *
 * The child holds no lock: it closes its copy of the user's lock first (a
 * copy shares the open file description, and with it the flock, with the
 * helper), and the init gets a description of its own. The helper waits for
 * the child's exec HELPER_SETUP_TIMEOUT_MS at most, then kills it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#ifndef OPEN_TREE_CLONE
#include <linux/mount.h> /* musl: the new mount API is the kernel header's */
#endif
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capability.h"
#include "cleanup.h"
#include "helper.h"
#include "logins-filter.h"
#include "namespaces.h"
#include "settings-keys.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* waitid() on a pidfd, Linux 5.4 */
#endif

/* What the child tells the parent when setup fails; EOF means success. */
struct setup_error {
	int err;
	char what[200];
};

static _Noreturn void child_fail(int errfd, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static _Noreturn void child_fail(int errfd, int err, const char *fmt, ...)
{
	struct setup_error e = { .err = err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.what, sizeof(e.what), fmt, ap);
	va_end(ap);
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

static void tmpfs_options(const struct nscell_dir_setting *d, char *buf, size_t size)
{
	int n = snprintf(buf, size, "mode=%04o", (unsigned)d->mode);
	if (d->size_percent)
		n += snprintf(buf + n, size - (size_t)n, ",size=%u%%", d->size_percent);
	else if (d->size)
		n += snprintf(buf + n, size - (size_t)n, ",size=%" PRIu64, d->size);
	if (d->nr_inodes)
		snprintf(buf + n, size - (size_t)n, ",nr_inodes=%" PRIu64, d->nr_inodes);
}

/*
 * Open (creating if needed) a directory below an already verified, root-owned
 * directory fd, and verify it in turn. `mode` is used on creation and then
 * enforced, so a directory an earlier version made loosely is tightened.
 */
static int open_owned_dir(int parent, const char *name, mode_t mode)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != 0 && fchown(fd, 0, 0) < 0)
		return -errno;
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* Walk PersistentRoot from / requiring root ownership and no group/other
 * write on every existing component; create missing ones 0755, the last 0700. */
static int open_persistent_root(const char *path)
{
	_cleanup_close_ int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *copy = strdup(path);
	char *save = NULL, *comp;

	if (fd < 0)
		return -errno;
	if (!copy)
		return -ENOMEM;
	comp = strtok_r(copy, "/", &save);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		struct stat st;
		int nfd;

		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
			return -EINVAL;
		/* Open first, create only if missing: mkdirat() takes the
		 * parent's lock even when the name exists, and /var and
		 * /var/lib are readable by everyone (a lock any user can hold). */
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT) {
			if (mkdirat(fd, comp, next ? 0755 : 0700) < 0 && errno != EEXIST)
				return -errno;
			nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0)
			return -errno;
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) < 0)
			return -errno;
		if (st.st_uid != 0 || (st.st_mode & 0022))
			return -EPERM;
		comp = next;
	}
	return TAKE_FD(fd);
}

static const char *const persistent_names[_NSCELL_DIR_MAX] = { "tmp", "var-tmp", "dev-shm" };

/* Bind <root>/<uid>/<name> onto the target, by fd: no path is re-resolved. */
static int mount_persistent(int rootfd, uid_t uid, enum nscell_dir d, mode_t mode)
{
	_cleanup_close_ int userfd = -1, leaf = -1, tree = -1;
	char uidname[16];

	snprintf(uidname, sizeof(uidname), "%u", (unsigned)uid);
	/* root-owned 0700: users never see the path, only the bind mount. */
	userfd = open_owned_dir(rootfd, uidname, 0700);
	if (userfd < 0)
		return userfd;
	leaf = open_owned_dir(userfd, persistent_names[d], mode);
	if (leaf < 0)
		return leaf;
	tree = (int)syscall(SYS_open_tree, leaf, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return -errno;
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, nscell_dir_path(d), MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static int loopback_up(void)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (s < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

/*
 * systemctl --user talks to the user's service manager over its private
 * socket and insists on learning the manager's pid from SO_PEERCRED, which
 * is 0 across pid namespaces: systemd 257 then fails, 252 falls back to the
 * user's D-Bus. So, in the cell's mount namespace only, a socket of the
 * cell's own goes over it, served by nscell-relay (relay.c: why a process
 * of the user's and not the init, and how; relay-start.c). Should the relay not come up,
 * /dev/null covers it instead (the fall-back of systemd 252 and earlier).
 *
 * The path is in the user's own runtime directory, /run/user/UID, which is
 * 0700 and theirs. The helper keeps no DAC override capability, so as root
 * it cannot even look inside; it walks the directory as the user instead
 * (fsuid and fsgid theirs: the kernel grants exactly what it grants them),
 * without following links, and mounts by fd as root again. The worst a user
 * can arrange is that one of their own files is hidden in their own cell.
 * Nothing there (no user manager): nothing to do. Fails only if the helper
 * cannot be root for files again.
 *
 * Each step resolves from the dcache alone (RESOLVE_CACHED: RCU walk, or
 * -EAGAIN). A lookup that misses the dcache would take the directory's
 * i_rwsem, and a user can hold that lock indefinitely (getdents() into a
 * buffer whose page fault waits on their own FUSE server), stalling root's
 * walk in D state. On tmpfs every entry that exists is in the dcache, so a
 * miss means "not there", which is what we then act on.
 */
static int open_cached(int dirfd, const char *name, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_CACHED | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | resolve,
	};

	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}

static int hide_user_manager_socket(uid_t uid, gid_t gid, pid_t *ret_relay)
{
	_cleanup_close_ int run = -1, dir = -1, sysd = -1, sock = -1, null = -1;
	char name[16];
	struct stat st;

	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	/* Every user may read /run and /run/user, and so hold their locks too. */
	run = open_cached(AT_FDCWD, "/run/user", O_PATH | O_DIRECTORY, 0);
	if (run < 0)
		return 0;
	/* setfsuid() and setfsgid() return the old id, and an invalid one (-1)
	 * changes nothing: that tells whether a change took. Leaving fsuid 0
	 * drops CAP_CHOWN and CAP_FOWNER from the effective set; coming back
	 * restores them. */
	setfsgid(gid);
	setfsuid(uid);
	if ((uid_t)setfsuid((uid_t)-1) == uid && (gid_t)setfsgid((gid_t)-1) == gid) {
		/* /run/user/UID is a mount of its own (pam_systemd's tmpfs):
		 * crossing into it is the one step that may leave the mount;
		 * below it, nothing may. */
		dir = open_cached(run, name, O_PATH | O_DIRECTORY, RESOLVE_BENEATH);
		if (dir >= 0 && fstat(dir, &st) == 0 && st.st_uid == uid)
			sysd = open_cached(dir, "systemd", O_PATH | O_DIRECTORY,
					   RESOLVE_BENEATH | RESOLVE_NO_XDEV);
		if (sysd >= 0)
			sock = open_cached(sysd, "private", O_PATH, RESOLVE_BENEATH | RESOLVE_NO_XDEV);
	}
	setfsuid(0);
	setfsgid(0);
	if (setfsuid((uid_t)-1) != 0 || setfsgid((gid_t)-1) != 0)
		return -EPERM;
	if (sock < 0 || fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	pid_t relay = relay_start(uid, gid, sysd, sock);
	if (relay > 0) {
		*ret_relay = relay;
		return 0;
	}
	null = (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (null < 0)
		return 0;
	(void)syscall(SYS_move_mount, null, "", sock, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	return 0;
}

/* Leave the init only what it uses: killing the cell's processes. */
static int drop_to_init_caps(void)
{
	/* One call per capability: dropping one the set lacks succeeds, one the
	 * running kernel does not know is EINVAL (an older kernel than the
	 * header), which leaves nothing to drop. */
	for (int c = 0; c <= nscell_cap_last(); c++) {
		int rc = c == CAP_KILL ? 0 : nscell_cap_drop_bound(c);
		if (rc < 0 && rc != -EINVAL)
			return rc;
	}
	return 0;
}

static _Noreturn void child_setup(const struct helper_login *l, const char *cell_id,
				  int helper_lockfd, int listenfd, int cellsfd, int lockfd, int cfgfd,
				  int usernsfd, int initfd, int errfd)
{
	const struct nscell_settings *s = l->settings;
	unsigned long prop = s->propagation == NSCELL_PROPAGATION_PRIVATE ? MS_PRIVATE : MS_SLAVE;
	char opts[128];
	/* Where each fd must end up: 3-7 for the init (proto.h), 8 the init
	 * binary to exec, 9 the error pipe. */
	/* 10 and on for PrivateLogins (logins.c). */
	int fds[8 + NSCELL_LOGINS_N_FILES] = { listenfd, cellsfd, lockfd, cfgfd, usernsfd, initfd, errfd,
					       -1, -1, -1, -1, -1, -1 };
	int high[8 + NSCELL_LOGINS_N_FILES];
	int rootfd = -1;
	pid_t relay = 0;
	char pending[NSCELL_CELL_ID_MAX + 8], live[NSCELL_CELL_ID_MAX + 8], relay_env[40];

	/* The helper's locked description: should we stall below, the helper
	 * must still be able to give the lock up by closing its own copy. */
	close(helper_lockfd);

	/* A session of our own: the login's terminal (su's ^C, a hangup) must
	 * never reach the init of a cell other logins may share. And should the
	 * helper die before the session joins, the init hears of it (it clears
	 * this at the first JOIN). */
	setsid();
	{
		/* Blocked from here through the exec: PID 1 of a new pid namespace
		 * drops signals it has no handler for, so a parent-death SIGTERM
		 * arriving before the init sets up its signalfd would be lost;
		 * blocked, it waits there. */
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		/* The helper's own dispositions (terminal signals, SIGPIPE
		 * ignored) are not the init's: it handles all by signalfd. An
		 * ignored signal is discarded even while blocked, so these go
		 * back to the default before the parent-death signal is armed;
		 * every other one is at its default (inherit.c, or a handler
		 * execve resets), and the init resets all of them first thing. */
		static const int ignored[] = HELPER_IGNORED_SIGNALS;
		for (size_t i = 0; i < NSCELL_ELEMENTSOF(ignored); i++)
			signal(ignored[i], SIG_DFL);
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);

	/* Host mounts that appear later (autofs, NFS homes) still propagate in
	 * with slave; nothing we mount here leaks out. */
	if (mount(NULL, "/", NULL, MS_REC | prop, NULL) < 0)
		child_fail(errfd, errno, "make / %s", prop == MS_SLAVE ? "slave" : "private");

	/* A proc for the cell's pid namespace. gid=0 keeps hidepid from blinding
	 * the init, which counts the cell's processes. */
	if (s->proc_hidepid != NSCELL_HIDEPID_OFF || s->proc_subset != NSCELL_PROC_SUBSET_ALL) {
		snprintf(opts, sizeof(opts), "hidepid=%s,gid=0%s",
			 s->proc_hidepid == NSCELL_HIDEPID_INVISIBLE ? "invisible" :
			 s->proc_hidepid == NSCELL_HIDEPID_NOACCESS ? "noaccess" : "off",
			 s->proc_subset == NSCELL_PROC_SUBSET_PID ? ",subset=pid" : "");
	} else {
		opts[0] = '\0';
	}
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  opts[0] ? opts : NULL) < 0)
		child_fail(errfd, errno, "mount proc on %s", "/proc");

	for (int d = 0; d < _NSCELL_DIR_MAX; d++) {
		const struct nscell_dir_setting *ds = &s->dirs[d];
		int rc;

		switch (ds->kind) {
		case NSCELL_DIR_SHARED:
			break;
		case NSCELL_DIR_TMPFS:
			tmpfs_options(ds, opts, sizeof(opts));
			if (mount("tmpfs", nscell_dir_path(d), "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
				child_fail(errfd, errno, "mount tmpfs on %s", nscell_dir_path(d));
			break;
		case NSCELL_DIR_PERSISTENT:
			if (rootfd < 0) {
				rootfd = open_persistent_root(s->persistent_root);
				if (rootfd < 0)
					child_fail(errfd, -rootfd,
						   "open PersistentRoot %s (it and every parent must be root-owned and not group/other-writable)",
						   s->persistent_root);
			}
			rc = mount_persistent(rootfd, l->id->uid, d, ds->mode);
			if (rc < 0)
				child_fail(errfd, -rc, "bind the persistent directory on %s",
					   nscell_dir_path(d));
			break;
		}
	}
	if (rootfd >= 0)
		close(rootfd);

	if (s->private_devices) {
		const char *what = "";
		int rc = devices_private(s->namespaces, &what);
		if (rc < 0)
			child_fail(errfd, -rc, "PrivateDevices: %s", what);
	}

	if (hide_user_manager_socket(l->id->uid, l->id->gid, &relay) < 0)
		child_fail(errfd, EPERM, "switch back to root's file identity after %s",
			   "looking for the user manager's socket");

	/* The view (view.c): its staging tmpfs goes on RUNDIR, covered next. */
	{
		char why[sizeof(((struct setup_error *)0)->what)];
		int rc = view_setup(l, why, sizeof(why));
		if (rc < 0)
			child_fail(errfd, -rc, "%s", why);
	}

	/* Runtime state stays out of reach from inside: an empty, read-only
	 * tmpfs over RUNDIR (the init keeps what it needs as open fds). */
	if (mount("nscell", NSCELL_RUNDIR, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0700,size=4k,nr_inodes=1") < 0)
		child_fail(errfd, errno, "hide %s", NSCELL_RUNDIR);

	if ((s->namespaces & NSCELL_NS_UTS) && s->hostname[0] &&
	    sethostname(s->hostname, strlen(s->hostname)) < 0)
		child_fail(errfd, errno, "set hostname %s", s->hostname);
	if (s->namespaces & NSCELL_NS_NET) {
		int rc = loopback_up();
		if (rc < 0)
			child_fail(errfd, -rc, "bring up %s", "lo");
	}

	/* Last: the sessions' namespace copies the finished cell's. */
	if (s->private_logins) {
		char why[sizeof(((struct setup_error *)0)->what)];
		int rc = logins_setup(fds + 7, why, sizeof(why));
		if (rc < 0)
			child_fail(errfd, -rc, "%s", why);
	}

	if (drop_to_init_caps() < 0)
		child_fail(errfd, errno, "drop capabilities for %s", "nscell-init");

	/* Into the registry only now, when nothing is left that could stall:
	 * whoever connects to an entry finds an init about to serve it. */
	cell_entry_names(cell_id, pending, live, sizeof(pending));
	if (renameat(cellsfd, pending, cellsfd, live) < 0)
		child_fail(errfd, errno, "enter %s in the registry", cell_id);
	/* fds 0-2 on /dev/null: the helper's are the caller's for the run verb
	 * (a cron job's pipe would never reach EOF while the cell lives). */
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			child_fail(errfd, errno, "open %s", "/dev/null");
		for (int fd = 0; fd <= 2; fd++)
			if (null != fd && dup2(null, fd) < 0)
				child_fail(errfd, errno, "arrange %s", "fds 0-2");
		if (null > 2)
			close(null);
	}

	/* Lay out exactly the fds nscell-init expects; close all others. The
	 * copies go just above the targets, not at 64 and up: an fd past the
	 * kernel's first 64 grows the fd table (1 kB) for the init's life. */
	for (int i = 0; i < 8 + NSCELL_LOGINS_N_FILES; i++) {
		high[i] = fds[i] < 0 ? -1 :
			  fcntl(fds[i], F_DUPFD_CLOEXEC, NSCELL_INIT_FD_LISTEN + 8 + NSCELL_LOGINS_N_FILES);
		if (fds[i] >= 0 && high[i] < 0)
			child_fail(errfd, errno, "arrange %s", "fds");
	}
	errfd = high[6];
	for (int i = 0; i < 8 + NSCELL_LOGINS_N_FILES; i++) {
		int target = NSCELL_INIT_FD_LISTEN + i;
		if (high[i] < 0) {
			close(target);
			continue;
		}
		if (dup2(high[i], target) < 0)
			child_fail(errfd, errno, "arrange %s", "fds");
		if ((target == 8 || target == 9) && fcntl(target, F_SETFD, FD_CLOEXEC) < 0)
			child_fail(errfd, errno, "arrange %s", "fds");
		if (target == 9)
			errfd = 9;
	}
	syscall(SYS_close_range, NSCELL_INIT_FD_LOGINS_COPY + NSCELL_LOGINS_N_FILES, ~0U, 0);

	char *const argv[] = { (char *)"nscell-init", (char *)cell_id, NULL };
	/* The relay's pid: the init leaves it out of the cell's processes. */
	snprintf(relay_env, sizeof(relay_env), "NSCELL_RELAY_PID=%d", (int)relay);
	/* PrivateLogins: whose records the init's copies keep (a passwd name). */
	char user_env[NSCELL_UTMP_USER_LEN + 24];
	snprintf(user_env, sizeof(user_env), "NSCELL_LOGINS_USER=%s", l->id->user);
	char *envp[3] = { NULL, NULL, NULL }, **e = envp;
	if (relay > 0)
		*e++ = relay_env;
	if (s->private_logins)
		*e++ = user_env;
	syscall(SYS_execveat, 8, "", argv, envp, AT_EMPTY_PATH);
	child_fail(errfd, errno, "exec %s", NSCELL_INIT_PATH);
}

/* The init binary, pinned before the clone and checked like the policy. */
static int open_init(char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(NSCELL_INIT_PATH, O_PATH | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", NSCELL_INIT_PATH, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022)) {
		snprintf(err, errlen, "%s is not a root-owned file unwritable by others; refusing",
			 NSCELL_INIT_PATH);
		return -EPERM;
	}
	return TAKE_FD(fd);
}

int cell_create(struct runtime *rt, const char *cell_id, const struct helper_login *l,
		int listenfd, int cgroup_fd, pid_t *ret_init_pid, char *err, size_t errlen)
{
	_cleanup_close_ int initfd = -1, pidfd = -1, usernsfd = -1, init_lockfd = -1;
	int cfg[2] = { -1, -1 }, ep[2] = { -1, -1 };
	struct clone_args args = { 0 };
	struct nscell_init_msg m = { 0 };
	struct nscell_init_config c = { 0 };
	struct setup_error se;
	struct timespec ts;
	ssize_t n;
	pid_t pid;
	int rc = 0;

	initfd = open_init(err, errlen);
	if (initfd < 0)
		return initfd;
	init_lockfd = runtime_open_user_lock(rt, l->id->uid);
	if (init_lockfd < 0) {
		snprintf(err, errlen, "cannot open the lock of user %s: %s", l->req->user,
			 strerror(-init_lockfd));
		return init_lockfd;
	}
	if (l->settings->namespaces & NSCELL_NS_USER) {
		rc = userns_create(l->id, &usernsfd, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (pipe2(cfg, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}

	/* Always pid and mount; the user namespace is made on its own (userns.c). */
	args.flags = (unsigned)nscell_ns_clone_flags((l->settings->namespaces | NSCELL_NS_PID | NSCELL_NS_MNT) &
						     ~NSCELL_NS_USER) | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	if (cgroup_fd >= 0) {
		/* Born under the cell's limits (limits-cgroup.c). */
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create namespaces: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(ep[0]);
		close(cfg[1]);
		child_setup(l, cell_id, rt->lockfd, listenfd, rt->cellsfd, init_lockfd, cfg[0],
			    usernsfd, initfd, ep[1]);
	}
	close(ep[1]);
	ep[1] = -1;
	close(cfg[0]);
	cfg[0] = -1;

	snprintf(c.cell_id, sizeof(c.cell_id), "%s", cell_id);
	c.uid = l->id->uid;
	c.scope = l->settings->scope;
	c.namespaces = l->settings->namespaces;
	c.logout = l->settings->logout;
	c.drain_limit_sec = l->settings->drain_limit_sec;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.created_usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	c.init_pid_host = pid;
	c.has_userns = usernsfd >= 0;
	nscell_msg_head_init(&m.head, NSCELL_OP_INIT_CONFIG, sizeof(m));
	m.config = c;
	/* The cell-level part alone: what a joining login's JOIN_SAME must
	 * match byte for byte (proto.h). */
	nscell_settings_cell_part(l->settings, &m.settings);
	/* It fits in a pipe buffer: never blocks. */
	(void)!write(cfg[1], &m, sizeof(m));
	close(cfg[1]);
	cfg[1] = -1;

	{
		struct pollfd p = { .fd = ep[0], .events = POLLIN };
		int r;

		do
			r = poll(&p, 1, HELPER_SETUP_TIMEOUT_MS);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			/* Stalled. A child in D state dies only when it wakes; it
			 * holds no lock and is out of the registry, so nobody
			 * waits for it but this login, which ends here. */
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			waitpid(pid, NULL, WNOHANG);
			snprintf(err, errlen,
				 "cell setup did not finish within %d s; killed it (a stalled file system?)",
				 HELPER_SETUP_TIMEOUT_MS / 1000);
			rc = -ETIMEDOUT;
			goto out;
		}
	}
	do
		n = read(ep[0], &se, sizeof(se));
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		/* EOF is success only if it came from the exec, not from a child
		 * killed before it. */
		siginfo_t si = { 0 };
		if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid != 0)
			n = -1;
	}
	if (n != 0) {
		/* Setup failed (or the child died oddly): report and reap. */
		if (n == (ssize_t)sizeof(se)) {
			se.what[sizeof(se.what) - 1] = '\0';
			snprintf(err, errlen, "cell setup failed: %s: %s", se.what, strerror(se.err));
			rc = -se.err;
		} else {
			snprintf(err, errlen, "cell setup failed: child ended early");
			rc = -EIO;
		}
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		waitpid(pid, NULL, 0);
		goto out;
	}
	*ret_init_pid = pid;
out:
	for (int i = 0; i < 2; i++) {
		if (cfg[i] >= 0)
			close(cfg[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return rc;
}

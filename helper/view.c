/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The view (ProtectHome, ProtectSystem, the *Paths keys), made by the setup
 * child in the cell's new mount namespace, before any user process exists:
 *
 *   V1  plan      lib/view.c turns the settings and the user into an ordered
 *                 list of operations (the same list `nscell explain` prints)
 *   V2  originals every tree an operation puts back or binds (the home,
 *                 /run/user/UID, ReadWritePaths, Bind sources, strict's
 *                 exceptions) is cloned now, as it is before any change
 *   V3  staging   when anything is covered, one tmpfs, populated and then
 *                 made read-only (binds of it keep that flag): an empty
 *                 directory, the mode 0000 nodes if anything is made
 *                 inaccessible, and for ProtectHome own one directory per
 *                 hidden tree holding the single entry left there (chained:
 *                 each such entry is the next tree's directory, hidden in
 *                 each cover by what is mounted on it; the last, which stays
 *                 empty, is the empty directory; populate_staging). It
 *                 is mounted on RUNDIR, which the child covers afterwards, so
 *                 nothing in the cell reaches it but its binds
 *   V4  apply     each operation, in order, by fd: open_tree(OPEN_TREE_CLONE |
 *                 AT_RECURSIVE), mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY),
 *                 move_mount; strict's "/" and a read-only target that is the
 *                 root of a mount (the cell's own copy) are made read-only in
 *                 place
 *
 * Every path is walked from / one component at a time with openat2(
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH): a symlink
 * anywhere on the way is refused, not followed. Once the walk is below a
 * directory that is not root-owned or is group/other-writable (a home, a
 * per-user directory), the rest is walked as the user (fsuid/fsgid theirs:
 * the kernel grants exactly what it grants them; the helper has no DAC
 * override anyway) and with RESOLVE_NO_XDEV: no mount point a user could
 * make there is crossed. The one crossing allowed is into such a directory
 * from a root-owned one, which is what an automounted home is. Every step but
 * the last is opened with O_DIRECTORY, so an automount on the way is mounted
 * as in any path walk; the last is too when it is the user's own home (an
 * O_PATH open alone would stop on the autofs trigger, and the cell would get
 * a clone of the trigger, whose later mount reaches it only if the host's
 * autofs mount propagates): the clone is of the home's file system itself,
 * as when ssh has mounted it before the session (see SECURITY.md for what
 * an expiry on the host then means).
 * The directories a walk goes through as root are kept (struct view's dirs)
 * for the walks after it, until an operation mounts there or above. Such a
 * walk may wait on the user's own NFS or FUSE server: the child holds no lock
 * (cell.c) and is killed after HELPER_SETUP_TIMEOUT_MS, so the wait is this
 * login's alone. Targets and sources must be directories or regular files:
 * a FIFO, socket or device is refused.
 *
 * Clones of a mount that is a slave (Propagation slave, the default) are
 * slaves of the same master: host mounts that appear later below the user's
 * own home still come in, while those below the hidden trees land under
 * the staging binds, out of sight. All mounts are in the cell's mount
 * namespace, which is owned by the initial user namespace: a user who makes
 * a user+mount namespace inside gets them locked (umount: EINVAL), and the
 * host's mount table grows by nothing.
 *
 * A failure refuses the login with a sentence saying what and where, like
 * every other setup failure (cell.c child_fail, logged by the helper).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/limits.h> /* NAME_MAX, which musl's limits.h may not give */
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#ifndef OPEN_TREE_CLONE
#include <linux/mount.h> /* musl: the new mount API is the kernel header's */
#endif
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef STATX_TYPE
/* musl before 1.2.5 (Debian 12) has no statx(): the kernel's, by syscall. */
#include <linux/stat.h>
static int statx(int dfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	return (int)syscall(SYS_statx, dfd, path, flags, mask, stx);
}
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000 /* the kernel's; musl 1.2.5 (Debian 13) has statx() without it */
#endif

#include "cleanup.h"
#include "helper.h"
#include "settings-keys.h"
#include "view.h"

#define INACCESSIBLE_DIR "inaccessible-dir"
#define INACCESSIBLE_FILE "inaccessible-file"
#define EMPTY_DIR "empty"

static int as_user(uid_t uid, gid_t gid)
{
	setfsgid(gid);
	setfsuid(uid);
	return (uid_t)setfsuid((uid_t)-1) == uid && (gid_t)setfsgid((gid_t)-1) == gid ? 0 : -EPERM;
}

static int as_root(void)
{
	setfsuid(0);
	setfsgid(0);
	return setfsuid((uid_t)-1) == 0 && setfsgid((gid_t)-1) == 0 ? 0 : -EPERM;
}

/* What a walk's errno means here; the caller appends strerror(). */
static const char *walk_error(int err)
{
	switch (err) {
	case ELOOP: return " (a symlink on the way: not followed)";
	case EXDEV: return " (a mount point below a user's directory: not crossed)";
	default: return "";
	}
}

struct view {
	const struct helper_login *l;
	struct nscell_view_plan plan;
	int root;       /* "/", where every walk starts (it crosses the mounts made meanwhile) */
	struct stat root_st;
	int *originals; /* per op: V2's clone, or -1 */
	mode_t *kinds;  /* ... and its file type */
	bool *skip;     /* per op: optional and missing */
	int staging;    /* V3's tmpfs, attached on RUNDIR */
	char *empty;    /* its empty directory */
	char **covers;  /* per op (own): the staging directory put over it */
	/* Directories walked through as root (see view_open), kept for the
	 * walks after: /home and /run/user are each walked twice. */
	struct view_dir {
		char *path;
		int fd;
		uid_t uid;
		mode_t mode;
	} dirs[8];
	size_t n_dirs;
	char *err;
	size_t errlen;
};

/* What a walk found at its end. */
struct view_node {
	mode_t kind;     /* file type */
	bool mount_root; /* the root of a mount (of the cell's namespace) */
};

/* Whether path is tree or below it (both plain and absolute). */
static bool path_under(const char *path, const char *tree)
{
	size_t n = strlen(tree);

	return strcmp(tree, "/") == 0 || (strncmp(path, tree, n) == 0 && (path[n] == '\0' || path[n] == '/'));
}

/* An attach at tree changes what a walk finds there and below: the
 * directories kept there are walked again. */
static void forget_dirs(struct view *v, const char *tree)
{
	for (size_t i = 0; i < v->n_dirs;)
		if (path_under(v->dirs[i].path, tree)) {
			free(v->dirs[i].path);
			close(v->dirs[i].fd);
			v->dirs[i] = v->dirs[--v->n_dirs];
		} else
			i++;
}

/*
 * view_open - an O_PATH fd of an absolute, plain path (lib/view.c checked
 * the form), walked as described at the top, and what is there in *ret.
 * trigger: the last component is opened with O_DIRECTORY, which makes an
 * automount point there mount (an O_PATH open alone stops on the trigger,
 * the empty autofs directory) and walks on into what it mounted. Returns
 * the fd or -errno (-EPERM also when the file identity cannot be root's
 * again: the caller must stop).
 */
static int view_open(struct view *v, const char *path, bool trigger, struct view_node *ret)
{
	const struct nscell_identity *id = v->l->id;
	_cleanup_free_ char *copy = strdup(path);
	int fd = v->root, err = 0;
	bool users = false, kept = true; /* kept: fd is v->root or in v->dirs */
	char *save = NULL, *next, *start = NULL;
	size_t best = 0, at = 0;
	struct statx stx = { .stx_uid = v->root_st.st_uid, .stx_mode = v->root_st.st_mode };

	if (!copy)
		return -ENOMEM;
	/* The walk goes on from the deepest directory kept on its way: the
	 * same steps, as root, done once. */
	for (size_t i = 0; i < v->n_dirs; i++) {
		size_t n = strlen(v->dirs[i].path);

		if (n > best && path_under(path, v->dirs[i].path)) {
			best = n;
			at = i;
			fd = v->dirs[i].fd;
			stx.stx_uid = v->dirs[i].uid;
			stx.stx_mode = (__u16)v->dirs[i].mode;
		}
	}
	if (best)
		start = path[best] ? copy + best + 1 : NULL;
	else
		start = copy;
	for (char *comp = start ? strtok_r(start, "/", &save) : NULL; comp; comp = next) {
		struct open_how how = {
			.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
			.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
		};
		int nfd;

		next = strtok_r(NULL, "/", &save);
		/* A directory on the way must be one, and an automount
		 * there is mounted, as in any path walk; at the end only
		 * when asked. */
		if (next || trigger)
			how.flags |= O_DIRECTORY;
		/* stx is the directory this step looks into. Once below a
		 * user's directory the rest of the walk is theirs: one switch
		 * of the file identity, back to root at the end. */
		if (!users && (stx.stx_uid != 0 || (stx.stx_mode & 0022))) {
			users = true;
			if (as_user(id->uid, id->gid) < 0) {
				err = EPERM;
				goto fail;
			}
		}
		if (users)
			how.resolve |= RESOLVE_NO_XDEV;
		nfd = (int)syscall(SYS_openat2, fd, comp, &how, sizeof(how));
		if (nfd < 0) {
			struct stat lst;

			err = errno;
			/* O_DIRECTORY | O_NOFOLLOW on a symlink: say what it is. */
			if (err == ENOTDIR && fstatat(fd, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
				err = ELOOP;
			goto fail;
		}
		if (!kept)
			close(fd);
		fd = nfd;
		kept = false;
		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_TYPE | STATX_MODE | STATX_UID, &stx) < 0) {
			err = errno;
			goto fail;
		}
		/* O_PATH | O_NOFOLLOW opens a last-component symlink itself. */
		if (S_ISLNK(stx.stx_mode)) {
			err = ELOOP;
			goto fail;
		}
		/* A directory on the way, walked as root: kept, walked once. */
		if (next && !users && S_ISDIR(stx.stx_mode) && v->n_dirs < NSCELL_ELEMENTSOF(v->dirs)) {
			struct view_dir *d = &v->dirs[v->n_dirs];

			d->path = strndup(path, (size_t)(next - 1 - copy));
			if (d->path) {
				d->fd = fd;
				d->uid = stx.stx_uid;
				d->mode = stx.stx_mode;
				v->n_dirs++;
				kept = true;
			}
		}
	}
	if (users && as_root() < 0) {
		err = EPERM;
		goto fail;
	}
	/* The path itself was kept: handed over, no longer kept. */
	if (kept && fd != v->root && v->n_dirs > at && v->dirs[at].fd == fd && !path[best]) {
		free(v->dirs[at].path);
		v->dirs[at] = v->dirs[--v->n_dirs];
	} else if (kept && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	ret->kind = stx.stx_mode & S_IFMT;
	/* Only where the kernel says (5.8 and later); else "no": a clone. */
	ret->mount_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
			  (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	return fd;
fail:
	if (users && as_root() < 0)
		err = EPERM;
	if (!kept)
		close(fd);
	return -err;
}

/* The two kinds of file a view mounts on and from. */
static bool kind_ok(mode_t kind)
{
	return kind == S_IFDIR || kind == S_IFREG;
}

static int clone_tree(int fd, const char *sub)
{
	return (int)syscall(SYS_open_tree, fd, sub,
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | (sub[0] ? 0 : AT_EMPTY_PATH));
}

static int make_read_only(int tree, const char *sub)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	return (int)syscall(SYS_mount_setattr, tree, sub, AT_RECURSIVE | (sub[0] ? 0 : AT_EMPTY_PATH), &attr,
			    sizeof(attr));
}

static int attach(int tree, int target)
{
	return (int)syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static int fail(struct view *v, const struct nscell_view_op *op, const char *what, const char *path, int err)
{
	snprintf(v->err, v->errlen, "view: %s %s%s%s%s", nscell_key_name(op->key), what, what[0] ? " " : "",
		 path, walk_error(err));
	return -err;
}

/* V2: the trees as they are now. */
static int take_originals(struct view *v)
{
	for (size_t i = 0; i < v->plan.n_ops; i++) {
		const struct nscell_view_op *op = &v->plan.ops[i];
		_cleanup_close_ int fd = -1;
		struct view_node node = {};
		mode_t kind;

		if (!op->src)
			continue;
		/* The user's own home is mounted now if it is an automount:
		 * the clone is then of their file system, and a walk below it
		 * never needs a mount of theirs crossed. */
		fd = view_open(v, op->src, strcmp(op->src, v->l->id->home ?: "") == 0, &node);
		kind = node.kind;
		/* No home: its tree is hidden all the same, with nothing kept. */
		if (fd == -ENOENT && op->kind == NSCELL_VIEW_OP_OWN)
			continue;
		if (fd == -ENOENT && op->optional) {
			v->skip[i] = true;
			continue;
		}
		if (fd < 0)
			return fail(v, op, op->kind == NSCELL_VIEW_OP_BIND ? "source" : "", op->src, -fd);
		if (!kind_ok(kind))
			return fail(v, op, "source, not a directory or regular file,", op->src, EINVAL);
		if (op->kind == NSCELL_VIEW_OP_OWN && kind != S_IFDIR)
			return fail(v, op, "", op->src, ENOTDIR);
		v->kinds[i] = kind;
		v->originals[i] = clone_tree(fd, "");
		if (v->originals[i] < 0)
			return fail(v, op, "clone", op->src, errno);
	}
	return 0;
}

/*
 * The staging tmpfs's nodes (see the top), made with the modes as given.
 * The directories own puts over the trees whose entry gets the user's tree
 * are one chain: a directory holding the first tree's entry, which holds
 * the second tree's entry, and so on. Each cover is a clone of one link,
 * and in that clone the original is mounted on the entry, which hides the
 * rest of the chain; the last entry stays empty and is the empty directory.
 * One mkdir per tree. The chain starts at the root of the tmpfs when nothing
 * else is there to be seen (v->chain_at_root), else in "chain".
 */
static int populate_staging(struct view *v, int mnt)
{
	const struct nscell_view_op *first = &v->plan.ops[0];
	bool inaccessible = false, apart = false;
	/* At most four links (the home's parent, /home, /root, /run/user). */
	char name[32], link[4 * (NAME_MAX + 1) + sizeof("chain")] = "";
	size_t len = 0;
	int f;

	for (size_t i = 0; i < v->plan.n_ops; i++) {
		const struct nscell_view_op *op = &v->plan.ops[i];

		inaccessible |= op->kind == NSCELL_VIEW_OP_INACCESSIBLE;
		/* An entry with nothing to mount on it (no home) shows: apart. */
		apart |= op->kind == NSCELL_VIEW_OP_OWN && op->keep && v->originals[i] < 0;
	}
	if (inaccessible) {
		if (mkdirat(mnt, INACCESSIBLE_DIR, 0) < 0)
			return fail(v, first, "staging", "tmpfs", errno);
		f = openat(mnt, INACCESSIBLE_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
		if (f < 0)
			return fail(v, first, "staging", "tmpfs", errno);
		close(f);
	}
	for (size_t i = 0; i < v->plan.n_ops; i++) {
		const struct nscell_view_op *op = &v->plan.ops[i];
		int n;

		if (op->kind != NSCELL_VIEW_OP_OWN || !op->keep || v->originals[i] < 0)
			continue;
		if (len == 0 && (inaccessible || apart)) {
			if (mkdirat(mnt, "chain", 0755) < 0)
				return fail(v, op, "staging", "chain", errno);
			len = (size_t)snprintf(link, sizeof(link), "chain");
		}
		v->covers[i] = strdup(link);
		/* keep is one plain component (lib/view.c), in a tmpfs nobody
		 * else has seen. */
		n = snprintf(link + len, sizeof(link) - len, "%s%s", len ? "/" : "", op->keep);
		if (!v->covers[i] || n < 0 || (size_t)n >= sizeof(link) - len)
			return fail(v, op, "staging", op->keep, ENAMETOOLONG);
		len += (size_t)n;
		if (mkdirat(mnt, link, 0755) < 0)
			return fail(v, op, "staging", op->keep, errno);
	}
	if (len && !(v->empty = strdup(link)))
		return fail(v, first, "staging", "chain", ENOMEM);
	for (size_t i = 0; i < v->plan.n_ops; i++) {
		const struct nscell_view_op *op = &v->plan.ops[i];
		char keep[32 + 256];

		if (op->kind != NSCELL_VIEW_OP_OWN || !op->keep || v->originals[i] >= 0)
			continue;
		snprintf(name, sizeof(name), "own-%zu", i);
		if (mkdirat(mnt, name, 0755) < 0)
			return fail(v, op, "staging", name, errno);
		if (snprintf(keep, sizeof(keep), "%s/%s", name, op->keep) >= (int)sizeof(keep) ||
		    mkdirat(mnt, keep, 0755) < 0)
			return fail(v, op, "staging", name, errno);
		v->covers[i] = strdup(name);
		if (!v->covers[i])
			return fail(v, op, "staging", name, ENOMEM);
		/* Nothing is mounted on it: it stays empty. */
		if (!v->empty && !(v->empty = strdup(keep)))
			return fail(v, op, "staging", name, ENOMEM);
	}
	/* A tree that keeps nothing is the empty directory. */
	for (size_t i = 0; !v->empty && i < v->plan.n_ops; i++) {
		const struct nscell_view_op *op = &v->plan.ops[i];

		if (op->kind != NSCELL_VIEW_OP_EMPTY && (op->kind != NSCELL_VIEW_OP_OWN || op->keep))
			continue;
		if (mkdirat(mnt, EMPTY_DIR, 0755) < 0 || !(v->empty = strdup(EMPTY_DIR)))
			return fail(v, first, "staging", "tmpfs", errno);
	}
	return 0;
}

/* V3: the staging tmpfs, complete before anything is made read-only. */
static int make_staging(struct view *v)
{
	_cleanup_close_ int fs = -1, mnt = -1, run = -1;
	const struct nscell_view_op *first = &v->plan.ops[0];
	mode_t old_umask;
	int r;

	fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return fail(v, first, "staging", "tmpfs", errno);
	/* No size: it is read-only before anyone else sees it. The mode is
	 * the root's, which may be a cover (the chain's first link). */
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fail(v, first, "staging", "tmpfs", errno);
	mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		return fail(v, first, "staging", "tmpfs", errno);
	/* The helper's umask is not the view's. */
	old_umask = umask(0);
	r = populate_staging(v, mnt);
	umask(old_umask);
	if (r < 0)
		return r;
	/* RUNDIR is root's and fixed; the child covers it right after. */
	run = open(NSCELL_RUNDIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	forget_dirs(v, NSCELL_RUNDIR);
	if (run < 0 || attach(mnt, run) < 0)
		return fail(v, first, "staging on", NSCELL_RUNDIR, errno);
	if (make_read_only(mnt, "") < 0)
		return fail(v, first, "staging", "read-only", errno);
	v->staging = TAKE_FD(mnt);
	return 0;
}

/* Put a clone of staging/sub over the target (read-only: clones keep the
 * staging's flags). Returns the clone's fd, or -errno. */
static int cover(struct view *v, const struct nscell_view_op *op, int target, const char *sub)
{
	int tree = clone_tree(v->staging, sub);

	if (tree < 0 || attach(tree, target) < 0) {
		int r = fail(v, op, "", op->dst, errno);
		if (tree >= 0)
			close(tree);
		return r;
	}
	return tree;
}

static int apply(struct view *v, size_t i)
{
	const struct nscell_view_op *op = &v->plan.ops[i];
	_cleanup_close_ int target = -1, tree = -1;
	struct view_node node = {};
	mode_t kind;

	if (v->skip[i])
		return 0;
	if (op->kind == NSCELL_VIEW_OP_READ_ONLY && strcmp(op->dst, "/") == 0) {
		/* strict: every mount of this namespace, in place (they are
		 * the cell's copies); the exceptions come back next. */
		if (make_read_only(AT_FDCWD, "/") < 0)
			return fail(v, op, "", "/", errno);
		return 0;
	}
	target = view_open(v, op->dst, false, &node);
	kind = node.kind;
	/* Whatever happens next happens there. */
	forget_dirs(v, op->dst);
	if (target == -ENOENT && op->optional)
		return 0;
	if (target < 0)
		return fail(v, op, op->kind == NSCELL_VIEW_OP_BIND ? "target" : "", op->dst, -target);
	if (!kind_ok(kind))
		return fail(v, op, "target, not a directory or regular file,", op->dst, EINVAL);

	switch (op->kind) {
	case NSCELL_VIEW_OP_READ_ONLY:
		/* The root of a mount here is the cell's own copy: made
		 * read-only in place, as strict's "/", one call instead of a
		 * clone put over it (nothing writable is left beneath). */
		if (node.mount_root) {
			if (make_read_only(target, "") < 0)
				return fail(v, op, "", op->dst, errno);
			return 0;
		}
		tree = clone_tree(target, "");
		if (tree < 0 || make_read_only(tree, "") < 0 || attach(tree, target) < 0)
			return fail(v, op, "", op->dst, errno);
		return 0;
	case NSCELL_VIEW_OP_WRITABLE:
	case NSCELL_VIEW_OP_BIND: {
		if (v->kinds[i] != kind)
			return fail(v, op, "target, not the same kind of file as its source,", op->dst, EINVAL);
		if (op->read_only && make_read_only(v->originals[i], "") < 0)
			return fail(v, op, "", op->src, errno);
		if (attach(v->originals[i], target) < 0)
			return fail(v, op, "", op->dst, errno);
		return 0;
	}
	case NSCELL_VIEW_OP_EMPTY:
		if (kind != S_IFDIR)
			return fail(v, op, "", op->dst, ENOTDIR);
		tree = cover(v, op, target, v->empty);
		return tree < 0 ? tree : 0;
	case NSCELL_VIEW_OP_INACCESSIBLE:
		tree = cover(v, op, target, kind == S_IFDIR ? INACCESSIBLE_DIR : INACCESSIBLE_FILE);
		return tree < 0 ? tree : 0;
	case NSCELL_VIEW_OP_OWN: {
		_cleanup_close_ int keep = -1;

		if (kind != S_IFDIR)
			return fail(v, op, "", op->dst, ENOTDIR);
		tree = cover(v, op, target, v->covers[i] ?: v->empty);
		if (tree < 0 || v->originals[i] < 0)
			return tree < 0 ? tree : 0;
		/* The entry in the tmpfs just put there (through the clone's
		 * own fd: the same mount the cell sees), nobody else's. */
		keep = openat(tree, op->keep, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (keep < 0 || attach(v->originals[i], keep) < 0)
			return fail(v, op, "", op->src, errno);
		return 0;
	}
	}
	return fail(v, op, "", op->dst, EINVAL);
}

#if !NSCELL_OPEN_STATIC
/* Out of line: its buffer is a page of stack that the common case (no %g)
 * never needs, and a page of stack first touched is a page fault. */
static __attribute__((noinline)) char *group_name(gid_t gid)
{
	struct group gr, *grp = NULL;
	char buf[4096];

	return getgrgid_r(gid, &gr, buf, sizeof(buf), &grp) == 0 && grp ? strdup(grp->gr_name) : NULL;
}
#endif

int view_setup(const struct helper_login *l, char *err, size_t errlen)
{
	const struct nscell_identity *id = l->id;
	struct view v = { .l = l, .root = -1, .staging = -1, .err = err, .errlen = errlen };
	struct nscell_view_who who = {
		.user = id->user, .uid = id->uid, .home = id->home, .gid = id->gid,
		.group = id->groups ? id->groups[0] : NULL,
	};
	_cleanup_free_ char *why = NULL, *group = NULL;
	int r;

	if (!nscell_view_wanted(l->settings))
		return 0;
	/* %g without the groups looked up (the policy matched no Group). The
	 * static nscell-open has no NSS: it hands such a login over (open.c). */
#if !NSCELL_OPEN_STATIC
	for (size_t i = 0; !who.group && i < _NSCELL_VIEW_LIST_MAX; i++)
		if (strstr(l->settings->view_paths[i], "%g"))
			who.group = group = group_name(id->gid);
#endif

	/* V1 */
	r = nscell_view_plan(l->settings, &who, &v.plan, &why);
	if (r < 0) {
		snprintf(err, errlen, "view: %s", why ?: "planning");
		return r;
	}
	if (v.plan.n_ops == 0)
		goto out;
	v.originals = malloc(v.plan.n_ops * sizeof(*v.originals));
	if (v.originals)
		for (size_t i = 0; i < v.plan.n_ops; i++)
			v.originals[i] = -1;
	v.kinds = calloc(v.plan.n_ops, sizeof(*v.kinds));
	v.skip = calloc(v.plan.n_ops, sizeof(*v.skip));
	v.covers = calloc(v.plan.n_ops, sizeof(*v.covers));
	if (!v.originals || !v.kinds || !v.skip || !v.covers) {
		snprintf(err, errlen, "view: memory");
		r = -ENOMEM;
		goto out;
	}
	v.root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v.root < 0 || fstat(v.root, &v.root_st) < 0) {
		r = -errno;
		snprintf(err, errlen, "view: open /");
		goto out;
	}

	r = take_originals(&v); /* V2 */
	for (size_t i = 0; r >= 0 && i < v.plan.n_ops; i++)
		if (v.plan.ops[i].kind == NSCELL_VIEW_OP_OWN || v.plan.ops[i].kind == NSCELL_VIEW_OP_EMPTY ||
		    v.plan.ops[i].kind == NSCELL_VIEW_OP_INACCESSIBLE) {
			r = make_staging(&v); /* V3, when anything is covered */
			break;
		}
	for (size_t i = 0; r >= 0 && i < v.plan.n_ops; i++)
		r = apply(&v, i); /* V4 */
out:
	forget_dirs(&v, "/");
	if (v.originals)
		for (size_t i = 0; i < v.plan.n_ops; i++)
			if (v.originals[i] >= 0)
				close(v.originals[i]);
	if (v.staging >= 0)
		close(v.staging);
	if (v.root >= 0)
		close(v.root);
	free(v.originals);
	free(v.kinds);
	free(v.skip);
	for (size_t i = 0; v.covers && i < v.plan.n_ops; i++)
		free(v.covers[i]);
	free(v.covers);
	free(v.empty);
	nscell_view_plan_done(&v.plan);
	return r < 0 ? r : 0;
}

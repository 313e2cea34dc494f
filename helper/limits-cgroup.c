/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A cell's limits on a host with cgroup v2 and no systemd: a cgroup of
 * nscell's own per cell, <cgroup2 mount>/nscell.cells/u<UID>.<CELL>
 * (lib/cellcg.h), made and written before any process is in it. Nobody
 * else keeps cgroups consistent there, so nscell keeps its own subtree:
 *
 *  - root-owned and 0755 all the way down, files 0644, delegated to nobody:
 *    the user can neither raise a limit nor move a process out;
 *  - the controllers the limits need are enabled in the root's and in
 *    nscell.cells' cgroup.subtree_control (nscell.cells holds no process,
 *    so the no-internal-process rule allows it); where they cannot be, the
 *    limits are unavailable (LimitsUnavailable, logged by limits.c);
 *  - the limits are written (memory.max, memory.high, memory.swap.max,
 *    pids.max, cpu.max, cpu.weight, io.weight), then the init is cloned
 *    straight into the cgroup (CLONE_INTO_CGROUP, cell.c): no instant in
 *    which it runs unlimited, and no pid to race;
 *  - each session's opener (the PAM module) and each `nscell run` job
 *    moves itself in before it forks (nscell_cellcg_enter): a process writes
 *    only "0", never another's pid. Scope user: one cgroup for the user's
 *    cell holds all its sessions;
 *  - a cgroup can be removed only once empty, and the init cannot remove
 *    the one it is in: the next cell made for the same user, under that
 *    user's lock, removes that user's empty ones (rmdir fails on a
 *    populated cgroup, so a live cell's is never touched).
 *
 * Every path is opened by fd below the cgroup2 mount, with O_NOFOLLOW;
 * none of these writes can wait on anything a user controls. The mount's
 * root directory is 0555: nscell.cells is made there (helper_cellcg_prepare)
 * while the helper still has CAP_DAC_OVERRIDE, before it shrinks its
 * capabilities; below nscell.cells, root's 0755, none is needed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellcg.h"
#include "cleanup.h"
#include "helper.h"
#include "limits.h"

#define CPU_PERIOD_USEC 100000u

static int write_file(int dirfd, const char *name, const char *text)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		return -errno;
	return 0;
}

static bool set(const struct nscell_limit *l)
{
	return l->percent > 0 || l->value != NSCELL_LIMIT_INFINITY;
}

/* The controllers l needs, each enabled for the children of dirfd. */
static int enable(int dirfd, const char *where, const struct nscell_limits *l, char *why,
		  size_t whylen)
{
	const char *want[4];
	size_t n = 0;

	if (set(&l->memory_max) || set(&l->memory_high) || set(&l->memory_swap_max))
		want[n++] = "+memory";
	if (set(&l->tasks_max))
		want[n++] = "+pids";
	if (l->cpu_quota_percent > 0 || l->cpu_weight > 0)
		want[n++] = "+cpu";
	if (l->io_weight > 0)
		want[n++] = "+io";
	for (size_t i = 0; i < n; i++) {
		int rc = write_file(dirfd, "cgroup.subtree_control", want[i]);
		if (rc < 0) {
			snprintf(why, whylen, "cannot enable the %s controller in %s/cgroup.subtree_control: %s",
				 want[i] + 1, where, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* A directory of ours below dirfd, made 0755 if missing, checked root's. */
static int open_own(int dirfd, const char *name, bool exclusive)
{
	_cleanup_close_ int fd = -1;

	if (mkdirat(dirfd, name, 0755) < 0 && (exclusive || errno != EEXIST))
		return -errno;
	fd = nscell_cellcg_open_root_dir(dirfd, name);
	if (fd < 0)
		return fd;
	/* 0755 whatever the umask: root's, readable for nscell list. */
	if (fchmod(fd, 0755) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* The user's empty cell cgroups of cells that ended; populated ones stay. */
static void sweep(int topfd, uid_t uid)
{
	char prefix[24];
	struct dirent *e;
	int fd = dup(topfd);
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	snprintf(prefix, sizeof(prefix), "u%u.", (unsigned)uid);
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			(void)unlinkat(topfd, e->d_name, AT_REMOVEDIR);
	closedir(d);
}

static int write_limits(int cg, const struct nscell_limits *l, char *why, size_t whylen)
{
	uint64_t mem = nscell_limits_physical_memory();
	struct {
		const char *file;
		char text[48];
	} w[7] = { { 0 } };
	int n = 0;

#define PUT(cond, name, ...)                                               \
	do {                                                               \
		if (cond) {                                                \
			w[n].file = name;                                  \
			snprintf(w[n].text, sizeof(w[n].text), __VA_ARGS__); \
			n++;                                               \
		}                                                          \
	} while (0)
	PUT(set(&l->memory_max), "memory.max", "%" PRIu64, nscell_limit_resolve(&l->memory_max, mem));
	PUT(set(&l->memory_high), "memory.high", "%" PRIu64, nscell_limit_resolve(&l->memory_high, mem));
	PUT(set(&l->memory_swap_max), "memory.swap.max", "%" PRIu64,
	    nscell_limit_resolve(&l->memory_swap_max, mem));
	PUT(set(&l->tasks_max), "pids.max", "%" PRIu64,
	    nscell_limit_resolve(&l->tasks_max, nscell_limits_pid_max()));
	PUT(l->cpu_quota_percent > 0, "cpu.max", "%u %u", l->cpu_quota_percent * (CPU_PERIOD_USEC / 100u),
	    CPU_PERIOD_USEC);
	PUT(l->cpu_weight > 0, "cpu.weight", "%u", l->cpu_weight);
	PUT(l->io_weight > 0, "io.weight", "default %u", l->io_weight);
#undef PUT
	for (int i = 0; i < n; i++) {
		int rc = write_file(cg, w[i].file, w[i].text);
		if (rc < 0) {
			snprintf(why, whylen, "cannot write %s to %s of the cell's cgroup: %s", w[i].text,
				 w[i].file, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void helper_cellcg_prepare(const struct nscell_limits *l)
{
	_cleanup_close_ int mnt = -1, top = -1;
	char why[8];

	if (!nscell_limits_any(l) || nscell_limits_host(l, why, sizeof(why)) != NSCELL_LIMITS_CGROUP)
		return;
	mnt = nscell_cellcg_mount(NULL);
	if (mnt >= 0)
		top = open_own(mnt, NSCELL_CELLCG_DIR, false); /* failing, create() says why */
}

int helper_cellcg_create(uid_t uid, const char *cell_id, const struct nscell_limits *l,
			 int *ret_fd, char *why, size_t whylen)
{
	_cleanup_close_ int mnt = -1, top = -1, cg = -1;
	const char *where = "";
	char name[128], topname[160];
	int rc;

	mnt = nscell_cellcg_mount(&where);
	if (mnt < 0) {
		snprintf(why, whylen, "no cgroup v2 hierarchy is mounted");
		return -EOPNOTSUPP;
	}
	rc = enable(mnt, where, l, why, whylen);
	if (rc < 0)
		return -EOPNOTSUPP;
	top = open_own(mnt, NSCELL_CELLCG_DIR, false);
	if (top < 0) {
		snprintf(why, whylen, "cannot make %s/%s root's and 0755: %s", where, NSCELL_CELLCG_DIR,
			 strerror(-top));
		return top;
	}
	snprintf(topname, sizeof(topname), "%s/%s", where, NSCELL_CELLCG_DIR);
	rc = enable(top, topname, l, why, whylen);
	if (rc < 0)
		return -EOPNOTSUPP;
	sweep(top, uid);
	nscell_cellcg_name(uid, cell_id, name, sizeof(name));
	cg = open_own(top, name, true);
	if (cg < 0) {
		snprintf(why, whylen, "cannot make the cgroup %s/%s: %s", topname, name,
			 cg == -EEXIST ? "it exists and still has processes" : strerror(-cg));
		return cg;
	}
	rc = write_limits(cg, l, why, whylen);
	if (rc < 0) {
		(void)unlinkat(top, name, AT_REMOVEDIR);
		return rc;
	}
	*ret_fd = TAKE_FD(cg);
	return 0;
}

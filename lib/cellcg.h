/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup of nscell's own that holds a cell and its limits on a host
 * with cgroup v2 and no systemd: <cgroup2 mount>/nscell.cells/u<UID>.<CELL>.
 * The helper makes it (helper/limits-cgroup.c); whoever brings a session or
 * a job into the cell moves itself into it first (nscell_cellcg_enter), so
 * that everything it forks for the session is born there.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define NSCELL_CELLCG_DIR "nscell.cells"

/*
 * nscell_cellcg_mount - where the unified cgroup v2 hierarchy is mounted:
 * /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host. Returns an
 * O_DIRECTORY fd of it, or -errno (-ENOENT: none).
 */
int nscell_cellcg_mount(const char **ret_path);

/* The directory `name` below `parent`, opened without following a link, if
 * it is root's and writable by nobody else; else -errno (-EPERM). */
int nscell_cellcg_open_root_dir(int parent, const char *name);

/* The name of the cell's cgroup below NSCELL_CELLCG_DIR, into buf. */
void nscell_cellcg_name(uid_t uid, const char *cell_id, char *buf, size_t size);

/*
 * nscell_cellcg_open - an O_DIRECTORY fd of the cell's cgroup, each step
 * opened by fd without following links and checked to be root's and
 * unwritable by others. Returns the fd, -ENOENT when the cell has none
 * (its limits are systemd's, or it has none), or -errno.
 */
int nscell_cellcg_open(uid_t uid, const char *cell_id);

/*
 * nscell_cellcg_enter - move the calling process into the cell's cgroup,
 * if the cell has one; root only. Returns 1 when it did, 0 when the cell
 * has none, or -errno with a sentence in why.
 */
int nscell_cellcg_enter(uid_t uid, const char *cell_id, char *why, size_t whylen);

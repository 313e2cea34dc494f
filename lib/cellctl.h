/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A client for the cells' sockets: the registry (RUNDIR/cells/<id>.sock, one
 * per live cell) and the ops its init serves (proto.h): STATUS, TERMINATE and
 * JOIN. Used as root by nscell(8); the sockets are in a root-only directory
 * and each init accepts uid 0 only.
 *
 * Nothing here trusts a pid: a JOIN hands back the init's pidfd, made by the
 * init itself, and that is what a caller enters by.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

/* How long one op may wait for an init's answer: a hung init must not hang
 * `nscell list` over 200 cells for minutes. */
#define NSCELL_CELLCTL_TIMEOUT_MS 3000

/* "user-<uid>" or "session-<16 lowercase hex>", as the helper makes them. */
bool nscell_cell_id_valid(const char *id);

/*
 * nscell_cellctl_list - the ids of the registry's entries, sorted (strcmp).
 * An entry whose init died without removing it is listed too; STATUS on it
 * fails with -ECONNREFUSED.
 *
 * Returns 0 with a NULL-terminated array the caller frees with
 * nscell_cellctl_list_free(), -ENOENT if RUNDIR/cells does not exist (no cell
 * was ever made), -EACCES for a caller that is not root, or another -errno.
 */
int nscell_cellctl_list(char ***ret_ids, size_t *ret_n);
void nscell_cellctl_list_free(char **ids);

/*
 * nscell_cellctl_status - ask a cell for its status. The strings in the
 * answer are checked to be terminated and config.cell_id to be `id`.
 *
 * Returns 0, -ENOENT/-ECONNREFUSED when the cell is gone, -ETIMEDOUT, or
 * -EPROTO for an answer that is not a status of this cell.
 */
int nscell_cellctl_status(const char *id, struct nscell_cell_status *ret);

/*
 * nscell_cellctl_terminate - ask a cell to end: its init kills every
 * process in it and exits. Returns 0 once the init has acknowledged, or
 * -errno as for status. The cell may take a moment more to be gone.
 */
int nscell_cellctl_terminate(const char *id);

/*
 * nscell_cellctl_version - the protocol version the cell's init speaks
 * (0: 0.1.0 or 0.2.0; see proto.h). Returns 0 or -errno as for status.
 */
int nscell_cellctl_version(const char *id, unsigned *ret);

/*
 * nscell_cellctl_settings - the settings a cell was made with (SETTINGS op).
 * Returns 0, -ENOENT/-ECONNREFUSED when the cell is gone, -EPROTONOSUPPORT
 * when its init speaks another version (0, or a newer one that refuses ours),
 * -ECONNRESET when it closed without an answer, -ETIMEDOUT, or -EPROTO.
 */
int nscell_cellctl_settings(const char *id, struct nscell_settings *ret);

/*
 * nscell_cellctl_count_user_cells - how many live cells (draining ones
 * included) belong to `uid`: the registry entries owned by `uid` (the helper
 * chowns each to its cell's user) whose init answers STATUS for that uid and
 * is not ending. Only that user's own inits are asked, so no other user's
 * cell can slow the count.
 */
int nscell_cellctl_count_user_cells(uid_t uid, unsigned *ret);

/* What a JOIN hands back. */
struct nscell_cellctl_session {
	int sock;        /* the session: closing it (or a LEAVE) ends it */
	int init_pidfd;  /* the init, made by itself: enter the cell by this */
	int userns_fd;   /* the sessions' user namespace, or -1 */
	int logins_fd;   /* PrivateLogins: the sessions' mount namespace, or -1 */
	unsigned session_no;
	unsigned namespaces; /* NSCELL_NS_* the cell was made with */
	bool v0;             /* the init speaks version 0 (proto.h); false: this release's */
};

/*
 * nscell_cellctl_join - open a session in a cell. `opener_pidfd` is the
 * process whose exit ends the session (the caller's own pidfd keeps the cell
 * alive exactly as long as the caller runs); service, tty and rhost are shown
 * in status and may be NULL; they are cut to the protocol's field sizes.
 *
 * Returns 0, -ESTALE if the cell is ending, -ENOENT/-ECONNREFUSED if it is
 * gone, or another -errno. On success the caller owns the three fds.
 */
int nscell_cellctl_join(const char *id, int opener_pidfd, pid_t opener_pid, const char *service,
			const char *tty, const char *rhost, struct nscell_cellctl_session *ret);

/*
 * nscell_cellctl_join_same - the same in one round trip, if the cell was made
 * with the cell-level settings of `want` (JOIN_SAME, proto.h). Returns as
 * nscell_cellctl_join, or NSCELL_CELL_DIFFERS; an init that does not know
 * the op answers -ECONNRESET (EOF), -EOPNOTSUPP or -EPROTO; a part too large
 * for the request is -EMSGSIZE, nothing asked.
 */
int nscell_cellctl_join_same(const char *id, const struct nscell_settings *want, int opener_pidfd,
			     pid_t opener_pid, const char *service, const char *tty,
			     const char *rhost, struct nscell_cellctl_session *ret);

/* Send LEAVE on a session socket (best effort, never blocks) and close it. */
void nscell_cellctl_leave(int *sock, unsigned version);
/* The same, and close everything. */
void nscell_cellctl_session_close(struct nscell_cellctl_session *s);

const char *nscell_cell_state_name(uint32_t state);

/* Whether the caller is inside a cell: there, RUNDIR is an empty read-only
 * tmpfs (the registry is out of reach). */
bool nscell_inside_cell(void);

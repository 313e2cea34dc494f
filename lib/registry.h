/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Joining a user's live cell: the one check and join that the PAM module (its
 * fast path, without the helper) and the helper (under the user's lock, before
 * it makes a cell) both take. Making a cell stays the helper's alone.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "cellctl.h"
#include "proto.h"
#include "settings.h"

/* The id of a user's cell (Scope user). */
void nscell_registry_user_cell_id(uid_t uid, char *buf, size_t size);

enum {
	NSCELL_REGISTRY_GONE = 1,    /* no live cell of that id: make one */
	NSCELL_REGISTRY_DIFFERS = 2, /* it lives, made with other cell-level settings
				      * than `want` (or it cannot say which) */
	NSCELL_REGISTRY_VERSION_DIFFERS = 3, /* it lives, an init of an earlier (or
					      * later) release: `why` is its
					      * protocol version, or "unknown" */
};

/*
 * nscell_registry_join_same - join the live cell `id` if it was made with the
 * cell-level settings of `want`, and verify that what it hands back is what
 * it reported. opener_pidfd/opener_pid, service, tty, rhost: as for
 * nscell_cellctl_join().
 *
 * Returns 0 with the session in *ret (the caller owns its fds),
 * NSCELL_REGISTRY_GONE, NSCELL_REGISTRY_DIFFERS with what differs in `why`,
 * NSCELL_REGISTRY_VERSION_DIFFERS with the cell's protocol version in `why`,
 * or -errno with a sentence in `why`.
 */
int nscell_registry_join_same(const char *id, const struct nscell_settings *want,
			      int opener_pidfd, pid_t opener_pid, const char *service,
			      const char *tty, const char *rhost,
			      struct nscell_cellctl_session *ret, char *why, size_t whylen);

/* After JOIN_SAME answered `rc` (nscell_cellctl_join_same): keep the session,
 * ask again by SETTINGS and JOIN (an init that does not know the op, or found
 * other bytes: the keys decide, and say why), the cell is gone, or fail. */
enum nscell_join_same_next {
	NSCELL_JOIN_SAME_JOINED,
	NSCELL_JOIN_SAME_ASK,
	NSCELL_JOIN_SAME_GONE,
	NSCELL_JOIN_SAME_FAIL,
};
enum nscell_join_same_next nscell_registry_join_same_next(int rc);

/*
 * nscell_registry_join_user_cell - the same for the calling process, root,
 * into the cell of user `uid` when `want` is Scope user (the caller's exit
 * ends the session); the cell's id goes to ret_id. A Scope session login, or
 * a caller that is not root, has no such cell: NSCELL_REGISTRY_GONE.
 */
int nscell_registry_join_user_cell(uid_t uid, const struct nscell_settings *want,
				   const char *service, const char *tty, const char *rhost,
				   char *ret_id, size_t idsize, struct nscell_cellctl_session *ret,
				   char *why, size_t whylen);

/*
 * nscell_registry_join_user_reply - the module's fast path: the same join,
 * handed back as the helper would hand it: the reply (`set` as the cell's
 * settings) and fds [init pidfd, session socket, user namespace or -1,
 * the sessions' mount namespace of PrivateLogins or -1].
 * Any doubt (no cell, one ending, one made with other cell-level settings,
 * one that cannot say which) is -ENOENT: the helper looks again under the
 * user's lock, and logs why.
 */
int nscell_registry_join_user_reply(uid_t uid, const struct nscell_settings *set,
				    const char *service, const char *tty, const char *rhost,
				    struct nscell_reply *rep, int fds[4]);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PAM module's side of the open helper: spawn it as linux-pam spawns its
 * helpers (by absolute path, sanitized fds, empty environment), send the
 * request, wait for the answer within a deadline, and reap the helper
 * (after the caller's own work on the answer, which the helper's exit then
 * overlaps: nscell_helper_reap).
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

/* How long the helper has to answer, and then to exit. */
#define NSCELL_HELPER_TIMEOUT_MS 15000
/* After its answer (or a SIGKILL) the helper only exits: reaping it takes
 * milliseconds unless it is stuck in the kernel. */
#define NSCELL_HELPER_REAP_MS 2000

/* A helper that answered and is still to be reaped. */
struct nscell_helper {
	pid_t pid; /* 0: none */
	int pidfd;
};

/*
 * nscell_helper_ask - run the helper at `path` for `req`.
 *
 * Returns 0 with its answer in *rep (rep->pam_status is the helper's verdict;
 * for PAM_SUCCESS, ret_fds holds [init pidfd, session socket, userns fd or
 * -1, PrivateLogins' mount namespace or -1], owned by the caller) and rep->message in `why`; or -errno with one
 * sentence in `why` (it did not start, did not answer, or answered nonsense).
 * After a valid answer the helper is left in *ret_helper for the caller to
 * reap; otherwise it has been reaped and ret_helper->pid is 0.
 */
int nscell_helper_ask(const char *path, const struct nscell_request *req,
		      struct nscell_reply *rep, int ret_fds[4], struct nscell_helper *ret_helper,
		      char *why, size_t whylen);

/* Wait (NSCELL_HELPER_REAP_MS at most) for the helper to end and reap it;
 * returns its wait status, or -1 (none, or reaped by the application). */
int nscell_helper_reap(struct nscell_helper *h);

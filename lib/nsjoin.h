/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A process that enters a cell's namespaces and comes back: the PAM module
 * joins at open_session and returns at close_session, so that the modules
 * after it see the host again.
 */
#pragma once

#include <stddef.h>

#include "namespaces.h"

struct nscell_ns_return {
	int saved[NSCELL_NS_TYPES]; /* ours before the join, by nscell_ns_types[] index */
	unsigned joined;            /* NSCELL_NS_* */
	char *cwd;
};

void nscell_ns_return_init(struct nscell_ns_return *r);
void nscell_ns_return_free(struct nscell_ns_return *r);

/*
 * nscell_ns_join - save our namespaces of `namespaces` (the user namespace
 * excepted: nobody returns from one), then enter those of the process
 * behind `pidfd`, keeping the working directory where it exists there.
 * Returns 0, or -errno with a sentence in `why`.
 */
int nscell_ns_join(int pidfd, unsigned namespaces, struct nscell_ns_return *r, char *why,
		   size_t whylen);

/*
 * nscell_ns_leave - back to the namespaces saved by nscell_ns_join, and the
 * working directory. Returns 0, or the first -errno with the namespace that
 * failed in `why` (it goes on with the others).
 */
int nscell_ns_leave(struct nscell_ns_return *r, char *why, size_t whylen);

/*
 * PrivateLogins: the namespaces a JOIN answer carries after the init's
 * pidfd, told apart by their type (an init without PrivateLogins sends the
 * user namespace alone, as before). Each of *ret_userns and *ret_logins gets
 * its fd or -1; an fd of any other type is closed. 0, or -EPROTO.
 */
int nscell_ns_sort_fds(const int *fds, size_t n, int *ret_userns, int *ret_logins);

/* Enter the sessions' mount namespace of a PrivateLogins cell (the caller
 * is in the cell's already), keeping the working directory. 0 or -errno. */
int nscell_ns_enter_logins(int fd, char *why, size_t whylen);

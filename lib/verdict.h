/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verdict for one login: user -> policy -> decision, the one path the
 * PAM module, the helper and the CLI (enter, explain) take. Groups are looked
 * up only when the decision reaches a Group criterion (or the caller maps
 * them into a user namespace): the first NSS group lookup of a process is
 * its dearest.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"
#include "policy.h"

struct nscell_verdict_query {
	const char *conf;      /* main policy file; NULL: NSCELL_CONF_PATH */
	const char *dropin;    /* its drop-in directory; NULL: none, or conf + ".d" with dropin_default */
	bool dropin_default;
	unsigned load_flags;   /* NSCELL_POLICY_CHECK_OWNER ... */
	const char *service, *rhost, *tty; /* NULL or "": none */
	bool root_passes;      /* a broken policy lets root in unisolated (logins) */
	bool userns_groups;    /* resolve groups too when the decision makes a user namespace */
	const struct nscell_nss_ops *nss; /* NULL: the C library's */
};

struct nscell_verdict {
	struct nscell_policy *policy;    /* the decision points into it */
	struct nscell_decision decision; /* when 0 was returned */
	struct nscell_login login;       /* points into the identity */
	struct nscell_diag diag;         /* every parse error, when the policy is broken */
};

/* Returned when the policy cannot be used and the login is root's, with
 * query->root_passes: not isolated, never locked out. */
#define NSCELL_VERDICT_ROOT_PASSES 1

/*
 * nscell_verdict_decide - decide for `id` (resolved with or without groups;
 * they are added here when needed).
 *
 * Returns 0 with ret->decision; NSCELL_VERDICT_ROOT_PASSES; or -errno. In
 * both of the latter, `why` holds one sentence (file:line of the first
 * policy error, "cannot resolve the groups of USER: ...") and, for a broken
 * policy, ret->diag every line. Free ret with nscell_verdict_free() always.
 */
int nscell_verdict_decide(struct nscell_identity *id, const struct nscell_verdict_query *q,
			  struct nscell_verdict *ret, char *why, size_t whylen);
void nscell_verdict_free(struct nscell_verdict *v);

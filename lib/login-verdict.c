/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "login-verdict.h"
#include "verdict.h"

int nscell_login_verdict(const char *conf, struct nscell_request *req, uid_t *ret_uid,
			 const char **ret_exempt, char *why, size_t whylen)
{
	const struct nscell_verdict_query q = {
		.conf = conf, .dropin_default = true, .load_flags = NSCELL_POLICY_CHECK_OWNER,
		.service = req->service, .rhost = req->rhost, .tty = req->tty, .root_passes = true,
	};
	struct nscell_identity *id = NULL;
	struct nscell_verdict v;
	int rc;

	rc = nscell_identity_resolve_user(req->user, &nscell_nss_libc, &id);
	if (rc < 0) {
		snprintf(why, whylen, "cannot resolve user: %s",
			 rc == -ENOENT ? "no such user" : strerror(-rc));
		return NSCELL_LOGIN_UNKNOWN_USER;
	}
	*ret_uid = id->uid;
	rc = nscell_verdict_decide(id, &q, &v, why, whylen);
	if (rc == NSCELL_VERDICT_ROOT_PASSES) {
		rc = NSCELL_LOGIN_ROOT_PASSES;
	} else if (rc < 0) {
		/* rc as it is */
	} else if (!v.decision.settings.isolate) {
		*ret_exempt = v.decision.root_exempt ? "root" :
			      v.decision.rule.file ? "Isolate no" : "defaults";
		rc = NSCELL_LOGIN_EXEMPT;
	} else {
		/* A passwd entry no request may carry (a home with "..") is left to
		 * the helper to decide, and to refuse with its own words. */
		(void)nscell_request_decide(req, id->uid, id->gid, id->home, id->shell,
					    &v.decision.settings);
		/* The groups a user namespace maps, so the helper needs no NSS;
		 * if they cannot be sent, it looks them up itself. */
		if ((v.decision.settings.namespaces & NSCELL_NS_USER) &&
		    nscell_identity_add_groups(id, &nscell_nss_libc) == 0)
			(void)nscell_request_groups(req, id->gids, id->n_groups);
		rc = NSCELL_LOGIN_ISOLATE;
	}
	nscell_verdict_free(&v);
	nscell_identity_free(id);
	return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "verdict.h"

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

int nscell_verdict_decide(struct nscell_identity *id, const struct nscell_verdict_query *q,
			  struct nscell_verdict *ret, char *why, size_t whylen)
{
	const char *path = q->conf ? q->conf : NSCELL_CONF_PATH;
	_cleanup_free_ char *dropin = NULL;
	int rc;

	*ret = (struct nscell_verdict){ 0 };
	if (q->dropin)
		dropin = strdup(q->dropin);
	else if (q->dropin_default && asprintf(&dropin, "%s.d", path) < 0)
		dropin = NULL;
	if ((q->dropin || q->dropin_default) && !dropin) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rc = nscell_policy_load(path, dropin, q->load_flags, &ret->policy, &ret->diag);
	if (rc < 0) {
		const char *first = ret->diag.n_lines ? ret->diag.lines[0] : strerror(-rc);
		const char *more = ret->diag.n_lines > 1 ? " (and more; run nscell check)" : "";
		if (q->root_passes && id->uid == 0) {
			/* Root is never locked out by a typo in the policy. */
			snprintf(why, whylen, "policy error: %s%s; root is never locked out: session not isolated",
				 first, more);
			return NSCELL_VERDICT_ROOT_PASSES;
		}
		snprintf(why, whylen, "policy error: %s%s", first, more);
		return rc;
	}
	/* The groups only once the decision reaches a Group criterion: an
	 * earlier block (an exempt service account's, say) decides without. */
	nscell_identity_to_login(id, or_null(q->service), or_null(q->rhost), or_null(q->tty),
				 &ret->login);
	ret->login.groups_unresolved = !id->groups;
	rc = nscell_policy_decide(ret->policy, &ret->login, &ret->decision);
	if (rc == NSCELL_POLICY_NEEDS_GROUPS) {
		rc = nscell_identity_add_groups(id, q->nss);
		if (rc < 0)
			goto groups_failed;
		nscell_identity_to_login(id, or_null(q->service), or_null(q->rhost), or_null(q->tty),
					 &ret->login);
		rc = nscell_policy_decide(ret->policy, &ret->login, &ret->decision);
	}
	if (rc != 0) {
		rc = rc < 0 ? rc : -EINVAL; /* never NSCELL_VERDICT_ROOT_PASSES */
		snprintf(why, whylen, "cannot decide: %s", strerror(-rc));
		return rc;
	}
	if (q->userns_groups && !id->groups && ret->decision.settings.isolate &&
	    (ret->decision.settings.namespaces & NSCELL_NS_USER)) {
		rc = nscell_identity_add_groups(id, q->nss);
		if (rc < 0)
			goto groups_failed;
		/* The login's view of the groups, now complete. */
		nscell_identity_to_login(id, or_null(q->service), or_null(q->rhost),
					 or_null(q->tty), &ret->login);
	}
	return 0;

groups_failed:
	snprintf(why, whylen, "cannot resolve the groups of %s: %s", id->user, strerror(-rc));
	return rc;
}

void nscell_verdict_free(struct nscell_verdict *v)
{
	nscell_policy_free(v->policy);
	v->policy = NULL;
	nscell_diag_free(&v->diag);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PAM module's verdict for one login, made in the login process so that
 * exempt logins never pay for a helper. An isolated login's decision goes
 * into the request (req->decided): nscell-open trusts its root caller and
 * takes it rather than deciding again in a fresh process (NSS, policy).
 * Where it cannot travel, the helper decides itself.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

enum nscell_login_verdict {
	NSCELL_LOGIN_ISOLATE,      /* req->decided when the decision can travel */
	NSCELL_LOGIN_EXEMPT,       /* *ret_exempt says why: "root", "Isolate no", "defaults" */
	NSCELL_LOGIN_ROOT_PASSES,  /* the policy cannot be used, the login is root's: why says it */
	NSCELL_LOGIN_UNKNOWN_USER, /* why says it */
};

/*
 * nscell_login_verdict - decide for req->user with the policy `conf` (NULL:
 * the installed one; its drop-in directory beside it; ownership checked),
 * matching req's service, rhost and tty. *ret_uid is the user's uid once
 * resolved.
 *
 * Returns an enum nscell_login_verdict, or -errno with a sentence in `why`
 * (a broken policy: file:line of its first error).
 */
int nscell_login_verdict(const char *conf, struct nscell_request *req, uid_t *ret_uid,
			 const char **ret_exempt, char *why, size_t whylen);

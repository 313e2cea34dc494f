/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a login's session can enter its cell's user namespace: a property of
 * the PAM application, measured per program (see pam_nscell(8)).
 */
#pragma once

enum nscell_userns_point {
	NSCELL_USERNS_AUTO,    /* by PAM service name (nscell_userns_point_of) */
	NSCELL_USERNS_OPEN,    /* the opener itself, in open_session (su, runuser, sudo) */
	NSCELL_USERNS_SETCRED, /* the session child, in setcred (sshd's post-auth child) */
	NSCELL_USERNS_NONE,    /* nowhere: apply UserNamespaceFallback */
};

/* The point for a PAM service; NSCELL_USERNS_NONE for one not known. */
enum nscell_userns_point nscell_userns_point_of(const char *service);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PrivateLogins in the module: where a session's processes enter the
 * sessions' mount namespace (helper/logins.c), so that every process that
 * writes login records stays where the real files are.
 *
 * Measured per program (pam_nscell(8)):
 *   sshd     its root monitor writes utmp, wtmp and lastlog (at pty
 *            allocation and at the session's end): the post-auth child
 *            enters, in its setcred, before it drops to the user;
 *   su, runuser, sudo (and their -l/-i services) write no records of their
 *            own; PAM modules write theirs at open before pam_nscell and at
 *            close after its restore entry: the opener enters at open;
 *   login    (shadow's, Debian 12) writes utmp and wtmp in the child it
 *            forks for the shell, as root, and then drops to the user with
 *            no PAM call in between: there is no point where the shell
 *            could enter without that record being lost. Nowhere.
 *   others   nowhere: where a program writes its records is not known, and a
 *            record lost is worse than one shown. The module says so.
 */
#pragma once

enum nscell_logins_point {
	NSCELL_LOGINS_NONE,    /* the session sees the host's records (logged) */
	NSCELL_LOGINS_OPEN,    /* the opener, in open_session */
	NSCELL_LOGINS_SETCRED, /* the session child, in setcred */
};

enum nscell_logins_point nscell_logins_point(const char *service);

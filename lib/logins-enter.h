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
 *   login    writes its records after open_session, then forks the shell's
 *            child and drops to the user in it with no PAM call in between:
 *            the child enters as it is forked (a fork handler armed at
 *            open). Debian 13's login writes utmp and wtmp before the fork,
 *            where the real files are; Debian 12's writes utmp in the child,
 *            as root: into the copy, which is the one record file the
 *            sessions may write, and the cell's init carries what changed
 *            to the real one (init-logins.c; only the user's own logins and
 *            logouts, logins-filter.h);
 *   others   nowhere: where a program writes its records is not known, and a
 *            record lost is worse than one shown. The module says so.
 */
#pragma once

#include <stddef.h>

enum nscell_logins_point {
	NSCELL_LOGINS_NONE,    /* the session sees the host's records (logged) */
	NSCELL_LOGINS_OPEN,    /* the opener, in open_session */
	NSCELL_LOGINS_SETCRED, /* the session child, in setcred */
	NSCELL_LOGINS_FORK,    /* the opener's children, as they are forked */
};

enum nscell_logins_point nscell_logins_point(const char *service);

/* NSCELL_LOGINS_FORK: every child the process forks from now on enters the
 * mount namespace `fd` (taken) before it returns from fork(); one that
 * cannot is ended, as a session refused. Till nscell_logins_fork_disarm(). */
int nscell_logins_fork_arm(int fd, char *why, size_t whylen);
void nscell_logins_fork_disarm(void);

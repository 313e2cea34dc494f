/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_nscell — moves a login session into its cell.
 *
 * open_session: decide from the policy whether this login is isolated (exempt
 * logins cost a policy read and nothing else); if so, spawn nscell-open,
 * with the decision in the request, which finds or makes the cell and hands
 * back [init pidfd, session socket];
 * then setns() this process into the cell's namespaces. The pid namespace part
 * only applies to children: everything the application forks from now on
 * (sshd's session child, su's shell, login's shell) is inside.
 *
 * close_session: setns() back to the namespaces saved at open, so the modules
 * after us see a working /proc/self again, then tell the cell this session
 * left. Because Linux-PAM runs close_session in stack order, a second entry
 * with the `restore` option placed FIRST in the session stack does the
 * setns-back before the other modules' close_session run.
 *
 * Never blocks logout: leaving is one datagram; the cell's init applies the
 * logout policy on its own time.
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "cellcg.h"
#include "cellctl.h"
#include "cleanup.h"
#include "helperctl.h"
#include "limits.h"
#include "login-verdict.h"
#include "logins-enter.h"
#include "nsjoin.h"
#include "proto.h"
#include "registry.h"
#include "restrict.h"
#include "userns-point.h"

#define STATE_KEY "pam_nscell_state"
#define RESTORE_SEEN_KEY "pam_nscell_restore_seen" /* a restore entry ran first */
#define SETCRED_SEEN_KEY "pam_nscell_setcred_seen" /* setcred ran before open_session */

struct options {
	bool debug;
	bool restore_only;
	const char *conf;
	const char *helper;
	enum nscell_userns_point userns; /* from userns=, else AUTO */
};

struct state {
	struct nscell_ns_return ns; /* our namespaces before the join */
	int session_sock;      /* closing it tells the cell we left */
	int userns;            /* the cell's user namespace, to enter at setcred */
	int loginsns;          /* PrivateLogins: the sessions' mount namespace, at setcred */
	pid_t opener;          /* the process that ran open_session */
	bool joined;           /* in the cell's namespaces: restore() leaves them */
	bool in_userns;        /* the opener entered it: no way back */
	struct nscell_settings settings; /* restrictions, again after setcred's join */
	bool restored;
	char cell_id[NSCELL_CELL_ID_MAX];
};

static void parse_args(pam_handle_t *pamh, int argc, const char **argv, struct options *o)
{
	*o = (struct options){ .conf = NULL, .helper = NSCELL_OPEN_HELPER_PATH };
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "debug") == 0)
			o->debug = true;
		else if (strcmp(argv[i], "restore") == 0)
			o->restore_only = true;
		else if (strncmp(argv[i], "conf=", 5) == 0 && argv[i][5] == '/')
			o->conf = argv[i] + 5;
		else if (strncmp(argv[i], "helper=", 7) == 0 && argv[i][7] == '/')
			o->helper = argv[i] + 7;
		else if (strcmp(argv[i], "userns=open") == 0)
			o->userns = NSCELL_USERNS_OPEN;
		else if (strcmp(argv[i], "userns=setcred") == 0)
			o->userns = NSCELL_USERNS_SETCRED;
		else if (strcmp(argv[i], "userns=none") == 0)
			o->userns = NSCELL_USERNS_NONE;
		else
			pam_syslog(pamh, LOG_WARNING, "unknown option '%s', ignoring", argv[i]);
	}
}

static void state_free(struct state *s)
{
	if (!s)
		return;
	nscell_ns_return_free(&s->ns);
	nscell_closep(&s->session_sock);
	nscell_closep(&s->userns);
	nscell_closep(&s->loginsns);
	nscell_logins_fork_disarm();
	free(s);
}

static void state_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	/* Closing the session socket is a leave as well; the opener's exit is
	 * what the cell trusts in the end. */
	state_free(data);
}

static int restore(pam_handle_t *pamh, struct state *s, bool debug)
{
	char why[300];
	int rc;

	if (!s->joined || s->restored)
		return 0;
	s->restored = true;
	if (s->in_userns) {
		/* A process cannot go back to an ancestor user namespace; the
		 * modules after us run inside the cell (documented limitation). */
		if (debug)
			pam_syslog(pamh, LOG_DEBUG, "in the user namespace of %s: staying", s->cell_id);
		return 0;
	}
	rc = nscell_ns_leave(&s->ns, why, sizeof(why));
	if (rc < 0)
		pam_syslog(pamh, LOG_ERR, "%s", why);
	if (debug)
		pam_syslog(pamh, LOG_DEBUG, "left the namespaces of cell %s", s->cell_id);
	return rc;
}

static const char *item(pam_handle_t *pamh, int type)
{
	const void *v = NULL;
	if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || !v)
		return "";
	return v;
}

/* A marker left in the handle by an earlier call (see the *_SEEN_KEY). */
static bool seen(pam_handle_t *pamh, const char *key)
{
	const void *v = NULL;
	return pam_get_data(pamh, key, &v) == PAM_SUCCESS && v;
}

static void mark(pam_handle_t *pamh, const char *key)
{
	pam_set_data(pamh, key, (void *)key, NULL);
}

/*
 * Enter the cell's user namespace if `userns` (the bounding set is reset on
 * the way in), then apply the login's restrictions, which everything the
 * application forks for the session inherits.
 */
static int enter_restricted(struct state *s, bool userns, char *why, size_t whylen)
{
	if (userns) {
		if (setns(s->userns, CLONE_NEWUSER) < 0) {
			int e = errno;
			snprintf(why, whylen, "cannot enter the user namespace of %s: %s",
				 s->cell_id, strerror(e));
			return -e;
		}
		nscell_closep(&s->userns);
		s->userns = -1;
		s->in_userns = true;
	}
	return nscell_restrict_apply(&s->settings, why, whylen);
}

static long elapsed_us(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000000L + (t1.tv_nsec - t0->tv_nsec) / 1000L;
}

/*
 * Decide where this session enters the cell's user namespace, or apply the
 * policy's fallback where the program gives no safe point. Sets o->userns to
 * OPEN or SETCRED when there is a namespace to enter.
 */
static int userns_plan(pam_handle_t *pamh, struct options *o, const char *service,
		       struct nscell_reply *rep, struct state *s, char *why, size_t whylen)
{
	if (s->userns < 0)
		return PAM_SUCCESS;
	if (o->userns == NSCELL_USERNS_AUTO)
		o->userns = nscell_userns_point_of(service);
	if (o->userns == NSCELL_USERNS_SETCRED) {
		/* sshd calls setcred in its monitor before open_session too; if
		 * that never reached us, the module is not in the auth stack and
		 * the second call, in the session child, will not reach us either. */
		if (seen(pamh, SETCRED_SEEN_KEY))
			return PAM_SUCCESS;
		pam_syslog(pamh, LOG_WARNING,
			   "user %s: the user namespace of %s is entered at setcred, but setcred never reached pam_nscell: add 'auth optional pam_nscell.so' to the %s stack",
			   item(pamh, PAM_USER), s->cell_id, service[0] ? service : "(none)");
		o->userns = NSCELL_USERNS_NONE;
	}
	if (o->userns != NSCELL_USERNS_NONE)
		return PAM_SUCCESS;

	nscell_closep(&s->userns);
	s->userns = -1;
	if (rep->settings.userns_fallback == NSCELL_USERNS_FALLBACK_DENY) {
		snprintf(why, whylen,
			 "service %s gives no point to enter a user namespace (UserNamespaceFallback deny)",
			 service[0] ? service : "(none)");
		return PAM_SESSION_ERR;
	}
	rep->settings.no_new_privs = true;
	pam_syslog(pamh, LOG_WARNING,
		   "user %s: service %s gives no point to enter a user namespace; continuing in cell %s without it, with no_new_privs (UserNamespaceFallback no-new-privs)",
		   item(pamh, PAM_USER), service[0] ? service : "(none)", s->cell_id);
	return PAM_SUCCESS;
}

/* PrivateLogins: the opener enters now, or the session child at setcred or
 * as it is forked, or nobody where a record would be lost (logins-enter.h). */
static int logins_plan(pam_handle_t *pamh, struct state *s, const char *service, char *why,
		       size_t whylen)
{
	enum nscell_logins_point p;
	int rc = 0;

	if (s->loginsns < 0)
		return 0;
	p = nscell_logins_point(service);
	if (p == NSCELL_LOGINS_SETCRED && seen(pamh, SETCRED_SEEN_KEY))
		return 0;
	if (p == NSCELL_LOGINS_OPEN)
		rc = nscell_ns_enter_logins(s->loginsns, why, whylen);
	else if (p == NSCELL_LOGINS_FORK)
		rc = nscell_logins_fork_arm(TAKE_FD(s->loginsns), why, whylen);
	else
		pam_syslog(pamh, LOG_WARNING,
			   "user %s: service %s gives no point to hide other users' logins without losing the records it writes%s; the session in %s sees them (PrivateLogins, see pam_nscell(8))",
			   item(pamh, PAM_USER), service[0] ? service : "(none)",
			   p == NSCELL_LOGINS_SETCRED ? " (setcred never reached pam_nscell: add 'auth optional pam_nscell.so')" : "",
			   s->cell_id);
	nscell_closep(&s->loginsns);
	s->loginsns = -1;
	return rc;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	struct nscell_request req;
	struct nscell_reply rep;
	struct state *s = NULL;
	const char *user = NULL, *service, *exempt = "";
	char why[600] = "";
	int fds[4] = { -1, -1, -1, -1 };
	struct nscell_helper helper = { 0, -1 };
	struct timespec t0;
	uid_t uid = (uid_t)-1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	parse_args(pamh, argc, argv, &o);
	if (o.restore_only) {
		/* Tell the main entry that a restore step stands before it. */
		mark(pamh, RESTORE_SEEN_KEY);
		return PAM_IGNORE;
	}
	if (seen(pamh, STATE_KEY)) {
		pam_syslog(pamh, LOG_WARNING, "session already in a cell, ignoring");
		return PAM_IGNORE;
	}

	if (pam_get_item(pamh, PAM_USER, (const void **)&user) != PAM_SUCCESS || !user || !*user) {
		pam_syslog(pamh, LOG_ERR, "cell not entered: no user name");
		return PAM_SESSION_ERR;
	}
	service = item(pamh, PAM_SERVICE);
	if (nscell_request_open(&req, user, service, item(pamh, PAM_TTY), item(pamh, PAM_RHOST),
				item(pamh, PAM_RUSER), o.conf, o.debug) < 0) {
		pam_syslog(pamh, LOG_ERR, "cell not entered for user %.64s: a PAM item is too long",
			   user);
		return PAM_SESSION_ERR;
	}

	/* The verdict in-process: exempt logins never pay for a helper. */
	rc = nscell_login_verdict(o.conf, &req, &uid, &exempt, why, sizeof(why));
	if (rc == NSCELL_LOGIN_ROOT_PASSES)
		pam_syslog(pamh, LOG_ERR, "%s", why);
	else if (rc == NSCELL_LOGIN_EXEMPT && o.debug)
		pam_syslog(pamh, LOG_DEBUG, "user %s is exempt (%s)", user, exempt);
	if (rc == NSCELL_LOGIN_EXEMPT || rc == NSCELL_LOGIN_ROOT_PASSES) {
		if (o.debug)
			pam_syslog(pamh, LOG_DEBUG, "open_session: exempt in %ld us", elapsed_us(&t0));
		return PAM_IGNORE;
	}
	if (rc != NSCELL_LOGIN_ISOLATE) {
		rc = rc == NSCELL_LOGIN_UNKNOWN_USER ? PAM_USER_UNKNOWN :
		     rc == -ENOMEM		    ? PAM_BUF_ERR : PAM_SYSTEM_ERR;
		goto fail;
	}

	/* Another session of a user whose live cell has this login's cell-level
	 * settings joins it directly; any doubt goes to the helper. */
	if (req.decided && nscell_registry_join_user_reply(req.uid, &req.settings, service, req.tty,
							   req.rhost, &rep, fds) == 0)
		rc = PAM_SUCCESS;
	else
		rc = nscell_helper_ask(o.helper, &req, &rep, fds, &helper, why, sizeof(why)) < 0 ?
			     PAM_SESSION_ERR : rep.pam_status;
	/* A helper that made the cell only exits (and logs) from here on: it is
	 * reaped after the join below, which it overlaps. */
	if (rc != PAM_SUCCESS)
		nscell_helper_reap(&helper);
	if (rc == PAM_IGNORE) {
		if (o.debug)
			pam_syslog(pamh, LOG_DEBUG, "helper: %s", why);
		return PAM_IGNORE;
	}
	if (rc != PAM_SUCCESS)
		goto fail;

	rc = PAM_SESSION_ERR; /* from here on, every failure is to enter the cell */
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(why, sizeof(why), "out of memory");
		rc = PAM_BUF_ERR;
		goto fail;
	}
	nscell_ns_return_init(&s->ns);
	s->session_sock = TAKE_FD(fds[1]);
	s->userns = TAKE_FD(fds[2]);
	s->loginsns = TAKE_FD(fds[3]);
	s->opener = getpid();
	snprintf(s->cell_id, sizeof(s->cell_id), "%s", rep.cell_id);

	/* Without systemd, a cell with limits has a cgroup of nscell's own:
	 * in it before the application forks the session (cellcg.h). Limits
	 * are cell-level: the answer's are the cell's, and a cell without
	 * any has no such cgroup to look for. */
	if (nscell_limits_any(&rep.settings.limits) &&
	    nscell_cellcg_enter(uid, rep.cell_id, why, sizeof(why)) < 0)
		goto fail;
	if (nscell_ns_join(fds[0], rep.namespaces, &s->ns, why, sizeof(why)) < 0)
		goto fail;
	s->joined = true;
	nscell_closep(&fds[0]);
	rc = userns_plan(pamh, &o, service, &rep, s, why, sizeof(why));
	if (rc != PAM_SUCCESS)
		goto fail;
	rc = PAM_SESSION_ERR;
	s->settings = rep.settings;
	if (logins_plan(pamh, s, service, why, sizeof(why)) < 0)
		goto fail;
	nscell_helper_reap(&helper); /* before any restriction of this process */
	if (enter_restricted(s, s->userns >= 0 && o.userns == NSCELL_USERNS_OPEN, why, sizeof(why)) < 0)
		goto fail;
	rc = pam_set_data(pamh, STATE_KEY, s, state_cleanup);
	if (rc != PAM_SUCCESS) {
		snprintf(why, sizeof(why), "pam_set_data: %s", pam_strerror(pamh, rc));
		goto fail;
	}
	if (!seen(pamh, RESTORE_SEEN_KEY))
		pam_syslog(pamh, LOG_WARNING,
			   "no 'session optional pam_nscell.so restore' line before this one: the modules after it will run close_session inside cell %s (see pam_nscell(8))",
			   rep.cell_id);
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "open_session: user %s in %s (%s) in %ld us", user,
			   rep.cell_id, rep.flags & NSCELL_REPLY_CREATED ? "new" : "joined",
			   elapsed_us(&t0));
	return PAM_SUCCESS;

fail:
	/* sudo treats PAM_SESSION_ERR as non-fatal and would run the command
	 * unisolated even with `session required`: report failures to make or
	 * enter the cell as PAM_SYSTEM_ERR, which every application honours. */
	if (rc == PAM_SESSION_ERR)
		rc = PAM_SYSTEM_ERR;
	/* Dropping the session socket tells a fresh cell nobody is coming. */
	for (size_t i = 0; i < 4; i++)
		nscell_closep(&fds[i]);
	nscell_helper_reap(&helper);
	if (s)
		restore(pamh, s, o.debug);
	state_free(s);
	pam_syslog(pamh, LOG_ERR,
		   "cell not entered for user %s: %s; returning %s (login refused where the module is required, continues unisolated where optional)",
		   user, why, pam_strerror(pamh, rc));
	return rc;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	const void *data = NULL;
	struct state *s;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	parse_args(pamh, argc, argv, &o);
	if (pam_get_data(pamh, STATE_KEY, &data) != PAM_SUCCESS || !data)
		return PAM_IGNORE;
	s = (struct state *)data;

	restore(pamh, s, o.debug);
	if (o.restore_only)
		return PAM_SUCCESS;

	nscell_cellctl_leave(&s->session_sock, NSCELL_PROTO_VERSION);
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "close_session: left %s in %ld us", s->cell_id,
			   elapsed_us(&t0));
	pam_set_data(pamh, STATE_KEY, NULL, NULL);
	return PAM_SUCCESS;
}

/* Only so the module can sit in the auth stack, where setcred is called. */
PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

/*
 * sshd calls setcred a second time in its post-auth child, still root, after
 * initgroups and before it drops to the user: that child, and everything it
 * starts, enters the cell's user namespace here.
 */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct options o;
	const void *data = NULL;
	struct state *s;
	char why[300];

	parse_args(pamh, argc, argv, &o);
	if (o.restore_only || !(flags & (PAM_ESTABLISH_CRED | PAM_REINITIALIZE_CRED)))
		return PAM_IGNORE;
	if (pam_get_data(pamh, STATE_KEY, &data) != PAM_SUCCESS || !data) {
		/* Before open_session: remember that setcred reaches us. */
		mark(pamh, SETCRED_SEEN_KEY);
		return PAM_IGNORE;
	}
	s = (struct state *)data;
	if (getpid() == s->opener)
		return PAM_IGNORE;
	/* PrivateLogins first: the user namespace has no say over it. */
	if (s->loginsns >= 0 && nscell_ns_enter_logins(s->loginsns, why, sizeof(why)) < 0) {
		pam_syslog(pamh, LOG_ERR, "%s; session refused", why);
		return PAM_CRED_ERR;
	}
	if (s->userns < 0)
		return PAM_IGNORE;
	if (enter_restricted(s, true, why, sizeof(why)) < 0) {
		pam_syslog(pamh, LOG_ERR, "%s; session refused", why);
		return PAM_CRED_ERR;
	}
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "session process entered the user namespace of %s",
			   s->cell_id);
	return PAM_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What nscell-open (open.c) and nscell-run-helper (run.c) share: leaving the
 * caller's process state, the capability set, the answer and its one refusal
 * idiom, the policy's verdict, and phase 6 / R5, finding or making the
 * user's cell under their lock. Each program's phases are in its own top
 * comment; nothing here decides who may call it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <security/_pam_types.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "capability.h"
#include "cellctl.h"
#include "cleanup.h"
#include "helper.h"
#include "registry.h"
#include "verdict.h"
#include "settings-keys.h"
#include "identity.h"
#include "policy.h"


void helper_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

/* Before anything privileged, and before we know who is asking: a message
 * to the person (there is nobody else to tell), syslog, and the verb's
 * failure status. */
static _Noreturn void sanitize_fail(const char *ident, bool run, const char *err)
{
	openlog(ident, LOG_PID, LOG_AUTHPRIV);
	helper_log(LOG_ERR, "event=refused uid=%u reason=\"%s\"", (unsigned)getuid(), err);
	fprintf(stderr, "%s: %s; refusing\n", ident, err);
	_exit(run ? HELPER_RUN_EXIT_FAILURE : PAM_SYSTEM_ERR);
}

void helper_sanitize(const char *ident, bool run)
{
	struct stat st;
	char err[256];

	prctl(PR_SET_DUMPABLE, 0);
	clearenv();
	for (int fd = 0; fd <= 2; fd++) {
		if (fstat(fd, &st) < 0 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR);
			if (n < 0 || (n != fd && (dup2(n, fd) < 0 || close(n) < 0)))
				_exit(PAM_SYSTEM_ERR);
		}
	}
	syscall(SYS_close_range, HELPER_REQUEST_FD + 1, ~0U, 0);
	/* Signals, rlimits, scheduling, oom_score_adj, timers...: noted for the
	 * run verb's command, never used by us (inherit.c). Without euid 0 (the
	 * setuid bit voided by no_new_privs or a user namespace) some of it
	 * cannot be reset, and nothing privileged can follow: phases 2 and R2
	 * refuse such a caller with their own message. */
	if (helper_leave_caller_state(err, sizeof(err)) < 0 && geteuid() == 0)
		sanitize_fail(ident, run, err);
	signal(SIGPIPE, SIG_IGN);
	openlog(ident, LOG_PID, LOG_AUTHPRIV);
}

/* Keep only the capabilities that making a cell uses (those we have: a
 * container may already have taken some away). The run verb also enters the
 * cell itself: setns() by the init's pidfd checks ptrace access to the init,
 * which is not dumpable, and joining a mount namespace needs CAP_SYS_CHROOT. */
#define RUN_ONLY_CAPS 1
int helper_shrink_caps(bool run)
{
	static const int wanted[] = {
		CAP_SYS_PTRACE, /* run: setns() by pidfd into the cell's namespaces */
		CAP_SYS_CHROOT, /* run: ... and into its mount namespace; PrivateLogins'
				 * setup back into the cell's (logins.c) */
		CAP_SYS_ADMIN, /* namespaces, mounts, hostname */
		CAP_NET_ADMIN, /* loopback up in a new net namespace */
		CAP_CHOWN,     /* persistent directories */
		CAP_FOWNER,    /* chmod of persistent directories */
		CAP_MKNOD,     /* PrivateDevices: the cell's /dev nodes (devices.c) */
		CAP_KILL,      /* stop a half-made cell */
		CAP_SETPCAP,   /* shrink the init's bounding set */
		CAP_SETUID,    /* write a user namespace's uid_map */
		CAP_SETGID,    /* ... and gid_map */
	};
	size_t first = run ? 0 : RUN_ONLY_CAPS;

	return nscell_cap_keep(wanted + first, NSCELL_ELEMENTSOF(wanted) - first);
}

struct nscell_reply helper_reply;

/* Where a refusal goes: to the module over fd 3 (open), or to the person on
 * stderr (run, whose caller is the user). */
static bool answer_to_stderr;

static struct {
	int prio;
	char line[512];
} after_answer;

static void log_after_answer_now(void)
{
	if (after_answer.line[0])
		syslog(after_answer.prio, "%s", after_answer.line);
	after_answer.line[0] = '\0';
}

void helper_log_after_answer(int prio, const char *fmt, ...)
{
	va_list ap;

	log_after_answer_now();
	va_start(ap, fmt);
	vsnprintf(after_answer.line, sizeof(after_answer.line), fmt, ap);
	va_end(ap);
	after_answer.prio = prio;
	if (answer_to_stderr)
		log_after_answer_now();
}

void helper_answer_to_stderr(void)
{
	answer_to_stderr = true;
}

_Noreturn void helper_answer(int status, const int *fds, size_t n_fds)
{
	if (answer_to_stderr) {
		/* Only refusals and failures come here in run. */
		fprintf(stderr, "nscell run: %s\n", helper_reply.message);
		exit(HELPER_RUN_EXIT_FAILURE);
	}
	nscell_msg_head_init(&helper_reply.head, NSCELL_OP_OPEN, sizeof(helper_reply));
	helper_reply.pam_status = status;
	if (nscell_send_fds(HELPER_REQUEST_FD, &helper_reply, sizeof(helper_reply), fds, n_fds) < 0)
		helper_log(LOG_ERR, "event=error error=\"cannot answer the module: %m\"");
	log_after_answer_now();
	exit(status);
}

_Noreturn void helper_fail(const struct nscell_request *req, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(helper_reply.message, sizeof(helper_reply.message), fmt, ap);
	va_end(ap);
	log_after_answer_now(); /* a failure waits anyway: the lines in order */
	helper_log(LOG_ERR, "event=refused user=%s service=%s error=\"%s\"", req->user,
		   req->service[0] ? req->service : "-", helper_reply.message);
	helper_answer(status, NULL, 0);
}


void helper_new_session_id(char *buf, size_t size)
{
	unsigned char r[8];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	snprintf(buf, size, "session-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7]);
}

void helper_load_policy(const struct nscell_request *req, struct nscell_identity *id,
			struct nscell_policy **ret_policy, struct nscell_decision *ret)
{
	/* Groups only when a Match block asks, or the user namespace maps them. */
	const struct nscell_verdict_query q = {
		.conf = req->conf[0] ? req->conf : NULL, .dropin_default = true,
		.load_flags = NSCELL_POLICY_CHECK_OWNER, .service = req->service,
		.rhost = req->rhost, .tty = req->tty, .root_passes = !answer_to_stderr,
		.userns_groups = true,
	};
	struct nscell_verdict v;
	char why[sizeof(helper_reply.message)];
	int rc = nscell_verdict_decide(id, &q, &v, why, sizeof(why));

	for (size_t i = 0; i < v.diag.n_lines && i < 5; i++)
		helper_log(LOG_ERR, "event=policy-error %s", v.diag.lines[i]);
	if (rc == NSCELL_VERDICT_ROOT_PASSES) {
		snprintf(helper_reply.message, sizeof(helper_reply.message), "%s", why);
		nscell_verdict_free(&v);
		helper_answer(PAM_IGNORE, NULL, 0);
	}
	if (rc < 0) {
		int status = rc == -ENOMEM ? PAM_BUF_ERR : v.policy ? PAM_SYSTEM_ERR : PAM_SESSION_ERR;
		nscell_verdict_free(&v);
		helper_fail(req, status, "%s", why);
	}
	*ret_policy = TAKE_PTR(v.policy);
	*ret = v.decision;
	nscell_verdict_free(&v);
}

/* Remove what a failed attempt left in the registry: its entry under either
 * name. We hold the user's lock, so no other login is making this id. */
static void drop_entry(struct runtime *rt, const char *id)
{
	char pending[NSCELL_CELL_ID_MAX + 8], live[NSCELL_CELL_ID_MAX + 8];

	cell_entry_names(id, pending, live, sizeof(pending));
	unlinkat(rt->cellsfd, pending, 0);
	unlinkat(rt->cellsfd, live, 0);
}

int helper_cell_open(const struct helper_login *l, struct helper_cell *ret, char *err,
		     size_t errlen)
{
	const struct nscell_request *req = l->req;
	struct nscell_settings own = *l->settings;
	struct helper_login made = *l;
	struct runtime rt = { -1, -1, -1, -1 };
	struct helper_cell c = { .sock = -1, .init_pidfd = -1, .userns_fd = -1, .logins_fd = -1 };
	unsigned cell_ns = 0, n_cells = 0;
	int rc;

	rc = runtime_open(&rt, err, errlen);
	if (rc < 0)
		return rc;
	rc = runtime_lock_user(&rt, l->id->uid);
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			snprintf(err, errlen,
				 "another login of user %s held its cell lock for over %d s; giving up",
				 req->user, HELPER_LOCK_WAIT_MS / 1000);
		else
			snprintf(err, errlen, "cannot take the cell lock of user %s: %s", req->user,
				 strerror(-rc));
		goto out;
	}

	rc = -ENOENT;
	if (own.scope == NSCELL_SCOPE_USER) {
		struct nscell_cellctl_session sess;
		char diff[400];

		nscell_registry_user_cell_id(l->id->uid, c.id, sizeof(c.id));
		/* A join sets nothing: it checks where we are (limits.c). */
		rc = helper_limits_enforce(l, &own, true, c.id, NULL, err, errlen);
		if (rc < 0)
			goto out;
		rc = nscell_registry_join_same(c.id, &own, l->opener_pidfd, l->opener_pid,
					       req->service, req->tty, req->rhost, &sess,
					       diff, sizeof(diff));
		if (rc == 0) {
			c.sock = sess.sock;
			c.init_pidfd = sess.init_pidfd;
			c.userns_fd = sess.userns_fd;
			c.logins_fd = sess.logins_fd;
			c.session_no = sess.session_no;
			cell_ns = sess.namespaces;
		} else if (rc == NSCELL_REGISTRY_DIFFERS || rc == NSCELL_REGISTRY_VERSION_DIFFERS) {
			/* A cell of its own, with this login's settings, lasting as
			 * long as this session: the user's cell keeps its own. */
			if (rc == NSCELL_REGISTRY_VERSION_DIFFERS)
				helper_log(LOG_WARNING,
					   "event=cell-version-differs cell=%s user=%s uid=%u service=%s action=own-cell cell_version=%s version=%u",
					   c.id, req->user, (unsigned)l->id->uid,
					   req->service[0] ? req->service : "-", diff,
					   NSCELL_PROTO_VERSION);
			else
				helper_log(LOG_WARNING,
					   "event=cell-settings-differ cell=%s user=%s uid=%u service=%s action=own-cell differ=\"%s\"",
					   c.id, req->user, (unsigned)l->id->uid,
					   req->service[0] ? req->service : "-", diff);
			own.scope = NSCELL_SCOPE_SESSION;
			helper_new_session_id(c.id, sizeof(c.id));
			rc = -ENOENT;
		} else if (rc == NSCELL_REGISTRY_GONE) {
			rc = -ENOENT;
		} else {
			snprintf(err, errlen, "%s", diff);
			goto out;
		}
	} else {
		helper_new_session_id(c.id, sizeof(c.id));
	}

	if (rc < 0) {
		int listenfd = -1, cgroup_fd = -1;

		/* Under the user's lock, so the count cannot race another of
		 * their logins; drained cells count until they end. */
		rc = nscell_cellctl_count_user_cells(l->id->uid, &n_cells);
		if (rc < 0) {
			snprintf(err, errlen, "cannot count the live cells of user %s: %s",
				 req->user, strerror(-rc));
			goto out;
		}
		if (n_cells >= own.max_cells) {
			snprintf(err, errlen,
				 "user %s has %u live cells, MaxCells is %u: no new cell (end a session, or nscell terminate one)",
				 req->user, n_cells, own.max_cells);
			rc = -EDQUOT;
			goto out;
		}
		/* Before the init is made: it is born under them. */
		rc = helper_limits_enforce(l, &own, false, c.id, &cgroup_fd, err, errlen);
		if (rc < 0)
			goto out;
		rc = cell_listen(&rt, c.id, l->id->uid, &listenfd);
		if (rc < 0) {
			if (cgroup_fd >= 0)
				close(cgroup_fd);
			snprintf(err, errlen, "cannot make the socket of cell %s: %s", c.id,
				 strerror(-rc));
			goto out;
		}
		made.settings = &own;
		rc = cell_create(&rt, c.id, &made, listenfd, cgroup_fd, &c.init_pid, err, errlen);
		close(listenfd);
		if (cgroup_fd >= 0)
			close(cgroup_fd);
		if (rc < 0) {
			drop_entry(&rt, c.id);
			goto out;
		}
		c.created = true;
		helper_log_after_answer(LOG_INFO,
			   "event=cell-created cell=%s user=%s uid=%u service=%s init_pid=%d scope=%s logout=%s cells=%u",
			   c.id, req->user, (unsigned)l->id->uid,
			   req->service[0] ? req->service : "-", (int)c.init_pid,
			   own.scope == NSCELL_SCOPE_USER ? "user" : "session",
			   own.logout == NSCELL_LOGOUT_DRAIN ? "drain" : "kill", n_cells + 1);
		rc = cell_join(c.id, l, &c.sock, &c.init_pidfd, &c.userns_fd, &c.logins_fd, &c.session_no,
			       &cell_ns);
		if (rc < 0) {
			/* Ours, made under this same lock: take its entry away now;
			 * the init ends when we exit (its parent-death signal). */
			drop_entry(&rt, c.id);
			snprintf(err, errlen, "cannot join new cell %s: %s", c.id, strerror(-rc));
			goto out;
		}
	}
	/* Checked above by every cell-level key; a cell that answers with other
	 * namespaces than it reported is not one to enter. */
	if (cell_ns != own.namespaces) {
		nscell_closep(&c.sock);
		nscell_closep(&c.init_pidfd);
		nscell_closep(&c.userns_fd);
		nscell_closep(&c.logins_fd);
		snprintf(err, errlen, "cell %s has other namespaces (0x%x) than it reported (0x%x)",
			 c.id, cell_ns, own.namespaces);
		rc = -EPROTO;
		goto out;
	}
	c.namespaces = cell_ns;
	runtime_unlock(&rt);

	*ret = c;
	rc = 0;
out:
	runtime_close(&rt);
	return rc;
}


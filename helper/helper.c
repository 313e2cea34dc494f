/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-helper — the only privileged code of nscell. Installed setuid root;
 * pam_nscell spawns it (by absolute path, empty environment, fds 0-2 on
 * /dev/null, one socket as fd 3) from open_session.
 *
 * Phases, in order. What the caller controls is marked [caller].
 *
 *  1. Sanitize, before looking at anything else: clearenv(); fds 0-2 open
 *     (else /dev/null); every fd above 3 closed; umask 077; SIGPIPE ignored;
 *     not dumpable, so the caller can neither ptrace us nor read our memory.
 *
 *  2. Authorise. [caller: argv, fd 3] argv must be exactly "open". fd 3 must
 *     be an AF_UNIX SOCK_SEQPACKET socket from socketpair() (no peer address)
 *     whose other end was made by our parent while it was root (SO_PEERCRED:
 *     uid 0, pid == getppid()). That is what pam_nscell inside sshd, su, login,
 *     runuser or sudo is; a user running this binary by hand is not, and is
 *     refused before any further step. Then real, effective and saved ids all
 *     become 0 (su runs us with the invoking user's real uid: it must not be
 *     able to signal the cell's init) and the capability sets shrink to what
 *     making a cell needs.
 *
 *  3. Read one request. [caller: user, service, tty, rhost, ruser, conf]
 *     nscell_request_decode() bounds and validates every field.
 *
 *  4. Decide. The user is resolved through NSS; the policy is read from
 *     root-owned files only (NSCELL_POLICY_CHECK_OWNER), the conf override
 *     included. Exempt: answer PAM_IGNORE and stop.
 *
 *  5. Pin the opener: pidfd_open(getppid()), then check that getppid() has not
 *     changed, so the pidfd is the process that called open_session and not
 *     whatever inherited us. The cell watches it: when it exits, the session
 *     is over even if close_session never comes.
 *
 *  6. Under RUNDIR/lock: join the user's cell (Scope user) or make a new one
 *     (cell.c), then JOIN it (runtime.c).
 *
 *  7. Answer with [init pidfd, session socket]; the exit status is the same
 *     PAM code as in the answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <security/_pam_types.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <grp.h>

#include "cleanup.h"
#include "helper.h"
#include "identity.h"
#include "policy.h"

#define REQUEST_FD 3

void helper_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

static _Noreturn void refuse(const char *why)
{
	/* Nobody but a person runs us with a terminal on stderr; tell them. */
	helper_log(LOG_WARNING, "event=refused uid=%u reason=\"%s\"", (unsigned)getuid(), why);
	fprintf(stderr, "nscell-helper: %s\n"
		"nscell-helper is started by pam_nscell(8) only; see nscell-helper(8).\n", why);
	exit(PAM_PERM_DENIED);
}

static void sanitize(void)
{
	struct stat st;

	clearenv();
	for (int fd = 0; fd <= 2; fd++) {
		if (fstat(fd, &st) < 0 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR);
			if (n < 0 || (n != fd && (dup2(n, fd) < 0 || close(n) < 0)))
				_exit(PAM_SYSTEM_ERR);
		}
	}
	syscall(SYS_close_range, REQUEST_FD + 1, ~0U, 0);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_DUMPABLE, 0);
	openlog("nscell-helper", LOG_PID, LOG_AUTHPRIV);
}

static void authorise(int argc, char **argv)
{
	struct sockaddr_un peer;
	socklen_t plen = sizeof(peer);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int type;
	socklen_t tlen = sizeof(type);

	if (argc != 2 || strcmp(argv[1], "open") != 0)
		refuse("unknown or missing verb");
	if (getsockopt(REQUEST_FD, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_SEQPACKET)
		refuse("fd 3 is not a request socket");
	/* socketpair() ends have no address; a socket connected to some root
	 * daemon's listener has one, and its SO_PEERCRED would say uid 0. */
	if (getpeername(REQUEST_FD, (struct sockaddr *)&peer, &plen) < 0 ||
	    peer.sun_family != AF_UNIX || plen != sizeof(sa_family_t))
		refuse("fd 3 is not a socketpair");
	if (getsockopt(REQUEST_FD, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    cred.uid != 0 || cred.pid != getppid())
		refuse("the caller is not a root PAM application");

	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		helper_log(LOG_ERR, "event=error error=\"cannot become root: %m\"");
		exit(PAM_SYSTEM_ERR);
	}
}

/* Keep only the capabilities that making a cell uses (those we have: a
 * container may already have taken some away). */
static int shrink_caps(void)
{
	static const cap_value_t wanted[] = {
		CAP_SYS_ADMIN, /* namespaces, mounts, hostname */
		CAP_NET_ADMIN, /* loopback up in a new net namespace */
		CAP_CHOWN,     /* persistent directories */
		CAP_FOWNER,    /* chmod of persistent directories */
		CAP_KILL,      /* stop a half-made cell */
		CAP_SETPCAP,   /* shrink the init's bounding set */
		CAP_SETUID,    /* write a user namespace's uid_map */
		CAP_SETGID,    /* ... and gid_map */
	};
	cap_value_t keep[NSCELL_ELEMENTSOF(wanted)];
	cap_t now = cap_get_proc(), caps = cap_init();
	unsigned n = 0;
	int rc = 0;

	if (!now || !caps) {
		rc = -errno;
		goto out;
	}
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(wanted); i++) {
		cap_flag_value_t v = CAP_CLEAR;
		if (cap_get_flag(now, wanted[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			keep[n++] = wanted[i];
	}
	if (cap_set_flag(caps, CAP_PERMITTED, (int)n, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, (int)n, keep, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		rc = -errno;
out:
	cap_free(now);
	cap_free(caps);
	return rc;
}

static struct nscell_reply reply = { .magic = NSCELL_PROTO_MAGIC };

static _Noreturn void answer(int status, const int *fds, size_t n_fds)
{
	reply.pam_status = status;
	if (nscell_send_fds(REQUEST_FD, &reply, sizeof(reply), fds, n_fds) < 0)
		helper_log(LOG_ERR, "event=error error=\"cannot answer the module: %m\"");
	exit(status);
}

static _Noreturn void fail(const struct nscell_request *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static _Noreturn void fail(const struct nscell_request *req, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reply.message, sizeof(reply.message), fmt, ap);
	va_end(ap);
	helper_log(LOG_ERR, "event=refused user=%s service=%s error=\"%s\"", req->user,
		   req->service[0] ? req->service : "-", reply.message);
	answer(status, NULL, 0);
}

static void read_request(struct nscell_request *req)
{
	static char buf[NSCELL_REQUEST_MAX + 1];
	struct timeval tv = { .tv_sec = 10 };
	ssize_t n;
	int rc;

	setsockopt(REQUEST_FD, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	do
		n = recv(REQUEST_FD, buf, sizeof(buf), MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n > NSCELL_REQUEST_MAX) {
		snprintf(reply.message, sizeof(reply.message), "unreadable request");
		helper_log(LOG_ERR, "event=refused error=\"unreadable request\"");
		answer(PAM_SYSTEM_ERR, NULL, 0);
	}
	rc = nscell_request_decode(buf, (size_t)n, req);
	if (rc < 0) {
		snprintf(reply.message, sizeof(reply.message), "malformed request");
		helper_log(LOG_ERR, "event=refused error=\"malformed request\"");
		answer(PAM_SYSTEM_ERR, NULL, 0);
	}
}

static void new_session_id(char *buf, size_t size)
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

static void load_policy(const struct nscell_request *req, const struct nscell_identity *id,
			struct nscell_policy **ret_policy, struct nscell_decision *ret)
{
	struct nscell_diag diag = { 0 };
	struct nscell_login login;
	const char *path = req->conf[0] ? req->conf : NSCELL_CONF_PATH;
	_cleanup_free_ char *dropin = NULL;
	int rc;

	if (asprintf(&dropin, "%s.d", path) < 0)
		fail(req, PAM_BUF_ERR, "out of memory");
	rc = nscell_policy_load(path, dropin, NSCELL_POLICY_CHECK_OWNER, ret_policy, &diag);
	if (rc < 0) {
		for (size_t i = 0; i < diag.n_lines && i < 5; i++)
			helper_log(LOG_ERR, "event=policy-error %s", diag.lines[i]);
		if (id->uid == 0) {
			/* Root is never locked out by a typo in the policy. */
			snprintf(reply.message, sizeof(reply.message),
				 "policy error: %s; root passes unisolated",
				 diag.n_lines ? diag.lines[0] : strerror(-rc));
			nscell_diag_free(&diag);
			answer(PAM_IGNORE, NULL, 0);
		}
		snprintf(reply.message, sizeof(reply.message), "policy error: %s%s",
			 diag.n_lines ? diag.lines[0] : strerror(-rc),
			 diag.n_lines > 1 ? " (and more)" : "");
		nscell_diag_free(&diag);
		helper_log(LOG_ERR, "event=refused user=%s service=%s error=\"%s\"", req->user,
			   req->service[0] ? req->service : "-", reply.message);
		answer(PAM_SESSION_ERR, NULL, 0);
	}
	nscell_identity_to_login(id, req->service[0] ? req->service : NULL,
				 req->rhost[0] ? req->rhost : NULL, req->tty[0] ? req->tty : NULL,
				 &login);
	rc = nscell_policy_decide(*ret_policy, &login, ret);
	if (rc < 0)
		fail(req, PAM_SYSTEM_ERR, "cannot decide: %s", strerror(-rc));
}

int main(int argc, char **argv)
{
	struct nscell_request req;
	struct nscell_identity *id = NULL;
	struct nscell_policy *policy = NULL;
	struct nscell_decision decision;
	struct runtime rt = { -1, -1, -1 };
	struct helper_login l = { 0 };
	char cell_id[NSCELL_CELL_ID_MAX];
	char err[256];
	int sock = -1, init_pidfd = -1, userns_fd = -1;
	unsigned session_no = 0, cell_ns = 0;
	pid_t init_pid = 0, ppid;
	bool created = false;
	int rc;

	sanitize();
	authorise(argc, argv);
	read_request(&req);

	rc = nscell_identity_resolve(req.user, &nscell_nss_libc, &id);
	if (rc < 0)
		fail(&req, rc == -ENOENT ? PAM_USER_UNKNOWN : PAM_SYSTEM_ERR,
		     "cannot resolve user %s: %s", req.user,
		     rc == -ENOENT ? "no such user" : strerror(-rc));
	load_policy(&req, id, &policy, &decision);
	if (!decision.settings.isolate) {
		snprintf(reply.message, sizeof(reply.message), "exempt");
		answer(PAM_IGNORE, NULL, 0);
	}
	if (shrink_caps() < 0)
		fail(&req, PAM_SYSTEM_ERR, "cannot limit capabilities: %s", strerror(errno));

	ppid = getppid();
	l.opener_pidfd = (int)syscall(SYS_pidfd_open, ppid, 0);
	if (l.opener_pidfd < 0 || getppid() != ppid)
		fail(&req, PAM_SESSION_ERR, "the calling process went away");
	l.opener_pid = ppid;
	l.req = &req;
	l.id = id;
	l.settings = &decision.settings;

	rc = runtime_open(&rt, err, sizeof(err));
	if (rc < 0)
		fail(&req, PAM_SESSION_ERR, "%s", err);
	rc = runtime_lock(&rt);
	if (rc < 0)
		fail(&req, PAM_SESSION_ERR, "cannot lock %s/lock: %s", NSCELL_RUNDIR, strerror(-rc));

	if (decision.settings.scope == NSCELL_SCOPE_USER) {
		snprintf(cell_id, sizeof(cell_id), "user-%u", (unsigned)id->uid);
		rc = cell_join(cell_id, &l, &sock, &init_pidfd, &userns_fd,
			       &session_no, &cell_ns);
		if (rc < 0 && rc != -ENOENT && rc != -ECONNREFUSED && rc != -ESTALE &&
		    rc != -ECONNRESET && rc != -EPIPE)
			fail(&req, PAM_SESSION_ERR, "cannot join cell %s: %s", cell_id, strerror(-rc));
		/* Joining a cell made under other settings would give this login
		 * less (or more) isolation than its policy says: refuse, loudly. */
		if (rc == 0 && cell_ns != decision.settings.namespaces)
			fail(&req, PAM_SESSION_ERR,
			     "cell %s was made with other Namespaces than this login's policy asks for (0x%x, wanted 0x%x); end the user's other sessions or run nscell terminate %s",
			     cell_id, cell_ns, decision.settings.namespaces, cell_id);
	} else {
		new_session_id(cell_id, sizeof(cell_id));
		rc = -ENOENT;
	}

	if (rc < 0) {
		int listenfd = -1;

		rc = cell_listen(&rt, cell_id, &listenfd);
		if (rc < 0)
			fail(&req, PAM_SESSION_ERR, "cannot make the socket of cell %s: %s", cell_id,
			     strerror(-rc));
		rc = cell_create(&rt, cell_id, &l, listenfd, &init_pid, err, sizeof(err));
		close(listenfd);
		if (rc < 0) {
			char name[NSCELL_CELL_ID_MAX + 8];
			snprintf(name, sizeof(name), "%s.sock", cell_id);
			unlinkat(rt.cellsfd, name, 0);
			fail(&req, PAM_SESSION_ERR, "%s", err);
		}
		created = true;
		helper_log(LOG_INFO,
			   "event=cell-created cell=%s user=%s uid=%u service=%s init_pid=%d scope=%s logout=%s",
			   cell_id, req.user, (unsigned)id->uid, req.service[0] ? req.service : "-",
			   (int)init_pid,
			   decision.settings.scope == NSCELL_SCOPE_USER ? "user" : "session",
			   decision.settings.logout == NSCELL_LOGOUT_DRAIN ? "drain" : "kill");
		rc = cell_join(cell_id, &l, &sock, &init_pidfd, &userns_fd,
			       &session_no, &cell_ns);
		if (rc < 0)
			fail(&req, PAM_SESSION_ERR, "cannot join new cell %s: %s", cell_id,
			     strerror(-rc));
	}
	runtime_unlock(&rt);

	helper_log(LOG_INFO,
		   "event=session-joined cell=%s session=%u user=%s uid=%u service=%s tty=%s rhost=%s opener_pid=%d",
		   cell_id, session_no, req.user, (unsigned)id->uid,
		   req.service[0] ? req.service : "-", req.tty[0] ? req.tty : "-",
		   req.rhost[0] ? req.rhost : "-", (int)l.opener_pid);

	reply.flags = created ? NSCELL_REPLY_CREATED : 0;
	reply.namespaces = decision.settings.namespaces;
	reply.settings = decision.settings;
	snprintf(reply.cell_id, sizeof(reply.cell_id), "%s", cell_id);
	snprintf(reply.message, sizeof(reply.message), "%s cell %s", created ? "new" : "joined",
		 cell_id);
	{
		int fds[3] = { init_pidfd, sock, userns_fd };
		answer(PAM_SUCCESS, fds, userns_fd >= 0 ? 3 : 2);
	}
}

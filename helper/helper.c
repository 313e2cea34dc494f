/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-helper — the only privileged code of nscell. Installed setuid root;
 * pam_nscell spawns it (by absolute path, empty environment, fds 0-2 on
 * /dev/null, one socket as fd 3) from open_session.
 *
 * Phases, in order. What the caller controls is marked [caller].
 *
 *  1. Sanitize, before looking at anything else: not dumpable, so the caller
 *     can neither ptrace us nor read our memory; clearenv(); fds 0-2 open
 *     (else /dev/null); every fd above 3 closed. [caller: every process
 *     attribute execve keeps] Then leave them (inherit.c): signals to the
 *     default and unblocked (an ignored SIGCHLD would reap our children behind
 *     our back), rlimits, nice and scheduling, affinity, I/O priority,
 *     oom_score_adj, interval timers, timer slack, personality, process flags,
 *     umask 077, cwd /; noted first, for the run verb's command only; then the
 *     caller's cgroup (cgroup.c). SIGPIPE ignored.
 *
 *  2. Authorise. [caller: argv, fd 3] argv must be exactly "open" ("run":
 *     see R1-R6 below). fd 3 must be an AF_UNIX SOCK_SEQPACKET socket from
 *     socketpair() (no peer address) whose other end was made by our parent
 *     while it was root (SO_PEERCRED: uid 0, pid == getppid(), both real:
 *     across a pid namespace both are 0; SO_PEERPIDFD: the same process as
 *     our parent). That is what
 *     pam_nscell inside sshd, su, login, runuser or sudo is; a user running
 *     this binary by hand is not, and is refused before any further step.
 *     Then real, effective and saved ids all become 0 (su runs us with the
 *     invoking user's real uid: it must not be able to signal the cell's
 *     init) and the capability sets shrink to what making a cell needs.
 *
 *  3. Read one request. [caller: user, service, tty, rhost, ruser, conf]
 *     nscell_request_decode() bounds and validates every field. Then leave
 *     the caller's cgroup if a user could write it (freeze, kill, starve
 *     us) for a root-owned one, or refuse (cgroup.c).
 *
 *  4. Decide. The user is resolved through NSS; the policy is read from
 *     root-owned files only (NSCELL_POLICY_CHECK_OWNER), the conf override
 *     included. Exempt: answer PAM_IGNORE and stop.
 *
 *  5. The opener: our parent, pinned by a pidfd in phase 2 (pidfd_open(
 *     getppid()), then getppid() checked unchanged), so it is the process
 *     that called open_session and not whatever inherited us; still alive. The cell watches it: when it exits, the session
 *     is over even if close_session never comes.
 *
 *  6. Under the user's lock (RUNDIR/locks/user-<uid>): join the user's cell
 *     (Scope user) if every cell-level setting it was made with is this
 *     login's, or make a new one (cell.c) if the user is below MaxCells, then
 *     JOIN it (runtime.c). A new cell's limits are set first, through systemd
 *     on the unit that holds us (limits.c); where they cannot be,
 *     LimitsUnavailable refuses the login or lets it in unlimited.
 *
 *  7. Answer with [init pidfd, session socket]; the exit status is the same
 *     PAM code as in the answer.
 *
 * The run verb (nscell run: an ordinary user's command in their own cell,
 * from cron or a systemd --user unit; run.c). The caller is the user:
 *
 *  R1. Sanitize, as 1, and close fd 3 too: there is no request socket. What
 *      the caller had is handed back to the command only, as far as the user
 *      may set it. The signals a
 *      terminal sends whatever our uid are ignored: ^Z must not stop us while
 *      we hold the user's lock, ^C not end us between making and joining a cell.
 *
 *  R2. Authorise. [caller: argv, real uid, namespaces] argv must be
 *      "run [--term T] [--lang L] -- CMD [ARG...]"; T and L are kept only if
 *      printable and short; CMD is never looked at while privileged: it goes
 *      to execvp() after the drop. The effective uid must be 0 (no_new_privs
 *      or a user namespace void the setuid bit). The caller must not be in a
 *      cell (RUNDIR there is an empty read-only tmpfs: refused, since the
 *      registry is out of reach by design) and must share PID 1's mount
 *      namespace (a namespace sandbox is not a way out to the user's cell).
 *      Who: the real uid, and nothing else, resolved through NSS. Then all ids
 *      become 0, as in 2: the user can signal neither us nor the cell's init;
 *      and out of the caller's cgroup, as in 3 (a systemd --user unit's is
 *      the user's to freeze or kill). The command goes back into it.
 *
 *  R3. Decide, as 4, for that user with service "nscell-run", no tty, no
 *      host. Not isolated, or not Scope user: refused, with the reason.
 *
 *  R4. Pin the opener: ourselves, pidfd_open(getpid()). The session lasts
 *      exactly as long as we wait for the command. Capabilities: those of 4,
 *      plus CAP_SYS_PTRACE (setns() by pidfd checks ptrace access to the
 *      init, which is not dumpable) and CAP_SYS_CHROOT (joining a mount
 *      namespace needs it).
 *
 *  R5. Find or make user-<uid> and JOIN it: the code of 6, under the lock.
 *
 *  R6. setns(CLONE_NEWPID) for our children only, then fork. The child
 *      joins the cell's other namespaces (by the init's pidfd, the set the
 *      JOIN answer names), then its user namespace, applies the
 *      session restrictions, setgid -> setuid to the user (the groups are set
 *      before the user namespace, which denies setgroups), takes
 *      a clean environment, chdir(HOME), and execvp(CMD). We wait, LEAVE, and
 *      exit with its status (125: refused or failed before CMD ran).
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
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>
#include <grp.h>

#include "cellctl.h"
#include "cleanup.h"
#include "helper.h"
#include "settings-keys.h"
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

/* Before anything privileged, and before we know who is asking: a message
 * to the person (there is nobody else to tell), syslog, and the verb's
 * failure status. */
static _Noreturn void sanitize_fail(bool run, const char *err)
{
	openlog("nscell-helper", LOG_PID, LOG_AUTHPRIV);
	helper_log(LOG_ERR, "event=refused uid=%u reason=\"%s\"", (unsigned)getuid(), err);
	fprintf(stderr, "nscell-helper: %s; refusing\n", err);
	_exit(run ? HELPER_RUN_EXIT_FAILURE : PAM_SYSTEM_ERR);
}

static void sanitize(bool run)
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
	syscall(SYS_close_range, REQUEST_FD + 1, ~0U, 0);
	/* Signals, rlimits, scheduling, oom_score_adj, timers...: noted for the
	 * run verb's command, never used by us (inherit.c). Without euid 0 (the
	 * setuid bit voided by no_new_privs or a user namespace) some of it
	 * cannot be reset, and nothing privileged can follow: phases 2 and R2
	 * refuse such a caller with their own message. */
	if (helper_leave_caller_state(err, sizeof(err)) < 0 && geteuid() == 0)
		sanitize_fail(run, err);
	signal(SIGPIPE, SIG_IGN);
	openlog("nscell-helper", LOG_PID, LOG_AUTHPRIV);
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#define PID_FS_MAGIC 0x50494446

/*
 * Whether the other end of fd 3 was made by our parent; if so, returns a
 * pidfd of the parent (the opener of phase 5: pinned here, where it was
 * proven, so a reparenting later can never hand us another process), else
 * -1. SO_PEERCRED's pid is 0 when the creator is outside our pid namespace,
 * and so is getppid() when the parent is: inside a cell the two can be
 * 0 == 0. Only a real pid counts. That pid is the creator's at socketpair()
 * time and may have been recycled since; SO_PEERPIDFD names the creator
 * itself: before Linux 6.16 it fails once the creator is gone, and with
 * pidfs (6.9) the peer's pidfd and our parent's have one inode exactly when
 * they are one process.
 */
static int pin_parent_if_peer(const struct ucred *cred, pid_t *ret_ppid)
{
	_cleanup_close_ int peer = -1, parent = -1;
	socklen_t len = sizeof(peer);
	pid_t ppid = getppid();
	struct statfs fs;
	struct stat a, b;

	if (cred->pid <= 0 || ppid <= 0 || cred->pid != ppid)
		return -1;
	parent = (int)syscall(SYS_pidfd_open, ppid, 0);
	if (parent < 0 || getppid() != ppid)
		return -1;
	if (getsockopt(REQUEST_FD, SOL_SOCKET, SO_PEERPIDFD, &peer, &len) < 0) {
		if (errno != ENOPROTOOPT)
			return -1;
		/* An older kernel: the pid is all there is. */
	} else if (fstatfs(peer, &fs) == 0 && fs.f_type == PID_FS_MAGIC) {
		if (fstat(peer, &a) < 0 || fstat(parent, &b) < 0 || a.st_dev != b.st_dev ||
		    a.st_ino != b.st_ino)
			return -1;
	}
	/* (Anonymous-inode pidfds, 6.5-6.8: the creator is alive and has our
	 * parent's pid, so it is our parent.) */
	*ret_ppid = ppid;
	return TAKE_FD(parent);
}

/* Returns a pidfd of our parent, the proven caller. */
static int authorise(int argc, char **argv, pid_t *ret_ppid)
{
	struct sockaddr_un peer;
	socklen_t plen = sizeof(peer);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int type, parent = -1;
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
	    cred.uid != 0 || (parent = pin_parent_if_peer(&cred, ret_ppid)) < 0)
		refuse("the caller is not a root PAM application");

	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		helper_log(LOG_ERR, "event=error error=\"cannot become root: %m\"");
		exit(PAM_SYSTEM_ERR);
	}
	return parent;
}

/* Keep only the capabilities that making a cell uses (those we have: a
 * container may already have taken some away). The run verb also enters the
 * cell itself: setns() by the init's pidfd checks ptrace access to the init,
 * which is not dumpable, and joining a mount namespace needs CAP_SYS_CHROOT. */
#define RUN_ONLY_CAPS 2
int helper_shrink_caps(bool run)
{
	static const cap_value_t wanted[] = {
		CAP_SYS_PTRACE, /* run: setns() by pidfd into the cell's namespaces */
		CAP_SYS_CHROOT, /* run: ... and into its mount namespace */
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
	for (size_t i = run ? 0 : RUN_ONLY_CAPS; i < NSCELL_ELEMENTSOF(wanted); i++) {
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

/* Where a refusal goes: to the module over fd 3 (open), or to the person on
 * stderr (run, whose caller is the user). */
static bool answer_to_stderr;

void helper_answer_to_stderr(void)
{
	answer_to_stderr = true;
}

static _Noreturn void answer(int status, const int *fds, size_t n_fds)
{
	if (answer_to_stderr) {
		/* Only refusals and failures come here in run. */
		fprintf(stderr, "nscell run: %s\n", reply.message);
		exit(HELPER_RUN_EXIT_FAILURE);
	}
	reply.pam_status = status;
	if (nscell_send_fds(REQUEST_FD, &reply, sizeof(reply), fds, n_fds) < 0)
		helper_log(LOG_ERR, "event=error error=\"cannot answer the module: %m\"");
	exit(status);
}

_Noreturn void helper_fail(const struct nscell_request *req, int status, const char *fmt, ...)
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

void helper_load_policy(const struct nscell_request *req, struct nscell_identity *id,
			struct nscell_policy **ret_policy, struct nscell_decision *ret)
{
	struct nscell_diag diag = { 0 };
	struct nscell_login login;
	const char *path = req->conf[0] ? req->conf : NSCELL_CONF_PATH;
	_cleanup_free_ char *dropin = NULL;
	int rc;

	if (asprintf(&dropin, "%s.d", path) < 0)
		helper_fail(req, PAM_BUF_ERR, "out of memory");
	rc = nscell_policy_load(path, dropin, NSCELL_POLICY_CHECK_OWNER, ret_policy, &diag);
	if (rc < 0) {
		for (size_t i = 0; i < diag.n_lines && i < 5; i++)
			helper_log(LOG_ERR, "event=policy-error %s", diag.lines[i]);
		if (id->uid == 0 && !answer_to_stderr) {
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
	/* Groups only when a Match block asks, or the user namespace maps them:
	 * a fresh process pays for loading the NSS group modules. */
	if (nscell_policy_matches_groups(*ret_policy)) {
		rc = nscell_identity_add_groups(id, &nscell_nss_libc);
		if (rc < 0)
			helper_fail(req, PAM_SYSTEM_ERR, "cannot resolve the groups of %s: %s",
				    req->user, strerror(-rc));
	}
	nscell_identity_to_login(id, req->service[0] ? req->service : NULL,
				 req->rhost[0] ? req->rhost : NULL, req->tty[0] ? req->tty : NULL,
				 &login);
	rc = nscell_policy_decide(*ret_policy, &login, ret);
	if (rc < 0)
		helper_fail(req, PAM_SYSTEM_ERR, "cannot decide: %s", strerror(-rc));
	if (ret->settings.isolate && (ret->settings.namespaces & NSCELL_NS_USER)) {
		rc = nscell_identity_add_groups(id, &nscell_nss_libc);
		if (rc < 0)
			helper_fail(req, PAM_SYSTEM_ERR, "cannot resolve the groups of %s: %s",
				    req->user, strerror(-rc));
	}
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

static bool cell_gone(int rc)
{
	return rc == -ENOENT || rc == -ECONNREFUSED || rc == -ESTALE || rc == -ECONNRESET ||
	       rc == -EPIPE;
}

/*
 * Whether a login may join the live cell `id` (Scope user). Returns 1 to join,
 * 0 when the cell is gone (make it), 2 when it lives but was made under other
 * cell-level settings (or cannot say which: an older init): the login gets a
 * cell of its own, logged; or -errno with a sentence in err.
 */
static int may_join(const struct helper_login *l, const char *id, char *err, size_t errlen)
{
	struct nscell_settings cell;
	char diff[400];
	int rc;

	rc = nscell_cellctl_settings(id, &cell);
	if (rc == -ENODATA || rc == -ECONNRESET || rc == -EPROTO) {
		snprintf(diff, sizeof(diff), "the cell does not report its settings (%s)",
			 strerror(-rc));
	} else if (cell_gone(rc)) {
		return 0;
	} else if (rc < 0) {
		snprintf(err, errlen, "cannot ask cell %s for its settings: %s", id, strerror(-rc));
		return rc;
	} else {
		rc = nscell_settings_cell_diff(&cell, l->settings, diff, sizeof(diff));
		if (rc < 0) {
			snprintf(err, errlen, "cannot compare the settings of cell %s: %s", id,
				 strerror(-rc));
			return rc;
		}
		if (rc == 0)
			return 1;
	}
	helper_log(LOG_WARNING,
		   "event=cell-settings-differ cell=%s user=%s uid=%u service=%s action=own-cell differ=\"%s\"",
		   id, l->req->user, (unsigned)l->id->uid,
		   l->req->service[0] ? l->req->service : "-", diff);
	return 2;
}

int helper_cell_open(const struct helper_login *l, struct helper_cell *ret, char *err,
		     size_t errlen)
{
	const struct nscell_request *req = l->req;
	struct nscell_settings own = *l->settings;
	struct helper_login made = *l;
	struct runtime rt = { -1, -1, -1, -1 };
	struct helper_cell c = { .sock = -1, .init_pidfd = -1, .userns_fd = -1 };
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
		snprintf(c.id, sizeof(c.id), "user-%u", (unsigned)l->id->uid);
		rc = may_join(l, c.id, err, errlen);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			rc = helper_limits_enforce(l, &own, true, err, errlen);
			if (rc < 0)
				goto out;
			rc = cell_join(c.id, l, &c.sock, &c.init_pidfd, &c.userns_fd,
				       &c.session_no, &cell_ns);
			if (rc < 0 && !cell_gone(rc)) {
				snprintf(err, errlen, "cannot join cell %s: %s", c.id,
					 strerror(-rc));
				goto out;
			}
		} else if (rc == 2) {
			/* A cell of its own, with this login's settings, lasting as
			 * long as this session: the user's cell keeps its own. */
			own.scope = NSCELL_SCOPE_SESSION;
			new_session_id(c.id, sizeof(c.id));
			rc = -ENOENT;
		} else {
			rc = -ENOENT;
		}
	} else {
		new_session_id(c.id, sizeof(c.id));
	}

	if (rc < 0) {
		int listenfd = -1;

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
		rc = helper_limits_enforce(l, &own, false, err, errlen);
		if (rc < 0)
			goto out;
		rc = cell_listen(&rt, c.id, l->id->uid, &listenfd);
		if (rc < 0) {
			snprintf(err, errlen, "cannot make the socket of cell %s: %s", c.id,
				 strerror(-rc));
			goto out;
		}
		made.settings = &own;
		rc = cell_create(&rt, c.id, &made, listenfd, &c.init_pid, err, errlen);
		close(listenfd);
		if (rc < 0) {
			drop_entry(&rt, c.id);
			goto out;
		}
		c.created = true;
		helper_log(LOG_INFO,
			   "event=cell-created cell=%s user=%s uid=%u service=%s init_pid=%d scope=%s logout=%s cells=%u",
			   c.id, req->user, (unsigned)l->id->uid,
			   req->service[0] ? req->service : "-", (int)c.init_pid,
			   own.scope == NSCELL_SCOPE_USER ? "user" : "session",
			   own.logout == NSCELL_LOGOUT_DRAIN ? "drain" : "kill", n_cells + 1);
		rc = cell_join(c.id, l, &c.sock, &c.init_pidfd, &c.userns_fd, &c.session_no,
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

int main(int argc, char **argv)
{
	struct nscell_request req;
	struct nscell_identity *id = NULL;
	struct nscell_policy *policy = NULL;
	struct nscell_decision decision;
	struct helper_login l = { 0 };
	struct helper_cell cell;
	char err[256];
	int rc;

	sanitize(argc >= 2 && strcmp(argv[1], "run") == 0);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		helper_run(argc, argv); /* run.c; does not return */
	l.opener_pidfd = authorise(argc, argv, &l.opener_pid);
	setsid(); /* out of the caller's session: its terminal cannot reach us */
	/* We run in the PAM application's process group: a ^Z or ^C on su's
	 * terminal must not stop us while we hold the user's lock, nor leave a
	 * cell half made. SIGKILL still ends us. */
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sig == SIGINT || sig == SIGQUIT || sig == SIGHUP || sig == SIGTSTP ||
		    sig == SIGTTIN || sig == SIGTTOU || sig == SIGTERM)
			signal(sig, SIG_IGN);
	read_request(&req);
	/* Out of a cgroup the caller can freeze, kill or starve, before any
	 * privileged step, and only now that we are root in every id: on cgroup
	 * v1 a process may move any other whose real uid is its own. */
	if (helper_leave_caller_cgroup(err, sizeof(err)) < 0)
		helper_fail(&req, PAM_SESSION_ERR, "%s; login refused", err);

	rc = nscell_identity_resolve_user(req.user, &nscell_nss_libc, &id);
	if (rc < 0)
		helper_fail(&req, rc == -ENOENT ? PAM_USER_UNKNOWN : PAM_SYSTEM_ERR,
			    "cannot resolve user %s: %s", req.user,
			    rc == -ENOENT ? "no such user" : strerror(-rc));
	helper_load_policy(&req, id, &policy, &decision);
	if (!decision.settings.isolate) {
		snprintf(reply.message, sizeof(reply.message), "exempt");
		answer(PAM_IGNORE, NULL, 0);
	}
	if (helper_shrink_caps(false) < 0)
		helper_fail(&req, PAM_SYSTEM_ERR, "cannot limit capabilities: %s", strerror(errno));

	/* Pinned in phase 2, where it was proven to be our caller. */
	if (syscall(SYS_pidfd_send_signal, l.opener_pidfd, 0, NULL, 0) < 0)
		helper_fail(&req, PAM_SESSION_ERR, "the calling process went away");
	l.req = &req;
	l.id = id;
	l.settings = &decision.settings;

	rc = helper_cell_open(&l, &cell, err, sizeof(err));
	if (rc < 0)
		helper_fail(&req, PAM_SESSION_ERR, "%s", err);

	reply.flags = cell.created ? NSCELL_REPLY_CREATED : 0;
	reply.namespaces = decision.settings.namespaces;
	reply.settings = decision.settings;
	snprintf(reply.cell_id, sizeof(reply.cell_id), "%s", cell.id);
	snprintf(reply.message, sizeof(reply.message), "%s cell %s",
		 cell.created ? "new" : "joined", cell.id);
	{
		int fds[3] = { cell.init_pidfd, cell.sock, cell.userns_fd };
		answer(PAM_SUCCESS, fds, cell.userns_fd >= 0 ? 3 : 2);
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-open — makes and joins cells for pam_nscell. Installed root-owned
 * 0755 WITHOUT the setuid bit (as Linux-PAM's mkhomedir_helper): every
 * caller of open_session is already root (sshd's monitor, su, login,
 * runuser, sudo), so the bit would give privilege only to callers who must
 * not have it. 0755 rather than 0700 so that a person who runs it is told
 * why nothing happens instead of getting EACCES; it gains them nothing.
 * pam_nscell spawns it (by absolute path, empty environment, fds 0-2 on
 * /dev/null, one socket as fd 3) when a login is isolated and no live cell
 * could be joined in-process. The shared code is in helper.c; the run verb
 * is nscell-run-helper (run.c).
 *
 * Two builds of this file. nscell-open is static, with musl (an exec costs
 * ~0.13 ms instead of ~0.8 ms for a dynamic glibc program): it has no NSS
 * (musl's reads /etc/passwd only, wrong for LDAP/SSSD users) and cannot
 * load libsystemd. nscell-open-full is the same program built with glibc,
 * dynamic, with sd-bus; 0755, root's, no setuid bit either. The static one
 * hands a login over to it (phase 3a) when the login needs what it lacks:
 * a request without the module's decision or without the groups its user
 * namespace maps (a module of an older release, during an upgrade), limits
 * on a systemd host (SetUnitProperties), a caller's cgroup a user can write
 * on a systemd host (a transient scope). The handover is an execve() of the
 * fixed path NSCELL_OPEN_FULL_PATH with argv "open" and no environment,
 * before any state exists: nothing locked, no cgroup left, no capability
 * dropped, the request still unread in the socket (phase 3 peeks). The pid
 * and the parent stay the same, so nscell-open-full proves its caller again
 * from phase 1 on exactly as if pam_nscell had started it; it trusts
 * nothing of the static build but that exec. Where musl is not there, the
 * glibc build is nscell-open itself and there is no handover.
 *
 * Phases, in order. What the caller controls is marked [caller].
 *
 *  1. Sanitize (helper.c), before looking at anything else: not dumpable,
 *     so the caller can neither ptrace us nor read our memory; clearenv();
 *     fds 0-2 open (else /dev/null); every fd above 3 closed. [caller: every
 *     process attribute execve keeps] Then leave them (inherit.c): signals to
 *     the default and unblocked (an ignored SIGCHLD would reap our children
 *     behind our back), rlimits, nice and scheduling, affinity, I/O priority,
 *     oom_score_adj, interval timers, timer slack, personality, process
 *     flags, umask 077, cwd /. SIGPIPE ignored.
 *
 *  2. Authorise. [caller: argv, fd 3] The effective uid must be 0: we have
 *     no setuid bit, so a person who runs us gets their own ids and is
 *     refused here with a sentence, having done nothing (the real uid may be
 *     a user's: su calls PAM as euid 0 with the invoking user's real uid).
 *     argv must be exactly "open". fd 3 must be an AF_UNIX SOCK_SEQPACKET
 *     socket from socketpair() (no peer address) whose other end was made by
 *     our parent while it was root (SO_PEERCRED: uid 0, pid == getppid(),
 *     both real: across a pid namespace both are 0; SO_PEERPIDFD: the same
 *     process as our parent). That is what pam_nscell inside sshd, su,
 *     login, runuser or sudo is; a root process that merely passes on some
 *     other fd 3 is not, and is refused before any further step. Then real,
 *     effective and saved ids all become 0 (su's caller must not be able to
 *     signal the cell's init) and the capability sets shrink to what making
 *     a cell needs.
 *
 *  3. Read one request (MSG_PEEK: it is taken off the socket after 3a).
 *     [caller: user, service, tty, rhost, ruser, conf, the decision]
 *     nscell_request_decode() bounds and validates every field.
 * 3a. (static build) Hand over to nscell-open-full if the login needs NSS
 *     or systemd (see above). Then leave the caller's cgroup if a user
 *     could write it (freeze, kill, starve us) for a root-owned one, or
 *     refuse (cgroup.c); on a systemd host that is a handover too.
 *
 *  4. Decide. [caller: the decision] A request that carries the module's
 *     decision (uid, gid, home, shell, settings: what the module resolved
 *     and decided with the same code, in the same files) is taken as it is,
 *     bounds checked by the decoder: our caller is root, and a root process
 *     can make any cell for anyone through the policy it writes, so
 *     deciding again would add time and no protection; so are the groups a
 *     user namespace maps (full build: looked up if the module sent none).
 *     A request without one
 *     (a module that could not send it): the user is resolved through NSS;
 *     the policy is read from root-owned files only
 *     (NSCELL_POLICY_CHECK_OWNER), the conf override included. Exempt:
 *     answer PAM_IGNORE and stop.
 *
 *  5. The opener: our parent, pinned by a pidfd in phase 2 (pidfd_open(
 *     getppid()), then getppid() checked unchanged), so it is the process
 *     that called open_session and not whatever inherited us; still alive.
 *     The cell watches it: when it exits, the session is over even if
 *     close_session never comes.
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
 */
#include <errno.h>
#include <security/_pam_types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"
#include "identity.h"
#include "limits.h"
#include "policy.h"

#define REQUEST_FD HELPER_REQUEST_FD

static _Noreturn void refuse(const char *why)
{
	/* Nobody but a person runs us with a terminal on stderr; tell them. */
	helper_log(LOG_WARNING, "event=refused uid=%u reason=\"%s\"", (unsigned)getuid(), why);
	fprintf(stderr, "nscell-open: %s\n"
		"nscell-open is started by pam_nscell(8) only, as root; see nscell-open(8).\n", why);
	exit(PAM_PERM_DENIED);
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

	/* No setuid bit: run by a person, we are that person. Nothing below
	 * could succeed; say so before looking at anything they passed. */
	if (geteuid() != 0)
		refuse("not started by root (nscell-open has no setuid bit; nscell run is nscell-run-helper)");
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

	/* The kernel's calls: we have one thread, and musl's wrappers would
	 * block every signal around each to reach threads we do not have. */
	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, 0, 0, 0) < 0 ||
	    syscall(SYS_setresuid, 0, 0, 0) < 0) {
		helper_log(LOG_ERR, "event=error error=\"cannot become root: %m\"");
		exit(PAM_SYSTEM_ERR);
	}
	return parent;
}

static void read_request(struct nscell_request *req)
{
	static char buf[NSCELL_REQUEST_MAX + 1];
	struct timeval tv = { .tv_sec = 10 };
	ssize_t n;
	int rc;

	setsockopt(REQUEST_FD, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	do
		n = recv(REQUEST_FD, buf, sizeof(buf), MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n > NSCELL_REQUEST_MAX) {
		snprintf(helper_reply.message, sizeof(helper_reply.message), "unreadable request");
		helper_log(LOG_ERR, "event=refused error=\"unreadable request\"");
		helper_answer(PAM_SYSTEM_ERR, NULL, 0);
	}
	rc = nscell_request_decode(buf, (size_t)n, req);
	if (rc == -EPROTONOSUPPORT) {
		/* A module of another release: one loaded before an upgrade, in a
		 * program that has run since. Its own format cannot be answered. */
		snprintf(helper_reply.message, sizeof(helper_reply.message),
			 "request of another protocol version (pam_nscell.so loaded before an upgrade: restart the program)");
		helper_log(LOG_ERR, "event=refused error=\"%s\"", helper_reply.message);
		helper_answer(PAM_SYSTEM_ERR, NULL, 0);
	}
	if (rc < 0) {
		snprintf(helper_reply.message, sizeof(helper_reply.message), "malformed request");
		helper_log(LOG_ERR, "event=refused error=\"malformed request\"");
		helper_answer(PAM_SYSTEM_ERR, NULL, 0);
	}
}

/* Take the peeked request off the socket (a datagram goes as a whole). */
static void consume_request(void)
{
	char c;
	ssize_t n;

	do
		n = recv(REQUEST_FD, &c, 1, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
}

#if NSCELL_OPEN_STATIC
static const struct nscell_request *handover_req;

/* Phase 3a: the same login, by the glibc build. Only before any state. */
static _Noreturn void handover(const char *why)
{
	char *argv[] = { (char *)"nscell-open", (char *)"open", NULL }, *envp[] = { NULL };

	if (handover_req->debug)
		helper_log(LOG_DEBUG, "event=handover user=%s to=%s reason=\"%s\"",
			   handover_req->user, NSCELL_OPEN_FULL_PATH, why);
	closelog();
	execve(NSCELL_OPEN_FULL_PATH, argv, envp);
	helper_fail(handover_req, PAM_SYSTEM_ERR, "cannot start %s, needed because %s: %s",
		    NSCELL_OPEN_FULL_PATH, why, strerror(errno));
}

static void handover_if_needed(const struct nscell_request *req)
{
	handover_req = req;
	if (!req->decided)
		handover("the request carries no decision (a module of an older release)");
	if ((req->settings.namespaces & NSCELL_NS_USER) && req->n_gids == 0)
		handover("the request carries no groups for the user namespace");
	for (size_t i = 0; i < _NSCELL_VIEW_LIST_MAX; i++)
		if (strstr(req->settings.view_paths[i], "%g"))
			handover("a view path names the primary group (%g)");
	if (nscell_limits_any(&req->settings.limits) && helper_systemd_host())
		handover("the limits are set through systemd");
	/* A caller's cgroup a user can write: cgroup.c asks us, before it
	 * changes anything, when only systemd can make a scope. */
	helper_systemd_handover = handover;
}
#else
/* Phase 4 for a request that has no decision or no groups: NSS, the policy. */
static void decide_here(struct nscell_request *req, struct nscell_identity **id,
			struct nscell_policy **policy, struct nscell_decision *decision)
{
	int rc;

	if (req->decided) {
		rc = nscell_identity_add_groups(*id, &nscell_nss_libc);
		if (rc < 0)
			helper_fail(req, PAM_SYSTEM_ERR, "cannot resolve the groups of %s: %s",
				    req->user, strerror(-rc));
		return;
	}
	rc = nscell_identity_resolve_user(req->user, &nscell_nss_libc, id);
	if (rc < 0)
		helper_fail(req, rc == -ENOENT ? PAM_USER_UNKNOWN : PAM_SYSTEM_ERR,
			    "cannot resolve user %s: %s", req->user,
			    rc == -ENOENT ? "no such user" : strerror(-rc));
	helper_load_policy(req, *id, policy, decision);
}
#endif

int main(int argc, char **argv)
{
	struct nscell_request req;
	struct nscell_identity *id = NULL;
#if !NSCELL_OPEN_STATIC
	struct nscell_policy *policy = NULL;
#endif
	struct nscell_decision decision = { 0 };
	struct helper_login l = { 0 };
	struct helper_cell cell;
	char err[256];
	int rc;

	helper_sanitize("nscell-open", false);
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
#if NSCELL_OPEN_STATIC
	handover_if_needed(&req);
#endif
	/* Out of a cgroup the caller can freeze, kill or starve, before any
	 * privileged step, and only now that we are root in every id: on cgroup
	 * v1 a process may move any other whose real uid is its own. */
	if (helper_leave_caller_cgroup(err, sizeof(err)) < 0)
		helper_fail(&req, PAM_SESSION_ERR, "%s; login refused", err);
	consume_request();

	if (req.decided) {
		/* Phase 4 done by our root caller, validated by the decoder. */
		if (nscell_identity_from_passwd(req.user, req.uid, req.gid, req.home, req.shell,
						&id) < 0 ||
		    (req.n_gids > 0 && nscell_identity_set_gids(id, req.gids, req.n_gids) < 0))
			helper_fail(&req, PAM_BUF_ERR, "out of memory");
		decision.settings = req.settings;
	}
#if !NSCELL_OPEN_STATIC
	if (!req.decided || ((decision.settings.namespaces & NSCELL_NS_USER) && req.n_gids == 0))
		decide_here(&req, &id, &policy, &decision);
#endif
	if (!decision.settings.isolate) {
		snprintf(helper_reply.message, sizeof(helper_reply.message), "exempt");
		helper_answer(PAM_IGNORE, NULL, 0);
	}
	/* Without systemd: the root of nscell's cgroups, while we still can. */
	helper_cellcg_prepare(&decision.settings.limits);
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

	helper_reply.flags = cell.created ? NSCELL_REPLY_CREATED : 0;
	helper_reply.namespaces = decision.settings.namespaces;
	helper_reply.settings = decision.settings;
	snprintf(helper_reply.cell_id, sizeof(helper_reply.cell_id), "%s", cell.id);
	snprintf(helper_reply.message, sizeof(helper_reply.message), "%s cell %s",
		 cell.created ? "new" : "joined", cell.id);
	{
		/* The namespaces last, in either order: the module tells them apart. */
		int fds[4] = { cell.init_pidfd, cell.sock, -1, -1 };
		size_t n = 2;
		if (cell.userns_fd >= 0)
			fds[n++] = cell.userns_fd;
		if (cell.logins_fd >= 0)
			fds[n++] = cell.logins_fd;
		helper_answer(PAM_SUCCESS, fds, n);
	}
}

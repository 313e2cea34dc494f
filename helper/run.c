/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-run-helper — the run verb, and the only setuid-root program of
 * nscell: `nscell run -- CMD` by an ordinary user runs CMD inside the user's
 * own cell, user-<uid>, with the restrictions of a login; for cron jobs and
 * systemd --user units, which start outside any cell. nscell(1)'s run execs
 * it; the shared code is in helper.c.
 *
 * The caller is the user, so nothing it hands us selects anything: the cell
 * follows from the real uid alone, the settings from the policy for that
 * user and the fixed service name "nscell-run". The command's argv is not
 * looked at while we are privileged; it is given to execvp() after the drop.
 *
 * Phases, in order. What the caller controls is marked [caller].
 *
 *  R1. Sanitize (helper.c): not dumpable, clearenv(), fds 0-2 open, every
 *      other fd closed, fd 3 too (there is no request socket). The caller's
 *      signals, rlimits, scheduling, timers, umask, cwd... are noted, then
 *      left (inherit.c); the command alone gets them back, as far as the
 *      user may set them. The signals a terminal sends whatever our uid are
 *      ignored: ^Z must not stop us while we hold the user's lock, ^C not
 *      end us between making and joining a cell.
 *
 *  R2. Authorise. [caller: argv, real uid, namespaces] argv[1] must be
 *      "run" (any other verb is refused: open is nscell-open's, which has
 *      no setuid bit), then "[--term T] [--lang L] -- CMD [ARG...]"; T and
 *      L are kept only if printable and short; CMD is never looked at while
 *      privileged: it goes to execvp() after the drop. The effective uid
 *      must be 0 (no_new_privs or a user namespace void the setuid bit).
 *      The caller must not be in a cell (RUNDIR there is an empty read-only
 *      tmpfs: refused, since the registry is out of reach by design) and
 *      must share PID 1's mount namespace (a namespace sandbox is not a way
 *      out to the user's cell). Who: the real uid, and nothing else,
 *      resolved through NSS. Then all ids become 0: the user can signal
 *      neither us nor the cell's init; and out of the caller's cgroup
 *      (cgroup.c; a systemd --user unit's is the user's to freeze or kill).
 *      The command goes back into it.
 *
 *  R3. Decide (helper_load_policy: root-owned policy files only) for that
 *      user with service "nscell-run", no tty, no host. Not isolated, or
 *      not Scope user: refused, with the reason.
 *
 *  R4. Pin the opener: ourselves, pidfd_open(getpid()). The session lasts
 *      exactly as long as we wait for the command. Capabilities: those
 *      making a cell needs, plus CAP_SYS_PTRACE (setns() by pidfd checks
 *      ptrace access to the init, which is not dumpable) and CAP_SYS_CHROOT
 *      (joining a mount namespace needs it).
 *
 *  R5. Find or make user-<uid> and JOIN it, under the user's lock
 *      (helper_cell_open, the code nscell-open uses).
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
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <security/_pam_types.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cellctl.h"
#include "cellcg.h"
#include "cellenter.h"
#include "cleanup.h"
#include "helper.h"
#include "policy.h"

#define RUN_SERVICE "nscell-run"

#ifndef P_PIDFD
#define P_PIDFD 3 /* waitid() on a pidfd, Linux 5.4 */
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct run_args {
	const char *term, *lang; /* NULL unless acceptable */
	char **cmd;              /* argv of the command; never read while privileged */
};

/* Before the user is known: one syslog line, one sentence for the person. */
static _Noreturn void run_refuse(uid_t uid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void run_refuse(uid_t uid, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	helper_log(LOG_WARNING, "event=refused verb=run uid=%u reason=\"%s\"", (unsigned)uid, why);
	fprintf(stderr, "nscell run: %s\n", why);
	exit(HELPER_RUN_EXIT_FAILURE);
}

/* "run [--term T] [--lang L] -- CMD [ARG...]". Nothing after "--" is read. */
static void parse_args(int argc, char **argv, struct run_args *a)
{
	bool term_seen = false, lang_seen = false;
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--term") == 0 && !term_seen && i + 1 < argc) {
			term_seen = true;
			a->term = nscell_env_value_ok(argv[++i]) ? argv[i] : NULL;
		} else if (strcmp(argv[i], "--lang") == 0 && !lang_seen && i + 1 < argc) {
			lang_seen = true;
			a->lang = nscell_env_value_ok(argv[++i]) ? argv[i] : NULL;
		} else {
			/* Not echoed: it is the caller's text. */
			run_refuse(getuid(), "bad arguments; usage: nscell run [--] CMD [ARG...]");
		}
	}
	if (i + 1 >= argc)
		run_refuse(getuid(), "no command; usage: nscell run [--] CMD [ARG...]");
	a->cmd = argv + i + 1;
}

/* The caller must be in the host's mount namespace: not in a sandbox with
 * one of its own, which `run` would otherwise let it leave for the user's
 * cell. (A cell is refused before, by nscell_inside_cell().) */
static void check_mount_ns(uid_t uid)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) < 0 || stat("/proc/1/ns/mnt", &init) < 0)
		run_refuse(uid, "cannot read the mount namespaces in /proc: %s", strerror(errno));
	if (self.st_dev != init.st_dev || self.st_ino != init.st_ino)
		run_refuse(uid, "called from a mount namespace other than the host's (a sandboxed service?); nscell run starts only from the host's namespaces");
}

static struct nscell_identity *caller_identity(uid_t uid)
{
	_cleanup_free_ char *buf = NULL;
	struct nscell_identity *id = NULL;
	struct passwd pw, *res = NULL;
	size_t size = 4096;
	int r;

	for (;;) {
		char *b = realloc(buf, size);
		if (!b)
			run_refuse(uid, "out of memory");
		buf = b;
		r = getpwuid_r(uid, &pw, buf, size, &res);
		if (r != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	if (r != 0 || !res)
		run_refuse(uid, "uid %u has no user name (NSS: %s)", (unsigned)uid,
			   r ? strerror(r) : "no such user");
	r = nscell_identity_resolve(pw.pw_name, &nscell_nss_libc, &id);
	if (r < 0)
		run_refuse(uid, "cannot resolve user %s: %s", pw.pw_name, strerror(-r));
	/* Two passwd entries of one name: the name must lead back to us. */
	if (id->uid != uid)
		run_refuse(uid, "user name %s belongs to uid %u, not to the caller", pw.pw_name,
			   (unsigned)id->uid);
	return id;
}

/* What a terminal sends to its foreground process group, credentials aside. */
static const int terminal_signals[] = { SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU };

/* The command, pinned from its fork on: a signal we pass on can never reach
 * a process that took its pid after it was reaped. */
static volatile int child_pidfd = -1;

static void forward(int sig)
{
	if (child_pidfd >= 0)
		syscall(SYS_pidfd_send_signal, child_pidfd, sig, NULL, 0);
}

static _Noreturn void child(const struct helper_cell *cell, const struct nscell_settings *s,
			    const struct nscell_identity *id, const struct run_args *a)
{
	extern char **environ;
	char err[300];
	char **env = NULL;
	int r, in_cellcg;

	/* Nothing of ours crosses exec: the session socket, pidfds, the log. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* The caller's rlimits and oom_score_adj before the uid change: the
	 * command gets no more than the caller had. */
	if (helper_restore_caller_limits() < 0) {
		fprintf(stderr, "nscell run: cannot restore the caller's resource limits: %s\n",
			strerror(errno));
		_exit(HELPER_RUN_EXIT_FAILURE);
	}
	/* Into the cell's cgroup of nscell's own, if it has one, while root. */
	in_cellcg = nscell_cellcg_enter(id->uid, cell->id, err, sizeof(err));
	if (in_cellcg < 0) {
		helper_log(LOG_ERR, "event=error cell=%s user=%s error=\"%s\"", cell->id, id->user,
			   err);
		fprintf(stderr, "nscell run: %s\n", err);
		_exit(HELPER_RUN_EXIT_FAILURE);
	}
	r = nscell_cell_enter(cell->init_pidfd, cell->namespaces, cell->userns_fd, cell->logins_fd, s, id, err,
			      sizeof(err));
	if (r < 0) {
		helper_log(LOG_ERR, "event=error cell=%s user=%s error=\"%s\"", cell->id, id->user,
			   err);
		fprintf(stderr, "nscell run: %s\n", err);
		_exit(HELPER_RUN_EXIT_FAILURE);
	}
	/* From here on we are the user, in the cell. */
	if (nscell_session_env(id, a->term, a->lang, &env) < 0) {
		fprintf(stderr, "nscell run: out of memory\n");
		_exit(HELPER_RUN_EXIT_FAILURE);
	}
	environ = env;
	if (!id->home[0] || chdir(id->home) < 0) {
		fprintf(stderr, "nscell run: cannot change to home directory %s: %s; using /\n",
			id->home, strerror(errno));
		if (chdir("/") < 0)
			_exit(HELPER_RUN_EXIT_FAILURE);
	}
	/* The caller's unit accounts for and stops its own command; in a
	 * cell's own cgroup, the cell's limits hold it instead. */
	r = in_cellcg ? 0 : helper_return_to_caller_cgroup();
	if (r < 0) {
		fprintf(stderr, "nscell run: cannot move the command back into the caller's cgroup: %s\n",
			strerror(-r));
		_exit(HELPER_RUN_EXIT_FAILURE);
	}
	/* The caller's signals, umask, nice, scheduling, affinity... back, as
	 * far as the user may set them. */
	helper_restore_caller_state();
	execvp(a->cmd[0], a->cmd);
	r = errno;
	fprintf(stderr, "nscell run: %s: %s\n", a->cmd[0], strerror(r));
	_exit(r == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	struct run_args a = { 0 };
	struct nscell_request req = { .verb = NSCELL_VERB_OPEN };
	struct nscell_identity *id;
	struct nscell_policy *policy = NULL;
	struct nscell_decision decision;
	struct helper_login l = { 0 };
	struct helper_cell cell;
	struct sigaction sa = { .sa_handler = forward };
	sigset_t none;
	char err[300];
	uid_t uid = getuid();
	int status, r;
	pid_t pid;

	/* R1: no request socket in this verb; fd 3 is whatever the user left. */
	helper_sanitize("nscell-run-helper", true);
	close(3);
	helper_answer_to_stderr();
	/* The caller's terminal can signal us whatever our uid: ^Z must not
	 * stop us while we hold the user's lock (their logins would wait), nor ^C
	 * end us between making a cell and joining it. */
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(terminal_signals); i++)
		signal(terminal_signals[i], SIG_IGN);

	/* R2 */
	if (argc < 2 || strcmp(argv[1], "run") != 0)
		run_refuse(uid, "unknown or missing verb: nscell-run-helper only runs \"nscell run\" (see nscell-run-helper(8))");
	parse_args(argc, argv, &a);
	if (nscell_inside_cell())
		run_refuse(uid, "already inside a cell (%s is hidden here), so there is no other cell to run in; run the command directly",
			   NSCELL_RUNDIR);
	if (geteuid() != 0)
		run_refuse(uid, "nscell-run-helper is not running as root (its setuid bit is ignored under no_new_privs or in a user namespace)");
	check_mount_ns(uid);
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		run_refuse(uid, "cannot become root: %s", strerror(errno));
	/* Out of the caller's cgroup (a systemd --user unit's is the user's to
	 * freeze or kill) before any privileged step; see helper.c. */
	if (helper_leave_caller_cgroup(err, sizeof(err)) < 0)
		run_refuse(uid, "%s; refused", err);
	id = caller_identity(uid);
	snprintf(req.user, sizeof(req.user), "%s", id->user);
	snprintf(req.service, sizeof(req.service), "%s", RUN_SERVICE);

	/* R3 */
	helper_load_policy(&req, id, &policy, &decision);
	if (!decision.settings.isolate)
		helper_fail(&req, PAM_PERM_DENIED,
			    "the policy does not isolate user %s for service %s (see nscell explain %s --service %s); nscell run only runs commands in a cell: run the command directly",
			    id->user, RUN_SERVICE, id->user, RUN_SERVICE);
	if (decision.settings.scope != NSCELL_SCOPE_USER)
		helper_fail(&req, PAM_PERM_DENIED,
			    "the policy gives user %s Scope session for service %s, and nscell run needs Scope user: one cell of the user's that outlives the command (see nscell explain %s --service %s)",
			    id->user, RUN_SERVICE, id->user, RUN_SERVICE);
	/* Without systemd: the root of nscell's cgroups, while we still can. */
	helper_cellcg_prepare(&decision.settings.limits);
	if (helper_shrink_caps(true) < 0)
		helper_fail(&req, PAM_SYSTEM_ERR, "cannot limit capabilities: %s", strerror(errno));

	/* R4 */
	l.opener_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (l.opener_pidfd < 0)
		helper_fail(&req, PAM_SYSTEM_ERR, "pidfd_open: %s", strerror(errno));
	l.opener_pid = getpid();
	l.req = &req;
	l.id = id;
	l.settings = &decision.settings;

	/* R5 */
	r = helper_cell_open(&l, &cell, err, sizeof(err));
	if (r < 0)
		helper_fail(&req, PAM_SYSTEM_ERR, "%s", err);

	/* R6: our children are born in the cell's pid namespace. */
	if (setns(cell.init_pidfd, CLONE_NEWPID) < 0)
		helper_fail(&req, PAM_SYSTEM_ERR, "cannot enter the pid namespace of cell %s: %s",
			    cell.id, strerror(errno));
	pid = fork();
	if (pid < 0)
		helper_fail(&req, PAM_SYSTEM_ERR, "fork: %s", strerror(errno));
	if (pid == 0)
		child(&cell, &decision.settings, id, &a);
	/* Our child, not reaped (SIGCHLD is at its default): pidfd_open cannot
	 * name another process. */
	child_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (child_pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		helper_fail(&req, PAM_SYSTEM_ERR, "pidfd_open of the command: %s", strerror(errno));
	}
	/* The terminal's ^C, ^\ and hangup reach the command (same process
	 * group): it decides, and we follow. ^Z may stop us with it now that the
	 * lock is released (job control). SIGTERM can only come from root: pass
	 * it on. */
	signal(SIGTSTP, SIG_DFL);
	signal(SIGTTIN, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	for (;;) {
		siginfo_t si = { 0 };
		if (waitid((idtype_t)P_PIDFD, (id_t)child_pidfd, &si, WEXITED) == 0) {
			status = si.si_code == CLD_EXITED ? si.si_status << 8 : si.si_status & 0x7f;
			break;
		}
		if (errno != EINTR) {
			status = HELPER_RUN_EXIT_FAILURE << 8;
			break;
		}
	}
	{
		struct nscell_cellctl_session s = {
			.sock = cell.sock, .init_pidfd = cell.init_pidfd, .userns_fd = cell.userns_fd,
			.logins_fd = cell.logins_fd,
		};
		nscell_cellctl_session_close(&s); /* LEAVE */
	}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	helper_log(LOG_INFO, "event=run-exited cell=%s session=%u user=%s uid=%u status=%d",
		   cell.id, cell.session_no, id->user, (unsigned)id->uid, r);
	exit(r);
}

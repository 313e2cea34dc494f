/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between nscell-open (open.c) and nscell-run-helper (run.c). */
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <sys/types.h>

#include "identity.h"
#include "proto.h"
#include "settings.h"

/* What the helper knows about the login it works for. */
struct helper_login {
	const struct nscell_request *req;
	const struct nscell_identity *id;
	const struct nscell_settings *settings;
	int opener_pidfd; /* pinned process that called open_session */
	pid_t opener_pid;
};

/*
 * Deadlines of the helper's waits. Together they stay below the module's
 * HELPER_TIMEOUT_MS (15 s), so a login that cannot go on gets the helper's
 * reason instead of a timeout: lock 5 s + count and join (3 s per op, see
 * NSCELL_CELLCTL_TIMEOUT_MS) + setup 5 s.
 */
/* For the user's lock: held only by another login of the same user. */
#define HELPER_LOCK_WAIT_MS 5000
/* For the setup child to exec the init: it mounts a few file systems and
 * looks up nothing the user controls without RESOLVE_CACHED, so anything
 * near this is a stall; it is killed and the cell abandoned. */
#define HELPER_SETUP_TIMEOUT_MS 5000

/* runtime.c: RUNDIR, the users' locks, and talking to a cell's init. */
struct runtime {
	int dirfd;   /* RUNDIR */
	int cellsfd; /* RUNDIR/cells */
	int locksfd; /* RUNDIR/locks */
	int lockfd;  /* RUNDIR/locks/user-<uid>, flock()ed while held; else -1 */
};
int runtime_open(struct runtime *rt, char *err, size_t errlen);
void runtime_close(struct runtime *rt);
/* Take the user's lock; -ETIMEDOUT after HELPER_LOCK_WAIT_MS. */
int runtime_lock_user(struct runtime *rt, uid_t uid);
/* A new, unlocked open file description of the user's lock, for an init. */
int runtime_open_user_lock(struct runtime *rt, uid_t uid);
void runtime_unlock(struct runtime *rt);
/* A cell's registry entry while it is made (<id>.new) and once served
 * (<id>.sock). */
void cell_entry_names(const char *cell_id, char *pending, char *live, size_t size);
/* Connect to a cell and JOIN it. Returns 0 with the joined connection and the
 * init's pidfd (and the cell's user namespace, or -1), -ENOENT/-ECONNREFUSED/-ESTALE... when the cell is gone or
 * ending (make a new one), or another -errno. */
int cell_join(const char *cell_id, const struct helper_login *l, int *ret_sock,
	      int *ret_init_pidfd, int *ret_userns_fd, int *ret_logins_fd, unsigned *ret_session_no,
	      unsigned *ret_namespaces);
/* Bind and listen on RUNDIR/cells/<id>.new (the setup child renames it). */
int cell_listen(struct runtime *rt, const char *cell_id, uid_t owner, int *ret_fd);

/* cell.c: make a cell (namespaces, mounts, init); the init is born in the
 * cgroup cgroup_fd when it is not -1 (limits-cgroup.c). */
int cell_create(struct runtime *rt, const char *cell_id, const struct helper_login *l,
		int listenfd, int cgroup_fd, pid_t *ret_init_pid, char *err, size_t errlen);

/* view.c: ProtectHome, ProtectSystem and the *Paths keys, in the setup
 * child's new mount namespace. Returns 0, or -errno with a sentence in err. */
int view_setup(const struct helper_login *l, char *err, size_t errlen);

/* cgroup.c: whether systemd is init here (/run/systemd/system). */
bool helper_systemd_host(void);
/* Set by a build that cannot talk to systemd (the static nscell-open): called,
 * and not expected to return, when leaving the caller's cgroup needs a scope
 * of systemd's, before anything is changed or logged. */
extern void (*helper_systemd_handover)(const char *why);

/* relay.c: serve `target` (the user manager's private socket, O_PATH) in the
 * cell's mount namespace through a relay process running as the user, which
 * reaches the real socket through `sysd` (its directory, O_PATH). Returns
 * the relay's pid, or -errno with nothing mounted. */
pid_t relay_start(uid_t uid, gid_t gid, int sysd, int target);

/* devices.c: PrivateDevices. On failure, *ret_what says which step failed. */
int devices_private(unsigned namespaces, const char **ret_what);

/* logins.c: PrivateLogins, the sessions' mount namespace of its own, made
 * from the finished cell's. ret_fds: [that namespace, the copies of
 * nscell_logins_files (-1: no such file)]. Returns 0 back in the cell's
 * namespace, or -errno with a sentence in err. */
int logins_setup(int *ret_fds, char *err, size_t errlen);

/* userns.c: the sessions' user namespace (only the user's ids mapped). */
int userns_create(const struct nscell_identity *id, int *ret_fd, char *err, size_t errlen);

/* helper.c */
void helper_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same line, sent after helper_answer() has answered (the login does not
 * wait for syslog); at once where the answer goes to stderr (run). */
void helper_log_after_answer(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* nscell-open's request socket (pam_nscell's socketpair end). */
#define HELPER_REQUEST_FD 3
/* Phase 1 / R1: not dumpable, clearenv(), fds 0-2 open and every fd above 3
 * closed, the caller's state left (inherit.c), syslog opened as `ident`
 * (fixed: argv[0] is the caller's). Exits on failure. */
void helper_sanitize(const char *ident, bool run);
/* Every signal a helper leaves ignored (SIGPIPE by helper_sanitize, the
 * terminal's and SIGTERM by the verbs): what a cell's setup child puts back
 * to the default before the init exists (cell.c). A new SIG_IGN goes here. */
#define HELPER_IGNORED_SIGNALS \
	{ SIGPIPE, SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU, SIGTERM }

/* inherit.c: leave what the caller set (signals, rlimits, scheduling,
 * affinity, oom_score_adj, timers, process flags, umask, cwd), noting it
 * first: the run verb hands it back to the user's command only. */
struct helper_caller {
	mode_t umask;
	sigset_t sigmask;
	sigset_t ignored; /* signals whose disposition was SIG_IGN */
	struct rlimit rlimits[RLIM_NLIMITS];
	bool have_rlimits;
	int nice, sched_policy; /* the policy with SCHED_RESET_ON_FORK, if set */
	struct sched_param sched_param;
	cpu_set_t affinity;
	bool have_affinity;
	int ioprio;
	int oom_score_adj;
	bool have_oom;
	unsigned long timerslack;
	unsigned long personality;
};
/* Note the caller's state, then put root's defaults in place. Returns 0, or
 * -errno with a sentence in err (the helper then refuses). */
int helper_leave_caller_state(char *err, size_t errlen);
/* In the run verb's command, before the drop to the user: the caller's
 * rlimits (the kernel's RLIMIT_NPROC check at the uid change must see them)
 * and oom_score_adj (/proc/self is root's until the exec). Returns 0 or
 * -errno. */
int helper_restore_caller_limits(void);
/* In the run verb's command, as the user, just before the exec: the rest
 * of the caller's state, each item as far as the user may set it. */
void helper_restore_caller_state(void);
extern struct helper_caller helper_caller;

/* Exit status of the run verb when it refused or failed before the command
 * ran (as env(1) and timeout(1) use it). */
#define HELPER_RUN_EXIT_FAILURE 125

/* Refusals and failures go to the person on stderr instead of the module. */
void helper_answer_to_stderr(void);
/* nscell-open's answer (message, cell, settings), sent by helper_answer():
 * over fd 3 with `fds`, then exit(status). */
extern struct nscell_reply helper_reply;
_Noreturn void helper_answer(int status, const int *fds, size_t n_fds);
/* A new "session-<16 hex>" cell id. */
void helper_new_session_id(char *buf, size_t size);
/* Log one event=refused line, answer `status` with the message, exit. */
_Noreturn void helper_fail(const struct nscell_request *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Read the policy (root-owned files only) and decide for this login; refuses
 * (helper_fail) when the policy cannot be read. */
struct nscell_policy;
struct nscell_decision;
void helper_load_policy(const struct nscell_request *req, struct nscell_identity *id,
			struct nscell_policy **ret_policy, struct nscell_decision *ret);
/* Keep only the capabilities making (run: and entering) a cell needs. */
int helper_shrink_caps(bool run);

/* A session in a cell, as helper_cell_open() hands it back. */
struct helper_cell {
	char id[NSCELL_CELL_ID_MAX];
	int sock, init_pidfd, userns_fd;
	int logins_fd; /* PrivateLogins: the sessions' mount namespace, or -1 */
	unsigned session_no;
	unsigned namespaces; /* NSCELL_NS_* the cell was made with */
	pid_t init_pid;      /* when created */
	bool created;
};
/* Phase 6: under the user's lock, join the user's cell (Scope user, same
 * cell-level settings) or make a new one (below MaxCells), then JOIN it; logs
 * cell-created (or cell-settings-differ). Returns 0, or
 * -errno with a sentence in err. */
int helper_cell_open(const struct helper_login *l, struct helper_cell *ret, char *err,
		     size_t errlen);

/* cgroup.c: leave a cgroup the caller (or any non-root uid) can write for a
 * root-owned one: a systemd scope on systemd hosts, <hierarchy>/nscell
 * elsewhere. Called once by both verbs, right after the ids become root's
 * (until then a cgroup v1 peer with the caller's uid could move us back); everything
 * forked later (a cell's init) is born there. Returns 0 (also when no
 * cgroup is mounted or nothing needed moving), or -errno with a sentence in
 * err: the caller must refuse. */
int helper_leave_caller_cgroup(char *err, size_t errlen);
/* For the run verb's command, before exec: back into the cgroups the caller
 * had (its systemd --user unit keeps its command). 0 or -errno. */
int helper_return_to_caller_cgroup(void);

/* limits.c: set the cell's limits on the systemd unit that holds its
 * processes (new cell), or check that a joining session is under them.
 * A login whose limits cannot be enforced goes on unlimited, logged, with
 * LimitsUnavailable ignore (and always for root); else 0 or -errno with a
 * sentence in err: the caller refuses. Without systemd, a new cell's
 * cgroup (limits-cgroup.c) comes back in *ret_cgroup_fd for cell_create. */
int helper_limits_enforce(const struct helper_login *l, const struct nscell_settings *s,
			  bool joining, const char *cell_id, int *ret_cgroup_fd, char *err,
			  size_t errlen);
/* limits-cgroup.c: nscell.cells, made before the capabilities shrink when
 * limits l will need it; then cell_id's cgroup of nscell's own. */
void helper_cellcg_prepare(const struct nscell_limits *l);
int helper_cellcg_create(uid_t uid, const char *cell_id, const struct nscell_limits *l,
			 int *ret_fd, char *why, size_t whylen);

/* run.c: the run verb (phases R1-R6 in helper.c). */
_Noreturn void helper_run(int argc, char **argv);

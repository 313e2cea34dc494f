/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the parts of nscell-helper. */
#pragma once

#include <signal.h>
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

/* runtime.c: RUNDIR, its lock, and talking to a cell's init. */
struct runtime {
	int dirfd;   /* RUNDIR */
	int cellsfd; /* RUNDIR/cells */
	int lockfd;  /* RUNDIR/lock */
};
int runtime_open(struct runtime *rt, char *err, size_t errlen);
void runtime_close(struct runtime *rt);
int runtime_lock(struct runtime *rt);
void runtime_unlock(struct runtime *rt);
/* Connect to a cell and JOIN it. Returns 0 with the joined connection and the
 * init's pidfd (and the cell's user namespace, or -1), -ENOENT/-ECONNREFUSED/-ESTALE... when the cell is gone or
 * ending (make a new one), or another -errno. */
int cell_join(const char *cell_id, const struct helper_login *l, int *ret_sock,
	      int *ret_init_pidfd, int *ret_userns_fd, unsigned *ret_session_no,
	      unsigned *ret_namespaces);
/* Bind and listen on RUNDIR/cells/<id>.sock. */
int cell_listen(struct runtime *rt, const char *cell_id, int *ret_fd);

/* cell.c: make a cell (namespaces, mounts, init). */
int cell_create(struct runtime *rt, const char *cell_id, const struct helper_login *l,
		int listenfd, pid_t *ret_init_pid, char *err, size_t errlen);

/* userns.c: the sessions' user namespace (only the user's ids mapped). */
int userns_create(const struct nscell_identity *id, int *ret_fd, char *err, size_t errlen);

/* helper.c */
void helper_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What the caller had when it ran us, noted by the sanitize phase before it
 * changes anything: the run verb hands it back to the user's command. */
struct helper_caller {
	mode_t umask;
	sigset_t sigmask;
	sigset_t ignored; /* signals whose disposition was SIG_IGN */
};
extern struct helper_caller helper_caller;

/* Exit status of the run verb when it refused or failed before the command
 * ran (as env(1) and timeout(1) use it). */
#define HELPER_RUN_EXIT_FAILURE 125

/* Refusals and failures go to the person on stderr instead of the module. */
void helper_answer_to_stderr(void);
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
	unsigned session_no;
	unsigned namespaces; /* NSCELL_NS_* the cell was made with */
	pid_t init_pid;      /* when created */
	bool created;
};
/* Phase 6: under RUNDIR/lock, join the user's cell (Scope user) or make a new
 * one, then JOIN it; logs cell-created and session-joined. Returns 0, or
 * -errno with a sentence in err. */
int helper_cell_open(const struct helper_login *l, struct helper_cell *ret, char *err,
		     size_t errlen);

/* cgroup.c: leave a cgroup the caller (or any non-root uid) can write for a
 * root-owned one: a systemd scope on systemd hosts, <hierarchy>/nscell
 * elsewhere. Called once, right after sanitizing, by both verbs; everything
 * forked later (a cell's init) is born there. Returns 0 (also when no
 * cgroup is mounted or nothing needed moving), or -errno with a sentence in
 * err: the caller must refuse. */
int helper_leave_caller_cgroup(char *err, size_t errlen);
/* For the run verb's command, before exec: back into the cgroups the caller
 * had (its systemd --user unit keeps its command). 0 or -errno. */
int helper_return_to_caller_cgroup(void);

/* run.c: the run verb (phases R1-R6 in helper.c). */
_Noreturn void helper_run(int argc, char **argv);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the parts of nscell-helper. */
#pragma once

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

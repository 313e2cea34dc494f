/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Becoming a process of a cell, the way a session's processes are: the
 * cell's namespaces (by its init's pidfd), then its user namespace, then the
 * session restrictions, then the user's credentials. Shared by the helper's
 * run verb and `nscell enter`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"
#include "settings.h"

/* The PATH of a session started by nscell (run, enter): fixed, never the caller's. */
#define NSCELL_SESSION_PATH "/usr/local/bin:/usr/bin:/bin"

/*
 * nscell_cell_enter - make the calling process a process of a cell.
 *
 * The caller must be single-threaded and already in the cell's pid
 * namespace: its parent did setns(init_pidfd, CLONE_NEWPID) and forked it.
 * In order:
 *   setns(init_pidfd, the cell's other namespaces in `namespaces`);
 *   setns(logins_fd, CLONE_NEWNS) when logins_fd >= 0 (PrivateLogins: the
 *   sessions' mount namespace, where the login records are the user's own);
 *   setgroups(as's groups) when `as` is not NULL (before the user
 *   namespace: its setgroups is "deny");
 *   setns(userns_fd, CLONE_NEWUSER) when userns_fd >= 0;
 *   the restrictions of `restrictions` (bounding set, no_new_privs, namespace
 *   filter) when it is not NULL, after the user namespace since entering one
 *   gives a fresh set of capabilities;
 *   setresgid -> setresuid when `as` is not NULL.
 * The working directory is the cell's / afterwards.
 *
 * Returns 0, or -errno with a sentence in err saying which step failed.
 */
int nscell_cell_enter(int init_pidfd, unsigned namespaces, int userns_fd, int logins_fd,
		      const struct nscell_settings *restrictions, const struct nscell_identity *as,
		      char *err, size_t errlen);

/*
 * nscell_cell_private_tmp - after nscell_cell_enter() as root: a mount
 * namespace of the caller's own, a slave of the cell's, with a fresh tmpfs
 * on /tmp, /var/tmp and /dev/shm (a missing mount point is left alone). The
 * cell's are what its user wrote; root's programs use fixed names there.
 * The cell's own stay reachable as /proc/1/root/tmp and so on.
 *
 * Returns 0, or -errno with a sentence in err.
 */
int nscell_cell_private_tmp(char *err, size_t errlen);

/* Whether a TERM or LANG value may be passed on: printable ASCII without
 * spaces, 1 to 64 bytes. */
bool nscell_env_value_ok(const char *v);

/*
 * nscell_session_env - a clean environment for a session process of `id`:
 * HOME, USER, LOGNAME, SHELL, PATH=NSCELL_SESSION_PATH, and TERM and LANG
 * when given and nscell_env_value_ok().
 *
 * Returns 0 and a NULL-terminated vector (free with nscell_strv_free), or -ENOMEM.
 */
int nscell_session_env(const struct nscell_identity *id, const char *term, const char *lang,
		       char ***ret);
void nscell_strv_free(char **v);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The order matters and is the module's: every namespace but the user one
 * first (joining a mount namespace needs privilege in the initial user
 * namespace, which is gone once inside the cell's), then the user namespace,
 * then the restrictions (entering a user namespace hands out a full set of
 * capabilities there), then the credentials, in util-linux's order:
 * setgroups, setgid, setuid; setgroups before the user namespace, which
 * denies it.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cellenter.h"
#include "nsjoin.h"
#include "namespaces.h"
#include "restrict.h"

static int drop_to(const struct nscell_identity *as, char *err, size_t errlen)
{
	if (setresgid(as->gid, as->gid, as->gid) < 0) {
		snprintf(err, errlen, "cannot set gid %u: %s", (unsigned)as->gid, strerror(errno));
		return -errno;
	}
	if (setresuid(as->uid, as->uid, as->uid) < 0) {
		snprintf(err, errlen, "cannot set uid %u: %s", (unsigned)as->uid, strerror(errno));
		return -errno;
	}
	/* Belt and braces: a drop that did not hold must not go unnoticed. */
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) < 0 || r != as->uid || e != as->uid || s != as->uid ||
	    (as->uid != 0 && setuid(0) == 0)) {
		snprintf(err, errlen, "the change to uid %u did not hold", (unsigned)as->uid);
		return -EPERM;
	}
	return 0;
}

int nscell_cell_enter(int init_pidfd, unsigned namespaces, int userns_fd, int logins_fd,
		      const struct nscell_settings *restrictions, const struct nscell_identity *as,
		      char *err, size_t errlen)
{
	/* The pid namespace is our parent's business; the user namespace comes last. */
	int flags = nscell_ns_clone_flags(namespaces & ~(NSCELL_NS_PID | NSCELL_NS_USER));
	int r;

	if (flags && setns(init_pidfd, flags) < 0) {
		snprintf(err, errlen, "cannot enter the namespaces of the cell: %s", strerror(errno));
		return -errno;
	}
	if (logins_fd >= 0 && (r = nscell_ns_enter_logins(logins_fd, err, errlen)) < 0)
		return r;
	/* The groups before the user namespace, which denies setgroups() (so
	 * that nobody in it can drop a group a file denies). */
	if (as && setgroups(as->n_groups, as->gids) < 0) {
		snprintf(err, errlen, "cannot set the groups of %s: %s", as->user, strerror(errno));
		return -errno;
	}
	if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0) {
		snprintf(err, errlen, "cannot enter the user namespace of the cell: %s",
			 strerror(errno));
		return -errno;
	}
	if (restrictions) {
		r = nscell_restrict_apply(restrictions, err, errlen);
		if (r < 0)
			return r;
	}
	if (as) {
		r = drop_to(as, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int nscell_cell_private_tmp(char *err, size_t errlen)
{
	static const char *const dirs[] = { "/tmp", "/var/tmp", "/dev/shm" };

	if (unshare(CLONE_NEWNS) < 0) {
		snprintf(err, errlen, "cannot make a mount namespace of its own: %s", strerror(errno));
		return -errno;
	}
	/* Nothing mounted here may reach the cell. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		snprintf(err, errlen, "cannot make / a slave mount: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		/* Mounted on the mount points, never walked: the cell's
		 * directories are not looked into. */
		if (mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV,
			  "mode=1777") < 0 &&
		    errno != ENOENT) {
			snprintf(err, errlen, "cannot mount a tmpfs of its own on %s: %s", dirs[i],
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

bool nscell_env_value_ok(const char *v)
{
	size_t n = 0;

	if (!v)
		return false;
	for (; v[n]; n++)
		if ((unsigned char)v[n] <= 0x20 || (unsigned char)v[n] >= 0x7f || n >= 64)
			return false;
	return n > 0;
}

void nscell_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int nscell_session_env(const struct nscell_identity *id, const char *term, const char *lang,
		       char ***ret)
{
	char **env = calloc(8, sizeof(char *));
	size_t n = 0;

	if (!env)
		return -ENOMEM;
	if (asprintf(&env[n++], "HOME=%s", id->home ? id->home : "/") < 0 ||
	    asprintf(&env[n++], "USER=%s", id->user) < 0 ||
	    asprintf(&env[n++], "LOGNAME=%s", id->user) < 0 ||
	    asprintf(&env[n++], "SHELL=%s", id->shell && id->shell[0] ? id->shell : "/bin/sh") < 0 ||
	    asprintf(&env[n++], "PATH=%s", NSCELL_SESSION_PATH) < 0)
		goto oom;
	if (nscell_env_value_ok(term) && asprintf(&env[n++], "TERM=%s", term) < 0)
		goto oom;
	if (nscell_env_value_ok(lang) && asprintf(&env[n++], "LANG=%s", lang) < 0)
		goto oom;
	*ret = env;
	return 0;
oom:
	env[n - 1] = NULL; /* asprintf leaves it undefined on failure */
	nscell_strv_free(env);
	return -ENOMEM;
}

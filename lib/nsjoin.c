/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/nsfs.h>

#include "cleanup.h"
#include "nsjoin.h"

void nscell_ns_return_init(struct nscell_ns_return *r)
{
	*r = (struct nscell_ns_return){ .joined = 0 };
	for (size_t i = 0; i < NSCELL_NS_TYPES; i++)
		r->saved[i] = -1;
}

void nscell_ns_return_free(struct nscell_ns_return *r)
{
	for (size_t i = 0; i < NSCELL_NS_TYPES; i++)
		nscell_closep(&r->saved[i]);
	free(r->cwd);
	r->cwd = NULL;
}

/* A namespace of ours by a pidfd of ourselves (PIDFD_GET_*_NAMESPACE, Linux
 * 6.11): the same namespace as /proc/self/ns/<name>, without the first look
 * into /proc/self a fresh process pays for (~15 us). -1 where the kernel has
 * no such call (then /proc). */
static int own_ns(int self, int clone_flag)
{
	static const struct {
		int clone_flag;
		unsigned nr;
	} get[] = {
		{ CLONE_NEWCGROUP, 1 }, { CLONE_NEWIPC, 2 }, { CLONE_NEWNS, 3 }, { CLONE_NEWNET, 4 },
		{ CLONE_NEWPID, 5 },    { CLONE_NEWUSER, 9 }, { CLONE_NEWUTS, 10 },
	};

	if (self < 0)
		return -1;
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(get); i++)
		if (get[i].clone_flag == clone_flag)
			return ioctl(self, _IO(0xFF, get[i].nr), 0); /* PIDFS_IOCTL_MAGIC */
	return -1;
}

int nscell_ns_join(int pidfd, unsigned namespaces, struct nscell_ns_return *r, char *why,
		   size_t whylen)
{
	_cleanup_close_ int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	int flags = 0;

	namespaces &= ~NSCELL_NS_USER;
	r->cwd = getcwd(NULL, 0);
	/* Open every namespace we will come back to before leaving: afterwards
	 * our /proc belongs to a pid namespace we are not in. */
	for (size_t i = 0; i < NSCELL_NS_TYPES; i++) {
		const struct nscell_ns_type *t = &nscell_ns_types[i];
		char path[32];

		if (!(namespaces & t->bit))
			continue;
		snprintf(path, sizeof(path), "/proc/self/ns/%s", t->proc_name);
		r->saved[i] = own_ns(self, t->clone_flag);
		if (r->saved[i] < 0)
			r->saved[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (r->saved[i] < 0) {
			snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
			return -errno;
		}
		flags |= t->clone_flag;
	}
	if (setns(pidfd, flags) < 0) {
		snprintf(why, whylen, "cannot enter the namespaces: %s", strerror(errno));
		return -errno;
	}
	r->joined = namespaces;
	/* setns(CLONE_NEWNS) moved us to the cell's /. */
	if (!r->cwd || chdir(r->cwd) < 0)
		(void)!chdir("/");
	return 0;
}

int nscell_ns_leave(struct nscell_ns_return *r, char *why, size_t whylen)
{
	int rc = 0;

	for (size_t i = 0; i < NSCELL_NS_TYPES; i++) {
		const struct nscell_ns_type *t = &nscell_ns_types[i];

		if (!(r->joined & t->bit) || r->saved[i] < 0)
			continue;
		if (setns(r->saved[i], t->clone_flag) < 0 && rc == 0) {
			rc = -errno;
			snprintf(why, whylen, "cannot return to the %s namespace: %s", t->proc_name,
				 strerror(errno));
		}
	}
	r->joined = 0;
	if (r->cwd && chdir(r->cwd) < 0 && chdir("/") < 0 && rc == 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot return to %s: %s", r->cwd, strerror(errno));
	}
	return rc;
}

int nscell_ns_sort_fds(const int *fds, size_t n, int *ret_userns, int *ret_logins)
{
	int rc = 0;

	*ret_userns = *ret_logins = -1;
	for (size_t i = 0; i < n; i++) {
		int t = ioctl(fds[i], NS_GET_NSTYPE);
		int *slot = t == CLONE_NEWUSER ? ret_userns : t == CLONE_NEWNS ? ret_logins : NULL;
		if (!slot || *slot >= 0) {
			close(fds[i]);
			rc = -EPROTO;
			continue;
		}
		*slot = fds[i];
	}
	return rc;
}

int nscell_ns_enter_logins(int fd, char *why, size_t whylen)
{
	_cleanup_free_ char *cwd = getcwd(NULL, 0);

	if (setns(fd, CLONE_NEWNS) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot enter the sessions' mount namespace: %s", strerror(e));
		return -e;
	}
	if (!cwd || chdir(cwd) < 0)
		(void)!chdir("/");
	return 0;
}

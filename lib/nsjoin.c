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

/* PIDFD_GET_<type>_NAMESPACE (linux/pidfd.h, Linux 6.11): our own namespace
 * by a pidfd of ourselves, an nsfs fd (O_CLOEXEC) as /proc/self/ns/<type>
 * opens, without the walk of a fresh process's /proc/self (half the cost of
 * saving ours at a join). 0: the kernel has no such ioctl for the type. */
static unsigned long pidfd_ns_ioctl(int clone_flag)
{
	switch (clone_flag) {
	case CLONE_NEWCGROUP: return _IO(0xFF, 1);
	case CLONE_NEWIPC: return _IO(0xFF, 2);
	case CLONE_NEWNS: return _IO(0xFF, 3);
	case CLONE_NEWNET: return _IO(0xFF, 4);
	case CLONE_NEWPID: return _IO(0xFF, 5);
	case CLONE_NEWTIME: return _IO(0xFF, 7);
	case CLONE_NEWUTS: return _IO(0xFF, 10);
	default: return 0;
	}
}

static int open_own_ns(int self, const struct nscell_ns_type *t, char *why, size_t whylen)
{
	unsigned long nr = pidfd_ns_ioctl(t->clone_flag);
	char path[32];
	int fd;

	/* Older kernels answer ENOTTY or EINVAL: /proc, as always. */
	if (self >= 0 && nr && (fd = ioctl(self, nr, 0)) >= 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", t->proc_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(e));
		errno = e;
	}
	return fd;
}

int nscell_ns_join(int pidfd, unsigned namespaces, struct nscell_ns_return *r, char *why,
		   size_t whylen)
{
	_cleanup_close_ int self = -1;
	int flags = 0;

	namespaces &= ~NSCELL_NS_USER;
	r->cwd = getcwd(NULL, 0);
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	/* Open every namespace we will come back to before leaving: afterwards
	 * our /proc belongs to a pid namespace we are not in. */
	for (size_t i = 0; i < NSCELL_NS_TYPES; i++) {
		const struct nscell_ns_type *t = &nscell_ns_types[i];

		if (!(namespaces & t->bit))
			continue;
		r->saved[i] = open_own_ns(self, t, why, whylen);
		if (r->saved[i] < 0)
			return -errno;
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading /proc for nscell(8). Root reads every process's status and
 * smaps_rollup (the cell's init is not dumpable; CAP_SYS_PTRACE covers it).
 * Files under /proc/<pid> are read through one dirfd each: a process that
 * exits makes the reads fail with ESRCH, never return another process's data.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cellprocs.h"
#include "cleanup.h"

/* Read a whole (small) file under dirfd; NUL-terminated. Returns the length or -errno. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t got = 0;

	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (got + 1 < size) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static int ns_of(int procfd, struct nscell_ns_id *ret)
{
	struct stat st;

	if (fstatat(procfd, "ns/pid", &st, 0) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	return 0;
}

/* The value of "Key:" in a /proc status-like text, or NULL. */
static const char *field(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	return NULL;
}

/* The last number of the NSpid line: the pid in the innermost namespace. */
static pid_t last_nspid(const char *status)
{
	const char *p = field(status, "NSpid");
	long last = -1;
	char *end;

	if (!p)
		return -1;
	for (;;) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		last = v;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			break;
	}
	return (pid_t)last;
}

static int check_init(int procfd, const char *id)
{
	char status[4096], cmdline[128], want[128];
	ssize_t n;
	int wl;

	wl = snprintf(want, sizeof(want), "nscell-init%c%s%c", '\0', id, '\0');
	n = read_at(procfd, "cmdline", cmdline, sizeof(cmdline));
	if (n < 0)
		return (int)n;
	if (n != wl || memcmp(cmdline, want, (size_t)wl) != 0)
		return -ESRCH;
	n = read_at(procfd, "status", status, sizeof(status));
	if (n < 0)
		return (int)n;
	if (last_nspid(status) != 1)
		return -ESRCH;
	return 0;
}

int nscell_cell_init_open(pid_t pid, const char *id, int *ret_procfd, struct nscell_ns_id *ret_pidns)
{
	_cleanup_close_ int fd = -1;
	char path[32];
	int r;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = check_init(fd, id);
	if (r < 0)
		return r;
	r = ns_of(fd, ret_pidns);
	if (r < 0)
		return r;
	*ret_procfd = TAKE_FD(fd);
	return 0;
}

int nscell_cell_init_pidfd(int procfd, pid_t pid, const char *id, int *ret_pidfd)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int r;

	if (pidfd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	r = check_init(procfd, id);
	if (r < 0)
		return r;
	*ret_pidfd = TAKE_FD(pidfd);
	return 0;
}

void nscell_host_procs_free(struct nscell_host_procs *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct nscell_host_proc *)a)->pid, y = ((const struct nscell_host_proc *)b)->pid;
	return (x > y) - (x < y);
}

int nscell_host_procs_scan(struct nscell_host_procs *ret)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct nscell_host_proc *v = NULL;
	size_t n = 0, allocated = 0;
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct nscell_host_proc p;
		char path[64];
		struct stat st;
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &st) < 0)
			continue; /* gone, or a zombie */
		p.pid = (pid_t)pid;
		p.pidns.dev = st.st_dev;
		p.pidns.ino = st.st_ino;
		if (n == allocated) {
			size_t na = allocated ? allocated * 2 : 256;
			struct nscell_host_proc *nv = realloc(v, na * sizeof(*nv));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			allocated = na;
		}
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), cmp_pid);
	ret->v = v;
	ret->n = n;
	return 0;
}

/* "Key:   1234 kB" -> bytes; false if absent. */
static bool kb_field(const char *text, const char *key, uint64_t *ret)
{
	const char *p = field(text, key);
	char *end;
	unsigned long long v;

	if (!p)
		return false;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (end == p || errno)
		return false;
	*ret = (uint64_t)v * 1024u;
	return true;
}

static char *printable_cmdline(const char *raw, size_t n, const char *comm)
{
	char *s;

	while (n > 0 && raw[n - 1] == '\0')
		n--;
	if (n == 0) {
		/* Kernel threads and zombies have none: show [comm] as ps does. */
		if (asprintf(&s, "[%s]", comm) < 0)
			return NULL;
		return s;
	}
	s = malloc(n + 1);
	if (!s)
		return NULL;
	/* Only the separators change: escaping for a terminal or JSON is the
	 * printer's, in one place (cli/escape.h). */
	for (size_t i = 0; i < n; i++)
		s[i] = raw[i] == '\0' ? ' ' : raw[i];
	s[n] = '\0';
	return s;
}

int nscell_proc_info_read(pid_t pid, const struct nscell_ns_id *pidns, unsigned flags,
			  struct nscell_proc_info *ret)
{
	_cleanup_close_ int fd = -1;
	struct nscell_proc_info p = { .pid = pid };
	struct nscell_ns_id ns = { 0 };
	char status[8192], path[32];
	const char *v;
	ssize_t n;
	int r;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = ns_of(fd, &ns);
	if (r < 0)
		return r;
	if (pidns && !nscell_ns_id_eq(&ns, pidns))
		return -ESRCH;
	n = read_at(fd, "status", status, sizeof(status));
	if (n < 0)
		return (int)n;
	if ((v = field(status, "Name"))) {
		size_t k = strcspn(v, "\n");
		if (k >= sizeof(p.comm))
			k = sizeof(p.comm) - 1;
		memcpy(p.comm, v, k);
		p.comm[k] = '\0';
	}
	if ((v = field(status, "State")))
		p.state = *v;
	if ((v = field(status, "PPid")))
		p.ppid = (pid_t)strtol(v, NULL, 10);
	if ((v = field(status, "Uid")))
		p.uid = (uid_t)strtoul(v, NULL, 10);
	p.cell_pid = last_nspid(status);

	if (flags & NSCELL_PROC_MEMORY) {
		char rollup[4096];
		uint64_t bytes = 0;

		if (read_at(fd, "smaps_rollup", rollup, sizeof(rollup)) >= 0) {
			/* Empty for a process without memory (a zombie): 0. */
			if (!kb_field(rollup, "Pss", &bytes))
				bytes = 0;
			p.memory_pss = true;
		} else {
			/* No smaps_rollup (before Linux 4.14), or no mm: VmRSS, or 0. */
			if (!kb_field(status, "VmRSS", &bytes))
				bytes = 0;
		}
		p.memory = bytes;
	}
	if (flags & NSCELL_PROC_CMDLINE) {
		char raw[4096];
		n = read_at(fd, "cmdline", raw, sizeof(raw));
		if (n < 0)
			return (int)n;
		p.cmdline = printable_cmdline(raw, (size_t)n, p.comm);
		if (!p.cmdline)
			return -ENOMEM;
	}
	*ret = p;
	return 0;
}

void nscell_proc_info_done(struct nscell_proc_info *p)
{
	free(p->cmdline);
	p->cmdline = NULL;
}

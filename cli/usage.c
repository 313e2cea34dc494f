/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A cell's use against its limits: memory.current/max/high, pids.current/
 * max, cpu.stat's usage_usec and cpu.max of the unit that holds the cell's
 * init. Read-only, from files root owns; the cgroup path comes from the
 * pinned init's /proc entry and is used below the cgroup v2 mount only
 * when it has no "." or ".." component.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cellcg.h"
#include "cells.h"
#include "cleanup.h"
#include "settings.h"
#include "usage.h"

static int read_at(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* "max" or a number; false when absent or unreadable. */
static bool read_value(int dirfd, const char *name, uint64_t *ret)
{
	char buf[64], *end;

	if (read_at(dirfd, name, buf, sizeof(buf)) < 0)
		return false;
	if (strncmp(buf, "max", 3) == 0) {
		*ret = CLI_USAGE_MAX;
		return true;
	}
	errno = 0;
	*ret = strtoull(buf, &end, 10);
	return errno == 0 && end != buf;
}

static bool path_clean(const char *p)
{
	for (const char *c = p; *c; c++)
		if (c[0] == '/' && c[1] == '.' && (c[2] == '/' || c[2] == '\0' ||
						   (c[2] == '.' && (c[3] == '/' || c[3] == '\0'))))
			return false;
	return p[0] == '/';
}

void cli_usage_read(int procfd, uint32_t scope, uid_t uid, struct cli_usage *u)
{
	char text[2048], slice[64], buf[512], *line, *save = NULL;
	_cleanup_close_ int dfd = -1, mnt = -1;
	const char *path = NULL;

	*u = (struct cli_usage){ 0 };
	/* Only a cgroup v2 hierarchy has these files (and nscell's limits):
	 * /sys/fs/cgroup, or on a hybrid host /sys/fs/cgroup/unified. */
	mnt = nscell_cellcg_mount(NULL);
	if (mnt < 0)
		return;
	if (procfd < 0 || read_at(procfd, "cgroup", text, sizeof(text)) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "0::", 3) == 0)
			path = line + 3;
	if (!path || !path_clean(path))
		return;
	snprintf(slice, sizeof(slice), "/user.slice/user-%u.slice", (unsigned)uid);
	/* Scope user: the user's slice holds the limits (and all sessions). */
	if (scope == NSCELL_SCOPE_USER && strncmp(path, slice, strlen(slice)) == 0 &&
	    (path[strlen(slice)] == '/' || path[strlen(slice)] == '\0'))
		path = slice;
	if (snprintf(u->cgroup, sizeof(u->cgroup), "%s", path) >= (int)sizeof(u->cgroup))
		return;
	/* Without systemd the init is in its cell's cgroup of nscell's own
	 * (u<UID>.<CELL> below nscell.cells), which holds the limits. */
	dfd = openat(mnt, path[1] ? path + 1 : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	u->known = true;
	u->have_memory = read_value(dfd, "memory.current", &u->memory_current) &&
			 read_value(dfd, "memory.max", &u->memory_max);
	if (u->have_memory) {
		if (!read_value(dfd, "memory.high", &u->memory_high))
			u->memory_high = CLI_USAGE_MAX;
		if (!read_value(dfd, "memory.swap.max", &u->swap_max))
			u->swap_max = CLI_USAGE_MAX;
	}
	u->have_pids = read_value(dfd, "pids.current", &u->pids_current) &&
		       read_value(dfd, "pids.max", &u->pids_max);
	if (read_at(dfd, "cpu.stat", buf, sizeof(buf)) == 0) {
		const char *p = strstr(buf, "usage_usec ");
		if (p && sscanf(p, "usage_usec %" SCNu64, &u->cpu_usage_usec) == 1)
			u->have_cpu = true;
	}
	u->cpu_quota_usec = CLI_USAGE_MAX;
	u->cpu_period_usec = 100000;
	if (u->have_cpu && read_at(dfd, "cpu.max", buf, sizeof(buf)) == 0 && strncmp(buf, "max", 3) != 0)
		(void)!sscanf(buf, "%" SCNu64 " %" SCNu64, &u->cpu_quota_usec, &u->cpu_period_usec);
}

bool cli_usage_limited(const struct cli_usage *u)
{
	return u->known && ((u->have_memory && (u->memory_max != CLI_USAGE_MAX ||
						u->memory_high != CLI_USAGE_MAX ||
						u->swap_max != CLI_USAGE_MAX)) ||
			    (u->have_pids && u->pids_max != CLI_USAGE_MAX) ||
			    (u->have_cpu && u->cpu_quota_usec != CLI_USAGE_MAX));
}

static unsigned quota_percent(const struct cli_usage *u)
{
	return u->cpu_period_usec ? (unsigned)(u->cpu_quota_usec * 100 / u->cpu_period_usec) : 0;
}

void cli_usage_format(const struct cli_usage *u, char *buf, size_t size)
{
	char cur[16], max[16], high[16];
	size_t used = 0;

	buf[0] = '\0';
	if (u->have_memory) {
		cli_format_bytes(u->memory_current, cur, sizeof(cur));
		if (u->memory_max == CLI_USAGE_MAX)
			snprintf(max, sizeof(max), "max");
		else
			cli_format_bytes(u->memory_max, max, sizeof(max));
		if (u->memory_high == CLI_USAGE_MAX)
			high[0] = '\0';
		else
			cli_format_bytes(u->memory_high, high, sizeof(high));
		used += (size_t)snprintf(buf + used, size - used, "memory %s/%s%s%s", cur, max,
					 high[0] ? " high " : "", high);
	}
	if (u->have_pids && used < size) {
		if (u->pids_max == CLI_USAGE_MAX)
			used += (size_t)snprintf(buf + used, size - used, "%stasks %" PRIu64 "/max",
						 used ? ", " : "", u->pids_current);
		else
			used += (size_t)snprintf(buf + used, size - used, "%stasks %" PRIu64 "/%" PRIu64,
						 used ? ", " : "", u->pids_current, u->pids_max);
	}
	if (u->have_cpu && used < size) {
		used += (size_t)snprintf(buf + used, size - used, "%scpu %" PRIu64 ".%" PRIu64 "s",
					 used ? ", " : "", u->cpu_usage_usec / 1000000u,
					 u->cpu_usage_usec / 100000u % 10);
		if (u->cpu_quota_usec != CLI_USAGE_MAX && used < size)
			snprintf(buf + used, size - used, " at most %u%%", quota_percent(u));
	}
}

static void json_limit(struct json *j, const char *key, uint64_t v)
{
	if (v == CLI_USAGE_MAX)
		json_null(j, key);
	else
		json_uint(j, key, v);
}

void cli_usage_json(struct json *j, const struct cli_usage *u)
{
	if (!u->known) {
		json_null(j, "limits");
		return;
	}
	json_object_begin(j, "limits");
	json_string(j, "cgroup", u->cgroup);
	if (u->have_memory) {
		json_uint(j, "memory_current", u->memory_current);
		json_limit(j, "memory_max", u->memory_max);
		json_limit(j, "memory_high", u->memory_high);
		json_limit(j, "memory_swap_max", u->swap_max);
	}
	if (u->have_pids) {
		json_uint(j, "tasks_current", u->pids_current);
		json_limit(j, "tasks_max", u->pids_max);
	}
	if (u->have_cpu) {
		json_uint(j, "cpu_usage_usec", u->cpu_usage_usec);
		if (u->cpu_quota_usec == CLI_USAGE_MAX)
			json_null(j, "cpu_quota_percent");
		else
			json_uint(j, "cpu_quota_percent", quota_percent(u));
	}
	json_object_end(j);
}

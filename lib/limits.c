/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The resource limits of a cell, spelled as systemd.resource-control(5)
 * spells them, so that an admin who knows user-UID.slice drop-ins writes the
 * same words in a Match block. Parsing is in policy-limits.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cellcg.h"
#include "cleanup.h"
#include "format.h"
#include "limits.h"
#include "policy-internal.h"

static bool limit_set(const struct nscell_limit *l)
{
	return l->percent > 0 || l->value != NSCELL_LIMIT_INFINITY;
}

bool nscell_limits_any(const struct nscell_limits *l)
{
	return limit_set(&l->memory_max) || limit_set(&l->memory_high) ||
	       limit_set(&l->memory_swap_max) || limit_set(&l->tasks_max) ||
	       l->cpu_quota_percent > 0 || l->cpu_weight > 0 || l->io_weight > 0;
}

bool nscell_key_is_limit(enum nscell_key k)
{
	return k >= NSCELL_KEY_MEMORY_MAX && k <= NSCELL_KEY_LIMITS_UNAVAILABLE;
}

void nscell_format_bytes(char *buf, size_t size, uint64_t v)
{
	nscell_format_scaled(buf, size, v, " KMGTPE");
}

static void format_limit(char *buf, size_t size, const struct nscell_limit *l, bool bytes)
{
	if (l->percent > 0)
		snprintf(buf, size, "%u%%", l->percent);
	else if (l->value == NSCELL_LIMIT_INFINITY)
		snprintf(buf, size, "infinity");
	else if (bytes)
		nscell_format_bytes(buf, size, l->value);
	else
		snprintf(buf, size, "%" PRIu64, l->value);
}

static void format_weight(char *buf, size_t size, unsigned w)
{
	if (w == 0)
		snprintf(buf, size, "default");
	else
		snprintf(buf, size, "%u", w);
}

int nscell_limits_format_key(const struct nscell_settings *s, enum nscell_key k, char *buf,
			     size_t size)
{
	const struct nscell_limits *l = &s->limits;

	switch (k) {
	case NSCELL_KEY_MEMORY_MAX:
		format_limit(buf, size, &l->memory_max, true);
		return 0;
	case NSCELL_KEY_MEMORY_HIGH:
		format_limit(buf, size, &l->memory_high, true);
		return 0;
	case NSCELL_KEY_MEMORY_SWAP_MAX:
		format_limit(buf, size, &l->memory_swap_max, true);
		return 0;
	case NSCELL_KEY_TASKS_MAX:
		format_limit(buf, size, &l->tasks_max, false);
		return 0;
	case NSCELL_KEY_CPU_QUOTA:
		if (l->cpu_quota_percent == 0)
			snprintf(buf, size, "infinity");
		else
			snprintf(buf, size, "%u%%", l->cpu_quota_percent);
		return 0;
	case NSCELL_KEY_CPU_WEIGHT:
		format_weight(buf, size, l->cpu_weight);
		return 0;
	case NSCELL_KEY_IO_WEIGHT:
		format_weight(buf, size, l->io_weight);
		return 0;
	case NSCELL_KEY_LIMITS_UNAVAILABLE:
		snprintf(buf, size, "%s",
			 s->limits_unavailable == NSCELL_LIMITS_UNAVAILABLE_IGNORE ? "ignore" : "refuse");
		return 0;
	default:
		return -EINVAL;
	}
}

uint64_t nscell_limit_resolve(const struct nscell_limit *l, uint64_t whole)
{
	if (l->percent == 0)
		return l->value;
	if (whole == 0)
		return NSCELL_LIMIT_INFINITY;
	/* whole / 100 * percent cannot overflow for any real machine. */
	return whole / 100 * l->percent + whole % 100 * l->percent / 100;
}

uint64_t nscell_limits_physical_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)page;
}

uint64_t nscell_limits_pid_max(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	uint64_t v = 0;

	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f))
		v = strtoull(buf, NULL, 10);
	fclose(f);
	return v;
}

/* Is controller c a word of the space-separated list? */
static bool has_word(const char *list, const char *c)
{
	size_t n = strlen(c);

	for (const char *p = list; (p = strstr(p, c)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

int nscell_limits_host(const struct nscell_limits *l, char *why, size_t size)
{
	const char *need[4], *mount = "/sys/fs/cgroup";
	_cleanup_close_ int mnt = -1, fd = -1;
	char buf[512] = "";
	size_t n_need = 0;
	struct statfs sf;
	struct stat st;
	ssize_t n;
	int backend;

	if (lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode)) {
		/* systemd is the single writer of its tree: its units, never
		 * cgroups behind its back. */
		backend = NSCELL_LIMITS_SYSTEMD;
		if (statfs("/sys/fs/cgroup", &sf) < 0 ||
		    (unsigned long)sf.f_type != CGROUP2_SUPER_MAGIC) {
			snprintf(why, size, "/sys/fs/cgroup is not the unified cgroup v2 hierarchy");
			return NSCELL_LIMITS_NONE;
		}
		mnt = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		backend = NSCELL_LIMITS_CGROUP;
		mnt = nscell_cellcg_mount(&mount);
		if (mnt < 0) {
			snprintf(why, size, "systemd is not init here and no cgroup v2 hierarchy is mounted (at /sys/fs/cgroup or /sys/fs/cgroup/unified)");
			return NSCELL_LIMITS_NONE;
		}
	}
	if (mnt >= 0)
		fd = openat(mnt, "cgroup.controllers", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) < 0) {
		snprintf(why, size, "cannot read %s/cgroup.controllers", mount);
		return NSCELL_LIMITS_NONE;
	}
	buf[n] = '\0';
	if (limit_set(&l->memory_max) || limit_set(&l->memory_high) || limit_set(&l->memory_swap_max))
		need[n_need++] = "memory";
	if (limit_set(&l->tasks_max))
		need[n_need++] = "pids";
	if (l->cpu_quota_percent > 0 || l->cpu_weight > 0)
		need[n_need++] = "cpu";
	if (l->io_weight > 0)
		need[n_need++] = "io";
	for (size_t i = 0; i < n_need; i++)
		if (!has_word(buf, need[i])) {
			snprintf(why, size, "the cgroup controller '%s' is not available (see %s/cgroup.controllers)",
				 need[i], mount);
			return NSCELL_LIMITS_NONE;
		}
	return backend;
}

static const struct nscell_origin *block_limit(const struct nscell_block *b, enum nscell_key *ret_k)
{
	for (int k = NSCELL_KEY_MEMORY_MAX; k < NSCELL_KEY_LIMITS_UNAVAILABLE; k++)
		if (b->keys[k]) {
			*ret_k = (enum nscell_key)k;
			return &b->keys[k]->origin;
		}
	return NULL;
}

const struct nscell_origin *nscell_policy_first_limit(const struct nscell_policy *p,
						      enum nscell_key *ret_k)
{
	const struct nscell_origin *o;

	if (!p)
		return NULL;
	o = block_limit(&p->defaults, ret_k);
	for (size_t i = 0; !o && i < p->n_blocks; i++)
		o = block_limit(&p->blocks[i], ret_k);
	return o;
}

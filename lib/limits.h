/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The resource limits of a cell (MemoryMax, TasksMax, CPUQuota, ...): their
 * policy spelling, and the numbers the kernel and systemd take for them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "settings.h"

/* Whether the policy sets any limit (a cell with none costs nothing). */
bool nscell_limits_any(const struct nscell_limits *l);

/* Whether k is one of the limit keys, LimitsUnavailable included. */
bool nscell_key_is_limit(enum nscell_key k);

/*
 * nscell_limits_format_key - the value of limit key k in policy syntax
 * ("512M", "20%", "infinity", "150%") into buf.
 *
 * Returns 0, or -EINVAL when k is no limit key.
 */
int nscell_limits_format_key(const struct nscell_settings *s, enum nscell_key k, char *buf,
			     size_t size);

/* A limit in bytes or tasks: its percentage of `whole`, or its value. */
uint64_t nscell_limit_resolve(const struct nscell_limit *l, uint64_t whole);

/* Physical memory in bytes, and the kernel's limit on tasks (pid_max), for
 * percentages; 0 when unknown. */
uint64_t nscell_limits_physical_memory(void);
uint64_t nscell_limits_pid_max(void);

/* "512M" style: a byte count with the largest exact 1024-based suffix. */
void nscell_format_bytes(char *buf, size_t size, uint64_t v);

/* Where a host enforces limits (nscell_limits_host). */
enum {
	NSCELL_LIMITS_NONE = 0,
	NSCELL_LIMITS_SYSTEMD = 1, /* systemd as init: on its units */
	NSCELL_LIMITS_CGROUP = 2,  /* cgroup v2, no systemd: nscell.cells (cellcg.h) */
};

/*
 * nscell_limits_host - whether and how this host can enforce limits l:
 * systemd as init with the unified cgroup v2 hierarchy, or, without
 * systemd, a cgroup v2 hierarchy (unified or hybrid) of nscell's own to
 * use; either with every controller l needs (memory, pids, cpu, io)
 * available at its root.
 *
 * Returns NSCELL_LIMITS_SYSTEMD or NSCELL_LIMITS_CGROUP, or
 * NSCELL_LIMITS_NONE with the reason in why.
 */
int nscell_limits_host(const struct nscell_limits *l, char *why, size_t size);

/* The first place (defaults or a Match block) that sets a limit key, or
 * NULL; for `nscell check` to warn when this host cannot enforce it. *ret_k
 * is the key. */
const struct nscell_origin *nscell_policy_first_limit(const struct nscell_policy *p,
						      enum nscell_key *ret_k);

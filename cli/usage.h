/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A cell's use against its limits, from the cgroup v2 files of the unit
 * that holds it: its session scope, or user-UID.slice for Scope user (where
 * nscell-open sets them, helper/limits.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "json.h"

#define CLI_USAGE_MAX UINT64_MAX /* a limit file says "max" */

struct cli_usage {
	bool known;       /* the cgroup was found and read */
	char cgroup[256]; /* below /sys/fs/cgroup */
	bool have_memory, have_pids, have_cpu;
	uint64_t memory_current, memory_max, memory_high, swap_max;
	uint64_t pids_current, pids_max;
	uint64_t cpu_usage_usec, cpu_quota_usec, cpu_period_usec;
};

/* From the init's /proc/<pid> (procfd): its cgroup, then the unit's files. */
void cli_usage_read(int procfd, uint32_t scope, uid_t uid, struct cli_usage *ret);

/* Whether any limit is set on the unit (else only use is shown). */
bool cli_usage_limited(const struct cli_usage *u);

/* "memory 12.3M/64.0M, tasks 5/200, cpu 1.2s at 50%": one line's text. */
void cli_usage_format(const struct cli_usage *u, char *buf, size_t size);

/* "limits": {...} (see nscell(8), JSON OUTPUT); null when not known. */
void cli_usage_json(struct json *j, const struct cli_usage *u);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capabilities by number, without libcap: names (as libcap spells them),
 * the bounding set and the effective set of the calling thread, and the
 * helpers' shrinking of their own sets (one implementation, no library to load).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The highest capability this build knows (CAP_LAST_CAP of its headers). */
int nscell_cap_last(void);

/* "cap_sys_admin" for CAP_SYS_ADMIN; NULL for a number this build does not know. */
const char *nscell_cap_name(int cap);

/* The number of a name, case-insensitive, with its "cap_" prefix; -EINVAL if unknown. */
int nscell_cap_from_name(const char *name);

/* Whether the running kernel knows `cap` (it can be older than the build). */
bool nscell_cap_supported(int cap);

/* Drop `cap` from the calling thread's bounding set: 0 or -errno. */
int nscell_cap_drop_bound(int cap);

/* Whether `cap` is in the calling thread's effective set. */
bool nscell_cap_effective(int cap);

/* Keep of `caps` (n entries) those in the calling thread's permitted set, as
 * permitted and effective; everything else, the inheritable set included, is
 * cleared. Returns 0 or -errno. */
int nscell_cap_keep(const int *caps, size_t n);

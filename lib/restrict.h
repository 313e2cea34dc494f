/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restrictions a cell's sessions run under: capability bounding set,
 * no_new_privs, and a seccomp filter against creating namespaces. Applied to
 * the process whose children make up the session (the PAM application after
 * the join, or `nscell run`/`enter`), and inherited from there.
 */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <sys/types.h>

#include "settings.h"

/* Apply every restriction of `s` to the calling process. Returns 0, or
 * -errno with a sentence in err saying which step failed. */
int nscell_restrict_apply(const struct nscell_settings *s, char *err, size_t errlen);

/* Only the seccomp part (RestrictNamespaces); 0 when there is nothing to do. */
int nscell_restrict_namespaces(unsigned restrict_mask);

/* The RestrictNamespaces filter as a classic BPF program: its length, 0 when
 * there is nothing to restrict, or -ENOBUFS when `size` is too small. */
#define NSCELL_RESTRICT_FILTER_MAX 16
ssize_t nscell_restrict_filter(unsigned restrict_mask, struct sock_filter *buf, size_t size);

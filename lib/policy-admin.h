/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the admin tools need beyond policy.h: checking a draft made of several
 * files, and what a loaded policy consists of, without its inner structure.
 */
#pragma once

#include <stddef.h>

#include "policy.h"

/*
 * nscell_policy_load_files - read paths[0..n) in this order as one policy,
 * each file starting in the global context, with no drop-in directory.
 * Same flags, return values and diagnostics as nscell_policy_load().
 */
int nscell_policy_load_files(const char *const *paths, size_t n, unsigned flags,
			     struct nscell_policy **ret, struct nscell_diag *diag);

/* The files that were read, in the order they were read (the main file first). */
size_t nscell_policy_n_files(const struct nscell_policy *p);
const char *nscell_policy_file(const struct nscell_policy *p, size_t i);

/* The number of Match blocks in all files. */
size_t nscell_policy_n_blocks(const struct nscell_policy *p);

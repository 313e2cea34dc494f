/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The namespace types nscell knows: one table from NSCELL_NS_* to the
 * kernel's CLONE_NEW* flag, the /proc/PID/ns name and the policy's word.
 */
#pragma once

#include <stddef.h>

#include "settings.h"

struct nscell_ns_type {
	unsigned bit;            /* NSCELL_NS_* */
	int clone_flag;          /* CLONE_NEW* */
	const char *proc_name;   /* /proc/PID/ns/<proc_name> */
	const char *policy_name; /* RestrictNamespaces, Namespaces, nscell show */
};

/* Every type, in the order a join enters them and the module restores them:
 * mount first (it moves us to the cell's /), the user namespace last. */
#define NSCELL_NS_TYPES 7
extern const struct nscell_ns_type nscell_ns_types[NSCELL_NS_TYPES];

/* The entry of one NSCELL_NS_* bit, or NULL. */
const struct nscell_ns_type *nscell_ns_type_of(unsigned bit);

/* The CLONE_NEW* flags of every NSCELL_NS_* bit in `mask`. */
int nscell_ns_clone_flags(unsigned mask);

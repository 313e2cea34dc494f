/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keys a block sets, stored sparsely, and their merge (policy-block.c). */
#pragma once

#include "policy-internal.h"

/*
 * nscell_block_set_key - record key k's line in b, with the value of k taken
 * from the span of k in `value`, or no value (NULL: it was rejected). The key
 * must not be set in b yet.
 *
 * Returns 0 or -ENOMEM.
 */
int nscell_block_set_key(struct nscell_block *b, enum nscell_key k, const struct nscell_origin *origin,
			 unsigned column, unsigned file_no, const struct nscell_settings *value);

/* Free every key of b. */
void nscell_block_keys_free(struct nscell_block *b);

/* Write key k's value from e onto s (the span of k only); nothing when the
 * value was rejected. */
void nscell_block_key_apply(const struct nscell_block_key *e, enum nscell_key k, struct nscell_settings *s);

/* Write the keys b sets (with a value taken) onto s, and, when origin is
 * given, where each was set; rejected keys change only their origin. */
void nscell_block_merge(const struct nscell_block *b, struct nscell_settings *s,
			struct nscell_origin origin[_NSCELL_KEY_MAX]);

/* The settings of a login that block b decides: the built-in defaults, the
 * policy's defaults, then b (b may be the defaults themselves), with the
 * origin of every key (file NULL: built in). */
void nscell_block_effective(const struct nscell_block *defaults, const struct nscell_block *b,
			    struct nscell_settings *s, struct nscell_origin origin[_NSCELL_KEY_MAX]);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The keys and the parsers of their values (policy-values.c). */
#pragma once

#include <stddef.h>

#include "policy-internal.h"

struct nscell_keyword {
	const char *name; /* as documented; matched case-insensitively */
	enum nscell_key key;
	const char *expected; /* the "expected ..." part of a bad-value error */
	/* Parse n >= 1 values into s; report errors through p. Returns 0 or -EINVAL. */
	int (*parse)(struct nscell_parser *p, const struct nscell_keyword *kw,
		     const struct nscell_token *values, size_t n, struct nscell_settings *s);
};
const struct nscell_keyword *nscell_keyword_lookup(const char *name, size_t len);
/* The known keyword within edit distance 2 of name, for "did you mean". */
const char *nscell_keyword_suggest(const char *name, size_t len);

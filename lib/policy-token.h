/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tokens and the errors about them (policy-token.c). */
#pragma once

#include <stdbool.h>

#include "policy-internal.h"

/* Report an error at a token (t NULL: the whole line). Returns -EINVAL. */
int nscell_parser_error(struct nscell_parser *p, const struct nscell_token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Case-insensitive comparison of a token with a word. */
bool nscell_token_equal(const struct nscell_token *t, const char *word);

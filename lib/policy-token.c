/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tokens and the errors about them: what the parser (policy-parse.c) and each
 * key's value parser (policy-values.c) share, below both.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "policy-token.h"

int nscell_parser_error(struct nscell_parser *p, const struct nscell_token *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) nscell_diag_verrorf(&p->diag, p->file_no, p->file, p->line_no,
				   t ? nscell_token_column(p, t) : 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool nscell_token_equal(const struct nscell_token *t, const char *word)
{
	return strlen(word) == t->len && strncasecmp(t->start, word, t->len) == 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* From text to a policy, and its freeing (policy-parse.c). */
#pragma once

#include <stddef.h>

#include "policy-internal.h"

int nscell_parser_init(struct nscell_parser *p);
void nscell_parser_done(struct nscell_parser *p);
/* Register a file name; returns the stored copy or NULL on -ENOMEM. */
const char *nscell_parser_add_file(struct nscell_parser *p, const char *name);
/* Parse one file's contents (the file was added with nscell_parser_add_file). */
void nscell_parser_feed(struct nscell_parser *p, const char *buf, size_t len);
/* Report a problem with the file as a whole. */
void nscell_parser_file_error(struct nscell_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run the checks on effective settings and hand out the policy or the diagnostics. */
int nscell_parser_finish(struct nscell_parser *p, struct nscell_policy **ret, struct nscell_diag *diag);

/* Free what a block owns. */
void nscell_block_done(struct nscell_block *b);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy-limits.c: the parsers of the limit keys (MemoryMax ... IOWeight,
 * LimitsUnavailable), for the key table in policy-values.c. */
#pragma once

#include "policy-values.h"

int nscell_parse_limit_bytes(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_limit_tasks(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_cpu_quota(struct nscell_parser *p, const struct nscell_keyword *kw,
			   const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_weight(struct nscell_parser *p, const struct nscell_keyword *kw,
			const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_limits_unavailable(struct nscell_parser *p, const struct nscell_keyword *kw,
				    const struct nscell_token *values, size_t n,
				    struct nscell_settings *s);

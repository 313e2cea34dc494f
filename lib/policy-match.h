/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Match lines against a login, and the decision (policy-match.c). */
#pragma once

#include "policy-internal.h"

void nscell_block_merge(const struct nscell_block *b, struct nscell_settings *s,
			struct nscell_origin origin[_NSCELL_KEY_MAX]);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Contradictions visible only on effective settings (policy-check.c). */
#pragma once

#include "policy-internal.h"

void nscell_policy_check_effective(struct nscell_parser *p);

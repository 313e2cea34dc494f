/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Numbers as people write them in the policy and read them in nscell's output. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "N" with the largest suffix of `suffixes` (" KMG": none, then K, M, G)
 * whose power of 1024 divides it exactly: 1073741824 -> "1G". */
void nscell_format_scaled(char *buf, size_t size, uint64_t v, const char *suffixes);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>

#include "format.h"

void nscell_format_scaled(char *buf, size_t size, uint64_t v, const char *suffixes)
{
	size_t i = 0;

	while (v > 0 && v % 1024 == 0 && suffixes[i + 1] != '\0') {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, size, "%" PRIu64, v);
	else
		snprintf(buf, size, "%" PRIu64 "%c", v, suffixes[i]);
}

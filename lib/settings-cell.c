/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cell-level part of a login's settings, as one block of bytes: the
 * helper makes a cell with it (helper/cell.c), a login that would join the
 * cell sends its own (JOIN_SAME, proto.h), and the init compares the two
 * byte for byte, knowing nothing of the keys. Built from the same key table
 * as nscell_settings_cell_diff(), so the two never disagree on which keys
 * count.
 */
#include <string.h>

#include "settings-keys.h"

void nscell_settings_cell_part(const struct nscell_settings *s, struct nscell_settings *ret)
{
	/* Zeroed, padding included: only what a key copies can differ. */
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < _NSCELL_KEY_MAX; i++) {
		enum nscell_key k = (enum nscell_key) i;

		if (nscell_key_level(k) == NSCELL_LEVEL_CELL && nscell_key_has_effect(s, k))
			nscell_settings_copy_key(ret, s, k);
	}
}

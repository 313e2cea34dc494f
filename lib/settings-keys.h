/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The settings seen key by key: the names the policy language uses for each
 * value, the span of the struct each key owns (what a Match block stores of
 * it), copying one key, and printing a key's value the way the policy would
 * spell it (for `nscell explain`).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "settings.h"

/* Every capability up to the newest one this build knows. */
#define NSCELL_CAPS_ALL(last_cap) (((last_cap) >= 63) ? UINT64_MAX : ((UINT64_C(1) << ((last_cap) + 1)) - 1))

/* The policy spelling of one namespace bit ("pid", "mount", ...), or NULL. */
const char *nscell_namespace_name(unsigned ns_bit);

const char *nscell_scope_name(enum nscell_scope v);
const char *nscell_logout_name(enum nscell_logout v);
const char *nscell_propagation_name(enum nscell_propagation v);
const char *nscell_hidepid_name(enum nscell_hidepid v);
const char *nscell_proc_subset_name(enum nscell_proc_subset v);
const char *nscell_dir_kind_name(enum nscell_dir_kind v);
const char *nscell_userns_fallback_name(enum nscell_userns_fallback v);
const char *nscell_protect_home_name(enum nscell_protect_home v);
const char *nscell_protect_system_name(enum nscell_protect_system v);

/* The path list a *Paths key configures, or _NSCELL_VIEW_LIST_MAX. */
enum nscell_view_list nscell_key_to_view_list(enum nscell_key k);

/* The directory a Tmp/VarTmp/DevShm key configures, or _NSCELL_DIR_MAX. */
enum nscell_dir nscell_key_to_dir(enum nscell_key k);

/* The bytes of struct nscell_settings that key k controls: one contiguous
 * span per key, disjoint from every other key's. A string span (a path or a
 * host name) holds a NUL-terminated string, the rest of it zero. */
struct nscell_key_span {
	uint16_t offset, size;
	bool string;
};
/* NULL for a k out of range. */
const struct nscell_key_span *nscell_key_span(enum nscell_key k);

/* Copy the field(s) that key k controls from src to dst. */
void nscell_settings_copy_key(struct nscell_settings *dst, const struct nscell_settings *src,
			      enum nscell_key k);

/*
 * nscell_settings_format_key - the value of key k in policy syntax, e.g.
 * "tmpfs size=1G mode=1777" or "10min".
 *
 * Returns 0 and a string the caller frees, or -ENOMEM.
 */
int nscell_settings_format_key(const struct nscell_settings *s, enum nscell_key k, char **ret);

/* Where a key takes effect. One table (settings.c) says it for every key: a
 * session may join a live cell only if every cell-level key agrees. */
enum nscell_key_level {
	NSCELL_LEVEL_LOGIN,   /* decides for the login itself: Isolate, Scope, MaxCells */
	NSCELL_LEVEL_CELL,    /* fixed when the cell is made, shared by all its sessions */
	NSCELL_LEVEL_SESSION, /* applied by each session as it joins */
};
enum nscell_key_level nscell_key_level(enum nscell_key k);

/* Whether key k does anything under s (DrainLimit with Logout kill does
 * not; see nscell_settings_cell_diff). */
bool nscell_key_has_effect(const struct nscell_settings *s, enum nscell_key k);

/*
 * nscell_settings_cell_part - the cell-level keys of s that have an effect,
 * every other byte zero: what a cell is made with and what a login that
 * joins it must bring (the init compares the two byte for byte, proto.h
 * JOIN_SAME). Equal parts mean nscell_settings_cell_diff() finds no key
 * differing; parts that differ only in bytes no key shows are not joined
 * that way, and the caller asks again with SETTINGS.
 */
void nscell_settings_cell_part(const struct nscell_settings *s, struct nscell_settings *ret);

/*
 * nscell_settings_cell_diff - compare the cell-level settings a live cell was
 * made with to those a login asks for. Keys that have no effect under `want`
 * (DrainLimit with Logout kill, Hostname without a UTS namespace,
 * PersistentRoot with no persistent directory) are not compared.
 *
 * Returns the number of differing keys (0: the login may join) and, when
 * buf is given, "Key: cell 'v', login 'w'; ..." for them; or -ENOMEM.
 */
int nscell_settings_cell_diff(const struct nscell_settings *cell, const struct nscell_settings *want,
			      char *buf, size_t size);

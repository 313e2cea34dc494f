/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-key view of settings: names, copying one key, and printing values
 * back in policy syntax (what `nscell explain` shows).
 */
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>

#include "settings-keys.h"
#include "test-util.h"

static void assert_formats(const struct nscell_settings *s, enum nscell_key k, const char *want)
{
	char *got = NULL;

	assert_int_equal(nscell_settings_format_key(s, k, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_key_names_and_dirs(void **state)
{
	assert_string_equal(nscell_key_name(NSCELL_KEY_ISOLATE), "Isolate");
	assert_string_equal(nscell_key_name(NSCELL_KEY_USERNS_FALLBACK), "UserNamespaceFallback");
	assert_null(nscell_key_name(_NSCELL_KEY_MAX));
	for (int k = 0; k < _NSCELL_KEY_MAX; k++)
		assert_non_null(nscell_key_name(k));
	assert_string_equal(nscell_dir_path(NSCELL_DIR_TMP), "/tmp");
	assert_string_equal(nscell_dir_path(NSCELL_DIR_VARTMP), "/var/tmp");
	assert_string_equal(nscell_dir_path(NSCELL_DIR_DEVSHM), "/dev/shm");
	assert_null(nscell_dir_path(_NSCELL_DIR_MAX));
}

static void test_format_defaults(void **state)
{
	struct nscell_settings s;

	nscell_settings_init(&s);
	assert_formats(&s, NSCELL_KEY_ISOLATE, "yes");
	assert_formats(&s, NSCELL_KEY_SCOPE, "session");
	assert_formats(&s, NSCELL_KEY_NAMESPACES, "pid mount ipc");
	assert_formats(&s, NSCELL_KEY_HOSTNAME, "(unchanged)");
	assert_formats(&s, NSCELL_KEY_PROC_HIDEPID, "off");
	assert_formats(&s, NSCELL_KEY_PROC_SUBSET, "all");
	assert_formats(&s, NSCELL_KEY_TMP, "tmpfs mode=1777");
	assert_formats(&s, NSCELL_KEY_PERSISTENT_ROOT, "/var/lib/nscell/persistent");
	assert_formats(&s, NSCELL_KEY_LOGOUT, "kill");
	assert_formats(&s, NSCELL_KEY_DRAIN_LIMIT, "10min");
	assert_formats(&s, NSCELL_KEY_PROPAGATION, "slave");
	assert_formats(&s, NSCELL_KEY_NO_NEW_PRIVS, "no");
	assert_formats(&s, NSCELL_KEY_DROP_CAPABILITIES, "none");
	assert_formats(&s, NSCELL_KEY_RESTRICT_NAMESPACES, "none");
	assert_formats(&s, NSCELL_KEY_USERNS_FALLBACK, "deny");
	assert_formats(&s, NSCELL_KEY_MAX_CELLS, "16");
	assert_formats(&s, NSCELL_KEY_PRIVATE_DEVICES, "no");
	assert_formats(&s, NSCELL_KEY_PRIVATE_LOGINS, "no");
}

static void test_every_key_has_a_level(void **state)
{
	assert_int_equal(nscell_key_level(NSCELL_KEY_SCOPE), NSCELL_LEVEL_LOGIN);
	assert_int_equal(nscell_key_level(NSCELL_KEY_MAX_CELLS), NSCELL_LEVEL_LOGIN);
	assert_int_equal(nscell_key_level(NSCELL_KEY_TMP), NSCELL_LEVEL_CELL);
	assert_int_equal(nscell_key_level(NSCELL_KEY_PROC_HIDEPID), NSCELL_LEVEL_CELL);
	assert_int_equal(nscell_key_level(NSCELL_KEY_LOGOUT), NSCELL_LEVEL_CELL);
	assert_int_equal(nscell_key_level(NSCELL_KEY_NO_NEW_PRIVS), NSCELL_LEVEL_SESSION);
	assert_int_equal(nscell_key_level(NSCELL_KEY_PRIVATE_DEVICES), NSCELL_LEVEL_CELL);
	assert_int_equal(nscell_key_level(NSCELL_KEY_PRIVATE_LOGINS), NSCELL_LEVEL_CELL);
	/* Unknown keys make joins stricter. */
	assert_int_equal(nscell_key_level(_NSCELL_KEY_MAX), NSCELL_LEVEL_CELL);
}

static void test_cell_diff(void **state)
{
	struct nscell_settings cell = defaults_of("Scope user\nTmp shared\nLogout drain\n");
	struct nscell_settings want = defaults_of("Scope user\nProcHidePid invisible\nNoNewPrivs yes\n");
	char buf[400];

	assert_int_equal(nscell_settings_cell_diff(&cell, &cell, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(nscell_settings_cell_diff(&cell, &want, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "ProcHidePid: cell 'off', login 'invisible'; "
				 "Tmp: cell 'shared', login 'tmpfs mode=1777'; "
				 "Logout: cell 'drain', login 'kill'");
	/* Session-level keys and keys without effect are not compared. */
	want = defaults_of("Scope user\nNoNewPrivs yes\nDrainLimit 1h\nPersistentRoot /x\nMaxCells 2\n");
	nscell_settings_init(&cell);
	assert_int_equal(nscell_settings_cell_diff(&cell, &want, NULL, 0), 0);
	/* A tiny buffer is cut, never overrun. */
	want = defaults_of("Tmp shared\nVarTmp shared\nDevShm shared\n");
	assert_int_equal(nscell_settings_cell_diff(&cell, &want, buf, 10), 3);
	assert_int_equal(strlen(buf), 9);
}

/* The cell part (JOIN_SAME's bytes) agrees with the key-by-key diff. */
static bool parts_equal(const struct nscell_settings *a, const struct nscell_settings *b)
{
	struct nscell_settings pa, pb;

	nscell_settings_cell_part(a, &pa);
	nscell_settings_cell_part(b, &pb);
	return memcmp(&pa, &pb, sizeof(pa)) == 0;
}

static void test_cell_part(void **state)
{
	static const char *const policies[] = {
		"Scope user\n",
		"Scope user\nTmp shared\nLogout drain\n",
		"Scope user\nLogout drain\nDrainLimit 1h\n",
		"Scope user\nProcHidePid invisible\n",
		"Scope user\nNamespaces pid mount uts\nHostname box\n",
		"Scope user\nMemoryMax 1G\nLimitsUnavailable ignore\n",
		"Scope user\nProtectHome own\nBindPaths /srv\n",
	};
	struct nscell_settings a, b, part;

	/* Session- and login-level keys, and keys without effect, leave the
	 * part as it is: those logins join by JOIN_SAME. */
	a = defaults_of("Scope user\n");
	b = defaults_of("Scope session\nNoNewPrivs yes\nDropCapabilities all\n"
			"RestrictNamespaces all\nMaxCells 2\nDrainLimit 1h\nPersistentRoot /x\n"
			"UserNamespaceFallback deny\nLimitsUnavailable ignore\n");
	assert_true(parts_equal(&a, &b));
	assert_int_equal(nscell_settings_cell_diff(&a, &b, NULL, 0), 0);
	/* Only cell-level bytes: the login-level ones are zero. */
	nscell_settings_cell_part(&b, &part);
	assert_false(part.isolate);
	assert_int_equal(part.drop_caps, 0);
	assert_false(part.no_new_privs);
	assert_int_equal(part.max_cells, 0);
	assert_int_equal(part.drain_limit_sec, 0); /* Logout kill: no effect */
	assert_int_equal(part.namespaces, b.namespaces);
	/* Every pair: equal parts exactly when no key differs. */
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		for (size_t j = 0; j < sizeof(policies) / sizeof(policies[0]); j++) {
			a = defaults_of(policies[i]);
			b = defaults_of(policies[j]);
			assert_int_equal(parts_equal(&a, &b), i == j);
			assert_int_equal(nscell_settings_cell_diff(&a, &b, NULL, 0) == 0, i == j);
		}
}

static void test_format_round_trips_through_the_parser(void **state)
{
	struct nscell_settings s = defaults_of("Namespaces pid,mount,uts,user\n"
					       "Hostname box\n"
					       "Tmp tmpfs size=1G inodes=2m mode=700\n"
					       "VarTmp tmpfs size=10%\n"
					       "DevShm persistent\n"
					       "DrainLimit 90\n"
					       "DropCapabilities net_raw cap_sys_admin\n"
					       "RestrictNamespaces all\n");

	assert_formats(&s, NSCELL_KEY_NAMESPACES, "pid mount uts user");
	assert_formats(&s, NSCELL_KEY_HOSTNAME, "box");
	assert_formats(&s, NSCELL_KEY_TMP, "tmpfs size=1G inodes=2m mode=0700");
	assert_formats(&s, NSCELL_KEY_VARTMP, "tmpfs size=10% mode=1777");
	assert_formats(&s, NSCELL_KEY_DEVSHM, "persistent");
	assert_formats(&s, NSCELL_KEY_DRAIN_LIMIT, "90s");
	assert_formats(&s, NSCELL_KEY_DROP_CAPABILITIES, "cap_net_raw cap_sys_admin");
	assert_formats(&s, NSCELL_KEY_RESTRICT_NAMESPACES, "all");

	s = defaults_of("Tmp tmpfs size=1536K inodes=1000\nDrainLimit 36h\nDropCapabilities all\n");
	assert_formats(&s, NSCELL_KEY_TMP, "tmpfs size=1536K inodes=1000 mode=1777");
	assert_formats(&s, NSCELL_KEY_DRAIN_LIMIT, "36h");
	assert_formats(&s, NSCELL_KEY_DROP_CAPABILITIES, "all");
}

static void test_copy_key_touches_only_that_key(void **state)
{
	struct nscell_settings a, b, want;

	nscell_settings_init(&a);
	b = defaults_of("Scope user\nTmp shared\nVarTmp persistent\nHostname x\nNamespaces pid mount uts\n");
	nscell_settings_init(&want);
	nscell_settings_copy_key(&a, &b, NSCELL_KEY_VARTMP);
	assert_int_equal(a.dirs[NSCELL_DIR_VARTMP].kind, NSCELL_DIR_PERSISTENT);
	assert_int_equal(a.dirs[NSCELL_DIR_TMP].kind, want.dirs[NSCELL_DIR_TMP].kind);
	assert_int_equal(a.scope, want.scope);
	assert_int_equal(a.namespaces, want.namespaces);
	assert_string_equal(a.hostname, "");
	nscell_settings_copy_key(&a, &b, NSCELL_KEY_HOSTNAME);
	assert_string_equal(a.hostname, "x");
	assert_int_equal(a.scope, NSCELL_SCOPE_SESSION);
}

/* Each key owns one span of the struct, disjoint from every other key's:
 * what a block stores of a key (policy-block.c) is exactly that span. */
static void test_key_spans_are_disjoint(void **state)
{
	unsigned char owner[sizeof(struct nscell_settings)];

	memset(owner, 0xff, sizeof(owner));
	assert_null(nscell_key_span(_NSCELL_KEY_MAX));
	for (int k = 0; k < _NSCELL_KEY_MAX; k++) {
		const struct nscell_key_span *sp = nscell_key_span(k);
		bool string = k == NSCELL_KEY_HOSTNAME || k == NSCELL_KEY_PERSISTENT_ROOT ||
			      nscell_key_to_view_list(k) != _NSCELL_VIEW_LIST_MAX;

		assert_non_null(sp);
		assert_true(sp->size > 0);
		assert_true((size_t) sp->offset + sp->size <= sizeof(struct nscell_settings));
		assert_int_equal(sp->string, string);
		for (size_t i = sp->offset; i < (size_t) sp->offset + sp->size; i++) {
			if (owner[i] != 0xff)
				fail_msg("%s overlaps %s", nscell_key_name(k), nscell_key_name(owner[i]));
			owner[i] = (unsigned char) k;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_names_and_dirs),
		cmocka_unit_test(test_format_defaults),
		cmocka_unit_test(test_format_round_trips_through_the_parser),
		cmocka_unit_test(test_copy_key_touches_only_that_key),
		cmocka_unit_test(test_key_spans_are_disjoint),
		cmocka_unit_test(test_every_key_has_a_level),
		cmocka_unit_test(test_cell_diff),
		cmocka_unit_test(test_cell_part),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

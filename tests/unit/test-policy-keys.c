/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every keyword with every value form it accepts, and the settings each
 * produces.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>

#include "limits.h"
#include "settings-keys.h"
#include "test-util.h"

static void test_empty_policy_gives_builtin_defaults(void **state)
{
	struct nscell_settings s = defaults_of("");

	assert_true(s.isolate);
	assert_int_equal(s.scope, NSCELL_SCOPE_SESSION);
	assert_int_equal(s.namespaces, NSCELL_NS_PID | NSCELL_NS_MNT | NSCELL_NS_IPC);
	assert_string_equal(s.hostname, "");
	assert_int_equal(s.proc_hidepid, NSCELL_HIDEPID_OFF);
	assert_int_equal(s.proc_subset, NSCELL_PROC_SUBSET_ALL);
	for (int i = 0; i < _NSCELL_DIR_MAX; i++) {
		assert_int_equal(s.dirs[i].kind, NSCELL_DIR_TMPFS);
		assert_int_equal(s.dirs[i].mode, 01777);
		assert_int_equal(s.dirs[i].size, 0);
		assert_int_equal(s.dirs[i].size_percent, 0);
		assert_int_equal(s.dirs[i].nr_inodes, 0);
	}
	assert_string_equal(s.persistent_root, "/var/lib/nscell/persistent");
	assert_int_equal(s.logout, NSCELL_LOGOUT_KILL);
	assert_int_equal(s.drain_limit_sec, 600);
	assert_int_equal(s.propagation, NSCELL_PROPAGATION_SLAVE);
	assert_false(s.no_new_privs);
	assert_int_equal(s.drop_caps, 0);
	assert_int_equal(s.restrict_namespaces, 0);
	assert_int_equal(s.userns_fallback, NSCELL_USERNS_FALLBACK_DENY);
}

static void test_comments_blank_lines_and_case(void **state)
{
	struct nscell_settings s = defaults_of("# a comment\n"
					       "\n"
					       "   \t  \n"
					       "   # indented comment\n"
					       "sCoPe   USER   # trailing comment\n"
					       "\tnonewprivs\tYes\n");

	assert_int_equal(s.scope, NSCELL_SCOPE_USER);
	assert_true(s.no_new_privs);
}

static void test_isolate(void **state)
{
	assert_false(defaults_of("Isolate no\n").isolate);
	assert_true(defaults_of("Isolate yes\n").isolate);
}

static void test_scope(void **state)
{
	assert_int_equal(defaults_of("Scope session\n").scope, NSCELL_SCOPE_SESSION);
	assert_int_equal(defaults_of("Scope user\n").scope, NSCELL_SCOPE_USER);
}

static void test_namespaces_separators(void **state)
{
	assert_int_equal(defaults_of("Namespaces pid mount\n").namespaces, NSCELL_NS_PID | NSCELL_NS_MNT);
	assert_int_equal(defaults_of("Namespaces pid,mount,net\n").namespaces,
			 NSCELL_NS_PID | NSCELL_NS_MNT | NSCELL_NS_NET);
	assert_int_equal(defaults_of("Namespaces pid, mount ,uts\t,cgroup\n").namespaces,
			 NSCELL_NS_PID | NSCELL_NS_MNT | NSCELL_NS_UTS | NSCELL_NS_CGROUP);
	assert_int_equal(defaults_of("Namespaces user cgroup net uts ipc mount pid\n").namespaces, NSCELL_NS_ALL);
	assert_int_equal(defaults_of("Namespaces PID Mount IPC\n").namespaces,
			 NSCELL_NS_PID | NSCELL_NS_MNT | NSCELL_NS_IPC);
}

static void test_hostname(void **state)
{
	char text[128];
	const char *name64 = "a123456789.b123456789.c123456789.d123456789.e123456789.f12345678";

	assert_int_equal(strlen(name64), 64);
	assert_string_equal(defaults_of("Namespaces pid mount uts\nHostname cell\n").hostname, "cell");
	assert_string_equal(defaults_of("Namespaces pid mount uts\nHostname web-1.example.org\n").hostname,
			    "web-1.example.org");
	assert_string_equal(defaults_of("Namespaces pid mount uts\nHostname 0-9\n").hostname, "0-9");
	snprintf(text, sizeof(text), "Namespaces pid mount uts\nHostname %s\n", name64);
	assert_string_equal(defaults_of(text).hostname, name64);
}

static void test_proc_options(void **state)
{
	assert_int_equal(defaults_of("ProcHidePid off\n").proc_hidepid, NSCELL_HIDEPID_OFF);
	assert_int_equal(defaults_of("ProcHidePid noaccess\n").proc_hidepid, NSCELL_HIDEPID_NOACCESS);
	assert_int_equal(defaults_of("ProcHidePid invisible\n").proc_hidepid, NSCELL_HIDEPID_INVISIBLE);
	assert_int_equal(defaults_of("ProcSubset all\n").proc_subset, NSCELL_PROC_SUBSET_ALL);
	assert_int_equal(defaults_of("ProcSubset pid\n").proc_subset, NSCELL_PROC_SUBSET_PID);
}

static void test_tmp_tmpfs_options(void **state)
{
	struct nscell_settings s;

	s = defaults_of("Tmp tmpfs size=1G inodes=10k mode=0700\n");
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_TMPFS);
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].size, UINT64_C(1) << 30);
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].size_percent, 0);
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].nr_inodes, 10 * 1024);
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].mode, 0700);
	/* The others keep their defaults. */
	assert_int_equal(s.dirs[NSCELL_DIR_VARTMP].mode, 01777);

	s = defaults_of("Tmp tmpfs\nVarTmp tmpfs size=512M\nDevShm tmpfs size=25%\n");
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].size, 0);
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].mode, 01777);
	assert_int_equal(s.dirs[NSCELL_DIR_VARTMP].size, UINT64_C(512) << 20);
	assert_int_equal(s.dirs[NSCELL_DIR_DEVSHM].size_percent, 25);
	assert_int_equal(s.dirs[NSCELL_DIR_DEVSHM].size, 0);

	s = defaults_of("Tmp tmpfs size=4096 inodes=2m mode=1777\nVarTmp TMPFS SIZE=64k\nDevShm tmpfs size=100% mode=7777\n");
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].size, 4096);
	assert_int_equal(s.dirs[NSCELL_DIR_TMP].nr_inodes, 2 * 1024 * 1024);
	assert_int_equal(s.dirs[NSCELL_DIR_VARTMP].size, 64 * 1024);
	assert_int_equal(s.dirs[NSCELL_DIR_DEVSHM].size_percent, 100);
	assert_int_equal(s.dirs[NSCELL_DIR_DEVSHM].mode, 07777);
}

static void test_tmp_persistent_and_shared(void **state)
{
	struct nscell_settings s = defaults_of("Tmp persistent\nVarTmp shared\nDevShm Shared\n");

	assert_int_equal(s.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_PERSISTENT);
	assert_int_equal(s.dirs[NSCELL_DIR_VARTMP].kind, NSCELL_DIR_SHARED);
	assert_int_equal(s.dirs[NSCELL_DIR_DEVSHM].kind, NSCELL_DIR_SHARED);
}

static void test_persistent_root(void **state)
{
	assert_string_equal(defaults_of("PersistentRoot /srv/cells\n").persistent_root, "/srv/cells");
	assert_string_equal(defaults_of("PersistentRoot /srv/cells/\n").persistent_root, "/srv/cells");
	assert_string_equal(defaults_of("PersistentRoot /srv/.cells/a..b/...\n").persistent_root, "/srv/.cells/a..b/...");

	/* 255 bytes is the longest that fits. */
	char text[300] = "PersistentRoot /";
	memset(text + strlen(text), 'x', 254);
	strcat(text, "\n");
	assert_int_equal(strlen(defaults_of(text).persistent_root), 255);
}

static void test_logout_and_drain_limit_units(void **state)
{
	assert_int_equal(defaults_of("Logout drain\n").logout, NSCELL_LOGOUT_DRAIN);
	assert_int_equal(defaults_of("Logout kill\n").logout, NSCELL_LOGOUT_KILL);
	assert_int_equal(defaults_of("DrainLimit 90\n").drain_limit_sec, 90);
	assert_int_equal(defaults_of("DrainLimit 1s\n").drain_limit_sec, 1);
	assert_int_equal(defaults_of("DrainLimit 10min\n").drain_limit_sec, 600);
	assert_int_equal(defaults_of("DrainLimit 2h\n").drain_limit_sec, 7200);
	assert_int_equal(defaults_of("DrainLimit 1d\n").drain_limit_sec, 86400);
	assert_int_equal(defaults_of("DrainLimit 30d\n").drain_limit_sec, 30 * 86400);
	assert_int_equal(defaults_of("DrainLimit 2592000\n").drain_limit_sec, 30 * 86400);
	assert_int_equal(defaults_of("DrainLimit 5MIN\n").drain_limit_sec, 300);
}

static void test_propagation_and_no_new_privs(void **state)
{
	assert_int_equal(defaults_of("Propagation private\n").propagation, NSCELL_PROPAGATION_PRIVATE);
	assert_int_equal(defaults_of("Propagation slave\n").propagation, NSCELL_PROPAGATION_SLAVE);
	assert_true(defaults_of("NoNewPrivs yes\n").no_new_privs);
	assert_false(defaults_of("NoNewPrivs no\n").no_new_privs);
}

static void test_drop_capabilities(void **state)
{
	uint64_t all = NSCELL_CAPS_ALL(CAP_LAST_CAP);

	assert_int_equal(defaults_of("DropCapabilities none\n").drop_caps, 0);
	assert_int_equal(defaults_of("DropCapabilities all\n").drop_caps, all);
	assert_true(all & (UINT64_C(1) << CAP_LAST_CAP));
	assert_false(all & (UINT64_C(1) << (CAP_LAST_CAP + 1)));
	assert_int_equal(defaults_of("DropCapabilities cap_sys_admin\n").drop_caps, UINT64_C(1) << CAP_SYS_ADMIN);
	assert_int_equal(defaults_of("DropCapabilities sys_admin, NET_RAW,Cap_Chown\n").drop_caps,
			 (UINT64_C(1) << CAP_SYS_ADMIN) | (UINT64_C(1) << CAP_NET_RAW) | (UINT64_C(1) << CAP_CHOWN));
	assert_int_equal(defaults_of("DropCapabilities checkpoint_restore\n").drop_caps,
			 UINT64_C(1) << CAP_CHECKPOINT_RESTORE);
}

static void test_restrict_namespaces_and_fallback(void **state)
{
	assert_int_equal(defaults_of("RestrictNamespaces none\n").restrict_namespaces, 0);
	assert_int_equal(defaults_of("RestrictNamespaces all\n").restrict_namespaces, NSCELL_NS_ALL);
	assert_int_equal(defaults_of("RestrictNamespaces user,net\n").restrict_namespaces, NSCELL_NS_USER | NSCELL_NS_NET);
	assert_int_equal(defaults_of("UserNamespaceFallback deny\n").userns_fallback, NSCELL_USERNS_FALLBACK_DENY);
	assert_int_equal(defaults_of("UserNamespaceFallback no-new-privs\n").userns_fallback,
			 NSCELL_USERNS_FALLBACK_NO_NEW_PRIVS);
}

static void test_match_line_forms(void **state)
{
	struct nscell_policy *p = parse_ok("Match All\n"
					   "Match User alice,bob Group staff\n"
					   "Match user !carol service sshd,su host 10.* tty pts/*\n"
					   "Match Group *,!wheel\n"
					   "Match Host !*.example.org\n");
	struct nscell_decision d = decide_user(p, "anyone");

	assert_int_equal(d.rule.line, 1);
	assert_string_equal(d.rule.file, TEST_CONF);
	assert_string_equal(d.rule_text, "Match All");
	nscell_policy_free(p);
}

static void test_match_text_excludes_comment(void **state)
{
	struct nscell_policy *p = parse_ok("Match   User  alice   # the boss\n  Scope user\n");
	struct nscell_decision d = decide_user(p, "alice");

	assert_string_equal(d.rule_text, "Match   User  alice");
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	assert_int_equal(d.origin[NSCELL_KEY_SCOPE].line, 2);
	nscell_policy_free(p);
}

static void test_hash_inside_token_is_not_a_comment(void **state)
{
	struct nscell_policy *p = parse_ok("Match User a#b\nScope user\n");
	struct nscell_decision d;

	d = decide_user(p, "a#b");
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	d = decide_user(p, "a");
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_SESSION);
	nscell_policy_free(p);
}

static void test_every_key_in_a_block(void **state)
{
	struct nscell_policy *p = parse_ok("Match Group staff\n"
					   "  Isolate yes\n"
					   "  Scope user\n"
					   "  Namespaces pid mount ipc uts net cgroup user\n"
					   "  Hostname staff-cell\n"
					   "  ProcHidePid invisible\n"
					   "  ProcSubset pid\n"
					   "  Tmp tmpfs size=2G\n"
					   "  VarTmp persistent\n"
					   "  DevShm shared\n"
					   "  PersistentRoot /srv/p\n"
					   "  Logout drain\n"
					   "  DrainLimit 1h\n"
					   "  Propagation private\n"
					   "  NoNewPrivs yes\n"
					   "  DropCapabilities all\n"
					   "  RestrictNamespaces user\n"
					   "  UserNamespaceFallback no-new-privs\n"
					   "  MaxCells 3\n"
					   "  PrivateDevices yes\n"
					   "  ProtectHome own\n"
					   "  ProtectSystem strict\n"
					   "  ReadOnlyPaths /srv/ro\n"
					   "  ReadWritePaths -/srv/rw\n"
					   "  InaccessiblePaths /srv/secret %h/.ssh\n"
					   "  BindPaths /srv/projects/%u:/project\n"
					   "  BindReadOnlyPaths /srv/data:%h/data\n"
					   "  MemoryMax 4G\n"
					   "  MemoryHigh 3G\n"
					   "  MemorySwapMax 0\n"
					   "  TasksMax 5000\n"
					   "  CPUQuota 200%\n"
					   "  CPUWeight 50\n"
					   "  IOWeight 20\n"
					   "  LimitsUnavailable ignore\n"
					   "  PrivateLogins yes\n");
	struct nscell_decision d;
	struct test_login t;

	assert_int_equal(nscell_policy_decide(p, make_login(&t, "ann", 1000, NULL, NULL, NULL, "ann", "staff", NULL), &d), 0);
	assert_int_equal(d.rule.line, 1);
	for (int k = 0; k < _NSCELL_KEY_MAX; k++) {
		assert_string_equal(d.origin[k].file, TEST_CONF);
		assert_int_equal(d.origin[k].line, k + 2);
	}
	assert_string_equal(d.settings.hostname, "staff-cell");
	assert_int_equal(d.settings.drain_limit_sec, 3600);
	assert_int_equal(d.settings.userns_fallback, NSCELL_USERNS_FALLBACK_NO_NEW_PRIVS);
	assert_int_equal(d.settings.max_cells, 3);
	assert_true(d.settings.private_devices);
	assert_int_equal(d.settings.protect_home, NSCELL_PROTECT_HOME_OWN);
	assert_int_equal(d.settings.protect_system, NSCELL_PROTECT_SYSTEM_STRICT);
	assert_string_equal(d.settings.view_paths[NSCELL_VIEW_INACCESSIBLE], "/srv/secret %h/.ssh");
	assert_string_equal(d.settings.view_paths[NSCELL_VIEW_BIND], "/srv/projects/%u:/project");
	assert_int_equal(d.settings.limits.memory_max.value, UINT64_C(4) << 30);
	assert_int_equal(d.settings.limits.memory_high.value, UINT64_C(3) << 30);
	assert_int_equal(d.settings.limits.memory_swap_max.value, 0);
	assert_int_equal(d.settings.limits.tasks_max.value, 5000);
	assert_int_equal(d.settings.limits.cpu_quota_percent, 200);
	assert_int_equal(d.settings.limits.cpu_weight, 50);
	assert_int_equal(d.settings.limits.io_weight, 20);
	assert_int_equal(d.settings.limits_unavailable, NSCELL_LIMITS_UNAVAILABLE_IGNORE);
	assert_true(d.settings.private_logins);
	nscell_policy_free(p);
}

/* Units as systemd.resource-control(5): K, M, G, T of 1024, percentages,
 * infinity; each value printed back the way it is written. */
static void test_limits(void **state)
{
	struct nscell_settings s;
	char buf[48];

	nscell_settings_init(&s);
	assert_false(nscell_limits_any(&s.limits));
	assert_int_equal(s.limits_unavailable, NSCELL_LIMITS_UNAVAILABLE_REFUSE);
	assert_true(s.limits.memory_max.value == NSCELL_LIMIT_INFINITY);
	assert_true(s.limits.tasks_max.value == NSCELL_LIMIT_INFINITY);

	assert_int_equal(defaults_of("MemoryMax 512\n").limits.memory_max.value, 512);
	assert_int_equal(defaults_of("MemoryMax 64K\n").limits.memory_max.value, 64 << 10);
	assert_int_equal(defaults_of("MemoryMax 256m\n").limits.memory_max.value, 256 << 20);
	assert_int_equal(defaults_of("MemoryHigh 4G\n").limits.memory_high.value, UINT64_C(4) << 30);
	assert_int_equal(defaults_of("MemorySwapMax 2T\n").limits.memory_swap_max.value, UINT64_C(2) << 40);
	assert_int_equal(defaults_of("MemoryMax 25%\n").limits.memory_max.percent, 25);
	assert_true(defaults_of("MemoryMax infinity\n").limits.memory_max.value == NSCELL_LIMIT_INFINITY);
	assert_int_equal(defaults_of("TasksMax 200\n").limits.tasks_max.value, 200);
	assert_int_equal(defaults_of("TasksMax 10%\n").limits.tasks_max.percent, 10);
	assert_int_equal(defaults_of("CPUQuota 50%\n").limits.cpu_quota_percent, 50);
	assert_int_equal(defaults_of("CPUQuota 400%\n").limits.cpu_quota_percent, 400);
	assert_int_equal(defaults_of("CPUQuota infinity\n").limits.cpu_quota_percent, 0);
	assert_int_equal(defaults_of("CPUWeight 10000\n").limits.cpu_weight, 10000);
	assert_int_equal(defaults_of("IOWeight 1\n").limits.io_weight, 1);
	assert_int_equal(defaults_of("IOWeight default\n").limits.io_weight, 0);
	s = defaults_of("IOWeight 5\n");
	assert_true(nscell_limits_any(&s.limits));

	s = defaults_of("MemoryMax 1536M\nMemoryHigh 25%\nTasksMax 200\nCPUQuota 50%\n");
	assert_int_equal(nscell_limits_format_key(&s, NSCELL_KEY_MEMORY_MAX, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1536M");
	assert_int_equal(nscell_limits_format_key(&s, NSCELL_KEY_MEMORY_HIGH, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "25%");
	assert_int_equal(nscell_limits_format_key(&s, NSCELL_KEY_MEMORY_SWAP_MAX, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "infinity");
	assert_int_equal(nscell_limits_format_key(&s, NSCELL_KEY_TASKS_MAX, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "200");
	assert_int_equal(nscell_limits_format_key(&s, NSCELL_KEY_CPU_QUOTA, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "50%");
	assert_int_equal(nscell_limits_format_key(&s, NSCELL_KEY_ISOLATE, buf, sizeof(buf)), -EINVAL);

	/* Percentages resolve against what the host has. */
	assert_int_equal(nscell_limit_resolve(&s.limits.memory_high, 1000), 250);
	assert_int_equal(nscell_limit_resolve(&s.limits.memory_max, 1000), 1536u << 20);
	assert_true(nscell_limit_resolve(&s.limits.memory_high, 0) == NSCELL_LIMIT_INFINITY);
}

static void test_max_cells(void **state)
{
	struct nscell_settings s;

	nscell_settings_init(&s);
	assert_int_equal(s.max_cells, NSCELL_MAX_CELLS_DEFAULT);
	assert_int_equal(defaults_of("MaxCells 1\n").max_cells, 1);
	assert_int_equal(defaults_of("MaxCells 1024\n").max_cells, 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_policy_gives_builtin_defaults),
		cmocka_unit_test(test_comments_blank_lines_and_case),
		cmocka_unit_test(test_isolate),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_namespaces_separators),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_proc_options),
		cmocka_unit_test(test_tmp_tmpfs_options),
		cmocka_unit_test(test_tmp_persistent_and_shared),
		cmocka_unit_test(test_persistent_root),
		cmocka_unit_test(test_logout_and_drain_limit_units),
		cmocka_unit_test(test_propagation_and_no_new_privs),
		cmocka_unit_test(test_drop_capabilities),
		cmocka_unit_test(test_restrict_namespaces_and_fallback),
		cmocka_unit_test(test_match_line_forms),
		cmocka_unit_test(test_match_text_excludes_comment),
		cmocka_unit_test(test_hash_inside_token_is_not_a_comment),
		cmocka_unit_test(test_every_key_in_a_block),
		cmocka_unit_test(test_max_cells),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

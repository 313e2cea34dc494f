/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every class of policy error, with the exact diagnostic a person sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "test-util.h"

static void test_unknown_keyword_suggests_close_one(void **state)
{
	assert_first_error("Isolat yes\n",
			   "nscell.conf:1:1: error: unknown keyword 'Isolat'; expected a known keyword (did you mean 'Isolate'?)");
	assert_first_error("  namspaces pid mount\n",
			   "nscell.conf:1:3: error: unknown keyword 'namspaces'; expected a known keyword (did you mean 'Namespaces'?)");
	assert_first_error("Mtach All\n",
			   "nscell.conf:1:1: error: unknown keyword 'Mtach'; expected a known keyword (did you mean 'Match'?)");
}

static void test_unknown_keyword_without_suggestion(void **state)
{
	assert_first_error("Frobnicate yes\n",
			   "nscell.conf:1:1: error: unknown keyword 'Frobnicate'; expected a keyword from nscell.conf(5)");
}

static void test_missing_value(void **state)
{
	assert_first_error("Scope\n", "nscell.conf:1:1: error: missing value for Scope; expected session or user");
	assert_first_error("Scope   # user\n", "nscell.conf:1:1: error: missing value for Scope; expected session or user");
}

static void test_bad_values(void **state)
{
	assert_first_error("Isolate maybe\n", "nscell.conf:1:9: error: invalid value 'maybe' for Isolate; expected yes or no");
	assert_first_error("ProcHidePid 2\n",
			   "nscell.conf:1:13: error: invalid value '2' for ProcHidePid; expected off, noaccess or invisible");
	assert_first_error("ProcSubset none\n", "nscell.conf:1:12: error: invalid value 'none' for ProcSubset; expected all or pid");
	assert_first_error("Logout later\n", "nscell.conf:1:8: error: invalid value 'later' for Logout; expected kill or drain");
	assert_first_error("Propagation shared\n",
			   "nscell.conf:1:13: error: invalid value 'shared' for Propagation; expected slave or private");
	assert_first_error("UserNamespaceFallback allow\n",
			   "nscell.conf:1:23: error: invalid value 'allow' for UserNamespaceFallback; expected deny or no-new-privs");
	assert_first_error("NoNewPrivs true\n", "nscell.conf:1:12: error: invalid value 'true' for NoNewPrivs; expected yes or no");
	assert_first_error("Tmp ramfs\n",
			   "nscell.conf:1:5: error: invalid value 'ramfs' for Tmp; expected tmpfs [size=N[K|M|G]|size=N%] [inodes=N[k|m]] [mode=OCTAL], persistent or shared");
}

static void test_extra_values(void **state)
{
	assert_first_error("Scope user session\n",
			   "nscell.conf:1:12: error: unexpected extra value 'session' for Scope; expected a single value");
	assert_first_error("PersistentRoot /a /b\n",
			   "nscell.conf:1:19: error: unexpected extra value '/b' for PersistentRoot; expected a single value");
	assert_first_error("VarTmp shared now\n",
			   "nscell.conf:1:15: error: unexpected extra value 'now' for VarTmp; expected nothing after shared");
}

static void test_duplicate_key_in_same_context(void **state)
{
	assert_errors("Scope user\nScope user\n",
		      "nscell.conf:2:1: error: duplicate Scope, already set at nscell.conf:1; expected each key at most once per global section (all files)",
		      NULL);
	assert_errors("Match All\n  Tmp shared\n  # again\n  TMP tmpfs\n",
		      "nscell.conf:4:3: error: duplicate Tmp, already set at nscell.conf:2; expected each key at most once per Match block",
		      NULL);
	/* A bad value still counts as set: the second line is a duplicate. */
	assert_errors("Scope bogus\nScope user\n",
		      "nscell.conf:1:7: error: invalid value 'bogus' for Scope; expected session or user",
		      "nscell.conf:2:1: error: duplicate Scope, already set at nscell.conf:1; expected each key at most once per global section (all files)",
		      NULL);
}

static void test_same_key_in_other_contexts_is_fine(void **state)
{
	nscell_policy_free(parse_ok("Scope user\nMatch User a\nScope session\nMatch User b\nScope user\n"));
}

static void test_match_without_criteria(void **state)
{
	assert_first_error("Match\n",
			   "nscell.conf:1:1: error: Match without criteria; expected Match All or Match CRITERION PATTERNS");
	assert_first_error("Match # everyone\n",
			   "nscell.conf:1:1: error: Match without criteria; expected Match All or Match CRITERION PATTERNS");
}

static void test_match_unknown_criterion(void **state)
{
	assert_first_error("Match Address 10.0.0.1\n",
			   "nscell.conf:1:7: error: unknown Match criterion 'Address'; expected User, Group, Service, Host, Tty or All");
}

static void test_match_repeated_criterion(void **state)
{
	assert_first_error("Match User a Group b user c\n",
			   "nscell.conf:1:22: error: Match criterion User repeated; expected each criterion at most once per Match line");
}

static void test_match_all_combined(void **state)
{
	assert_first_error("Match All User a\n",
			   "nscell.conf:1:7: error: Match All combined with other criteria; expected All alone");
	assert_first_error("Match User a all\n",
			   "nscell.conf:1:14: error: Match All combined with other criteria; expected All alone");
}

static void test_match_missing_patterns(void **state)
{
	assert_first_error("Match User a Group\n",
			   "nscell.conf:1:14: error: missing patterns for Match Group; expected a comma-separated list of patterns");
}

static void test_match_empty_patterns(void **state)
{
	assert_first_error("Match User a,,b\n",
			   "nscell.conf:1:14: error: empty pattern in Match User list 'a,,b'; expected a pattern between the commas");
	assert_first_error("Match User a,\n",
			   "nscell.conf:1:14: error: empty pattern in Match User list 'a,'; expected a pattern between the commas");
	assert_first_error("Match Group ,a\n",
			   "nscell.conf:1:13: error: empty pattern in Match Group list ',a'; expected a pattern between the commas");
	assert_first_error("Match Host a,!\n",
			   "nscell.conf:1:14: error: empty pattern in Match Host list 'a,!'; expected a pattern between the commas");
}

static void test_match_duplicate_pattern(void **state)
{
	assert_first_error("Match User a,b,a\n",
			   "nscell.conf:1:16: error: duplicate pattern 'a' in Match User; expected each pattern once");
	/* The same glob once positive and once negated is not a duplicate but a
	 * (useless) contradiction the matcher resolves: negation wins. */
	nscell_policy_free(parse_ok("Match User a,!a\n"));
}

static void test_namespaces_mandatory(void **state)
{
	assert_first_error("Namespaces mount ipc\n",
			   "nscell.conf:1:12: error: Namespaces lacks pid; expected pid and mount, which every cell has");
	assert_first_error("Match All\nNamespaces pid net\n",
			   "nscell.conf:2:12: error: Namespaces lacks mount; expected pid and mount, which every cell has");
	assert_first_error("Namespaces pid mount time\n",
			   "nscell.conf:1:22: error: unknown namespace 'time' in Namespaces; expected pid, mount, ipc, uts, net, cgroup or user");
	assert_first_error("Namespaces all\n",
			   "nscell.conf:1:12: error: unknown namespace 'all' in Namespaces; expected pid, mount, ipc, uts, net, cgroup or user");
}

static void test_list_separators(void **state)
{
	assert_first_error("Namespaces pid,,mount\n",
			   "nscell.conf:1:16: error: empty element in Namespaces list; expected a name before this comma");
	assert_first_error("Namespaces pid, ,mount\n",
			   "nscell.conf:1:17: error: empty element in Namespaces list; expected a name before this comma");
	assert_first_error("Namespaces ,pid mount\n",
			   "nscell.conf:1:12: error: empty element in Namespaces list; expected a name before this comma");
	assert_first_error("RestrictNamespaces net,\n",
			   "nscell.conf:1:23: error: empty element in RestrictNamespaces list; expected a name after the last comma");
}

static void test_duplicate_list_entries(void **state)
{
	assert_first_error("Namespaces pid mount pid\n",
			   "nscell.conf:1:22: error: duplicate entry 'pid' in Namespaces; expected each entry once");
	assert_first_error("DropCapabilities cap_chown CHOWN\n",
			   "nscell.conf:1:28: error: duplicate entry 'CHOWN' in DropCapabilities; expected each entry once");
	assert_first_error("RestrictNamespaces net,user,net\n",
			   "nscell.conf:1:29: error: duplicate entry 'net' in RestrictNamespaces; expected each entry once");
}

static void test_none_all_alone(void **state)
{
	assert_first_error("DropCapabilities none cap_chown\n",
			   "nscell.conf:1:18: error: 'none' combined with other entries in DropCapabilities; expected none alone");
	assert_first_error("RestrictNamespaces user all\n",
			   "nscell.conf:1:25: error: 'all' combined with other entries in RestrictNamespaces; expected all alone");
}

static void test_unknown_capability(void **state)
{
	assert_first_error("DropCapabilities cap_fly\n",
			   "nscell.conf:1:18: error: unknown capability 'cap_fly' in DropCapabilities; expected none, all or capability names such as cap_sys_admin");
	/* libcap accepts numbers; the policy does not. */
	assert_first_error("DropCapabilities 21\n",
			   "nscell.conf:1:18: error: unknown capability '21' in DropCapabilities; expected none, all or capability names such as cap_sys_admin");
}

static void test_hostname_errors(void **state)
{
	assert_first_error("Namespaces pid mount uts\nHostname -bad\n",
			   "nscell.conf:2:10: error: invalid value '-bad' for Hostname; expected an RFC 1123 host name of at most 64 characters");
	assert_first_error("Namespaces pid mount uts\nHostname a..b\n",
			   "nscell.conf:2:10: error: invalid value 'a..b' for Hostname; expected an RFC 1123 host name of at most 64 characters");
	assert_first_error("Namespaces pid mount uts\nHostname under_score\n",
			   "nscell.conf:2:10: error: invalid value 'under_score' for Hostname; expected an RFC 1123 host name of at most 64 characters");
	assert_first_error("Namespaces pid mount uts\nHostname a12345678901234567890123456789012345678901234567890123456789012345\n",
			   "nscell.conf:2:10: error: Hostname is 66 characters long; expected at most 64");
}

static void test_hostname_needs_uts(void **state)
{
	assert_first_error("Hostname cell\n",
			   "nscell.conf:1:1: error: Hostname needs uts in Namespaces, which is 'pid mount ipc' (the built-in default); expected uts added to Namespaces");
	assert_first_error("Match All\nHostname cell\n",
			   "nscell.conf:2:1: error: Hostname needs uts in Namespaces, which is 'pid mount ipc' (the built-in default); expected uts added to Namespaces");
	/* The block drops uts that the defaults' Hostname needs: reported at
	 * the block's own line. */
	assert_first_error("Namespaces pid mount uts\nHostname cell\nMatch User a\n  Namespaces pid mount\n",
			   "nscell.conf:4:3: error: Namespaces lacks uts, which Hostname (set at nscell.conf:2) needs; expected uts in this list");
	/* Reported once, at the defaults, not again for every block. */
	assert_errors("Hostname cell\nMatch User a\nScope user\n",
		      "nscell.conf:1:1: error: Hostname needs uts in Namespaces, which is 'pid mount ipc' (the built-in default); expected uts added to Namespaces",
		      NULL);
	nscell_policy_free(parse_ok("Namespaces pid mount uts\nMatch All\nHostname cell\n"));
}

static void test_drain_limit_needs_drain(void **state)
{
	assert_first_error("MaxCells 0\n",
			   "nscell.conf:1:10: error: MaxCells '0' is out of range; expected a number from 1 to 1024");
	assert_first_error("MaxCells 1025\n",
			   "nscell.conf:1:10: error: MaxCells '1025' is out of range; expected a number from 1 to 1024");
	assert_first_error("MemoryMax 0\n",
			   "nscell.conf:1:11: error: MemoryMax '0' would leave a cell no memory; expected a size above 0 or infinity");
	assert_first_error("MemoryMax 1.5G\n",
			   "nscell.conf:1:11: error: invalid value '1.5G' for MemoryMax; expected a size such as 512M or 4G (K, M, G, T: base 1024), N% of memory, or infinity");
	assert_first_error("MemoryHigh 101%\n",
			   "nscell.conf:1:12: error: invalid value '101%' for MemoryHigh; expected a size such as 512M or 4G (K, M, G, T: base 1024), N% of memory, or infinity");
	assert_first_error("MemoryMax 17179869184G\n",
			   "nscell.conf:1:11: error: MemoryMax '17179869184G' is out of range; expected at most 16E");
	assert_first_error("TasksMax 1\n",
			   "nscell.conf:1:10: error: TasksMax '1' leaves a session no room for its shell; expected 2 or more, N% or infinity");
	assert_first_error("TasksMax -5\n",
			   "nscell.conf:1:10: error: invalid value '-5' for TasksMax; expected a number of tasks, N% or infinity");
	assert_first_error("CPUQuota 50\n",
			   "nscell.conf:1:10: error: invalid value '50' for CPUQuota; expected a percentage of one CPU such as 50% or 200%, or infinity");
	assert_first_error("CPUQuota 0%\n",
			   "nscell.conf:1:10: error: invalid value '0%' for CPUQuota; expected a percentage of one CPU such as 50% or 200%, or infinity");
	assert_first_error("CPUWeight 10001\n",
			   "nscell.conf:1:11: error: invalid value '10001' for CPUWeight; expected a weight from 1 to 10000, or default");
	assert_first_error("IOWeight 0\n",
			   "nscell.conf:1:10: error: invalid value '0' for IOWeight; expected a weight from 1 to 10000, or default");
	assert_first_error("LimitsUnavailable maybe\n",
			   "nscell.conf:1:19: error: invalid value 'maybe' for LimitsUnavailable; expected refuse or ignore");
	assert_first_error("MaxCells 4x\n",
			   "nscell.conf:1:10: error: invalid value '4x' for MaxCells; expected a number of cells from 1 to 1024");
	assert_first_error("Match User a\nDrainLimit 1h\n",
			   "nscell.conf:2:1: error: DrainLimit has no effect with Logout kill (the built-in default); expected Logout drain in this block");
	assert_first_error("Logout drain\nMatch User a\nLogout kill\nDrainLimit 1h\n",
			   "nscell.conf:4:1: error: DrainLimit has no effect with Logout kill (set at nscell.conf:3); expected Logout drain in this block");
	/* A global DrainLimit is the limit for blocks that choose drain. */
	nscell_policy_free(parse_ok("DrainLimit 1h\nMatch User a\nLogout drain\n"));
	nscell_policy_free(parse_ok("Logout drain\nMatch User a\nDrainLimit 1h\n"));
}

static void test_drain_limit_range(void **state)
{
	assert_first_error("DrainLimit 0\n",
			   "nscell.conf:1:12: error: DrainLimit '0' is out of range; expected a duration from 1s to 30d");
	assert_first_error("DrainLimit 31d\n",
			   "nscell.conf:1:12: error: DrainLimit '31d' is out of range; expected a duration from 1s to 30d");
	assert_first_error("DrainLimit 2592001s\n",
			   "nscell.conf:1:12: error: DrainLimit '2592001s' is out of range; expected a duration from 1s to 30d");
	assert_first_error("DrainLimit 10m\n",
			   "nscell.conf:1:12: error: invalid value '10m' for DrainLimit; expected a duration from 1s to 30d such as 90s, 10min, 2h or 1d");
	assert_first_error("DrainLimit 99999999999999999999999s\n",
			   "nscell.conf:1:12: error: invalid value '99999999999999999999999s' for DrainLimit; expected a duration from 1s to 30d such as 90s, 10min, 2h or 1d");
	assert_first_error("DrainLimit 18446744073709551615d\n",
			   "nscell.conf:1:12: error: DrainLimit '18446744073709551615d' is out of range; expected a duration from 1s to 30d");
}

static void test_tmpfs_option_errors(void **state)
{
	assert_first_error("Tmp persistent size=1G\n",
			   "nscell.conf:1:16: error: option 'size=1G' for Tmp is only valid with tmpfs; expected nothing after persistent");
	assert_first_error("DevShm shared mode=0700\n",
			   "nscell.conf:1:15: error: option 'mode=0700' for DevShm is only valid with tmpfs; expected nothing after shared");
	assert_first_error("Tmp tmpfs size=1G size=2G\n",
			   "nscell.conf:1:19: error: tmpfs option size= given twice for Tmp; expected each option at most once");
	assert_first_error("Tmp tmpfs uid=0\n",
			   "nscell.conf:1:11: error: unknown tmpfs option 'uid=0' for Tmp; expected size=, inodes= or mode=");
	assert_first_error("Tmp tmpfs 1G\n",
			   "nscell.conf:1:11: error: unknown tmpfs option '1G' for Tmp; expected size=, inodes= or mode=");
}

static void test_tmpfs_option_values(void **state)
{
	static const char *const bad_sizes[] = { "size=0", "size=", "size=1T", "size=1GB", "size=0%", "size=101%",
						 "size=%", "size=-1", "size=17179869184G" };
	char text[128], want[256];

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		snprintf(text, sizeof(text), "VarTmp tmpfs %s\n", bad_sizes[i]);
		snprintf(want, sizeof(want),
			 "nscell.conf:1:14: error: invalid tmpfs option '%s' for VarTmp; expected size=N[K|M|G] with N > 0, or size=N%% with N from 1 to 100",
			 bad_sizes[i]);
		assert_first_error(text, want);
	}
	assert_first_error("Tmp tmpfs inodes=0\n",
			   "nscell.conf:1:11: error: invalid tmpfs option 'inodes=0' for Tmp; expected inodes=N[k|m] with N > 0");
	assert_first_error("Tmp tmpfs inodes=5g\n",
			   "nscell.conf:1:11: error: invalid tmpfs option 'inodes=5g' for Tmp; expected inodes=N[k|m] with N > 0");
	assert_first_error("Tmp tmpfs mode=0789\n",
			   "nscell.conf:1:11: error: invalid tmpfs option 'mode=0789' for Tmp; expected an octal mode up to 7777, such as mode=1777");
	assert_first_error("Tmp tmpfs mode=17777\n",
			   "nscell.conf:1:11: error: invalid tmpfs option 'mode=17777' for Tmp; expected an octal mode up to 7777, such as mode=1777");
	assert_first_error("Tmp tmpfs mode=\n",
			   "nscell.conf:1:11: error: invalid tmpfs option 'mode=' for Tmp; expected an octal mode up to 7777, such as mode=1777");
}

static void test_persistent_root_errors(void **state)
{
	char text[400];

	assert_first_error("PersistentRoot var/lib\n",
			   "nscell.conf:1:16: error: PersistentRoot 'var/lib' is not an absolute path; expected a path starting with /");
	assert_first_error("PersistentRoot /var/../etc\n",
			   "nscell.conf:1:16: error: PersistentRoot '/var/../etc' contains a '.' or '..' component; expected a plain absolute path");
	assert_first_error("PersistentRoot /var/.\n",
			   "nscell.conf:1:16: error: PersistentRoot '/var/.' contains a '.' or '..' component; expected a plain absolute path");
	assert_first_error("PersistentRoot /var//lib\n",
			   "nscell.conf:1:16: error: PersistentRoot '/var//lib' contains '//'; expected single slashes");
	assert_first_error("PersistentRoot //\n",
			   "nscell.conf:1:16: error: PersistentRoot '//' contains '//'; expected single slashes");

	strcpy(text, "PersistentRoot /");
	memset(text + strlen(text), 'x', 255);
	strcpy(text + 16 + 255, "\n");
	assert_first_error(text, "nscell.conf:1:16: error: PersistentRoot is 256 bytes long; expected fewer than 256");
}

static void test_isolate_no_block_with_other_keys(void **state)
{
	assert_errors("Match User svc-*\n  Isolate no\n  Scope user\n  Tmp shared\n",
		      "nscell.conf:3:3: error: Scope in a Match block with Isolate no (line 2); expected no other keys in an exempt block",
		      "nscell.conf:4:3: error: Tmp in a Match block with Isolate no (line 2); expected no other keys in an exempt block",
		      NULL);
	/* Order inside the block does not matter. */
	assert_first_error("Match User a\nScope user\nIsolate no\n",
			   "nscell.conf:2:1: error: Scope in a Match block with Isolate no (line 3); expected no other keys in an exempt block");
	/* Global Isolate no: a block that only tweaks keys is still exempt. */
	assert_first_error("Isolate no\nMatch Group students\nScope user\n",
			   "nscell.conf:3:1: error: Scope in a Match block that inherits Isolate no from nscell.conf:1; expected Isolate yes in this block");
	nscell_policy_free(parse_ok("Isolate no\nScope user\nMatch Group students\nIsolate yes\nScope session\n"));
}

static void test_errors_are_all_collected_and_sorted(void **state)
{
	/* Line errors and checks on effective settings interleave by position. */
	assert_errors("Hostname h\n"
		      "Bogus 1\n"
		      "Match User a\n"
		      "  DrainLimit 5min\n"
		      "  Scope wide\n"
		      "Match\n",
		      "nscell.conf:1:1: error: Hostname needs uts in Namespaces, which is 'pid mount ipc' (the built-in default); expected uts added to Namespaces",
		      "nscell.conf:2:1: error: unknown keyword 'Bogus'; expected a keyword from nscell.conf(5)",
		      "nscell.conf:4:3: error: DrainLimit has no effect with Logout kill (the built-in default); expected Logout drain in this block",
		      "nscell.conf:5:9: error: invalid value 'wide' for Scope; expected session or user",
		      "nscell.conf:6:1: error: Match without criteria; expected Match All or Match CRITERION PATTERNS",
		      NULL);
}

static void test_bad_value_is_not_checked_further(void **state)
{
	/* Namespaces is wrong on its own line; Hostname is not blamed for it. */
	assert_errors("Namespaces pid mount utz\nHostname h\n",
		      "nscell.conf:1:22: error: unknown namespace 'utz' in Namespaces; expected pid, mount, ipc, uts, net, cgroup or user",
		      NULL);
}

static void test_error_count_is_capped(void **state)
{
	size_t n = NSCELL_DIAG_MAX + 500, len = 0;
	char *text = malloc(n * 4 + 1);
	struct nscell_diag d;
	char want[64];

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t) sprintf(text + len, "xy\n");
	d = parse_bad(text);
	assert_int_equal(d.n_lines, NSCELL_DIAG_MAX + 1);
	snprintf(want, sizeof(want), "%d more errors not shown", 500);
	assert_string_equal(d.lines[NSCELL_DIAG_MAX], want);
	nscell_diag_free(&d);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_keyword_suggests_close_one),
		cmocka_unit_test(test_unknown_keyword_without_suggestion),
		cmocka_unit_test(test_missing_value),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_extra_values),
		cmocka_unit_test(test_duplicate_key_in_same_context),
		cmocka_unit_test(test_same_key_in_other_contexts_is_fine),
		cmocka_unit_test(test_match_without_criteria),
		cmocka_unit_test(test_match_unknown_criterion),
		cmocka_unit_test(test_match_repeated_criterion),
		cmocka_unit_test(test_match_all_combined),
		cmocka_unit_test(test_match_missing_patterns),
		cmocka_unit_test(test_match_empty_patterns),
		cmocka_unit_test(test_match_duplicate_pattern),
		cmocka_unit_test(test_namespaces_mandatory),
		cmocka_unit_test(test_list_separators),
		cmocka_unit_test(test_duplicate_list_entries),
		cmocka_unit_test(test_none_all_alone),
		cmocka_unit_test(test_unknown_capability),
		cmocka_unit_test(test_hostname_errors),
		cmocka_unit_test(test_hostname_needs_uts),
		cmocka_unit_test(test_drain_limit_needs_drain),
		cmocka_unit_test(test_drain_limit_range),
		cmocka_unit_test(test_tmpfs_option_errors),
		cmocka_unit_test(test_tmpfs_option_values),
		cmocka_unit_test(test_persistent_root_errors),
		cmocka_unit_test(test_isolate_no_block_with_other_keys),
		cmocka_unit_test(test_errors_are_all_collected_and_sorted),
		cmocka_unit_test(test_bad_value_is_not_checked_further),
		cmocka_unit_test(test_error_count_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

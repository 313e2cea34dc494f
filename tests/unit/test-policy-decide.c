/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Deciding for a login: first match wins, defaults fill the rest, root is
 * exempt unless named, and how each criterion and pattern form matches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "settings-keys.h"
#include "test-util.h"
#include "verdict.h"

static struct nscell_decision decide(const struct nscell_policy *p, const struct nscell_login *l)
{
	struct nscell_decision d;

	assert_int_equal(nscell_policy_decide(p, l, &d), 0);
	return d;
}

/* The line of the deciding block, 0 for none. */
static unsigned rule_line(const struct nscell_policy *p, const struct nscell_login *l)
{
	return decide(p, l).rule.line;
}

static void test_no_blocks_means_defaults(void **state)
{
	struct nscell_policy *p = parse_ok("Scope user\n");
	struct nscell_decision d = decide_user(p, "alice");

	assert_null(d.rule.file);
	assert_null(d.rule_text);
	assert_false(d.root_exempt);
	assert_true(d.settings.isolate);
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	assert_string_equal(d.origin[NSCELL_KEY_SCOPE].file, TEST_CONF);
	assert_int_equal(d.origin[NSCELL_KEY_SCOPE].line, 1);
	assert_null(d.origin[NSCELL_KEY_ISOLATE].file);
	nscell_policy_free(p);
}

static void test_first_match_wins(void **state)
{
	struct nscell_policy *p = parse_ok("Match User alice\n  Scope user\n"
					   "Match All\n  Tmp shared\n");
	struct nscell_decision d = decide_user(p, "alice");

	assert_int_equal(d.rule.line, 1);
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	/* The second block also matches alice, but never merges in. */
	assert_int_equal(d.settings.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_TMPFS);

	d = decide_user(p, "bob");
	assert_int_equal(d.rule.line, 3);
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_SESSION);
	assert_int_equal(d.settings.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_SHARED);
	nscell_policy_free(p);
}

static void test_unset_keys_come_from_defaults_with_origin(void **state)
{
	struct nscell_policy *p = parse_ok("Logout drain\n"
					   "DrainLimit 1h\n"
					   "Match User alice\n"
					   "  DrainLimit 2h\n");
	struct nscell_decision d = decide_user(p, "alice");

	assert_int_equal(d.settings.logout, NSCELL_LOGOUT_DRAIN);
	assert_int_equal(d.origin[NSCELL_KEY_LOGOUT].line, 1);
	assert_int_equal(d.settings.drain_limit_sec, 7200);
	assert_int_equal(d.origin[NSCELL_KEY_DRAIN_LIMIT].line, 4);
	assert_null(d.origin[NSCELL_KEY_SCOPE].file);
	nscell_policy_free(p);
}

static void test_no_match_falls_back_to_defaults(void **state)
{
	struct nscell_policy *p = parse_ok("Isolate no\nMatch Group students\n  Isolate yes\n");
	struct nscell_decision d = decide_user(p, "staffer");

	assert_null(d.rule.file);
	assert_false(d.settings.isolate);
	assert_false(d.root_exempt);
	assert_int_equal(d.origin[NSCELL_KEY_ISOLATE].line, 1);
	nscell_policy_free(p);
}

static void test_isolate_no_block_exempts(void **state)
{
	struct nscell_policy *p = parse_ok("Match User backup\n  Isolate no\n");
	struct nscell_decision d = decide_user(p, "backup");

	assert_false(d.settings.isolate);
	assert_false(d.root_exempt);
	assert_int_equal(d.rule.line, 1);
	assert_int_equal(d.origin[NSCELL_KEY_ISOLATE].line, 2);
	nscell_policy_free(p);
}

static void test_root_exempt_from_match_all(void **state)
{
	struct nscell_policy *p = parse_ok("Match All\n  Scope user\n");
	struct nscell_decision d = decide_user(p, "root");

	assert_true(d.root_exempt);
	assert_false(d.settings.isolate);
	assert_null(d.rule.file);
	nscell_policy_free(p);

	/* No blocks at all: root is still exempt from the defaults. */
	p = parse_ok("");
	d = decide_user(p, "root");
	assert_true(d.root_exempt);
	assert_false(d.settings.isolate);
	nscell_policy_free(p);
}

static void test_root_isolated_when_named(void **state)
{
	struct nscell_policy *p = parse_ok("Match User root\n  Scope user\n");
	struct nscell_decision d = decide_user(p, "root");

	assert_false(d.root_exempt);
	assert_true(d.settings.isolate);
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	assert_int_equal(d.rule.line, 1);
	nscell_policy_free(p);

	/* In a list with others, and with further criteria that match. */
	p = parse_ok("Match User alice,root Service sshd\n");
	struct test_login t;
	d = decide(p, make_login(&t, "root", 0, "sshd", NULL, NULL, "root", NULL));
	assert_false(d.root_exempt);
	assert_true(d.settings.isolate);
	d = decide(p, make_login(&t, "root", 0, "su", NULL, NULL, "root", NULL));
	assert_true(d.root_exempt);
	nscell_policy_free(p);
}

static void test_root_glob_does_not_count(void **state)
{
	static const char *const policies[] = {
		"Match User r*\n",
		"Match User roo?\n",
		"Match User [r]oot\n",
		"Match User *\n",
		"Match Group root\n",
		"Match User !alice\n",
	};

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct nscell_policy *p = parse_ok(policies[i]);
		struct test_login t;
		struct nscell_decision d = decide(p, make_login(&t, "root", 0, NULL, NULL, NULL, "root", NULL));

		assert_true(d.root_exempt);
		assert_false(d.settings.isolate);
		nscell_policy_free(p);
	}
}

static void test_root_skips_blocks_that_do_not_name_it(void **state)
{
	struct nscell_policy *p = parse_ok("Match All\n  Tmp shared\n"
					   "Match User root\n  Scope user\n");
	struct nscell_decision d = decide_user(p, "root");

	assert_false(d.root_exempt);
	assert_int_equal(d.rule.line, 3);
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	assert_int_equal(d.settings.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_TMPFS);
	nscell_policy_free(p);
}

static void test_root_named_but_negated_elsewhere(void **state)
{
	/* "root" named positively, but the block's other criterion fails. */
	struct nscell_policy *p = parse_ok("Match User root Host !10.*\n");
	struct test_login t;

	assert_true(decide(p, make_login(&t, "root", 0, NULL, "10.1.1.1", NULL, NULL)).root_exempt);
	assert_false(decide(p, make_login(&t, "root", 0, NULL, "192.0.2.1", NULL, NULL)).root_exempt);
	nscell_policy_free(p);

	/* Named root that sets Isolate no: exempt by the rule, not by the exemption. */
	p = parse_ok("Match User root\n  Isolate no\n");
	struct nscell_decision d = decide_user(p, "root");
	assert_false(d.root_exempt);
	assert_false(d.settings.isolate);
	assert_int_equal(d.rule.line, 1);
	nscell_policy_free(p);
}

static void test_uid_zero_under_another_name(void **state)
{
	/* The exemption is about uid 0, whatever the account is called. */
	struct nscell_policy *p = parse_ok("Match All\n");
	struct test_login t;

	assert_true(decide(p, make_login(&t, "toor", 0, NULL, NULL, NULL, NULL)).root_exempt);
	assert_false(decide(p, make_login(&t, "root", 1000, NULL, NULL, NULL, NULL)).root_exempt);
	nscell_policy_free(p);
}

static void test_negation(void **state)
{
	struct nscell_policy *p = parse_ok("Match User !bob\n  Scope user\n"
					   "Match User *,!carol\n  Tmp shared\n");
	struct test_login t;

	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, NULL, NULL, NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "bob", 1000, NULL, NULL, NULL, NULL)), 3);
	nscell_policy_free(p);

	/* A negated pattern excludes even if a positive one matches. */
	p = parse_ok("Match User a*,!admin\n");
	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, NULL, NULL, NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "admin", 1000, NULL, NULL, NULL, NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "bob", 1000, NULL, NULL, NULL, NULL)), 0);
	nscell_policy_free(p);
}

static void test_globs(void **state)
{
	struct nscell_policy *p = parse_ok("Match User stud-????\n"
					   "Match User [a-c]*\n"
					   "Match User *x\n");
	struct test_login t;

	assert_int_equal(rule_line(p, make_login(&t, "stud-0042", 1000, NULL, NULL, NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "stud-00421", 1000, NULL, NULL, NULL, NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "carol", 1000, NULL, NULL, NULL, NULL)), 2);
	assert_int_equal(rule_line(p, make_login(&t, "dan", 1000, NULL, NULL, NULL, NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "max", 1000, NULL, NULL, NULL, NULL)), 3);
	/* User names are case-sensitive. */
	assert_int_equal(rule_line(p, make_login(&t, "Alice", 1000, NULL, NULL, NULL, NULL)), 0);
	nscell_policy_free(p);
}

static void test_group_primary_and_supplementary(void **state)
{
	struct nscell_policy *p = parse_ok("Match Group staff\n  Scope user\n"
					   "Match Group !wheel\n  Tmp shared\n");
	struct test_login t;

	/* Primary group. */
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, "staff", NULL)), 1);
	/* Third supplementary group. */
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, "a", "audio", "staff", NULL)), 1);
	/* Negation looks at every group. */
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, "a", "audio", NULL)), 3);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, "a", "wheel", NULL)), 0);
	/* No groups at all: only negated-only lists match. */
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, NULL)), 3);
	nscell_policy_free(p);
}

/* An LDAP-style account: its supplementary groups exist only in the
 * directory, which here is a stubbed NSS. */
static int stub_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
	*result = NULL;
	if (strcmp(name, "ldapuser") != 0)
		return 0;
	if (buflen < 64)
		return ERANGE;
	strcpy(buf, "ldapuser");
	*pwd = (struct passwd) { .pw_name = buf, .pw_uid = 50001, .pw_gid = 50000, .pw_dir = buf, .pw_shell = buf };
	*result = pwd;
	return 0;
}

static int stub_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	static const gid_t mine[] = { 50000, 60001, 60002 };
	int n = 3;

	if (*ngroups < n) {
		*ngroups = n;
		return -1;
	}
	memcpy(groups, mine, sizeof(mine));
	*ngroups = n;
	return n;
}

static int stub_getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t buflen, struct group **result)
{
	const char *name = gid == 50000 ? "ldapusers" : gid == 60001 ? "hpc-cluster" : gid == 60002 ? "lab-42" : NULL;

	*result = NULL;
	if (!name)
		return 0;
	if (buflen < strlen(name) + 1)
		return ERANGE;
	strcpy(buf, name);
	*grp = (struct group) { .gr_name = buf, .gr_gid = gid };
	*result = grp;
	return 0;
}

static void test_group_through_ldap_style_nss(void **state)
{
	static const struct nscell_nss_ops ops = { stub_getpwnam_r, stub_getgrouplist, stub_getgrgid_r };
	struct nscell_policy *p = parse_ok("Match Group hpc-*\n  Scope user\n");
	struct nscell_identity *id = NULL;
	struct nscell_login login;
	struct nscell_decision d;

	assert_int_equal(nscell_identity_resolve("ldapuser", &ops, &id), 0);
	nscell_identity_to_login(id, "sshd", "198.51.100.7", "ssh", &login);
	d = decide(p, &login);
	assert_int_equal(d.rule.line, 1);
	assert_int_equal(d.settings.scope, NSCELL_SCOPE_USER);
	nscell_identity_free(id);
	nscell_policy_free(p);
}

/* Groups not looked up yet: a decision that reaches a Group criterion
 * says so and leaves *ret alone; one made before it needs none. */
static void test_groups_only_when_a_group_criterion_is_reached(void **state)
{
	struct nscell_policy *p = parse_ok("Match User svc\n  Isolate no\n"
					   "Match User carol Group staff\n  Scope user\n"
					   "Match Group staff\n  Tmp shared\n");
	struct test_login t;
	struct nscell_decision d = { .rule_text = "untouched" };

	make_login(&t, "svc", 1000, NULL, NULL, NULL, NULL)->groups_unresolved = true;
	assert_int_equal(nscell_policy_decide(p, &t.login, &d), 0);
	assert_int_equal(d.rule.line, 1);
	assert_false(d.settings.isolate);

	/* dave fails the User criterion before its Group one, then reaches
	 * the Group block. */
	d.rule_text = "untouched";
	make_login(&t, "dave", 1000, NULL, NULL, NULL, NULL)->groups_unresolved = true;
	assert_int_equal(nscell_policy_decide(p, &t.login, &d), NSCELL_POLICY_NEEDS_GROUPS);
	assert_string_equal(d.rule_text, "untouched");
	make_login(&t, "dave", 1000, NULL, NULL, NULL, "dave", "staff", NULL);
	assert_int_equal(rule_line(p, &t.login), 5);

	/* root skips every block that does not name it, Group ones included. */
	make_login(&t, "root", 0, NULL, NULL, NULL, NULL)->groups_unresolved = true;
	assert_int_equal(nscell_policy_decide(p, &t.login, &d), 0);
	assert_true(d.root_exempt);
	nscell_policy_free(p);
}

static unsigned grouplist_calls;

static int counting_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	grouplist_calls++;
	return stub_getgrouplist(user, group, groups, ngroups);
}

/* The verdict looks the groups up only for a decision that needs them. */
static void test_verdict_resolves_groups_lazily(void **state)
{
	static const struct nscell_nss_ops ops = { stub_getpwnam_r, counting_getgrouplist, stub_getgrgid_r };
	char *dir = make_temp_dir();
	char *conf = write_file(dir, "nscell.conf", "Match User ldapuser Service cron\n  Isolate no\n"
				"Match Group hpc-*\n  Scope user\n", 0644);
	const struct nscell_verdict_query cron = { .conf = conf, .service = "cron", .nss = &ops },
					  sshd = { .conf = conf, .service = "sshd", .nss = &ops };
	struct nscell_identity *id = NULL;
	struct nscell_verdict v;
	char why[300];

	grouplist_calls = 0;
	assert_int_equal(nscell_identity_resolve_user("ldapuser", &ops, &id), 0);
	assert_int_equal(nscell_verdict_decide(id, &cron, &v, why, sizeof(why)), 0);
	assert_false(v.decision.settings.isolate);
	assert_int_equal(grouplist_calls, 0);
	assert_null(id->groups);
	nscell_verdict_free(&v);

	assert_int_equal(nscell_verdict_decide(id, &sshd, &v, why, sizeof(why)), 0);
	assert_int_equal(v.decision.rule.line, 3);
	assert_int_equal(v.decision.settings.scope, NSCELL_SCOPE_USER);
	assert_int_equal(grouplist_calls, 1);
	assert_int_equal(v.login.n_groups, 3);
	nscell_verdict_free(&v);
	nscell_identity_free(id);
	remove_tree(dir);
	free(conf);
	free(dir);
}

static void test_service_criterion(void **state)
{
	struct nscell_policy *p = parse_ok("Match Service sshd,su*\nMatch Service !cron\n");
	struct test_login t;

	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, "sshd", NULL, NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, "su-l", NULL, NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, "login", NULL, NULL, NULL)), 2);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, "cron", NULL, NULL, NULL)), 0);
	/* No service: fails the positive list, passes the negated-only one. */
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, NULL)), 2);
	nscell_policy_free(p);
}

static void test_host_criterion(void **state)
{
	struct nscell_policy *p = parse_ok("Match Host *.example.org,192.0.2.*\nMatch Host !10.*\n");
	struct test_login t;

	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, "ws1.example.org", NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, "WS1.Example.ORG", NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, "192.0.2.44", NULL, NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, "10.0.0.1", NULL, NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, "203.0.113.9", NULL, NULL)), 2);
	/* A local login has no rhost: it fails Host *, passes Host !10.*. */
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, NULL)), 2);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, "", NULL, NULL)), 2);
	nscell_policy_free(p);

	p = parse_ok("Match Host *\n");
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, NULL)), 0);
	nscell_policy_free(p);
}

static void test_tty_criterion(void **state)
{
	struct nscell_policy *p = parse_ok("Match Tty pts/*\nMatch Tty /dev/tty[0-9]*\nMatch Tty ssh\n");
	struct test_login t;

	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, "/dev/pts/3", NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, "pts/3", NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, "/dev/tty1", NULL)), 2);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, "tty1", NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, "ssh", NULL)), 3);
	assert_int_equal(rule_line(p, make_login(&t, "a", 1000, NULL, NULL, NULL, NULL)), 0);
	nscell_policy_free(p);
}

static void test_all_criteria_must_match(void **state)
{
	struct nscell_policy *p = parse_ok("Match User alice Service sshd Host 192.0.2.* Tty ssh Group staff\n");
	struct test_login t;

	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, "sshd", "192.0.2.1", "ssh", "staff", NULL)), 1);
	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, "su", "192.0.2.1", "ssh", "staff", NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, "sshd", "192.0.3.1", "ssh", "staff", NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, "sshd", "192.0.2.1", "pts/1", "staff", NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "alice", 1000, "sshd", "192.0.2.1", "ssh", "users", NULL)), 0);
	assert_int_equal(rule_line(p, make_login(&t, "bob", 1000, "sshd", "192.0.2.1", "ssh", "staff", NULL)), 0);
	nscell_policy_free(p);
}

/* Every key set to something else than its built-in value. */
#define EVERY_KEY "Isolate yes\nScope user\nNamespaces pid mount uts ipc\nHostname cellhost\n" \
	"ProcHidePid invisible\nProcSubset pid\nTmp tmpfs size=1G inodes=10k mode=700\nVarTmp persistent\n" \
	"DevShm shared\nPersistentRoot /p\nLogout drain\nDrainLimit 5min\nPropagation private\n" \
	"NoNewPrivs yes\nDropCapabilities cap_sys_admin\nRestrictNamespaces net\n" \
	"UserNamespaceFallback no-new-privs\nMaxCells 3\nPrivateDevices yes\nPrivateLogins yes\n" \
	"ProtectHome own\nProtectSystem full\nReadOnlyPaths /srv\nReadWritePaths /srv/w\n" \
	"InaccessiblePaths /opt/x\nBindPaths /data:/mnt/data\nBindReadOnlyPaths /ro\nMemoryMax 1G\n" \
	"MemoryHigh 50%\nMemorySwapMax 0\nTasksMax 100\nCPUQuota 50%\nCPUWeight 10\nIOWeight 20\n" \
	"LimitsUnavailable ignore\n"

/* A block stores only what it sets, and the decision merges it onto the
 * defaults: the result is, key by key and byte by byte, what the same lines
 * give as defaults, even over longer strings the defaults set. */
static void test_block_values_merge_exactly(void **state)
{
	struct nscell_settings want = defaults_of(EVERY_KEY);
	struct nscell_policy *p = parse_ok("PersistentRoot /var/lib/a/much/longer/persistent/root\n"
					   "ReadOnlyPaths /usr/share/one /usr/share/two /usr/share/three\n"
					   "Hostname a-much-longer-host-name\nNamespaces pid mount uts\n"
					   "Match User alice\n" EVERY_KEY);
	struct nscell_decision d = decide_user(p, "alice");
	int k;

	assert_int_equal(d.rule.line, 5);
	for (k = 0; k < _NSCELL_KEY_MAX; k++) {
		const struct nscell_key_span *sp = nscell_key_span(k);

		if (memcmp((const char *) &d.settings + sp->offset, (const char *) &want + sp->offset, sp->size) != 0)
			fail_msg("%s differs from the same line in the defaults", nscell_key_name(k));
		assert_true(d.origin[k].line > 5);
	}
	/* The string after its NUL is zero, not the defaults' longer one. */
	assert_string_equal(d.settings.persistent_root, "/p");
	for (size_t i = 2; i < sizeof(d.settings.persistent_root); i++)
		assert_int_equal(d.settings.persistent_root[i], 0);
	nscell_policy_free(p);
}

static void test_decide_rejects_bad_arguments(void **state)
{
	struct nscell_policy *p = parse_ok("");
	struct nscell_login l = { .user = NULL };
	struct nscell_decision d;

	assert_int_equal(nscell_policy_decide(p, &l, &d), -EINVAL);
	assert_int_equal(nscell_policy_decide(NULL, &l, &d), -EINVAL);
	nscell_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_blocks_means_defaults),
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_unset_keys_come_from_defaults_with_origin),
		cmocka_unit_test(test_no_match_falls_back_to_defaults),
		cmocka_unit_test(test_isolate_no_block_exempts),
		cmocka_unit_test(test_root_exempt_from_match_all),
		cmocka_unit_test(test_root_isolated_when_named),
		cmocka_unit_test(test_root_glob_does_not_count),
		cmocka_unit_test(test_root_skips_blocks_that_do_not_name_it),
		cmocka_unit_test(test_root_named_but_negated_elsewhere),
		cmocka_unit_test(test_uid_zero_under_another_name),
		cmocka_unit_test(test_negation),
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_group_primary_and_supplementary),
		cmocka_unit_test(test_group_through_ldap_style_nss),
		cmocka_unit_test(test_groups_only_when_a_group_criterion_is_reached),
		cmocka_unit_test(test_verdict_resolves_groups_lazily),
		cmocka_unit_test(test_service_criterion),
		cmocka_unit_test(test_host_criterion),
		cmocka_unit_test(test_tty_criterion),
		cmocka_unit_test(test_all_criteria_must_match),
		cmocka_unit_test(test_block_values_merge_exactly),
		cmocka_unit_test(test_decide_rejects_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell_identity_resolve() against a stubbed NSS: an LDAP-style account
 * whose groups exist only in the directory, buffers that must grow, groups
 * without names, and NSS failures that must not pass as "no groups".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "nss-files.h"
#include "test-util.h"

/* The stub's knobs, reset before each test. */
static struct {
	size_t pw_need;     /* getpwnam_r says ERANGE below this */
	size_t gr_need;     /* getgrgid_r says ERANGE below this */
	int pw_error;       /* returned by getpwnam_r instead of an answer */
	int gr_error;       /* returned by getgrgid_r for gid 70002 */
	bool quiet_ngroups; /* getgrouplist does not say how many it needs */
	int pw_calls, grouplist_calls;
} stub;

static int setup(void **state)
{
	memset(&stub, 0, sizeof(stub));
	stub.pw_need = 100;
	stub.gr_need = 100;
	return 0;
}

static int stub_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
	stub.pw_calls++;
	*result = NULL;
	if (stub.pw_error)
		return stub.pw_error;
	if (strcmp(name, "ldap.user") != 0)
		return 0;
	if (buflen < stub.pw_need)
		return ERANGE;
	strcpy(buf, "ldap.user");
	strcpy(buf + 16, "/home/ldap.user");
	strcpy(buf + 48, "/bin/bash");
	*pwd = (struct passwd) {
		.pw_name = buf,
		.pw_uid = 70001,
		.pw_gid = 70000,
		.pw_dir = buf + 16,
		.pw_shell = buf + 48,
	};
	*result = pwd;
	return 0;
}

/* Returns the supplementary groups in an order that puts the primary one in
 * the middle, and once twice, as some NSS modules do. */
static int stub_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	static const gid_t all[] = { 70002, 70000, 70003, 70002, 70004 };
	int n = (int) (sizeof(all) / sizeof(all[0]));

	stub.grouplist_calls++;
	assert_string_equal(user, "ldap.user");
	assert_int_equal(group, 70000);
	if (*ngroups < n) {
		if (!stub.quiet_ngroups)
			*ngroups = n;
		return -1;
	}
	memcpy(groups, all, sizeof(all));
	*ngroups = n;
	return n;
}

static int stub_getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t buflen, struct group **result)
{
	const char *name;

	*result = NULL;
	if (gid == 70002 && stub.gr_error)
		return stub.gr_error;
	switch (gid) {
	case 70000: name = "ldap-users"; break;
	case 70002: name = "research"; break;
	case 70003: name = "gpu"; break;
	default: return 0; /* 70004 has no name anywhere */
	}
	if (buflen < stub.gr_need)
		return ERANGE;
	strcpy(buf, name);
	*grp = (struct group) { .gr_name = buf, .gr_gid = gid };
	*result = grp;
	return 0;
}

static const struct nscell_nss_ops stub_ops = { stub_getpwnam_r, stub_getgrouplist, stub_getgrgid_r };

static void test_ldap_style_user(void **state)
{
	struct nscell_identity *id = NULL;

	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), 0);
	assert_string_equal(id->user, "ldap.user");
	assert_int_equal(id->uid, 70001);
	assert_int_equal(id->gid, 70000);
	assert_string_equal(id->home, "/home/ldap.user");
	assert_string_equal(id->shell, "/bin/bash");

	/* Primary first, then each supplementary group once, in NSS order. */
	assert_int_equal(id->n_groups, 4);
	assert_int_equal(id->gids[0], 70000);
	assert_string_equal(id->groups[0], "ldap-users");
	assert_int_equal(id->gids[1], 70002);
	assert_string_equal(id->groups[1], "research");
	assert_int_equal(id->gids[2], 70003);
	assert_string_equal(id->groups[2], "gpu");
	assert_int_equal(id->gids[3], 70004);
	assert_string_equal(id->groups[3], "#70004");
	nscell_identity_free(id);
}

static void test_buffers_grow_on_erange(void **state)
{
	struct nscell_identity *id = NULL;

	stub.pw_need = 5000;
	stub.gr_need = 3000;
	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), 0);
	assert_true(stub.pw_calls >= 4); /* 1024, 2048, 4096, 8192 */
	assert_string_equal(id->groups[2], "gpu");
	nscell_identity_free(id);
}

static void test_buffer_growth_is_bounded(void **state)
{
	struct nscell_identity *id = NULL;

	stub.pw_need = SIZE_MAX;
	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), -ERANGE);
	assert_null(id);
}

static void test_group_list_grows_without_a_hint(void **state)
{
	struct nscell_identity *id = NULL;

	stub.quiet_ngroups = true;
	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), 0);
	assert_int_equal(id->n_groups, 4);
	nscell_identity_free(id);
}

static void test_unknown_user(void **state)
{
	struct nscell_identity *id = NULL;

	assert_int_equal(nscell_identity_resolve("nobody.here", &stub_ops, &id), -ENOENT);
	assert_null(id);
	stub.pw_error = ENOENT;
	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), -ENOENT);
}

static void test_nss_failure_is_an_error(void **state)
{
	struct nscell_identity *id = NULL;

	stub.pw_error = EIO;
	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), -EIO);
	assert_null(id);

	/* A group lookup that fails (directory down) must not pass as "no such
	 * group": the user would silently miss their Group blocks. */
	stub.pw_error = 0;
	stub.gr_error = EAGAIN;
	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), -EAGAIN);
	assert_null(id);
}

static void test_bad_arguments(void **state)
{
	struct nscell_identity *id = NULL;

	assert_int_equal(nscell_identity_resolve("", &stub_ops, &id), -EINVAL);
	assert_int_equal(nscell_identity_resolve(NULL, &stub_ops, &id), -EINVAL);
	nscell_identity_free(NULL);
}

static void test_identity_to_login(void **state)
{
	struct nscell_identity *id = NULL;
	struct nscell_login l;

	assert_int_equal(nscell_identity_resolve("ldap.user", &stub_ops, &id), 0);
	nscell_identity_to_login(id, "sshd", "192.0.2.1", NULL, &l);
	assert_string_equal(l.user, "ldap.user");
	assert_int_equal(l.uid, 70001);
	assert_int_equal(l.n_groups, 4);
	assert_string_equal(l.groups[1], "research");
	assert_string_equal(l.service, "sshd");
	assert_string_equal(l.rhost, "192.0.2.1");
	assert_null(l.tty);
	nscell_identity_free(id);
}

static void test_files_backed_nss(void **state)
{
	const struct nscell_nss_ops *ops = nscell_test_nss_files(TEST_DATA_DIR "/cli/nss");
	struct nscell_identity *id = NULL;

	assert_int_equal(nscell_identity_resolve("carla", ops, &id), 0);
	assert_int_equal(id->uid, 2001);
	assert_int_equal(id->n_groups, 2);
	assert_string_equal(id->groups[0], "carla");
	assert_string_equal(id->groups[1], "lab");
	nscell_identity_free(id);

	/* A primary group with no entry gets a name made from its number. */
	assert_int_equal(nscell_identity_resolve("dave", ops, &id), 0);
	assert_int_equal(id->n_groups, 2);
	assert_string_equal(id->groups[0], "#2999");
	assert_string_equal(id->groups[1], "lab");
	nscell_identity_free(id);
	assert_int_equal(nscell_identity_resolve("nobody.at.all", ops, &id), -ENOENT);
}

static void test_libc_nss_resolves_root(void **state)
{
	struct nscell_identity *id = NULL;

	/* root exists on every system this builds on. */
	assert_int_equal(nscell_identity_resolve("root", &nscell_nss_libc, &id), 0);
	assert_int_equal(id->uid, 0);
	assert_true(id->n_groups >= 1);
	assert_int_equal(id->gids[0], id->gid);
	nscell_identity_free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_ldap_style_user, setup),
		cmocka_unit_test_setup(test_buffers_grow_on_erange, setup),
		cmocka_unit_test_setup(test_buffer_growth_is_bounded, setup),
		cmocka_unit_test_setup(test_group_list_grows_without_a_hint, setup),
		cmocka_unit_test_setup(test_unknown_user, setup),
		cmocka_unit_test_setup(test_nss_failure_is_an_error, setup),
		cmocka_unit_test_setup(test_bad_arguments, setup),
		cmocka_unit_test_setup(test_identity_to_login, setup),
		cmocka_unit_test_setup(test_files_backed_nss, setup),
		cmocka_unit_test_setup(test_libc_nss_resolves_root, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

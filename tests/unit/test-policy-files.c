/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policies on disk: the broken and valid files under data/, the shipped
 * policy and examples, the drop-in directory (order, which names count,
 * globals across files), and the ownership rules the helper relies on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy-admin.h"
#include "test-util.h"

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The *.conf names in dir, sorted; returns how many. */
static size_t list_confs(const char *dir, char ***ret)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(char *));
		assert_non_null(names);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), compare_strings);
	*ret = names;
	return n;
}

static void free_list(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int load(const char *main_path, const char *dropin, unsigned flags, struct nscell_policy **p,
		struct nscell_diag *d)
{
	*p = NULL;
	*d = (struct nscell_diag) {};
	return nscell_policy_load(main_path, dropin, flags, p, d);
}

static void test_broken_files_report_the_expected_first_error(void **state)
{
	char **names;
	size_t n;

	/* Relative paths, so the expected lines do not depend on the checkout. */
	assert_int_equal(chdir(TEST_DATA_DIR), 0);
	n = list_confs("broken", &names);
	assert_true(n >= 12);

	for (size_t i = 0; i < n; i++) {
		char path[512], expected_path[512], want[8192] = "";
		struct nscell_policy *p;
		struct nscell_diag d;
		FILE *f;

		snprintf(path, sizeof(path), "broken/%s", names[i]);
		snprintf(expected_path, sizeof(expected_path), "broken/%.*s.expected",
			 (int) (strlen(names[i]) - 5), names[i]);
		f = fopen(expected_path, "re");
		assert_non_null(f);
		assert_non_null(fgets(want, sizeof(want), f));
		fclose(f);
		want[strcspn(want, "\n")] = '\0';

		assert_int_equal(load(path, NULL, 0, &p, &d), -EINVAL);
		assert_null(p);
		assert_true(d.n_lines >= 1);
		if (strcmp(d.lines[0], want) != 0) {
			print_message("%s:\n", path);
			dump_diag(&d);
		}
		assert_string_equal(d.lines[0], want);
		nscell_diag_free(&d);
	}
	free_list(names, n);
}

static void assert_dir_all_valid(const char *dir)
{
	char **names;
	size_t n = list_confs(dir, &names);

	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		char path[1024];
		struct nscell_policy *p;
		struct nscell_diag d;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (load(path, NULL, 0, &p, &d) != 0) {
			print_message("%s:\n", path);
			dump_diag(&d);
		}
		assert_non_null(p);
		nscell_policy_free(p);
	}
	free_list(names, n);
}

static void test_valid_files_load(void **state)
{
	assert_dir_all_valid(TEST_DATA_DIR "/valid");
}

static void test_shipped_policy_and_examples_are_valid(void **state)
{
	struct nscell_policy *p;
	struct nscell_diag d;

	if (load(TEST_SHIPPED_CONF, NULL, 0, &p, &d) != 0)
		dump_diag(&d);
	assert_non_null(p);
	nscell_policy_free(p);
	assert_dir_all_valid(TEST_EXAMPLES_DIR);
}

/* A temporary main.conf and main.conf.d for one test. */
struct tree {
	char *dir, *main, *dropin;
};

static struct tree make_tree(const char *main_text)
{
	struct tree t = { make_temp_dir() };

	t.main = write_file(t.dir, "main.conf", main_text, 0644);
	assert_true(asprintf(&t.dropin, "%s/main.conf.d", t.dir) > 0);
	assert_int_equal(mkdir(t.dropin, 0755), 0);
	return t;
}

static void free_tree(struct tree *t)
{
	remove_tree(t->dir);
	free(t->dir);
	free(t->main);
	free(t->dropin);
}

static void test_dropins_in_lexical_order_after_main(void **state)
{
	struct tree t = make_tree("Match User a\n  Scope user\n");
	struct nscell_policy *p;
	struct nscell_diag d;
	struct nscell_decision dec;
	char *ten, *nine;

	ten = write_file(t.dropin, "10-first.conf", "Match User a,b\n  Tmp shared\n", 0644);
	nine = write_file(t.dropin, "9-second.conf", "Match User b,c\n  Scope user\n", 0644);
	assert_int_equal(load(t.main, t.dropin, 0, &p, &d), 0);

	/* The main file's block comes first. */
	dec = decide_user(p, "a");
	assert_string_equal(dec.rule.file, t.main);
	/* Then "10-..." before "9-...": strcmp order, not numeric. */
	dec = decide_user(p, "b");
	assert_string_equal(dec.rule.file, ten);
	assert_int_equal(dec.settings.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_SHARED);
	dec = decide_user(p, "c");
	assert_string_equal(dec.rule.file, nine);

	assert_int_equal(nscell_policy_n_files(p), 3);
	assert_string_equal(nscell_policy_file(p, 0), t.main);
	assert_string_equal(nscell_policy_file(p, 1), ten);
	assert_string_equal(nscell_policy_file(p, 2), nine);
	assert_null(nscell_policy_file(p, 3));
	assert_int_equal(nscell_policy_n_blocks(p), 3);

	nscell_policy_free(p);
	free(ten);
	free(nine);
	free_tree(&t);
}

static void test_dropin_names_that_do_not_count(void **state)
{
	static const char *const ignored[] = {
		"50-x.conf.dpkg-old", "50-x.conf.dpkg-dist", "50-x.conf~", ".#50-x.conf",
		"50 x.conf", "README", ".conf", "50-x.CONF",
	};
	struct tree t = make_tree("");
	struct nscell_policy *p;
	struct nscell_diag d;
	char *path;

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		free(write_file(t.dropin, ignored[i], "this is not a policy\n", 0644));
	/* A directory, a symlink and a FIFO with good names are skipped too;
	 * the FIFO must not block the reader. */
	assert_true(asprintf(&path, "%s/dir.conf", t.dropin) > 0);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
	assert_true(asprintf(&path, "%s/link.conf", t.dropin) > 0);
	assert_int_equal(symlink("/dev/null", path), 0);
	free(path);
	assert_true(asprintf(&path, "%s/fifo.conf", t.dropin) > 0);
	assert_int_equal(mkfifo(path, 0644), 0);
	free(path);
	free(write_file(t.dropin, "Good_name-1.2.conf", "Scope user\n", 0644));

	assert_int_equal(load(t.main, t.dropin, 0, &p, &d), 0);
	assert_int_equal(nscell_policy_n_files(p), 2);
	assert_int_equal(decide_user(p, "x").settings.scope, NSCELL_SCOPE_USER);
	nscell_policy_free(p);
	free_tree(&t);
}

static void test_global_key_again_in_dropin_is_duplicate(void **state)
{
	struct tree t = make_tree("Scope user\nMatch User a\n  Tmp shared\n");
	struct nscell_policy *p;
	struct nscell_diag d;
	char *dropin_file, want[1024];

	/* Each file starts in the global context, even after a Match block. */
	dropin_file = write_file(t.dropin, "50-local.conf", "# local\nscope session\n", 0644);
	assert_int_equal(load(t.main, t.dropin, 0, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 1);
	snprintf(want, sizeof(want),
		 "%s:2:1: error: duplicate Scope, already set at %s:1; expected each key at most once per global section (all files)",
		 dropin_file, t.main);
	assert_string_equal(d.lines[0], want);
	nscell_diag_free(&d);
	free(dropin_file);
	free_tree(&t);
}

static void test_dropin_sets_defaults(void **state)
{
	struct tree t = make_tree("Match User a\n  Scope user\n");
	struct nscell_policy *p;
	struct nscell_diag d;
	struct nscell_decision dec;
	char *f = write_file(t.dropin, "50-tmp.conf", "Tmp shared\n", 0644);

	assert_int_equal(load(t.main, t.dropin, 0, &p, &d), 0);
	dec = decide_user(p, "a");
	assert_int_equal(dec.settings.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_SHARED);
	assert_string_equal(dec.origin[NSCELL_KEY_TMP].file, f);
	assert_int_equal(dec.settings.scope, NSCELL_SCOPE_USER);
	nscell_policy_free(p);
	free(f);
	free_tree(&t);
}

static void test_missing_main_file(void **state)
{
	struct nscell_policy *p;
	struct nscell_diag d;

	assert_int_equal(load("/nonexistent/nscell.conf", "/nonexistent/nscell.conf.d", 0, &p, &d), -ENOENT);
	assert_null(p);
	assert_int_equal(d.n_lines, 1);
	assert_string_equal(d.lines[0],
			    "/nonexistent/nscell.conf: error: cannot open: No such file or directory; expected a readable policy file");
	nscell_diag_free(&d);
}

static void test_missing_dropin_dir_is_fine(void **state)
{
	struct tree t = make_tree("Scope user\n");
	struct nscell_policy *p;
	struct nscell_diag d;

	assert_int_equal(rmdir(t.dropin), 0);
	assert_int_equal(load(t.main, t.dropin, NSCELL_POLICY_CHECK_OWNER * (geteuid() == 0), &p, &d), 0);
	nscell_policy_free(p);
	free_tree(&t);
}

static void test_errors_in_several_files_are_all_reported(void **state)
{
	struct tree t = make_tree("Scope wide\n");
	struct nscell_policy *p;
	struct nscell_diag d;
	char *a = write_file(t.dropin, "a.conf", "Bogus\n", 0644);
	char *b = write_file(t.dropin, "b.conf", "Match\n", 0644);

	assert_int_equal(load(t.main, t.dropin, 0, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 3);
	assert_true(strncmp(d.lines[0], t.main, strlen(t.main)) == 0);
	assert_true(strncmp(d.lines[1], a, strlen(a)) == 0);
	assert_true(strncmp(d.lines[2], b, strlen(b)) == 0);
	nscell_diag_free(&d);
	free(a);
	free(b);
	free_tree(&t);
}

static void test_owner_check_rejects_writable_and_foreign_files(void **state)
{
	struct tree t = make_tree("Scope user\n");
	struct nscell_policy *p;
	struct nscell_diag d;
	char want[1024];
	uid_t foreign = geteuid();

	/* As root, give the file away; otherwise it is already not root's. */
	if (geteuid() == 0) {
		foreign = 65534;
		assert_int_equal(chown(t.main, foreign, (gid_t) -1), 0);
	}
	assert_int_equal(chmod(t.main, 0664), 0);

	assert_int_equal(load(t.main, NULL, NSCELL_POLICY_CHECK_OWNER, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 2);
	snprintf(want, sizeof(want), "%s: error: owned by uid %u, the helper will refuse it; expected owner root",
		 t.main, (unsigned) foreign);
	assert_string_equal(d.lines[0], want);
	snprintf(want, sizeof(want),
		 "%s: error: writable by group or others (mode 0664), the helper will refuse it; expected chmod go-w", t.main);
	assert_string_equal(d.lines[1], want);
	nscell_diag_free(&d);

	/* Without the flag (a draft being checked by its author) it loads. */
	assert_int_equal(load(t.main, NULL, 0, &p, &d), 0);
	nscell_policy_free(p);
	free_tree(&t);
}

static void test_owner_check_rejects_writable_dropin_dir(void **state)
{
	struct nscell_policy *p;
	struct nscell_diag d;
	char want[1024];

	if (geteuid() != 0)
		skip(); /* the files cannot be root's; covered by the test above */
	struct tree t = make_tree("");
	assert_int_equal(chmod(t.dropin, 0777), 0);
	assert_int_equal(load(t.main, t.dropin, NSCELL_POLICY_CHECK_OWNER, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 1);
	snprintf(want, sizeof(want),
		 "%s: error: writable by group or others (mode 0777), the helper will refuse it; expected chmod go-w", t.dropin);
	assert_string_equal(d.lines[0], want);
	nscell_diag_free(&d);
	free_tree(&t);
}

static void test_owner_check_refuses_symlinks(void **state)
{
	struct tree t = make_tree("Scope user\n");
	struct nscell_policy *p;
	struct nscell_diag d;
	char *link, want[1024];

	assert_true(asprintf(&link, "%s/link.conf", t.dir) > 0);
	assert_int_equal(symlink(t.main, link), 0);

	assert_int_equal(load(link, NULL, NSCELL_POLICY_CHECK_OWNER, &p, &d), -ELOOP);
	assert_int_equal(d.n_lines, 1);
	snprintf(want, sizeof(want), "%s: error: is a symbolic link, the helper will refuse it; expected a regular file", link);
	assert_string_equal(d.lines[0], want);
	nscell_diag_free(&d);

	assert_int_equal(load(link, NULL, 0, &p, &d), 0);
	nscell_policy_free(p);
	free(link);
	free_tree(&t);
}

static void test_main_file_not_regular(void **state)
{
	struct tree t = make_tree("");
	struct nscell_policy *p;
	struct nscell_diag d;
	char want[1024];

	assert_int_equal(load(t.dropin, NULL, 0, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 1);
	snprintf(want, sizeof(want), "%s: error: not a regular file; expected a regular file", t.dropin);
	assert_string_equal(d.lines[0], want);
	nscell_diag_free(&d);
	free_tree(&t);
}

/* Root reads anything while it has the DAC capabilities: for a test of an
 * unreadable file, lower them from the effective set (and raise them again). */
static void dac_override(bool on)
{
	static const cap_value_t dac[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH };
	cap_t caps = cap_get_proc();

	assert_non_null(caps);
	assert_int_equal(cap_set_flag(caps, CAP_EFFECTIVE, 2, dac, on ? CAP_SET : CAP_CLEAR), 0);
	assert_int_equal(cap_set_proc(caps), 0);
	cap_free(caps);
}

static void test_unreadable_dropin(void **state)
{
	struct nscell_policy *p;
	struct nscell_diag d;
	char *f, want[1024];
	bool root = geteuid() == 0;
	int rc;

	struct tree t = make_tree("");
	f = write_file(t.dropin, "secret.conf", "Scope user\n", 0000);
	free(write_file(t.dropin, "z.conf", "Scope x\n", 0644));
	if (root)
		dac_override(false);
	rc = load(t.main, t.dropin, 0, &p, &d);
	if (root)
		dac_override(true);
	assert_int_equal(rc, -EACCES);
	assert_int_equal(d.n_lines, 2);
	snprintf(want, sizeof(want), "%s: error: cannot open: Permission denied; expected a readable policy file", f);
	assert_string_equal(d.lines[0], want);
	nscell_diag_free(&d);
	free(f);
	free_tree(&t);
}

static void test_file_too_large_on_disk(void **state)
{
	struct tree t = make_tree("");
	struct nscell_policy *p;
	struct nscell_diag d;
	char want[1024];
	int fd;

	fd = open(t.main, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1024 * 1024 + 1), 0);
	close(fd);
	assert_int_equal(load(t.main, NULL, 0, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 1);
	snprintf(want, sizeof(want),
		 "%s: error: file is larger than 1 MiB (1048577 bytes); expected a smaller policy file", t.main);
	assert_string_equal(d.lines[0], want);
	nscell_diag_free(&d);
	free_tree(&t);
}

static void test_load_files_as_one_policy(void **state)
{
	struct tree t = make_tree("Match User a\n  Scope user\n");
	char *second = write_file(t.dir, "second.conf", "Tmp shared\nMatch User a,b\n  Tmp persistent\n", 0644);
	const char *paths[] = { t.main, second };
	struct nscell_policy *p = NULL;
	struct nscell_diag d = {};
	struct nscell_decision dec;

	assert_int_equal(nscell_policy_load_files(paths, 2, 0, &p, &d), 0);
	dec = decide_user(p, "a");
	assert_string_equal(dec.rule.file, t.main);
	assert_int_equal(dec.settings.dirs[NSCELL_DIR_TMP].kind, NSCELL_DIR_SHARED);
	dec = decide_user(p, "b");
	assert_string_equal(dec.rule.file, second);
	assert_int_equal(nscell_policy_n_files(p), 2);
	nscell_policy_free(p);

	/* In the other order, the other file's block decides for a. */
	paths[0] = second;
	paths[1] = t.main;
	assert_int_equal(nscell_policy_load_files(paths, 2, 0, &p, &d), 0);
	assert_string_equal(decide_user(p, "a").rule.file, second);
	nscell_policy_free(p);
	free(second);
	free_tree(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broken_files_report_the_expected_first_error),
		cmocka_unit_test(test_valid_files_load),
		cmocka_unit_test(test_shipped_policy_and_examples_are_valid),
		cmocka_unit_test(test_dropins_in_lexical_order_after_main),
		cmocka_unit_test(test_dropin_names_that_do_not_count),
		cmocka_unit_test(test_global_key_again_in_dropin_is_duplicate),
		cmocka_unit_test(test_dropin_sets_defaults),
		cmocka_unit_test(test_missing_main_file),
		cmocka_unit_test(test_missing_dropin_dir_is_fine),
		cmocka_unit_test(test_errors_in_several_files_are_all_reported),
		cmocka_unit_test(test_owner_check_rejects_writable_and_foreign_files),
		cmocka_unit_test(test_owner_check_rejects_writable_dropin_dir),
		cmocka_unit_test(test_owner_check_refuses_symlinks),
		cmocka_unit_test(test_main_file_not_regular),
		cmocka_unit_test(test_unreadable_dropin),
		cmocka_unit_test(test_file_too_large_on_disk),
		cmocka_unit_test(test_load_files_as_one_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

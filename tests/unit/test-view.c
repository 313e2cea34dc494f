/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The view keys: their diagnostics, and the plan (lib/view.c) the helper
 * carries out and `nscell explain` prints, for ordinary and nested homes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings-keys.h"
#include "test-util.h"
#include "view.h"

static void test_entry_errors(void **state)
{
	assert_first_error("ReadOnlyPaths etc\n",
			   "nscell.conf:1:15: error: invalid ReadOnlyPaths entry 'etc': a relative path; expected an absolute path (or one starting with %h)");
	assert_first_error("ReadOnlyPaths /srv/%x\n",
			   "nscell.conf:1:15: error: invalid ReadOnlyPaths entry '/srv/%x': an unknown specifier; expected %u, %U, %h, %g, %G or %%");
	assert_first_error("InaccessiblePaths /srv/../etc\n",
			   "nscell.conf:1:19: error: invalid InaccessiblePaths entry '/srv/../etc': a '.' or '..' component; expected a plain path");
	assert_first_error("ReadWritePaths /srv/a:/b\n",
			   "nscell.conf:1:16: error: invalid ReadWritePaths entry '/srv/a:/b': a ':'; expected a path (SRC:DST is for the Bind keys)");
	assert_first_error("BindPaths /a:b\n",
			   "nscell.conf:1:11: error: invalid BindPaths entry '/a:b': a relative path; expected an absolute path (or one starting with %h)");
	assert_first_error("BindPaths /a:/b:/c\n",
			   "nscell.conf:1:11: error: invalid BindPaths entry '/a:/b:/c': more than one ':'; expected SRC or SRC:DST");
	assert_first_error("BindPaths /srv/x:/tmp/x\n",
			   "nscell.conf:1:11: error: BindPaths entry '/srv/x:/tmp/x' is under /tmp, where any user can plant files; expected a path elsewhere");
	assert_first_error("ProtectHome maybe\n",
			   "nscell.conf:1:13: error: invalid value 'maybe' for ProtectHome; expected no, own, read-only, tmpfs or yes");
	assert_first_error("ProtectSystem all\n",
			   "nscell.conf:1:15: error: invalid value 'all' for ProtectSystem; expected no, yes, full or strict");
}

static void test_contradictions(void **state)
{
	assert_first_error("ReadOnlyPaths /srv/a\nMatch User x\n  ReadWritePaths /srv/a\n",
			   "nscell.conf:3:3: error: ReadWritePaths /srv/a is in ReadOnlyPaths too; expected each path in one of them");
	assert_first_error("ProtectHome own\nMatch User x\n  BindPaths /srv/a:/home/shared\n",
			   "nscell.conf:3:3: error: BindPaths target /home/shared is inside /home, which this view hides; expected a target outside it (or one under %h)");
	assert_first_error("InaccessiblePaths /srv\nBindReadOnlyPaths /data:/srv/data\n",
			   "nscell.conf:2:1: error: BindReadOnlyPaths target /srv/data is inside /srv, which this view hides; expected a target outside it");
	/* Under %h is the user's own home: fine with every ProtectHome. */
	nscell_policy_free(parse_ok("ProtectHome own\nBindPaths /srv/projects/%u:%h/project\n"));
}

static struct nscell_view_plan plan_for(const char *text, const char *home, char **ret_error)
{
	struct nscell_policy *p = parse_ok(text);
	struct nscell_decision d;
	struct test_login t;
	struct nscell_view_plan plan = {};
	struct nscell_view_who who = { .user = "alice", .uid = 1000, .home = home, .group = "lab", .gid = 100 };

	assert_int_equal(nscell_policy_decide(p, make_login(&t, "alice", 1000, NULL, NULL, NULL, "alice", NULL), &d), 0);
	*ret_error = NULL;
	if (nscell_view_plan(&d.settings, &who, &plan, ret_error) < 0)
		plan.n_ops = (size_t) -1;
	nscell_policy_free(p);
	return plan;
}

/* "kind dst [src] [keep]" per op, one per line. */
static char *describe(const struct nscell_view_plan *plan)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	for (size_t i = 0; i < plan->n_ops; i++) {
		const struct nscell_view_op *op = &plan->ops[i];
		fprintf(f, "%s %s", nscell_view_op_name(op->kind), op->dst);
		if (op->src && op->kind != NSCELL_VIEW_OP_WRITABLE)
			fprintf(f, " <- %s", op->src);
		if (op->keep)
			fprintf(f, " keep %s", op->keep);
		if (op->read_only)
			fprintf(f, " ro");
		fputc('\n', f);
	}
	fclose(f);
	return out;
}

static void test_plan_own_full(void **state)
{
	char *err, *got;
	struct nscell_view_plan plan = plan_for("ProtectHome own\nProtectSystem full\n"
						"BindReadOnlyPaths /srv/%g/%u:/project\n", "/home/alice", &err);

	got = describe(&plan);
	assert_string_equal(got,
			    "read-only /usr\n"
			    "read-only /boot\n"
			    "read-only /efi\n"
			    "read-only /etc\n"
			    "own only /home <- /home/alice keep alice\n"
			    "own only /root\n"
			    "own only /run/user <- /run/user/1000 keep 1000\n"
			    "bound /project <- /srv/lab/alice ro\n");
	free(got);
	nscell_view_plan_done(&plan);
}

static void test_plan_nested_home(void **state)
{
	char *err, *got;
	struct nscell_view_plan plan = plan_for("ProtectHome own\n", "/home/students/alice", &err);

	/* Shallow first: /home keeps the way to students, whose own tmpfs
	 * then keeps alice, the real home. */
	got = describe(&plan);
	assert_string_equal(got,
			    "own only /home keep students\n"
			    "own only /root\n"
			    "own only /run/user <- /run/user/1000 keep 1000\n"
			    "own only /home/students <- /home/students/alice keep alice\n");
	free(got);
	nscell_view_plan_done(&plan);
}

static void test_plan_home_is_a_tree(void **state)
{
	char *err, *got;
	struct nscell_view_plan plan = plan_for("ProtectHome own\n", "/root", &err);

	got = describe(&plan);
	assert_string_equal(got,
			    "own only /home\n"
			    "own only /run/user <- /run/user/1000 keep 1000\n");
	free(got);
	nscell_view_plan_done(&plan);
}

static void test_plan_strict(void **state)
{
	char *err, *got;
	struct nscell_view_plan plan = plan_for("ProtectSystem strict\nReadWritePaths -/srv/%u\n", "/home/alice", &err);
	got = describe(&plan);
	assert_string_equal(got,
			    "read-only /\n"
			    "writable /dev\n"
			    "writable /proc\n"
			    "writable /sys\n"
			    "writable /tmp\n"
			    "writable /var/tmp\n"
			    "writable /run/user/1000\n"
			    "writable /home/alice\n"
			    "writable /srv/alice\n");
	free(got);
	nscell_view_plan_done(&plan);
}

static void test_plan_bad_home(void **state)
{
	char *err;
	struct nscell_view_plan plan = plan_for("ProtectHome own\n", "/home/alice/", &err);

	assert_int_equal(plan.n_ops, (size_t) -1);
	assert_string_equal(err, "the home '/home/alice/' is not a plain absolute path");
	free(err);
}

static void test_default_has_no_view(void **state)
{
	struct nscell_settings s;

	nscell_settings_init(&s);
	assert_false(nscell_view_wanted(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_errors),
		cmocka_unit_test(test_contradictions),
		cmocka_unit_test(test_plan_own_full),
		cmocka_unit_test(test_plan_nested_home),
		cmocka_unit_test(test_plan_home_is_a_tree),
		cmocka_unit_test(test_plan_strict),
		cmocka_unit_test(test_plan_bad_home),
		cmocka_unit_test(test_default_has_no_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

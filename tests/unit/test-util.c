/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

void dump_diag(const struct nscell_diag *d)
{
	for (size_t i = 0; i < d->n_lines; i++)
		print_message("  diag[%zu]: %s\n", i, d->lines[i]);
}

struct nscell_policy *parse_ok(const char *text)
{
	struct nscell_policy *p = NULL;
	struct nscell_diag d = {};
	int r;

	r = nscell_policy_parse_buffer(TEST_CONF, text, strlen(text), &p, &d);
	if (r != 0)
		dump_diag(&d);
	assert_int_equal(r, 0);
	assert_non_null(p);
	assert_int_equal(d.n_lines, 0);
	return p;
}

struct nscell_diag parse_bad(const char *text)
{
	struct nscell_policy *p = NULL;
	struct nscell_diag d = {};
	int r;

	r = nscell_policy_parse_buffer(TEST_CONF, text, strlen(text), &p, &d);
	assert_int_equal(r, -EINVAL);
	assert_null(p);
	assert_true(d.n_lines > 0);
	return d;
}

void assert_first_error(const char *text, const char *first)
{
	struct nscell_diag d = parse_bad(text);

	if (strcmp(d.lines[0], first) != 0)
		dump_diag(&d);
	assert_string_equal(d.lines[0], first);
	nscell_diag_free(&d);
}

void assert_errors(const char *text, ...)
{
	struct nscell_diag d = parse_bad(text);
	const char *want;
	size_t i = 0;
	va_list ap;

	va_start(ap, text);
	while ((want = va_arg(ap, const char *))) {
		if (i >= d.n_lines || strcmp(d.lines[i], want) != 0)
			dump_diag(&d);
		assert_true(i < d.n_lines);
		assert_string_equal(d.lines[i], want);
		i++;
	}
	va_end(ap);
	if (i != d.n_lines)
		dump_diag(&d);
	assert_int_equal(d.n_lines, i);
	nscell_diag_free(&d);
}

struct nscell_login *make_login(struct test_login *t, const char *user, uid_t uid,
				const char *service, const char *rhost, const char *tty, ...)
{
	const char *g;
	size_t n = 0;
	va_list ap;

	va_start(ap, tty);
	while ((g = va_arg(ap, const char *)) && n < 8)
		t->groups[n++] = g;
	va_end(ap);
	t->groups[n] = NULL;
	t->login = (struct nscell_login) {
		.user = user,
		.uid = uid,
		.groups = t->groups,
		.n_groups = n,
		.service = service,
		.rhost = rhost,
		.tty = tty,
	};
	return &t->login;
}

struct nscell_decision decide_user(const struct nscell_policy *p, const char *user)
{
	struct nscell_decision d;
	struct test_login t;

	make_login(&t, user, strcmp(user, "root") == 0 ? 0 : 1000, NULL, NULL, NULL, NULL);
	assert_int_equal(nscell_policy_decide(p, &t.login, &d), 0);
	return d;
}

struct nscell_settings defaults_of(const char *text)
{
	struct nscell_policy *p = parse_ok(text);
	struct nscell_decision d = decide_user(p, "nobody-in-particular");

	nscell_policy_free(p);
	return d.settings;
}

char *write_file(const char *dir, const char *name, const char *contents, mode_t mode)
{
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, contents, strlen(contents)), (ssize_t) strlen(contents));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

char *make_temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	assert_true(asprintf(&dir, "%s/nscell-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

void remove_tree(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

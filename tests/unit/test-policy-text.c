/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy as bytes: what is not text, lines that are too long, files that
 * end without a newline or mid-word, sizes and counts at and past the limits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

/* Parse len bytes (which may hold NULs); returns r, fills d. */
static int parse_bytes(const char *buf, size_t len, struct nscell_policy **p, struct nscell_diag *d)
{
	*p = NULL;
	*d = (struct nscell_diag) {};
	return nscell_policy_parse_buffer(TEST_CONF, buf, len, p, d);
}

static void assert_bytes_first_error(const char *buf, size_t len, const char *first)
{
	struct nscell_policy *p;
	struct nscell_diag d;

	assert_int_equal(parse_bytes(buf, len, &p, &d), -EINVAL);
	assert_null(p);
	assert_true(d.n_lines >= 1);
	if (strcmp(d.lines[0], first) != 0)
		dump_diag(&d);
	assert_string_equal(d.lines[0], first);
	nscell_diag_free(&d);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "Scope user\nIsolate y\0es\nScope x\n";

	assert_bytes_first_error(text, sizeof(text) - 1, "nscell.conf:2:10: error: NUL byte; expected text");
}

static void test_invalid_utf8(void **state)
{
	assert_first_error("# caf\xc3\xa9 is fine\nScope user # \xff\n",
			   "nscell.conf:2:14: error: invalid UTF-8 byte 0xff; expected UTF-8 text");
	/* Overlong encoding of '/', a surrogate, a truncated sequence, above U+10FFFF. */
	assert_first_error("PersistentRoot \xc0\xaf" "etc\n", "nscell.conf:1:16: error: invalid UTF-8 byte 0xc0; expected UTF-8 text");
	assert_first_error("# \xed\xa0\x80\n", "nscell.conf:1:3: error: invalid UTF-8 byte 0xed; expected UTF-8 text");
	assert_first_error("# \xe2\x82\n", "nscell.conf:1:3: error: invalid UTF-8 byte 0xe2; expected UTF-8 text");
	assert_first_error("# \xf4\x90\x80\x80\n", "nscell.conf:1:3: error: invalid UTF-8 byte 0xf4; expected UTF-8 text");
	/* Valid multi-byte text outside comments is fine as far as bytes go. */
	assert_first_error("Match User j\xc3\xb6rg\nScope \xe2\x82\xac\n",
			   "nscell.conf:2:7: error: invalid value '\xe2\x82\xac' for Scope; expected session or user");
}

static void test_carriage_return_and_control_characters(void **state)
{
	assert_first_error("Scope user\r\n", "nscell.conf:1:11: error: carriage return; expected Unix line endings (LF only)");
	assert_first_error("Scope \x1b[31muser\n", "nscell.conf:1:7: error: control character 0x1b; expected printable text");
	assert_first_error("Scope user\x7f\n", "nscell.conf:1:11: error: control character 0x7f; expected printable text");
}

static void test_overlong_line_is_skipped_and_parsing_goes_on(void **state)
{
	size_t n = 5000;
	char *text = malloc(n + 64);

	assert_non_null(text);
	memset(text, 'x', n);
	strcpy(text + n, "\nScope wide\n");
	assert_errors(text,
		      "nscell.conf:1: error: line longer than 4096 bytes; expected shorter lines",
		      "nscell.conf:2:7: error: invalid value 'wide' for Scope; expected session or user",
		      NULL);
	free(text);
}

static void test_line_of_exactly_4096_bytes_is_fine(void **state)
{
	char text[4096 + 2];
	struct nscell_policy *p;

	strcpy(text, "Scope user");
	memset(text + 10, ' ', 4096 - 10);
	text[4096] = '\n';
	text[4097] = '\0';
	p = parse_ok(text);
	assert_int_equal(decide_user(p, "a").settings.scope, NSCELL_SCOPE_USER);
	nscell_policy_free(p);

	text[4096] = ' ';
	assert_first_error(text, "nscell.conf:1: error: line longer than 4096 bytes; expected shorter lines");
}

static void test_megabyte_line(void **state)
{
	/* One line just under the file limit: reported once, skipped with one
	 * memchr. Quadratic work here would run into the test timeout. */
	size_t n = 1024 * 1024 - 64;
	char *text = malloc(n + 64);

	assert_non_null(text);
	memset(text, 'a', n);
	strcpy(text + n, "\nScope user\nScope x\n");
	assert_errors(text,
		      "nscell.conf:1: error: line longer than 4096 bytes; expected shorter lines",
		      "nscell.conf:3:1: error: duplicate Scope, already set at nscell.conf:2; expected each key at most once per global section (all files)",
		      "nscell.conf:3:7: error: invalid value 'x' for Scope; expected session or user",
		      NULL);
	free(text);
}

static void test_file_larger_than_limit(void **state)
{
	size_t n = 1024 * 1024 + 1;
	char *text = malloc(n + 1);
	struct nscell_policy *p;
	struct nscell_diag d;

	assert_non_null(text);
	memset(text, '\n', n);
	assert_int_equal(parse_bytes(text, n, &p, &d), -EINVAL);
	assert_int_equal(d.n_lines, 1);
	assert_string_equal(d.lines[0], "nscell.conf: error: file is larger than 1 MiB (1048577 bytes); expected a smaller policy file");
	nscell_diag_free(&d);

	/* Exactly 1 MiB is allowed. */
	assert_int_equal(parse_bytes(text, n - 1, &p, &d), 0);
	nscell_policy_free(p);
	free(text);
}

static void test_missing_final_newline(void **state)
{
	struct nscell_policy *p = parse_ok("Match User a\nScope user");

	assert_int_equal(decide_user(p, "a").settings.scope, NSCELL_SCOPE_USER);
	assert_int_equal(decide_user(p, "a").origin[NSCELL_KEY_SCOPE].line, 2);
	nscell_policy_free(p);
}

static void test_truncated_file(void **state)
{
	assert_first_error("Scope user\nIsolat", "nscell.conf:2:1: error: unknown keyword 'Isolat'; expected a known keyword (did you mean 'Isolate'?)");
	assert_first_error("Scope user\nIsol", "nscell.conf:2:1: error: unknown keyword 'Isol'; expected a keyword from nscell.conf(5)");
	assert_first_error("Match User a,", "nscell.conf:1:14: error: empty pattern in Match User list 'a,'; expected a pattern between the commas");
	assert_first_error("Tmp tmpfs size=", "nscell.conf:1:11: error: invalid tmpfs option 'size=' for Tmp; expected size=N[K|M|G] with N > 0, or size=N% with N from 1 to 100");

	/* A buffer cut off right after a value must not be read past. */
	struct nscell_policy *p;
	struct nscell_diag d;
	char *exact = malloc(20);
	memcpy(exact, "Tmp tmpfs mode=0700", 19);
	assert_int_equal(parse_bytes(exact, 19, &p, &d), 0);
	nscell_policy_free(p);
	memcpy(exact, "DropCapabilities 12", 19);
	assert_int_equal(parse_bytes(exact, 19, &p, &d), -EINVAL);
	nscell_diag_free(&d);
	free(exact);
}

static void test_overlong_values(void **state)
{
	size_t n = 4000;
	char *text = malloc(n + 64), *pattern;
	struct nscell_policy *p;

	assert_non_null(text);
	strcpy(text, "Namespaces pid mount uts\nHostname ");
	memset(text + strlen(text), 'h', n);
	strcpy(text + 34 + n, "\n");
	assert_first_error(text, "nscell.conf:2:10: error: Hostname is 4000 characters long; expected at most 64");

	/* A 4000-byte pattern is long but legal. */
	pattern = malloc(n + 1);
	memset(pattern, 'u', n);
	pattern[n] = '\0';
	snprintf(text, n + 64, "Match User %s\nScope user\n", pattern);
	p = parse_ok(text);
	assert_int_equal(decide_user(p, pattern).settings.scope, NSCELL_SCOPE_USER);
	nscell_policy_free(p);
	free(pattern);
	free(text);
}

static void test_many_tokens_on_one_line(void **state)
{
	size_t len = 0;
	char text[4200];
	struct nscell_diag d;

	len += (size_t) sprintf(text, "Scope user");
	while (len < 4000)
		len += (size_t) sprintf(text + len, " x");
	strcpy(text + len, "\n");
	d = parse_bad(text);
	assert_int_equal(d.n_lines, 1);
	assert_string_equal(d.lines[0], "nscell.conf:1:12: error: unexpected extra value 'x' for Scope; expected a single value");
	nscell_diag_free(&d);
}

static char *many_blocks(size_t n)
{
	char *text = malloc(n * 32 + 1);
	size_t len = 0;

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t) sprintf(text + len, "Match User u%zu\n Scope user\n", i);
	return text;
}

static void test_thousands_of_match_blocks(void **state)
{
	char *text = many_blocks(4096);
	struct nscell_policy *p = parse_ok(text);
	struct nscell_decision d;

	d = decide_user(p, "u4095");
	assert_int_equal(d.rule.line, 2 * 4095 + 1);
	d = decide_user(p, "nobody");
	assert_null(d.rule.file);
	nscell_policy_free(p);
	free(text);

	text = many_blocks(5000);
	assert_errors(text, "nscell.conf:8193:1: error: more than 4096 Match blocks; expected at most 4096 in all files together", NULL);
	free(text);
}

static void test_blocks_past_the_limit_are_still_checked(void **state)
{
	char *text = many_blocks(4100), *more;

	assert_true(asprintf(&more, "%sMatch Host\n", text) > 0);
	assert_errors(more,
		      "nscell.conf:8193:1: error: more than 4096 Match blocks; expected at most 4096 in all files together",
		      "nscell.conf:8201:7: error: missing patterns for Match Host; expected a comma-separated list of patterns",
		      NULL);
	free(more);
	free(text);
}

/* A whole file of the worst lines for each check: every error is found (and
 * counted) with work linear in the input, whatever the timeout allows. */
static void fill_lines(char *text, size_t size, const char *head, const char *unit)
{
	size_t len = 0, hl = strlen(head), ul = strlen(unit);

	while (len + 4096 + 1 < size) {
		size_t start = len;
		memcpy(text + len, head, hl);
		len += hl;
		while (len - start + ul <= 4096) {
			memcpy(text + len, unit, ul);
			len += ul;
		}
		text[len++] = '\n';
	}
	text[len] = '\0';
}

static void test_worst_case_files_stay_linear(void **state)
{
	static const struct {
		const char *head, *unit;
	} cases[] = {
		{ "Match User a", ",a" },         /* duplicate patterns */
		{ "Match User ", "," },           /* empty patterns */
		{ "Namespaces pid mount", ",," }, /* empty list elements */
		{ "DropCapabilities", " chown" }, /* duplicate entries */
		{ "Scope user", " x" },           /* extra values */
		{ "Tmp tmpfs", " size=1" },       /* repeated options */
	};
	size_t size = 1024 * 1024;
	char *text = malloc(size);

	assert_non_null(text);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nscell_diag d;

		fill_lines(text, size, cases[i].head, cases[i].unit);
		d = parse_bad(text);
		assert_true(d.n_lines >= 2);
		nscell_diag_free(&d);
	}
	free(text);
}

static void test_empty_and_whitespace_only_buffers(void **state)
{
	struct nscell_policy *p;
	struct nscell_diag d;

	assert_int_equal(parse_bytes(NULL, 0, &p, &d), 0);
	nscell_policy_free(p);
	nscell_policy_free(parse_ok("\n\n\n"));
	nscell_policy_free(parse_ok("  \t \n#\n#Match\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_carriage_return_and_control_characters),
		cmocka_unit_test(test_overlong_line_is_skipped_and_parsing_goes_on),
		cmocka_unit_test(test_line_of_exactly_4096_bytes_is_fine),
		cmocka_unit_test(test_megabyte_line),
		cmocka_unit_test(test_file_larger_than_limit),
		cmocka_unit_test(test_missing_final_newline),
		cmocka_unit_test(test_truncated_file),
		cmocka_unit_test(test_overlong_values),
		cmocka_unit_test(test_many_tokens_on_one_line),
		cmocka_unit_test(test_thousands_of_match_blocks),
		cmocka_unit_test(test_blocks_past_the_limit_are_still_checked),
		cmocka_unit_test(test_worst_case_files_stay_linear),
		cmocka_unit_test(test_empty_and_whitespace_only_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

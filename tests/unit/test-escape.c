/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What users control reaches root's terminal and JSON readers only escaped
 * (cli/escape.h): controls, C1 in both of its encodings, bidi and line
 * separators, and invalid UTF-8; printable text, UTF-8 included, as it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "escape.h"
#include "json.h"

static void assert_escapes(const char *in, const char *want)
{
	char *got = cli_escape(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* No byte a terminal acts on: C0, DEL, C1 raw, or C1 as UTF-8. */
static void assert_inert(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		assert_false(*p < 0x20 || *p == 0x7f);
		assert_false(*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
	}
}

static void test_plain_text_unchanged(void **state)
{
	assert_escapes("", "");
	assert_escapes("nscit-a", "nscit-a");
	assert_escapes("/usr/bin/sleep 1000", "/usr/bin/sleep 1000");
	assert_escapes("gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xa7", /* grüß 日本 🐧 */
		       "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xa7");
	assert_escapes(NULL, "");
}

static void test_c0_and_del(void **state)
{
	assert_escapes("\x1b]2;pwned\x07", "\\x1b]2;pwned\\x07");
	assert_escapes("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H");
	assert_escapes("a\tb\nc\rd", "a\\tb\\nc\\rd");
	assert_escapes("\x01\x7f", "\\x01\\x7f");
	/* The escape character itself is escaped: the output decodes back. */
	assert_escapes("\\x1b", "\\\\x1b");
}

static void test_c1_both_encodings(void **state)
{
	/* A raw 0x9b (CSI for an 8-bit terminal) is invalid UTF-8: \x9b. */
	assert_escapes("\x9b" "31m", "\\x9b31m");
	/* U+009B written as UTF-8, which UTF-8 terminals may take for CSI. */
	assert_escapes("\xc2\x9b" "31m", "\\u009b31m");
	assert_escapes("\xc2\x85", "\\u0085");
	assert_escapes("\xc2\xa0", "\xc2\xa0"); /* U+00A0 is printable */
}

static void test_format_controls(void **state)
{
	assert_escapes("evil\xe2\x80\xae" "txt.sh", "evil\\u202etxt.sh");  /* RLO */
	assert_escapes("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");      /* LRI, PDI */
	assert_escapes("a\xe2\x80\xa8" "b", "a\\u2028b");                   /* LINE SEPARATOR */
}

static void test_invalid_utf8(void **state)
{
	assert_escapes("\xff\xfe", "\\xff\\xfe");
	assert_escapes("\xc0\xaf", "\\xc0\\xaf");          /* overlong '/' */
	assert_escapes("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
	assert_escapes("\xe6\x97", "\\xe6\\x97");          /* cut short */
	assert_escapes("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* beyond U+10FFFF */
	assert_escapes("a\xc2", "a\\xc2");
}

static void test_every_byte_pair_is_inert(void **state)
{
	char in[4] = { 0 };

	for (unsigned a = 1; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			char *got;
			in[0] = (char)a;
			in[1] = (char)b;
			got = cli_escape(in);
			assert_non_null(got);
			assert_inert(got);
			free(got);
		}
}

static void test_buffer_cuts_whole_escapes(void **state)
{
	char buf[8];

	/* "ab" + "\x1b" would need 7 bytes and a NUL: cut before the escape. */
	assert_string_equal(cli_esc("ab\x1b" "cd", buf, 6), "ab");
	assert_string_equal(cli_esc("ab\x1b" "cd", buf, sizeof(buf)), "ab\\x1bc");
	assert_string_equal(cli_esc("\xe6\x97\xa5\xe6\x9c\xac", buf, 5), "\xe6\x97\xa5");
	assert_string_equal(CLI_ESC("x\ny"), "x\\ny");
}

static char *json_of(const char *value)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	struct json j;

	assert_non_null(f);
	json_init(&j, f);
	json_string(&j, NULL, value);
	fclose(f);
	return out;
}

static void assert_json(const char *in, const char *want)
{
	char *got = json_of(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_json_strings(void **state)
{
	assert_json("plain", "\"plain\"");
	assert_json("q\"b\\", "\"q\\\"b\\\\\"");
	assert_json("\x1b]2;x\x07", "\"\\u001b]2;x\\u0007\"");
	assert_json("a\nb\tc", "\"a\\nb\\tc\"");
	assert_json("\xc2\x9b" "1m", "\"\\u009b1m\"");
	assert_json("\x9b" "1m", "\"\\ufffd1m\""); /* invalid: U+FFFD, still valid UTF-8 */
	assert_json("\xe2\x80\xae", "\"\\u202e\"");
	assert_json("\xe6\x97\xa5", "\"\xe6\x97\xa5\"");
	assert_json("\x7f", "\"\\u007f\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_c0_and_del),
		cmocka_unit_test(test_c1_both_encodings),
		cmocka_unit_test(test_format_controls),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_every_byte_pair_is_inert),
		cmocka_unit_test(test_buffer_cuts_whole_escapes),
		cmocka_unit_test(test_json_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

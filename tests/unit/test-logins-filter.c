/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PrivateLogins' filter (lib/logins-filter.c): which utmp records a user
 * sees, against records laid out as glibc writes them (struct utmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <utmp.h>

#include <cmocka.h>

#include "logins-filter.h"

static void rec(unsigned char *out, short type, const char *user, const char *line)
{
	struct utmp u;

	memset(&u, 0, sizeof(u));
	u.ut_type = type;
	strncpy(u.ut_user, user, sizeof(u.ut_user));
	strncpy(u.ut_line, line, sizeof(u.ut_line));
	memcpy(out, &u, sizeof(u));
}

static void test_layout_is_glibcs(void **state)
{
	assert_int_equal(sizeof(struct utmp), NSCELL_UTMP_RECORD);
	assert_int_equal(offsetof(struct utmp, ut_user), NSCELL_UTMP_USER_OFF);
	assert_int_equal(sizeof(((struct utmp *)0)->ut_user), NSCELL_UTMP_USER_LEN);
	assert_int_equal(offsetof(struct utmp, ut_type), NSCELL_UTMP_TYPE_OFF);
	assert_int_equal(sizeof(struct lastlog), NSCELL_LASTLOG_RECORD);
	assert_int_equal(nscell_lastlog_offset(1000), 1000u * sizeof(struct lastlog));
}

static void test_visible(void **state)
{
	unsigned char r[NSCELL_UTMP_RECORD];

	rec(r, USER_PROCESS, "ann", "pts/1");
	assert_true(nscell_utmp_visible(r, "ann"));
	assert_false(nscell_utmp_visible(r, "bob"));
	assert_false(nscell_utmp_visible(r, "an"));   /* a prefix is another user */
	assert_false(nscell_utmp_visible(r, "anna")); /* and so is a longer name */
	rec(r, LOGIN_PROCESS, "LOGIN", "tty1");
	assert_false(nscell_utmp_visible(r, "ann"));
	/* The machine's own: boot and run level name pseudo-users. */
	rec(r, BOOT_TIME, "reboot", "~");
	assert_true(nscell_utmp_visible(r, "ann"));
	rec(r, RUN_LVL, "runlevel", "~");
	assert_true(nscell_utmp_visible(r, "ann"));
	/* A line's logout names nobody. */
	rec(r, DEAD_PROCESS, "", "pts/2");
	assert_true(nscell_utmp_visible(r, "ann"));
	rec(r, DEAD_PROCESS, "bob", "pts/2");
	assert_false(nscell_utmp_visible(r, "ann"));
}

static void test_full_width_name(void **state)
{
	unsigned char r[NSCELL_UTMP_RECORD];
	const char *name32 = "abcdefghijklmnopqrstuvwxyz012345"; /* 32: no NUL in the field */

	rec(r, USER_PROCESS, name32, "pts/1");
	assert_true(nscell_utmp_visible(r, name32));
	assert_false(nscell_utmp_visible(r, "abcdefghijklmnopqrstuvwxyz01234"));
	assert_false(nscell_utmp_visible(r, "abcdefghijklmnopqrstuvwxyz0123456"));
}

static void test_filter_in_place(void **state)
{
	unsigned char buf[5 * NSCELL_UTMP_RECORD + 100];
	unsigned char want[3 * NSCELL_UTMP_RECORD];

	rec(buf, BOOT_TIME, "reboot", "~");
	rec(buf + NSCELL_UTMP_RECORD, USER_PROCESS, "bob", "pts/0");
	rec(buf + 2 * NSCELL_UTMP_RECORD, USER_PROCESS, "ann", "pts/1");
	rec(buf + 3 * NSCELL_UTMP_RECORD, DEAD_PROCESS, "bob", "pts/0");
	rec(buf + 4 * NSCELL_UTMP_RECORD, DEAD_PROCESS, "", "pts/1");
	memset(buf + 5 * NSCELL_UTMP_RECORD, 'x', 100); /* a record being written */
	memcpy(want, buf, NSCELL_UTMP_RECORD);
	memcpy(want + NSCELL_UTMP_RECORD, buf + 2 * NSCELL_UTMP_RECORD, NSCELL_UTMP_RECORD);
	memcpy(want + 2 * NSCELL_UTMP_RECORD, buf + 4 * NSCELL_UTMP_RECORD, NSCELL_UTMP_RECORD);
	assert_int_equal(nscell_utmp_filter(buf, sizeof(buf), buf, "ann"), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(nscell_utmp_filter(buf, NSCELL_UTMP_RECORD - 1, buf, "ann"), 0);
}

/* A session file as logind writes it (session_save()). */
static void test_logind_session(void **state)
{
	const char f[] = "# This is private data. Do not parse.\nUID=1000\nUSER=alice\nACTIVE=1\n";
	const char other[] = "USER=bob\nUID=10001\n";
	const char prefix[] = "UID=10000\n";
	const char last[] = "USER=alice\nUID=1000"; /* no final newline */
	const char bad[] = "UID=01000\nXUID=1000\n";
	const char none[] = "USER=alice\nRUNTIME_UID=1000\n";

	assert_true(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "3", f, sizeof(f) - 1, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "3", f, sizeof(f) - 1, 1001));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "c2", other, sizeof(other) - 1, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "4", prefix, sizeof(prefix) - 1, 1000));
	assert_true(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "5", last, sizeof(last) - 1, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "5", last, sizeof(last) - 2, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "6", bad, sizeof(bad) - 1, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "7", none, sizeof(none) - 1, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, "", f, sizeof(f) - 1, 1000));
	/* logind's temporary files (".#3abc") are never copied. */
	assert_false(nscell_logind_visible(NSCELL_LOGINS_SESSIONS, ".#3Xyz", f, sizeof(f) - 1, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_UTMP, "3", f, sizeof(f) - 1, 1000));
}

static void test_logind_user(void **state)
{
	assert_true(nscell_logind_visible(NSCELL_LOGINS_USERS, "1000", "", 0, 1000));
	assert_true(nscell_logind_visible(NSCELL_LOGINS_USERS, "0", "", 0, 0));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_USERS, "1001", "", 0, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_USERS, "01000", "", 0, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_USERS, "1000x", "", 0, 1000));
	assert_false(nscell_logind_visible(NSCELL_LOGINS_USERS, "4294968296", "", 0, 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_is_glibcs),
		cmocka_unit_test(test_visible),
		cmocka_unit_test(test_full_width_name),
		cmocka_unit_test(test_filter_in_place),
		cmocka_unit_test(test_logind_session),
		cmocka_unit_test(test_logind_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
#include <unistd.h>
#include <utmp.h>
#include <stdlib.h>

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

static void rec_id(unsigned char *out, short type, const char *user, const char *line,
		   const char *id)
{
	struct utmp u;

	rec(out, type, user, line);
	memcpy(&u, out, sizeof(u));
	strncpy(u.ut_id, id, sizeof(u.ut_id));
	memcpy(out, &u, sizeof(u));
}

/* The slot is where the C library's own pututline() writes the record:
 * each case is put with it in a scratch file and looked for there. */
static void test_slot_is_pututlines(void **state)
{
	char path[] = "/tmp/nscell-test-utmp-XXXXXX";
	unsigned char file[8 * NSCELL_UTMP_RECORD], r[NSCELL_UTMP_RECORD];
	struct {
		short type;
		const char *user, *line, *id;
	} put[] = {
		{ USER_PROCESS, "ann", "pts/1", "ts/1" },  /* appended */
		{ LOGIN_PROCESS, "LOGIN", "tty2", "2" },   /* appended */
		{ USER_PROCESS, "bob", "tty2", "2" },      /* over the getty's, by id */
		{ DEAD_PROCESS, "", "pts/1", "ts/1" },     /* ann's logout, by id */
		{ USER_PROCESS, "ann", "pts/9", "" },      /* no id: appended */
		{ DEAD_PROCESS, "", "pts/9", "" },         /* no id: by line */
		{ USER_PROCESS, "cid", "pts/4", "ts/1" },  /* ann's dead slot, by id */
		{ BOOT_TIME, "reboot", "~", "~~" },        /* not a process record */
	};
	int fd = mkstemp(path);
	size_t len = 0;

	assert_true(fd >= 0);
	assert_int_equal(utmpname(path), 0);
	for (size_t i = 0; i < sizeof(put) / sizeof(put[0]); i++) {
		size_t want, got = SIZE_MAX;
		ssize_t n;

		rec_id(r, put[i].type, put[i].user, put[i].line, put[i].id);
		want = nscell_utmp_slot(file, len, r);
		setutent();
		assert_non_null(pututline((struct utmp *)r));
		endutent();
		n = pread(fd, file, sizeof(file), 0);
		assert_true(n >= 0);
		for (size_t o = 0; o + NSCELL_UTMP_RECORD <= (size_t)n; o += NSCELL_UTMP_RECORD)
			if (memcmp(file + o, r, NSCELL_UTMP_RECORD) == 0)
				got = o;
		if (put[i].type == BOOT_TIME) {
			assert_int_equal(want, SIZE_MAX); /* never ours to place */
			break;
		}
		if (want == SIZE_MAX)
			assert_int_equal(got, len); /* appended */
		else
			assert_int_equal(got, want);
		len = (size_t)n;
	}
	assert_int_equal(len, 3 * NSCELL_UTMP_RECORD);
	unlink(path);
	close(fd);
}

static void test_forwardable(void **state)
{
	unsigned char r[NSCELL_UTMP_RECORD], slot[NSCELL_UTMP_RECORD];

	/* Her login on her terminal: appended, over a getty's line, a logout,
	 * her own login, or a login of another user this line was left with. */
	rec(r, USER_PROCESS, "ann", "tty1");
	assert_true(nscell_utmp_forwardable(r, NULL, "ann", true));
	rec(slot, LOGIN_PROCESS, "LOGIN", "tty1");
	assert_true(nscell_utmp_forwardable(r, slot, "ann", true));
	rec(slot, DEAD_PROCESS, "", "tty1");
	assert_true(nscell_utmp_forwardable(r, slot, "ann", true));
	rec(slot, USER_PROCESS, "ann", "tty1");
	assert_true(nscell_utmp_forwardable(r, slot, "ann", true));
	rec(slot, USER_PROCESS, "bob", "tty1");
	assert_true(nscell_utmp_forwardable(r, slot, "ann", true));
	/* Never on a terminal not hers, nor over another line's login (an id
	 * chosen to hit it), nor in another user's name. */
	assert_false(nscell_utmp_forwardable(r, NULL, "ann", false));
	rec(slot, USER_PROCESS, "bob", "tty2");
	assert_false(nscell_utmp_forwardable(r, slot, "ann", true));
	rec(r, USER_PROCESS, "bob", "tty1");
	assert_false(nscell_utmp_forwardable(r, NULL, "ann", true));
	/* Her logout ends her login alone. */
	rec(r, DEAD_PROCESS, "", "tty1");
	rec(slot, USER_PROCESS, "ann", "tty1");
	assert_true(nscell_utmp_forwardable(r, slot, "ann", false));
	rec(slot, USER_PROCESS, "bob", "tty1");
	assert_false(nscell_utmp_forwardable(r, slot, "ann", true));
	assert_false(nscell_utmp_forwardable(r, NULL, "ann", true));
	/* Neither the machine's records nor a line's state. */
	rec(r, BOOT_TIME, "reboot", "~");
	assert_false(nscell_utmp_forwardable(r, NULL, "ann", true));
	rec(r, LOGIN_PROCESS, "ann", "tty1");
	assert_false(nscell_utmp_forwardable(r, NULL, "ann", true));
	rec(r, INIT_PROCESS, "", "tty1");
	assert_false(nscell_utmp_forwardable(r, NULL, "ann", true));
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
		cmocka_unit_test(test_slot_is_pututlines),
		cmocka_unit_test(test_forwardable),
		cmocka_unit_test(test_logind_session),
		cmocka_unit_test(test_logind_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

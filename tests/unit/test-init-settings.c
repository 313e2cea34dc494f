/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-init keeps the settings it was made with packed (nscell_settings_pack,
 * lib/proto.c: zero runs of 4 bytes or more cut out) and gives them back to
 * SETTINGS, where the registry compares them: every pattern of bytes comes
 * back the same, within the bound, and realistic settings keep to a few
 * hundred bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "init-conn.h"
#include "settings.h"
#include "test-util.h"

/* What the program linking init-conn.c provides (init.c in nscell-init). */
void logf_(int prio, const char *fmt, ...)
{
}

void init_kill_all(void)
{
}

_Noreturn void init_exit(int code)
{
	abort();
}

extern unsigned char init_settings_kept[];

static void round_trip(const struct nscell_settings *s)
{
	struct nscell_settings *got = malloc(sizeof(*got));

	assert_non_null(got);
	memset(got, 0xa5, sizeof(*got));
	init_settings_keep(s);
	init_settings_get(got);
	assert_memory_equal(got, s, sizeof(*s));
	free(got);
}

static void test_defaults_and_views(void **state)
{
	struct nscell_settings s;
	static const unsigned char none[64];

	memset(&s, 0, sizeof(s));
	nscell_settings_init(&s);
	round_trip(&s);
	/* Short in the buffer: its end was never written. */
	assert_memory_equal(init_settings_kept + sizeof(s) + 4 - sizeof(none), none, sizeof(none));

	snprintf(s.view_paths[NSCELL_VIEW_READ_ONLY], NSCELL_VIEW_LIST_SIZE, "/srv /opt/x");
	snprintf(s.view_paths[NSCELL_VIEW_BIND], NSCELL_VIEW_LIST_SIZE, "/a:/b %%h/x:/y");
	memset(s.view_paths[NSCELL_VIEW_INACCESSIBLE], 'x', NSCELL_VIEW_LIST_SIZE); /* unterminated */
	snprintf(s.hostname, sizeof(s.hostname), "cell");
	s.private_logins = true;
	round_trip(&s);
}

static void test_every_pattern(void **state)
{
	struct nscell_settings s;
	unsigned char *p = (void *)&s;

	/* No zeros; all zeros; zero runs of every length around the cut (4). */
	memset(&s, 0xff, sizeof(s));
	round_trip(&s);
	memset(&s, 0, sizeof(s));
	round_trip(&s);
	for (size_t run = 1; run <= 10; run++) {
		for (size_t i = 0; i < sizeof(s); i++)
			p[i] = (i % (run + 1)) == 0 ? 1 : 0;
		round_trip(&s);
		for (size_t i = 0; i < sizeof(s); i++)
			p[i] = (i % (run + 1)) == 0 ? 0 : 1;
		round_trip(&s);
	}
	srand(1);
	for (int k = 0; k < 200; k++) {
		for (size_t i = 0; i < sizeof(s); i++)
			p[i] = rand() % 3 ? 0 : (unsigned char)rand();
		round_trip(&s);
	}
	/* The last bytes alone, zero or not. */
	memset(&s, 0, sizeof(s));
	p[sizeof(s) - 1] = 7;
	round_trip(&s);
	p[0] = 9;
	p[sizeof(s) - 1] = 0;
	round_trip(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_views),
		cmocka_unit_test(test_every_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

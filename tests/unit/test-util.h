/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared helpers for the unit tests: parse a policy from a string, compare
 * diagnostics exactly, decide for a made-up login.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"

/* Every policy parsed from a string is called this in diagnostics. */
#define TEST_CONF "nscell.conf"

/* Parse text, which must be valid; the caller frees the policy. */
struct nscell_policy *parse_ok(const char *text);

/* Parse text, which must be invalid; returns the diagnostics (caller frees). */
struct nscell_diag parse_bad(const char *text);

/* Assert that text is invalid and its first diagnostic is exactly `first`. */
void assert_first_error(const char *text, const char *first);

/* Assert the complete list of diagnostics, NULL-terminated. */
void assert_errors(const char *text, ...);

/* Print what was received when a comparison fails. */
void dump_diag(const struct nscell_diag *d);

/* A login with up to 8 groups; NULL-terminated group list. */
struct test_login {
	struct nscell_login login;
	const char *groups[9];
};
struct nscell_login *make_login(struct test_login *t, const char *user, uid_t uid,
				const char *service, const char *rhost, const char *tty, ...);

/* Decide for user (uid 1000 unless "root") with no groups and no PAM items. */
struct nscell_decision decide_user(const struct nscell_policy *p, const char *user);

/* The settings a policy gives everyone who matches no block. */
struct nscell_settings defaults_of(const char *text);

/* Create a file with contents under dir; returns the path (caller frees). */
char *write_file(const char *dir, const char *name, const char *contents, mode_t mode);

/* mkdtemp() under $TMPDIR; the caller removes it with remove_tree(). */
char *make_temp_dir(void);
void remove_tree(const char *dir);

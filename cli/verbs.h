/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs of nscell(8). Each takes its own argv (argv[0] is the verb) and
 * returns the process exit status.
 */
#pragma once

#include <stdbool.h>
#include <unistd.h>

enum {
	NSCELL_EXIT_OK = 0,
	NSCELL_EXIT_FAILURE = 1, /* the policy is invalid, the user unknown, ... */
	NSCELL_EXIT_USAGE = 2,
};

struct nscell_cli_verb {
	const char *name;
	int (*run)(int argc, char *argv[]);
	const char *help; /* one line for `nscell --help` */
};

int nscell_verb_check(int argc, char *argv[]);
int nscell_verb_explain(int argc, char *argv[]);
int nscell_verb_list(int argc, char *argv[]);
int nscell_verb_show(int argc, char *argv[]);
int nscell_verb_enter(int argc, char *argv[]);
int nscell_verb_terminate(int argc, char *argv[]);
int nscell_verb_run(int argc, char *argv[]);

/* Owner checks are what the helper does; as root, check what it would see. */
static inline bool nscell_cli_default_owner_check(void)
{
	return geteuid() == 0;
}

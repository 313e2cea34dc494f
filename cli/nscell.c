/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell - the administrator's tool.
 *
 * A verb is one line in the table below and one function; everything about
 * its options lives in its own file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "verbs.h"

static const struct nscell_cli_verb verbs[] = {
	{ "check", nscell_verb_check, "Check the policy files and report every error" },
	{ "explain", nscell_verb_explain, "Show how the policy decides for one login, and why" },
	{ "list", nscell_verb_list, "List the live cells: users, sessions, processes, memory" },
	{ "show", nscell_verb_show, "Show a cell: settings, mounts, sessions, process tree" },
	{ "enter", nscell_verb_enter, "Run a shell or a command inside a live cell" },
	{ "terminate", nscell_verb_terminate, "End cells now, killing what runs in them" },
	{ "run", nscell_verb_run, "(for users) Run a command inside your own cell" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nscell VERB [OPTIONS...]\n"
		"       nscell --help | --version\n"
		"\n"
		"Administer nscell, the login-session isolator.\n"
		"\n"
		"Verbs:\n");
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(verbs); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f,
		"\n"
		"Run 'nscell VERB --help' for the options of a verb.\n"
		"See nscell(8) and nscell.conf(5).\n");
}

int main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return NSCELL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return NSCELL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nscell %s\n", NSCELL_VERSION);
		return NSCELL_EXIT_OK;
	}

	for (size_t i = 0; i < NSCELL_ELEMENTSOF(verbs); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);

	fprintf(stderr, "nscell: unknown verb '%s'; run 'nscell --help' for the list.\n", argv[1]);
	return NSCELL_EXIT_USAGE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell run - for an ordinary user: run a command inside the user's own
 * cell (user-<uid>), from outside any cell: cron jobs, systemd --user units.
 *
 * This side is unprivileged and decides nothing: it execs nscell-run-helper with
 * the verb "run", which authorises the real uid, applies the policy (service
 * nscell-run), finds or makes the cell and runs the command there as the
 * user (see nscell-run-helper(8) and SECURITY.md). What it passes on besides the
 * command is TERM and LANG, as arguments, since the helper reads no
 * environment.
 *
 * Inside a cell there is nothing to do: the caller already is in one and can
 * reach no other. The command then runs in place, directly, as if `nscell
 * run --` were not there; the helper itself refuses to run from a cell.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellctl.h"
#include "cellenter.h"
#include "verbs.h"

#define RUN_EXIT_FAILURE 125

static void help(void)
{
	printf("Usage: nscell run [--] CMD [ARG...]\n"
	       "\n"
	       "Run CMD inside your own cell (user-UID), with the isolation and the\n"
	       "restrictions of a login of yours; for cron jobs and systemd --user units.\n"
	       "The policy must isolate you with Scope user for service nscell-run.\n"
	       "CMD gets a clean environment (HOME, USER, LOGNAME, SHELL, PATH, and TERM\n"
	       "and LANG) and starts in your home directory. Inside a cell, CMD runs in\n"
	       "place, unchanged.\n"
	       "\n"
	       "Options:\n"
	       "  -h, --help    Show this help\n"
	       "\n"
	       "Exit status: that of CMD (128+N if killed by signal N); 125 refused or\n"
	       "failed before CMD ran; 126 CMD could not be run; 127 CMD not found.\n");
}

int nscell_verb_run(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *term = getenv("TERM"), *lang = getenv("LANG");
	char **args, **cmd;
	size_t n = 0;
	int c;

	/* "+": the first non-option is the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			help();
			return NSCELL_EXIT_OK;
		default:
			fprintf(stderr, "Run 'nscell run --help' for usage.\n");
			return NSCELL_EXIT_USAGE;
		}
	if (optind == argc) {
		fprintf(stderr, "nscell run: expected a command; usage: nscell run [--] CMD [ARG...]\n");
		return NSCELL_EXIT_USAGE;
	}
	cmd = argv + optind;

	if (nscell_inside_cell()) {
		int r;

		execvp(cmd[0], cmd);
		r = errno;
		fprintf(stderr, "nscell run: %s: %s\n", cmd[0], strerror(r));
		return r == ENOENT ? 127 : 126;
	}

	args = calloc((size_t)(argc - optind) + 8, sizeof(char *));
	if (!args) {
		fprintf(stderr, "nscell run: out of memory\n");
		return RUN_EXIT_FAILURE;
	}
	args[n++] = (char *)"nscell-run-helper";
	args[n++] = (char *)"run";
	if (nscell_env_value_ok(term)) {
		args[n++] = (char *)"--term";
		args[n++] = (char *)term;
	}
	if (nscell_env_value_ok(lang)) {
		args[n++] = (char *)"--lang";
		args[n++] = (char *)lang;
	}
	args[n++] = (char *)"--";
	for (char **p = cmd; *p; p++)
		args[n++] = *p;
	args[n] = NULL;

	char *const envp[] = { NULL };
	execve(NSCELL_RUN_HELPER_PATH, args, envp);
	fprintf(stderr, "nscell run: cannot run %s: %m\n", NSCELL_RUN_HELPER_PATH);
	free(args);
	return RUN_EXIT_FAILURE;
}

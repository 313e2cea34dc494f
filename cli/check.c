/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell check - is the policy valid, and if not, every reason why.
 *
 * Diagnostics go to stderr one per line, "FILE:LINE:COLUMN: error: ...", so
 * editors can jump to them; the summary of a valid policy goes to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "escape.h"
#include "limits.h"
#include "policy-admin.h"
#include "policy.h"
#include "verbs.h"

static void help(void)
{
	printf("Usage: nscell check [OPTIONS...] [FILE...]\n"
	       "\n"
	       "Check the nscell policy and report every error.\n"
	       "Without FILE: %s\n"
	       "and %s/*.conf, as the helper reads them.\n"
	       "With FILEs: those files as one policy, in the order given, without a\n"
	       "drop-in directory (to check a draft before installing it).\n"
	       "\n"
	       "Options:\n"
	       "  -q, --quiet           Print nothing when the policy is valid\n"
	       "      --no-owner-check  Do not require files owned by root and not writable\n"
	       "                        by group or others (the default when not run as root)\n"
	       "  -h, --help            Show this help\n"
	       "\n"
	       "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n",
	       NSCELL_CONF_PATH, NSCELL_CONF_DROPIN_DIR);
}

int nscell_verb_check(int argc, char *argv[])
{
	enum { ARG_NO_OWNER_CHECK = 0x100 };
	static const struct option options[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-owner-check", no_argument, NULL, ARG_NO_OWNER_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool quiet = false, owner_check = nscell_cli_default_owner_check();
	struct nscell_policy *policy = NULL;
	struct nscell_diag diag = {};
	const char *name;
	int c, r;

	while ((c = getopt_long(argc, argv, "qh", options, NULL)) >= 0)
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case ARG_NO_OWNER_CHECK:
			owner_check = false;
			break;
		case 'h':
			help();
			return NSCELL_EXIT_OK;
		default:
			fprintf(stderr, "Run 'nscell check --help' for usage.\n");
			return NSCELL_EXIT_USAGE;
		}

	unsigned flags = owner_check ? NSCELL_POLICY_CHECK_OWNER : 0;
	if (optind < argc) {
		name = argv[optind];
		r = nscell_policy_load_files((const char *const *) argv + optind, (size_t) (argc - optind),
					     flags, &policy, &diag);
	} else {
		name = NSCELL_CONF_PATH;
		r = nscell_policy_load(NSCELL_CONF_PATH, NSCELL_CONF_DROPIN_DIR, flags, &policy, &diag);
	}

	/* A diagnostic quotes the file, which may be anyone's (nscell check FILE). */
	for (size_t i = 0; i < diag.n_lines; i++) {
		_cleanup_free_ char *line = cli_escape(diag.lines[i]);
		fprintf(stderr, "%s\n", line ?: "?");
	}
	if (r < 0) {
		if (diag.n_lines == 0)
			fprintf(stderr, "nscell: cannot check %s: %s\n", CLI_ESC(name), strerror(-r));
		if (optind < argc)
			fprintf(stderr, "%s: invalid policy.\n", CLI_ESC(name));
		else
			fprintf(stderr, "%s: invalid policy; nscell-helper refuses every session but root's until it is fixed.\n",
				CLI_ESC(name));
		nscell_diag_free(&diag);
		return NSCELL_EXIT_FAILURE;
	}

	/* Valid, but not enforceable here: said, not failed (the policy may be
	 * meant for other hosts too). */
	{
		struct nscell_settings all;
		enum nscell_key k;
		const struct nscell_origin *o = nscell_policy_first_limit(policy, &k);
		char why[256];

		nscell_settings_init(&all);
		all.limits.memory_max.value = 1;
		all.limits.tasks_max.value = 2;
		all.limits.cpu_quota_percent = 1;
		all.limits.io_weight = 1;
		if (o && !nscell_limits_host(&all.limits, why, sizeof(why)))
			fprintf(stderr, "%s:%u: warning: %s cannot be enforced on this host: %s; LimitsUnavailable decides whether such logins are refused or go on unlimited\n",
				CLI_ESC(o->file), o->line, nscell_key_name(k), why);
	}
	if (!quiet) {
		size_t n_blocks = nscell_policy_n_blocks(policy), n_files = nscell_policy_n_files(policy);
		printf("%s: OK, %zu Match block%s, %zu file%s\n", CLI_ESC(name),
		       n_blocks, n_blocks == 1 ? "" : "s", n_files, n_files == 1 ? "" : "s");
	}
	nscell_policy_free(policy);
	nscell_diag_free(&diag);
	return NSCELL_EXIT_OK;
}

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
#include <sys/stat.h>

#include "cleanup.h"
#include "escape.h"
#include "limits.h"
#include "policy-admin.h"
#include "policy.h"
#include "settings-keys.h"
#include "verbs.h"
#include "view.h"

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

/* One path of the view as this machine has it (the helper walks it the same
 * way at login): a warning, not an error, since the policy may be written
 * before the path exists. */
static void check_view_path(const struct nscell_origin *o, enum nscell_key k, const char *path)
{
	struct stat st;

	/* A specifier is the user's to expand; '-' says a missing path is fine. */
	if (path[0] == '-' || strchr(path, '%'))
		return;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			fprintf(stderr, "%s:%u: warning: %s %s does not exist here; a login that gets it is refused (write -%s to skip it when missing)\n",
				CLI_ESC(o->file), o->line, nscell_key_name(k), CLI_ESC(path), CLI_ESC(path));
		return;
	}
	if (S_ISLNK(st.st_mode))
		fprintf(stderr, "%s:%u: warning: %s %s is a symlink, which the view never follows; a login that gets it is refused (write the path it points to)\n",
			CLI_ESC(o->file), o->line, nscell_key_name(k), CLI_ESC(path));
}

static void check_view_paths(const struct nscell_policy *p)
{
	for (size_t b = 0; b <= nscell_policy_n_blocks(p); b++)
		for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
			struct nscell_origin o;
			const char *list = nscell_view_policy_list(p, b, (enum nscell_key) k, &o);
			_cleanup_free_ char *copy = list ? strdup(list) : NULL;
			char *save = NULL;

			if (!copy)
				continue;
			for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
				char *colon = strchr(w, ':');
				if (w[0] == '-') /* both paths may be missing */
					continue;
				if (colon) {
					*colon = '\0';
					check_view_path(&o, (enum nscell_key) k, colon + 1);
				}
				check_view_path(&o, (enum nscell_key) k, w);
			}
		}
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
			fprintf(stderr, "%s: invalid policy; nscell-open refuses every session but root's until it is fixed.\n",
				CLI_ESC(name));
		nscell_diag_free(&diag);
		return NSCELL_EXIT_FAILURE;
	}

	check_view_paths(policy);
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

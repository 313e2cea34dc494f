/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell explain - what the policy decides for one login, and why.
 *
 * The same steps as the helper: resolve the user through NSS, read the
 * policy, decide. Then every effective setting is shown next to the line
 * that set it, so "why is /tmp shared for bob?" has a one-command answer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "escape.h"
#include "identity.h"
#include "logins-enter.h"
#include "limits.h"
#include "policy-admin.h"
#include "policy.h"
#include "verdict.h"
#include "settings-keys.h"
#include "verbs.h"
#include "view.h"

#ifdef NSCELL_TEST_NSS
/* Test builds only, never installed: users and groups from files. */
#include "nss-files.h"
#endif

#define WIDTH 80
#define LABEL_WIDTH 12
#define KEY_WIDTH 22
#define VALUE_WIDTH_MAX 30

static const struct nscell_nss_ops *nss_ops(void)
{
#ifdef NSCELL_TEST_NSS
	const char *dir = getenv("NSCELL_TEST_NSS_DIR");
	if (dir)
		return nscell_test_nss_files(dir);
#endif
	return &nscell_nss_libc;
}

static void help(void)
{
	printf("Usage: nscell explain [OPTIONS...] USER\n"
	       "\n"
	       "Show what the policy decides for a login of USER, and why: the login's\n"
	       "facts, whether it is isolated, which Match block decided, and every\n"
	       "effective setting with the line it comes from.\n"
	       "\n"
	       "Options:\n"
	       "  -s, --service NAME    PAM service of the login (sshd, su, login, ...)\n"
	       "  -H, --rhost HOST      Remote host of the login (PAM_RHOST)\n"
	       "  -t, --tty TTY         Terminal of the login (PAM_TTY)\n"
	       "  -c, --config FILE     Read FILE alone instead of %s\n"
	       "                        and its drop-in directory\n"
	       "      --no-owner-check  Do not require root-owned policy files (the default\n"
	       "                        when not run as root)\n"
	       "  -h, --help            Show this help\n"
	       "\n"
	       "Exit status: 0 explained, 1 unknown user or invalid policy, 2 usage error.\n",
	       NSCELL_CONF_PATH);
}

/* Origins are shown relative to the main file's directory, so that a
 * drop-in's FILE:LINE fits beside its value in 80 columns. */
static const char *base_dir;
static size_t base_len;

static void set_base_dir(const char *main_path)
{
	const char *slash = strrchr(main_path, '/');

	base_dir = main_path;
	base_len = slash ? (size_t) (slash - main_path) + 1 : 0;
}

static const char *short_path(const char *path)
{
	if (base_len > 0 && strncmp(path, base_dir, base_len) == 0 && path[base_len])
		return path + base_len;
	return path;
}

static void print_origin_or_default(const struct nscell_origin *o)
{
	if (o->file)
		printf("%s:%u", CLI_ESC(short_path(o->file)), o->line);
	else
		fputs("built-in default", stdout);
}

/* "Label:     a, b, c" with the list wrapped under itself. */
static void print_list(const char *label, const char *const *items, size_t n)
{
	size_t col = (size_t) printf("  %-*s", LABEL_WIDTH, label);

	for (size_t i = 0; i < n; i++) {
		const char *item = CLI_ESC(items[i]);
		size_t len = strlen(item) + (i + 1 < n ? 1 : 0);
		if (i > 0 && col + 1 + len > WIDTH) {
			printf("\n%*s", 2 + LABEL_WIDTH, "");
			col = 2 + LABEL_WIDTH;
		} else if (i > 0) {
			putchar(' ');
			col++;
		}
		col += (size_t) printf("%s%s", item, i + 1 < n ? "," : "");
	}
	putchar('\n');
}

static int print_policy(const struct nscell_policy *p)
{
	size_t n = nscell_policy_n_files(p);
	const char **names = calloc(n, sizeof(char *));

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = short_path(nscell_policy_file(p, i));
	printf("\nPolicy\n");
	if (base_len == 0)
		printf("  %-*s.\n", LABEL_WIDTH, "Directory:");
	else { /* without the trailing slash, unless it is "/" */
		char dir[CLI_ESC_MAX];
		snprintf(dir, sizeof(dir), "%.*s", (int) (base_len > 1 ? base_len - 1 : 1), base_dir);
		printf("  %-*s%s\n", LABEL_WIDTH, "Directory:", CLI_ESC(dir));
	}
	print_list("Files:", names, n);
	free(names);
	return 0;
}

static void print_login(const struct nscell_identity *id, const struct nscell_login *login)
{
	printf("Login\n");
	printf("  %-*s%s (uid %u, gid %u)\n", LABEL_WIDTH, "User:", CLI_ESC(id->user), (unsigned) id->uid, (unsigned) id->gid);
	print_list("Groups:", (const char *const *) id->groups, id->n_groups);
	printf("  %-*s%s\n", LABEL_WIDTH, "Service:", login->service ? CLI_ESC(login->service) : "(none)");
	printf("  %-*s%s\n", LABEL_WIDTH, "Host:", login->rhost ? CLI_ESC(login->rhost) : "(none)");
	printf("  %-*s%s\n", LABEL_WIDTH, "Tty:", login->tty ? CLI_ESC(login->tty) : "(none)");
}

/* Where the limits would be enforced, or why they cannot be here. */
static void print_limits(const struct nscell_decision *d)
{
	const struct nscell_settings *s = &d->settings;
	char why[256];
	int backend;

	if (!s->isolate || d->root_exempt || !nscell_limits_any(&s->limits))
		return;
	printf("%-*s", LABEL_WIDTH + 2, "Limits:");
	backend = nscell_limits_host(&s->limits, why, sizeof(why));
	if (backend == NSCELL_LIMITS_SYSTEMD)
		printf("enforced by systemd on %s\n",
		       s->scope == NSCELL_SCOPE_USER ?
			       "user-UID.slice\n              (all of the user's processes together)" :
			       "the login's session scope");
	else if (backend == NSCELL_LIMITS_CGROUP)
		printf("enforced by nscell on a cgroup of the cell's own\n              (nscell.cells/u<UID>.<CELL> in the cgroup v2 hierarchy%s)\n",
		       s->scope == NSCELL_SCOPE_USER ? "; all of the user cell's sessions together" : "");
	else
		printf("cannot be enforced on this host:\n              %s;\n              LimitsUnavailable %s: %s\n",
		       why, s->limits_unavailable == NSCELL_LIMITS_UNAVAILABLE_IGNORE ? "ignore" : "refuse",
		       s->limits_unavailable == NSCELL_LIMITS_UNAVAILABLE_IGNORE ?
			       "the login goes on unlimited" : "the login is refused (root's goes on)");
}

static void print_outcome(const struct nscell_decision *d)
{
	printf("\n%-*s", LABEL_WIDTH + 2, "Outcome:");
	if (d->root_exempt)
		printf("exempt (root exemption)\n");
	else if (!d->settings.isolate) {
		printf("exempt (Isolate no at ");
		print_origin_or_default(&d->origin[NSCELL_KEY_ISOLATE]);
		printf(")\n");
	} else
		printf("isolated\n");

	printf("%-*s", LABEL_WIDTH + 2, "Decided by:");
	if (d->rule.file)
		printf("%s:%u: %s\n", CLI_ESC(short_path(d->rule.file)), d->rule.line,
		       d->rule_text ? CLI_ESC(d->rule_text) : "Match");
	else if (d->root_exempt)
		printf("no matching Match block names root ('Match User root')\n");
	else
		printf("no Match block matched; the defaults apply\n");
	print_limits(d);
}

static int print_settings(const struct nscell_decision *d)
{
	char *values[_NSCELL_KEY_MAX] = {};
	size_t width = 0;
	int r = 0;

	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
		r = nscell_settings_format_key(&d->settings, k, &values[k]);
		if (r < 0)
			goto finish;
		size_t len = strlen(values[k]);
		if (len > width)
			width = len;
	}
	if (width > VALUE_WIDTH_MAX)
		width = VALUE_WIDTH_MAX;
	if (width < 5)
		width = 5;

	printf("\n%s\n", d->settings.isolate ? "Effective settings" :
	       "Effective settings (not applied: the login passes through untouched)");
	printf("  %-*s %-*s  %s\n", KEY_WIDTH - 1, "Key", (int) width, "Value", "From");
	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
		printf("  %-*s %s", KEY_WIDTH - 1, nscell_key_name(k), values[k]);
		/* A long value pushes its origin to the next line, aligned. */
		if (strlen(values[k]) > width)
			printf("\n  %*s", (int) (KEY_WIDTH + width), "");
		else
			printf("%*s", (int) (width - strlen(values[k])), "");
		fputs("  ", stdout);
		if (k == NSCELL_KEY_ISOLATE && d->root_exempt)
			fputs("root exemption", stdout);
		else
			print_origin_or_default(&d->origin[k]);
		putchar('\n');
	}
finish:
	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++)
		free(values[k]);
	return r;
}

/* The view the helper would make for this user: lib/view.c's plan, one
 * line per operation, in the order they are made. */
static int print_view(const struct nscell_decision *d, const struct nscell_identity *id)
{
	struct nscell_view_who who = {
		.user = id->user, .uid = id->uid, .home = id->home, .gid = id->gid,
		.group = id->groups ? id->groups[0] : NULL,
	};
	struct nscell_view_plan plan = {};
	_cleanup_free_ char *why = NULL;
	int r;

	if (!d->settings.isolate || !nscell_view_wanted(&d->settings))
		return 0;
	printf("\nView (in this order)\n");
	r = nscell_view_plan(&d->settings, &who, &plan, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		printf("  none: the login would be refused: %s\n", why ? CLI_ESC(why) : "?");
		return 0;
	}
	for (size_t i = 0; i < plan.n_ops; i++) {
		const struct nscell_view_op *op = &plan.ops[i];

		printf("  %-*s", LABEL_WIDTH + 1, nscell_view_op_name(op->kind));
		switch (op->kind) {
		case NSCELL_VIEW_OP_OWN:
			printf("%s: hidden", CLI_ESC(op->dst));
			if (op->src)
				printf(" but %s", CLI_ESC(op->src));
			else if (op->keep)
				printf(" but the way to %s/%s", CLI_ESC(op->dst), CLI_ESC(op->keep));
			break;
		case NSCELL_VIEW_OP_BIND:
			printf("%s", CLI_ESC(op->src));
			printf(" on %s%s", CLI_ESC(op->dst), op->read_only ? ", read-only" : "");
			break;
		default:
			printf("%s", CLI_ESC(op->dst));
			break;
		}
		printf("%s  (%s)\n", op->optional ? " if it exists" : "", nscell_key_name(op->key));
	}
	nscell_view_plan_done(&plan);
	return 0;
}

/* PrivateLogins: which records the user's processes see, and whether the
 * service's sessions are among them (lib/logins-enter.c, as the module). */
static void print_logins(const struct nscell_decision *d, const char *service)
{
	static const char *const where[] = {
		[NSCELL_LOGINS_NONE] = "not hidden: where it writes its records is not known (the module logs a warning)",
		[NSCELL_LOGINS_OPEN] = "hidden: the session enters at open_session",
		[NSCELL_LOGINS_SETCRED] = "hidden: the session child enters at setcred (needs 'auth optional pam_nscell.so')",
		[NSCELL_LOGINS_FORK] = "hidden: the shell enters as login forks it",
	};

	if (!d->settings.isolate || !d->settings.private_logins)
		return;
	printf("\nLogin records (PrivateLogins)\n");
	printf("  %-*swho, w, users, last, lastlog: the user's own records and the machine's\n",
	       LABEL_WIDTH + 1, "own only");
	/* nscell run is no PAM service: it enters the cell itself, at once. */
	if (service && strcmp(service, "nscell-run") == 0)
		printf("  %-*shidden: the command enters as it starts\n", LABEL_WIDTH + 1, "nscell-run");
	else if (service && *service)
		printf("  %-*s%s\n", LABEL_WIDTH + 1, CLI_ESC(service), where[nscell_logins_point(service)]);
	else
		printf("  %-*ssshd, su, runuser, sudo, login and nscell run are hidden; others not (see --service)\n",
		       LABEL_WIDTH + 1, "services");
}

int nscell_verb_explain(int argc, char *argv[])
{
	enum { ARG_NO_OWNER_CHECK = 0x100 };
	static const struct option options[] = {
		{ "service", required_argument, NULL, 's' },
		{ "rhost", required_argument, NULL, 'H' },
		{ "tty", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "no-owner-check", no_argument, NULL, ARG_NO_OWNER_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *service = NULL, *rhost = NULL, *tty = NULL, *config = NULL, *user;
	bool owner_check = nscell_cli_default_owner_check();
	struct nscell_identity *id = NULL;
	const struct nscell_policy *policy;
	struct nscell_verdict v = { 0 };
	struct nscell_decision decision;
	struct nscell_login login;
	int c, r, ret = NSCELL_EXIT_FAILURE;

	while ((c = getopt_long(argc, argv, "s:H:t:c:h", options, NULL)) >= 0)
		switch (c) {
		case 's':
			service = optarg;
			break;
		case 'H':
			rhost = optarg;
			break;
		case 't':
			tty = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case ARG_NO_OWNER_CHECK:
			owner_check = false;
			break;
		case 'h':
			help();
			return NSCELL_EXIT_OK;
		default:
			fprintf(stderr, "Run 'nscell explain --help' for usage.\n");
			return NSCELL_EXIT_USAGE;
		}
	if (optind + 1 != argc) {
		fprintf(stderr, "nscell explain: %s; run 'nscell explain --help' for usage.\n",
			optind == argc ? "expected a user name" : "expected exactly one user name");
		return NSCELL_EXIT_USAGE;
	}
	user = argv[optind];

	r = nscell_identity_resolve(user, nss_ops(), &id);
	if (r == -ENOENT) {
		fprintf(stderr, "nscell explain: no such user '%s' (looked up through NSS).\n", CLI_ESC(user));
		return NSCELL_EXIT_FAILURE;
	}
	if (r < 0) {
		fprintf(stderr, "nscell explain: cannot resolve user '%s': %s\n", CLI_ESC(user), strerror(-r));
		return NSCELL_EXIT_FAILURE;
	}

	const struct nscell_verdict_query q = {
		.conf = config, .dropin = config ? NULL : NSCELL_CONF_DROPIN_DIR,
		.load_flags = owner_check ? NSCELL_POLICY_CHECK_OWNER : 0,
		.service = service, .rhost = rhost, .tty = tty, .nss = nss_ops(),
	};
	char why[600];

	r = nscell_verdict_decide(id, &q, &v, why, sizeof(why));
	if (r < 0 && !v.policy) {
		for (size_t i = 0; i < v.diag.n_lines; i++) {
			_cleanup_free_ char *line = cli_escape(v.diag.lines[i]);
			fprintf(stderr, "%s\n", line ?: "?");
		}
		fprintf(stderr, "nscell explain: the policy %s is invalid%s%s; run 'nscell check'.\n",
			CLI_ESC(config ?: NSCELL_CONF_PATH), v.diag.n_lines ? "" : ": ",
			v.diag.n_lines ? "" : strerror(-r));
		goto finish;
	}
	if (r < 0) {
		fprintf(stderr, "nscell explain: %s\n", CLI_ESC(why));
		goto finish;
	}
	policy = v.policy;
	decision = v.decision;
	login = v.login;
	set_base_dir(config ?: NSCELL_CONF_PATH);

	print_login(id, &login);
	if (print_policy(policy) < 0) {
		fprintf(stderr, "nscell explain: out of memory\n");
		goto finish;
	}
	print_outcome(&decision);
	if (print_settings(&decision) < 0 || print_view(&decision, id) < 0) {
		fprintf(stderr, "nscell explain: out of memory\n");
		goto finish;
	}
	print_logins(&decision, service);
	ret = fflush(stdout) == 0 ? NSCELL_EXIT_OK : NSCELL_EXIT_FAILURE;
finish:
	nscell_verdict_free(&v);
	nscell_identity_free(id);
	return ret;
}

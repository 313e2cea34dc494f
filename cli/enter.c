/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell enter - an nsenter that knows cells: run a shell or a command in a
 * live cell, to see what its user sees or to debug it.
 *
 * The cell is pinned by the init's pidfd, which the init hands over itself
 * in answer to a JOIN whose opener is this process: the command runs as a
 * session of the cell (listed with service "nscell-enter"), which keeps the
 * cell alive while it runs, and leaves when it exits. No pid read from a
 * status answer is ever entered.
 *
 * By default the command runs exactly as a session of the cell's user does:
 * every namespace of the cell, its user namespace, the restrictions the
 * policy gives that user (service nscell-enter), the user's uid and groups,
 * a clean environment and their home. --root keeps root with its
 * capabilities, in the cell's namespaces but not its user namespace (where
 * root is not mapped and would be powerless), without restrictions, and with
 * a /tmp, /var/tmp and /dev/shm of its own: the cell's are the user's to
 * fill, and root's programs take files from there by fixed names.
 *
 * Either way the command gets a terminal or pipes of its own (relay.h):
 * what runs in a cell is the user's code, and root's terminal is never
 * handed to it.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cellctl.h"
#include "cellenter.h"
#include "cells.h"
#include "cleanup.h"
#include "escape.h"
#include "identity.h"
#include "policy.h"
#include "relay.h"
#include "verbs.h"
#include "verdict.h"

#define ENTER_SERVICE "nscell-enter"

static void help(void)
{
	printf("Usage: nscell enter [OPTIONS...] CELL|USER [--] [CMD [ARG...]]\n"
	       "       nscell enter [OPTIONS...] --cell ID|--user USER [--] [CMD [ARG...]]\n"
	       "\n"
	       "Run CMD (default: a login shell) inside a live cell, as a session of it:\n"
	       "the cell lives at least as long as CMD runs. USER names the user's only cell.\n"
	       "\n"
	       "By default CMD runs as the cell's user does in a session: every namespace\n"
	       "of the cell including its user namespace, the restrictions the policy\n"
	       "gives the user (service %s), the user's uid and groups, a clean\n"
	       "environment, the home directory.\n"
	       "\n"
	       "CMD runs in a session of its own on a new pseudo-terminal that nscell\n"
	       "relays (on pipes when stdin is not a terminal): it never gets this terminal.\n"
	       "Type ^] three times within a second to kill it and leave.\n"
	       "\n"
	       "Options:\n"
	       "  -r, --root          Stay root, with all capabilities: the cell's namespaces\n"
	       "                      but not its user namespace, no restrictions, the\n"
	       "                      environment and directory of the caller (default\n"
	       "                      command: $SHELL), and a /tmp, /var/tmp and /dev/shm of\n"
	       "                      its own (the cell's are at /proc/1/root/tmp, ...)\n"
	       "      --cell ID       The cell ID (also: ID as an argument)\n"
	       "  -u, --user USER     The only cell of USER (also: USER as an argument)\n"
	       "  -h, --help          Show this help\n"
	       "\n"
	       "Exit status: that of CMD; 125 if the cell could not be entered; 126 CMD\n"
	       "could not be run; 127 CMD not found; 2 usage error.\n",
	       ENTER_SERVICE);
}

/* The restrictions of a session of `id`, from the installed policy. A policy
 * that does not load gives the built-in defaults, with a warning: debugging
 * a cell must not depend on a policy file that has a typo. */
static void session_restrictions(struct nscell_identity *id, struct nscell_settings *ret)
{
	const struct nscell_verdict_query q = {
		.dropin = NSCELL_CONF_DROPIN_DIR, .load_flags = NSCELL_POLICY_CHECK_OWNER,
		.service = ENTER_SERVICE,
	};
	struct nscell_verdict v;
	char why[600];

	if (nscell_verdict_decide(id, &q, &v, why, sizeof(why)) < 0) {
		fprintf(stderr,
			"nscell enter: %s; applying the built-in default restrictions. Run 'nscell check'.\n",
			why);
		nscell_settings_init(ret);
	} else {
		*ret = v.decision.settings;
	}
	nscell_verdict_free(&v);
}

/* What the child of `enter` runs. Never returns. */
static _Noreturn void child(const char *cell_id, const struct nscell_cellctl_session *s,
			    const struct nscell_settings *restrictions,
			    const struct nscell_identity *id, bool as_root, const char *cwd,
			    char **cmd, const sigset_t *mask, struct cli_relay *relay)
{
	extern char **environ;
	char err[300];
	char **env = NULL;
	char *shell_argv[2] = { NULL, NULL };
	_cleanup_free_ char *login_name = NULL;
	int r;

	signal(SIGPIPE, SIG_DFL);
	/* First of all, before anything of the user's can run: root's terminal
	 * and fds are replaced by the relay's. */
	r = cli_relay_child(relay);
	if (r < 0) {
		fprintf(stderr, "nscell enter: cannot set up the terminal of the command: %s\n",
			strerror(-r));
		_exit(125);
	}
	r = nscell_cell_enter(s->init_pidfd, s->namespaces, as_root ? -1 : s->userns_fd,
			      as_root ? -1 : s->logins_fd,
			      as_root ? NULL : restrictions, as_root ? NULL : id, err, sizeof(err));
	if (r == 0 && as_root)
		r = nscell_cell_private_tmp(err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "nscell enter: %s: %s\n", CLI_ESC(cell_id), err);
		_exit(125);
	}
	if (as_root) {
		/* An nsenter: the caller's environment and, where it exists, directory. */
		if (!cwd || chdir(cwd) < 0)
			(void)!chdir("/");
		if (!cmd[0]) {
			const char *sh = getenv("SHELL");
			shell_argv[0] = (char *)(sh && sh[0] == '/' ? sh : "/bin/sh");
			cmd = shell_argv;
		}
	} else {
		if (nscell_session_env(id, getenv("TERM"), getenv("LANG"), &env) < 0) {
			fprintf(stderr, "nscell enter: out of memory\n");
			_exit(125);
		}
		environ = env;
		if (!id->home[0] || chdir(id->home) < 0) {
			fprintf(stderr, "nscell enter: cannot change to %s: %m; using /\n", CLI_ESC(id->home));
			(void)!chdir("/");
		}
		if (!cmd[0]) {
			/* A login shell, as login(1) starts it: "-bash". */
			const char *sh = id->shell[0] ? id->shell : "/bin/sh";
			const char *base = strrchr(sh, '/');
			if (asprintf(&login_name, "-%s", base ? base + 1 : sh) < 0)
				_exit(125);
			shell_argv[0] = login_name;
			sigprocmask(SIG_SETMASK, mask, NULL);
			execv(sh, shell_argv);
			r = errno;
			fprintf(stderr, "nscell enter: %s: %s\n", CLI_ESC(sh), strerror(r));
			_exit(r == ENOENT ? 127 : 126);
		}
	}
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(cmd[0], cmd);
	r = errno;
	fprintf(stderr, "nscell enter: %s: %s\n", CLI_ESC(cmd[0]), strerror(r));
	_exit(r == ENOENT ? 127 : 126);
}

int nscell_verb_enter(int argc, char *argv[])
{
	enum { ARG_CELL = 0x100 };
	static const struct option options[] = {
		{ "root", no_argument, NULL, 'r' },
		{ "cell", required_argument, NULL, ARG_CELL },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct nscell_cellctl_session s = { .sock = -1, .init_pidfd = -1, .userns_fd = -1,
					      .logins_fd = -1 };
	struct cli_relay relay = { .master = -1, .child_fd = { -1, -1, -1 }, .ours = { -1, -1, -1 } };
	struct cli_selector sel;
	struct cli_cells cells = { 0 };
	struct nscell_identity *id = NULL;
	struct nscell_settings restrictions;
	sigset_t block, old;
	_cleanup_close_ int self = -1;
	_cleanup_free_ char *cwd = NULL;
	const struct cli_cell *cell;
	const char *target = NULL;
	enum cli_selector_kind kind = CLI_SEL_ANY;
	char cell_id[NSCELL_CELL_ID_MAX], err[300];
	char **cmd;
	bool as_root = false;
	int c, r, status, ret = 125;
	pid_t pid;

	/* "+": options end at CELL; what follows is the command's. */
	while ((c = getopt_long(argc, argv, "+ru:h", options, NULL)) >= 0)
		switch (c) {
		case 'r':
			as_root = true;
			break;
		case ARG_CELL:
		case 'u':
			if (target) {
				fprintf(stderr, "nscell enter: one cell or user only.\n");
				return NSCELL_EXIT_USAGE;
			}
			target = optarg;
			kind = c == 'u' ? CLI_SEL_USER : CLI_SEL_CELL;
			break;
		case 'h':
			help();
			return NSCELL_EXIT_OK;
		default:
			fprintf(stderr, "Run 'nscell enter --help' for usage.\n");
			return NSCELL_EXIT_USAGE;
		}
	if (!target) {
		if (optind == argc) {
			fprintf(stderr, "nscell enter: expected a cell id or a user; run 'nscell list' for the cells.\n");
			return NSCELL_EXIT_USAGE;
		}
		target = argv[optind++];
	}
	cmd = argv + optind;
	if (cmd[0] && strcmp(cmd[0], "--") == 0)
		cmd++;
	if (!cli_require_root("enter"))
		return 125;
	if (cli_selector_parse("enter", target, kind, &sel) < 0)
		return 125;
	if (cli_cells_load("enter", &sel, 1, &cells) < 0)
		return 125;
	if (cells.n != 1) {
		if (cells.n == 0)
			fprintf(stderr, "nscell enter: %s %s.\n",
				sel.is_cell ? "no live cell" : "no cell of user", CLI_ESC(sel.text));
		else {
			fprintf(stderr, "nscell enter: user %s has %zu cells; name one:", CLI_ESC(sel.text),
				cells.n);
			for (size_t i = 0; i < cells.n; i++)
				fprintf(stderr, " %s", CLI_ESC(cells.v[i].status->config.cell_id));
			fputc('\n', stderr);
		}
		goto finish;
	}
	cell = &cells.v[0];
	snprintf(cell_id, sizeof(cell_id), "%s", cell->status->config.cell_id);

	/* The cell's user, for the credentials and the restrictions. */
	if (!cell->user) {
		fprintf(stderr, "nscell enter: uid %u of cell %s has no user name.\n",
			(unsigned)cell->status->config.uid, CLI_ESC(cell_id));
		goto finish;
	}
	r = nscell_identity_resolve(cell->user, &nscell_nss_libc, &id);
	if (r < 0 || id->uid != cell->status->config.uid) {
		fprintf(stderr, "nscell enter: cannot resolve user %s of cell %s: %s\n",
			CLI_ESC(cell->user), CLI_ESC(cell_id),
			r < 0 ? strerror(-r) : "the name leads to another uid");
		goto finish;
	}
	nscell_settings_init(&restrictions);
	if (!as_root)
		session_restrictions(id, &restrictions);

	/* The command's terminal (or pipes): never ours. */
	if (cli_relay_open(&relay, err, sizeof(err)) < 0) {
		fprintf(stderr, "nscell enter: %s\n", err);
		goto finish;
	}

	/* Pinned by the init itself: JOIN with our own pidfd as the opener. */
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self < 0) {
		fprintf(stderr, "nscell enter: pidfd_open: %m\n");
		goto finish;
	}
	r = nscell_cellctl_join(cell_id, self, getpid(), ENTER_SERVICE,
				relay.pty ? relay.tty_name : NULL, NULL, &s);
	if (r < 0) {
		fprintf(stderr, "nscell enter: cannot join cell %s: %s\n", CLI_ESC(cell_id),
			r == -ESTALE ? "it is ending" : strerror(-r));
		cli_log(LOG_WARNING, "event=refused verb=enter cell=%s by_uid=%u error=\"%s\"",
			CLI_ESC(cell_id), (unsigned)getuid(),
			r == -ESTALE ? "cell ending" : strerror(-r));
		goto finish;
	}
	cli_log(LOG_INFO,
		"event=cell-entered cell=%s session=%u user=%s uid=%u as=%s by_uid=%u tty=%s opener_pid=%d",
		CLI_ESC(cell_id), s.session_no, CLI_ESC(id->user), (unsigned)id->uid,
		as_root ? "root" : "user", (unsigned)getuid(), relay.pty ? relay.tty_name : "-",
		(int)getpid());

	cwd = getcwd(NULL, 0);
	/* Our children are born in the cell's pid namespace; we stay outside. */
	if (setns(s.init_pidfd, CLONE_NEWPID) < 0) {
		fprintf(stderr, "nscell enter: cannot enter the pid namespace of %s: %m\n",
			CLI_ESC(cell_id));
		goto finish;
	}
	/* Read by the relay's signalfd from before the fork on: none is lost. */
	cli_relay_signals(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	/* Root's stdout going away must not kill us with its terminal in raw mode. */
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "nscell enter: fork: %m\n");
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto finish;
	}
	if (pid == 0)
		child(cell_id, &s, &restrictions, id, as_root, cwd, cmd, &old, &relay);

	r = cli_relay_run(&relay, pid, &status);
	cli_relay_close(&relay); /* root's terminal back as it was, before anything is printed */
	if (relay.escaped)
		fprintf(stderr, "\nnscell enter: ^]^]^] typed: the command was killed.\n");
	if (r < 0) {
		fprintf(stderr, "nscell enter: relaying the command's terminal failed: %s\n",
			strerror(-r));
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		ret = 125;
	} else if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		ret = 128 + WTERMSIG(status);
	sigprocmask(SIG_SETMASK, &old, NULL);
finish:
	cli_relay_close(&relay);
	nscell_cellctl_session_close(&s); /* LEAVE */
	nscell_identity_free(id);
	cli_cells_free(&cells);
	return ret;
}

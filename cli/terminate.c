/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell terminate - end cells now: the init of each removes its registry
 * entry, kills every process in the cell and exits, which takes the cell's
 * namespaces and mounts with it. Then wait until that has happened and say
 * what was ended.
 *
 * The init is watched by a pidfd made from the pid its status names and then
 * checked again through a pinned /proc/<pid> (cellprocs.h), so a pid reused
 * meanwhile can never be mistaken for the cell's init. Nothing is killed
 * from here: the init does that.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cellctl.h"
#include "cells.h"
#include "cleanup.h"
#include "escape.h"
#include "verbs.h"

#define END_TIMEOUT_MS 10000

static void help(void)
{
	printf("Usage: nscell terminate [OPTIONS...] CELL|USER...\n"
	       "       nscell terminate --user USER... --cell ID...\n"
	       "       nscell terminate --all\n"
	       "\n"
	       "End cells now: every process in them is killed, their sessions end, and\n"
	       "their namespaces and private directories go away. Reports what was ended.\n"
	       "\n"
	       "Options:\n"
	       "      --cell ID    The cell ID (also: ID as an argument)\n"
	       "  -u, --user USER  Every cell of USER (also: USER as an argument)\n"
	       "  -a, --all        Every cell\n"
	       "  -v, --verbose    List the processes that were ended\n"
	       "  -h, --help       Show this help\n"
	       "\n"
	       "Exit status: 0 every cell named has ended (also: a user without cells),\n"
	       "1 a cell does not exist or did not end, 2 usage error.\n");
}

struct target {
	struct cli_cell *cell;
	int pidfd; /* the checked init, or -1 */
	int error; /* of TERMINATE */
	bool ended;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool registry_entry_gone(const char *id)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cells/%s.sock", NSCELL_RUNDIR, id);
	return lstat(path, &st) < 0 && errno == ENOENT;
}

static bool pidns_empty(const struct cli_cell *c)
{
	struct nscell_host_procs h = { 0 };
	bool empty = true;

	if (nscell_host_procs_scan(&h) < 0)
		return false;
	for (size_t i = 0; i < h.n && empty; i++)
		empty = !nscell_ns_id_eq(&h.v[i].pidns, &c->pidns);
	nscell_host_procs_free(&h);
	return empty;
}

/* Until the init has exited, its namespace is empty and its entry is gone. */
static bool wait_ended(struct target *t, uint64_t deadline)
{
	for (;;) {
		bool init_gone = true;
		uint64_t now = mono_ms();

		if (t->pidfd >= 0) {
			struct pollfd p = { .fd = t->pidfd, .events = POLLIN };
			int left = now < deadline ? (int)(deadline - now) : 0;
			init_gone = poll(&p, 1, left > 100 ? 100 : left) > 0;
		}
		if (init_gone && registry_entry_gone(t->cell->status->config.cell_id) &&
		    (!t->cell->measured || pidns_empty(t->cell)))
			return true;
		if (mono_ms() >= deadline)
			return false;
		if (t->pidfd < 0 || init_gone)
			usleep(20000);
	}
}

static void list_processes(const struct cli_cell *c)
{
	for (size_t i = 0; i < c->n_pids; i++) {
		struct nscell_proc_info p;
		/* Read now, before the end: afterwards there is nothing to read. */
		_cleanup_free_ char *cmdline = NULL;

		if (nscell_proc_info_read(c->pids[i], &c->pidns, NSCELL_PROC_CMDLINE, &p) < 0)
			continue;
		cmdline = cli_escape(p.cmdline);
		printf("    %d (%d in the cell) uid %u: %s\n", (int)p.pid, (int)p.cell_pid,
		       (unsigned)p.uid, cmdline ?: "?");
		nscell_proc_info_done(&p);
	}
}

int nscell_verb_terminate(int argc, char *argv[])
{
	enum { ARG_CELL = 0x100 };
	static const struct option options[] = {
		{ "cell", required_argument, NULL, ARG_CELL },
		{ "user", required_argument, NULL, 'u' },
		{ "all", no_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct cli_selector *sel = NULL;
	struct cli_cells cells = { 0 };
	struct target *t = NULL;
	bool all = false, verbose = false;
	size_t n_sel = 0, n_ended = 0;
	unsigned n_processes = 0, n_sessions = 0;
	uint64_t deadline;
	int c, ret = NSCELL_EXIT_FAILURE;

	sel = calloc((size_t)argc, sizeof(*sel));
	if (!sel)
		return NSCELL_EXIT_FAILURE;
	while ((c = getopt_long(argc, argv, "u:avh", options, NULL)) >= 0)
		switch (c) {
		case ARG_CELL:
		case 'u':
			if (cli_selector_parse("terminate", optarg,
					       c == 'u' ? CLI_SEL_USER : CLI_SEL_CELL, &sel[n_sel++]) < 0)
				goto finish;
			break;
		case 'a':
			all = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			help();
			ret = NSCELL_EXIT_OK;
			goto finish;
		default:
			fprintf(stderr, "Run 'nscell terminate --help' for usage.\n");
			ret = NSCELL_EXIT_USAGE;
			goto finish;
		}
	if (all == (n_sel + (size_t)(argc - optind) > 0)) {
		fprintf(stderr, "nscell terminate: expected %s; run 'nscell terminate --help' for usage.\n",
			all ? "--all alone, without cells or users" : "cells, --user USER or --all");
		ret = NSCELL_EXIT_USAGE;
		goto finish;
	}
	if (!cli_require_root("terminate"))
		goto finish;
	for (int i = optind; i < argc; i++)
		if (cli_selector_parse("terminate", argv[i], CLI_SEL_ANY, &sel[n_sel++]) < 0)
			goto finish;
	if (cli_cells_load("terminate", sel, n_sel, &cells) < 0)
		goto finish;
	ret = NSCELL_EXIT_OK;
	for (size_t i = 0; i < n_sel; i++) {
		bool any = false;
		for (size_t k = 0; k < cells.n && !any; k++)
			any = cli_selector_match(&sel[i], &cells.v[k]);
		if (any)
			continue;
		if (sel[i].is_cell) {
			fprintf(stderr, "nscell terminate: no live cell %s.\n", CLI_ESC(sel[i].text));
			ret = NSCELL_EXIT_FAILURE;
		} else {
			printf("User %s has no cell.\n", CLI_ESC(sel[i].text));
		}
	}
	if (cells.n == 0) {
		if (all)
			printf("No cell to terminate.\n");
		goto finish;
	}
	cli_cells_measure(&cells);

	/* Ask every cell first, then wait for all: 200 cells end in parallel. */
	t = calloc(cells.n, sizeof(*t));
	if (!t) {
		ret = NSCELL_EXIT_FAILURE;
		goto finish;
	}
	for (size_t i = 0; i < cells.n; i++) {
		struct cli_cell *cell = &cells.v[i];

		t[i] = (struct target){ .cell = cell, .pidfd = -1 };
		if (cell->measured &&
		    nscell_cell_init_pidfd(cell->procfd, cell->status->config.init_pid_host,
					   cell->status->config.cell_id, &t[i].pidfd) < 0)
			t[i].pidfd = -1;
		if (verbose) {
			printf("%s (user %s):\n", CLI_ESC(cell->status->config.cell_id),
			       cell->user ? CLI_ESC(cell->user) : "?");
			list_processes(cell);
		}
		t[i].error = nscell_cellctl_terminate(cell->status->config.cell_id);
		/* Gone before we asked is ended too. */
		if (t[i].error == -ENOENT || t[i].error == -ECONNREFUSED || t[i].error == -ECONNRESET)
			t[i].error = 0;
	}
	deadline = mono_ms() + END_TIMEOUT_MS;
	for (size_t i = 0; i < cells.n; i++) {
		const struct cli_cell *cell = t[i].cell;
		const char *id = cell->status->config.cell_id;
		char procs[32];

		if (t[i].error == 0)
			t[i].ended = wait_ended(&t[i], deadline);
		nscell_closep(&t[i].pidfd);
		if (cell->measured)
			snprintf(procs, sizeof(procs), "%u", cell->processes);
		else
			snprintf(procs, sizeof(procs), "unknown");
		if (!t[i].ended) {
			const char *why = t[i].error ? strerror(-t[i].error) : "it did not end in time";
			fprintf(stderr, "nscell terminate: cell %s: %s\n", CLI_ESC(id), why);
			cli_log(LOG_ERR, "event=terminate-failed cell=%s user=%s uid=%u by_uid=%u error=\"%s\"",
				CLI_ESC(id), cell->user ? CLI_ESC(cell->user) : "-", (unsigned)cell->status->config.uid,
				(unsigned)getuid(), why);
			ret = NSCELL_EXIT_FAILURE;
			continue;
		}
		n_ended++;
		n_sessions += cell->status->n_sessions;
		n_processes += cell->measured ? cell->processes : 0;
		printf("Terminated %s (user %s): %u session%s, %s process%s besides its init.\n",
		       CLI_ESC(id), cell->user ? CLI_ESC(cell->user) : "?", cell->status->n_sessions,
		       cell->status->n_sessions == 1 ? "" : "s", procs,
		       cell->measured && cell->processes == 1 ? "" : "es");
		cli_log(LOG_NOTICE,
			"event=cell-terminated cell=%s user=%s uid=%u sessions=%u processes=%s by_uid=%u",
			CLI_ESC(id), cell->user ? CLI_ESC(cell->user) : "-",
			(unsigned)cell->status->config.uid, cell->status->n_sessions, procs,
			(unsigned)getuid());
	}
	if (cells.n > 1)
		printf("%zu cell%s ended, %u session%s, %u process%s.\n", n_ended, n_ended == 1 ? "" : "s",
		       n_sessions, n_sessions == 1 ? "" : "s", n_processes, n_processes == 1 ? "" : "es");
finish:
	free(t);
	free(sel);
	cli_cells_free(&cells);
	return ret;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell list - every live cell: who, since when, how many processes, how
 * much memory, and its sessions. One table line per cell and one per
 * session, in 80 columns; --json for scripts (fields in nscell(8)).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "escape.h"
#include "verbs.h"

static void help(void)
{
	printf("Usage: nscell list [OPTIONS...] [CELL|USER...]\n"
	       "\n"
	       "List the live cells (all, or those of the given cells and users) with\n"
	       "their user, init pid, processes, memory (Pss), age, namespaces and sessions.\n"
	       "\n"
	       "Options:\n"
	       "  -j, --json          Print JSON (fields in nscell(8))\n"
	       "      --cell ID       The cell ID (also: ID as an argument)\n"
	       "  -u, --user USER     The cells of USER (also: USER as an argument)\n"
	       "      --no-legend     Print neither the header nor the summary line\n"
	       "  -h, --help          Show this help\n"
	       "\n"
	       "Exit status: 0 listed (also when there is no cell), 1 error, 2 usage error.\n");
}

/*  CELL(24) USER(8) INIT(7) PROCS(5) MEM(5) AGE(5) NAMESPACES(..): 80 columns. */
static void print_table(const struct cli_cells *cells, bool legend, uint64_t now)
{
	unsigned n_sessions = 0, n_processes = 0;
	uint64_t memory = 0;
	bool pss = true;

	if (legend && cells->n > 0) {
		printf("%-24s %-8s %7s %5s %5s %5s %s\n", "CELL", "USER", "INIT", "PROCS", "MEM", "AGE",
		       "NAMESPACES");
		printf("  %-4s %-12s %-12s %-22s %7s %5s\n", "SESS", "SERVICE", "TTY", "FROM", "OPENER",
		       "AGE");
	}
	for (size_t i = 0; i < cells->n; i++) {
		const struct cli_cell *c = &cells->v[i];
		const struct nscell_init_config *cfg = &c->status->config;
		char user[16], uidbuf[16], procs[16], mem[16], age[16], ns[64];
		unsigned listed = c->status->n_sessions < NSCELL_STATUS_SESSIONS_MAX ?
					  c->status->n_sessions : NSCELL_STATUS_SESSIONS_MAX;

		snprintf(uidbuf, sizeof(uidbuf), "%u", (unsigned)cfg->uid);
		cli_fit(CLI_ESC(c->user ? c->user : uidbuf), 8, user, sizeof(user));
		if (c->measured) {
			snprintf(procs, sizeof(procs), "%u", c->processes);
			cli_format_bytes(c->memory, mem, sizeof(mem));
			n_processes += c->processes;
			memory += c->memory;
			pss &= c->memory_pss;
		} else {
			snprintf(procs, sizeof(procs), "-");
			snprintf(mem, sizeof(mem), "-");
		}
		cli_format_age(now > cfg->created_usec ? (now - cfg->created_usec) / 1000000u : 0, age,
			       sizeof(age));
		cli_format_namespaces(cfg->namespaces, true, ",", ns, sizeof(ns));
		printf("%-24s %-8s %7d %5s %5s %5s %s\n", CLI_ESC(cfg->cell_id), user, (int)cfg->init_pid_host,
		       procs, mem, age, ns);
		if (c->measured && cli_usage_limited(&c->usage)) {
			char use[160];
			cli_usage_format(&c->usage, use, sizeof(use));
			printf("  limits: %s\n", use);
		}
		if (c->status->state == NSCELL_CELL_DRAINING)
			printf("  (draining: no session left; it ends when empty or at its drain limit)\n");
		else if (c->status->state == NSCELL_CELL_ENDING)
			printf("  (ending)\n");
		for (unsigned k = 0; k < listed; k++) {
			const struct nscell_cell_session *s = &c->status->sessions[k];
			char no[16], service[16], tty[16], from[32];

			snprintf(no, sizeof(no), "#%u", s->session_no);
			cli_fit(s->service[0] ? CLI_ESC(s->service) : "-", 12, service, sizeof(service));
			cli_fit(s->tty[0] ? CLI_ESC(s->tty) : "-", 12, tty, sizeof(tty));
			cli_fit(s->rhost[0] ? CLI_ESC(s->rhost) : "-", 22, from, sizeof(from));
			cli_format_age(now > s->joined_usec ? (now - s->joined_usec) / 1000000u : 0, age,
				       sizeof(age));
			printf("  %-4s %-12s %-12s %-22s %7d %5s\n", no, service, tty, from,
			       (int)s->opener_pid, age);
		}
		if (c->status->n_sessions > listed)
			printf("  ... and %u more sessions\n", c->status->n_sessions - listed);
		n_sessions += c->status->n_sessions;
	}
	if (legend) {
		char mem[16];
		cli_format_bytes(memory, mem, sizeof(mem));
		printf("%s%zu cell%s, %u session%s, %u process%s, %s (%s).\n", cells->n ? "\n" : "",
		       cells->n, cells->n == 1 ? "" : "s", n_sessions, n_sessions == 1 ? "" : "s",
		       n_processes, n_processes == 1 ? "" : "es", mem, pss ? "Pss" : "Pss/RSS");
	}
}

static void print_json(const struct cli_cells *cells, uint64_t now)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_uint(&j, "version", 1);
	json_uint(&j, "now_usec", now);
	json_array_begin(&j, "cells");
	for (size_t i = 0; i < cells->n; i++) {
		json_object_begin(&j, NULL);
		cli_cell_json_fields(&j, &cells->v[i], now);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

int nscell_verb_list(int argc, char *argv[])
{
	enum { ARG_NO_LEGEND = 0x100, ARG_CELL };
	static const struct option options[] = {
		{ "cell", required_argument, NULL, ARG_CELL },
		{ "user", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-legend", no_argument, NULL, ARG_NO_LEGEND },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct cli_selector *sel = NULL;
	struct cli_cells cells = { 0 };
	bool json = false, legend = true;
	size_t n_sel = 0;
	int c, ret = NSCELL_EXIT_FAILURE;

	sel = calloc((size_t)argc, sizeof(*sel));
	if (!sel)
		return NSCELL_EXIT_FAILURE;
	while ((c = getopt_long(argc, argv, "ju:h", options, NULL)) >= 0)
		switch (c) {
		case ARG_CELL:
		case 'u':
			if (cli_selector_parse("list", optarg, c == 'u' ? CLI_SEL_USER : CLI_SEL_CELL,
					       &sel[n_sel++]) < 0)
				goto finish;
			break;
		case 'j':
			json = true;
			break;
		case ARG_NO_LEGEND:
			legend = false;
			break;
		case 'h':
			help();
			ret = NSCELL_EXIT_OK;
			goto finish;
		default:
			fprintf(stderr, "Run 'nscell list --help' for usage.\n");
			ret = NSCELL_EXIT_USAGE;
			goto finish;
		}
	if (!cli_require_root("list"))
		goto finish;
	for (int i = optind; i < argc; i++)
		if (cli_selector_parse("list", argv[i], CLI_SEL_ANY, &sel[n_sel++]) < 0)
			goto finish;
	if (cli_cells_load("list", sel, n_sel, &cells) < 0)
		goto finish;
	cli_cells_measure(&cells);
	if (json)
		print_json(&cells, cli_now_usec());
	else
		print_table(&cells, legend, cli_now_usec());
	ret = fflush(stdout) == 0 ? NSCELL_EXIT_OK : NSCELL_EXIT_FAILURE;
finish:
	cli_cells_free(&cells);
	free(sel);
	return ret;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cells as the admin verbs see them: the registry's status answers,
 * filtered by what was asked for (a cell id, a user name or a uid), with the
 * host's figures for each (the processes in the cell's pid namespace, their
 * memory), and their shared printing: sizes, ages, the JSON object of a cell.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cellprocs.h"
#include "json.h"
#include "proto.h"
#include "usage.h"

/* A CELL|USER argument. */
struct cli_selector {
	const char *text;
	bool is_cell; /* text is a cell id */
	uid_t uid;    /* otherwise: the user's cells */
};

/* What an argument may name: CELL|USER arguments are CLI_SEL_ANY; --cell
 * and --user make it one or the other. */
enum cli_selector_kind { CLI_SEL_ANY, CLI_SEL_CELL, CLI_SEL_USER };

/*
 * cli_selector_parse - one CELL|USER argument. A user is a name (through
 * NSS) or a bare uid. A text that is a cell id and also a user's name is
 * refused as CLI_SEL_ANY (-EINVAL), never taken for either. On any error,
 * prints why (as `verb`) and returns -errno (-ENOENT: no such user).
 */
int cli_selector_parse(const char *verb, const char *text, enum cli_selector_kind kind,
		       struct cli_selector *ret);

struct cli_cell {
	struct nscell_cell_status *status;
	char *user;          /* the uid's name, or NULL */
	/* The host's view (cli_cells_measure), when the init could be checked: */
	bool measured;
	int procfd;          /* /proc/<init>, pinned; -1 */
	struct nscell_ns_id pidns;
	pid_t *pids;         /* host pids in the cell's pid namespace, init included */
	size_t n_pids;
	unsigned processes;  /* besides the init */
	uint64_t memory;     /* bytes, every process including the init */
	bool memory_pss;     /* all of it Pss (else some VmRSS) */
	struct cli_usage usage; /* against its limits (usage.c) */
};

struct cli_cells {
	struct cli_cell *v;
	size_t n;
};

/*
 * cli_cells_load - every live cell of the registry that one of `sel` names
 * (all of them when n_sel is 0), sorted by user name, then cell id. Prints
 * what went wrong (as `verb`) and returns -errno when the registry cannot be
 * read; cells that are gone meanwhile are left out. No registry yet is no
 * cell.
 */
int cli_cells_load(const char *verb, const struct cli_selector *sel, size_t n_sel,
		   struct cli_cells *ret);
/* Whether cell c is one that selector s names. */
bool cli_selector_match(const struct cli_selector *s, const struct cli_cell *c);
/* The host's figures for each cell (one scan of /proc for all of them). */
void cli_cells_measure(struct cli_cells *cells);
void cli_cells_free(struct cli_cells *cells);

/* "must be root" and the like: the admin verbs need the root-only registry. */
bool cli_require_root(const char *verb);

uint64_t cli_now_usec(void);
/* 1023, 1.2K, 45.6M, 1.2G: at most 5 characters. */
void cli_format_bytes(uint64_t bytes, char *buf, size_t size);
/* 59s, 12m, 3h02m, 12d03h: at most 6 characters. */
void cli_format_age(uint64_t sec, char *buf, size_t size);
/* s cut to width bytes, its last one '+' when it was longer. */
void cli_fit(const char *s, size_t width, char *buf, size_t size);
/* "ipc uts user": the namespaces besides pid and mount, which every cell has;
 * "cgroup" shortened to "cg" when `short_names`. "-" when none. */
void cli_format_namespaces(unsigned ns, bool short_names, const char *sep, char *buf, size_t size);

/* The fields every JSON view of a cell has (see nscell(8), JSON OUTPUT). */
void cli_cell_json_fields(struct json *j, const struct cli_cell *c, uint64_t now_usec);

/* One syslog line (LOG_AUTHPRIV) of the admin verbs: "event=... k=v". */
void cli_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Gathering cells for list, show, enter and terminate. The registry says
 * which cells live and each init says what it is (STATUS); the host's /proc
 * says what runs in it, read only after the init was checked to be the one
 * of that cell (cellprocs.h).
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cellctl.h"
#include "cells.h"
#include "cleanup.h"
#include "escape.h"
#include "settings-keys.h"

void cli_log(int prio, const char *fmt, ...)
{
	static bool opened;
	va_list ap;

	if (!opened) {
		openlog("nscell", LOG_PID, LOG_AUTHPRIV);
		opened = true;
	}
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

bool cli_require_root(const char *verb)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "nscell %s: must be run as root (the cell registry %s/cells is root's only).\n",
		verb, NSCELL_RUNDIR);
	return false;
}

uint64_t cli_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static char *user_name(uid_t uid)
{
	_cleanup_free_ char *buf = NULL;
	struct passwd pw, *res = NULL;
	size_t size = 1024;
	int r;

	for (;;) {
		char *b = realloc(buf, size);
		if (!b)
			return NULL;
		buf = b;
		r = getpwuid_r(uid, &pw, buf, size, &res);
		if (r != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	return r == 0 && res ? strdup(pw.pw_name) : NULL;
}

/* The user named `name`: 1 and its uid, 0 none, -errno. */
static int user_by_name(const char *name, uid_t *ret_uid)
{
	_cleanup_free_ char *buf = NULL;
	struct passwd pw, *res = NULL;
	size_t size = 1024;
	int r;

	for (;;) {
		char *b = realloc(buf, size);
		if (!b)
			return -ENOMEM;
		buf = b;
		r = getpwnam_r(name, &pw, buf, size, &res);
		if (r != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	if (r == 0 && res) {
		*ret_uid = pw.pw_uid;
		return 1;
	}
	return 0;
}

int cli_selector_parse(const char *verb, const char *text, enum cli_selector_kind kind,
		       struct cli_selector *ret)
{
	bool cell_syntax = nscell_cell_id_valid(text);
	char *end;
	uid_t uid;
	int r;

	*ret = (struct cli_selector){ .text = text };
	if (kind == CLI_SEL_CELL) {
		if (!cell_syntax) {
			fprintf(stderr, "nscell %s: '%s' is not a cell id (user-UID, session-HEX).\n", verb,
				CLI_ESC(text));
			return -EINVAL;
		}
		ret->is_cell = true;
		return 0;
	}
	r = user_by_name(text, &uid);
	if (r < 0) {
		fprintf(stderr, "nscell %s: cannot look up user '%s': %s\n", verb, CLI_ESC(text),
			strerror(-r));
		return r;
	}
	if (cell_syntax && kind == CLI_SEL_ANY) {
		if (r > 0) {
			/* A user may be called user-1000 or session-<16 hex>: acting on
			 * another user's cell by a name is what must never happen. */
			fprintf(stderr,
				"nscell %s: '%s' is both a cell id and the name of user uid %u; say which: --cell %s or --user %s.\n",
				verb, CLI_ESC(text), (unsigned)uid, CLI_ESC(text), CLI_ESC(text));
			return -EINVAL;
		}
		ret->is_cell = true;
		return 0;
	}
	if (r > 0) {
		ret->uid = uid;
		return 0;
	}
	/* A bare uid names the user too, with or without an account. */
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (text[0] >= '0' && text[0] <= '9' && !*end && !errno && v <= (uid_t)-2) {
		ret->uid = (uid_t)v;
		return 0;
	}
	if (kind == CLI_SEL_USER)
		fprintf(stderr, "nscell %s: no user '%s'.\n", verb, CLI_ESC(text));
	else
		fprintf(stderr,
			"nscell %s: '%s' is neither a cell id (user-UID, session-HEX) nor a user.\n",
			verb, CLI_ESC(text));
	return -ENOENT;
}

bool cli_selector_match(const struct cli_selector *s, const struct cli_cell *c)
{
	if (s->is_cell)
		return strcmp(s->text, c->status->config.cell_id) == 0;
	return c->status->config.uid == s->uid;
}

static int cmp_cell(const void *a, const void *b)
{
	const struct cli_cell *x = a, *y = b;
	int r = strcmp(x->user ? x->user : "", y->user ? y->user : "");

	if (r == 0 && x->status->config.uid != y->status->config.uid)
		r = x->status->config.uid < y->status->config.uid ? -1 : 1;
	return r ? r : strcmp(x->status->config.cell_id, y->status->config.cell_id);
}

static bool wanted_by_id(const char *id, const struct cli_selector *sel, size_t n_sel)
{
	/* Only when every selector is a cell id can a cell be skipped unasked. */
	for (size_t i = 0; i < n_sel; i++)
		if (!sel[i].is_cell || strcmp(sel[i].text, id) == 0)
			return true;
	return n_sel == 0;
}

int cli_cells_load(const char *verb, const struct cli_selector *sel, size_t n_sel,
		   struct cli_cells *ret)
{
	char **ids = NULL;
	size_t n_ids = 0;
	struct cli_cells cells = { 0 };
	int r;

	if (nscell_inside_cell()) {
		fprintf(stderr, "nscell %s: this is inside a cell, where %s is hidden; run it on the host.\n",
			verb, NSCELL_RUNDIR);
		return -EPERM;
	}
	r = nscell_cellctl_list(&ids, &n_ids);
	if (r == -ENOENT) {
		*ret = cells; /* no cell was ever made */
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "nscell %s: cannot read %s/cells: %s\n", verb, NSCELL_RUNDIR,
			strerror(-r));
		return r;
	}
	cells.v = calloc(n_ids ? n_ids : 1, sizeof(*cells.v));
	if (!cells.v) {
		nscell_cellctl_list_free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_ids; i++) {
		struct cli_cell c = { .procfd = -1 };
		bool match = n_sel == 0;

		if (!wanted_by_id(ids[i], sel, n_sel))
			continue;
		c.status = malloc(sizeof(*c.status));
		if (!c.status) {
			r = -ENOMEM;
			break;
		}
		r = nscell_cellctl_status(ids[i], c.status);
		if (r < 0) {
			/* Gone since the listing (or a stale entry): not a cell. */
			if (r == -EPROTONOSUPPORT)
				fprintf(stderr,
					"nscell %s: cell %s speaks a newer protocol than this nscell (made by a later release); left out\n",
					verb, CLI_ESC(ids[i]));
			else if (r != -ENOENT && r != -ECONNREFUSED && r != -ECONNRESET)
				fprintf(stderr, "nscell %s: cell %s does not answer: %s\n", verb, CLI_ESC(ids[i]),
					strerror(-r));
			free(c.status);
			r = 0;
			continue;
		}
		for (size_t k = 0; k < n_sel && !match; k++)
			match = cli_selector_match(&sel[k], &c);
		if (!match) {
			free(c.status);
			continue;
		}
		c.user = user_name(c.status->config.uid);
		cells.v[cells.n++] = c;
	}
	nscell_cellctl_list_free(ids);
	if (r < 0) {
		cli_cells_free(&cells);
		return r;
	}
	qsort(cells.v, cells.n, sizeof(*cells.v), cmp_cell);
	*ret = cells;
	return 0;
}

void cli_cells_measure(struct cli_cells *cells)
{
	struct nscell_host_procs host = { 0 };
	bool scanned;

	for (size_t i = 0; i < cells->n; i++) {
		struct cli_cell *c = &cells->v[i];
		if (nscell_cell_init_open(c->status->config.init_pid_host, c->status->config.cell_id,
					  &c->procfd, &c->pidns) == 0)
			c->measured = true;
	}
	scanned = nscell_host_procs_scan(&host) == 0;
	for (size_t i = 0; i < cells->n; i++) {
		struct cli_cell *c = &cells->v[i];
		size_t n = 0;

		if (!c->measured || !scanned) {
			c->measured = false;
			continue;
		}
		for (size_t k = 0; k < host.n; k++)
			n += nscell_ns_id_eq(&host.v[k].pidns, &c->pidns);
		c->pids = calloc(n ? n : 1, sizeof(pid_t));
		if (!c->pids) {
			c->measured = false;
			continue;
		}
		c->memory_pss = true;
		cli_usage_read(c->procfd, c->status->config.scope, c->status->config.uid, &c->usage);
		for (size_t k = 0; k < host.n; k++) {
			struct nscell_proc_info p;

			if (!nscell_ns_id_eq(&host.v[k].pidns, &c->pidns))
				continue;
			if (nscell_proc_info_read(host.v[k].pid, &c->pidns, NSCELL_PROC_MEMORY, &p) < 0)
				continue; /* gone meanwhile */
			c->pids[c->n_pids++] = p.pid;
			if (p.cell_pid != 1)
				c->processes++;
			c->memory += p.memory;
			c->memory_pss &= p.memory_pss;
		}
	}
	nscell_host_procs_free(&host);
}

void cli_cells_free(struct cli_cells *cells)
{
	for (size_t i = 0; i < cells->n; i++) {
		free(cells->v[i].status);
		free(cells->v[i].user);
		free(cells->v[i].pids);
		nscell_closep(&cells->v[i].procfd);
	}
	free(cells->v);
	cells->v = NULL;
	cells->n = 0;
}

void cli_format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%uB", (unsigned)bytes);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (v < 9.95)
		snprintf(buf, size, "%.1f%c", v, units[u]);
	else
		snprintf(buf, size, "%.0f%c", v, units[u]);
}

void cli_format_age(uint64_t sec, char *buf, size_t size)
{
	if (sec < 60)
		snprintf(buf, size, "%us", (unsigned)sec);
	else if (sec < 3600)
		snprintf(buf, size, "%um", (unsigned)(sec / 60));
	else if (sec < 86400)
		snprintf(buf, size, "%uh%02um", (unsigned)(sec / 3600), (unsigned)(sec % 3600 / 60));
	else if (sec < 100 * 86400)
		snprintf(buf, size, "%ud%02uh", (unsigned)(sec / 86400), (unsigned)(sec % 86400 / 3600));
	else
		snprintf(buf, size, "%ud", (unsigned)(sec / 86400));
}

void cli_fit(const char *s, size_t width, char *buf, size_t size)
{
	size_t n = strlen(s), cut;

	if (width + 1 > size)
		width = size - 1;
	if (n <= width) {
		memcpy(buf, s, n + 1);
		return;
	}
	if (width == 0) {
		buf[0] = '\0';
		return;
	}
	/* The '+' goes at a character boundary: never half a UTF-8 sequence. */
	cut = width - 1;
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(buf, s, cut);
	buf[cut] = '+';
	buf[cut + 1] = '\0';
}

void cli_format_namespaces(unsigned ns, bool short_names, const char *sep, char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (unsigned bit = NSCELL_NS_IPC; bit <= NSCELL_NS_USER; bit <<= 1) {
		const char *name = nscell_namespace_name(bit);
		int n;

		if (!(ns & bit) || !name)
			continue;
		if (short_names && bit == NSCELL_NS_CGROUP)
			name = "cg";
		n = snprintf(buf + pos, size - pos, "%s%s", pos ? sep : "", name);
		if (n < 0 || (size_t)n >= size - pos)
			break;
		pos += (size_t)n;
	}
	if (!pos)
		snprintf(buf, size, "-");
}

static const char *scope_name(uint32_t scope)
{
	const char *s = nscell_scope_name((enum nscell_scope)scope);
	return s ? s : "unknown";
}

static uint64_t age_sec(uint64_t now, uint64_t then)
{
	return now > then ? (now - then) / 1000000u : 0;
}

void cli_cell_json_fields(struct json *j, const struct cli_cell *c, uint64_t now)
{
	const struct nscell_cell_status *st = c->status;
	const struct nscell_init_config *cfg = &st->config;
	const char *logout = nscell_logout_name((enum nscell_logout)cfg->logout);
	unsigned listed = st->n_sessions < NSCELL_STATUS_SESSIONS_MAX ? st->n_sessions :
								       NSCELL_STATUS_SESSIONS_MAX;

	json_string(j, "id", cfg->cell_id);
	json_string(j, "user", c->user);
	json_uint(j, "uid", cfg->uid);
	json_string(j, "scope", scope_name(cfg->scope));
	json_string(j, "state", nscell_cell_state_name(st->state));
	json_int(j, "init_pid", cfg->init_pid_host);
	json_array_begin(j, "namespaces");
	for (unsigned bit = NSCELL_NS_PID; bit <= NSCELL_NS_USER; bit <<= 1)
		if ((cfg->namespaces & bit) && nscell_namespace_name(bit))
			json_string(j, NULL, nscell_namespace_name(bit));
	json_array_end(j);
	json_string(j, "logout", logout ? logout : "unknown");
	if (cfg->logout == NSCELL_LOGOUT_DRAIN)
		json_uint(j, "drain_limit_sec", cfg->drain_limit_sec);
	else
		json_null(j, "drain_limit_sec");
	json_uint(j, "created_usec", cfg->created_usec);
	json_uint(j, "age_sec", age_sec(now, cfg->created_usec));
	if (c->measured) {
		json_uint(j, "processes", c->processes);
		json_uint(j, "memory_bytes", c->memory);
		json_string(j, "memory_source", c->memory_pss ? "pss" : "rss");
	} else {
		json_null(j, "processes");
		json_null(j, "memory_bytes");
		json_null(j, "memory_source");
	}
	if (c->measured)
		cli_usage_json(j, &c->usage);
	else
		json_null(j, "limits");
	json_uint(j, "processes_seen_by_init", st->n_processes);
	json_uint(j, "n_sessions", st->n_sessions);
	json_array_begin(j, "sessions");
	for (unsigned i = 0; i < listed; i++) {
		const struct nscell_cell_session *s = &st->sessions[i];
		json_object_begin(j, NULL);
		json_uint(j, "session", s->session_no);
		json_string(j, "service", s->service[0] ? s->service : NULL);
		json_string(j, "tty", s->tty[0] ? s->tty : NULL);
		json_string(j, "rhost", s->rhost[0] ? s->rhost : NULL);
		json_int(j, "opener_pid", s->opener_pid);
		json_uint(j, "joined_usec", s->joined_usec);
		json_uint(j, "age_sec", age_sec(now, s->joined_usec));
		json_object_end(j);
	}
	json_array_end(j);
}

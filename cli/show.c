/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell show - one cell in full, as `loginctl session-status` shows a
 * session: what its init was made with, the mounts that make it (read from
 * the init's own mountinfo), its sessions, and its process tree with the
 * host's and the cell's pid of each process side by side.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmount.h>

#include "cellctl.h"
#include "cells.h"
#include "cleanup.h"
#include "escape.h"
#include "settings-keys.h"
#include "verbs.h"

#define LABEL "%13s "
#define INDENT "              "
#define WIDTH 80

static void help(void)
{
	printf("Usage: nscell show [OPTIONS...] CELL|USER...\n"
	       "\n"
	       "Show cells in full: how each was made, its mounts, its sessions and its\n"
	       "process tree with host and cell pids side by side. USER shows every cell\n"
	       "of that user.\n"
	       "\n"
	       "Options:\n"
	       "  -j, --json          Print JSON (fields in nscell(8))\n"
	       "  -l, --full          Do not cut command lines at 80 columns\n"
	       "      --cell ID       The cell ID (also: ID as an argument)\n"
	       "  -u, --user USER     Every cell of USER (also: USER as an argument)\n"
	       "  -h, --help          Show this help\n"
	       "\n"
	       "Exit status: 0 shown, 1 no such cell or error, 2 usage error.\n");
}

/* ---- mounts, from the init's mountinfo ------------------------------------ */

struct mount_entry {
	char target[64];
	char fstype[32];
	char source[64];
	char options[256];
};

static const char *const shown_mounts[] = { "/proc", "/tmp", "/var/tmp", "/dev/shm", NSCELL_RUNDIR };
#define N_SHOWN NSCELL_ELEMENTSOF(shown_mounts)

static void mnt_tablep(struct libmnt_table **t)
{
	mnt_unref_table(*t);
}

/* The topmost mount on each of shown_mounts[] (the last line wins), read by
 * libmount, which decodes the octal escapes of mountinfo. */
static void read_mounts(int procfd, struct mount_entry m[N_SHOWN], bool found[N_SHOWN])
{
	__attribute__((cleanup(mnt_tablep))) struct libmnt_table *tb = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct libmnt_iter *it = NULL;
	struct libmnt_fs *fs;
	int fd;

	memset(found, 0, sizeof(bool) * N_SHOWN);
	fd = openat(procfd, "mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(f = fdopen(fd, "re"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	tb = mnt_new_table();
	if (!tb || mnt_table_parse_stream(tb, f, "mountinfo") < 0)
		return;
	it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!it)
		return;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *target = mnt_fs_get_target(fs), *super = mnt_fs_get_fs_options(fs);
		const char *vfs = mnt_fs_get_vfs_options(fs);

		if (!target)
			continue;
		if (!super)
			super = "";
		if (strncmp(super, "rw,", 3) == 0 || strncmp(super, "ro,", 3) == 0)
			super += 3;
		else if (strcmp(super, "rw") == 0 || strcmp(super, "ro") == 0)
			super = "";
		for (size_t i = 0; i < N_SHOWN; i++) {
			if (strcmp(target, shown_mounts[i]) != 0)
				continue;
			snprintf(m[i].target, sizeof(m[i].target), "%s", target);
			snprintf(m[i].fstype, sizeof(m[i].fstype), "%s", mnt_fs_get_fstype(fs) ?: "");
			snprintf(m[i].source, sizeof(m[i].source), "%s", mnt_fs_get_source(fs) ?: "");
			snprintf(m[i].options, sizeof(m[i].options), "%s%s%s", vfs ?: "",
				 super[0] ? "," : "", super);
			found[i] = true;
		}
	}
	mnt_free_iter(it);
}

/* A comma-separated list from column `col` on, wrapped after a comma. */
static void print_wrapped(const char *raw, size_t col)
{
	_cleanup_free_ char *list = cli_escape(raw);
	const char *p = list ?: "?";
	size_t pos = col;

	while (*p) {
		size_t n = strcspn(p, ",");
		bool more = p[n] == ',';

		if (pos > col && pos + n + more > WIDTH) {
			printf("\n%*s", (int)col, "");
			pos = col;
		}
		printf("%.*s%s", (int)n, p, more ? "," : "");
		pos += n + more;
		p += n + more;
	}
	putchar('\n');
}

/* ---- processes ------------------------------------------------------------ */

struct proc_node {
	struct nscell_proc_info info;
	size_t parent; /* index, or SIZE_MAX outside the cell */
	bool done;
};

static const char *uid_name(uid_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "%u", (unsigned)uid);
	return buf;
}

static size_t read_procs(const struct cli_cell *c, struct proc_node **ret)
{
	struct proc_node *v = calloc(c->n_pids ? c->n_pids : 1, sizeof(*v));
	size_t n = 0;

	if (!v) {
		*ret = NULL;
		return 0;
	}
	for (size_t i = 0; i < c->n_pids; i++)
		if (nscell_proc_info_read(c->pids[i], &c->pidns, NSCELL_PROC_CMDLINE, &v[n].info) == 0)
			n++;
	for (size_t i = 0; i < n; i++) {
		v[i].parent = SIZE_MAX;
		for (size_t k = 0; k < n; k++)
			if (k != i && v[k].info.pid == v[i].info.ppid)
				v[i].parent = k;
	}
	*ret = v;
	return n;
}

static void free_procs(struct proc_node *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nscell_proc_info_done(&v[i].info);
	free(v);
}

#define TREE_DEPTH_MAX 60 /* deeper processes are listed as roots */

static void print_proc(struct proc_node *v, size_t n, size_t i, char *prefix, size_t plen,
		       bool last, bool root, bool full)
{
	char user[16], ufit[16], line[4096], cut[WIDTH + 1], note[128] = "";
	_cleanup_free_ char *cmdline = NULL;
	size_t last_kid = SIZE_MAX;
	int len;

	v[i].done = true;
	if (root && v[i].info.cell_pid != 1) {
		/* Its parent is outside the cell: su, sshd's monitor, nscell itself. */
		char path[40], comm[32] = "?";
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)v[i].info.ppid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t k = read(fd, comm, sizeof(comm) - 1);
			comm[k > 0 ? k : 0] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			close(fd);
		}
		snprintf(note, sizeof(note), "  (parent %d %s, outside the cell)", (int)v[i].info.ppid,
			 CLI_ESC(comm));
	}
	cmdline = cli_escape(v[i].info.cmdline);
	cli_fit(CLI_ESC(uid_name(v[i].info.uid, user, sizeof(user))), 9, ufit, sizeof(ufit));
	len = snprintf(line, sizeof(line), "%10d %9d  %-9s %s%s%s%s", (int)v[i].info.pid,
		       (int)v[i].info.cell_pid, ufit, prefix, root ? "" : last ? "`-" : "|-", cmdline ?: "?", note);
	if (!full && len > WIDTH) {
		cli_fit(line, WIDTH, cut, sizeof(cut));
		puts(cut);
	} else {
		puts(line);
	}

	if (plen / 2 >= TREE_DEPTH_MAX)
		return;
	/* Children, in pid order (v is sorted by host pid). */
	for (size_t k = 0; k < n; k++)
		if (v[k].parent == i && !v[k].done)
			last_kid = k;
	if (last_kid == SIZE_MAX)
		return;
	if (!root) {
		memcpy(prefix + plen, last ? "  " : "| ", 3);
		plen += 2;
	}
	for (size_t k = 0; k <= last_kid; k++)
		if (v[k].parent == i && !v[k].done)
			print_proc(v, n, k, prefix, plen, k == last_kid, false, full);
	prefix[root ? plen : plen - 2] = '\0';
}

static void print_tree(struct proc_node *v, size_t n, bool full)
{
	char prefix[2 * TREE_DEPTH_MAX + 8] = "";

	printf("\n%10s %9s  %-9s %s\n", "HOST-PID", "CELL-PID", "USER", "COMMAND");
	/* The init first, then every other process whose parent is outside. */
	for (size_t i = 0; i < n; i++)
		if (v[i].info.cell_pid == 1)
			print_proc(v, n, i, prefix, 0, true, true, full);
	for (size_t i = 0; i < n; i++)
		if (!v[i].done && v[i].parent == SIZE_MAX)
			print_proc(v, n, i, prefix, 0, true, true, full);
	for (size_t i = 0; i < n; i++) /* a cycle cannot happen, but never drop one */
		if (!v[i].done)
			print_proc(v, n, i, prefix, 0, true, true, full);
}

/* ---- text and JSON -------------------------------------------------------- */

static void format_time(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / 1000000u);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, size, "@%llu", (unsigned long long)t);
}

static void print_cell(const struct cli_cell *c, bool full, uint64_t now)
{
	const struct nscell_cell_status *st = c->status;
	const struct nscell_init_config *cfg = &st->config;
	unsigned listed = st->n_sessions < NSCELL_STATUS_SESSIONS_MAX ? st->n_sessions :
								       NSCELL_STATUS_SESSIONS_MAX;
	char buf[128], age[16], ns[128];
	const char *logout = nscell_logout_name((enum nscell_logout)cfg->logout);

	printf("%s - %s (uid %u)\n", CLI_ESC(cfg->cell_id), c->user ? CLI_ESC(c->user) : "?",
	       (unsigned)cfg->uid);
	printf(LABEL "%s\n", "State:", nscell_cell_state_name(st->state));
	printf(LABEL "%s\n", "Scope:", nscell_scope_name((enum nscell_scope)cfg->scope) ?: "?");
	format_time(cfg->created_usec, buf, sizeof(buf));
	cli_format_age(now > cfg->created_usec ? (now - cfg->created_usec) / 1000000u : 0, age,
		       sizeof(age));
	printf(LABEL "%s (%s ago)\n", "Created:", buf, age);
	printf(LABEL "%d (nscell-init, PID 1 of the cell)\n", "Init:", (int)cfg->init_pid_host);
	printf(LABEL "%u%s\n", "Protocol:", (unsigned)st->head.version,
	       st->head.version < NSCELL_PROTO_VERSION ? " (an init of an earlier release)" : "");
	cli_format_namespaces(cfg->namespaces, false, " ", ns, sizeof(ns));
	printf(LABEL "pid mount%s%s\n", "Namespaces:", strcmp(ns, "-") ? " " : "",
	       strcmp(ns, "-") ? ns : "");
	if (cfg->logout == NSCELL_LOGOUT_DRAIN)
		printf(LABEL "drain, at most %llus after the last session\n", "Logout:",
		       (unsigned long long)cfg->drain_limit_sec);
	else
		printf(LABEL "%s\n", "Logout:", logout ? logout : "?");
	if (c->measured) {
		cli_format_bytes(c->memory, buf, sizeof(buf));
		printf(LABEL "%u besides the init\n", "Processes:", c->processes);
		printf(LABEL "%s (%s of every process, the init included)\n", "Memory:", buf,
		       c->memory_pss ? "Pss" : "Pss, or RSS where Pss was unreadable,");
	} else {
		printf(LABEL "%u besides the init (as the init counts them)\n", "Processes:",
		       st->n_processes);
	}
	if (c->measured && c->usage.known) {
		char use[160];
		cli_usage_format(&c->usage, use, sizeof(use));
		printf(LABEL "%s\n", "Cgroup:", CLI_ESC(c->usage.cgroup));
		printf(LABEL "%s\n", cli_usage_limited(&c->usage) ? "Limits:" : "Use:", use);
	}
	printf(LABEL "%u\n", "Sessions:", st->n_sessions);
	for (unsigned k = 0; k < listed; k++) {
		const struct nscell_cell_session *s = &st->sessions[k];
		cli_format_age(now > s->joined_usec ? (now - s->joined_usec) / 1000000u : 0, age,
			       sizeof(age));
		printf(INDENT "#%u %s%s%s%s%s, opener %d, %s\n", s->session_no,
		       s->service[0] ? CLI_ESC(s->service) : "-", s->tty[0] ? ", tty " : "",
		       CLI_ESC(s->tty), s->rhost[0] ? ", from " : "", CLI_ESC(s->rhost),
		       (int)s->opener_pid, age);
	}
	if (c->measured) {
		struct mount_entry m[N_SHOWN];
		bool found[N_SHOWN];
		bool first = true;

		read_mounts(c->procfd, m, found);
		for (size_t i = 0; i < N_SHOWN; i++) {
			if (!found[i])
				continue;
			printf(first ? LABEL : INDENT, first ? "Mounts:" : "");
			printf("%-12s %-6s ", CLI_ESC(m[i].target), CLI_ESC(m[i].fstype));
			print_wrapped(m[i].options, strlen(INDENT) + 12 + 1 + 6 + 1);
			first = false;
		}

		struct proc_node *v = NULL;
		size_t n = read_procs(c, &v);
		print_tree(v, n, full);
		free_procs(v, n);
	} else {
		printf("\n(The init could not be checked, so no process is shown.)\n");
	}
}

static void json_cell(struct json *j, const struct cli_cell *c, uint64_t now)
{
	json_object_begin(j, NULL);
	cli_cell_json_fields(j, c, now);
	if (c->measured) {
		struct mount_entry m[N_SHOWN];
		bool found[N_SHOWN];
		struct proc_node *v = NULL;
		size_t n;
		char user[64];

		read_mounts(c->procfd, m, found);
		json_array_begin(j, "mounts");
		for (size_t i = 0; i < N_SHOWN; i++) {
			if (!found[i])
				continue;
			json_object_begin(j, NULL);
			json_string(j, "target", m[i].target);
			json_string(j, "fstype", m[i].fstype);
			json_string(j, "source", m[i].source);
			json_string(j, "options", m[i].options);
			json_object_end(j);
		}
		json_array_end(j);
		n = read_procs(c, &v);
		json_array_begin(j, "process_list");
		for (size_t i = 0; i < n; i++) {
			json_object_begin(j, NULL);
			json_int(j, "pid", v[i].info.pid);
			json_int(j, "cell_pid", v[i].info.cell_pid);
			json_int(j, "ppid", v[i].info.ppid);
			json_uint(j, "uid", v[i].info.uid);
			json_string(j, "user", uid_name(v[i].info.uid, user, sizeof(user)));
			json_string(j, "command", v[i].info.cmdline);
			json_object_end(j);
		}
		json_array_end(j);
		free_procs(v, n);
	} else {
		json_null(j, "mounts");
		json_null(j, "process_list");
	}
	json_object_end(j);
}

int nscell_verb_show(int argc, char *argv[])
{
	enum { ARG_CELL = 0x100 };
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "full", no_argument, NULL, 'l' },
		{ "cell", required_argument, NULL, ARG_CELL },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct cli_selector *sel = NULL;
	struct cli_cells cells = { 0 };
	bool json = false, full = false;
	size_t n_sel = 0;
	uint64_t now;
	int c, ret = NSCELL_EXIT_FAILURE;

	sel = calloc((size_t)argc, sizeof(*sel));
	if (!sel)
		return NSCELL_EXIT_FAILURE;
	while ((c = getopt_long(argc, argv, "jlu:h", options, NULL)) >= 0)
		switch (c) {
		case ARG_CELL:
		case 'u':
			if (cli_selector_parse("show", optarg, c == 'u' ? CLI_SEL_USER : CLI_SEL_CELL,
					       &sel[n_sel++]) < 0)
				goto finish;
			break;
		case 'j':
			json = true;
			break;
		case 'l':
			full = true;
			break;
		case 'h':
			help();
			ret = NSCELL_EXIT_OK;
			goto finish;
		default:
			fprintf(stderr, "Run 'nscell show --help' for usage.\n");
			ret = NSCELL_EXIT_USAGE;
			goto finish;
		}
	if (optind == argc && n_sel == 0) {
		fprintf(stderr, "nscell show: expected a cell id or a user; run 'nscell list' for the cells.\n");
		ret = NSCELL_EXIT_USAGE;
		goto finish;
	}
	if (!cli_require_root("show"))
		goto finish;
	for (int i = optind; i < argc; i++)
		if (cli_selector_parse("show", argv[i], CLI_SEL_ANY, &sel[n_sel++]) < 0)
			goto finish;
	if (cli_cells_load("show", sel, n_sel, &cells) < 0)
		goto finish;
	for (size_t i = 0; i < n_sel; i++) {
		bool any = false;
		for (size_t k = 0; k < cells.n && !any; k++)
			any = cli_selector_match(&sel[i], &cells.v[k]);
		if (!any) {
			fprintf(stderr, "nscell show: %s %s.\n",
				sel[i].is_cell ? "no live cell" : "no cell of user", CLI_ESC(sel[i].text));
			goto finish;
		}
	}
	cli_cells_measure(&cells);
	now = cli_now_usec();
	if (json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_uint(&j, "version", 1);
		json_uint(&j, "now_usec", now);
		json_array_begin(&j, "cells");
		for (size_t i = 0; i < cells.n; i++)
			json_cell(&j, &cells.v[i], now);
		json_array_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		for (size_t i = 0; i < cells.n; i++) {
			if (i)
				putchar('\n');
			print_cell(&cells.v[i], full, now);
		}
	}
	ret = fflush(stdout) == 0 ? NSCELL_EXIT_OK : NSCELL_EXIT_FAILURE;
finish:
	cli_cells_free(&cells);
	free(sel);
	return ret;
}

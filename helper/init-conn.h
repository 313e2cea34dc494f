/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-init's connections: the cell socket's protocol (JOIN, LEAVE,
 * STATUS, SETTINGS, TERMINATE), the sessions it keeps, the logout policy
 * when the last one goes, and ending the cell. init.c is the process around
 * it (signals, reaping, its fds and config, the event loop); the fuzzer
 * tests/fuzz/fuzz-init-conn.c links this file in its place.
 */
#ifndef NSCELL_INIT_CONN_H
#define NSCELL_INIT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

enum conn_kind {
	CONN_FREE,
	CONN_PENDING, /* accepted, first message not read yet */
	CONN_SESSION, /* a joined session */
};

struct conn {
	enum conn_kind kind;
	int fd;
	int opener; /* pidfd of the opener, for CONN_SESSION */
	struct nscell_cell_session info;
};

enum {
	TAG_SIGNAL = 1,
	TAG_LISTEN,
	TAG_TIMER,
	TAG_CONN,   /* + index << 8 */
	TAG_OPENER, /* + index << 8 */
	TAG_LOGINS_INOTIFY, /* init-logins.c */
	TAG_LOGINS_TIMER,
};

/* The init's whole state; one per process. */
struct init_state {
	struct nscell_init_config cfg;
	bool private_logins; /* of the settings it was made with (init_settings_keep) */
	int epfd, sigfd, timerfd, listenfd, cellsfd, lockfd, usernsfd;
	int loginsfd; /* PrivateLogins: the sessions' mount namespace, or -1 */
	struct conn *conns;
	size_t n_conns;
	unsigned n_sessions;
	uint32_t next_session_no;
	enum nscell_cell_state state;
	uint64_t drain_deadline_usec;
	const char *end_reason;
	char ident[32];
	ino_t sock_ino;
	pid_t relay_pid; /* nscell-relay (not counted among the processes); 0: none, or reaped */
	const char *proc_path; /* the cell's /proc, where count_processes() looks */
};
extern struct init_state g;

uint64_t now_usec(clockid_t clk);
/* Keep the cell-level settings the init was made with, for SETTINGS; get
 * gives them back, the same bytes. */
void init_settings_keep(const struct nscell_settings *s);
void init_settings_get(struct nscell_settings *s);
/* Zeroed pages for a large transient buffer, to munmap() after use; NULL
 * when there are none. */
void *init_scratch(size_t len);
void set_timer(uint64_t usec, bool periodic);
unsigned count_processes(void);
void epoll_add(int fd, uint64_t tag);
void conn_close(size_t i);
void end_cell(const char *reason);
/* One ready event of g.epfd, any tag but TAG_SIGNAL. */
void conn_dispatch(uint64_t tag);

/* init-logins.c: PrivateLogins' copies. start: false if they cannot be
 * kept (the cell then ends); the others handle their tags' events. */
bool init_logins_start(void);
void init_logins_inotify(void);
void init_logins_timer(void);

/* Provided by the program that links init-conn.c (nscell-init, or the
 * fuzzer, which must neither kill nor exit). */
void logf_(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void init_kill_all(void); /* kill(-1, SIGKILL): everything in the cell */
_Noreturn void init_exit(int code);

#endif

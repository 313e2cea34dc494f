/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-relay's connections: one client of the cell and its connection to
 * the user's manager, the bytes and SCM_RIGHTS fds of each direction, and
 * the D-Bus framing (the authentication text, then the 16-byte fixed
 * headers) at whose message boundaries reads stop. relay.c is the process
 * around it (its fds, accept, the connect to the manager, the poll loop);
 * the fuzzer tests/fuzz/fuzz-relay.c links this file in its place.
 *
 * Bounds: a connection's two struct dir (one RELAY_BUF buffer and up to
 * RELAY_FDS_MAX fds each, ~18 kB together) are mapped by the caller; the
 * length of a message (up to DBUS_MESSAGE_MAX) is only counted, never held.
 */
#ifndef NSCELL_RELAY_CONN_H
#define NSCELL_RELAY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_BUF 8192
#define RELAY_FDS_MAX 253 /* SCM_MAX_FD: the most one message can carry */
#define DBUS_HEAD 16

enum frame { FRAME_TEXT, FRAME_HEAD, FRAME_BODY };

/* What a direction knows of the authentication text it has passed. */
struct text_state {
	unsigned lines; /* complete lines, BEGIN not counted */
	char line[8];   /* the current line's start, NULs and CR left out */
	size_t line_len;
	bool done;      /* binary from the next byte on */
};

struct dir {
	char buf[RELAY_BUF];
	size_t len, off; /* bytes read, bytes of those written */
	int fds[RELAY_FDS_MAX];
	size_t n_fds;    /* received with buf, go out with its first write */
	bool eof, shut;
	bool boundary;   /* the next byte read starts a message: only into an empty buf */
	enum frame frame;
	struct text_state text;
	uint8_t head[DBUS_HEAD];
	size_t head_len;
	uint64_t left;   /* FRAME_BODY: bytes left in the message */
};

struct pair {
	bool used, connecting;
	int fd[2]; /* 0: the client in the cell, 1: the manager */
	uint64_t deadline_ms;
	struct dir *d; /* [0]: client to manager, [1]: manager to client; mapped
			* while the connection lasts, so an idle relay holds none */
};

void dir_reset(struct dir *d);
void pair_close(struct pair *p);
size_t dir_room(const struct dir *d);
void pair_step(struct pair *p, const short revents[2]);

/* Provided by the program that links relay-conn.c (nscell-relay; the
 * fuzzer's connections are connected from the start): connect p->fd[1] to
 * the manager and clear p->connecting, or give up with pair_close(p). */
void upstream_connect(struct pair *p);

#endif

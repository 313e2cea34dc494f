/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The wire formats between the three programs:
 *
 *   pam_nscell --(socketpair, fd 3)--> nscell-helper --(cell socket)--> nscell-init
 *
 * All sockets are AF_UNIX SOCK_SEQPACKET: one message is one request, and a
 * peer that dies is seen as EOF. File descriptors travel as SCM_RIGHTS.
 * Only fixed-size structs and NUL-separated key=value text cross; every
 * decoder checks sizes, magic and termination before using a field.
 */
#pragma once

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

#define NSCELL_PROTO_MAGIC 0x4e53434cu /* "NSCL" */
#define NSCELL_REQUEST_MAX 4096        /* bytes of one module->helper request */
#define NSCELL_CELL_ID_MAX 48          /* "user-4294967295", "session-<16 hex>" */
#define NSCELL_FIELD_MAX 256           /* user, service, tty, rhost, ruser, conf */

/* ---- module -> helper: the login's facts ---------------------------------- */

enum nscell_verb {
	NSCELL_VERB_OPEN = 1, /* find or create the login's cell and hand it back */
};

struct nscell_request {
	enum nscell_verb verb;
	char user[NSCELL_FIELD_MAX];
	char service[NSCELL_FIELD_MAX];
	char tty[NSCELL_FIELD_MAX];
	char rhost[NSCELL_FIELD_MAX];
	char ruser[NSCELL_FIELD_MAX];
	char conf[NSCELL_FIELD_MAX]; /* policy override, honoured for root callers only */
	int debug;
};

/* Fill *r for the open verb from a login's PAM items (NULL: unset).
 * Returns 0, or -ENAMETOOLONG when one does not fit in a field. */
int nscell_request_open(struct nscell_request *r, const char *user, const char *service,
			const char *tty, const char *rhost, const char *ruser, const char *conf,
			bool debug);
/* Encode as "NSCELL1\0key=value\0...". Returns the length or -errno. */
ssize_t nscell_request_encode(const struct nscell_request *r, char *buf, size_t size);
/* Decode and validate (known keys once each, no control characters, user set).
 * Returns 0 or -EINVAL / -E2BIG; never reads past len. */
int nscell_request_decode(const char *buf, size_t len, struct nscell_request *ret);

/* ---- helper -> module: the answer, with [init pidfd, session socket] ------ */

enum {
	NSCELL_REPLY_CREATED = 1u << 0, /* a new cell was made for this login */
};

struct nscell_reply {
	uint32_t magic;
	int32_t pam_status;  /* PAM_SUCCESS: [init pidfd, session socket, userns fd if
			      * NSCELL_NS_USER] follow; PAM_IGNORE: exempt */
	uint32_t flags;
	uint32_t namespaces; /* NSCELL_NS_* the session must join */
	char cell_id[NSCELL_CELL_ID_MAX];
	char message[512];   /* why, for the module's one syslog line */
	struct nscell_settings settings;
};

/* ---- helper <-> init, over the cell's socket ------------------------------- */

enum nscell_cell_op {
	NSCELL_CELL_JOIN = 1, /* + [opener pidfd]; reply + [init pidfd, userns fd if any] */
	NSCELL_CELL_LEAVE,    /* on a joined connection: this session is over */
	NSCELL_CELL_STATUS,   /* reply: struct nscell_cell_status + sessions */
	NSCELL_CELL_TERMINATE,
	NSCELL_CELL_SETTINGS, /* reply: struct nscell_cell_settings (an init older
			       * than this op closes the connection instead) */
};

struct nscell_cell_join {
	uint32_t magic;
	uint32_t op;
	pid_t opener_pid; /* host pid, informational; the pidfd is what counts */
	char service[64];
	char tty[64];
	char rhost[128];
};

struct nscell_cell_reply {
	uint32_t magic;
	uint32_t op;
	int32_t error;       /* 0, or -ESTALE: the cell is ending, make a new one */
	uint32_t session_no; /* JOIN: this session's number in the cell */
	uint32_t namespaces; /* JOIN: NSCELL_NS_* the cell was made with */
};

enum nscell_cell_state {
	NSCELL_CELL_ACTIVE,
	NSCELL_CELL_DRAINING,
	NSCELL_CELL_ENDING,
};

/* What the helper tells a new init (through a pipe, before it serves). */
struct nscell_init_config {
	uint32_t magic;
	char cell_id[NSCELL_CELL_ID_MAX];
	uid_t uid;
	uint32_t scope;      /* enum nscell_scope */
	uint32_t namespaces; /* NSCELL_NS_* */
	uint32_t logout;     /* enum nscell_logout */
	uint64_t drain_limit_sec;
	uint64_t created_usec; /* CLOCK_REALTIME */
	pid_t init_pid_host;   /* the init's pid as the host sees it, for logs */
	uint32_t has_userns;   /* fd NSCELL_INIT_FD_USERNS is open */
};

/* The settings the cell was made with. They follow struct nscell_init_config
 * in the config pipe; an init that got none (made by an older helper)
 * answers SETTINGS with -ENODATA. */
struct nscell_cell_settings {
	uint32_t magic;
	uint32_t op;
	int32_t error;
	uint32_t reserved;
	struct nscell_settings settings;
};

struct nscell_cell_session {
	uint32_t session_no;
	pid_t opener_pid;
	uint64_t joined_usec;
	char service[64];
	char tty[64];
	char rhost[128];
};

#define NSCELL_STATUS_SESSIONS_MAX 64 /* sessions listed per status reply */

struct nscell_cell_status {
	uint32_t magic;
	uint32_t op;
	struct nscell_init_config config;
	uint32_t state;      /* enum nscell_cell_state */
	uint32_t n_sessions; /* live sessions; at most ..._MAX are listed */
	uint32_t n_processes;
	struct nscell_cell_session sessions[NSCELL_STATUS_SESSIONS_MAX];
};

/* The fixed fd numbers nscell-init starts with. */
enum {
	NSCELL_INIT_FD_LISTEN = 3, /* the cell socket, listening */
	NSCELL_INIT_FD_CELLS = 4,  /* dirfd of RUNDIR/cells, to unlink the socket */
	NSCELL_INIT_FD_LOCK = 5,   /* RUNDIR/locks/user-<uid>, a description of the init's own */
	NSCELL_INIT_FD_CONFIG = 6, /* pipe with one struct nscell_init_config */
	NSCELL_INIT_FD_USERNS = 7, /* the sessions' user namespace, if the policy has one */
};

/* ---- fd passing ----------------------------------------------------------- */

/* Send one message with up to 4 fds. Returns 0 or -errno. */
int nscell_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);
/* Receive one message and up to max_fds fds (O_CLOEXEC; extra fds are closed;
 * unused slots are -1). Returns the message length (0 = EOF) or -errno;
 * -EMSGSIZE if the message was truncated. */
ssize_t nscell_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds,
			size_t *ret_n_fds);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The wire formats between the programs:
 *
 *   pam_nscell --(socketpair, fd 3)--> nscell-open --(cell socket)--> nscell-init
 *   nscell(8), pam_nscell ----------------(cell socket)--> nscell-init
 *   nscell-open / nscell-run-helper --(config pipe, fd 6)--> nscell-init
 *
 * All sockets are AF_UNIX SOCK_SEQPACKET: one message is one request, and a
 * peer that dies is seen as EOF. File descriptors travel as SCM_RIGHTS.
 *
 * Every message starts with struct nscell_msg_head: magic, version,
 * operation, size (of the whole message) and, in answers, an error. Only
 * proto.c builds and checks heads and bodies: every decoder checks size,
 * magic, version, op and string termination before a field is used.
 *
 * Versions. A cell's init outlives a package upgrade, so programs of one
 * release talk to inits of earlier ones (never the other way: the helper
 * and the init it starts come from the same package).
 *   - A reader accepts its own version and the older ones it knows; it
 *     answers in the version of the request.
 *   - A request of a newer version than the reader's gets a head-only answer
 *     with error -EPROTONOSUPPORT and the reader's own version in the head:
 *     the asker may retry in that version if it knows it, else it treats the
 *     cell as one it cannot use (a login gets a cell of its own, logged as
 *     event=cell-version-differs).
 *   - A message of the right version whose op or size is wrong gets a
 *     head-only answer with -EOPNOTSUPP or -EPROTO; any error answer is the
 *     head alone (size = sizeof(struct nscell_msg_head)).
 *   - A size or layout change of any message means a new version.
 *   - Version 0 is the unversioned format of 0.1.0 and 0.2.0: {magic, op}
 *     as two uint32 and fixed structs (struct nscell_v0_*). The head puts op
 *     and version in the 32 bits where version 0 had its op, so every
 *     versioned message carries a value of 65536 or more there: a version 0
 *     init does not know that op and closes the connection, answering
 *     nothing and doing nothing. That is the probe: a client whose request
 *     ends in EOF asks again in version 0 (STATUS, TERMINATE, JOIN, LEAVE;
 *     SETTINGS is not asked of a version 0 init: -EPROTONOSUPPORT). A
 *     current init closes a version 0 connection the same way, the answer
 *     version 0 clients know from their own older inits.
 *   - The module's request to the helper is a head and NUL-separated
 *     key=value text. Version 0 was the text alone after "NSCELL1\0":
 *     nscell_request_decode() recognises it and says -EPROTONOSUPPORT.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

#define NSCELL_PROTO_MAGIC 0x4e53434cu /* "NSCL" */
#define NSCELL_PROTO_VERSION 1         /* what this release speaks and serves */
#define NSCELL_REQUEST_MAX 16384       /* bytes of one module->helper request, with its settings */
#define NSCELL_CELL_ID_MAX 48          /* "user-4294967295", "session-<16 hex>" */
#define NSCELL_FIELD_MAX 256           /* user, service, tty, rhost, ruser, conf */
#define NSCELL_REQUEST_GROUPS_MAX 340  /* gids in a request: the kernel's lines in a gid_map */

/* Every operation of every channel, so that no two mean the same number.
 * 1-5 are the cell socket's, numbered as in version 0. */
enum nscell_cell_op {
	NSCELL_CELL_JOIN = 1, /* + [opener pidfd]; reply + [init pidfd, userns fd if any] */
	NSCELL_CELL_LEAVE,    /* on a joined connection: this session is over */
	NSCELL_CELL_STATUS,   /* reply: struct nscell_cell_status + sessions */
	NSCELL_CELL_TERMINATE,
	NSCELL_CELL_SETTINGS, /* reply: struct nscell_cell_settings */
	NSCELL_CELL_JOIN_SAME, /* struct nscell_cell_join_same: JOIN if the settings agree */
	NSCELL_OP_OPEN = 16,  /* module -> helper request, and its reply */
	NSCELL_OP_INIT_CONFIG, /* helper -> init, the config pipe */
};

struct nscell_msg_head {
	uint32_t magic;   /* NSCELL_PROTO_MAGIC */
	uint16_t op;      /* enum nscell_cell_op */
	uint16_t version; /* NSCELL_PROTO_VERSION of the writer (of the request, in answers) */
	uint32_t size;    /* bytes of the whole message, this head included */
	int32_t error;    /* answers: 0, or -errno and nothing follows; requests: 0 */
};

/* A head of this release's version for a message of `size` bytes. */
void nscell_msg_head_init(struct nscell_msg_head *h, uint32_t op, size_t size);

/*
 * nscell_msg_head_decode - what a receiver sees first. Returns 0 for a
 * message of a version this release speaks whose size field is `len`;
 * -EPROTONOSUPPORT for one of a newer version (*ret is filled: answer it
 * with nscell_msg_head_init() and that error); -ENOMSG for a version 0
 * message (magic, then a small op); -EPROTO for anything else.
 */
int nscell_msg_head_decode(const void *buf, size_t len, struct nscell_msg_head *ret);

/*
 * nscell_msg_answer_check - an answer to a request of `op`, expected to be
 * `size` bytes. Returns 0, the answer's own error (-errno) for a head-only
 * error answer, or -EPROTO for anything that is not such an answer.
 */
int nscell_msg_answer_check(const void *buf, size_t len, uint32_t op, size_t size);

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
	/* What the module decided already, as it would be decided again (same
	 * resolve, same files): the fast path. nscell-open (its caller is root)
	 * takes it instead of NSS and the policy; nscell-run-helper has no such
	 * request. */
	bool decided;
	uid_t uid;
	gid_t gid;
	char home[NSCELL_FIELD_MAX];  /* "" or absolute */
	char shell[NSCELL_FIELD_MAX]; /* "" or absolute */
	struct nscell_settings settings; /* isolate is true */
	/* With a decision whose namespaces include user: the user's groups,
	 * primary first, which the user namespace maps (n_gids 0: not sent). */
	size_t n_gids;
	gid_t gids[NSCELL_REQUEST_GROUPS_MAX];
};

/* Fill *r for the open verb from a login's PAM items (NULL: unset).
 * Returns 0, or -ENAMETOOLONG when one does not fit in a field. */
int nscell_request_open(struct nscell_request *r, const char *user, const char *service,
			const char *tty, const char *rhost, const char *ruser, const char *conf,
			bool debug);
/* Add the module's decision: the user's passwd entry and the settings.
 * Returns 0, or -ENAMETOOLONG / -EINVAL for what no request may carry. */
int nscell_request_decide(struct nscell_request *r, uid_t uid, gid_t gid, const char *home,
			  const char *shell, const struct nscell_settings *s);
/* Add the user's groups (primary first) to a decided request. Returns 0, or
 * -E2BIG / -EINVAL for what no request may carry. */
int nscell_request_groups(struct nscell_request *r, const gid_t *gids, size_t n);
/* Encode as a head (NSCELL_OP_OPEN) and "key=value\0...": with a decision,
 * uid=, gid=, home=, shell=, groups= (decimal, comma-separated) and, last, "settings=<n>\0" followed by the n
 * bytes of struct nscell_settings. Returns the length or -errno. */
ssize_t nscell_request_encode(const struct nscell_request *r, char *buf, size_t size);
/* Decode and validate (the head, known keys once each, no control characters,
 * user set; a decision complete, every setting within its bounds). A
 * settings block of another size (a module of another build) is dropped:
 * decided is false and the helper decides itself. Returns 0, -EPROTONOSUPPORT for a request of another version
 * (version 0 included: a module loaded before an upgrade), or -EINVAL /
 * -E2BIG; never reads past len. */
int nscell_request_decode(const char *buf, size_t len, struct nscell_request *ret);

/* ---- helper -> module: the answer, with [init pidfd, session socket] ------ */

enum {
	NSCELL_REPLY_CREATED = 1u << 0, /* a new cell was made for this login */
};

struct nscell_reply {
	struct nscell_msg_head head; /* NSCELL_OP_OPEN */
	int32_t pam_status;  /* PAM_SUCCESS: [init pidfd, session socket, userns fd if
			      * NSCELL_NS_USER] follow; PAM_IGNORE: exempt */
	uint32_t flags;
	uint32_t namespaces; /* NSCELL_NS_* the session must join */
	char cell_id[NSCELL_CELL_ID_MAX];
	char message[512];   /* why, for the module's one syslog line */
	struct nscell_settings settings;
};

/* A zeroed reply with its head. */
void nscell_reply_init(struct nscell_reply *r);
/* Check a received reply of `len` bytes and terminate its strings.
 * Returns 0 or -EPROTO. */
int nscell_reply_check(struct nscell_reply *r, size_t len);

/* ---- helper <-> init, over the cell's socket ------------------------------- */

/* STATUS, TERMINATE, SETTINGS and LEAVE are a head alone. */

struct nscell_cell_join {
	struct nscell_msg_head head;
	pid_t opener_pid; /* host pid, informational; the pidfd is what counts */
	char service[64];
	char tty[64];
	char rhost[128];
};

/* Answer to JOIN (and TERMINATE). An error (-ESTALE: the cell is ending,
 * make a new one) is the head alone. */
struct nscell_cell_reply {
	struct nscell_msg_head head;
	uint32_t session_no; /* JOIN: this session's number in the cell */
	uint32_t namespaces; /* JOIN: NSCELL_NS_* the cell was made with */
};

enum nscell_cell_state {
	NSCELL_CELL_ACTIVE,
	NSCELL_CELL_DRAINING,
	NSCELL_CELL_ENDING,
};

/* What the helper tells a new init, and what the init reports in STATUS. */
struct nscell_init_config {
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

/* The config pipe carries one of these (NSCELL_OP_INIT_CONFIG). */
struct nscell_init_msg {
	struct nscell_msg_head head;
	struct nscell_init_config config;
	struct nscell_settings settings; /* the cell-level settings it is made with */
};

/* Check a received config message and terminate its strings. 0 or -EPROTO. */
int nscell_init_msg_check(struct nscell_init_msg *m, size_t len);

/* The settings the cell was made with. */
struct nscell_cell_settings {
	struct nscell_msg_head head;
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
	struct nscell_msg_head head;
	struct nscell_init_config config;
	uint32_t state;      /* enum nscell_cell_state */
	uint32_t n_sessions; /* live sessions; at most ..._MAX are listed */
	uint32_t n_processes;
	struct nscell_cell_session sessions[NSCELL_STATUS_SESSIONS_MAX];
};

/* Encode a JOIN: service, tty, rhost may be NULL and are cut to the fields. */
void nscell_cell_join_encode(struct nscell_cell_join *j, pid_t opener_pid, const char *service,
			     const char *tty, const char *rhost);
/* Check a received JOIN (head decoded already) and terminate its strings. */
int nscell_cell_join_check(struct nscell_cell_join *j, size_t len);

/*
 * JOIN_SAME (op 6, version 1, since 0.5.0): a JOIN that the init serves only
 * if the login's cell-level part of its settings (nscell_settings_cell_part())
 * is byte for byte the one the cell was made with (helper/cell.c); else the
 * answer is NSCELL_CELL_DIFFERS and nothing is joined. One round trip where
 * SETTINGS and JOIN take two. Its answer is a JOIN answer of op JOIN_SAME.
 *
 * The part is sent packed, as it is mostly zero: the size of struct
 * nscell_settings the asker was built with (another size is another layout:
 * -EPROTO), then the part as nscell_settings_pack() gives it, which the init
 * compares with its own, kept so, byte for byte. The whole
 * message is at most NSCELL_CELL_JOIN_SAME_MAX bytes (the init's room for
 * it); a part that does not fit is asked by SETTINGS and JOIN instead.
 *
 * An init of 0.4.0 closes on it (longer than any request it knows; version 0
 * inits close on every versioned request): on that EOF, -EOPNOTSUPP, -EPROTO
 * and NSCELL_CELL_DIFFERS the asker falls back to SETTINGS and JOIN, which
 * keep their meaning (lib/registry.c). Which keys are cell-level, and the
 * layout of struct nscell_settings, are part of this message: changing them
 * means a new version.
 */
#define NSCELL_CELL_JOIN_SAME_MAX 1024
struct nscell_cell_join_same {
	struct nscell_cell_join join; /* join.head: op JOIN_SAME, size of the whole */
	uint32_t settings_size;       /* sizeof(struct nscell_settings) */
	uint8_t part[NSCELL_CELL_JOIN_SAME_MAX - sizeof(struct nscell_cell_join) - 4];
};
#define NSCELL_CELL_DIFFERS (-EXDEV) /* JOIN_SAME: the cell was made with other settings */

/* Encode a JOIN_SAME with the cell-level part `part`. Returns its length,
 * or -E2BIG when the part does not fit. */
ssize_t nscell_cell_join_same_encode(struct nscell_cell_join_same *m, pid_t opener_pid,
				     const char *service, const char *tty, const char *rhost,
				     const struct nscell_settings *part);
/* Check a received JOIN_SAME of `len` bytes (head decoded already) and
 * terminate its strings. Returns 0 when its part is `cell` (`cell_len`
 * bytes, packed), NSCELL_CELL_DIFFERS when not, -EPROTO when malformed. */
int nscell_cell_join_same_check(struct nscell_cell_join_same *m, size_t len, const uint8_t *cell,
				size_t cell_len);

/*
 * Settings packed: records {uint16 offset, uint16 length, that many bytes}
 * of the struct, in increasing order, not overlapping, each ending at a run
 * of four zero bytes or more (or the end); every byte outside them is zero.
 * One packing of given bytes, so equal settings pack to equal bytes: how
 * JOIN_SAME carries the login's cell-level part, and how nscell-init keeps
 * the settings it was made with (its pages unwritten past them). At most
 * NSCELL_SETTINGS_PACKED_MAX bytes: each cut pays for the record after it.
 */
#define NSCELL_SETTINGS_PACKED_MAX (sizeof(struct nscell_settings) + 4)
/* Pack into `cap` bytes at out: the length, or -E2BIG. */
ssize_t nscell_settings_pack(const struct nscell_settings *set, uint8_t *out, size_t cap);
/* Unpack `n` bytes: 0, or -EPROTO when they are not packed settings. */
int nscell_settings_unpack(const uint8_t *in, size_t n, struct nscell_settings *set);
/* Check a STATUS answer of `len` bytes for cell `id` and terminate its
 * strings: 0, an error answer's -errno, or -EPROTO. head.version says which
 * version the init answered in (also after nscell_v0_status_decode). */
int nscell_cell_status_check(struct nscell_cell_status *st, size_t len, const char *id);
/* Check a SETTINGS answer. 0, an error answer's -errno, or -EPROTO. */
int nscell_cell_settings_check(struct nscell_cell_settings *a, size_t len);

/* Send LEAVE of `version` on a session's socket (best effort, never blocks).
 * Any message on a joined connection ends its session, in every version. */
void nscell_cell_leave(int sock, unsigned version);

/* ---- version 0: 0.1.0 and 0.2.0, as their inits speak it ------------------- */

struct nscell_v0_join {
	uint32_t magic;
	uint32_t op;
	pid_t opener_pid;
	char service[64];
	char tty[64];
	char rhost[128];
};

struct nscell_v0_reply {
	uint32_t magic;
	uint32_t op;
	int32_t error;
	uint32_t session_no;
	uint32_t namespaces;
};

struct nscell_v0_status {
	uint32_t magic;
	uint32_t op;
	struct {
		uint32_t magic;
		char cell_id[NSCELL_CELL_ID_MAX];
		uid_t uid;
		uint32_t scope;
		uint32_t namespaces;
		uint32_t logout;
		uint64_t drain_limit_sec;
		uint64_t created_usec;
		pid_t init_pid_host;
		uint32_t has_userns;
	} config;
	uint32_t state;
	uint32_t n_sessions;
	uint32_t n_processes;
	struct nscell_cell_session sessions[NSCELL_STATUS_SESSIONS_MAX];
};

/* The version 0 request of `op` without a body (STATUS, TERMINATE, LEAVE). */
void nscell_v0_request(uint32_t req[2], uint32_t op);
void nscell_v0_join_encode(struct nscell_v0_join *j, pid_t opener_pid, const char *service,
			   const char *tty, const char *rhost);
/* A version 0 JOIN or TERMINATE answer as a versioned one: 0, its -errno, or -EPROTO. */
int nscell_v0_reply_decode(const void *buf, size_t len, uint32_t op, struct nscell_cell_reply *ret);
/* A version 0 STATUS answer (`len` bytes) into *ret, as nscell_cell_status_check. */
int nscell_v0_status_decode(const struct nscell_v0_status *v0, size_t len, const char *id,
			    struct nscell_cell_status *ret);

/* The fixed fd numbers nscell-init starts with. */
enum {
	NSCELL_INIT_FD_LISTEN = 3, /* the cell socket, listening */
	NSCELL_INIT_FD_CELLS = 4,  /* dirfd of RUNDIR/cells, to unlink the socket */
	NSCELL_INIT_FD_LOCK = 5,   /* RUNDIR/locks/user-<uid>, a description of the init's own */
	NSCELL_INIT_FD_CONFIG = 6, /* pipe with one struct nscell_init_msg */
	NSCELL_INIT_FD_USERNS = 7, /* the sessions' user namespace, if the policy has one */
	/* PrivateLogins (helper/logins.c): the sessions' mount namespace, then
	 * the copies of the login records (each closed when absent:
	 * NSCELL_LOGINS_N_FILES of them, logins-filter.h). 8 and 9
	 * are the setup's own, closed at the exec. */
	NSCELL_INIT_FD_LOGINS_NS = 10,
	NSCELL_INIT_FD_LOGINS_COPY = 11,
};

/* ---- fd passing ----------------------------------------------------------- */

/* Send one message with up to 4 fds. Returns 0 or -errno. */
int nscell_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);
/* Receive one message and up to max_fds fds (O_CLOEXEC; extra fds are closed;
 * unused slots are -1). Returns the message length (0 = EOF) or -errno;
 * -EMSGSIZE if the message was truncated. */
ssize_t nscell_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds,
			size_t *ret_n_fds);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PrivateLogins: which login records a cell's user may see, and the files
 * they are kept in. One table of files (the setup in helper/logins.c binds a
 * copy over each, the cell's init keeps the copies current) and one rule for
 * a record, shared by both. Nothing here does I/O.
 *
 * The record layouts are the files' own (glibc's struct utmp and struct
 * lastlog on Linux, with 32-bit times on every architecture), spelled out
 * here so that the init, built against another C library, reads them alike.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NSCELL_UTMP_RECORD 384     /* sizeof(struct utmp) */
#define NSCELL_UTMP_TYPE_OFF 0     /* int16_t ut_type */
#define NSCELL_UTMP_USER_OFF 44    /* char ut_user[32] */
#define NSCELL_UTMP_USER_LEN 32
#define NSCELL_UTMP_LINE_OFF 8     /* char ut_line[32] */
#define NSCELL_UTMP_LINE_LEN 32
#define NSCELL_UTMP_ID_OFF 40      /* char ut_id[4] */
#define NSCELL_UTMP_ID_LEN 4
#define NSCELL_LASTLOG_RECORD 292  /* sizeof(struct lastlog): time, line[32], host[256] */

/* The copies' bounds: the host writes the real files, but a copy must not
 * grow without end in a cell's tmpfs. */
#define NSCELL_LOGINS_COPY_MAX (4u << 20)

enum nscell_logins_kind {
	NSCELL_LOGINS_UTMP,    /* utmp records, rewritten in place: filtered whole */
	NSCELL_LOGINS_WTMP,    /* utmp records, appended: filtered from where it was */
	NSCELL_LOGINS_LASTLOG, /* uid-indexed: the user's own record alone */
	NSCELL_LOGINS_EMPTY,   /* a database read by its own library (Debian 13's wtmpdb,
				* lastlog2): covered by an empty file, never refreshed */
	NSCELL_LOGINS_SESSIONS, /* logind's session files (sd_get_sessions(), which `who`
				 * reads on a systemd host): a directory of the user's own */
	NSCELL_LOGINS_USERS,   /* logind's user files (sd_get_uids()): the user's own alone */
};

/* logind's state directories: a pass reads at most this many entries of
 * one, and of each file at most this many bytes (a session file is a few
 * hundred); a longer file is not copied. */
#define NSCELL_LOGINS_DIR_ENTRIES 1024
#define NSCELL_LOGINS_STATE_MAX 4096

struct nscell_logins_file {
	const char *path;
	const char *copy; /* its name in the setup's staging directory */
	enum nscell_logins_kind kind;
};

/* The files, in the order of the init's fds (proto.h NSCELL_INIT_FD_LOGINS_COPY). */
#define NSCELL_LOGINS_N_FILES 7
extern const struct nscell_logins_file nscell_logins_files[NSCELL_LOGINS_N_FILES];

/* Whether `user` may see the utmp record `rec` (NSCELL_UTMP_RECORD bytes):
 * its own records, and those of no user (boot, run level, clock changes, a
 * line's logout), so that `who -b`, `uptime` and `last reboot` still work. */
bool nscell_utmp_visible(const unsigned char *rec, const char *user);

/* Filter `len` bytes of records from `in` into `out` (which may be `in`):
 * a trailing partial record is dropped. Returns the bytes written. */
size_t nscell_utmp_filter(const unsigned char *in, size_t len, unsigned char *out,
			  const char *user);

/* Where the C library's pututline() puts the process record `rec` in the
 * utmp file `file` (`len` bytes): the offset of the record it replaces (a
 * process record of the same ut_id, or of the same line when either has no
 * id), or SIZE_MAX when it is appended. */
size_t nscell_utmp_slot(const unsigned char *file, size_t len, const unsigned char *rec);

/* Whether the cell of `user` may write `rec` over `slot` (the record it
 * replaces in the real utmp, NULL when appended). A login of `user` on a
 * line the user holds (`holds_line`: its terminal is the user's, as login
 * and the setgid utmp helpers make it before they write), over nothing, a
 * line's own state (init, getty, a logout), the user's own login or what
 * an earlier login left of that same line; and the logout of the user's
 * own login. Nothing else: not another user's record, nor one of another
 * line, nor the machine's (boot, run level). */
bool nscell_utmp_forwardable(const unsigned char *rec, const unsigned char *slot,
			     const char *user, bool holds_line);

/* Whether the entry `name` of a logind state directory of `kind`, whose
 * content is `buf` (`len` bytes), is uid's: a session file whose UID= line
 * is uid, the user file named uid. */
bool nscell_logind_visible(enum nscell_logins_kind kind, const char *name, const char *buf,
			   size_t len, uid_t uid);

/* Where uid's record lies in a lastlog file. */
static inline uint64_t nscell_lastlog_offset(uid_t uid)
{
	return (uint64_t)uid * NSCELL_LASTLOG_RECORD;
}

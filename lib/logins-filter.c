/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PrivateLogins: the visible records (see logins-filter.h). */
#include <string.h>

#include "logins-filter.h"

const struct nscell_logins_file nscell_logins_files[NSCELL_LOGINS_N_FILES] = {
	{ "/run/utmp", "utmp", NSCELL_LOGINS_UTMP },
	{ "/var/log/wtmp", "wtmp", NSCELL_LOGINS_WTMP },
	{ "/var/log/lastlog", "lastlog", NSCELL_LOGINS_LASTLOG },
	{ "/var/lib/wtmpdb/wtmp.db", "wtmp.db", NSCELL_LOGINS_EMPTY },
	{ "/var/lib/lastlog/lastlog2.db", "lastlog2.db", NSCELL_LOGINS_EMPTY },
	{ "/run/systemd/sessions", "sessions", NSCELL_LOGINS_SESSIONS },
	{ "/run/systemd/users", "users", NSCELL_LOGINS_USERS },
};

/* ut_type values (utmp.h). */
enum { RUN_LVL = 1, BOOT_TIME, NEW_TIME, OLD_TIME, INIT_PROCESS, LOGIN_PROCESS, USER_PROCESS,
       DEAD_PROCESS };

static int16_t type_of(const unsigned char *rec)
{
	int16_t type;

	memcpy(&type, rec + NSCELL_UTMP_TYPE_OFF, sizeof(type));
	return type;
}

/* ut_user is NUL-padded, not always NUL-terminated. */
static bool is_user(const unsigned char *rec, const char *user)
{
	const char *u = (const char *)rec + NSCELL_UTMP_USER_OFF;
	size_t n = strlen(user);

	return n <= NSCELL_UTMP_USER_LEN && memcmp(u, user, n) == 0 &&
	       (n == NSCELL_UTMP_USER_LEN || u[n] == '\0');
}

bool nscell_utmp_visible(const unsigned char *rec, const char *user)
{
	int16_t type = type_of(rec);

	/* The machine's own records name a pseudo-user ("reboot", "runlevel",
	 * "shutdown"): nobody's login. */
	if (type >= RUN_LVL && type <= OLD_TIME)
		return true;
	if (rec[NSCELL_UTMP_USER_OFF] == '\0')
		return true;
	return is_user(rec, user);
}

static bool is_process(const unsigned char *rec)
{
	int16_t type = type_of(rec);

	return type >= INIT_PROCESS && type <= DEAD_PROCESS;
}

size_t nscell_utmp_slot(const unsigned char *file, size_t len, const unsigned char *rec)
{
	bool by_id = rec[NSCELL_UTMP_ID_OFF] != '\0';

	if (!is_process(rec))
		return SIZE_MAX; /* not ours to place: never forwarded */
	for (size_t r = 0; r + NSCELL_UTMP_RECORD <= len; r += NSCELL_UTMP_RECORD) {
		const unsigned char *e = file + r;

		if (!is_process(e))
			continue;
		if (by_id && e[NSCELL_UTMP_ID_OFF] != '\0' ?
			    strncmp((const char *)e + NSCELL_UTMP_ID_OFF,
				    (const char *)rec + NSCELL_UTMP_ID_OFF, NSCELL_UTMP_ID_LEN) == 0 :
			    strncmp((const char *)e + NSCELL_UTMP_LINE_OFF,
				    (const char *)rec + NSCELL_UTMP_LINE_OFF, NSCELL_UTMP_LINE_LEN) == 0)
			return r;
	}
	return SIZE_MAX;
}

bool nscell_utmp_forwardable(const unsigned char *rec, const unsigned char *slot,
			     const char *user, bool holds_line)
{
	bool own_slot = slot && type_of(slot) == USER_PROCESS && is_user(slot, user);

	switch (type_of(rec)) {
	case USER_PROCESS:
		return is_user(rec, user) && holds_line &&
		       (!slot || own_slot || type_of(slot) != USER_PROCESS ||
			memcmp(slot + NSCELL_UTMP_LINE_OFF, rec + NSCELL_UTMP_LINE_OFF,
			       NSCELL_UTMP_LINE_LEN) == 0);
	case DEAD_PROCESS:
		return own_slot;
	default:
		return false;
	}
}

size_t nscell_utmp_filter(const unsigned char *in, size_t len, unsigned char *out,
			  const char *user)
{
	size_t w = 0;

	for (size_t r = 0; r + NSCELL_UTMP_RECORD <= len; r += NSCELL_UTMP_RECORD) {
		if (!nscell_utmp_visible(in + r, user))
			continue;
		if (out + w != in + r)
			memmove(out + w, in + r, NSCELL_UTMP_RECORD);
		w += NSCELL_UTMP_RECORD;
	}
	return w;
}

/* A uid in decimal, all of `s` (`n` bytes), no sign, no leading zero. */
static bool is_uid(const char *s, size_t n, uid_t uid)
{
	uint64_t v = 0;

	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v == (uint64_t)uid;
}

bool nscell_logind_visible(enum nscell_logins_kind kind, const char *name, const char *buf,
			   size_t len, uid_t uid)
{
	if (name[0] == '.' || name[0] == '\0')
		return false; /* logind's own temporary files, and ours */
	if (kind == NSCELL_LOGINS_USERS)
		return is_uid(name, strlen(name), uid);
	if (kind != NSCELL_LOGINS_SESSIONS)
		return false;
	/* key=value lines (logind's session_save()); the first UID= counts. */
	for (size_t i = 0; i < len;) {
		const char *l = buf + i, *e = memchr(l, '\n', len - i);
		size_t n = e ? (size_t)(e - l) : len - i;

		if (n >= 4 && memcmp(l, "UID=", 4) == 0)
			return is_uid(l + 4, n - 4, uid);
		i += n + 1;
	}
	return false;
}

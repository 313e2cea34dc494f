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
};

/* ut_type values (utmp.h). */
enum { RUN_LVL = 1, BOOT_TIME, NEW_TIME, OLD_TIME };

bool nscell_utmp_visible(const unsigned char *rec, const char *user)
{
	const char *u = (const char *)rec + NSCELL_UTMP_USER_OFF;
	size_t n = strlen(user);
	int16_t type;

	memcpy(&type, rec + NSCELL_UTMP_TYPE_OFF, sizeof(type));
	/* The machine's own records name a pseudo-user ("reboot", "runlevel",
	 * "shutdown"): nobody's login. */
	if (type >= RUN_LVL && type <= OLD_TIME)
		return true;
	if (u[0] == '\0')
		return true;
	/* ut_user is NUL-padded, not always NUL-terminated. */
	return n <= NSCELL_UTMP_USER_LEN && memcmp(u, user, n) == 0 &&
	       (n == NSCELL_UTMP_USER_LEN || u[n] == '\0');
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PrivateLogins: where a session enters (see logins-enter.h). */
#include <string.h>

#include "logins-enter.h"

static const struct {
	const char *service;
	enum nscell_logins_point point;
} table[] = {
	{ "sshd", NSCELL_LOGINS_SETCRED },
	{ "su", NSCELL_LOGINS_OPEN },
	{ "su-l", NSCELL_LOGINS_OPEN },
	{ "runuser", NSCELL_LOGINS_OPEN },
	{ "runuser-l", NSCELL_LOGINS_OPEN },
	{ "sudo", NSCELL_LOGINS_OPEN },
	{ "sudo-i", NSCELL_LOGINS_OPEN },
};

enum nscell_logins_point nscell_logins_point(const char *service)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(service, table[i].service) == 0)
			return table[i].point;
	return NSCELL_LOGINS_NONE;
}

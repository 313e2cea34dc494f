/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "userns-point.h"

/*
 * sshd breaks ("Failed to set uids") when its root monitor is in a user
 * namespace, but its post-auth child calls setcred as root before dropping
 * to the user; su, runuser and sudo can enter at open_session; login chowns
 * the tty to a group after open_session, which fails from a namespace where
 * the tty's owner is unmapped.
 */
static const struct {
	const char *service;
	enum nscell_userns_point point;
} table[] = {
	{ "sshd", NSCELL_USERNS_SETCRED },
	{ "su", NSCELL_USERNS_OPEN },
	{ "su-l", NSCELL_USERNS_OPEN },
	{ "runuser", NSCELL_USERNS_OPEN },
	{ "runuser-l", NSCELL_USERNS_OPEN },
	{ "sudo", NSCELL_USERNS_OPEN },
	{ "sudo-i", NSCELL_USERNS_OPEN },
};

enum nscell_userns_point nscell_userns_point_of(const char *service)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(service, table[i].service) == 0)
			return table[i].point;
	return NSCELL_USERNS_NONE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PrivateLogins: where a session enters (see logins-enter.h). The measured
 * points are those of the user namespace (userns-point.c): one table. */
#include "logins-enter.h"
#include "userns-point.h"

enum nscell_logins_point nscell_logins_point(const char *service)
{
	switch (nscell_userns_point_of(service)) {
	case NSCELL_USERNS_SETCRED:
		return NSCELL_LOGINS_SETCRED;
	case NSCELL_USERNS_OPEN:
		return NSCELL_LOGINS_OPEN;
	default:
		return NSCELL_LOGINS_NONE;
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PrivateLogins: where a session enters (see logins-enter.h). The measured
 * points are those of the user namespace (userns-point.c): one table. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup.h"
#include "logins-enter.h"
#include "nsjoin.h"
#include "userns-point.h"

enum nscell_logins_point nscell_logins_point(const char *service)
{
	/* login's own services (its -h one is "remote"); a user namespace
	 * has no point in them (userns-point.c). */
	if (strcmp(service, "login") == 0 || strcmp(service, "remote") == 0)
		return NSCELL_LOGINS_FORK;
	switch (nscell_userns_point_of(service)) {
	case NSCELL_USERNS_SETCRED:
		return NSCELL_LOGINS_SETCRED;
	case NSCELL_USERNS_OPEN:
		return NSCELL_LOGINS_OPEN;
	default:
		return NSCELL_LOGINS_NONE;
	}
}

/* The handler is the module's: the C library drops it when the module is
 * unloaded, and it does nothing once disarmed. */
static int fork_fd = -1;
static bool fork_registered;

static void fork_child(void)
{
	char why[200];

	if (fork_fd < 0)
		return;
	if (nscell_ns_enter_logins(fork_fd, why, sizeof(why)) < 0) {
		syslog(LOG_AUTHPRIV | LOG_ERR, "pam_nscell: %s (PrivateLogins); session refused", why);
		_exit(1);
	}
	nscell_closep(&fork_fd);
}

int nscell_logins_fork_arm(int fd, char *why, size_t whylen)
{
	int rc;

	nscell_logins_fork_disarm();
	if (!fork_registered) {
		rc = pthread_atfork(NULL, NULL, fork_child);
		if (rc != 0) {
			close(fd);
			snprintf(why, whylen, "cannot arm the session child's entry: %s", strerror(rc));
			return -rc;
		}
		fork_registered = true;
	}
	fork_fd = fd;
	return 0;
}

void nscell_logins_fork_disarm(void)
{
	nscell_closep(&fork_fd);
}

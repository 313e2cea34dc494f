/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "registry.h"
#include "settings-keys.h"

void nscell_registry_user_cell_id(uid_t uid, char *buf, size_t size)
{
	snprintf(buf, size, "user-%u", (unsigned)uid);
}

static bool gone(int rc)
{
	return rc == -ENOENT || rc == -ECONNREFUSED || rc == -ESTALE || rc == -ECONNRESET ||
	       rc == -EPIPE;
}

enum nscell_join_same_next nscell_registry_join_same_next(int rc)
{
	if (rc == 0)
		return NSCELL_JOIN_SAME_JOINED;
	/* An init of 0.4.0 or of version 0 closes on the op (EOF); one that
	 * knows the size but not the op says so; a newer one names its version;
	 * other bytes may still spell the same keys. A cell ending closes too:
	 * SETTINGS tells that apart as before. */
	if (rc == -ECONNRESET || rc == -EOPNOTSUPP || rc == -EPROTO || rc == -EMSGSIZE ||
	    rc == -EPROTONOSUPPORT || rc == NSCELL_CELL_DIFFERS)
		return NSCELL_JOIN_SAME_ASK;
	return gone(rc) ? NSCELL_JOIN_SAME_GONE : NSCELL_JOIN_SAME_FAIL;
}

/* SETTINGS, the keys compared here, then JOIN: for an init without
 * JOIN_SAME, and to say which keys differ. */
static int join_asked(const char *id, const struct nscell_settings *want, int opener_pidfd,
		      pid_t opener_pid, const char *service, const char *tty, const char *rhost,
		      struct nscell_cellctl_session *ret, char *why, size_t whylen)
{
	struct nscell_settings cell;
	int rc;

	rc = nscell_cellctl_settings(id, &cell);
	if (rc == -EPROTONOSUPPORT) {
		/* An init of another release, live across an upgrade: it stays
		 * the cell of the sessions it has; this login gets its own. */
		unsigned version = 0;
		if (nscell_cellctl_version(id, &version) == 0)
			snprintf(why, whylen, "%u", version);
		else /* gone meanwhile, or newer and refusing ours */
			snprintf(why, whylen, "unknown");
		return NSCELL_REGISTRY_VERSION_DIFFERS;
	}
	if (rc == -ENODATA || rc == -ECONNRESET || rc == -EPROTO) {
		snprintf(why, whylen, "the cell does not report its settings (%s)", strerror(-rc));
		return NSCELL_REGISTRY_DIFFERS;
	}
	if (gone(rc))
		return NSCELL_REGISTRY_GONE;
	if (rc < 0) {
		snprintf(why, whylen, "cannot ask cell %s for its settings: %s", id, strerror(-rc));
		return rc;
	}
	rc = nscell_settings_cell_diff(&cell, want, why, whylen);
	if (rc < 0) {
		snprintf(why, whylen, "cannot compare the settings of cell %s: %s", id, strerror(-rc));
		return rc;
	}
	if (rc > 0)
		return NSCELL_REGISTRY_DIFFERS;

	rc = nscell_cellctl_join(id, opener_pidfd, opener_pid, service, tty, rhost, ret);
	if (gone(rc))
		return NSCELL_REGISTRY_GONE; /* it ended meanwhile */
	if (rc < 0) {
		snprintf(why, whylen, "cannot join cell %s: %s", id, strerror(-rc));
		return rc;
	}
	return 0;
}

int nscell_registry_join_same(const char *id, const struct nscell_settings *want,
			      int opener_pidfd, pid_t opener_pid, const char *service,
			      const char *tty, const char *rhost,
			      struct nscell_cellctl_session *ret, char *why, size_t whylen)
{
	int rc = nscell_cellctl_join_same(id, want, opener_pidfd, opener_pid, service, tty, rhost,
					  ret);

	switch (nscell_registry_join_same_next(rc)) {
	case NSCELL_JOIN_SAME_JOINED:
		break;
	case NSCELL_JOIN_SAME_GONE:
		return NSCELL_REGISTRY_GONE;
	case NSCELL_JOIN_SAME_FAIL:
		snprintf(why, whylen, "cannot join cell %s: %s", id, strerror(-rc));
		return rc;
	case NSCELL_JOIN_SAME_ASK:
		rc = join_asked(id, want, opener_pidfd, opener_pid, service, tty, rhost, ret, why,
				whylen);
		if (rc != 0)
			return rc;
		break;
	}
	/* Checked by every cell-level key; a cell that answers with other
	 * namespaces than it reported is not one to enter. */
	if (ret->namespaces != want->namespaces) {
		snprintf(why, whylen, "cell %s has other namespaces (0x%x) than it reported (0x%x)",
			 id, ret->namespaces, want->namespaces);
		nscell_cellctl_session_close(ret);
		return -EPROTO;
	}
	return 0;
}

int nscell_registry_join_user_cell(uid_t uid, const struct nscell_settings *want,
				   const char *service, const char *tty, const char *rhost,
				   char *ret_id, size_t idsize, struct nscell_cellctl_session *ret,
				   char *why, size_t whylen)
{
	pid_t pid;
	int self, rc;

	/* The cell's socket is in a root-only directory, and its init accepts
	 * uid 0 alone. */
	if (want->scope != NSCELL_SCOPE_USER || geteuid() != 0)
		return NSCELL_REGISTRY_GONE;
	nscell_registry_user_cell_id(uid, ret_id, idsize);
	pid = getpid();
	self = (int)syscall(SYS_pidfd_open, pid, 0);
	if (self < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot pin this process: %s", strerror(-rc));
		return rc;
	}
	rc = nscell_registry_join_same(ret_id, want, self, pid, service, tty, rhost, ret, why,
				       whylen);
	close(self);
	return rc;
}

int nscell_registry_join_user_reply(uid_t uid, const struct nscell_settings *set,
				    const char *service, const char *tty, const char *rhost,
				    struct nscell_reply *rep, int fds[4])
{
	struct nscell_cellctl_session sess;
	char id[NSCELL_CELL_ID_MAX], why[400];

	if (nscell_registry_join_user_cell(uid, set, service, tty, rhost, id, sizeof(id), &sess,
					   why, sizeof(why)) != 0)
		return -ENOENT;
	nscell_reply_init(rep);
	rep->pam_status = 0; /* PAM_SUCCESS */
	rep->namespaces = set->namespaces;
	rep->settings = *set;
	snprintf(rep->cell_id, sizeof(rep->cell_id), "%s", id);
	snprintf(rep->message, sizeof(rep->message), "joined cell %s", id);
	fds[0] = sess.init_pidfd;
	fds[1] = sess.sock;
	fds[2] = sess.userns_fd;
	fds[3] = sess.logins_fd;
	return 0;
}

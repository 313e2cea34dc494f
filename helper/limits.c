/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A cell's resource limits (MemoryMax, TasksMax, CPUQuota, ...), set through
 * systemd on the unit that already holds the cell's processes. nscell moves
 * no process for them: logind tracks each session by its scope, and a
 * process moved out of it would escape `loginctl terminate-session`, the
 * session's accounting and systemd's single-writer rule for cgroups.
 *
 *  - Scope session: the login's own session-N.scope, which pam_systemd made
 *    before this entry of the session stack ran (the helper is still in it:
 *    it was not a cgroup the user could write). Everything the session and
 *    its cell start is born below it.
 *  - Scope user: user-UID.slice, the only unit that holds all of a user's
 *    sessions without moving them. So the limit covers all of the user's
 *    processes, those of exempt logins and user@UID.service included: one
 *    whole per user, set when the user's cell is made.
 *
 * systemd's SetUnitProperties with runtime=true: the unit's cgroup files
 * change at once and the setting lives as long as the (transient) unit.
 * pam_systemd's own PAM data (systemd.memory_max, ...) would cover only
 * four of the keys and only the session scope. Keys left at infinity are not
 * sent: an admin's own drop-ins for the unit stay in force.
 *
 * Nothing is delegated: the units stay root's, and their files are not the
 * user's to write, so the user can neither raise a limit nor leave it.
 *
 * Without systemd as init, on cgroup v2, the cell gets a cgroup of nscell's
 * own instead (limits-cgroup.c), and its init is born in it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cellcg.h"
#include "cleanup.h"
#include "helper.h"
#include "limits.h"
#include "sdbus.h"

/* The v2 cgroup we are in ("0::/user.slice/..."), into buf. */
static int own_cgroup(char *buf, size_t size)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if (snprintf(buf, size, "%s", line + 3) < (int)size)
				rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

/* The unit to set: session-N.scope or user-UID.slice, found from our own
 * cgroup and checked to be this user's (a su from another user's session is
 * still in that user's scope). */
static int target_unit(const struct nscell_settings *s, uid_t uid, char *unit, size_t size,
		       char *why, size_t whylen)
{
	char cg[1024], prefix[64];
	const char *rest;
	size_t n;

	if (own_cgroup(cg, sizeof(cg)) < 0) {
		snprintf(why, whylen, "cannot read this login's cgroup v2 path");
		return -EOPNOTSUPP;
	}
	n = (size_t)snprintf(prefix, sizeof(prefix), "/user.slice/user-%u.slice/", (unsigned)uid);
	if (strncmp(cg, prefix, n) != 0) {
		snprintf(why, whylen, "this login runs in %.120s, not in user-%u.slice (pam_systemd must come before pam_nscell in the session stack)",
			 cg, (unsigned)uid);
		return -EOPNOTSUPP;
	}
	if (s->scope == NSCELL_SCOPE_USER) {
		snprintf(unit, size, "user-%u.slice", (unsigned)uid);
		return 0;
	}
	rest = cg + n;
	n = strlen(rest);
	if (strncmp(rest, "session-", 8) != 0 || n < 8 + 1 + 6 ||
	    strcmp(rest + n - 6, ".scope") != 0 || strspn(rest + 8, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n - 8 - 6 ||
	    n >= size) {
		snprintf(why, whylen, "this login runs in %.120s, not in a session scope of its own", cg);
		return -EOPNOTSUPP;
	}
	snprintf(unit, size, "%s", rest);
	return 0;
}

#if HAVE_SD_BUS
#define LIMITS_DEADLINE_USEC (5u * 1000000u)

static int append_t(const struct helper_sdbus *b, sd_bus_message *m, const char *name, uint64_t v)
{
	return b->message_append(m, "(sv)", name, "t", v);
}

static int set_properties(const char *unit, const struct nscell_limits *l, char *why,
			  size_t whylen)
{
	struct helper_sdbus b = { 0 };
	sd_bus *bus = NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	uint64_t mem = nscell_limits_physical_memory();
	int rc;

	rc = helper_sdbus_load(&b);
	if (rc < 0) {
		snprintf(why, whylen, "libsystemd.so.0 cannot be loaded (%s)",
			 rc == -ENOENT ? "not installed" : "too old");
		return -EOPNOTSUPP;
	}
	rc = helper_sdbus_connect(&b, &bus);
	if (rc < 0) {
		snprintf(why, whylen, "cannot reach systemd on /run/systemd/private: %s", strerror(-rc));
		return rc;
	}
	rc = b.message_new_method_call(bus, &m, "org.freedesktop.systemd1",
				       "/org/freedesktop/systemd1",
				       "org.freedesktop.systemd1.Manager", "SetUnitProperties");
	if (rc >= 0)
		rc = b.message_append(m, "sb", unit, 1);
	if (rc >= 0)
		rc = b.message_open_container(m, 'a', "(sv)");
	if (rc >= 0 && l->memory_max.value != NSCELL_LIMIT_INFINITY)
		rc = append_t(&b, m, "MemoryMax", nscell_limit_resolve(&l->memory_max, mem));
	if (rc >= 0 && (l->memory_high.percent || l->memory_high.value != NSCELL_LIMIT_INFINITY))
		rc = append_t(&b, m, "MemoryHigh", nscell_limit_resolve(&l->memory_high, mem));
	if (rc >= 0 && (l->memory_swap_max.percent || l->memory_swap_max.value != NSCELL_LIMIT_INFINITY))
		rc = append_t(&b, m, "MemorySwapMax", nscell_limit_resolve(&l->memory_swap_max, mem));
	if (rc >= 0 && (l->tasks_max.percent || l->tasks_max.value != NSCELL_LIMIT_INFINITY))
		rc = append_t(&b, m, "TasksMax",
			      nscell_limit_resolve(&l->tasks_max, nscell_limits_pid_max()));
	if (rc >= 0 && l->cpu_quota_percent > 0)
		rc = append_t(&b, m, "CPUQuotaPerSecUSec", (uint64_t)l->cpu_quota_percent * 10000u);
	if (rc >= 0 && l->cpu_weight > 0)
		rc = append_t(&b, m, "CPUWeight", l->cpu_weight);
	if (rc >= 0 && l->io_weight > 0)
		rc = append_t(&b, m, "IOWeight", l->io_weight);
	if (rc >= 0)
		rc = b.message_close_container(m);
	if (rc < 0) {
		snprintf(why, whylen, "cannot build the request to systemd: %s", strerror(-rc));
		goto out;
	}
	rc = b.call(bus, m, LIMITS_DEADLINE_USEC, &e, &reply);
	if (rc < 0)
		snprintf(why, whylen, "systemd did not set the limits of %s: %s", unit,
			 e.message ? e.message : strerror(-rc));
out:
	if (m)
		b.message_unref(m);
	if (reply)
		b.message_unref(reply);
	b.error_free(&e);
	b.flush_close_unref(bus);
	return rc < 0 ? rc : 0;
}
#else
static int set_properties(const char *unit, const struct nscell_limits *l, char *why,
			  size_t whylen)
{
	snprintf(why, whylen, "this build has no systemd support");
	return -EOPNOTSUPP;
}
#endif

/* The limits of a new cell set, or of a joined one checked to cover this
 * session: 0, or -errno with the reason in why. */
static int apply(const struct nscell_settings *s, uid_t uid, bool joining, const char *cell_id,
		 int *ret_cgroup_fd, char *unit, size_t unitlen, char *why, size_t whylen)
{
	int rc;

	switch (nscell_limits_host(&s->limits, why, whylen)) {
	case NSCELL_LIMITS_SYSTEMD:
		break;
	case NSCELL_LIMITS_CGROUP:
		/* A joining session moves itself into the cell's cgroup
		 * (the module, or the run verb's command: cellcg.h). */
		snprintf(unit, unitlen, "%s/u%u.%s", NSCELL_CELLCG_DIR, (unsigned)uid, cell_id);
		if (joining)
			return 0;
		return helper_cellcg_create(uid, cell_id, &s->limits, ret_cgroup_fd, why, whylen);
	default:
		return -EOPNOTSUPP;
	}
	rc = target_unit(s, uid, unit, unitlen, why, whylen);
	if (rc < 0)
		return rc;
	/* A joined user cell's slice got its limits when the cell was made
	 * (a cell with other limits is not joined); this session is in it. */
	if (joining)
		return 0;
	return set_properties(unit, &s->limits, why, whylen);
}

int helper_limits_enforce(const struct helper_login *l, const struct nscell_settings *s,
			  bool joining, const char *cell_id, int *ret_cgroup_fd, char *err,
			  size_t errlen)
{
	char why[512], unit[128 + NSCELL_CELL_ID_MAX] = "";
	int rc;

	struct timespec t0, t1;
	long usec;

	if (!nscell_limits_any(&s->limits))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = apply(s, l->id->uid, joining, cell_id, ret_cgroup_fd, unit, sizeof(unit), why,
		   sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* What systemd's answer costs a login, for the admin and bench/. */
	usec = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000L;
	if (rc == 0) {
		if (!joining)
			helper_log(LOG_INFO, "event=limits-set user=%s uid=%u unit=%s usec=%ld",
				   l->req->user, (unsigned)l->id->uid, unit, usec);
		return 0;
	}
	/* Root is never locked out by the policy. */
	if (s->limits_unavailable == NSCELL_LIMITS_UNAVAILABLE_IGNORE || l->id->uid == 0) {
		helper_log(LOG_WARNING,
			   "event=limits-unavailable user=%s uid=%u service=%s action=unlimited why=\"%s\"",
			   l->req->user, (unsigned)l->id->uid,
			   l->req->service[0] ? l->req->service : "-", why);
		return 0;
	}
	helper_log(LOG_ERR,
		   "event=limits-unavailable user=%s uid=%u service=%s action=refuse why=\"%s\"",
		   l->req->user, (unsigned)l->id->uid, l->req->service[0] ? l->req->service : "-",
		   why);
	snprintf(err, errlen, "the limits of this login cannot be enforced: %s (LimitsUnavailable refuse)",
		 why);
	return rc == -EOPNOTSUPP ? -EOPNOTSUPP : rc;
}

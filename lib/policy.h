/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy: /etc/security/nscell.conf plus nscell.conf.d/NAME.conf, parsed into
 * defaults and an ordered list of Match blocks, and the decision for one login.
 *
 * lib/ never logs and never exits: functions return 0 or -errno, and parse
 * problems are collected in a struct nscell_diag as "file:line:column: ..." lines.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "settings.h"

/* The default paths come from config.h: NSCELL_CONF_PATH, NSCELL_CONF_DROPIN_DIR. */

/* Collected diagnostics: every error found, not just the first. */
struct nscell_diag {
	char **lines; /* "file:line:column: error: what was wrong; what was expected" */
	size_t n_lines;
};
void nscell_diag_free(struct nscell_diag *d);

struct nscell_policy; /* opaque */

enum {
	/* Refuse files (and the drop-in directory) that are not owned by root or
	 * are writable by group or others. The helper and the module always set
	 * this; tests that parse files from a checkout may not. */
	NSCELL_POLICY_CHECK_OWNER = 1u << 0,
};

/*
 * nscell_policy_load - read the main file and then every *.conf of the drop-in
 * directory in lexical order (a missing drop-in directory is fine; a missing
 * main file is an error). dropin_dir may be NULL for "none".
 *
 * Returns 0 and a policy, or a negative errno; on -EINVAL the diag holds every
 * parse error, on other errors one line saying what could not be read. There
 * is no partial acceptance: a policy with any error is not returned.
 */
int nscell_policy_load(const char *main_path, const char *dropin_dir, unsigned flags,
		       struct nscell_policy **ret, struct nscell_diag *diag);

/* Parse one in-memory buffer named `name` (for tests and fuzzing). */
int nscell_policy_parse_buffer(const char *name, const char *buf, size_t len,
			       struct nscell_policy **ret, struct nscell_diag *diag);

void nscell_policy_free(struct nscell_policy *p);

/* What is known about a login when the decision is made. */
struct nscell_login {
	const char *user;
	uid_t uid;
	const char *const *groups; /* names of the primary and all supplementary groups */
	size_t n_groups;
	const char *service; /* PAM_SERVICE, may be NULL */
	const char *rhost;   /* PAM_RHOST, may be NULL */
	const char *tty;     /* PAM_TTY, may be NULL */
	/* The groups are not looked up yet (not: the user has none): a
	 * decision that reaches a Group criterion stops and says so. */
	bool groups_unresolved;
};

/* Which key a setting is, for provenance in `nscell explain`. */
enum nscell_key {
	NSCELL_KEY_ISOLATE,
	NSCELL_KEY_SCOPE,
	NSCELL_KEY_NAMESPACES,
	NSCELL_KEY_HOSTNAME,
	NSCELL_KEY_PROC_HIDEPID,
	NSCELL_KEY_PROC_SUBSET,
	NSCELL_KEY_TMP,
	NSCELL_KEY_VARTMP,
	NSCELL_KEY_DEVSHM,
	NSCELL_KEY_PERSISTENT_ROOT,
	NSCELL_KEY_LOGOUT,
	NSCELL_KEY_DRAIN_LIMIT,
	NSCELL_KEY_PROPAGATION,
	NSCELL_KEY_NO_NEW_PRIVS,
	NSCELL_KEY_DROP_CAPABILITIES,
	NSCELL_KEY_RESTRICT_NAMESPACES,
	NSCELL_KEY_USERNS_FALLBACK,
	NSCELL_KEY_MAX_CELLS,
	NSCELL_KEY_PRIVATE_DEVICES,
	NSCELL_KEY_PROTECT_HOME,
	NSCELL_KEY_PROTECT_SYSTEM,
	NSCELL_KEY_READ_ONLY_PATHS,
	NSCELL_KEY_READ_WRITE_PATHS,
	NSCELL_KEY_INACCESSIBLE_PATHS,
	NSCELL_KEY_BIND_PATHS,
	NSCELL_KEY_BIND_READ_ONLY_PATHS,
	NSCELL_KEY_MEMORY_MAX,
	NSCELL_KEY_MEMORY_HIGH,
	NSCELL_KEY_MEMORY_SWAP_MAX,
	NSCELL_KEY_TASKS_MAX,
	NSCELL_KEY_CPU_QUOTA,
	NSCELL_KEY_CPU_WEIGHT,
	NSCELL_KEY_IO_WEIGHT,
	NSCELL_KEY_LIMITS_UNAVAILABLE,
	NSCELL_KEY_PRIVATE_LOGINS,
	_NSCELL_KEY_MAX,
};
const char *nscell_key_name(enum nscell_key k);

struct nscell_origin {
	const char *file; /* NULL: built-in default */
	unsigned line;
};

struct nscell_decision {
	struct nscell_settings settings;
	/* The Match block that decided, or none (file NULL): defaults applied. */
	struct nscell_origin rule;
	const char *rule_text; /* the Match line as written, or NULL */
	/* root (uid 0) is exempt unless a Match block names it with User root. */
	bool root_exempt;
	struct nscell_origin origin[_NSCELL_KEY_MAX];
};

/* Whether any Match block has a Group criterion: if none does, a login can
 * be decided without looking up the user's groups. */
bool nscell_policy_matches_groups(const struct nscell_policy *p);

/* Returned by nscell_policy_decide for a login with groups_unresolved when
 * the decision reaches a Group criterion: look the groups up and decide
 * again. *ret is untouched. */
#define NSCELL_POLICY_NEEDS_GROUPS 1

/* Decide for one login: first matching Match block wins; unset keys come from
 * the defaults. The decision points into the policy: keep it alive. Returns
 * 0, NSCELL_POLICY_NEEDS_GROUPS or -EINVAL. */
int nscell_policy_decide(const struct nscell_policy *p, const struct nscell_login *login,
			 struct nscell_decision *ret);

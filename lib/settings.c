/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The built-in defaults and the per-key view of struct nscell_settings.
 *
 * Every key of the policy language owns one contiguous span of the struct,
 * disjoint from every other key's (key_spans): a Match block stores only the
 * spans of the keys it sets (policy-block.c), merged onto the defaults one
 * key at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include "capability.h"
#include "cleanup.h"
#include "format.h"
#include "namespaces.h"
#include "limits.h"
#include "settings-keys.h"

void nscell_settings_init(struct nscell_settings *s)
{
	*s = (struct nscell_settings) {
		.isolate = true,
		.scope = NSCELL_SCOPE_SESSION,
		.namespaces = NSCELL_NS_PID | NSCELL_NS_MNT | NSCELL_NS_IPC,
		.proc_hidepid = NSCELL_HIDEPID_OFF,
		.proc_subset = NSCELL_PROC_SUBSET_ALL,
		.logout = NSCELL_LOGOUT_KILL,
		.drain_limit_sec = 10 * 60,
		.propagation = NSCELL_PROPAGATION_SLAVE,
		.no_new_privs = false,
		.drop_caps = 0,
		.restrict_namespaces = 0,
		.userns_fallback = NSCELL_USERNS_FALLBACK_DENY,
		.max_cells = NSCELL_MAX_CELLS_DEFAULT,
		.limits = {
			.memory_max = { .value = NSCELL_LIMIT_INFINITY },
			.memory_high = { .value = NSCELL_LIMIT_INFINITY },
			.memory_swap_max = { .value = NSCELL_LIMIT_INFINITY },
			.tasks_max = { .value = NSCELL_LIMIT_INFINITY },
		},
		.limits_unavailable = NSCELL_LIMITS_UNAVAILABLE_REFUSE,
	};
	for (size_t i = 0; i < _NSCELL_DIR_MAX; i++)
		s->dirs[i] = (struct nscell_dir_setting) {
			.kind = NSCELL_DIR_TMPFS,
			.mode = 01777,
		};
	strcpy(s->persistent_root, "/var/lib/nscell/persistent");
}

const char *nscell_dir_path(enum nscell_dir d)
{
	static const char *const paths[_NSCELL_DIR_MAX] = {
		[NSCELL_DIR_TMP] = "/tmp",
		[NSCELL_DIR_VARTMP] = "/var/tmp",
		[NSCELL_DIR_DEVSHM] = "/dev/shm",
	};

	if ((unsigned) d >= _NSCELL_DIR_MAX)
		return NULL;
	return paths[d];
}

static const char *const key_names[_NSCELL_KEY_MAX] = {
	[NSCELL_KEY_ISOLATE] = "Isolate",
	[NSCELL_KEY_SCOPE] = "Scope",
	[NSCELL_KEY_NAMESPACES] = "Namespaces",
	[NSCELL_KEY_HOSTNAME] = "Hostname",
	[NSCELL_KEY_PROC_HIDEPID] = "ProcHidePid",
	[NSCELL_KEY_PROC_SUBSET] = "ProcSubset",
	[NSCELL_KEY_TMP] = "Tmp",
	[NSCELL_KEY_VARTMP] = "VarTmp",
	[NSCELL_KEY_DEVSHM] = "DevShm",
	[NSCELL_KEY_PERSISTENT_ROOT] = "PersistentRoot",
	[NSCELL_KEY_LOGOUT] = "Logout",
	[NSCELL_KEY_DRAIN_LIMIT] = "DrainLimit",
	[NSCELL_KEY_PROPAGATION] = "Propagation",
	[NSCELL_KEY_NO_NEW_PRIVS] = "NoNewPrivs",
	[NSCELL_KEY_DROP_CAPABILITIES] = "DropCapabilities",
	[NSCELL_KEY_RESTRICT_NAMESPACES] = "RestrictNamespaces",
	[NSCELL_KEY_USERNS_FALLBACK] = "UserNamespaceFallback",
	[NSCELL_KEY_MAX_CELLS] = "MaxCells",
	[NSCELL_KEY_PRIVATE_DEVICES] = "PrivateDevices",
	[NSCELL_KEY_PRIVATE_LOGINS] = "PrivateLogins",
	[NSCELL_KEY_PROTECT_HOME] = "ProtectHome",
	[NSCELL_KEY_PROTECT_SYSTEM] = "ProtectSystem",
	[NSCELL_KEY_READ_ONLY_PATHS] = "ReadOnlyPaths",
	[NSCELL_KEY_READ_WRITE_PATHS] = "ReadWritePaths",
	[NSCELL_KEY_INACCESSIBLE_PATHS] = "InaccessiblePaths",
	[NSCELL_KEY_BIND_PATHS] = "BindPaths",
	[NSCELL_KEY_BIND_READ_ONLY_PATHS] = "BindReadOnlyPaths",
	[NSCELL_KEY_MEMORY_MAX] = "MemoryMax",
	[NSCELL_KEY_MEMORY_HIGH] = "MemoryHigh",
	[NSCELL_KEY_MEMORY_SWAP_MAX] = "MemorySwapMax",
	[NSCELL_KEY_TASKS_MAX] = "TasksMax",
	[NSCELL_KEY_CPU_QUOTA] = "CPUQuota",
	[NSCELL_KEY_CPU_WEIGHT] = "CPUWeight",
	[NSCELL_KEY_IO_WEIGHT] = "IOWeight",
	[NSCELL_KEY_LIMITS_UNAVAILABLE] = "LimitsUnavailable",
};

const char *nscell_key_name(enum nscell_key k)
{
	if ((unsigned) k >= _NSCELL_KEY_MAX)
		return NULL;
	return key_names[k];
}

const char *nscell_namespace_name(unsigned ns_bit)
{
	const struct nscell_ns_type *t = nscell_ns_type_of(ns_bit);

	return t ? t->policy_name : NULL;
}

/* Table lookups that tolerate an out-of-range value (a corrupted struct must
 * not make a printer read out of bounds). */
#define NAME_OF(table, v) ((unsigned) (v) < NSCELL_ELEMENTSOF(table) ? table[v] : NULL)

const char *nscell_scope_name(enum nscell_scope v)
{
	static const char *const t[] = { [NSCELL_SCOPE_SESSION] = "session", [NSCELL_SCOPE_USER] = "user" };
	return NAME_OF(t, v);
}

const char *nscell_logout_name(enum nscell_logout v)
{
	static const char *const t[] = { [NSCELL_LOGOUT_KILL] = "kill", [NSCELL_LOGOUT_DRAIN] = "drain" };
	return NAME_OF(t, v);
}

const char *nscell_propagation_name(enum nscell_propagation v)
{
	static const char *const t[] = {
		[NSCELL_PROPAGATION_SLAVE] = "slave",
		[NSCELL_PROPAGATION_PRIVATE] = "private",
	};
	return NAME_OF(t, v);
}

const char *nscell_hidepid_name(enum nscell_hidepid v)
{
	static const char *const t[] = {
		[NSCELL_HIDEPID_OFF] = "off",
		[NSCELL_HIDEPID_NOACCESS] = "noaccess",
		[NSCELL_HIDEPID_INVISIBLE] = "invisible",
	};
	return NAME_OF(t, v);
}

const char *nscell_proc_subset_name(enum nscell_proc_subset v)
{
	static const char *const t[] = { [NSCELL_PROC_SUBSET_ALL] = "all", [NSCELL_PROC_SUBSET_PID] = "pid" };
	return NAME_OF(t, v);
}

const char *nscell_dir_kind_name(enum nscell_dir_kind v)
{
	static const char *const t[] = {
		[NSCELL_DIR_TMPFS] = "tmpfs",
		[NSCELL_DIR_PERSISTENT] = "persistent",
		[NSCELL_DIR_SHARED] = "shared",
	};
	return NAME_OF(t, v);
}

const char *nscell_userns_fallback_name(enum nscell_userns_fallback v)
{
	static const char *const t[] = {
		[NSCELL_USERNS_FALLBACK_DENY] = "deny",
		[NSCELL_USERNS_FALLBACK_NO_NEW_PRIVS] = "no-new-privs",
	};
	return NAME_OF(t, v);
}

const char *nscell_protect_home_name(enum nscell_protect_home v)
{
	static const char *const t[] = {
		[NSCELL_PROTECT_HOME_NO] = "no",
		[NSCELL_PROTECT_HOME_OWN] = "own",
		[NSCELL_PROTECT_HOME_READ_ONLY] = "read-only",
		[NSCELL_PROTECT_HOME_TMPFS] = "tmpfs",
		[NSCELL_PROTECT_HOME_YES] = "yes",
	};
	return NAME_OF(t, v);
}

const char *nscell_protect_system_name(enum nscell_protect_system v)
{
	static const char *const t[] = {
		[NSCELL_PROTECT_SYSTEM_NO] = "no",
		[NSCELL_PROTECT_SYSTEM_YES] = "yes",
		[NSCELL_PROTECT_SYSTEM_FULL] = "full",
		[NSCELL_PROTECT_SYSTEM_STRICT] = "strict",
	};
	return NAME_OF(t, v);
}

enum nscell_view_list nscell_key_to_view_list(enum nscell_key k)
{
	switch (k) {
	case NSCELL_KEY_READ_ONLY_PATHS: return NSCELL_VIEW_READ_ONLY;
	case NSCELL_KEY_READ_WRITE_PATHS: return NSCELL_VIEW_READ_WRITE;
	case NSCELL_KEY_INACCESSIBLE_PATHS: return NSCELL_VIEW_INACCESSIBLE;
	case NSCELL_KEY_BIND_PATHS: return NSCELL_VIEW_BIND;
	case NSCELL_KEY_BIND_READ_ONLY_PATHS: return NSCELL_VIEW_BIND_READ_ONLY;
	default: return _NSCELL_VIEW_LIST_MAX;
	}
}

enum nscell_dir nscell_key_to_dir(enum nscell_key k)
{
	switch (k) {
	case NSCELL_KEY_TMP: return NSCELL_DIR_TMP;
	case NSCELL_KEY_VARTMP: return NSCELL_DIR_VARTMP;
	case NSCELL_KEY_DEVSHM: return NSCELL_DIR_DEVSHM;
	default: return _NSCELL_DIR_MAX;
	}
}

#define SPAN(field) { offsetof(struct nscell_settings, field), sizeof(((struct nscell_settings *) 0)->field), false }
#define STRING_SPAN(field) { offsetof(struct nscell_settings, field), sizeof(((struct nscell_settings *) 0)->field), true }

static const struct nscell_key_span key_spans[_NSCELL_KEY_MAX] = {
	[NSCELL_KEY_ISOLATE] = SPAN(isolate),
	[NSCELL_KEY_SCOPE] = SPAN(scope),
	[NSCELL_KEY_NAMESPACES] = SPAN(namespaces),
	[NSCELL_KEY_HOSTNAME] = STRING_SPAN(hostname),
	[NSCELL_KEY_PROC_HIDEPID] = SPAN(proc_hidepid),
	[NSCELL_KEY_PROC_SUBSET] = SPAN(proc_subset),
	[NSCELL_KEY_TMP] = SPAN(dirs[NSCELL_DIR_TMP]),
	[NSCELL_KEY_VARTMP] = SPAN(dirs[NSCELL_DIR_VARTMP]),
	[NSCELL_KEY_DEVSHM] = SPAN(dirs[NSCELL_DIR_DEVSHM]),
	[NSCELL_KEY_PERSISTENT_ROOT] = STRING_SPAN(persistent_root),
	[NSCELL_KEY_LOGOUT] = SPAN(logout),
	[NSCELL_KEY_DRAIN_LIMIT] = SPAN(drain_limit_sec),
	[NSCELL_KEY_PROPAGATION] = SPAN(propagation),
	[NSCELL_KEY_NO_NEW_PRIVS] = SPAN(no_new_privs),
	[NSCELL_KEY_DROP_CAPABILITIES] = SPAN(drop_caps),
	[NSCELL_KEY_RESTRICT_NAMESPACES] = SPAN(restrict_namespaces),
	[NSCELL_KEY_USERNS_FALLBACK] = SPAN(userns_fallback),
	[NSCELL_KEY_MAX_CELLS] = SPAN(max_cells),
	[NSCELL_KEY_PRIVATE_DEVICES] = SPAN(private_devices),
	[NSCELL_KEY_PRIVATE_LOGINS] = SPAN(private_logins),
	[NSCELL_KEY_PROTECT_HOME] = SPAN(protect_home),
	[NSCELL_KEY_PROTECT_SYSTEM] = SPAN(protect_system),
	[NSCELL_KEY_READ_ONLY_PATHS] = STRING_SPAN(view_paths[NSCELL_VIEW_READ_ONLY]),
	[NSCELL_KEY_READ_WRITE_PATHS] = STRING_SPAN(view_paths[NSCELL_VIEW_READ_WRITE]),
	[NSCELL_KEY_INACCESSIBLE_PATHS] = STRING_SPAN(view_paths[NSCELL_VIEW_INACCESSIBLE]),
	[NSCELL_KEY_BIND_PATHS] = STRING_SPAN(view_paths[NSCELL_VIEW_BIND]),
	[NSCELL_KEY_BIND_READ_ONLY_PATHS] = STRING_SPAN(view_paths[NSCELL_VIEW_BIND_READ_ONLY]),
	[NSCELL_KEY_MEMORY_MAX] = SPAN(limits.memory_max),
	[NSCELL_KEY_MEMORY_HIGH] = SPAN(limits.memory_high),
	[NSCELL_KEY_MEMORY_SWAP_MAX] = SPAN(limits.memory_swap_max),
	[NSCELL_KEY_TASKS_MAX] = SPAN(limits.tasks_max),
	[NSCELL_KEY_CPU_QUOTA] = SPAN(limits.cpu_quota_percent),
	[NSCELL_KEY_CPU_WEIGHT] = SPAN(limits.cpu_weight),
	[NSCELL_KEY_IO_WEIGHT] = SPAN(limits.io_weight),
	[NSCELL_KEY_LIMITS_UNAVAILABLE] = SPAN(limits_unavailable),
};

const struct nscell_key_span *nscell_key_span(enum nscell_key k)
{
	if ((unsigned) k >= _NSCELL_KEY_MAX)
		return NULL;
	return &key_spans[k];
}

void nscell_settings_copy_key(struct nscell_settings *dst, const struct nscell_settings *src,
			      enum nscell_key k)
{
	const struct nscell_key_span *sp = nscell_key_span(k);

	if (sp)
		memcpy((char *) dst + sp->offset, (const char *) src + sp->offset, sp->size);
}

enum nscell_key_level nscell_key_level(enum nscell_key k)
{
	static const enum nscell_key_level t[_NSCELL_KEY_MAX] = {
		[NSCELL_KEY_ISOLATE] = NSCELL_LEVEL_LOGIN,
		[NSCELL_KEY_SCOPE] = NSCELL_LEVEL_LOGIN,
		[NSCELL_KEY_MAX_CELLS] = NSCELL_LEVEL_LOGIN,
		[NSCELL_KEY_NAMESPACES] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_HOSTNAME] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PROC_HIDEPID] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PROC_SUBSET] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_TMP] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_VARTMP] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_DEVSHM] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PERSISTENT_ROOT] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_LOGOUT] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_DRAIN_LIMIT] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PROPAGATION] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PRIVATE_DEVICES] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PRIVATE_LOGINS] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_NO_NEW_PRIVS] = NSCELL_LEVEL_SESSION,
		[NSCELL_KEY_DROP_CAPABILITIES] = NSCELL_LEVEL_SESSION,
		[NSCELL_KEY_RESTRICT_NAMESPACES] = NSCELL_LEVEL_SESSION,
		[NSCELL_KEY_USERNS_FALLBACK] = NSCELL_LEVEL_SESSION,
		/* The view is the cell's mount namespace: only logins that
		 * would get the same one may share it. */
		[NSCELL_KEY_PROTECT_HOME] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_PROTECT_SYSTEM] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_READ_ONLY_PATHS] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_READ_WRITE_PATHS] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_INACCESSIBLE_PATHS] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_BIND_PATHS] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_BIND_READ_ONLY_PATHS] = NSCELL_LEVEL_CELL,
		/* A cell's limits cover all of its sessions together. */
		[NSCELL_KEY_MEMORY_MAX] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_MEMORY_HIGH] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_MEMORY_SWAP_MAX] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_TASKS_MAX] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_CPU_QUOTA] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_CPU_WEIGHT] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_IO_WEIGHT] = NSCELL_LEVEL_CELL,
		[NSCELL_KEY_LIMITS_UNAVAILABLE] = NSCELL_LEVEL_LOGIN,
	};

	/* An unknown key is treated as cell-level: a new key nobody classified
	 * must make joins stricter, never looser. */
	if ((unsigned) k >= _NSCELL_KEY_MAX)
		return NSCELL_LEVEL_CELL;
	return t[k];
}

bool nscell_key_has_effect(const struct nscell_settings *s, enum nscell_key k)
{
	switch (k) {
	case NSCELL_KEY_DRAIN_LIMIT:
		return s->logout == NSCELL_LOGOUT_DRAIN;
	case NSCELL_KEY_HOSTNAME:
		return s->namespaces & NSCELL_NS_UTS;
	case NSCELL_KEY_PERSISTENT_ROOT:
		for (size_t d = 0; d < _NSCELL_DIR_MAX; d++)
			if (s->dirs[d].kind == NSCELL_DIR_PERSISTENT)
				return true;
		return false;
	default:
		return true;
	}
}

int nscell_settings_cell_diff(const struct nscell_settings *cell, const struct nscell_settings *want,
			      char *buf, size_t size)
{
	size_t used = 0;
	int n = 0;

	if (buf && size)
		buf[0] = '\0';
	for (size_t i = 0; i < _NSCELL_KEY_MAX; i++) {
		enum nscell_key k = (enum nscell_key) i;
		_cleanup_free_ char *a = NULL, *b = NULL;

		if (nscell_key_level(k) != NSCELL_LEVEL_CELL || !nscell_key_has_effect(want, k))
			continue;
		/* The policy spelling of each value is what a person compares
		 * too; equal spellings are equal settings. */
		if (nscell_settings_format_key(cell, k, &a) < 0 ||
		    nscell_settings_format_key(want, k, &b) < 0)
			return -ENOMEM;
		if (strcmp(a, b) == 0)
			continue;
		n++;
		if (buf && used < size) {
			int w = snprintf(buf + used, size - used, "%s%s: cell '%s', login '%s'",
					 used ? "; " : "", nscell_key_name(k), a, b);
			if (w > 0)
				used += (size_t) w;
		}
	}
	return n;
}

/* A growing string for the printers below. */
struct strbuf {
	char *s;
	size_t len, size;
	bool oom;
};

static void strbuf_append(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->size) {
		size_t size = (b->len + n + 1) * 2;
		char *p = realloc(b->s, size);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->size = size;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

static void strbuf_word(struct strbuf *b, const char *s)
{
	if (b->len > 0)
		strbuf_append(b, " ");
	strbuf_append(b, s);
}

static int strbuf_take(struct strbuf *b, char **ret)
{
	if (!b->oom && !b->s)
		strbuf_append(b, "");
	if (b->oom) {
		free(b->s);
		return -ENOMEM;
	}
	*ret = b->s;
	return 0;
}

static void format_namespaces(struct strbuf *b, unsigned ns)
{
	if (ns == 0) {
		strbuf_append(b, "none");
		return;
	}
	for (unsigned bit = 1; bit & NSCELL_NS_ALL; bit <<= 1)
		if (ns & bit)
			strbuf_word(b, nscell_namespace_name(bit));
}

static void format_dir(struct strbuf *b, const struct nscell_dir_setting *d)
{
	char num[32];

	strbuf_append(b, nscell_dir_kind_name(d->kind) ?: "?");
	if (d->kind != NSCELL_DIR_TMPFS)
		return;
	if (d->size_percent > 0) {
		snprintf(num, sizeof(num), " size=%u%%", d->size_percent);
		strbuf_append(b, num);
	} else if (d->size > 0) {
		strbuf_append(b, " size=");
		nscell_format_scaled(num, sizeof(num), d->size, " KMG");
		strbuf_append(b, num);
	}
	if (d->nr_inodes > 0) {
		strbuf_append(b, " inodes=");
		nscell_format_scaled(num, sizeof(num), d->nr_inodes, " km");
		strbuf_append(b, num);
	}
	snprintf(num, sizeof(num), " mode=%04o", (unsigned) d->mode);
	strbuf_append(b, num);
}

static void format_duration(struct strbuf *b, uint64_t sec)
{
	static const struct {
		uint64_t sec;
		const char *unit;
	} units[] = { { 86400, "d" }, { 3600, "h" }, { 60, "min" } };
	char num[48];

	for (size_t i = 0; i < NSCELL_ELEMENTSOF(units); i++)
		if (sec > 0 && sec % units[i].sec == 0) {
			snprintf(num, sizeof(num), "%" PRIu64 "%s", sec / units[i].sec, units[i].unit);
			strbuf_append(b, num);
			return;
		}
	snprintf(num, sizeof(num), "%" PRIu64 "s", sec);
	strbuf_append(b, num);
}

static void format_caps(struct strbuf *b, uint64_t caps)
{
	if (caps == 0) {
		strbuf_append(b, "none");
		return;
	}
	if (caps == NSCELL_CAPS_ALL(CAP_LAST_CAP)) {
		strbuf_append(b, "all");
		return;
	}
	for (unsigned c = 0; c < 64; c++) {
		if (!(caps & (UINT64_C(1) << c)))
			continue;
		const char *name = nscell_cap_name((int) c);
		char num[16];
		if (!name) { /* not a bit the parser sets; said as libcap did */
			snprintf(num, sizeof(num), "%u", c);
			name = num;
		}
		strbuf_word(b, name);
	}
}

int nscell_settings_format_key(const struct nscell_settings *s, enum nscell_key k, char **ret)
{
	struct strbuf b = {};

	switch (k) {
	case NSCELL_KEY_ISOLATE:
		strbuf_append(&b, s->isolate ? "yes" : "no");
		break;
	case NSCELL_KEY_SCOPE:
		strbuf_append(&b, nscell_scope_name(s->scope) ?: "?");
		break;
	case NSCELL_KEY_NAMESPACES:
		format_namespaces(&b, s->namespaces);
		break;
	case NSCELL_KEY_HOSTNAME:
		strbuf_append(&b, s->hostname[0] ? s->hostname : "(unchanged)");
		break;
	case NSCELL_KEY_PROC_HIDEPID:
		strbuf_append(&b, nscell_hidepid_name(s->proc_hidepid) ?: "?");
		break;
	case NSCELL_KEY_PROC_SUBSET:
		strbuf_append(&b, nscell_proc_subset_name(s->proc_subset) ?: "?");
		break;
	case NSCELL_KEY_TMP:
	case NSCELL_KEY_VARTMP:
	case NSCELL_KEY_DEVSHM:
		format_dir(&b, &s->dirs[nscell_key_to_dir(k)]);
		break;
	case NSCELL_KEY_PERSISTENT_ROOT:
		strbuf_append(&b, s->persistent_root);
		break;
	case NSCELL_KEY_LOGOUT:
		strbuf_append(&b, nscell_logout_name(s->logout) ?: "?");
		break;
	case NSCELL_KEY_DRAIN_LIMIT:
		format_duration(&b, s->drain_limit_sec);
		break;
	case NSCELL_KEY_PROPAGATION:
		strbuf_append(&b, nscell_propagation_name(s->propagation) ?: "?");
		break;
	case NSCELL_KEY_NO_NEW_PRIVS:
		strbuf_append(&b, s->no_new_privs ? "yes" : "no");
		break;
	case NSCELL_KEY_DROP_CAPABILITIES:
		format_caps(&b, s->drop_caps);
		break;
	case NSCELL_KEY_RESTRICT_NAMESPACES:
		if (s->restrict_namespaces == NSCELL_NS_ALL)
			strbuf_append(&b, "all");
		else
			format_namespaces(&b, s->restrict_namespaces);
		break;
	case NSCELL_KEY_USERNS_FALLBACK:
		strbuf_append(&b, nscell_userns_fallback_name(s->userns_fallback) ?: "?");
		break;
	case NSCELL_KEY_PROTECT_HOME:
		strbuf_append(&b, nscell_protect_home_name(s->protect_home) ?: "?");
		break;
	case NSCELL_KEY_PROTECT_SYSTEM:
		strbuf_append(&b, nscell_protect_system_name(s->protect_system) ?: "?");
		break;
	case NSCELL_KEY_READ_ONLY_PATHS:
	case NSCELL_KEY_READ_WRITE_PATHS:
	case NSCELL_KEY_INACCESSIBLE_PATHS:
	case NSCELL_KEY_BIND_PATHS:
	case NSCELL_KEY_BIND_READ_ONLY_PATHS: {
		const char *list = s->view_paths[nscell_key_to_view_list(k)];
		/* A struct from another process may lack its NUL. */
		if (!memchr(list, '\0', NSCELL_VIEW_LIST_SIZE))
			strbuf_append(&b, "?");
		else
			strbuf_append(&b, list[0] ? list : "none");
		break;
	}
	case NSCELL_KEY_MAX_CELLS: {
		char num[16];
		snprintf(num, sizeof(num), "%u", s->max_cells);
		strbuf_append(&b, num);
		break;
	}
	case NSCELL_KEY_PRIVATE_DEVICES:
		strbuf_append(&b, s->private_devices ? "yes" : "no");
		break;
	case NSCELL_KEY_PRIVATE_LOGINS:
		strbuf_append(&b, s->private_logins ? "yes" : "no");
		break;
	default: {
		char v[48];
		if (nscell_limits_format_key(s, k, v, sizeof(v)) < 0)
			return -EINVAL;
		strbuf_append(&b, v);
		break;
	}
	}
	return strbuf_take(&b, ret);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The effective settings of one login: what the policy decided, in the form the
 * helper, the module and the CLI consume. Produced by nscell_policy_decide().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Namespace bits; a cell always has PID and MNT. */
enum {
	NSCELL_NS_PID = 1u << 0,
	NSCELL_NS_MNT = 1u << 1,
	NSCELL_NS_IPC = 1u << 2,
	NSCELL_NS_UTS = 1u << 3,
	NSCELL_NS_NET = 1u << 4,
	NSCELL_NS_CGROUP = 1u << 5,
	NSCELL_NS_USER = 1u << 6,
	NSCELL_NS_ALL = (1u << 7) - 1,
};

enum nscell_scope {
	NSCELL_SCOPE_SESSION,
	NSCELL_SCOPE_USER,
};

enum nscell_logout {
	NSCELL_LOGOUT_KILL,
	NSCELL_LOGOUT_DRAIN,
};

enum nscell_propagation {
	NSCELL_PROPAGATION_SLAVE,
	NSCELL_PROPAGATION_PRIVATE,
};

enum nscell_hidepid {
	NSCELL_HIDEPID_OFF,
	NSCELL_HIDEPID_NOACCESS,
	NSCELL_HIDEPID_INVISIBLE,
};

enum nscell_proc_subset {
	NSCELL_PROC_SUBSET_ALL,
	NSCELL_PROC_SUBSET_PID,
};

/* The three directories a cell can make private, in this order. */
enum nscell_dir {
	NSCELL_DIR_TMP,    /* /tmp */
	NSCELL_DIR_VARTMP, /* /var/tmp */
	NSCELL_DIR_DEVSHM, /* /dev/shm */
	_NSCELL_DIR_MAX,
};

enum nscell_dir_kind {
	NSCELL_DIR_TMPFS,      /* a fresh tmpfs per cell */
	NSCELL_DIR_PERSISTENT, /* a per-user directory under PersistentRoot, bind-mounted */
	NSCELL_DIR_SHARED,     /* the host's directory, untouched */
};

struct nscell_dir_setting {
	enum nscell_dir_kind kind;
	uint64_t size;          /* tmpfs size in bytes; 0 = kernel default */
	unsigned size_percent;  /* tmpfs size as % of RAM (1..100); 0 = use size */
	uint64_t nr_inodes;     /* tmpfs inode limit; 0 = kernel default */
	mode_t mode;            /* mode of the directory's root, default 01777 */
};

enum nscell_userns_fallback {
	NSCELL_USERNS_FALLBACK_DENY,         /* refuse the session */
	NSCELL_USERNS_FALLBACK_NO_NEW_PRIVS, /* go on without userns, with no_new_privs */
};

#define NSCELL_HOSTNAME_MAX 64

/* ProtectHome, ProtectSystem: the view of the file system (view.h). */
enum nscell_protect_home {
	NSCELL_PROTECT_HOME_NO,
	NSCELL_PROTECT_HOME_OWN,       /* only the user's own home and /run/user/UID */
	NSCELL_PROTECT_HOME_READ_ONLY,
	NSCELL_PROTECT_HOME_TMPFS,     /* empty, read-only */
	NSCELL_PROTECT_HOME_YES,       /* inaccessible */
};

enum nscell_protect_system {
	NSCELL_PROTECT_SYSTEM_NO,
	NSCELL_PROTECT_SYSTEM_YES,    /* /usr, /boot, /efi read-only */
	NSCELL_PROTECT_SYSTEM_FULL,   /* ... and /etc */
	NSCELL_PROTECT_SYSTEM_STRICT, /* everything but the API and the user's own places */
};

/* The path-list keys, in the order the view applies them. */
enum nscell_view_list {
	NSCELL_VIEW_READ_ONLY,
	NSCELL_VIEW_READ_WRITE,
	NSCELL_VIEW_INACCESSIBLE,
	NSCELL_VIEW_BIND,
	NSCELL_VIEW_BIND_READ_ONLY,
	_NSCELL_VIEW_LIST_MAX,
};

/* One list: its entries as written (specifiers unexpanded), one space apart. */
#define NSCELL_VIEW_LIST_SIZE 1024

/* One size or count limit, as systemd.resource-control(5) spells it: a
 * number, a percentage, or infinity (the default: no limit). */
#define NSCELL_LIMIT_INFINITY UINT64_MAX
struct nscell_limit {
	uint64_t value;   /* bytes or tasks; NSCELL_LIMIT_INFINITY: none */
	unsigned percent; /* 1..100 of physical memory or of the pid limit; 0: use value */
};

/* What a cell may use, all of its sessions together (limits.c). */
struct nscell_limits {
	struct nscell_limit memory_max, memory_high, memory_swap_max, tasks_max;
	unsigned cpu_quota_percent; /* of one CPU, may exceed 100; 0: none */
	unsigned cpu_weight;        /* 1..10000; 0: the kernel's default */
	unsigned io_weight;         /* 1..10000; 0: the kernel's default */
};

/* A login whose limits this host cannot enforce. */
enum nscell_limits_unavailable {
	NSCELL_LIMITS_UNAVAILABLE_REFUSE, /* refuse it (root goes on, logged) */
	NSCELL_LIMITS_UNAVAILABLE_IGNORE, /* go on unlimited, logged */
};

struct nscell_settings {
	bool isolate;                     /* false: the login is exempt */
	enum nscell_scope scope;
	unsigned namespaces;              /* NSCELL_NS_* */
	char hostname[NSCELL_HOSTNAME_MAX + 1]; /* "" = keep; needs NSCELL_NS_UTS */
	enum nscell_hidepid proc_hidepid;
	enum nscell_proc_subset proc_subset;
	struct nscell_dir_setting dirs[_NSCELL_DIR_MAX];
	char persistent_root[256];        /* absolute path, for NSCELL_DIR_PERSISTENT */
	enum nscell_logout logout;
	uint64_t drain_limit_sec;         /* with NSCELL_LOGOUT_DRAIN */
	enum nscell_propagation propagation;
	bool no_new_privs;
	uint64_t drop_caps;               /* bit n = drop capability n from the bounding set */
	unsigned restrict_namespaces;     /* NSCELL_NS_* the cell may not create */
	enum nscell_userns_fallback userns_fallback;
	unsigned max_cells;               /* live cells one user may have at once */
	bool private_devices;             /* a /dev of pseudo-devices and terminals (helper/devices.c) */
	enum nscell_protect_home protect_home;
	enum nscell_protect_system protect_system;
	char view_paths[_NSCELL_VIEW_LIST_MAX][NSCELL_VIEW_LIST_SIZE];
	struct nscell_limits limits;
	enum nscell_limits_unavailable limits_unavailable;
	bool private_logins;              /* others' login records hidden (helper/logins.c) */
};

/* MaxCells: the default bounds what one user's logins (and drained cells,
 * which live on after logout) can pin of root's namespace budget; the
 * maximum keeps every user's share far below the kernel's per-uid
 * user.max_*_namespaces, which uid 0's system services share. */
#define NSCELL_MAX_CELLS_DEFAULT 16
#define NSCELL_MAX_CELLS_MAX 1024

/* The built-in defaults, used for any key the policy leaves unset. */
void nscell_settings_init(struct nscell_settings *s);

const char *nscell_dir_path(enum nscell_dir d);

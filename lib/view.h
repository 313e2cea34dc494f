/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The view: what ProtectHome, ProtectSystem and the *Paths keys make of the
 * file system inside a cell, as one ordered list of operations. The helper
 * carries the list out (helper/view.c), `nscell explain` prints it, and the
 * parser checks each path with the same rules: one decision, three readers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"
#include "settings.h"

/* Who the specifiers stand for: %u user, %U uid, %h home, %g group, %G gid. */
struct nscell_view_who {
	const char *user;
	uid_t uid;
	const char *home;
	const char *group;
	gid_t gid;
};

enum nscell_view_op_kind {
	NSCELL_VIEW_OP_READ_ONLY,    /* the tree at dst, read-only, with everything below it */
	NSCELL_VIEW_OP_WRITABLE,     /* the tree at dst as it was before the view */
	NSCELL_VIEW_OP_OWN,          /* an empty tmpfs over dst holding the directory keep;
				      * src set: the original src bound there */
	NSCELL_VIEW_OP_EMPTY,        /* an empty read-only tmpfs over dst */
	NSCELL_VIEW_OP_INACCESSIBLE, /* dst: a mode 0000 node over it */
	NSCELL_VIEW_OP_BIND,         /* the original tree at src on dst */
};

struct nscell_view_op {
	enum nscell_view_op_kind kind;
	char *src;  /* WRITABLE: dst; BIND and OWN: the tree taken before the view */
	char *dst;
	char *keep; /* OWN: the one entry left, or NULL */
	bool read_only; /* BIND */
	bool optional;  /* a missing path is skipped, not an error */
	enum nscell_key key; /* the key the op comes from */
};

struct nscell_view_plan {
	struct nscell_view_op *ops;
	size_t n_ops;
};

/*
 * nscell_view_check_entry - whether one list entry is well formed: an
 * optional '-', then an absolute path (or one starting with %h), for the
 * Bind keys optionally ":DST" likewise; plain components, no '//', no '.'
 * or '..', no trailing '/', known specifiers only.
 *
 * Returns NULL, or a static sentence saying what is wrong.
 */
const char *nscell_view_check_entry(const char *s, size_t len, bool bind);

/*
 * nscell_view_check - contradictions between the view keys of effective
 * settings: a path in two of ReadOnlyPaths, ReadWritePaths and
 * InaccessiblePaths; a bind target inside a tree the view hides.
 *
 * Returns 0 (none), 1 with the key to blame and a message the caller frees,
 * or -ENOMEM.
 */
int nscell_view_check(const struct nscell_settings *s, enum nscell_key *ret_key, char **ret_msg);

/* Whether any view key differs from the default (a view is made at all). */
bool nscell_view_wanted(const struct nscell_settings *s);

/*
 * nscell_view_plan - the operations, in the order they are made, for a user.
 * Returns 0, -EINVAL with a message (a specifier that expands to something
 * unusable, a home that is not a plain absolute path), or -ENOMEM.
 */
int nscell_view_plan(const struct nscell_settings *s, const struct nscell_view_who *who,
		     struct nscell_view_plan *ret, char **ret_error);
void nscell_view_plan_done(struct nscell_view_plan *p);

/*
 * nscell_view_policy_list - the list of path key k as block `block` of a
 * loaded policy wrote it (0: the defaults, 1..n: the Match blocks in order),
 * or NULL where it is not set; *ret_origin says where. For `nscell check`.
 */
const char *nscell_view_policy_list(const struct nscell_policy *p, size_t block, enum nscell_key k,
				    struct nscell_origin *ret_origin);

/* "read-only", "writable", ... for explain and the logs. */
const char *nscell_view_op_name(enum nscell_view_op_kind k);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The view's plan: settings and a user in, an ordered list of mount
 * operations out (view.h). Order is meaning here:
 *
 *   1. ProtectSystem strict: / read-only, then back as they were: /dev,
 *      /proc, /sys, /tmp, /var/tmp, /run/user/UID and the home
 *   2. ProtectSystem yes/full: /usr, /boot, /efi (and /etc) read-only
 *   3. ProtectHome read-only: /home, /root, /run/user read-only
 *   4. ReadOnlyPaths, then ReadWritePaths (writable wins, as in systemd)
 *   5. ProtectHome own/tmpfs/yes: the homes hidden (own: all but the user's)
 *   6. InaccessiblePaths
 *   7. BindPaths, BindReadOnlyPaths (sources as they were before the view)
 *
 * Every "as it was" tree is taken before the first operation, so a later
 * step never depends on what an earlier one hid.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "policy-internal.h"
#include "settings-keys.h"
#include "view.h"

static const enum nscell_key list_keys[_NSCELL_VIEW_LIST_MAX] = {
	[NSCELL_VIEW_READ_ONLY] = NSCELL_KEY_READ_ONLY_PATHS,
	[NSCELL_VIEW_READ_WRITE] = NSCELL_KEY_READ_WRITE_PATHS,
	[NSCELL_VIEW_INACCESSIBLE] = NSCELL_KEY_INACCESSIBLE_PATHS,
	[NSCELL_VIEW_BIND] = NSCELL_KEY_BIND_PATHS,
	[NSCELL_VIEW_BIND_READ_ONLY] = NSCELL_KEY_BIND_READ_ONLY_PATHS,
};

/* The trees ProtectHome covers, besides the directory holding the home. */
static const char *const home_trees[] = { "/home", "/root", "/run/user" };

const char *nscell_view_op_name(enum nscell_view_op_kind k)
{
	static const char *const t[] = {
		[NSCELL_VIEW_OP_READ_ONLY] = "read-only",
		[NSCELL_VIEW_OP_WRITABLE] = "writable",
		[NSCELL_VIEW_OP_OWN] = "own only",
		[NSCELL_VIEW_OP_EMPTY] = "empty",
		[NSCELL_VIEW_OP_INACCESSIBLE] = "inaccessible",
		[NSCELL_VIEW_OP_BIND] = "bound",
	};
	return (unsigned) k < NSCELL_ELEMENTSOF(t) ? t[k] : "?";
}

/* One path of an entry: [s, s + len). */
static const char *check_path(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return "an empty path";
	if (len >= 2 && s[0] == '%' && s[1] == 'h')
		i = 2;
	else if (s[0] != '/')
		return "a relative path; expected an absolute path (or one starting with %h)";
	if (len > 1 && s[len - 1] == '/')
		return "a trailing '/'; expected the path without it";
	for (; i < len; i++) {
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			return "a control character";
		if (c == '%') {
			if (i + 1 >= len || !strchr("uUhgG%", s[i + 1]))
				return "an unknown specifier; expected %u, %U, %h, %g, %G or %%";
			if (s[i + 1] == 'h')
				return "%h after the start; expected %h only as the first component";
			i++;
			continue;
		}
		if (c != '/')
			continue;
		if (i + 1 < len && s[i + 1] == '/')
			return "'//'; expected single slashes";
		size_t j = i + 1;
		while (j < len && s[j] != '/')
			j++;
		if ((j - i - 1 == 1 && s[i + 1] == '.') ||
		    (j - i - 1 == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
			return "a '.' or '..' component; expected a plain path";
	}
	return NULL;
}

const char *nscell_view_check_entry(const char *s, size_t len, bool bind)
{
	const char *colon, *why;

	if (len > 0 && s[0] == '-') {
		s++;
		len--;
	}
	colon = memchr(s, ':', len);
	if (!colon)
		return check_path(s, len);
	if (!bind)
		return "a ':'; expected a path (SRC:DST is for the Bind keys)";
	if (memchr(colon + 1, ':', len - (size_t) (colon + 1 - s)))
		return "more than one ':'; expected SRC or SRC:DST";
	why = check_path(s, (size_t) (colon - s));
	if (why)
		return why;
	return check_path(colon + 1, len - (size_t) (colon + 1 - s));
}

bool nscell_view_wanted(const struct nscell_settings *s)
{
	if (s->protect_home != NSCELL_PROTECT_HOME_NO || s->protect_system != NSCELL_PROTECT_SYSTEM_NO)
		return true;
	for (size_t i = 0; i < _NSCELL_VIEW_LIST_MAX; i++)
		if (s->view_paths[i][0])
			return true;
	return false;
}

/* Whether path is tree or below it. */
static bool path_under(const char *path, const char *tree)
{
	size_t n = strlen(tree);

	if (strcmp(tree, "/") == 0)
		return true;
	return strncmp(path, tree, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Walk the words of one list; word points into a copy the caller owns. */
#define FOREACH_WORD(word, copy, save) \
	for (char *word = strtok_r(copy, " ", &save); word; word = strtok_r(NULL, " ", &save))

static const char *strip_optional(const char *w)
{
	return w[0] == '-' ? w + 1 : w;
}

int nscell_view_check(const struct nscell_settings *s, enum nscell_key *ret_key, char **ret_msg)
{
	static const enum nscell_view_list plain[] = {
		NSCELL_VIEW_READ_ONLY, NSCELL_VIEW_READ_WRITE, NSCELL_VIEW_INACCESSIBLE,
	};
	bool hides_homes = s->protect_home == NSCELL_PROTECT_HOME_OWN ||
			   s->protect_home == NSCELL_PROTECT_HOME_TMPFS ||
			   s->protect_home == NSCELL_PROTECT_HOME_YES;

	for (size_t a = 0; a < NSCELL_ELEMENTSOF(plain); a++) {
		_cleanup_free_ char *ca = strdup(s->view_paths[plain[a]]);
		char *sa = NULL;

		if (!ca)
			return -ENOMEM;
		FOREACH_WORD(wa, ca, sa) {
			const char *pa = strip_optional(wa);

			for (size_t b = a + 1; b < NSCELL_ELEMENTSOF(plain); b++) {
				_cleanup_free_ char *cb = strdup(s->view_paths[plain[b]]);
				char *sb = NULL;

				if (!cb)
					return -ENOMEM;
				FOREACH_WORD(wb, cb, sb)
					if (strcmp(pa, strip_optional(wb)) == 0) {
						*ret_key = list_keys[plain[b]];
						if (asprintf(ret_msg, "%s %s is in %s too; expected each path in one of them",
							     nscell_key_name(list_keys[plain[b]]), pa,
							     nscell_key_name(list_keys[plain[a]])) < 0)
							return -ENOMEM;
						return 1;
					}
			}
		}
	}

	for (size_t l = NSCELL_VIEW_BIND; l <= NSCELL_VIEW_BIND_READ_ONLY; l++) {
		_cleanup_free_ char *c = strdup(s->view_paths[l]);
		char *save = NULL;

		if (!c)
			return -ENOMEM;
		FOREACH_WORD(w, c, save) {
			const char *src = strip_optional(w), *colon = strchr(src, ':');
			const char *dst = colon ? colon + 1 : src;
			const char *hidden = NULL;
			_cleanup_free_ char *ci = NULL;
			char *si = NULL;

			/* %h is the user's own home, which every form of
			 * ProtectHome leaves in place or hides as a whole. */
			for (size_t t = 0; hides_homes && dst[0] == '/' && t < NSCELL_ELEMENTSOF(home_trees); t++)
				if (path_under(dst, home_trees[t]))
					hidden = home_trees[t];
			ci = strdup(s->view_paths[NSCELL_VIEW_INACCESSIBLE]);
			if (!ci)
				return -ENOMEM;
			FOREACH_WORD(wi, ci, si)
				if (!hidden && path_under(dst, strip_optional(wi)))
					hidden = strip_optional(wi);
			if (hidden) {
				*ret_key = list_keys[l];
				if (asprintf(ret_msg, "%s target %s is inside %s, which this view hides; expected a target outside it%s",
					     nscell_key_name(list_keys[l]), dst, hidden,
					     path_under(hidden, "/home") ? " (or one under %h)" : "") < 0)
					return -ENOMEM;
				return 1;
			}
		}
	}
	return 0;
}

/* ---- the plan ------------------------------------------------------------ */

static int expand(const char *in, const struct nscell_view_who *who, char **ret, char **ret_error)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0, size = 0;

	for (const char *c = in; *c; c++) {
		char num[16];
		const char *piece = num;

		if (*c != '%') {
			num[0] = *c;
			num[1] = '\0';
		} else {
			switch (*++c) {
			case 'u': piece = who->user; break;
			case 'U': snprintf(num, sizeof(num), "%u", (unsigned) who->uid); break;
			case 'h': piece = who->home; break;
			case 'g': piece = who->group; break;
			case 'G': snprintf(num, sizeof(num), "%u", (unsigned) who->gid); break;
			case '%': piece = "%"; break;
			default:
				return asprintf(ret_error, "unknown specifier in '%s'", in) < 0 ? -ENOMEM : -EINVAL;
			}
			/* A name with a '/' would change the path's shape. */
			if (!piece || (*c != 'h' && (strchr(piece, '/') || !piece[0] ||
						     strcmp(piece, ".") == 0 || strcmp(piece, "..") == 0)))
				return asprintf(ret_error, "'%%%c' in '%s' has no usable value for this user", *c, in) < 0 ?
					-ENOMEM : -EINVAL;
		}
		size_t n = strlen(piece);
		if (len + n + 1 > size) {
			size = (len + n + 1) * 2;
			char *p = realloc(out, size);
			if (!p)
				return -ENOMEM;
			out = p;
		}
		memcpy(out + len, piece, n + 1);
		len += n;
	}
	if (!out && !(out = strdup("")))
		return -ENOMEM;
	*ret = TAKE_PTR(out);
	return 0;
}

static int add_op(struct nscell_view_plan *p, enum nscell_view_op_kind kind, enum nscell_key key,
		  const char *src, const char *dst, const char *keep, bool read_only, bool optional)
{
	struct nscell_view_op *ops = realloc(p->ops, (p->n_ops + 1) * sizeof(*ops));
	struct nscell_view_op *op;

	if (!ops)
		return -ENOMEM;
	p->ops = ops;
	op = &ops[p->n_ops];
	*op = (struct nscell_view_op) { .kind = kind, .key = key, .read_only = read_only, .optional = optional };
	if ((src && !(op->src = strdup(src))) || !(op->dst = strdup(dst)) || (keep && !(op->keep = strdup(keep)))) {
		free(op->src);
		free(op->dst);
		return -ENOMEM;
	}
	p->n_ops++;
	return 0;
}

/* The home must be a plain absolute path: it is walked and compared. */
static bool home_usable(const char *h)
{
	return h && h[0] == '/' && !check_path(h, strlen(h)) && strcmp(h, "/") != 0;
}

static int plan_own(struct nscell_view_plan *p, const struct nscell_view_who *who)
{
	const char *trees[NSCELL_ELEMENTSOF(home_trees) + 1];
	_cleanup_free_ char *parent = NULL;
	char run_own[32];
	size_t n = 0;
	int r;

	if (home_usable(who->home)) {
		parent = strdup(who->home);
		if (!parent)
			return -ENOMEM;
		*strrchr(parent, '/') = '\0';
		if (parent[0])
			trees[n++] = parent;
	}
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(home_trees); i++)
		if (!parent || strcmp(parent, home_trees[i]) != 0)
			trees[n++] = home_trees[i];
	/* Shallow first: a deeper tree is hidden inside the tmpfs of one above. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strlen(trees[j]) < strlen(trees[j - 1]); j--) {
			const char *t = trees[j];
			trees[j] = trees[j - 1];
			trees[j - 1] = t;
		}
	snprintf(run_own, sizeof(run_own), "/run/user/%u", (unsigned) who->uid);

	for (size_t i = 0; i < n; i++) {
		const char *t = trees[i], *own = NULL;
		char keep[256] = "";

		/* A home that is such a tree, or holds one, is the user's. */
		if (parent && path_under(t, who->home))
			continue;
		if (strcmp(t, "/run/user") == 0)
			own = run_own;
		else if (parent && path_under(who->home, t))
			own = who->home;
		if (own) {
			const char *rest = own + strlen(t) + 1, *slash = strchr(rest, '/');
			size_t len = slash ? (size_t) (slash - rest) : strlen(rest);
			if (len >= sizeof(keep))
				return -ENAMETOOLONG;
			memcpy(keep, rest, len);
			keep[len] = '\0';
			/* Bound only where the entry is the home itself; an
			 * entry on the way there stays an empty directory that
			 * a deeper tree's tmpfs covers. */
			if (slash)
				own = NULL;
		}
		r = add_op(p, NSCELL_VIEW_OP_OWN, NSCELL_KEY_PROTECT_HOME, own, t, keep[0] ? keep : NULL,
			   false, true);
		if (r < 0)
			return r;
	}
	return 0;
}

static int plan_list(struct nscell_view_plan *p, const struct nscell_settings *s,
		     const struct nscell_view_who *who, enum nscell_view_list l, char **ret_error)
{
	_cleanup_free_ char *copy = strndup(s->view_paths[l], NSCELL_VIEW_LIST_SIZE);
	char *save = NULL;
	int r;

	if (!copy)
		return -ENOMEM;
	FOREACH_WORD(w, copy, save) {
		bool optional = w[0] == '-';
		char *src_raw = optional ? w + 1 : w, *colon = strchr(src_raw, ':');
		_cleanup_free_ char *src = NULL, *dst = NULL;

		if (colon)
			*colon = '\0';
		r = expand(src_raw, who, &src, ret_error);
		if (r >= 0)
			r = expand(colon ? colon + 1 : src_raw, who, &dst, ret_error);
		if (r < 0)
			return r;
		if (src[0] != '/' || dst[0] != '/' || check_path(src, strlen(src)) || check_path(dst, strlen(dst)))
			return asprintf(ret_error, "%s entry '%s' does not expand to a plain absolute path for this user",
					nscell_key_name(list_keys[l]), w) < 0 ? -ENOMEM : -EINVAL;
		switch (l) {
		case NSCELL_VIEW_READ_ONLY:
			r = add_op(p, NSCELL_VIEW_OP_READ_ONLY, list_keys[l], NULL, dst, NULL, false, optional);
			break;
		case NSCELL_VIEW_READ_WRITE:
			r = add_op(p, NSCELL_VIEW_OP_WRITABLE, list_keys[l], dst, dst, NULL, false, optional);
			break;
		case NSCELL_VIEW_INACCESSIBLE:
			r = add_op(p, NSCELL_VIEW_OP_INACCESSIBLE, list_keys[l], NULL, dst, NULL, false, optional);
			break;
		default:
			r = add_op(p, NSCELL_VIEW_OP_BIND, list_keys[l], src, dst, NULL,
				   l == NSCELL_VIEW_BIND_READ_ONLY, optional);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int nscell_view_plan(const struct nscell_settings *s, const struct nscell_view_who *who,
		     struct nscell_view_plan *ret, char **ret_error)
{
	static const char *const api[] = { "/dev", "/proc", "/sys", "/tmp", "/var/tmp" };
	static const char *const system_trees[] = { "/usr", "/boot", "/efi", "/etc" };
	struct nscell_view_plan p = {};
	char run_own[32];
	int r = 0;

	*ret_error = NULL;
	/* own must know which entry is the home; a home of "/" has none. */
	if (s->protect_home == NSCELL_PROTECT_HOME_OWN && who->home && strcmp(who->home, "/") != 0 &&
	    !home_usable(who->home)) {
		if (asprintf(ret_error, "the home '%s' is not a plain absolute path", who->home) < 0)
			return -ENOMEM;
		return -EINVAL;
	}

	if (s->protect_system == NSCELL_PROTECT_SYSTEM_STRICT) {
		r = add_op(&p, NSCELL_VIEW_OP_READ_ONLY, NSCELL_KEY_PROTECT_SYSTEM, NULL, "/", NULL, false, false);
		for (size_t i = 0; r >= 0 && i < NSCELL_ELEMENTSOF(api); i++)
			r = add_op(&p, NSCELL_VIEW_OP_WRITABLE, NSCELL_KEY_PROTECT_SYSTEM, api[i], api[i], NULL,
				   false, true);
		snprintf(run_own, sizeof(run_own), "/run/user/%u", (unsigned) who->uid);
		if (r >= 0)
			r = add_op(&p, NSCELL_VIEW_OP_WRITABLE, NSCELL_KEY_PROTECT_SYSTEM, run_own, run_own, NULL,
				   false, true);
		if (r >= 0 && home_usable(who->home) && s->protect_home != NSCELL_PROTECT_HOME_READ_ONLY)
			r = add_op(&p, NSCELL_VIEW_OP_WRITABLE, NSCELL_KEY_PROTECT_SYSTEM, who->home, who->home,
				   NULL, false, true);
	} else if (s->protect_system != NSCELL_PROTECT_SYSTEM_NO) {
		size_t n = s->protect_system == NSCELL_PROTECT_SYSTEM_FULL ? 4 : 3;
		for (size_t i = 0; r >= 0 && i < n; i++)
			r = add_op(&p, NSCELL_VIEW_OP_READ_ONLY, NSCELL_KEY_PROTECT_SYSTEM, NULL, system_trees[i],
				   NULL, false, true);
	}
	if (r >= 0 && s->protect_home == NSCELL_PROTECT_HOME_READ_ONLY)
		for (size_t i = 0; r >= 0 && i < NSCELL_ELEMENTSOF(home_trees); i++)
			r = add_op(&p, NSCELL_VIEW_OP_READ_ONLY, NSCELL_KEY_PROTECT_HOME, NULL, home_trees[i], NULL,
				   false, true);
	if (r >= 0)
		r = plan_list(&p, s, who, NSCELL_VIEW_READ_ONLY, ret_error);
	if (r >= 0)
		r = plan_list(&p, s, who, NSCELL_VIEW_READ_WRITE, ret_error);
	if (r >= 0 && s->protect_home == NSCELL_PROTECT_HOME_OWN)
		r = plan_own(&p, who);
	if (r >= 0 && (s->protect_home == NSCELL_PROTECT_HOME_TMPFS || s->protect_home == NSCELL_PROTECT_HOME_YES))
		for (size_t i = 0; r >= 0 && i < NSCELL_ELEMENTSOF(home_trees); i++)
			r = add_op(&p, s->protect_home == NSCELL_PROTECT_HOME_YES ? NSCELL_VIEW_OP_INACCESSIBLE :
				   NSCELL_VIEW_OP_EMPTY, NSCELL_KEY_PROTECT_HOME, NULL, home_trees[i], NULL, false, true);
	if (r >= 0)
		r = plan_list(&p, s, who, NSCELL_VIEW_INACCESSIBLE, ret_error);
	if (r >= 0)
		r = plan_list(&p, s, who, NSCELL_VIEW_BIND, ret_error);
	if (r >= 0)
		r = plan_list(&p, s, who, NSCELL_VIEW_BIND_READ_ONLY, ret_error);
	if (r < 0) {
		nscell_view_plan_done(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void nscell_view_plan_done(struct nscell_view_plan *p)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		free(p->ops[i].src);
		free(p->ops[i].dst);
		free(p->ops[i].keep);
	}
	free(p->ops);
	*p = (struct nscell_view_plan) {};
}

const char *nscell_view_policy_list(const struct nscell_policy *p, size_t block, enum nscell_key k,
				    struct nscell_origin *ret_origin)
{
	const struct nscell_block *b;
	const struct nscell_block_key *e;
	enum nscell_view_list l = nscell_key_to_view_list(k);

	if (l == _NSCELL_VIEW_LIST_MAX || block > p->n_blocks)
		return NULL;
	b = block == 0 ? &p->defaults : &p->blocks[block - 1];
	e = nscell_block_key(b, k);
	if (!e || e->len == 0)
		return NULL;
	*ret_origin = e->origin;
	return (const char *) e->value; /* a string span, stored up to its NUL */
}

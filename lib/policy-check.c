/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Contradictions that no single line shows: they appear only once a block is
 * merged onto the defaults, which may come from another file. Each is
 * reported at a line the block itself wrote, so the admin knows which block
 * to fix; a problem the block merely inherits is reported at the defaults.
 *
 * Keys whose value was rejected are left out of every check here: the line
 * with the bad value is already an error, and a guess about what it meant
 * would only add noise.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "policy-block.h"
#include "policy-check.h"
#include "settings-keys.h"
#include "view.h"

#define KEY_BIT(k) (UINT64_C(1) << (k))

static void error_at_key(struct nscell_parser *p, const struct nscell_block *b, enum nscell_key k,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void error_at_key(struct nscell_parser *p, const struct nscell_block *b, enum nscell_key k,
			 const char *fmt, ...)
{
	va_list ap;

	const struct nscell_block_key *e = nscell_block_key(b, k);

	va_start(ap, fmt);
	(void) nscell_diag_verrorf(&p->diag, e->file_no, e->origin.file, e->origin.line, e->column, fmt, ap);
	va_end(ap);
}

/* "set at FILE:LINE" or "the built-in default", for the effective value of k. */
static char *describe_origin(const struct nscell_origin origin[_NSCELL_KEY_MAX], enum nscell_key k)
{
	char *s;

	if (!origin[k].file)
		return strdup("the built-in default");
	if (asprintf(&s, "set at %s:%u", origin[k].file, origin[k].line) < 0)
		return NULL;
	return s;
}

static void check_hostname(struct nscell_parser *p, const struct nscell_block *b,
			   const struct nscell_settings *eff, const struct nscell_origin origin[_NSCELL_KEY_MAX])
{
	_cleanup_free_ char *ns = NULL, *ns_origin = NULL, *host_origin = NULL;

	if (!eff->hostname[0] || (eff->namespaces & NSCELL_NS_UTS))
		return;

	if (nscell_settings_format_key(eff, NSCELL_KEY_NAMESPACES, &ns) < 0 ||
	    !(ns_origin = describe_origin(origin, NSCELL_KEY_NAMESPACES)) ||
	    !(host_origin = describe_origin(origin, NSCELL_KEY_HOSTNAME))) {
		p->error = -ENOMEM;
		return;
	}
	if (nscell_block_key(b, NSCELL_KEY_HOSTNAME))
		error_at_key(p, b, NSCELL_KEY_HOSTNAME,
			     "Hostname needs uts in Namespaces, which is '%s' (%s); expected uts added to Namespaces",
			     ns, ns_origin);
	else
		error_at_key(p, b, NSCELL_KEY_NAMESPACES,
			     "Namespaces lacks uts, which Hostname (%s) needs; expected uts in this list",
			     host_origin);
}

#define VIEW_KEYS (KEY_BIT(NSCELL_KEY_PROTECT_HOME) | KEY_BIT(NSCELL_KEY_PROTECT_SYSTEM) | \
		   KEY_BIT(NSCELL_KEY_READ_ONLY_PATHS) | KEY_BIT(NSCELL_KEY_READ_WRITE_PATHS) | \
		   KEY_BIT(NSCELL_KEY_INACCESSIBLE_PATHS) | KEY_BIT(NSCELL_KEY_BIND_PATHS) | \
		   KEY_BIT(NSCELL_KEY_BIND_READ_ONLY_PATHS))

/* The keys block b has a line for. */
static uint64_t keys_set(const struct nscell_block *b)
{
	uint64_t set = 0;

	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++)
		if (b->keys[k])
			set |= KEY_BIT(k);
	return set;
}

/* The view's contradictions (view.c), reported at the key to blame. A block
 * is checked when it sets a view key itself; the defaults through every
 * such block, and alone when they set one (the built-in view keys make no
 * view, so there is nothing to contradict). */
static void check_view(struct nscell_parser *p, const struct nscell_block *b,
		       const struct nscell_settings *eff, uint64_t invalid)
{
	_cleanup_free_ char *msg = NULL;
	enum nscell_key k = NSCELL_KEY_PROTECT_HOME;
	int r;

	if (invalid & VIEW_KEYS)
		return;
	r = nscell_view_check(eff, &k, &msg);
	if (r < 0) {
		p->error = r;
		return;
	}
	if (r == 0)
		return;
	if (!nscell_block_key(b, k))
		for (size_t i = 0; i < _NSCELL_KEY_MAX; i++)
			if ((VIEW_KEYS & KEY_BIT(i)) && nscell_block_key(b, (enum nscell_key) i)) {
				k = (enum nscell_key) i;
				break;
			}
	error_at_key(p, b, k, "%s", msg);
}

/* Isolate as a login that block b decides gets it: the block's, else the
 * defaults', else the built-in one, which isolates. From the stored values
 * alone: most blocks need nothing more to be checked. */
static bool effective_isolate(const struct nscell_block *d, const struct nscell_block *b,
			      const struct nscell_origin **ret_origin)
{
	const struct nscell_block_key *e = nscell_block_key(b, NSCELL_KEY_ISOLATE);
	struct nscell_settings one;

	if (!e || e->len == 0)
		e = nscell_block_key(d, NSCELL_KEY_ISOLATE);
	if (!e || e->len == 0)
		return true;
	*ret_origin = &e->origin;
	nscell_block_key_apply(e, NSCELL_KEY_ISOLATE, &one);
	return one.isolate;
}

static void check_block(struct nscell_parser *p, const struct nscell_block *defaults, const struct nscell_block *b)
{
	struct nscell_settings eff;
	struct nscell_origin origin[_NSCELL_KEY_MAX];
	const struct nscell_origin *iso = NULL;
	uint64_t invalid = defaults->invalid_keys | b->invalid_keys, set = keys_set(b);

	/* An exempt login passes through untouched: any other key in an
	 * exempt block is a setting that never takes effect. */
	if (!(invalid & KEY_BIT(NSCELL_KEY_ISOLATE)) && !effective_isolate(defaults, b, &iso)) {
		for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
			if (k == NSCELL_KEY_ISOLATE || !(set & KEY_BIT(k)))
				continue;
			if (set & KEY_BIT(NSCELL_KEY_ISOLATE))
				error_at_key(p, b, k, "%s in a Match block with Isolate no (line %u); expected no other keys in an exempt block",
					     nscell_key_name(k), iso->line);
			else
				error_at_key(p, b, k, "%s in a Match block that inherits Isolate no from %s:%u; expected Isolate yes in this block",
					     nscell_key_name(k), iso->file, iso->line);
		}
		return;
	}

	/* The other checks read the effective settings, built only for a block
	 * that sets a key one of them is about. */
	if (!(set & (KEY_BIT(NSCELL_KEY_HOSTNAME) | KEY_BIT(NSCELL_KEY_NAMESPACES) | VIEW_KEYS |
		     KEY_BIT(NSCELL_KEY_DRAIN_LIMIT))))
		return;
	nscell_block_effective(defaults, b, &eff, origin);

	if ((set & (KEY_BIT(NSCELL_KEY_HOSTNAME) | KEY_BIT(NSCELL_KEY_NAMESPACES))) &&
	    !(invalid & (KEY_BIT(NSCELL_KEY_HOSTNAME) | KEY_BIT(NSCELL_KEY_NAMESPACES))))
		check_hostname(p, b, &eff, origin);

	if (set & VIEW_KEYS)
		check_view(p, b, &eff, invalid);

	/* Only a block's own DrainLimit is checked: a global DrainLimit is the
	 * limit for every block that chooses Logout drain. */
	if ((set & KEY_BIT(NSCELL_KEY_DRAIN_LIMIT)) && eff.logout == NSCELL_LOGOUT_KILL &&
	    !(invalid & KEY_BIT(NSCELL_KEY_LOGOUT))) {
		_cleanup_free_ char *o = describe_origin(origin, NSCELL_KEY_LOGOUT);
		if (!o) {
			p->error = -ENOMEM;
			return;
		}
		error_at_key(p, b, NSCELL_KEY_DRAIN_LIMIT,
			     "DrainLimit has no effect with Logout kill (%s); expected Logout drain in this block", o);
	}
}

void nscell_policy_check_effective(struct nscell_parser *p)
{
	const struct nscell_block *d = &p->policy->defaults;
	uint64_t set = keys_set(d);

	if (set & (KEY_BIT(NSCELL_KEY_HOSTNAME) | VIEW_KEYS)) {
		struct nscell_settings eff;
		struct nscell_origin origin[_NSCELL_KEY_MAX];

		nscell_block_effective(d, d, &eff, origin);
		if ((set & KEY_BIT(NSCELL_KEY_HOSTNAME)) &&
		    !(d->invalid_keys & (KEY_BIT(NSCELL_KEY_HOSTNAME) | KEY_BIT(NSCELL_KEY_NAMESPACES))))
			check_hostname(p, d, &eff, origin);
		if (set & VIEW_KEYS)
			check_view(p, d, &eff, d->invalid_keys);
	}

	for (size_t i = 0; i < p->policy->n_blocks && p->error == 0; i++)
		check_block(p, d, &p->policy->blocks[i]);
}

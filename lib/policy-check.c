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
#include "policy-check.h"
#include "policy-match.h"
#include "settings-keys.h"
#include "view.h"

#define KEY_BIT(k) (UINT64_C(1) << (k))

static void error_at_key(struct nscell_parser *p, const struct nscell_block *b, enum nscell_key k,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void error_at_key(struct nscell_parser *p, const struct nscell_block *b, enum nscell_key k,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) nscell_diag_verrorf(&p->diag, b->set_file_no[k], b->set[k].file, b->set[k].line,
				   b->set_column[k], fmt, ap);
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
	if (b->set[NSCELL_KEY_HOSTNAME].file)
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

/* The view's contradictions (view.c), reported at the key to blame, or at
 * the defaults when this block sets none of the view keys itself. */
static void check_view(struct nscell_parser *p, const struct nscell_block *defaults, const struct nscell_block *b,
		       const struct nscell_settings *eff, uint64_t invalid)
{
	_cleanup_free_ char *msg = NULL;
	enum nscell_key k = NSCELL_KEY_PROTECT_HOME;
	bool own = false;
	int r;

	if (invalid & VIEW_KEYS)
		return;
	for (size_t i = 0; i < _NSCELL_KEY_MAX; i++)
		if ((VIEW_KEYS & KEY_BIT(i)) && b->set[i].file)
			own = true;
	if (!own && b != defaults)
		return;
	r = nscell_view_check(eff, &k, &msg);
	if (r < 0) {
		p->error = r;
		return;
	}
	if (r == 0)
		return;
	if (!b->set[k].file)
		for (size_t i = 0; i < _NSCELL_KEY_MAX; i++)
			if ((VIEW_KEYS & KEY_BIT(i)) && b->set[i].file) {
				k = (enum nscell_key) i;
				break;
			}
	error_at_key(p, b, k, "%s", msg);
}

static void check_block(struct nscell_parser *p, const struct nscell_block *defaults, const struct nscell_block *b)
{
	struct nscell_settings eff = defaults->values;
	struct nscell_origin origin[_NSCELL_KEY_MAX];
	uint64_t invalid = defaults->invalid_keys | b->invalid_keys;

	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++)
		origin[k] = defaults->set[k];
	nscell_block_merge(b, &eff, origin);

	/* An exempt login passes through untouched: any other key in an
	 * exempt block is a setting that never takes effect. */
	if (!eff.isolate && !(invalid & KEY_BIT(NSCELL_KEY_ISOLATE))) {
		const struct nscell_origin *iso = &origin[NSCELL_KEY_ISOLATE];

		for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
			if (k == NSCELL_KEY_ISOLATE || !b->set[k].file)
				continue;
			if (b->set[NSCELL_KEY_ISOLATE].file)
				error_at_key(p, b, k, "%s in a Match block with Isolate no (line %u); expected no other keys in an exempt block",
					     nscell_key_name(k), iso->line);
			else
				error_at_key(p, b, k, "%s in a Match block that inherits Isolate no from %s:%u; expected Isolate yes in this block",
					     nscell_key_name(k), iso->file, iso->line);
		}
		return;
	}

	if ((b->set[NSCELL_KEY_HOSTNAME].file || b->set[NSCELL_KEY_NAMESPACES].file) &&
	    !(invalid & (KEY_BIT(NSCELL_KEY_HOSTNAME) | KEY_BIT(NSCELL_KEY_NAMESPACES))))
		check_hostname(p, b, &eff, origin);

	check_view(p, defaults, b, &eff, invalid);

	/* Only a block's own DrainLimit is checked: a global DrainLimit is the
	 * limit for every block that chooses Logout drain. */
	if (b->set[NSCELL_KEY_DRAIN_LIMIT].file && eff.logout == NSCELL_LOGOUT_KILL &&
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

	if (d->set[NSCELL_KEY_HOSTNAME].file &&
	    !(d->invalid_keys & (KEY_BIT(NSCELL_KEY_HOSTNAME) | KEY_BIT(NSCELL_KEY_NAMESPACES))))
		check_hostname(p, d, &d->values, d->set);
	check_view(p, d, d, &d->values, d->invalid_keys);

	for (size_t i = 0; i < p->policy->n_blocks && p->error == 0; i++)
		check_block(p, d, &p->policy->blocks[i]);
}

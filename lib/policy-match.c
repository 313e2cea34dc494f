/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The decision for one login: Match blocks are tried in order and the first
 * that matches decides; keys it leaves unset come from the defaults.
 *
 * root is special: a broad rule ("Match All", "Match Group *") must never be
 * what locks the administrator out, so blocks that match root only by
 * accident are skipped for uid 0, and root is exempt unless a block names it
 * with the literal pattern "User root".
 *
 * Nothing here allocates: the helper decides on its privileged path, and the
 * decision points into the policy. Blocks are matched on their criteria
 * alone; only the one that decides is merged into settings.
 */
#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#include "policy-block.h"

/*
 * A pattern list matches when none of its negated patterns matches and it
 * either has no positive pattern or one of them matches. A subject matches a
 * pattern when any of the login's values for the criterion does (a user has
 * many groups; a login without the item has none).
 */
static bool criterion_matches(const struct nscell_criterion *c, const char *const *subjects,
			      size_t n_subjects, int flags)
{
	bool has_positive = false, positive_hit = false;

	for (size_t i = 0; i < c->n_patterns; i++) {
		const struct nscell_pattern *pat = &c->patterns[i];
		bool hit = false;

		for (size_t j = 0; j < n_subjects && !hit; j++)
			hit = subjects[j] && fnmatch(pat->glob, subjects[j], flags) == 0;

		if (pat->negated) {
			if (hit)
				return false;
		} else {
			has_positive = true;
			positive_hit = positive_hit || hit;
		}
	}
	return !has_positive || positive_hit;
}

enum match { NO_MATCH, MATCH, NEEDS_GROUPS };

/* Whether b matches, or NEEDS_GROUPS: that depends on groups not looked up
 * yet. Criteria are tried in the order written, so a Group criterion after
 * one that fails needs no groups. */
static enum match block_matches(const struct nscell_block *b, const struct nscell_login *login)
{
	if (b->match_all)
		return MATCH;

	for (size_t i = 0; i < b->n_criteria; i++) {
		const struct nscell_criterion *c = &b->criteria[i];
		const char *subjects[2] = {};
		size_t n = 0;
		int flags = 0;

		switch (c->kind) {
		case NSCELL_CRITERION_USER:
			subjects[n++] = login->user;
			break;
		case NSCELL_CRITERION_GROUP:
			if (login->groups_unresolved)
				return NEEDS_GROUPS;
			if (!criterion_matches(c, login->groups, login->groups ? login->n_groups : 0, 0))
				return NO_MATCH;
			continue;
		case NSCELL_CRITERION_SERVICE:
			if (login->service && login->service[0])
				subjects[n++] = login->service;
			break;
		case NSCELL_CRITERION_HOST:
			if (login->rhost && login->rhost[0])
				subjects[n++] = login->rhost;
			flags = FNM_CASEFOLD; /* host names are case-insensitive */
			break;
		case NSCELL_CRITERION_TTY:
			/* PAM_TTY is "/dev/pts/3", "pts/3" or "ssh" depending on the
			 * program: a pattern may be written either way. */
			if (login->tty && login->tty[0]) {
				subjects[n++] = login->tty;
				if (strncmp(login->tty, "/dev/", 5) == 0 && login->tty[5])
					subjects[n++] = login->tty + 5;
			}
			break;
		case _NSCELL_CRITERION_MAX:
			return NO_MATCH;
		}
		if (!criterion_matches(c, subjects, n, flags))
			return NO_MATCH;
	}
	/* A block whose Match line had errors has no criteria; it never
	 * reaches a decision because such a policy is never returned. */
	return b->n_criteria > 0 ? MATCH : NO_MATCH;
}

int nscell_policy_decide(const struct nscell_policy *p, const struct nscell_login *login,
			 struct nscell_decision *ret)
{
	const struct nscell_block *decided = NULL;
	bool is_root;

	if (!p || !login || !login->user || !ret)
		return -EINVAL;

	is_root = login->uid == 0;
	for (size_t i = 0; i < p->n_blocks; i++) {
		const struct nscell_block *b = &p->blocks[i];
		enum match m;

		/* Skipped for root whatever it matches: tried first, so that
		 * root's login needs no groups for it. */
		if (is_root && !b->names_root)
			continue;
		m = block_matches(b, login);
		if (m == NEEDS_GROUPS)
			return NSCELL_POLICY_NEEDS_GROUPS;
		if (m == NO_MATCH)
			continue;
		decided = b;
		break;
	}

	/* Settings only now, for the one block that decided. */
	nscell_block_effective(&p->defaults, decided ?: &p->defaults, &ret->settings, ret->origin);
	ret->rule = decided ? decided->origin : (struct nscell_origin) {};
	ret->rule_text = decided ? decided->text : NULL;
	ret->root_exempt = false;
	if (!decided && is_root) {
		ret->root_exempt = true;
		ret->settings.isolate = false;
		ret->origin[NSCELL_KEY_ISOLATE] = (struct nscell_origin) {};
	}
	return 0;
}

bool nscell_policy_matches_groups(const struct nscell_policy *p)
{
	for (size_t i = 0; i < p->n_blocks; i++)
		for (size_t c = 0; c < p->blocks[i].n_criteria; c++)
			if (p->blocks[i].criteria[c].kind == NSCELL_CRITERION_GROUP)
				return true;
	return false;
}

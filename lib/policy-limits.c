/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The values of the limit keys, as systemd.resource-control(5) spells them:
 * sizes with K, M, G, T (base 1024) or a percentage of physical memory,
 * tasks as a count or a percentage of the kernel's pid limit, CPUQuota as a
 * percentage of one CPU, weights from 1 to 10000; "infinity" for no limit.
 * Only whole numbers: "1.5G" is written 1536M.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "limits.h"
#include "policy-limits.h"
#include "policy-token.h"

#define WEIGHT_MAX 10000u
#define CPU_QUOTA_MAX 100000u /* 1000 CPUs */

static bool digits(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

/* "N%" with N in [1, max]. */
static bool percent(const struct nscell_token *t, uint64_t max, unsigned *ret)
{
	uint64_t v;

	if (t->len < 2 || t->start[t->len - 1] != '%' || !digits(t->start, t->len - 1, &v) ||
	    v < 1 || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

static int single(struct nscell_parser *p, const struct nscell_keyword *kw,
		  const struct nscell_token *values, size_t n)
{
	if (n > 1)
		return nscell_parser_error(p, &values[1], "unexpected extra value '%.*s' for %s; expected a single value",
					   (int)values[1].len, values[1].start, kw->name);
	return 0;
}

static int bad(struct nscell_parser *p, const struct nscell_keyword *kw, const struct nscell_token *t)
{
	return nscell_parser_error(p, t, "invalid value '%.*s' for %s; expected %s", (int)t->len,
				   t->start, kw->name, kw->expected);
}

static struct nscell_limit *limit_of(struct nscell_settings *s, enum nscell_key k)
{
	switch (k) {
	case NSCELL_KEY_MEMORY_MAX: return &s->limits.memory_max;
	case NSCELL_KEY_MEMORY_HIGH: return &s->limits.memory_high;
	case NSCELL_KEY_MEMORY_SWAP_MAX: return &s->limits.memory_swap_max;
	case NSCELL_KEY_TASKS_MAX: return &s->limits.tasks_max;
	default: return NULL;
	}
}

/* MemoryMax, MemoryHigh, MemorySwapMax: N[K|M|G|T], N% or infinity. Zero
 * swap is a real choice; zero memory would kill every login. */
int nscell_parse_limit_bytes(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const char suffixes[] = "kmgt";
	const struct nscell_token *t = &values[0];
	struct nscell_limit l = { .value = NSCELL_LIMIT_INFINITY };
	int r = single(p, kw, values, n);
	uint64_t v, mult = 1;
	size_t len = t->len;
	const char *hit;

	if (nscell_token_equal(t, "infinity")) {
		*limit_of(s, kw->key) = l;
		return r;
	}
	if (percent(t, 100, &l.percent)) {
		*limit_of(s, kw->key) = l;
		return r;
	}
	if (len > 1 && (hit = memchr(suffixes, tolower((unsigned char)t->start[len - 1]), 4))) {
		for (const char *c = suffixes; c <= hit; c++)
			mult *= 1024;
		len--;
	}
	if (!digits(t->start, len, &v))
		return bad(p, kw, t);
	if (v > (NSCELL_LIMIT_INFINITY - 1) / mult)
		return nscell_parser_error(p, t, "%s '%.*s' is out of range; expected at most 16E", kw->name,
					   (int)t->len, t->start);
	if (v == 0 && kw->key != NSCELL_KEY_MEMORY_SWAP_MAX)
		return nscell_parser_error(p, t, "%s '%.*s' would leave a cell no memory; expected a size above 0 or infinity",
					   kw->name, (int)t->len, t->start);
	l.value = v * mult;
	*limit_of(s, kw->key) = l;
	return r;
}

/* TasksMax: N, N% or infinity. */
int nscell_parse_limit_tasks(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	struct nscell_limit l = { .value = NSCELL_LIMIT_INFINITY };
	int r = single(p, kw, values, n);
	uint64_t v;

	if (nscell_token_equal(t, "infinity") || percent(t, 100, &l.percent)) {
		s->limits.tasks_max = l;
		return r;
	}
	if (!digits(t->start, t->len, &v) || v >= NSCELL_LIMIT_INFINITY)
		return bad(p, kw, t);
	/* A session needs its shell and the cell its init. */
	if (v < 2)
		return nscell_parser_error(p, t, "TasksMax '%.*s' leaves a session no room for its shell; expected 2 or more, N%% or infinity",
					   (int)t->len, t->start);
	l.value = v;
	s->limits.tasks_max = l;
	return r;
}

/* CPUQuota: N% of one CPU (200% is two), or infinity. */
int nscell_parse_cpu_quota(struct nscell_parser *p, const struct nscell_keyword *kw,
			   const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	int r = single(p, kw, values, n);
	unsigned v;

	if (nscell_token_equal(t, "infinity")) {
		s->limits.cpu_quota_percent = 0;
		return r;
	}
	if (!percent(t, CPU_QUOTA_MAX, &v))
		return bad(p, kw, t);
	s->limits.cpu_quota_percent = v;
	return r;
}

/* CPUWeight, IOWeight: 1..10000, or default. */
int nscell_parse_weight(struct nscell_parser *p, const struct nscell_keyword *kw,
			const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	unsigned *w = kw->key == NSCELL_KEY_CPU_WEIGHT ? &s->limits.cpu_weight : &s->limits.io_weight;
	int r = single(p, kw, values, n);
	uint64_t v;

	if (nscell_token_equal(t, "default")) {
		*w = 0;
		return r;
	}
	if (!digits(t->start, t->len, &v) || v < 1 || v > WEIGHT_MAX)
		return bad(p, kw, t);
	*w = (unsigned)v;
	return r;
}

int nscell_parse_limits_unavailable(struct nscell_parser *p, const struct nscell_keyword *kw,
				    const struct nscell_token *values, size_t n,
				    struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	int r = single(p, kw, values, n);

	if (nscell_token_equal(t, "refuse"))
		s->limits_unavailable = NSCELL_LIMITS_UNAVAILABLE_REFUSE;
	else if (nscell_token_equal(t, "ignore"))
		s->limits_unavailable = NSCELL_LIMITS_UNAVAILABLE_IGNORE;
	else
		return bad(p, kw, t);
	return r;
}

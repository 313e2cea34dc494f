/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The value of each policy key: the keyword table and one parser per value
 * form. Parsers write into a scratch copy of the block's settings and report
 * every problem they see at the token it is in; the caller keeps the result
 * only if nothing was wrong.
 *
 * Words (yes, tmpfs, pid, cap_sys_admin, min, size=...) are matched
 * case-insensitively, like keywords; patterns, paths and host names are kept
 * as written.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capability.h"
#include "cleanup.h"
#include "policy-token.h"
#include "policy-limits.h"
#include "policy-values.h"
#include "settings-keys.h"
#include "view.h"

struct word {
	const char *word;
	int value;
};

/* strspn() for text that is not NUL-terminated (tokens point into the file). */
static size_t span(const char *s, size_t len, const char *accept)
{
	size_t i = 0;

	while (i < len && s[i] != '\0' && strchr(accept, s[i]))
		i++;
	return i;
}

static int lookup_word(const struct nscell_token *t, const struct word *words)
{
	for (size_t i = 0; words[i].word; i++)
		if (nscell_token_equal(t, words[i].word))
			return words[i].value;
	return -1;
}

static int bad_value(struct nscell_parser *p, const struct nscell_keyword *kw, const struct nscell_token *t)
{
	return nscell_parser_error(p, t, "invalid value '%.*s' for %s; expected %s",
				   (int) t->len, t->start, kw->name, kw->expected);
}

/* Keys that take one word: the first extra value is reported; the ones after
 * it are the same mistake. */
static int check_single(struct nscell_parser *p, const struct nscell_keyword *kw,
			const struct nscell_token *values, size_t n)
{
	if (n > 1)
		return nscell_parser_error(p, &values[1], "unexpected extra value '%.*s' for %s; expected a single value",
					   (int) values[1].len, values[1].start, kw->name);
	return 0;
}

static int parse_enum(struct nscell_parser *p, const struct nscell_keyword *kw,
		      const struct nscell_token *values, size_t n, const struct word *words, int *ret)
{
	int r = check_single(p, kw, values, n);
	int v = lookup_word(&values[0], words);

	if (v < 0)
		return bad_value(p, kw, &values[0]);
	*ret = v;
	return r;
}

static const struct word yes_no[] = { { "yes", 1 }, { "no", 0 }, {} };

static int parse_isolate(struct nscell_parser *p, const struct nscell_keyword *kw,
			 const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	int v = 0, r = parse_enum(p, kw, values, n, yes_no, &v);
	s->isolate = v;
	return r;
}

static int parse_no_new_privs(struct nscell_parser *p, const struct nscell_keyword *kw,
			      const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	int v = 0, r = parse_enum(p, kw, values, n, yes_no, &v);
	s->no_new_privs = v;
	return r;
}

static int parse_private_devices(struct nscell_parser *p, const struct nscell_keyword *kw,
				 const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	int v = 0, r = parse_enum(p, kw, values, n, yes_no, &v);
	s->private_devices = v;
	return r;
}

static int parse_private_logins(struct nscell_parser *p, const struct nscell_keyword *kw,
				const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	int v = 0, r = parse_enum(p, kw, values, n, yes_no, &v);
	s->private_logins = v;
	return r;
}

static int parse_scope(struct nscell_parser *p, const struct nscell_keyword *kw,
		       const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = { { "session", NSCELL_SCOPE_SESSION }, { "user", NSCELL_SCOPE_USER }, {} };
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->scope = v;
	return r;
}

static int parse_hidepid(struct nscell_parser *p, const struct nscell_keyword *kw,
			 const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = {
		{ "off", NSCELL_HIDEPID_OFF },
		{ "noaccess", NSCELL_HIDEPID_NOACCESS },
		{ "invisible", NSCELL_HIDEPID_INVISIBLE },
		{},
	};
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->proc_hidepid = v;
	return r;
}

static int parse_proc_subset(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = { { "all", NSCELL_PROC_SUBSET_ALL }, { "pid", NSCELL_PROC_SUBSET_PID }, {} };
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->proc_subset = v;
	return r;
}

static int parse_logout(struct nscell_parser *p, const struct nscell_keyword *kw,
			const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = { { "kill", NSCELL_LOGOUT_KILL }, { "drain", NSCELL_LOGOUT_DRAIN }, {} };
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->logout = v;
	return r;
}

static int parse_propagation(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = {
		{ "slave", NSCELL_PROPAGATION_SLAVE },
		{ "private", NSCELL_PROPAGATION_PRIVATE },
		{},
	};
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->propagation = v;
	return r;
}

static int parse_userns_fallback(struct nscell_parser *p, const struct nscell_keyword *kw,
				 const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = {
		{ "deny", NSCELL_USERNS_FALLBACK_DENY },
		{ "no-new-privs", NSCELL_USERNS_FALLBACK_NO_NEW_PRIVS },
		{},
	};
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->userns_fallback = v;
	return r;
}

/*
 * Lists may be separated by whitespace, by commas, or by both ("pid, mount").
 * An element missing between two commas, or before or after all of them, is
 * an error rather than something to skip: it is usually a deleted word.
 */
static int split_list(struct nscell_parser *p, const struct nscell_keyword *kw,
		      const struct nscell_token *values, size_t n,
		      struct nscell_token **ret, size_t *ret_n)
{
	const char *s = values[0].start, *end = values[n - 1].start + values[n - 1].len;
	_cleanup_free_ struct nscell_token *elems = NULL;
	const char *last_comma = NULL;
	bool element_since_comma = false, reported = false;
	size_t n_elems = 0, max = 1;
	int r = 0;

	for (const char *c = s; c < end; c++)
		if (*c == ',' || *c == ' ' || *c == '\t')
			max++;
	elems = calloc(max, sizeof(*elems));
	if (!elems)
		return -ENOMEM;

	for (const char *c = s;;) {
		while (c < end && (*c == ' ' || *c == '\t'))
			c++;
		if (c >= end)
			break;
		if (*c == ',') {
			struct nscell_token at = { c, 1 };
			reported = !element_since_comma;
			if (reported)
				r = nscell_parser_error(p, &at, "empty element in %s list; expected a name before this comma",
							kw->name);
			last_comma = c++;
			element_since_comma = false;
			continue;
		}
		const char *e = c;
		while (e < end && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		elems[n_elems++] = (struct nscell_token) { c, (size_t) (e - c) };
		element_since_comma = true;
		c = e;
	}
	if (last_comma && !element_since_comma && !reported) {
		struct nscell_token at = { last_comma, 1 };
		r = nscell_parser_error(p, &at, "empty element in %s list; expected a name after the last comma", kw->name);
	}

	*ret = TAKE_PTR(elems);
	*ret_n = n_elems;
	return r;
}

static int duplicate_entry(struct nscell_parser *p, const struct nscell_keyword *kw, const struct nscell_token *t)
{
	return nscell_parser_error(p, t, "duplicate entry '%.*s' in %s; expected each entry once",
				   (int) t->len, t->start, kw->name);
}

static const struct word namespace_words[] = {
	{ "pid", NSCELL_NS_PID },
	{ "mount", NSCELL_NS_MNT },
	{ "ipc", NSCELL_NS_IPC },
	{ "uts", NSCELL_NS_UTS },
	{ "net", NSCELL_NS_NET },
	{ "cgroup", NSCELL_NS_CGROUP },
	{ "user", NSCELL_NS_USER },
	{},
};

/* A list of namespace names; with allow_none_all, also "none" or "all" alone. */
static int parse_namespace_list(struct nscell_parser *p, const struct nscell_keyword *kw,
				const struct nscell_token *values, size_t n, bool allow_none_all,
				unsigned *ret)
{
	_cleanup_free_ struct nscell_token *elems = NULL;
	size_t n_elems = 0;
	unsigned mask = 0;
	int r;

	r = split_list(p, kw, values, n, &elems, &n_elems);
	if (r == -ENOMEM)
		return r;

	for (size_t i = 0; i < n_elems; i++) {
		const struct nscell_token *t = &elems[i];

		if (allow_none_all && (nscell_token_equal(t, "none") || nscell_token_equal(t, "all"))) {
			if (n_elems > 1) {
				r = nscell_parser_error(p, t, "'%.*s' combined with other entries in %s; expected %.*s alone",
							(int) t->len, t->start, kw->name, (int) t->len, t->start);
				continue;
			}
			mask = nscell_token_equal(t, "all") ? NSCELL_NS_ALL : 0;
			continue;
		}
		int bit = lookup_word(t, namespace_words);
		if (bit < 0) {
			r = nscell_parser_error(p, t, "unknown namespace '%.*s' in %s; expected %s",
						(int) t->len, t->start, kw->name, kw->expected);
			continue;
		}
		if (mask & (unsigned) bit) {
			r = duplicate_entry(p, kw, t);
			continue;
		}
		mask |= (unsigned) bit;
	}
	*ret = mask;
	return r;
}

static int parse_namespaces(struct nscell_parser *p, const struct nscell_keyword *kw,
			    const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	unsigned mask = 0;
	int r = parse_namespace_list(p, kw, values, n, false, &mask);

	if (r < 0)
		return r;
	/* A cell is a pid and a mount namespace; everything else builds on those. */
	for (unsigned bit = NSCELL_NS_PID; bit <= NSCELL_NS_MNT; bit <<= 1)
		if (!(mask & bit))
			return nscell_parser_error(p, &values[0], "Namespaces lacks %s; expected pid and mount, which every cell has",
						   nscell_namespace_name(bit));
	s->namespaces = mask;
	return 0;
}

static int parse_restrict_namespaces(struct nscell_parser *p, const struct nscell_keyword *kw,
				     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	unsigned mask = 0;
	int r = parse_namespace_list(p, kw, values, n, true, &mask);

	s->restrict_namespaces = mask;
	return r;
}

static int parse_drop_capabilities(struct nscell_parser *p, const struct nscell_keyword *kw,
				   const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	_cleanup_free_ struct nscell_token *elems = NULL;
	size_t n_elems = 0;
	uint64_t caps = 0;
	int r;

	r = split_list(p, kw, values, n, &elems, &n_elems);
	if (r == -ENOMEM)
		return r;

	for (size_t i = 0; i < n_elems; i++) {
		const struct nscell_token *t = &elems[i];
		_cleanup_free_ char *name = NULL;
		int cap = -1;
		bool has_prefix;

		if (nscell_token_equal(t, "none") || nscell_token_equal(t, "all")) {
			if (n_elems > 1) {
				r = nscell_parser_error(p, t, "'%.*s' combined with other entries in %s; expected %.*s alone",
							(int) t->len, t->start, kw->name, (int) t->len, t->start);
				continue;
			}
			caps = nscell_token_equal(t, "all") ? NSCELL_CAPS_ALL(CAP_LAST_CAP) : 0;
			continue;
		}

		/* Names only: the policy wants names people can read. */
		has_prefix = t->len >= 4 && strncasecmp(t->start, "cap_", 4) == 0;
		if (span(t->start, t->len, "0123456789") < t->len &&
		    asprintf(&name, "%s%.*s", has_prefix ? "" : "cap_", (int) t->len, t->start) < 0) {
			name = NULL;
			return -ENOMEM;
		}
		if (!name || (cap = nscell_cap_from_name(name)) < 0) {
			r = nscell_parser_error(p, t, "unknown capability '%.*s' in %s; expected %s",
						(int) t->len, t->start, kw->name, kw->expected);
			continue;
		}
		if (caps & (UINT64_C(1) << cap)) {
			r = duplicate_entry(p, kw, t);
			continue;
		}
		caps |= UINT64_C(1) << cap;
	}
	s->drop_caps = caps;
	return r;
}

/* RFC 1123: dot-separated labels of letters, digits and '-', each 1..63 long
 * and not starting or ending with '-'. */
static bool hostname_valid(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > NSCELL_HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

static int parse_hostname(struct nscell_parser *p, const struct nscell_keyword *kw,
			  const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	int r = check_single(p, kw, values, n);

	if (t->len > NSCELL_HOSTNAME_MAX)
		return nscell_parser_error(p, t, "Hostname is %zu characters long; expected at most %d",
					   t->len, NSCELL_HOSTNAME_MAX);
	if (!hostname_valid(t->start, t->len))
		return bad_value(p, kw, t);
	memcpy(s->hostname, t->start, t->len);
	s->hostname[t->len] = '\0';
	return r;
}

static int parse_persistent_root(struct nscell_parser *p, const struct nscell_keyword *kw,
				 const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	size_t len = t->len;
	int r = check_single(p, kw, values, n);

	if (t->start[0] != '/')
		return nscell_parser_error(p, t, "PersistentRoot '%.*s' is not an absolute path; expected a path starting with /",
					   (int) t->len, t->start);
	if (len >= sizeof(s->persistent_root))
		return nscell_parser_error(p, t, "PersistentRoot is %zu bytes long; expected fewer than %zu",
					   len, sizeof(s->persistent_root));
	for (size_t i = 0; i + 1 < len; i++)
		if (t->start[i] == '/' && t->start[i + 1] == '/')
			return nscell_parser_error(p, t, "PersistentRoot '%.*s' contains '//'; expected single slashes",
						   (int) t->len, t->start);
	/* A trailing slash names the same directory; drop it so the path has
	 * one spelling. */
	if (len > 1 && t->start[len - 1] == '/')
		len--;
	for (size_t i = 0; i < len;) {
		size_t j = i + 1, comp;

		while (j < len && t->start[j] != '/')
			j++;
		comp = j - i - 1;
		if ((comp == 1 && t->start[i + 1] == '.') ||
		    (comp == 2 && t->start[i + 1] == '.' && t->start[i + 2] == '.'))
			return nscell_parser_error(p, t, "PersistentRoot '%.*s' contains a '.' or '..' component; expected a plain absolute path",
						   (int) t->len, t->start);
		i = j;
	}
	memcpy(s->persistent_root, t->start, len);
	s->persistent_root[len] = '\0';
	return r;
}

/* Leading decimal digits of [s, s + len) into *ret; false on none or overflow. */
static bool parse_digits(const char *s, size_t len, uint64_t *ret, size_t *ret_consumed)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		unsigned d = (unsigned) (s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		i++;
	}
	*ret = v;
	*ret_consumed = i;
	return i > 0;
}

/* "N" times a suffix from suffixes[] (K=1024...), the whole string. */
static bool parse_scaled(const char *s, size_t len, const char *suffixes, uint64_t *ret)
{
	uint64_t v, mult = 1;
	size_t used;

	if (!parse_digits(s, len, &v, &used))
		return false;
	if (used < len) {
		const char *hit;

		if (used + 1 != len || s[used] == '\0' || !(hit = strchr(suffixes, tolower((unsigned char) s[used]))))
			return false;
		for (ptrdiff_t k = 0; k <= hit - suffixes; k++)
			mult *= 1024;
	}
	if (v > UINT64_MAX / mult)
		return false;
	*ret = v * mult;
	return true;
}

enum { OPT_SIZE, OPT_INODES, OPT_MODE, _OPT_MAX };
static const struct word tmpfs_options[] = {
	{ "size", OPT_SIZE },
	{ "inodes", OPT_INODES },
	{ "mode", OPT_MODE },
	{},
};

static int parse_tmpfs_option(struct nscell_parser *p, const struct nscell_keyword *kw, int opt,
			      const struct nscell_token *t, const char *v, size_t len,
			      struct nscell_dir_setting *d)
{
	uint64_t n = 0;
	size_t used = 0;

	switch (opt) {
	case OPT_SIZE:
		if (len > 0 && v[len - 1] == '%') {
			if (!parse_digits(v, len - 1, &n, &used) || used != len - 1 || n < 1 || n > 100)
				break;
			d->size_percent = (unsigned) n;
			return 0;
		}
		if (!parse_scaled(v, len, "kmg", &n) || n == 0)
			break;
		d->size = n;
		return 0;
	case OPT_INODES:
		if (!parse_scaled(v, len, "km", &n) || n == 0)
			break;
		d->nr_inodes = n;
		return 0;
	case OPT_MODE:
		if (len == 0 || len > 6 || span(v, len, "01234567") < len)
			break;
		for (size_t i = 0; i < len; i++)
			n = n * 8 + (uint64_t) (v[i] - '0');
		if (n > 07777)
			break;
		d->mode = (mode_t) n;
		return 0;
	}

	static const char *const forms[_OPT_MAX] = {
		[OPT_SIZE] = "size=N[K|M|G] with N > 0, or size=N% with N from 1 to 100",
		[OPT_INODES] = "inodes=N[k|m] with N > 0",
		[OPT_MODE] = "an octal mode up to 7777, such as mode=1777",
	};
	return nscell_parser_error(p, t, "invalid tmpfs option '%.*s' for %s; expected %s",
				   (int) t->len, t->start, kw->name, forms[opt]);
}

static int parse_dir(struct nscell_parser *p, const struct nscell_keyword *kw,
		     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word kinds[] = {
		{ "tmpfs", NSCELL_DIR_TMPFS },
		{ "persistent", NSCELL_DIR_PERSISTENT },
		{ "shared", NSCELL_DIR_SHARED },
		{},
	};
	struct nscell_dir_setting d = { .mode = 01777 };
	bool seen[_OPT_MAX] = {};
	int kind, r = 0;

	kind = lookup_word(&values[0], kinds);
	if (kind < 0)
		return bad_value(p, kw, &values[0]);
	d.kind = kind;

	for (size_t i = 1; i < n; i++) {
		const struct nscell_token *t = &values[i];
		const char *eq = memchr(t->start, '=', t->len);
		struct nscell_token name = { t->start, eq ? (size_t) (eq - t->start) : t->len };
		int opt = eq ? lookup_word(&name, tmpfs_options) : -1;

		if (d.kind != NSCELL_DIR_TMPFS) {
			if (opt >= 0)
				r = nscell_parser_error(p, t, "option '%.*s' for %s is only valid with tmpfs; expected nothing after %s",
							(int) t->len, t->start, kw->name, nscell_dir_kind_name(d.kind));
			else
				r = nscell_parser_error(p, t, "unexpected extra value '%.*s' for %s; expected nothing after %s",
							(int) t->len, t->start, kw->name, nscell_dir_kind_name(d.kind));
			continue;
		}
		if (opt < 0) {
			r = nscell_parser_error(p, t, "unknown tmpfs option '%.*s' for %s; expected size=, inodes= or mode=",
						(int) t->len, t->start, kw->name);
			continue;
		}
		if (seen[opt]) {
			r = nscell_parser_error(p, t, "tmpfs option %.*s= given twice for %s; expected each option at most once",
						(int) name.len, name.start, kw->name);
			continue;
		}
		seen[opt] = true;
		if (parse_tmpfs_option(p, kw, opt, t, eq + 1, t->len - name.len - 1, &d) < 0)
			r = -EINVAL;
	}
	s->dirs[nscell_key_to_dir(kw->key)] = d;
	return r;
}

#define DRAIN_LIMIT_MAX_SEC (UINT64_C(30) * 86400)

static int parse_drain_limit(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct {
		const char *unit;
		uint64_t sec;
	} units[] = { { "", 1 }, { "s", 1 }, { "min", 60 }, { "h", 3600 }, { "d", 86400 } };
	const struct nscell_token *t = &values[0];
	int r = check_single(p, kw, values, n);
	uint64_t v;
	size_t used;

	if (!parse_digits(t->start, t->len, &v, &used))
		return bad_value(p, kw, t);
	struct nscell_token unit = { t->start + used, t->len - used };
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(units); i++) {
		if (!nscell_token_equal(&unit, units[i].unit))
			continue;
		if (v == 0 || v > DRAIN_LIMIT_MAX_SEC / units[i].sec)
			return nscell_parser_error(p, t, "DrainLimit '%.*s' is out of range; expected a duration from 1s to 30d",
						   (int) t->len, t->start);
		s->drain_limit_sec = v * units[i].sec;
		return r;
	}
	return bad_value(p, kw, t);
}

static int parse_max_cells(struct nscell_parser *p, const struct nscell_keyword *kw,
			   const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	const struct nscell_token *t = &values[0];
	int r = check_single(p, kw, values, n);
	uint64_t v;
	size_t used;

	if (!parse_digits(t->start, t->len, &v, &used) || used != t->len)
		return bad_value(p, kw, t);
	if (v == 0 || v > NSCELL_MAX_CELLS_MAX)
		return nscell_parser_error(p, t, "MaxCells '%.*s' is out of range; expected a number from 1 to %u",
					   (int) t->len, t->start, NSCELL_MAX_CELLS_MAX);
	s->max_cells = (unsigned) v;
	return r;
}

#define NAMESPACE_NAMES "pid, mount, ipc, uts, net, cgroup or user"
#define LIMIT_BYTES "a size such as 512M or 4G (K, M, G, T: base 1024), N% of memory, or infinity"
#define DIR_FORMS "tmpfs [size=N[K|M|G]|size=N%] [inodes=N[k|m]] [mode=OCTAL], persistent or shared"

static int parse_protect_home(struct nscell_parser *p, const struct nscell_keyword *kw,
			      const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = {
		{ "no", NSCELL_PROTECT_HOME_NO },
		{ "own", NSCELL_PROTECT_HOME_OWN },
		{ "read-only", NSCELL_PROTECT_HOME_READ_ONLY },
		{ "tmpfs", NSCELL_PROTECT_HOME_TMPFS },
		{ "yes", NSCELL_PROTECT_HOME_YES },
		{},
	};
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->protect_home = v;
	return r;
}

static int parse_protect_system(struct nscell_parser *p, const struct nscell_keyword *kw,
				const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	static const struct word w[] = {
		{ "no", NSCELL_PROTECT_SYSTEM_NO },
		{ "yes", NSCELL_PROTECT_SYSTEM_YES },
		{ "full", NSCELL_PROTECT_SYSTEM_FULL },
		{ "strict", NSCELL_PROTECT_SYSTEM_STRICT },
		{},
	};
	int v = 0, r = parse_enum(p, kw, values, n, w, &v);
	s->protect_system = v;
	return r;
}

/* Paths under these are anyone's to plant things in (or, private, empty
 * when the view is made): no root mount goes there. */
static const char *const shared_writable[] = { "/tmp", "/var/tmp", "/dev/shm" };

/* The *Paths keys: entries kept as written (specifiers are the helper's to
 * expand, per user), each checked for form here. */
static int parse_view_paths(struct nscell_parser *p, const struct nscell_keyword *kw,
			    const struct nscell_token *values, size_t n, struct nscell_settings *s)
{
	enum nscell_view_list l = nscell_key_to_view_list(kw->key);
	bool bind = l == NSCELL_VIEW_BIND || l == NSCELL_VIEW_BIND_READ_ONLY;
	char *out = s->view_paths[l];
	size_t used = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		const struct nscell_token *t = &values[i];
		const char *why = nscell_view_check_entry(t->start, t->len, bind);

		if (why) {
			r = nscell_parser_error(p, t, "invalid %s entry '%.*s': %s", kw->name, (int) t->len,
						t->start, why);
			continue;
		}
		for (size_t d = 0; d < NSCELL_ELEMENTSOF(shared_writable); d++) {
			const char *c = t->start + (t->start[0] == '-'), *e = t->start + t->len;
			size_t dl = strlen(shared_writable[d]);
			/* Each path of the entry: SRC, and DST after a ':'. */
			for (const char *q = c; q && q < e; q = memchr(q, ':', (size_t) (e - q)), q = q ? q + 1 : NULL)
				if ((size_t) (e - q) >= dl && memcmp(q, shared_writable[d], dl) == 0 &&
				    (q + dl == e || q[dl] == '/' || q[dl] == ':')) {
					why = shared_writable[d];
					break;
				}
			if (why)
				break;
		}
		if (why) {
			r = nscell_parser_error(p, t, "%s entry '%.*s' is under %s, where any user can plant files; expected a path elsewhere",
						kw->name, (int) t->len, t->start, why);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (values[j].len == t->len && memcmp(values[j].start, t->start, t->len) == 0) {
				why = "";
				break;
			}
		if (why) {
			r = duplicate_entry(p, kw, t);
			continue;
		}
		if (used + t->len + 2 > NSCELL_VIEW_LIST_SIZE) {
			r = nscell_parser_error(p, t, "%s is too long; expected at most %d bytes of paths",
						kw->name, NSCELL_VIEW_LIST_SIZE - 1);
			break;
		}
		if (used)
			out[used++] = ' ';
		memcpy(out + used, t->start, t->len);
		used += t->len;
	}
	out[used] = '\0';
	return r;
}

#define PATHS_FORM "absolute paths (a leading - ignores a missing one; specifiers %u %U %h %g %G %%)"
#define BIND_FORM "SRC or SRC:DST, absolute paths (a leading - ignores a missing SRC; specifiers %u %U %h %g %G %%)"

static const struct nscell_keyword keywords[] = {
	{ "Isolate", NSCELL_KEY_ISOLATE, "yes or no", parse_isolate },
	{ "Scope", NSCELL_KEY_SCOPE, "session or user", parse_scope },
	{ "Namespaces", NSCELL_KEY_NAMESPACES, NAMESPACE_NAMES, parse_namespaces },
	{ "Hostname", NSCELL_KEY_HOSTNAME, "an RFC 1123 host name of at most 64 characters", parse_hostname },
	{ "ProcHidePid", NSCELL_KEY_PROC_HIDEPID, "off, noaccess or invisible", parse_hidepid },
	{ "ProcSubset", NSCELL_KEY_PROC_SUBSET, "all or pid", parse_proc_subset },
	{ "Tmp", NSCELL_KEY_TMP, DIR_FORMS, parse_dir },
	{ "VarTmp", NSCELL_KEY_VARTMP, DIR_FORMS, parse_dir },
	{ "DevShm", NSCELL_KEY_DEVSHM, DIR_FORMS, parse_dir },
	{ "PersistentRoot", NSCELL_KEY_PERSISTENT_ROOT, "an absolute path", parse_persistent_root },
	{ "Logout", NSCELL_KEY_LOGOUT, "kill or drain", parse_logout },
	{ "DrainLimit", NSCELL_KEY_DRAIN_LIMIT, "a duration from 1s to 30d such as 90s, 10min, 2h or 1d", parse_drain_limit },
	{ "Propagation", NSCELL_KEY_PROPAGATION, "slave or private", parse_propagation },
	{ "NoNewPrivs", NSCELL_KEY_NO_NEW_PRIVS, "yes or no", parse_no_new_privs },
	{ "DropCapabilities", NSCELL_KEY_DROP_CAPABILITIES, "none, all or capability names such as cap_sys_admin", parse_drop_capabilities },
	{ "RestrictNamespaces", NSCELL_KEY_RESTRICT_NAMESPACES, "none, all or " NAMESPACE_NAMES, parse_restrict_namespaces },
	{ "UserNamespaceFallback", NSCELL_KEY_USERNS_FALLBACK, "deny or no-new-privs", parse_userns_fallback },
	{ "MaxCells", NSCELL_KEY_MAX_CELLS, "a number of cells from 1 to 1024", parse_max_cells },
	{ "PrivateDevices", NSCELL_KEY_PRIVATE_DEVICES, "yes or no", parse_private_devices },
	{ "PrivateLogins", NSCELL_KEY_PRIVATE_LOGINS, "yes or no", parse_private_logins },
	{ "ProtectHome", NSCELL_KEY_PROTECT_HOME, "no, own, read-only, tmpfs or yes", parse_protect_home },
	{ "ProtectSystem", NSCELL_KEY_PROTECT_SYSTEM, "no, yes, full or strict", parse_protect_system },
	{ "ReadOnlyPaths", NSCELL_KEY_READ_ONLY_PATHS, PATHS_FORM, parse_view_paths },
	{ "ReadWritePaths", NSCELL_KEY_READ_WRITE_PATHS, PATHS_FORM, parse_view_paths },
	{ "InaccessiblePaths", NSCELL_KEY_INACCESSIBLE_PATHS, PATHS_FORM, parse_view_paths },
	{ "BindPaths", NSCELL_KEY_BIND_PATHS, BIND_FORM, parse_view_paths },
	{ "BindReadOnlyPaths", NSCELL_KEY_BIND_READ_ONLY_PATHS, BIND_FORM, parse_view_paths },
	{ "MemoryMax", NSCELL_KEY_MEMORY_MAX, LIMIT_BYTES, nscell_parse_limit_bytes },
	{ "MemoryHigh", NSCELL_KEY_MEMORY_HIGH, LIMIT_BYTES, nscell_parse_limit_bytes },
	{ "MemorySwapMax", NSCELL_KEY_MEMORY_SWAP_MAX, LIMIT_BYTES, nscell_parse_limit_bytes },
	{ "TasksMax", NSCELL_KEY_TASKS_MAX, "a number of tasks, N% or infinity", nscell_parse_limit_tasks },
	{ "CPUQuota", NSCELL_KEY_CPU_QUOTA, "a percentage of one CPU such as 50% or 200%, or infinity", nscell_parse_cpu_quota },
	{ "CPUWeight", NSCELL_KEY_CPU_WEIGHT, "a weight from 1 to 10000, or default", nscell_parse_weight },
	{ "IOWeight", NSCELL_KEY_IO_WEIGHT, "a weight from 1 to 10000, or default", nscell_parse_weight },
	{ "LimitsUnavailable", NSCELL_KEY_LIMITS_UNAVAILABLE, "refuse or ignore", nscell_parse_limits_unavailable },
};

const struct nscell_keyword *nscell_keyword_lookup(const char *name, size_t len)
{
	struct nscell_token t = { name, len };

	for (size_t i = 0; i < NSCELL_ELEMENTSOF(keywords); i++)
		if (nscell_token_equal(&t, keywords[i].name))
			return &keywords[i];
	return NULL;
}

/* Case-insensitive Levenshtein distance, or SIZE_MAX when above limit. The
 * word is ours and short, so one row on the stack suffices; the input is
 * bounded by the length check before any work. */
static size_t edit_distance(const char *in, size_t in_len, const char *word, size_t limit)
{
	size_t w_len = strlen(word), row[32];

	if (w_len + 1 > NSCELL_ELEMENTSOF(row) ||
	    (in_len > w_len ? in_len - w_len : w_len - in_len) > limit)
		return SIZE_MAX;

	for (size_t j = 0; j <= w_len; j++)
		row[j] = j;
	for (size_t i = 1; i <= in_len; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= w_len; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char) in[i - 1]) != tolower((unsigned char) word[j - 1]);
			size_t best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[w_len] <= limit ? row[w_len] : SIZE_MAX;
}

const char *nscell_keyword_suggest(const char *name, size_t len)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, d;

	for (size_t i = 0; i <= NSCELL_ELEMENTSOF(keywords); i++) {
		const char *word = i < NSCELL_ELEMENTSOF(keywords) ? keywords[i].name : "Match";
		d = edit_distance(name, len, word, 2);
		if (d < best_d) {
			best_d = d;
			best = word;
		}
	}
	return best;
}

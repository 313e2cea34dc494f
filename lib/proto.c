/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every message's head, body checks and encoders (proto.h says the rules),
 * the version 0 formats that inits of 0.1.0 and 0.2.0 still speak, and fd
 * passing. The request decoder is the first thing the setuid helper runs on
 * caller data: it trusts no length, no terminator and no key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

#define REQUEST_TAG_V0 "NSCELL1" /* version 0's request, before its text */

void nscell_msg_head_init(struct nscell_msg_head *h, uint32_t op, size_t size)
{
	*h = (struct nscell_msg_head){
		.magic = NSCELL_PROTO_MAGIC,
		.op = (uint16_t)op,
		.version = NSCELL_PROTO_VERSION,
		.size = (uint32_t)size,
	};
}

int nscell_msg_head_decode(const void *buf, size_t len, struct nscell_msg_head *ret)
{
	struct nscell_msg_head h;
	uint32_t v0_op;

	if (len < 2 * sizeof(uint32_t))
		return -EPROTO;
	memcpy(&h.magic, buf, sizeof(h.magic));
	if (h.magic != NSCELL_PROTO_MAGIC)
		return -EPROTO;
	/* Version 0 had a uint32 op (1-5) where op and version are now: with
	 * a version of 1 or more, that word is 65536 or more in either byte
	 * order. */
	memcpy(&v0_op, (const char *)buf + sizeof(uint32_t), sizeof(v0_op));
	if (v0_op <= 0xffff)
		return -ENOMSG;
	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	if (h.version == 0)
		return -ENOMSG;
	*ret = h;
	if (h.version > NSCELL_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h.size != len || h.error != 0)
		return -EPROTO;
	return 0;
}

int nscell_msg_answer_check(const void *buf, size_t len, uint32_t op, size_t size)
{
	struct nscell_msg_head h;

	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	/* An answer is in the version of its request: ours. */
	if (h.magic != NSCELL_PROTO_MAGIC || h.op != op || h.size != len)
		return -EPROTO;
	if (h.error < 0 && len == sizeof(h)) {
		/* A newer reader answers an unknown request in its own version. */
		if (h.error == -EPROTONOSUPPORT || h.version == NSCELL_PROTO_VERSION)
			return h.error;
		return -EPROTO;
	}
	if (h.version != NSCELL_PROTO_VERSION || h.error != 0 || len != size)
		return -EPROTO;
	return 0;
}

struct field {
	const char *key;
	size_t offset;
};

static const struct field request_fields[] = {
	{ "user", offsetof(struct nscell_request, user) },
	{ "service", offsetof(struct nscell_request, service) },
	{ "tty", offsetof(struct nscell_request, tty) },
	{ "rhost", offsetof(struct nscell_request, rhost) },
	{ "ruser", offsetof(struct nscell_request, ruser) },
	{ "conf", offsetof(struct nscell_request, conf) },
};

static bool text_ok(const char *s, size_t n)
{
	/* Printable bytes only: these values end up in logs and in status
	 * output, where control characters could forge lines. UTF-8 passes. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int put(char *buf, size_t size, size_t *pos, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);

	if (kl + 1 + vl + 1 > size - *pos)
		return -E2BIG;
	memcpy(buf + *pos, key, kl);
	buf[*pos + kl] = '=';
	memcpy(buf + *pos + kl + 1, value, vl);
	buf[*pos + kl + 1 + vl] = '\0';
	*pos += kl + 1 + vl + 1;
	return 0;
}

/* The decision's keys: bits in the decoder's `seen`, all or none. */
enum {
	SEEN_UID = 1u << 20,
	SEEN_GID = 1u << 21,
	SEEN_HOME = 1u << 22,
	SEEN_SHELL = 1u << 23,
	SEEN_SETTINGS = 1u << 24,
	SEEN_GROUPS = 1u << 25, /* optional: not part of SEEN_DECISION */
	SEEN_DECISION = SEEN_UID | SEEN_GID | SEEN_HOME | SEEN_SHELL | SEEN_SETTINGS,
};

/* A uid or gid in decimal: digits only, and never (uid_t)-1, which the
 * kernel reads as "unchanged". */
static bool parse_id(const char *v, size_t n, uint32_t *ret)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x >= UINT32_MAX)
		return false;
	*ret = (uint32_t)x;
	return true;
}

/* A path from passwd as the helper uses it: "" or absolute, no ".." step. */
static bool path_ok(const char *v, size_t n)
{
	if (n == 0)
		return true;
	if (v[0] != '/')
		return false;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && v[j] != '/')
			j++;
		if (j - i == 2 && v[i] == '.' && v[i + 1] == '.')
			return false;
		i = j + 1;
	}
	return true;
}

static bool string_ok(const char *s, size_t size)
{
	size_t n = strnlen(s, size);
	return n < size && text_ok(s, n);
}

static bool flag_ok(const bool *b)
{
	unsigned char c;
	memcpy(&c, b, 1);
	return c <= 1;
}

/*
 * The bounds of every setting, as the policy's parsers produce them: what a
 * buggy caller must not get past. The caller is root and could choose any
 * values the policy could; out of range is never one of them.
 */
static bool settings_ok(const struct nscell_settings *s)
{
	const struct nscell_limits *l = &s->limits;
	const struct nscell_limit *lims[] = { &l->memory_max, &l->memory_high, &l->memory_swap_max,
					      &l->tasks_max };

	if (!flag_ok(&s->isolate) || !s->isolate || !flag_ok(&s->no_new_privs) ||
	    !flag_ok(&s->private_devices) || !flag_ok(&s->private_logins))
		return false;
	if ((unsigned)s->scope > NSCELL_SCOPE_USER || (s->namespaces & ~(unsigned)NSCELL_NS_ALL) ||
	    (s->namespaces & (NSCELL_NS_PID | NSCELL_NS_MNT)) != (NSCELL_NS_PID | NSCELL_NS_MNT) ||
	    (s->restrict_namespaces & ~(unsigned)NSCELL_NS_ALL))
		return false;
	if (!string_ok(s->hostname, sizeof(s->hostname)) ||
	    strspn(s->hostname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
		    strlen(s->hostname) ||
	    (s->hostname[0] && !(s->namespaces & NSCELL_NS_UTS)))
		return false;
	if ((unsigned)s->proc_hidepid > NSCELL_HIDEPID_INVISIBLE ||
	    (unsigned)s->proc_subset > NSCELL_PROC_SUBSET_PID)
		return false;
	for (size_t i = 0; i < _NSCELL_DIR_MAX; i++) {
		const struct nscell_dir_setting *d = &s->dirs[i];
		if ((unsigned)d->kind > NSCELL_DIR_SHARED || d->size_percent > 100 || d->mode > 07777)
			return false;
	}
	if (!string_ok(s->persistent_root, sizeof(s->persistent_root)) ||
	    !path_ok(s->persistent_root, strlen(s->persistent_root)))
		return false;
	if ((unsigned)s->logout > NSCELL_LOGOUT_DRAIN || s->drain_limit_sec > 30 * 86400 ||
	    (unsigned)s->propagation > NSCELL_PROPAGATION_PRIVATE ||
	    (unsigned)s->userns_fallback > NSCELL_USERNS_FALLBACK_NO_NEW_PRIVS ||
	    s->max_cells < 1 || s->max_cells > NSCELL_MAX_CELLS_MAX ||
	    (unsigned)s->protect_home > NSCELL_PROTECT_HOME_YES ||
	    (unsigned)s->protect_system > NSCELL_PROTECT_SYSTEM_STRICT)
		return false;
	for (size_t i = 0; i < _NSCELL_VIEW_LIST_MAX; i++)
		if (!string_ok(s->view_paths[i], NSCELL_VIEW_LIST_SIZE))
			return false;
	for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++)
		if (lims[i]->percent > 100)
			return false;
	if (l->cpu_weight > 10000 || l->io_weight > 10000 ||
	    (unsigned)s->limits_unavailable > NSCELL_LIMITS_UNAVAILABLE_IGNORE)
		return false;
	return true;
}

/* Zero what follows each string's terminator: two equal decisions are equal
 * bytes (the registry compares a cell's settings with a login's). */
static void clean(char *str, size_t size)
{
	size_t n = strlen(str);
	memset(str + n, 0, size - n);
}

static void settings_clean(struct nscell_settings *s)
{
	clean(s->hostname, sizeof(s->hostname));
	clean(s->persistent_root, sizeof(s->persistent_root));
	for (size_t i = 0; i < _NSCELL_VIEW_LIST_MAX; i++)
		clean(s->view_paths[i], NSCELL_VIEW_LIST_SIZE);
}

int nscell_request_decide(struct nscell_request *r, uid_t uid, gid_t gid, const char *home,
			  const char *shell, const struct nscell_settings *s)
{
	if (strlen(home) >= sizeof(r->home) || strlen(shell) >= sizeof(r->shell))
		return -ENAMETOOLONG;
	if (uid == (uid_t)-1 || gid == (gid_t)-1 || !settings_ok(s) ||
	    !text_ok(home, strlen(home)) || !path_ok(home, strlen(home)) ||
	    !text_ok(shell, strlen(shell)) || !path_ok(shell, strlen(shell)))
		return -EINVAL;
	r->decided = true;
	r->uid = uid;
	r->gid = gid;
	strcpy(r->home, home);
	strcpy(r->shell, shell);
	r->settings = *s;
	return 0;
}

int nscell_request_groups(struct nscell_request *r, const gid_t *gids, size_t n)
{
	if (!r->decided || n == 0 || gids[0] != r->gid)
		return -EINVAL;
	if (n > NSCELL_REQUEST_GROUPS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		if (gids[i] == (gid_t)-1)
			return -EINVAL;
	memcpy(r->gids, gids, n * sizeof(gid_t));
	r->n_gids = n;
	return 0;
}

/* "1000,27,100": the value of groups=. */
static bool parse_gids(const char *v, size_t n, gid_t *gids, size_t *ret_n)
{
	size_t count = 0;

	for (size_t i = 0; i <= n;) {
		size_t len = strcspn(v + i, ",");
		uint32_t id;
		if (i + len > n)
			len = n - i;
		if (count == NSCELL_REQUEST_GROUPS_MAX || !parse_id(v + i, len, &id))
			return false;
		gids[count++] = (gid_t)id;
		i += len + 1;
	}
	*ret_n = count;
	return true;
}

int nscell_request_open(struct nscell_request *r, const char *user, const char *service,
			const char *tty, const char *rhost, const char *ruser, const char *conf,
			bool debug)
{
	/* In the order of request_fields. */
	const char *v[] = { user, service, tty, rhost, ruser, conf };
	_Static_assert(sizeof(v) / sizeof(v[0]) == sizeof(request_fields) / sizeof(request_fields[0]),
		       "one value per request field");

	*r = (struct nscell_request){ .verb = NSCELL_VERB_OPEN, .debug = debug };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *dst = (char *)r + request_fields[i].offset;
		if (!v[i])
			continue;
		if (strlen(v[i]) >= NSCELL_FIELD_MAX)
			return -ENAMETOOLONG;
		strcpy(dst, v[i]);
	}
	return 0;
}

ssize_t nscell_request_encode(const struct nscell_request *r, char *buf, size_t size)
{
	size_t pos = 0;
	int rc;

	struct nscell_msg_head h;

	if (size < sizeof(h))
		return -E2BIG;
	pos = sizeof(h);

	if (r->verb != NSCELL_VERB_OPEN)
		return -EINVAL;
	rc = put(buf, size, &pos, "verb", "open");
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(request_fields) / sizeof(request_fields[0]); i++) {
		const char *v = (const char *)r + request_fields[i].offset;
		if (!v[0])
			continue;
		rc = put(buf, size, &pos, request_fields[i].key, v);
		if (rc < 0)
			return rc;
	}
	if (r->debug) {
		rc = put(buf, size, &pos, "debug", "1");
		if (rc < 0)
			return rc;
	}
	if (r->decided) {
		char num[3][24];
		snprintf(num[0], sizeof(num[0]), "%u", (unsigned)r->uid);
		snprintf(num[1], sizeof(num[1]), "%u", (unsigned)r->gid);
		snprintf(num[2], sizeof(num[2]), "%zu", sizeof(r->settings));
		if ((rc = put(buf, size, &pos, "uid", num[0])) < 0 ||
		    (rc = put(buf, size, &pos, "gid", num[1])) < 0 ||
		    (rc = put(buf, size, &pos, "home", r->home)) < 0 ||
		    (rc = put(buf, size, &pos, "shell", r->shell)) < 0)
			return rc;
		if (r->n_gids > 0) {
			char list[NSCELL_REQUEST_GROUPS_MAX * 11];
			size_t n = 0;
			if (r->n_gids > NSCELL_REQUEST_GROUPS_MAX)
				return -E2BIG;
			for (size_t i = 0; i < r->n_gids; i++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%u", i ? "," : "",
						      (unsigned)r->gids[i]);
			if ((rc = put(buf, size, &pos, "groups", list)) < 0)
				return rc;
		}
		if ((rc = put(buf, size, &pos, "settings", num[2])) < 0)
			return rc;
		/* Last: the bytes of the settings, after their key's terminator. */
		if (sizeof(r->settings) > size - pos)
			return -E2BIG;
		memcpy(buf + pos, &r->settings, sizeof(r->settings));
		pos += sizeof(r->settings);
	}
	if (pos > NSCELL_REQUEST_MAX)
		return -E2BIG;
	nscell_msg_head_init(&h, NSCELL_OP_OPEN, pos);
	memcpy(buf, &h, sizeof(h));
	return (ssize_t)pos;
}

int nscell_request_decode(const char *buf, size_t len, struct nscell_request *ret)
{
	struct nscell_request r = { 0 };
	struct nscell_msg_head h;
	unsigned seen = 0; /* bit per field, plus verb and debug */
	size_t pos;
	int rc;

	if (len > NSCELL_REQUEST_MAX)
		return -E2BIG;
	if (len >= sizeof(REQUEST_TAG_V0) && memcmp(buf, REQUEST_TAG_V0, sizeof(REQUEST_TAG_V0)) == 0)
		return -EPROTONOSUPPORT;
	rc = nscell_msg_head_decode(buf, len, &h);
	if (rc == -EPROTONOSUPPORT)
		return rc;
	if (rc < 0 || h.op != NSCELL_OP_OPEN)
		return -EINVAL;

	for (pos = sizeof(h); pos < len;) {
		const char *entry = buf + pos;
		size_t n = strnlen(entry, len - pos);
		const char *eq = memchr(entry, '=', n);
		size_t kl, vl;
		bool known = false;

		if (n == len - pos)
			return -EINVAL; /* unterminated */
		pos += n + 1;
		if (!eq)
			return -EINVAL;
		kl = (size_t)(eq - entry);
		vl = n - kl - 1;
		if (!text_ok(eq + 1, vl))
			return -EINVAL;

		if ((kl == 3 && memcmp(entry, "uid", 3) == 0) || (kl == 3 && memcmp(entry, "gid", 3) == 0)) {
			unsigned bit = entry[0] == 'u' ? SEEN_UID : SEEN_GID;
			uint32_t v;
			if (seen & bit || !parse_id(eq + 1, vl, &v))
				return -EINVAL;
			seen |= bit;
			if (bit == SEEN_UID)
				r.uid = (uid_t)v;
			else
				r.gid = (gid_t)v;
			continue;
		}
		if ((kl == 4 && memcmp(entry, "home", 4) == 0) ||
		    (kl == 5 && memcmp(entry, "shell", 5) == 0)) {
			unsigned bit = kl == 4 ? SEEN_HOME : SEEN_SHELL;
			char *dst = kl == 4 ? r.home : r.shell;
			if (seen & bit || vl >= NSCELL_FIELD_MAX || !path_ok(eq + 1, vl))
				return -EINVAL;
			seen |= bit;
			memcpy(dst, eq + 1, vl);
			continue;
		}
		if (kl == 6 && memcmp(entry, "groups", 6) == 0) {
			if (seen & SEEN_GROUPS || !parse_gids(eq + 1, vl, r.gids, &r.n_gids))
				return -EINVAL;
			seen |= SEEN_GROUPS;
			continue;
		}
		if (kl == 8 && memcmp(entry, "settings", 8) == 0) {
			uint32_t bytes;
			/* The last key: its value is the size of what follows. */
			if (!parse_id(eq + 1, vl, &bytes) || bytes != len - pos)
				return -EINVAL;
			seen |= SEEN_SETTINGS;
			if (bytes != sizeof(r.settings)) {
				seen &= ~(unsigned)SEEN_DECISION; /* another build's: decide again */
				pos = len;
				break;
			}
			memcpy(&r.settings, buf + pos, bytes);
			if (!settings_ok(&r.settings))
				return -EINVAL;
			settings_clean(&r.settings);
			pos = len;
			break;
		}

		if (kl == 4 && memcmp(entry, "verb", 4) == 0) {
			if (seen & (1u << 30) || vl != 4 || memcmp(eq + 1, "open", 4) != 0)
				return -EINVAL;
			seen |= 1u << 30;
			r.verb = NSCELL_VERB_OPEN;
			continue;
		}
		if (kl == 5 && memcmp(entry, "debug", 5) == 0) {
			if (seen & (1u << 29) || vl != 1 || (eq[1] != '0' && eq[1] != '1'))
				return -EINVAL;
			seen |= 1u << 29;
			r.debug = eq[1] == '1';
			continue;
		}
		for (size_t i = 0; i < sizeof(request_fields) / sizeof(request_fields[0]); i++) {
			const struct field *f = &request_fields[i];
			if (strlen(f->key) != kl || memcmp(entry, f->key, kl) != 0)
				continue;
			if (seen & (1u << i))
				return -EINVAL; /* a key given twice is ambiguous */
			if (vl == 0 || vl >= NSCELL_FIELD_MAX)
				return -EINVAL;
			seen |= 1u << i;
			memcpy((char *)&r + f->offset, eq + 1, vl);
			known = true;
			break;
		}
		if (!known)
			return -EINVAL;
	}

	if (r.verb != NSCELL_VERB_OPEN || !r.user[0])
		return -EINVAL;
	/* A decision is complete, or there is none: then the helper decides. */
	if (seen & SEEN_DECISION) {
		if ((seen & SEEN_DECISION) != SEEN_DECISION)
			return -EINVAL;
		/* The primary group first, as the module resolved it. */
		if (r.n_gids > 0 && r.gids[0] != r.gid)
			return -EINVAL;
		r.decided = true;
	} else {
		/* Nothing of a decision left behind, in any byte: a request of
		 * another build's settings came with the rest of one. */
		r.n_gids = 0;
		r.uid = 0;
		r.gid = 0;
		memset(r.home, 0, sizeof(r.home));
		memset(r.shell, 0, sizeof(r.shell));
		memset(&r.settings, 0, sizeof(r.settings));
	}
	*ret = r;
	return 0;
}

void nscell_reply_init(struct nscell_reply *r)
{
	memset(r, 0, sizeof(*r));
	nscell_msg_head_init(&r->head, NSCELL_OP_OPEN, sizeof(*r));
}

int nscell_reply_check(struct nscell_reply *r, size_t len)
{
	if (nscell_msg_answer_check(r, len, NSCELL_OP_OPEN, sizeof(*r)) != 0)
		return -EPROTO;
	r->cell_id[sizeof(r->cell_id) - 1] = '\0';
	r->message[sizeof(r->message) - 1] = '\0';
	r->settings.hostname[sizeof(r->settings.hostname) - 1] = '\0';
	r->settings.persistent_root[sizeof(r->settings.persistent_root) - 1] = '\0';
	for (size_t i = 0; i < _NSCELL_VIEW_LIST_MAX; i++)
		r->settings.view_paths[i][NSCELL_VIEW_LIST_SIZE - 1] = '\0';
	return 0;
}

int nscell_init_msg_check(struct nscell_init_msg *m, size_t len)
{
	struct nscell_msg_head h;

	if (len != sizeof(*m) || nscell_msg_head_decode(m, len, &h) != 0 ||
	    h.op != NSCELL_OP_INIT_CONFIG)
		return -EPROTO;
	m->config.cell_id[sizeof(m->config.cell_id) - 1] = '\0';
	m->settings.hostname[sizeof(m->settings.hostname) - 1] = '\0';
	m->settings.persistent_root[sizeof(m->settings.persistent_root) - 1] = '\0';
	return 0;
}

static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void nscell_cell_join_encode(struct nscell_cell_join *j, pid_t opener_pid, const char *service,
			     const char *tty, const char *rhost)
{
	memset(j, 0, sizeof(*j));
	nscell_msg_head_init(&j->head, NSCELL_CELL_JOIN, sizeof(*j));
	j->opener_pid = opener_pid;
	copy_field(j->service, sizeof(j->service), service);
	copy_field(j->tty, sizeof(j->tty), tty);
	copy_field(j->rhost, sizeof(j->rhost), rhost);
}

static void join_terminate(struct nscell_cell_join *j)
{
	/* Logged and shown in status: bounded here, escaped where shown. */
	j->service[sizeof(j->service) - 1] = '\0';
	j->tty[sizeof(j->tty) - 1] = '\0';
	j->rhost[sizeof(j->rhost) - 1] = '\0';
}

int nscell_cell_join_check(struct nscell_cell_join *j, size_t len)
{
	if (len != sizeof(*j) || j->head.op != NSCELL_CELL_JOIN)
		return -EPROTO;
	join_terminate(j);
	return 0;
}

/* Skip the zero 8-byte words at b (at most n bytes); *at advances past them.
 * Whether any was skipped. The part is mostly such words. */
static bool zero_words(const uint8_t *b, size_t n, size_t *at)
{
	size_t k = 0;

	for (uint64_t w; n - k >= 8 && (memcpy(&w, b + k, 8), w == 0); k += 8)
		;
	*at += k;
	return k > 0;
}

ssize_t nscell_settings_pack(const struct nscell_settings *set, uint8_t *out, size_t cap)
{
	const uint8_t *b = (const uint8_t *)set;
	const size_t n = sizeof(*set);
	size_t used = 0;

	for (size_t at = 0, end, z; at < n; at = end) {
		uint16_t off, len;

		if (at % 8 == 0 && zero_words(b + at, n - at, &at)) {
			end = at;
			continue;
		}
		if (!b[at]) {
			end = at + 1;
			continue;
		}
		/* A record runs till a zero run as long as a record's head:
		 * cutting a shorter one would not make the whole shorter. */
		for (end = at; end < n;) {
			if (b[end]) {
				end++;
				continue;
			}
			for (z = end; z < n && !b[z] && z - end < 4; z++)
				;
			if (z == n || z - end >= 4)
				break;
			end = z;
		}
		if (end - at + 4 > cap - used)
			return -E2BIG;
		off = (uint16_t)at;
		len = (uint16_t)(end - at);
		memcpy(out + used, &off, 2);
		memcpy(out + used + 2, &len, 2);
		memcpy(out + used + 4, b + at, len);
		used += 4 + (size_t)len;
	}
	return (ssize_t)used;
}

/* Whether `n` bytes at `in` are records of a struct nscell_settings: each
 * whole, not empty, inside it, after the one before. */
static bool packed_valid(const uint8_t *in, size_t n)
{
	size_t at = 0;

	for (size_t p = 0; p < n;) {
		uint16_t off, len;

		if (n - p < 4)
			return false;
		memcpy(&off, in + p, 2);
		memcpy(&len, in + p + 2, 2);
		p += 4;
		if (len == 0 || off < at || len > sizeof(struct nscell_settings) - off || len > n - p)
			return false;
		at = (size_t)off + len;
		p += len;
	}
	return true;
}

int nscell_settings_unpack(const uint8_t *in, size_t n, struct nscell_settings *set)
{
	if (!packed_valid(in, n))
		return -EPROTO;
	memset(set, 0, sizeof(*set));
	for (size_t p = 0; p < n;) {
		uint16_t off, len;

		memcpy(&off, in + p, 2);
		memcpy(&len, in + p + 2, 2);
		memcpy((uint8_t *)set + off, in + p + 4, len);
		p += 4 + (size_t)len;
	}
	return 0;
}

ssize_t nscell_cell_join_same_encode(struct nscell_cell_join_same *m, pid_t opener_pid,
				     const char *service, const char *tty, const char *rhost,
				     const struct nscell_settings *part)
{
	ssize_t used;

	memset(m, 0, offsetof(struct nscell_cell_join_same, part));
	nscell_cell_join_encode(&m->join, opener_pid, service, tty, rhost);
	m->settings_size = (uint32_t)sizeof(*part);
	used = nscell_settings_pack(part, m->part, sizeof(m->part));
	if (used < 0)
		return used;
	used += (ssize_t)offsetof(struct nscell_cell_join_same, part);
	nscell_msg_head_init(&m->join.head, NSCELL_CELL_JOIN_SAME, (size_t)used);
	return used;
}

_Static_assert(sizeof(struct nscell_settings) <= UINT16_MAX, "packed settings address the struct by 16 bits");

int nscell_cell_join_same_check(struct nscell_cell_join_same *m, size_t len, const uint8_t *cell,
				size_t cell_len)
{
	size_t n;

	if (len < offsetof(struct nscell_cell_join_same, part) || len > sizeof(*m) ||
	    m->join.head.op != NSCELL_CELL_JOIN_SAME ||
	    m->settings_size != sizeof(struct nscell_settings))
		return -EPROTO;
	join_terminate(&m->join);
	n = len - offsetof(struct nscell_cell_join_same, part);
	if (!packed_valid(m->part, n))
		return -EPROTO;
	/* One packing of given bytes (nscell_settings_pack): the same
	 * settings are the same records. */
	return n == cell_len && memcmp(m->part, cell, n) == 0 ? 0 : NSCELL_CELL_DIFFERS;
}

static void terminate_sessions(struct nscell_cell_status *st)
{
	if (st->n_sessions < NSCELL_STATUS_SESSIONS_MAX)
		memset(&st->sessions[st->n_sessions], 0,
		       sizeof(st->sessions[0]) * (NSCELL_STATUS_SESSIONS_MAX - st->n_sessions));
	for (size_t i = 0; i < NSCELL_STATUS_SESSIONS_MAX; i++) {
		struct nscell_cell_session *s = &st->sessions[i];
		s->service[sizeof(s->service) - 1] = '\0';
		s->tty[sizeof(s->tty) - 1] = '\0';
		s->rhost[sizeof(s->rhost) - 1] = '\0';
	}
}

int nscell_cell_status_check(struct nscell_cell_status *st, size_t len, const char *id)
{
	int rc = nscell_msg_answer_check(st, len, NSCELL_CELL_STATUS, sizeof(*st));

	if (rc < 0)
		return rc;
	st->config.cell_id[sizeof(st->config.cell_id) - 1] = '\0';
	if (strcmp(st->config.cell_id, id) != 0)
		return -EPROTO;
	terminate_sessions(st);
	return 0;
}

int nscell_cell_settings_check(struct nscell_cell_settings *a, size_t len)
{
	int rc = nscell_msg_answer_check(a, len, NSCELL_CELL_SETTINGS, sizeof(*a));

	if (rc < 0)
		return rc;
	a->settings.hostname[sizeof(a->settings.hostname) - 1] = '\0';
	a->settings.persistent_root[sizeof(a->settings.persistent_root) - 1] = '\0';
	for (size_t i = 0; i < _NSCELL_VIEW_LIST_MAX; i++)
		a->settings.view_paths[i][NSCELL_VIEW_LIST_SIZE - 1] = '\0';
	return 0;
}

/* ---- version 0 ------------------------------------------------------------ */

void nscell_v0_request(uint32_t req[2], uint32_t op)
{
	req[0] = NSCELL_PROTO_MAGIC;
	req[1] = op;
}

void nscell_v0_join_encode(struct nscell_v0_join *j, pid_t opener_pid, const char *service,
			   const char *tty, const char *rhost)
{
	memset(j, 0, sizeof(*j));
	j->magic = NSCELL_PROTO_MAGIC;
	j->op = NSCELL_CELL_JOIN;
	j->opener_pid = opener_pid;
	copy_field(j->service, sizeof(j->service), service);
	copy_field(j->tty, sizeof(j->tty), tty);
	copy_field(j->rhost, sizeof(j->rhost), rhost);
}

int nscell_v0_reply_decode(const void *buf, size_t len, uint32_t op, struct nscell_cell_reply *ret)
{
	struct nscell_v0_reply r;

	if (len != sizeof(r))
		return -EPROTO;
	memcpy(&r, buf, sizeof(r));
	if (r.magic != NSCELL_PROTO_MAGIC || r.op != op)
		return -EPROTO;
	if (r.error < 0)
		return r.error;
	*ret = (struct nscell_cell_reply){
		.head = { .magic = NSCELL_PROTO_MAGIC, .op = (uint16_t)op, .version = 0,
			  .size = (uint32_t)len },
		.session_no = r.session_no,
		.namespaces = r.namespaces,
	};
	return 0;
}

int nscell_v0_status_decode(const struct nscell_v0_status *v0, size_t len, const char *id,
			    struct nscell_cell_status *ret)
{
	if (len != sizeof(*v0) || v0->magic != NSCELL_PROTO_MAGIC || v0->op != NSCELL_CELL_STATUS ||
	    v0->config.magic != NSCELL_PROTO_MAGIC)
		return -EPROTO;
	memset(ret, 0, sizeof(*ret));
	ret->head = (struct nscell_msg_head){ .magic = NSCELL_PROTO_MAGIC,
					      .op = NSCELL_CELL_STATUS,
					      .version = 0,
					      .size = (uint32_t)len };
	memcpy(ret->config.cell_id, v0->config.cell_id, sizeof(ret->config.cell_id));
	ret->config.uid = v0->config.uid;
	ret->config.scope = v0->config.scope;
	ret->config.namespaces = v0->config.namespaces;
	ret->config.logout = v0->config.logout;
	ret->config.drain_limit_sec = v0->config.drain_limit_sec;
	ret->config.created_usec = v0->config.created_usec;
	ret->config.init_pid_host = v0->config.init_pid_host;
	ret->config.has_userns = v0->config.has_userns;
	ret->state = v0->state;
	ret->n_sessions = v0->n_sessions;
	ret->n_processes = v0->n_processes;
	memcpy(ret->sessions, v0->sessions, sizeof(ret->sessions));
	ret->config.cell_id[sizeof(ret->config.cell_id) - 1] = '\0';
	if (strcmp(ret->config.cell_id, id) != 0)
		return -EPROTO;
	terminate_sessions(ret);
	return 0;
}

/* ---- the one message sent without waiting for an answer ---------------- */

void nscell_cell_leave(int sock, unsigned version)
{
	union {
		struct nscell_msg_head v1;
		uint32_t v0[2];
	} m;
	size_t len = sizeof(m.v1);

	if (version == 0) {
		nscell_v0_request(m.v0, NSCELL_CELL_LEAVE);
		len = sizeof(m.v0);
	} else {
		nscell_msg_head_init(&m.v1, NSCELL_CELL_LEAVE, sizeof(m.v1));
	}
	(void)!send(sock, &m, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* ---- fd passing ----------------------------------------------------------- */

int nscell_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds > 4)
		return -EINVAL;
	if (n_fds > 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

ssize_t nscell_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max_fds,
			size_t *ret_n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	size_t got = 0;
	ssize_t n;

	for (size_t i = 0; i < max_fds; i++)
		fds[i] = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < max_fds)
				fds[got++] = fd;
			else
				close(fd); /* never leak what we did not ask for */
		}
	}
	if (ret_n_fds)
		*ret_n_fds = got;
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (size_t i = 0; i < got; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		if (ret_n_fds)
			*ret_n_fds = 0;
		return -EMSGSIZE;
	}
	return n;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The message heads and bodies of proto.c: encode, decode and validate, in
 * this release's version, in version 0 (what inits of 0.1.0 and 0.2.0
 * still speak after an upgrade) and in a newer one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "registry.h"
#include "settings-keys.h"
#include "test-util.h"

static void test_head_round_trip(void **state)
{
	struct nscell_msg_head h, got;

	nscell_msg_head_init(&h, NSCELL_CELL_STATUS, sizeof(h));
	assert_int_equal(h.magic, NSCELL_PROTO_MAGIC);
	assert_int_equal(h.version, NSCELL_PROTO_VERSION);
	assert_int_equal(nscell_msg_head_decode(&h, sizeof(h), &got), 0);
	assert_int_equal(got.op, NSCELL_CELL_STATUS);
	assert_int_equal(got.size, sizeof(h));
}

static void test_head_refusals(void **state)
{
	struct nscell_msg_head h, got;
	uint32_t v0[2];

	/* Truncated: shorter than a head, or than version 0's two words. */
	nscell_msg_head_init(&h, NSCELL_CELL_STATUS, sizeof(h));
	assert_int_equal(nscell_msg_head_decode(&h, sizeof(h) - 1, &got), -EPROTO);
	assert_int_equal(nscell_msg_head_decode(&h, 7, &got), -EPROTO);
	assert_int_equal(nscell_msg_head_decode(&h, 0, &got), -EPROTO);
	/* A size field that is not the message's. */
	h.size = sizeof(h) + 4;
	assert_int_equal(nscell_msg_head_decode(&h, sizeof(h), &got), -EPROTO);
	/* Not ours. */
	nscell_msg_head_init(&h, NSCELL_CELL_STATUS, sizeof(h));
	h.magic ^= 1;
	assert_int_equal(nscell_msg_head_decode(&h, sizeof(h), &got), -EPROTO);
	/* A request carries no error. */
	nscell_msg_head_init(&h, NSCELL_CELL_STATUS, sizeof(h));
	h.error = -EIO;
	assert_int_equal(nscell_msg_head_decode(&h, sizeof(h), &got), -EPROTO);

	/* Version 0: {magic, op}, alone or as the start of a JOIN. */
	nscell_v0_request(v0, NSCELL_CELL_STATUS);
	assert_int_equal(nscell_msg_head_decode(v0, sizeof(v0), &got), -ENOMSG);
	{
		struct nscell_v0_join j;
		nscell_v0_join_encode(&j, 42, "sshd", "pts/0", "192.0.2.1");
		assert_int_equal(nscell_msg_head_decode(&j, sizeof(j), &got), -ENOMSG);
	}
}

static void test_head_newer_version(void **state)
{
	struct nscell_msg_head h, got;

	/* Any size: a newer version's sizes are not ours to judge. */
	nscell_msg_head_init(&h, NSCELL_CELL_JOIN, 999);
	h.version = NSCELL_PROTO_VERSION + 1;
	memset(&got, 0, sizeof(got));
	assert_int_equal(nscell_msg_head_decode(&h, sizeof(h), &got), -EPROTONOSUPPORT);
	assert_int_equal(got.op, NSCELL_CELL_JOIN);
	assert_int_equal(got.version, NSCELL_PROTO_VERSION + 1);
}

static void test_versioned_head_is_unknown_to_version_0(void **state)
{
	/* What a version 0 init reads as its op: never one it knows (1-5). */
	for (uint32_t op = 1; op <= NSCELL_OP_INIT_CONFIG; op++) {
		struct nscell_msg_head h;
		uint32_t v0_op;

		nscell_msg_head_init(&h, op, sizeof(h));
		memcpy(&v0_op, (char *)&h + 4, sizeof(v0_op));
		assert_true(v0_op > 0xffff);
	}
}

static void test_answer_check(void **state)
{
	struct nscell_cell_reply r;

	nscell_msg_head_init(&r.head, NSCELL_CELL_JOIN, sizeof(r));
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r), NSCELL_CELL_JOIN, sizeof(r)), 0);
	/* Another op, another size, a truncated one. */
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r), NSCELL_CELL_STATUS, sizeof(r)),
			 -EPROTO);
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r), NSCELL_CELL_JOIN, sizeof(r) + 1),
			 -EPROTO);
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r.head) - 1, NSCELL_CELL_JOIN,
						 sizeof(r)),
			 -EPROTO);
	/* An error answer is the head alone, and says its error. */
	nscell_msg_head_init(&r.head, NSCELL_CELL_JOIN, sizeof(r.head));
	r.head.error = -ESTALE;
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r.head), NSCELL_CELL_JOIN, sizeof(r)),
			 -ESTALE);
	/* An error with a body is not an answer. */
	nscell_msg_head_init(&r.head, NSCELL_CELL_JOIN, sizeof(r));
	r.head.error = -ESTALE;
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r), NSCELL_CELL_JOIN, sizeof(r)),
			 -EPROTO);
	/* A newer reader refuses our request in its own version. */
	nscell_msg_head_init(&r.head, NSCELL_CELL_SETTINGS, sizeof(r.head));
	r.head.version = NSCELL_PROTO_VERSION + 1;
	r.head.error = -EPROTONOSUPPORT;
	assert_int_equal(nscell_msg_answer_check(&r, sizeof(r.head), NSCELL_CELL_SETTINGS, 64),
			 -EPROTONOSUPPORT);
	/* But no answer of its own version is one to read. */
	r.head.error = 0;
	r.head.size = 64;
	assert_int_equal(nscell_msg_answer_check(&r, 64, NSCELL_CELL_SETTINGS, 64), -EPROTO);
}

static struct nscell_request sample_request(void)
{
	struct nscell_request r = { .verb = NSCELL_VERB_OPEN, .debug = 1 };

	strcpy(r.user, "alice");
	strcpy(r.service, "sshd");
	strcpy(r.tty, "ssh");
	strcpy(r.rhost, "192.0.2.1");
	return r;
}

static void test_request_round_trip(void **state)
{
	struct nscell_request r = sample_request(), got;
	char buf[NSCELL_REQUEST_MAX];
	struct nscell_msg_head h;
	ssize_t n;

	n = nscell_request_encode(&r, buf, sizeof(buf));
	assert_true(n > (ssize_t)sizeof(h));
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.op, NSCELL_OP_OPEN);
	assert_int_equal(h.size, n);
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), 0);
	assert_string_equal(got.user, "alice");
	assert_string_equal(got.rhost, "192.0.2.1");
	assert_int_equal(got.debug, 1);
	/* Too small a buffer for the head alone. */
	assert_int_equal(nscell_request_encode(&r, buf, 8), -E2BIG);
}

/* Append raw bytes to an encoded request and fix its head's size. */
static size_t append(char *buf, size_t n, const void *more, size_t len)
{
	struct nscell_msg_head h;

	memcpy(buf + n, more, len);
	memcpy(&h, buf, sizeof(h));
	h.size = (uint32_t)(n + len);
	memcpy(buf, &h, sizeof(h));
	return n + len;
}

static void test_request_decision(void **state)
{
	static const char partial[] = "uid=1000\0gid=1000\0";
	static const char other_build[] = "uid=1000\0gid=1000\0home=/home/alice\0shell=/bin/sh\0settings=8\0";
	struct nscell_request r = sample_request(), got, plain = sample_request();
	struct nscell_settings set;
	char buf[NSCELL_REQUEST_MAX];
	ssize_t n;

	nscell_settings_init(&set);
	set.isolate = true;
	strcpy(set.view_paths[NSCELL_VIEW_READ_ONLY], "/srv");
	assert_int_equal(nscell_request_decide(&r, 1000, 100, "/home/alice", "/bin/sh", &set), 0);
	n = nscell_request_encode(&r, buf, sizeof(buf));
	assert_true(n > (ssize_t)sizeof(set));
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), 0);
	assert_true(got.decided);
	assert_int_equal(got.uid, 1000);
	assert_int_equal(got.gid, 100);
	assert_string_equal(got.home, "/home/alice");
	assert_string_equal(got.shell, "/bin/sh");
	assert_memory_equal(&got.settings, &set, sizeof(set));
	/* Cut anywhere inside the settings: refused, never half read. */
	assert_int_equal(nscell_request_decode(buf, (size_t)n - 1, &got), -EINVAL);

	/* What no decision may carry, from the module or from a buggy one. */
	assert_int_equal(nscell_request_decide(&plain, (uid_t)-1, 100, "/h", "", &set), -EINVAL);
	assert_int_equal(nscell_request_decide(&plain, 1000, 100, "/home/../etc", "", &set), -EINVAL);
	assert_int_equal(nscell_request_decide(&plain, 1000, 100, "home", "", &set), -EINVAL);
	set.isolate = false;
	assert_int_equal(nscell_request_decide(&plain, 1000, 100, "/h", "", &set), -EINVAL);
	set.isolate = true;
	assert_false(plain.decided);
	{
		struct nscell_settings bad[6];
		for (size_t i = 0; i < 6; i++)
			bad[i] = set;
		bad[0].scope = 7;
		bad[1].namespaces = NSCELL_NS_IPC;
		bad[2].max_cells = 0;
		bad[3].view_paths[0][NSCELL_VIEW_LIST_SIZE - 1] = 'x';
		memset(bad[3].view_paths[0], 'x', NSCELL_VIEW_LIST_SIZE);
		bad[4].limits.cpu_weight = 10001;
		strcpy(bad[5].hostname, "a\nb");
		bad[5].namespaces |= NSCELL_NS_UTS;
		for (size_t i = 0; i < 6; i++) {
			r.settings = bad[i]; /* past nscell_request_decide, as a buggy caller */
			n = nscell_request_encode(&r, buf, sizeof(buf));
			assert_true(n > 0);
			assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), -EINVAL);
		}
	}

	/* Half a decision is refused; another build's settings are dropped. */
	n = nscell_request_encode(&plain, buf, sizeof(buf));
	assert_int_equal(nscell_request_decode(buf, append(buf, (size_t)n, partial, sizeof(partial) - 1),
					       &got), -EINVAL);
	n = nscell_request_encode(&plain, buf, sizeof(buf));
	n = (ssize_t)append(buf, (size_t)n, other_build, sizeof(other_build) - 1);
	assert_int_equal(nscell_request_decode(buf, append(buf, (size_t)n, "12345678", 8), &got), 0);
	assert_false(got.decided);
	assert_int_equal(got.uid, 0);
	assert_string_equal(got.user, "alice");
}

/* The groups a user namespace maps, sent with a decision so the static
 * nscell-open needs no NSS. */
static void test_request_groups(void **state)
{
	static const char *const bad[] = { "100,27,100,", "200,27,1000", "100,27,1x00",
					   "100,,7,1000", "100,27,-100" };
	struct nscell_request r = sample_request(), got;
	struct nscell_settings set;
	char buf[NSCELL_REQUEST_MAX], *at;
	const gid_t gids[] = { 100, 27, 1000 }, wrong_primary[] = { 27, 100 };
	gid_t many[NSCELL_REQUEST_GROUPS_MAX + 1];
	ssize_t n;

	nscell_settings_init(&set);
	set.isolate = true;
	set.namespaces |= NSCELL_NS_USER;
	/* Only with a decision, and the primary group first. */
	assert_int_equal(nscell_request_groups(&r, gids, 3), -EINVAL);
	assert_int_equal(nscell_request_decide(&r, 1000, 100, "/home/alice", "/bin/sh", &set), 0);
	assert_int_equal(nscell_request_groups(&r, wrong_primary, 2), -EINVAL);
	assert_int_equal(nscell_request_groups(&r, gids, 0), -EINVAL);

	/* Without groups: none decoded (the full build then looks them up). */
	n = nscell_request_encode(&r, buf, sizeof(buf));
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), 0);
	assert_true(got.decided);
	assert_int_equal(got.n_gids, 0);

	assert_int_equal(nscell_request_groups(&r, gids, 3), 0);
	n = nscell_request_encode(&r, buf, sizeof(buf));
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), 0);
	assert_int_equal(got.n_gids, 3);
	assert_memory_equal(got.gids, gids, sizeof(gids));

	/* The most a gid_map takes, each gid of ten digits, fits; one more does not. */
	for (size_t i = 0; i < NSCELL_REQUEST_GROUPS_MAX + 1; i++)
		many[i] = i ? 4000000000u + (gid_t)i : 100;
	assert_int_equal(nscell_request_groups(&r, many, NSCELL_REQUEST_GROUPS_MAX + 1), -E2BIG);
	assert_int_equal(nscell_request_groups(&r, many, NSCELL_REQUEST_GROUPS_MAX), 0);
	n = nscell_request_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), 0);
	assert_int_equal(got.n_gids, NSCELL_REQUEST_GROUPS_MAX);
	assert_memory_equal(got.gids, many, NSCELL_REQUEST_GROUPS_MAX * sizeof(gid_t));

	/* A malformed list, or one whose first is not the primary group. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(nscell_request_groups(&r, gids, 3), 0);
		n = nscell_request_encode(&r, buf, sizeof(buf));
		at = memmem(buf, (size_t)n, "groups=100,27,1000", 18);
		assert_non_null(at);
		memcpy(at + 7, bad[i], 11);
		assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), -EINVAL);
	}
}

static void test_request_versions(void **state)
{
	static const char v0[] = "NSCELL1\0verb=open\0user=alice\0";
	struct nscell_request r = sample_request(), got;
	char buf[NSCELL_REQUEST_MAX];
	struct nscell_msg_head h;
	ssize_t n;

	/* 0.1.0 and 0.2.0's module: recognised, not misread. */
	assert_int_equal(nscell_request_decode(v0, sizeof(v0) - 1, &got), -EPROTONOSUPPORT);
	/* A newer module. */
	n = nscell_request_encode(&r, buf, sizeof(buf));
	memcpy(&h, buf, sizeof(h));
	h.version = NSCELL_PROTO_VERSION + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), -EPROTONOSUPPORT);
	/* Our version with a size that is not the message's, another op, a
	 * truncated head, a message cut short. */
	h.version = NSCELL_PROTO_VERSION;
	h.size = (uint32_t)n - 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), -EINVAL);
	h.size = (uint32_t)n;
	h.op = NSCELL_CELL_STATUS;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), -EINVAL);
	h.op = NSCELL_OP_OPEN;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(nscell_request_decode(buf, 10, &got), -EINVAL);
	assert_int_equal(nscell_request_decode(buf, (size_t)n - 1, &got), -EINVAL);
	assert_int_equal(nscell_request_decode(buf, (size_t)n, &got), 0);
}

static void test_reply_check(void **state)
{
	struct nscell_reply r;

	nscell_reply_init(&r);
	memset(r.message, 'x', sizeof(r.message));
	assert_int_equal(nscell_reply_check(&r, sizeof(r)), 0);
	assert_int_equal(strlen(r.message), sizeof(r.message) - 1);
	assert_int_equal(nscell_reply_check(&r, sizeof(r) - 1), -EPROTO);
	r.head.version = 0;
	assert_int_equal(nscell_reply_check(&r, sizeof(r)), -EPROTO);
}

static void test_init_msg_check(void **state)
{
	static struct nscell_init_msg m;

	memset(&m, 0, sizeof(m));
	nscell_msg_head_init(&m.head, NSCELL_OP_INIT_CONFIG, sizeof(m));
	memset(m.config.cell_id, 'a', sizeof(m.config.cell_id));
	assert_int_equal(nscell_init_msg_check(&m, sizeof(m)), 0);
	assert_int_equal(strlen(m.config.cell_id), sizeof(m.config.cell_id) - 1);
	m.head.op = NSCELL_CELL_STATUS;
	assert_int_equal(nscell_init_msg_check(&m, sizeof(m)), -EPROTO);
}

static void test_join(void **state)
{
	struct nscell_cell_join j;

	nscell_cell_join_encode(&j, 7, "a-service-name-that-is-longer-than-sixty-four-bytes-of-field-room",
				NULL, "host");
	assert_int_equal(strlen(j.service), sizeof(j.service) - 1);
	assert_string_equal(j.tty, "");
	memset(j.rhost, 'h', sizeof(j.rhost));
	assert_int_equal(nscell_cell_join_check(&j, sizeof(j)), 0);
	assert_int_equal(strlen(j.rhost), sizeof(j.rhost) - 1);
	assert_int_equal(nscell_cell_join_check(&j, sizeof(j) - 1), -EPROTO);
}

/* JOIN_SAME checked against a cell's settings, packed as the init keeps them. */
static int same_check(struct nscell_cell_join_same *m, size_t len, const struct nscell_settings *cell)
{
	static uint8_t kept[NSCELL_SETTINGS_PACKED_MAX];
	ssize_t n = nscell_settings_pack(cell, kept, sizeof(kept));

	assert_true(n >= 0);
	return nscell_cell_join_same_check(m, len, kept, (size_t)n);
}

static void test_join_same(void **state)
{
	static struct nscell_settings set, part, other;
	struct nscell_cell_join_same m;
	struct nscell_msg_head h;
	ssize_t n;

	nscell_settings_init(&set);
	set.scope = NSCELL_SCOPE_USER;
	nscell_settings_cell_part(&set, &part);
	n = nscell_cell_join_same_encode(&m, 7, "sshd", "pts/1", "host", &part);
	/* Sparse: a few records, not the 5 kB of the settings. */
	assert_true(n > (ssize_t)sizeof(m.join) && n < (ssize_t)sizeof(m.join) + 128);
	assert_int_equal(m.settings_size, sizeof(struct nscell_settings));
	assert_int_equal(m.join.head.op, NSCELL_CELL_JOIN_SAME);
	assert_int_equal(m.join.head.size, n);
	assert_int_equal(nscell_msg_head_decode(&m, (size_t)n, &h), 0);
	assert_int_equal(same_check(&m, (size_t)n, &part), 0);
	assert_string_equal(m.join.service, "sshd");
	/* Any byte of the cell's part otherwise: differs, wherever it is
	 * (in a record, between records, after the last one). */
	for (size_t i = 0; i < sizeof(part); i += 7) {
		other = part;
		((uint8_t *)&other)[i] ^= 0x5a;
		assert_int_equal(same_check(&m, (size_t)n, &other), NSCELL_CELL_DIFFERS);
	}
	/* Cut, bent or padded records: malformed, never read past; cut at a
	 * record's end, a part with fewer bytes, which differs. */
	for (size_t cut = 0; cut < offsetof(struct nscell_cell_join_same, part); cut++)
		assert_int_equal(same_check(&m, cut, &part), -EPROTO);
	for (size_t cut = offsetof(struct nscell_cell_join_same, part); cut < (size_t)n; cut++) {
		int rc = same_check(&m, cut, &part);
		assert_true(rc == -EPROTO || rc == NSCELL_CELL_DIFFERS);
	}
	assert_int_equal(same_check(&m, (size_t)n + 1, &part), -EPROTO);
	assert_int_equal(same_check(&m, sizeof(m) + 1, &part), -EPROTO);
	{
		struct nscell_cell_join_same bent = m;
		uint16_t off = UINT16_MAX;

		bent.settings_size++; /* another build's layout */
		assert_int_equal(same_check(&bent, (size_t)n, &part), -EPROTO);
		bent = m;
		memcpy(bent.part, &off, 2); /* a record past the settings */
		assert_int_equal(same_check(&bent, (size_t)n, &part), -EPROTO);
		bent = m;
		off = 0;
		memcpy(bent.part + 2, &off, 2); /* an empty record */
		assert_int_equal(same_check(&bent, (size_t)n, &part), -EPROTO);
	}
	/* Strings are bounded by the check. */
	memset(m.join.tty, 't', sizeof(m.join.tty));
	assert_int_equal(same_check(&m, (size_t)n, &part), 0);
	assert_int_equal(strlen(m.join.tty), sizeof(m.join.tty) - 1);
	/* A plain JOIN is not one. */
	assert_int_equal(nscell_cell_join_check(&m.join, sizeof(m.join)), -EPROTO);
	/* A part with too many non-zero runs does not fit: asked otherwise. */
	for (size_t i = 0; i < sizeof(other); i++)
		((uint8_t *)&other)[i] = (uint8_t)(i % 2);
	assert_int_equal(nscell_cell_join_same_encode(&m, 7, NULL, NULL, NULL, &other), -E2BIG);
}

/*
 * Across an upgrade, a login of this release asks an init of 0.4.0, which
 * reads every request into a JOIN's room and closes, unanswered, on one that
 * does not fit: the EOF on which the asker falls back to SETTINGS and JOIN.
 */
static void test_join_same_to_an_older_init(void **state)
{
	static struct nscell_settings set, part;
	struct nscell_cell_join_same m;
	union {
		struct nscell_cell_join join;
		struct nscell_msg_head head;
	} room; /* what helper/init-conn.c of 0.4.0 reads into */
	int sv[2], fds[1], pass[2];
	size_t n_fds = 9;
	ssize_t n;

	nscell_settings_init(&set);
	nscell_settings_cell_part(&set, &part);
	n = nscell_cell_join_same_encode(&m, 7, "sshd", NULL, NULL, &part);
	/* Never a JOIN's size: PID and MNT are always in the part. */
	assert_true(n > (ssize_t)sizeof(room));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(pass, O_CLOEXEC), 0);
	assert_int_equal(nscell_send_fds(sv[0], &m, (size_t)n, &pass[0], 1), 0);
	/* 0.4.0 takes it whole into a JOIN's room: truncated, its fd not
	 * kept (so it closes the connection: EOF to the asker). */
	assert_int_equal(nscell_recv_fds(sv[1], &room, sizeof(room), fds, 1, &n_fds), -EMSGSIZE);
	assert_int_equal(n_fds, 0);
	assert_int_equal(fds[0], -1);
	close(pass[0]);
	close(pass[1]);
	close(sv[0]);
	close(sv[1]);
}

/* What the asker does with each answer to JOIN_SAME (lib/registry.c). */
static void test_join_same_next(void **state)
{
	assert_int_equal(nscell_registry_join_same_next(0), NSCELL_JOIN_SAME_JOINED);
	/* An init of 0.4.0 or of version 0 (EOF), one that knows the size but
	 * not the op, a newer one, other bytes: SETTINGS and JOIN decide. */
	assert_int_equal(nscell_registry_join_same_next(-ECONNRESET), NSCELL_JOIN_SAME_ASK);
	assert_int_equal(nscell_registry_join_same_next(-EOPNOTSUPP), NSCELL_JOIN_SAME_ASK);
	assert_int_equal(nscell_registry_join_same_next(-EPROTO), NSCELL_JOIN_SAME_ASK);
	assert_int_equal(nscell_registry_join_same_next(-EMSGSIZE), NSCELL_JOIN_SAME_ASK);
	assert_int_equal(nscell_registry_join_same_next(-EPROTONOSUPPORT), NSCELL_JOIN_SAME_ASK);
	assert_int_equal(nscell_registry_join_same_next(NSCELL_CELL_DIFFERS), NSCELL_JOIN_SAME_ASK);
	/* No cell, or one ending: a new one. */
	assert_int_equal(nscell_registry_join_same_next(-ENOENT), NSCELL_JOIN_SAME_GONE);
	assert_int_equal(nscell_registry_join_same_next(-ECONNREFUSED), NSCELL_JOIN_SAME_GONE);
	assert_int_equal(nscell_registry_join_same_next(-ESTALE), NSCELL_JOIN_SAME_GONE);
	assert_int_equal(nscell_registry_join_same_next(-EPIPE), NSCELL_JOIN_SAME_GONE);
	/* A hung init is not asked twice more. */
	assert_int_equal(nscell_registry_join_same_next(-ETIMEDOUT), NSCELL_JOIN_SAME_FAIL);
	assert_int_equal(nscell_registry_join_same_next(-ENOMEM), NSCELL_JOIN_SAME_FAIL);
}

static void test_status(void **state)
{
	static struct nscell_cell_status st;

	memset(&st, 0, sizeof(st));
	nscell_msg_head_init(&st.head, NSCELL_CELL_STATUS, sizeof(st));
	strcpy(st.config.cell_id, "user-1000");
	st.n_sessions = 1;
	memset(st.sessions[0].tty, 't', sizeof(st.sessions[0].tty));
	memset(st.sessions[1].tty, 't', sizeof(st.sessions[1].tty)); /* beyond n_sessions */
	assert_int_equal(nscell_cell_status_check(&st, sizeof(st), "user-1000"), 0);
	assert_int_equal(strlen(st.sessions[0].tty), sizeof(st.sessions[0].tty) - 1);
	assert_string_equal(st.sessions[1].tty, "");
	assert_int_equal(nscell_cell_status_check(&st, sizeof(st), "user-1001"), -EPROTO);
}

/* What an init of 0.1.0 or 0.2.0 answers, read by this release. */
static void test_v0_status(void **state)
{
	static struct nscell_v0_status v0;
	static struct nscell_cell_status st;

	memset(&v0, 0, sizeof(v0));
	v0.magic = v0.config.magic = NSCELL_PROTO_MAGIC;
	v0.op = NSCELL_CELL_STATUS;
	strcpy(v0.config.cell_id, "user-1000");
	v0.config.uid = 1000;
	v0.config.scope = 1;
	v0.config.namespaces = 5;
	v0.config.init_pid_host = 4242;
	v0.config.created_usec = 123456789;
	v0.state = NSCELL_CELL_ACTIVE;
	v0.n_sessions = 1;
	v0.n_processes = 3;
	strcpy(v0.sessions[0].service, "sshd");
	assert_int_equal(nscell_v0_status_decode(&v0, sizeof(v0), "user-1000", &st), 0);
	assert_int_equal(st.head.version, 0);
	assert_string_equal(st.config.cell_id, "user-1000");
	assert_int_equal(st.config.uid, 1000);
	assert_int_equal(st.config.namespaces, 5);
	assert_int_equal(st.config.init_pid_host, 4242);
	assert_int_equal(st.config.created_usec, 123456789);
	assert_int_equal(st.n_processes, 3);
	assert_string_equal(st.sessions[0].service, "sshd");
	assert_int_equal(nscell_v0_status_decode(&v0, sizeof(v0) - 1, "user-1000", &st), -EPROTO);
	assert_int_equal(nscell_v0_status_decode(&v0, sizeof(v0), "user-1001", &st), -EPROTO);
	v0.config.magic = 0;
	assert_int_equal(nscell_v0_status_decode(&v0, sizeof(v0), "user-1000", &st), -EPROTO);
}

static void test_v0_reply(void **state)
{
	struct nscell_v0_reply v0 = { NSCELL_PROTO_MAGIC, NSCELL_CELL_JOIN, 0, 3, 5 };
	struct nscell_cell_reply r;

	assert_int_equal(nscell_v0_reply_decode(&v0, sizeof(v0), NSCELL_CELL_JOIN, &r), 0);
	assert_int_equal(r.session_no, 3);
	assert_int_equal(r.namespaces, 5);
	assert_int_equal(r.head.version, 0);
	assert_int_equal(nscell_v0_reply_decode(&v0, sizeof(v0), NSCELL_CELL_TERMINATE, &r),
			 -EPROTO);
	assert_int_equal(nscell_v0_reply_decode(&v0, sizeof(v0) - 1, NSCELL_CELL_JOIN, &r), -EPROTO);
	v0.error = -ESTALE;
	assert_int_equal(nscell_v0_reply_decode(&v0, sizeof(v0), NSCELL_CELL_JOIN, &r), -ESTALE);
}

static void test_v0_layouts_are_frozen(void **state)
{
#if defined(__x86_64__)
	/* The sizes 0.1.0 and 0.2.0 were built with, on x86_64. */
	assert_int_equal(sizeof(struct nscell_v0_status), 17528);
	assert_int_equal(sizeof(struct nscell_v0_join), 268);
	assert_int_equal(sizeof(struct nscell_v0_reply), 20);
#endif
	assert_int_equal(sizeof(struct nscell_msg_head), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_round_trip),
		cmocka_unit_test(test_head_refusals),
		cmocka_unit_test(test_head_newer_version),
		cmocka_unit_test(test_versioned_head_is_unknown_to_version_0),
		cmocka_unit_test(test_answer_check),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_versions),
		cmocka_unit_test(test_request_decision),
		cmocka_unit_test(test_request_groups),
		cmocka_unit_test(test_reply_check),
		cmocka_unit_test(test_init_msg_check),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_join_same),
		cmocka_unit_test(test_join_same_to_an_older_init),
		cmocka_unit_test(test_join_same_next),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_v0_status),
		cmocka_unit_test(test_v0_reply),
		cmocka_unit_test(test_v0_layouts_are_frozen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: any bytes as the module->helper request, exactly as
 * nscell-open hands them to nscell_request_decode() (the first parse of
 * caller data in the setuid helper).
 *
 * Beyond memory safety (ASan/UBSan), it checks what the helper relies on
 * after a successful decode: verb is OPEN, user is set, every field is a
 * NUL-terminated string shorter than NSCELL_FIELD_MAX with no control
 * characters, a decision is within its bounds, and the request survives
 * encode -> decode unchanged. A
 * rejected request leaves the caller's struct untouched; one refused as of
 * another version is version 0's (the "NSCELL1" tag) or has a newer head.
 * The same bytes also go through the head decoder and the answer check.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *f)
{
	const char *end = memchr(f, '\0', NSCELL_FIELD_MAX);

	if (!end)
		abort(); /* not terminated within its buffer */
	for (const char *p = f; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	/* Nothing may be left behind the terminator (fields are zeroed). */
	for (const char *p = end; p < f + NSCELL_FIELD_MAX; p++)
		if (*p)
			abort();
}

static void check_same(const struct nscell_request *a, const struct nscell_request *b)
{
	if (a->verb != b->verb || a->debug != b->debug || strcmp(a->user, b->user) != 0 ||
	    strcmp(a->service, b->service) != 0 || strcmp(a->tty, b->tty) != 0 ||
	    strcmp(a->rhost, b->rhost) != 0 || strcmp(a->ruser, b->ruser) != 0 ||
	    strcmp(a->conf, b->conf) != 0 || a->decided != b->decided)
		abort();
	if (a->decided && (a->uid != b->uid || a->gid != b->gid || strcmp(a->home, b->home) != 0 ||
			   strcmp(a->shell, b->shell) != 0 ||
			   memcmp(&a->settings, &b->settings, sizeof(a->settings)) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char enc[NSCELL_REQUEST_MAX];
	struct nscell_request r, r2, poison;
	ssize_t n;
	char *copy;
	int rc;

	/* The helper's buffer holds exactly what recv() returned: no slack
	 * behind it, so ASan sees any read past len. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);

	/* The same bytes as any message's head, and as an answer: read
	 * within len only, whatever they say their size is. */
	{
		struct nscell_msg_head h;
		(void)nscell_msg_head_decode(copy, size, &h);
		(void)nscell_msg_answer_check(copy, size, NSCELL_CELL_JOIN,
					      sizeof(struct nscell_cell_reply));
	}

	memset(&poison, 0xa5, sizeof(poison));
	r = poison;
	rc = nscell_request_decode(copy, size, &r);
	if (rc != 0) {
		if (rc != -EINVAL && rc != -E2BIG && rc != -EPROTONOSUPPORT)
			abort();
		/* Another version: version 0's tag, or a head of a newer one. */
		if (rc == -EPROTONOSUPPORT && !(size >= 8 && memcmp(copy, "NSCELL1", 8) == 0)) {
			struct nscell_msg_head h;
			if (size < sizeof(h))
				abort();
			memcpy(&h, copy, sizeof(h));
			if (h.magic != NSCELL_PROTO_MAGIC || h.version <= NSCELL_PROTO_VERSION)
				abort();
		}
		if (rc == -E2BIG && size <= NSCELL_REQUEST_MAX)
			abort();
		if (memcmp(&r, &poison, sizeof(r)) != 0)
			abort(); /* a refused request must not half-fill the output */
		free(copy);
		return 0;
	}
	if (size > NSCELL_REQUEST_MAX)
		abort();

	if (r.verb != NSCELL_VERB_OPEN || !r.user[0] || (r.debug != 0 && r.debug != 1))
		abort();
	check_field(r.user);
	check_field(r.service);
	check_field(r.tty);
	check_field(r.rhost);
	check_field(r.ruser);
	check_field(r.conf);
	check_field(r.home);
	check_field(r.shell);
	/* A decision passed the bounds: the helper uses it as it is. */
	if (r.decided && (!r.settings.isolate || r.uid == (uid_t)-1 || r.gid == (gid_t)-1 ||
			  (r.home[0] && r.home[0] != '/') ||
			  r.settings.max_cells < 1 || r.settings.max_cells > NSCELL_MAX_CELLS_MAX ||
			  r.settings.hostname[NSCELL_HOSTNAME_MAX] != '\0' ||
			  r.settings.persistent_root[sizeof(r.settings.persistent_root) - 1] != '\0'))
		abort();
	for (size_t i = 0; r.decided && i < _NSCELL_VIEW_LIST_MAX; i++)
		if (r.settings.view_paths[i][NSCELL_VIEW_LIST_SIZE - 1] != '\0')
			abort();

	/* What the module would send for this request decodes to the same. */
	n = nscell_request_encode(&r, enc, sizeof(enc));
	if (n < 0 || (size_t)n > sizeof(enc))
		abort();
	memset(&r2, 0, sizeof(r2));
	if (nscell_request_decode(enc, (size_t)n, &r2) != 0)
		abort();
	check_same(&r, &r2);

	free(copy);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy's inner structure, shared by the files that build and read it:
 *   policy-parse.c   text -> lines -> tokens -> keys and Match lines
 *   policy-block.c   the keys a block sets, stored sparsely, and their merge
 *   policy-values.c  the value of each key
 *   policy-check.c   contradictions visible only on effective settings
 *   policy-match.c   Match lines against a login, and the decision
 *   policy-token.c   tokens and the errors about them
 *   policy.c         files, the drop-in directory, ownership
 * Types only: each file's functions are declared in its own header, and the
 * files call each other without a cycle (tests/unit/test-lib-calls.py).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "policy.h"
#include "settings.h"

#define NSCELL_POLICY_LINE_MAX 4096          /* bytes per line, without the newline */
#define NSCELL_POLICY_FILE_MAX (1024 * 1024) /* bytes per file */
#define NSCELL_POLICY_BLOCKS_MAX 4096        /* Match blocks in all files together */

enum nscell_criterion_kind {
	NSCELL_CRITERION_USER,
	NSCELL_CRITERION_GROUP,
	NSCELL_CRITERION_SERVICE,
	NSCELL_CRITERION_HOST,
	NSCELL_CRITERION_TTY,
	_NSCELL_CRITERION_MAX,
};

struct nscell_pattern {
	const char *glob; /* points into the block's pattern storage */
	bool negated;
};

struct nscell_criterion {
	enum nscell_criterion_kind kind;
	struct nscell_pattern *patterns;
	size_t n_patterns;
};

/*
 * One key a block sets: where it was written and, when its value was taken,
 * the bytes of struct nscell_settings the key controls (nscell_key_span; a
 * string span up to its NUL). Only the keys a block sets are stored: a block
 * costs a few hundred bytes, not a struct nscell_settings (nearly 6 kB, the
 * view's path lists 5 of them), and a login decided by an early block reads
 * and writes nothing of the others.
 */
struct nscell_block_key {
	struct nscell_origin origin; /* the key's line */
	unsigned column, file_no;
	uint16_t len;                /* bytes in value; 0: the value was rejected */
	unsigned char value[];
};

/* The defaults (the global context) or one Match block. */
struct nscell_block {
	struct nscell_origin origin; /* the Match line; file NULL for the defaults */
	char *text;                  /* the Match line as written, without comment */
	char *pattern_storage;       /* the patterns, NUL-terminated, back to back */
	struct nscell_criterion criteria[_NSCELL_CRITERION_MAX]; /* each kind at most once */
	size_t n_criteria;
	bool match_all;
	bool names_root; /* a User criterion with the positive literal "root" */

	struct nscell_block_key *keys[_NSCELL_KEY_MAX]; /* NULL: not set in this block */
	uint64_t invalid_keys; /* bit k: key k was given a bad value here */
	unsigned file_no;
};

/* Key k's line in block b, or NULL. */
static inline const struct nscell_block_key *nscell_block_key(const struct nscell_block *b, enum nscell_key k)
{
	return (unsigned) k < _NSCELL_KEY_MAX ? b->keys[k] : NULL;
}

struct nscell_policy {
	char **files; /* every file read, in order; origins point at these strings */
	size_t n_files;
	struct nscell_block defaults;
	struct nscell_block *blocks;
	size_t n_blocks, n_allocated;
};

struct nscell_token {
	const char *start;
	size_t len;
};

/* State while reading one or more files into one policy. */
struct nscell_parser {
	struct nscell_policy *policy;
	struct nscell_diag_builder diag;
	int error;    /* -ENOMEM: stop at once */
	int io_error; /* the first file that could not be read; reading goes on */

	const char *file; /* as given; owned by policy->files */
	unsigned file_no;

	unsigned line_no;
	const char *line; /* the current line, for columns */
	struct nscell_token *tokens;
	size_t n_tokens, n_tokens_allocated;

	struct nscell_block *block;   /* where keys go: the defaults or the last block */
	struct nscell_block overflow; /* a sink for blocks beyond the limit */
	size_t n_match_lines;
};

static inline unsigned nscell_token_column(const struct nscell_parser *p, const struct nscell_token *t)
{
	return (unsigned) (t->start - p->line) + 1;
}

_Static_assert(_NSCELL_KEY_MAX <= 64, "invalid_keys holds one bit per key");

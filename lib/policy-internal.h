/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy's inner structure, shared by the files that build and read it:
 *   policy-parse.c   text -> lines -> tokens -> keys and Match lines
 *   policy-values.c  the value of each key
 *   policy-check.c   contradictions visible only on effective settings
 *   policy-match.c   Match lines against a login, and the decision
 *   policy.c         files, the drop-in directory, ownership, lifetime
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

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

/* The defaults (the global context) or one Match block. */
struct nscell_block {
	struct nscell_origin origin; /* the Match line; file NULL for the defaults */
	char *text;                  /* the Match line as written, without comment */
	char *pattern_storage;       /* the patterns, NUL-terminated, back to back */
	struct nscell_criterion criteria[_NSCELL_CRITERION_MAX]; /* each kind at most once */
	size_t n_criteria;
	bool match_all;
	bool names_root; /* a User criterion with the positive literal "root" */

	struct nscell_settings values;            /* meaningful for the keys set here */
	struct nscell_origin set[_NSCELL_KEY_MAX]; /* file NULL: not set in this block */
	unsigned set_column[_NSCELL_KEY_MAX];
	unsigned set_file_no[_NSCELL_KEY_MAX];
	unsigned invalid_keys; /* bit k: key k was given a bad value here */
	unsigned file_no;
};

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

/* Report an error at a token (t NULL: the whole line). Returns -EINVAL. */
int nscell_parser_error(struct nscell_parser *p, const struct nscell_token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* policy-parse.c */
int nscell_parser_init(struct nscell_parser *p);
void nscell_parser_done(struct nscell_parser *p);
/* Register a file name; returns the stored copy or NULL on -ENOMEM. */
const char *nscell_parser_add_file(struct nscell_parser *p, const char *name);
/* Parse one file's contents (the file was added with nscell_parser_add_file). */
void nscell_parser_feed(struct nscell_parser *p, const char *buf, size_t len);
/* Report a problem with the file as a whole. */
void nscell_parser_file_error(struct nscell_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run the checks on effective settings and hand out the policy or the diagnostics. */
int nscell_parser_finish(struct nscell_parser *p, struct nscell_policy **ret, struct nscell_diag *diag);

/* policy-values.c */
struct nscell_keyword {
	const char *name; /* as documented; matched case-insensitively */
	enum nscell_key key;
	const char *expected; /* the "expected ..." part of a bad-value error */
	/* Parse n >= 1 values into s; report errors through p. Returns 0 or -EINVAL. */
	int (*parse)(struct nscell_parser *p, const struct nscell_keyword *kw,
		     const struct nscell_token *values, size_t n, struct nscell_settings *s);
};
const struct nscell_keyword *nscell_keyword_lookup(const char *name, size_t len);
/* The known keyword within edit distance 2 of name, for "did you mean". */
const char *nscell_keyword_suggest(const char *name, size_t len);
bool nscell_token_equal(const struct nscell_token *t, const char *word);

/* policy-limits.c: the parsers of the limit keys */
int nscell_parse_limit_bytes(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_limit_tasks(struct nscell_parser *p, const struct nscell_keyword *kw,
			     const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_cpu_quota(struct nscell_parser *p, const struct nscell_keyword *kw,
			   const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_weight(struct nscell_parser *p, const struct nscell_keyword *kw,
			const struct nscell_token *values, size_t n, struct nscell_settings *s);
int nscell_parse_limits_unavailable(struct nscell_parser *p, const struct nscell_keyword *kw,
				    const struct nscell_token *values, size_t n,
				    struct nscell_settings *s);

/* policy-check.c */
void nscell_policy_check_effective(struct nscell_parser *p);

/* policy-match.c */
void nscell_block_merge(const struct nscell_block *b, struct nscell_settings *s,
			struct nscell_origin origin[_NSCELL_KEY_MAX]);

/* policy.c */
void nscell_block_done(struct nscell_block *b);

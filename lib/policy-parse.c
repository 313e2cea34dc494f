/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * From text to a policy: bytes are checked line by line (length, NUL, control
 * characters, UTF-8), each line is cut into whitespace-separated tokens, and
 * the first token says what the line is: a key for the current context, or a
 * Match line that opens a new block.
 *
 * A policy's memory is freed here too, where it is built.
 *
 * Everything here is linear in the input. A line that is too long is reported
 * once and skipped by a single memchr(); nothing recurses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "policy-block.h"
#include "policy-check.h"
#include "policy-parse.h"
#include "policy-token.h"
#include "policy-values.h"
#include "settings-keys.h"

void nscell_parser_file_error(struct nscell_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) nscell_diag_verrorf(&p->diag, p->file_no, p->file, 0, 0, fmt, ap);
	va_end(ap);
}

void nscell_block_done(struct nscell_block *b)
{
	for (size_t i = 0; i < b->n_criteria; i++)
		free(b->criteria[i].patterns);
	free(b->pattern_storage);
	free(b->text);
	nscell_block_keys_free(b);
	b->n_criteria = 0;
	b->pattern_storage = b->text = NULL;
}

void nscell_policy_free(struct nscell_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_blocks; i++)
		nscell_block_done(&p->blocks[i]);
	free(p->blocks);
	nscell_block_done(&p->defaults);
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i]);
	free(p->files);
	free(p);
}

static void block_init(struct nscell_block *b)
{
	*b = (struct nscell_block) {};
}

int nscell_parser_init(struct nscell_parser *p)
{
	*p = (struct nscell_parser) {};
	p->policy = calloc(1, sizeof(*p->policy));
	if (!p->policy)
		return -ENOMEM;
	block_init(&p->policy->defaults);
	block_init(&p->overflow);
	p->block = &p->policy->defaults;
	return 0;
}

void nscell_parser_done(struct nscell_parser *p)
{
	nscell_policy_free(p->policy);
	nscell_block_done(&p->overflow);
	nscell_diag_builder_done(&p->diag);
	free(p->tokens);
	*p = (struct nscell_parser) {};
}

const char *nscell_parser_add_file(struct nscell_parser *p, const char *name)
{
	struct nscell_policy *pol = p->policy;
	char **files;
	char *copy;

	copy = strdup(name);
	if (!copy)
		goto oom;
	files = reallocarray(pol->files, pol->n_files + 1, sizeof(char *));
	if (!files) {
		free(copy);
		goto oom;
	}
	pol->files = files;
	pol->files[pol->n_files++] = copy;

	p->file = copy;
	p->file_no = (unsigned) pol->n_files;
	p->line_no = 0;
	return copy;
oom:
	if (p->error == 0)
		p->error = -ENOMEM;
	return NULL;
}

/* The length of the UTF-8 sequence at s, or 0 if it is not well-formed
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Reports the first byte of the line that has no place in a policy file.
 * Returns true if the line is clean. */
static bool line_is_text(struct nscell_parser *p, const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *) line;

	for (size_t i = 0; i < len;) {
		struct nscell_token at = { .start = line + i, .len = 1 };

		if (s[i] == '\0') {
			nscell_parser_error(p, &at, "NUL byte; expected text");
			return false;
		}
		if (s[i] == '\r') {
			nscell_parser_error(p, &at, "carriage return; expected Unix line endings (LF only)");
			return false;
		}
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
			nscell_parser_error(p, &at, "control character 0x%02x; expected printable text", s[i]);
			return false;
		}
		size_t n = utf8_sequence_length(s + i, len - i);
		if (n == 0) {
			nscell_parser_error(p, &at, "invalid UTF-8 byte 0x%02x; expected UTF-8 text", s[i]);
			return false;
		}
		i += n;
	}
	return true;
}

static int tokenize(struct nscell_parser *p, const char *line, size_t len)
{
	size_t i = 0;

	p->n_tokens = 0;
	for (;;) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		/* '#' opens a comment at the start of a line or after whitespace,
		 * i.e. wherever a token would start; inside a token it is a character. */
		if (i >= len || line[i] == '#')
			return 0;

		size_t start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;

		if (p->n_tokens == p->n_tokens_allocated) {
			size_t n = p->n_tokens_allocated ? p->n_tokens_allocated * 2 : 16;
			struct nscell_token *t = reallocarray(p->tokens, n, sizeof(*t));
			if (!t)
				return -ENOMEM;
			p->tokens = t;
			p->n_tokens_allocated = n;
		}
		p->tokens[p->n_tokens++] = (struct nscell_token) { line + start, i - start };
	}
}

static const char *const criterion_names[_NSCELL_CRITERION_MAX] = {
	[NSCELL_CRITERION_USER] = "User",
	[NSCELL_CRITERION_GROUP] = "Group",
	[NSCELL_CRITERION_SERVICE] = "Service",
	[NSCELL_CRITERION_HOST] = "Host",
	[NSCELL_CRITERION_TTY] = "Tty",
};

static int criterion_lookup(const struct nscell_token *t)
{
	for (int k = 0; k < _NSCELL_CRITERION_MAX; k++)
		if (nscell_token_equal(t, criterion_names[k]))
			return k;
	return -1;
}

struct pattern_elem {
	struct nscell_token elem; /* as written, with any '!' */
	struct nscell_token glob;
	bool negated, duplicate;
};

static int compare_pattern_elems(const void *a, const void *b)
{
	const struct pattern_elem *x = *(const struct pattern_elem *const *) a;
	const struct pattern_elem *y = *(const struct pattern_elem *const *) b;
	int c;

	if (x->glob.len != y->glob.len)
		return x->glob.len < y->glob.len ? -1 : 1;
	c = memcmp(x->glob.start, y->glob.start, x->glob.len);
	if (c != 0)
		return c;
	if (x->negated != y->negated)
		return x->negated ? 1 : -1;
	return x < y ? -1 : x > y; /* earlier first: the later copy is the duplicate */
}

/* Split "a,!b,c*" into patterns, copying them into the block's storage at
 * *storage. Duplicates are found by sorting, not by comparing every pair: a
 * 4 KiB line can hold two thousand patterns. */
static int parse_pattern_list(struct nscell_parser *p, const struct nscell_token *list, char **storage,
			      struct nscell_criterion *ret)
{
	const char *name = criterion_names[ret->kind];
	_cleanup_free_ struct pattern_elem *elems = NULL;
	_cleanup_free_ struct pattern_elem **sorted = NULL;
	size_t n = 0, max = 1;
	int r = 0;

	for (size_t i = 0; i < list->len; i++)
		if (list->start[i] == ',')
			max++;
	elems = calloc(max, sizeof(*elems));
	sorted = calloc(max, sizeof(*sorted));
	ret->patterns = calloc(max, sizeof(struct nscell_pattern));
	if (!elems || !sorted || !ret->patterns)
		return -ENOMEM;

	for (const char *e = list->start, *end = list->start + list->len;;) {
		const char *comma = memchr(e, ',', (size_t) (end - e));
		struct pattern_elem *pe = &elems[n];

		pe->elem = (struct nscell_token) { e, (size_t) ((comma ?: end) - e) };
		pe->glob = pe->elem;
		pe->negated = pe->glob.len > 0 && pe->glob.start[0] == '!';
		if (pe->negated) {
			pe->glob.start++;
			pe->glob.len--;
		}
		if (pe->glob.len == 0)
			r = nscell_parser_error(p, &pe->elem, "empty pattern in Match %s list '%.*s'; expected a pattern between the commas",
						name, (int) list->len, list->start);
		else
			sorted[n++] = pe; /* kept: the next element goes after it */
		if (!comma)
			break;
		e = comma + 1;
	}

	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), compare_pattern_elems);
	for (size_t i = 1; i < n; i++)
		if (sorted[i]->negated == sorted[i - 1]->negated && sorted[i]->glob.len == sorted[i - 1]->glob.len &&
		    memcmp(sorted[i]->glob.start, sorted[i - 1]->glob.start, sorted[i]->glob.len) == 0) {
			sorted[i]->duplicate = true;
			r = nscell_parser_error(p, &sorted[i]->elem, "duplicate pattern '%.*s' in Match %s; expected each pattern once",
						(int) sorted[i]->elem.len, sorted[i]->elem.start, name);
		}

	for (size_t i = 0; i < n; i++) {
		const struct pattern_elem *pe = &elems[i];

		if (pe->duplicate)
			continue;
		memcpy(*storage, pe->glob.start, pe->glob.len);
		(*storage)[pe->glob.len] = '\0';
		ret->patterns[ret->n_patterns++] = (struct nscell_pattern) { *storage, pe->negated };
		*storage += pe->glob.len + 1;
	}
	return r;
}

static int parse_match_criteria(struct nscell_parser *p, struct nscell_block *b)
{
	const struct nscell_token *t = p->tokens;
	size_t n = p->n_tokens, storage_size = 0;
	bool seen[_NSCELL_CRITERION_MAX] = {};
	char *storage;
	int r = 0;

	if (n == 1)
		return nscell_parser_error(p, &t[0], "Match without criteria; expected Match All or Match CRITERION PATTERNS");

	/* "All" is a criterion only where a criterion goes (odd positions);
	 * in a pattern position it is a name, as in "Match User All". */
	for (size_t i = 1; i < n; i += 2)
		if (nscell_token_equal(&t[i], "All")) {
			if (n != 2)
				return nscell_parser_error(p, &t[i], "Match All combined with other criteria; expected All alone");
			b->match_all = true;
			return 0;
		}

	for (size_t i = 0; i < n; i++)
		storage_size += t[i].len + 1;
	b->pattern_storage = storage = malloc(storage_size);
	if (!storage)
		return -ENOMEM;

	for (size_t i = 1; i < n; i += 2) {
		int kind = criterion_lookup(&t[i]);
		if (kind < 0)
			return nscell_parser_error(p, &t[i], "unknown Match criterion '%.*s'; expected User, Group, Service, Host, Tty or All",
						   (int) t[i].len, t[i].start);
		if (i + 1 >= n)
			return nscell_parser_error(p, &t[i], "missing patterns for Match %s; expected a comma-separated list of patterns",
						   criterion_names[kind]);
		if (seen[kind]) {
			r = nscell_parser_error(p, &t[i], "Match criterion %s repeated; expected each criterion at most once per Match line",
						criterion_names[kind]);
			continue;
		}
		seen[kind] = true;

		struct nscell_criterion *c = &b->criteria[b->n_criteria++];
		c->kind = kind;
		int q = parse_pattern_list(p, &t[i + 1], &storage, c);
		if (q == -ENOMEM)
			return q;
		if (q < 0)
			r = q;
	}

	for (size_t i = 0; i < b->n_criteria; i++)
		if (b->criteria[i].kind == NSCELL_CRITERION_USER)
			for (size_t j = 0; j < b->criteria[i].n_patterns; j++)
				if (!b->criteria[i].patterns[j].negated && strcmp(b->criteria[i].patterns[j].glob, "root") == 0)
					b->names_root = true;
	return r;
}

static struct nscell_block *new_block(struct nscell_parser *p, const struct nscell_token *match)
{
	struct nscell_policy *pol = p->policy;

	p->n_match_lines++;
	if (p->n_match_lines > NSCELL_POLICY_BLOCKS_MAX) {
		if (p->n_match_lines == NSCELL_POLICY_BLOCKS_MAX + 1)
			nscell_parser_error(p, match, "more than %d Match blocks; expected at most %d in all files together",
					    NSCELL_POLICY_BLOCKS_MAX, NSCELL_POLICY_BLOCKS_MAX);
		/* Keep checking the rest, but into a block nobody keeps. */
		nscell_block_done(&p->overflow);
		block_init(&p->overflow);
		return &p->overflow;
	}

	if (pol->n_blocks == pol->n_allocated) {
		size_t n = pol->n_allocated ? pol->n_allocated * 2 : 8;
		struct nscell_block *b = reallocarray(pol->blocks, n, sizeof(*b));
		if (!b)
			return NULL;
		pol->blocks = b;
		pol->n_allocated = n;
	}
	struct nscell_block *b = &pol->blocks[pol->n_blocks++];
	block_init(b);
	return b;
}

static int parse_match_line(struct nscell_parser *p)
{
	const struct nscell_token *first = &p->tokens[0], *last = &p->tokens[p->n_tokens - 1];
	struct nscell_block *b;
	int r;

	b = new_block(p, first);
	if (!b)
		return -ENOMEM;
	b->origin = (struct nscell_origin) { p->file, p->line_no };
	b->file_no = p->file_no;
	b->text = strndup(first->start, (size_t) (last->start + last->len - first->start));
	if (!b->text)
		return -ENOMEM;
	p->block = b;

	r = parse_match_criteria(p, b);
	return r == -ENOMEM ? r : 0;
}

static int parse_key_line(struct nscell_parser *p)
{
	const struct nscell_token *t = p->tokens;
	struct nscell_block *b = p->block;
	const struct nscell_keyword *kw;
	const struct nscell_block_key *seen;
	/* Only the span of the key is written (and then kept): the rest of
	 * the struct is never read, so it is left as it is. */
	struct nscell_settings scratch;
	const struct nscell_key_span *sp;
	int r;

	kw = nscell_keyword_lookup(t[0].start, t[0].len);
	if (!kw) {
		const char *hint = nscell_keyword_suggest(t[0].start, t[0].len);
		if (hint)
			return nscell_parser_error(p, &t[0], "unknown keyword '%.*s'; expected a known keyword (did you mean '%s'?)",
						   (int) t[0].len, t[0].start, hint);
		return nscell_parser_error(p, &t[0], "unknown keyword '%.*s'; expected a keyword from nscell.conf(5)",
					   (int) t[0].len, t[0].start);
	}

	seen = nscell_block_key(b, kw->key);
	if (seen)
		nscell_parser_error(p, &t[0], "duplicate %s, already set at %s:%u; expected each key at most once per %s",
				    kw->name, seen->origin.file, seen->origin.line,
				    b == &p->policy->defaults ? "global section (all files)" : "Match block");

	if (p->n_tokens == 1) {
		r = nscell_parser_error(p, &t[0], "missing value for %s; expected %s", kw->name, kw->expected);
	} else {
		sp = nscell_key_span(kw->key);
		memset((char *) &scratch + sp->offset, 0, sp->size);
		r = kw->parse(p, kw, t + 1, p->n_tokens - 1, &scratch);
	}
	if (r == -ENOMEM)
		return r;

	if (seen)
		return 0;
	if (r != 0)
		b->invalid_keys |= UINT64_C(1) << kw->key;
	/* Set even when the value was bad: a second line with the key is
	 * still a duplicate, and nothing is checked against a value never taken. */
	return nscell_block_set_key(b, kw->key, &(struct nscell_origin) { p->file, p->line_no },
				    nscell_token_column(p, &t[0]), p->file_no, r == 0 ? &scratch : NULL);
}

void nscell_parser_feed(struct nscell_parser *p, const char *buf, size_t len)
{
	size_t pos = 0;

	/* Every file starts in the global context. */
	p->block = &p->policy->defaults;
	p->line_no = 0;

	if (len > NSCELL_POLICY_FILE_MAX) {
		nscell_parser_file_error(p, "file is larger than 1 MiB (%zu bytes); expected a smaller policy file", len);
		return;
	}

	while (pos < len && p->error == 0) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t) (nl - line) : len - pos;

		pos += line_len + 1;
		p->line_no++;
		p->line = line;

		if (line_len > NSCELL_POLICY_LINE_MAX) {
			nscell_parser_error(p, NULL, "line longer than %d bytes; expected shorter lines", NSCELL_POLICY_LINE_MAX);
			continue;
		}
		if (!line_is_text(p, line, line_len))
			continue;

		int r = tokenize(p, line, line_len);
		if (r == 0 && p->n_tokens > 0)
			r = nscell_token_equal(&p->tokens[0], "Match") ? parse_match_line(p) : parse_key_line(p);
		if (r == -ENOMEM)
			p->error = r;
	}
	p->line = NULL;
}

int nscell_parser_finish(struct nscell_parser *p, struct nscell_policy **ret, struct nscell_diag *diag)
{
	int r;

	/* Also after line errors: keys with bad values are skipped by the
	 * checks, so what they report is real. */
	if (p->error == 0)
		nscell_policy_check_effective(p);

	if (p->error == 0 && p->io_error == 0 && p->diag.n_errors == 0 && !p->diag.oom) {
		*ret = TAKE_PTR(p->policy);
		return 0;
	}

	r = p->error ?: p->io_error ?: (p->diag.oom ? -ENOMEM : -EINVAL);
	if (diag) {
		int q = nscell_diag_builder_flush(&p->diag, diag);
		if (q < 0 && r == -EINVAL)
			r = q;
	}
	return r;
}

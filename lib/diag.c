/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "diag.h"

struct nscell_diag_entry {
	unsigned file_no, line, column;
	size_t seq; /* report order: keeps the sort stable */
	char *text;
};

void nscell_diag_free(struct nscell_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_lines; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n_lines = 0;
}

static int diag_append(struct nscell_diag *d, char *line)
{
	char **lines = reallocarray(d->lines, d->n_lines + 1, sizeof(char *));
	if (!lines)
		return -ENOMEM;
	d->lines = lines;
	d->lines[d->n_lines++] = line;
	return 0;
}

int nscell_diag_add(struct nscell_diag *d, const char *fmt, ...)
{
	char *line;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = diag_append(d, line);
	if (r < 0)
		free(line);
	return r;
}

int nscell_diag_verrorf(struct nscell_diag_builder *b, unsigned file_no, const char *file,
			unsigned line, unsigned column, const char *fmt, va_list ap)
{
	_cleanup_free_ char *what = NULL;
	char *text;
	int r;

	/* Past the limit, only count: formatting is the expensive part when a
	 * large file is garbage on every line. */
	b->n_errors++;
	if (b->n_entries >= NSCELL_DIAG_MAX)
		return -EINVAL;

	if (b->n_entries == b->n_allocated) {
		size_t n = b->n_allocated ? b->n_allocated * 2 : 16;
		struct nscell_diag_entry *e = reallocarray(b->entries, n, sizeof(*e));
		if (!e) {
			b->oom = true;
			return -EINVAL;
		}
		b->entries = e;
		b->n_allocated = n;
	}

	r = vasprintf(&what, fmt, ap);
	if (r < 0) {
		what = NULL;
		b->oom = true;
		return -EINVAL;
	}

	if (line == 0)
		r = asprintf(&text, "%s: error: %s", file, what);
	else if (column == 0)
		r = asprintf(&text, "%s:%u: error: %s", file, line, what);
	else
		r = asprintf(&text, "%s:%u:%u: error: %s", file, line, column, what);
	if (r < 0) {
		b->oom = true;
		return -EINVAL;
	}

	b->entries[b->n_entries] = (struct nscell_diag_entry) {
		.file_no = file_no,
		.line = line,
		.column = column,
		.seq = b->n_entries,
		.text = text,
	};
	b->n_entries++;
	return -EINVAL;
}

int nscell_diag_errorf(struct nscell_diag_builder *b, unsigned file_no, const char *file,
		       unsigned line, unsigned column, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = nscell_diag_verrorf(b, file_no, file, line, column, fmt, ap);
	va_end(ap);
	return r;
}

static int entry_compare(const void *a, const void *b)
{
	const struct nscell_diag_entry *x = a, *y = b;

	if (x->file_no != y->file_no)
		return x->file_no < y->file_no ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

int nscell_diag_builder_flush(struct nscell_diag_builder *b, struct nscell_diag *d)
{
	int r = 0;

	if (b->n_entries > 0)
		qsort(b->entries, b->n_entries, sizeof(b->entries[0]), entry_compare);

	for (size_t i = 0; i < b->n_entries; i++) {
		if (r == 0 && diag_append(d, b->entries[i].text) == 0)
			b->entries[i].text = NULL;
		else
			r = -ENOMEM;
		free(b->entries[i].text);
	}
	if (r == 0 && b->n_errors > b->n_entries && !b->oom)
		r = nscell_diag_add(d, "%zu more errors not shown", b->n_errors - b->n_entries);
	if (b->oom)
		r = -ENOMEM;

	free(b->entries);
	*b = (struct nscell_diag_builder) {};
	return r;
}

void nscell_diag_builder_done(struct nscell_diag_builder *b)
{
	for (size_t i = 0; i < b->n_entries; i++)
		free(b->entries[i].text);
	free(b->entries);
	*b = (struct nscell_diag_builder) {};
}

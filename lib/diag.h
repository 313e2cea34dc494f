/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Collecting diagnostics while parsing. Errors are found in whatever order the
 * checks run (line by line first, then the checks on effective settings); a
 * builder keeps them with their position and hands them out sorted by file,
 * line and column, which is the order a person fixes them in.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Lines kept per policy; beyond that errors are only counted. A 1 MiB file of
 * garbage would otherwise produce half a million lines nobody reads. */
#define NSCELL_DIAG_MAX 1000

struct nscell_diag_entry;

struct nscell_diag_builder {
	struct nscell_diag_entry *entries;
	size_t n_entries, n_allocated;
	size_t n_errors; /* every error reported, stored or not */
	bool oom;        /* some entry could not be stored */
};

/*
 * nscell_diag_errorf - record "FILE:LINE:COLUMN: error: ...".
 * @file_no orders files (the order they were read in). @line 0 means the
 * whole file ("FILE: error: ..."); @column 0 means the whole line.
 *
 * Counts the error even when it cannot be stored; returns -EINVAL, the
 * value a parser returns for "this input is wrong".
 */
int nscell_diag_errorf(struct nscell_diag_builder *b, unsigned file_no, const char *file,
		       unsigned line, unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
int nscell_diag_verrorf(struct nscell_diag_builder *b, unsigned file_no, const char *file,
			unsigned line, unsigned column, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

/* Append the sorted lines to d (and a note on errors not shown); empties b.
 * Returns 0 or -ENOMEM. */
int nscell_diag_builder_flush(struct nscell_diag_builder *b, struct nscell_diag *d);

void nscell_diag_builder_done(struct nscell_diag_builder *b);

/* Append one preformatted line to d. Returns 0 or -ENOMEM. */
int nscell_diag_add(struct nscell_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

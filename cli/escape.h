/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Text that users control, made safe for root's terminal and for JSON.
 *
 * Process names and command lines, user, group and host names, tty names,
 * paths and cell ids reach the admin's terminal through list, show, explain,
 * terminate and enter. A byte the terminal acts on (ESC, CSI as C1 0x9b or
 * as UTF-8 U+009B, BEL, CR, a bidi override) would let a user draw on it,
 * retitle it, or hide what it shows; invalid UTF-8 would let a user hide a
 * C1 byte behind a terminal's own decoding. So every such string goes
 * through cli_char_next() before it is printed, and through one of its two
 * writers:
 *
 *   text (cli_escape, cli_esc): printable characters as they are, valid
 *     UTF-8 included; "\\" for a backslash; "\t", "\n", "\r"; "\xNN" for
 *     another C0 byte, DEL, or a byte that is not valid UTF-8; "\uNNNN"
 *     for a C1 control or a Unicode format control written as UTF-8
 *     (U+0080..U+009F, U+2028, U+2029, U+202A..U+202E, U+2066..U+2069).
 *     The result is printable, one line, and decodes back unambiguously.
 *   JSON (json.c): the same classes as "\uNNNN" (or \n, \t), and every
 *     invalid byte as U+FFFD: the document is always valid UTF-8.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum cli_char_kind {
	CLI_CHAR_PLAIN,   /* printable: ASCII or a valid UTF-8 sequence */
	CLI_CHAR_CONTROL, /* a control or format character: *cp says which */
	CLI_CHAR_INVALID, /* one byte that does not start valid UTF-8: *cp is the byte */
};

/*
 * cli_char_next - the character at s, of the n > 0 bytes there.
 *
 * Returns its length in bytes (1 for an invalid byte) and stores its kind
 * and code point.
 */
size_t cli_char_next(const char *s, size_t n, enum cli_char_kind *ret_kind, uint32_t *ret_cp);

/* s escaped as text (see above), newly allocated; NULL on ENOMEM. NULL s gives "". */
char *cli_escape(const char *s);

/*
 * cli_esc - s escaped as text into buf (size > 0), cut before an escape or
 * character that does not fit, always terminated. Returns buf, so that it
 * can stand in a printf argument list. NULL s gives "".
 */
const char *cli_esc(const char *s, char *buf, size_t size);

/* A buffer of CLI_ESC_MAX bytes that lives until the end of the enclosing
 * block: CLI_ESC(name) in a printf() call. */
#define CLI_ESC_MAX 512
#define CLI_ESC(s) cli_esc((s), (char[CLI_ESC_MAX]){ 0 }, CLI_ESC_MAX)

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* The length of a valid UTF-8 sequence at s (at most n bytes) and its code
 * point, or 0. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*ret_cp = cp;
	return len;
}

/* What a terminal acts on or what reorders or breaks the line it shows. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t cli_char_next(const char *s, size_t n, enum cli_char_kind *ret_kind, uint32_t *ret_cp)
{
	uint32_t cp = 0;
	size_t len = utf8_decode((const unsigned char *)s, n, &cp);

	if (len == 0) {
		*ret_kind = CLI_CHAR_INVALID;
		*ret_cp = (unsigned char)s[0];
		return 1;
	}
	*ret_kind = is_control(cp) ? CLI_CHAR_CONTROL : CLI_CHAR_PLAIN;
	*ret_cp = cp;
	return len;
}

/* The text form of the character at s into out (at least 16 bytes), its
 * length returned; *ret_used the bytes of s it stands for. */
static size_t escape_one(const char *s, size_t n, char out[16], size_t *ret_used)
{
	enum cli_char_kind kind;
	uint32_t cp;
	size_t len = cli_char_next(s, n, &kind, &cp);

	*ret_used = len;
	if (kind == CLI_CHAR_PLAIN) {
		if (cp == '\\') {
			memcpy(out, "\\\\", 2);
			return 2;
		}
		memcpy(out, s, len);
		return len;
	}
	if (kind == CLI_CHAR_INVALID || cp < 0x20 || cp == 0x7f) {
		switch (cp) {
		case '\t':
			memcpy(out, "\\t", 2);
			return 2;
		case '\n':
			memcpy(out, "\\n", 2);
			return 2;
		case '\r':
			memcpy(out, "\\r", 2);
			return 2;
		}
		snprintf(out, 16, "\\x%02x", (unsigned)cp);
		return 4;
	}
	snprintf(out, 16, "\\u%04x", (unsigned)cp);
	return 6;
}

const char *cli_esc(const char *s, char *buf, size_t size)
{
	size_t n = s ? strlen(s) : 0, pos = 0;

	while (n > 0) {
		char one[16];
		size_t used, k = escape_one(s, n, one, &used);

		if (pos + k >= size)
			break;
		memcpy(buf + pos, one, k);
		pos += k;
		s += used;
		n -= used;
	}
	buf[pos] = '\0';
	return buf;
}

char *cli_escape(const char *s)
{
	/* At most 6 bytes for each byte of s (a 1-byte C1 never occurs; "\x9b" is 4). */
	size_t size = (s ? strlen(s) : 0) * 6 + 1;
	char *buf = malloc(size);

	return buf ? (char *)cli_esc(s, buf, size) : NULL;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keys a block sets: each one allocated when its line is read, holding
 * the line's position and the bytes of the settings the key controls, and
 * nothing for the keys the block leaves unset. Settings are built only for
 * the block a decision selects (or that a check needs): built-in defaults,
 * then the policy's defaults, then the block.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-block.h"
#include "settings-keys.h"

int nscell_block_set_key(struct nscell_block *b, enum nscell_key k, const struct nscell_origin *origin,
			 unsigned column, unsigned file_no, const struct nscell_settings *value)
{
	const struct nscell_key_span *sp = nscell_key_span(k);
	const unsigned char *src = NULL;
	struct nscell_block_key *e;
	size_t len = 0;

	if (!sp || b->keys[k])
		return -EINVAL;
	if (value) {
		src = (const unsigned char *) value + sp->offset;
		len = sp->string ? strnlen((const char *) src, sp->size - 1) + 1 : sp->size;
	}
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	*e = (struct nscell_block_key) { .origin = *origin, .column = column, .file_no = file_no,
					 .len = (uint16_t) len };
	if (len > 0) {
		memcpy(e->value, src, len);
		if (sp->string)
			e->value[len - 1] = '\0';
	}
	b->keys[k] = e;
	return 0;
}

void nscell_block_keys_free(struct nscell_block *b)
{
	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
		free(b->keys[k]);
		b->keys[k] = NULL;
	}
}

void nscell_block_key_apply(const struct nscell_block_key *e, enum nscell_key k, struct nscell_settings *s)
{
	const struct nscell_key_span *sp = nscell_key_span(k);

	if (!sp || e->len == 0)
		return;
	memcpy((char *) s + sp->offset, e->value, e->len);
	/* A string's span is zero after its NUL, as the built-in ones are. */
	if (sp->string)
		memset((char *) s + sp->offset + e->len, 0, sp->size - e->len);
}

void nscell_block_merge(const struct nscell_block *b, struct nscell_settings *s,
			struct nscell_origin origin[_NSCELL_KEY_MAX])
{
	for (size_t k = 0; k < _NSCELL_KEY_MAX; k++) {
		if (!b->keys[k])
			continue;
		if (origin)
			origin[k] = b->keys[k]->origin;
		nscell_block_key_apply(b->keys[k], (enum nscell_key) k, s);
	}
}

void nscell_block_effective(const struct nscell_block *defaults, const struct nscell_block *b,
			    struct nscell_settings *s, struct nscell_origin origin[_NSCELL_KEY_MAX])
{
	nscell_settings_init(s);
	memset(origin, 0, sizeof(struct nscell_origin) * _NSCELL_KEY_MAX);
	nscell_block_merge(defaults, s, origin);
	if (b != defaults)
		nscell_block_merge(b, s, origin);
}

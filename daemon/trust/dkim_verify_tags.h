/*
 * dkim_verify_tags: the tag=value lists of DKIM (RFC 6376 §3.2), which
 * DKIM-Signature fields, DKIM key records and ARC-Seal and
 * ARC-Message-Signature fields (RFC 8617 §4.1) are written in.  Pure.
 *
 *   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  =  ALPHA *ALNUMPUNC          (ALNUMPUNC: ALPHA / DIGIT / "_")
 *   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      =  1*VALCHAR                 (VALCHAR: %x21-3A / %x3C-7E)
 *
 * Values point into the text parsed (which must outlive the list), without
 * the white space around them but with any inside (folding included):
 * a base64 value is read with dkim_tag_base64(), a colon list with
 * dkim_tag_list_next().  Bytes of 0x80 and above are taken as VALCHAR
 * (RFC 8616: UTF-8 in i=).  A tag named twice is an error (§3.2).
 */
#ifndef MAILHUB_TRUST_DKIM_VERIFY_TAGS_H
#define MAILHUB_TRUST_DKIM_VERIFY_TAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/limits.h"

struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *value;	/* into the text; not NUL-terminated */
	size_t value_len;
	size_t value_off;	/* of value in the text */
};

struct dkim_tags {
	size_t n;
	struct dkim_tag tag[DKIM_TAGS_MAX];
};

/* Parses text[0..len) into *tags.  0, or -1 with *error_r (a syntax
 * error, a duplicate tag, more than DKIM_TAGS_MAX tags). */
int dkim_tags_parse(const char *text, size_t len, struct dkim_tags *tags,
		    const char **error_r);

/* The tag called name (case-sensitive, §3.2), or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_tags *tags, const char *name);

/* True when the value is exactly s (case-insensitive when nocase). */
bool dkim_tag_is(const struct dkim_tag *t, const char *s, bool nocase);

/* Appends the value's bytes with its white space (FWS) removed to out.
 * 0, or -1 when out is full. */
int dkim_tag_squeeze(const struct dkim_tag *t, struct buf *out);

/* Decodes a base64 value (white space inside ignored, §3.5 b=) onto out.
 * 0, or -1 when it is not base64 or out is full. */
int dkim_tag_base64(const struct dkim_tag *t, struct buf *out);

/* Parses a decimal value of at most max_digits digits into *v_r
 * (saturating at UINT64_MAX).  0, or -1 when it is not one. */
int dkim_tag_uint(const struct dkim_tag *t, unsigned max_digits,
		  unsigned long long *v_r);

/* Walks a list of items separated by sep (':' for h=, s=, t=, q=; FWS
 * around the separators allowed): *pos starts at 0; each call gives one
 * item without its white space (may be empty) and returns true, false
 * after the last. */
bool dkim_tag_list_next(const struct dkim_tag *t, char sep, size_t *pos,
			const char **item_r, size_t *len_r);

#endif

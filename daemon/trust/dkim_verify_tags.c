/*
 * dkim_verify_tags: tag=value lists (see dkim_verify_tags.h).
 */
#include "trust/dkim_verify_tags.h"

#include <stdint.h>
#include <string.h>

#include "core/base64.h"

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_alnumpunc(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/* VALCHAR (%x21-3A / %x3C-7E), or a byte of UTF-8 (RFC 8616) */
static bool
is_valchar(char c)
{
	unsigned char u = (unsigned char)c;
	return (u >= 0x21 && u <= 0x7e && u != ';') || u >= 0x80;
}

int
dkim_tags_parse(const char *text, size_t len, struct dkim_tags *tags,
		const char **error_r)
{
	size_t i = 0;
	tags->n = 0;
	for (;;) {
		while (i < len && is_fws(text[i]))
			i++;
		if (i == len)
			return 0;	/* the end, or a ';' ending the list */
		if (!is_alpha(text[i])) {
			*error_r = "malformed tag list";
			return -1;
		}
		size_t name = i;
		while (i < len && is_alnumpunc(text[i]))
			i++;
		size_t name_len = i - name;
		while (i < len && is_fws(text[i]))
			i++;
		if (i == len || text[i] != '=') {
			*error_r = "malformed tag list (a tag without '=')";
			return -1;
		}
		i++;
		while (i < len && is_fws(text[i]))
			i++;
		size_t value = i, value_end = i;
		while (i < len && text[i] != ';') {
			if (is_valchar(text[i]))
				value_end = i + 1;
			else if (!is_fws(text[i])) {
				*error_r = "malformed tag list (a control character)";
				return -1;
			}
			i++;
		}
		for (size_t k = 0; k < tags->n; k++) {
			if (tags->tag[k].name_len == name_len &&
			    memcmp(tags->tag[k].name, text + name, name_len) == 0) {
				*error_r = "malformed tag list (a tag named twice)";
				return -1;
			}
		}
		if (tags->n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		struct dkim_tag *t = &tags->tag[tags->n++];
		t->name = text + name;
		t->name_len = name_len;
		t->value = text + value;
		t->value_len = value_end - value;
		t->value_off = value;
		if (i == len)
			return 0;
		i++;	/* the ';' */
	}
}

const struct dkim_tag *
dkim_tags_get(const struct dkim_tags *tags, const char *name)
{
	size_t l = strlen(name);
	for (size_t k = 0; k < tags->n; k++)
		if (tags->tag[k].name_len == l && memcmp(tags->tag[k].name, name, l) == 0)
			return &tags->tag[k];
	return NULL;
}

bool
dkim_tag_is(const struct dkim_tag *t, const char *s, bool nocase)
{
	size_t l = strlen(s);
	if (t->value_len != l)
		return false;
	return nocase ? mem_eq_nocase(t->value, s, l) : memcmp(t->value, s, l) == 0;
}

int
dkim_tag_squeeze(const struct dkim_tag *t, struct buf *out)
{
	for (size_t i = 0; i < t->value_len; i++)
		if (!is_fws(t->value[i]) && buf_putc(out, t->value[i]) < 0)
			return -1;
	return 0;
}

int
dkim_tag_base64(const struct dkim_tag *t, struct buf *out)
{
	struct buf text = BUF_INIT;
	int ret = -1;
	buf_init(&text, t->value_len + 1);
	/* whole groups of four only (RFC 4648 §4; what dkimpy insists on
	 * too); the decoder then forgives non-zero pad bits */
	if (dkim_tag_squeeze(t, &text) == 0 && text.len % 4 == 0 &&
	    base64_decode(out, text.data != NULL ? text.data : "", text.len, true) == 0)
		ret = 0;
	buf_free(&text);
	return ret;
}

int
dkim_tag_uint(const struct dkim_tag *t, unsigned max_digits, unsigned long long *v_r)
{
	if (t->value_len == 0 || t->value_len > max_digits)
		return -1;
	unsigned long long v = 0;
	for (size_t i = 0; i < t->value_len; i++) {
		char c = t->value[i];
		if (c < '0' || c > '9')
			return -1;
		unsigned d = (unsigned)(c - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*v_r = v;
	return 0;
}

bool
dkim_tag_list_next(const struct dkim_tag *t, char sep, size_t *pos,
		   const char **item_r, size_t *len_r)
{
	size_t i = *pos;
	if (i > t->value_len)
		return false;
	while (i < t->value_len && is_fws(t->value[i]))
		i++;
	size_t start = i, end = i;
	while (i < t->value_len && t->value[i] != sep) {
		if (!is_fws(t->value[i]))
			end = i + 1;
		i++;
	}
	*item_r = t->value + start;
	*len_r = end - start;
	*pos = i + 1;	/* past the separator, or past the end */
	return true;
}

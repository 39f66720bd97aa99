/*
 * utf7: modified UTF-7 (RFC 3501 §5.1.3) to and from UTF-8.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/utf8.h"
#include "imap/utf7.h"

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
flush_bits(struct buf *out, uint32_t *bits, unsigned *nbits, bool final)
{
	while (*nbits >= 6) {
		*nbits -= 6;
		if (buf_putc(out, b64[(*bits >> *nbits) & 0x3f]) < 0)
			return -1;
	}
	if (final && *nbits > 0) {
		if (buf_putc(out, b64[(*bits << (6 - *nbits)) & 0x3f]) < 0)
			return -1;
		*nbits = 0;
	}
	*bits &= (1u << *nbits) - 1;
	return 0;
}

int
imap_utf8_to_mutf7(const char *in, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	size_t start_len = out->len;

	while (i < n) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			if (buf_putc(out, (char)s[i]) < 0)
				goto fail;
			if (s[i] == '&' && buf_putc(out, '-') < 0)
				goto fail;
			i++;
			continue;
		}
		/* a run of characters to encode */
		uint32_t bits = 0;
		unsigned nbits = 0;
		if (buf_putc(out, '&') < 0)
			goto fail;
		while (i < n && !(s[i] >= 0x20 && s[i] < 0x7f)) {
			uint32_t cp;
			size_t len = utf8_decode(s + i, n - i, &cp);
			if (len == 0)
				goto fail;
			i += len;
			uint16_t units[2];
			size_t nu = 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (cp >> 10));
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)cp;
			}
			for (size_t k = 0; k < nu; k++) {
				bits = (bits << 16) | units[k];
				nbits += 16;
				if (flush_bits(out, &bits, &nbits, false) < 0)
					goto fail;
			}
		}
		if (flush_bits(out, &bits, &nbits, true) < 0 ||
		    buf_putc(out, '-') < 0)
			goto fail;
	}
	return 0;
fail:
	buf_truncate(out, start_len);
	return -1;
}

static int
b64_value(unsigned char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int
imap_mutf7_to_utf8(const char *in, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	size_t start_len = out->len;
	bool just_closed = false;	/* "&..-&..-" is not canonical */

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x20 || c >= 0x7f)
			goto fail;
		if (c != '&') {
			if (buf_putc(out, (char)c) < 0)
				goto fail;
			i++;
			just_closed = false;
			continue;
		}
		i++;
		if (i < n && s[i] == '-') {
			if (buf_putc(out, '&') < 0)
				goto fail;
			i++;
			just_closed = false;
			continue;
		}
		if (just_closed)
			goto fail;
		uint32_t bits = 0;
		unsigned nbits = 0;
		uint32_t high = 0;	/* pending high surrogate */
		size_t units = 0;
		while (i < n && s[i] != '-') {
			int v = b64_value(s[i]);
			if (v < 0)
				goto fail;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			i++;
			if (nbits >= 16) {
				nbits -= 16;
				uint32_t u = (bits >> nbits) & 0xffff;
				bits &= (1u << nbits) - 1;
				units++;
				if (high != 0) {
					if (u < 0xdc00 || u > 0xdfff)
						goto fail;
					uint32_t cp = 0x10000 +
						((high - 0xd800) << 10) +
						(u - 0xdc00);
					high = 0;
					if (utf8_append(out, cp) < 0)
						goto fail;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					high = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					goto fail;
				} else if (u >= 0x20 && u < 0x7f) {
					/* printable ASCII must not be encoded */
					goto fail;
				} else if (utf8_append(out, u) < 0) {
					goto fail;
				}
			}
		}
		/* must end with '-', hold at least one unit, and leave only
		 * zero padding bits (fewer than 6) */
		if (i >= n || units == 0 || high != 0 || nbits >= 6 ||
		    bits != 0)
			goto fail;
		i++;
		just_closed = true;
	}
	return 0;
fail:
	buf_truncate(out, start_len);
	return -1;
}

void
imap_maildirpp_dir(const char *name, struct buf *out)
{
	if (strcmp(name, "INBOX") == 0)
		return;
	struct buf part = BUF_INIT;
	for (const char *p = name;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		buf_reset(&part);
		if (imap_utf8_to_mutf7(p, len, &part) < 0) {
			buf_reset(&part);
			buf_append(&part, p, len);
		}
		buf_putc(out, '.');
		for (size_t i = 0; i < part.len; i++)
			buf_putc(out, part.data[i] == '.' ? '_' : part.data[i]);
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	buf_free(&part);
}

#include "core/base64.h"

#include <stdint.h>

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a base64 digit, or -1. */
static int
digit_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
base64_encode(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t groups = n / 3 + (n % 3 != 0);

	if (groups > (SIZE_MAX - 1) / 4)
		return -1;
	char *dst = buf_reserve(out, groups * 4);
	if (dst == NULL)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
		dst[o++] = left > 2 ? alphabet[v & 63] : '=';
	}
	buf_commit(out, o);
	return 0;
}

/*
 * RFC 4648 §3.3: a decoder must reject characters outside the alphabet
 * (unless a specification says otherwise: MIME bodies, RFC 2045 §6.8, carry
 * line breaks).  §3.5: canonical encodings have zero pad bits; strict mode
 * refuses the others, so one value has exactly one encoding (SASL compares).
 */
int
base64_decode(struct buf *out, const char *text, size_t n, bool lenient)
{
	size_t start = out->len;
	uint32_t acc = 0;
	unsigned have = 0;	/* digits in acc */
	unsigned pad = 0;	/* '=' seen */

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (lenient && is_space((char)c))
			continue;
		if (c == '=') {
			/* padding only completes a group of 2 or 3 digits */
			if (have + pad < 2 || have + pad >= 4)
				goto fail;
			pad++;
			if (have + pad == 4) {
				/* group complete; nothing but (lenient) space may follow */
				for (size_t j = i + 1; j < n; j++) {
					if (!(lenient && is_space(text[j])))
						goto fail;
				}
				break;
			}
			continue;
		}
		if (pad > 0)
			goto fail;
		int v = digit_value(c);
		if (v < 0)
			goto fail;
		acc = (acc << 6) | (uint32_t)v;
		if (++have == 4) {
			unsigned char bytes[3] = {
				(unsigned char)(acc >> 16), (unsigned char)(acc >> 8),
				(unsigned char)acc
			};
			if (buf_append(out, bytes, 3) < 0)
				goto fail;
			acc = 0;
			have = 0;
		}
	}
	if (have == 0 && pad == 0)
		return 0;
	if (have + pad != 4) {
		/* an unpadded tail: real MIME has it; SASL must not */
		if (!lenient || have < 2)
			goto fail;
	}
	if (have == 1)
		goto fail;
	/* 2 digits carry 1 byte (4 pad bits), 3 digits carry 2 (2 pad bits) */
	unsigned char tail[2];
	size_t tlen = have - 1;
	unsigned padbits = have == 2 ? 4 : 2;
	if (!lenient && (acc & ((1u << padbits) - 1)) != 0)
		goto fail;
	acc >>= padbits;
	if (tlen == 1) {
		tail[0] = (unsigned char)acc;
	} else {
		tail[0] = (unsigned char)(acc >> 8);
		tail[1] = (unsigned char)acc;
	}
	if (buf_append(out, tail, tlen) < 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

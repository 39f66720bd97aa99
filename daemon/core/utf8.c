/* utf8: UTF-8 decoding, encoding and validation; see utf8.h. */
#include "core/utf8.h"

int
utf8_append(struct buf *out, uint32_t cp)
{
	char d[UTF8_SEQ_MAX];

	return buf_append(out, d, utf8_encode(cp, d));
}

size_t
utf8_valid_prefix(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0, len;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((len = utf8_decode(s + i, n - i, &cp)) == 0)
			break;
		i += len;
	}
	return i;
}

bool
utf8_valid(const void *p, size_t n)
{
	return utf8_valid_prefix(p, n) == n;
}

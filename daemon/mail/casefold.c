/* casefold: Unicode full case folding of UTF-8 text; see casefold.h. */
#include "mail/casefold.h"

#include <stdint.h>
#include <string.h>

#include "core/utf8.h"
#include "mail/casefold_table.h"

/*
 * Output is gathered in a block on the stack and appended to the buffer a
 * block at a time, so that the loop checks for room once per character (or
 * eight ASCII bytes) and not through buf_append() for each.  One step
 * writes at most UNIT_MAX bytes: eight ASCII bytes, or one code point's
 * folding (CASEFOLD_MULTI_MAX code points of up to four bytes each).
 */
#define BLOCK_SIZE 4096
#define UNIT_MAX (CASEFOLD_MULTI_MAX * UTF8_SEQ_MAX)

#define ONES UINT64_C(0x0101010101010101)
#define HIGH_BITS (ONES * 0x80)

/*
 * Eight ASCII bytes (every high bit clear) with A-Z lowercased.  Adding
 * 0x80 - 'A' to a byte sets its high bit when it is 'A' or more, adding
 * 0x80 - ('Z' + 1) when it is past 'Z'; no byte carries into the next, as
 * none is over 0x7f.  The difference of the two is the capitals, whose bit
 * 0x20 is then set.
 */
static uint64_t
ascii_lower8(uint64_t w)
{
	uint64_t ge_a = w + ONES * (0x80 - 'A');
	uint64_t gt_z = w + ONES * (0x80 - 'Z' - 1);
	return w | (((ge_a & ~gt_z) & HIGH_BITS) >> 2);
}

/* Writes the folding of cp (len bytes of well-formed UTF-8 at src) to d;
 * returns its length, at most UNIT_MAX. */
static size_t
fold_cp(uint32_t cp, const unsigned char *src, size_t len, char *d)
{
	unsigned e = 0;

	if ((cp >> CASEFOLD_SHIFT) < casefold_stage1_len)
		e = casefold_stage2[casefold_stage1[cp >> CASEFOLD_SHIFT]]
				   [cp & ((1u << CASEFOLD_SHIFT) - 1)];
	if (e == 0) {
		for (size_t i = 0; i < len; i++)
			d[i] = (char)src[i];
		return len;
	}
	if (e >= CASEFOLD_MULTI_BASE && e < CASEFOLD_MULTI_END) {
		const uint32_t *m = casefold_multi[e - CASEFOLD_MULTI_BASE];
		size_t k = 0;
		for (size_t i = 0; i < CASEFOLD_MULTI_MAX && m[i] != 0; i++)
			k += utf8_encode(m[i], d + k);
		return k;
	}
	return utf8_encode((cp & ~0xffffu) | e, d);
}

int
casefold_append(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p, *end = s + n;
	char block[BLOCK_SIZE];
	size_t k = 0;

	while (s < end) {
		if (k > BLOCK_SIZE - UNIT_MAX) {
			if (buf_append(out, block, k) < 0)
				return -1;
			k = 0;
		}
		if (*s < 0x80) {
			uint64_t w;
			if (end - s >= 8) {
				memcpy(&w, s, 8);
				if ((w & HIGH_BITS) == 0) {
					w = ascii_lower8(w);
					memcpy(block + k, &w, 8);
					k += 8;
					s += 8;
					continue;
				}
			}
			unsigned ch = *s++;
			block[k++] = (char)(ch - 'A' < 26u ? ch + 32 : ch);
			continue;
		}
		uint32_t cp;
		size_t len = utf8_decode(s, (size_t)(end - s), &cp);
		if (len == 0) {
			block[k++] = (char)*s++;
			continue;
		}
		k += fold_cp(cp, s, len, block + k);
		s += len;
	}
	if (k > 0 && buf_append(out, block, k) < 0)
		return -1;
	return 0;
}

char *
casefold_dup(const void *p, size_t n, size_t *len_r)
{
	struct buf b = BUF_INIT;

	/* no maximum: cannot fail */
	(void)casefold_append(&b, p, n);
	if (len_r != NULL)
		*len_r = b.len;
	return buf_steal(&b);
}

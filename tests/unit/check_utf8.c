/* Unit tests for core/utf8: the boundaries of each sequence length, the
 * RFC 3629 §10 and Markus Kuhn's malformed forms (overlongs, surrogates,
 * past U+10FFFF, truncation, stray continuation bytes), and every scalar
 * value through encode and decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "tests/unit/runner.h"

/* Decodes the C string s whole; the length, or 0. */
static size_t
decode_str(const char *s, uint32_t *cp_r)
{
	*cp_r = 0xdeadbeef;
	return utf8_decode(s, strlen(s), cp_r);
}

/* Scalar values at the edges of each length, with their bytes (RFC 3629
 * §4 and the UTF-8 table of Unicode §3.9). */
static const struct {
	uint32_t cp;
	const char *bytes;
} good[] = {
	{ 0x0001, "\x01" },
	{ 0x007f, "\x7f" },
	{ 0x0080, "\xc2\x80" },
	{ 0x00e9, "\xc3\xa9" },
	{ 0x07ff, "\xdf\xbf" },
	{ 0x0800, "\xe0\xa0\x80" },
	{ 0x0fff, "\xe0\xbf\xbf" },
	{ 0x1000, "\xe1\x80\x80" },
	{ 0xd7ff, "\xed\x9f\xbf" },	/* last before the surrogates */
	{ 0xe000, "\xee\x80\x80" },	/* first after them */
	{ 0xfeff, "\xef\xbb\xbf" },
	{ 0xfffd, "\xef\xbf\xbd" },
	{ 0xffff, "\xef\xbf\xbf" },
	{ 0x10000, "\xf0\x90\x80\x80" },
	{ 0x3ffff, "\xf0\xbf\xbf\xbf" },
	{ 0x40000, "\xf1\x80\x80\x80" },
	{ 0xfffff, "\xf3\xbf\xbf\xbf" },
	{ 0x100000, "\xf4\x80\x80\x80" },
	{ 0x10ffff, "\xf4\x8f\xbf\xbf" },
};

/* Byte strings that start with no well-formed character. */
static const char *const bad[] = {
	/* stray continuation bytes */
	"\x80", "\xbf", "\x80\x80", "\xbf" "A",
	/* lead bytes that never occur */
	"\xc0\x80", "\xc1\xbf", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf",
	"\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", "\xfe", "\xff",
	/* overlong forms: of NUL, '/', U+007F, U+07FF, U+FFFF */
	"\xe0\x80\x80", "\xe0\x80\xaf", "\xe0\x81\xbf", "\xe0\x9f\xbf",
	"\xf0\x80\x80\x80", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf",
	/* surrogates, alone and as a UTF-16 pair (CESU-8) */
	"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xbf\xbf",
	"\xed\xa0\x80\xed\xb0\x80",
	/* past U+10FFFF: U+110000, U+13FFFF */
	"\xf4\x90\x80\x80", "\xf4\xbf\xbf\xbf",
	/* a lead byte without its continuations */
	"\xc2", "\xc2" "A", "\xc2\xc2\x80", "\xdf\x7f",
	"\xe0", "\xe0\xa0", "\xe1\x80" "A", "\xef\xbf\xc0",
	"\xf0", "\xf0\x90", "\xf0\x90\x80", "\xf4\x8f\xbf" "A",
	"\xf1\x80\x80\xc0",
};

START_TEST(test_boundaries)
{
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *b = good[i].bytes;
		uint32_t cp;
		char d[UTF8_SEQ_MAX];
		ck_assert_msg(decode_str(b, &cp) == strlen(b) &&
			      cp == good[i].cp, "decode U+%04X", good[i].cp);
		ck_assert_msg(utf8_encode(good[i].cp, d) == strlen(b) &&
			      memcmp(d, b, strlen(b)) == 0,
			      "encode U+%04X", good[i].cp);
		ck_assert_uint_eq(utf8_char_len(b, strlen(b)), strlen(b));
		ck_assert(utf8_is_scalar(good[i].cp));
		ck_assert(utf8_valid(b, strlen(b)));
	}
	/* NUL is a character like any other */
	uint32_t cp = 1;
	ck_assert_uint_eq(utf8_decode("", 1, &cp), 1);
	ck_assert_uint_eq(cp, 0);
	ck_assert(utf8_valid("a\0b", 3));
	/* only the first character is taken */
	ck_assert_uint_eq(decode_str("\xc3\xa9\xc3\xa9", &cp), 2);
	ck_assert_uint_eq(cp, 0xe9);
}
END_TEST

START_TEST(test_malformed)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *b = bad[i];
		uint32_t cp;
		ck_assert_msg(decode_str(b, &cp) == 0 && cp == 0xdeadbeef,
			      "bad[%zu] decoded", i);
		ck_assert_uint_eq(utf8_char_len(b, strlen(b)), 0);
		ck_assert_msg(!utf8_valid(b, strlen(b)), "bad[%zu] valid", i);
		ck_assert_uint_eq(utf8_valid_prefix(b, strlen(b)), 0);
	}
	/* nothing to decode */
	uint32_t cp = 7;
	ck_assert_uint_eq(utf8_decode("A", 0, &cp), 0);
	ck_assert_uint_eq(cp, 7);
	ck_assert(utf8_valid("", 0));
	ck_assert(utf8_valid(NULL, 0));
}
END_TEST

/* A well-formed character cut short is refused at every length, even when
 * the bytes that follow in memory would complete it. */
START_TEST(test_truncated)
{
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const char *b = good[i].bytes;
		size_t len = strlen(b);
		for (size_t n = 1; n < len; n++) {
			uint32_t cp;
			ck_assert_msg(utf8_decode(b, n, &cp) == 0,
				      "U+%04X cut to %zu", good[i].cp, n);
			ck_assert(!utf8_valid(b, n));
		}
	}
}
END_TEST

/* Not scalar values: surrogates and past U+10FFFF have no UTF-8 form, and
 * encoding writes U+FFFD for them. */
START_TEST(test_encode_non_scalar)
{
	static const uint32_t cps[] = {
		0xd800, 0xdbff, 0xdc00, 0xdfff, 0x110000, 0x1fffff, 0x7fffffff,
		UINT32_MAX,
	};
	for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
		char d[UTF8_SEQ_MAX];
		ck_assert(!utf8_is_scalar(cps[i]));
		ck_assert_uint_eq(utf8_encode(cps[i], d), 3);
		ck_assert(memcmp(d, "\xef\xbf\xbd", 3) == 0);
	}
	ck_assert(utf8_is_scalar(0));
	ck_assert(utf8_is_scalar(0xd7ff));
	ck_assert(utf8_is_scalar(0xe000));
	ck_assert(utf8_is_scalar(0x10ffff));
}
END_TEST

START_TEST(test_valid_prefix)
{
	static const struct {
		const char *s;
		size_t prefix;
	} cases[] = {
		{ "", 0 },
		{ "plain ASCII", 11 },
		{ "caf\xc3\xa9", 5 },
		{ "caf\xc3", 3 },			/* cut at the end */
		{ "ab\x80" "cd", 2 },			/* stray continuation */
		{ "\xe2\x82\xac" "5\xc0\xaf", 4 },	/* overlong '/' */
		{ "x\xed\xa0\x80", 1 },			/* surrogate */
		{ "\xf0\x9f\x98\x80\xf4\x90\x80\x80", 4 },	/* past U+10FFFF */
		{ "\xf0\x9f\x98\x80\xf0\x9f\x98", 4 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i].s);
		ck_assert_msg(utf8_valid_prefix(cases[i].s, n) == cases[i].prefix,
			      "case %zu", i);
		ck_assert(utf8_valid(cases[i].s, n) == (cases[i].prefix == n));
	}
}
END_TEST

START_TEST(test_append)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(utf8_append(&b, 'A'), 0);
	ck_assert_int_eq(utf8_append(&b, 0xe9), 0);
	ck_assert_int_eq(utf8_append(&b, 0x20ac), 0);
	ck_assert_int_eq(utf8_append(&b, 0x1f600), 0);
	ck_assert_int_eq(utf8_append(&b, 0xdc00), 0);
	ck_assert_str_eq(buf_cstr(&b),
			 "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd");
	buf_free(&b);

	/* past the maximum nothing of the character is written */
	struct buf small;
	buf_init(&small, 5);
	ck_assert_int_eq(utf8_append(&small, 0x20ac), 0);
	ck_assert_int_eq(utf8_append(&small, 0x20ac), -1);
	ck_assert_uint_eq(small.len, 3);
	ck_assert_int_eq(utf8_append(&small, 0xe9), 0);
	ck_assert_int_eq(utf8_append(&small, 'x'), -1);
	ck_assert_str_eq(buf_cstr(&small), "\xe2\x82\xac\xc3\xa9");
	buf_free(&small);
}
END_TEST

/* Every scalar value encodes to what decoding takes back whole, the
 * length follows from the value alone, and its bytes are valid. */
START_TEST(test_all_scalar_values)
{
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		if (!utf8_is_scalar(cp))
			continue;
		char d[UTF8_SEQ_MAX];
		uint32_t back = UINT32_MAX;
		size_t len = utf8_encode(cp, d);
		size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
		/* plain ifs: every passing ck_assert() costs Check a write */
		if (len != want || utf8_decode(d, len, &back) != len ||
		    back != cp || !utf8_valid(d, len))
			ck_abort_msg("U+%04X round trip", cp);
	}
}
END_TEST

/* The oracle for the exhaustive test, written the other way round from
 * the decoder: take the length from the lead byte's high bits as the
 * original UTF-8 (RFC 2279) did, gather the value, then refuse what RFC 3629
 * §3 forbids by the value: an overlong form, a surrogate, past U+10FFFF. */
static size_t
oracle_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		len = 1, cp = s[0];
	else if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0fu;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

START_TEST(test_exhaustive_prefixes)
{
	/* every first and second byte, each followed by continuation
	 * bytes, ASCII and a lead byte, at every length */
	static const unsigned char tails[][2] = {
		{ 0x80, 0x80 }, { 0xbf, 0xbf }, { 0x41, 0x80 }, { 0x80, 0x41 },
		{ 0xc0, 0x80 },
	};
	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
				unsigned char s[4] = { (unsigned char)a,
						       (unsigned char)b,
						       tails[t][0], tails[t][1] };
				for (size_t n = 1; n <= 4; n++) {
					uint32_t cp = 0, want = 0;
					size_t len = utf8_decode(s, n, &cp);
					if (len != oracle_decode(s, n, &want) ||
					    cp != want)
						ck_abort_msg("%02x %02x %02x %02x "
							     "n=%zu", a, b,
							     s[2], s[3], n);
				}
			}
		}
	}
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("utf8");
	tcase_add_test(tc, test_boundaries);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_encode_non_scalar);
	tcase_add_test(tc, test_valid_prefix);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_all_scalar_values);
	tcase_add_test(tc, test_exhaustive_prefixes);
	suite_add_tcase(s, tc);
	return s;
}

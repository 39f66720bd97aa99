/* Unit tests for mail/rfc2047 (encoded words, charsets, base64, QP). */
#include <string.h>

#include "core/buf.h"
#include "mail/rfc2047.h"
#include "tests/unit/runner.h"

static char *
decode(const char *s)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(rfc2047_decode(&b, s, strlen(s)), 0);
	return b.data != NULL ? buf_steal(&b) : strdup("");
}

#define ck_decode(in, want) \
	do { \
		char *got_ = decode(in); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

START_TEST(test_words)
{
	ck_decode("plain text", "plain text");
	ck_decode("=?utf-8?q?J=C3=B6rg_M=C3=BCller?=", "J\xc3\xb6rg M\xc3\xbcller");
	ck_decode("=?UTF-8?B?SsO2cmc=?=", "J\xc3\xb6rg");
	ck_decode("=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9");
	ck_decode("=?ISO-8859-15?Q?=A4uro?=", "\xe2\x82\xac" "uro");
	ck_decode("=?windows-1252?Q?=93quoted=94?=", "\xe2\x80\x9cquoted\xe2\x80\x9d");
	ck_decode("=?us-ascii?q?hello?=", "hello");
	/* RFC 2231 §5 language suffix */
	ck_decode("=?utf-8*de?q?Gr=C3=BC=C3=9Fe?=", "Gr\xc3\xbc\xc3\x9f" "e");
}
END_TEST

START_TEST(test_adjacent_and_mixed)
{
	/* RFC 2047 §8 examples */
	ck_decode("(=?ISO-8859-1?Q?a?=)", "(a)");
	ck_decode("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	ck_decode("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	ck_decode("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)");
	ck_decode("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)");
	ck_decode("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	/* an unknown charset stays with the space before it */
	ck_decode("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)",
		  "(a =?ISO-8859-2?Q?_b?=)");
	/* a UTF-8 character split over two words */
	ck_decode("=?utf-8?B?w6k=?= =?utf-8?q?=C3?= =?utf-8?q?=A9t=C3=A9?=",
		  "\xc3\xa9\xc3\xa9t\xc3\xa9");
	/* different charsets next to each other */
	ck_decode("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "\xc3\xa9\xc3\xa9");
	/* text around words, folding removed */
	ck_decode("Re: =?utf-8?q?caf=C3=A9?= time\r\n again",
		  "Re: caf\xc3\xa9 time again");
}
END_TEST

START_TEST(test_broken_words)
{
	/* unknown charset: left as it is */
	ck_decode("=?x-unknown?q?abc?=", "=?x-unknown?q?abc?=");
	/* malformed words are plain text */
	ck_decode("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	ck_decode("=?utf-8?q?abc", "=?utf-8?q?abc");
	ck_decode("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	ck_decode("=??q?a?=", "=??q?a?=");
	/* bad base64 characters skipped, invalid UTF-8 read as cp1252 */
	ck_decode("=?utf-8?b?w6k*?=", "\xc3\xa9");
	ck_decode("=?utf-8?q?=FF?=", "\xc3\xbf");
	/* raw 8-bit outside words: valid UTF-8 kept, else cp1252 */
	ck_decode("caf\xc3\xa9 caf\xe9", "caf\xc3\xa9 caf\xc3\xa9");
	/* every prefix of a tricky value decodes */
	const char *t = "a =?utf-8?q?=C3=A9=?= =?iso-8859-1?b?6Q==?= z";
	for (size_t i = 0; i <= strlen(t); i++) {
		struct buf b = BUF_INIT;
		ck_assert_int_eq(rfc2047_decode(&b, t, i), 0);
		buf_free(&b);
	}
	struct buf small;
	buf_init(&small, 3);
	ck_assert_int_eq(rfc2047_decode(&small, "=?utf-8?q?abcdef?=", 18), -1);
	buf_free(&small);
}
END_TEST

START_TEST(test_charsets)
{
	struct buf b = BUF_INIT;
	ck_assert(charset_is_known("UTF-8"));
	ck_assert(charset_is_known("latin1"));
	ck_assert(!charset_is_known("koi8-r"));
	ck_assert_int_eq(charset_to_utf8(&b, "koi8-r", "abc", 3), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(charset_to_utf8(&b, "cp1252", "\x80\x9f", 2), 1);
	ck_assert_str_eq(buf_cstr(&b), "\xe2\x82\xac\xc5\xb8");
	buf_reset(&b);
	/* overlong and surrogate UTF-8 are not let through */
	ck_assert_int_eq(charset_to_utf8(&b, "utf-8", "\xc0\xaf\xed\xa0\x80", 5), 1);
	ck_assert_str_eq(buf_cstr(&b), "\xc3\x80\xc2\xaf\xc3\xad\xc2\xa0\xe2\x82\xac");
	buf_free(&b);
}
END_TEST

START_TEST(test_base64_qp)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(mime_base64_decode(&b, "aGVs\r\nbG8=\r\n", 12), 0);
	ck_assert_str_eq(buf_cstr(&b), "hello");
	buf_reset(&b);
	ck_assert_int_eq(mime_base64_decode(&b, "aG!V#sbG8", 9), 0);
	ck_assert_str_eq(buf_cstr(&b), "hello");
	buf_reset(&b);
	const char *qp = "caf=C3=A9 =\r\nsoft   \r\nx=3d=3D=zz=\n end=";
	ck_assert_int_eq(mime_qp_decode(&b, qp, strlen(qp), false), 0);
	ck_assert_str_eq(buf_cstr(&b), "caf\xc3\xa9 soft\r\nx===zz end");
	buf_reset(&b);
	ck_assert_int_eq(mime_qp_decode(&b, "a_b=5F", 6, true), 0);
	ck_assert_str_eq(buf_cstr(&b), "a b_");
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_rfc2047");
	TCase *tc = tcase_create("rfc2047");
	tcase_add_test(tc, test_words);
	tcase_add_test(tc, test_adjacent_and_mixed);
	tcase_add_test(tc, test_broken_words);
	tcase_add_test(tc, test_charsets);
	tcase_add_test(tc, test_base64_qp);
	suite_add_tcase(s, tc);
	return s;
}

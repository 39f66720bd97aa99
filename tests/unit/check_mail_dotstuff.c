/* Unit tests for mail/dotstuff, whole and split at every point. */
#include <string.h>

#include "core/buf.h"
#include "mail/dotstuff.h"
#include "tests/unit/runner.h"

static const struct {
	const char *in, *out;
} cases[] = {
	{ "", ".\r\n" },
	{ "hello\r\n", "hello\r\n.\r\n" },
	{ "hello", "hello\r\n.\r\n" },
	{ ".", "..\r\n.\r\n" },
	{ ".\r\n", "..\r\n.\r\n" },
	{ "a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n" },
	{ "bare\nlf\n.dot\n", "bare\r\nlf\r\n..dot\r\n.\r\n" },
	{ "mixed\r\nline\nends", "mixed\r\nline\r\nends\r\n.\r\n" },
	{ "a.b\r\n x.\r\n", "a.b\r\n x.\r\n.\r\n" },
	{ "cr\rinside\r\n", "cr\rinside\r\n.\r\n" },
	{ "ends in cr\r", "ends in cr\r\n.\r\n" },
	{ "\r\n\r\n", "\r\n\r\n.\r\n" },
	{ "\n.\n", "\r\n..\r\n.\r\n" },
};

START_TEST(test_whole)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dotstuff ds;
		struct buf b = BUF_INIT;
		dotstuff_init(&ds);
		ck_assert_int_eq(dotstuff_add(&ds, &b, cases[i].in,
					      strlen(cases[i].in)), 0);
		ck_assert_int_eq(dotstuff_finish(&ds, &b), 0);
		ck_assert_str_eq(buf_cstr(&b), cases[i].out);
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_split)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = strlen(cases[i].in);
		/* split at every point, and byte by byte */
		for (size_t cut = 0; cut <= n; cut++) {
			struct dotstuff ds;
			struct buf b = BUF_INIT;
			dotstuff_init(&ds);
			ck_assert_int_eq(dotstuff_add(&ds, &b, cases[i].in, cut), 0);
			ck_assert_int_eq(dotstuff_add(&ds, &b, cases[i].in + cut,
						      n - cut), 0);
			ck_assert_int_eq(dotstuff_finish(&ds, &b), 0);
			ck_assert_str_eq(buf_cstr(&b), cases[i].out);
			buf_free(&b);
		}
		struct dotstuff ds;
		struct buf b = BUF_INIT;
		dotstuff_init(&ds);
		for (size_t k = 0; k < n; k++)
			ck_assert_int_eq(dotstuff_add(&ds, &b, cases[i].in + k, 1), 0);
		ck_assert_int_eq(dotstuff_finish(&ds, &b), 0);
		ck_assert_str_eq(buf_cstr(&b), cases[i].out);
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_full_and_reuse)
{
	struct dotstuff ds;
	struct buf b;
	buf_init(&b, 8);
	dotstuff_init(&ds);
	ck_assert_int_eq(dotstuff_add(&ds, &b, "0123456789", 10), -1);
	buf_free(&b);
	/* finish resets the encoder for the next message */
	buf_init(&b, 0);
	dotstuff_init(&ds);
	ck_assert_int_eq(dotstuff_add(&ds, &b, "x", 1), 0);
	ck_assert_int_eq(dotstuff_finish(&ds, &b), 0);
	ck_assert_int_eq(dotstuff_add(&ds, &b, ".y", 2), 0);
	ck_assert_int_eq(dotstuff_finish(&ds, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "x\r\n.\r\n..y\r\n.\r\n");
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_dotstuff");
	TCase *tc = tcase_create("dotstuff");
	tcase_add_test(tc, test_whole);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_full_and_reuse);
	suite_add_tcase(s, tc);
	return s;
}

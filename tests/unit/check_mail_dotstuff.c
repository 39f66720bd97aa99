/* Unit tests for mail/dotstuff, whole and split at every point. */
#include <stdbool.h>
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
	/* a bare CR ends its line too (issue 14: "\r.\r" went out as it was) */
	{ "cr\rinside\r\n", "cr\r\ninside\r\n.\r\n" },
	{ "ends in cr\r", "ends in cr\r\n.\r\n" },
	{ "\r\n\r\n", "\r\n\r\n.\r\n" },
	{ "\n.\n", "\r\n..\r\n.\r\n" },
	{ "x\r.\r", "x\r\n..\r\n.\r\n" },
	{ "x\r.\rMAIL FROM:<a@b.c>\r\n", "x\r\n..\r\nMAIL FROM:<a@b.c>\r\n.\r\n" },
	{ "x\r\r\n.\r\n", "x\r\n\r\n..\r\n.\r\n" },
	{ "\r", "\r\n.\r\n" },
	{ "\r.", "\r\n..\r\n.\r\n" },
	{ "\n\r.\r\n", "\r\n\r\n..\r\n.\r\n" },
	{ ".\r\n.\n.\r.", "..\r\n..\r\n..\r\n..\r\n.\r\n" },
};

/* The encoder's output has only CRLF line ends, a doubled dot at each
 * line start, and the end marker at the end only. */
static void
assert_clean(const char *out, size_t len)
{
	ck_assert_uint_ge(len, 3);
	ck_assert_int_eq(memcmp(out + len - 3, ".\r\n", 3), 0);
	len -= 3;
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '\r')
			ck_assert(i + 1 < len && out[i + 1] == '\n');
		if (out[i] == '\n')
			ck_assert(i > 0 && out[i - 1] == '\r');
		if (bol && out[i] == '.')
			ck_assert(i + 1 < len && out[i + 1] == '.');
		bol = out[i] == '\n';
	}
	ck_assert(bol);
}

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
		assert_clean(b.data, b.len);
		/* the count agrees */
		uint64_t count = 0;
		dotstuff_init(&ds);
		dotstuff_count(&ds, cases[i].in, strlen(cases[i].in), &count);
		dotstuff_count(&ds, NULL, 0, &count);
		ck_assert_uint_eq(count, b.len);
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_all_short_inputs)
{
	/* every string of up to 6 bytes over { '.', CR, LF, 'a' }, whole and
	 * byte by byte: clean output, and the same output both ways */
	static const char alphabet[] = ".\r\na";
	char in[6];
	for (size_t len = 0; len <= sizeof in; len++) {
		size_t combos = 1;
		for (size_t k = 0; k < len; k++)
			combos *= 4;
		for (size_t v = 0; v < combos; v++) {
			size_t x = v;
			for (size_t k = 0; k < len; k++, x /= 4)
				in[k] = alphabet[x % 4];
			struct dotstuff ds;
			struct buf whole = BUF_INIT, bytes = BUF_INIT;
			dotstuff_init(&ds);
			ck_assert_int_eq(dotstuff_add(&ds, &whole, in, len), 0);
			ck_assert_int_eq(dotstuff_finish(&ds, &whole), 0);
			assert_clean(whole.data, whole.len);
			dotstuff_init(&ds);
			for (size_t k = 0; k < len; k++)
				ck_assert_int_eq(dotstuff_add(&ds, &bytes, in + k, 1), 0);
			ck_assert_int_eq(dotstuff_finish(&ds, &bytes), 0);
			ck_assert_uint_eq(whole.len, bytes.len);
			ck_assert_int_eq(memcmp(whole.data, bytes.data, whole.len), 0);
			buf_free(&whole);
			buf_free(&bytes);
		}
	}
}
END_TEST

START_TEST(test_lines_mode)
{
	/* BDAT: line ends only, no dots, no end marker; counted alike */
	static const struct {
		const char *in, *out;
	} lines[] = {
		{ "", "" },
		{ ".\r\n", ".\r\n" },
		{ "a\r.\rb", "a\r\n.\r\nb\r\n" },
		{ "a\n.\n", "a\r\n.\r\n" },
		{ "end\r", "end\r\n" },
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		size_t n = strlen(lines[i].in);
		for (size_t cut = 0; cut <= n; cut++) {
			struct dotstuff ds;
			struct buf b = BUF_INIT;
			uint64_t count = 0;
			dotstuff_init_lines(&ds);
			ck_assert_int_eq(dotstuff_add(&ds, &b, lines[i].in, cut), 0);
			ck_assert_int_eq(dotstuff_add(&ds, &b, lines[i].in + cut, n - cut), 0);
			ck_assert_int_eq(dotstuff_finish(&ds, &b), 0);
			ck_assert_str_eq(buf_cstr(&b), lines[i].out);
			dotstuff_init_lines(&ds);
			dotstuff_count(&ds, lines[i].in, cut, &count);
			dotstuff_count(&ds, lines[i].in + cut, n - cut, &count);
			dotstuff_count(&ds, NULL, 0, &count);
			ck_assert_uint_eq(count, b.len);
			buf_free(&b);
		}
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
	tcase_add_test(tc, test_all_short_inputs);
	tcase_add_test(tc, test_lines_mode);
	tcase_add_test(tc, test_full_and_reuse);
	suite_add_tcase(s, tc);
	return s;
}

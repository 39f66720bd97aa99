/* Unit tests for mail/header. */
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "mail/header.h"
#include "tests/unit/runner.h"

static const char msg1[] =
	"Received: from a by b;\r\n"
	"\tMon, 23 Nov 2026 08:30:00 +0000\r\n"
	"From: Alice <alice@example.org>\r\n"
	"Subject: a long\r\n"
	" subject line\r\n"
	"To: bob@example.org\r\n"
	"X-Empty:\r\n"
	"subject : second one\r\n"
	"No colon here\r\n"
	"\r\n"
	"Body: not a header\r\n";

START_TEST(test_size)
{
	size_t n = mail_header_size(msg1, strlen(msg1));
	ck_assert_str_eq(msg1 + n, "Body: not a header\r\n");
	ck_assert_uint_eq(mail_header_size("A: b\n\nbody", 10), 6);
	/* no empty line: all header */
	ck_assert_uint_eq(mail_header_size("A: b\r\nC: d", 10), 10);
	/* empty message and message starting with the empty line */
	ck_assert_uint_eq(mail_header_size("", 0), 0);
	ck_assert_uint_eq(mail_header_size("\r\nbody", 6), 2);
}
END_TEST

START_TEST(test_iterate)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	size_t n = mail_header_size(msg1, strlen(msg1));
	const char *names[] = { "Received", "From", "Subject", "To", "X-Empty",
				"subject", "" };
	size_t i = 0;
	mail_header_iter_init(&it, msg1, n);
	while (mail_header_iter_next(&it, &f)) {
		ck_assert_uint_lt(i, 7);
		ck_assert_uint_eq(f.name_len, strlen(names[i]));
		ck_assert_int_eq(memcmp(f.name, names[i], f.name_len), 0);
		i++;
	}
	ck_assert_uint_eq(i, 7);

	ck_assert(mail_header_find(msg1, n, "SUBJECT", false, &f));
	ck_assert_uint_eq(f.value_len, strlen("a long\r\n subject line"));
	ck_assert_int_eq(memcmp(f.value, "a long\r\n subject line", f.value_len), 0);
	ck_assert_int_eq(memcmp(msg1 + f.raw_off, "Subject: a long\r\n subject line\r\n",
				f.raw_len), 0);
	ck_assert(mail_header_find(msg1, n, "subject", true, &f));
	ck_assert_int_eq(memcmp(f.value, "second one", f.value_len), 0);
	ck_assert(mail_header_find(msg1, n, "x-empty", false, &f));
	ck_assert_uint_eq(f.value_len, 0);
	ck_assert(!mail_header_find(msg1, n, "Cc", false, &f));
	/* the body is not searched */
	ck_assert(!mail_header_find(msg1, n, "Body", false, &f));
}
END_TEST

START_TEST(test_get_unfold)
{
	struct buf b = BUF_INIT;
	size_t n = mail_header_size(msg1, strlen(msg1));
	ck_assert_int_eq(mail_header_get(&b, msg1, n, "subject"), 1);
	ck_assert_str_eq(buf_cstr(&b), "a long subject line");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_get(&b, msg1, n, "received"), 1);
	ck_assert_str_eq(buf_cstr(&b), "from a by b;\tMon, 23 Nov 2026 08:30:00 +0000");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_get(&b, msg1, n, "nope"), 0);
	struct buf small;
	buf_init(&small, 4);
	ck_assert_int_eq(mail_header_get(&small, msg1, n, "subject"), -1);
	buf_free(&small);
	buf_free(&b);
}
END_TEST

START_TEST(test_get_decoded)
{
	const char *h = "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
			"X-Tag: one\r\n"
			"x-tag: two\r\n\tfolded\r\n"
			"X-Empty:\r\n"
			"\r\n";
	struct buf b = BUF_INIT;
	ck_assert_int_eq(mail_header_get_decoded(&b, h, strlen(h), "subject"), 1);
	ck_assert_str_eq(buf_cstr(&b), "caf\xc3\xa9");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_get_decoded(&b, h, strlen(h), "X-TAG"), 2);
	ck_assert_str_eq(buf_cstr(&b), "one\ntwo\tfolded");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_get_decoded(&b, h, strlen(h), "x-empty"), 1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(mail_header_get_decoded(&b, h, strlen(h), "nope"), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_write_fields)
{
	struct buf b = BUF_INIT;
	size_t n = mail_header_size(msg1, strlen(msg1));
	const char *want[] = { "subject", "TO" };
	ck_assert_int_eq(mail_header_write_fields(&b, msg1, n, want, 2, false), 0);
	ck_assert_str_eq(buf_cstr(&b),
			 "Subject: a long\r\n subject line\r\n"
			 "To: bob@example.org\r\n"
			 "subject : second one\r\n"
			 "\r\n");
	buf_reset(&b);
	const char *drop[] = { "received", "subject", "x-empty" };
	ck_assert_int_eq(mail_header_write_fields(&b, msg1, n, drop, 3, true), 0);
	ck_assert_str_eq(buf_cstr(&b),
			 "From: Alice <alice@example.org>\r\n"
			 "To: bob@example.org\r\n"
			 "No colon here\r\n"
			 "\r\n");
	buf_reset(&b);
	/* nothing matches: only the empty line (RFC 3501 §6.4.5) */
	const char *none[] = { "cc" };
	ck_assert_int_eq(mail_header_write_fields(&b, msg1, n, none, 1, false), 0);
	ck_assert_str_eq(buf_cstr(&b), "\r\n");
	buf_reset(&b);
	/* LF-only input comes out with CRLF.  Without an empty line at the
	 * end of the header, HEADER.FIELDS still ends with CRLF and .NOT
	 * adds nothing (as Dovecot 2.3.19 answers) */
	const char *lf = "A: 1\nB: 2\n 3\nC: 4";
	const char *ab[] = { "b", "c" };
	ck_assert_int_eq(mail_header_write_fields(&b, lf, strlen(lf), ab, 2, false), 0);
	ck_assert_str_eq(buf_cstr(&b), "B: 2\r\n 3\r\nC: 4\r\n");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_write_fields(&b, lf, strlen(lf), ab, 2, true), 0);
	ck_assert_str_eq(buf_cstr(&b), "A: 1\r\n");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_write_fields(&b, "", 0, ab, 2, false), 0);
	ck_assert_str_eq(buf_cstr(&b), "\r\n");
	buf_reset(&b);
	ck_assert_int_eq(mail_header_write_fields(&b, "", 0, ab, 2, true), 0);
	ck_assert_str_eq(buf_cstr(&b), "");
	buf_free(&b);
	/* too small: -1 and nothing written */
	struct buf small;
	buf_init(&small, 10);
	buf_puts(&small, "x");
	ck_assert_int_eq(mail_header_write_fields(&small, msg1, n, want, 2, false), -1);
	ck_assert_str_eq(buf_cstr(&small), "x");
	buf_free(&small);
}
END_TEST

START_TEST(test_nul_and_limits)
{
	static const char nul[] = "A: x\0y\r\nB: z\r\n\r\nbody";
	size_t len = sizeof nul - 1;
	size_t n = mail_header_size(nul, len);
	ck_assert_uint_eq(n, len - 4);
	struct mail_header_field f;
	ck_assert(mail_header_find(nul, n, "b", false, &f));
	ck_assert_int_eq(memcmp(f.value, "z", 1), 0);

	/* more header lines than the limit: the rest is body */
	struct buf big = BUF_INIT;
	for (int i = 0; i < MIME_HEADER_LINES_MAX + 10; i++)
		buf_printf(&big, "X-%d: v\r\n", i);
	buf_puts(&big, "\r\nbody");
	n = mail_header_size(big.data, big.len);
	ck_assert_uint_lt(n, big.len - 6);
	buf_free(&big);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_header");
	TCase *tc = tcase_create("header");
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_iterate);
	tcase_add_test(tc, test_get_unfold);
	tcase_add_test(tc, test_get_decoded);
	tcase_add_test(tc, test_write_fields);
	tcase_add_test(tc, test_nul_and_limits);
	suite_add_tcase(s, tc);
	return s;
}

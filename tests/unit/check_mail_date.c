/* Unit tests for mail/date. */
#include <string.h>

#include "core/buf.h"
#include "mail/date.h"
#include "tests/unit/runner.h"

/* 2007-02-15 01:02:03 UTC */
#define T_2007 1171501323

static void
ck_date(const char *s, time_t want, int want_tz)
{
	time_t t;
	int tz;
	ck_assert_msg(mail_date_parse(s, strlen(s), &t, &tz) == 0, "%s", s);
	ck_assert_msg(t == want, "%s: %lld != %lld", s, (long long)t,
		      (long long)want);
	ck_assert_int_eq(tz, want_tz);
}

static void
ck_bad(const char *s)
{
	time_t t;
	int tz;
	ck_assert_msg(mail_date_parse(s, strlen(s), &t, &tz) == -1, "%s", s);
}

START_TEST(test_rfc5322)
{
	ck_date("Thu, 15 Feb 2007 01:02:03 +0000", T_2007, 0);
	ck_date("Thu, 15 Feb 2007 03:02:03 +0200", T_2007, 120);
	ck_date("15 Feb 2007 01:02:03 +0000", T_2007, 0);
	ck_date("Wed, 14 Feb 2007 20:32:03 -0430", T_2007, -270);
	/* missing seconds */
	ck_date("Thu, 15 Feb 2007 01:02 +0000", T_2007 - 3, 0);
	/* obsolete forms: two-digit year, named zones, comments, spaces */
	ck_date("Thu, 15 Feb 07 01:02:03 GMT", T_2007, 0);
	ck_date("Wed, 14 Feb 2007 20:02:03 EST", T_2007, -300);
	ck_date("Wed, 14 Feb 2007 17:02:03 PST (Pacific)", T_2007, -480);
	ck_date("  Thu ,  15  Feb  2007  01 : 02 : 03  +0000  (UTC)", T_2007, 0);
	ck_date("Thu, 15 feb 2007 01:02:03 UT", T_2007, 0);
	ck_date("15-Feb-2007 01:02:03 +0000", T_2007, 0);
	ck_date("Thu, 15 Feb 107 01:02:03 +0000", T_2007, 0);
	ck_date("Thu, 15 Feb 2007 01:02:03", T_2007, 0);
	ck_date("Sat, 1 Jan 50 00:00:00 +0000", -631152000, 0);
	/* leap day and leap second */
	ck_date("29 Feb 2024 00:00:00 +0000", 1709164800, 0);
	ck_date("31 Dec 2016 23:59:60 +0000", 1483228799, 0);
	ck_bad("");
	ck_bad("yesterday");
	ck_bad("Thu, 15 Foo 2007 01:02:03 +0000");
	ck_bad("30 Feb 2007 01:02:03 +0000");
	ck_bad("29 Feb 2023 01:02:03 +0000");
	ck_bad("15 Feb 2007 25:02:03 +0000");
	ck_bad("15 Feb 2007 01:02:03 +00");
	ck_bad("15 Feb 2007");
}
END_TEST

START_TEST(test_day)
{
	time_t t;
	int tz;
	/* 23:30 on the 14th in New York is the 15th in UTC; SENTON looks at
	 * the 14th */
	ck_assert_int_eq(mail_date_parse("Wed, 14 Feb 2007 23:30:00 -0500",
					 31, &t, &tz), 0);
	time_t day;
	ck_assert_int_eq(imap_date_parse("14-Feb-2007", 11, &day), 0);
	ck_assert(mail_date_day(t, tz) == day);
	ck_assert(mail_date_day(-1, 0) == -86400);
}
END_TEST

START_TEST(test_imap_format)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(imap_date_time_format(&b, T_2007, 0), 0);
	ck_assert_str_eq(buf_cstr(&b), "15-Feb-2007 01:02:03 +0000");
	buf_reset(&b);
	ck_assert_int_eq(imap_date_time_format(&b, T_2007, -270), 0);
	ck_assert_str_eq(buf_cstr(&b), "14-Feb-2007 20:32:03 -0430");
	buf_reset(&b);
	ck_assert_int_eq(imap_date_time_format(&b, 1795422600, 0), 0);
	ck_assert_str_eq(buf_cstr(&b), "23-Nov-2026 08:30:00 +0000");
	buf_reset(&b);
	ck_assert_int_eq(imap_date_time_format(&b, 0, 60), 0);
	ck_assert_str_eq(buf_cstr(&b), "01-Jan-1970 01:00:00 +0100");
	buf_reset(&b);
	/* out of range: refused, nothing written */
	ck_assert_int_eq(imap_date_time_format(&b, (time_t)1 << 60, 0), -1);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_imap_parse)
{
	time_t t;
	int tz;
	const char *ok[] = {
		"15-Feb-2007 01:02:03 +0000", "\"15-Feb-2007 03:02:03 +0200\"",
		"14-Feb-2007 20:32:03 -0430",
	};
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(imap_date_time_parse(ok[i], strlen(ok[i]), &t, &tz), 0);
		ck_assert(t == T_2007);
	}
	ck_assert_int_eq(imap_date_time_parse(" 1-Jan-1970 00:00:00 +0000", 26, &t, &tz), 0);
	ck_assert(t == 0);
	ck_assert_int_eq(imap_date_time_parse("1-Jan-1970 00:00:00 +0000", 25, &t, &tz), 0);
	const char *bad[] = {
		"15-Feb-2007 01:02:03", "15-Feb-07 01:02:03 +0000",
		"15-Feb-2007 1:02:03 +0000", "15 Feb 2007 01:02:03 +0000",
		"15-Feb-2007 01:02:03 +0000 x", "32-Jan-2007 01:02:03 +0000",
		"15-Feb-2007 01:02:03 +0070", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(imap_date_time_parse(bad[i], strlen(bad[i]), &t, &tz), -1);

	time_t day;
	ck_assert_int_eq(imap_date_parse("1-Feb-1994", 10, &day), 0);
	ck_assert(day == 760060800);
	ck_assert_int_eq(imap_date_parse("\"01-feb-1994\"", 13, &day), 0);
	ck_assert(day == 760060800);
	ck_assert_int_eq(imap_date_parse("1-Feb-94", 8, &day), -1);
	ck_assert_int_eq(imap_date_parse("1-Feb-1994 ", 11, &day), -1);
	ck_assert_int_eq(imap_date_parse("0-Feb-1994", 10, &day), -1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_date");
	TCase *tc = tcase_create("date");
	tcase_add_test(tc, test_rfc5322);
	tcase_add_test(tc, test_day);
	tcase_add_test(tc, test_imap_format);
	tcase_add_test(tc, test_imap_parse);
	suite_add_tcase(s, tc);
	return s;
}

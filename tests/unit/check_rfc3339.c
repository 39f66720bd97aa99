/* Unit tests for web/rfc3339: the date-times of RFC 3339 §5.6. */
#include "tests/unit/runner.h"
#include "web/rfc3339.h"

START_TEST(test_valid)
{
	static const struct {
		const char *text;
		int64_t t;
	} v[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-11-23T08:30:00Z", 1795422600 },
		{ "2026-11-23t08:30:00z", 1795422600 },
		{ "2026-11-23 08:30:00Z", 1795422600 },
		{ "2026-11-23T09:30:00+01:00", 1795422600 },
		{ "2026-11-23T03:00:00-05:30", 1795422600 },
		{ "2026-11-23T08:30:00.999Z", 1795422600 },
		/* RFC 3339 §5.8 examples */
		{ "1985-04-12T23:20:50.52Z", 482196050 },
		{ "1996-12-19T16:39:57-08:00", 851042397 },
		{ "1990-12-31T23:59:60Z", 662687999 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "2024-02-29T12:00:00Z", 1709208000 },
		{ "9999-12-31T23:59:59Z", 253402300799 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int64_t t = -1;
		ck_assert_msg(rfc3339_parse(v[i].text, &t), "%s", v[i].text);
		ck_assert_msg(t == v[i].t, "%s: %lld", v[i].text, (long long)t);
	}
}
END_TEST

START_TEST(test_invalid)
{
	static const char *const bad[] = {
		"", "2026-11-23", "2026-11-23T08:30:00", "2026-11-23T08:30Z",
		"2026-11-23T08:30:00+0100", "2026-11-23T08:30:00+01", "26-11-23T08:30:00Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-23T24:00:00Z",
		"2026-11-23T08:60:00Z", "2026-11-23T08:30:61Z", "2026-11-23T08:30:00.Z",
		"2026-11-23T08:30:00Z ", " 2026-11-23T08:30:00Z", "2026-11-23X08:30:00Z",
		"2026-11-23T08:30:00+24:00", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00+00:01",
		"tomorrow", "2026-11-23T08:30:00ZZ", "+2026-11-23T08:30:00Z",
		"2026-11-23T08:30:00.12345678901234567890123456789012345678901234567890Z",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t t;
		ck_assert_msg(!rfc3339_parse(bad[i], &t), "%s", bad[i]);
	}
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("rfc3339");
	TCase *tc = tcase_create("web");
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

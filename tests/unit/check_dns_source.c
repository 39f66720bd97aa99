/* Unit tests for trust/dns_source: the table source the evaluators' tests
 * and fuzzers use (records, NXDOMAIN versus no data, wildcards, failures),
 * and the contract dns_source_query() keeps. */
#include <stdio.h>
#include <string.h>

#include "trust/dns_source.h"
#include "tests/unit/runner.h"

static const char zone[] =
	"# a comment, then a blank line\n"
	"\n"
	"example.test TXT \"v=spf1 \" \"-all\"\n"
	"example.test TXT \"\"\n"
	"Example.Test. A 192.0.2.1\n"
	"example.test AAAA 2001:db8::1\n"
	"example.test MX 10 MX.example.test.\n"
	"7.2.0.192.in-addr.arpa PTR mail.example.test\n"
	"deep.sub.example.test A 192.0.2.9\n"
	"*.wild.test TXT \"wild \\\"quoted\\\"\"\n"
	"here.wild.test A 192.0.2.3\n"
	"fail.test TXT !TEMPFAIL\n"
	"fail.test A 192.0.2.4\n"
	"bad.test MX !ERROR\n";

START_TEST(test_table_answers)
{
	struct dns_table *t = dns_table_new();
	const char *error = NULL;
	ck_assert_int_eq(dns_table_load(t, zone, strlen(zone), &error), 0);
	struct dns_source src = dns_table_source(t);
	struct dns_answer a;

	ck_assert_int_eq(dns_source_query(&src, "EXAMPLE.test.", DNS_T_TXT, &a), DNS_OK);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_str_eq(a.rr[0].text, "v=spf1 -all");
	ck_assert_uint_eq(a.rr[1].text_len, 0);
	ck_assert_uint_eq(a.ttl, 300);
	dns_answer_free(&a);
	ck_assert_int_eq(dns_source_query(&src, "example.test", DNS_T_A, &a), DNS_OK);
	ck_assert_int_eq(memcmp(a.rr[0].addr, "\xc0\x00\x02\x01", 4), 0);
	dns_answer_free(&a);
	ck_assert_int_eq(dns_source_query(&src, "example.test", DNS_T_AAAA, &a), DNS_OK);
	ck_assert_uint_eq(a.rr[0].addr[0], 0x20);
	ck_assert_uint_eq(a.rr[0].addr[15], 1);
	dns_answer_free(&a);
	ck_assert_int_eq(dns_source_query(&src, "example.test", DNS_T_MX, &a), DNS_OK);
	ck_assert_str_eq(a.rr[0].text, "mx.example.test");
	ck_assert_uint_eq(a.rr[0].pref, 10);
	dns_answer_free(&a);
	ck_assert_int_eq(dns_source_query(&src, "7.2.0.192.in-addr.arpa", DNS_T_PTR, &a),
			 DNS_OK);
	ck_assert_str_eq(a.rr[0].text, "mail.example.test");
	dns_answer_free(&a);

	/* no data: the name has other records, or names below it */
	ck_assert_int_eq(dns_source_query(&src, "mx.example.test", DNS_T_A, &a),
			 DNS_NXDOMAIN);
	ck_assert_int_eq(dns_source_query(&src, "deep.sub.example.test", DNS_T_TXT, &a),
			 DNS_NODATA);
	ck_assert_int_eq(dns_source_query(&src, "sub.example.test", DNS_T_A, &a), DNS_NODATA);
	ck_assert_int_eq(dns_source_query(&src, "other.test", DNS_T_A, &a), DNS_NXDOMAIN);

	/* a wildcard answers below its parent, not for a name that exists */
	ck_assert_int_eq(dns_source_query(&src, "a.b.wild.test", DNS_T_TXT, &a), DNS_OK);
	ck_assert_str_eq(a.rr[0].text, "wild \"quoted\"");
	dns_answer_free(&a);
	ck_assert_int_eq(dns_source_query(&src, "x.wild.test", DNS_T_A, &a), DNS_NODATA);
	ck_assert_int_eq(dns_source_query(&src, "here.wild.test", DNS_T_TXT, &a), DNS_NODATA);
	ck_assert_int_eq(dns_source_query(&src, "x.here.wild.test", DNS_T_TXT, &a),
			 DNS_NXDOMAIN);

	/* failures, for one question only */
	ck_assert_int_eq(dns_source_query(&src, "fail.test", DNS_T_TXT, &a), DNS_TEMPFAIL);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_int_eq(dns_source_query(&src, "fail.test", DNS_T_A, &a), DNS_OK);
	dns_answer_free(&a);
	ck_assert_int_eq(dns_source_query(&src, "bad.test", DNS_T_MX, &a), DNS_ERROR);
	ck_assert_uint_eq(dns_table_queries(t), 16);
	dns_table_free(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_table_bad_lines)
{
	static const char *const bad[] = {
		"x.test",		  "x.test CNAME y.test", "x.test A 300.1.2.3",
		"x.test AAAA 192.0.2.1",  "x.test TXT unquoted", "x.test TXT \"open",
		"x.test MX mx.test",	  "x.test MX 70000 mx.test", "x.test TXT",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dns_table *t = dns_table_new();
		const char *error = NULL;
		char text[128];
		snprintf(text, sizeof text, "ok.test A 192.0.2.1\n%s\n", bad[i]);
		ck_assert_int_eq(dns_table_load(t, text, strlen(text), &error), -1);
		ck_assert_ptr_nonnull(strstr(error, "line 2"));
		dns_table_free(&t);
	}
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dns_source");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, test_table_answers);
	tcase_add_test(tc, test_table_bad_lines);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for trust/dnsbl (RFC 5782 query names, what an answer
 * means, the reply) and trust/rdns (forward-confirmed reverse DNS), over
 * a DNS table. */
#include <string.h>

#include "trust/dnsbl.h"
#include "trust/rdns.h"
#include "tests/unit/runner.h"

static struct ip_addr
ip(const char *text)
{
	struct ip_addr a;
	ck_assert_int_eq(ip_addr_parse(text, &a), 0);
	return a;
}

START_TEST(test_query_name)
{
	struct buf n = BUF_INIT;
	struct ip_addr a = ip("192.0.2.99");
	/* RFC 5782 §2.1: the octets reversed */
	ck_assert_int_eq(dnsbl_query_name(&a, "bl.example", &n), 0);
	ck_assert_str_eq(buf_cstr(&n), "99.2.0.192.bl.example");
	buf_reset(&n);
	ck_assert_int_eq(dnsbl_query_name(&a, "bl.example.", &n), 0);
	ck_assert_str_eq(buf_cstr(&n), "99.2.0.192.bl.example");
	buf_reset(&n);
	/* a dual-stack socket's form is the IPv4 address */
	a = ip("::ffff:127.0.0.2");
	ck_assert_int_eq(dnsbl_query_name(&a, "zen.spamhaus.org", &n), 0);
	ck_assert_str_eq(buf_cstr(&n), "2.0.0.127.zen.spamhaus.org");
	buf_reset(&n);
	/* §2.4: the 32 nibbles reversed (the RFC's own example) */
	a = ip("2001:db8:1:2:3:4:567:89ab");
	ck_assert_int_eq(dnsbl_query_name(&a, "ugly.example.com", &n), 0);
	ck_assert_str_eq(buf_cstr(&n), "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1."
				       "0.0.2.ugly.example.com");
	buf_reset(&n);
	a = ip("::1");
	ck_assert_int_eq(dnsbl_query_name(&a, "v6.example", &n), 0);
	ck_assert_str_eq(buf_cstr(&n), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				       "0.0.0.v6.example");
	buf_reset(&n);
	/* a name DNS cannot carry */
	char zone[240];
	memset(zone, 'a', sizeof zone - 1);
	zone[sizeof zone - 1] = '\0';
	ck_assert_int_eq(dnsbl_query_name(&a, zone, &n), -1);
	ck_assert_int_eq(dnsbl_query_name(&a, "", &n), -1);
	ck_assert_uint_eq(n.len, 0);
	buf_free(&n);
}
END_TEST

static const char zone[] =
	"2.0.0.127.bl.test A 127.0.0.2\n"
	"2.0.0.127.bl.test TXT \"Listed: see https://bl.test/q?127.0.0.2\" \"\\\"more\\\"\"\n"
	"3.0.0.127.bl.test A 127.0.0.10\n"
	"4.0.0.127.bl.test A 127.255.255.254\n"
	"5.0.0.127.bl.test A 192.0.2.1\n"
	"2.0.0.127.other.test A 127.0.0.4\n"
	"2.0.0.127.other.test TXT \"other list\"\n"
	"*.fail.test A !TEMPFAIL\n"
	"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test A 127.0.0.2\n"
	"9.0.0.127.bl.test A 127.0.0.2\n"
	"9.0.0.127.bl.test TXT \"bad\x07 \x80 text\"\n";

START_TEST(test_check)
{
	struct dns_table *t = dns_table_new();
	const char *error = NULL;
	ck_assert_int_eq(dns_table_load(t, zone, strlen(zone), &error), 0);
	struct dns_source src = dns_table_source(t);
	struct dnsbl_result r;
	struct ip_addr a;

	/* listed, with the list's text; the reply as Postfix words it */
	a = ip("127.0.0.2");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_LISTED);
	ck_assert_str_eq(r.zone, "bl.test");
	ck_assert_str_eq(r.text, "Listed: see https://bl.test/q?127.0.0.2\"more\"");
	struct buf reply = BUF_INIT;
	dnsbl_reply(&r, &a, &reply);
	ck_assert_str_eq(buf_cstr(&reply), "554 5.7.1 Service unavailable; client [127.0.0.2] "
					   "blocked using bl.test; Listed: see "
					   "https://bl.test/q?127.0.0.2\"more\"");
	dnsbl_result_clear(&r);

	/* any 127/8 answer lists; without a TXT, the reply names the zone */
	a = ip("127.0.0.3");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_LISTED);
	ck_assert_str_eq(r.text, "");
	buf_reset(&reply);
	dnsbl_reply(&r, &a, &reply);
	ck_assert_str_eq(buf_cstr(&reply),
			 "554 5.7.1 Service unavailable; client [127.0.0.3] blocked using bl.test");
	dnsbl_result_clear(&r);

	/* 127.255.255.x is the list's error; other answers are no listing */
	a = ip("127.0.0.4");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_CLEAN);
	dnsbl_result_clear(&r);
	a = ip("127.0.0.5");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_CLEAN);
	dnsbl_result_clear(&r);

	/* RFC 5782 §5: 127.0.0.1 is never listed */
	a = ip("127.0.0.1");
	dnsbl_check(&src, "bl.test, other.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_CLEAN);
	ck_assert_ptr_null(r.zone);
	dnsbl_result_clear(&r);

	/* zones in order: a failing one lets the next decide */
	a = ip("127.0.0.2");
	dnsbl_check(&src, " fail.test,other.test bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_LISTED);
	ck_assert_str_eq(r.zone, "other.test");
	ck_assert_str_eq(r.text, "other list");
	dnsbl_result_clear(&r);
	a = ip("127.0.0.7");
	dnsbl_check(&src, "fail.test, bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_UNKNOWN);
	ck_assert_str_eq(r.zone, "fail.test");
	dnsbl_result_clear(&r);

	/* IPv6 */
	a = ip("2001:db8::2");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_LISTED);
	buf_reset(&reply);
	dnsbl_reply(&r, &a, &reply);
	ck_assert_str_eq(buf_cstr(&reply),
			 "554 5.7.1 Service unavailable; client [2001:db8::2] blocked using bl.test");
	dnsbl_result_clear(&r);

	/* the TXT goes into a reply as printable ASCII only */
	a = ip("127.0.0.9");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_int_eq(r.verdict, DNSBL_LISTED);
	ck_assert_str_eq(r.text, "bad? ? text");
	dnsbl_result_clear(&r);
	buf_free(&reply);
	dns_table_free(&t);
}
END_TEST

START_TEST(test_text_bounded)
{
	struct buf z = BUF_INIT;
	buf_puts(&z, "2.0.0.127.bl.test A 127.0.0.2\n2.0.0.127.bl.test TXT \"");
	for (int i = 0; i < 400; i++)
		buf_putc(&z, 'x');
	buf_puts(&z, "\"\n");
	struct dns_table *t = dns_table_new();
	const char *error = NULL;
	ck_assert_int_eq(dns_table_load(t, z.data, z.len, &error), 0);
	struct dns_source src = dns_table_source(t);
	struct dnsbl_result r;
	struct ip_addr a = ip("127.0.0.2");
	dnsbl_check(&src, "bl.test", &a, &r);
	ck_assert_uint_eq(strlen(r.text), DNSBL_TEXT_MAX);
	dnsbl_result_clear(&r);
	dns_table_free(&t);
	buf_free(&z);
}
END_TEST

static const char rdns_zone[] =
	"1.2.0.192.in-addr.arpa PTR mail.good.test\n"
	"mail.good.test A 192.0.2.1\n"
	"2.2.0.192.in-addr.arpa PTR liar.test\n"
	"liar.test A 192.0.2.99\n"
	"3.2.0.192.in-addr.arpa PTR gone.test\n"
	"4.2.0.192.in-addr.arpa PTR liar.test\n"
	"4.2.0.192.in-addr.arpa PTR second.test\n"
	"second.test A 192.0.2.4\n"
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.test\n"
	"v6.test AAAA 2001:db8::1\n";

START_TEST(test_rdns)
{
	struct dns_table *t = dns_table_new();
	const char *error = NULL;
	ck_assert_int_eq(dns_table_load(t, rdns_zone, strlen(rdns_zone), &error), 0);
	struct dns_source src = dns_table_source(t);
	struct buf name = BUF_INIT;
	struct ip_addr a = ip("192.0.2.1");
	ck_assert_int_eq(rdns_verified_name(&src, &a, &name), 0);
	ck_assert_str_eq(buf_cstr(&name), "mail.good.test");
	buf_reset(&name);
	a = ip("::ffff:192.0.2.4");
	ck_assert_int_eq(rdns_verified_name(&src, &a, &name), 0);
	ck_assert_str_eq(buf_cstr(&name), "second.test");
	buf_reset(&name);
	a = ip("2001:db8::1");
	ck_assert_int_eq(rdns_verified_name(&src, &a, &name), 0);
	ck_assert_str_eq(buf_cstr(&name), "v6.test");
	buf_reset(&name);
	/* a name that does not point back, one that does not exist, none */
	static const char *const unverified[] = { "192.0.2.2", "192.0.2.3", "192.0.2.5" };
	for (size_t i = 0; i < 3; i++) {
		a = ip(unverified[i]);
		ck_assert_int_eq(rdns_verified_name(&src, &a, &name), -1);
		ck_assert_uint_eq(name.len, 0);
	}
	buf_free(&name);
	dns_table_free(&t);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dnsbl");
	TCase *tc = tcase_create("dnsbl");
	tcase_add_test(tc, test_query_name);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_text_bounded);
	tcase_add_test(tc, test_rdns);
	suite_add_tcase(s, tc);
	return s;
}

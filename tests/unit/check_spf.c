/* Unit tests for trust/spf: check_host() of RFC 7208 over a DNS table,
 * the verdict's fields, the limits of §4.6.4 (and the number of queries
 * they bound), the HELO identity, and the header fields it writes. */
#include <stdio.h>
#include <string.h>

#include "trust/spf.h"
#include "tests/unit/runner.h"

struct fixture {
	struct dns_table *t;
	struct dns_source src;
	struct spf_request req;
	struct spf_verdict v;
};

static void
setup(struct fixture *f, const char *zone, const char *ip, const char *sender, const char *helo)
{
	memset(f, 0, sizeof *f);
	f->t = dns_table_new();
	const char *error = NULL;
	if (dns_table_load(f->t, zone, strlen(zone), &error) < 0)
		ck_abort_msg("zone: %s", error);
	f->src = dns_table_source(f->t);
	ck_assert_int_eq(ip_addr_parse(ip, &f->req.ip), 0);
	f->req.sender = sender;
	f->req.helo = helo;
	f->req.receiver = "mx.receiver.example";
	f->req.now = 1700000000;
}

static void
teardown(struct fixture *f)
{
	spf_verdict_free(&f->v);
	ck_assert_ptr_null(f->v.domain);
	dns_table_free(&f->t);
}

/* The result of one check. */
static enum spf_result
check(const char *zone, const char *ip, const char *sender)
{
	struct fixture f;
	setup(&f, zone, ip, sender, "helo.example");
	enum spf_result r = spf_check(&f.src, &f.req, &f.v);
	ck_assert_int_eq(r, f.v.result);
	teardown(&f);
	return r;
}

START_TEST(test_verdict_fields)
{
	struct fixture f;
	setup(&f,
	      "example.org TXT \"v=spf1 a:x.example.org include:_spf.example.org -all\"\n"
	      "x.example.org A 192.0.2.1\n"
	      "_spf.example.org TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n",
	      "192.0.2.10", "alice@example.org", "helo.example");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PASS);
	ck_assert_int_eq(f.v.identity, SPF_ID_MAILFROM);
	ck_assert_str_eq(f.v.domain, "example.org");
	ck_assert_str_eq(f.v.sender, "alice@example.org");
	/* the top-level term that decided, not the one inside the include */
	ck_assert_str_eq(f.v.mechanism, "include:_spf.example.org");
	ck_assert_uint_eq(f.v.lookups, 2);
	ck_assert_uint_eq(f.v.void_lookups, 0);
	ck_assert_ptr_null(f.v.problem);
	ck_assert_ptr_null(f.v.explanation);
	struct buf b = BUF_INIT;
	spf_authres(&b, &f.v);
	ck_assert_str_eq(buf_cstr(&b), "spf=pass smtp.mailfrom=example.org");
	buf_reset(&b);
	spf_received_spf(&b, &f.v, &f.req);
	ck_assert_str_eq(buf_cstr(&b),
			 "pass (mx.receiver.example: domain of alice@example.org designates "
			 "192.0.2.10 as permitted sender)\r\n\tclient-ip=192.0.2.10; "
			 "envelope-from=\"alice@example.org\"; helo=helo.example;\r\n"
			 "\treceiver=mx.receiver.example; identity=mailfrom; "
			 "mechanism=\"include:_spf.example.org\"");
	buf_free(&b);
	teardown(&f);

	/* no match anywhere: neutral, no mechanism */
	setup(&f, "example.org TXT \"v=spf1 ip4:198.51.100.1\"\n", "192.0.2.10",
	      "alice@example.org", "h.example");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_NEUTRAL);
	ck_assert_ptr_null(f.v.mechanism);
	teardown(&f);
}
END_TEST

START_TEST(test_results)
{
	const char *zone = "example.org TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 "
			   "~ip4:198.51.100.0/24 ?ip4:203.0.113.0/24 -all\"\n";
	ck_assert_int_eq(check(zone, "192.0.2.1", "a@example.org"), SPF_PASS);
	ck_assert_int_eq(check(zone, "2001:db8::1", "a@example.org"), SPF_PASS);
	ck_assert_int_eq(check(zone, "::ffff:192.0.2.1", "a@example.org"), SPF_PASS);
	ck_assert_int_eq(check(zone, "198.51.100.1", "a@example.org"), SPF_SOFTFAIL);
	ck_assert_int_eq(check(zone, "203.0.113.1", "a@example.org"), SPF_NEUTRAL);
	ck_assert_int_eq(check(zone, "192.0.3.1", "a@example.org"), SPF_FAIL);
	ck_assert_int_eq(check(zone, "2001:db9::1", "a@example.org"), SPF_FAIL);
	/* no record, no such domain, a domain that is not one */
	ck_assert_int_eq(check(zone, "192.0.2.1", "a@other.org"), SPF_NONE);
	ck_assert_int_eq(check("other.org TXT \"hello\"\n", "192.0.2.1", "a@other.org"), SPF_NONE);
	ck_assert_int_eq(check(zone, "192.0.2.1", "a@localhost"), SPF_NONE);
	ck_assert_int_eq(check(zone, "192.0.2.1", "a@example..org"), SPF_NONE);
	/* two records; a server failure; a malformed answer */
	ck_assert_int_eq(check("x.org TXT \"v=spf1 +all\"\nx.org TXT \"v=spf1 -all\"\n",
			       "192.0.2.1", "a@x.org"),
			 SPF_PERMERROR);
	ck_assert_int_eq(check("x.org TXT !TEMPFAIL\n", "192.0.2.1", "a@x.org"), SPF_TEMPERROR);
	ck_assert_int_eq(check("x.org TXT !ERROR\n", "192.0.2.1", "a@x.org"), SPF_TEMPERROR);
	/* a match ends the check before a failing term is reached */
	ck_assert_int_eq(check("x.org TXT \"v=spf1 ip4:192.0.2.1 a:bad.org -all\"\n"
			       "bad.org A !TEMPFAIL\n",
			       "192.0.2.1", "a@x.org"),
			 SPF_PASS);
	ck_assert_int_eq(check("x.org TXT \"v=spf1 ip4:192.0.2.1 a:bad.org -all\"\n"
			       "bad.org A !TEMPFAIL\n",
			       "192.0.2.2", "a@x.org"),
			 SPF_TEMPERROR);
}
END_TEST

START_TEST(test_include_redirect)
{
	const char *zone = "a.org TXT \"v=spf1 include:b.org ~all\"\n"
			   "b.org TXT \"v=spf1 include:c.org -all\"\n"
			   "c.org TXT \"v=spf1 -ip4:192.0.2.66 ip4:192.0.2.0/24 -all\"\n"
			   "r.org TXT \"v=spf1 redirect=a.org\"\n"
			   "loop1.org TXT \"v=spf1 include:loop2.org -all\"\n"
			   "loop2.org TXT \"v=spf1 include:loop1.org -all\"\n"
			   "rl.org TXT \"v=spf1 redirect=rl.org\"\n"
			   "none.org TXT \"v=spf1 include:nothing.org -all\"\n"
			   "neg.org TXT \"v=spf1 -include:a.org +all\"\n";
	ck_assert_int_eq(check(zone, "192.0.2.1", "x@a.org"), SPF_PASS);
	/* c.org fails 192.0.2.66: b.org's include does not match, so b.org
	 * fails, so a.org's include does not match: softfail */
	ck_assert_int_eq(check(zone, "192.0.2.66", "x@a.org"), SPF_SOFTFAIL);
	ck_assert_int_eq(check(zone, "192.0.2.1", "x@r.org"), SPF_PASS);
	ck_assert_int_eq(check(zone, "192.0.2.1", "x@neg.org"), SPF_FAIL);
	ck_assert_int_eq(check(zone, "192.0.2.66", "x@neg.org"), SPF_PASS);
	ck_assert_int_eq(check(zone, "192.0.2.1", "x@loop1.org"), SPF_PERMERROR);
	ck_assert_int_eq(check(zone, "192.0.2.1", "x@rl.org"), SPF_PERMERROR);
	ck_assert_int_eq(check(zone, "192.0.2.1", "x@none.org"), SPF_PERMERROR);
}
END_TEST

START_TEST(test_lookup_limits)
{
	struct fixture f;
	struct buf zone = BUF_INIT;
	/* 10 a: terms then an ip4: pass; one more a: is permerror */
	buf_puts(&zone, "ten.org TXT \"v=spf1");
	for (int i = 0; i < 10; i++)
		buf_printf(&zone, " a:h%d.org", i);
	buf_puts(&zone, " ip4:192.0.2.1 -all\"\neleven.org TXT \"v=spf1");
	for (int i = 0; i < 11; i++)
		buf_printf(&zone, " a:h%d.org", i);
	buf_puts(&zone, " ip4:192.0.2.1 -all\"\n");
	for (int i = 0; i < 11; i++)
		buf_printf(&zone, "h%d.org A 198.51.100.1\n", i);
	setup(&f, buf_cstr(&zone), "192.0.2.1", "x@ten.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PASS);
	ck_assert_uint_eq(f.v.lookups, 10);
	teardown(&f);
	setup(&f, buf_cstr(&zone), "192.0.2.1", "x@eleven.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PERMERROR);
	ck_assert_ptr_nonnull(strstr(f.v.problem, "10"));
	/* the 11th term is refused before its query */
	ck_assert_uint_eq(dns_table_queries(f.t), 1 + 10);
	teardown(&f);
	buf_free(&zone);

	/* void lookups: two are fine, the third is permerror; NXDOMAIN and
	 * empty answers both count, a server failure does not end in it */
	const char *voids = "v2.org TXT \"v=spf1 a:n1.org mx:n2.org ip4:192.0.2.1\"\n"
			    "v3.org TXT \"v=spf1 a:n1.org exists:n2.org a:t.org ip4:192.0.2.1\"\n"
			    "t.org TXT \"text\"\n";
	setup(&f, voids, "192.0.2.1", "x@v2.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PASS);
	ck_assert_uint_eq(f.v.void_lookups, 2);
	teardown(&f);
	ck_assert_int_eq(check(voids, "192.0.2.1", "x@v3.org"), SPF_PERMERROR);

	/* mx: 10 exchanges are looked up, 11 is permerror (§4.6.4) */
	buf_init(&zone, 0);
	buf_puts(&zone, "m10.org TXT \"v=spf1 mx -all\"\nm11.org TXT \"v=spf1 mx -all\"\n");
	for (int i = 0; i < 11; i++) {
		if (i < 10)
			buf_printf(&zone, "m10.org MX %d mx%d.org\n", i, i);
		buf_printf(&zone, "m11.org MX %d mx%d.org\n", i, i);
		buf_printf(&zone, "mx%d.org A 192.0.2.%d\n", i, 100 + i);
	}
	ck_assert_int_eq(check(buf_cstr(&zone), "192.0.2.109", "x@m10.org"), SPF_PASS);
	ck_assert_int_eq(check(buf_cstr(&zone), "192.0.2.100", "x@m11.org"), SPF_PERMERROR);
	buf_free(&zone);
}
END_TEST

START_TEST(test_queries_bounded)
{
	/* the worst a record can ask: ten mx terms of ten exchanges each,
	 * every exchange answered: 1 + 10 * (1 + 10) queries, no more */
	struct buf zone = BUF_INIT;
	buf_puts(&zone, "w.org TXT \"v=spf1");
	for (int i = 0; i < 10; i++)
		buf_printf(&zone, " mx:m%d.org", i);
	buf_puts(&zone, " mx:m0.org -all\"\n");
	for (int i = 0; i < 10; i++)
		for (int k = 0; k < 10; k++) {
			buf_printf(&zone, "m%d.org MX %d x%d-%d.org\n", i, k, i, k);
			buf_printf(&zone, "x%d-%d.org A 198.51.100.1\n", i, k);
		}
	struct fixture f;
	setup(&f, buf_cstr(&zone), "192.0.2.1", "a@w.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PERMERROR);
	ck_assert_uint_eq(dns_table_queries(f.t), 1 + 10 * 11);
	teardown(&f);
	buf_free(&zone);
}
END_TEST

START_TEST(test_ptr_and_p)
{
	const char *zone = "p.org TXT \"v=spf1 ptr -all\"\n"
			   "q.org TXT \"v=spf1 exists:%{p}.%{p}.x.q.org -all\"\n"
			   "10.2.0.192.in-addr.arpa PTR mail.p.org\n"
			   "10.2.0.192.in-addr.arpa PTR other.example\n"
			   "mail.p.org A 192.0.2.10\n"
			   "other.example A 192.0.2.10\n"
			   "mail.p.org.mail.p.org.x.q.org A 127.0.0.2\n"
			   "other.example.other.example.x.q.org A 127.0.0.2\n"
			   "20.2.0.192.in-addr.arpa PTR !TEMPFAIL\n"
			   "t.org TXT \"v=spf1 ptr ip4:192.0.2.20 -all\"\n";
	ck_assert_int_eq(check(zone, "192.0.2.10", "x@p.org"), SPF_PASS);
	/* not validated: the name's address is another */
	ck_assert_int_eq(check(zone, "192.0.2.11", "x@p.org"), SPF_FAIL);
	/* %{p}: one PTR lookup for two uses */
	struct fixture f;
	setup(&f, zone, "192.0.2.10", "x@q.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PASS);
	/* TXT, PTR, the two names' A, the exists A */
	ck_assert_uint_eq(dns_table_queries(f.t), 5);
	teardown(&f);
	/* §5.5: a failing PTR lookup makes ptr not match (no temperror) */
	ck_assert_int_eq(check(zone, "192.0.2.20", "x@t.org"), SPF_PASS);
	/* the lookups of %{p} count among the void ones: the third ends it */
	ck_assert_int_eq(check("v.org TXT \"v=spf1 a:n1.org a:n2.org exists:%{p}.v.org -all\"\n"
			       "unknown.v.org A 127.0.0.2\n",
			       "192.0.2.30", "x@v.org"),
			 SPF_PERMERROR);
}
END_TEST

START_TEST(test_explanation)
{
	const char *zone = "e.org TXT \"v=spf1 -all exp=why.%{d}\"\n"
			   "why.e.org TXT \"%{i} is not one of %{d}'s (%{c} at %{r}, %{t})\"\n"
			   "r.org TXT \"v=spf1 redirect=e.org exp=ignored.r.org\"\n"
			   "ignored.r.org TXT \"not this\"\n"
			   "two.org TXT \"v=spf1 -all exp=two.x.org\"\n"
			   "two.x.org TXT \"a\"\ntwo.x.org TXT \"b\"\n"
			   "bad.org TXT \"v=spf1 -all exp=bad.x.org\"\n"
			   "bad.x.org TXT \"%{z}\"\n"
			   "soft.org TXT \"v=spf1 ~all exp=why.e.org\"\n";
	struct fixture f;
	setup(&f, zone, "192.0.2.1", "x@e.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_FAIL);
	ck_assert_str_eq(f.v.explanation, "192.0.2.1 is not one of e.org's (192.0.2.1 at "
					  "mx.receiver.example, 1700000000)");
	teardown(&f);
	/* §6.2: after redirect, the target's exp= */
	setup(&f, zone, "192.0.2.1", "x@r.org", "h");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_FAIL);
	ck_assert_ptr_nonnull(strstr(f.v.explanation, "e.org's"));
	teardown(&f);
	static const char *const none[] = { "x@two.org", "x@bad.org", "x@soft.org" };
	for (size_t i = 0; i < 3; i++) {
		setup(&f, zone, "192.0.2.1", none[i], "h");
		spf_check(&f.src, &f.req, &f.v);
		ck_assert_ptr_null(f.v.explanation);
		teardown(&f);
	}
}
END_TEST

START_TEST(test_helo_identity)
{
	const char *zone = "helo.example TXT \"v=spf1 exists:%{l}.%{o}.x.example -all\"\n"
			   "postmaster.helo.example.x.example A 127.0.0.2\n";
	struct fixture f;
	setup(&f, zone, "192.0.2.1", "", "helo.example");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PASS);
	ck_assert_int_eq(f.v.identity, SPF_ID_HELO);
	ck_assert_str_eq(f.v.sender, "postmaster@helo.example");
	struct buf b = BUF_INIT;
	spf_authres(&b, &f.v);
	ck_assert_str_eq(buf_cstr(&b), "spf=pass smtp.helo=helo.example");
	buf_free(&b);
	teardown(&f);
	/* an address literal is no domain: none */
	ck_assert_int_eq(check(zone, "192.0.2.1", "@[192.0.2.1]"), SPF_NONE);
	setup(&f, zone, "192.0.2.1", "", "[192.0.2.1]");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_NONE);
	teardown(&f);
}
END_TEST

START_TEST(test_header_escaping)
{
	/* what the peer sent cannot end the header field or the comment */
	struct fixture f;
	setup(&f, "evil.org TXT \"v=spf1 bogus\"\n", "2001:db8::1", "a)b\"c\r\nX: y@evil.org",
	      "he\"lo\n");
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PERMERROR);
	struct buf b = BUF_INIT;
	spf_received_spf(&b, &f.v, &f.req);
	const char *h = buf_cstr(&b);
	ck_assert_ptr_nonnull(strstr(h, "permerror (mx.receiver.example: permanent error in "
					"processing domain of a\\)b\"c??X: y@evil.org)"));
	ck_assert_ptr_nonnull(strstr(h, "envelope-from=\"a)b\\\"c??X: y@evil.org\""));
	ck_assert_ptr_nonnull(strstr(h, "helo=\"he\\\"lo?\""));
	ck_assert_ptr_nonnull(strstr(h, "client-ip=2001:db8::1"));
	ck_assert_ptr_nonnull(strstr(h, "problem=\"evil.org: unknown mechanism 'bogus'\""));
	/* only the folds of the field itself are line ends */
	for (const char *p = h; *p != '\0'; p++)
		if (*p == '\n')
			ck_assert(p > h && p[-1] == '\r' && p[1] == '\t');
	buf_free(&b);
	teardown(&f);
	/* no client address */
	memset(&f, 0, sizeof f);
	f.t = dns_table_new();
	f.src = dns_table_source(f.t);
	f.req.sender = "a@b.org";
	ck_assert_int_eq(spf_check(&f.src, &f.req, &f.v), SPF_PERMERROR);
	teardown(&f);
	ck_assert_str_eq(spf_result_name(SPF_SOFTFAIL), "softfail");
	ck_assert_str_eq(spf_result_name((enum spf_result)99), "none");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tcase_create("check_host");
	tcase_add_test(tc, test_verdict_fields);
	tcase_add_test(tc, test_results);
	tcase_add_test(tc, test_include_redirect);
	tcase_add_test(tc, test_lookup_limits);
	tcase_add_test(tc, test_queries_bounded);
	tcase_add_test(tc, test_ptr_and_p);
	tcase_add_test(tc, test_explanation);
	tcase_add_test(tc, test_helo_identity);
	tcase_add_test(tc, test_header_escaping);
	suite_add_tcase(s, tc);
	return s;
}

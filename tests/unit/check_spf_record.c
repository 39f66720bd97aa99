/* Unit tests for the pure parts of SPF: record selection and syntax
 * (RFC 7208 §4.5, §4.6, §5, §6, §12), the macro language (§7) and the
 * client address forms (trust/ipaddr). */
#include <string.h>
#include <sys/socket.h>

#include "trust/spf_int.h"
#include "tests/unit/runner.h"

static int
parse(const char *text, struct spf_record *rec)
{
	const char *error = NULL;
	int ret = spf_record_parse(text, strlen(text), rec, &error);
	if (ret < 0)
		ck_assert_ptr_nonnull(error);
	return ret;
}

START_TEST(test_selection)
{
	ck_assert(spf_record_is_spf("v=spf1", 6));
	ck_assert(spf_record_is_spf("V=SPF1 -all", 11));
	ck_assert(!spf_record_is_spf("v=spf10", 7));
	ck_assert(!spf_record_is_spf("v=spf1-all", 10));
	ck_assert(!spf_record_is_spf("v=spf", 5));
	ck_assert(!spf_record_is_spf("spf2.0/pra", 10));
}
END_TEST

START_TEST(test_terms)
{
	struct spf_record rec;
	ck_assert_int_eq(parse("v=spf1 +a -mx:mx.example.org/24//64 ~ip4:192.0.2.0/24 "
			       "?ip6:2001:db8::/32 ptr:example.org exists:%{i}.x.example.org "
			       "include:_spf.example.org all redirect=r.example.org "
			       "exp=explain.%{d} future=%{d}",
			       &rec),
			 0);
	ck_assert_uint_eq(rec.n, 8);
	ck_assert_int_eq(rec.terms[0].mech, SPF_M_A);
	ck_assert_int_eq(rec.terms[0].qualifier, SPF_PASS);
	ck_assert_ptr_null(rec.terms[0].domain_spec);
	ck_assert_uint_eq(rec.terms[0].cidr4, 32);
	ck_assert_uint_eq(rec.terms[0].cidr6, 128);
	ck_assert_int_eq(rec.terms[1].mech, SPF_M_MX);
	ck_assert_int_eq(rec.terms[1].qualifier, SPF_FAIL);
	ck_assert_str_eq(rec.terms[1].domain_spec, "mx.example.org");
	ck_assert_uint_eq(rec.terms[1].cidr4, 24);
	ck_assert_uint_eq(rec.terms[1].cidr6, 64);
	ck_assert_int_eq(rec.terms[2].qualifier, SPF_SOFTFAIL);
	ck_assert_uint_eq(rec.terms[2].cidr4, 24);
	ck_assert_int_eq(memcmp(rec.terms[2].net, "\xc0\x00\x02\x00", 4), 0);
	ck_assert_int_eq(rec.terms[3].qualifier, SPF_NEUTRAL);
	ck_assert_uint_eq(rec.terms[3].cidr6, 32);
	ck_assert_int_eq(rec.terms[4].mech, SPF_M_PTR);
	ck_assert_str_eq(rec.terms[5].domain_spec, "%{i}.x.example.org");
	ck_assert_int_eq(rec.terms[6].mech, SPF_M_INCLUDE);
	ck_assert_int_eq(rec.terms[7].mech, SPF_M_ALL);
	ck_assert_str_eq(rec.terms[7].text, "all");
	ck_assert_str_eq(rec.redirect, "r.example.org");
	ck_assert_str_eq(rec.exp, "explain.%{d}");
	spf_record_free(&rec);
	ck_assert_ptr_null(rec.terms);

	/* names and qualifiers: any case; SP only between terms */
	ck_assert_int_eq(parse("V=Spf1   A:Example.ORG/0   -ALL  ", &rec), 0);
	ck_assert_uint_eq(rec.n, 2);
	ck_assert_uint_eq(rec.terms[0].cidr4, 0);
	spf_record_free(&rec);
	ck_assert_int_eq(parse("v=spf1", &rec), 0);
	ck_assert_uint_eq(rec.n, 0);
	spf_record_free(&rec);
}
END_TEST

START_TEST(test_syntax_errors)
{
	static const char *const bad[] = {
		"v=spf1 foo",
		"v=spf1 -",
		"v=spf1 +-all",
		"v=spf1 all:x",
		"v=spf1 all/8",
		"v=spf1 ip4:192.0.2",
		"v=spf1 ip4:192.0.2.256",
		"v=spf1 ip4:192.0.2.01",
		"v=spf1 ip4:192.0.2.0/33",
		"v=spf1 ip4:192.0.2.0/024",
		"v=spf1 ip4:192.0.2.0//24",
		"v=spf1 ip4",
		"v=spf1 ip6:2001:db8::/129",
		"v=spf1 ip6:2001:db8::zz",
		"v=spf1 ip6:192.0.2.1",
		"v=spf1 ip6",
		"v=spf1 a/33",
		"v=spf1 a//129",
		"v=spf1 a/",
		"v=spf1 a:",
		"v=spf1 a:foo",
		"v=spf1 a:192.0.2.1",
		"v=spf1 a:example.org:25",
		"v=spf1 a:example.-org",
		"v=spf1 mx:example.org/24/",
		"v=spf1 ptr/24",
		"v=spf1 include",
		"v=spf1 include:",
		"v=spf1 exists",
		"v=spf1 exists:%{x}.example.org",
		"v=spf1 exists:%{c}.example.org",
		"v=spf1 exists:%{d0}.example.org",
		"v=spf1 exists:%{d.example.org",
		"v=spf1 exists:%{d2:}.example.org",
		"v=spf1 exists:a%b.example.org",
		"v=spf1 exists:%{d}x",
		"v=spf1 exists:%{d}.",
		"v=spf1 redirect=",
		"v=spf1 redirect=a.example redirect=b.example",
		"v=spf1 REDIRECT=a.example redirect=b.example",
		"v=spf1 exp=a.example exp=b.example",
		"v=spf1 exp=foo",
		"v=spf1 unknown=%{z}",
		"v=spf1 1x=y",
		"v=spf1 -all\tmx",
		"v=spf1 a:caf\xc3\xa9.example",
		"v=spf1 -all bogus",
		"v=spf10",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct spf_record rec;
		if (parse(bad[i], &rec) == 0)
			ck_abort_msg("'%s' parsed", bad[i]);
		ck_assert_ptr_null(rec.terms);
	}
	/* unknown modifiers parse (and may repeat); a record past the limit
	 * does not */
	struct spf_record rec;
	ck_assert_int_eq(parse("v=spf1 x=1 x=2 x.y-z_0=%{d}%% -all", &rec), 0);
	ck_assert_uint_eq(rec.n, 1);
	spf_record_free(&rec);
	char big[SPF_RECORD_MAX + 16];
	memset(big, ' ', sizeof big - 1);
	memcpy(big, "v=spf1", 6);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(parse(big, &rec), -1);
}
END_TEST

START_TEST(test_domain_spec)
{
	const char *error;
	static const char *const good[] = { "example.org", "example.org.", ".org", "%{d}",
					    "%{ir}.%{v}._spf.%{d2}", "x.%{d}", "%%", "a.b-c",
					    "a.1-2", "x.%{l1r-+,/_=}" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (spf_domain_spec_check(good[i], strlen(good[i]), &error) < 0)
			ck_abort_msg("'%s' refused: %s", good[i], error);
	static const char *const bad[] = { "", "org", "example.123", "example.-a", "example.a-",
					   "%{d}x", "%{d}.", "x..", "example.org..", "%{t}",
					   "%{d", "%" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (spf_domain_spec_check(bad[i], strlen(bad[i]), &error) == 0)
			ck_abort_msg("'%s' taken", bad[i]);
	/* explanation-strings may hold spaces and c, r, t */
	ck_assert_int_eq(spf_macro_check("%{c} at %{r} %{t}", 17, true, &error), 0);
	ck_assert_int_eq(spf_macro_check("%{c} at", 7, false, &error), -1);
	ck_assert_int_eq(spf_macro_check("a b", 3, false, &error), -1);
}
END_TEST

static const char *
fixed_ptr(void *ctx)
{
	(*(int *)ctx)++;
	return "mx.example.org";
}

START_TEST(test_macro_expand)
{
	struct ip_addr ip4, ip6;
	ck_assert_int_eq(ip_addr_parse("192.0.2.3", &ip4), 0);
	ck_assert_int_eq(ip_addr_parse("2001:db8::cb01", &ip6), 0);
	int ptr_calls = 0;
	struct spf_macro_env env = {
		.sender = "strong-bad@email.example.com",
		.local = "strong-bad",
		.sender_domain = "email.example.com",
		.domain = "email.example.com",
		.helo = "mx.example.org",
		.ip = &ip4,
		.receiver = "example.net",
		.now = 1700000000,
		.ptr_name = fixed_ptr,
		.ctx = &ptr_calls,
	};
	/* the examples of RFC 7208 §7.4 */
	static const struct {
		const char *in, *out;
	} ex[] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net" },
		{ "%{p}", "mx.example.org" },
		{ "%{p2}", "example.org" },
		{ "%{h}", "mx.example.org" },
		{ "%{c} %{r} %{t}", "192.0.2.3 example.net 1700000000" },
		{ "%%%_%-", "% %20" },
		{ "%{S}", "strong-bad%40email.example.com" },
		{ "%{d1000}", "email.example.com" },
		{ "%{d999999999999}", "email.example.com" },
	};
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		struct buf out = BUF_INIT;
		ck_assert_int_eq(spf_macro_expand(&out, ex[i].in, &env), 0);
		if (strcmp(buf_cstr(&out), ex[i].out) != 0)
			ck_abort_msg("%s gave '%s', not '%s'", ex[i].in, buf_cstr(&out), ex[i].out);
		buf_free(&out);
	}
	ck_assert_int_eq(ptr_calls, 2);
	/* IPv6 (§7.4's example) */
	env.ip = &ip6;
	struct buf out = BUF_INIT;
	spf_macro_expand(&out, "%{ir}.%{v}._spf.%{d2}", &env);
	ck_assert_str_eq(buf_cstr(&out),
			 "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf."
			 "example.com");
	buf_free(&out);
	/* the limit of the output buffer is kept */
	buf_init(&out, 10);
	ck_assert_int_eq(spf_macro_expand(&out, "%{s}", &env), -1);
	ck_assert_uint_le(out.len, 10);
	buf_free(&out);
}
END_TEST

START_TEST(test_domain_expand)
{
	struct ip_addr ip;
	ip_addr_parse("192.0.2.3", &ip);
	char local[80];
	memset(local, 'a', 60);
	memcpy(local + 60, ".bbbbbbbbbb", 12);
	struct spf_macro_env env = { .sender = "x@example.org", .local = local,
				     .sender_domain = "example.org", .domain = "example.org",
				     .helo = "", .ip = &ip };
	char *name = spf_domain_expand("%{d}.", &env);
	ck_assert_str_eq(name, "example.org");
	free(name);
	/* §7.3: past 253 bytes, whole labels go from the left */
	name = spf_domain_expand("%{l}.%{l}.%{l}.%{l}.m.example.org", &env);
	ck_assert_uint_le(strlen(name), 253);
	ck_assert(strncmp(name, "bbbbbbbbbb.aaa", 14) == 0);
	free(name);
	ck_assert(spf_name_ok("example.org"));
	ck_assert(spf_name_ok("a b.example"));
	ck_assert(!spf_name_ok(""));
	ck_assert(!spf_name_ok("a..b"));
	ck_assert(!spf_name_ok(".a"));
	ck_assert(!spf_name_ok("a\\.b"));
	ck_assert(!spf_name_ok("a\nb.example"));
	char label[80];
	memset(label, 'x', 64);
	memcpy(label + 64, ".org", 5);
	ck_assert(!spf_name_ok(label));
}
END_TEST

START_TEST(test_ipaddr)
{
	struct ip_addr ip;
	struct buf b = BUF_INIT;
	ck_assert_int_eq(ip_addr_parse("::ffff:192.0.2.1", &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET);
	ip_addr_text(&b, &ip);
	ck_assert_str_eq(buf_cstr(&b), "192.0.2.1");
	buf_reset(&b);
	ip_addr_reverse_name(&b, &ip);
	ck_assert_str_eq(buf_cstr(&b), "1.2.0.192.in-addr.arpa");
	ck_assert(ip_addr_in_net(&ip, (const unsigned char *)"\xc0\x00\x02\xff", AF_INET, 24));
	ck_assert(!ip_addr_in_net(&ip, (const unsigned char *)"\xc0\x00\x03\x00", AF_INET, 24));
	ck_assert(ip_addr_in_net(&ip, (const unsigned char *)"\0\0\0\0", AF_INET, 0));
	ck_assert(ip_addr_in_net(&ip, (const unsigned char *)"\xc0\x00\x02\x00", AF_INET, 31));
	ck_assert(!ip_addr_in_net(&ip, (const unsigned char *)"\xc0\x00\x02\x00", AF_INET, 32));
	ck_assert(!ip_addr_in_net(&ip, (const unsigned char *)"\xc0\x00\x02\x01", AF_INET6, 0));
	ck_assert_int_eq(ip_addr_parse("2001:db8::1", &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET6);
	buf_reset(&b);
	ip_addr_reverse_name(&b, &ip);
	ck_assert_str_eq(buf_cstr(&b),
			 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	buf_free(&b);
	static const char *const bad[] = { "", "192.0.2", "192.0.2.1.5", "192.0.2.01",
					   "1.2.3.256", "[::1]", "::1%eth0", "example.org" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_int_eq(ip_addr_parse(bad[i], &ip), -1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("spf_record");
	TCase *tc = tcase_create("record");
	tcase_add_test(tc, test_selection);
	tcase_add_test(tc, test_terms);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_domain_spec);
	tcase_add_test(tc, test_macro_expand);
	tcase_add_test(tc, test_domain_expand);
	tcase_add_test(tc, test_ipaddr);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for core/dns: the answer parsers over hand-built DNS messages
 * (with the rcodes and negative TTLs dns_query() reports), MX ordering
 * (RFC 5321 §5.1), null MX (RFC 7505), resolver addresses. */
#include <string.h>

#include "core/buf.h"
#include "core/dns.h"
#include "tests/unit/runner.h"

/* ---- building answers ----------------------------------------------------- */

static void
put16(struct buf *b, unsigned v)
{
	buf_putc(b, (char)(v >> 8));
	buf_putc(b, (char)(v & 0xff));
}

static void
put_name(struct buf *b, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot != NULL ? (size_t)(dot - name) : strlen(name);
		buf_putc(b, (char)l);
		buf_append(b, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
	buf_putc(b, 0);
}

/* A response header with rcode and question for qname/qtype, with ancount
 * answers and nscount authority records. */
static void
start_rcode(struct buf *b, const char *qname, unsigned qtype, unsigned rcode,
	    unsigned ancount, unsigned nscount)
{
	put16(b, 0x1234);	/* id */
	put16(b, 0x8180 | rcode);	/* response, RD, RA */
	put16(b, 1);
	put16(b, ancount);
	put16(b, nscount);
	put16(b, 0);
	put_name(b, qname);
	put16(b, qtype);
	put16(b, 1);
}

static void
start(struct buf *b, const char *qname, unsigned qtype, unsigned ancount)
{
	start_rcode(b, qname, qtype, 0, ancount, 0);
}

/* A record whose owner is a pointer to the question name (12). */
static void
rr_head_ttl(struct buf *b, unsigned type, unsigned rdlen, unsigned ttl)
{
	put16(b, 0xc00c);
	put16(b, type);
	put16(b, 1);
	put16(b, ttl >> 16);
	put16(b, ttl & 0xffff);
	put16(b, rdlen);
}

static void
rr_head(struct buf *b, unsigned type, unsigned rdlen)
{
	rr_head_ttl(b, type, rdlen, 300);
}

/* An SOA in the authority section: its TTL and MINIMUM. */
static void
add_soa(struct buf *b, unsigned ttl, unsigned minimum)
{
	struct buf rd = BUF_INIT;
	put_name(&rd, "ns.test");
	put_name(&rd, "hostmaster.test");
	for (int i = 0; i < 4; i++)
		put16(&rd, 0), put16(&rd, 1);
	put16(&rd, minimum >> 16);
	put16(&rd, minimum & 0xffff);
	rr_head_ttl(b, 6, (unsigned)rd.len, ttl);
	buf_append(b, rd.data, rd.len);
	buf_free(&rd);
}

static void
add_mx(struct buf *b, unsigned pref, const char *host)
{
	struct buf rd = BUF_INIT;
	put16(&rd, pref);
	put_name(&rd, host);
	rr_head(b, 15, (unsigned)rd.len);
	buf_append(b, rd.data, rd.len);
	buf_free(&rd);
}

START_TEST(test_parse_mx_sorted)
{
	struct buf b = BUF_INIT;
	start(&b, "example.test", 15, 4);
	add_mx(&b, 20, "MX2.example.test");
	add_mx(&b, 10, "mx1.example.test");
	add_mx(&b, 20, "mx3.example.test");
	/* a compressed exchange: "mx0" + pointer to the question name */
	rr_head(&b, 15, 2 + 4 + 2);
	put16(&b, 5);
	buf_putc(&b, 3);
	buf_append(&b, "mx0", 3);
	put16(&b, 0xc00c);

	struct dns_mx *mx;
	size_t n;
	const char *error = NULL;
	ck_assert_int_eq(dns_parse_mx((const unsigned char *)b.data, b.len, &mx, &n, &error),
			 DNS_OK);
	ck_assert_uint_eq(n, 4);
	dns_mx_sort(mx, n, false);
	ck_assert_str_eq(mx[0].host, "mx0.example.test");
	ck_assert_uint_eq(mx[0].preference, 5);
	ck_assert_str_eq(mx[1].host, "mx1.example.test");
	/* equal preferences keep their order without shuffling; names lowercased */
	ck_assert_str_eq(mx[2].host, "mx2.example.test");
	ck_assert_str_eq(mx[3].host, "mx3.example.test");
	ck_assert(!dns_mx_is_null(mx, n));
	/* shuffled, the preferences still come in order */
	for (int k = 0; k < 20; k++) {
		dns_mx_sort(mx, n, true);
		for (size_t i = 1; i < n; i++)
			ck_assert_uint_le(mx[i - 1].preference, mx[i].preference);
	}
	dns_mx_list_free(&mx, n);
	ck_assert_ptr_null(mx);
	buf_free(&b);
}
END_TEST

START_TEST(test_null_mx)
{
	struct buf b = BUF_INIT;
	start(&b, "nullmx.test", 15, 1);
	add_mx(&b, 0, "");
	struct dns_mx *mx;
	size_t n;
	const char *error = NULL;
	ck_assert_int_eq(dns_parse_mx((const unsigned char *)b.data, b.len, &mx, &n, &error),
			 DNS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(mx[0].host, "");
	ck_assert(dns_mx_is_null(mx, n));
	/* "." at preference 10 is not RFC 7505's null MX */
	mx[0].preference = 10;
	ck_assert(!dns_mx_is_null(mx, n));
	dns_mx_list_free(&mx, n);
	buf_free(&b);
}
END_TEST

START_TEST(test_no_mx_and_malformed)
{
	struct buf b = BUF_INIT;
	struct dns_mx *mx;
	size_t n;
	const char *error = NULL;
	/* an answer with only a CNAME: no MX */
	start(&b, "alias.test", 15, 1);
	rr_head(&b, 5, 4);
	buf_putc(&b, 1);
	buf_putc(&b, 'x');
	put16(&b, 0xc00c);
	ck_assert_int_eq(dns_parse_mx((const unsigned char *)b.data, b.len, &mx, &n, &error),
			 DNS_NODATA);
	/* every truncation of a good answer fails cleanly */
	buf_reset(&b);
	start(&b, "example.test", 15, 2);
	add_mx(&b, 10, "mx1.example.test");
	add_mx(&b, 20, "mx2.example.test");
	for (size_t len = 0; len < b.len; len++) {
		int ret = dns_parse_mx((const unsigned char *)b.data, len, &mx, &n, &error);
		ck_assert_int_ne(ret, DNS_OK);
	}
	/* an MX whose rdata is too short */
	buf_reset(&b);
	start(&b, "example.test", 15, 1);
	rr_head(&b, 15, 1);
	buf_putc(&b, 0);
	ck_assert_int_eq(dns_parse_mx((const unsigned char *)b.data, b.len, &mx, &n, &error),
			 DNS_ERROR);
	buf_free(&b);
}
END_TEST

START_TEST(test_parse_txt)
{
	struct buf b = BUF_INIT;
	start(&b, "s._domainkey.example.test", 16, 2);
	rr_head(&b, 16, 1 + 6 + 1 + 4);
	buf_putc(&b, 6);
	buf_append(&b, "v=DKIM", 6);
	buf_putc(&b, 4);
	buf_append(&b, "1; p", 4);
	rr_head(&b, 16, 0);
	char **txt;
	size_t n;
	const char *error = NULL;
	ck_assert_int_eq(dns_parse_txt((const unsigned char *)b.data, b.len, &txt, &n, &error),
			 DNS_OK);
	ck_assert_uint_eq(n, 2);
	/* RFC 6376 §3.6.2.2: the strings of one record are joined */
	ck_assert_str_eq(txt[0], "v=DKIM1; p");
	ck_assert_str_eq(txt[1], "");
	dns_strings_free(&txt, n);
	/* a string length past the rdata */
	buf_reset(&b);
	start(&b, "x.test", 16, 1);
	rr_head(&b, 16, 2);
	buf_putc(&b, 9);
	buf_putc(&b, 'a');
	ck_assert_int_eq(dns_parse_txt((const unsigned char *)b.data, b.len, &txt, &n, &error),
			 DNS_ERROR);
	buf_free(&b);
}
END_TEST

static int
parse(const struct buf *b, enum dns_type type, struct dns_answer *ans)
{
	return dns_parse_answer((const unsigned char *)b->data, b->len, type, ans);
}

START_TEST(test_parse_answer_records)
{
	struct buf b = BUF_INIT;
	struct dns_answer ans;
	/* two TXT records, the least TTL is the answer's */
	start(&b, "example.test", 16, 2);
	rr_head_ttl(&b, 16, 1 + 3 + 1 + 3, 3600);
	buf_append(&b, "\003v=s\003pf1", 8);
	rr_head_ttl(&b, 16, 3, 120);
	buf_append(&b, "\002a\0", 3);
	ck_assert_int_eq(parse(&b, DNS_T_TXT, &ans), DNS_OK);
	ck_assert_int_eq(ans.status, DNS_OK);
	ck_assert_uint_eq(ans.n, 2);
	ck_assert_uint_eq(ans.ttl, 120);
	ck_assert_str_eq(ans.rr[0].text, "v=spf1");
	ck_assert_uint_eq(ans.rr[0].ttl, 3600);
	/* a NUL inside TXT data is kept, and counted */
	ck_assert_uint_eq(ans.rr[1].text_len, 2);
	ck_assert_int_eq(memcmp(ans.rr[1].text, "a\0", 2), 0);
	struct dns_answer copy;
	dns_answer_copy(&copy, &ans);
	dns_answer_free(&ans);
	ck_assert_ptr_null(ans.rr);
	ck_assert_str_eq(copy.rr[0].text, "v=spf1");
	dns_answer_free(&copy);

	/* A, AAAA, PTR and MX */
	buf_reset(&b);
	start(&b, "example.test", 1, 1);
	rr_head(&b, 1, 4);
	buf_append(&b, "\xc0\x00\x02\x07", 4);
	ck_assert_int_eq(parse(&b, DNS_T_A, &ans), DNS_OK);
	ck_assert_int_eq(memcmp(ans.rr[0].addr, "\xc0\x00\x02\x07", 4), 0);
	ck_assert_ptr_null(ans.rr[0].text);
	dns_answer_free(&ans);
	/* the same message asked as AAAA: only an A is there */
	ck_assert_int_eq(parse(&b, DNS_T_AAAA, &ans), DNS_NODATA);
	ck_assert_uint_eq(ans.ttl, 0);	/* no SOA: not to be kept */
	buf_reset(&b);
	start(&b, "7.2.0.192.in-addr.arpa", 12, 1);
	rr_head(&b, 12, 0);
	size_t at = b.len;
	put_name(&b, "Mail.Example.TEST");
	b.data[at - 1] = (char)(b.len - at);
	ck_assert_int_eq(parse(&b, DNS_T_PTR, &ans), DNS_OK);
	ck_assert_str_eq(ans.rr[0].text, "mail.example.test");
	dns_answer_free(&ans);
	buf_reset(&b);
	start(&b, "example.test", 15, 1);
	add_mx(&b, 10, "mx.example.test");
	ck_assert_int_eq(parse(&b, DNS_T_MX, &ans), DNS_OK);
	ck_assert_str_eq(ans.rr[0].text, "mx.example.test");
	ck_assert_uint_eq(ans.rr[0].pref, 10);
	dns_answer_free(&ans);
	/* an A record of the wrong length */
	buf_reset(&b);
	start(&b, "example.test", 1, 1);
	rr_head(&b, 1, 3);
	buf_append(&b, "abc", 3);
	ck_assert_int_eq(parse(&b, DNS_T_A, &ans), DNS_ERROR);
	ck_assert_uint_eq(ans.n, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_parse_answer_negative)
{
	struct buf b = BUF_INIT;
	struct dns_answer ans;
	/* RFC 2308 §5: NXDOMAIN kept for the lesser of the SOA's TTL and
	 * MINIMUM */
	start_rcode(&b, "none.test", 16, 3, 0, 1);
	add_soa(&b, 600, 60);
	ck_assert_int_eq(parse(&b, DNS_T_TXT, &ans), DNS_NXDOMAIN);
	ck_assert_uint_eq(ans.ttl, 60);
	ck_assert_uint_eq(ans.n, 0);
	buf_reset(&b);
	start_rcode(&b, "empty.test", 16, 0, 0, 1);
	add_soa(&b, 30, 900);
	ck_assert_int_eq(parse(&b, DNS_T_TXT, &ans), DNS_NODATA);
	ck_assert_uint_eq(ans.ttl, 30);
	/* SERVFAIL and REFUSED are temporary */
	for (unsigned rcode = 2; rcode <= 5; rcode += 3) {
		buf_reset(&b);
		start_rcode(&b, "x.test", 16, rcode, 0, 0);
		ck_assert_int_eq(parse(&b, DNS_T_TXT, &ans), DNS_TEMPFAIL);
	}
	/* every truncation of an answer fails cleanly */
	buf_reset(&b);
	start_rcode(&b, "x.test", 16, 0, 1, 1);
	rr_head(&b, 16, 4);
	buf_append(&b, "\003abc", 4);
	add_soa(&b, 30, 30);
	ck_assert_int_eq(parse(&b, DNS_T_TXT, &ans), DNS_OK);
	dns_answer_free(&ans);
	for (size_t len = 0; len < b.len; len++) {
		struct buf cut = BUF_INIT;
		buf_append(&cut, b.data, len);
		ck_assert_int_ne(parse(&cut, DNS_T_TXT, &ans), DNS_OK);
		ck_assert_uint_eq(ans.n, 0);
		buf_free(&cut);
	}
	buf_free(&b);
	ck_assert_str_eq(dns_type_name(DNS_T_AAAA), "AAAA");
}
END_TEST

START_TEST(test_resolver_addresses)
{
	const char *error = NULL;
	struct dns_resolver *r = dns_resolver_new("127.0.0.1:5353", &error);
	ck_assert_ptr_nonnull(r);
	dns_resolver_free(&r);
	ck_assert_ptr_null(r);
	r = dns_resolver_new("127.0.0.1", &error);
	ck_assert_ptr_nonnull(r);
	/* an address literal needs no lookup */
	char **addrs;
	size_t n;
	ck_assert_int_eq(dns_lookup_addr(r, "192.0.2.7", &addrs, &n, &error), DNS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(addrs[0], "192.0.2.7");
	dns_strings_free(&addrs, n);
	dns_resolver_free(&r);
	/* IPv6 name servers, with and without a port */
	r = dns_resolver_new("[::1]:5353", &error);
	ck_assert_ptr_nonnull(r);
	dns_resolver_free(&r);
	r = dns_resolver_new("[2001:db8::53]", &error);
	ck_assert_ptr_nonnull(r);
	dns_resolver_free(&r);
	static const char *const bad[] = { "::1", "[::1", "[127.0.0.1]:53", "[::1]x",
					   "resolver.test", "127.0.0.1:0",
					   "127.0.0.1:99999", "127.0.0.1:" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		error = NULL;
		ck_assert_ptr_null(dns_resolver_new(bad[i], &error));
		ck_assert_ptr_nonnull(error);
	}
	ck_assert_str_eq(dns_status_name(DNS_NXDOMAIN), "no such domain");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_mx_sorted);
	tcase_add_test(tc, test_null_mx);
	tcase_add_test(tc, test_no_mx_and_malformed);
	tcase_add_test(tc, test_parse_txt);
	tcase_add_test(tc, test_parse_answer_records);
	tcase_add_test(tc, test_parse_answer_negative);
	tcase_add_test(tc, test_resolver_addresses);
	suite_add_tcase(s, tc);
	return s;
}

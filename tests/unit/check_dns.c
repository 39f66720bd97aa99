/* Unit tests for core/dns: the answer parsers over hand-built DNS messages,
 * MX ordering (RFC 5321 §5.1), null MX (RFC 7505), resolver addresses. */
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

/* A response header and question for qname/qtype with ancount answers. */
static void
start(struct buf *b, const char *qname, unsigned qtype, unsigned ancount)
{
	put16(b, 0x1234);	/* id */
	put16(b, 0x8180);	/* response, RD, RA, NOERROR */
	put16(b, 1);
	put16(b, ancount);
	put16(b, 0);
	put16(b, 0);
	put_name(b, qname);
	put16(b, qtype);
	put16(b, 1);
}

/* An answer record whose owner is a pointer to the question name (12). */
static void
rr_head(struct buf *b, unsigned type, unsigned rdlen)
{
	put16(b, 0xc00c);
	put16(b, type);
	put16(b, 1);
	put16(b, 0);
	put16(b, 300);	/* TTL */
	put16(b, rdlen);
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
	tcase_add_test(tc, test_resolver_addresses);
	suite_add_tcase(s, tc);
	return s;
}

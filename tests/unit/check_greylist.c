/* Unit tests for trust/greylist: the triplet text and key. */
#include <string.h>

#include "trust/greylist.h"
#include "tests/unit/runner.h"

static struct ip_addr
ip_of(const char *addr)
{
	struct ip_addr ip;
	ck_assert_int_eq(ip_addr_parse(addr, &ip), 0);
	return ip;
}

static const char *
triplet(const char *addr, const char *sender, const char *rcpt)
{
	static struct buf t = BUF_INIT;
	struct ip_addr ip = ip_of(addr);
	buf_reset(&t);
	greylist_triplet(&ip, sender, rcpt, &t);
	return buf_cstr(&t);
}

static void
key(const char *addr, const char *sender, const char *rcpt, char out[SHA256_HEX_LEN + 1])
{
	struct ip_addr ip = ip_of(addr);
	greylist_key(&ip, sender, rcpt, out);
}

START_TEST(test_triplet)
{
	/* the client's /24 or /64, sender and recipient lowercased */
	ck_assert_str_eq(triplet("192.0.2.77", "Alice@Example.NET", "Bob@Example.org"),
			 "192.0.2.0/24 <alice@example.net> <bob@example.org>");
	ck_assert_str_eq(triplet("::ffff:192.0.2.77", "a@b.example", "c@d.example"),
			 "192.0.2.0/24 <a@b.example> <c@d.example>");
	ck_assert_str_eq(triplet("2001:db8:1:2:3:4:5:6", "a@b.example", "c@d.example"),
			 "2001:db8:1:2::/64 <a@b.example> <c@d.example>");
	/* the null sender */
	ck_assert_str_eq(triplet("192.0.2.1", "", "c@d.example"),
			 "192.0.2.0/24 <> <c@d.example>");
	/* bounce addresses that change at every try stay the same */
	ck_assert_str_eq(triplet("192.0.2.1", "bounce-12345-678@lists.example", "c@d.example"),
			 "192.0.2.0/24 <bounce-#-#@lists.example> <c@d.example>");
	ck_assert_str_eq(triplet("192.0.2.1", "prvs=1234abcdef=User@Example.com", "c@d.example"),
			 "192.0.2.0/24 <user@example.com> <c@d.example>");
	ck_assert_str_eq(triplet("192.0.2.1", "msprvs1=19xyz=Bob5@x.example", "c@d.example"),
			 "192.0.2.0/24 <bob#@x.example> <c@d.example>");
	/* a domain's digits stay: only the local part changes per try */
	ck_assert_str_eq(triplet("192.0.2.1", "a1@mx2.example", "c@d.example"),
			 "192.0.2.0/24 <a#@mx2.example> <c@d.example>");
	/* no '=' after the tag: no BATV */
	ck_assert_str_eq(triplet("192.0.2.1", "prvs=x@y.example", "c@d.example"),
			 "192.0.2.0/24 <prvs=x@y.example> <c@d.example>");
}
END_TEST

START_TEST(test_key)
{
	char k1[SHA256_HEX_LEN + 1], k2[SHA256_HEX_LEN + 1];
	key("192.0.2.1", "Bounce-1@L.example", "Bob@Example.org", k1);
	ck_assert_uint_eq(strlen(k1), SHA256_HEX_LEN);
	ck_assert(is_lower_hex(k1, SHA256_HEX_LEN));
	/* a retry from the same pool with the next bounce address */
	key("192.0.2.200", "bounce-2@l.example", "bob@example.org", k2);
	ck_assert_str_eq(k1, k2);
	/* another network, sender or recipient is another triplet */
	key("192.0.3.1", "bounce-1@l.example", "bob@example.org", k2);
	ck_assert_str_ne(k1, k2);
	key("192.0.2.1", "other@l.example", "bob@example.org", k2);
	ck_assert_str_ne(k1, k2);
	key("192.0.2.1", "bounce-1@l.example", "carol@example.org", k2);
	ck_assert_str_ne(k1, k2);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("greylist");
	TCase *tc = tcase_create("triplet");
	tcase_add_test(tc, test_triplet);
	tcase_add_test(tc, test_key);
	suite_add_tcase(s, tc);
	return s;
}

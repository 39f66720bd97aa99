/* Unit tests for core/cidr: network lists as the config writes them. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cidr.h"
#include "tests/unit/runner.h"

/* Entry i of list is family, network text and prefix. */
static void
assert_entry(const struct cidr *c, int family, const char *net, unsigned prefix)
{
	unsigned char a[16] = { 0 };
	ck_assert_int_eq(inet_pton(family, net, a), 1);
	ck_assert_int_eq(c->family, family);
	ck_assert_int_eq(memcmp(c->net, a, family == AF_INET ? 4 : 16), 0);
	ck_assert_uint_eq(c->prefix, prefix);
}

START_TEST(test_parse)
{
	struct cidr *list;
	size_t n;
	const char *err = NULL;
	ck_assert_int_eq(cidr_list_parse(" 192.0.2.0/24,198.51.100.7 ,\t2001:db8::/33, "
					 "::ffff:203.0.113.0/120, 10.0.0.0/0x", &list, &n, &err),
			 -1);
	ck_assert_str_eq(err, "'10.0.0.0/0x' is not an IP address or network (ADDRESS/PREFIX)");
	ck_assert_int_eq(cidr_list_parse(" 192.0.2.0/24,198.51.100.7 ,\t2001:db8::/33, "
					 "::ffff:203.0.113.0/120, 172.16.0.0/12", &list, &n, &err),
			 0);
	ck_assert_uint_eq(n, 5);
	assert_entry(&list[0], AF_INET, "192.0.2.0", 24);
	assert_entry(&list[1], AF_INET, "198.51.100.7", 32);
	assert_entry(&list[2], AF_INET6, "2001:db8::", 33);
	/* the IPv4-mapped form is the IPv4 network */
	assert_entry(&list[3], AF_INET, "203.0.113.0", 24);
	assert_entry(&list[4], AF_INET, "172.16.0.0", 12);
	free(list);

	ck_assert_int_eq(cidr_list_parse("0.0.0.0/0 ::/0", &list, &n, &err), 0);
	assert_entry(&list[0], AF_INET, "0.0.0.0", 0);
	assert_entry(&list[1], AF_INET6, "::", 0);
	free(list);

	ck_assert_int_eq(cidr_list_parse(" , ", &list, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
}
END_TEST

START_TEST(test_bad_entries)
{
	static const char *const bad[] = {
		"192.0.2.0/33", "::/129", "192.0.2.0/", "/24", "192.0.2", "example.org",
		"192.0.2.0/-1", "192.0.2.0/1234", "1.2.3.4.5", "[::1]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cidr *list = NULL;
		size_t n = 0;
		const char *err = NULL;
		ck_assert_msg(cidr_list_parse(bad[i], &list, &n, &err) == -1, "%s", bad[i]);
		ck_assert_ptr_null(list);
		ck_assert_ptr_nonnull(strstr(err, "is not an IP address"));
	}
	/* bounded */
	struct buf many = BUF_INIT;
	for (int i = 0; i <= CIDR_LIST_MAX; i++)
		buf_puts(&many, "10.0.0.1, ");
	struct cidr *list = NULL;
	size_t n;
	const char *err;
	ck_assert_int_eq(cidr_list_parse(buf_cstr(&many), &list, &n, &err), -1);
	ck_assert_str_eq(err, "more than 256 networks");
	buf_free(&many);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("list");
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_bad_entries);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for core/dns_cache: answers kept for their TTL and no longer,
 * negative answers (RFC 2308 §5), failures not kept, the bounds and the
 * least-recently-used eviction. */
#include <stdio.h>
#include <string.h>

#include "core/dns_cache.h"
#include "core/xmalloc.h"
#include "tests/unit/runner.h"

/* An answer of n TXT records "rN" with ttl. */
static void
make(struct dns_answer *a, enum dns_status status, uint32_t ttl, size_t n)
{
	memset(a, 0, sizeof *a);
	a->status = status;
	a->ttl = ttl;
	a->n = n;
	if (n > 0)
		a->rr = xcalloc(n, sizeof *a->rr);
	for (size_t i = 0; i < n; i++) {
		a->rr[i].text = xasprintf("r%zu", i);
		a->rr[i].text_len = strlen(a->rr[i].text);
		a->rr[i].ttl = ttl;
	}
}

START_TEST(test_ttl_honoured)
{
	struct dns_cache *c = dns_cache_new(16, 0);
	struct dns_answer a, got;
	make(&a, DNS_OK, 100, 2);
	dns_cache_put(c, "Example.TEST.", DNS_T_TXT, 1000, &a);
	dns_answer_free(&a);
	/* case and the trailing dot do not matter; the type does */
	ck_assert(dns_cache_get(c, "example.test", DNS_T_TXT, 1000, &got));
	ck_assert_uint_eq(got.n, 2);
	ck_assert_str_eq(got.rr[1].text, "r1");
	ck_assert_uint_eq(got.ttl, 100);
	dns_answer_free(&got);
	ck_assert(!dns_cache_get(c, "example.test", DNS_T_A, 1000, &got));
	/* what remains of the TTL, and gone when it runs out */
	ck_assert(dns_cache_get(c, "example.test", DNS_T_TXT, 1060, &got));
	ck_assert_uint_eq(got.ttl, 40);
	ck_assert_uint_eq(got.rr[0].ttl, 40);
	dns_answer_free(&got);
	ck_assert(!dns_cache_get(c, "example.test", DNS_T_TXT, 1100, &got));
	ck_assert_uint_eq(dns_cache_count(c), 0);
	/* no TTL past a day */
	make(&a, DNS_OK, 10 * DNS_CACHE_TTL_MAX, 1);
	dns_cache_put(c, "long.test", DNS_T_TXT, 0, &a);
	dns_answer_free(&a);
	ck_assert(!dns_cache_get(c, "long.test", DNS_T_TXT, DNS_CACHE_TTL_MAX, &got));
	dns_cache_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_negative_and_failures)
{
	struct dns_cache *c = dns_cache_new(16, 0);
	struct dns_answer a, got;
	make(&a, DNS_NXDOMAIN, 60, 0);
	dns_cache_put(c, "none.test", DNS_T_TXT, 0, &a);
	make(&a, DNS_NODATA, 60, 0);
	dns_cache_put(c, "empty.test", DNS_T_MX, 0, &a);
	ck_assert(dns_cache_get(c, "none.test", DNS_T_TXT, 59, &got));
	ck_assert_int_eq(got.status, DNS_NXDOMAIN);
	ck_assert_uint_eq(got.n, 0);
	ck_assert(dns_cache_get(c, "empty.test", DNS_T_MX, 59, &got));
	ck_assert_int_eq(got.status, DNS_NODATA);
	/* a failure, and a TTL of 0, are not kept */
	make(&a, DNS_TEMPFAIL, 60, 0);
	dns_cache_put(c, "fail.test", DNS_T_TXT, 0, &a);
	make(&a, DNS_ERROR, 60, 0);
	dns_cache_put(c, "bad.test", DNS_T_TXT, 0, &a);
	make(&a, DNS_NXDOMAIN, 0, 0);
	dns_cache_put(c, "nosoa.test", DNS_T_TXT, 0, &a);
	ck_assert_uint_eq(dns_cache_count(c), 2);
	/* a newer answer replaces the old */
	make(&a, DNS_OK, 300, 1);
	dns_cache_put(c, "none.test", DNS_T_TXT, 10, &a);
	dns_answer_free(&a);
	ck_assert(dns_cache_get(c, "none.test", DNS_T_TXT, 100, &got));
	ck_assert_int_eq(got.status, DNS_OK);
	dns_answer_free(&got);
	ck_assert_uint_eq(dns_cache_count(c), 2);
	dns_cache_free(&c);
}
END_TEST

START_TEST(test_bounds)
{
	/* at most 3 answers: the least recently used goes */
	struct dns_cache *c = dns_cache_new(3, 0);
	struct dns_answer a, got;
	const char *names[] = { "a.test", "b.test", "c.test", "d.test" };
	for (int i = 0; i < 3; i++) {
		make(&a, DNS_OK, 100, 1);
		dns_cache_put(c, names[i], DNS_T_A, 0, &a);
		dns_answer_free(&a);
	}
	ck_assert(dns_cache_get(c, "a.test", DNS_T_A, 1, &got));	/* a is used */
	dns_answer_free(&got);
	make(&a, DNS_OK, 100, 1);
	dns_cache_put(c, "d.test", DNS_T_A, 1, &a);
	dns_answer_free(&a);
	ck_assert_uint_eq(dns_cache_count(c), 3);
	ck_assert(!dns_cache_get(c, "b.test", DNS_T_A, 1, &got));
	ck_assert(dns_cache_get(c, "a.test", DNS_T_A, 1, &got));
	dns_answer_free(&got);
	ck_assert(dns_cache_get(c, "c.test", DNS_T_A, 1, &got));
	dns_answer_free(&got);
	dns_cache_free(&c);

	/* a byte bound: many answers, the cache never passes it, and an
	 * answer bigger than the whole cache is not kept */
	c = dns_cache_new(100000, 4096);
	for (int i = 0; i < 1000; i++) {
		char name[32];
		snprintf(name, sizeof name, "n%d.test", i);
		make(&a, DNS_OK, 100, 3);
		dns_cache_put(c, name, DNS_T_TXT, 0, &a);
		dns_answer_free(&a);
	}
	size_t kept = dns_cache_count(c);
	ck_assert_uint_gt(kept, 5);
	ck_assert_uint_lt(kept, 100);
	ck_assert(dns_cache_get(c, "n999.test", DNS_T_TXT, 0, &got));
	dns_answer_free(&got);
	make(&a, DNS_OK, 100, 1000);
	dns_cache_put(c, "huge.test", DNS_T_TXT, 0, &a);
	dns_answer_free(&a);
	ck_assert(!dns_cache_get(c, "huge.test", DNS_T_TXT, 0, &got));
	ck_assert(dns_cache_get(c, "n999.test", DNS_T_TXT, 0, &got));
	dns_answer_free(&got);
	dns_cache_free(&c);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dns_cache");
	TCase *tc = tcase_create("cache");
	tcase_add_test(tc, test_ttl_honoured);
	tcase_add_test(tc, test_negative_and_failures);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	return s;
}

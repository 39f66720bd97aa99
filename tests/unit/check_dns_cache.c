/* Unit tests for core/dns_cache: answers kept for their TTL and no longer,
 * negative answers (RFC 2308 §5), failures not kept, the bounds and the
 * least-recently-used eviction; and dns_query() through a resolver that
 * shares a cache, against a small DNS server on loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* ---- dns_query() with a cache, against a DNS server on loopback ---------- */

struct server {
	int fd;
	int stop[2];
	_Atomic int queries_a, queries_none, queries_fail;
};

/* Answers: a.test TXT "hello" (TTL 300); none.test NXDOMAIN with an SOA
 * (negative TTL 60); fail.test SERVFAIL. */
static void *
serve(void *arg)
{
	struct server *sv = arg;
	for (int i = 0; i < 100; i++) {
		struct pollfd pfd[2] = { { sv->fd, POLLIN, 0 }, { sv->stop[0], POLLIN, 0 } };
		if (poll(pfd, 2, 10000) <= 0 || pfd[1].revents != 0)
			break;
		unsigned char q[512], r[600];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(sv->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n < 17)
			continue;
		/* the question ends 4 bytes after its name's root label */
		size_t qend = 12;
		while (qend < (size_t)n && q[qend] != 0)
			qend += q[qend] + 1u;
		qend += 5;
		if (qend > (size_t)n)
			continue;
		memcpy(r, q, qend);
		r[2] = 0x81;
		r[4] = 0, r[5] = 1;
		memset(r + 6, 0, 6);
		size_t len = qend;
		if (memcmp(q + 12, "\001a\004test", 8) == 0) {
			sv->queries_a++;
			r[3] = 0x80;
			r[7] = 1;
			static const unsigned char ans[] = { 0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 44, 0, 6,
							     5, 'h', 'e', 'l', 'l', 'o' };
			memcpy(r + len, ans, sizeof ans);
			len += sizeof ans;
		} else if (memcmp(q + 12, "\004none\004test", 11) == 0) {
			sv->queries_none++;
			r[3] = 0x83;
			r[9] = 1;
			static const unsigned char soa[] = { 0xc0, 12, 0, 6, 0, 1, 0, 0, 2, 88, 0, 22,
							     0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
							     0, 1, 0, 0, 0, 1, 0, 0, 0, 60 };
			memcpy(r + len, soa, sizeof soa);
			len += sizeof soa;
		} else {
			sv->queries_fail++;
			r[3] = 0x82;
		}
		(void)sendto(sv->fd, r, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

START_TEST(test_query_through_cache)
{
	struct server sv = { 0 };
	sv.fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(sv.fd, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(sv.fd, (struct sockaddr *)&sin, sizeof sin), 0);
	socklen_t sl = sizeof sin;
	getsockname(sv.fd, (struct sockaddr *)&sin, &sl);
	ck_assert_int_eq(pipe(sv.stop), 0);
	pthread_t th;
	pthread_create(&th, NULL, serve, &sv);

	char where[32];
	snprintf(where, sizeof where, "127.0.0.1:%u", ntohs(sin.sin_port));
	const char *error;
	struct dns_resolver *r = dns_resolver_new(where, &error);
	ck_assert_ptr_nonnull(r);
	struct dns_cache *c = dns_cache_new(100, 0);
	dns_resolver_set_cache(r, c);
	struct dns_answer a;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(dns_query(r, i == 1 ? "A.test." : "a.test", DNS_T_TXT, &a), DNS_OK);
		ck_assert_str_eq(a.rr[0].text, "hello");
		ck_assert_uint_le(a.ttl, 300);
		ck_assert_uint_ge(a.ttl, 290);
		dns_answer_free(&a);
		ck_assert_int_eq(dns_query(r, "none.test", DNS_T_TXT, &a), DNS_NXDOMAIN);
		ck_assert_uint_le(a.ttl, 60);
		ck_assert_int_eq(dns_query(r, "fail.test", DNS_T_TXT, &a), DNS_TEMPFAIL);
	}
	/* answers and NXDOMAIN asked once; a server failure every time */
	ck_assert_int_eq(sv.queries_a, 1);
	ck_assert_int_eq(sv.queries_none, 1);
	ck_assert_int_ge(sv.queries_fail, 3);
	ck_assert_uint_eq(dns_cache_count(c), 2);
	/* without the cache, the server is asked */
	dns_resolver_set_cache(r, NULL);
	ck_assert_int_eq(dns_query(r, "a.test", DNS_T_TXT, &a), DNS_OK);
	dns_answer_free(&a);
	ck_assert_int_eq(sv.queries_a, 2);
	/* a name DNS cannot carry is no query at all */
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_int_eq(dns_query(r, longname, DNS_T_TXT, &a), DNS_ERROR);

	ck_assert_int_eq(write(sv.stop[1], "x", 1), 1);
	pthread_join(th, NULL);
	close(sv.fd);
	close(sv.stop[0]);
	close(sv.stop[1]);
	dns_resolver_free(&r);
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
	tcase_add_test(tc, test_query_through_cache);
	suite_add_tcase(s, tc);
	return s;
}

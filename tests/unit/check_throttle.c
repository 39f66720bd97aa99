/* Unit tests for core/throttle, on the explicit clock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/throttle.h"
#include "tests/unit/runner.h"

static void
setup(void)
{
	struct throttle_settings s = { .block_after = 5, .block_seconds = 600,
				       .delay_max_ms = 3000 };
	throttle_configure(&s);
	throttle_reset();
}

START_TEST(test_delay_doubles_to_max)
{
	const time_t t = 1000;
	ck_assert_uint_eq(throttle_failure_at("192.0.2.1", t), 250);
	ck_assert_uint_eq(throttle_failure_at("192.0.2.1", t + 1), 500);
	ck_assert_uint_eq(throttle_failure_at("192.0.2.1", t + 2), 1000);
	ck_assert_uint_eq(throttle_failure_at("192.0.2.1", t + 3), 2000);
	/* capped at delay_max_ms */
	ck_assert_uint_eq(throttle_failure_at("192.0.2.1", t + 4), 3000);
	/* another address starts from the beginning */
	ck_assert_uint_eq(throttle_failure_at("192.0.2.2", t + 4), 250);
	ck_assert_uint_eq(throttle_count(), 2);
}
END_TEST

START_TEST(test_block_after_n_and_expiry)
{
	const time_t t = 5000;
	for (int i = 0; i < 4; i++) {
		throttle_failure_at("198.51.100.7", t + i);
		ck_assert(!throttle_blocked_at("198.51.100.7", t + i));
	}
	/* the fifth failure blocks */
	throttle_failure_at("198.51.100.7", t + 4);
	ck_assert(throttle_blocked_at("198.51.100.7", t + 4));
	ck_assert(throttle_blocked_at("198.51.100.7", t + 4 + 599));
	ck_assert(!throttle_blocked_at("198.51.100.8", t + 5));
	/* failures during the block do not extend it */
	throttle_failure_at("198.51.100.7", t + 300);
	ck_assert(throttle_blocked_at("198.51.100.7", t + 4 + 599));
	/* block_seconds later it is over, and the address starts afresh */
	ck_assert(!throttle_blocked_at("198.51.100.7", t + 4 + 600));
	ck_assert_uint_eq(throttle_failure_at("198.51.100.7", t + 605), 250);
	ck_assert(!throttle_blocked_at("198.51.100.7", t + 605));
}
END_TEST

START_TEST(test_window_slides)
{
	const time_t t = 100;
	for (int i = 0; i < 4; i++)
		throttle_failure_at("203.0.113.9", t + i);
	/* a failure block_seconds after the last one starts the count again */
	ck_assert_uint_eq(throttle_failure_at("203.0.113.9", t + 3 + 600), 250);
	ck_assert(!throttle_blocked_at("203.0.113.9", t + 3 + 600));
}
END_TEST

START_TEST(test_success_clears)
{
	const time_t t = 10;
	for (int i = 0; i < 4; i++)
		throttle_failure_at("192.0.2.50", t);
	throttle_success("192.0.2.50");
	ck_assert_uint_eq(throttle_count(), 0);
	for (int i = 0; i < 4; i++)
		throttle_failure_at("192.0.2.50", t);
	ck_assert(!throttle_blocked_at("192.0.2.50", t));
	ck_assert_uint_eq(throttle_failure_at("192.0.2.50", t), 3000);
	ck_assert(throttle_blocked_at("192.0.2.50", t));
	throttle_success("192.0.2.99");	/* unknown: nothing happens */
	ck_assert_uint_eq(throttle_count(), 1);
}
END_TEST

START_TEST(test_address_forms)
{
	const time_t t = 10;
	/* an IPv6 /64 counts as one source */
	for (int i = 0; i < 5; i++) {
		char ip[64];
		snprintf(ip, sizeof ip, "2001:db8:1:2::%x", i + 1);
		throttle_failure_at(ip, t);
	}
	ck_assert(throttle_blocked_at("2001:db8:1:2:ffff::1", t));
	ck_assert(!throttle_blocked_at("2001:db8:1:3::1", t));
	/* IPv4-mapped IPv6 is the IPv4 address */
	for (int i = 0; i < 5; i++)
		throttle_failure_at("::ffff:192.0.2.77", t);
	ck_assert(throttle_blocked_at("192.0.2.77", t));
	/* text that is not an address still counts */
	for (int i = 0; i < 5; i++)
		throttle_failure_at("local", t);
	ck_assert(throttle_blocked_at("local", t));
	ck_assert(!throttle_blocked_at("other", t));
}
END_TEST

START_TEST(test_table_bound)
{
	const time_t t = 50;
	char ip[32];
	/* fill the table; the first address is the stalest */
	for (unsigned i = 0; i < THROTTLE_MAX_ENTRIES; i++) {
		snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		for (int k = 0; k < 5; k++)
			throttle_failure_at(ip, t);
	}
	ck_assert_uint_eq(throttle_count(), THROTTLE_MAX_ENTRIES);
	ck_assert(throttle_blocked_at("10.0.0.0", t));
	/* touch the first again so that the second is the stalest */
	throttle_failure_at("10.0.0.0", t + 1);
	throttle_failure_at("172.16.0.1", t + 2);
	ck_assert_uint_eq(throttle_count(), THROTTLE_MAX_ENTRIES);
	ck_assert(throttle_blocked_at("10.0.0.0", t + 2));
	ck_assert(!throttle_blocked_at("10.0.0.1", t + 2));
	ck_assert(throttle_blocked_at("10.0.0.2", t + 2));
	throttle_reset();
	ck_assert_uint_eq(throttle_count(), 0);
}
END_TEST

START_TEST(test_settings)
{
	/* block_after 0 never blocks; a small delay_max caps the first delay */
	struct throttle_settings s = { .block_after = 0, .block_seconds = 60,
				       .delay_max_ms = 100 };
	throttle_configure(&s);
	for (int i = 0; i < 50; i++)
		ck_assert_uint_eq(throttle_failure_at("192.0.2.1", 1), 100);
	ck_assert(!throttle_blocked_at("192.0.2.1", 1));
	/* a huge maximum does not overflow the doubling */
	s.delay_max_ms = 4000000000u;
	s.block_after = 100;
	throttle_configure(&s);
	throttle_reset();
	unsigned last = 0;
	for (int i = 0; i < 60; i++) {
		unsigned d = throttle_failure_at("192.0.2.2", 1);
		ck_assert_uint_ge(d, last);
		last = d;
	}
	ck_assert_uint_eq(last, 4000000000u);
	/* the real clock works too */
	throttle_reset();
	ck_assert_uint_eq(throttle_failure("192.0.2.3"), 250);
	ck_assert(!throttle_blocked("192.0.2.3"));
}
END_TEST

static void *
hammer(void *arg)
{
	unsigned id = (unsigned)(size_t)arg;
	char ip[32];
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(ip, sizeof ip, "10.9.%u.%u", id, i % 200);
		throttle_failure_at(ip, 7);
		throttle_blocked_at("192.0.2.200", 7);
		if (i % 50 == 0)
			throttle_success(ip);
	}
	return NULL;
}

START_TEST(test_threads)
{
	/* the table is shared by every session thread behind its own lock */
	pthread_t t[8];
	for (size_t i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
	for (size_t i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_le(throttle_count(), 8 * 200);
	ck_assert_uint_ge(throttle_count(), 8 * 150);
	/* each thread's addresses got 10 failures each at most: blocked */
	ck_assert(throttle_blocked_at("10.9.3.199", 7));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_delay_doubles_to_max);
	tcase_add_test(tc, test_block_after_n_and_expiry);
	tcase_add_test(tc, test_window_slides);
	tcase_add_test(tc, test_success_clears);
	tcase_add_test(tc, test_address_forms);
	tcase_add_test(tc, test_table_bound);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

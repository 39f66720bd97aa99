/* Unit tests for core/throttle, on the explicit clock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* One whole login: begin, then end with the outcome; the delay, or
 * UINT32_MAX when the login was refused (blocked or busy). */
static unsigned
attempt(const char *ip, const char *account, bool success, time_t now)
{
	struct throttle_ticket t;
	if (throttle_begin_at(&t, ip, account, now) != THROTTLE_GO)
		return UINT32_MAX;
	return throttle_end_at(&t, success, now);
}

START_TEST(test_delay_doubles_to_max)
{
	const time_t t = 1000;
	struct throttle_settings s = { .block_after = 0, .block_seconds = 600,
				       .delay_max_ms = 3000 };
	throttle_configure(&s);
	ck_assert_uint_eq(attempt("192.0.2.1", "a", false, t), 250);
	ck_assert_uint_eq(attempt("192.0.2.1", "b", false, t + 1), 500);
	ck_assert_uint_eq(attempt("192.0.2.1", "a", false, t + 2), 1000);
	ck_assert_uint_eq(throttle_failure_at("192.0.2.1", t + 3), 2000);
	/* capped at delay_max_ms */
	ck_assert_uint_eq(attempt("192.0.2.1", "c", false, t + 4), 3000);
	/* another address starts from the beginning; a success waits not */
	ck_assert_uint_eq(attempt("192.0.2.2", "a", false, t + 4), 250);
	ck_assert_uint_eq(attempt("192.0.2.3", "a", true, t + 4), 0);
	ck_assert_uint_eq(throttle_count(), 2);
}
END_TEST

START_TEST(test_block_after_n_and_expiry)
{
	const time_t t = 5000;
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_ne(attempt("198.51.100.7", "alice", false, t + i), UINT32_MAX);
		ck_assert(!throttle_blocked_at("198.51.100.7", t + i));
	}
	/* the fifth failure for the account blocks the address */
	attempt("198.51.100.7", "ALICE", false, t + 4);
	ck_assert(throttle_blocked_at("198.51.100.7", t + 4));
	ck_assert(throttle_blocked_at("198.51.100.7", t + 4 + 599));
	ck_assert(!throttle_blocked_at("198.51.100.8", t + 5));
	/* refused unchecked, whatever the account */
	struct throttle_ticket tk;
	ck_assert_int_eq(throttle_begin_at(&tk, "198.51.100.7", "bob", t + 300),
			 THROTTLE_BLOCKED);
	ck_assert_uint_eq(throttle_end_at(&tk, false, t + 300), 0);
	/* a token failure during the block does not extend it */
	throttle_failure_at("198.51.100.7", t + 300);
	ck_assert(throttle_blocked_at("198.51.100.7", t + 4 + 599));
	/* block_seconds later it is over, and the address starts afresh */
	ck_assert(!throttle_blocked_at("198.51.100.7", t + 4 + 600));
	ck_assert_uint_eq(attempt("198.51.100.7", "alice", false, t + 605), 250);
	ck_assert(!throttle_blocked_at("198.51.100.7", t + 605));
}
END_TEST

START_TEST(test_window_slides)
{
	const time_t t = 100;
	for (int i = 0; i < 4; i++)
		attempt("203.0.113.9", "alice", false, t + i);
	/* a failure block_seconds after the last one starts the count again */
	ck_assert_uint_eq(attempt("203.0.113.9", "alice", false, t + 3 + 600), 250);
	ck_assert(!throttle_blocked_at("203.0.113.9", t + 3 + 600));
}
END_TEST

START_TEST(test_success_clears_only_its_account)
{
	const time_t t = 10;
	/* the bypass of issue 14: wrong guesses for alice, a right login as
	 * bob in between; bob's success must not forgive alice's guesses */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 2; i++)
			attempt("192.0.2.50", "alice@example.org", false, t);
		ck_assert_uint_eq(attempt("192.0.2.50", "bob@example.org", true, t), 0);
	}
	ck_assert(!throttle_blocked_at("192.0.2.50", t));
	attempt("192.0.2.50", "alice@example.org", false, t);
	ck_assert(throttle_blocked_at("192.0.2.50", t));

	/* alice's own right login forgives alice's guesses */
	throttle_reset();
	for (int i = 0; i < 4; i++)
		attempt("192.0.2.51", "alice", false, t);
	ck_assert_uint_eq(attempt("192.0.2.51", "Alice", true, t), 0);
	ck_assert_uint_eq(throttle_count(), 0);
	for (int i = 0; i < 4; i++)
		attempt("192.0.2.51", "alice", false, t);
	ck_assert(!throttle_blocked_at("192.0.2.51", t));
	/* a success for an account without failures leaves the others */
	ck_assert_uint_eq(attempt("192.0.2.51", "carol", true, t), 0);
	ck_assert_uint_eq(throttle_count(), 1);
	attempt("192.0.2.51", "alice", false, t);
	ck_assert(throttle_blocked_at("192.0.2.51", t));

	/* outside a ticket (a second factor after the password): the same */
	throttle_reset();
	for (int i = 0; i < 4; i++)
		ck_assert_uint_gt(throttle_account_failure("192.0.2.52", "alice"), 0);
	throttle_account_success("192.0.2.52", "bob");
	ck_assert_uint_eq(throttle_count(), 1);
	throttle_account_success("192.0.2.52", "ALICE");
	ck_assert_uint_eq(throttle_count(), 0);
	for (int i = 0; i < 5; i++)
		throttle_account_failure("192.0.2.52", "alice");
	ck_assert(throttle_blocked("192.0.2.52"));
}
END_TEST

START_TEST(test_spraying_blocks)
{
	const time_t t = 20;
	char account[32];
	/* one guess each at many accounts, a right login as another between:
	 * blocked long before THROTTLE_ADDRESS_FACTOR * block_after guesses,
	 * as the accounts beyond the slots share one count */
	int guesses = 0;
	for (int i = 0; i < 100 && !throttle_blocked_at("192.0.2.60", t); i++) {
		snprintf(account, sizeof account, "user%d", i);
		ck_assert_uint_ne(attempt("192.0.2.60", account, false, t), UINT32_MAX);
		guesses++;
		if (!throttle_blocked_at("192.0.2.60", t))
			ck_assert_uint_eq(attempt("192.0.2.60", "me", true, t), 0);
	}
	ck_assert(throttle_blocked_at("192.0.2.60", t));
	ck_assert_int_eq(guesses, THROTTLE_ACCOUNTS + 5);

	throttle_reset();
	for (int i = 0; i < 7; i++) {
		snprintf(account, sizeof account, "user%d", i);
		for (int k = 0; k < 2; k++)
			attempt("192.0.2.61", account, false, t);
	}
	/* 14 failures over 7 accounts: below block_after each, and below
	 * THROTTLE_ADDRESS_FACTOR * block_after together */
	ck_assert(!throttle_blocked_at("192.0.2.61", t));
	/* the fifteenth, for another account, reaches the address's limit */
	attempt("192.0.2.61", "user7", false, t);
	ck_assert(throttle_blocked_at("192.0.2.61", t));
}
END_TEST

START_TEST(test_checks_in_flight)
{
	const time_t t = 30;
	struct throttle_ticket tk[8];
	/* a fresh address: as many checks at once as could fail without
	 * passing block_after, then "busy" */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(throttle_begin_at(&tk[i], "192.0.2.70", "alice", t),
				 THROTTLE_GO);
	ck_assert_int_eq(throttle_begin_at(&tk[5], "192.0.2.70", "alice", t), THROTTLE_BUSY);
	ck_assert(!tk[5].running);
	/* all five fail: blocked, and no sixth was checked */
	for (int i = 0; i < 5; i++)
		throttle_end_at(&tk[i], false, t);
	ck_assert(throttle_blocked_at("192.0.2.70", t));

	/* after a failure (the soft limit), one check at a time */
	attempt("192.0.2.71", "alice", false, t);
	ck_assert_int_eq(throttle_begin_at(&tk[0], "192.0.2.71", "bob", t), THROTTLE_GO);
	ck_assert_int_eq(throttle_begin_at(&tk[1], "192.0.2.71", "carol", t), THROTTLE_BUSY);
	ck_assert_uint_eq(throttle_end_at(&tk[0], true, t), 0);
	ck_assert_int_eq(throttle_begin_at(&tk[1], "192.0.2.71", "carol", t), THROTTLE_GO);
	/* a check abandoned (the store failed) counts neither way */
	throttle_abandon(&tk[1]);
	ck_assert(!tk[1].running);
	throttle_abandon(&tk[1]);
	ck_assert_int_eq(throttle_begin_at(&tk[1], "192.0.2.71", "carol", t), THROTTLE_GO);
	ck_assert_uint_eq(throttle_end_at(&tk[1], false, t), 500);
	/* a ticket ended twice counts once */
	ck_assert_uint_eq(throttle_end_at(&tk[1], false, t), 0);
	ck_assert(!throttle_blocked_at("192.0.2.71", t));
}
END_TEST

START_TEST(test_address_forms)
{
	const time_t t = 10;
	/* an IPv6 /64 counts as one source */
	for (int i = 0; i < 5; i++) {
		char ip[64];
		snprintf(ip, sizeof ip, "2001:db8:1:2::%x", i + 1);
		attempt(ip, "alice", false, t);
	}
	ck_assert(throttle_blocked_at("2001:db8:1:2:ffff::1", t));
	ck_assert(!throttle_blocked_at("2001:db8:1:3::1", t));
	/* IPv4-mapped IPv6 is the IPv4 address */
	for (int i = 0; i < 5; i++)
		attempt("::ffff:192.0.2.77", "alice", false, t);
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
	struct throttle_ticket held;
	/* a check in flight keeps its entry, however stale */
	ck_assert_int_eq(throttle_begin_at(&held, "10.255.0.1", "x", t), THROTTLE_GO);
	/* fill the table; the first address is the stalest */
	for (unsigned i = 0; i < THROTTLE_MAX_ENTRIES; i++) {
		snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		for (int k = 0; k < 5; k++)
			throttle_failure_at(ip, t);
	}
	ck_assert_uint_eq(throttle_count(), THROTTLE_MAX_ENTRIES);
	ck_assert(throttle_blocked_at("10.0.0.1", t));
	/* touch the second again so that the third is the stalest */
	throttle_failure_at("10.0.0.1", t + 1);
	throttle_failure_at("172.16.0.1", t + 2);
	ck_assert_uint_eq(throttle_count(), THROTTLE_MAX_ENTRIES);
	ck_assert(throttle_blocked_at("10.0.0.1", t + 2));
	ck_assert(!throttle_blocked_at("10.0.0.2", t + 2));
	ck_assert(throttle_blocked_at("10.0.0.3", t + 2));
	/* the held check's entry survived: its failure counts once */
	ck_assert_uint_eq(throttle_end_at(&held, false, t + 2), 250);
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
		ck_assert_uint_eq(attempt("192.0.2.1", "a", false, 1), 100);
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
	struct throttle_ticket tk;
	ck_assert_int_eq(throttle_begin(&tk, "192.0.2.3", "a"), THROTTLE_GO);
	ck_assert_uint_eq(throttle_end(&tk, false), 500);
}
END_TEST

struct waiter {
	enum throttle_verdict verdict;
	unsigned delay;
};

static void *
wait_turn(void *arg)
{
	struct waiter *w = arg;
	struct throttle_ticket t;
	w->verdict = throttle_begin(&t, "192.0.2.80", "bob");
	w->delay = throttle_end(&t, true);
	return NULL;
}

START_TEST(test_waits_for_its_turn)
{
	struct throttle_settings s = { .block_after = 5, .block_seconds = 600,
				       .delay_max_ms = 0 };
	throttle_configure(&s);
	struct throttle_ticket first, second;
	/* over the soft limit, with one check running */
	ck_assert_int_eq(throttle_begin(&first, "192.0.2.80", "alice"), THROTTLE_GO);
	throttle_end(&first, false);
	ck_assert_int_eq(throttle_begin(&first, "192.0.2.80", "alice"), THROTTLE_GO);
	ck_assert_int_eq(throttle_begin_at(&second, "192.0.2.80", "bob", 0), THROTTLE_BUSY);
	/* a login waits for the running check instead of being refused */
	struct waiter w = { THROTTLE_BUSY, 1 };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, wait_turn, &w), 0);
	usleep(50 * 1000);
	throttle_end(&first, false);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.verdict, THROTTLE_GO);
	ck_assert_uint_eq(w.delay, 0);
}
END_TEST

static void *
hammer(void *arg)
{
	unsigned id = (unsigned)(size_t)arg;
	char ip[32], account[32];
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(ip, sizeof ip, "10.9.%u.%u", id, i % 200);
		snprintf(account, sizeof account, "u%u", i % 2);
		attempt(ip, account, i % 50 == 0, 7);
		throttle_blocked_at("192.0.2.200", 7);
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
	/* each address got 10 attempts for one account: blocked at 5 */
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
	tcase_add_test(tc, test_success_clears_only_its_account);
	tcase_add_test(tc, test_spraying_blocks);
	tcase_add_test(tc, test_checks_in_flight);
	tcase_add_test(tc, test_address_forms);
	tcase_add_test(tc, test_table_bound);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_waits_for_its_turn);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for fetch/lanes.c's pure parts: how many further sessions a
 * two-way pass's sends want, and the order the folders are taken in. */
#include <stdlib.h>

#include "fetch/fetch_int.h"
#include "tests/unit/runner.h"

START_TEST(test_want)
{
	/* one session per folder beyond the pass's own, at most max */
	ck_assert_uint_eq(fetch_lanes_want(3, 0), 0);
	ck_assert_uint_eq(fetch_lanes_want(3, 1), 0);
	ck_assert_uint_eq(fetch_lanes_want(3, 2), 1);
	ck_assert_uint_eq(fetch_lanes_want(3, 4), 3);
	ck_assert_uint_eq(fetch_lanes_want(3, 20), 3);
	ck_assert_uint_eq(fetch_lanes_want(0, 20), 0);
}
END_TEST

START_TEST(test_cap_by_cores)
{
	/* one session per core, the pass's own included; one further at
	 * least; within the account's limit and FETCH_LANES_MAX */
	ck_assert_uint_eq(fetch_lanes_cap(4, 2), 1);
	ck_assert_uint_eq(fetch_lanes_cap(4, 1), 1);
	ck_assert_uint_eq(fetch_lanes_cap(4, -1), 1);
	ck_assert_uint_eq(fetch_lanes_cap(4, 3), 2);
	ck_assert_uint_eq(fetch_lanes_cap(4, 64), FETCH_LANES_MAX - 1);
	ck_assert_uint_eq(fetch_lanes_cap(2, 64), 2);
	ck_assert_uint_eq(fetch_lanes_cap(0, 64), 0);
}
END_TEST

START_TEST(test_order_heaviest_first_stable)
{
	const unsigned weight[] = { 0, 2, 5, 0, 2, 1, 5, 3 };
	size_t n = sizeof weight / sizeof weight[0];
	size_t order[8];
	ck_assert_uint_eq(fetch_lanes_order(weight, n, order), 6);
	/* heaviest first; equal weights keep the folders' order; the
	 * folders that send nothing last, in their order */
	const size_t want[] = { 2, 6, 7, 1, 4, 5, 0, 3 };
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(order[i], want[i]);
}
END_TEST

START_TEST(test_order_every_folder_once)
{
	/* a permutation whatever the weights: each folder is sent once */
	unsigned weight[64];
	size_t order[64];
	srand(17);
	for (int round = 0; round < 50; round++) {
		size_t n = (size_t)(rand() % 64), sends = 0;
		for (size_t i = 0; i < n; i++) {
			weight[i] = (unsigned)(rand() % 4);
			sends += weight[i] > 0;
		}
		ck_assert_uint_eq(fetch_lanes_order(weight, n, order), sends);
		bool seen[64] = { false };
		for (size_t i = 0; i < n; i++) {
			ck_assert_uint_lt(order[i], n);
			ck_assert(!seen[order[i]]);
			seen[order[i]] = true;
			if (i > 0)
				ck_assert_uint_ge(weight[order[i - 1]], weight[order[i]]);
		}
	}
}
END_TEST

START_TEST(test_lanes_without_sessions)
{
	/* made, limited, expired and freed with nothing open (the daemon's
	 * IDLE thread before its watchers start) */
	struct fetch_lanes *ls = fetch_lanes_new(7, true);
	fetch_lanes_set_max(ls, 0);
	fetch_lanes_expire(ls, 1000);
	fetch_lanes_join(ls);
	fetch_lanes_close(ls);
	fetch_lanes_free(&ls);
	ck_assert_ptr_null(ls);
	fetch_lanes_free(&ls);
	fetch_lanes_expire(NULL, 0);
	fetch_lanes_close(NULL);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("fetch_lanes");
	TCase *tc = tcase_create("split");
	tcase_add_test(tc, test_want);
	tcase_add_test(tc, test_cap_by_cores);
	tcase_add_test(tc, test_order_heaviest_first_stable);
	tcase_add_test(tc, test_order_every_folder_once);
	tcase_add_test(tc, test_lanes_without_sessions);
	suite_add_tcase(s, tc);
	return s;
}

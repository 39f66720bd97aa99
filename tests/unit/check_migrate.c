/* Unit tests for the store's schema migrations. */
#include <pthread.h>

#include "store/migrate.h"
#include "tests/unit/store_test.h"

START_TEST(test_compiled_in)
{
	/* sql2c.sh sorted the files and kept their text */
	ck_assert_uint_ge(store_n_migrations, 1);
	ck_assert_int_eq(store_migrations[0].version, 1);
	ck_assert_str_eq(store_migrations[0].name, "initial");
	ck_assert_ptr_nonnull(strstr(store_migrations[0].sql, "CREATE TABLE messages"));
	for (size_t i = 1; i < store_n_migrations; i++)
		ck_assert_int_gt(store_migrations[i].version,
				 store_migrations[i - 1].version);
	ck_assert_int_eq(store_migrations_latest(),
			 store_migrations[store_n_migrations - 1].version);
}
END_TEST

START_TEST(test_fresh_and_reopen)
{
	char *dir = test_tmpdir();
	const char *error = NULL;
	int version = 0;
	struct store *st = test_store_open(dir);

	ck_assert_int_eq(store_schema_version(st, &version, &error), STORE_OK);
	ck_assert_int_eq(version, store_migrations_latest());
	ck_assert_str_eq(store_data_dir(st), dir);
	store_close(&st);

	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM schema_migrations"),
			 (long long)store_n_migrations);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM schema_migrations"
				      " WHERE version = 1 AND name = 'initial'"
				      " AND applied > 0"), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM sqlite_master"
				      " WHERE name IN ('domains', 'users', 'aliases',"
				      " 'alias_destinations', 'mailboxes', 'messages',"
				      " 'api_tokens', 'meta')"), 8);
	/* WAL sticks to the file */
	ck_assert_int_eq(test_sql_int(dir, "SELECT journal_mode = 'wal' FROM"
				      " pragma_journal_mode"), 1);

	/* a second open applies nothing: the marks we leave stay */
	test_sql(dir, "UPDATE schema_migrations SET applied = 7");
	st = test_store_open(dir);
	ck_assert_int_eq(store_schema_version(st, &version, &error), STORE_OK);
	ck_assert_int_eq(version, store_migrations_latest());
	store_close(&st);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM schema_migrations"
				      " WHERE applied = 7"), (long long)store_n_migrations);
	free(dir);
}
END_TEST

START_TEST(test_future_refused)
{
	char *dir = test_tmpdir();
	const char *error = NULL;
	struct store *st = test_store_open(dir);
	store_close(&st);

	test_sql(dir, "INSERT INTO schema_migrations VALUES (999, 'future', 1)");
	ck_assert_int_eq(store_open(dir, &st, &error), STORE_ERROR);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(error, "999"));
	ck_assert_ptr_nonnull(strstr(error, "newer"));
	free(dir);
}
END_TEST

START_TEST(test_partial_applies_rest)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	store_close(&st);
	if (store_n_migrations < 2) {
		free(dir);
		return;
	}
	/* pretend the newest was never applied: its statements run again
	 * and fail (tables exist), proving that it is attempted */
	const char *error = NULL;
	test_sql(dir, "DELETE FROM schema_migrations WHERE version = %d",
		 store_migrations_latest());
	ck_assert_int_eq(store_open(dir, &st, &error), STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "migration"));
	/* failed in its transaction: nothing recorded */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM schema_migrations"),
			 (long long)store_n_migrations - 1);
	free(dir);
}
END_TEST

START_TEST(test_gap_is_filled)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	store_close(&st);
	if (store_n_migrations < 3) {
		free(dir);
		return;
	}
	/* a database made by a build that had the newest migration but not
	 * one below it: the lower one is still attempted (its statements
	 * fail here because its tables exist, which shows it ran) */
	const char *error = NULL;
	int gap = store_migrations[store_n_migrations - 2].version;
	test_sql(dir, "DELETE FROM schema_migrations WHERE version = %d", gap);
	ck_assert_int_eq(store_open(dir, &st, &error), STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "migration"));
	free(dir);
}
END_TEST

struct opener {
	const char *dir;
	int ret;
	pthread_t thread;
};

static void *
open_thread(void *arg)
{
	struct opener *o = arg;
	struct store *st = NULL;
	const char *error = NULL;
	o->ret = store_open(o->dir, &st, &error);
	if (o->ret != STORE_OK)
		fprintf(stderr, "store_open: %s\n", error != NULL ? error : "?");
	store_close(&st);
	return NULL;
}

START_TEST(test_concurrent_open)
{
	char *dir = test_tmpdir();
	struct opener o[6];

	for (int i = 0; i < 6; i++) {
		o[i].dir = dir;
		o[i].ret = -100;
		ck_assert_int_eq(pthread_create(&o[i].thread, NULL, open_thread, &o[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(o[i].thread, NULL);
		ck_assert_int_eq(o[i].ret, STORE_OK);
	}
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM schema_migrations"),
			 (long long)store_n_migrations);
	free(dir);
}
END_TEST

START_TEST(test_open_bad_dir)
{
	struct store *st = (struct store *)1;
	const char *error = NULL;
	ck_assert_int_eq(store_open("/proc/version/x", &st, &error), STORE_ERROR);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(error);
	store_close(&st);	/* NULL is fine */
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_compiled_in);
	tcase_add_test(tc, test_fresh_and_reopen);
	tcase_add_test(tc, test_future_refused);
	tcase_add_test(tc, test_partial_applies_rest);
	tcase_add_test(tc, test_gap_is_filled);
	tcase_add_test(tc, test_concurrent_open);
	tcase_add_test(tc, test_open_bad_dir);
	suite_add_tcase(s, tc);
	return s;
}

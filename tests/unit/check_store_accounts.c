/* Unit tests for the store's side of stronger accounts (sql/008): the
 * credentials epoch and what ends with it, token expiry, and the TOTP
 * secret and recovery codes used once each. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/unit/store_test.h"

static int64_t
user_id(struct store *st, const char *address)
{
	struct store_user u;
	const char *error;
	ck_assert_int_eq(store_user_get(st, address, &u, &error), STORE_OK);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

static int64_t
epoch_of(struct store *st, int64_t id)
{
	int64_t e;
	const char *error;
	ck_assert_int_eq(store_user_epoch(st, id, NULL, &e, &error), STORE_OK);
	return e;
}

START_TEST(test_epoch_moves_with_credentials)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error;
	struct store_user u;
	int64_t a = user_id(st, "a@example.org"), b = user_id(st, "b@example.org");
	int64_t ea = epoch_of(st, a);
	ck_assert_int_ne(ea, epoch_of(st, b));

	ck_assert_int_eq(store_user_get_session(st, a, ea, &u, &error), STORE_OK);
	ck_assert_str_eq(u.address, "a@example.org");
	store_user_clear(&u);
	ck_assert_int_eq(store_user_get_session(st, a, ea + 1, &u, &error), STORE_NOTFOUND);
	ck_assert_ptr_null(u.address);

	/* the epoch is handed out only under the hash that was checked */
	ck_assert_int_eq(store_user_epoch(st, a, TEST_HASH, &ea, &error), STORE_OK);
	ck_assert_int_eq(store_user_epoch(st, a, "{CRYPT}$y$other", &ea, &error), STORE_NOTFOUND);

	/* quota and admin changes leave it; a new password moves it */
	ck_assert_int_eq(store_user_set_quota(st, "a@example.org", 5, &error), STORE_OK);
	ck_assert_int_eq(store_user_set_admin(st, "a@example.org", true, &error), STORE_OK);
	ck_assert_int_eq(epoch_of(st, a), ea);
	ck_assert_int_eq(store_user_set_password(st, "a@example.org", "{CRYPT}$6$x$new", &error),
			 STORE_OK);
	ck_assert_int_ne(epoch_of(st, a), ea);
	ck_assert_int_eq(store_user_get_session(st, a, ea, &u, &error), STORE_NOTFOUND);

	/* disabling moves it, enabling does not move it back */
	ea = epoch_of(st, a);
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", false, &error), STORE_OK);
	int64_t disabled = epoch_of(st, a);
	ck_assert_int_ne(disabled, ea);
	ck_assert_int_eq(store_user_get_session(st, a, disabled, &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", true, &error), STORE_OK);
	ck_assert_int_eq(epoch_of(st, a), disabled);
	ck_assert_int_eq(store_user_get_session(st, a, disabled, &u, &error), STORE_OK);
	store_user_clear(&u);

	/* a user made again under the id of a deleted one has a new epoch */
	int64_t eb = epoch_of(st, b);
	ck_assert_int_eq(store_user_del(st, "b@example.org", &error), STORE_OK);
	ck_assert_int_eq(store_user_get_session(st, b, eb, &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_user_add(st, "c@example.org", TEST_HASH, false, 0, &error), STORE_OK);
	ck_assert_int_eq(user_id(st, "c@example.org"), b);
	ck_assert_int_ne(epoch_of(st, b), eb);
	ck_assert_int_eq(store_user_get_session(st, b, eb, &u, &error), STORE_NOTFOUND);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_tokens_expire_and_end_with_the_password)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error;
	struct store_user u;
	char *forever, *later, *other;
	int64_t id;
	int64_t now = (int64_t)time(NULL);

	ck_assert_int_eq(store_token_create(st, "a@example.org", "x", now, &forever, &id, &error),
			 STORE_INVALID);
	ck_assert_int_eq(store_token_create(st, "a@example.org", "x", -5, &forever, &id, &error),
			 STORE_INVALID);
	ck_assert_int_eq(store_token_create(st, "a@example.org", "f", 0, &forever, &id, &error),
			 STORE_OK);
	ck_assert_int_eq(store_token_create(st, "a@example.org", "l", now + 3600, &later, &id,
					    &error), STORE_OK);
	ck_assert_int_eq(store_token_create(st, "b@example.org", "o", 0, &other, &id, &error),
			 STORE_OK);
	struct store_token *list;
	size_t n;
	ck_assert_int_eq(store_token_list(st, user_id(st, "a@example.org"), &list, &n, &error),
			 STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(list[0].expires, 0);
	ck_assert_int_eq(list[1].expires, now + 3600);
	store_token_list_free(&list, n);

	ck_assert_int_eq(store_token_check(st, later, &u, &error), STORE_OK);
	store_user_clear(&u);
	/* the hour passes */
	test_sql(dir, "UPDATE api_tokens SET expires = %lld WHERE name = 'l'", (long long)now - 1);
	ck_assert_int_eq(store_token_check(st, later, &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_token_check(st, forever, &u, &error), STORE_OK);
	store_user_clear(&u);

	/* a new password deletes the user's tokens, nobody else's */
	ck_assert_int_eq(store_user_set_password(st, "a@example.org", "{CRYPT}$6$x$new", &error),
			 STORE_OK);
	ck_assert_int_eq(store_token_check(st, forever, &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM api_tokens"), 1);
	ck_assert_int_eq(store_token_check(st, other, &u, &error), STORE_OK);
	store_user_clear(&u);
	/* so does disabling, and enabling again brings nothing back */
	ck_assert_int_eq(store_user_set_enabled(st, "b@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_user_set_enabled(st, "b@example.org", true, &error), STORE_OK);
	ck_assert_int_eq(store_token_check(st, other, &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM api_tokens"), 0);
	free(forever);
	free(later);
	free(other);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_totp_lifecycle)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error;
	struct store_totp t;
	int64_t a = user_id(st, "a@example.org"), b = user_id(st, "b@example.org");
	const char *codes[] = { "aaaabbbbccccdddd", "eeeeffffgggghhhh" };

	ck_assert_int_eq(store_totp_get(st, a, &t, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_step(st, a, 5, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_enable(st, a, 5, codes, 2, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_begin(st, a, "v1:first", &error), STORE_OK);
	/* a new enrolment replaces one not confirmed */
	ck_assert_int_eq(store_totp_begin(st, a, "v1:second", &error), STORE_OK);
	ck_assert_int_eq(store_totp_get(st, a, &t, &error), STORE_OK);
	ck_assert_str_eq(t.secret_sealed, "v1:second");
	ck_assert(!t.enabled);
	store_totp_clear(&t);
	/* not on yet: neither codes nor recovery codes count */
	ck_assert_int_eq(store_totp_use_step(st, a, 5, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_recovery(st, a, codes[0], &error), STORE_NOTFOUND);

	ck_assert_int_eq(store_totp_enable(st, a, 100, codes, 2, &error), STORE_OK);
	ck_assert_int_eq(store_totp_enable(st, a, 101, codes, 2, &error), STORE_EXISTS);
	ck_assert_int_eq(store_totp_begin(st, a, "v1:third", &error), STORE_EXISTS);
	ck_assert_int_eq(store_totp_get(st, a, &t, &error), STORE_OK);
	ck_assert(t.enabled);
	ck_assert_int_eq(t.last_step, 100);
	ck_assert_uint_eq(t.recovery_left, 2);
	ck_assert_str_eq(t.secret_sealed, "v1:second");
	store_totp_clear(&t);
	/* only hashes are stored */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM user_recovery_codes"
				      " WHERE hash LIKE '%%aaaa%%'"), 0);

	/* each step once, never an older one */
	ck_assert_int_eq(store_totp_use_step(st, a, 100, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_step(st, a, 99, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_step(st, a, 101, &error), STORE_OK);
	ck_assert_int_eq(store_totp_use_step(st, a, 101, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_step(st, b, 200, &error), STORE_NOTFOUND);

	/* each recovery code once, and only the user's own */
	ck_assert_int_eq(store_totp_use_recovery(st, b, codes[0], &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_recovery(st, a, codes[0], &error), STORE_OK);
	ck_assert_int_eq(store_totp_use_recovery(st, a, codes[0], &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_use_recovery(st, a, "zzzzzzzzzzzzzzzz", &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_totp_get(st, a, &t, &error), STORE_OK);
	ck_assert_uint_eq(t.recovery_left, 1);
	store_totp_clear(&t);

	/* the user turning it off keeps the epoch; an admin's reset moves it */
	int64_t e = epoch_of(st, a);
	ck_assert_int_eq(store_totp_remove(st, a, false, &error), STORE_OK);
	ck_assert_int_eq(epoch_of(st, a), e);
	ck_assert_int_eq(store_totp_remove(st, a, true, &error), STORE_NOTFOUND);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM user_recovery_codes"), 0);
	ck_assert_int_eq(store_totp_begin(st, a, "v1:again", &error), STORE_OK);
	ck_assert_int_eq(store_totp_enable(st, a, 7, codes, 1, &error), STORE_OK);
	ck_assert_int_eq(store_totp_remove(st, a, true, &error), STORE_OK);
	ck_assert_int_ne(epoch_of(st, a), e);

	/* deleting the user takes it along */
	ck_assert_int_eq(store_totp_begin(st, b, "v1:b", &error), STORE_OK);
	ck_assert_int_eq(store_totp_enable(st, b, 7, codes, 2, &error), STORE_OK);
	ck_assert_int_eq(store_user_del(st, "b@example.org", &error), STORE_OK);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM user_totp"), 0);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM user_recovery_codes"), 0);
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("store_accounts");
	TCase *tc = tcase_create("store");
	tcase_add_test(tc, test_epoch_moves_with_credentials);
	tcase_add_test(tc, test_tokens_expire_and_end_with_the_password);
	tcase_add_test(tc, test_totp_lifecycle);
	suite_add_tcase(s, tc);
	return s;
}

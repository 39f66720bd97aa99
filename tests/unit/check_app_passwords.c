/* Unit tests for store/app_passwords and store/login: app passwords found
 * by their tag with one hash check, the user's one SCRAM salt, limits, and
 * logins through the throttle. */
#include <stdlib.h>
#include <string.h>

#include "core/password.h"
#include "core/scram.h"
#include "core/seal.h"
#include "core/throttle.h"
#include "store/app_passwords.h"
#include "store/login.h"
#include "tests/unit/store_test.h"

static char *dir;
static struct store *st;

static void
setup(void)
{
	const char *error;
	st = test_store_fixture(&dir);
	ck_assert_int_eq(seal_key_create(dir, &error), 0);
	ck_assert_int_eq(seal_key_load(dir, &error), 0);
	struct throttle_settings ts = { .block_after = 3, .block_seconds = 600,
					.delay_max_ms = 0 };
	throttle_configure(&ts);
	throttle_reset();
}

static void
teardown(void)
{
	store_close(&st);
	seal_key_forget();
	free(dir);
}

static void
set_password(const char *address, const char *password)
{
	char *hash;
	const char *error;
	ck_assert_int_eq(password_hash(password, &hash, &error), 0);
	ck_assert_int_eq(store_user_set_password(st, address, hash, &error), STORE_OK);
	free(hash);
	ck_assert_int_eq(store_user_set_scram(st, address, password, &error), STORE_OK);
}

static enum login_status
plain_login(const char *ip, const char *user, const char *password)
{
	struct login_params p = { .protocol = "imap", .session = "test[1]", .ip = ip };
	struct store_user u;
	enum login_status r = login_password(st, &p, user, password, &u);
	if (r == LOGIN_OK)
		store_user_clear(&u);
	return r;
}

START_TEST(test_create_find_revoke)
{
	struct store_app_password ap, *list;
	struct store_app_password_match m;
	char *pw;
	size_t n;
	const char *error;

	set_password("a@example.org", "main password a");
	ck_assert_int_eq(store_app_password_create(st, "A@example.org", "Phone", &pw, &ap,
						   &error), STORE_OK);
	ck_assert_str_eq(ap.user, "a@example.org");
	ck_assert_str_eq(ap.name, "Phone");
	ck_assert_int_eq(ap.last_used, 0);
	ck_assert_ptr_null(ap.last_protocol);
	/* found by its tag, in any typed form; never for another user */
	char typed[PASSWORD_APP_LEN + 1];
	for (size_t i = 0; i < sizeof typed; i++)
		typed[i] = pw[i] == '-' ? ' ' : (char)(pw[i] - 32 * (pw[i] >= 'a'));
	ck_assert_int_eq(store_app_password_find(st, ap.user_id, typed, &m, &error), 1);
	ck_assert_int_eq(m.id, ap.id);
	ck_assert(password_verify(pw, m.password_hash));
	store_app_password_match_clear(&m);
	ck_assert_int_eq(store_app_password_find(st, ap.user_id + 1, pw, &m, &error), 0);
	ck_assert_int_eq(store_app_password_find(st, ap.user_id, "main password a", &m,
						 &error), 0);
	/* the same name twice is refused; bad names too */
	struct store_app_password ap2;
	char *pw2;
	ck_assert_int_eq(store_app_password_create(st, "a@example.org", "Phone", &pw2, &ap2,
						   &error), STORE_EXISTS);
	ck_assert_int_eq(store_app_password_create(st, "a@example.org", "", &pw2, &ap2,
						   &error), STORE_INVALID);
	ck_assert_int_eq(store_app_password_create(st, "a@example.org", "a\nb", &pw2, &ap2,
						   &error), STORE_INVALID);
	ck_assert_int_eq(store_app_password_create(st, "x@example.org", "P", &pw2, &ap2,
						   &error), STORE_NOTFOUND);
	/* logins: the app password, the main password; not as b */
	ck_assert_int_eq(plain_login("192.0.2.1", "a@example.org", pw), LOGIN_OK);
	ck_assert_int_eq(plain_login("192.0.2.1", "a@example.org", "main password a"),
			 LOGIN_OK);
	ck_assert_int_eq(plain_login("192.0.2.1", "b@example.org", pw), LOGIN_FAILED);
	ck_assert_int_eq(store_app_password_list(st, "a@example.org", &list, &n, &error),
			 STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_gt(list[0].last_used, 0);
	ck_assert_str_eq(list[0].last_protocol, "imap");
	store_app_password_list_free(&list, n);
	/* revoked: gone */
	ck_assert_int_eq(store_app_password_del(st, ap.id, &error), STORE_OK);
	ck_assert_int_eq(store_app_password_del(st, ap.id, &error), STORE_NOTFOUND);
	ck_assert_int_eq(plain_login("192.0.2.2", "a@example.org", pw), LOGIN_FAILED);
	store_app_password_clear(&ap);
	free(pw);
}
END_TEST

START_TEST(test_one_salt_per_user)
{
	struct store_app_password ap, ap2;
	struct store_scram_keys k;
	char *pw, *pw2;
	const char *error;

	/* an app password made before any password keys sets the salt */
	ck_assert_int_eq(store_app_password_create(st, "b@example.org", "One", &pw, &ap,
						   &error), STORE_OK);
	int64_t first = ap.id;
	store_app_password_clear(&ap);
	free(pw);
	ck_assert_int_eq(store_user_set_scram(st, "b@example.org", "keys of b", &error),
			 STORE_OK);
	ck_assert_int_eq(store_app_password_create(st, "b@example.org", "Two", &pw, &ap,
						   &error), STORE_OK);
	ck_assert_int_eq(store_scram_keys_get(st, "B@example.org", &k, &error), STORE_OK);
	ck_assert_uint_eq(k.n, 3);
	ck_assert_int_eq(k.app_ids[0], 0);	/* the password's first */
	ck_assert_int_eq(k.app_ids[1], first);
	ck_assert_int_eq(k.app_ids[2], ap.id);
	for (size_t i = 1; i < k.n; i++) {
		ck_assert_uint_eq(k.keys[i].salt_len, k.keys[0].salt_len);
		ck_assert_mem_eq(k.keys[i].salt, k.keys[0].salt, k.keys[0].salt_len);
		ck_assert_uint_eq(k.keys[i].iterations, SCRAM_ITERATIONS);
	}
	/* the keys are the app password's */
	struct scram_keys d;
	ck_assert_int_eq(scram_derive(pw, strlen(pw), k.keys[2].salt, k.keys[2].salt_len,
				      SCRAM_ITERATIONS, &d, &error), 0);
	ck_assert_mem_eq(d.stored_key, k.keys[2].stored_key, SCRAM_KEY_LEN);
	store_scram_keys_clear(&k);
	/* a new password drops the old keys (until store_user_set_scram())
	 * and revokes the app passwords; the same hash again changes nothing */
	set_password("b@example.org", "first b");
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM app_passwords"), 0);
	ck_assert_int_eq(store_app_password_create(st, "b@example.org", "Three", &pw2, &ap2,
						   &error), STORE_OK);
	store_app_password_clear(&ap2);
	free(pw2);
	test_sql(dir, "UPDATE users SET password_hash = password_hash");
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM app_passwords"), 1);
	char *hash;
	ck_assert_int_eq(password_hash("second b", &hash, &error), 0);
	ck_assert_int_eq(store_user_set_password(st, "b@example.org", hash, &error), STORE_OK);
	free(hash);
	ck_assert_int_eq(test_sql_int(dir, "SELECT scram IS NULL FROM users"
				      " WHERE address = 'b@example.org'"), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM app_passwords"), 0);
	/* a disabled user has no keys and no app passwords */
	ck_assert_int_eq(store_app_password_create(st, "b@example.org", "Four", &pw2, &ap2,
						   &error), STORE_OK);
	ck_assert_int_eq(store_user_set_enabled(st, "b@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_scram_keys_get(st, "b@example.org", &k, &error), STORE_OK);
	ck_assert_uint_eq(k.n, 0);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM app_passwords"), 0);
	ck_assert_int_eq(plain_login("192.0.2.3", "b@example.org", pw2), LOGIN_FAILED);
	store_app_password_clear(&ap2);
	free(pw2);
	ck_assert_int_eq(store_scram_keys_get(st, "z@example.org", &k, &error),
			 STORE_NOTFOUND);
	/* deleting the user deletes the app passwords */
	ck_assert_int_eq(store_user_set_enabled(st, "b@example.org", true, &error), STORE_OK);
	ck_assert_int_eq(store_app_password_create(st, "b@example.org", "Five", &pw2, &ap2,
						   &error), STORE_OK);
	store_app_password_clear(&ap2);
	free(pw2);
	ck_assert_int_eq(store_user_del(st, "b@example.org", &error), STORE_OK);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM app_passwords"), 0);
	store_app_password_clear(&ap);
	free(pw);
}
END_TEST

START_TEST(test_limits_and_throttle)
{
	struct store_app_password ap;
	char *pw, name[16];
	const char *error;

	for (int i = 0; i < APP_PASSWORDS_MAX; i++) {
		snprintf(name, sizeof name, "app %d", i);
		ck_assert_int_eq(store_app_password_create(st, "a@example.org", name, &pw, &ap,
							   &error), STORE_OK);
		store_app_password_clear(&ap);
		free(pw);
	}
	ck_assert_int_eq(store_app_password_create(st, "a@example.org", "one more", &pw, &ap,
						   &error), STORE_INVALID);
	/* wrong app passwords count in the throttle like wrong passwords */
	set_password("a@example.org", "right");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(plain_login("192.0.2.9", "a@example.org", "aaaa-bbbb-cccc-dddd"),
				 LOGIN_FAILED);
	ck_assert_int_eq(plain_login("192.0.2.9", "a@example.org", "right"), LOGIN_BLOCKED);
	/* without the sealing key no tag matches: the password is checked */
	seal_key_forget();
	ck_assert_int_eq(plain_login("192.0.2.10", "a@example.org", "right"), LOGIN_OK);
	ck_assert_int_eq(store_app_password_create(st, "a@example.org", "keyless", &pw, &ap,
						   &error), STORE_ERROR);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("app_passwords");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_find_revoke);
	tcase_add_test(tc, test_one_salt_per_user);
	tcase_add_test(tc, test_limits_and_throttle);
	suite_add_tcase(s, tc);
	return s;
}

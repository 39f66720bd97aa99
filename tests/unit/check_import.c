/* Unit tests for store/import: UIDs kept when free, the old UIDVALIDITY,
 * UIDNEXT raised, and nothing imported twice under one key. */
#include <string.h>

#include "store/import.h"
#include "store/store.h"
#include "tests/unit/store_test.h"

static void
add(struct store_import_batch *b, int64_t mb, uint32_t uid, const char *key,
    const char *text, const char *keywords)
{
	const char *error = NULL;
	ck_assert_int_eq(store_import_batch_begin(b, &error), STORE_OK);
	ck_assert_int_eq(store_import_batch_write(b, text, strlen(text), &error), STORE_OK);
	struct store_import_msg m = {
		.mailbox_id = mb, .uid = uid, .flags = STORE_FLAG_SEEN,
		.keywords = keywords, .internal_date = 1000 + uid, .key = key,
	};
	ck_assert_int_eq(store_import_batch_end(b, &m, &error), STORE_OK);
}

START_TEST(test_uids_and_keys)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct store_user u;
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	int64_t mb;
	bool created;
	ck_assert_int_eq(store_import_mailbox(st, u.id, "Old/2020", 4242, &mb, &created, &error),
			 STORE_OK);
	ck_assert(created);
	struct store_import_batch *b;
	store_import_batch_new(st, &b);
	add(b, mb, 5, "k5", "Subject: five\r\n\r\n5\r\n", "$Work bad\\kw \\Seen");
	add(b, mb, 3, "k3", "Subject: three\r\n\r\n3\r\n", NULL);	/* below UIDNEXT now */
	add(b, mb, 9, "k5", "Subject: again\r\n\r\n5\r\n", NULL);	/* the same key */
	unsigned imported, skipped;
	ck_assert_int_eq(store_import_batch_commit(b, &imported, &skipped, &error), STORE_OK);
	ck_assert_uint_eq(imported, 2);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_int_eq(store_import_mailbox_done(st, mb, 40, &error), STORE_OK);
	ck_assert_int_eq(store_import_known(st, mb, "k3", &error), 1);
	ck_assert_int_eq(store_import_known(st, mb, "k9", &error), 0);

	struct store_mailbox box;
	ck_assert_int_eq(store_mailbox_get_by_id(st, mb, &box, &error), STORE_OK);
	ck_assert_uint_eq(box.uidvalidity, 4242);
	ck_assert_uint_eq(box.uidnext, 40);
	store_mailbox_clear(&box);
	struct store_message *msgs;
	size_t n;
	ck_assert_int_eq(store_message_list(st, mb, 1, &msgs, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(msgs[0].uid, 5);
	ck_assert_str_eq(msgs[0].keywords, "$Work");
	ck_assert_uint_eq(msgs[0].flags, STORE_FLAG_SEEN);
	ck_assert_int_eq((int)msgs[0].internal_date, 1005);
	ck_assert_uint_eq(msgs[1].uid, 6);
	store_message_list_free(&msgs, n);

	/* a second run of the same keys adds nothing; a mailbox that held
	 * mail keeps its UIDVALIDITY */
	add(b, mb, 5, "k5", "Subject: five\r\n\r\n5\r\n", NULL);
	ck_assert_int_eq(store_import_batch_commit(b, &imported, &skipped, &error), STORE_OK);
	ck_assert_uint_eq(imported, 0);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_int_eq(store_import_mailbox(st, u.id, "Old/2020", 777, &mb, &created, &error),
			 STORE_OK);
	ck_assert(!created);
	ck_assert_int_eq(store_mailbox_get_by_id(st, mb, &box, &error), STORE_OK);
	ck_assert_uint_eq(box.uidvalidity, 4242);
	store_mailbox_clear(&box);
	store_import_batch_free(&b);
	store_user_clear(&u);
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("import");
	tcase_add_test(tc, test_uids_and_keys);
	suite_add_tcase(s, tc);
	return s;
}

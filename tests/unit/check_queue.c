/* Unit tests for store/queue: the outbound queue table. */
#include <string.h>

#include "store/blob.h"
#include "store/queue.h"
#include "tests/unit/store_test.h"

static void
put_blob(struct store *st, const char *text, char hash[SHA256_HEX_LEN + 1])
{
	const char *error;
	ck_assert_int_eq(blob_put(st, text, strlen(text), hash, &error), STORE_OK);
}

static int64_t
add_message(struct store *st, const char *hash, const char *sender,
	    const char *const *addrs, size_t n, int64_t *id_r)
{
	struct store_queue_message m = {
		.qid = (char *)"ABCDEF0123456789",
		.size = 42,
		.sender = (char *)sender,
		.ret = (char *)"HDRS",
		.envid = (char *)"env+2B1",
		.body = (char *)"8BITMIME",
		.smtputf8 = true,
	};
	memcpy(m.blob, hash, SHA256_HEX_LEN + 1);
	struct store_queue_recipient r[8];
	memset(r, 0, sizeof r);
	for (size_t i = 0; i < n; i++) {
		r[i].address = (char *)addrs[i];
		r[i].orcpt = i == 0 ? (char *)"rfc822;x+2By@example.net" : NULL;
		r[i].notify = i == 0 ? STORE_QUEUE_NOTIFY_FAILURE : 0;
		r[i].state = STORE_QUEUE_PENDING;
	}
	const char *error;
	int ret = store_queue_add(st, &m, r, n, id_r, &error);
	return ret;
}

START_TEST(test_add_get_list)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	char hash[SHA256_HEX_LEN + 1];
	const char *error;
	put_blob(st, "Subject: q\r\n\r\nbody\r\n", hash);

	static const char *const addrs[] = { "x@example.net", "y@example.com",
					     "x@example.net" };
	int64_t id = 0;
	ck_assert_int_eq(add_message(st, hash, "a@example.org", addrs, 3, &id), STORE_OK);
	ck_assert_int_gt(id, 0);

	struct store_queue_message m;
	struct store_queue_recipient *r;
	size_t n;
	ck_assert_int_eq(store_queue_get(st, id, &m, &r, &n, &error), STORE_OK);
	ck_assert_str_eq(m.qid, "ABCDEF0123456789");
	ck_assert_str_eq(m.blob, hash);
	ck_assert_str_eq(m.sender, "a@example.org");
	ck_assert_str_eq(m.ret, "HDRS");
	ck_assert_str_eq(m.envid, "env+2B1");
	ck_assert_str_eq(m.body, "8BITMIME");
	ck_assert(m.smtputf8);
	ck_assert_str_eq(m.kind, "relay");
	ck_assert_uint_eq(m.size, 42);
	/* the duplicate address is kept once */
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(m.n_recipients, 2);
	ck_assert_uint_eq(m.n_open, 2);
	ck_assert_str_eq(r[0].address, "x@example.net");
	ck_assert_str_eq(r[0].orcpt, "rfc822;x+2By@example.net");
	ck_assert_uint_eq(r[0].notify, STORE_QUEUE_NOTIFY_FAILURE);
	ck_assert_int_eq(r[0].state, STORE_QUEUE_PENDING);
	ck_assert_uint_eq(r[0].attempts, 0);
	ck_assert_ptr_null(r[1].orcpt);
	store_queue_recipient_list_free(&r, n);
	store_queue_message_clear(&m);

	struct store_queue_message *list;
	ck_assert_int_eq(store_queue_list(st, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(list[0].id, id);
	store_queue_message_list_free(&list, n);

	unsigned msgs, open;
	ck_assert_int_eq(store_queue_count(st, &msgs, &open, &error), STORE_OK);
	ck_assert_uint_eq(msgs, 1);
	ck_assert_uint_eq(open, 2);
	ck_assert_int_eq(store_queue_blob_referenced(st, hash), 1);

	ck_assert_int_eq(store_queue_get(st, id + 100, &m, &r, &n, &error), STORE_NOTFOUND);
	/* no recipients, or no blob: refused */
	ck_assert_int_eq(add_message(st, hash, "", addrs, 0, NULL), STORE_INVALID);
	ck_assert_int_eq(add_message(st, "nothex", "", addrs, 1, NULL), STORE_INVALID);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_due_claim_result)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	char hash[SHA256_HEX_LEN + 1];
	const char *error;
	put_blob(st, "x\r\n", hash);
	static const char *const addrs[] = { "x@example.net", "y@example.com" };
	int64_t id;
	ck_assert_int_eq(add_message(st, hash, "a@example.org", addrs, 2, &id), STORE_OK);

	int64_t now = time(NULL);
	struct store_queue_recipient *due;
	size_t n;
	ck_assert_int_eq(store_queue_due(st, now + 1, 10, &due, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	int64_t r0 = due[0].id, r1 = due[1].id;
	ck_assert_int_eq(due[0].message_id, id);
	store_queue_recipient_list_free(&due, n);
	ck_assert_int_eq(store_queue_due(st, now + 1, 1, &due, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	store_queue_recipient_list_free(&due, n);

	/* a claim is exclusive */
	bool claimed;
	ck_assert_int_eq(store_queue_claim(st, r0, now + 1, now + 600, &claimed, &error),
			 STORE_OK);
	ck_assert(claimed);
	ck_assert_int_eq(store_queue_claim(st, r0, now + 1, now + 600, &claimed, &error),
			 STORE_OK);
	ck_assert(!claimed);
	ck_assert_int_eq(store_queue_due(st, now + 1, 10, &due, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(due[0].id, r1);
	store_queue_recipient_list_free(&due, n);

	/* outcomes */
	ck_assert_int_eq(store_queue_result(st, r0, STORE_QUEUE_DEFERRED, now + 300,
					    "451 4.7.1 try later", &error), STORE_OK);
	ck_assert_int_eq(store_queue_result(st, r1, STORE_QUEUE_DELIVERED, 0,
					    "250 2.0.0 ok", &error), STORE_OK);
	ck_assert_int_eq(store_queue_result(st, r1 + 100, STORE_QUEUE_DELIVERED, 0, NULL,
					    &error), STORE_NOTFOUND);
	struct store_queue_message m;
	struct store_queue_recipient *r;
	ck_assert_int_eq(store_queue_get(st, id, &m, &r, &n, &error), STORE_OK);
	ck_assert_int_eq(r[0].state, STORE_QUEUE_DEFERRED);
	ck_assert_uint_eq(r[0].attempts, 1);
	ck_assert_int_eq(r[0].next_attempt, now + 300);
	ck_assert_str_eq(r[0].last_reply, "451 4.7.1 try later");
	ck_assert_int_gt(r[0].last_attempt, 0);
	ck_assert_int_eq(r[1].state, STORE_QUEUE_DELIVERED);
	ck_assert_uint_eq(m.n_open, 1);
	ck_assert_int_eq(m.next_attempt, now + 300);
	store_queue_recipient_list_free(&r, n);
	store_queue_message_clear(&m);

	/* retry and flush make it due now */
	ck_assert_int_eq(store_queue_due(st, now + 1, 10, &due, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 0);
	free(due);
	ck_assert_int_eq(store_queue_retry(st, id, &error), STORE_OK);
	ck_assert_int_eq(store_queue_due(st, now + 1, 10, &due, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	store_queue_recipient_list_free(&due, n);
	ck_assert_int_eq(store_queue_retry(st, id + 1, &error), STORE_NOTFOUND);
	unsigned flushed;
	ck_assert_int_eq(store_queue_flush(st, &flushed, &error), STORE_OK);
	ck_assert_uint_eq(flushed, 1);

	/* failed with a DSN wanted: kept until the DSN is sent */
	ck_assert_int_eq(store_queue_result(st, r0, STORE_QUEUE_FAILED, 0, "550 no",
					    &error), STORE_OK);
	unsigned removed;
	ck_assert_int_eq(store_queue_cleanup(st, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(store_queue_set_dsn_sent(st, r0, &error), STORE_OK);
	ck_assert_int_eq(store_queue_cleanup(st, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(store_queue_blob_referenced(st, hash), 0);
	unsigned msgs, open;
	ck_assert_int_eq(store_queue_count(st, &msgs, &open, &error), STORE_OK);
	ck_assert_uint_eq(msgs, 0);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_delete_and_null_sender)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	char hash[SHA256_HEX_LEN + 1];
	const char *error;
	put_blob(st, "y\r\n", hash);
	static const char *const addrs[] = { "x@example.net" };
	int64_t id;
	ck_assert_int_eq(add_message(st, hash, "", addrs, 1, &id), STORE_OK);
	ck_assert_int_eq(store_queue_delete(st, id, &error), STORE_OK);
	ck_assert_int_eq(store_queue_delete(st, id, &error), STORE_NOTFOUND);

	/* a bounce (null sender) that fails needs no DSN of its own */
	ck_assert_int_eq(add_message(st, hash, "", addrs, 1, &id), STORE_OK);
	struct store_queue_message m;
	struct store_queue_recipient *r;
	size_t n;
	ck_assert_int_eq(store_queue_get(st, id, &m, &r, &n, &error), STORE_OK);
	ck_assert_int_eq(store_queue_result(st, r[0].id, STORE_QUEUE_FAILED, 0, "550",
					    &error), STORE_OK);
	store_queue_recipient_list_free(&r, n);
	store_queue_message_clear(&m);
	unsigned removed;
	ck_assert_int_eq(store_queue_cleanup(st, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_str_eq(store_queue_state_name(STORE_QUEUE_DEFERRED), "deferred");
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_add_get_list);
	tcase_add_test(tc, test_due_claim_result);
	tcase_add_test(tc, test_delete_and_null_sender);
	suite_add_tcase(s, tc);
	return s;
}

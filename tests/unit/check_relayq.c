/* Unit tests for store/relayq: batches per domain, leases, outcomes, the
 * DSN sweep, the smarthost setting and the DKIM keys. */
#include <string.h>

#include "core/config.h"
#include "core/seal.h"
#include "store/queue.h"
#include "store/relayq.h"
#include "tests/unit/store_test.h"

#define BLOB "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int64_t
queue_msg(struct store *st, const char *sender, const char *const *rcpts, size_t n)
{
	struct store_queue_message m = {
		.qid = (char *)"Q", .size = 10, .sender = (char *)sender, .user_id = 0,
	};
	memcpy(m.blob, BLOB, sizeof m.blob);
	struct store_queue_recipient *r = xcalloc(n, sizeof *r);
	for (size_t i = 0; i < n; i++) {
		r[i].address = (char *)rcpts[i];
		r[i].state = STORE_QUEUE_PENDING;
	}
	int64_t id = 0;
	const char *error = NULL;
	ck_assert_msg(store_queue_add(st, &m, r, n, &id, &error) == STORE_OK, "%s", error);
	free(r);
	return id;
}

START_TEST(test_claim_by_domain_and_lease)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	const char *r1[] = { "x@r1.test", "y@R1.test", "z@r2.test" };
	const char *r3[] = { "w@r1.test" };
	int64_t m1 = queue_msg(st, "a@example.org", r1, 3);
	int64_t m3 = queue_msg(st, "a@example.org", r3, 1);
	int64_t now = time(NULL);

	struct relayq_batch b;
	ck_assert_int_eq(relayq_claim(st, now, now + 3600, 100, 100, &b, &error), STORE_OK);
	ck_assert_str_eq(b.domain, "r1.test");
	ck_assert_uint_eq(b.n_items, 2);
	ck_assert_int_eq(b.items[0].msg.id, m1);
	ck_assert_uint_eq(b.items[0].n_rcpts, 2);
	ck_assert_str_eq(b.items[0].msg.sender, "a@example.org");
	ck_assert_str_eq(b.items[0].msg.blob, BLOB);
	ck_assert_int_eq(b.items[1].msg.id, m3);
	int64_t x_id = b.items[0].rcpts[0].id;
	relayq_batch_clear(&b);

	/* the next claim takes the other domain; then nothing is left */
	ck_assert_int_eq(relayq_claim(st, now, now + 3600, 100, 100, &b, &error), STORE_OK);
	ck_assert_str_eq(b.domain, "r2.test");
	ck_assert_uint_eq(b.n_items, 1);
	relayq_batch_clear(&b);
	ck_assert_int_eq(relayq_claim(st, now, now + 3600, 100, 100, &b, &error), STORE_OK);
	ck_assert_uint_eq(b.n_items, 0);

	/* `queue flush` does not hand leased recipients to another worker */
	unsigned n = 0;
	ck_assert_int_eq(store_queue_flush(st, &n, &error), STORE_OK);
	ck_assert_int_eq(relayq_claim(st, now, now + 3600, 100, 100, &b, &error), STORE_OK);
	ck_assert_uint_eq(b.n_items, 0);

	/* an outcome ends the lease; a restart drops the others */
	struct relayq_outcome o = {
		.rcpt_id = x_id, .state = STORE_QUEUE_DELIVERED, .reply = "250 ok",
		.host = "mx.r1.test[192.0.2.1]",
	};
	ck_assert_int_eq(relayq_record(st, &o, 1, &error), STORE_OK);
	ck_assert_int_eq(relayq_release_all(st, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(relayq_claim(st, now + 1, now + 3600, 100, 1, &b, &error), STORE_OK);
	ck_assert_str_eq(b.domain, "r1.test");
	/* max_messages 1: only the first message, without the delivered x */
	ck_assert_uint_eq(b.n_items, 1);
	ck_assert_uint_eq(b.items[0].n_rcpts, 1);
	ck_assert_str_eq(b.items[0].rcpts[0].address, "y@R1.test");
	relayq_batch_clear(&b);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_outcomes_and_dsn_sweep)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	const char *rc[] = { "p@r.test", "q@r.test", "s@r.test" };
	queue_msg(st, "a@example.org", rc, 3);
	const char *nul[] = { "t@r.test" };
	queue_msg(st, "", nul, 1);	/* null sender: never a DSN */
	int64_t now = time(NULL);
	struct relayq_batch b;
	ck_assert_int_eq(relayq_claim(st, now, now + 3600, 100, 100, &b, &error), STORE_OK);
	ck_assert_uint_eq(b.n_items, 2);
	struct relayq_outcome o[4] = {
		{ b.items[0].rcpts[0].id, STORE_QUEUE_FAILED, 0, "550 5.1.1 no", "mx" },
		{ b.items[0].rcpts[1].id, STORE_QUEUE_DEFERRED, now + 600, "451 later", "mx" },
		{ b.items[0].rcpts[2].id, STORE_QUEUE_DELIVERED, 0, "250 ok", "mx" },
		{ b.items[1].rcpts[0].id, STORE_QUEUE_FAILED, 0, "550 no", "mx" },
	};
	ck_assert_int_eq(relayq_record(st, o, 4, &error), STORE_OK);
	relayq_batch_clear(&b);
	int64_t next = 0;
	ck_assert_int_eq(relayq_next_due(st, &next, &error), STORE_OK);
	ck_assert_int_eq(next, now + 600);

	/* the failure owes a DSN; the deferred one only once it is old */
	struct relayq_item *items;
	size_t n;
	ck_assert_int_eq(relayq_dsn_due(st, 0, 100, &items, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(items[0].n_rcpts, 1);
	ck_assert_str_eq(items[0].rcpts[0].address, "p@r.test");
	ck_assert_str_eq(items[0].rcpts[0].last_reply, "550 5.1.1 no");
	ck_assert_uint_eq(items[0].rcpts[0].attempts, 1);
	int64_t ids[1] = { items[0].rcpts[0].id };
	relayq_items_free(&items, n);
	ck_assert_int_eq(relayq_dsn_due(st, now + 10, 100, &items, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(items[0].n_rcpts, 2);	/* p failed, q delayed */
	relayq_items_free(&items, n);
	ck_assert_int_eq(relayq_dsn_done(st, ids, 1, &error), STORE_OK);
	ck_assert_int_eq(relayq_dsn_due(st, 0, 100, &items, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 0);

	/* expiry fails what is still open */
	unsigned expired = 0;
	ck_assert_int_eq(relayq_expire(st, now + 10, "550 5.4.7 expired", &expired, &error),
			 STORE_OK);
	ck_assert_uint_eq(expired, 1);
	ck_assert_int_eq(relayq_dsn_due(st, 0, 100, &items, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(items[0].rcpts[0].address, "q@r.test");
	relayq_items_free(&items, n);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_smarthost)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct relayq_smarthost sh;
	ck_assert_int_eq(relayq_smarthost_get(st, &sh, &error), STORE_NOTFOUND);
	struct relayq_smarthost in = {
		.host = (char *)"smtp.provider.test", .port = 587, .tls = (char *)"starttls",
		.username = (char *)"u", .password_sealed = (char *)"v1:sealed",
	};
	ck_assert_int_eq(relayq_smarthost_set(st, &in, &error), STORE_OK);
	ck_assert_int_eq(relayq_smarthost_get(st, &sh, &error), STORE_OK);
	ck_assert_str_eq(sh.host, "smtp.provider.test");
	ck_assert_uint_eq(sh.port, 587);
	ck_assert_str_eq(sh.tls, "starttls");
	ck_assert_str_eq(sh.username, "u");
	ck_assert_str_eq(sh.password_sealed, "v1:sealed");
	relayq_smarthost_clear(&sh);
	/* bad values are refused and change nothing */
	in.tls = (char *)"none";
	ck_assert_int_eq(relayq_smarthost_set(st, &in, &error), STORE_INVALID);
	in.tls = (char *)"implicit";
	in.port = 0;
	ck_assert_int_eq(relayq_smarthost_set(st, &in, &error), STORE_INVALID);
	in.port = 465;
	in.host = (char *)"bad host";
	ck_assert_int_eq(relayq_smarthost_set(st, &in, &error), STORE_INVALID);
	in.host = (char *)"h.test";
	in.password_sealed = NULL;
	ck_assert_int_eq(relayq_smarthost_set(st, &in, &error), STORE_INVALID);
	ck_assert_int_eq(relayq_smarthost_get(st, &sh, &error), STORE_OK);
	ck_assert_uint_eq(sh.port, 587);
	relayq_smarthost_clear(&sh);
	ck_assert_int_eq(relayq_smarthost_set(st, NULL, &error), STORE_OK);
	ck_assert_int_eq(relayq_smarthost_get(st, &sh, &error), STORE_NOTFOUND);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_dkim_keys_lazily_once)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct relayq_dkim_key *k1, *k2;
	size_t n1, n2;
	/* the keys are sealed: without the seal key none can be made */
	seal_key_forget();
	ck_assert_int_eq(relayq_dkim_keys(st, "example.org", true, &k1, &n1, &error),
			 STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "seal"));
	ck_assert_int_eq(seal_key_create(dir, &error), 0);
	ck_assert_int_eq(seal_key_load(dir, &error), 0);
	ck_assert_int_eq(relayq_dkim_keys(st, "example.org", false, &k1, &n1, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(relayq_dkim_keys(st, "nowhere.test", true, &k1, &n1, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(relayq_dkim_keys(st, "Example.ORG", true, &k1, &n1, &error), STORE_OK);
	ck_assert_uint_eq(n1, 2);
	ck_assert_str_eq(k1[0].algorithm, "ed25519");
	ck_assert_str_eq(k1[1].algorithm, "rsa");
	ck_assert_uint_eq(strlen(k1[0].public_key), 44);	/* 32 bytes */
	ck_assert_uint_gt(strlen(k1[1].public_key), 350);	/* RSA-2048 SPKI */
	ck_assert_ptr_nonnull(strstr(k1[0].private_key, "BEGIN PRIVATE KEY"));
	ck_assert_int_eq(relayq_dkim_keys(st, "example.org", true, &k2, &n2, &error), STORE_OK);
	ck_assert_uint_eq(n2, 2);
	ck_assert_str_eq(k1[0].public_key, k2[0].public_key);
	ck_assert_str_eq(k1[1].selector, k2[1].selector);
	struct buf txt = BUF_INIT;
	relayq_dkim_txt(&k1[0], &txt);
	ck_assert(strncmp(buf_cstr(&txt), "v=DKIM1; k=ed25519; p=", 22) == 0);
	buf_free(&txt);

	struct relayq_dns_record *recs;
	size_t nr;
	char *dkim_error;
	struct config *cfg = config_defaults();
	free(cfg->hostname);
	cfg->hostname = xstrdup("mail.example.org");
	cfg->listen[LISTEN_IMAPS] = (struct config_listen){ .enabled = true, .port = 10993 };
	ck_assert_int_eq(relayq_dns_records(st, "example.org", cfg, &recs, &nr, &dkim_error,
					    &error), STORE_OK);
	ck_assert_ptr_null(dkim_error);
	bool mx = false, dkim_ed = false, dmarc = false, imaps = false, pop3 = false, ac = false;
	for (size_t i = 0; i < nr; i++) {
		if (strcmp(recs[i].type, "MX") == 0)
			mx = strcmp(recs[i].value, "10 mail.example.org.") == 0;
		if (strstr(recs[i].name, "._domainkey.example.org.") != NULL &&
		    strstr(recs[i].value, k1[0].public_key) != NULL)
			dkim_ed = recs[i].selector != NULL &&
				  strcmp(recs[i].selector, k1[0].selector) == 0;
		if (strcmp(recs[i].name, "_dmarc.example.org.") == 0)
			dmarc = true;
		/* the listener's port, and RFC 6186 §4's "not offered" */
		if (strcmp(recs[i].name, "_imaps._tcp.example.org.") == 0)
			imaps = strcmp(recs[i].value, "0 1 10993 mail.example.org.") == 0;
		if (strcmp(recs[i].name, "_pop3._tcp.example.org.") == 0)
			pop3 = strcmp(recs[i].value, "0 0 0 .") == 0;
		if (strcmp(recs[i].name, "autoconfig.example.org.") == 0)
			ac = strcmp(recs[i].value, "mail.example.org.") == 0;
	}
	ck_assert(mx && dkim_ed && dmarc && imaps && pop3 && ac);
	relayq_dns_records_free(&recs, nr);
	/* in the database they are sealed, not PEM */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM dkim_keys"
				      " WHERE private_key LIKE 'v1:%%'"), 2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM dkim_keys"
				      " WHERE private_key LIKE '%%PRIVATE KEY%%'"), 0);
	ck_assert_int_eq(relayq_dns_records(st, "nowhere.test", cfg, &recs, &nr, &dkim_error,
					    &error), STORE_NOTFOUND);
	cfg->listen[LISTEN_IMAPS] = (struct config_listen){ 0 };
	config_free(&cfg);
	relayq_dkim_keys_free(&k1, n1);
	relayq_dkim_keys_free(&k2, n2);
	store_close(&st);
	seal_key_forget();
	free(dir);
}
END_TEST

/* Keys stored plain by an older version still sign, and are sealed once
 * (store_open() does it as soon as the seal key is loaded). */
START_TEST(test_dkim_plain_keys_sealed)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct relayq_dkim_key *k, *k2;
	size_t n, n2;
	ck_assert_int_eq(seal_key_create(dir, &error), 0);
	ck_assert_int_eq(seal_key_load(dir, &error), 0);
	ck_assert_int_eq(relayq_dkim_keys(st, "example.org", true, &k, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	/* as an older version stored them */
	for (size_t i = 0; i < n; i++)
		test_sql(dir, "UPDATE dkim_keys SET private_key = '%s' WHERE selector = '%s'",
			 k[i].private_key, k[i].selector);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM dkim_keys"
				      " WHERE private_key LIKE '%%PRIVATE KEY%%'"), 2);
	ck_assert_int_eq(relayq_dkim_keys(st, "example.org", false, &k2, &n2, &error), STORE_OK);
	ck_assert_str_eq(k2[1].private_key, k[1].private_key);
	relayq_dkim_keys_free(&k2, n2);
	/* without the seal key: nothing happens */
	seal_key_forget();
	unsigned sealed = 99;
	ck_assert_int_eq(relayq_dkim_seal_plain(st, &sealed, &error), STORE_OK);
	ck_assert_uint_eq(sealed, 0);
	ck_assert_int_eq(seal_key_load(dir, &error), 0);
	store_close(&st);
	st = test_store_open(dir);	/* seals them */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM dkim_keys"
				      " WHERE private_key LIKE 'v1:%%'"), 2);
	ck_assert_int_eq(relayq_dkim_seal_plain(st, &sealed, &error), STORE_OK);
	ck_assert_uint_eq(sealed, 0);	/* idempotent */
	ck_assert_int_eq(relayq_dkim_keys(st, "example.org", false, &k2, &n2, &error), STORE_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(k2[i].private_key, k[i].private_key);
	relayq_dkim_keys_free(&k2, n2);
	relayq_dkim_keys_free(&k, n);
	store_close(&st);
	seal_key_forget();
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("relayq");
	TCase *tc = tcase_create("relayq");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_claim_by_domain_and_lease);
	tcase_add_test(tc, test_outcomes_and_dsn_sweep);
	tcase_add_test(tc, test_smarthost);
	tcase_add_test(tc, test_dkim_keys_lazily_once);
	tcase_add_test(tc, test_dkim_plain_keys_sealed);
	suite_add_tcase(s, tc);
	return s;
}

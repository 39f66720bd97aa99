/* Unit tests for delivery: concurrency, one copy per user, quota, forwards,
 * per-recipient outcomes, append and expunge, the IMAP cache written with
 * the rows. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "core/hash.h"
#include "mail/mime.h"
#include "store/blob.h"
#include "store/imapdb.h"
#include "store/store_int.h"
#include "tests/unit/store_test.h"

#define THREADS 8
#define PER_THREAD 25

struct worker {
	const char *dir;
	int index;
	int failures;
	char error[256];
	pthread_t thread;
};

static void *
deliver_thread(void *arg)
{
	struct worker *w = arg;
	struct store *st = NULL;
	const char *error = NULL;

	/* one handle per thread, as the daemon's sessions do */
	if (store_open(w->dir, &st, &error) != STORE_OK) {
		snprintf(w->error, sizeof w->error, "open: %s", error);
		w->failures = PER_THREAD;
		return NULL;
	}
	for (int i = 0; i < PER_THREAD; i++) {
		char msg[128], hash[SHA256_HEX_LEN + 1];
		struct store_delivery d;
		int len = snprintf(msg, sizeof msg, "Subject: %d/%d\r\n\r\nbody\r\n",
				   w->index, i);
		if (blob_put(st, msg, (size_t)len, hash, &error) != STORE_OK ||
		    store_deliver(st, "a@example.org", hash, (uint64_t)len, 1000 + i,
				  &d, &error) != STORE_OK) {
			snprintf(w->error, sizeof w->error, "%s", error);
			w->failures++;
		}
		store_delivery_clear(&d);
	}
	store_close(&st);
	return NULL;
}

/* SHA-256 of a whole file, or "" when it cannot be read. */
static void
file_hash(const char *path, char out[SHA256_HEX_LEN + 1])
{
	char buffer[4096];
	int fd = open(path, O_RDONLY);
	out[0] = '\0';
	if (fd < 0)
		return;
	struct sha256_ctx *ctx = sha256_new();
	ssize_t r;
	while ((r = read(fd, buffer, sizeof buffer)) > 0)
		sha256_update(ctx, buffer, (size_t)r);
	close(fd);
	sha256_finish_hex(&ctx, out);
}

START_TEST(test_concurrent_deliveries)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct worker w[THREADS];

	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].dir = dir;
		w[i].index = i;
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, deliver_thread, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		ck_assert_msg(w[i].failures == 0, "thread %d: %d failures: %s", i,
			      w[i].failures, w[i].error);
	}

	int64_t inbox = test_inbox(st, "a@example.org");
	struct store_message *list;
	size_t n;
	ck_assert_int_eq(store_message_list(st, inbox, 1, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, THREADS * PER_THREAD);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		/* distinct and increasing: 1..200 without a gap */
		ck_assert_uint_eq(list[i].uid, i + 1);
		if (i > 0)
			ck_assert_uint_gt(list[i].modseq, list[i - 1].modseq);
		char *path = blob_path(st, list[i].blob);
		char real[SHA256_HEX_LEN + 1];
		file_hash(path, real);
		ck_assert_str_eq(real, list[i].blob);
		free(path);
		total += list[i].size;
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(list[j].blob, list[i].blob);
	}
	store_message_list_free(&list, n);

	struct store_mailbox mb;
	ck_assert_int_eq(store_mailbox_get_by_id(st, inbox, &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.uidnext, THREADS * PER_THREAD + 1);
	ck_assert_uint_eq(mb.messages, THREADS * PER_THREAD);
	ck_assert_uint_eq(mb.unseen, THREADS * PER_THREAD);
	store_mailbox_clear(&mb);
	struct store_user u;
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, total);
	store_user_clear(&u);

	struct store_fsck_report rep;
	ck_assert_int_eq(store_fsck(st, false, stderr, &rep, &error), STORE_OK);
	ck_assert_uint_eq(rep.blobs, THREADS * PER_THREAD);
	ck_assert_uint_eq(rep.rows, THREADS * PER_THREAD);
	ck_assert_uint_eq(rep.corrupt_blobs + rep.missing_blobs + rep.orphan_blobs +
			  rep.stray_files + rep.used_fixed + rep.removed, 0);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_one_copy_per_user)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct store_delivery d[4];

	const char *both[] = { "a@example.org", "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "team@example.org", both, 2, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, "hello", 5, hash, &error), STORE_OK);
	const char *rcpts[] = { "a@example.org", "team@example.org", "A@EXAMPLE.ORG",
				"b@example.org" };
	ck_assert_int_eq(store_deliver_many(st, rcpts, 4, hash, 5, 42, d, &error), STORE_OK);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(d[i].status, STORE_OK);
		ck_assert_ptr_null(d[i].error);
		ck_assert_uint_eq(d[i].n_forward, 0);
		store_delivery_clear(&d[i]);
	}
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 1);
	ck_assert_int_eq(test_inbox_count(dir, "b@example.org"), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT internal_date FROM messages LIMIT 1"), 42);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_quota)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char h1[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1];
	struct store_delivery d;
	struct store_user u;
	char data[60];
	memset(data, 'q', sizeof data);

	ck_assert_int_eq(store_user_set_quota(st, "a@example.org", 100, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, data, 60, h1, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, data, 59, h2, &error), STORE_OK);
	ck_assert_int_eq(store_deliver(st, "a@example.org", h1, 60, 1, &d, &error), STORE_OK);
	store_delivery_clear(&d);
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, 60);
	store_user_clear(&u);

	ck_assert_int_eq(store_deliver(st, "a@example.org", h2, 59, 1, &d, &error), STORE_OVERQUOTA);
	ck_assert_int_eq(d.status, STORE_OVERQUOTA);
	ck_assert_ptr_nonnull(strstr(d.error, "a@example.org"));
	ck_assert_ptr_nonnull(strstr(error, "quota"));
	store_delivery_clear(&d);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 1);
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, 60);
	store_user_clear(&u);

	/* an alias to a (full) and b: b gets it, the recipient succeeds */
	const char *both[] = { "a@example.org", "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "team@example.org", both, 2, &error), STORE_OK);
	const char *rcpts[] = { "team@example.org", "a@example.org" };
	struct store_delivery dd[2];
	ck_assert_int_eq(store_deliver_many(st, rcpts, 2, h2, 59, 1, dd, &error), STORE_OK);
	ck_assert_int_eq(dd[0].status, STORE_OK);
	ck_assert_int_eq(dd[1].status, STORE_OVERQUOTA);
	store_delivery_clear(&dd[0]);
	store_delivery_clear(&dd[1]);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 1);
	ck_assert_int_eq(test_inbox_count(dir, "b@example.org"), 1);

	/* exactly at the quota is fine; append can ignore it */
	uint32_t uid;
	int64_t inbox = test_inbox(st, "a@example.org");
	ck_assert_int_eq(store_append(st, inbox, h2, 40, 1, 0, NULL, false, &uid, &error), STORE_OK);
	ck_assert_int_eq(store_append(st, inbox, h2, 1, 1, 0, NULL, false, &uid, &error), STORE_OVERQUOTA);
	ck_assert_int_eq(store_append(st, inbox, h2, 1, 1, 0, NULL, true, &uid, &error), STORE_OK);
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, 101);
	store_user_clear(&u);
	store_close(&st);
	free(dir);
}
END_TEST

/* store_deliver_check() says what a delivery would do, writing nothing. */
START_TEST(test_deliver_check)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	ck_assert_int_eq(store_user_set_quota(st, "a@example.org", 100, &error), STORE_OK);
	const char *rcpts[] = { "a@example.org", "b@example.org", "nobody@example.org",
				"x@elsewhere.example" };
	struct store_delivery d[4];
	ck_assert_int_eq(store_deliver_check(st, rcpts, 4, 100, d, &error), 2);
	ck_assert_int_eq(d[0].status, STORE_OK);
	ck_assert_int_eq(d[1].status, STORE_OK);
	ck_assert_int_eq(d[2].status, STORE_NOTFOUND);
	ck_assert_int_eq(d[3].status, STORE_NOTLOCAL);
	for (int i = 0; i < 4; i++)
		store_delivery_clear(&d[i]);
	ck_assert_int_eq(store_deliver_check(st, rcpts, 2, 101, d, &error), 1);
	ck_assert_int_eq(d[0].status, STORE_OVERQUOTA);
	ck_assert_ptr_nonnull(strstr(d[0].error, "over quota"));
	ck_assert_int_eq(d[1].status, STORE_OK);
	for (int i = 0; i < 2; i++)
		store_delivery_clear(&d[i]);
	/* an alias reaching a full user and a remote address is taken */
	const char *dest[] = { "a@example.org", "far@elsewhere.example" };
	ck_assert_int_eq(store_alias_add(st, "fw@example.org", dest, 2, &error), STORE_OK);
	const char *fw[] = { "fw@example.org" };
	ck_assert_int_eq(store_deliver_check(st, fw, 1, 500, d, &error), 1);
	store_delivery_clear(&d[0]);
	ck_assert_int_eq(test_blob_files(dir), 0);
	store_close(&st);
	free(dir);
}
END_TEST

/* The database cannot grow (SQLITE_FULL, as on a full disk): a delivery
 * fails as STORE_NOSPACE with nothing of it written, the handle is left
 * outside any transaction, and once there is room it works again. */
START_TEST(test_database_full)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	char data[3000];
	memset(data, 'f', sizeof data);
	ck_assert_int_eq(blob_put(st, data, sizeof data, hash, &error), STORE_OK);
	long long pages = test_sql_int(dir, "PRAGMA page_count");
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages);
	ck_assert_int_eq(sqlite3_exec(st->db, sql, NULL, NULL, NULL), SQLITE_OK);
	int ret = STORE_OK;
	int delivered = 0;
	struct store_delivery d;
	for (int i = 0; i < 2000 && ret == STORE_OK; i++) {
		ret = store_deliver(st, "a@example.org", hash, sizeof data, i, &d, &error);
		store_delivery_clear(&d);
		delivered += ret == STORE_OK;
	}
	ck_assert_msg(ret == STORE_NOSPACE, "%d: %s", ret, error);
	ck_assert(!st->in_tx);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), delivered);
	ck_assert_int_eq(test_sql_int(dir, "SELECT used FROM users WHERE address = 'a@example.org'"),
			 (long long)delivered * (long long)sizeof data);
	/* still full: the same answer, no wedged handle */
	ck_assert_int_eq(store_deliver(st, "a@example.org", hash, sizeof data, 1, &d, &error),
			 STORE_NOSPACE);
	store_delivery_clear(&d);
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages * 100);
	ck_assert_int_eq(sqlite3_exec(st->db, sql, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(store_deliver(st, "a@example.org", hash, sizeof data, 1, &d, &error),
			 STORE_OK);
	store_delivery_clear(&d);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), delivered + 1);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_forwards_and_outcomes)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct store_delivery d[6];

	const char *fwd[] = { "a@example.org", "Me@Elsewhere.net", "you@there.org" };
	ck_assert_int_eq(store_alias_add(st, "fwd@example.org", fwd, 3, &error), STORE_OK);
	const char *out[] = { "me@elsewhere.net" };
	ck_assert_int_eq(store_alias_add(st, "out@example.org", out, 1, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, "m", 1, hash, &error), STORE_OK);
	const char *rcpts[] = { "fwd@example.org", "nobody@example.org", "x@remote.net",
				"bad address", "out@example.org", "b@example.org" };
	ck_assert_int_eq(store_deliver_many(st, rcpts, 6, hash, 1, 1, d, &error), STORE_OK);
	ck_assert_int_eq(d[0].status, STORE_OK);
	ck_assert_uint_eq(d[0].n_forward, 2);
	ck_assert_str_eq(d[0].forward[0], "me@elsewhere.net");
	ck_assert_str_eq(d[0].forward[1], "you@there.org");
	ck_assert_int_eq(d[1].status, STORE_NOTFOUND);
	ck_assert_str_eq(d[1].error, "address 'nobody@example.org' does not exist");
	ck_assert_int_eq(d[2].status, STORE_NOTLOCAL);
	ck_assert_int_eq(d[3].status, STORE_INVALID);
	ck_assert_int_eq(d[4].status, STORE_OK);	/* forward only */
	ck_assert_uint_eq(d[4].n_forward, 1);
	ck_assert_int_eq(d[5].status, STORE_OK);
	for (int i = 0; i < 6; i++)
		store_delivery_clear(&d[i]);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 1);
	ck_assert_int_eq(test_inbox_count(dir, "b@example.org"), 1);

	/* store_deliver reports the recipient's outcome */
	ck_assert_int_eq(store_deliver(st, "nobody@example.org", hash, 1, 1, d, &error), STORE_NOTFOUND);
	ck_assert_str_eq(error, "address 'nobody@example.org' does not exist");
	store_delivery_clear(&d[0]);
	ck_assert_int_eq(store_deliver(st, "a@example.org", "nothex", 1, 1, d, &error), STORE_INVALID);
	store_delivery_clear(&d[0]);

	/* a loop made behind the store's back: refused, nothing written */
	test_sql(dir, "INSERT INTO alias_destinations SELECT id, 9, 'fwd@example.org'"
		 " FROM aliases WHERE source = 'fwd@example.org'");
	long long before = test_sql_int(dir, "SELECT count(*) FROM messages");
	ck_assert_int_eq(store_deliver(st, "fwd@example.org", hash, 1, 1, d, &error), STORE_LOOP);
	ck_assert_ptr_nonnull(strstr(error, "loop"));
	store_delivery_clear(&d[0]);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), before);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_append_list_expunge)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	int64_t inbox = test_inbox(st, "a@example.org");
	uint32_t uids[5];
	struct store_mailbox mb;
	struct store_message *list;
	size_t n, removed;

	ck_assert_int_eq(blob_put(st, "0123456789", 10, hash, &error), STORE_OK);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(store_append(st, inbox, hash, 10, 100 + i,
					      i == 0 ? STORE_FLAG_SEEN | STORE_FLAG_FLAGGED : 0,
					      i == 1 ? "$Label1 work" : NULL, false,
					      &uids[i], &error), STORE_OK);
	ck_assert_uint_eq(uids[4], 5);
	ck_assert_int_eq(store_append(st, inbox, hash, 10, 1, 1 << 9, NULL, false, NULL, &error), STORE_INVALID);
	ck_assert_int_eq(store_append(st, inbox, "zz", 10, 1, 0, NULL, false, NULL, &error), STORE_INVALID);
	ck_assert_int_eq(store_append(st, 99999, hash, 10, 1, 0, NULL, false, NULL, &error), STORE_NOTFOUND);

	ck_assert_int_eq(store_mailbox_get_by_id(st, inbox, &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.messages, 5);
	ck_assert_uint_eq(mb.unseen, 4);
	uint64_t modseq = mb.highestmodseq;
	store_mailbox_clear(&mb);

	ck_assert_int_eq(store_message_list(st, inbox, 2, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(list[0].uid, 2);
	ck_assert_str_eq(list[0].keywords, "$Label1 work");
	ck_assert_ptr_null(list[1].keywords);
	ck_assert_str_eq(list[0].blob, hash);
	ck_assert_uint_eq(list[0].size, 10);
	ck_assert_int_eq(list[0].internal_date, 101);
	ck_assert_int_eq(list[0].mailbox_id, inbox);
	store_message_list_free(&list, n);
	ck_assert_int_eq(store_message_list(st, inbox, 1, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(list[0].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	store_message_list_free(&list, n);

	uint32_t gone[] = { 1, 3, 77 };
	ck_assert_int_eq(store_expunge(st, inbox, gone, 3, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 2);
	ck_assert_int_eq(store_mailbox_get_by_id(st, inbox, &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.messages, 3);
	ck_assert_uint_eq(mb.unseen, 3);
	ck_assert_uint_gt(mb.highestmodseq, modseq);
	ck_assert_uint_eq(mb.uidnext, 6);	/* UIDs are never reused */
	store_mailbox_clear(&mb);
	struct store_user u;
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, 30);
	store_user_clear(&u);
	ck_assert_int_eq(store_expunge(st, inbox, gone, 3, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 0);
	uint32_t next;
	ck_assert_int_eq(store_append(st, inbox, hash, 10, 1, 0, NULL, false, &next, &error), STORE_OK);
	ck_assert_uint_eq(next, 6);
	store_close(&st);
	free(dir);
}
END_TEST

/* A message with some structure, as a client would send it. */
static const char MIME_MSG[] =
	"From: \"Alice Example\" <alice@example.net>\r\n"
	"To: a@example.org, Bee <b@example.org>\r\n"
	"Subject: =?UTF-8?Q?r=C3=A9sum=C3=A9?=\r\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"Message-ID: <m1@example.net>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"hello\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf; name=x.pdf\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=x.pdf\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--b1--\r\n";

/* The rows of the mailbox (n of them) carry the ENVELOPE and BODYSTRUCTURE
 * that daemon/mail computes for msg, before any FETCH. */
static void
check_cache(struct store *st, int64_t mailbox_id, size_t n, const char *msg)
{
	char *env, *bs;
	struct imapdb_row *rows;
	size_t nr;
	const char *error = NULL;

	mime_imap_cache(msg, strlen(msg), &env, &bs);
	ck_assert_int_eq(imapdb_rows(st, mailbox_id, 1, UINT32_MAX, &rows, &nr,
				     &error), STORE_OK);
	ck_assert_uint_eq(nr, n);
	for (size_t i = 0; i < nr; i++) {
		ck_assert_ptr_nonnull(rows[i].envelope);
		ck_assert_ptr_nonnull(rows[i].bodystructure);
		ck_assert_str_eq(rows[i].envelope, env);
		ck_assert_str_eq(rows[i].bodystructure, bs);
	}
	imapdb_rows_free(&rows, nr);
	free(env);
	free(bs);
}

START_TEST(test_imap_cache)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	int64_t inbox_a = test_inbox(st, "a@example.org");
	int64_t inbox_b = test_inbox(st, "b@example.org");

	/* one SMTP transaction to both users: both rows have the cache */
	const char *rcpts[] = { "a@example.org", "b@example.org" };
	struct store_delivery d[2];
	ck_assert_int_eq(blob_put(st, MIME_MSG, strlen(MIME_MSG), hash, &error),
			 STORE_OK);
	ck_assert_int_eq(store_deliver_many(st, rcpts, 2, hash, strlen(MIME_MSG),
					    1000, d, &error), STORE_OK);
	ck_assert_int_eq(d[0].status, STORE_OK);
	ck_assert_int_eq(d[1].status, STORE_OK);
	store_delivery_clear(&d[0]);
	store_delivery_clear(&d[1]);
	check_cache(st, inbox_a, 1, MIME_MSG);
	check_cache(st, inbox_b, 1, MIME_MSG);
	/* and it is what IMAP answers: the From and the two parts */
	char *env, *bs;
	mime_imap_cache(MIME_MSG, strlen(MIME_MSG), &env, &bs);
	ck_assert_ptr_nonnull(strstr(env, "((\"Alice Example\" NIL \"alice\" "
					  "\"example.net\"))"));
	ck_assert_ptr_nonnull(strstr(bs, "\"application\" \"pdf\""));
	ck_assert_ptr_nonnull(strstr(bs, "\"mixed\""));
	free(env);
	free(bs);

	/* prepared before the delivery (as the SMTP server does, outside its
	 * lock) and kept on the handle: the delivery does not read the blob
	 * again, the row gets what was prepared */
	const char other[] = "From: c@example.net\r\nSubject: again\r\n\r\nx\r\n";
	ck_assert_int_eq(blob_put(st, other, strlen(other), hash, &error), STORE_OK);
	store_imap_cache_prepare(st, hash);
	char *path = blob_path(st, hash);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	struct store_delivery one;
	ck_assert_int_eq(store_deliver(st, "b@example.org", hash, strlen(other),
				       1001, &one, &error), STORE_OK);
	store_delivery_clear(&one);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages WHERE"
				      " blob = '%s' AND envelope LIKE '%%\"again\"%%'",
				      hash), 1);

	/* IMAP APPEND (store_append) */
	ck_assert_int_eq(blob_put(st, MIME_MSG, strlen(MIME_MSG), hash, &error),
			 STORE_OK);
	ck_assert_int_eq(store_append(st, inbox_a, hash, strlen(MIME_MSG), 1002,
				      0, NULL, false, NULL, &error), STORE_OK);
	check_cache(st, inbox_a, 2, MIME_MSG);

	/* a blob that cannot be read is delivered all the same, without a
	 * cache: FETCH computes it */
	char missing[SHA256_HEX_LEN + 1];
	sha256_hex("not stored", 10, missing);
	ck_assert_int_eq(store_deliver(st, "a@example.org", missing, 10, 1003,
				       &one, &error), STORE_OK);
	store_delivery_clear(&one);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages WHERE"
				      " blob = '%s' AND envelope IS NULL AND"
				      " bodystructure IS NULL", missing), 1);
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("deliver");
	TCase *tc = tcase_create("deliver");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_concurrent_deliveries);
	tcase_add_test(tc, test_one_copy_per_user);
	tcase_add_test(tc, test_quota);
	tcase_add_test(tc, test_forwards_and_outcomes);
	tcase_add_test(tc, test_append_list_expunge);
	tcase_add_test(tc, test_imap_cache);
	tcase_add_test(tc, test_deliver_check);
	tcase_add_test(tc, test_database_full);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for the store's part of the spam defence (store/spam.h):
 * greylisting triplets through their life, the learning queue filled by
 * IMAP copies and APPENDs, and spam delivered into Junk. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/imapdb.h"
#include "store/spam.h"
#include "tests/unit/store_test.h"

static const struct store_greylist_policy policy = {
	.delay = 300,
	.retry_window = 3600,
	.expire = 86400,
};

static const char key1[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char key2[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

static enum store_greylist_verdict
grey(struct store *st, const char *key, int64_t now, int64_t *retry_r)
{
	enum store_greylist_verdict v;
	int64_t retry = -1;
	const char *err = NULL;
	int ret = store_greylist_check(st, key, now, &policy, &v, &retry, &err);
	ck_assert_msg(ret == STORE_OK, "%s", err);
	if (retry_r != NULL)
		*retry_r = retry;
	return v;
}

START_TEST(test_greylist_life)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const int64_t t = 1700000000;
	int64_t retry;

	/* first try: deferred until the delay has passed */
	ck_assert_int_eq(grey(st, key1, t, &retry), STORE_GREYLIST_NEW);
	ck_assert_int_eq(retry, t + 300);
	/* a retry too soon: still deferred, the wait counted from the first */
	ck_assert_int_eq(grey(st, key1, t + 299, &retry), STORE_GREYLIST_EARLY);
	ck_assert_int_eq(retry, t + 300);
	/* after the delay it passes, and goes on passing */
	ck_assert_int_eq(grey(st, key1, t + 300, NULL), STORE_GREYLIST_PASS);
	ck_assert_int_eq(grey(st, key1, t + 301, NULL), STORE_GREYLIST_PASS);
	ck_assert_int_eq(grey(st, key1, t + 86400, NULL), STORE_GREYLIST_PASS);
	/* last_seen moves on use, at most once an hour */
	ck_assert_int_eq(test_sql_int(dir, "SELECT last_seen FROM greylist WHERE key = '%s'", key1),
			 t + 86400);
	ck_assert_int_eq(grey(st, key1, t + 86400 + 60, NULL), STORE_GREYLIST_PASS);
	ck_assert_int_eq(test_sql_int(dir, "SELECT last_seen FROM greylist WHERE key = '%s'", key1),
			 t + 86400);
	/* unused for longer than the expiry: a stranger again */
	ck_assert_int_eq(grey(st, key1, t + 86400 + 86401, &retry), STORE_GREYLIST_NEW);
	ck_assert_int_eq(retry, t + 86400 + 86401 + 300);

	/* a retry after the window starts over */
	ck_assert_int_eq(grey(st, key2, t, NULL), STORE_GREYLIST_NEW);
	ck_assert_int_eq(grey(st, key2, t + 300 + 3601, &retry), STORE_GREYLIST_NEW);
	ck_assert_int_eq(retry, t + 300 + 3601 + 300);
	ck_assert_int_eq(grey(st, key2, t + 300 + 3601 + 300, NULL), STORE_GREYLIST_PASS);

	const char *err;
	enum store_greylist_verdict v;
	ck_assert_int_eq(store_greylist_check(st, "nothex", t, &policy, &v, &retry, &err),
			 STORE_INVALID);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_greylist_sweep)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const int64_t t = 1700000000;
	const char *err;
	unsigned removed;

	ck_assert_int_eq(grey(st, key1, t, NULL), STORE_GREYLIST_NEW);
	ck_assert_int_eq(grey(st, key2, t, NULL), STORE_GREYLIST_NEW);
	ck_assert_int_eq(grey(st, key2, t + 300, NULL), STORE_GREYLIST_PASS);
	/* within the window nothing goes */
	ck_assert_int_eq(store_greylist_sweep(st, t + 300 + 3600, &policy, &removed, &err),
			 STORE_OK);
	ck_assert_uint_eq(removed, 0);
	/* the unpassed triplet can no longer pass: it goes */
	ck_assert_int_eq(store_greylist_sweep(st, t + 300 + 3601, &policy, &removed, &err),
			 STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM greylist WHERE key = '%s'", key2),
			 1);
	/* the passed one goes once expired (with the hour last_seen may lag) */
	ck_assert_int_eq(store_greylist_sweep(st, t + 300 + 86400 + 3600, &policy, &removed,
					      &err),
			 STORE_OK);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(store_greylist_sweep(st, t + 300 + 86400 + 3601, &policy, &removed,
					      &err),
			 STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM greylist"), 0);
	store_close(&st);
	free(dir);
}
END_TEST

/* The learning fixture: user a@ with its default mailboxes, two blobs. */
struct fx {
	char *dir;
	struct store *st;
	int64_t user;
	int64_t inbox, junk, trash, archive;
	char blob[SHA256_HEX_LEN + 1], blob2[SHA256_HEX_LEN + 1];
};

static int64_t
mailbox(struct fx *f, const char *name)
{
	struct store_mailbox mb;
	const char *err;
	ck_assert_int_eq(store_mailbox_get(f->st, f->user, name, &mb, &err), STORE_OK);
	int64_t id = mb.id;
	store_mailbox_clear(&mb);
	return id;
}

static void
fx_open(struct fx *f)
{
	const char *err;
	struct store_user u;
	f->st = test_store_fixture(&f->dir);
	ck_assert_int_eq(store_user_get(f->st, "a@example.org", &u, &err), STORE_OK);
	f->user = u.id;
	store_user_clear(&u);
	f->inbox = mailbox(f, "INBOX");
	f->junk = mailbox(f, "Junk");
	f->trash = mailbox(f, "Trash");
	f->archive = mailbox(f, "Archive");
	const char m1[] = "Subject: win\r\n\r\nmoney\r\n", m2[] = "Subject: hi\r\n\r\nlunch?\r\n";
	ck_assert_int_eq(blob_put(f->st, m1, sizeof m1 - 1, f->blob, &err), STORE_OK);
	ck_assert_int_eq(blob_put(f->st, m2, sizeof m2 - 1, f->blob2, &err), STORE_OK);
}

static void
fx_close(struct fx *f)
{
	store_close(&f->st);
	free(f->dir);
}

static uint32_t
add(struct fx *f, int64_t mb, const char *blob)
{
	const char *err;
	uint32_t uid;
	ck_assert_int_eq(store_append(f->st, mb, blob, 24, 1000, 0, NULL, false, &uid, &err),
			 STORE_OK);
	return uid;
}

static enum store_learn_kind
kind(struct fx *f, int64_t src, int64_t dst)
{
	enum store_learn_kind k;
	const char *err;
	ck_assert_int_eq(store_learn_kind_of_copy(f->st, src, dst, &k, &err), STORE_OK);
	return k;
}

/* The one job of the queue: spam (1) or ham (0), -1 when none. */
static int
job_of(struct fx *f, const char *blob)
{
	return (int)test_sql_int(f->dir,
				 "SELECT coalesce((SELECT spam FROM spam_learn WHERE blob = '%s'"
				 " AND user_id = %lld), -1)",
				 blob, (long long)f->user);
}

START_TEST(test_learn_kinds)
{
	struct fx f;
	fx_open(&f);
	ck_assert_int_eq(kind(&f, f.inbox, f.junk), STORE_LEARN_SPAM);
	ck_assert_int_eq(kind(&f, f.archive, f.junk), STORE_LEARN_SPAM);
	ck_assert_int_eq(kind(&f, f.junk, f.inbox), STORE_LEARN_HAM);
	ck_assert_int_eq(kind(&f, f.junk, f.archive), STORE_LEARN_HAM);
	/* deleting spam is no sign that it was ham */
	ck_assert_int_eq(kind(&f, f.junk, f.trash), STORE_LEARN_NONE);
	ck_assert_int_eq(kind(&f, f.junk, f.junk), STORE_LEARN_NONE);
	ck_assert_int_eq(kind(&f, f.inbox, f.trash), STORE_LEARN_NONE);
	ck_assert_int_eq(kind(&f, f.inbox, f.archive), STORE_LEARN_NONE);
	enum store_learn_kind k;
	const char *err;
	ck_assert_int_eq(store_learn_kind_of_copy(f.st, f.inbox, 99999, &k, &err),
			 STORE_NOTFOUND);
	fx_close(&f);
}
END_TEST

START_TEST(test_learn_moves)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	uint32_t u = add(&f, f.inbox, f.blob), nu, uv;
	/* a copy without learning queues nothing */
	ck_assert_int_eq(imapdb_copy(f.st, f.inbox, f.junk, &u, 1, false, false, &nu, &uv, &err),
			 STORE_OK);
	ck_assert_int_eq(job_of(&f, f.blob), -1);
	/* a move into Junk: spam, in the same transaction */
	ck_assert_int_eq(imapdb_copy(f.st, f.inbox, f.junk, &u, 1, true, true, &nu, &uv, &err),
			 STORE_OK);
	ck_assert_int_eq(job_of(&f, f.blob), 1);
	/* moved back out before rspamd heard of it: one job, now ham */
	uint32_t back = nu;
	ck_assert_int_eq(imapdb_copy(f.st, f.junk, f.archive, &back, 1, true, true, &nu, &uv,
				     &err),
			 STORE_OK);
	ck_assert_int_eq(job_of(&f, f.blob), 0);
	ck_assert_int_eq(test_sql_int(f.dir, "SELECT count(*) FROM spam_learn"), 1);

	/* APPEND into Junk: spam; APPEND elsewhere of what is in Junk: ham */
	ck_assert_int_eq(store_learn_append(f.st, f.junk, f.blob2, &err), STORE_OK);
	ck_assert_int_eq(job_of(&f, f.blob2), 1);
	test_sql(f.dir, "DELETE FROM spam_learn");
	add(&f, f.junk, f.blob2);
	ck_assert_int_eq(store_learn_append(f.st, f.inbox, f.blob2, &err), STORE_OK);
	ck_assert_int_eq(job_of(&f, f.blob2), 0);
	test_sql(f.dir, "DELETE FROM spam_learn");
	/* into Trash, or of a message that is in no Junk folder: nothing */
	ck_assert_int_eq(store_learn_append(f.st, f.trash, f.blob2, &err), STORE_OK);
	const char m3[] = "Subject: new\r\n\r\nfresh\r\n";
	char blob3[SHA256_HEX_LEN + 1];
	ck_assert_int_eq(blob_put(f.st, m3, sizeof m3 - 1, blob3, &err), STORE_OK);
	ck_assert_int_eq(store_learn_append(f.st, f.inbox, blob3, &err), STORE_OK);
	ck_assert_int_eq(test_sql_int(f.dir, "SELECT count(*) FROM spam_learn"), 0);
	fx_close(&f);
}
END_TEST

START_TEST(test_learn_queue)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	ck_assert_int_eq(store_learn_append(f.st, f.junk, f.blob, &err), STORE_OK);
	ck_assert_int_eq(store_learn_append(f.st, f.junk, f.blob2, &err), STORE_OK);
	unsigned n_jobs;
	ck_assert_int_eq(store_learn_count(f.st, &n_jobs, &err), STORE_OK);
	ck_assert_uint_eq(n_jobs, 2);

	struct store_learn_job *jobs;
	size_t n;
	int64_t now = (int64_t)time(NULL);
	ck_assert_int_eq(store_learn_due(f.st, now, 1, &jobs, &n, &err), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(jobs[0].blob, f.blob);
	ck_assert(jobs[0].spam);
	ck_assert_int_eq(jobs[0].user_id, f.user);
	ck_assert_uint_eq(jobs[0].attempts, 0);
	int64_t first = jobs[0].id;
	free(jobs);
	/* a failed try waits */
	ck_assert_int_eq(store_learn_retry(f.st, first, now + 60, "connection refused", &err),
			 STORE_OK);
	ck_assert_int_eq(store_learn_due(f.st, now, 10, &jobs, &n, &err), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(jobs[0].blob, f.blob2);
	ck_assert_int_eq(store_learn_done(f.st, jobs[0].id, &err), STORE_OK);
	free(jobs);
	ck_assert_int_eq(store_learn_due(f.st, now + 60, 10, &jobs, &n, &err), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(jobs[0].attempts, 1);
	free(jobs);

	/* a job holds its blob against the sweep, even with no message left */
	ck_assert_int_eq(store_learn_blob_referenced(f.st, f.blob), 1);
	ck_assert_int_eq(store_learn_blob_referenced(f.st, f.blob2), 0);
	unsigned removed;
	ck_assert_int_eq(store_blob_gc(f.st, 0, &removed, &err), STORE_OK);
	int fd;
	uint64_t size;
	ck_assert_int_eq(blob_open(f.st, f.blob, &fd, &size, &err), STORE_OK);
	close(fd);
	ck_assert_int_eq(store_learn_done(f.st, first, &err), STORE_OK);
	ck_assert_int_eq(store_blob_gc(f.st, 0, &removed, &err), STORE_OK);
	ck_assert_int_ne(blob_open(f.st, f.blob, &fd, &size, &err), STORE_OK);

	/* bounded: a full queue takes no more, and the move still works */
	test_sql(f.dir, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
		 " WHERE i < %d) INSERT INTO spam_learn (user_id, blob, spam, created, next_try)"
		 " SELECT %lld, printf('%%064x', i), 1, 0, 0 FROM n",
		 STORE_LEARN_QUEUE_MAX, (long long)f.user);
	ck_assert_int_eq(store_learn_append(f.st, f.junk, f.blob2, &err), STORE_OK);
	ck_assert_int_eq(job_of(&f, f.blob2), -1);
	ck_assert_int_eq(store_learn_count(f.st, &n_jobs, &err), STORE_OK);
	ck_assert_uint_eq(n_jobs, STORE_LEARN_QUEUE_MAX);
	/* a user's jobs go with the user */
	ck_assert_int_eq(store_user_del(f.st, "a@example.org", &err), STORE_OK);
	ck_assert_int_eq(store_learn_count(f.st, &n_jobs, &err), STORE_OK);
	ck_assert_uint_eq(n_jobs, 0);
	fx_close(&f);
}
END_TEST

START_TEST(test_deliver_into_junk)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	struct store_copy c = {
		.user_id = f.user,
		.mailbox = "Archive",	/* a subaddress folder: spam goes to Junk anyway */
		.special_use = "\\Junk",
		.blob = f.blob,
		.size = 24,
	};
	ck_assert_int_eq(store_deliver_copies(f.st, &c, 1, 1000, &err), STORE_OK);
	ck_assert_int_eq(c.status, STORE_OK);
	store_copy_clear(&c);
	ck_assert_int_eq(test_sql_int(f.dir, "SELECT count(*) FROM messages WHERE mailbox_id = %lld",
				      (long long)f.junk),
			 1);
	/* a user without Junk: a folder named Junk, then a new \Junk */
	test_sql(f.dir, "UPDATE mailboxes SET special_use = NULL WHERE id = %lld",
		 (long long)f.junk);
	ck_assert_int_eq(store_deliver_copies(f.st, &c, 1, 1000, &err), STORE_OK);
	store_copy_clear(&c);
	ck_assert_int_eq(test_sql_int(f.dir, "SELECT count(*) FROM messages WHERE mailbox_id = %lld",
				      (long long)f.junk),
			 2);
	test_sql(f.dir, "DELETE FROM mailboxes WHERE id = %lld", (long long)f.junk);
	ck_assert_int_eq(store_deliver_copies(f.st, &c, 1, 1000, &err), STORE_OK);
	ck_assert_int_eq(c.status, STORE_OK);
	store_copy_clear(&c);
	ck_assert_int_eq(test_sql_int(f.dir, "SELECT count(*) FROM messages m JOIN mailboxes b"
					     " ON b.id = m.mailbox_id WHERE b.name = 'Junk'"
					     " AND b.special_use = '\\Junk' AND b.user_id = %lld",
				      (long long)f.user),
			 1);
	fx_close(&f);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("spam_store");
	TCase *tc = tcase_create("greylist");
	tcase_add_test(tc, test_greylist_life);
	tcase_add_test(tc, test_greylist_sweep);
	suite_add_tcase(s, tc);
	tc = tcase_create("learn");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_learn_kinds);
	tcase_add_test(tc, test_learn_moves);
	tcase_add_test(tc, test_learn_queue);
	tcase_add_test(tc, test_deliver_into_junk);
	suite_add_tcase(s, tc);
	return s;
}

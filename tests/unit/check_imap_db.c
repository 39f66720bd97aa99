/* Unit tests for store/imapdb: the IMAP server's store operations. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/imapdb.h"
#include "tests/unit/store_test.h"

struct fx {
	char *dir;
	struct store *st;
	int64_t user;
	struct store_mailbox inbox;
	char blob[SHA256_HEX_LEN + 1];
};

static void
fx_open(struct fx *f)
{
	const char *err;
	struct store_user u;
	f->st = test_store_fixture(&f->dir);
	ck_assert_int_eq(store_user_get(f->st, "a@example.org", &u, &err), STORE_OK);
	f->user = u.id;
	store_user_clear(&u);
	ck_assert_int_eq(store_mailbox_get(f->st, f->user, "INBOX", &f->inbox, &err),
			 STORE_OK);
	const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	ck_assert_int_eq(blob_put(f->st, msg, sizeof msg - 1, f->blob, &err), STORE_OK);
}

static void
fx_close(struct fx *f)
{
	store_mailbox_clear(&f->inbox);
	store_close(&f->st);
	free(f->dir);
}

static uint32_t
add(struct fx *f, int64_t mailbox, unsigned flags, const char *kw)
{
	const char *err;
	uint32_t uid;
	ck_assert_int_eq(store_append(f->st, mailbox, f->blob, 20, 1000, flags, kw,
				      false, &uid, &err), STORE_OK);
	return uid;
}

START_TEST(test_flags_and_changes)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	uint32_t u1 = add(&f, f.inbox.id, 0, NULL);
	uint32_t u2 = add(&f, f.inbox.id, STORE_FLAG_SEEN, "$Junk");
	struct store_mailbox mb;
	struct imapdb_msg *list;
	size_t n;
	ck_assert_int_eq(imapdb_view_load(f.st, f.inbox.id, &mb, &list, &n, &err),
			 STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[1].keywords, "$Junk");
	uint64_t seen = mb.highestmodseq;
	store_mailbox_clear(&mb);
	imapdb_msg_list_free(&list, n);

	uint32_t uids[] = { u1, u2, 999 };
	struct imapdb_msg res[3];
	ck_assert_int_eq(imapdb_store_flags(f.st, f.inbox.id, uids, 3,
					    IMAPDB_FLAGS_ADD, STORE_FLAG_FLAGGED,
					    "work $junk", res, &err), STORE_OK);
	ck_assert_uint_eq(res[0].flags, STORE_FLAG_FLAGGED);
	ck_assert_str_eq(res[0].keywords, "work $junk");
	/* keywords compare without case: $Junk stays, once */
	ck_assert_str_eq(res[1].keywords, "$Junk work");
	ck_assert_uint_eq(res[2].uid, 0);
	for (int i = 0; i < 3; i++)
		free(res[i].keywords);

	ck_assert_int_eq(imapdb_changes(f.st, f.inbox.id, seen, &mb, &list, &n,
					false, NULL, NULL, &err), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_gt(mb.highestmodseq, seen);
	seen = mb.highestmodseq;
	store_mailbox_clear(&mb);
	imapdb_msg_list_free(&list, n);

	/* a change to nothing does not move MODSEQ */
	ck_assert_int_eq(imapdb_store_flags(f.st, f.inbox.id, uids, 1,
					    IMAPDB_FLAGS_ADD, STORE_FLAG_FLAGGED,
					    NULL, res, &err), STORE_OK);
	free(res[0].keywords);
	ck_assert_int_eq(imapdb_changes(f.st, f.inbox.id, seen, &mb, &list, &n,
					false, NULL, NULL, &err), STORE_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(mb.highestmodseq, seen);
	store_mailbox_clear(&mb);

	ck_assert_int_eq(imapdb_store_flags(f.st, f.inbox.id, uids, 2,
					    IMAPDB_FLAGS_REPLACE, STORE_FLAG_DELETED,
					    NULL, res, &err), STORE_OK);
	ck_assert_ptr_null(res[0].keywords);
	ck_assert_uint_eq(res[1].flags, STORE_FLAG_DELETED);
	uint32_t *gone;
	size_t ng;
	uint32_t only[] = { u2 };
	ck_assert_int_eq(imapdb_expunge_deleted(f.st, f.inbox.id, only, 1, &gone,
						&ng, &err), STORE_OK);
	ck_assert_uint_eq(ng, 1);
	ck_assert_uint_eq(gone[0], u2);
	free(gone);
	uint32_t *all;
	size_t na;
	ck_assert_int_eq(imapdb_changes(f.st, f.inbox.id, seen, &mb, &list, &n,
					true, &all, &na, &err), STORE_OK);
	ck_assert_uint_eq(na, 1);
	ck_assert_uint_eq(all[0], u1);
	ck_assert_uint_eq(mb.messages, 1);
	free(all);
	store_mailbox_clear(&mb);
	imapdb_msg_list_free(&list, n);
	fx_close(&f);
}
END_TEST

/* store_own_change(): what a handle's last commit did to one mailbox (the
 * count of store_mailbox_gen() before its raise, the HIGHESTMODSEQ it
 * gave), for a flag change and an expunge; nothing for a commit that
 * changed nothing, touched two mailboxes (MOVE), or for another mailbox. */
START_TEST(test_own_change)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	uint32_t u1 = add(&f, f.inbox.id, 0, NULL);
	uint32_t u2 = add(&f, f.inbox.id, 0, NULL);
	struct store_mailbox mb;
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "INBOX", &mb, &err), STORE_OK);
	uint64_t modseq0 = mb.highestmodseq;
	store_mailbox_clear(&mb);

	uint64_t gen = store_mailbox_gen(f.inbox.id), before = 0, modseq = 0;
	uint32_t uids[] = { u1, u2 };
	struct imapdb_msg res[2];
	ck_assert_int_eq(imapdb_store_flags(f.st, f.inbox.id, uids, 2,
					    IMAPDB_FLAGS_ADD, STORE_FLAG_DELETED,
					    NULL, res, &err), STORE_OK);
	ck_assert(store_own_change(f.st, f.inbox.id, &before, &modseq));
	ck_assert_uint_eq(before, gen);
	ck_assert_uint_eq(store_mailbox_gen(f.inbox.id), gen + 1);
	ck_assert_uint_eq(modseq, modseq0 + 1);
	ck_assert_uint_eq(res[0].modseq, modseq);
	ck_assert(!store_own_change(f.st, f.inbox.id + 1000, &before, &modseq));

	/* the same again changes nothing: no commit to tell of */
	ck_assert_int_eq(imapdb_store_flags(f.st, f.inbox.id, uids, 2,
					    IMAPDB_FLAGS_ADD, STORE_FLAG_DELETED,
					    NULL, res, &err), STORE_OK);
	ck_assert(!store_own_change(f.st, f.inbox.id, &before, &modseq));

	/* another session's change meanwhile shows in the count */
	struct store *other;
	ck_assert_int_eq(store_open(f.dir, &other, &err), STORE_OK);
	uint32_t u3;
	ck_assert_int_eq(store_append(other, f.inbox.id, f.blob, 20, 1000, 0, NULL,
				      false, &u3, &err), STORE_OK);
	uint32_t one[] = { u1 };
	uint32_t *gone;
	size_t ng;
	ck_assert_int_eq(imapdb_expunge_deleted(f.st, f.inbox.id, one, 1, &gone,
						&ng, &err), STORE_OK);
	ck_assert_uint_eq(ng, 1);
	free(gone);
	ck_assert(store_own_change(f.st, f.inbox.id, &before, &modseq));
	ck_assert_uint_eq(before, gen + 2);	/* ours, then the other's */
	ck_assert_uint_eq(modseq, modseq0 + 3);	/* the append came between */

	/* a move changes two mailboxes: nothing to tell */
	struct store_mailbox dst;
	ck_assert_int_eq(store_mailbox_create(f.st, f.user, "Dest", NULL, true, &err),
			 STORE_OK);
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "Dest", &dst, &err), STORE_OK);
	uint32_t new_uid, uidvalidity;
	uint32_t two[] = { u2 };
	ck_assert_int_eq(imapdb_copy(f.st, f.inbox.id, dst.id, two, 1, true, false,
				     &new_uid, &uidvalidity, &err), STORE_OK);
	ck_assert(!store_own_change(f.st, f.inbox.id, &before, &modseq));
	ck_assert(!store_own_change(f.st, dst.id, &before, &modseq));
	store_mailbox_clear(&dst);
	store_close(&other);
	fx_close(&f);
}
END_TEST

START_TEST(test_recent_claimed_once)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	add(&f, f.inbox.id, 0, NULL);
	add(&f, f.inbox.id, 0, NULL);
	uint32_t n, first;
	ck_assert_int_eq(imapdb_count_recent(f.st, f.inbox.id, &n, &err), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(imapdb_claim_recent(f.st, f.inbox.id, UINT32_MAX, &first, &err), STORE_OK);
	ck_assert_uint_eq(first, 1);
	ck_assert_int_eq(imapdb_claim_recent(f.st, f.inbox.id, UINT32_MAX, &first, &err), STORE_OK);
	ck_assert_uint_eq(first, 3);
	ck_assert_int_eq(imapdb_count_recent(f.st, f.inbox.id, &n, &err), STORE_OK);
	ck_assert_uint_eq(n, 0);
	fx_close(&f);
}
END_TEST

START_TEST(test_copy_move_and_cache)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	uint32_t u1 = add(&f, f.inbox.id, STORE_FLAG_SEEN, "a");
	uint32_t u2 = add(&f, f.inbox.id, 0, NULL);
	ck_assert_int_eq(imapdb_cache_set(f.st, f.inbox.id, u1, "ENV", "BS", &err),
			 STORE_OK);
	/* u2 as an older version stored it: no cache, and a copy has none */
	test_sql(f.dir, "UPDATE messages SET envelope = NULL, bodystructure = NULL"
		 " WHERE mailbox_id = %lld AND uid = %u", (long long)f.inbox.id, u2);
	struct store_mailbox trash;
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "Trash", &trash, &err),
			 STORE_OK);
	uint32_t uids[] = { u1, u2, 77 }, nu[3], uv;
	ck_assert_int_eq(imapdb_copy(f.st, f.inbox.id, trash.id, uids, 3, false, false,
				     nu, &uv, &err), STORE_OK);
	ck_assert_uint_eq(uv, trash.uidvalidity);
	ck_assert_uint_eq(nu[0], 1);
	ck_assert_uint_eq(nu[1], 2);
	ck_assert_uint_eq(nu[2], 0);
	struct imapdb_row *rows;
	size_t nr;
	ck_assert_int_eq(imapdb_rows(f.st, trash.id, 1, 10, &rows, &nr, &err),
			 STORE_OK);
	ck_assert_uint_eq(nr, 2);
	ck_assert_str_eq(rows[0].envelope, "ENV");
	ck_assert_str_eq(rows[0].bodystructure, "BS");
	ck_assert_str_eq(rows[0].blob, f.blob);
	ck_assert_ptr_null(rows[1].envelope);
	ck_assert_ptr_null(rows[1].bodystructure);
	imapdb_rows_free(&rows, nr);
	/* move: gone from the source, where a session that still shows the
	 * messages may read them until the sweep (sql/012) */
	ck_assert_int_eq(imapdb_copy(f.st, f.inbox.id, trash.id, uids, 2, true, false,
				     nu, &uv, &err), STORE_OK);
	ck_assert_uint_eq(nu[0], 3);
	struct store_mailbox inbox;
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "INBOX", &inbox, &err),
			 STORE_OK);
	ck_assert_uint_eq(inbox.messages, 0);
	store_mailbox_clear(&inbox);
	ck_assert_int_eq(imapdb_rows(f.st, f.inbox.id, 1, 10, &rows, &nr, &err),
			 STORE_OK);
	ck_assert_uint_eq(nr, 2);
	ck_assert_str_eq(rows[0].blob, f.blob);
	imapdb_rows_free(&rows, nr);
	test_sql(f.dir, "UPDATE expunged SET expunged_at = expunged_at - 7200");
	ck_assert_int_eq(imapdb_expunged_sweep(f.st, 3600, &err), STORE_OK);
	ck_assert_int_eq(imapdb_rows(f.st, f.inbox.id, 1, 10, &rows, &nr, &err),
			 STORE_OK);
	ck_assert_uint_eq(nr, 0);
	imapdb_rows_free(&rows, nr);
	store_mailbox_clear(&trash);
	fx_close(&f);
}
END_TEST

START_TEST(test_rename_delete_subscribe)
{
	struct fx f;
	const char *err;
	fx_open(&f);
	ck_assert_int_eq(store_mailbox_create(f.st, f.user, "a", NULL, true, &err), STORE_OK);
	ck_assert_int_eq(store_mailbox_create(f.st, f.user, "a/b", NULL, true, &err), STORE_OK);
	ck_assert_int_eq(store_mailbox_create(f.st, f.user, "ab", NULL, true, &err), STORE_OK);
	ck_assert_int_eq(imapdb_mailbox_rename(f.st, f.user, "a", "x", &err), STORE_OK);
	struct store_mailbox mb;
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "x/b", &mb, &err), STORE_OK);
	store_mailbox_clear(&mb);
	/* "ab" is no child of "a" */
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "ab", &mb, &err), STORE_OK);
	store_mailbox_clear(&mb);
	ck_assert_int_eq(imapdb_mailbox_rename(f.st, f.user, "x", "ab", &err),
			 STORE_EXISTS);
	ck_assert_int_eq(imapdb_mailbox_rename(f.st, f.user, "nope", "q", &err),
			 STORE_NOTFOUND);
	/* RFC 3501 §6.3.5: renaming INBOX moves its messages */
	add(&f, f.inbox.id, STORE_FLAG_SEEN, NULL);
	add(&f, f.inbox.id, 0, NULL);
	ck_assert_int_eq(imapdb_mailbox_rename(f.st, f.user, "INBOX", "old", &err),
			 STORE_OK);
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "old", &mb, &err), STORE_OK);
	ck_assert_uint_eq(mb.messages, 2);
	ck_assert_uint_eq(mb.unseen, 1);
	ck_assert_uint_eq(mb.uidnext, 3);
	store_mailbox_clear(&mb);
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "INBOX", &mb, &err), STORE_OK);
	ck_assert_uint_eq(mb.messages, 0);
	ck_assert_uint_eq(mb.uidnext, 3);
	store_mailbox_clear(&mb);
	ck_assert_int_eq(imapdb_mailbox_delete(f.st, f.user, "INBOX", &err),
			 STORE_INVALID);
	ck_assert_int_eq(imapdb_mailbox_delete(f.st, f.user, "old", &err), STORE_OK);
	ck_assert_int_eq(imapdb_mailbox_delete(f.st, f.user, "old", &err),
			 STORE_NOTFOUND);
	ck_assert_int_eq(imapdb_mailbox_subscribe(f.st, f.user, "ab", false, &err),
			 STORE_OK);
	ck_assert_int_eq(store_mailbox_get(f.st, f.user, "ab", &mb, &err), STORE_OK);
	ck_assert(!mb.subscribed);
	store_mailbox_clear(&mb);
	/* RFC 3501 §6.3.6: a name without a mailbox may be subscribed */
	ck_assert_int_eq(imapdb_mailbox_subscribe(f.st, f.user, "zz", true, &err),
			 STORE_OK);
	char **subs;
	size_t nsubs;
	ck_assert_int_eq(imapdb_subscriptions(f.st, f.user, &subs, &nsubs, &err),
			 STORE_OK);
	bool found = false;
	for (size_t i = 0; i < nsubs; i++) {
		found |= strcmp(subs[i], "zz") == 0;
		ck_assert_str_ne(subs[i], "ab");
		free(subs[i]);
	}
	free(subs);
	ck_assert(found);
	ck_assert_int_eq(imapdb_mailbox_subscribe(f.st, f.user, "zz", false, &err),
			 STORE_OK);
	ck_assert_int_eq(imapdb_mailbox_subscribe(f.st, f.user, "zz", false, &err),
			 STORE_NOTFOUND);
	fx_close(&f);
}
END_TEST

/* Loads the view of the mailbox; returns n, and the flags of UID uid in
 * *flags_r. */
static size_t
view_of(struct fx *f, uint32_t uid, unsigned *flags_r)
{
	const char *err;
	struct store_mailbox mb;
	struct imapdb_msg *list;
	size_t n;
	ck_assert_int_eq(imapdb_view_load(f->st, f->inbox.id, &mb, &list, &n, &err),
			 STORE_OK);
	ck_assert_uint_eq(n, mb.messages);
	*flags_r = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_uint_gt(list[i].uid, list[i - 1].uid);
		if (list[i].uid == uid)
			*flags_r = list[i].flags;
	}
	store_mailbox_clear(&mb);
	imapdb_msg_list_free(&list, n);
	return n;
}

/* store/viewcache.h: a second load of a big unchanged mailbox is a copy of
 * the first; any change, here or by another process, is seen. */
START_TEST(test_view_cache)
{
	struct fx f;
	const char *err;
	unsigned fl;
	fx_open(&f);
	/* 1500 messages written as another process would (rows, counters) */
	test_sql(f.dir, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
		 " WHERE i < 1500) INSERT INTO messages (mailbox_id, uid, modseq, flags,"
		 " internal_date, size, blob) SELECT %lld, i, i, 0, 1000, 20, '%s' FROM n",
		 (long long)f.inbox.id, f.blob);
	test_sql(f.dir, "UPDATE mailboxes SET uidnext = 1501, highestmodseq = 1501"
		 " WHERE id = %lld", (long long)f.inbox.id);
	ck_assert_uint_eq(view_of(&f, 5, &fl), 1500);
	ck_assert_uint_eq(fl, 0);
	/* a row changed behind the store's back, without a new MODSEQ (no
	 * real writer does that): the second load does not see it, which
	 * shows that it came from the cache */
	test_sql(f.dir, "UPDATE messages SET flags = 4 WHERE uid = 5");
	ck_assert_uint_eq(view_of(&f, 5, &fl), 1500);
	ck_assert_uint_eq(fl, 0);
	/* with its MODSEQ raised, as every writer does, it is seen */
	test_sql(f.dir, "UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
		 " WHERE id = %lld", (long long)f.inbox.id);
	ck_assert_uint_eq(view_of(&f, 5, &fl), 1500);
	ck_assert_uint_eq(fl, 4);
	/* flags, expunge and append through the store */
	uint32_t uids[] = { 7, 9 };
	struct imapdb_msg res[2];
	ck_assert_int_eq(imapdb_store_flags(f.st, f.inbox.id, uids, 2, IMAPDB_FLAGS_ADD,
					    STORE_FLAG_DELETED, NULL, res, &err), STORE_OK);
	free(res[0].keywords);
	free(res[1].keywords);
	ck_assert_uint_eq(view_of(&f, 7, &fl), 1500);
	ck_assert_uint_eq(fl, STORE_FLAG_DELETED);
	uint32_t *gone;
	size_t n_gone;
	ck_assert_int_eq(imapdb_expunge_deleted(f.st, f.inbox.id, uids, 1, &gone, &n_gone,
						&err), STORE_OK);
	ck_assert_uint_eq(n_gone, 1);
	free(gone);
	ck_assert_uint_eq(view_of(&f, 7, &fl), 1499);
	ck_assert_uint_eq(fl, UINT32_MAX);
	uint32_t u = add(&f, f.inbox.id, STORE_FLAG_SEEN, NULL);
	ck_assert_uint_eq(view_of(&f, u, &fl), 1500);
	ck_assert_uint_eq(fl, STORE_FLAG_SEEN);
	/* another process delivers one */
	test_sql(f.dir, "INSERT INTO messages (mailbox_id, uid, modseq, flags,"
		 " internal_date, size, blob) VALUES (%lld, 5000, 9000, 2, 1000, 20, '%s')",
		 (long long)f.inbox.id, f.blob);
	test_sql(f.dir, "UPDATE mailboxes SET uidnext = 5001, highestmodseq = 9000"
		 " WHERE id = %lld", (long long)f.inbox.id);
	ck_assert_uint_eq(view_of(&f, 5000, &fl), 1501);
	ck_assert_uint_eq(fl, 2);
	fx_close(&f);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("imap_db");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_flags_and_changes);
	tcase_add_test(tc, test_own_change);
	tcase_add_test(tc, test_view_cache);
	tcase_add_test(tc, test_recent_claimed_once);
	tcase_add_test(tc, test_copy_move_and_cache);
	tcase_add_test(tc, test_rename_delete_subscribe);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for store/upstreams (accounts, what the fetcher remembers,
 * the delivering transaction) and for whole fetch runs against hostile
 * scripted servers: a clear error on the account, nothing half-delivered. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/seal.h"
#include "fetch/fetch_int.h"
#include "store/twoway.h"
#include "mail/mime.h"
#include "store/blob.h"
#include "store/imapdb.h"
#include "store/upstreams.h"
#include "tests/unit/fetch_fake_server.h"
#include "tests/unit/runner.h"
#include "tests/unit/store_test.h"

static struct upstream_settings
settings(enum upstream_protocol p, unsigned port)
{
	struct upstream_settings set = { 0 };
	set.protocol = p;
	set.host = xstrdup("127.0.0.1");
	set.port = port;
	set.tls = UPSTREAM_TLS_NONE;
	set.tls_verify = xstrdup("off");
	set.username = xstrdup("joe");
	set.keep = true;
	set.enabled = true;
	return set;
}

START_TEST(test_settings_check)
{
	const char *error = NULL;
	struct upstream_settings set = settings(UPSTREAM_IMAP, 0);
	set.tls = UPSTREAM_TLS_IMPLICIT;
	ck_assert_int_eq(upstream_settings_check(&set, &error), 0);
	ck_assert_uint_eq(set.port, 993);
	ck_assert_uint_eq(set.n_folders, 1);
	ck_assert_str_eq(set.folders[0], "INBOX");
	ck_assert_str_eq(set.target, "INBOX");
	ck_assert_uint_eq(set.interval, UPSTREAM_INTERVAL_DEFAULT);

	free(set.tls_verify);
	set.tls_verify = xstrdup("pin:ABCDEF");
	ck_assert_int_eq(upstream_settings_check(&set, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "tls_verify"));
	free(set.tls_verify);
	set.tls_verify = xstrdup("pin:25000386EF37EFD9B34814A71AC13879C7E804C9C4E64105B7A94B57C63322E7");
	ck_assert_int_eq(upstream_settings_check(&set, &error), 0);
	ck_assert_str_eq(set.tls_verify, "pin:25000386ef37efd9b34814a71ac13879c7e804c9c4e64105b7a94b57c63322e7");

	free(set.host);
	set.host = xstrdup("bad host");
	ck_assert_int_eq(upstream_settings_check(&set, &error), -1);
	free(set.host);
	set.host = xstrdup("imap.example.net");
	set.interval = 5;
	ck_assert_int_eq(upstream_settings_check(&set, &error), -1);
	set.interval = 60;
	const char *dup[] = { "INBOX", "INBOX" };
	upstream_settings_set_folders(&set, dup, 2);
	ck_assert_int_eq(upstream_settings_check(&set, &error), -1);
	const char *bad[] = { "a\r\nb" };
	upstream_settings_set_folders(&set, bad, 1);
	ck_assert_int_eq(upstream_settings_check(&set, &error), -1);
	upstream_settings_clear(&set);

	enum upstream_protocol p;
	enum upstream_tls t;
	ck_assert_int_eq(upstream_protocol_parse("pop3", &p), 0);
	ck_assert_int_eq(p, UPSTREAM_POP3);
	ck_assert_int_eq(upstream_protocol_parse("smtp", &p), -1);
	ck_assert_int_eq(upstream_tls_parse("starttls", &t), 0);
	ck_assert_int_eq(upstream_tls_parse("ssl", &t), -1);
}
END_TEST

START_TEST(test_accounts)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct upstream_settings set = settings(UPSTREAM_POP3, 0);
	const char *folders[] = { "INBOX", "Lists/Work" };
	upstream_settings_set_folders(&set, folders, 2);
	int64_t id1, id2;
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, "v1:sealed", &id1, &error),
			 STORE_OK);
	ck_assert_int_eq(store_upstream_add(st, "B@Example.org", &set, "v1:sealed2", &id2, &error),
			 STORE_OK);
	ck_assert_int_eq(store_upstream_add(st, "nobody@example.org", &set, "x", &id2, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, NULL, &id2, &error),
			 STORE_INVALID);

	struct store_upstream up;
	ck_assert_int_eq(store_upstream_get(st, id1, &up, &error), STORE_OK);
	ck_assert_str_eq(up.owner, "a@example.org");
	ck_assert_int_eq(up.set.protocol, UPSTREAM_POP3);
	ck_assert_uint_eq(up.set.port, 110);
	ck_assert_uint_eq(up.set.n_folders, 2);
	ck_assert_str_eq(up.set.folders[1], "Lists/Work");
	ck_assert_str_eq(up.password_sealed, "v1:sealed");
	ck_assert_int_eq(up.generation, 1);
	ck_assert_ptr_null(up.last_error);

	/* update keeps the password unless given, bumps the generation */
	up.set.interval = 900;
	up.set.keep = false;
	ck_assert_int_eq(store_upstream_update(st, id1, &up.set, NULL, &error), STORE_OK);
	store_upstream_clear(&up);
	ck_assert_int_eq(store_upstream_get(st, id1, &up, &error), STORE_OK);
	ck_assert_uint_eq(up.set.interval, 900);
	ck_assert(!up.set.keep);
	ck_assert_str_eq(up.password_sealed, "v1:sealed");
	ck_assert_int_eq(up.generation, 2);
	store_upstream_clear(&up);

	/* results and backoff count */
	ck_assert_int_eq(store_upstream_set_result(st, id1, "login failed: no", &error), STORE_OK);
	ck_assert_int_eq(store_upstream_set_result(st, id1, "login failed: no", &error), STORE_OK);
	ck_assert_int_eq(store_upstream_get(st, id1, &up, &error), STORE_OK);
	ck_assert_str_eq(up.last_error, "login failed: no");
	ck_assert_uint_eq(up.failures, 2);
	ck_assert_int_eq(up.last_ok, 0);
	int64_t user_a = up.user_id;
	ck_assert_uint_ge(fetch_next_delay(&up, true), 120);
	store_upstream_clear(&up);
	ck_assert_int_eq(store_upstream_set_result(st, id1, NULL, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_get(st, id1, &up, &error), STORE_OK);
	ck_assert_ptr_null(up.last_error);
	ck_assert_uint_eq(up.failures, 0);
	ck_assert_int_ne(up.last_ok, 0);
	store_upstream_clear(&up);

	/* per folder: a good pass sets last_sync and the count; an error
	 * keeps them and is kept (cut at UPSTREAM_ERROR_MAX); the account's
	 * result goes with them */
	struct upstream_folder_result fr[2] = { { "INBOX", 7, NULL },
						{ "Lists", 3, "cannot open folder Lists: gone" } };
	ck_assert_int_eq(store_upstream_record_run(st, id1, "cannot open folder Lists: gone", fr,
						   2, &error), STORE_OK);
	char long_error[UPSTREAM_ERROR_MAX + 100];
	memset(long_error, 'x', sizeof long_error - 1);
	long_error[sizeof long_error - 1] = '\0';
	fr[0] = (struct upstream_folder_result){ "INBOX", 0, long_error };
	fr[1] = (struct upstream_folder_result){ "Lists", 4, NULL };
	ck_assert_int_eq(store_upstream_record_run(st, id1, NULL, fr, 2, &error), STORE_OK);
	struct store_upstream_folder_state *fs;
	size_t n_fs;
	ck_assert_int_eq(store_upstream_folder_states(st, id1, &fs, &n_fs, &error), STORE_OK);
	ck_assert_uint_eq(n_fs, 2);
	ck_assert_str_eq(fs[0].folder, "INBOX");
	ck_assert_uint_eq(fs[0].messages, 7);
	ck_assert_int_ne(fs[0].last_sync, 0);
	ck_assert_uint_eq(strlen(fs[0].last_error), UPSTREAM_ERROR_MAX);
	ck_assert_str_eq(fs[1].folder, "Lists");
	ck_assert_uint_eq(fs[1].messages, 4);
	ck_assert_ptr_null(fs[1].last_error);
	store_upstream_folder_states_free(&fs, n_fs);
	ck_assert_ptr_null(fs);
	ck_assert_int_eq(store_upstream_get(st, id1, &up, &error), STORE_OK);
	ck_assert_ptr_null(up.last_error);
	store_upstream_clear(&up);
	ck_assert_int_eq(store_upstream_record_run(st, 999, NULL, fr, 2, &error), STORE_NOTFOUND);

	/* a group: its transactions are savepoints of one commit; one that
	 * fails is undone alone, an aborted group undoes everything */
	ck_assert_int_eq(store_group_begin(st, &error), STORE_OK);
	fr[0] = (struct upstream_folder_result){ "Grouped", 11, NULL };
	ck_assert_int_eq(store_upstream_record_run(st, id1, NULL, fr, 1, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_record_run(st, 999, NULL, fr, 1, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_group_end(st, &error), STORE_OK);
	ck_assert_int_eq(store_group_begin(st, &error), STORE_OK);
	fr[0] = (struct upstream_folder_result){ "Aborted", 1, NULL };
	ck_assert_int_eq(store_upstream_record_run(st, id1, NULL, fr, 1, &error), STORE_OK);
	store_group_abort(st);
	ck_assert_int_eq(store_upstream_folder_states(st, id1, &fs, &n_fs, &error), STORE_OK);
	ck_assert_uint_eq(n_fs, 3);
	ck_assert_str_eq(fs[0].folder, "Grouped");
	ck_assert_uint_eq(fs[0].messages, 11);
	store_upstream_folder_states_free(&fs, n_fs);
	/* and the handle works on its own afterwards */
	ck_assert_int_eq(store_upstream_record_run(st, id1, NULL, fr, 1, &error), STORE_OK);

	/* lists: per user and all */
	struct store_upstream *list;
	size_t n;
	ck_assert_int_eq(store_upstream_list(st, 0, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	store_upstream_list_free(&list, n);
	ck_assert_int_eq(store_upstream_list(st, user_a, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	store_upstream_list_free(&list, n);

	/* fetch requests */
	int64_t *ids;
	ck_assert_int_eq(store_upstream_request_fetch(st, id2, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_request_fetch(st, 999, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_upstream_take_requests(st, &ids, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ids[0], id2);
	free(ids);
	ck_assert_int_eq(store_upstream_take_requests(st, &ids, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 0);

	ck_assert_int_eq(store_upstream_del(st, id1, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_del(st, id1, &error), STORE_NOTFOUND);
	/* deleting the user deletes their accounts */
	ck_assert_int_eq(store_user_del(st, "b@example.org", &error), STORE_OK);
	ck_assert_int_eq(store_upstream_get(st, id2, &up, &error), STORE_NOTFOUND);
	upstream_settings_clear(&set);
	store_close(&st);
	free(dir);
}
END_TEST

/* One delivery of content as uid (IMAP) or uidl (POP3). */
static int
deliver(struct store *st, int64_t upstream_id, int64_t user_id, int64_t mailbox_id,
	const char *content, const char *folder, uint32_t uidvalidity, uint32_t uid,
	const char *uidl, const char *dedupe_key, bool refetch, bool *appended)
{
	char blob[SHA256_HEX_LEN + 1], raw[SHA256_HEX_LEN + 1];
	const char *error = NULL;
	ck_assert_int_eq(blob_put(st, content, strlen(content), blob, &error), STORE_OK);
	sha256_hex(content, strlen(content), raw);
	struct upstream_delivery d = {
		.upstream_id = upstream_id, .user_id = user_id, .mailbox_id = mailbox_id,
		.blob = blob, .size = strlen(content), .internal_date = 1000, .raw_hash = raw,
		.dedupe_key = dedupe_key, .skip_known_hash = refetch, .folder = folder,
		.uidvalidity = uidvalidity, .uid = uid, .uidl = uidl,
	};
	return store_upstream_deliver(st, &d, appended, &error);
}

/* Two-way: a delivered message is linked to its UID; its local deletion
 * (whichever code removes it) is remembered for the upstream; after a
 * UIDVALIDITY change the same bytes are linked again, not appended. */
/* The flags of message uid of mailbox mb set (mode) as a client would. */
static void
set_flags(struct store *st, int64_t mb, uint32_t uid, enum imapdb_flag_mode mode,
	  unsigned flags, const char *keywords)
{
	const char *error = NULL;
	struct imapdb_msg res;
	ck_assert_int_eq(imapdb_store_flags(st, mb, &uid, 1, mode, flags, keywords, &res, &error),
			 STORE_OK);
	free(res.keywords);
}

/* How many links of the account's INBOX a QRESYNC sync that was told of
 * no UID reads (the pending ones, sql/055). */
static size_t
links_pending(struct store *st, int64_t id)
{
	const char *error = NULL;
	struct twoway_link *links;
	size_t n;
	ck_assert_int_eq(store_twoway_links_some(st, id, "INBOX", NULL, 0, &links, &n, &error),
			 STORE_OK);
	store_twoway_links_free(&links, n);
	return n;
}

START_TEST(test_twoway_links)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct upstream_settings set = settings(UPSTREAM_IMAP, 0);
	set.two_way = true;
	set.keep = false;
	int64_t id;
	/* two-way needs keep */
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, "s", &id, &error),
			 STORE_INVALID);
	set.keep = true;
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, "s", &id, &error), STORE_OK);
	struct store_upstream up;
	ck_assert_int_eq(store_upstream_get(st, id, &up, &error), STORE_OK);
	ck_assert(up.set.two_way);
	int64_t mb = test_inbox(st, "a@example.org");
	ck_assert_int_eq(store_upstream_folder_set(st, id, "INBOX", 7, 0, false, &error), STORE_OK);
	const char *bodies[] = { "t1", "t2", "t3" };
	for (uint32_t i = 0; i < 3; i++) {
		char blob[SHA256_HEX_LEN + 1], raw[SHA256_HEX_LEN + 1];
		ck_assert_int_eq(blob_put(st, bodies[i], 2, blob, &error), STORE_OK);
		sha256_hex(bodies[i], 2, raw);
		struct upstream_delivery d = {
			.upstream_id = id, .user_id = up.user_id, .mailbox_id = mb, .blob = blob,
			.size = 2, .internal_date = 1000, .raw_hash = raw, .folder = "INBOX",
			.uidvalidity = 7, .uid = 10 + i, .flags = STORE_FLAG_SEEN, .keywords = "$Work",
			.two_way = true,
		};
		bool app;
		ck_assert_int_eq(store_upstream_deliver(st, &d, &app, &error), STORE_OK);
		ck_assert(app);
	}
	struct twoway_link *links;
	size_t n;
	ck_assert_int_eq(store_twoway_links(st, id, "INBOX", &links, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(links[0].uid, 10);
	ck_assert_uint_eq(links[0].flags, STORE_FLAG_SEEN);
	ck_assert_str_eq(links[0].keywords, "$Work");
	ck_assert_int_eq(links[0].state, TWOWAY_LIVE);
	ck_assert_uint_eq(links[0].local_flags, STORE_FLAG_SEEN);
	uint32_t local_uid = links[1].local_uid;
	uint32_t first_uid = links[0].local_uid;
	int64_t first_link = links[0].id;
	store_twoway_links_free(&links, n);
	/* QRESYNC's sync (sql/055): none to read while nothing changed on
	 * either side; those of the UIDs the upstream named */
	ck_assert_uint_eq(links_pending(st, id), 0);
	uint32_t named[] = { 11, 12, 40 };
	ck_assert_int_eq(store_twoway_links_some(st, id, "INBOX", named, 3, &links, &n, &error),
			 STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(links[0].uid, 11);
	ck_assert_uint_eq(links[1].uid, 12);
	store_twoway_links_free(&links, n);
	/* a synced flag changed here makes its link dirty: read with or
	 * without a UID named, once */
	set_flags(st, mb, first_uid, IMAPDB_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL);
	ck_assert_int_eq(store_twoway_links_some(st, id, "INBOX", named, 3, &links, &n, &error),
			 STORE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(links[0].uid, 10);
	ck_assert_uint_eq(links[0].local_flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	store_twoway_links_free(&links, n);
	/* put back: clean; \Deleted is not synced: still clean */
	set_flags(st, mb, first_uid, IMAPDB_FLAGS_REMOVE, STORE_FLAG_FLAGGED, NULL);
	set_flags(st, mb, first_uid, IMAPDB_FLAGS_ADD, STORE_FLAG_DELETED, NULL);
	ck_assert_uint_eq(links_pending(st, id), 0);
	/* the base set to the message's flags (the sync's merge): clean */
	set_flags(st, mb, first_uid, IMAPDB_FLAGS_REPLACE, STORE_FLAG_ANSWERED, "$Work");
	ck_assert_uint_eq(links_pending(st, id), 1);
	struct twoway_op base = { .kind = TWOWAY_OP_BASE, .link_id = first_link,
				  .flags = STORE_FLAG_ANSWERED, .keywords = "$Work" };
	ck_assert_int_eq(store_twoway_apply(st, &base, 1, &error), STORE_OK);
	ck_assert_uint_eq(links_pending(st, id), 0);
	/* deleted here: the trigger marks it for the upstream */
	ck_assert_int_eq(store_expunge(st, mb, &local_uid, 1, NULL, &error), STORE_OK);
	ck_assert_int_eq(store_twoway_links(st, id, "INBOX", &links, &n, &error), STORE_OK);
	ck_assert_int_eq(links[1].state, TWOWAY_LOCAL_GONE);
	ck_assert_int_eq(links[1].message_id, 0);
	store_twoway_links_free(&links, n);
	ck_assert_int_eq(store_twoway_links_some(st, id, "INBOX", NULL, 0, &links, &n, &error),
			 STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(links[0].state, TWOWAY_LOCAL_GONE);
	store_twoway_links_free(&links, n);
	/* the UIDVALIDITY changes: unresolved until found again by hash */
	ck_assert_int_eq(store_twoway_folder_reset(st, id, "INBOX", 8, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_folder_set(st, id, "INBOX", 8, 0, true, &error), STORE_OK);
	char blob[SHA256_HEX_LEN + 1], raw[SHA256_HEX_LEN + 1];
	ck_assert_int_eq(blob_put(st, "t1", 2, blob, &error), STORE_OK);
	sha256_hex("t1", 2, raw);
	struct upstream_delivery d = {
		.upstream_id = id, .user_id = up.user_id, .mailbox_id = mb, .blob = blob,
		.size = 2, .internal_date = 1000, .raw_hash = raw, .folder = "INBOX",
		.uidvalidity = 8, .uid = 1, .skip_known_hash = true, .two_way = true,
	};
	bool app;
	ck_assert_int_eq(store_upstream_deliver(st, &d, &app, &error), STORE_OK);
	ck_assert(!app);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 2);
	ck_assert_int_eq(store_twoway_links(st, id, "INBOX", &links, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 3);
	/* by UID: t1 relinked as 1 (live); t2 and t3 under the old one */
	ck_assert_uint_eq(links[0].uid, 1);
	ck_assert_uint_eq(links[0].uidvalidity, 8);
	ck_assert_int_eq(links[0].state, TWOWAY_LIVE);
	ck_assert_int_eq(links[1].state, TWOWAY_UNRESOLVED_GONE);
	ck_assert_int_eq(links[2].state, TWOWAY_UNRESOLVED);
	store_twoway_links_free(&links, n);
	/* after the whole pass the others are dropped, their messages kept */
	unsigned dropped;
	ck_assert_int_eq(store_twoway_drop_unresolved(st, id, "INBOX", 8, &dropped, &error),
			 STORE_OK);
	ck_assert_uint_eq(dropped, 2);
	ck_assert_int_eq(store_twoway_drop_unresolved(st, id, "INBOX", 8, &dropped, &error),
			 STORE_OK);
	ck_assert_uint_eq(dropped, 0);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 2);
	store_upstream_clear(&up);
	upstream_settings_clear(&set);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_deliver_once)
{
	char *dir;
	const char *error = NULL;
	bool app;
	struct store *st = test_store_fixture(&dir);
	struct upstream_settings set = settings(UPSTREAM_IMAP, 0);
	int64_t id, pid;
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, "s", &id, &error), STORE_OK);
	set.protocol = UPSTREAM_POP3;
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, "s", &pid, &error), STORE_OK);
	struct store_upstream up;
	ck_assert_int_eq(store_upstream_get(st, id, &up, &error), STORE_OK);
	int64_t mb = test_inbox(st, "a@example.org");

	/* IMAP: a UID is delivered once; a lower one after it is known too */
	ck_assert_int_eq(store_upstream_folder_set(st, id, "INBOX", 7, 0, false, &error), STORE_OK);
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "m1", "INBOX", 7, 5, NULL, NULL, false, &app), STORE_OK);
	ck_assert(app);
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "m1", "INBOX", 7, 5, NULL, NULL, false, &app), STORE_OK);
	ck_assert(!app);
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "m0", "INBOX", 7, 3, NULL, NULL, false, &app), STORE_OK);
	ck_assert(!app);
	uint32_t v, last;
	bool refetch;
	ck_assert_int_eq(store_upstream_folder_get(st, id, "INBOX", &v, &last, &refetch, &error), STORE_OK);
	ck_assert_uint_eq(last, 5);
	/* a message under another UIDVALIDITY than the folder's: not taken */
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "m9", "INBOX", 8, 9, NULL, NULL, false, &app), STORE_OK);
	ck_assert(!app);
	/* refetch after a UIDVALIDITY change: known content is skipped, the
	 * UID recorded; new content is delivered */
	ck_assert_int_eq(store_upstream_folder_set(st, id, "INBOX", 8, 0, true, &error), STORE_OK);
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "m1", "INBOX", 8, 1, NULL, NULL, true, &app), STORE_OK);
	ck_assert(!app);
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "m2", "INBOX", 8, 2, NULL, NULL, true, &app), STORE_OK);
	ck_assert(app);
	ck_assert_int_eq(store_upstream_folder_get(st, id, "INBOX", &v, &last, &refetch, &error), STORE_OK);
	ck_assert_uint_eq(last, 2);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 2);
	/* ENVELOPE and BODYSTRUCTURE stored with each message */
	struct imapdb_row *rows;
	size_t n;
	ck_assert_int_eq(imapdb_rows(st, mb, 1, 10, &rows, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(rows[i].envelope);
		ck_assert_ptr_nonnull(rows[i].bodystructure);
	}
	imapdb_rows_free(&rows, n);

	/* Gmail: one X-GM-MSGID in two label folders arrives once; another
	 * id with the same bytes is another message */
	{
		ck_assert_int_eq(store_upstream_folder_set(st, id, "[Gmail]/All Mail", 3, 0, false, &error),
				 STORE_OK);
		ck_assert_int_eq(store_upstream_folder_set(st, id, "Work", 4, 0, false, &error), STORE_OK);
		struct upstream_delivery g = {
			.upstream_id = id, .user_id = up.user_id, .mailbox_id = mb,
			.internal_date = 1000, .folder = "[Gmail]/All Mail", .uidvalidity = 3,
			.uid = 1, .gm_msgid = 1278455344230334865ULL,
		};
		char blob[SHA256_HEX_LEN + 1], raw[SHA256_HEX_LEN + 1];
		ck_assert_int_eq(blob_put(st, "gmail", 5, blob, &error), STORE_OK);
		sha256_hex("gmail", 5, raw);
		g.blob = blob;
		g.size = 5;
		g.raw_hash = raw;
		ck_assert_int_eq(store_upstream_deliver(st, &g, &app, &error), STORE_OK);
		ck_assert(app);
		g.folder = "Work";
		g.uidvalidity = 4;
		g.uid = 9;
		ck_assert_int_eq(store_upstream_deliver(st, &g, &app, &error), STORE_OK);
		ck_assert(!app);
		ck_assert_int_eq(store_upstream_folder_get(st, id, "Work", &v, &last, &refetch, &error),
				 STORE_OK);
		ck_assert_uint_eq(last, 9);	/* recorded as fetched there too */
		g.uid = 10;
		g.gm_msgid = 1278455344230334866ULL;
		ck_assert_int_eq(store_upstream_deliver(st, &g, &app, &error), STORE_OK);
		ck_assert(app);
		ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 4);
	}

	/* POP3: a UIDL once; without UIDL the raw hash decides */
	ck_assert_int_eq(deliver(st, pid, up.user_id, mb, "p1", NULL, 0, 0, "U1", NULL, false, &app), STORE_OK);
	ck_assert(app);
	ck_assert_int_eq(deliver(st, pid, up.user_id, mb, "p1", NULL, 0, 0, "U1", NULL, false, &app), STORE_OK);
	ck_assert(!app);
	ck_assert_int_eq(deliver(st, pid, up.user_id, mb, "p2", NULL, 0, 0, NULL, NULL, false, &app), STORE_OK);
	ck_assert(app);
	ck_assert_int_eq(deliver(st, pid, up.user_id, mb, "p2", NULL, 0, 0, NULL, NULL, false, &app), STORE_OK);
	ck_assert(!app);
	char **uidls;
	ck_assert_int_eq(store_upstream_uidl_list(st, pid, &uidls, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(uidls[0], "U1");
	ck_assert_int_eq(store_upstream_uidl_forget(st, pid, (const char *const *)uidls, n, &error), STORE_OK);
	store_upstream_uidls_free(&uidls, n);
	ck_assert_int_eq(store_upstream_uidl_list(st, pid, &uidls, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 0);

	/* dedupe across accounts by key */
	ck_assert_int_eq(deliver(st, pid, up.user_id, mb, "d1", NULL, 0, 0, "U7", "key", false, &app), STORE_OK);
	ck_assert(app);
	ck_assert_int_eq(deliver(st, id, up.user_id, mb, "d1'", "INBOX", 8, 20, NULL, "key", false, &app), STORE_OK);
	ck_assert(!app);
	ck_assert_int_eq(store_upstream_folder_get(st, id, "INBOX", &v, &last, &refetch, &error), STORE_OK);
	ck_assert_uint_eq(last, 20);	/* recorded as fetched all the same */
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 7);	/* with the two Gmail ones */
	ck_assert_int_eq(test_sql_int(dir, "SELECT fetched FROM upstreams WHERE id = %lld", (long long)pid), 3);

	store_upstream_clear(&up);
	upstream_settings_clear(&set);
	store_close(&st);
	free(dir);
}
END_TEST

/* A POP3 account of a@example.org, in up (store_upstream_clear() it). */
static void
pop3_account(struct store *st, struct store_upstream *up)
{
	const char *error = NULL;
	struct upstream_settings set = settings(UPSTREAM_POP3, 0);
	int64_t id;
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, "s", &id, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_get(st, id, up, &error), STORE_OK);
	upstream_settings_clear(&set);
}

START_TEST(test_batch)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct store_upstream up;
	pop3_account(st, &up);
	struct upstream_batch *b;
	ck_assert_int_eq(store_upstream_batch_new(st, &b), STORE_OK);
	/* more than the first allocation of items: they move while growing */
	for (int i = 0; i < 300; i++) {
		char text[64], uidl[16], raw[SHA256_HEX_LEN + 1];
		snprintf(text, sizeof text, "Subject: %d\r\n\r\nbody\r\n", i);
		snprintf(uidl, sizeof uidl, "U%d", i);
		sha256_hex(text, strlen(text), raw);
		ck_assert_int_eq(store_upstream_batch_begin(b, 1000, &error), STORE_OK);
		ck_assert_int_eq(store_upstream_batch_write(b, text, strlen(text), &error), STORE_OK);
		struct upstream_delivery d = {
			.upstream_id = up.id, .user_id = up.user_id,
			.mailbox_id = test_inbox(st, "a@example.org"), .internal_date = 1,
			.raw_hash = raw, .uidl = uidl,
		};
		ck_assert_int_eq(store_upstream_batch_end(b, &d, &error), STORE_OK);
	}
	/* one begun and thrown away, one over the size limit */
	ck_assert_int_eq(store_upstream_batch_begin(b, 10, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_batch_write(b, "12345678901", 11, &error), STORE_INVALID);
	store_upstream_batch_abort_message(b);
	ck_assert_uint_eq(store_upstream_batch_count(b), 300);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 0);	/* nothing before commit */
	unsigned appended, delivered;
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error), STORE_OK);
	ck_assert_uint_eq(appended, 300);
	ck_assert_uint_eq(delivered, 300);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 300);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages WHERE length(blob) = 64"
				      " AND blob NOT GLOB '*[^0-9a-f]*'"), 300);
	/* every blob is there and holds its message */
	struct store_message *msgs;
	size_t n;
	ck_assert_int_eq(store_message_list(st, test_inbox(st, "a@example.org"), 1, &msgs, &n,
					    &error), STORE_OK);
	for (size_t i = 0; i < n; i++) {
		struct buf data = BUF_INIT;
		ck_assert_int_eq(blob_read(st, msgs[i].blob, &data, &error), STORE_OK);
		char h[SHA256_HEX_LEN + 1];
		sha256_hex(data.data, data.len, h);
		ck_assert_str_eq(h, msgs[i].blob);
		buf_free(&data);
	}
	store_message_list_free(&msgs, n);
	/* a batch freed without commit leaves nothing */
	ck_assert_int_eq(store_upstream_batch_begin(b, 0, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_batch_write(b, "x", 1, &error), STORE_OK);
	struct upstream_delivery d2 = { .upstream_id = up.id, .user_id = up.user_id,
					.mailbox_id = test_inbox(st, "a@example.org"),
					.raw_hash = "00", .uidl = "Z" };
	ck_assert_int_eq(store_upstream_batch_end(b, &d2, &error), STORE_OK);
	store_upstream_batch_free(&b);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 300);
	store_upstream_clear(&up);
	store_close(&st);
	free(dir);
}
END_TEST

/* A check before the end of a message (rspamd, fetch/spam.c): the bytes
 * so far read back, header fields put in front of a message kept in
 * memory, of one that outgrows the buffer with them, and of one in its
 * file; the blobs hold exactly that, under their hashes; a junk message
 * goes to the user's Junk folder. */
START_TEST(test_batch_prepend)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct store_upstream up;
	pop3_account(st, &up);
	struct upstream_batch *b;
	ck_assert_int_eq(store_upstream_batch_new(st, &b), STORE_OK);
	static const size_t sizes[] = { 100, 65536 - 10, 200000 };
	static const char fields[] = "X-Spam-Status: No, score=0.00\r\n";
	struct buf want[3];
	for (int i = 0; i < 3; i++) {
		buf_init(&want[i], 0);
		struct buf text = BUF_INIT;
		buf_printf(&text, "Subject: %d\r\n\r\n", i);
		while (text.len < sizes[i])
			buf_putc(&text, (char)('a' + text.len % 26));
		ck_assert_int_eq(store_upstream_batch_begin(b, 0, &error), STORE_OK);
		ck_assert_int_eq(store_upstream_batch_write(b, text.data, text.len, &error), STORE_OK);
		int fd;
		uint64_t size;
		ck_assert_int_eq(store_upstream_batch_message_open(b, &fd, &size, &error), STORE_OK);
		ck_assert_uint_eq(size, text.len);
		struct buf got = BUF_INIT;
		char chunk[8192];
		ssize_t r;
		while ((r = read(fd, chunk, sizeof chunk)) > 0)
			buf_append(&got, chunk, (size_t)r);
		close(fd);
		ck_assert_uint_eq(got.len, text.len);
		ck_assert(memcmp(got.data, text.data, text.len) == 0);
		buf_free(&got);
		ck_assert_int_eq(store_upstream_batch_prepend(b, fields, strlen(fields), &error),
				 STORE_OK);
		buf_puts(&want[i], fields);
		buf_append(&want[i], text.data, text.len);
		char raw[SHA256_HEX_LEN + 1], uidl[8];
		sha256_hex(text.data, text.len, raw);
		snprintf(uidl, sizeof uidl, "P%d", i);
		struct upstream_delivery d = {
			.upstream_id = up.id, .user_id = up.user_id,
			.mailbox_id = test_inbox(st, "a@example.org"), .internal_date = 1,
			.raw_hash = raw, .uidl = uidl, .junk = i == 1,
		};
		ck_assert_int_eq(store_upstream_batch_end(b, &d, &error), STORE_OK);
		buf_free(&text);
	}
	unsigned appended, delivered;
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error), STORE_OK);
	ck_assert_uint_eq(appended, 3);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages m JOIN mailboxes b"
				      " ON b.id = m.mailbox_id WHERE b.special_use = '\\Junk'"
				      " AND m.size = %zu", want[1].len), 1);
	for (int i = 0; i < 3; i++) {
		char h[SHA256_HEX_LEN + 1];
		sha256_hex(want[i].data, want[i].len, h);
		struct buf data = BUF_INIT;
		ck_assert_int_eq(blob_read(st, h, &data, &error), STORE_OK);
		ck_assert_uint_eq(data.len, want[i].len);
		ck_assert(memcmp(data.data, want[i].data, data.len) == 0);
		buf_free(&data);
		buf_free(&want[i]);
	}
	store_upstream_batch_free(&b);
	store_upstream_clear(&up);
	store_close(&st);
	free(dir);
}
END_TEST

/* Files in blobs/tmp/ (the batch's temporary files). */
static size_t
tmp_files(const char *dir)
{
	char *path = xasprintf("%s/blobs/tmp", dir);
	DIR *d = opendir(path);
	size_t n = 0;
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	free(path);
	return n;
}

/* One message queued in b as uidl. */
/* A store with a POP3 account of a@example.org, its inbox, and a batch. */
static struct store *
batch_fixture(char **dir_r, struct store_upstream *up, int64_t *inbox_r,
	      struct upstream_batch **b_r)
{
	struct store *st = test_store_fixture(dir_r);
	pop3_account(st, up);
	*inbox_r = test_inbox(st, "a@example.org");
	ck_assert_int_eq(store_upstream_batch_new(st, b_r), STORE_OK);
	return st;
}

static void
batch_add(struct upstream_batch *b, const struct store_upstream *up, int64_t inbox,
	  const char *text, const char *uidl)
{
	const char *error = NULL;
	char raw[SHA256_HEX_LEN + 1];
	sha256_hex(text, strlen(text), raw);
	ck_assert_int_eq(store_upstream_batch_begin(b, 0, &error), STORE_OK);
	ck_assert_int_eq(store_upstream_batch_write(b, text, strlen(text), &error), STORE_OK);
	struct upstream_delivery d = {
		.upstream_id = up->id, .user_id = up->user_id, .mailbox_id = inbox,
		.internal_date = 1, .raw_hash = raw, .uidl = uidl,
	};
	ck_assert_int_eq(store_upstream_batch_end(b, &d, &error), STORE_OK);
}

/* The file work of a batch done ahead of its commit, while another batch
 * of the same store commits (as the fetcher does it), and a failure of
 * that work: kept, reported by the commit, and nothing of the batch
 * delivered. */
START_TEST(test_batch_prepare)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct store_upstream up;
	pop3_account(st, &up);
	int64_t inbox = test_inbox(st, "a@example.org");
	struct upstream_batch *b1, *b2;
	ck_assert_int_eq(store_upstream_batch_new(st, &b1), STORE_OK);
	ck_assert_int_eq(store_upstream_batch_new(st, &b2), STORE_OK);

	batch_add(b1, &up, inbox, "Subject: one\r\n\r\n1\r\n", "U1");
	batch_add(b2, &up, inbox, "Subject: two\r\n\r\n2\r\n", "U2");
	/* small messages wait in memory until their file work */
	ck_assert_uint_eq(tmp_files(dir), 0);
	ck_assert_int_eq(store_upstream_batch_prepare(b2, &error), STORE_OK);
	ck_assert_uint_eq(tmp_files(dir), 1);
	batch_add(b2, &up, inbox, "Subject: three\r\n\r\n3\r\n", "U3");
	unsigned appended, delivered;
	ck_assert_int_eq(store_upstream_batch_commit(b1, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_uint_eq(delivered, 1);
	ck_assert_int_eq(store_upstream_batch_commit(b2, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_uint_eq(delivered, 2);
	ck_assert_uint_eq(tmp_files(dir), 0);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 3);
	struct imapdb_row *rows;
	size_t n;
	ck_assert_int_eq(imapdb_rows(st, inbox, 1, 10, &rows, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_nonnull(strstr(rows[1].envelope, "\"two\""));
	imapdb_rows_free(&rows, n);

	/* the file work fails (no blobs/tmp/): the commit says why, and
	 * delivers nothing of the batch, not even what was never prepared */
	char *tmp = xasprintf("%s/blobs/tmp", dir);
	ck_assert_int_eq(rmdir(tmp), 0);
	batch_add(b1, &up, inbox, "Subject: four\r\n\r\n4\r\n", "U4");
	ck_assert_int_eq(store_upstream_batch_prepare(b1, &error), STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "blobs/tmp"));
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	batch_add(b1, &up, inbox, "Subject: five\r\n\r\n5\r\n", "U5");
	error = NULL;
	ck_assert_int_eq(store_upstream_batch_commit(b1, &appended, &delivered, &error),
			 STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "blobs/tmp"));
	ck_assert_uint_eq(delivered, 0);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 3);
	ck_assert_uint_eq(tmp_files(dir), 0);
	/* and the batch is usable again */
	batch_add(b1, &up, inbox, "Subject: five\r\n\r\n5\r\n", "U5");
	ck_assert_int_eq(store_upstream_batch_commit(b1, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 4);

	free(tmp);
	store_upstream_batch_free(&b1);
	store_upstream_batch_free(&b2);
	store_upstream_clear(&up);
	store_close(&st);
	free(dir);
}
END_TEST

/* A batch whose files cannot be made durable (an fsync fails before or
 * after the renames) delivers nothing and leaves no file (messages over
 * BLOB_RECORD_MAX: smaller ones go into records, test_batch_recorded); a
 * disk that is full says so in plain words; a message over quota ends the
 * batch and the blobs of the ones after it go. */
START_TEST(test_batch_faults)
{
	char *dir;
	const char *error = NULL;
	struct store_upstream up;
	int64_t inbox;
	struct upstream_batch *b;
	struct store *st = batch_fixture(&dir, &up, &inbox, &b);
	static const struct { int from, e, status; } cases[] = {
		{ 0, EIO, STORE_ERROR },	/* the files' data */
		{ 3, EIO, STORE_ERROR },	/* their names (after the 3 files) */
		{ 3, ENOSPC, STORE_NOSPACE },
	};
	char text[160], uidl[16];
	unsigned appended, delivered;
	size_t big_len = BLOB_RECORD_MAX + 4096;
	char *big = xmalloc(big_len + 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int k = 0; k < 3; k++) {
			int h = snprintf(big, big_len, "Subject: fault %zu/%d\r\n\r\n", i, k);
			memset(big + h, 'x', big_len - (size_t)h - 2);
			memcpy(big + big_len - 2, "\r\n", 3);
			snprintf(uidl, sizeof uidl, "F%zu-%d", i, k);
			batch_add(b, &up, inbox, big, uidl);
		}
		test_fault_on(cases[i].from, cases[i].e);
		error = NULL;
		int ret = store_upstream_batch_commit(b, &appended, &delivered, &error);
		test_fault_off();
		ck_assert_msg(ret == cases[i].status, "case %zu: %d (%s)", i, ret, error);
		ck_assert_uint_eq(delivered, 0);
		ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 0);
		ck_assert_msg(test_blob_files(dir) == 0, "case %zu left files", i);
		if (ret == STORE_NOSPACE)
			ck_assert_str_eq(error, "the server's disk is full");
	}
	free(big);
	/* room for about one: the first goes in, the rest are not kept */
	ck_assert_int_eq(store_user_set_quota(st, "a@example.org", 150, &error), STORE_OK);
	for (int k = 0; k < 3; k++) {
		snprintf(text, sizeof text, "Subject: quota %d\r\n\r\n%080d\r\n", k, k);
		snprintf(uidl, sizeof uidl, "Q%d", k);
		batch_add(b, &up, inbox, text, uidl);
	}
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error),
			 STORE_OVERQUOTA);
	ck_assert_uint_eq(delivered, 1);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 1);
	ck_assert_int_eq(test_blob_files(dir), 1);
	/* and with room and a working disk the batch goes in */
	ck_assert_int_eq(store_user_set_quota(st, "a@example.org", 0, &error), STORE_OK);
	batch_add(b, &up, inbox, "Subject: fine\r\n\r\nbody\r\n", "OK1");
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 2);
	ck_assert_int_eq(test_blob_files(dir), 2);
	store_upstream_batch_free(&b);
	store_upstream_clear(&up);
	store_close(&st);
	free(dir);
}
END_TEST

/* A small batch's messages go into records of their bytes (sql/056): the
 * commit does not wait for any fsync of their files, and a failing one
 * after it delivers them all the same and leaves the records, from which
 * the next start writes a file lost in a crash out again.  Without a
 * fault, the records go once the files are synced (at the batch's free at
 * the latest). */
START_TEST(test_batch_recorded)
{
	static const char *const texts[] = {
		"Subject: kept one\r\n\r\nfirst\r\n",
		"Subject: kept two\r\n\r\nsecond\r\n",
		"Subject: kept three\r\n\r\nthird\r\n",
	};
	char *dir;
	const char *error = NULL;
	struct store_upstream up;
	int64_t inbox;
	struct upstream_batch *b;
	struct store *st = batch_fixture(&dir, &up, &inbox, &b);
	char uidl[16];
	for (int k = 0; k < 3; k++) {
		snprintf(uidl, sizeof uidl, "R%d", k);
		batch_add(b, &up, inbox, texts[k], uidl);
	}
	unsigned appended, delivered;
	test_fault_on(0, EIO);
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_int_eq(test_fault_calls, 0);	/* no fsync before the commit */
	ck_assert_uint_eq(delivered, 3);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"
					   " WHERE bytes IS NOT NULL"), 3);
	store_upstream_batch_settle(b);
	test_fault_off();
	ck_assert_int_gt(test_fault_calls, 0);
	/* the syncs failed: the records stay, through the batch's end */
	store_upstream_batch_free(&b);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 3);

	/* a crash took the second one's bytes: the start writes it out */
	char hash[SHA256_HEX_LEN + 1];
	sha256_hex(texts[1], strlen(texts[1]), hash);
	char *path = xasprintf("%s/blobs/%.2s/%s", dir, hash, hash);
	ck_assert_int_eq(truncate(path, 0), 0);
	unsigned restored;
	ck_assert_int_eq(store_names_pending_restore(st, &restored, &error), STORE_OK);
	/* each made durable: the lost one written, the others synced */
	ck_assert_uint_eq(restored, 3);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	struct buf got = BUF_INIT;
	ck_assert_int_eq(blob_read(st, hash, &got, &error), STORE_OK);
	ck_assert_str_eq(buf_cstr(&got), texts[1]);
	buf_free(&got);
	free(path);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 3);

	/* a working disk: the records go with the batch's end */
	ck_assert_int_eq(store_upstream_batch_new(st, &b), STORE_OK);
	batch_add(b, &up, inbox, "Subject: later\r\n\r\nfourth\r\n", "R3");
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 1);
	store_upstream_batch_free(&b);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 4);
	store_upstream_clear(&up);
	store_close(&st);
	free(dir);
}
END_TEST

/* Fetched mail has its IMAP cache in its rows when the batch commits, one
 * message twice in a batch included. */
START_TEST(test_batch_imap_cache)
{
	static const char *const texts[] = {
		"From: x@example.net\r\nTo: a@example.org\r\nSubject: one\r\n"
		"Message-ID: <1@example.net>\r\n\r\nbody\r\n",
		"From: y@example.net\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=q\r\n\r\n"
		"--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
		"--q\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--q--\r\n",
		"From: x@example.net\r\nTo: a@example.org\r\nSubject: one\r\n"
		"Message-ID: <1@example.net>\r\n\r\nbody\r\n",
	};
	char *dir;
	const char *error = NULL;
	struct store_upstream up;
	int64_t inbox;
	struct upstream_batch *b;
	struct store *st = batch_fixture(&dir, &up, &inbox, &b);
	for (size_t i = 0; i < 3; i++) {
		char uidl[16], raw[SHA256_HEX_LEN + 1];
		snprintf(uidl, sizeof uidl, "U%zu", i);
		sha256_hex(texts[i], strlen(texts[i]), raw);
		ck_assert_int_eq(store_upstream_batch_begin(b, 0, &error), STORE_OK);
		ck_assert_int_eq(store_upstream_batch_write(b, texts[i], strlen(texts[i]),
							    &error), STORE_OK);
		struct upstream_delivery d = {
			.upstream_id = up.id, .user_id = up.user_id, .mailbox_id = inbox,
			.internal_date = 1, .raw_hash = raw, .uidl = uidl,
		};
		ck_assert_int_eq(store_upstream_batch_end(b, &d, &error), STORE_OK);
	}
	unsigned appended, delivered;
	ck_assert_int_eq(store_upstream_batch_commit(b, &appended, &delivered, &error),
			 STORE_OK);
	ck_assert_uint_eq(appended, 3);
	struct imapdb_row *rows;
	size_t n;
	ck_assert_int_eq(imapdb_rows(st, inbox, 1, 10, &rows, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		char *env, *bs;
		mime_imap_cache(texts[i], strlen(texts[i]), &env, &bs);
		ck_assert_ptr_nonnull(rows[i].envelope);
		ck_assert_ptr_nonnull(rows[i].bodystructure);
		ck_assert_str_eq(rows[i].envelope, env);
		ck_assert_str_eq(rows[i].bodystructure, bs);
		free(env);
		free(bs);
	}
	ck_assert_ptr_nonnull(strstr(rows[1].bodystructure, "\"alternative\""));
	imapdb_rows_free(&rows, n);
	store_upstream_batch_free(&b);
	store_upstream_clear(&up);
	store_close(&st);
	free(dir);
}
END_TEST

/* ---- whole runs against hostile servers ------------------------------- */

static const char *
run_against(const char *const *script, size_t n, enum upstream_protocol p, bool keep,
	    unsigned want_fetched, char **dir_r, struct store **st_r, int64_t *id_r)
{
	const char *error = NULL;
	char *dir;
	struct store *st = test_store_fixture(&dir);
	ck_assert_int_eq(seal_key_create(dir, &error), 0);
	ck_assert_int_eq(seal_key_load(dir, &error), 0);
	char *sealed;
	ck_assert_int_eq(seal("pw", 2, &sealed, &error), 0);
	struct fake_server fs;
	fake_server_start(&fs, script, n);
	struct upstream_settings set = settings(p, fs.port);
	set.keep = keep;
	int64_t id;
	ck_assert_int_eq(store_upstream_add(st, "a@example.org", &set, sealed, &id, &error), STORE_OK);
	free(sealed);
	struct config *cfg = config_defaults();
	cfg->message_size = 1 << 20;
	cfg->fetch_allow_private_hosts = true;	/* the fake server is on loopback */
	unsigned fetched = 99;
	int ret = fetch_run_account(cfg, st, id, &fetched, &error);
	ck_assert_int_eq(ret, -1);
	ck_assert_uint_eq(fetched, want_fetched);
	fake_server_stop(&fs);
	buf_free(&fs.heard);
	config_free(&cfg);
	upstream_settings_clear(&set);
	*dir_r = dir;
	*st_r = st;
	*id_r = id;
	return error;
}

static void
check_nothing_delivered(char *dir, struct store *st, int64_t id, const char *want)
{
	const char *error;
	struct store_upstream up;
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 0);
	/* no blob was left behind referenced, and none half-written in tmp */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 0);
	ck_assert_int_eq(store_upstream_get(st, id, &up, &error), STORE_OK);
	ck_assert_ptr_nonnull(up.last_error);
	ck_assert_msg(strstr(up.last_error, want) != NULL, "%s", up.last_error);
	ck_assert_uint_eq(up.failures, 1);
	store_upstream_clear(&up);
	store_close(&st);
	seal_key_forget();
	free(dir);
}

START_TEST(test_pop3_hostile_runs)
{
	char *dir;
	struct store *st;
	int64_t id;
	const char *s[6] = { "+OK hi\r\n", "-ERR\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n1 A\r\n.\r\n", NULL };

	s[5] = FAKE_FLOOD "+OK\r\n";
	run_against(s, 6, UPSTREAM_POP3, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "larger than the limit of 1048576 bytes");

	s[5] = "+OK\r\nSubject: half\r\n\r\nand then";
	run_against(s, 6, UPSTREAM_POP3, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "closed the connection in the middle of a message");

	s[5] = FAKE_HUGE;
	run_against(s, 6, UPSTREAM_POP3, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "closed the connection");

	const char *wrong[] = { "+OK hi\r\n", "-ERR\r\n", "+OK\r\n", "-ERR [AUTH] bad password\r\n" };
	run_against(wrong, 4, UPSTREAM_POP3, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "login failed: the server rejected the username or password");
}
END_TEST

START_TEST(test_imap_hostile_runs)
{
	char *dir;
	struct store *st;
	int64_t id;
	const char *s[7] = {
		"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS] hi\r\n",
		"$T OK in\r\n",
		"* CAPABILITY IMAP4rev1 UIDPLUS\r\n$T OK\r\n",
		"* 1 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n$T OK [READ-WRITE] ok\r\n",
		"* SEARCH 1\r\n$T OK\r\n",
		NULL, NULL,
	};
	s[5] = "* 1 FETCH (UID 1 BODY[] {2000000}\r\n";
	run_against(s, 6, UPSTREAM_IMAP, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "larger than the limit");

	s[5] = "* 1 FETCH (UID 1 BODY[] {100}\r\nSubject: x\r\n\r\nonly this";
	run_against(s, 6, UPSTREAM_IMAP, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "closed the connection in the middle of a message");

	s[5] = "* 1 FETCH (UID 1 BODY[] {5}\r\nabcde garbage \"unterminated)\r\n";
	run_against(s, 6, UPSTREAM_IMAP, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "malformed FETCH");

	s[5] = FAKE_HUGE;
	run_against(s, 6, UPSTREAM_IMAP, false, 0, &dir, &st, &id);
	check_nothing_delivered(dir, st, id, "closed the connection");

	/* delivered, but the server refuses the delete: the message stays
	 * here (durable, once), the error is on the account */
	s[5] = "* 1 FETCH (UID 1 BODY[] {3}\r\nabc)\r\n$T OK\r\n";
	s[6] = "$T NO [CANNOT] read-only\r\n";
	const char *e = NULL;
	e = run_against(s, 7, UPSTREAM_IMAP, false, 1, &dir, &st, &id);
	ck_assert_ptr_nonnull(strstr(e, "cannot mark fetched messages deleted"));
	ck_assert_int_eq(test_inbox_count(dir, "a@example.org"), 1);
	store_close(&st);
	seal_key_forget();
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("upstreams");
	TCase *tc = tcase_create("store");
	tcase_add_test(tc, test_settings_check);
	tcase_add_test(tc, test_accounts);
	tcase_add_test(tc, test_deliver_once);
	tcase_add_test(tc, test_twoway_links);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_batch_prepend);
	tcase_add_test(tc, test_batch_imap_cache);
	tcase_add_test(tc, test_batch_prepare);
	tcase_add_test(tc, test_batch_faults);
	tcase_add_test(tc, test_batch_recorded);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pop3_hostile_runs);
	tcase_add_test(tc, test_imap_hostile_runs);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for store_fsck and store_blob_gc. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "tests/unit/store_test.h"

/* Sets a file's mtime to secs ago. */
static void
age(const char *path, long secs)
{
	struct timespec t[2] = { { time(NULL) - secs, 0 }, { time(NULL) - secs, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

static bool
exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* fsck into a memory buffer; returns the report and (malloc'd) text. */
static struct store_fsck_report
run_fsck(struct store *st, bool repair, char **text_r)
{
	struct store_fsck_report rep;
	const char *error = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(store_fsck(st, repair, out, &rep, &error), STORE_OK);
	fclose(out);
	if (text_r != NULL)
		*text_r = text;
	else
		free(text);
	return rep;
}

/* A store with two delivered messages (one shared blob). */
static struct store *
fixture(char **dir_r, char hash_r[SHA256_HEX_LEN + 1])
{
	const char *error = NULL;
	struct store_delivery d;
	struct store *st = test_store_fixture(dir_r);
	const char *both[] = { "a@example.org", "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "all@example.org", both, 2, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, "Subject: x\r\n\r\nhi\r\n", 18, hash_r, &error), STORE_OK);
	ck_assert_int_eq(store_deliver(st, "all@example.org", hash_r, 18, 1, &d, &error), STORE_OK);
	store_delivery_clear(&d);
	return st;
}

START_TEST(test_clean)
{
	char *dir, hash[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	char *text;
	struct store_fsck_report rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.blobs, 1);
	ck_assert_uint_eq(rep.rows, 2);
	ck_assert_uint_eq(rep.corrupt_blobs + rep.missing_blobs + rep.orphan_blobs +
			  rep.stray_files + rep.used_fixed + rep.removed, 0);
	ck_assert_ptr_nonnull(strstr(text, "0 corrupt"));
	free(text);
	rep = run_fsck(st, true, NULL);
	ck_assert_uint_eq(rep.removed, 0);
	store_close(&st);
	free(dir);
}
END_TEST

/* What the store makes has its modes whatever the umask; fsck reports a
 * file or folder others may read, and repair takes the extra bits off. */
START_TEST(test_modes)
{
	char *dir, hash[SHA256_HEX_LEN + 1];
	mode_t old_umask = umask(0);
	struct store *st = fixture(&dir, hash);
	umask(old_umask);
	char *db = xasprintf("%s/mailhub.db", dir);
	char *wal = xasprintf("%s/mailhub.db-wal", dir);
	char *blobs = xasprintf("%s/blobs", dir);
	char *blob = blob_path(st, hash);
	char *prefix = xasprintf("%s/blobs/%.2s", dir, hash);
	struct stat sb;
	ck_assert_int_eq(stat(db, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	ck_assert_int_eq(stat(blobs, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	ck_assert_int_eq(stat(prefix, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	ck_assert_int_eq(stat(blob, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0440);
	char *text;
	struct store_fsck_report rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.wrong_modes, 0);
	free(text);

	ck_assert_int_eq(chmod(db, 0644), 0);
	ck_assert_int_eq(chmod(blob, 0444), 0);
	ck_assert_int_eq(chmod(prefix, 0755), 0);
	rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.wrong_modes, 3);
	ck_assert_uint_eq(rep.modes_fixed, 0);
	ck_assert_ptr_nonnull(strstr(text, "mailhub.db: 0644, more than 0640"));
	free(text);
	rep = run_fsck(st, true, &text);
	ck_assert_uint_eq(rep.wrong_modes, 3);
	ck_assert_uint_eq(rep.modes_fixed, 3);
	free(text);
	ck_assert_int_eq(stat(db, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	ck_assert_int_eq(stat(blob, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0440);
	ck_assert_int_eq(stat(prefix, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0755 & 0750);
	rep = run_fsck(st, false, NULL);
	ck_assert_uint_eq(rep.wrong_modes, 0);
	/* repair never widens: a tighter mode is left as it is */
	ck_assert_int_eq(chmod(db, 0600), 0);
	rep = run_fsck(st, true, NULL);
	ck_assert_uint_eq(rep.wrong_modes, 0);
	ck_assert_int_eq(stat(db, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	free(db);
	free(wal);
	free(blobs);
	free(blob);
	free(prefix);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_corrupt_kept)
{
	char *dir, hash[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	char *path = blob_path(st, hash);
	char *text;

	ck_assert_int_eq(chmod(path, 0640), 0);
	write_file(path, "Subject: x\r\n\r\nHI\r\n");
	age(path, 7200);
	struct store_fsck_report rep = run_fsck(st, true, &text);
	ck_assert_uint_eq(rep.corrupt_blobs, 1);
	ck_assert_uint_eq(rep.removed, 0);
	ck_assert_ptr_nonnull(strstr(text, "corrupt blob"));
	ck_assert_ptr_nonnull(strstr(text, hash));
	ck_assert(exists(path));	/* referenced: never removed */
	free(text);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_missing_reported)
{
	char *dir, hash[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	char *path = blob_path(st, hash);
	char *text;

	ck_assert_int_eq(unlink(path), 0);
	struct store_fsck_report rep = run_fsck(st, true, &text);
	ck_assert_uint_eq(rep.missing_blobs, 2);	/* two rows refer to it */
	ck_assert_uint_eq(rep.blobs, 0);
	ck_assert_ptr_nonnull(strstr(text, "missing blob"));
	/* the rows stay: only a person decides to drop a message */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 2);
	free(text);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

/* A crash between the commit of a message's rows and the fsync of its
 * blob's folder (blob_writer_link()): the record of sql/054 tells those
 * rows, of a message never acknowledged, from any other; repair expunges
 * them and no others, and drops records whose blob is there. */
START_TEST(test_unacked_repaired)
{
	char *dir, hash[SHA256_HEX_LEN + 1], other[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	char *text;
	int64_t alice = test_sql_int(dir, "SELECT id FROM users WHERE address = 'a@example.org'");

	/* the same blob delivered again, its name pending (the first two rows
	 * are from before: acknowledged) */
	struct store_copy c = { .user_id = alice, .blob = hash, .size = 18 };
	store_name_pending(st, hash, NULL);
	ck_assert_int_eq(store_deliver_copies(st, &c, 1, 2, &error), STORE_OK);
	ck_assert_int_eq(c.status, STORE_OK);
	store_copy_clear(&c);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 1);
	store_name_pending_forget(st);	/* the crash: never synced */
	/* another message whose name became durable: its record stays until
	 * a later delivery's transaction (none here) */
	ck_assert_int_eq(blob_put(st, "Subject: y\r\n\r\nyes\r\n", 20, other, &error), STORE_OK);
	struct store_copy c2 = { .user_id = alice, .blob = other, .size = 20 };
	store_name_pending(st, other, NULL);
	ck_assert_int_eq(store_deliver_copies(st, &c2, 1, 3, &error), STORE_OK);
	store_copy_clear(&c2);
	store_name_pending_synced(st);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 4);

	/* the crash took the name of the first */
	char *path = blob_path(st, hash);
	ck_assert_int_eq(unlink(path), 0);
	struct store_fsck_report rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.unacked, 1);
	ck_assert_uint_eq(rep.unacked_removed, 0);
	ck_assert_uint_eq(rep.missing_blobs, 2);	/* the acknowledged two */
	ck_assert_ptr_nonnull(strstr(text, "never acknowledged"));
	free(text);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 4);

	rep = run_fsck(st, true, &text);
	ck_assert_uint_eq(rep.unacked, 1);
	ck_assert_uint_eq(rep.unacked_removed, 1);
	free(text);
	/* the unacknowledged row went, with its counters; the two from before
	 * stay (only a person drops them), and so does the other message */
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 3);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages WHERE blob = '%s'", hash), 2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	rep = run_fsck(st, true, NULL);
	ck_assert_uint_eq(rep.unacked + rep.used_fixed, 0);
	ck_assert_uint_eq(rep.missing_blobs, 2);

	/* the next delivery's transaction deletes the records of names made
	 * durable: none is left behind in the normal course */
	store_name_pending(st, other, NULL);
	c2 = (struct store_copy){ .user_id = alice, .blob = other, .size = 20 };
	ck_assert_int_eq(store_deliver_copies(st, &c2, 1, 4, &error), STORE_OK);
	store_copy_clear(&c2);
	store_name_pending_synced(st);
	c2 = (struct store_copy){ .user_id = alice, .blob = other, .size = 20 };
	ck_assert_int_eq(store_deliver_copies(st, &c2, 1, 5, &error), STORE_OK);
	store_copy_clear(&c2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

/* A crash after a message's file was named and its rows committed, but
 * before its bytes reached the disk (blob_writer_link() syncs them with
 * the name, after the link): the name holds less than the content.  The
 * record of sql/054 counts that as the message never acknowledged. */
START_TEST(test_unacked_short_content)
{
	char *dir, hash[SHA256_HEX_LEN + 1], other[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	char *text;
	int64_t alice = test_sql_int(dir, "SELECT id FROM users WHERE address = 'a@example.org'");
	ck_assert_int_eq(blob_put(st, "Subject: z\r\n\r\nzzz\r\n", 20, other, &error), STORE_OK);
	struct store_copy c = { .user_id = alice, .blob = other, .size = 20 };
	store_name_pending(st, other, NULL);
	ck_assert_int_eq(store_deliver_copies(st, &c, 1, 2, &error), STORE_OK);
	store_copy_clear(&c);
	store_name_pending_forget(st);	/* the crash: never synced */
	char *path = blob_path(st, other);
	ck_assert_int_eq(truncate(path, 0), 0);
	struct store_fsck_report rep = run_fsck(st, true, &text);
	ck_assert_uint_eq(rep.unacked, 1);
	ck_assert_uint_eq(rep.unacked_removed, 1);
	ck_assert_ptr_nonnull(strstr(text, "never acknowledged"));
	free(text);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages WHERE blob = '%s'", other), 0);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 2);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_orphans_and_strays)
{
	char *dir, hash[SHA256_HEX_LEN + 1], orphan[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	char *text;

	ck_assert_int_eq(blob_put(st, "nobody's", 8, orphan, &error), STORE_OK);
	char *opath = blob_path(st, orphan);
	char *young_tmp = xasprintf("%s/blobs/tmp/young.tmp", dir);
	char *old_tmp = xasprintf("%s/blobs/tmp/old.tmp", dir);
	char *unknown = xasprintf("%s/blobs/README", dir);
	write_file(young_tmp, "partial");
	write_file(old_tmp, "partial");
	write_file(unknown, "?");
	age(old_tmp, 7200);
	age(unknown, 7200);

	/* without repair: reported, nothing removed */
	struct store_fsck_report rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.orphan_blobs, 1);
	ck_assert_uint_eq(rep.stray_files, 3);
	ck_assert_uint_eq(rep.removed, 0);
	ck_assert_ptr_nonnull(strstr(text, orphan));
	free(text);
	/* repair, orphan still young: kept; old tmp file removed */
	rep = run_fsck(st, true, NULL);
	ck_assert_uint_eq(rep.orphan_blobs, 1);
	ck_assert_uint_eq(rep.removed, 1);
	ck_assert(exists(opath));
	ck_assert(!exists(old_tmp));
	ck_assert(exists(young_tmp));
	ck_assert(exists(unknown));
	/* old enough now: gone; the referenced blob is untouched even if old */
	age(opath, 7200);
	char *rpath = blob_path(st, hash);
	age(rpath, 7200);
	rep = run_fsck(st, false, NULL);
	ck_assert(exists(opath));
	rep = run_fsck(st, true, NULL);
	ck_assert_uint_eq(rep.removed, 1);
	ck_assert(!exists(opath));
	ck_assert(exists(rpath));
	rep = run_fsck(st, false, NULL);
	ck_assert_uint_eq(rep.orphan_blobs, 0);
	free(rpath);
	free(opath);
	free(young_tmp);
	free(old_tmp);
	free(unknown);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_used_fixed)
{
	char *dir, hash[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	struct store_user u;
	char *text;

	test_sql(dir, "UPDATE users SET used = 12345 WHERE address = 'a@example.org'");
	test_sql(dir, "UPDATE mailboxes SET messages = 7");
	struct store_fsck_report rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.used_fixed, 1);
	ck_assert_ptr_nonnull(strstr(text, "a@example.org"));
	ck_assert_ptr_nonnull(strstr(text, "12345"));
	free(text);
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, 12345);	/* not without repair */
	store_user_clear(&u);
	rep = run_fsck(st, true, NULL);
	ck_assert_uint_eq(rep.used_fixed, 1);
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_uint_eq(u.used, 18);
	store_user_clear(&u);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM mailboxes WHERE"
				      " messages <> (SELECT count(*) FROM messages m"
				      " WHERE m.mailbox_id = mailboxes.id)"), 0);
	rep = run_fsck(st, false, NULL);
	ck_assert_uint_eq(rep.used_fixed, 0);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_gc)
{
	char *dir, hash[SHA256_HEX_LEN + 1], old[SHA256_HEX_LEN + 1], young[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	unsigned removed = 99;

	ck_assert_int_eq(blob_put(st, "old orphan", 10, old, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, "young orphan", 12, young, &error), STORE_OK);
	char *opath = blob_path(st, old), *ypath = blob_path(st, young), *rpath = blob_path(st, hash);
	age(opath, 1000);
	age(rpath, 1000);
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert(!exists(opath));
	ck_assert(exists(ypath));
	ck_assert(exists(rpath));
	/* a blob stored again after it went old is young again: kept */
	ck_assert_int_eq(blob_put(st, "old orphan", 10, old, &error), STORE_OK);
	age(opath, 1000);
	ck_assert_int_eq(blob_put(st, "old orphan", 10, old, &error), STORE_OK);
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 0);
	ck_assert(exists(opath));
	/* expunged messages free their blob for gc */
	uint32_t uid = 1;
	size_t n;
	ck_assert_int_eq(store_expunge(st, test_inbox(st, "a@example.org"), &uid, 1, &n, &error), STORE_OK);
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert(exists(rpath));	/* b still has it */
	ck_assert_int_eq(store_expunge(st, test_inbox(st, "b@example.org"), &uid, 1, &n, &error), STORE_OK);
	/* kept while sessions that still show the messages may read them */
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 0);
	ck_assert(exists(rpath));
	test_sql(dir, "UPDATE expunged SET expunged_at = expunged_at - 700");
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert(!exists(rpath));
	struct store_fsck_report rep = run_fsck(st, false, NULL);
	ck_assert_uint_eq(rep.corrupt_blobs + rep.missing_blobs + rep.stray_files, 0);
	free(opath);
	free(ypath);
	free(rpath);
	store_close(&st);
	free(dir);
}
END_TEST

/* The fixture's first user. */
static int64_t
alice_id(const char *dir)
{
	return test_sql_int(dir, "SELECT id FROM users WHERE address = 'a@example.org'");
}

/* A message delivered as the SMTP server does for a small one (sql/056):
 * a deferred writer linked without waiting, its bytes in its record;
 * the writer is returned, placed, for the caller to release. */
static struct blob_writer *
deliver_recorded(struct store *st, int64_t user, const char *text,
		 char hash_r[SHA256_HEX_LEN + 1])
{
	const char *error = NULL;
	struct blob_writer *w;
	const void *p;
	size_t n;
	ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, strlen(text), &error), STORE_OK);
	ck_assert_int_eq(blob_writer_link(w, hash_r, NULL, &error), STORE_OK);
	ck_assert(blob_writer_bytes(w, &p, &n));
	ck_assert_uint_eq(n, strlen(text));
	store_name_pending(st, hash_r, w);
	struct store_copy c = { .user_id = user, .blob = hash_r, .size = strlen(text) };
	ck_assert_int_eq(store_deliver_copies(st, &c, 1, 7, &error), STORE_OK);
	ck_assert_int_eq(c.status, STORE_OK);
	store_copy_clear(&c);
	return w;
}

/* The file under hash's name holds exactly text. */
static void
assert_blob_is(struct store *st, const char *hash, const char *text)
{
	struct buf b = BUF_INIT;
	const char *error = NULL;
	blob_cache_clear();	/* from the file, not from memory */
	ck_assert_int_eq(blob_read(st, hash, &b, &error), STORE_OK);
	ck_assert_uint_eq(b.len, strlen(text));
	ck_assert_int_eq(memcmp(b.data, text, b.len), 0);
	buf_free(&b);
}

/* A small message's record holds its bytes, so the commit makes it
 * durable and it is acknowledged without waiting for its fsyncs; after a
 * crash that cut its file short, the start's recovery writes it out and
 * deletes the record.  A record whose message was expunged meanwhile is
 * deleted without making its file again. */
START_TEST(test_recorded_restored)
{
	char *dir, hash[SHA256_HEX_LEN + 1], h[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	static const char text[] = "Subject: recorded\r\n\r\nits bytes in its record\r\n";
	struct blob_writer *w = deliver_recorded(st, alice_id(dir), text, h);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending WHERE blob = '%s'"
				      " AND bytes = CAST('%s' AS BLOB)", h, text), 1);
	ck_assert_int_eq(blob_writer_wait_durable(w, &error), STORE_OK);

	/* another, expunged before the crash */
	static const char text2[] = "Subject: gone\r\n\r\nexpunged before its fsyncs\r\n";
	struct blob_writer *w2 = deliver_recorded(st, alice_id(dir), text2, h2);
	uint32_t uid = (uint32_t)test_sql_int(dir, "SELECT uid FROM messages WHERE blob = '%s'", h2);
	int64_t inbox = test_sql_int(dir, "SELECT mailbox_id FROM messages WHERE blob = '%s'", h2);
	size_t removed = 0;
	ck_assert_int_eq(store_expunge(st, inbox, &uid, 1, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 1);
	/* no session needs its content any more (gc's sweep, an hour on) */
	test_sql(dir, "UPDATE expunged SET expunged_at = expunged_at - 7200");
	ck_assert_int_eq(store_blob_gc(st, 0, NULL, &error), STORE_OK);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM expunged WHERE blob = '%s'", h2), 0);

	/* the crash: the one cut short, the other's name lost */
	char *path = blob_path(st, h), *path2 = blob_path(st, h2);
	ck_assert_int_eq(truncate(path, 5), 0);
	ck_assert(unlink(path2) == 0 || errno == ENOENT);
	unsigned restored = 0;
	ck_assert_int_eq(store_names_pending_restore(st, &restored, &error), STORE_OK);
	ck_assert_uint_eq(restored, 1);
	assert_blob_is(st, h, text);
	ck_assert(!exists(path2));
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	struct store_fsck_report rep = run_fsck(st, false, NULL);
	ck_assert_uint_eq(rep.corrupt_blobs + rep.missing_blobs + rep.recorded + rep.unacked, 0);
	blob_writer_release(&w);
	blob_writer_release(&w2);
	free(path);
	free(path2);
	store_close(&st);
	free(dir);
}
END_TEST

/* fsck's view of a record with bytes: the message may have been
 * acknowledged, so its rows are never removed; a lost file is reported,
 * and --repair writes it out. */
START_TEST(test_recorded_fsck)
{
	char *dir, hash[SHA256_HEX_LEN + 1], h[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	char *text;
	static const char msg[] = "Subject: fsck\r\n\r\nwritten out by repair\r\n";
	struct blob_writer *w = deliver_recorded(st, alice_id(dir), msg, h);
	char *path = blob_path(st, h);
	ck_assert_int_eq(unlink(path), 0);

	struct store_fsck_report rep = run_fsck(st, false, &text);
	ck_assert_uint_eq(rep.recorded, 1);
	ck_assert_uint_eq(rep.recorded_written, 0);
	ck_assert_uint_eq(rep.unacked, 0);
	ck_assert_ptr_nonnull(strstr(text, "in the database"));
	free(text);
	ck_assert(!exists(path));

	rep = run_fsck(st, true, &text);
	ck_assert_uint_eq(rep.recorded, 1);
	ck_assert_uint_eq(rep.recorded_written, 1);
	ck_assert_uint_eq(rep.unacked + rep.unacked_removed, 0);
	ck_assert_uint_eq(rep.missing_blobs, 0);
	ck_assert_ptr_nonnull(strstr(text, "written out from its record"));
	free(text);
	assert_blob_is(st, h, msg);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages WHERE blob = '%s'", h), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	rep = run_fsck(st, false, NULL);
	ck_assert_uint_eq(rep.corrupt_blobs + rep.missing_blobs + rep.recorded + rep.unacked, 0);
	blob_writer_release(&w);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

/* The record goes once the background fsyncs succeeded (a later
 * delivery's transaction deletes it), and stays when they failed, for the
 * next start to write the file out; the message is durable either way. */
START_TEST(test_recorded_background_sync)
{
	char *dir, hash[SHA256_HEX_LEN + 1], h[SHA256_HEX_LEN + 1];
	struct store *st = fixture(&dir, hash);
	const char *error = NULL;
	struct store_copy c = { .user_id = alice_id(dir), .blob = hash, .size = 18 };

	/* synced: deleted by the next delivery */
	static const char ok[] = "Subject: synced\r\n\r\nits fsyncs worked\r\n";
	struct blob_writer *w = deliver_recorded(st, alice_id(dir), ok, h);
	ck_assert_int_eq(blob_writer_wait_name(w, &error), STORE_OK);	/* the round done */
	blob_writer_release(&w);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 1);
	ck_assert_int_eq(store_deliver_copies(st, &c, 1, 8, &error), STORE_OK);
	store_copy_clear(&c);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);

	/* nobody waiting: the syncer's pass makes it durable (after a
	 * while, SYNCER_LAZY_MS), and a later delivery deletes the record */
	static const char later[] = "Subject: later\r\n\r\nsynced by the syncer alone\r\n";
	w = deliver_recorded(st, alice_id(dir), later, h);
	ck_assert_int_eq(blob_writer_wait_durable(w, &error), STORE_OK);
	blob_writer_release(&w);
	int left = 1;
	for (int i = 0; i < 1000 && left > 0; i++) {
		usleep(10000);
		c = (struct store_copy){ .user_id = alice_id(dir), .blob = hash, .size = 18 };
		ck_assert_int_eq(store_deliver_copies(st, &c, 1, 8, &error), STORE_OK);
		store_copy_clear(&c);
		left = test_sql_int(dir, "SELECT count(*) FROM blob_names_pending");
	}
	ck_assert_int_eq(left, 0);

	/* the file's fsync fails in the background: the delivery is durable
	 * all the same (its record), and the record stays */
	static const char bad[] = "Subject: failing\r\n\r\nits fsync fails\r\n";
	test_fault_on(0, EIO);
	w = deliver_recorded(st, alice_id(dir), bad, h);
	ck_assert_int_eq(blob_writer_wait_durable(w, &error), STORE_OK);
	ck_assert_int_eq(blob_writer_wait_name(w, &error), STORE_ERROR);
	test_fault_off();
	blob_writer_release(&w);
	c = (struct store_copy){ .user_id = alice_id(dir), .blob = hash, .size = 18 };
	ck_assert_int_eq(store_deliver_copies(st, &c, 1, 9, &error), STORE_OK);
	store_copy_clear(&c);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending WHERE blob = '%s'"
				      " AND bytes IS NOT NULL", h), 1);
	unsigned restored = 0;
	ck_assert_int_eq(store_names_pending_restore(st, &restored, &error), STORE_OK);
	ck_assert_uint_eq(restored, 1);
	assert_blob_is(st, h, bad);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM blob_names_pending"), 0);
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("fsck");
	TCase *tc = tcase_create("fsck");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_clean);
	tcase_add_test(tc, test_corrupt_kept);
	tcase_add_test(tc, test_missing_reported);
	tcase_add_test(tc, test_unacked_repaired);
	tcase_add_test(tc, test_unacked_short_content);
	tcase_add_test(tc, test_recorded_restored);
	tcase_add_test(tc, test_recorded_fsck);
	tcase_add_test(tc, test_recorded_background_sync);
	tcase_add_test(tc, test_orphans_and_strays);
	tcase_add_test(tc, test_used_fixed);
	tcase_add_test(tc, test_gc);
	tcase_add_test(tc, test_modes);
	suite_add_tcase(s, tc);
	return s;
}

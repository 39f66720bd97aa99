/*
 * Helpers shared by the store's Check suites: a fresh store in a temporary
 * folder, and a side door into its SQLite file to count rows and to break
 * things on purpose.  Header-only (static functions) so that each suite
 * stays one source file.
 */
#ifndef MAILHUB_TESTS_STORE_TEST_H
#define MAILHUB_TESTS_STORE_TEST_H

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/store.h"
#include "tests/unit/runner.h"

/* A password hash that store_user_add accepts; logins use real hashes. */
#define TEST_HASH "{CRYPT}$6$salt$notarealhash"

static inline struct store *
test_store_open(const char *dir)
{
	struct store *st = NULL;
	const char *error = NULL;
	int ret = store_open(dir, &st, &error);
	ck_assert_msg(ret == STORE_OK, "store_open: %s", error);
	return st;
}

/* A fresh store with domain example.org and users a@ and b@example.org. */
static inline struct store *
test_store_fixture(char **dir_r)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	ck_assert_int_eq(store_domain_add(st, "example.org", &error), STORE_OK);
	ck_assert_int_eq(store_user_add(st, "a@example.org", TEST_HASH, false, 0,
					&error), STORE_OK);
	ck_assert_int_eq(store_user_add(st, "b@example.org", TEST_HASH, false, 0,
					&error), STORE_OK);
	*dir_r = dir;
	return st;
}

/* Runs SQL on the store's file through a connection of its own. */
static inline void
test_sql(const char *dir, const char *fmt, ...)
{
	char path[4096], sql[4096];
	va_list ap;
	sqlite3 *db;
	char *msg = NULL;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	snprintf(path, sizeof path, "%s/mailhub.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg != NULL ? msg : "?");
	sqlite3_close(db);
}

/* The integer the query's first row and column hold. */
static inline long long
test_sql_int(const char *dir, const char *fmt, ...)
{
	char path[4096], sql[4096];
	va_list ap;
	sqlite3 *db;
	sqlite3_stmt *s;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	snprintf(path, sizeof path, "%s/mailhub.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	long long v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* The user's INBOX id. */
static inline int64_t
test_inbox(struct store *st, const char *address)
{
	struct store_user u;
	struct store_mailbox mb;
	const char *error = NULL;

	ck_assert_int_eq(store_user_get(st, address, &u, &error), STORE_OK);
	ck_assert_int_eq(store_mailbox_get(st, u.id, "INBOX", &mb, &error), STORE_OK);
	int64_t id = mb.id;
	store_mailbox_clear(&mb);
	store_user_clear(&u);
	return id;
}

/* Messages in the user's INBOX. */
static inline long long
test_inbox_count(const char *dir, const char *address)
{
	return test_sql_int(dir, "SELECT count(*) FROM messages m JOIN mailboxes b"
			    " ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id"
			    " WHERE u.address = '%s' AND b.name = 'INBOX'", address);
}

/* Regular files under dir/blobs/, blobs/tmp/ included: what a refused
 * or failed message must not have added. */
static inline int
test_blob_files(const char *dir)
{
	char path[4096];
	int n = 0;
	snprintf(path, sizeof path, "%s/blobs", dir);
	DIR *top = opendir(path);
	ck_assert_ptr_nonnull(top);
	for (struct dirent *e; (e = readdir(top)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/blobs/%s", dir, e->d_name);
		DIR *d = opendir(path);
		if (d == NULL) {
			n++;
			continue;
		}
		for (struct dirent *f; (f = readdir(d)) != NULL;)
			n += f->d_name[0] != '.';
		closedir(d);
	}
	closedir(top);
	return n;
}

/*
 * A failing disk for the store's fsync(2)/syncfs(2) (store/blob.h): calls
 * from number test_fault_from on (0: the first) fail with test_fault_errno;
 * test_fault_calls counts them.  test_fault_off() puts the real ones back.
 */
static int test_fault_from, test_fault_errno, test_fault_calls;

static inline int
test_fault_sync(int fd)
{
	/* atomic: a batch's fsyncs run on several threads */
	if (__atomic_fetch_add(&test_fault_calls, 1, __ATOMIC_RELAXED) >= test_fault_from) {
		errno = test_fault_errno;
		return -1;
	}
	return fsync(fd);
}

static inline void
test_fault_on(int from, int e)
{
	test_fault_from = from;
	test_fault_errno = e;
	test_fault_calls = 0;
	blob_fsync_fn = test_fault_sync;
	blob_syncfs_fn = test_fault_sync;
}

static inline void
test_fault_off(void)
{
	blob_fsync_fn = fsync;
	blob_syncfs_fn = syncfs;
}

#endif

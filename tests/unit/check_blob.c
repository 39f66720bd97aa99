/* Unit tests for store/blob: streaming writes, dedupe, limits, abort,
 * refusals after placing, and a failing disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "store/blob.h"
#include "tests/unit/store_test.h"

/* Files in dir (not counting . and ..), -1 when it cannot be opened. */
static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Temporary files in dir: those named there, and the unnamed ones
 * (O_TMPFILE) this process has open in it ("dir/#123 (deleted)"). */
static int
count_tmp(const char *dir)
{
	int n = count_files(dir);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char *prefix = xasprintf("%s/#", dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char link[4096], *path = xasprintf("/proc/self/fd/%s", e->d_name);
		ssize_t r = readlink(path, link, sizeof link - 1);
		free(path);
		if (r > 0) {
			link[r] = '\0';
			if (strncmp(link, prefix, strlen(prefix)) == 0)
				n++;
		}
	}
	if (d != NULL)
		closedir(d);
	free(prefix);
	return n;
}

static char *
blobs_sub(const char *dir, const char *sub)
{
	return xasprintf("%s/blobs/%s", dir, sub);
}

/* A deterministic message of n bytes. */
static char *
make_data(size_t n, unsigned seed)
{
	char *p = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
	p[n] = '\0';
	return p;
}

START_TEST(test_stream_equals_put)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	size_t n = 300000;	/* several times the writer's buffer */
	char *data = make_data(n, 3);
	char expect[SHA256_HEX_LEN + 1], h1[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1];
	struct blob_writer *w;
	uint64_t size = 0;

	sha256_hex(data, n, expect);
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	/* pieces of 1, 2, 3, ... bytes, and one bigger than the buffer */
	size_t off = 0, piece = 1;
	while (off < 100000) {
		ck_assert_int_eq(blob_write(w, data + off, piece, &error), STORE_OK);
		off += piece;
		piece = piece % 997 + 1;
	}
	ck_assert_int_eq(blob_write(w, data + off, 70000, &error), STORE_OK);
	off += 70000;
	ck_assert_int_eq(blob_write(w, data + off, n - off, &error), STORE_OK);
	ck_assert_uint_eq(blob_writer_size(w), n);
	ck_assert_int_eq(blob_writer_commit(&w, h1, &size, &error), STORE_OK);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(size, n);
	ck_assert_str_eq(h1, expect);

	ck_assert_int_eq(blob_put(st, data, n, h2, &error), STORE_OK);
	ck_assert_str_eq(h2, expect);

	/* the file is where blob_path says, with the content */
	char *path = blob_path(st, h1);
	char *want = xasprintf("%s/blobs/%.2s/%s", dir, h1, h1);
	ck_assert_str_eq(path, want);
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, (off_t)n);
	struct buf b;
	buf_init(&b, 0);
	ck_assert_int_eq(blob_read(st, h1, &b, &error), STORE_OK);
	ck_assert_uint_eq(b.len, n);
	ck_assert_int_eq(memcmp(b.data, data, n), 0);
	buf_free(&b);
	int fd;
	ck_assert_int_eq(blob_open(st, h1, &fd, &size, &error), STORE_OK);
	ck_assert_uint_eq(size, n);
	close(fd);

	char *tmp = blobs_sub(dir, "tmp");
	ck_assert_int_eq(count_files(tmp), 0);
	free(tmp);
	free(path);
	free(want);
	free(data);
	store_close(&st);
	ck_assert_ptr_null(st);
	free(dir);
}
END_TEST

START_TEST(test_dedupe_refreshes_mtime)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char h1[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1], h3[SHA256_HEX_LEN + 1];

	ck_assert_int_eq(blob_put(st, "hello\r\n", 7, h1, &error), STORE_OK);
	char *path = blob_path(st, h1);
	/* make it old, then store the same content again */
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ino_t ino = sb.st_ino;
	ck_assert_int_eq(blob_put(st, "hello\r\n", 7, h2, &error), STORE_OK);
	ck_assert_str_eq(h1, h2);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_ino, ino);	/* not rewritten */
	ck_assert(sb.st_mtime > time(NULL) - 60);	/* but young again */
	char *prefix = xasprintf("%s/blobs/%.2s", dir, h1);
	ck_assert_int_eq(count_files(prefix), 1);
	char *tmp = blobs_sub(dir, "tmp");
	ck_assert_int_eq(count_files(tmp), 0);
	/* the empty message is a blob too */
	ck_assert_int_eq(blob_put(st, "", 0, h3, &error), STORE_OK);
	ck_assert_str_eq(h3, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	free(prefix);
	free(tmp);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_max_size_counts)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct blob_writer *w;
	char *tmp = blobs_sub(dir, "tmp");
	char data[60];
	memset(data, 'x', sizeof data);

	ck_assert_int_eq(blob_writer_new(st, 100, &w, &error), STORE_OK);
	ck_assert_int_eq(count_tmp(tmp), 1);
	ck_assert_int_eq(blob_write(w, data, 60, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, data, 40, &error), STORE_OK);	/* exactly 100 */
	ck_assert_int_eq(blob_write(w, data, 1, &error), STORE_INVALID);
	ck_assert_ptr_nonnull(strstr(error, "100"));
	/* only counting now: the partial file is gone at once */
	ck_assert_int_eq(count_files(tmp), 0);
	ck_assert_int_eq(blob_write(w, data, 60, &error), STORE_INVALID);
	ck_assert_uint_eq(blob_writer_size(w), 161);
	ck_assert_int_eq(blob_writer_commit(&w, hash, NULL, &error), STORE_INVALID);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(count_files(tmp), 0);
	/* no file in blobs/ (its folders, made ahead, are empty) */
	ck_assert_int_eq(test_blob_files(dir), 0);
	free(tmp);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_abort_leaves_nothing)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	struct blob_writer *w;
	char *tmp = blobs_sub(dir, "tmp");
	char *data = make_data(100000, 1);

	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, data, 100000, &error), STORE_OK);
	ck_assert_int_eq(count_tmp(tmp), 1);
	/* an unnamed file (O_TMPFILE): nothing named in the shared folder */
	ck_assert_int_eq(count_files(tmp), 0);
	blob_writer_abort(&w);
	ck_assert_ptr_null(w);
	blob_writer_abort(&w);	/* NULL is fine */
	ck_assert_int_eq(count_files(tmp), 0);
	ck_assert_int_eq(test_blob_files(dir), 0);
	/* and an abort before any write */
	ck_assert_int_eq(blob_writer_new(st, 10, &w, &error), STORE_OK);
	blob_writer_abort(&w);
	ck_assert_int_eq(count_files(tmp), 0);
	free(tmp);
	free(data);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_open_read_errors)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	int fd;
	struct buf b;

	ck_assert_int_eq(blob_open(st, "../../etc/passwd", &fd, NULL, &error), STORE_INVALID);
	ck_assert_int_eq(blob_open(st, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
				   &fd, NULL, &error), STORE_INVALID);
	ck_assert_int_eq(blob_open(st, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				   &fd, NULL, &error), STORE_NOTFOUND);
	ck_assert_int_eq(blob_put(st, "0123456789", 10, hash, &error), STORE_OK);
	buf_init(&b, 8);
	ck_assert_int_eq(buf_puts(&b, "ab"), 0);
	ck_assert_int_eq(blob_read(st, hash, &b, &error), STORE_INVALID);
	ck_assert_str_eq(buf_cstr(&b), "ab");	/* unchanged */
	buf_free(&b);
	buf_init(&b, 12);
	ck_assert_int_eq(buf_puts(&b, "ab"), 0);
	ck_assert_int_eq(blob_read(st, hash, &b, &error), STORE_OK);
	ck_assert_str_eq(buf_cstr(&b), "ab0123456789");
	buf_free(&b);
	store_close(&st);
	free(dir);
}
END_TEST


/* blob_read_cached(): a blob read once is served from memory (here: after
 * its file is gone), the caller's limit still holds, big blobs are not
 * kept, and the oldest go first once the cache is full. */
START_TEST(test_read_cached)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct buf b = BUF_INIT;

	blob_cache_clear();
	ck_assert_int_eq(blob_put(st, "cached bytes", 12, hash, &error), STORE_OK);
	ck_assert_int_eq(blob_read_cached(st, hash, &b, &error), STORE_OK);
	ck_assert_str_eq(buf_cstr(&b), "cached bytes");
	char *sub = xasprintf("%.2s/%s", hash, hash);
	char *path = blobs_sub(dir, sub);
	ck_assert_int_eq(unlink(path), 0);
	buf_reset(&b);
	ck_assert_int_eq(blob_read(st, hash, &b, &error), STORE_NOTFOUND);
	ck_assert_int_eq(buf_puts(&b, ">"), 0);
	ck_assert_int_eq(blob_read_cached(st, hash, &b, &error), STORE_OK);
	ck_assert_str_eq(buf_cstr(&b), ">cached bytes");
	buf_free(&b);
	/* the limit of the caller's buffer: as blob_read() says */
	buf_init(&b, 4);
	ck_assert_int_eq(blob_read_cached(st, hash, &b, &error), STORE_NOTFOUND);
	ck_assert_int_eq(b.len, 0);
	buf_free(&b);
	buf_init(&b, 0);
	blob_cache_clear();
	ck_assert_int_eq(blob_read_cached(st, hash, &b, &error), STORE_NOTFOUND);
	free(path);
	free(sub);

	/* 300 KiB: read, not kept */
	size_t big_n = 300 << 10;
	char *big = make_data(big_n, 3);
	ck_assert_int_eq(blob_put(st, big, big_n, hash, &error), STORE_OK);
	ck_assert_int_eq(blob_read_cached(st, hash, &b, &error), STORE_OK);
	ck_assert_uint_eq(b.len, big_n);
	ck_assert(memcmp(b.data, big, big_n) == 0);
	buf_reset(&b);
	sub = xasprintf("%.2s/%s", hash, hash);
	path = blobs_sub(dir, sub);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(blob_read_cached(st, hash, &b, &error), STORE_NOTFOUND);
	free(path);
	free(sub);
	free(big);

	/* 40 blobs of 250 KiB (10 MB) through an 8 MiB cache: the first
	 * ones are gone from it, the last one is there */
	char hashes[40][SHA256_HEX_LEN + 1];
	size_t n = 250 << 10;
	for (unsigned i = 0; i < 40; i++) {
		char *d = make_data(n, 0);
		snprintf(d, 16, "blob %u ", i);	/* 40 different ones */
		ck_assert_int_eq(blob_put(st, d, n, hashes[i], &error), STORE_OK);
		buf_reset(&b);
		ck_assert_int_eq(blob_read_cached(st, hashes[i], &b, &error), STORE_OK);
		ck_assert(memcmp(b.data, d, n) == 0);
		free(d);
	}
	for (unsigned i = 0; i < 40; i += 39) {
		sub = xasprintf("%.2s/%s", hashes[i], hashes[i]);
		path = blobs_sub(dir, sub);
		ck_assert_int_eq(unlink(path), 0);
		buf_reset(&b);
		ck_assert_int_eq(blob_read_cached(st, hashes[i], &b, &error),
				 (i == 0 ? STORE_NOTFOUND : STORE_OK));
		free(path);
		free(sub);
	}
	buf_free(&b);
	blob_cache_clear();
	store_close(&st);
	free(dir);
}
END_TEST

/* A new writer with data, placed and held. */
static struct blob_writer *
placed(struct store *st, const char *data, char hash[SHA256_HEX_LEN + 1])
{
	const char *error = NULL;
	struct blob_writer *w;
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, data, strlen(data), &error), STORE_OK);
	ck_assert_msg(blob_writer_place(w, hash, NULL, &error) == STORE_OK, "%s", error);
	return w;
}

/* A refusal after placing removes the blob, unless a row references it
 * or another writer holds it: blobs are shared by content. */
START_TEST(test_refusal_after_placing)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char h1[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1];

	/* alone: gone, and its temporary file too */
	struct blob_writer *w = placed(st, "Subject: refused\r\n\r\nx\r\n", h1);
	char *path = blob_path(st, h1);
	ck_assert_int_eq(access(path, F_OK), 0);
	blob_writer_abort(&w);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(test_blob_files(dir), 0);
	free(path);

	/* held by another writer of the same content: kept until that one
	 * lets go, and then by its row */
	struct blob_writer *a = placed(st, "Subject: shared\r\n\r\ny\r\n", h1);
	struct blob_writer *b = placed(st, "Subject: shared\r\n\r\ny\r\n", h2);
	ck_assert_str_eq(h1, h2);
	ck_assert_int_eq(test_blob_files(dir), 1);
	blob_writer_abort(&b);
	ck_assert_int_eq(test_blob_files(dir), 1);
	ck_assert_int_eq(store_append(st, test_inbox(st, "a@example.org"), h1, 22, 1, 0,
				      NULL, false, NULL, &error), STORE_OK);
	blob_writer_release(&a);
	ck_assert_ptr_null(a);
	/* referenced by a row: a later refusal of the same content keeps it */
	b = placed(st, "Subject: shared\r\n\r\ny\r\n", h2);
	blob_writer_abort(&b);
	ck_assert_int_eq(test_blob_files(dir), 1);
	struct buf data = BUF_INIT;
	ck_assert_int_eq(blob_read(st, h1, &data, &error), STORE_OK);
	ck_assert_uint_eq(data.len, 22);
	buf_free(&data);

	/* gc takes nothing that a writer holds, however old */
	a = placed(st, "Subject: held\r\n\r\nz\r\n", h1);
	path = blob_path(st, h1);
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	unsigned removed = 99;
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(access(path, F_OK), 0);
	blob_writer_release(&a);
	ck_assert_int_eq(store_blob_gc(st, 600, &removed, &error), STORE_OK);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_eq(access(path, F_OK), -1);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

/* A message whose bytes or name cannot be made durable is never
 * acknowledged, and leaves nothing: a failing fsync of the file, then of
 * its folder, as EIO and as ENOSPC. */
START_TEST(test_failing_fsync)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	static const struct { int from, e, status; } cases[] = {
		{ 0, EIO, STORE_ERROR },	/* the file */
		{ 0, ENOSPC, STORE_NOSPACE },
		{ 1, EIO, STORE_ERROR },	/* blobs/, for the new XX */
		{ 2, EIO, STORE_ERROR },	/* XX, for the file's entry */
		{ 2, EDQUOT, STORE_NOSPACE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "Subject: fsync %zu\r\n\r\nbody\r\n", i);
		struct blob_writer *w;
		ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
		ck_assert_int_eq(blob_write(w, text, strlen(text), &error), STORE_OK);
		/* the XX folder made anew each time: syncs are the file, blobs/,
		 * then XX */
		char hex[SHA256_HEX_LEN + 1];
		sha256_hex(text, strlen(text), hex);
		char *prefix = xasprintf("%s/blobs/%.2s", dir, hex);
		ck_assert(rmdir(prefix) == 0 || errno == ENOENT);
		free(prefix);
		test_fault_on(cases[i].from, cases[i].e);
		int ret = blob_writer_commit(&w, hash, NULL, &error);
		int calls = test_fault_calls;
		test_fault_off();
		ck_assert_msg(ret == cases[i].status, "case %zu: %d (%s)", i, ret, error);
		ck_assert_ptr_null(w);
		ck_assert_ptr_nonnull(strstr(error, "fsync"));
		ck_assert_int_gt(calls, cases[i].from);
		ck_assert_msg(test_blob_files(dir) == 0, "case %zu left files", i);
	}
	/* and with a working disk it is stored */
	test_fault_off();
	ck_assert_int_eq(blob_put(st, "Subject: fine\r\n\r\n", 17, hash, &error), STORE_OK);
	ck_assert_int_eq(test_blob_files(dir), 1);
	store_close(&st);
	free(dir);
}
END_TEST

/* blob_writer_link(): the blob is named at once and its folder's fsync
 * runs meanwhile (the syncer thread, or the waiter); blob_writer_wait_name()
 * gives that fsync's outcome, and a failed one is never taken for a
 * success (a later successful one covers a later link). */
START_TEST(test_link_then_wait)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct blob_sync_stats before, after;
	blob_sync_stats(&before);

	/* linked: the name is there before the wait */
	struct blob_writer *w;
	static const char text[] = "Subject: linked\r\n\r\nbody\r\n";
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, strlen(text), &error), STORE_OK);
	ck_assert_int_eq(blob_writer_link(w, hash, NULL, &error), STORE_OK);
	char *path = blob_path(st, hash);
	ck_assert_int_eq(access(path, R_OK), 0);
	ck_assert_int_eq(blob_writer_wait_name(w, &error), STORE_OK);
	ck_assert_int_eq(blob_writer_wait_name(w, &error), STORE_OK);	/* once owed */
	blob_writer_release(&w);
	free(path);
	blob_sync_stats(&after);
	ck_assert_uint_eq(after.links, before.links + 1);
	ck_assert_uint_ge(after.folder_syncs, before.folder_syncs + 1);

	/* the folder's fsync fails: the wait says so (the file's own fsync,
	 * the first call, works; the folder exists, so no sync of blobs/) */
	static const char text2[] = "Subject: folder fails\r\n\r\nbody\r\n";
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(text2, strlen(text2), hex);
	char *prefix = xasprintf("%s/blobs/%.2s", dir, hex);
	ck_assert(mkdir(prefix, 0700) == 0 || errno == EEXIST);
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text2, strlen(text2), &error), STORE_OK);
	test_fault_on(1, EIO);
	ck_assert_int_eq(blob_writer_link(w, hash, NULL, &error), STORE_OK);
	int ret = blob_writer_wait_name(w, &error);
	test_fault_off();
	ck_assert_int_eq(ret, STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "fsync"));
	ck_assert_ptr_nonnull(strstr(error, prefix));
	/* not acknowledged: thrown away, it leaves nothing */
	blob_writer_abort(&w);
	ck_assert_int_eq(test_blob_files(dir), 1);

	/* the disk works again: a link into that folder is made durable */
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text2, strlen(text2), &error), STORE_OK);
	ck_assert_int_eq(blob_writer_link(w, hash, NULL, &error), STORE_OK);
	ck_assert_int_eq(blob_writer_wait_name(w, &error), STORE_OK);
	blob_writer_release(&w);
	ck_assert_int_eq(test_blob_files(dir), 2);

	/* many links at once share the folders' fsyncs, never skip one */
	struct blob_writer *ws[16];
	blob_sync_stats(&before);
	for (int i = 0; i < 16; i++) {
		char t[64];
		snprintf(t, sizeof t, "Subject: many %d\r\n\r\nbody\r\n", i);
		ck_assert_int_eq(blob_writer_new(st, 0, &ws[i], &error), STORE_OK);
		ck_assert_int_eq(blob_write(ws[i], t, strlen(t), &error), STORE_OK);
		ck_assert_int_eq(blob_writer_link(ws[i], hash, NULL, &error), STORE_OK);
	}
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(blob_writer_wait_name(ws[i], &error), STORE_OK);
		blob_writer_release(&ws[i]);
	}
	blob_sync_stats(&after);
	ck_assert_uint_eq(after.links, before.links + 16);
	ck_assert_uint_ge(after.folder_syncs, before.folder_syncs + 1);
	ck_assert_uint_le(after.folder_syncs, before.folder_syncs + 16);
	ck_assert_int_eq(test_blob_files(dir), 18);
	free(prefix);
	store_close(&st);
	free(dir);
}
END_TEST

/* blob_writer_link() names the file before its bytes are synced: the
 * fsync of the file runs with its folder's, before the wait returns, and
 * a failing one fails the wait and leaves nothing. */
START_TEST(test_link_syncs_bytes_with_name)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct blob_writer *w;
	static const char text[] = "Subject: bytes and name\r\n\r\nbody\r\n";

	/* counting: the link syncs nothing itself, the wait the file and
	 * its folder */
	test_fault_on(1000, EIO);
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, strlen(text), &error), STORE_OK);
	ck_assert_int_eq(blob_writer_link(w, hash, NULL, &error), STORE_OK);
	ck_assert_int_eq(blob_writer_wait_name(w, &error), STORE_OK);
	ck_assert_int_ge(test_fault_calls, 2);
	test_fault_off();
	blob_writer_release(&w);
	ck_assert_int_eq(test_blob_files(dir), 1);

	/* the file's fsync fails (the first call: its folder exists) */
	static const char text2[] = "Subject: bytes fail\r\n\r\nbody\r\n";
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(text2, strlen(text2), hex);
	char *prefix = xasprintf("%s/blobs/%.2s", dir, hex);
	ck_assert(mkdir(prefix, 0700) == 0 || errno == EEXIST);
	free(prefix);
	ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text2, strlen(text2), &error), STORE_OK);
	test_fault_on(0, EIO);
	ck_assert_int_eq(blob_writer_link(w, hash, NULL, &error), STORE_OK);
	int ret = blob_writer_wait_name(w, &error);
	test_fault_off();
	ck_assert_int_eq(ret, STORE_ERROR);
	ck_assert_ptr_nonnull(strstr(error, "fsync"));
	blob_writer_abort(&w);
	ck_assert_int_eq(test_blob_files(dir), 1);
	store_close(&st);
	free(dir);
}
END_TEST

/* A name that holds other bytes than its content (a crash after the link
 * and before the sync, blob_writer_link()) is never taken for the blob:
 * a writer of that content checks the file it finds and replaces it,
 * whether it wrote a file of its own or found the content stored. */
START_TEST(test_wrong_content_replaced)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	static const char *texts[] = {
		"Subject: short after a crash\r\n\r\nbody\r\n",
		"Subject: deferred after a crash\r\n\r\nbody\r\n",
	};
	for (int i = 0; i < 2; i++) {
		const char *text = texts[i];
		size_t n = strlen(text);
		char hex[SHA256_HEX_LEN + 1];
		sha256_hex(text, n, hex);
		char *path = blob_path(st, hex);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs("Subject: sh", f);	/* less than the content */
		fclose(f);
		struct blob_writer *w;
		if (i == 0) {
			ck_assert_int_eq(blob_put(st, text, n, hash, &error), STORE_OK);
		} else {
			ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
			ck_assert_int_eq(blob_write(w, text, n, &error), STORE_OK);
			ck_assert_int_eq(blob_writer_place(w, hash, NULL, &error), STORE_OK);
			blob_writer_release(&w);
		}
		ck_assert_str_eq(hash, hex);
		size_t len = 0;
		char *got = test_read_file(path, &len);
		ck_assert_uint_eq(len, n);
		ck_assert(memcmp(got, text, n) == 0);
		free(got);
		free(path);
	}
	ck_assert_int_eq(test_blob_files(dir), 2);
	store_close(&st);
	free(dir);
}
END_TEST

/* A sealed message is readable and hashed before anything is flushed to
 * disk; thrown away it leaves nothing, placed it is made durable then. */
START_TEST(test_seal_then_place_or_abort)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	size_t n = 200000;	/* more than the writer's buffer */
	char *data = make_data(n, 5);
	char *back = xmalloc(n + 1);
	char *tmp = blobs_sub(dir, "tmp");
	char expect[SHA256_HEX_LEN + 1], sealed[SHA256_HEX_LEN + 1], placed[SHA256_HEX_LEN + 1];
	uint64_t size = 0;

	sha256_hex(data, n, expect);
	for (int keep = 0; keep < 2; keep++) {
		struct blob_writer *w;
		int fd = -1;
		ck_assert_int_eq(blob_writer_new(st, 0, &w, &error), STORE_OK);
		ck_assert_int_eq(blob_write(w, data, 1000, &error), STORE_OK);
		ck_assert_int_eq(blob_write(w, data + 1000, n - 1000, &error), STORE_OK);
		test_fault_on(1000, EIO);	/* only counting */
		ck_assert_int_eq(blob_writer_seal(w, sealed, &fd, &error), STORE_OK);
		ck_assert_int_eq(test_fault_calls, 0);	/* nothing flushed */
		ck_assert_str_eq(sealed, expect);
		ck_assert_int_eq(pread(fd, back, n + 1, 0), (ssize_t)n);
		ck_assert(memcmp(back, data, n) == 0);
		close(fd);
		/* sealed: no more bytes, and no second seal */
		ck_assert_int_eq(blob_write(w, "x", 1, &error), STORE_ERROR);
		ck_assert_int_eq(blob_writer_seal(w, sealed, &fd, &error), STORE_ERROR);
		if (!keep) {
			blob_writer_abort(&w);
			ck_assert_int_eq(test_fault_calls, 0);
			ck_assert_int_eq(count_files(tmp), 0);
			ck_assert_int_eq(test_blob_files(dir), 0);
			test_fault_off();
			continue;
		}
		ck_assert_int_eq(blob_writer_commit(&w, placed, &size, &error), STORE_OK);
		ck_assert_int_gt(test_fault_calls, 0);	/* the file and its name */
		test_fault_off();
		ck_assert_str_eq(placed, expect);
	}
	struct buf got = BUF_INIT;
	ck_assert_int_eq(blob_read(st, expect, &got, &error), STORE_OK);
	ck_assert_uint_eq(got.len, n);
	ck_assert(memcmp(got.data, data, n) == 0);
	ck_assert_int_eq(test_blob_files(dir), 1);
	buf_free(&got);
	free(tmp);
	free(back);
	free(data);
	store_close(&st);
	free(dir);
}
END_TEST

/* A deferred writer makes no file while its bytes fit in its buffer:
 * sealed, it is read from memory; thrown away, nothing was on disk;
 * placed, it is written and made durable then.  A bigger one has its
 * file as soon as the buffer overflows. */
START_TEST(test_deferred_writer)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char *tmp = blobs_sub(dir, "tmp");
	char hash[SHA256_HEX_LEN + 1], expect[SHA256_HEX_LEN + 1], placed[SHA256_HEX_LEN + 1];
	char back[64];
	static const char text[] = "Subject: deferred\r\n\r\nsmall body\r\n";
	size_t n = sizeof text - 1;

	sha256_hex(text, n, expect);
	for (int keep = 0; keep < 2; keep++) {
		struct blob_writer *w;
		int fd = -1;
		ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
		ck_assert_int_eq(blob_write(w, text, n, &error), STORE_OK);
		test_fault_on(1000, EIO);	/* only counting */
		ck_assert_int_eq(blob_writer_seal(w, hash, &fd, &error), STORE_OK);
		ck_assert_str_eq(hash, expect);
		ck_assert_int_eq(count_files(tmp), 0);
		ck_assert_int_eq(pread(fd, back, sizeof back, 0), (ssize_t)n);
		ck_assert(memcmp(back, text, n) == 0);
		close(fd);
		if (!keep) {
			blob_writer_abort(&w);
		} else {
			ck_assert_int_eq(blob_writer_commit(&w, placed, NULL, &error), STORE_OK);
			ck_assert_str_eq(placed, expect);
		}
		/* placed: the file and its folder (and blobs/ for a new one) */
		if (keep)
			ck_assert_int_ge(test_fault_calls, 2);
		else
			ck_assert_int_eq(test_fault_calls, 0);
		test_fault_off();
		ck_assert_int_eq(count_files(tmp), 0);
		ck_assert_int_eq(test_blob_files(dir), keep);
	}
	struct buf got = BUF_INIT;
	ck_assert_int_eq(blob_read(st, expect, &got, &error), STORE_OK);
	ck_assert_uint_eq(got.len, n);
	buf_free(&got);
	/* past the buffer: a file at once */
	struct blob_writer *w;
	char *big = make_data(100000, 9);
	ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(count_files(tmp), 0);
	ck_assert_int_eq(blob_write(w, big, 100000, &error), STORE_OK);
	ck_assert_int_eq(count_tmp(tmp), 1);
	blob_writer_abort(&w);
	ck_assert_int_eq(count_files(tmp), 0);
	free(big);
	free(tmp);
	store_close(&st);
	free(dir);
}
END_TEST

/* A deferred writer of content stored before, all of it in its buffer,
 * makes no temporary file and syncs nothing when finished: it holds the
 * blob that has the name, and placing it syncs at most that folder.  A
 * refusal then leaves the blob there (it was not ours); a blob removed
 * before the writer finished is written again in full. */
START_TEST(test_deferred_stored_before)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char *tmp = blobs_sub(dir, "tmp");
	char h1[SHA256_HEX_LEN + 1], hash[SHA256_HEX_LEN + 1];
	static const char text[] = "Subject: again\r\n\r\nthe same body\r\n";
	size_t n = sizeof text - 1;

	ck_assert_int_eq(blob_put(st, text, n, h1, &error), STORE_OK);
	char *path = blob_path(st, h1);
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ino_t ino = sb.st_ino;
	int fds_before = count_files("/proc/self/fd");

	/* placed: the same file, nothing written */
	struct blob_writer *w;
	uint64_t size = 0;
	ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, n, &error), STORE_OK);
	test_fault_on(1000, EIO);	/* only counting */
	ck_assert_int_eq(blob_writer_finish(w, &error), STORE_OK);
	ck_assert_int_eq(test_fault_calls, 0);
	ck_assert_int_eq(count_tmp(tmp), 0);
	/* the blob is held from now on: a removal passes it by */
	int lfd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), -1);
	close(lfd);
	ck_assert_int_eq(blob_writer_place(w, hash, &size, &error), STORE_OK);
	/* its folder at most: nothing written, and the held file, synced
	 * before it was named, not synced again */
	ck_assert_int_le(test_fault_calls, 1);
	test_fault_off();
	blob_writer_release(&w);
	ck_assert_str_eq(hash, h1);
	ck_assert_uint_eq(size, n);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_ino, ino);
	ck_assert_int_eq(test_blob_files(dir), 1);

	/* refused after finishing: the stored blob stays */
	ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, n, &error), STORE_OK);
	ck_assert_int_eq(blob_writer_finish(w, &error), STORE_OK);
	blob_writer_abort(&w);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_ino, ino);

	/* gone before the writer finished: written, synced and named anew */
	ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, n, &error), STORE_OK);
	ck_assert_int_eq(unlink(path), 0);
	test_fault_on(1000, EIO);
	ck_assert_int_eq(blob_writer_finish(w, &error), STORE_OK);
	ck_assert_int_ge(test_fault_calls, 1);
	test_fault_off();
	ck_assert_int_eq(blob_writer_place(w, hash, NULL, &error), STORE_OK);
	blob_writer_release(&w);
	ck_assert_str_eq(hash, h1);
	struct buf got = BUF_INIT;
	ck_assert_int_eq(blob_read(st, h1, &got, &error), STORE_OK);
	ck_assert_uint_eq(got.len, n);
	ck_assert(memcmp(got.data, text, n) == 0);
	buf_free(&got);
	ck_assert_int_eq(count_files(tmp), 0);
	ck_assert_int_eq(count_files("/proc/self/fd"), fds_before);
	free(path);
	free(tmp);
	store_close(&st);
	free(dir);
}
END_TEST

/* Writers finished before they are placed (an IMAP MULTIAPPEND): the
 * first ANON_KEPT_MAX (64) keep their unnamed file open, the rest are
 * named in blobs/tmp and closed, so descriptors stay bounded; each is
 * placed whole, and nothing is left in blobs/tmp. */
START_TEST(test_finished_writers_bounded)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char *tmp = blobs_sub(dir, "tmp");
	enum { N = 70 };
	struct blob_writer *w[N];
	char *data[N];
	int fds_before = count_files("/proc/self/fd");

	for (int i = 0; i < N; i++) {
		data[i] = make_data(1000 + (size_t)i, (unsigned)i);
		ck_assert_int_eq(blob_writer_new(st, 0, &w[i], &error), STORE_OK);
		ck_assert_int_eq(blob_write(w[i], data[i], 1000 + (size_t)i, &error),
				 STORE_OK);
		ck_assert_int_eq(blob_writer_finish(w[i], &error), STORE_OK);
	}
	ck_assert_int_eq(count_files(tmp), N - 64);
	ck_assert_int_le(count_files("/proc/self/fd"), fds_before + 64);
	for (int i = 0; i < N; i++) {
		char hash[SHA256_HEX_LEN + 1], expect[SHA256_HEX_LEN + 1];
		uint64_t size = 0;
		ck_assert_int_eq(blob_writer_place(w[i], hash, &size, &error), STORE_OK);
		blob_writer_release(&w[i]);
		sha256_hex(data[i], 1000 + (size_t)i, expect);
		ck_assert_str_eq(hash, expect);
		ck_assert_uint_eq(size, 1000 + (uint64_t)i);
		struct buf out = BUF_INIT;
		ck_assert_int_eq(blob_read(st, hash, &out, &error), STORE_OK);
		ck_assert_uint_eq(out.len, 1000 + (size_t)i);
		ck_assert(memcmp(out.data, data[i], out.len) == 0);
		buf_free(&out);
		free(data[i]);
	}
	ck_assert_int_eq(count_files(tmp), 0);
	ck_assert_int_eq(count_files("/proc/self/fd"), fds_before);
	free(tmp);
	store_close(&st);
	free(dir);
}
END_TEST

/* The blob folder of a new data directory is laid out by store_open():
 * blobs/tmp and the 256 XX folders, with the store's mode, and blobs/
 * marked as a top folder where the filesystem has the flag (ext4).  A
 * small message of a deferred writer gets its unnamed file in the folder
 * of its name; a folder missing (a data directory from before, made once
 * per process) is made when a blob is placed in it. */
START_TEST(test_dir_prepared)
{
	char *dir = test_tmpdir();
	umask(077);
	struct store *st = test_store_open(dir);
	umask(022);
	const char *error = NULL;
	struct stat sb;
	for (unsigned i = 0; i < 257; i++) {
		char *p = i < 256 ? xasprintf("%s/blobs/%02x", dir, i) : blobs_sub(dir, "tmp");
		ck_assert_int_eq(stat(p, &sb), 0);
		ck_assert(S_ISDIR(sb.st_mode));
		ck_assert_uint_eq(sb.st_mode & 07777, 0750);
		ck_assert_int_eq(count_files(p), 0);
		free(p);
	}
	char *blobs = xasprintf("%s/blobs", dir);
	int fd = open(blobs, O_RDONLY | O_DIRECTORY);
	int flags = 0;
	ck_assert_int_ge(fd, 0);
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		/* what this filesystem keeps of the flag (none: not ext4) */
		int probe_flags = 0;
		char *probe = xasprintf("%s/probe", dir);
		ck_assert_int_eq(mkdir(probe, 0700), 0);
		int pfd = open(probe, O_RDONLY | O_DIRECTORY);
		int kept = ioctl(pfd, FS_IOC_GETFLAGS, &probe_flags) == 0 &&
			   (probe_flags |= FS_TOPDIR_FL,
			    ioctl(pfd, FS_IOC_SETFLAGS, &probe_flags) == 0) &&
			   ioctl(pfd, FS_IOC_GETFLAGS, &probe_flags) == 0 &&
			   (probe_flags & FS_TOPDIR_FL) != 0;
		close(pfd);
		rmdir(probe);
		free(probe);
		if (kept)
			ck_assert_msg(flags & FS_TOPDIR_FL, "blobs/ not marked FS_TOPDIR_FL");
	}
	close(fd);

	/* a small message: its unnamed file in its own folder */
	static const char text[] = "Subject: where\r\n\r\nits own folder\r\n";
	char expect[SHA256_HEX_LEN + 1], hash[SHA256_HEX_LEN + 1];
	sha256_hex(text, sizeof text - 1, expect);
	char *prefix = xasprintf("%s/blobs/%.2s", dir, expect);
	char *tmp = blobs_sub(dir, "tmp");
	struct blob_writer *w;
	ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
	ck_assert_int_eq(blob_write(w, text, sizeof text - 1, &error), STORE_OK);
	ck_assert_int_eq(blob_writer_finish(w, &error), STORE_OK);
	ck_assert_int_eq(count_tmp(prefix), 1);
	ck_assert_int_eq(count_files(prefix), 0);
	ck_assert_int_eq(count_tmp(tmp), 0);
	ck_assert_int_eq(blob_writer_commit(&w, hash, NULL, &error), STORE_OK);
	ck_assert_str_eq(hash, expect);
	ck_assert_int_eq(count_files(prefix), 1);
	ck_assert_int_eq(count_tmp(prefix), 1);	/* the name, no longer unnamed */

	/* its folder gone (as in a data directory from before): still placed */
	static const char text2[] = "Subject: again\r\n\r\na folder made at once\r\n";
	char expect2[SHA256_HEX_LEN + 1];
	sha256_hex(text2, sizeof text2 - 1, expect2);
	char *prefix2 = xasprintf("%s/blobs/%.2s", dir, expect2);
	if (strcmp(prefix2, prefix) != 0) {
		ck_assert_int_eq(rmdir(prefix2), 0);
		ck_assert_int_eq(rmdir(tmp), 0);
		store_close(&st);
		st = test_store_open(dir);	/* prepared once per process */
		ck_assert_int_eq(stat(prefix2, &sb), -1);
		/* but blobs/tmp comes back at every store_open() */
		ck_assert_int_eq(stat(tmp, &sb), 0);
		ck_assert_uint_eq(sb.st_mode & 07777, 0750);
		ck_assert_int_eq(blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
		ck_assert_int_eq(blob_write(w, text2, sizeof text2 - 1, &error), STORE_OK);
		ck_assert_int_eq(blob_writer_commit(&w, hash, NULL, &error), STORE_OK);
		ck_assert_str_eq(hash, expect2);
		ck_assert_int_eq(count_files(prefix2), 1);
		ck_assert_int_eq(count_tmp(tmp), 0);
		struct buf got = BUF_INIT;
		ck_assert_int_eq(blob_read(st, expect2, &got, &error), STORE_OK);
		ck_assert_uint_eq(got.len, sizeof text2 - 1);
		buf_free(&got);
	}
	ck_assert_int_eq(test_blob_files(dir), 2);
	free(prefix2);
	free(prefix);
	free(tmp);
	free(blobs);
	store_close(&st);
	free(dir);
}
END_TEST

/* A deferred writer's message, all in its buffer, goes into the read
 * cache when it is placed (the delivery reads it again at once): read
 * from memory then, as its file's removal behind the store's back shows;
 * one written through a file is not, nor one only finished (an IMAP
 * MULTIAPPEND's, placed later). */
START_TEST(test_placed_into_read_cache)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct buf got = BUF_INIT;
	struct blob_writer *w;
	static const char *const texts[] = {
		"Subject: seeded\r\n\r\nread again at once\r\n",
		"Subject: not seeded\r\n\r\nwritten through a file\r\n",
		"Subject: finished\r\n\r\nplaced later\r\n",
	};
	blob_cache_clear();
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(texts[i]);
		ck_assert_int_eq(i == 1 ? blob_writer_new(st, 0, &w, &error)
					: blob_writer_new_deferred(st, 0, &w, &error), STORE_OK);
		ck_assert_int_eq(blob_write(w, texts[i], n, &error), STORE_OK);
		if (i == 2)
			ck_assert_int_eq(blob_writer_finish(w, &error), STORE_OK);
		ck_assert_int_eq(blob_writer_commit(&w, hash, NULL, &error), STORE_OK);
		char *path = blob_path(st, hash);
		ck_assert_int_eq(unlink(path), 0);
		free(path);
		buf_reset(&got);
		ck_assert_int_eq(blob_read(st, hash, &got, &error), STORE_NOTFOUND);
		buf_reset(&got);
		if (i == 0) {
			ck_assert_int_eq(blob_read_cached(st, hash, &got, &error), STORE_OK);
			ck_assert_uint_eq(got.len, n);
			ck_assert(memcmp(got.data, texts[i], n) == 0);
		} else {
			ck_assert_int_eq(blob_read_cached(st, hash, &got, &error), STORE_NOTFOUND);
		}
	}
	buf_free(&got);
	blob_cache_clear();
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("blob");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stream_equals_put);
	tcase_add_test(tc, test_dedupe_refreshes_mtime);
	tcase_add_test(tc, test_max_size_counts);
	tcase_add_test(tc, test_abort_leaves_nothing);
	tcase_add_test(tc, test_open_read_errors);
	tcase_add_test(tc, test_read_cached);
	tcase_add_test(tc, test_refusal_after_placing);
	tcase_add_test(tc, test_failing_fsync);
	tcase_add_test(tc, test_link_then_wait);
	tcase_add_test(tc, test_link_syncs_bytes_with_name);
	tcase_add_test(tc, test_wrong_content_replaced);
	tcase_add_test(tc, test_seal_then_place_or_abort);
	tcase_add_test(tc, test_deferred_writer);
	tcase_add_test(tc, test_deferred_stored_before);
	tcase_add_test(tc, test_finished_writers_bounded);
	tcase_add_test(tc, test_dir_prepared);
	tcase_add_test(tc, test_placed_into_read_cache);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * backup: a consistent online copy of data_dir, and its restoration
 * (backup.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/backup.h"
#include "store/blob.h"
#include "store/store_int.h"

/* Every blob a database references (what store_blob_referenced() and the
 * queue and learning jobs count). */
static const char SQL_BLOBS[] =
	"SELECT blob FROM messages UNION SELECT blob FROM expunged WHERE blob IS NOT NULL"
	" UNION SELECT blob FROM queue_messages UNION SELECT blob FROM spam_learn";

static int
sys_error(const char *what, const char *path, const char **error_r)
{
	int e = errno;
	*error_r = errfmt("cannot %s %s: %s", what, path, strerror(e));
	return blob_errno_status(e);
}

static int
mkdir_mode(const char *path, mode_t mode, const char **error_r)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return sys_error("create", path, error_r);
	return STORE_OK;
}

static int
sync_dir(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int ret = sys_error("sync", path, error_r);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	return STORE_OK;
}

/*
 * Copies src to dst through dst.tmp, fsynced, with mode; when hash is not
 * NULL, the bytes read must hash to it (a corrupt blob is never passed
 * on).  *bytes_r (may be NULL) gets the size.
 */
static int
copy_file(const char *src, const char *dst, const char *hash, mode_t mode, uint64_t *bytes_r,
	  const char **error_r)
{
	char *tmp = xasprintf("%s.tmp", dst);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = -1, ret = STORE_ERROR;
	struct sha256_ctx *sha = hash != NULL ? sha256_new() : NULL;
	uint64_t total = 0;
	char buf[65536];
	if (in < 0) {
		ret = sys_error("read", src, error_r);
		goto out;
	}
	unlink(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0 || fchmod(out, mode) < 0) {
		ret = sys_error("create", tmp, error_r);
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sys_error("read", src, error_r);
			goto out;
		}
		if (n == 0)
			break;
		if (sha != NULL)
			sha256_update(sha, buf, (size_t)n);
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ret = sys_error("write", tmp, error_r);
				goto out;
			}
			done += w;
		}
		total += (uint64_t)n;
	}
	if (sha != NULL) {
		char got[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&sha, got);
		if (strcmp(got, hash) != 0) {
			*error_r = errfmt("%s is corrupt: its content hashes to %s (run mailhub fsck)",
					  src, got);
			goto out;
		}
	}
	if (blob_fsync_fn(out) < 0) {
		ret = sys_error("sync", tmp, error_r);
		goto out;
	}
	if (close(out) < 0) {
		out = -1;
		ret = sys_error("close", tmp, error_r);
		goto out;
	}
	out = -1;
	if (rename(tmp, dst) < 0) {
		ret = sys_error("rename", tmp, error_r);
		goto out;
	}
	if (bytes_r != NULL)
		*bytes_r = total;
	ret = STORE_OK;
out:
	if (sha != NULL) {
		char dummy[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&sha, dummy);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (ret != STORE_OK)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* The blobs a database file references, sorted. */
static int
referenced_blobs(const char *db_path, char ***list_r, size_t *n_r, const char **error_r)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	*list_r = NULL;
	*n_r = 0;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, SQL_BLOBS, -1, &s, NULL) != SQLITE_OK) {
		*error_r = errfmt("cannot read %s: %s", db_path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return STORE_ERROR;
	}
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *b = (const char *)sqlite3_column_text(s, 0);
		if (b == NULL || strlen(b) != SHA256_HEX_LEN || !is_lower_hex(b, SHA256_HEX_LEN))
			continue;
		if (*n_r == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			*list_r = xreallocarray(*list_r, cap, sizeof **list_r);
		}
		(*list_r)[(*n_r)++] = xstrdup(b);
	}
	int ret = STORE_OK;
	if (rc != SQLITE_DONE) {
		*error_r = errfmt("cannot read %s: %s", db_path, sqlite3_errmsg(db));
		store_strv_free(list_r, *n_r);
		*n_r = 0;
		ret = STORE_ERROR;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ret;
}

/* The blobs of list copied from src_blobs into dst_blobs (those there
 * already kept when check_existing is false), each verified. */
static int
copy_blobs(const char *src_blobs, const char *dst_blobs, char **list, size_t n,
	   bool check_existing, struct store_backup_report *r, const char **error_r)
{
	int ret = mkdir_mode(dst_blobs, STORE_DIR_MODE, error_r);
	if (ret != STORE_OK)
		return ret;
	char made[256] = { 0 };
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		const char *h = list[i];
		char *dir = xasprintf("%s/%.2s", dst_blobs, h);
		char *dst = xasprintf("%s/%s", dir, h);
		char *src = xasprintf("%s/%.2s/%s", src_blobs, h, h);
		struct stat sb;
		unsigned idx = (unsigned)strtoul((char[3]){ h[0], h[1], 0 }, NULL, 16);
		if (!made[idx]) {
			ret = mkdir_mode(dir, STORE_DIR_MODE, error_r);
			made[idx] = 1;
		}
		if (ret == STORE_OK && (check_existing || stat(dst, &sb) < 0)) {
			uint64_t bytes;
			ret = copy_file(src, dst, h, STORE_BLOB_MODE, &bytes, error_r);
			if (ret == STORE_OK) {
				r->copied++;
				r->bytes += bytes;
			}
		}
		free(dir);
		free(dst);
		free(src);
	}
	if (ret != STORE_OK)
		return ret;
	for (unsigned idx = 0; idx < 256; idx++) {
		if (!made[idx])
			continue;
		char *dir = xasprintf("%s/%02x", dst_blobs, idx);
		ret = sync_dir(dir, error_r);
		free(dir);
		if (ret != STORE_OK)
			return ret;
	}
	return sync_dir(dst_blobs, error_r);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes from dst_blobs what list (sorted) does not hold. */
static void
prune_blobs(const char *dst_blobs, char **list, size_t n, struct store_backup_report *r)
{
	DIR *top = opendir(dst_blobs);
	struct dirent *e;
	if (top == NULL)
		return;
	while ((e = readdir(top)) != NULL) {
		if (strlen(e->d_name) != 2 || !is_lower_hex(e->d_name, 2))
			continue;
		char *dir = xasprintf("%s/%s", dst_blobs, e->d_name);
		DIR *d = opendir(dir);
		struct dirent *f;
		while (d != NULL && (f = readdir(d)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			const char *key = f->d_name;
			if (strlen(key) == SHA256_HEX_LEN &&
			    bsearch(&key, list, n, sizeof *list, cmp_str) != NULL)
				continue;
			char *path = xasprintf("%s/%s", dir, f->d_name);
			if (unlink(path) == 0)
				r->removed++;
			free(path);
		}
		if (d != NULL)
			closedir(d);
		free(dir);
	}
	closedir(top);
}

/* secret.key and the TLS pair of tls/ from src to dst, when present. */
static int
copy_keys(const char *src, const char *dst, const char **error_r)
{
	static const char *const files[] = { "secret.key", "tls/cert.pem", "tls/key.pem" };
	char *tls = xasprintf("%s/tls", dst);
	int ret = mkdir_mode(tls, 0700, error_r);
	free(tls);
	for (size_t i = 0; i < sizeof files / sizeof files[0] && ret == STORE_OK; i++) {
		char *s = xasprintf("%s/%s", src, files[i]);
		char *d = xasprintf("%s/%s", dst, files[i]);
		if (access(s, F_OK) == 0)
			ret = copy_file(s, d, NULL, 0600, NULL, error_r);
		free(s);
		free(d);
	}
	return ret;
}

int
store_backup(struct store *st, const char *dir, struct store_backup_report *r,
	     const char **error_r)
{
	memset(r, 0, sizeof *r);
	int ret = mkdir_mode(dir, 0700, error_r);
	if (ret != STORE_OK)
		return ret;
	char *tmp = xasprintf("%s/mailhub.db.tmp", dir);
	char *final = xasprintf("%s/mailhub.db", dir);
	char *dst_blobs = xasprintf("%s/blobs", dir);
	char **list = NULL;
	size_t n = 0;
	sqlite3 *dst = NULL;
	unlink(tmp);
	/* 1: the database as it is at one instant (all pages in one step) */
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*error_r = errfmt("cannot create %s: %s", tmp, sqlite3_errmsg(dst));
		ret = STORE_ERROR;
		goto out;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
	int rc = SQLITE_ERROR;
	if (b != NULL) {
		sqlite3_busy_timeout(dst, 10000);
		do {
			rc = sqlite3_backup_step(b, -1);
			if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
				sqlite3_sleep(50);
		} while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
		sqlite3_backup_finish(b);
	}
	if (rc != SQLITE_DONE) {
		*error_r = errfmt("cannot copy the database: %s", sqlite3_errmsg(dst));
		ret = STORE_ERROR;
		goto out;
	}
	/* the copy as one file, not in WAL mode */
	(void)sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	sqlite3_close(dst);
	dst = NULL;
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || blob_fsync_fn(fd) < 0 || fchmod(fd, STORE_DB_MODE) < 0) {
		ret = sys_error("sync", tmp, error_r);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	/* 2: the blobs it references, then the keys, then the database */
	if ((ret = referenced_blobs(tmp, &list, &n, error_r)) != STORE_OK)
		goto out;
	qsort(list, n, sizeof *list, cmp_str);
	r->blobs = (unsigned)n;
	if ((ret = copy_blobs(st->blob_dir, dst_blobs, list, n, false, r, error_r)) != STORE_OK)
		goto out;
	if ((ret = copy_keys(st->data_dir, dir, error_r)) != STORE_OK)
		goto out;
	if (rename(tmp, final) < 0) {
		ret = sys_error("rename", tmp, error_r);
		goto out;
	}
	if ((ret = sync_dir(dir, error_r)) != STORE_OK)
		goto out;
	prune_blobs(dst_blobs, list, n, r);
out:
	if (dst != NULL)
		sqlite3_close(dst);
	if (ret != STORE_OK)
		unlink(tmp);
	store_strv_free(&list, n);
	free(tmp);
	free(final);
	free(dst_blobs);
	return ret;
}

int
store_restore(const char *dir, const char *data_dir, struct store_backup_report *r,
	      const char **error_r)
{
	memset(r, 0, sizeof *r);
	char *db = xasprintf("%s/mailhub.db", dir);
	char *dst_db = xasprintf("%s/mailhub.db", data_dir);
	char *src_blobs = xasprintf("%s/blobs", dir);
	char *dst_blobs = xasprintf("%s/blobs", data_dir);
	char *tmp_blobs = xasprintf("%s/blobs/tmp", data_dir);
	char **list = NULL;
	size_t n = 0;
	int ret = STORE_ERROR;
	DIR *d = opendir(data_dir);
	if (d != NULL) {
		struct dirent *e;
		bool empty = true;
		while ((e = readdir(d)) != NULL)
			empty = empty && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
		closedir(d);
		if (!empty) {
			*error_r = errfmt("%s is not empty: restore only into an empty data_dir",
					  data_dir);
			goto out;
		}
	}
	if (access(db, R_OK) < 0) {
		*error_r = errfmt("%s holds no backup (no mailhub.db)", dir);
		goto out;
	}
	if ((ret = mkdir_mode(data_dir, STORE_DIR_MODE, error_r)) != STORE_OK ||
	    (ret = referenced_blobs(db, &list, &n, error_r)) != STORE_OK)
		goto out;
	r->blobs = (unsigned)n;
	if ((ret = copy_blobs(src_blobs, dst_blobs, list, n, true, r, error_r)) != STORE_OK ||
	    (ret = mkdir_mode(tmp_blobs, STORE_DIR_MODE, error_r)) != STORE_OK ||
	    (ret = copy_keys(dir, data_dir, error_r)) != STORE_OK ||
	    (ret = copy_file(db, dst_db, NULL, STORE_DB_MODE, NULL, error_r)) != STORE_OK)
		goto out;
	ret = sync_dir(data_dir, error_r);
out:
	store_strv_free(&list, n);
	free(db);
	free(dst_db);
	free(src_blobs);
	free(dst_blobs);
	free(tmp_blobs);
	return ret;
}

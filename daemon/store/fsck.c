/*
 * fsck and gc: the database and the blob folder checked against each
 * other.  Nothing referenced is ever removed; what is not referenced is
 * removed only when it is old enough that no delivery can be about to
 * commit a row for it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/imapdb.h"
#include "store/store_int.h"

/* store.h: repair removes orphans and temporary files older than this. */
#define FSCK_MIN_AGE 3600

static const char SQL_BLOB_ROWS[] =
	"SELECT blob, count(*) FROM messages GROUP BY blob";
static const char SQL_USED[] =
	"SELECT u.id, u.address, u.used, coalesce((SELECT sum(m.size)"
	" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE b.user_id = u.id), 0) FROM users u ORDER BY u.id";
static const char SQL_FIX_USED[] =
	"UPDATE users SET used = coalesce((SELECT sum(m.size)"
	" FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE b.user_id = users.id), 0) WHERE id = ?1";
static const char SQL_COUNTERS[] =
	"SELECT b.id, b.name, u.address, b.messages, b.unseen, b.uidnext,"
	" (SELECT count(*) FROM messages WHERE mailbox_id = b.id),"
	" (SELECT count(*) FROM messages WHERE mailbox_id = b.id AND flags & 1 = 0),"
	" (SELECT coalesce(max(uid), 0) FROM messages WHERE mailbox_id = b.id)"
	" FROM mailboxes b JOIN users u ON u.id = b.user_id ORDER BY b.id";
static const char SQL_FIX_COUNTERS[] =
	"UPDATE mailboxes SET"
	" messages = (SELECT count(*) FROM messages WHERE mailbox_id = ?1),"
	" unseen = (SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND flags & 1 = 0),"
	" uidnext = max(uidnext, (SELECT coalesce(max(uid), 0) + 1 FROM messages"
	" WHERE mailbox_id = ?1)) WHERE id = ?1";

static void say(FILE *out, const char *fmt, ...) MH_PRINTF(2, 3);

static void
say(FILE *out, const char *fmt, ...)
{
	va_list ap;
	if (out == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static bool
is_prefix_dir(const char *name)
{
	return is_lower_hex(name, 2);
}

/*
 * Removes blob dir/name when it is at least min_age seconds old and no row
 * references it.  The file is first moved aside into blobs/tmp: a delivery
 * of the same content that touches it from now on finds it gone and puts
 * its own copy in place; one that touched it just before shows in the
 * mtime of the moved file, which then goes back.  1: removed, 0: kept,
 * -1: error.
 */
static int
remove_if_unused(struct store *st, const char *hash, unsigned min_age,
		 const char **error_r)
{
	char *path = blob_path(st, hash);
	char *aside = xasprintf("%s/tmp/gc-%s", st->blob_dir, hash);
	struct stat sb;
	int ret = 0;

	int64_t now = store_now();
	if (stat(path, &sb) < 0 || now - (int64_t)sb.st_mtime < (int64_t)min_age)
		goto out;
	int ref = store_blob_referenced(st, hash);
	if (ref != 0) {
		ret = ref < 0 ? -1 : 0;
		if (ref < 0)
			*error_r = errfmt("cannot look up blob %s", hash);
		goto out;
	}
	if (rename(path, aside) < 0) {
		if (errno != ENOENT) {
			*error_r = errfmt("cannot move %s aside: %s", path,
					  strerror(errno));
			ret = -1;
		}
		goto out;
	}
	if (stat(aside, &sb) == 0 &&
	    now - (int64_t)sb.st_mtime >= (int64_t)min_age &&
	    store_blob_referenced(st, hash) == 0) {
		if (unlink(aside) < 0) {
			*error_r = errfmt("cannot remove %s: %s", aside,
					  strerror(errno));
			ret = -1;
		} else {
			ret = 1;
		}
		goto out;
	}
	/* Touched or referenced meanwhile: it stays.  A copy put in place
	 * meanwhile has the same content, so overwriting it is harmless. */
	if (rename(aside, path) < 0) {
		*error_r = errfmt("cannot move %s back to %s: %s", aside, path,
				  strerror(errno));
		ret = -1;
	}
out:
	free(path);
	free(aside);
	return ret;
}

/* SHA-256 of a file as hex; -1 when it cannot be read. */
static int
hash_file(const char *path, char out[SHA256_HEX_LEN + 1])
{
	char buffer[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct sha256_ctx *ctx = sha256_new();
	ssize_t r;
	while ((r = read(fd, buffer, sizeof buffer)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			sha256_finish_hex(&ctx, out);
			close(fd);
			return -1;
		}
		sha256_update(ctx, buffer, (size_t)r);
	}
	close(fd);
	sha256_finish_hex(&ctx, out);
	return 0;
}

struct walk {
	struct store *st;
	bool repair;
	FILE *out;
	struct store_fsck_report *rep;
	int64_t now;
};

static void
check_tmp(struct walk *w)
{
	char *dir = xasprintf("%s/tmp", w->st->blob_dir);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		struct stat sb;
		if (lstat(path, &sb) == 0) {
			bool old = w->now - (int64_t)sb.st_mtime >= FSCK_MIN_AGE;
			w->rep->stray_files++;
			if (w->repair && old && S_ISREG(sb.st_mode) && unlink(path) == 0) {
				w->rep->removed++;
				say(w->out, "stray file %s: removed", path);
			} else {
				say(w->out, "stray file %s%s", path,
				    old ? "" : " (young: may be a delivery in progress)");
			}
		}
		free(path);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
}

static void
check_blob(struct walk *w, const char *prefix, const char *name, const char *path)
{
	char hash[SHA256_HEX_LEN + 1];
	const char *error;

	if (strlen(name) != SHA256_HEX_LEN || !is_lower_hex(name, SHA256_HEX_LEN) ||
	    strncmp(name, prefix, 2) != 0) {
		w->rep->stray_files++;
		say(w->out, "stray file %s: not a blob name (kept)", path);
		return;
	}
	w->rep->blobs++;
	if (hash_file(path, hash) < 0) {
		w->rep->corrupt_blobs++;
		say(w->out, "corrupt blob %s: cannot read: %s (kept)", name,
		    strerror(errno));
		return;
	}
	int ref = store_blob_referenced(w->st, name);
	if (strcmp(hash, name) != 0) {
		/* Never removed: it may be all that is left of a message. */
		w->rep->corrupt_blobs++;
		say(w->out, "corrupt blob %s: content hashes to %s (kept%s)", name,
		    hash, ref > 0 ? ", referenced" : "");
	}
	if (ref != 0)
		return;
	w->rep->orphan_blobs++;
	if (!w->repair) {
		say(w->out, "orphan blob %s: no message refers to it", name);
		return;
	}
	int r = remove_if_unused(w->st, name, FSCK_MIN_AGE, &error);
	if (r > 0) {
		w->rep->removed++;
		say(w->out, "orphan blob %s: removed", name);
	} else if (r == 0) {
		say(w->out, "orphan blob %s: kept (younger than an hour)", name);
	} else {
		say(w->out, "orphan blob %s: %s", name, error);
	}
}

static int
walk_blobs(struct walk *w, const char **error_r)
{
	DIR *top = opendir(w->st->blob_dir);
	struct dirent *e;

	if (top == NULL) {
		*error_r = errfmt("cannot open %s: %s", w->st->blob_dir,
				  strerror(errno));
		return STORE_ERROR;
	}
	while ((e = readdir(top)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (strcmp(e->d_name, "tmp") == 0) {
			check_tmp(w);
			continue;
		}
		char *dir = xasprintf("%s/%s", w->st->blob_dir, e->d_name);
		DIR *d = is_prefix_dir(e->d_name) ? opendir(dir) : NULL;
		if (d == NULL) {
			w->rep->stray_files++;
			say(w->out, "stray file %s: unknown (kept)", dir);
			free(dir);
			continue;
		}
		struct dirent *f;
		while ((f = readdir(d)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			char *path = xasprintf("%s/%s", dir, f->d_name);
			check_blob(w, e->d_name, f->d_name, path);
			free(path);
		}
		closedir(d);
		free(dir);
	}
	closedir(top);
	return STORE_OK;
}

static int
check_rows(struct walk *w, const char **error_r)
{
	int rc;
	sqlite3_stmt *s = store_stmt(w->st, SQL_BLOB_ROWS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(s, 0);
		unsigned rows = (unsigned)sqlite3_column_int64(s, 1);
		w->rep->rows += rows;
		if (hash == NULL || !is_lower_hex(hash, SHA256_HEX_LEN)) {
			w->rep->missing_blobs += rows;
			say(w->out, "%u message(s) refer to the invalid blob name '%s'",
			    rows, esc_str(hash));
			continue;
		}
		char *path = blob_path(w->st, hash);
		struct stat sb;
		if (stat(path, &sb) < 0) {
			w->rep->missing_blobs += rows;
			say(w->out, "missing blob %s: %u message(s) refer to it",
			    hash, rows);
		}
		free(path);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(w->st, "cannot read messages");
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Users' used bytes and mailboxes' counters against the rows. */
static int
check_counters(struct walk *w, const char **error_r)
{
	int64_t *fix_users = NULL, *fix_boxes = NULL;
	size_t n_users = 0, n_boxes = 0;
	int rc, ret = STORE_OK;

	/* One transaction: counts and repairs see the same rows. */
	if (store_begin(w->st, error_r) < 0)
		return STORE_ERROR;
	sqlite3_stmt *s = store_stmt(w->st, SQL_USED);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t used = sqlite3_column_int64(s, 2);
		int64_t real = sqlite3_column_int64(s, 3);
		if (used == real)
			continue;
		w->rep->used_fixed++;
		say(w->out, "user %s: used is %lld bytes, messages add up to %lld%s",
		    (const char *)sqlite3_column_text(s, 1), (long long)used,
		    (long long)real, w->repair ? ": fixed" : "");
		fix_users = xreallocarray(fix_users, n_users + 1, sizeof *fix_users);
		fix_users[n_users++] = sqlite3_column_int64(s, 0);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE)
		goto fail;
	s = store_stmt(w->st, SQL_COUNTERS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t messages = sqlite3_column_int64(s, 3);
		int64_t unseen = sqlite3_column_int64(s, 4);
		int64_t uidnext = sqlite3_column_int64(s, 5);
		int64_t real_messages = sqlite3_column_int64(s, 6);
		int64_t real_unseen = sqlite3_column_int64(s, 7);
		int64_t max_uid = sqlite3_column_int64(s, 8);
		if (messages == real_messages && unseen == real_unseen &&
		    uidnext > max_uid)
			continue;
		say(w->out, "mailbox '%s' of %s: counters %lld/%lld/uidnext %lld, "
		    "rows %lld/%lld/max uid %lld%s",
		    esc_str((const char *)sqlite3_column_text(s, 1)),
		    (const char *)sqlite3_column_text(s, 2), (long long)messages,
		    (long long)unseen, (long long)uidnext, (long long)real_messages,
		    (long long)real_unseen, (long long)max_uid,
		    w->repair ? ": fixed" : "");
		fix_boxes = xreallocarray(fix_boxes, n_boxes + 1, sizeof *fix_boxes);
		fix_boxes[n_boxes++] = sqlite3_column_int64(s, 0);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE)
		goto fail;
	for (size_t i = 0; w->repair && i < n_users && ret == STORE_OK; i++) {
		s = store_stmt(w->st, SQL_FIX_USED);
		stmt_int(s, 1, fix_users[i]);
		ret = stmt_exec(w->st, s, "cannot fix used bytes", error_r);
	}
	for (size_t i = 0; w->repair && i < n_boxes && ret == STORE_OK; i++) {
		s = store_stmt(w->st, SQL_FIX_COUNTERS);
		stmt_int(s, 1, fix_boxes[i]);
		ret = stmt_exec(w->st, s, "cannot fix mailbox counters", error_r);
		store_tx_touch(w->st, fix_boxes[i]);
	}
	if (ret == STORE_OK)
		ret = store_commit(w->st, error_r);
	else
		store_rollback(w->st);
	free(fix_users);
	free(fix_boxes);
	return ret;
fail:
	*error_r = store_db_error(w->st, "cannot check counters");
	store_rollback(w->st);
	free(fix_users);
	free(fix_boxes);
	return STORE_ERROR;
}

int
store_fsck(struct store *st, bool repair, void *out,
	   struct store_fsck_report *report_r, const char **error_r)
{
	struct walk w = {
		.st = st, .repair = repair, .out = out, .rep = report_r,
		.now = store_now(),
	};

	memset(report_r, 0, sizeof *report_r);
	if (walk_blobs(&w, error_r) < 0 || check_rows(&w, error_r) < 0 ||
	    check_counters(&w, error_r) < 0)
		return STORE_ERROR;
	say(w.out, "fsck: %u blob(s), %u message row(s): %u corrupt, %u missing, "
	    "%u orphan, %u stray, %u used fixed, %u removed",
	    report_r->blobs, report_r->rows, report_r->corrupt_blobs,
	    report_r->missing_blobs, report_r->orphan_blobs,
	    report_r->stray_files, report_r->used_fixed, report_r->removed);
	return STORE_OK;
}

int
store_blob_gc(struct store *st, unsigned min_age, unsigned *removed_r,
	      const char **error_r)
{
	DIR *top = opendir(st->blob_dir);
	struct dirent *e;
	unsigned removed = 0;
	int ret = STORE_OK;

	if (removed_r != NULL)
		*removed_r = 0;
	if (top == NULL) {
		*error_r = errfmt("cannot open %s: %s", st->blob_dir, strerror(errno));
		return STORE_ERROR;
	}
	/* expunged messages whose files no session needs any more */
	if (imapdb_expunged_sweep(st, min_age, error_r) != STORE_OK) {
		closedir(top);
		return STORE_ERROR;
	}
	while (ret == STORE_OK && (e = readdir(top)) != NULL) {
		if (!is_prefix_dir(e->d_name))
			continue;
		char *dir = xasprintf("%s/%s", st->blob_dir, e->d_name);
		DIR *d = opendir(dir);
		struct dirent *f;
		while (d != NULL && ret == STORE_OK && (f = readdir(d)) != NULL) {
			if (!is_lower_hex(f->d_name, SHA256_HEX_LEN) ||
			    strncmp(f->d_name, e->d_name, 2) != 0)
				continue;
			int r = remove_if_unused(st, f->d_name, min_age, error_r);
			if (r > 0)
				removed++;
			else if (r < 0)
				ret = STORE_ERROR;
		}
		if (d != NULL)
			closedir(d);
		free(dir);
	}
	closedir(top);
	if (removed > 0)
		log_info("store gc removed=%u", removed);
	if (removed_r != NULL)
		*removed_r = removed;
	return ret;
}

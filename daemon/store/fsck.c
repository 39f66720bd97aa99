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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/seal.h"
#include "core/tls.h"
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
 * references it.  A writer that holds it (blob.h: a shared flock until its
 * rows commit) keeps it.  The file is first moved aside into blobs/tmp: a
 * delivery of the same content that touches it from now on finds it gone
 * and puts its own copy in place; one that touched it just before shows in
 * the mtime of the moved file, which then goes back (unless a copy took
 * its place meanwhile: that one has the same content and stays).
 * 1: removed, 0: kept, -1: error.
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
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &sb) < 0 ||
	    now - (int64_t)sb.st_mtime < (int64_t)min_age)
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
	/* Touched or referenced meanwhile: it stays. */
	if (renameat2(AT_FDCWD, aside, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST) {
			unlink(aside);
		} else {
			*error_r = errfmt("cannot move %s back to %s: %s", aside, path,
					  strerror(errno));
			ret = -1;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(aside);
	return ret;
}

/* SHA-256 of a file as hex; -1 when it cannot be read. */
static int
hash_file(const char *path, char out[SHA256_HEX_LEN + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = blob_hash_fd(fd, out);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

struct walk {
	struct store *st;
	bool repair;
	FILE *out;
	struct store_fsck_report *rep;
	int64_t now;
};

/* What a file of blobs/ may have: the store makes them 0440 (store_int.h);
 * the owner's write bit is harmless, anything for others is not. */
#define BLOB_MODE_ALLOWED 0640

/* Reports a mode with bits beyond allowed, and with repair takes them off
 * (chmod never follows a symlink: lstat() said it is none). */
static void
check_mode(struct walk *w, const char *path, const struct stat *sb, mode_t allowed)
{
	mode_t mode = sb->st_mode & 07777;
	if (S_ISLNK(sb->st_mode) || (mode & ~allowed) == 0)
		return;
	w->rep->wrong_modes++;
	if (w->repair && chmod(path, mode & allowed) == 0) {
		w->rep->modes_fixed++;
		say(w->out, "mode of %s: %04o, more than %04o: fixed", path,
		    (unsigned)mode, (unsigned)allowed);
	} else {
		say(w->out, "mode of %s: %04o, more than %04o%s", path, (unsigned)mode,
		    (unsigned)allowed, w->repair ? ": cannot fix" : "");
	}
}

/* The named things of data_dir and what each may have ("": data_dir). */
static const struct {
	const char *name;
	mode_t allowed;
} data_dir_modes[] = {
	{ "", STORE_DIR_MODE },
	{ "mailhub.db", STORE_DB_MODE },
	{ "mailhub.db-wal", STORE_DB_MODE },
	{ "mailhub.db-shm", STORE_DB_MODE },
	{ "mailhub.db-journal", STORE_DB_MODE },
	{ SEAL_KEY_FILE, 0600 },
	{ "blobs", STORE_DIR_MODE },
	{ "blobs/tmp", STORE_DIR_MODE },
	{ "tls", STORE_DIR_MODE },
	{ TLS_SELFSIGNED_KEY, 0600 },
	{ TLS_SELFSIGNED_CERT, 0644 },	/* public */
};

static void
check_data_dir_modes(struct walk *w)
{
	for (size_t i = 0; i < sizeof data_dir_modes / sizeof data_dir_modes[0]; i++) {
		char *path = data_dir_modes[i].name[0] == '\0'
			? xstrdup(w->st->data_dir)
			: xasprintf("%s/%s", w->st->data_dir, data_dir_modes[i].name);
		struct stat sb;
		if (lstat(path, &sb) == 0)
			check_mode(w, path, &sb, data_dir_modes[i].allowed);
		free(path);
	}
}

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
			check_mode(w, path, &sb, BLOB_MODE_ALLOWED);
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
	struct stat sb;
	if (lstat(path, &sb) == 0)
		check_mode(w, path, &sb, BLOB_MODE_ALLOWED);
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
		struct stat sb;
		if (lstat(dir, &sb) == 0)
			check_mode(w, dir, &sb, STORE_DIR_MODE);
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

static const char SQL_NAMES_PENDING[] =
	"SELECT id, blob, first_message FROM blob_names_pending WHERE bytes IS NULL ORDER BY id";
static const char SQL_NAMES_RECORDED[] =
	"SELECT id, blob, 0 FROM blob_names_pending WHERE bytes IS NOT NULL ORDER BY id";
static const char SQL_NAME_ROWS[] =
	"SELECT mailbox_id, uid FROM messages WHERE blob = ?1 AND id >= ?2";
static const char SQL_NAME_DONE[] =
	"DELETE FROM blob_names_pending WHERE id = ?1";

struct name_pending {
	int64_t id, first;
	char *blob;
};

static void
name_pending_read(sqlite3_stmt *s, void *elem)
{
	struct name_pending *p = elem;
	p->id = sqlite3_column_int64(s, 0);
	p->blob = stmt_col_strdup(s, 1);
	p->first = sqlite3_column_int64(s, 2);
}

static void
name_pending_clear(void *elem)
{
	struct name_pending *p = elem;
	free(p->blob);
}

static const struct stmt_rows name_pending_rows = {
	sizeof(struct name_pending), name_pending_read, name_pending_clear,
};

struct mailbox_uid {
	int64_t mailbox_id;
	uint32_t uid;
};

static void
mailbox_uid_read(sqlite3_stmt *s, void *elem)
{
	struct mailbox_uid *m = elem;
	m->mailbox_id = sqlite3_column_int64(s, 0);
	m->uid = (uint32_t)sqlite3_column_int64(s, 1);
}

static const struct stmt_rows mailbox_uid_rows = {
	sizeof(struct mailbox_uid), mailbox_uid_read, NULL,
};

/*
 * The records of sql/054: rows committed while their blob's name was not
 * yet durable (blob_writer_link()).  A record whose blob is there is left
 * over from a delivery that completed (its deletion is done by a later
 * transaction): dropped with repair.  A record whose blob is missing is a
 * crash between the commit and the folder's fsync: the message was never
 * acknowledged (its 250 waits for both), so with repair its rows go
 * (expunged, as a client's EXPUNGE), and only those: rows of the blob from
 * before the record are another matter (check_rows()).
 */
/* The records of one kind (sql: SQL_NAMES_PENDING or SQL_NAMES_RECORDED). */
static int
names_list(struct walk *w, const char *sql, struct name_pending **list_r, size_t *n_r,
	   const char **error_r)
{
	return stmt_list(w->st, store_stmt(w->st, sql), &name_pending_rows,
			 "cannot read pending names", (void **)list_r, n_r, error_r);
}

/* Whether blob is there with its content: a file is named before its
 * bytes are synced (blob_writer_link()), and a crash between may leave
 * the name with less. */
static bool
blob_there(struct walk *w, const char *blob)
{
	if (blob == NULL || !is_lower_hex(blob, SHA256_HEX_LEN))
		return false;
	char *path = blob_path(w->st, blob);
	char have[SHA256_HEX_LEN + 1];
	bool there = hash_file(path, have) == 0 && strcmp(have, blob) == 0;
	free(path);
	return there;
}

static int
check_names_pending(struct walk *w, const char **error_r)
{
	struct name_pending *list = NULL;
	size_t n = 0;
	int ret = names_list(w, SQL_NAMES_PENDING, &list, &n, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		struct name_pending *p = &list[i];
		bool there = blob_there(w, p->blob);
		struct mailbox_uid *rows = NULL;
		size_t n_rows = 0;
		if (!there) {
			sqlite3_stmt *s = store_stmt(w->st, SQL_NAME_ROWS);
			stmt_text(s, 1, p->blob != NULL ? p->blob : "");
			stmt_int(s, 2, p->first);
			ret = stmt_list(w->st, s, &mailbox_uid_rows, "cannot read messages",
					(void **)&rows, &n_rows, error_r);
			if (ret != STORE_OK)
				break;
			w->rep->unacked += (unsigned)n_rows;
			say(w->out, "blob %s lost its name or content in a crash: %zu message(s) never "
			    "acknowledged refer to it%s", esc_str(p->blob), n_rows,
			    w->repair ? ": removed" : "");
		}
		if (!w->repair) {
			free(rows);
			continue;
		}
		for (size_t k = 0; k < n_rows && ret == STORE_OK; k++) {
			size_t removed = 0;
			ret = store_expunge(w->st, rows[k].mailbox_id, &rows[k].uid, 1, &removed,
					    error_r);
			w->rep->unacked_removed += (unsigned)removed;
		}
		free(rows);
		if (ret == STORE_OK) {
			sqlite3_stmt *s = store_stmt(w->st, SQL_NAME_DONE);
			stmt_int(s, 1, p->id);
			ret = stmt_exec(w->st, s, "cannot drop a pending name", error_r);
		}
	}
	stmt_rows_free(&name_pending_rows, list, n);
	return ret;
}

/*
 * The records of sql/056: rows committed with their message's bytes while
 * its blob's file and name were not yet durable.  The message may have
 * been acknowledged (the commit made it durable), so its rows are never
 * removed: a blob missing or cut short is written out from the record
 * (with repair), as the daemon does when it starts; with repair every
 * such record is done with (the file synced, the record deleted).  Before
 * the blobs are walked, so that a blob written out is not also reported
 * missing or corrupt.
 */
static int
check_names_recorded(struct walk *w, const char **error_r)
{
	struct name_pending *list = NULL;
	size_t n = 0;
	int ret = names_list(w, SQL_NAMES_RECORDED, &list, &n, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct name_pending *p = &list[i];
		bool there = blob_there(w, p->blob);
		if (!there)
			w->rep->recorded++;
		if (!w->repair) {
			if (!there)
				say(w->out, "blob %s lost its name or content in a crash; its bytes are "
				    "in the database (written out by --repair or the next start)",
				    esc_str(p->blob));
			continue;
		}
		bool written;
		const char *err;
		if (store_name_pending_restore_one(w->st, p->id, &written, &err) != STORE_OK) {
			say(w->out, "blob %s: cannot write it out from its record: %s",
			    esc_str(p->blob), err);
			continue;
		}
		if (!there && written)
			w->rep->recorded_written++;
		if (!there)
			say(w->out, "blob %s lost its name or content in a crash: %s",
			    esc_str(p->blob), written ? "written out from its record"
						      : "no message refers to it any more");
	}
	stmt_rows_free(&name_pending_rows, list, n);
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
	check_data_dir_modes(&w);
	if (check_names_recorded(&w, error_r) < 0 || walk_blobs(&w, error_r) < 0 ||
	    check_names_pending(&w, error_r) < 0 ||
	    check_rows(&w, error_r) < 0 || check_counters(&w, error_r) < 0)
		return STORE_ERROR;
	/* the rows of unacknowledged messages left (without repair) are
	 * counted once, as such, not also as missing blobs */
	unsigned left = report_r->unacked - report_r->unacked_removed;
	report_r->missing_blobs -= left < report_r->missing_blobs ? left : report_r->missing_blobs;
	say(w.out, "fsck: %u blob(s), %u message row(s): %u corrupt, %u missing, "
	    "%u orphan, %u stray, %u used fixed, %u removed, %u wrong mode(s), "
	    "%u mode(s) fixed, %u never acknowledged (%u removed), "
	    "%u in the database (%u written out)",
	    report_r->blobs, report_r->rows, report_r->corrupt_blobs,
	    report_r->missing_blobs, report_r->orphan_blobs,
	    report_r->stray_files, report_r->used_fixed, report_r->removed,
	    report_r->wrong_modes, report_r->modes_fixed, report_r->unacked,
	    report_r->unacked_removed, report_r->recorded, report_r->recorded_written);
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

/*
 * names_pending: the records of sql/054 and sql/056, written in a
 * delivery's transaction for the blobs whose file and name were not yet
 * known to be durable when its rows committed (blob_writer_link()),
 * deleted by a later transaction once they are, and, for those that hold
 * their message's bytes, written out after a crash (store.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/store_int.h"

static const char SQL_NAME_PENDING[] =
	"INSERT INTO blob_names_pending (blob, first_message, bytes)"
	" SELECT ?1, coalesce(max(id), 0) + 1, ?2 FROM messages";
static const char SQL_NAME_SYNCED[] =
	"DELETE FROM blob_names_pending WHERE id = ?1";
static const char SQL_NAMES_RECORDED[] =
	"SELECT id FROM blob_names_pending WHERE bytes IS NOT NULL ORDER BY id";
static const char SQL_NAME_RECORDED[] =
	"SELECT blob, bytes FROM blob_names_pending WHERE id = ?1 AND bytes IS NOT NULL";

/* The records no longer needed, for the next delivery's transaction of
 * their database to delete (any handle's: one list for the process, the
 * records of each database told apart by its blob folder). */
struct synced_record {
	int64_t id;
	char *blob_dir;
};
static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER;
static struct synced_record *synced;
static size_t n_synced, cap_synced;

static void
id_read(sqlite3_stmt *s, void *elem)
{
	*(int64_t *)elem = sqlite3_column_int64(s, 0);
}

static const struct stmt_rows id_rows = {
	.size = sizeof(int64_t),
	.read = id_read,
};

/* Under synced_lock. */
static void
synced_push(const char *blob_dir, int64_t id)
{
	if (n_synced == cap_synced) {
		cap_synced = cap_synced == 0 ? 16 : cap_synced * 2;
		synced = xreallocarray(synced, cap_synced, sizeof *synced);
	}
	synced[n_synced++] = (struct synced_record){ id, xstrdup(blob_dir) };
}

void
store_name_pending(struct store *st, const char *hash, struct blob_writer *w)
{
	const void *p;
	size_t n;
	if (w != NULL && !blob_writer_bytes(w, &p, &n))
		w = NULL;
	for (size_t i = 0; i < st->n_name_pending; i++) {
		if (strcmp(st->name_pending[i].hash, hash) == 0) {
			/* one record of the blob, with its bytes when any has them */
			if (st->name_pending[i].w == NULL)
				st->name_pending[i].w = w;
			return;
		}
	}
	if (st->n_name_pending == st->cap_name_pending) {
		st->cap_name_pending = st->cap_name_pending == 0 ? 4 : st->cap_name_pending * 2;
		st->name_pending = xreallocarray(st->name_pending, st->cap_name_pending,
						 sizeof *st->name_pending);
	}
	struct name_pending_blob *b = &st->name_pending[st->n_name_pending++];
	snprintf(b->hash, sizeof b->hash, "%s", hash);
	b->w = w;
	b->id = 0;
}

void
store_name_pending_forget(struct store *st)
{
	/* each id deleted once at most (ids of deleted rows come again) */
	free(st->name_pending_ids);
	st->name_pending_ids = NULL;
	st->n_name_pending_ids = 0;
}

void
store_name_pending_synced(struct store *st)
{
	pthread_mutex_lock(&synced_lock);
	for (size_t i = 0; i < st->n_name_pending_ids; i++)
		synced_push(st->blob_dir, st->name_pending_ids[i]);
	pthread_mutex_unlock(&synced_lock);
	store_name_pending_forget(st);
}

void
store_name_pending_durable(const char *blob_dir, int64_t id)
{
	pthread_mutex_lock(&synced_lock);
	synced_push(blob_dir, id);
	pthread_mutex_unlock(&synced_lock);
}

/* Records made durable since deleted (a rollback leaves them: fsck drops
 * a record whose blob is there, the start writes out one with bytes),
 * and st's pending names recorded, with the first message id this
 * transaction can give (rows of one writer at a time). */
/* Up to 16 records of st's database made durable deleted: the number
 * deleted, or -1. */
static int
delete_synced(struct store *st, const char **error_r)
{
	int64_t ids[16];
	size_t n = 0;
	pthread_mutex_lock(&synced_lock);
	for (size_t i = n_synced; i > 0 && n < sizeof ids / sizeof *ids; i--) {
		if (strcmp(synced[i - 1].blob_dir, st->blob_dir) != 0)
			continue;
		ids[n++] = synced[i - 1].id;
		free(synced[i - 1].blob_dir);
		synced[i - 1] = synced[--n_synced];
	}
	pthread_mutex_unlock(&synced_lock);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = store_stmt(st, SQL_NAME_SYNCED);
		stmt_int(s, 1, ids[i]);
		if (stmt_exec(st, s, "cannot delete a pending name", error_r) != STORE_OK)
			return -1;
	}
	return (int)n;
}

int
store_names_synced_delete(struct store *st, const char **error_r)
{
	int n;
	while ((n = delete_synced(st, error_r)) > 0)
		;
	return n < 0 ? STORE_ERROR : STORE_OK;
}

int
store_name_record(struct store *st, const char *hash, const void *p, size_t n,
		  int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_NAME_PENDING);
	stmt_text(s, 1, hash);
	sqlite3_bind_blob64(s, 2, p, n, SQLITE_STATIC);
	if (stmt_exec(st, s, "cannot record a pending name", error_r) != STORE_OK)
		return STORE_ERROR;
	*id_r = sqlite3_last_insert_rowid(st->db);
	return STORE_OK;
}

int
store_names_pending_tx(struct store *st, const char **error_r)
{
	if (delete_synced(st, error_r) < 0)
		return STORE_ERROR;
	store_name_pending_forget(st);
	if (st->n_name_pending == 0)
		return STORE_OK;
	st->name_pending_ids = xcalloc(st->n_name_pending, sizeof *st->name_pending_ids);
	for (size_t i = 0; i < st->n_name_pending; i++) {
		struct name_pending_blob *b = &st->name_pending[i];
		const void *p = NULL;
		size_t len = 0;
		sqlite3_stmt *s = store_stmt(st, SQL_NAME_PENDING);
		stmt_text(s, 1, b->hash);
		if (b->w != NULL && blob_writer_bytes(b->w, &p, &len))
			sqlite3_bind_blob64(s, 2, p, len, SQLITE_STATIC);
		else
			b->w = NULL;
		if (stmt_exec(st, s, "cannot record a pending name", error_r) != STORE_OK)
			return STORE_ERROR;
		b->id = sqlite3_last_insert_rowid(st->db);
		/* a record with the bytes goes once the fsyncs are done, not
		 * with the delivery's acknowledgement (blob_writer_recorded()) */
		if (b->w == NULL)
			st->name_pending_ids[st->n_name_pending_ids++] = b->id;
	}
	return STORE_OK;
}

void
store_names_pending_recorded(struct store *st)
{
	for (size_t i = 0; i < st->n_name_pending; i++)
		if (st->name_pending[i].w != NULL && st->name_pending[i].id != 0)
			blob_writer_recorded(st->name_pending[i].w, st->name_pending[i].id);
}

int
store_name_pending_restore_one(struct store *st, int64_t id, bool *written_r,
			       const char **error_r)
{
	*written_r = false;
	sqlite3_stmt *s = store_stmt(st, SQL_NAME_RECORDED);
	stmt_int(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		stmt_done(s);
		if (rc == SQLITE_DONE)
			return STORE_OK;	/* gone meanwhile */
		*error_r = store_db_error(st, "cannot read a pending name");
		return STORE_ERROR;
	}
	char *hash = stmt_col_strdup(s, 0);
	size_t n = (size_t)sqlite3_column_bytes(s, 1);
	const void *p = sqlite3_column_blob(s, 1);
	char *bytes = xmalloc(n + 1);
	if (n > 0)
		memcpy(bytes, p, n);
	stmt_done(s);
	int ret = STORE_OK;
	if (hash == NULL || !is_lower_hex(hash, SHA256_HEX_LEN) ||
	    hash[SHA256_HEX_LEN] != '\0') {
		*error_r = "a pending name is no blob name";
		ret = STORE_INVALID;
	} else {
		/* a blob no row refers to any more (expunged before its
		 * fsyncs were done, or a delivery refused after all) is not
		 * made again: gc would only remove it */
		int ref = store_blob_referenced(st, hash);
		if (ref < 0) {
			*error_r = "cannot look up a blob's references";
			ret = STORE_ERROR;
		} else if (ref > 0) {
			ret = blob_restore(st, hash, bytes, n, error_r);
			*written_r = ret == STORE_OK;
		}
	}
	if (ret == STORE_OK) {
		s = store_stmt(st, SQL_NAME_SYNCED);
		stmt_int(s, 1, id);
		ret = stmt_exec(st, s, "cannot delete a pending name", error_r);
	}
	free(bytes);
	free(hash);
	return ret;
}

int
store_names_pending_restore(struct store *st, unsigned *restored_r, const char **error_r)
{
	int64_t *ids = NULL;
	size_t n = 0;
	unsigned restored = 0;
	if (restored_r != NULL)
		*restored_r = 0;
	/* the ids first: each record is then read, written out and
	 * deleted apart, with no statement left open over the table */
	int ret = stmt_list(st, store_stmt(st, SQL_NAMES_RECORDED), &id_rows,
			    "cannot read pending names", (void **)&ids, &n, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n; i++) {
		bool written;
		const char *err;
		int r = store_name_pending_restore_one(st, ids[i], &written, &err);
		if (r != STORE_OK) {
			log_error("store: cannot write out pending name %lld: %s",
				  (long long)ids[i], err);
			*error_r = err;
			ret = r;
			continue;
		}
		restored += written;
	}
	free(ids);
	if (restored_r != NULL)
		*restored_r = restored;
	return ret;
}

/* searchdb: sort keys and the full-text index per blob; see searchdb.h. */
#include "store/searchdb.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/utf8.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/store_int.h"

static const char SQL_MSGS[] =
	"SELECT m.uid, m.blob, m.internal_date, m.size, k.id, k.sent_date,"
	" k.subject, k.subject_reply, k.from_addr, k.to_addr, k.cc_addr,"
	" k.display_from, k.display_to, k.message_id, k.refs"
	" FROM messages m LEFT JOIN blob_keys k ON k.blob = m.blob"
	" WHERE m.mailbox_id = ?1 ORDER BY m.uid";
static const char SQL_PUT_KEYS[] =
	"INSERT OR IGNORE INTO blob_keys (blob, sent_date, subject,"
	" subject_reply, from_addr, to_addr, cc_addr, display_from, display_to,"
	" message_id, refs, indexed)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_PUT_TEXT[] =
	"INSERT INTO blob_text (rowid, text) VALUES (last_insert_rowid(), ?1)";
/* the MATCH narrows (every trigram of the string), instr() decides: byte
 * for byte what the scan of search.c does with memmem(); the index drives
 * (CROSS JOIN keeps that order), then the blobs' rows, found by blob
 * (the unary + keeps SQLite from scanning the mailbox for each) */
static const char SQL_TEXT_MATCH[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_text"
	"  WHERE blob_text MATCH ?2 AND instr(CAST(text AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_TEXT_SCAN[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_text t ON t.rowid = k.id"
	" WHERE m.mailbox_id = ?1 AND k.indexed = 1"
	" AND instr(CAST(t.text AS BLOB), ?2) > 0 ORDER BY m.uid";
static const char SQL_UNINDEXED[] =
	"SELECT uid FROM search_pending WHERE mailbox_id = ?1 ORDER BY uid";
/* sql/025: the fields of a blob that has keys but no fields yet */
static const char SQL_PUT_FIELDS[] =
	"INSERT INTO blob_fields (rowid, subject, hfrom, hto, hcc, hbcc, body)"
	" SELECT k.id, ?2, ?3, ?4, ?5, ?6, ?7 FROM blob_keys k WHERE k.blob = ?1"
	" AND NOT EXISTS (SELECT 1 FROM blob_fields f WHERE f.rowid = k.id)";
static const char SQL_FIELDS_DONE[] =
	"DELETE FROM fields_pending WHERE (mailbox_id, uid) IN"
	" (SELECT mailbox_id, uid FROM messages WHERE blob = ?1)";
static const char SQL_PUT_PREVIEW[] =
	"INSERT OR IGNORE INTO previews (blob, preview) VALUES (?1, ?2)";
static const char SQL_FIELDS_UNINDEXED[] =
	"SELECT uid FROM fields_pending WHERE mailbox_id = ?1 ORDER BY uid";
static const char SQL_FIELDS_MISSING[] =
	"SELECT DISTINCT m.blob FROM fields_pending p JOIN messages m"
	" ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid LIMIT ?1";
/* a blob that still has a message: the indexer computed its keys outside
 * the transaction, and its last message may have gone meanwhile (its
 * rows would then have no message to be removed with) */
static const char SQL_BLOB_LIVE[] =
	"SELECT 1 FROM messages WHERE blob = ?1 LIMIT 1";
/* sql/049: the rows of files whose last message went, removed unless
 * the file came back meanwhile */
static const char SQL_GONE_LIST[] = "SELECT blob FROM blob_keys_gone LIMIT ?1";
static const char SQL_GONE_TEXT[] =
	"DELETE FROM blob_text WHERE rowid = (SELECT id FROM blob_keys WHERE blob = ?1)"
	" AND NOT EXISTS (SELECT 1 FROM messages WHERE blob = ?1)";
/* the trigger blob_keys_fields_delete (sql/025) takes its blob_fields row */
static const char SQL_GONE_KEYS[] =
	"DELETE FROM blob_keys WHERE blob = ?1"
	" AND NOT EXISTS (SELECT 1 FROM messages WHERE blob = ?1)";
static const char SQL_GONE_DONE[] = "DELETE FROM blob_keys_gone WHERE blob = ?1";
static const char SQL_MISSING[] =
	"SELECT DISTINCT m.blob FROM messages m"
	" WHERE NOT EXISTS (SELECT 1 FROM blob_keys k WHERE k.blob = m.blob)"
	" LIMIT ?1";

/* sql/025, per column: as SQL_TEXT_MATCH and SQL_TEXT_SCAN */
static const char SQL_MATCH_SUBJECT[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_fields"
	"  WHERE blob_fields MATCH ?2 AND instr(CAST(subject AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_SCAN_SUBJECT[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_fields t ON t.rowid = k.id WHERE m.mailbox_id = ?1"
	" AND instr(CAST(t.subject AS BLOB), ?2) > 0 ORDER BY m.uid";
static const char SQL_MATCH_HFROM[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_fields"
	"  WHERE blob_fields MATCH ?2 AND instr(CAST(hfrom AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_SCAN_HFROM[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_fields t ON t.rowid = k.id WHERE m.mailbox_id = ?1"
	" AND instr(CAST(t.hfrom AS BLOB), ?2) > 0 ORDER BY m.uid";
static const char SQL_MATCH_HTO[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_fields"
	"  WHERE blob_fields MATCH ?2 AND instr(CAST(hto AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_SCAN_HTO[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_fields t ON t.rowid = k.id WHERE m.mailbox_id = ?1"
	" AND instr(CAST(t.hto AS BLOB), ?2) > 0 ORDER BY m.uid";
static const char SQL_MATCH_HCC[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_fields"
	"  WHERE blob_fields MATCH ?2 AND instr(CAST(hcc AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_SCAN_HCC[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_fields t ON t.rowid = k.id WHERE m.mailbox_id = ?1"
	" AND instr(CAST(t.hcc AS BLOB), ?2) > 0 ORDER BY m.uid";
static const char SQL_MATCH_HBCC[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_fields"
	"  WHERE blob_fields MATCH ?2 AND instr(CAST(hbcc AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_SCAN_HBCC[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_fields t ON t.rowid = k.id WHERE m.mailbox_id = ?1"
	" AND instr(CAST(t.hbcc AS BLOB), ?2) > 0 ORDER BY m.uid";
static const char SQL_MATCH_BODY[] =
	"SELECT m.uid FROM (SELECT rowid AS id FROM blob_fields"
	"  WHERE blob_fields MATCH ?2 AND instr(CAST(body AS BLOB), ?3) > 0) f"
	" CROSS JOIN blob_keys k CROSS JOIN messages m"
	" WHERE k.id = f.id AND m.blob = k.blob AND +m.mailbox_id = ?1"
	" ORDER BY m.uid";
static const char SQL_SCAN_BODY[] =
	"SELECT m.uid FROM messages m JOIN blob_keys k ON k.blob = m.blob"
	" JOIN blob_fields t ON t.rowid = k.id WHERE m.mailbox_id = ?1"
	" AND instr(CAST(t.body AS BLOB), ?2) > 0 ORDER BY m.uid";
static const struct {
	const char *name, *match, *scan;
} field_sql[MAIL_SEARCH_FIELDS] = {
	{ "subject", SQL_MATCH_SUBJECT, SQL_SCAN_SUBJECT },
	{ "hfrom", SQL_MATCH_HFROM, SQL_SCAN_HFROM },
	{ "hto", SQL_MATCH_HTO, SQL_SCAN_HTO },
	{ "hcc", SQL_MATCH_HCC, SQL_SCAN_HCC },
	{ "hbcc", SQL_MATCH_HBCC, SQL_SCAN_HBCC },
	{ "body", SQL_MATCH_BODY, SQL_SCAN_BODY },
};

/* Trigrams of a SEARCH string that the MATCH asks for. */
#define TRIGRAMS_MAX 12

static char *
col_dup(sqlite3_stmt *s, int i)
{
	char *v = stmt_col_strdup(s, i);
	return v != NULL ? v : xstrdup("");
}

int
searchdb_msgs(struct store *st, int64_t mailbox_id,
	      struct searchdb_msg **list_r, size_t *n_r, const char **error_r)
{
	struct searchdb_msg *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	sqlite3_stmt *s = store_stmt(st, SQL_MSGS);
	stmt_int(s, 1, mailbox_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		struct searchdb_msg *m = &list[n++];
		memset(m, 0, sizeof *m);
		m->uid = (uint32_t)sqlite3_column_int64(s, 0);
		const unsigned char *blob = sqlite3_column_text(s, 1);
		if (blob != NULL && sqlite3_column_bytes(s, 1) == SHA256_HEX_LEN)
			memcpy(m->blob, blob, SHA256_HEX_LEN);
		m->internal_date = sqlite3_column_int64(s, 2);
		m->size = (uint64_t)sqlite3_column_int64(s, 3);
		if (sqlite3_column_type(s, 4) == SQLITE_NULL)
			continue;
		struct mail_sortkeys *k = xcalloc(1, sizeof *k);
		k->has_date = sqlite3_column_type(s, 5) != SQLITE_NULL;
		k->sent_date = sqlite3_column_int64(s, 5);
		k->subject = col_dup(s, 6);
		k->reply = sqlite3_column_int(s, 7) != 0;
		k->from = col_dup(s, 8);
		k->to = col_dup(s, 9);
		k->cc = col_dup(s, 10);
		k->display_from = col_dup(s, 11);
		k->display_to = col_dup(s, 12);
		k->message_id = stmt_col_strdup(s, 13);
		k->refs = stmt_col_strdup(s, 14);
		m->keys = k;
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot read the sort keys");
		searchdb_msgs_free(&list, n);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

void
searchdb_msgs_free(struct searchdb_msg **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		mail_sortkeys_free(&(*list)[i].keys);
	free(*list);
	*list = NULL;
}

static int searchdb_put_fields_tx(struct store *st, const char *blob,
				  const struct mail_sortkeys *k,
				  const char **error_r);

int
searchdb_put_tx(struct store *st, const char *blob,
		const struct mail_sortkeys *k, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PUT_KEYS);
	stmt_text(s, 1, blob);
	if (k->has_date)
		stmt_int(s, 2, k->sent_date);
	stmt_text(s, 3, k->subject);
	stmt_int(s, 4, k->reply);
	stmt_text(s, 5, k->from);
	stmt_text(s, 6, k->to);
	stmt_text(s, 7, k->cc);
	stmt_text(s, 8, k->display_from);
	stmt_text(s, 9, k->display_to);
	stmt_text(s, 10, k->message_id);
	stmt_text(s, 11, k->refs);
	stmt_int(s, 12, k->text != NULL);
	unsigned changed = 0;
	int ret = stmt_exec_n(st, s, "cannot store the sort keys", &changed, error_r);
	if (ret == STORE_OK && changed > 0 && k->text != NULL) {
		s = store_stmt(st, SQL_PUT_TEXT);
		if (sqlite3_bind_text(s, 1, k->text, (int)k->text_len,
				      SQLITE_STATIC) != SQLITE_OK) {
			stmt_done(s);
			*error_r = store_db_error(st, "cannot bind the search text");
			return STORE_ERROR;
		}
		ret = stmt_exec(st, s, "cannot index the search text", error_r);
	}
	if (ret == STORE_OK && k->fields[MAIL_SEARCH_BODY] != NULL)
		ret = searchdb_put_fields_tx(st, blob, k, error_r);
	if (ret == STORE_OK && k->preview != NULL) {
		/* RFC 8970 PREVIEW, computed with the keys by the indexer */
		s = store_stmt(st, SQL_PUT_PREVIEW);
		stmt_text(s, 1, blob);
		stmt_text(s, 2, k->preview);
		ret = stmt_exec(st, s, "cannot store a preview", error_r);
	}
	return ret;
}

/* The fields of sql/025 (when the blob has none yet), and its messages
 * no longer pending. */
static int
searchdb_put_fields_tx(struct store *st, const char *blob,
		       const struct mail_sortkeys *k, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PUT_FIELDS);
	stmt_text(s, 1, blob);
	for (int i = 0; i < MAIL_SEARCH_FIELDS; i++) {
		const char *t = k->fields[i] != NULL ? k->fields[i] : "";
		if (k->fields_len[i] > INT32_MAX ||
		    sqlite3_bind_text(s, 2 + i, t, (int)k->fields_len[i],
				      SQLITE_STATIC) != SQLITE_OK) {
			stmt_done(s);
			*error_r = store_db_error(st, "cannot bind the search fields");
			return STORE_ERROR;
		}
	}
	int ret = stmt_exec(st, s, "cannot index the search fields", error_r);
	if (ret != STORE_OK)
		return ret;
	s = store_stmt(st, SQL_FIELDS_DONE);
	stmt_text(s, 1, blob);
	return stmt_exec(st, s, "cannot index the search fields", error_r);
}

/* Whether the blob still has a message (STORE_OK, *live_r). */
static int
blob_live(struct store *st, const char *blob, bool *live_r,
	  const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_BLOB_LIVE);
	stmt_text(s, 1, blob);
	int r = stmt_exists(st, s, "cannot look for the message", error_r);
	*live_r = r > 0;
	return r < 0 ? STORE_ERROR : STORE_OK;
}

int
searchdb_put(struct store *st, const char *blob, const struct mail_sortkeys *k,
	     const char **error_r)
{
	int ret = store_begin_light(st, error_r);
	if (ret != STORE_OK)
		return ret;
	bool live;
	ret = blob_live(st, blob, &live, error_r);
	if (ret == STORE_OK && live)
		ret = searchdb_put_tx(st, blob, k, error_r);
	return store_end(st, ret, error_r);
}

/* Characters (code points) in p[0..n), or 0 when it is not UTF-8. */
static size_t
utf8_chars(const char *p, size_t n)
{
	if (!utf8_valid(p, n))
		return 0;
	size_t chars = 0;
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)p[i] & 0xc0) != 0x80;
	return chars;
}

/* Appends the MATCH of a string of three characters or more (UTF-8):
 * "abc" AND "bcd" AND ..., each trigram a phrase of one token (detail=none
 * has no positions for longer ones); at most TRIGRAMS_MAX of them narrow
 * enough. */
static void
trigram_query(struct buf *q, const char *needle, size_t len)
{
	size_t starts[4], n_tri = 0;
	size_t i = 0, k = 0;
	while (i < len && n_tri < TRIGRAMS_MAX) {
		starts[k % 4] = i;
		k++;
		i += utf8_char_len(needle + i, len - i);
		if (k >= 3) {
			size_t from = starts[(k - 3) % 4];
			if (n_tri++ > 0)
				buf_puts(q, " AND ");
			buf_putc(q, '"');
			for (size_t j = from; j < i; j++) {
				if (needle[j] == '"')
					buf_putc(q, '"');
				buf_putc(q, needle[j]);
			}
			buf_putc(q, '"');
		}
	}
}

int
searchdb_text(struct store *st, int64_t mailbox_id, const char *needle,
	      size_t len, uint32_t **uids_r, size_t *n_r,
	      uint32_t **unindexed_r, size_t *n_unindexed_r,
	      const char **error_r)
{
	sqlite3_stmt *s;
	*uids_r = *unindexed_r = NULL;
	*n_r = *n_unindexed_r = 0;
	if (memchr(needle, '\0', len) != NULL || len > INT32_MAX) {
		*error_r = "invalid search string";
		return STORE_INVALID;
	}
	/* FTS5's trigram tokenizer matches phrases of three characters and
	 * more; a shorter (or not UTF-8) string reads the stored text */
	if (utf8_chars(needle, len) >= 3) {
		struct buf q = BUF_INIT;
		trigram_query(&q, needle, len);
		s = store_stmt(st, SQL_TEXT_MATCH);
		stmt_int(s, 1, mailbox_id);
		sqlite3_bind_text(s, 2, q.data, (int)q.len, SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 3, needle, (int)len, SQLITE_TRANSIENT);
		buf_free(&q);
	} else {
		s = store_stmt(st, SQL_TEXT_SCAN);
		stmt_int(s, 1, mailbox_id);
		sqlite3_bind_blob(s, 2, needle, (int)len, SQLITE_TRANSIENT);
	}
	/* the matches and the unindexed in one snapshot: an index pass
	 * committed between them would leave a message in neither */
	bool span = !st->in_tx && !st->read_span;
	if (span && store_read_begin(st, error_r) != STORE_OK) {
		sqlite3_reset(s);
		return STORE_ERROR;
	}
	int ret = stmt_uids(st, s, "cannot search the index", uids_r, n_r, error_r);
	if (ret != STORE_OK) {
		if (span)
			store_read_end(st);
		return ret;
	}
	s = store_stmt(st, SQL_UNINDEXED);
	stmt_int(s, 1, mailbox_id);
	ret = stmt_uids(st, s, "cannot search the index", unindexed_r, n_unindexed_r,
			 error_r);
	if (ret != STORE_OK) {
		free(*uids_r);
		*uids_r = NULL;
		*n_r = 0;
	}
	if (span)
		store_read_end(st);
	return ret;
}

int
searchdb_fields(struct store *st, int64_t mailbox_id,
		enum mail_search_field field, const char *needle, size_t len,
		uint32_t **uids_r, size_t *n_r, uint32_t **unindexed_r,
		size_t *n_unindexed_r, const char **error_r)
{
	sqlite3_stmt *s;
	*uids_r = *unindexed_r = NULL;
	*n_r = *n_unindexed_r = 0;
	if ((unsigned)field >= MAIL_SEARCH_FIELDS || len == 0 ||
	    memchr(needle, '\0', len) != NULL || len > INT32_MAX) {
		*error_r = "invalid search string";
		return STORE_INVALID;
	}
	if (utf8_chars(needle, len) >= 3) {
		/* {column} : ("abc" AND "bcd" ...) */
		struct buf q = BUF_INIT;
		buf_printf(&q, "{%s} : (", field_sql[field].name);
		trigram_query(&q, needle, len);
		buf_putc(&q, ')');
		s = store_stmt(st, field_sql[field].match);
		stmt_int(s, 1, mailbox_id);
		sqlite3_bind_text(s, 2, q.data, (int)q.len, SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 3, needle, (int)len, SQLITE_TRANSIENT);
		buf_free(&q);
	} else {
		s = store_stmt(st, field_sql[field].scan);
		stmt_int(s, 1, mailbox_id);
		sqlite3_bind_blob(s, 2, needle, (int)len, SQLITE_TRANSIENT);
	}
	/* the matches and the unindexed in one snapshot: an index pass
	 * committed between them would leave a message in neither */
	bool span = !st->in_tx && !st->read_span;
	if (span && store_read_begin(st, error_r) != STORE_OK) {
		sqlite3_reset(s);
		return STORE_ERROR;
	}
	int ret = stmt_uids(st, s, "cannot search the index", uids_r, n_r, error_r);
	if (ret != STORE_OK) {
		if (span)
			store_read_end(st);
		return ret;
	}
	s = store_stmt(st, SQL_FIELDS_UNINDEXED);
	stmt_int(s, 1, mailbox_id);
	ret = stmt_uids(st, s, "cannot search the index", unindexed_r,
			n_unindexed_r, error_r);
	if (ret != STORE_OK) {
		free(*uids_r);
		*uids_r = NULL;
		*n_r = 0;
	}
	if (span)
		store_read_end(st);
	return ret;
}

/* A transaction of a pass of max blobs takes blobs until their text
 * passes max times this many bytes (the keys are held in memory until
 * it, and it holds the write lock while FTS5 takes the text). */
#define INDEX_BYTES_PER_BLOB (8u * 1024)

/* The keys and text of a blob, read from its file. */
static struct mail_sortkeys *
blob_keys_compute(struct store *st, const char *blob)
{
	struct buf data = BUF_INIT;
	const char *err;
	bool ok = blob_read(st, blob, &data, &err) == STORE_OK;
	if (!ok) {
		/* gone with its last message a moment ago (then nothing is
		 * stored), or fsck's business: keys of an empty message, not
		 * indexed (SEARCH reads what it can), so that the pass goes
		 * on to the others */
		log_debug("store: cannot index blob %s: %s", blob, err);
		buf_reset(&data);
	}
	struct mail_sortkeys *k = mail_sortkeys_compute(
		data.data != NULL ? data.data : "", data.len, ok);
	buf_free(&data);
	if (!ok) {
		/* empty fields: what a scan finds in a message it cannot
		 * read (nothing), and no longer pending */
		for (int f = 0; f < MAIL_SEARCH_FIELDS; f++)
			k->fields[f] = xstrdup("");
	}
	return k;
}

static long long
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000 +
	       (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Stores keys[0..n) of blobs[0..n) in one light transaction, each unless
 * its blob has lost its last message; its fields always, so that no
 * message stays pending. */
static int
put_batch(struct store *st, char **blobs, struct mail_sortkeys **keys,
	  size_t n, const char **error_r)
{
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ret = store_begin_light(st, error_r);
	if (ret != STORE_OK)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		bool live;
		ret = blob_live(st, blobs[i], &live, error_r);
		if (ret != STORE_OK || !live)
			continue;
		/* keys computed with their text carry their fields, which
		 * searchdb_put_tx() stores (empty ones when unreadable) */
		ret = searchdb_put_tx(st, blobs[i], keys[i], error_r);
	}
	ret = store_end(st, ret, error_r);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	log_debug("store: index batch blobs=%zu wait_ms=%lld held_ms=%lld", n,
		  ms_between(&t0, &t1), ms_between(&t1, &t2));
	return ret;
}

/* Computes the keys of each blob outside any transaction, then stores
 * them in transactions of a batch each (the write lock is held only for
 * the inserts); the count in *done_r. */
static int
index_blobs(struct store *st, char **blobs, size_t n, size_t max_bytes,
	    size_t *done_r, const char **error_r)
{
	struct mail_sortkeys **keys = xcalloc(n > 0 ? n : 1, sizeof *keys);
	int ret = STORE_OK;
	size_t from = 0, bytes = 0;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		keys[i] = blob_keys_compute(st, blobs[i]);
		bytes += keys[i]->text_len;
		for (int f = 0; f < MAIL_SEARCH_FIELDS; f++)
			bytes += keys[i]->fields_len[f];
		if (bytes < max_bytes && i + 1 < n)
			continue;
		ret = put_batch(st, blobs + from, keys + from, i + 1 - from,
				error_r);
		if (ret == STORE_OK)
			*done_r += i + 1 - from;
		for (size_t j = from; j <= i; j++)
			mail_sortkeys_free(&keys[j]);
		from = i + 1;
		bytes = 0;
	}
	for (size_t j = from; j < n; j++)
		mail_sortkeys_free(&keys[j]);
	free(keys);
	return ret;
}

int
searchdb_index_pass(struct store *st, size_t max, bool sweep, size_t *done_r,
		    const char **error_r)
{
	char **blobs = NULL;
	size_t n = 0;

	*done_r = 0;
	/* the messages pending (sql/025): those delivered since the last
	 * pass, and the mail stored before sql/025 and sql/034 */
	sqlite3_stmt *s = store_stmt(st, SQL_FIELDS_MISSING);
	stmt_int(s, 1, (int64_t)max);
	int ret = stmt_strings(st, s, "cannot find unindexed messages", &blobs,
			       &n, error_r);
	if (ret != STORE_OK)
		return ret;
	if (n == 0 && sweep) {
		/* a message whose blob has no keys is pending as well; this
		 * reads every message, so only once, at the start */
		s = store_stmt(st, SQL_MISSING);
		stmt_int(s, 1, (int64_t)max);
		ret = stmt_strings(st, s, "cannot find unindexed messages",
				   &blobs, &n, error_r);
		if (ret != STORE_OK)
			return ret;
	}
	ret = index_blobs(st, blobs, n, max * INDEX_BYTES_PER_BLOB, done_r,
			  error_r);
	store_strv_free(&blobs, n);
	return ret;
}

int
searchdb_gone_pass(struct store *st, size_t max, size_t *done_r, const char **error_r)
{
	char **blobs = NULL;
	size_t n = 0;
	*done_r = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_GONE_LIST);
	stmt_int(s, 1, (int64_t)max);
	int ret = stmt_strings(st, s, "cannot find the index rows of expunged messages", &blobs,
			       &n, error_r);
	if (ret != STORE_OK || n == 0) {
		store_strv_free(&blobs, n);
		return ret;
	}
	/* a light transaction: losing it to a power failure leaves the rows
	 * to the next pass */
	ret = store_begin_light(st, error_r);
	if (ret != STORE_OK) {
		store_strv_free(&blobs, n);
		return ret;
	}
	static const char *const steps[] = { SQL_GONE_TEXT, SQL_GONE_KEYS, SQL_GONE_DONE };
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		for (size_t k = 0; k < sizeof steps / sizeof steps[0] && ret == STORE_OK; k++) {
			s = store_stmt(st, steps[k]);
			stmt_text(s, 1, blobs[i]);
			ret = stmt_exec(st, s, "cannot remove the index rows of expunged messages",
					error_r);
		}
	}
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK)
		*done_r = n;
	store_strv_free(&blobs, n);
	return ret;
}

/*
 * The indexer's wake-up.  A commit that added messages (store_commit(),
 * st->index_wake) counts an arrival; the indexer waits for the count to
 * move.  Process-wide, behind its own lock: messages stored by another
 * process (the CLI) are found at the indexer's next pass or start.
 */
static pthread_once_t arrive_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t arrive_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrive_cond;
/* searchdb_sleep()'s: woken only by an interruption */
static pthread_cond_t sleep_cond;
static uint64_t arrivals;
static bool arrive_interrupted;

static void
arrive_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&arrive_cond, &a);
	pthread_cond_init(&sleep_cond, &a);
	pthread_condattr_destroy(&a);
}

void
searchdb_arrived(void)
{
	pthread_once(&arrive_once, arrive_init);
	pthread_mutex_lock(&arrive_lock);
	arrivals++;
	pthread_cond_broadcast(&arrive_cond);
	pthread_mutex_unlock(&arrive_lock);
}

uint64_t
searchdb_arrivals(void)
{
	pthread_mutex_lock(&arrive_lock);
	uint64_t n = arrivals;
	pthread_mutex_unlock(&arrive_lock);
	return n;
}

int
searchdb_wait(uint64_t seen, const struct timespec *until)
{
	pthread_once(&arrive_once, arrive_init);
	int ret = 0;
	pthread_mutex_lock(&arrive_lock);
	for (;;) {
		if (arrive_interrupted) {
			ret = -1;
			break;
		}
		if (arrivals != seen) {
			ret = 1;
			break;
		}
		int rc = until != NULL
			? pthread_cond_timedwait(&arrive_cond, &arrive_lock, until)
			: pthread_cond_wait(&arrive_cond, &arrive_lock);
		if (rc == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&arrive_lock);
	return ret;
}

int
searchdb_sleep(const struct timespec *until)
{
	pthread_once(&arrive_once, arrive_init);
	int ret = 0;
	pthread_mutex_lock(&arrive_lock);
	while (!arrive_interrupted) {
		if (pthread_cond_timedwait(&sleep_cond, &arrive_lock, until) == ETIMEDOUT)
			break;
	}
	if (arrive_interrupted)
		ret = -1;
	pthread_mutex_unlock(&arrive_lock);
	return ret;
}

void
searchdb_wait_interrupt(bool on)
{
	pthread_once(&arrive_once, arrive_init);
	pthread_mutex_lock(&arrive_lock);
	arrive_interrupted = on;
	pthread_cond_broadcast(&arrive_cond);
	pthread_cond_broadcast(&sleep_cond);
	pthread_mutex_unlock(&arrive_lock);
}

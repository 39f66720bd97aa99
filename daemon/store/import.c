/*
 * import: mail brought in from another server, with its UIDs (import.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/import.h"
#include "store/store_int.h"
#include "store/upstreams.h"

/* An empty mailbox that never held a message takes the old UIDVALIDITY;
 * one with expunged rows did hold some, whose UIDs a client may know. */
static const char SQL_SET_UIDVALIDITY[] =
	"UPDATE mailboxes SET uidvalidity = ?2 WHERE id = ?1 AND uidnext = 1"
	" AND NOT EXISTS (SELECT 1 FROM messages WHERE mailbox_id = ?1)"
	" AND NOT EXISTS (SELECT 1 FROM expunged WHERE mailbox_id = ?1)";
static const char SQL_RAISE_UIDNEXT[] =
	"UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1 AND uidnext < ?2";
static const char SQL_KNOWN[] =
	"SELECT 1 FROM import_keys WHERE mailbox_id = ?1 AND key = ?2";
static const char SQL_KEYS[] =
	"SELECT key FROM import_keys WHERE mailbox_id = ?1 ORDER BY key";
static const char SQL_KEY_ADD[] =
	"INSERT OR IGNORE INTO import_keys (mailbox_id, key) VALUES (?1, ?2)";

int
store_import_mailbox(struct store *st, int64_t user_id, const char *name,
		     uint32_t uidvalidity, int64_t *mailbox_id_r, bool *created_r,
		     const char **error_r)
{
	struct store_mailbox mb;
	bool created = false;
	int ret = store_mailbox_get(st, user_id, name, &mb, error_r);
	if (ret == STORE_NOTFOUND) {
		ret = store_mailbox_create(st, user_id, name, NULL, true, error_r);
		if (ret != STORE_OK && ret != STORE_EXISTS)
			return ret;
		created = ret == STORE_OK;
		ret = store_mailbox_get(st, user_id, name, &mb, error_r);
	}
	if (ret != STORE_OK)
		return ret;
	int64_t id = mb.id;
	store_mailbox_clear(&mb);
	if (uidvalidity != 0) {
		if ((ret = store_begin_light(st, error_r)) != STORE_OK)
			return ret;
		sqlite3_stmt *s = store_stmt(st, SQL_SET_UIDVALIDITY);
		stmt_int(s, 1, id);
		stmt_int(s, 2, uidvalidity);
		ret = stmt_exec(st, s, "cannot set the UIDVALIDITY", error_r);
		if (ret == STORE_OK)
			store_tx_touch(st, id);
		if ((ret = store_end(st, ret, error_r)) != STORE_OK)
			return ret;
	}
	*mailbox_id_r = id;
	if (created_r != NULL)
		*created_r = created;
	return STORE_OK;
}

int
store_import_mailbox_done(struct store *st, int64_t mailbox_id, uint32_t uidnext,
			  const char **error_r)
{
	if (uidnext <= 1 || uidnext == UINT32_MAX)
		return STORE_OK;
	int ret = store_begin_light(st, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_RAISE_UIDNEXT);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, uidnext);
	ret = stmt_exec(st, s, "cannot raise UIDNEXT", error_r);
	return store_end(st, ret, error_r);
}

int
store_import_known(struct store *st, int64_t mailbox_id, const char *key,
		   const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_KNOWN);
	stmt_int(s, 1, mailbox_id);
	stmt_text(s, 2, key);
	return stmt_exists(st, s, "cannot look up an imported message", error_r);
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
store_import_keys_load(struct store *st, int64_t mailbox_id, struct store_import_keys *k,
		       const char **error_r)
{
	store_import_keys_clear(k);
	sqlite3_stmt *s = store_stmt(st, SQL_KEYS);
	stmt_int(s, 1, mailbox_id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (k->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			k->keys = xreallocarray(k->keys, cap, sizeof *k->keys);
		}
		k->keys[k->n++] = xstrndup((const char *)sqlite3_column_text(s, 0),
					   (size_t)sqlite3_column_bytes(s, 0));
	}
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot read the imported messages");
		stmt_done(s);
		store_import_keys_clear(k);
		return STORE_ERROR;
	}
	stmt_done(s);
	/* SQLite's BINARY order is memcmp's, and keys hold no NUL: sorted
	 * already, but a sort of sorted keys is cheap and assumes nothing */
	if (k->n > 1)
		qsort(k->keys, k->n, sizeof *k->keys, cmp_key);
	k->mailbox_id = mailbox_id;
	k->loaded = true;
	return STORE_OK;
}

bool
store_import_keys_has(const struct store_import_keys *k, const char *key)
{
	return k->n > 0 && bsearch(&key, k->keys, k->n, sizeof *k->keys, cmp_key) != NULL;
}

void
store_import_keys_clear(struct store_import_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->keys[i]);
	free(k->keys);
	memset(k, 0, sizeof *k);
}

void
store_import_bulk(struct store *st)
{
	store_cache_kib(st, IMPORT_BULK_CACHE_KIB);
}

/* ---- batches ------------------------------------------------------------ */

struct store_import_batch {
	struct store *st;
	struct upstream_batch *ub;
	unsigned skipped;	/* in the commit under way */
};

/* The batch's own record of a message (the extra of upstream_batch). */
struct import_rec {
	struct store_import_batch *b;
	int64_t mailbox_id;
	uint32_t uid;
	unsigned flags;
	char *keywords;
	int64_t internal_date;
	char *key;
};

static void
rec_free(void *p)
{
	struct import_rec *r = p;
	free(r->keywords);
	free(r->key);
	free(r);
}

/* Inside commit's transaction: the key first, so that a message already
 * imported (by an earlier run, or earlier in this batch) is not added. */
static int
import_rows(struct store *st, const struct upstream_delivery *d, void *extra,
	    bool *appended_r, const char **error_r)
{
	struct import_rec *r = extra;
	*appended_r = false;
	sqlite3_stmt *s = store_stmt(st, SQL_KEY_ADD);
	stmt_int(s, 1, r->mailbox_id);
	stmt_text(s, 2, r->key);
	unsigned added;
	int ret = stmt_exec_n(st, s, "cannot record the imported message", &added, error_r);
	if (ret != STORE_OK)
		return ret;
	if (added == 0) {
		r->b->skipped++;
		return STORE_OK;
	}
	uint32_t uid;
	ret = store_append_uid_tx(st, r->mailbox_id, r->uid, d->blob, d->size,
				  r->internal_date, r->flags, r->keywords, true, &uid,
				  error_r);
	if (ret != STORE_OK)
		return ret;
	*appended_r = true;
	return STORE_OK;
}

int
store_import_batch_new(struct store *st, struct store_import_batch **b_r)
{
	struct store_import_batch *b = xcalloc(1, sizeof *b);
	b->st = st;
	store_upstream_batch_new(st, &b->ub);
	store_upstream_batch_set_rows(b->ub, import_rows, rec_free);
	*b_r = b;
	return STORE_OK;
}

int
store_import_batch_begin(struct store_import_batch *b, const char **error_r)
{
	return store_upstream_batch_begin(b->ub, IMPORT_MESSAGE_MAX, error_r);
}

int
store_import_batch_write(struct store_import_batch *b, const void *p, size_t n,
			 const char **error_r)
{
	return store_upstream_batch_write(b->ub, p, n, error_r);
}

/* The keywords that IMAP can carry (RFC 3501 §9: flag-keyword is an atom;
 * no system flag), space-separated; NULL when none is left. */
static char *
clean_keywords(const char *text)
{
	if (text == NULL)
		return NULL;
	size_t n = strlen(text), k = 0;
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n;) {
		while (i < n && text[i] == ' ')
			i++;
		size_t s = i;
		bool ok = i < n && text[i] != '\\';
		while (i < n && text[i] != ' ') {
			unsigned char c = (unsigned char)text[i++];
			if (c < 0x21 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
				ok = false;
		}
		if (!ok || i == s)
			continue;
		if (k > 0)
			out[k++] = ' ';
		memcpy(out + k, text + s, i - s);
		k += i - s;
	}
	out[k] = '\0';
	if (k == 0)
		xfree(out);
	return out;
}

int
store_import_batch_end(struct store_import_batch *b, const struct store_import_msg *m,
		       const char **error_r)
{
	if (m->keywords != NULL && strlen(m->keywords) > MESSAGE_KEYWORDS_MAX) {
		store_upstream_batch_abort_message(b->ub);
		*error_r = "too many keywords";
		return STORE_INVALID;
	}
	struct import_rec *r = xcalloc(1, sizeof *r);
	r->b = b;
	r->mailbox_id = m->mailbox_id;
	r->uid = m->uid;
	r->flags = m->flags & (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED |
			       STORE_FLAG_DELETED | STORE_FLAG_DRAFT);
	r->keywords = clean_keywords(m->keywords);
	r->internal_date = m->internal_date;
	r->key = xstrdup(m->key);
	struct upstream_delivery d = {
		.mailbox_id = m->mailbox_id,
		.internal_date = m->internal_date,
	};
	return store_upstream_batch_end_extra(b->ub, &d, r, error_r);
}

void
store_import_batch_abort_message(struct store_import_batch *b)
{
	store_upstream_batch_abort_message(b->ub);
}

size_t
store_import_batch_count(const struct store_import_batch *b)
{
	return store_upstream_batch_count(b->ub);
}

int
store_import_batch_commit(struct store_import_batch *b, unsigned *imported_r,
			  unsigned *skipped_r, const char **error_r)
{
	unsigned delivered;
	b->skipped = 0;
	int ret = store_upstream_batch_commit(b->ub, imported_r, &delivered, error_r);
	*skipped_r = ret == STORE_OK ? b->skipped : 0;
	return ret;
}

void
store_import_batch_free(struct store_import_batch **bp)
{
	struct store_import_batch *b = *bp;
	if (b == NULL)
		return;
	store_upstream_batch_free(&b->ub);
	free(b);
	*bp = NULL;
}

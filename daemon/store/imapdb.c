/*
 * imapdb: the IMAP server's store operations (see imapdb.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/imapdb.h"
#include "store/spam.h"
#include "store/store_int.h"
#include "store/viewcache.h"

/* A read snapshot: the mailbox row and its messages agree. */
static const char SQL_READ_BEGIN[] = "BEGIN DEFERRED";
static const char SQL_READ_END[] = "COMMIT";

static const char SQL_MAILBOX[] =
	"SELECT id, user_id, name, uidvalidity, uidnext, highestmodseq,"
	" special_use, EXISTS (SELECT 1 FROM subscriptions sb WHERE"
	" sb.user_id = mailboxes.user_id AND sb.name = mailboxes.name),"
	" messages, unseen, first_recent_uid,"
	" (SELECT count(*) FROM mailbox_keywords k WHERE k.mailbox_id = mailboxes.id)"
	" FROM mailboxes WHERE id = ?1";
static const char SQL_VIEW[] =
	"SELECT uid, flags, keywords, modseq FROM messages"
	" WHERE mailbox_id = ?1 ORDER BY uid";
/* after every command: the few rows changed since the last look, found
 * by MODSEQ (the covering view index would scan the whole mailbox) */
static const char SQL_CHANGES[] =
	"SELECT uid, flags, keywords, modseq FROM messages"
	" INDEXED BY messages_modseq"
	" WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid";
static const char SQL_UIDS[] =
	"SELECT uid FROM messages WHERE mailbox_id = ?1 ORDER BY uid";
static const char SQL_CLAIM_RECENT[] =
	"UPDATE mailboxes SET first_recent_uid = ?2 WHERE id = ?1";
static const char SQL_GET_RECENT[] =
	"SELECT first_recent_uid, uidnext FROM mailboxes WHERE id = ?1";
static const char SQL_COUNT_RECENT[] =
	"SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND uid >= ?2";
static const char SQL_FLAGS_GET[] =
	"SELECT flags, keywords, modseq FROM messages"
	" WHERE mailbox_id = ?1 AND uid = ?2";
static const char SQL_FLAGS_SET[] =
	"UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5"
	" WHERE mailbox_id = ?1 AND uid = ?2";
/* a keyword named in a STORE joins the mailbox's list (sql/012) even when
 * no message ends up with it (a removal) */
static const char SQL_KEYWORD_NOTE[] =
	"INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword) VALUES (?1, ?2)";
static const char SQL_BUMP_MODSEQ[] =
	"UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1"
	" RETURNING highestmodseq";
static const char SQL_COPY_SRC[] =
	"SELECT blob, size, internal_date, flags, keywords, envelope,"
	" bodystructure FROM messages WHERE mailbox_id = ?1 AND uid = ?2";
static const char SQL_SET_CACHE[] =
	"UPDATE messages SET envelope = ?3, bodystructure = ?4"
	" WHERE mailbox_id = ?1 AND uid = ?2";
static const char SQL_DELETE_ONE[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2";
/* EXPUNGE of every \Deleted message: one statement (the triggers of
 * sql/ run for each row as for a DELETE of one) */
static const char SQL_DELETE_DELETED[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND flags & 8 <> 0"
	" RETURNING uid";
static const char SQL_DELETED[] =
	"SELECT uid FROM messages WHERE mailbox_id = ?1 AND flags & 8 <> 0"
	" ORDER BY uid";
static const char SQL_UIDVALIDITY[] =
	"SELECT uidvalidity FROM mailboxes WHERE id = ?1";
static const char SQL_MAILBOX_ID[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1 AND name = ?2";
static const char SQL_MAILBOX_DELETE[] =
	"DELETE FROM mailboxes WHERE id = ?1";
/* the mailbox and its children: name = ?2 or name starts with ?2 || '/' */
static const char SQL_RENAME_LIST[] =
	"SELECT id, name FROM mailboxes WHERE user_id = ?1 AND (name = ?2 OR"
	" substr(name, 1, length(?2) + 1) = ?2 || '/')";
static const char SQL_RENAME_ONE[] =
	"UPDATE mailboxes SET name = ?2 WHERE id = ?1";
static const char SQL_INBOX_MOVE[] =
	"INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords,"
	" internal_date, size, blob, envelope, bodystructure, save_date)"
	" SELECT ?2, uid, 1, flags, keywords, internal_date, size, blob,"
	" envelope, bodystructure, save_date FROM messages WHERE mailbox_id = ?1";
static const char SQL_INBOX_CLEAR[] = "DELETE FROM messages WHERE mailbox_id = ?1";
static const char SQL_INBOX_COUNTERS[] =
	"UPDATE mailboxes SET uidnext = (SELECT uidnext FROM mailboxes WHERE id = ?1),"
	" highestmodseq = (SELECT highestmodseq FROM mailboxes WHERE id = ?1) + 1"
	" WHERE id = ?2";
static const char SQL_SUBSCRIBE[] =
	"INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?1, ?2)";
static const char SQL_UNSUBSCRIBE[] =
	"DELETE FROM subscriptions WHERE user_id = ?1 AND name = ?2";
static const char SQL_SUBSCRIPTIONS[] =
	"SELECT name FROM subscriptions WHERE user_id = ?1 ORDER BY name";
/* RENAME takes the subscriptions of the mailbox and its children along */
static const char SQL_RENAME_SUBSCRIPTIONS[] =
	"UPDATE OR REPLACE subscriptions SET name = ?3 || substr(name, length(?2) + 1)"
	" WHERE user_id = ?1 AND (name = ?2 OR"
	" substr(name, 1, length(?2) + 1) = ?2 || '/')";
/* with the messages expunged since a session last looked (sql/012) */
static const char SQL_ROWS[] =
	"SELECT uid, blob, size, internal_date, envelope, bodystructure,"
	" coalesce(save_date, internal_date)"
	" FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3"
	" UNION ALL"
	" SELECT uid, blob, size, internal_date, envelope, bodystructure,"
	" internal_date FROM expunged WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3"
	" AND blob IS NOT NULL"
	" ORDER BY uid";

#define FLAGS_ALL (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | \
		   STORE_FLAG_DELETED | STORE_FLAG_DRAFT)

void
imapdb_msg_list_free(struct imapdb_msg **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*list)[i].keywords);
	xfree(*list);
}

static int
read_begin(struct store *st, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_READ_BEGIN);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot begin a read");
		return STORE_ERROR;
	}
	return STORE_OK;
}

static void
read_end(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, SQL_READ_END);
	if (sqlite3_step(s) != SQLITE_DONE)
		log_error("store: end of a read failed: %s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
}

static int
mailbox_row(struct store *st, int64_t mailbox_id, struct store_mailbox *mb,
	    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX);
	stmt_int(s, 1, mailbox_id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		stmt_done(s);
		memset(mb, 0, sizeof *mb);
		if (rc == SQLITE_DONE) {
			*error_r = "mailbox does not exist";
			return STORE_NOTFOUND;
		}
		*error_r = store_db_error(st, "cannot read a mailbox");
		return STORE_ERROR;
	}
	mb->id = sqlite3_column_int64(s, 0);
	mb->user_id = sqlite3_column_int64(s, 1);
	mb->name = stmt_col_strdup(s, 2);
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(s, 3);
	mb->uidnext = (uint32_t)sqlite3_column_int64(s, 4);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(s, 5);
	mb->special_use = stmt_col_strdup(s, 6);
	mb->subscribed = sqlite3_column_int(s, 7) != 0;
	mb->messages = (uint32_t)sqlite3_column_int64(s, 8);
	mb->unseen = (uint32_t)sqlite3_column_int64(s, 9);
	mb->first_recent_uid = (uint32_t)sqlite3_column_int64(s, 10);
	mb->keywords = (uint32_t)sqlite3_column_int64(s, 11);
	stmt_done(s);
	return STORE_OK;
}

static int
msg_rows(struct store *st, sqlite3_stmt *s, size_t expect,
	 struct imapdb_msg **list_r, size_t *n_r, const char **error_r)
{
	struct imapdb_msg *list = NULL;
	size_t n = 0, cap = 0;
	/* the mailbox's count of messages, when the caller knows it: one
	 * allocation instead of a doubling one */
	if (expect > 0 && expect <= IMAP_VIEW_PREALLOC_MAX) {
		cap = expect;
		list = xreallocarray(NULL, cap, sizeof *list);
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		struct imapdb_msg *m = &list[n++];
		m->uid = (uint32_t)sqlite3_column_int64(s, 0);
		m->flags = (unsigned)sqlite3_column_int(s, 1);
		m->keywords = stmt_col_strdup(s, 2);
		m->modseq = (uint64_t)sqlite3_column_int64(s, 3);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		imapdb_msg_list_free(&list, n);
		*error_r = store_db_error(st, "cannot read messages");
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

int
imapdb_view_load(struct store *st, int64_t mailbox_id,
		 struct store_mailbox *mb_r, struct imapdb_msg **list_r,
		 size_t *n_r, const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	if (read_begin(st, error_r) < 0)
		return STORE_ERROR;
	int ret = mailbox_row(st, mailbox_id, mb_r, error_r);
	/* a big mailbox unchanged since a session of this process loaded
	 * it: a copy of that view (store/viewcache.h) */
	if (ret == STORE_OK && !viewcache_get(mb_r, list_r, n_r)) {
		sqlite3_stmt *s = store_stmt(st, SQL_VIEW);
		stmt_int(s, 1, mailbox_id);
		ret = msg_rows(st, s, mb_r->messages, list_r, n_r, error_r);
		if (ret != STORE_OK)
			store_mailbox_clear(mb_r);
		else
			viewcache_put(mb_r, *list_r, *n_r);
	}
	read_end(st);
	return ret;
}

int
imapdb_changes(struct store *st, int64_t mailbox_id, uint64_t modseq,
	       struct store_mailbox *mb_r, struct imapdb_msg **list_r,
	       size_t *n_r, bool want_uids, uint32_t **all_uids_r,
	       size_t *n_uids_r, const char **error_r)
{
	*list_r = NULL;
	*n_r = 0;
	if (all_uids_r != NULL) {
		*all_uids_r = NULL;
		*n_uids_r = 0;
	}
	if (read_begin(st, error_r) < 0)
		return STORE_ERROR;
	int ret = mailbox_row(st, mailbox_id, mb_r, error_r);
	if (ret == STORE_OK && mb_r->highestmodseq > modseq) {
		sqlite3_stmt *s = store_stmt(st, SQL_CHANGES);
		stmt_int(s, 1, mailbox_id);
		stmt_int(s, 2, (int64_t)modseq);
		ret = msg_rows(st, s, 0, list_r, n_r, error_r);
	}
	if (ret == STORE_OK && want_uids && all_uids_r != NULL) {
		uint32_t *uids = NULL;
		size_t n = 0, cap = 0;
		int rc;
		sqlite3_stmt *s = store_stmt(st, SQL_UIDS);
		stmt_int(s, 1, mailbox_id);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap == 0 ? 256 : cap * 2;
				uids = xreallocarray(uids, cap, sizeof *uids);
			}
			uids[n++] = (uint32_t)sqlite3_column_int64(s, 0);
		}
		stmt_done(s);
		if (rc != SQLITE_DONE) {
			free(uids);
			*error_r = store_db_error(st, "cannot list UIDs");
			ret = STORE_ERROR;
		} else {
			*all_uids_r = uids;
			*n_uids_r = n;
		}
	}
	if (ret != STORE_OK) {
		imapdb_msg_list_free(list_r, *n_r);
		*n_r = 0;
		store_mailbox_clear(mb_r);
	}
	read_end(st);
	return ret;
}

/* first_recent_uid and uidnext of a mailbox. */
static int
recent_bounds(struct store *st, int64_t mailbox_id, uint32_t *first_r,
	      uint32_t *next_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET_RECENT);
	stmt_int(s, 1, mailbox_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*first_r = (uint32_t)sqlite3_column_int64(s, 0);
		*next_r = (uint32_t)sqlite3_column_int64(s, 1);
	}
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE) {
		*error_r = "mailbox does not exist";
		return STORE_NOTFOUND;
	}
	*error_r = store_db_error(st, "cannot read the mailbox");
	return STORE_ERROR;
}

int
imapdb_claim_recent(struct store *st, int64_t mailbox_id, uint32_t upto,
		    uint32_t *first_r, const char **error_r)
{
	uint32_t next;
	/* nothing new since the last claim: no write (and no fsync) */
	int ret = recent_bounds(st, mailbox_id, first_r, &next, error_r);
	/* only what the caller's view has: a message that arrived since
	 * its snapshot is left to whoever sees it first */
	if (upto < next)
		next = upto;
	if (ret != STORE_OK || *first_r >= next) {
		if (ret == STORE_OK)
			*first_r = next;
		return ret;
	}
	/* \Recent carries no message: a lazy commit (store_begin_lazy()) */
	if ((ret = store_begin_lazy(st, error_r)) < 0)
		return ret;
	/* again inside the write lock: another session may have claimed */
	ret = recent_bounds(st, mailbox_id, first_r, &next, error_r);
	if (ret != STORE_OK) {
		store_rollback(st);
		return ret;
	}
	if (upto < next)
		next = upto;
	if (*first_r >= next) {
		*first_r = next;
		store_rollback(st);
		return STORE_OK;
	}
	sqlite3_stmt *s = store_stmt(st, SQL_CLAIM_RECENT);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, next);
	ret = stmt_exec(st, s, "cannot claim recent messages", error_r);
	if (ret != STORE_OK)
		store_rollback(st);
	else
		ret = store_commit(st, error_r);
	if (ret == STORE_NOSPACE) {
		/* a full disk must not keep anyone from their mail: this
		 * session claims none (RFC 3501 §2.3.2: \Recent is shown to
		 * at most one session, so none is safe) */
		log_warning("store: mailbox=%lld recent not claimed: %s",
			    (long long)mailbox_id, *error_r);
		*first_r = next;
		return STORE_OK;
	}
	return ret;
}

int
imapdb_first_recent(struct store *st, int64_t mailbox_id, uint32_t *first_r,
		    const char **error_r)
{
	uint32_t next;
	return recent_bounds(st, mailbox_id, first_r, &next, error_r);
}

int
imapdb_count_recent(struct store *st, int64_t mailbox_id, uint32_t *n_r,
		    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET_RECENT);
	stmt_int(s, 1, mailbox_id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		stmt_done(s);
		*error_r = store_db_error(st, "cannot read the mailbox");
		return STORE_ERROR;
	}
	int64_t first = sqlite3_column_int64(s, 0);
	stmt_done(s);
	s = store_stmt(st, SQL_COUNT_RECENT);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, first);
	if (sqlite3_step(s) != SQLITE_ROW) {
		stmt_done(s);
		*error_r = store_db_error(st, "cannot count recent messages");
		return STORE_ERROR;
	}
	*n_r = (uint32_t)sqlite3_column_int64(s, 0);
	stmt_done(s);
	return STORE_OK;
}

/* Whether the space-separated list has word (IMAP flags ignore case). */
static bool
kw_has(const char *list, const char *word, size_t wlen)
{
	const char *p = list;
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == wlen && mem_eq_nocase(p, word, l))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

char *
imapdb_keywords_apply(const char *old, enum imapdb_flag_mode mode,
		      const char *change)
{
	struct buf b = BUF_INIT;
	if (mode != IMAPDB_FLAGS_REPLACE && old != NULL) {
		const char *p = old;
		while (*p != '\0') {
			const char *e = strchr(p, ' ');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			bool drop = mode == IMAPDB_FLAGS_REMOVE &&
				    kw_has(change, p, l);
			if (l > 0 && !drop) {
				if (b.len > 0)
					buf_putc(&b, ' ');
				buf_append(&b, p, l);
			}
			if (e == NULL)
				break;
			p = e + 1;
		}
	}
	if (mode != IMAPDB_FLAGS_REMOVE && change != NULL) {
		const char *p = change;
		while (*p != '\0') {
			const char *e = strchr(p, ' ');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			if (l > 0 && !kw_has(b.data, p, l)) {
				if (b.len > 0)
					buf_putc(&b, ' ');
				buf_append(&b, p, l);
			}
			if (e == NULL)
				break;
			p = e + 1;
		}
	}
	if (b.len == 0 || b.len > MESSAGE_KEYWORDS_MAX) {
		/* past the bound a message's keywords may take: left as
		 * they were */
		bool over = b.len > 0;
		buf_free(&b);
		return over && old != NULL ? xstrdup(old) : NULL;
	}
	return buf_steal(&b);
}

static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
imapdb_store_flags(struct store *st, int64_t mailbox_id, const uint32_t *uids,
		   size_t n, enum imapdb_flag_mode mode, unsigned flags,
		   const char *keywords, struct imapdb_msg *results,
		   const char **error_r)
{
	return imapdb_store_flags_cond(st, mailbox_id, uids, n, mode, flags,
				       keywords, UINT64_MAX, results, NULL,
				       error_r);
}

unsigned
imapdb_flags_apply(unsigned old, enum imapdb_flag_mode mode, unsigned flags)
{
	unsigned nf = mode == IMAPDB_FLAGS_REPLACE ? flags :
		      mode == IMAPDB_FLAGS_ADD ? old | flags : old & ~flags;
	return nf & FLAGS_ALL;
}

int
imapdb_store_flags_cond(struct store *st, int64_t mailbox_id,
			const uint32_t *uids, size_t n,
			enum imapdb_flag_mode mode, unsigned flags,
			const char *keywords, uint64_t unchangedsince,
			struct imapdb_msg *results, bool *modified,
			const char **error_r)
{
	memset(results, 0, n * sizeof *results);
	if (modified != NULL)
		memset(modified, 0, n * sizeof *modified);
	/* flags carry no message: a lazy commit (store_begin_lazy()) */
	int ret = store_begin_lazy(st, error_r);
	if (ret < 0)
		return ret;
	int64_t modseq = 0;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = store_stmt(st, SQL_FLAGS_GET);
		stmt_int(s, 1, mailbox_id);
		stmt_int(s, 2, uids[i]);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			stmt_done(s);
			continue;
		}
		if (rc != SQLITE_ROW) {
			stmt_done(s);
			*error_r = store_db_error(st, "cannot read flags");
			goto fail;
		}
		unsigned old = (unsigned)sqlite3_column_int(s, 0);
		char *old_kw = stmt_col_strdup(s, 1);
		uint64_t old_modseq = (uint64_t)sqlite3_column_int64(s, 2);
		stmt_done(s);
		/* RFC 7162 §3.1.3: changed since the client looked: left alone */
		if (unchangedsince != UINT64_MAX && old_modseq > unchangedsince) {
			if (modified != NULL)
				modified[i] = true;
			results[i].uid = uids[i];
			results[i].flags = old;
			results[i].keywords = old_kw;
			results[i].modseq = old_modseq;
			continue;
		}
		unsigned nf = imapdb_flags_apply(old, mode, flags);
		char *nk = imapdb_keywords_apply(old_kw, mode, keywords);
		results[i].uid = uids[i];
		results[i].flags = nf;
		results[i].modseq = old_modseq;
		if (nf != old || !str_same(nk, old_kw)) {
			if (modseq == 0) {
				s = store_stmt(st, SQL_BUMP_MODSEQ);
				stmt_int(s, 1, mailbox_id);
				if (sqlite3_step(s) != SQLITE_ROW) {
					stmt_done(s);
					free(nk);
					free(old_kw);
					*error_r = store_db_error(st, "cannot take a MODSEQ");
					goto fail;
				}
				modseq = sqlite3_column_int64(s, 0);
				stmt_done(s);
				store_tx_modseq(st, mailbox_id, (uint64_t)modseq);
			}
			s = store_stmt(st, SQL_FLAGS_SET);
			stmt_int(s, 1, mailbox_id);
			stmt_int(s, 2, uids[i]);
			stmt_int(s, 3, nf);
			stmt_text(s, 4, nk);
			stmt_int(s, 5, modseq);
			if (stmt_exec(st, s, "cannot set flags", error_r) < 0) {
				free(nk);
				free(old_kw);
				goto fail;
			}
			results[i].modseq = (uint64_t)modseq;
		}
		results[i].keywords = nk;
		free(old_kw);
	}
	for (const char *p = keywords; p != NULL && *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > 0) {
			sqlite3_stmt *s = store_stmt(st, SQL_KEYWORD_NOTE);
			stmt_int(s, 1, mailbox_id);
			sqlite3_bind_text(s, 2, p, (int)l, SQLITE_TRANSIENT);
			if (stmt_exec(st, s, "cannot note a keyword", error_r) < 0)
				goto fail;
		}
		p = e ? e + 1 : NULL;
	}
	if (modseq != 0)
		store_tx_touch(st, mailbox_id);
	ret = store_commit(st, error_r);
	if (ret == STORE_OK)
		return STORE_OK;
	for (size_t i = 0; i < n; i++)
		free(results[i].keywords);
	memset(results, 0, n * sizeof *results);
	return ret;
fail:
	store_rollback(st);
	for (size_t i = 0; i < n; i++)
		free(results[i].keywords);
	memset(results, 0, n * sizeof *results);
	return STORE_ERROR;
}

static int
bump_modseq(struct store *st, int64_t mailbox_id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_BUMP_MODSEQ);
	stmt_int(s, 1, mailbox_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		store_tx_modseq(st, mailbox_id, (uint64_t)sqlite3_column_int64(s, 0));
	stmt_done(s);
	if (rc != SQLITE_ROW) {
		*error_r = store_db_error(st, "cannot bump HIGHESTMODSEQ");
		return STORE_ERROR;
	}
	store_tx_touch(st, mailbox_id);
	return STORE_OK;
}

static int
delete_one(struct store *st, int64_t mailbox_id, uint32_t uid,
	   const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DELETE_ONE);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, uid);
	return stmt_exec(st, s, "cannot remove a message", error_r) < 0 ?
		STORE_ERROR : STORE_OK;
}

int
imapdb_copy(struct store *st, int64_t src_mailbox_id, int64_t dst_mailbox_id,
	    const uint32_t *uids, size_t n, bool move, bool learn, uint32_t *new_uids,
	    uint32_t *uidvalidity_r, const char **error_r)
{
	enum store_learn_kind kind = STORE_LEARN_NONE;
	/* light: durable when store_commit() returns, its flush taken
	 * outside SQLite's write lock (see store_append()) */
	int ret = store_begin_light(st, error_r);
	if (ret < 0)
		return ret;
	if (learn && (ret = store_learn_kind_of_copy(st, src_mailbox_id, dst_mailbox_id,
						     &kind, error_r)) != STORE_OK) {
		store_rollback(st);
		return ret;
	}
	sqlite3_stmt *s = store_stmt(st, SQL_UIDVALIDITY);
	stmt_int(s, 1, dst_mailbox_id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		stmt_done(s);
		store_rollback(st);
		*error_r = "the target mailbox does not exist";
		return STORE_NOTFOUND;
	}
	*uidvalidity_r = (uint32_t)sqlite3_column_int64(s, 0);
	stmt_done(s);
	for (size_t i = 0; i < n; i++) {
		new_uids[i] = 0;
		s = store_stmt(st, SQL_COPY_SRC);
		stmt_int(s, 1, src_mailbox_id);
		stmt_int(s, 2, uids[i]);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			stmt_done(s);
			continue;
		}
		if (rc != SQLITE_ROW) {
			stmt_done(s);
			*error_r = store_db_error(st, "cannot read a message");
			ret = STORE_ERROR;
			goto fail;
		}
		char *blob = stmt_col_strdup(s, 0);
		uint64_t size = (uint64_t)sqlite3_column_int64(s, 1);
		int64_t idate = sqlite3_column_int64(s, 2);
		unsigned flags = (unsigned)sqlite3_column_int(s, 3);
		char *kw = stmt_col_strdup(s, 4);
		/* the copy has the source's IMAP cache in its INSERT */
		struct store_imap_cache cache;
		memset(&cache, 0, sizeof cache);
		if (blob != NULL && strlen(blob) == SHA256_HEX_LEN)
			memcpy(cache.blob, blob, SHA256_HEX_LEN + 1);
		cache.envelope = stmt_col_strdup(s, 5);
		cache.bodystructure = stmt_col_strdup(s, 6);
		stmt_done(s);
		st->append_cache = &cache;
		ret = store_append_tx(st, dst_mailbox_id, blob ? blob : "", size,
				      idate, flags, kw, false, &new_uids[i],
				      error_r);
		st->append_cache = NULL;
		if (ret == STORE_OK && move)
			ret = delete_one(st, src_mailbox_id, uids[i], error_r);
		if (ret == STORE_OK && blob != NULL)
			ret = store_learn_add_tx(st, dst_mailbox_id, blob, kind, error_r);
		free(blob);
		free(kw);
		store_imap_cache_clear(&cache);
		if (ret != STORE_OK)
			goto fail;
	}
	store_tx_touch(st, dst_mailbox_id);
	if (move && (ret = bump_modseq(st, src_mailbox_id, error_r)) != STORE_OK)
		goto fail;
	return store_commit(st, error_r);
fail:
	store_rollback(st);
	return ret;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int
imapdb_expunge_deleted(struct store *st, int64_t mailbox_id,
		       const uint32_t *uids, size_t n, uint32_t **expunged_r,
		       size_t *n_r, const char **error_r)
{
	*expunged_r = NULL;
	*n_r = 0;
	/* an expunge carries no message (if a power failure undoes it, the
	 * message is back, not lost): a lazy commit (store_begin_lazy()) */
	int ret = store_begin_lazy(st, error_r);
	if (ret < 0)
		return ret;
	uint32_t *del = NULL;
	size_t nd = 0, cap = 0;
	int rc;
	/* all of them (EXPUNGE): removed as they are found; only those in
	 * uids (UID EXPUNGE): found, then removed one by one */
	sqlite3_stmt *s = store_stmt(st, uids == NULL ? SQL_DELETE_DELETED : SQL_DELETED);
	stmt_int(s, 1, mailbox_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 0);
		if (uids != NULL &&
		    bsearch(&uid, uids, n, sizeof *uids, cmp_u32) == NULL)
			continue;
		if (nd == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			del = xreallocarray(del, cap, sizeof *del);
		}
		del[nd++] = uid;
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot find deleted messages");
		ret = store_rc_status(rc);
		goto fail;
	}
	if (uids == NULL) {
		/* RETURNING gives the rows in no stated order */
		if (nd > 1)
			qsort(del, nd, sizeof *del, cmp_u32);
	} else {
		for (size_t i = 0; i < nd; i++) {
			if ((ret = delete_one(st, mailbox_id, del[i], error_r)) != STORE_OK)
				goto fail;
		}
	}
	if (nd > 0 && (ret = bump_modseq(st, mailbox_id, error_r)) != STORE_OK)
		goto fail;
	ret = store_commit(st, error_r);
	if (ret != STORE_OK) {
		free(del);
		return ret;
	}
	*expunged_r = del;
	*n_r = nd;
	return STORE_OK;
fail:
	store_rollback(st);
	free(del);
	return ret;
}

static int
mailbox_id_of(struct store *st, int64_t user_id, const char *name,
	      int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX_ID);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, name);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(s, 0);
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE) {
		*error_r = errfmt("mailbox '%s' does not exist", esc_str(name));
		return STORE_NOTFOUND;
	}
	*error_r = store_db_error(st, "cannot look up a mailbox");
	return STORE_ERROR;
}

int
imapdb_mailbox_delete(struct store *st, int64_t user_id, const char *name,
		      const char **error_r)
{
	if (str_eq_nocase(name, "INBOX")) {
		*error_r = "INBOX cannot be deleted";
		return STORE_INVALID;
	}
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	int64_t id;
	ret = mailbox_id_of(st, user_id, name, &id, error_r);
	if (ret == STORE_OK) {
		sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX_DELETE);
		stmt_int(s, 1, id);
		if (stmt_exec(st, s, "cannot delete the mailbox", error_r) < 0)
			ret = STORE_ERROR;
		else
			store_tx_touch(st, id);
	}
	if (ret != STORE_OK) {
		store_rollback(st);
		return ret;
	}
	return store_commit(st, error_r);
}

static int
rename_inbox(struct store *st, int64_t user_id, const char *new_name,
	     const char **error_r)
{
	int64_t inbox, dst;
	int ret = mailbox_id_of(st, user_id, "INBOX", &inbox, error_r);
	if (ret != STORE_OK)
		return ret;
	ret = store_mailbox_create_tx(st, user_id, new_name, NULL, false, &dst, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_INBOX_MOVE);
	stmt_int(s, 1, inbox);
	stmt_int(s, 2, dst);
	if (stmt_exec(st, s, "cannot move INBOX's messages", error_r) < 0)
		return STORE_ERROR;
	s = store_stmt(st, SQL_INBOX_COUNTERS);
	stmt_int(s, 1, inbox);
	stmt_int(s, 2, dst);
	if (stmt_exec(st, s, "cannot set the counters", error_r) < 0)
		return STORE_ERROR;
	s = store_stmt(st, SQL_INBOX_CLEAR);
	stmt_int(s, 1, inbox);
	if (stmt_exec(st, s, "cannot empty INBOX", error_r) < 0)
		return STORE_ERROR;
	store_tx_touch(st, inbox);
	return bump_modseq(st, inbox, error_r);
}

int
imapdb_mailbox_rename(struct store *st, int64_t user_id, const char *old_name,
		      const char *new_name, const char **error_r)
{
	size_t old_len = strlen(old_name);
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	int64_t id;
	if ((ret = mailbox_id_of(st, user_id, new_name, &id, error_r)) == STORE_OK) {
		*error_r = errfmt("mailbox '%s' exists", esc_str(new_name));
		ret = STORE_EXISTS;
		goto fail;
	}
	if (ret != STORE_NOTFOUND)
		goto fail;
	if (str_eq_nocase(old_name, "INBOX")) {
		/* RFC 3501 §6.3.5: INBOX's messages move; INBOX stays */
		if ((ret = rename_inbox(st, user_id, new_name, error_r)) != STORE_OK)
			goto fail;
		return store_commit(st, error_r);
	}
	if ((ret = mailbox_id_of(st, user_id, old_name, &id, error_r)) != STORE_OK)
		goto fail;
	/* the mailbox and its children */
	int64_t *ids = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;
	sqlite3_stmt *s = store_stmt(st, SQL_RENAME_LIST);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, old_name);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			ids = xreallocarray(ids, cap, sizeof *ids);
			names = xreallocarray(names, cap, sizeof *names);
		}
		ids[n] = sqlite3_column_int64(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);
		names[n] = xasprintf("%s%s", new_name, name + old_len);
		n++;
	}
	stmt_done(s);
	ret = rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
	if (ret != STORE_OK)
		*error_r = store_db_error(st, "cannot list children");
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		if (strlen(names[i]) > MAILBOX_NAME_MAX) {
			*error_r = "mailbox name too long";
			ret = STORE_INVALID;
			break;
		}
		int64_t other;
		ret = mailbox_id_of(st, user_id, names[i], &other, error_r);
		if (ret == STORE_OK) {
			*error_r = errfmt("mailbox '%s' exists", esc_str(names[i]));
			ret = STORE_EXISTS;
			break;
		}
		if (ret != STORE_NOTFOUND)
			break;
		s = store_stmt(st, SQL_RENAME_ONE);
		stmt_int(s, 1, ids[i]);
		stmt_text(s, 2, names[i]);
		ret = stmt_exec(st, s, "cannot rename", error_r) < 0 ?
			STORE_ERROR : STORE_OK;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(ids);
	if (ret != STORE_OK)
		goto fail;
	s = store_stmt(st, SQL_RENAME_SUBSCRIPTIONS);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, old_name);
	stmt_text(s, 3, new_name);
	if (stmt_exec(st, s, "cannot rename the subscriptions", error_r) < 0) {
		ret = STORE_ERROR;
		goto fail;
	}
	return store_commit(st, error_r);
fail:
	store_rollback(st);
	return ret;
}

int
imapdb_mailbox_subscribe(struct store *st, int64_t user_id, const char *name,
			 bool subscribed, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, subscribed ? SQL_SUBSCRIBE : SQL_UNSUBSCRIBE);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, name);
	if (stmt_exec(st, s, "cannot change the subscriptions", error_r) < 0)
		return STORE_ERROR;
	if (!subscribed && sqlite3_changes(st->db) == 0) {
		*error_r = errfmt("'%s' is not subscribed", esc_str(name));
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* sql/012: the expunge records, which QRESYNC's VANISHED (EARLIER) reads,
 * are kept this long. */
#define EXPUNGED_ROW_SECONDS (30 * 24 * 3600)
static const char SQL_EXPUNGED_DROP_CONTENT[] =
	"UPDATE expunged SET blob = NULL, envelope = NULL, bodystructure = NULL"
	" WHERE blob IS NOT NULL AND expunged_at < ?1";
static const char SQL_EXPUNGED_DROP_ROWS[] =
	"DELETE FROM expunged WHERE expunged_at < ?1";

int
imapdb_expunged_sweep(struct store *st, unsigned content_age,
		      const char **error_r)
{
	int64_t now = store_now();
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_EXPUNGED_DROP_CONTENT);
	stmt_int(s, 1, now - (int64_t)content_age);
	if (stmt_exec(st, s, "cannot sweep expunged messages", error_r) < 0) {
		store_rollback(st);
		return STORE_ERROR;
	}
	s = store_stmt(st, SQL_EXPUNGED_DROP_ROWS);
	stmt_int(s, 1, now - EXPUNGED_ROW_SECONDS);
	if (stmt_exec(st, s, "cannot sweep expunged messages", error_r) < 0) {
		store_rollback(st);
		return STORE_ERROR;
	}
	return store_commit(st, error_r);
}

static const char SQL_MAILBOX_KEYWORDS[] =
	"SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?1"
	" ORDER BY keyword LIMIT ?2";

/* The first column of every row s gives, as malloc'd strings. */
static int
read_strings(struct store *st, sqlite3_stmt *s, const char *what,
	     char ***list_r, size_t *n_r, const char **error_r)
{
	char **list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		list[n++] = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			free(list[i]);
		free(list);
		*error_r = store_db_error(st, what);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

int
imapdb_mailbox_keywords(struct store *st, int64_t mailbox_id, size_t max,
			char ***list_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX_KEYWORDS);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, (int64_t)max);
	return read_strings(st, s, "cannot read the mailbox's keywords", list_r,
			    n_r, error_r);
}

int
imapdb_subscriptions(struct store *st, int64_t user_id, char ***names_r,
		     size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_SUBSCRIPTIONS);
	stmt_int(s, 1, user_id);
	return read_strings(st, s, "cannot read the subscriptions", names_r, n_r,
			    error_r);
}

void
imapdb_rows_free(struct imapdb_row **rows, size_t n)
{
	if (*rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*rows)[i].envelope);
		free((*rows)[i].bodystructure);
	}
	xfree(*rows);
}

int
imapdb_rows(struct store *st, int64_t mailbox_id, uint32_t uid_lo,
	    uint32_t uid_hi, struct imapdb_row **rows_r, size_t *n_r,
	    const char **error_r)
{
	struct imapdb_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	sqlite3_stmt *s = store_stmt(st, SQL_ROWS);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, uid_lo);
	stmt_int(s, 3, uid_hi);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			rows = xreallocarray(rows, cap, sizeof *rows);
		}
		struct imapdb_row *r = &rows[n++];
		r->uid = (uint32_t)sqlite3_column_int64(s, 0);
		const unsigned char *blob = sqlite3_column_text(s, 1);
		size_t bl = (size_t)sqlite3_column_bytes(s, 1);
		if (blob == NULL || bl != SHA256_HEX_LEN)
			bl = 0;
		memcpy(r->blob, bl ? (const char *)blob : "", bl);
		r->blob[bl] = '\0';
		r->size = (uint64_t)sqlite3_column_int64(s, 2);
		r->internal_date = sqlite3_column_int64(s, 3);
		r->envelope = stmt_col_strdup(s, 4);
		r->bodystructure = stmt_col_strdup(s, 5);
		r->save_date = sqlite3_column_int64(s, 6);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		imapdb_rows_free(&rows, n);
		*error_r = store_db_error(st, "cannot read messages");
		return STORE_ERROR;
	}
	*rows_r = rows;
	*n_r = n;
	return STORE_OK;
}

int
imapdb_cache_set(struct store *st, int64_t mailbox_id, uint32_t uid,
		 const char *envelope, const char *bodystructure,
		 const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_SET_CACHE);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, uid);
	stmt_text(s, 3, envelope);
	stmt_text(s, 4, bodystructure);
	return stmt_exec(st, s, "cannot store the IMAP cache", error_r) < 0 ?
		STORE_ERROR : STORE_OK;
}

/*
 * twoway_up: the store side of two-way sync of what is made here
 * (fetch/twoway_up.c; see twoway.h and sql/044_twoway_up.sql): the local
 * messages of a mirrored folder that no link holds, the links recorded
 * before their APPEND, and the upstream folders' local mailboxes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/store_int.h"
#include "store/twoway.h"

/* A message of the mailbox that is linked to nothing (or whose APPEND is
 * recorded and not known to be done: state 6), \Deleted ones apart, and
 * none whose blob a link gone here holds (state 1: moved here from another
 * folder of the account, which moves it upstream).  The candidates come
 * from indexes alone (the mailbox's message ids, the links' message ids,
 * the account's UPLOADING links among its pending ones, sql/055): the rows
 * of the mailbox's messages, with their cached envelopes, are read only
 * for those ("+": not by the mailbox's index, which would read them all). */
static const char SQL_UNLINKED[] =
	"SELECT m.id, m.uid, m.flags, coalesce(m.keywords, ''), m.internal_date, m.blob,"
	" coalesce(l.id, 0)"
	" FROM messages m LEFT JOIN upstream_links l ON l.message_id = m.id"
	" WHERE m.id IN (SELECT c.id FROM messages c WHERE c.mailbox_id = ?2"
	" AND NOT EXISTS (SELECT 1 FROM upstream_links x WHERE x.message_id = c.id)"
	" UNION ALL SELECT u.message_id FROM upstream_links u WHERE u.upstream_id = ?1"
	" AND (u.state <> 0 OR u.dirty <> 0) AND u.state = 6)"
	" AND +m.mailbox_id = ?2 AND m.flags & 8 = 0"
	" AND (l.id IS NULL OR (l.state = 6 AND l.upstream_id = ?1))"
	" AND NOT EXISTS (SELECT 1 FROM upstream_links g WHERE g.message_id IS NULL"
	" AND g.blob = m.blob AND g.upstream_id = ?1 AND g.state = 1)"
	" ORDER BY m.uid";
static const char SQL_UPLOAD_ADD[] =
	"INSERT INTO upstream_links (upstream_id, message_id, folder, uidvalidity, uid,"
	" raw_hash, blob, flags, keywords, state) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5, ?6, ?7, 6)";
static const char SQL_UPLOAD_GONE[] =
	"DELETE FROM upstream_links WHERE upstream_id = ?1 AND folder = ?2 AND state = 7";
static const char SQL_FOLDERS[] =
	"SELECT f.folder, coalesce(f.mailbox_id, 0), b.name FROM upstream_folders f"
	" LEFT JOIN mailboxes b ON b.id = f.mailbox_id WHERE f.upstream_id = ?1"
	" ORDER BY f.folder";
static const char SQL_FOLDER_MAILBOX[] =
	"UPDATE upstream_folders SET mailbox_id = ?3 WHERE upstream_id = ?1 AND folder = ?2"
	" AND mailbox_id IS NOT ?3";
/* RFC 3501 §6.3.5: the folders below go with it ('/' is the separator
 * the account's names use here and, mirrored, there) */
static const char SQL_FOLDER_RENAME[] =
	"UPDATE upstream_folders SET folder = ?3 || substr(folder, length(?2) + 1)"
	" WHERE upstream_id = ?1 AND (folder = ?2 OR substr(folder, 1, length(?2) + 1) = ?2 || '/')";
static const char SQL_LINKS_RENAME[] =
	"UPDATE upstream_links SET folder = ?3 || substr(folder, length(?2) + 1)"
	" WHERE upstream_id = ?1 AND (folder = ?2 OR substr(folder, 1, length(?2) + 1) = ?2 || '/')";
static const char SQL_FOLDER_FORGET[] =
	"DELETE FROM upstream_folders WHERE upstream_id = ?1 AND folder = ?2";
static const char SQL_LINKS_FORGET[] =
	"DELETE FROM upstream_links WHERE upstream_id = ?1 AND folder = ?2";

static void
local_read(sqlite3_stmt *s, void *elem)
{
	struct twoway_local *m = elem;
	m->message_id = sqlite3_column_int64(s, 0);
	m->uid = (uint32_t)sqlite3_column_int64(s, 1);
	m->flags = (unsigned)sqlite3_column_int(s, 2);
	m->keywords = stmt_col_strdup(s, 3);
	m->internal_date = sqlite3_column_int64(s, 4);
	m->blob = stmt_col_strdup(s, 5);
	m->link_id = sqlite3_column_int64(s, 6);
	if (m->keywords == NULL)
		m->keywords = xstrdup("");
}

static void
local_clear(void *elem)
{
	struct twoway_local *m = elem;
	free(m->keywords);
	free(m->blob);
}

static const struct stmt_rows local_rows = { sizeof(struct twoway_local), local_read,
					     local_clear };

int
store_twoway_unlinked(struct store *st, int64_t upstream_id, int64_t mailbox_id,
		      struct twoway_local **list_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_UNLINKED);
	stmt_int(s, 1, upstream_id);
	stmt_int(s, 2, mailbox_id);
	return stmt_list(st, s, &local_rows, "cannot read the folder's new messages",
			 (void **)list_r, n_r, error_r);
}

void
store_twoway_unlinked_free(struct twoway_local **list, size_t n)
{
	stmt_rows_free(&local_rows, *list, n);
	*list = NULL;
}

int
store_twoway_upload_begin(struct store *st, int64_t upstream_id, const char *folder,
			  uint32_t uidvalidity, struct twoway_local *list, size_t n,
			  unsigned sync_flags, const char **error_r)
{
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = list[i].link_id == 0;
	if (!any)
		return STORE_OK;
	/* no message in it: a light commit, durable on return */
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	int ret = STORE_OK;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		if (list[i].link_id != 0)
			continue;
		sqlite3_stmt *s = store_stmt(st, SQL_UPLOAD_ADD);
		stmt_int(s, 1, upstream_id);
		stmt_int(s, 2, list[i].message_id);
		stmt_text(s, 3, folder);
		stmt_int(s, 4, uidvalidity);
		stmt_text(s, 5, list[i].blob);
		stmt_int(s, 6, list[i].flags & sync_flags);
		stmt_text(s, 7, list[i].keywords);
		ret = stmt_exec(st, s, "cannot record a message going up", error_r);
		if (ret == STORE_OK)
			list[i].link_id = sqlite3_last_insert_rowid(st->db);
	}
	ret = store_end(st, ret, error_r);
	if (ret != STORE_OK)
		for (size_t i = 0; i < n; i++)
			list[i].link_id = 0;	/* rolled back: none recorded */
	return ret;
}

/* Runs sql (?1 account, ?2 a, ?3 b when not NULL) as its own statement. */
static int
run(struct store *st, const char *sql, int64_t upstream_id, const char *a, const char *b,
    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, a);
	if (b != NULL)
		stmt_text(s, 3, b);
	return stmt_exec(st, s, "cannot record a two-way folder change", error_r);
}

static const char SQL_UPLOAD_GONE_ANY[] =
	"SELECT 1 FROM upstream_links WHERE upstream_id = ?1 AND folder = ?2"
	" AND (state <> 0 OR dirty <> 0) AND state = 7 LIMIT 1";

int
store_twoway_upload_gone(struct store *st, int64_t upstream_id, const char *folder,
			 const char **error_r)
{
	/* nearly always none: no transaction then */
	sqlite3_stmt *s = store_stmt(st, SQL_UPLOAD_GONE_ANY);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	int any = stmt_exists(st, s, "cannot read the two-way links", error_r);
	if (any <= 0)
		return any < 0 ? STORE_ERROR : STORE_OK;
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	return store_end(st, run(st, SQL_UPLOAD_GONE, upstream_id, folder, NULL, error_r),
			 error_r);
}

static void
folder_read(sqlite3_stmt *s, void *elem)
{
	struct twoway_folder *f = elem;
	f->folder = stmt_col_strdup(s, 0);
	f->mailbox_id = sqlite3_column_int64(s, 1);
	f->local_name = stmt_col_strdup(s, 2);
}

static void
folder_clear(void *elem)
{
	struct twoway_folder *f = elem;
	free(f->folder);
	free(f->local_name);
}

static const struct stmt_rows folder_rows = { sizeof(struct twoway_folder), folder_read,
					      folder_clear };

int
store_twoway_folders(struct store *st, int64_t upstream_id, struct twoway_folder **list_r,
		     size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FOLDERS);
	stmt_int(s, 1, upstream_id);
	return stmt_list(st, s, &folder_rows, "cannot read the account's folders",
			 (void **)list_r, n_r, error_r);
}

void
store_twoway_folders_free(struct twoway_folder **list, size_t n)
{
	stmt_rows_free(&folder_rows, *list, n);
	*list = NULL;
}

static const char SQL_FOLDER_MAILBOX_SAME[] =
	"SELECT 1 FROM upstream_folders WHERE upstream_id = ?1 AND folder = ?2"
	" AND mailbox_id IS ?3";

int
store_twoway_folder_mailbox(struct store *st, int64_t upstream_id, const char *folder,
			    int64_t mailbox_id, const char **error_r)
{
	/* most passes change nothing: no transaction then */
	sqlite3_stmt *s = store_stmt(st, SQL_FOLDER_MAILBOX_SAME);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, mailbox_id);
	int same = stmt_exists(st, s, "cannot read the account's folders", error_r);
	if (same != 0)
		return same < 0 ? STORE_ERROR : STORE_OK;
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	s = store_stmt(st, SQL_FOLDER_MAILBOX);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, mailbox_id);
	return store_end(st, stmt_exec(st, s, "cannot record the folder's mailbox", error_r),
			 error_r);
}

int
store_twoway_folder_renamed(struct store *st, int64_t upstream_id, const char *from,
			    const char *to, const char **error_r)
{
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	int ret = run(st, SQL_FOLDER_RENAME, upstream_id, from, to, error_r);
	if (ret == STORE_OK)
		ret = run(st, SQL_LINKS_RENAME, upstream_id, from, to, error_r);
	return store_end(st, ret, error_r);
}

int
store_twoway_folder_forget(struct store *st, int64_t upstream_id, const char *folder,
			   const char **error_r)
{
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	int ret = run(st, SQL_LINKS_FORGET, upstream_id, folder, NULL, error_r);
	if (ret == STORE_OK)
		ret = run(st, SQL_FOLDER_FORGET, upstream_id, folder, NULL, error_r);
	return store_end(st, ret, error_r);
}

/* The folders with links that have something to send (the partial index
 * upstream_links_pending, sql/055). */
static const char SQL_PENDING_FOLDERS[] =
	"SELECT count(DISTINCT folder) FROM upstream_links WHERE upstream_id = ?1"
	" AND (state <> 0 OR dirty <> 0)";

int
store_twoway_pending_folders(struct store *st, int64_t upstream_id, int64_t *n_r,
			     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PENDING_FOLDERS);
	stmt_int(s, 1, upstream_id);
	*n_r = 0;
	return stmt_ints(st, s, "cannot read the folders' local changes", n_r, 1, error_r);
}

/* Something here the folder's upstream does not have yet: a link not
 * LIVE, or whose message went or has other flags or keywords than the
 * base (dirty, sql/055); with mirror (?3) also a message of its mailbox
 * that no link holds, or a mailbox not known. */
static const char SQL_PENDING[] =
	"SELECT EXISTS (SELECT 1 FROM upstream_links l WHERE l.upstream_id = ?1"
	" AND l.folder = ?2 AND (l.state <> 0 OR l.dirty <> 0))"
	" OR (?3 AND EXISTS (SELECT 1 FROM upstream_folders f JOIN messages m"
	" ON m.mailbox_id = f.mailbox_id WHERE f.upstream_id = ?1 AND f.folder = ?2"
	" AND m.flags & 8 = 0 AND NOT EXISTS (SELECT 1 FROM upstream_links l"
	" WHERE l.message_id = m.id)))"
	" OR (?3 AND NOT EXISTS (SELECT 1 FROM upstream_folders f JOIN mailboxes b"
	" ON b.id = f.mailbox_id WHERE f.upstream_id = ?1 AND f.folder = ?2))";

int
store_twoway_folder_pending(struct store *st, int64_t upstream_id, const char *folder,
			    bool mirror, bool *pending_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PENDING);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, mirror);
	int64_t v = 1;
	int ret = stmt_ints(st, s, "cannot read the folder's local changes", &v, 1, error_r);
	*pending_r = v != 0;
	return ret;
}

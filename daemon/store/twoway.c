/*
 * twoway: links between fetched messages and their upstream messages
 * (see twoway.h and sql/024_upstream_twoway.sql).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/store_int.h"
#include "store/twoway.h"

#define LINK_COLUMNS \
	"SELECT l.id, coalesce(l.message_id, 0), coalesce(m.mailbox_id, 0)," \
	" coalesce(m.uid, 0), coalesce(m.flags, 0), coalesce(m.keywords, '')," \
	" l.uidvalidity, l.uid, l.flags, l.keywords, l.state, l.dest, l.blob, l.raw_hash," \
	" coalesce(m.modseq, 0)" \
	" FROM upstream_links l LEFT JOIN messages m ON m.id = l.message_id"
static const char SQL_LINKS[] =
	LINK_COLUMNS " WHERE l.upstream_id = ?1 AND l.folder = ?2 ORDER BY l.uid";
/* sql/055: the links not LIVE or dirty, from upstream_links_pending */
static const char SQL_LINKS_PENDING[] =
	LINK_COLUMNS " WHERE l.upstream_id = ?1 AND l.folder = ?2"
	" AND (l.state <> 0 OR l.dirty <> 0) ORDER BY l.uid";
/* the others of one UID (any UIDVALIDITY) */
static const char SQL_LINKS_UID[] =
	LINK_COLUMNS " WHERE l.upstream_id = ?1 AND l.folder = ?2 AND l.uid = ?3"
	" AND NOT (l.state <> 0 OR l.dirty <> 0)";
static const char SQL_LINKED_UIDS[] =
	"SELECT uid FROM upstream_links WHERE upstream_id = ?1 AND folder = ?2"
	" AND uid >= ?4 AND uidvalidity = ?3 ORDER BY uid";
static const char SQL_ANY_MOVING[] =
	"SELECT 1 FROM upstream_links WHERE upstream_id = ?1 AND state = 2 LIMIT 1";
static const char SQL_FIND_COPY[] =
	"SELECT m.id, b.name FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.blob = ?2 AND b.user_id = ?1 AND NOT EXISTS"
	" (SELECT 1 FROM upstream_links l WHERE l.message_id = m.id)"
	" ORDER BY m.id DESC LIMIT 1";
static const char SQL_BASE[] =
	"UPDATE upstream_links SET flags = ?2, keywords = ?3 WHERE id = ?1";
static const char SQL_STATE[] =
	"UPDATE upstream_links SET state = ?2, message_id = ?3, dest = ?4 WHERE id = ?1";
static const char SQL_LOCATION[] =
	"UPDATE upstream_links SET folder = ?2, uidvalidity = ?3, uid = ?4, state = ?5,"
	" dest = NULL WHERE id = ?1";
static const char SQL_DELETE[] = "DELETE FROM upstream_links WHERE id = ?1";
static const char SQL_RESET[] =
	"UPDATE upstream_links SET state = CASE state WHEN 0 THEN 3 WHEN 1 THEN 4"
	" WHEN 2 THEN 3 ELSE state END"
	" WHERE upstream_id = ?1 AND folder = ?2 AND uidvalidity <> ?3 AND state IN (0, 1, 2)";
static const char SQL_DROP_UNRESOLVED[] =
	"DELETE FROM upstream_links WHERE upstream_id = ?1 AND folder = ?2"
	" AND uidvalidity <> ?3 AND state IN (3, 4)";
/* among the pending links (sql/055), not every link of the folder */
static const char SQL_UNRESOLVED[] =
	"SELECT 1 FROM upstream_links WHERE upstream_id = ?1 AND folder = ?2"
	" AND (state <> 0 OR dirty <> 0) AND uidvalidity <> ?3 AND state IN (3, 4) LIMIT 1";
static const char SQL_ADVANCE[] =
	"UPDATE upstream_folders SET last_uid = max(last_uid, ?3) WHERE upstream_id = ?1"
	" AND folder = ?2";
static const char SQL_MODSEQ_GET[] =
	"SELECT modseq FROM upstream_folders WHERE upstream_id = ?1 AND folder = ?2";
static const char SQL_MODSEQ_SET[] =
	"UPDATE upstream_folders SET modseq = ?3 WHERE upstream_id = ?1 AND folder = ?2";

static void
link_read(sqlite3_stmt *s, void *elem)
{
	struct twoway_link *l = elem;
	l->id = sqlite3_column_int64(s, 0);
	l->message_id = sqlite3_column_int64(s, 1);
	l->mailbox_id = sqlite3_column_int64(s, 2);
	l->local_uid = (uint32_t)sqlite3_column_int64(s, 3);
	l->local_flags = (unsigned)sqlite3_column_int(s, 4);
	l->local_keywords = stmt_col_strdup(s, 5);
	l->uidvalidity = (uint32_t)sqlite3_column_int64(s, 6);
	l->uid = (uint32_t)sqlite3_column_int64(s, 7);
	l->flags = (unsigned)sqlite3_column_int(s, 8);
	l->keywords = stmt_col_strdup(s, 9);
	l->state = (enum twoway_state)sqlite3_column_int(s, 10);
	l->dest = stmt_col_strdup(s, 11);
	l->blob = stmt_col_strdup(s, 12);
	l->raw_hash = stmt_col_strdup(s, 13);
	l->local_modseq = (uint64_t)sqlite3_column_int64(s, 14);
	if (l->local_keywords == NULL)
		l->local_keywords = xstrdup("");
	if (l->keywords == NULL)
		l->keywords = xstrdup("");
}

static void
link_clear(void *elem)
{
	struct twoway_link *l = elem;
	free(l->local_keywords);
	free(l->keywords);
	free(l->dest);
	free(l->blob);
	free(l->raw_hash);
}

static const struct stmt_rows link_rows = { sizeof(struct twoway_link), link_read,
					    link_clear };

int
store_twoway_links(struct store *st, int64_t upstream_id, const char *folder,
		   struct twoway_link **list_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_LINKS);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	return stmt_list(st, s, &link_rows, "cannot read the two-way links", (void **)list_r,
			 n_r, error_r);
}

static int
cmp_link_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct twoway_link *)a)->uid, y = ((const struct twoway_link *)b)->uid;
	return x < y ? -1 : x > y;
}

int
store_twoway_links_some(struct store *st, int64_t upstream_id, const char *folder,
			const uint32_t *uids, size_t n_uids, struct twoway_link **list_r,
			size_t *n_r, const char **error_r)
{
	struct twoway_link *list = NULL;
	size_t n = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_LINKS_PENDING);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	if (stmt_list(st, s, &link_rows, "cannot read the two-way links", (void **)&list, &n,
		      error_r) != STORE_OK)
		return STORE_ERROR;
	size_t cap = n;
	for (size_t i = 0; i < n_uids; i++) {
		if (i > 0 && uids[i] == uids[i - 1])
			continue;
		struct twoway_link *more = NULL;
		size_t k = 0;
		s = store_stmt(st, SQL_LINKS_UID);
		stmt_int(s, 1, upstream_id);
		stmt_text(s, 2, folder);
		stmt_int(s, 3, uids[i]);
		if (stmt_list(st, s, &link_rows, "cannot read the two-way links", (void **)&more,
			      &k, error_r) != STORE_OK) {
			stmt_rows_free(&link_rows, list, n);
			return STORE_ERROR;
		}
		if (n + k > cap) {
			cap = (n + k) * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		/* moved whole: the strings are the list's now */
		if (k > 0)
			memcpy(list + n, more, k * sizeof *more);
		n += k;
		free(more);
	}
	if (n > 1)
		qsort(list, n, sizeof *list, cmp_link_uid);
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

void
store_twoway_links_free(struct twoway_link **list, size_t n)
{
	stmt_rows_free(&link_rows, *list, n);
	*list = NULL;
}

int
store_twoway_linked_uids(struct store *st, int64_t upstream_id, const char *folder,
			 uint32_t uidvalidity, uint32_t from, uint32_t **uids_r, size_t *n_r,
			 const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_LINKED_UIDS);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, uidvalidity);
	stmt_int(s, 4, from);
	return stmt_uids(st, s, "cannot read the two-way links", uids_r, n_r, error_r);
}

int
store_twoway_any_moving(struct store *st, int64_t upstream_id, bool *any_r,
			const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_ANY_MOVING);
	stmt_int(s, 1, upstream_id);
	int r = stmt_exists(st, s, "cannot read the two-way links", error_r);
	*any_r = r > 0;
	return r < 0 ? STORE_ERROR : STORE_OK;
}

int
store_twoway_find_copy(struct store *st, int64_t user_id, const char *blob,
		       int64_t *message_id_r, char **mailbox_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FIND_COPY);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, blob);
	int ret = stmt_row(st, s, "cannot look for a moved message", error_r);
	if (ret != STORE_OK)
		return ret;
	*message_id_r = sqlite3_column_int64(s, 0);
	*mailbox_r = stmt_col_strdup(s, 1);
	stmt_done(s);
	return STORE_OK;
}

int
store_twoway_apply(struct store *st, const struct twoway_op *ops, size_t n,
		   const char **error_r)
{
	if (n == 0)
		return STORE_OK;
	/* no message in it: a light commit (store_int.h), durable on return */
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	int ret = STORE_OK;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		const struct twoway_op *op = &ops[i];
		sqlite3_stmt *s;
		switch (op->kind) {
		case TWOWAY_OP_BASE:
			s = store_stmt(st, SQL_BASE);
			stmt_int(s, 2, op->flags);
			stmt_text(s, 3, op->keywords != NULL ? op->keywords : "");
			break;
		case TWOWAY_OP_STATE:
			s = store_stmt(st, SQL_STATE);
			stmt_int(s, 2, op->state);
			if (op->message_id != 0)
				stmt_int(s, 3, op->message_id);
			if (op->dest != NULL)
				stmt_text(s, 4, op->dest);
			break;
		case TWOWAY_OP_LOCATION:
			s = store_stmt(st, SQL_LOCATION);
			stmt_text(s, 2, op->folder);
			stmt_int(s, 3, op->uidvalidity);
			stmt_int(s, 4, op->uid);
			stmt_int(s, 5, op->state);
			break;
		case TWOWAY_OP_MODSEQ:
			s = store_stmt(st, SQL_MODSEQ_SET);
			stmt_text(s, 2, op->folder);
			stmt_int(s, 3, (int64_t)op->modseq);
			break;
		case TWOWAY_OP_ADVANCE:
			s = store_stmt(st, SQL_ADVANCE);
			stmt_text(s, 2, op->folder);
			stmt_int(s, 3, op->uid);
			break;
		case TWOWAY_OP_DELETE:
		default:
			s = store_stmt(st, SQL_DELETE);
			break;
		}
		stmt_int(s, 1, op->link_id);
		ret = stmt_exec(st, s, "cannot record a two-way change", error_r);
	}
	return store_end(st, ret, error_r);
}

/* Runs sql (?1 account, ?2 folder, ?3 UIDVALIDITY) on its own. */
static int
folder_exec(struct store *st, const char *sql, int64_t upstream_id, const char *folder,
	    int64_t v, unsigned *n_r, const char **error_r)
{
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	sqlite3_stmt *s = store_stmt(st, sql);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, v);
	int ret = stmt_exec_n(st, s, "cannot record a two-way change", n_r, error_r);
	return store_end(st, ret, error_r);
}

int
store_twoway_folder_reset(struct store *st, int64_t upstream_id, const char *folder,
			  uint32_t uidvalidity, const char **error_r)
{
	return folder_exec(st, SQL_RESET, upstream_id, folder, uidvalidity, NULL, error_r);
}

int
store_twoway_drop_unresolved(struct store *st, int64_t upstream_id, const char *folder,
			     uint32_t uidvalidity, unsigned *dropped_r, const char **error_r)
{
	unsigned n = 0;
	if (dropped_r != NULL)
		*dropped_r = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_UNRESOLVED);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, uidvalidity);
	int any = stmt_exists(st, s, "cannot read the two-way links", error_r);
	if (any <= 0)
		return any < 0 ? STORE_ERROR : STORE_OK;
	int ret = folder_exec(st, SQL_DROP_UNRESOLVED, upstream_id, folder, uidvalidity, &n,
			      error_r);
	if (dropped_r != NULL)
		*dropped_r = n;
	return ret;
}

int
store_twoway_modseq_get(struct store *st, int64_t upstream_id, const char *folder,
			uint64_t *modseq_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_MODSEQ_GET);
	stmt_int(s, 1, upstream_id);
	stmt_text(s, 2, folder);
	int64_t v = 0;
	int ret = stmt_ints(st, s, "cannot read the folder's MODSEQ", &v, 1, error_r);
	*modseq_r = ret == STORE_OK ? (uint64_t)v : 0;
	return ret == STORE_NOTFOUND ? STORE_OK : ret;
}

int
store_twoway_modseq_set(struct store *st, int64_t upstream_id, const char *folder,
			uint64_t modseq, const char **error_r)
{
	return folder_exec(st, SQL_MODSEQ_SET, upstream_id, folder, (int64_t)modseq, NULL,
			   error_r);
}

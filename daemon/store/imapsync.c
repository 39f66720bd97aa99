/*
 * imapsync: expunge history, mailbox sizes and usage for the IMAP server
 * (see imapsync.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/imapsync.h"
#include "store/store_int.h"

static const char SQL_VANISHED[] =
	"SELECT uid FROM expunged INDEXED BY expunged_modseq"
	" WHERE mailbox_id = ?1 AND modseq > ?2 AND uid BETWEEN ?3 AND ?4"
	" ORDER BY uid";
static const char SQL_FORGOTTEN[] =
	"SELECT vanished_modseq FROM mailboxes WHERE id = ?1";
/* the partial index messages_deleted (sql/001) holds just these */
static const char SQL_MAILBOX_DELETED[] =
	"SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND flags & 8 <> 0";
static const char SQL_MAILBOX_SIZE[] =
	"SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = ?1";
static const char SQL_USAGE[] =
	"SELECT used, quota, (SELECT coalesce(sum(messages), 0) FROM mailboxes"
	" WHERE user_id = ?1), quota_messages FROM users WHERE id = ?1";

static const char SQL_PREVIEW_GET[] =
	"SELECT preview FROM previews WHERE blob = ?1";
static const char SQL_PREVIEW_SET[] =
	"INSERT OR REPLACE INTO previews (blob, preview) VALUES (?1, ?2)";

int
imapsync_preview_get(struct store *st, const char *blob, char **preview_r,
		     const char **error_r)
{
	*preview_r = NULL;
	sqlite3_stmt *s = store_stmt(st, SQL_PREVIEW_GET);
	stmt_text(s, 1, blob);
	int ret = stmt_row(st, s, "cannot read a preview", error_r);
	if (ret != STORE_OK)
		return ret;
	*preview_r = stmt_col_strdup(s, 0);
	stmt_done(s);
	return *preview_r != NULL ? STORE_OK : STORE_NOTFOUND;
}

int
imapsync_preview_set(struct store *st, const char *blob, const char *preview,
		     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PREVIEW_SET);
	stmt_text(s, 1, blob);
	stmt_text(s, 2, preview);
	return stmt_exec(st, s, "cannot store a preview", error_r) < 0 ?
		STORE_ERROR : STORE_OK;
}

int
imapsync_vanished(struct store *st, int64_t mailbox_id, uint64_t modseq,
		  uint32_t uid_lo, uint32_t uid_hi, uint32_t **uids_r,
		  size_t *n_r, bool *complete_r, const char **error_r)
{
	int64_t forgotten;
	*uids_r = NULL;
	*n_r = 0;
	*complete_r = false;
	sqlite3_stmt *s = store_stmt(st, SQL_FORGOTTEN);
	stmt_int(s, 1, mailbox_id);
	int ret = stmt_ints(st, s, "cannot read the mailbox", &forgotten, 1,
			    error_r);
	if (ret != STORE_OK)
		return ret;
	*complete_r = (uint64_t)forgotten <= modseq;

	s = store_stmt(st, SQL_VANISHED);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, modseq > INT64_MAX ? INT64_MAX : (int64_t)modseq);
	stmt_int(s, 3, uid_lo);
	stmt_int(s, 4, uid_hi);
	return stmt_uids(st, s, "cannot read expunged messages", uids_r, n_r, error_r);
}

int
imapsync_mailbox_size(struct store *st, int64_t mailbox_id, uint64_t *size_r,
		      const char **error_r)
{
	int64_t v = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX_SIZE);
	stmt_int(s, 1, mailbox_id);
	int ret = stmt_ints(st, s, "cannot sum message sizes", &v, 1, error_r);
	*size_r = v > 0 ? (uint64_t)v : 0;
	return ret;
}

int
imapsync_mailbox_deleted(struct store *st, int64_t mailbox_id,
			 uint32_t *count_r, const char **error_r)
{
	int64_t v = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX_DELETED);
	stmt_int(s, 1, mailbox_id);
	int ret = stmt_ints(st, s, "cannot count deleted messages", &v, 1, error_r);
	*count_r = v > 0 ? (uint32_t)v : 0;
	return ret;
}

int
imapsync_user_usage(struct store *st, int64_t user_id,
		    struct imapsync_usage *u_r, const char **error_r)
{
	int64_t v[4] = { 0, 0, 0, 0 };
	memset(u_r, 0, sizeof *u_r);
	sqlite3_stmt *s = store_stmt(st, SQL_USAGE);
	stmt_int(s, 1, user_id);
	int ret = stmt_ints(st, s, "cannot read the user's usage", v, 4, error_r);
	if (ret != STORE_OK)
		return ret;
	u_r->bytes = v[0] > 0 ? (uint64_t)v[0] : 0;
	u_r->bytes_limit = v[1] > 0 ? (uint64_t)v[1] : 0;
	u_r->messages = v[2] > 0 ? (uint64_t)v[2] : 0;
	u_r->messages_limit = v[3] > 0 ? (uint64_t)v[3] : 0;
	return STORE_OK;
}

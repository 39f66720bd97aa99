/*
 * learn: the queue of messages to teach rspamd (store/spam.h), filled by
 * IMAP moves into and out of Junk, emptied by the spam worker.
 */
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "store/spam.h"
#include "store/store_int.h"

static const char SQL_SPECIAL[] =
	"SELECT special_use, user_id FROM mailboxes WHERE id = ?1";
static const char SQL_COUNT[] = "SELECT count(*) FROM spam_learn";
static const char SQL_ADD[] =
	"INSERT OR REPLACE INTO spam_learn (user_id, blob, spam, created, next_try)"
	" VALUES (?1, ?2, ?3, ?4, ?4)";
static const char SQL_IN_JUNK[] =
	"SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.blob = ?1 AND b.user_id = ?2 AND b.special_use = '\\Junk' LIMIT 1";
static const char SQL_DUE[] =
	"SELECT id, user_id, blob, spam, attempts, created FROM spam_learn"
	" WHERE next_try <= ?1 ORDER BY next_try, id LIMIT ?2";
static const char SQL_DONE[] = "DELETE FROM spam_learn WHERE id = ?1";
static const char SQL_RETRY[] =
	"UPDATE spam_learn SET attempts = attempts + 1, next_try = ?2, last_error = ?3"
	" WHERE id = ?1";
static const char SQL_REFERENCED[] = "SELECT 1 FROM spam_learn WHERE blob = ?1 LIMIT 1";

/* The special use of a mailbox ("" when none) and its owner. */
static int
special_use(struct store *st, int64_t mailbox_id, char use[16], int64_t *user_r,
	    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_SPECIAL);
	stmt_int(s, 1, mailbox_id);
	int ret = stmt_row(st, s, "cannot read a mailbox", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "the mailbox does not exist";
	if (ret != STORE_OK)
		return ret;
	const unsigned char *u = sqlite3_column_text(s, 0);
	size_t n = u != NULL ? (size_t)sqlite3_column_bytes(s, 0) : 0;
	if (n > 15)
		n = 0;	/* no special use we know is that long */
	memcpy(use, n > 0 ? (const char *)u : "", n);
	use[n] = '\0';
	*user_r = sqlite3_column_int64(s, 1);
	stmt_done(s);
	return STORE_OK;
}

int
store_learn_kind_of_copy(struct store *st, int64_t src, int64_t dst,
			 enum store_learn_kind *kind_r, const char **error_r)
{
	char from[16], to[16];
	int64_t user;
	int ret;
	*kind_r = STORE_LEARN_NONE;
	if ((ret = special_use(st, src, from, &user, error_r)) != STORE_OK ||
	    (ret = special_use(st, dst, to, &user, error_r)) != STORE_OK)
		return ret;
	bool from_junk = strcmp(from, "\\Junk") == 0, to_junk = strcmp(to, "\\Junk") == 0;
	if (to_junk && !from_junk)
		*kind_r = STORE_LEARN_SPAM;
	else if (from_junk && !to_junk && strcmp(to, "\\Trash") != 0)
		*kind_r = STORE_LEARN_HAM;
	return STORE_OK;
}

int
store_learn_add_tx(struct store *st, int64_t mailbox_id, const char *blob,
		   enum store_learn_kind kind, const char **error_r)
{
	if (kind == STORE_LEARN_NONE)
		return STORE_OK;
	if (strlen(blob) != SHA256_HEX_LEN || !is_lower_hex(blob, SHA256_HEX_LEN)) {
		*error_r = errfmt("invalid blob name '%s'", esc_str(blob));
		return STORE_INVALID;
	}
	char use[16];
	int64_t user, count;
	int ret = special_use(st, mailbox_id, use, &user, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_COUNT);
	if ((ret = stmt_ints(st, s, "cannot count the learning jobs", &count, 1, error_r)) !=
	    STORE_OK)
		return ret;
	if (count >= STORE_LEARN_QUEUE_MAX) {
		/* rspamd has been away long: the move itself must not fail */
		log_warning("store: learning queue full (%lld jobs), not learned blob=%s",
			    (long long)count, blob);
		return STORE_OK;
	}
	s = store_stmt(st, SQL_ADD);
	stmt_int(s, 1, user);
	stmt_text(s, 2, blob);
	stmt_int(s, 3, kind == STORE_LEARN_SPAM);
	stmt_int(s, 4, store_now());
	return stmt_exec(st, s, "cannot queue a learning job", error_r);
}

int
store_learn_append(struct store *st, int64_t mailbox_id, const char *blob,
		   const char **error_r)
{
	char use[16];
	int64_t user;
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	enum store_learn_kind kind = STORE_LEARN_NONE;
	ret = special_use(st, mailbox_id, use, &user, error_r);
	if (ret == STORE_OK && strcmp(use, "\\Junk") == 0) {
		kind = STORE_LEARN_SPAM;
	} else if (ret == STORE_OK && strcmp(use, "\\Trash") != 0) {
		sqlite3_stmt *s = store_stmt(st, SQL_IN_JUNK);
		stmt_text(s, 1, blob);
		stmt_int(s, 2, user);
		int in = stmt_exists(st, s, "cannot look for the message in Junk", error_r);
		if (in < 0)
			ret = STORE_ERROR;
		else if (in > 0)
			kind = STORE_LEARN_HAM;
	}
	if (ret == STORE_OK)
		ret = store_learn_add_tx(st, mailbox_id, blob, kind, error_r);
	return store_end(st, ret, error_r);
}

static void
job_read(sqlite3_stmt *s, void *elem)
{
	struct store_learn_job *j = elem;
	j->id = sqlite3_column_int64(s, 0);
	j->user_id = sqlite3_column_int64(s, 1);
	const unsigned char *b = sqlite3_column_text(s, 2);
	if (b != NULL && (size_t)sqlite3_column_bytes(s, 2) == SHA256_HEX_LEN)
		memcpy(j->blob, b, SHA256_HEX_LEN + 1);
	j->spam = sqlite3_column_int(s, 3) != 0;
	j->attempts = (unsigned)sqlite3_column_int(s, 4);
	j->created = sqlite3_column_int64(s, 5);
}

static void
job_clear(void *elem)
{
	(void)elem;
}

static const struct stmt_rows job_rows = {
	.size = sizeof(struct store_learn_job),
	.read = job_read,
	.clear = job_clear,
};

int
store_learn_due(struct store *st, int64_t now, size_t max, struct store_learn_job **jobs_r,
		size_t *n_r, const char **error_r)
{
	void *list = NULL;
	sqlite3_stmt *s = store_stmt(st, SQL_DUE);
	stmt_int(s, 1, now);
	stmt_int(s, 2, (int64_t)max);
	int ret = stmt_list(st, s, &job_rows, "cannot list the learning jobs", &list, n_r,
			    error_r);
	*jobs_r = list;
	return ret;
}

int
store_learn_done(struct store *st, int64_t id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DONE);
	stmt_int(s, 1, id);
	return stmt_exec(st, s, "cannot remove a learning job", error_r);
}

int
store_learn_retry(struct store *st, int64_t id, int64_t next_try, const char *why,
		  const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_RETRY);
	stmt_int(s, 1, id);
	stmt_int(s, 2, next_try);
	stmt_text(s, 3, why);
	return stmt_exec(st, s, "cannot reschedule a learning job", error_r);
}

int
store_learn_count(struct store *st, unsigned *n_r, const char **error_r)
{
	int64_t n = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_COUNT);
	int ret = stmt_ints(st, s, "cannot count the learning jobs", &n, 1, error_r);
	*n_r = (unsigned)n;
	return ret;
}

int
store_learn_blob_referenced(struct store *st, const char *hash)
{
	const char *error;
	sqlite3_stmt *s = store_stmt(st, SQL_REFERENCED);
	stmt_text(s, 1, hash);
	/* the caller (store_blob_referenced()) words its own error */
	return stmt_exists(st, s, "cannot look up a blob", &error);
}

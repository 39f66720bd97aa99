/*
 * queue: the outbound queue table (see queue.h).
 */
#include "store/queue.h"

#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

#define MSG_COLUMNS \
	"m.id, m.qid, m.blob, m.size, m.sender, m.user_id, m.ret, m.envid," \
	" m.body, m.smtputf8, m.kind, m.created," \
	" (SELECT count(*) FROM queue_recipients r WHERE r.message_id = m.id)," \
	" (SELECT count(*) FROM queue_recipients r WHERE r.message_id = m.id" \
	"   AND r.state IN ('pending', 'deferred'))," \
	" (SELECT min(next_attempt) FROM queue_recipients r WHERE r.message_id = m.id" \
	"   AND r.state IN ('pending', 'deferred'))"
#define RCPT_COLUMNS \
	"id, message_id, address, orcpt, notify, state, attempts, next_attempt," \
	" last_attempt, last_reply, dsn_sent"

static const char SQL_ADD_MSG[] =
	"INSERT INTO queue_messages (qid, blob, size, sender, user_id, ret, envid,"
	" body, smtputf8, kind, created)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_ADD_RCPT[] =
	"INSERT OR IGNORE INTO queue_recipients (message_id, address, orcpt, notify,"
	" state, next_attempt, last_reply) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_GET_MSG[] =
	"SELECT " MSG_COLUMNS " FROM queue_messages m WHERE m.id = ?1";
static const char SQL_LIST_MSG[] =
	"SELECT " MSG_COLUMNS " FROM queue_messages m ORDER BY m.created, m.id";
static const char SQL_RCPTS_OF[] =
	"SELECT " RCPT_COLUMNS " FROM queue_recipients WHERE message_id = ?1"
	" ORDER BY id";
static const char SQL_DUE[] =
	"SELECT " RCPT_COLUMNS " FROM queue_recipients"
	" WHERE state IN ('pending', 'deferred') AND next_attempt <= ?1"
	" ORDER BY next_attempt, id LIMIT ?2";
static const char SQL_CLAIM[] =
	"UPDATE queue_recipients SET next_attempt = ?3"
	" WHERE id = ?1 AND state IN ('pending', 'deferred') AND next_attempt <= ?2";
static const char SQL_RESULT[] =
	"UPDATE queue_recipients SET attempts = attempts + 1, last_attempt = ?2,"
	" dsn_sent = CASE WHEN state = ?3 THEN dsn_sent ELSE 0 END,"
	" state = ?3, next_attempt = ?4, last_reply = ?5 WHERE id = ?1";
static const char SQL_DSN_SENT[] =
	"UPDATE queue_recipients SET dsn_sent = 1 WHERE id = ?1";
static const char SQL_RETRY[] =
	"UPDATE queue_recipients SET next_attempt = ?2"
	" WHERE message_id = ?1 AND state IN ('pending', 'deferred')";
static const char SQL_FLUSH[] =
	"UPDATE queue_recipients SET next_attempt = ?1"
	" WHERE state IN ('pending', 'deferred')";
static const char SQL_EXISTS[] = "SELECT 1 FROM queue_messages WHERE id = ?1";
static const char SQL_DELETE_RCPTS[] =
	"DELETE FROM queue_recipients WHERE message_id = ?1";
static const char SQL_DELETE[] = "DELETE FROM queue_messages WHERE id = ?1";
static const char SQL_CLEANUP_RCPTS[] =
	"DELETE FROM queue_recipients WHERE message_id IN (SELECT m.id FROM queue_messages m"
	" WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id"
	"   AND (r.state IN ('pending', 'deferred')"
	"     OR (r.state = 'failed' AND r.dsn_sent = 0 AND (r.notify & 1) = 0"
	"         AND m.sender <> '' AND m.kind = 'relay')))"
	")";
static const char SQL_CLEANUP_MSGS[] =
	"DELETE FROM queue_messages WHERE NOT EXISTS"
	" (SELECT 1 FROM queue_recipients r WHERE r.message_id = queue_messages.id)";
static const char SQL_COUNT[] =
	"SELECT (SELECT count(*) FROM queue_messages),"
	" (SELECT count(*) FROM queue_recipients WHERE state IN ('pending', 'deferred'))";
static const char SQL_BLOB_REF[] =
	"SELECT 1 FROM queue_messages WHERE blob = ?1 LIMIT 1";

static const char *const state_names[] = {
	[STORE_QUEUE_PENDING] = "pending",
	[STORE_QUEUE_DEFERRED] = "deferred",
	[STORE_QUEUE_DELIVERED] = "delivered",
	[STORE_QUEUE_FAILED] = "failed",
};

const char *
store_queue_state_name(enum store_queue_state state)
{
	if ((unsigned)state >= sizeof state_names / sizeof state_names[0])
		panic("queue: bad state %d", (int)state);
	return state_names[state];
}

static enum store_queue_state
state_from_text(const char *t)
{
	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
		if (t != NULL && strcmp(t, state_names[i]) == 0)
			return (enum store_queue_state)i;
	/* the CHECK constraint allows nothing else */
	return STORE_QUEUE_FAILED;
}

void
store_queue_message_clear(struct store_queue_message *msg)
{
	if (msg == NULL)
		return;
	free(msg->qid);
	free(msg->sender);
	free(msg->ret);
	free(msg->envid);
	free(msg->body);
	free(msg->kind);
	memset(msg, 0, sizeof *msg);
}

void
store_queue_message_list_free(struct store_queue_message **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_queue_message_clear(&(*list)[i]);
	xfree(*list);
}

void
store_queue_recipient_clear(struct store_queue_recipient *r)
{
	if (r == NULL)
		return;
	free(r->address);
	free(r->orcpt);
	free(r->last_reply);
	memset(r, 0, sizeof *r);
}

void
store_queue_recipient_list_free(struct store_queue_recipient **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_queue_recipient_clear(&(*list)[i]);
	xfree(*list);
}

static void
msg_from_row(sqlite3_stmt *s, struct store_queue_message *m)
{
	memset(m, 0, sizeof *m);
	m->id = sqlite3_column_int64(s, 0);
	m->qid = stmt_col_strdup(s, 1);
	const unsigned char *blob = sqlite3_column_text(s, 2);
	if (blob != NULL && strlen((const char *)blob) == SHA256_HEX_LEN)
		memcpy(m->blob, blob, SHA256_HEX_LEN + 1);
	m->size = (uint64_t)sqlite3_column_int64(s, 3);
	m->sender = stmt_col_strdup(s, 4);
	m->user_id = sqlite3_column_int64(s, 5);
	m->ret = stmt_col_strdup(s, 6);
	m->envid = stmt_col_strdup(s, 7);
	m->body = stmt_col_strdup(s, 8);
	m->smtputf8 = sqlite3_column_int(s, 9) != 0;
	m->kind = stmt_col_strdup(s, 10);
	m->created = sqlite3_column_int64(s, 11);
	m->n_recipients = (unsigned)sqlite3_column_int64(s, 12);
	m->n_open = (unsigned)sqlite3_column_int64(s, 13);
	m->next_attempt = sqlite3_column_int64(s, 14);
	if (m->sender == NULL)
		m->sender = xstrdup("");
	if (m->qid == NULL)
		m->qid = xstrdup("");
	if (m->kind == NULL)
		m->kind = xstrdup("relay");
}

static void
rcpt_from_row(sqlite3_stmt *s, struct store_queue_recipient *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	r->message_id = sqlite3_column_int64(s, 1);
	r->address = stmt_col_strdup(s, 2);
	r->orcpt = stmt_col_strdup(s, 3);
	r->notify = (unsigned)sqlite3_column_int(s, 4);
	r->state = state_from_text((const char *)sqlite3_column_text(s, 5));
	r->attempts = (unsigned)sqlite3_column_int(s, 6);
	r->next_attempt = sqlite3_column_int64(s, 7);
	r->last_attempt = sqlite3_column_int64(s, 8);
	r->last_reply = stmt_col_strdup(s, 9);
	r->dsn_sent = sqlite3_column_int(s, 10) != 0;
	if (r->address == NULL)
		r->address = xstrdup("");
}

int
store_queue_add(struct store *st, const struct store_queue_message *msg,
		const struct store_queue_recipient *rcpts, size_t n,
		int64_t *id_r, const char **error_r)
{
	if (n == 0) {
		*error_r = "a queued message needs at least one recipient";
		return STORE_INVALID;
	}
	if (!is_lower_hex(msg->blob, SHA256_HEX_LEN)) {
		*error_r = "a queued message needs a blob";
		return STORE_INVALID;
	}
	int64_t now = store_now();
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;

	sqlite3_stmt *s = store_stmt(st, SQL_ADD_MSG);
	stmt_text(s, 1, msg->qid != NULL ? msg->qid : "");
	stmt_text(s, 2, msg->blob);
	stmt_int(s, 3, (int64_t)msg->size);
	stmt_text(s, 4, msg->sender != NULL ? msg->sender : "");
	if (msg->user_id > 0)
		stmt_int(s, 5, msg->user_id);
	else
		sqlite3_bind_null(s, 5);
	stmt_text(s, 6, msg->ret);
	stmt_text(s, 7, msg->envid);
	stmt_text(s, 8, msg->body);
	stmt_int(s, 9, msg->smtputf8 ? 1 : 0);
	stmt_text(s, 10, msg->kind != NULL ? msg->kind : "relay");
	stmt_int(s, 11, now);
	ret = stmt_exec(st, s, "cannot queue a message", error_r);
	if (ret != STORE_OK)
		goto fail;
	int64_t id = sqlite3_last_insert_rowid(st->db);

	for (size_t i = 0; i < n; i++) {
		const struct store_queue_recipient *r = &rcpts[i];
		if (r->state != STORE_QUEUE_PENDING && r->state != STORE_QUEUE_FAILED) {
			*error_r = "a new queue recipient is pending or failed";
			ret = STORE_INVALID;
			goto fail;
		}
		s = store_stmt(st, SQL_ADD_RCPT);
		stmt_int(s, 1, id);
		stmt_text(s, 2, r->address);
		stmt_text(s, 3, r->orcpt);
		stmt_int(s, 4, r->notify);
		stmt_text(s, 5, store_queue_state_name(r->state));
		stmt_int(s, 6, r->next_attempt > 0 ? r->next_attempt : now);
		stmt_text(s, 7, r->last_reply);
		ret = stmt_exec(st, s, "cannot queue a recipient", error_r);
		if (ret != STORE_OK)
			goto fail;
	}
	ret = store_commit(st, error_r);
	if (ret != STORE_OK)
		return ret;
	if (id_r != NULL)
		*id_r = id;
	return STORE_OK;
fail:
	store_rollback(st);
	return ret;
}

static int
read_rcpts(struct store *st, sqlite3_stmt *s, const char *what,
	   struct store_queue_recipient **list_r, size_t *n_r,
	   const char **error_r)
{
	struct store_queue_recipient *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		rcpt_from_row(s, &list[n++]);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, what);
		store_queue_recipient_list_free(&list, n);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

int
store_queue_get(struct store *st, int64_t id, struct store_queue_message *msg_r,
		struct store_queue_recipient **rcpts_r, size_t *n_r,
		const char **error_r)
{
	memset(msg_r, 0, sizeof *msg_r);
	*rcpts_r = NULL;
	*n_r = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_GET_MSG);
	stmt_int(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		stmt_done(s);
		if (rc == SQLITE_DONE) {
			*error_r = errfmt("queue message %lld does not exist", (long long)id);
			return STORE_NOTFOUND;
		}
		*error_r = store_db_error(st, "cannot read a queue message");
		return STORE_ERROR;
	}
	msg_from_row(s, msg_r);
	stmt_done(s);
	s = store_stmt(st, SQL_RCPTS_OF);
	stmt_int(s, 1, id);
	int ret = read_rcpts(st, s, "cannot read queue recipients", rcpts_r, n_r,
			     error_r);
	if (ret != STORE_OK)
		store_queue_message_clear(msg_r);
	return ret;
}

int
store_queue_list(struct store *st, struct store_queue_message **list_r,
		 size_t *n_r, const char **error_r)
{
	struct store_queue_message *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	sqlite3_stmt *s = store_stmt(st, SQL_LIST_MSG);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		msg_from_row(s, &list[n++]);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot list the queue");
		store_queue_message_list_free(&list, n);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

int
store_queue_due(struct store *st, int64_t now, size_t max,
		struct store_queue_recipient **list_r, size_t *n_r,
		const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DUE);
	stmt_int(s, 1, now);
	stmt_int(s, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	return read_rcpts(st, s, "cannot read due recipients", list_r, n_r,
			  error_r);
}

int
store_queue_claim(struct store *st, int64_t rcpt_id, int64_t now,
		  int64_t lease_until, bool *claimed_r, const char **error_r)
{
	*claimed_r = false;
	sqlite3_stmt *s = store_stmt(st, SQL_CLAIM);
	stmt_int(s, 1, rcpt_id);
	stmt_int(s, 2, now);
	stmt_int(s, 3, lease_until);
	/* one UPDATE is atomic in SQLite: two workers cannot both see it due */
	int ret = stmt_exec(st, s, "cannot claim a queue recipient", error_r);
	if (ret != STORE_OK)
		return ret;
	*claimed_r = sqlite3_changes(st->db) > 0;
	return STORE_OK;
}

int
store_queue_result(struct store *st, int64_t rcpt_id,
		   enum store_queue_state state, int64_t next_attempt,
		   const char *reply, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_RESULT);
	stmt_int(s, 1, rcpt_id);
	stmt_int(s, 2, store_now());
	stmt_text(s, 3, store_queue_state_name(state));
	stmt_int(s, 4, next_attempt);
	stmt_text(s, 5, reply);
	int ret = stmt_exec(st, s, "cannot record a delivery attempt", error_r);
	if (ret != STORE_OK)
		return ret;
	if (sqlite3_changes(st->db) == 0) {
		*error_r = errfmt("queue recipient %lld does not exist", (long long)rcpt_id);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

int
store_queue_set_dsn_sent(struct store *st, int64_t rcpt_id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DSN_SENT);
	stmt_int(s, 1, rcpt_id);
	int ret = stmt_exec(st, s, "cannot mark a DSN as sent", error_r);
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0) {
		*error_r = errfmt("queue recipient %lld does not exist", (long long)rcpt_id);
		return STORE_NOTFOUND;
	}
	return ret;
}

static int
message_exists(struct store *st, int64_t id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_EXISTS);
	stmt_int(s, 1, id);
	int rc = sqlite3_step(s);
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE) {
		*error_r = errfmt("queue message %lld does not exist", (long long)id);
		return STORE_NOTFOUND;
	}
	*error_r = store_db_error(st, "cannot read the queue");
	return STORE_ERROR;
}

int
store_queue_retry(struct store *st, int64_t id, const char **error_r)
{
	int ret = message_exists(st, id, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_RETRY);
	stmt_int(s, 1, id);
	stmt_int(s, 2, store_now());
	return stmt_exec(st, s, "cannot retry a queue message", error_r);
}

int
store_queue_flush(struct store *st, unsigned *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FLUSH);
	stmt_int(s, 1, store_now());
	int ret = stmt_exec(st, s, "cannot flush the queue", error_r);
	if (ret == STORE_OK && n_r != NULL)
		*n_r = (unsigned)sqlite3_changes(st->db);
	return ret;
}

int
store_queue_delete(struct store *st, int64_t id, const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	ret = message_exists(st, id, error_r);
	if (ret != STORE_OK)
		goto fail;
	sqlite3_stmt *s = store_stmt(st, SQL_DELETE_RCPTS);
	stmt_int(s, 1, id);
	ret = stmt_exec(st, s, "cannot delete queue recipients", error_r);
	if (ret != STORE_OK)
		goto fail;
	s = store_stmt(st, SQL_DELETE);
	stmt_int(s, 1, id);
	ret = stmt_exec(st, s, "cannot delete a queue message", error_r);
	if (ret != STORE_OK)
		goto fail;
	return store_commit(st, error_r);
fail:
	store_rollback(st);
	return ret;
}

int
store_queue_cleanup(struct store *st, unsigned *removed_r, const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_CLEANUP_RCPTS);
	ret = stmt_exec(st, s, "cannot clean up the queue", error_r);
	if (ret != STORE_OK)
		goto fail;
	s = store_stmt(st, SQL_CLEANUP_MSGS);
	ret = stmt_exec(st, s, "cannot clean up the queue", error_r);
	if (ret != STORE_OK)
		goto fail;
	unsigned removed = (unsigned)sqlite3_changes(st->db);
	ret = store_commit(st, error_r);
	if (ret == STORE_OK && removed_r != NULL)
		*removed_r = removed;
	return ret;
fail:
	store_rollback(st);
	return ret;
}

int
store_queue_count(struct store *st, unsigned *messages_r, unsigned *open_r,
		  const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_COUNT);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		stmt_done(s);
		*error_r = store_db_error(st, "cannot count the queue");
		return STORE_ERROR;
	}
	*messages_r = (unsigned)sqlite3_column_int64(s, 0);
	*open_r = (unsigned)sqlite3_column_int64(s, 1);
	stmt_done(s);
	return STORE_OK;
}

int
store_queue_blob_referenced(struct store *st, const char *hash)
{
	sqlite3_stmt *s = store_stmt(st, SQL_BLOB_REF);
	stmt_text(s, 1, hash);
	int rc = sqlite3_step(s);
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

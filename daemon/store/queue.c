/*
 * queue: the outbound queue table (see queue.h).
 */
#include "store/queue.h"

#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

/* The columns msg_read_bare() reads, then the counts msg_read() adds. */
#define MSG_BARE \
	"m.id, m.qid, m.blob, m.size, m.sender, m.user_id, m.ret, m.envid," \
	" m.body, m.smtputf8, m.kind, m.created, m.requiretls"
#define MSG_COLUMNS MSG_BARE "," \
	" (SELECT count(*) FROM queue_recipients r WHERE r.message_id = m.id)," \
	" (SELECT count(*) FROM queue_recipients r WHERE r.message_id = m.id" \
	"   AND r.state IN ('pending', 'deferred'))," \
	" (SELECT min(next_attempt) FROM queue_recipients r WHERE r.message_id = m.id" \
	"   AND r.state IN ('pending', 'deferred')),"	\
	" (SELECT count(*) FROM queue_recipients r WHERE r.message_id = m.id" \
	"   AND r.state = 'pending' AND r.held IS NOT NULL)"

static const char SQL_ADD_MSG[] =
	"INSERT INTO queue_messages (qid, blob, size, sender, user_id, ret, envid,"
	" body, smtputf8, kind, created, requiretls)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_ADD_RCPT[] =
	"INSERT OR IGNORE INTO queue_recipients (message_id, address, orcpt, notify,"
	" state, next_attempt, last_reply, held) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_GET_MSG[] =
	"SELECT " MSG_COLUMNS " FROM queue_messages m WHERE m.id = ?1";
static const char SQL_GET_MSG_BARE[] =
	"SELECT " MSG_BARE " FROM queue_messages m WHERE m.id = ?1";
static const char SQL_LIST_MSG[] =
	"SELECT " MSG_COLUMNS " FROM queue_messages m ORDER BY m.created, m.id";
static const char SQL_RCPTS_OF[] =
	"SELECT " QUEUE_RCPT_COLUMNS " FROM queue_recipients r"
	" WHERE r.message_id = ?1 ORDER BY r.id";
static const char SQL_DUE[] =
	"SELECT " QUEUE_RCPT_COLUMNS " FROM queue_recipients r"
	" WHERE r.state IN ('pending', 'deferred') AND r.held IS NULL"
	" AND r.next_attempt <= ?1"
	" ORDER BY r.next_attempt, r.id LIMIT ?2";
static const char SQL_CLAIM[] =
	"UPDATE queue_recipients SET next_attempt = ?3"
	" WHERE id = ?1 AND state IN ('pending', 'deferred') AND held IS NULL"
	" AND next_attempt <= ?2";
static const char SQL_RESULT[] =
	"UPDATE queue_recipients SET attempts = attempts + 1, last_attempt = ?2,"
	" dsn_sent = CASE WHEN state = ?3 THEN dsn_sent ELSE 0 END,"
	" state = ?3, next_attempt = ?4, last_reply = ?5 WHERE id = ?1";
static const char SQL_DSN_SENT[] =
	"UPDATE queue_recipients SET dsn_sent = 1 WHERE id = ?1";
static const char SQL_RETRY[] =
	"UPDATE queue_recipients SET next_attempt = ?2"
	" WHERE message_id = ?1 AND state IN ('pending', 'deferred') AND held IS NULL";
static const char SQL_FLUSH[] =
	"UPDATE queue_recipients SET next_attempt = ?1"
	" WHERE state IN ('pending', 'deferred') AND held IS NULL";
static const char SQL_RELEASE[] =
	"UPDATE queue_recipients SET held = NULL, next_attempt = ?2"
	" WHERE message_id = ?1 AND held IS NOT NULL";
static const char SQL_EXISTS[] = "SELECT 1 FROM queue_messages WHERE id = ?1";
static const char SQL_DELETE_RCPTS[] =
	"DELETE FROM queue_recipients WHERE message_id = ?1";
static const char SQL_DELETE[] = "DELETE FROM queue_messages WHERE id = ?1";
static const char SQL_CLEANUP_RCPTS[] =
	"DELETE FROM queue_recipients WHERE message_id IN (SELECT m.id FROM queue_messages m"
	" WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id"
	"   AND (r.state IN ('pending', 'deferred')"
	"     OR (r.state = 'failed' AND r.dsn_sent = 0 AND (r.notify & 1) = 0"
	"         AND m.sender <> '' AND m.kind = 'relay')"
	"     OR (r.state = 'delivered' AND r.dsn_sent = 0 AND (r.notify & 3) = 2"
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
store_queue_recipient_clear(struct store_queue_recipient *r)
{
	if (r == NULL)
		return;
	free(r->address);
	free(r->orcpt);
	free(r->last_reply);
	free(r->held);
	memset(r, 0, sizeof *r);
}

static void
msg_read_bare(sqlite3_stmt *s, void *elem)
{
	struct store_queue_message *m = elem;
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
	m->requiretls = sqlite3_column_int(s, 12) != 0;
	if (m->sender == NULL)
		m->sender = xstrdup("");
	if (m->qid == NULL)
		m->qid = xstrdup("");
	if (m->kind == NULL)
		m->kind = xstrdup("relay");
}

static void
msg_read(sqlite3_stmt *s, void *elem)
{
	struct store_queue_message *m = elem;
	msg_read_bare(s, m);
	m->n_recipients = (unsigned)sqlite3_column_int64(s, 13);
	m->n_open = (unsigned)sqlite3_column_int64(s, 14);
	m->next_attempt = sqlite3_column_int64(s, 15);
	m->n_held = (unsigned)sqlite3_column_int64(s, 16);
}

static void
msg_clear(void *elem)
{
	store_queue_message_clear(elem);
}

static const struct stmt_rows msg_rows = {
	.size = sizeof(struct store_queue_message),
	.read = msg_read,
	.clear = msg_clear,
};
static const struct stmt_rows msg_bare_rows = {
	.size = sizeof(struct store_queue_message),
	.read = msg_read_bare,
	.clear = msg_clear,
};

void
store_queue_message_list_free(struct store_queue_message **list, size_t n)
{
	stmt_rows_free(&msg_rows, *list, n);
	*list = NULL;
}

void
store_queue_recipient_read(sqlite3_stmt *s, void *elem)
{
	struct store_queue_recipient *r = elem;
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
	r->held = stmt_col_strdup(s, 11);
	if (r->address == NULL)
		r->address = xstrdup("");
}

static void
rcpt_clear(void *elem)
{
	store_queue_recipient_clear(elem);
}

static const struct stmt_rows rcpt_rows = {
	.size = sizeof(struct store_queue_recipient),
	.read = store_queue_recipient_read,
	.clear = rcpt_clear,
};

void
store_queue_recipient_list_free(struct store_queue_recipient **list, size_t n)
{
	stmt_rows_free(&rcpt_rows, *list, n);
	*list = NULL;
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
	stmt_int(s, 12, msg->requiretls ? 1 : 0);
	ret = stmt_exec(st, s, "cannot queue a message", error_r);
	int64_t id = sqlite3_last_insert_rowid(st->db);

	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		const struct store_queue_recipient *r = &rcpts[i];
		if (r->state != STORE_QUEUE_PENDING && r->state != STORE_QUEUE_FAILED) {
			*error_r = "a new queue recipient is pending or failed";
			ret = STORE_INVALID;
			break;
		}
		s = store_stmt(st, SQL_ADD_RCPT);
		stmt_int(s, 1, id);
		stmt_text(s, 2, r->address);
		stmt_text(s, 3, r->orcpt);
		stmt_int(s, 4, r->notify);
		stmt_text(s, 5, store_queue_state_name(r->state));
		stmt_int(s, 6, r->next_attempt > 0 ? r->next_attempt : now);
		stmt_text(s, 7, r->last_reply);
		stmt_text(s, 8, r->state == STORE_QUEUE_PENDING ? r->held : NULL);
		ret = stmt_exec(st, s, "cannot queue a recipient", error_r);
	}
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK && id_r != NULL)
		*id_r = id;
	return ret;
}

static int
read_rcpts(struct store *st, sqlite3_stmt *s, const char *what,
	   struct store_queue_recipient **list_r, size_t *n_r,
	   const char **error_r)
{
	void *list;
	int ret = stmt_list(st, s, &rcpt_rows, what, &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

int
store_queue_message_load(struct store *st, int64_t id, bool counts,
			 struct store_queue_message *msg_r,
			 const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, counts ? SQL_GET_MSG : SQL_GET_MSG_BARE);
	stmt_int(s, 1, id);
	int ret = stmt_get(st, s, counts ? &msg_rows : &msg_bare_rows,
			   "cannot read a queue message", msg_r, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("queue message %lld does not exist", (long long)id);
	return ret;
}

int
store_queue_get(struct store *st, int64_t id, struct store_queue_message *msg_r,
		struct store_queue_recipient **rcpts_r, size_t *n_r,
		const char **error_r)
{
	*rcpts_r = NULL;
	*n_r = 0;
	int ret = store_queue_message_load(st, id, true, msg_r, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_RCPTS_OF);
	stmt_int(s, 1, id);
	ret = read_rcpts(st, s, "cannot read queue recipients", rcpts_r, n_r,
			 error_r);
	if (ret != STORE_OK)
		store_queue_message_clear(msg_r);
	return ret;
}

int
store_queue_list(struct store *st, struct store_queue_message **list_r,
		 size_t *n_r, const char **error_r)
{
	void *list;
	sqlite3_stmt *s = store_stmt(st, SQL_LIST_MSG);
	int ret = stmt_list(st, s, &msg_rows, "cannot list the queue", &list,
			    n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
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
	unsigned n;
	int ret = stmt_exec_n(st, s, "cannot claim a queue recipient", &n, error_r);
	if (ret == STORE_OK)
		*claimed_r = n > 0;
	return ret;
}

/* Runs s, an UPDATE of the recipient rcpt_id. */
static int
rcpt_exec(struct store *st, sqlite3_stmt *s, int64_t rcpt_id, const char *what,
	  const char **error_r)
{
	int ret = stmt_exec_one(st, s, what, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("queue recipient %lld does not exist", (long long)rcpt_id);
	return ret;
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
	return rcpt_exec(st, s, rcpt_id, "cannot record a delivery attempt",
			 error_r);
}

int
store_queue_set_dsn_sent(struct store *st, int64_t rcpt_id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DSN_SENT);
	stmt_int(s, 1, rcpt_id);
	return rcpt_exec(st, s, rcpt_id, "cannot mark a DSN as sent", error_r);
}

static int
message_exists(struct store *st, int64_t id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_EXISTS);
	stmt_int(s, 1, id);
	int found = stmt_exists(st, s, "cannot read the queue", error_r);
	if (found == 0) {
		*error_r = errfmt("queue message %lld does not exist", (long long)id);
		return STORE_NOTFOUND;
	}
	return found > 0 ? STORE_OK : STORE_ERROR;
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
	return stmt_exec_n(st, s, "cannot flush the queue", n_r, error_r);
}

int
store_queue_release(struct store *st, int64_t id, unsigned *n_r, const char **error_r)
{
	int ret = message_exists(st, id, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_RELEASE);
	stmt_int(s, 1, id);
	stmt_int(s, 2, store_now());
	return stmt_exec_n(st, s, "cannot release a queue message", n_r, error_r);
}

int
store_queue_delete(struct store *st, int64_t id, const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	ret = message_exists(st, id, error_r);
	if (ret == STORE_OK) {
		sqlite3_stmt *s = store_stmt(st, SQL_DELETE_RCPTS);
		stmt_int(s, 1, id);
		ret = stmt_exec(st, s, "cannot delete queue recipients", error_r);
	}
	if (ret == STORE_OK) {
		sqlite3_stmt *s = store_stmt(st, SQL_DELETE);
		stmt_int(s, 1, id);
		ret = stmt_exec(st, s, "cannot delete a queue message", error_r);
	}
	return store_end(st, ret, error_r);
}

int
store_queue_cleanup(struct store *st, unsigned *removed_r, const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	unsigned removed = 0;
	ret = stmt_exec(st, store_stmt(st, SQL_CLEANUP_RCPTS),
			"cannot clean up the queue", error_r);
	if (ret == STORE_OK)
		ret = stmt_exec_n(st, store_stmt(st, SQL_CLEANUP_MSGS),
				  "cannot clean up the queue", &removed, error_r);
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK && removed_r != NULL)
		*removed_r = removed;
	return ret;
}

int
store_queue_count(struct store *st, unsigned *messages_r, unsigned *open_r,
		  const char **error_r)
{
	int64_t v[2];
	int ret = stmt_ints(st, store_stmt(st, SQL_COUNT), "cannot count the queue",
			    v, 2, error_r);
	if (ret == STORE_OK) {
		*messages_r = (unsigned)v[0];
		*open_r = (unsigned)v[1];
	}
	return ret;
}

int
store_queue_blob_referenced(struct store *st, const char *hash)
{
	sqlite3_stmt *s = store_stmt(st, SQL_BLOB_REF);
	stmt_text(s, 1, hash);
	const char *error;
	/* the caller (store_blob_referenced()) words its own error */
	return stmt_exists(st, s, "cannot look up a blob", &error);
}

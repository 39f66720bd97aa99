/*
 * sendlimit: hourly submission counters (see sendlimit.h).
 */
#include "store/sendlimit.h"

#include "store/store_int.h"

static const char SQL_USAGE[] =
	"SELECT messages, recipients FROM send_counts WHERE scope = ?1 AND hour = ?2";
static const char SQL_COUNT[] =
	"INSERT INTO send_counts (scope, hour, messages, recipients) VALUES (?1, ?2, 1, ?3)"
	" ON CONFLICT (scope, hour) DO UPDATE SET messages = messages + 1,"
	" recipients = recipients + excluded.recipients";
static const char SQL_PRUNE[] =
	"DELETE FROM send_counts WHERE scope IN (?1, ?2) AND hour < ?3";
static const char SQL_HIT[] =
	"INSERT INTO send_limit_hits (scope, hits, last_hit, what) VALUES (?1, 1, ?2, ?3)"
	" ON CONFLICT (scope) DO UPDATE SET hits = hits + 1, last_hit = excluded.last_hit,"
	" what = excluded.what";

int
store_send_usage(struct store *st, const char *scope, int64_t hour,
		 int64_t *messages_r, int64_t *recipients_r, const char **error_r)
{
	int64_t v[2] = { 0, 0 };
	sqlite3_stmt *s = store_stmt(st, SQL_USAGE);
	stmt_text(s, 1, scope);
	stmt_int(s, 2, hour);
	int ret = stmt_ints(st, s, "cannot read the sending counters", v, 2, error_r);
	if (ret == STORE_NOTFOUND)
		ret = STORE_OK;
	*messages_r = v[0];
	*recipients_r = v[1];
	return ret;
}

int
store_send_count(struct store *st, const char *user_scope, const char *domain_scope,
		 int64_t hour, unsigned rcpts, const char **error_r)
{
	int ret = store_begin_light(st, error_r);
	if (ret != STORE_OK)
		return ret;
	const char *scopes[2] = { user_scope, domain_scope };
	for (int i = 0; i < 2 && ret == STORE_OK; i++) {
		sqlite3_stmt *s = store_stmt(st, SQL_COUNT);
		stmt_text(s, 1, scopes[i]);
		stmt_int(s, 2, hour);
		stmt_int(s, 3, rcpts);
		ret = stmt_exec(st, s, "cannot count a submission", error_r);
	}
	if (ret == STORE_OK) {
		/* older hours are of no more use */
		sqlite3_stmt *s = store_stmt(st, SQL_PRUNE);
		stmt_text(s, 1, user_scope);
		stmt_text(s, 2, domain_scope);
		stmt_int(s, 3, hour - 24);
		ret = stmt_exec(st, s, "cannot prune the sending counters", error_r);
	}
	return store_end(st, ret, error_r);
}

int
store_send_limit_hit(struct store *st, const char *scope, const char *what, int64_t now,
		     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_HIT);
	stmt_text(s, 1, scope);
	stmt_int(s, 2, now);
	stmt_text(s, 3, what);
	return stmt_exec(st, s, "cannot note a sending limit", error_r);
}

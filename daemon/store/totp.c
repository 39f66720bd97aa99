/*
 * totp: the credentials epoch that panel sessions are checked against, and
 * the TOTP secrets and recovery codes of two-factor sign-in (sql/008).
 *
 * Codes are checked by the caller (core/totp.c, on the unsealed secret);
 * what must hold across concurrent requests is here: a time step or a
 * recovery code is used by one conditional UPDATE, so of two requests with
 * the same code exactly one succeeds.
 */
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_EPOCH[] =
	"SELECT cred_epoch, password_hash FROM users WHERE id = ?1";
static const char SQL_SESSION_USER[] =
	"SELECT " USER_COLUMNS ", u.cred_epoch FROM users u WHERE u.id = ?1";
static const char SQL_NEW_EPOCH[] =
	"UPDATE users SET cred_epoch = random() WHERE id = ?1";

static const char SQL_GET[] =
	"SELECT secret_sealed, enabled, last_step, created,"
	" (SELECT count(*) FROM user_recovery_codes c"
	"  WHERE c.user_id = t.user_id AND c.used = 0)"
	" FROM user_totp t WHERE t.user_id = ?1";
static const char SQL_IS_ON[] =
	"SELECT 1 FROM user_totp WHERE user_id = ?1 AND enabled <> 0";
static const char SQL_BEGIN[] =
	"INSERT OR REPLACE INTO user_totp (user_id, secret_sealed, enabled,"
	" last_step, created) VALUES (?1, ?2, 0, 0, ?3)";
static const char SQL_ENABLE[] =
	"UPDATE user_totp SET enabled = 1, last_step = ?2"
	" WHERE user_id = ?1 AND enabled = 0";
static const char SQL_USE_STEP[] =
	"UPDATE user_totp SET last_step = ?2"
	" WHERE user_id = ?1 AND enabled <> 0 AND last_step < ?2";
static const char SQL_ADD_RECOVERY[] =
	"INSERT INTO user_recovery_codes (user_id, hash) VALUES (?1, ?2)";
static const char SQL_DEL_RECOVERY[] =
	"DELETE FROM user_recovery_codes WHERE user_id = ?1";
static const char SQL_USE_RECOVERY[] =
	"UPDATE user_recovery_codes SET used = ?3"
	" WHERE user_id = ?1 AND hash = ?2 AND used = 0"
	" AND EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = ?1 AND t.enabled <> 0)";
static const char SQL_REMOVE[] = "DELETE FROM user_totp WHERE user_id = ?1";

int
store_user_epoch(struct store *st, int64_t user_id, const char *password_hash,
		 int64_t *epoch_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_EPOCH);
	stmt_int(s, 1, user_id);
	int ret = stmt_row(st, s, "cannot read the user's epoch", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "the user does not exist";
	if (ret != STORE_OK)
		return ret;
	*epoch_r = sqlite3_column_int64(s, 0);
	const char *hash = (const char *)sqlite3_column_text(s, 1);
	if (password_hash != NULL && (hash == NULL || strcmp(hash, password_hash) != 0)) {
		*error_r = "the password changed meanwhile";
		ret = STORE_NOTFOUND;
	}
	stmt_done(s);
	return ret;
}

int
store_user_get_session(struct store *st, int64_t user_id, int64_t epoch,
		       struct store_user *user_r, const char **error_r)
{
	memset(user_r, 0, sizeof *user_r);
	sqlite3_stmt *s = store_stmt(st, SQL_SESSION_USER);
	stmt_int(s, 1, user_id);
	int ret = stmt_row(st, s, "cannot read the session's user", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "the user does not exist";
	if (ret != STORE_OK)
		return ret;
	/* the epoch is the last column, whatever USER_COLUMNS holds */
	int64_t now_epoch = sqlite3_column_int64(s, sqlite3_column_count(s) - 1);
	store_user_read(s, user_r);
	stmt_done(s);
	if (now_epoch != epoch || !user_r->enabled) {
		store_user_clear(user_r);
		*error_r = "the session has ended";
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

int
store_totp_get(struct store *st, int64_t user_id, struct store_totp *t_r,
	       const char **error_r)
{
	memset(t_r, 0, sizeof *t_r);
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_int(s, 1, user_id);
	int ret = stmt_row(st, s, "cannot read the TOTP secret", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "two-factor sign-in is not set up";
	if (ret != STORE_OK)
		return ret;
	t_r->secret_sealed = stmt_col_strdup(s, 0);
	t_r->enabled = sqlite3_column_int(s, 1) != 0;
	t_r->last_step = sqlite3_column_int64(s, 2);
	t_r->created = sqlite3_column_int64(s, 3);
	t_r->recovery_left = (unsigned)sqlite3_column_int64(s, 4);
	stmt_done(s);
	return STORE_OK;
}

void
store_totp_clear(struct store_totp *t)
{
	if (t == NULL)
		return;
	free(t->secret_sealed);
	memset(t, 0, sizeof *t);
}

/* Inside a transaction: STORE_EXISTS when it is on already. */
static int
refuse_when_on(struct store *st, int64_t user_id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_IS_ON);
	stmt_int(s, 1, user_id);
	int on = stmt_exists(st, s, "cannot read the TOTP secret", error_r);
	if (on < 0)
		return STORE_ERROR;
	if (on > 0) {
		*error_r = "two-factor sign-in is on already";
		return STORE_EXISTS;
	}
	return STORE_OK;
}

static int
begin_tx(struct store *st, int64_t user_id, const char *secret_sealed,
	 const char **error_r)
{
	int ret = refuse_when_on(st, user_id, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_BEGIN);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, secret_sealed);
	stmt_int(s, 3, store_now());
	return stmt_exec(st, s, "cannot store the TOTP secret", error_r);
}

int
store_totp_begin(struct store *st, int64_t user_id, const char *secret_sealed,
		 const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret == STORE_OK)
		ret = store_end(st, begin_tx(st, user_id, secret_sealed, error_r), error_r);
	return ret;
}

static int
add_recovery(struct store *st, int64_t user_id, const char *const *codes, size_t n,
	     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DEL_RECOVERY);
	stmt_int(s, 1, user_id);
	int ret = stmt_exec(st, s, "cannot replace the recovery codes", error_r);
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		char hash[SHA256_HEX_LEN + 1];
		sha256_hex(codes[i], strlen(codes[i]), hash);
		s = store_stmt(st, SQL_ADD_RECOVERY);
		stmt_int(s, 1, user_id);
		stmt_text(s, 2, hash);
		ret = stmt_exec(st, s, "cannot store a recovery code", error_r);
	}
	return ret;
}

static int
enable_tx(struct store *st, int64_t user_id, int64_t step, const char *const *codes,
	  size_t n, const char **error_r)
{
	int ret = refuse_when_on(st, user_id, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_ENABLE);
	stmt_int(s, 1, user_id);
	stmt_int(s, 2, step);
	ret = stmt_exec_one(st, s, "cannot turn two-factor sign-in on", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "there is no enrolment to confirm: start one first";
	if (ret != STORE_OK)
		return ret;
	return add_recovery(st, user_id, codes, n, error_r);
}

int
store_totp_enable(struct store *st, int64_t user_id, int64_t step,
		  const char *const *recovery, size_t n, const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret == STORE_OK)
		ret = store_end(st, enable_tx(st, user_id, step, recovery, n, error_r),
				error_r);
	if (ret == STORE_OK)
		log_info("store user_id=%lld totp=on", (long long)user_id);
	return ret;
}

int
store_totp_use_step(struct store *st, int64_t user_id, int64_t step,
		    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_USE_STEP);
	stmt_int(s, 1, user_id);
	stmt_int(s, 2, step);
	int ret = stmt_exec_one(st, s, "cannot record the TOTP code", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "the code was used already";
	return ret;
}

int
store_totp_use_recovery(struct store *st, int64_t user_id, const char *code,
			const char **error_r)
{
	char hash[SHA256_HEX_LEN + 1];
	sha256_hex(code, strlen(code), hash);
	sqlite3_stmt *s = store_stmt(st, SQL_USE_RECOVERY);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, hash);
	stmt_int(s, 3, store_now());
	int ret = stmt_exec_one(st, s, "cannot use the recovery code", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "not an unused recovery code";
	if (ret == STORE_OK)
		log_info("store user_id=%lld totp recovery code used", (long long)user_id);
	return ret;
}

static int
remove_tx(struct store *st, int64_t user_id, bool end_sessions, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_REMOVE);
	stmt_int(s, 1, user_id);
	int ret = stmt_exec_one(st, s, "cannot remove the TOTP secret", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "two-factor sign-in is not set up";
	if (ret != STORE_OK)
		return ret;
	s = store_stmt(st, SQL_DEL_RECOVERY);
	stmt_int(s, 1, user_id);
	if ((ret = stmt_exec(st, s, "cannot remove the recovery codes", error_r)) < 0)
		return ret;
	if (!end_sessions)
		return STORE_OK;
	s = store_stmt(st, SQL_NEW_EPOCH);
	stmt_int(s, 1, user_id);
	return stmt_exec(st, s, "cannot end the user's sessions", error_r);
}

int
store_totp_remove(struct store *st, int64_t user_id, bool end_sessions,
		  const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret == STORE_OK)
		ret = store_end(st, remove_tx(st, user_id, end_sessions, error_r), error_r);
	if (ret == STORE_OK)
		log_info("store user_id=%lld totp=off%s", (long long)user_id,
			 end_sessions ? " sessions=ended" : "");
	return ret;
}

/*
 * tokens: API bearer tokens.  Only the SHA-256 of a token is stored, so a
 * copy of the database does not let anyone into the API; a token is found
 * by the hash of what the client presents.  A token may have an expiry
 * (sql/008); a new password or a disabled account deletes the user's
 * tokens (sql/008's triggers).
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

/* 256 random bits as 64 hex digits (DESIGN.md asks for at least 128). */
#define TOKEN_BYTES 32
#define TOKEN_TEXT_LEN (TOKEN_BYTES * 2)
#define TOKEN_PREFIX_LEN 8
#define TOKEN_NAME_MAX 200
/* last_used is written at most this often per token: checking a token on
 * every API request should not mean a write transaction every time. */
#define TOKEN_LAST_USED_SLACK 60

static const char SQL_ADD[] =
	"INSERT INTO api_tokens (user_id, hash, prefix, name, created, expires)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* t.id and t.last_used come last: their index is counted from the end, so
 * that USER_COLUMNS may grow. */
static const char SQL_CHECK[] =
	"SELECT " USER_COLUMNS ", t.id, t.last_used FROM api_tokens t"
	" JOIN users u ON u.id = t.user_id"
	" WHERE t.hash = ?1 AND (t.expires = 0 OR t.expires > ?2)";
static const char SQL_TOUCH[] =
	"UPDATE api_tokens SET last_used = ?2 WHERE id = ?1";
static const char SQL_LIST[] =
	"SELECT id, user_id, name, prefix, created, last_used, expires FROM api_tokens"
	" WHERE user_id = ?1 ORDER BY id";
static const char SQL_DEL[] =
	"DELETE FROM api_tokens WHERE id = ?1 AND user_id = ?2";

int
store_token_create(struct store *st, const char *address, const char *name,
		   int64_t expires, char **token_r, int64_t *id_r,
		   const char **error_r)
{
	unsigned char raw[TOKEN_BYTES];
	char token[TOKEN_TEXT_LEN + 1];
	char hash[SHA256_HEX_LEN + 1];
	char prefix[TOKEN_PREFIX_LEN + 1];
	int ret;

	*token_r = NULL;
	if (name == NULL)
		name = "";
	if (strlen(name) > TOKEN_NAME_MAX) {
		*error_r = errfmt("a token name has at most %d bytes", TOKEN_NAME_MAX);
		return STORE_INVALID;
	}
	if (expires < 0 || (expires != 0 && expires <= store_now())) {
		*error_r = "a token's expiry must be in the future";
		return STORE_INVALID;
	}
	int64_t user_id;
	char *lower = store_lower_dup(address);
	if ((ret = store_user_id(st, lower, &user_id, error_r)) != STORE_OK) {
		free(lower);
		return ret;
	}

	random_bytes(raw, sizeof raw);
	hex_encode(raw, sizeof raw, token);
	explicit_bzero(raw, sizeof raw);
	sha256_hex(token, TOKEN_TEXT_LEN, hash);
	memcpy(prefix, token, TOKEN_PREFIX_LEN);
	prefix[TOKEN_PREFIX_LEN] = '\0';

	sqlite3_stmt *s = store_stmt(st, SQL_ADD);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, hash);
	stmt_text(s, 3, prefix);
	stmt_text(s, 4, name);
	stmt_int(s, 5, store_now());
	stmt_int(s, 6, expires);
	ret = stmt_exec(st, s, "cannot add the token", error_r);
	if (ret == STORE_OK) {
		if (id_r != NULL)
			*id_r = sqlite3_last_insert_rowid(st->db);
		*token_r = xstrdup(token);
		log_info("store token prefix=%s user=%s created", prefix, lower);
	}
	explicit_bzero(token, sizeof token);
	free(lower);
	return ret;
}

int
store_token_check(struct store *st, const char *token,
		  struct store_user *user_r, const char **error_r)
{
	char hash[SHA256_HEX_LEN + 1];
	size_t len = strlen(token);

	memset(user_r, 0, sizeof *user_r);
	/* Anything that is not the shape we hand out cannot match. */
	if (len != TOKEN_TEXT_LEN || !is_lower_hex(token, TOKEN_TEXT_LEN)) {
		*error_r = "unknown token";
		return STORE_NOTFOUND;
	}
	/* The lookup is by hash: timing tells nothing about the token. */
	sha256_hex(token, len, hash);
	int64_t now = store_now();
	sqlite3_stmt *s = store_stmt(st, SQL_CHECK);
	stmt_text(s, 1, hash);
	stmt_int(s, 2, now);
	int ret = stmt_row(st, s, "cannot check the token", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "unknown token";
	if (ret != STORE_OK)
		return ret;
	store_user_read(s, user_r);
	int cols = sqlite3_column_count(s);
	int64_t token_id = sqlite3_column_int64(s, cols - 2);
	int64_t last_used = sqlite3_column_int64(s, cols - 1);
	stmt_done(s);
	if (!user_r->enabled) {
		store_user_clear(user_r);
		*error_r = "unknown token";
		return STORE_NOTFOUND;
	}
	if (now - last_used >= TOKEN_LAST_USED_SLACK || now < last_used) {
		const char *err;
		s = store_stmt(st, SQL_TOUCH);
		stmt_int(s, 1, token_id);
		stmt_int(s, 2, now);
		/* A busy database should not refuse a valid token. */
		if (stmt_exec(st, s, "cannot update the token", &err) < 0)
			log_warning("store: %s", err);
	}
	return STORE_OK;
}

static void
token_read(sqlite3_stmt *s, void *elem)
{
	struct store_token *t = elem;
	t->id = sqlite3_column_int64(s, 0);
	t->user_id = sqlite3_column_int64(s, 1);
	t->name = stmt_col_strdup(s, 2);
	t->prefix = stmt_col_strdup(s, 3);
	t->created = sqlite3_column_int64(s, 4);
	t->last_used = sqlite3_column_int64(s, 5);
	t->expires = sqlite3_column_int64(s, 6);
}

static void
token_clear(void *elem)
{
	struct store_token *t = elem;
	free(t->name);
	free(t->prefix);
}

static const struct stmt_rows token_rows = {
	.size = sizeof(struct store_token),
	.read = token_read,
	.clear = token_clear,
};

int
store_token_list(struct store *st, int64_t user_id, struct store_token **list_r,
		 size_t *n_r, const char **error_r)
{
	void *list;
	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	stmt_int(s, 1, user_id);
	int ret = stmt_list(st, s, &token_rows, "cannot list tokens", &list, n_r,
			    error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

int
store_token_del(struct store *st, int64_t user_id, int64_t token_id,
		const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DEL);
	stmt_int(s, 1, token_id);
	stmt_int(s, 2, user_id);
	int ret = stmt_exec_one(st, s, "cannot delete the token", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("token #%lld does not exist", (long long)token_id);
	return ret;
}

void
store_token_list_free(struct store_token **list, size_t n)
{
	stmt_rows_free(&token_rows, *list, n);
	*list = NULL;
}

/*
 * users: accounts of the local domains and their standard mailboxes.
 */
#include <stdio.h>
#include <string.h>

#include "core/authcache.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/password.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_GET[] =
	"SELECT " USER_COLUMNS " FROM users u WHERE u.address = ?1";
static const char SQL_GET_BY_ID[] =
	"SELECT " USER_COLUMNS " FROM users u WHERE u.id = ?1";
static const char SQL_LIST[] =
	"SELECT " USER_COLUMNS " FROM users u ORDER BY u.address";
static const char SQL_ALIAS_EXISTS[] =
	"SELECT 1 FROM aliases WHERE source = ?1";
static const char SQL_ADD[] =
	"INSERT INTO users (domain_id, address, password_hash, admin, quota,"
	" created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_SET_PASSWORD[] =
	"UPDATE users SET password_hash = ?2 WHERE address = ?1";
static const char SQL_SET_ADMIN[] =
	"UPDATE users SET admin = ?2 WHERE address = ?1";
static const char SQL_SET_QUOTA[] =
	"UPDATE users SET quota = ?2 WHERE address = ?1";
static const char SQL_SET_QUOTA_MESSAGES[] =
	"UPDATE users SET quota_messages = ?2 WHERE address = ?1";
static const char SQL_SET_ENABLED[] =
	"UPDATE users SET enabled = ?2 WHERE address = ?1";
static const char SQL_ID[] = "SELECT id FROM users WHERE address = ?1";
static const char SQL_DEL_MAILBOX_IDS[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1";
/* Messages before mailboxes: the delete trigger needs the mailbox row. */
static const char SQL_DEL_MESSAGES[] =
	"DELETE FROM messages WHERE mailbox_id IN"
	" (SELECT id FROM mailboxes WHERE user_id = ?1)";
static const char SQL_DEL_MAILBOXES[] =
	"DELETE FROM mailboxes WHERE user_id = ?1";
static const char SQL_DEL_TOKENS[] =
	"DELETE FROM api_tokens WHERE user_id = ?1";
static const char SQL_DEL[] = "DELETE FROM users WHERE id = ?1";
static const char SQL_COUNT[] = "SELECT count(*) FROM users";
static const char SQL_COUNT_ADMINS[] =
	"SELECT count(*) FROM users WHERE admin <> 0";

/* The mailboxes every new user gets: RFC 6154 §2 SPECIAL-USE attributes. */
static const struct {
	const char *name;
	const char *special_use;
} default_mailboxes[] = {
	{ "INBOX", NULL },
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

void
store_user_read(sqlite3_stmt *s, void *elem)
{
	struct store_user *u = elem;
	u->id = sqlite3_column_int64(s, 0);
	u->address = stmt_col_strdup(s, 1);
	u->password_hash = stmt_col_strdup(s, 2);
	u->admin = sqlite3_column_int(s, 3) != 0;
	u->enabled = sqlite3_column_int(s, 4) != 0;
	u->quota = (uint64_t)sqlite3_column_int64(s, 5);
	u->used = (uint64_t)sqlite3_column_int64(s, 6);
	u->created = sqlite3_column_int64(s, 7);
	u->quota_messages = (uint64_t)sqlite3_column_int64(s, 8);
	u->messages = (uint64_t)sqlite3_column_int64(s, 9);
}

void
store_user_clear(struct store_user *u)
{
	if (u == NULL)
		return;
	free(u->address);
	if (u->password_hash != NULL) {
		explicit_bzero(u->password_hash, strlen(u->password_hash));
		free(u->password_hash);
	}
	memset(u, 0, sizeof *u);
}

static void
user_clear(void *elem)
{
	store_user_clear(elem);
}

static const struct stmt_rows user_rows = {
	.size = sizeof(struct store_user),
	.read = store_user_read,
	.clear = user_clear,
};

void
store_user_list_free(struct store_user **list, size_t n)
{
	stmt_rows_free(&user_rows, *list, n);
	*list = NULL;
}

/* One user by a statement whose ?1 is bound already. */
static int
get_one(struct store *st, sqlite3_stmt *s, const char *what,
	struct store_user *u, const char **error_r)
{
	int ret = stmt_get(st, s, &user_rows, "cannot read a user", u, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("user '%s' does not exist", what);
	return ret;
}

int
store_user_get(struct store *st, const char *address, struct store_user *u,
	       const char **error_r)
{
	char *lower = store_lower_dup(address);
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_text(s, 1, lower);
	int ret = get_one(st, s, esc_str(lower), u, error_r);
	free(lower);
	return ret;
}

int
store_user_get_by_id(struct store *st, int64_t id, struct store_user *u,
		     const char **error_r)
{
	char what[32];
	snprintf(what, sizeof what, "#%lld", (long long)id);
	sqlite3_stmt *s = store_stmt(st, SQL_GET_BY_ID);
	stmt_int(s, 1, id);
	return get_one(st, s, what, u, error_r);
}

int
store_user_list(struct store *st, struct store_user **list_r, size_t *n_r,
		const char **error_r)
{
	void *list;
	int ret = stmt_list(st, store_stmt(st, SQL_LIST), &user_rows,
			    "cannot list users", &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

int
store_user_id(struct store *st, const char *lower, int64_t *id_r,
	      const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_ID);
	stmt_text(s, 1, lower);
	int ret = stmt_ints(st, s, "cannot look up the user", id_r, 1, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("user '%s' does not exist", esc_str(lower));
	return ret;
}

/* Inside the transaction: is the address taken by a user or an alias? */
static int
address_taken(struct store *st, const char *lower, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_ID);
	stmt_text(s, 1, lower);
	int found = stmt_exists(st, s, "cannot look up an address", error_r);
	if (found > 0)
		*error_r = errfmt("user '%s' exists already", lower);
	if (found == 0) {
		s = store_stmt(st, SQL_ALIAS_EXISTS);
		stmt_text(s, 1, lower);
		found = stmt_exists(st, s, "cannot look up an address", error_r);
		if (found > 0)
			*error_r = errfmt("'%s' is an alias already", lower);
	}
	if (found < 0)
		return STORE_ERROR;
	return found > 0 ? STORE_EXISTS : STORE_OK;
}

static int
user_add_tx(struct store *st, const char *lower, const char *password_hash,
	    bool admin, uint64_t quota, const char **error_r)
{
	int64_t domain_id, user_id, mailbox_id;
	const char *domain = strchr(lower, '@') + 1;
	int ret;

	if ((ret = store_domain_id_local(st, domain, &domain_id, error_r)) < 0)
		return ret;
	if ((ret = address_taken(st, lower, error_r)) < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_ADD);
	stmt_int(s, 1, domain_id);
	stmt_text(s, 2, lower);
	stmt_text(s, 3, password_hash);
	stmt_int(s, 4, admin);
	stmt_int(s, 5, (int64_t)quota);
	stmt_int(s, 6, store_now());
	if ((ret = stmt_exec(st, s, "cannot add the user", error_r)) < 0)
		return ret;
	user_id = sqlite3_last_insert_rowid(st->db);
	for (size_t i = 0; i < sizeof default_mailboxes / sizeof default_mailboxes[0]; i++) {
		ret = store_mailbox_create_tx(st, user_id, default_mailboxes[i].name,
					      default_mailboxes[i].special_use,
					      true, &mailbox_id, error_r);
		if (ret < 0)
			return ret;
	}
	return STORE_OK;
}

int
store_user_add(struct store *st, const char *address,
	       const char *password_hash, bool admin, uint64_t quota,
	       const char **error_r)
{
	int ret;

	if (!store_address_valid(address)) {
		*error_r = errfmt("invalid address '%s'", esc_str(address));
		return STORE_INVALID;
	}
	if (password_hash == NULL || *password_hash == '\0' ||
	    strlen(password_hash) > PASSWORD_MAX) {
		*error_r = "a user needs a password hash";
		return STORE_INVALID;
	}
	if (quota > INT64_MAX) {
		*error_r = "quota too large";
		return STORE_INVALID;
	}
	char *lower = store_lower_dup(address);
	if ((ret = store_begin(st, error_r)) == STORE_OK)
		ret = store_end(st, user_add_tx(st, lower, password_hash, admin,
						quota, error_r), error_r);
	if (ret == STORE_OK)
		log_info("store user=%s added admin=%d quota=%llu", lower,
			 admin ? 1 : 0, (unsigned long long)quota);
	free(lower);
	return ret;
}

/* One UPDATE of a user's column by address; STORE_NOTFOUND when no row. */
static int
set_column(struct store *st, const char *sql, const char *what,
	   const char *address, const char *text, int64_t value,
	   const char **error_r)
{
	char *lower = store_lower_dup(address);
	sqlite3_stmt *s = store_stmt(st, sql);
	int ret;

	stmt_text(s, 1, lower);
	if (text != NULL)
		stmt_text(s, 2, text);
	else
		stmt_int(s, 2, value);
	ret = stmt_exec_one(st, s, "cannot update the user", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("user '%s' does not exist", esc_str(lower));
	if (ret == STORE_OK)
		log_info("store user=%s changed=%s", lower, what);
	free(lower);
	return ret;
}

int
store_user_set_password(struct store *st, const char *address,
			const char *password_hash, const char **error_r)
{
	if (password_hash == NULL || *password_hash == '\0' ||
	    strlen(password_hash) > PASSWORD_MAX) {
		*error_r = "a user needs a password hash";
		return STORE_INVALID;
	}
	/* the stored hash is part of every cache entry, so the old password
	 * already misses; this drops the entries themselves */
	authcache_forget_all();
	return set_column(st, SQL_SET_PASSWORD, "password", address,
			  password_hash, 0, error_r);
}

int
store_user_set_admin(struct store *st, const char *address, bool admin,
		     const char **error_r)
{
	return set_column(st, SQL_SET_ADMIN, admin ? "admin=1" : "admin=0",
			  address, NULL, admin, error_r);
}

int
store_user_set_quota(struct store *st, const char *address, uint64_t quota,
		     const char **error_r)
{
	if (quota > INT64_MAX) {
		*error_r = "quota too large";
		return STORE_INVALID;
	}
	return set_column(st, SQL_SET_QUOTA, "quota", address, NULL,
			  (int64_t)quota, error_r);
}

int
store_user_set_quota_messages(struct store *st, const char *address,
			      uint64_t messages, const char **error_r)
{
	if (messages > INT64_MAX) {
		*error_r = "quota too large";
		return STORE_INVALID;
	}
	return set_column(st, SQL_SET_QUOTA_MESSAGES, "quota_messages", address,
			  NULL, (int64_t)messages, error_r);
}

int
store_user_set_enabled(struct store *st, const char *address, bool enabled,
		       const char **error_r)
{
	if (!enabled)
		authcache_forget_all();
	return set_column(st, SQL_SET_ENABLED,
			  enabled ? "enabled=1" : "enabled=0", address, NULL,
			  enabled, error_r);
}

static int
user_del_tx(struct store *st, const char *lower, const char **error_r)
{
	int64_t id;
	int rc, ret;

	if ((ret = store_user_id(st, lower, &id, error_r)) < 0)
		return ret;
	/* Sessions watching the user's mailboxes should notice. */
	sqlite3_stmt *s = store_stmt(st, SQL_DEL_MAILBOX_IDS);
	stmt_int(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		store_tx_touch(st, sqlite3_column_int64(s, 0));
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot list the user's mailboxes");
		return STORE_ERROR;
	}
	static const char *const steps[] = {
		SQL_DEL_MESSAGES, SQL_DEL_MAILBOXES, SQL_DEL_TOKENS, SQL_DEL,
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		s = store_stmt(st, steps[i]);
		stmt_int(s, 1, id);
		if ((ret = stmt_exec(st, s, "cannot delete the user", error_r)) < 0)
			return ret;
	}
	return STORE_OK;
}

int
store_user_del(struct store *st, const char *address, const char **error_r)
{
	int ret;
	char *lower = store_lower_dup(address);

	authcache_forget_all();
	if ((ret = store_begin(st, error_r)) == STORE_OK)
		ret = store_end(st, user_del_tx(st, lower, error_r), error_r);
	if (ret == STORE_OK)
		log_info("store user=%s deleted", lower);
	free(lower);
	return ret;
}

int
store_user_authenticate(struct store *st, const char *address,
			const char *password, struct store_user *user_r,
			const char **error_r)
{
	struct store_user u;
	const char *why = NULL;
	int ret;

	memset(user_r, 0, sizeof *user_r);
	if (strlen(address) > ADDRESS_MAX || strlen(password) > PASSWORD_MAX) {
		*error_r = "authentication failed";
		return STORE_NOTFOUND;
	}
	ret = store_user_get(st, address, &u, error_r);
	if (ret == STORE_ERROR)
		return ret;
	if (ret == STORE_NOTFOUND) {
		/* As slow as a wrong password: timing must not tell which
		 * users exist. */
		password_verify_dummy(password);
		why = "unknown user";
	} else if (!u.enabled) {
		/* as slow as any other refusal */
		password_verify_dummy(password);
		why = "user disabled";
	} else if (authcache_hit(u.address, password, u.password_hash)) {
		/* verified against this very hash within the hour
		 * (core/authcache.h): a wrong password never gets here */
	} else if (!password_verify(password, u.password_hash)) {
		why = "wrong password";
	} else {
		authcache_add(u.address, password, u.password_hash);
	}
	if (why != NULL) {
		log_debug("store auth user=%s failed reason=%s", esc_str(address), why);
		store_user_clear(&u);
		/* The same words for every reason: callers must not be able to
		 * tell a peer which one it was. */
		*error_r = "authentication failed";
		return STORE_NOTFOUND;
	}
	*user_r = u;
	return STORE_OK;
}

int
store_user_count(struct store *st, bool admins_only, unsigned *n_r,
		 const char **error_r)
{
	int64_t n;
	int ret = stmt_ints(st, store_stmt(st, admins_only ? SQL_COUNT_ADMINS : SQL_COUNT),
			    "cannot count users", &n, 1, error_r);
	if (ret == STORE_OK)
		*n_r = (unsigned)n;
	return ret;
}

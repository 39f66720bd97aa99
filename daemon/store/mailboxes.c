/*
 * mailboxes: a user's folders with their IMAP counters (UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ) and SPECIAL-USE attributes.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

/* subscribed: whether the name is in the user's subscriptions (009) */
#define MAILBOX_COLUMNS \
	"id, user_id, name, uidvalidity, uidnext, highestmodseq, special_use," \
	" EXISTS (SELECT 1 FROM subscriptions sb WHERE sb.user_id =" \
	" mailboxes.user_id AND sb.name = mailboxes.name)," \
	" messages, unseen, first_recent_uid"

static const char SQL_GET[] =
	"SELECT " MAILBOX_COLUMNS " FROM mailboxes WHERE user_id = ?1 AND name = ?2";
static const char SQL_GET_BY_ID[] =
	"SELECT " MAILBOX_COLUMNS " FROM mailboxes WHERE id = ?1";
static const char SQL_LIST[] =
	"SELECT " MAILBOX_COLUMNS " FROM mailboxes WHERE user_id = ?1 ORDER BY name";
static const char SQL_EXISTS[] =
	"SELECT 1 FROM mailboxes WHERE user_id = ?1 AND name = ?2";
static const char SQL_USER_EXISTS[] = "SELECT 1 FROM users WHERE id = ?1";
static const char SQL_UIDVALIDITY[] =
	"SELECT value FROM meta WHERE key = 'uidvalidity_last'";
static const char SQL_SET_UIDVALIDITY[] =
	"INSERT INTO meta (key, value) VALUES ('uidvalidity_last', ?1)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value";
/* subscribed = 1: the trigger of 009 subscribes the new mailbox */
static const char SQL_ADD[] =
	"INSERT INTO mailboxes (user_id, name, uidvalidity, special_use, subscribed)"
	" VALUES (?1, ?2, ?3, ?4, ?5)";

static void
mailbox_read(sqlite3_stmt *s, void *elem)
{
	struct store_mailbox *mb = elem;
	mb->id = sqlite3_column_int64(s, 0);
	mb->user_id = sqlite3_column_int64(s, 1);
	mb->name = stmt_col_strdup(s, 2);
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(s, 3);
	mb->uidnext = (uint32_t)sqlite3_column_int64(s, 4);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(s, 5);
	mb->special_use = stmt_col_strdup(s, 6);
	mb->subscribed = sqlite3_column_int(s, 7) != 0;
	mb->messages = (uint32_t)sqlite3_column_int64(s, 8);
	mb->unseen = (uint32_t)sqlite3_column_int64(s, 9);
	mb->first_recent_uid = (uint32_t)sqlite3_column_int64(s, 10);
	mb->keywords = 0;
}

void
store_mailbox_clear(struct store_mailbox *mb)
{
	if (mb == NULL)
		return;
	free(mb->name);
	free(mb->special_use);
	memset(mb, 0, sizeof *mb);
}

static void
mailbox_clear(void *elem)
{
	store_mailbox_clear(elem);
}

static const struct stmt_rows mailbox_rows = {
	.size = sizeof(struct store_mailbox),
	.read = mailbox_read,
	.clear = mailbox_clear,
};

void
store_mailbox_list_free(struct store_mailbox **list, size_t n)
{
	stmt_rows_free(&mailbox_rows, *list, n);
	*list = NULL;
}

/* RFC 3501 §5.1: INBOX is case-insensitive; every other name is kept as
 * given.  Returns the name to store (static "INBOX" or name itself). */
static const char *
canonical_name(const char *name)
{
	return str_eq_nocase(name, "INBOX") ? "INBOX" : name;
}

static bool
mailbox_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > MAILBOX_NAME_MAX)
		return false;
	if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//") != NULL)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		/* No control characters; '*' and '%' are LIST wildcards
		 * (RFC 3501 §6.3.8) and could never be listed alone. */
		if (*p < 0x20 || *p == 0x7f || *p == '*' || *p == '%')
			return false;
	}
	return true;
}

static int
get_one(struct store *st, sqlite3_stmt *s, const char *what,
	struct store_mailbox *mb, const char **error_r)
{
	int ret = stmt_get(st, s, &mailbox_rows, "cannot read a mailbox", mb,
			   error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("mailbox '%s' does not exist", what);
	return ret;
}

int
store_mailbox_get(struct store *st, int64_t user_id, const char *name,
		  struct store_mailbox *mb_r, const char **error_r)
{
	const char *canon = canonical_name(name);
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, canon);
	return get_one(st, s, esc_str(canon), mb_r, error_r);
}

int
store_mailbox_get_by_id(struct store *st, int64_t mailbox_id,
			struct store_mailbox *mb_r, const char **error_r)
{
	char what[32];
	snprintf(what, sizeof what, "#%lld", (long long)mailbox_id);
	sqlite3_stmt *s = store_stmt(st, SQL_GET_BY_ID);
	stmt_int(s, 1, mailbox_id);
	return get_one(st, s, what, mb_r, error_r);
}

int
store_mailbox_list(struct store *st, int64_t user_id,
		   struct store_mailbox **list_r, size_t *n_r,
		   const char **error_r)
{
	void *list;
	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	stmt_int(s, 1, user_id);
	int ret = stmt_list(st, s, &mailbox_rows, "cannot list mailboxes", &list,
			    n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

/*
 * RFC 3501 §2.3.1.1: a mailbox deleted and created again under the same
 * name must get a greater UIDVALIDITY.  The store keeps the last one given
 * out and hands out max(now, last + 1): unique across all mailboxes and
 * recreations, and still increasing after a restore from a backup made
 * earlier the same day, as long as the clock moves on.
 */
static int
next_uidvalidity(struct store *st, uint32_t *v_r, const char **error_r)
{
	/* no row yet: none given out */
	int64_t last = 0;
	if (stmt_ints(st, store_stmt(st, SQL_UIDVALIDITY),
		      "cannot read the UIDVALIDITY counter", &last, 1,
		      error_r) == STORE_ERROR)
		return STORE_ERROR;
	int64_t v = store_now();
	if (v <= last)
		v = last + 1;
	/* UIDVALIDITY is a non-zero 32-bit number. */
	if (v > UINT32_MAX || v <= 0) {
		*error_r = "UIDVALIDITY counter exhausted";
		return STORE_ERROR;
	}
	sqlite3_stmt *s = store_stmt(st, SQL_SET_UIDVALIDITY);
	stmt_int(s, 1, v);
	if (stmt_exec(st, s, "cannot update the UIDVALIDITY counter", error_r) < 0)
		return STORE_ERROR;
	*v_r = (uint32_t)v;
	return STORE_OK;
}

int
store_mailbox_create_tx(struct store *st, int64_t user_id, const char *name,
			const char *special_use, bool subscribe, int64_t *id_r,
			const char **error_r)
{
	uint32_t uidvalidity;
	const char *canon = canonical_name(name);

	sqlite3_stmt *s = store_stmt(st, SQL_EXISTS);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, canon);
	int found = stmt_exists(st, s, "cannot look up a mailbox", error_r);
	if (found > 0) {
		*error_r = errfmt("mailbox '%s' exists already", esc_str(canon));
		return STORE_EXISTS;
	}
	if (found < 0)
		return STORE_ERROR;
	if (next_uidvalidity(st, &uidvalidity, error_r) < 0)
		return STORE_ERROR;
	s = store_stmt(st, SQL_ADD);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, canon);
	stmt_int(s, 3, uidvalidity);
	stmt_text(s, 4, special_use);
	stmt_int(s, 5, subscribe);
	if (stmt_exec(st, s, "cannot create the mailbox", error_r) < 0)
		return STORE_ERROR;
	*id_r = sqlite3_last_insert_rowid(st->db);
	return STORE_OK;
}

int
store_mailbox_create(struct store *st, int64_t user_id, const char *name,
		     const char *special_use, bool subscribe, const char **error_r)
{
	int64_t id;
	int ret;

	if (!mailbox_name_valid(name)) {
		*error_r = errfmt("invalid mailbox name '%s'", esc_str(name));
		return STORE_INVALID;
	}
	if (special_use != NULL &&
	    (special_use[0] != '\\' || !mailbox_name_valid(special_use))) {
		*error_r = errfmt("invalid special-use attribute '%s'",
				  esc_str(special_use));
		return STORE_INVALID;
	}
	if ((ret = store_begin(st, error_r)) < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_USER_EXISTS);
	stmt_int(s, 1, user_id);
	int found = stmt_exists(st, s, "cannot look up the user", error_r);
	if (found > 0) {
		ret = store_mailbox_create_tx(st, user_id, name, special_use,
					      subscribe, &id, error_r);
	} else if (found == 0) {
		*error_r = errfmt("user #%lld does not exist", (long long)user_id);
		ret = STORE_NOTFOUND;
	} else {
		ret = STORE_ERROR;
	}
	return store_end(st, ret, error_r);
}

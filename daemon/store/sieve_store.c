/*
 * sieve_store: the users' Sieve scripts and the Sieve memory
 * (sieve_store.h, sql/018_sieve.sql).
 */
#include <string.h>

#include "core/utf8.h"
#include "core/xmalloc.h"
#include "store/sieve_store.h"
#include "store/store_int.h"

static const char SQL_LIST[] =
	"SELECT name, active, updated FROM sieve_scripts WHERE user_id = ?1 ORDER BY name";
static const char SQL_COUNT[] =
	"SELECT count(*) FROM sieve_scripts WHERE user_id = ?1 AND name <> ?2";
static const char SQL_PUT[] =
	"INSERT INTO sieve_scripts (user_id, name, script, updated) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (user_id, name) DO UPDATE SET script = ?3, updated = ?4";
static const char SQL_GET[] =
	"SELECT script, active FROM sieve_scripts WHERE user_id = ?1 AND name = ?2";
static const char SQL_ACTIVE[] =
	"SELECT id, version, name, script FROM sieve_scripts WHERE user_id = ?1 AND active = 1";
/* from the covering index of sql/051 (named: the planner would take the
 * unique one of sql/018 as well): the row, whose text may span overflow
 * pages, is not read */
static const char SQL_ACTIVE_VERSION[] =
	"SELECT id, version FROM sieve_scripts INDEXED BY sieve_scripts_active_version"
	" WHERE user_id = ?1 AND active = 1";
static const char SQL_DEACTIVATE[] =
	"UPDATE sieve_scripts SET active = 0 WHERE user_id = ?1 AND active = 1";
static const char SQL_ACTIVATE[] =
	"UPDATE sieve_scripts SET active = 1 WHERE user_id = ?1 AND name = ?2";
static const char SQL_DELETE[] =
	"DELETE FROM sieve_scripts WHERE user_id = ?1 AND name = ?2";
static const char SQL_EXISTS[] =
	"SELECT 1 FROM sieve_scripts WHERE user_id = ?1 AND name = ?2";
static const char SQL_RENAME[] =
	"UPDATE sieve_scripts SET name = ?3 WHERE user_id = ?1 AND name = ?2";
static const char SQL_MEM_SEEN[] =
	"SELECT 1 FROM sieve_memory WHERE user_id = ?1 AND kind = ?2 AND id = ?3"
	" AND expires > ?4";
static const char SQL_MEM_PUT[] =
	"INSERT INTO sieve_memory (user_id, kind, id, expires) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (user_id, kind, id) DO UPDATE SET expires = ?4";
static const char SQL_MEM_GC[] =
	"DELETE FROM sieve_memory WHERE expires <= ?1";
static const char SQL_UP_GET[] = "SELECT sieve FROM upstreams WHERE id = ?1";
static const char SQL_UP_SET[] = "UPDATE upstreams SET sieve = ?2 WHERE id = ?1";

bool
store_sieve_name_valid(const char *name)
{
	size_t len = strlen(name), chars = 0;
	if (len == 0 || !utf8_valid(name, len))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p != 0; p++) {
		if (*p < 32 || *p == 127 || *p == '/')
			return false;
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	return chars <= SIEVE_NAME_MAX;
}

static void
script_read(sqlite3_stmt *s, void *elem)
{
	struct store_sieve_script *e = elem;
	e->name = stmt_col_strdup(s, 0);
	e->active = sqlite3_column_int(s, 1) != 0;
	e->updated = sqlite3_column_int64(s, 2);
}

static void
script_clear(void *elem)
{
	struct store_sieve_script *e = elem;
	free(e->name);
}

static const struct stmt_rows script_rows = {
	.size = sizeof(struct store_sieve_script),
	.read = script_read,
	.clear = script_clear,
};

int
store_sieve_list(struct store *st, int64_t user_id, struct store_sieve_script **list_r,
		 size_t *n_r, const char **error_r)
{
	void *list;
	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	stmt_int(s, 1, user_id);
	int ret = stmt_list(st, s, &script_rows, "cannot list the scripts", &list, n_r, error_r);
	*list_r = ret == STORE_OK ? list : NULL;
	return ret;
}

void
store_sieve_list_free(struct store_sieve_script **list, size_t n)
{
	stmt_rows_free(&script_rows, *list, n);
	*list = NULL;
}

int
store_sieve_put(struct store *st, int64_t user_id, const char *name, const char *text,
		size_t len, const char **error_r)
{
	if (!store_sieve_name_valid(name)) {
		*error_r = "invalid script name";
		return STORE_INVALID;
	}
	if (memchr(text, 0, len) != NULL) {
		*error_r = "the script holds a NUL byte";
		return STORE_INVALID;
	}
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	int64_t n = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_COUNT);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, name);
	ret = stmt_ints(st, s, "cannot count the scripts", &n, 1, error_r);
	if (ret == STORE_OK && n >= SIEVE_SCRIPTS_MAX) {
		*error_r = "too many scripts";
		ret = STORE_OVERQUOTA;
	}
	if (ret == STORE_OK) {
		char *copy = xstrndup(text, len);
		s = store_stmt(st, SQL_PUT);
		stmt_int(s, 1, user_id);
		stmt_text(s, 2, name);
		stmt_text(s, 3, copy);
		stmt_int(s, 4, store_now());
		ret = stmt_exec(st, s, "cannot store the script", error_r);
		free(copy);
	}
	return store_end(st, ret, error_r);
}

int
store_sieve_get(struct store *st, int64_t user_id, const char *name, char **text_r,
		bool *active_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, name);
	int ret = stmt_row(st, s, "cannot read the script", error_r);
	if (ret != STORE_OK) {
		if (ret == STORE_NOTFOUND)
			*error_r = "no such script";
		return ret;
	}
	*text_r = stmt_col_strdup(s, 0);
	if (active_r != NULL)
		*active_r = sqlite3_column_int(s, 1) != 0;
	stmt_done(s);
	return STORE_OK;
}

/* The row of user_id's active script by statement sql (its columns: id,
 * version, then any), stepped: STORE_OK (then stmt_done(*s_r)), or
 * STORE_NOTFOUND or an error, with *error_r. */
static int
active_row(struct store *st, const char *sql, int64_t user_id, sqlite3_stmt **s_r,
	   const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	stmt_int(s, 1, user_id);
	int ret = stmt_row(st, s, "cannot read the active script", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "no active script";
	*s_r = s;
	return ret;
}

int
store_sieve_active_version(struct store *st, int64_t user_id, int64_t *id_r,
			   int64_t *version_r, const char **error_r)
{
	sqlite3_stmt *s;
	int ret = active_row(st, SQL_ACTIVE_VERSION, user_id, &s, error_r);
	if (ret != STORE_OK)
		return ret;
	*id_r = sqlite3_column_int64(s, 0);
	*version_r = sqlite3_column_int64(s, 1);
	stmt_done(s);
	return STORE_OK;
}

int
store_sieve_active(struct store *st, int64_t user_id, int64_t *id_r, int64_t *version_r,
		   char **name_r, char **text_r, const char **error_r)
{
	sqlite3_stmt *s;
	int ret = active_row(st, SQL_ACTIVE, user_id, &s, error_r);
	if (ret != STORE_OK)
		return ret;
	if (id_r != NULL)
		*id_r = sqlite3_column_int64(s, 0);
	if (version_r != NULL)
		*version_r = sqlite3_column_int64(s, 1);
	if (name_r != NULL)
		*name_r = stmt_col_strdup(s, 2);
	*text_r = stmt_col_strdup(s, 3);
	stmt_done(s);
	return STORE_OK;
}

int
store_sieve_activate(struct store *st, int64_t user_id, const char *name,
		     const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_DEACTIVATE);
	stmt_int(s, 1, user_id);
	ret = stmt_exec(st, s, "cannot deactivate the scripts", error_r);
	if (ret == STORE_OK && name != NULL) {
		s = store_stmt(st, SQL_ACTIVATE);
		stmt_int(s, 1, user_id);
		stmt_text(s, 2, name);
		ret = stmt_exec_one(st, s, "cannot activate the script", error_r);
		if (ret == STORE_NOTFOUND)
			*error_r = "no such script";
	}
	return store_end(st, ret, error_r);
}

int
store_sieve_delete(struct store *st, int64_t user_id, const char *name,
		   const char **error_r)
{
	char *text = NULL;
	bool active = false;
	int ret = store_sieve_get(st, user_id, name, &text, &active, error_r);
	free(text);
	if (ret != STORE_OK)
		return ret;
	if (active) {
		*error_r = "the script is active";
		return STORE_BUSY;
	}
	sqlite3_stmt *s = store_stmt(st, SQL_DELETE);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, name);
	ret = stmt_exec_one(st, s, "cannot delete the script", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "no such script";
	return ret;
}

int
store_sieve_rename(struct store *st, int64_t user_id, const char *old_name,
		   const char *new_name, const char **error_r)
{
	if (!store_sieve_name_valid(new_name)) {
		*error_r = "invalid script name";
		return STORE_INVALID;
	}
	int ret = store_begin(st, error_r);
	if (ret < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_EXISTS);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, new_name);
	int have = stmt_exists(st, s, "cannot look up the script", error_r);
	if (have < 0)
		ret = STORE_ERROR;
	else if (have > 0) {
		*error_r = "a script of that name exists";
		ret = STORE_EXISTS;
	}
	if (ret == STORE_OK) {
		s = store_stmt(st, SQL_RENAME);
		stmt_int(s, 1, user_id);
		stmt_text(s, 2, old_name);
		stmt_text(s, 3, new_name);
		ret = stmt_exec_one(st, s, "cannot rename the script", error_r);
		if (ret == STORE_NOTFOUND)
			*error_r = "no such script";
	}
	return store_end(st, ret, error_r);
}

bool
store_sieve_memory_seen(struct store *st, int64_t user_id, int kind, const char *id)
{
	const char *error;
	sqlite3_stmt *s = store_stmt(st, SQL_MEM_SEEN);
	stmt_int(s, 1, user_id);
	stmt_int(s, 2, kind);
	stmt_text(s, 3, id);
	stmt_int(s, 4, store_now());
	return stmt_exists(st, s, "cannot read the sieve memory", &error) > 0;
}

int
store_sieve_memory_put(struct store *st, int64_t user_id, int kind, const char *id,
		       unsigned seconds, const char **error_r)
{
	int64_t now = store_now();
	int ret = store_begin_light(st, error_r);
	if (ret < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_MEM_GC);
	stmt_int(s, 1, now);
	ret = stmt_exec(st, s, "cannot forget expired sieve memory", error_r);
	if (ret == STORE_OK) {
		s = store_stmt(st, SQL_MEM_PUT);
		stmt_int(s, 1, user_id);
		stmt_int(s, 2, kind);
		stmt_text(s, 3, id);
		stmt_int(s, 4, now + (int64_t)seconds);
		ret = stmt_exec(st, s, "cannot write the sieve memory", error_r);
	}
	return store_end(st, ret, error_r);
}

int
store_upstream_sieve_get(struct store *st, int64_t upstream_id, bool *on_r,
			 const char **error_r)
{
	int64_t v = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_UP_GET);
	stmt_int(s, 1, upstream_id);
	int ret = stmt_ints(st, s, "cannot read the upstream account", &v, 1, error_r);
	*on_r = v != 0;
	return ret;
}

int
store_upstream_sieve_set(struct store *st, int64_t upstream_id, bool on,
			 const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_UP_SET);
	stmt_int(s, 1, upstream_id);
	stmt_int(s, 2, on ? 1 : 0);
	int ret = stmt_exec_one(st, s, "cannot change the upstream account", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "no such upstream account";
	return ret;
}

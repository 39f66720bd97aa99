/*
 * upstream_state: the outcome of a fetch run as the API shows it (see
 * upstreams.h): the account's last success or error, and per fetched
 * folder its last complete sync, its message count then and its last
 * error (sql/032), all written in one transaction.
 */
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"
#include "store/upstreams.h"

static const char SQL_RESULT_OK[] =
	"UPDATE upstreams SET last_ok = ?2, last_attempt = ?2, last_error = NULL,"
	" failures = 0 WHERE id = ?1";
static const char SQL_RESULT_ERR[] =
	"UPDATE upstreams SET last_attempt = ?2, last_error = ?3,"
	" failures = failures + 1 WHERE id = ?1";
static const char SQL_FOLDER_OK[] =
	"INSERT INTO upstream_folder_state (upstream_id, folder, last_sync, messages,"
	" last_attempt, last_error) VALUES (?1, ?2, ?3, ?4, ?3, NULL)"
	" ON CONFLICT (upstream_id, folder) DO UPDATE SET last_sync = ?3, messages = ?4,"
	" last_attempt = ?3, last_error = NULL";
static const char SQL_FOLDER_ERR[] =
	"INSERT INTO upstream_folder_state (upstream_id, folder, last_attempt, last_error)"
	" VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (upstream_id, folder) DO UPDATE SET last_attempt = ?3, last_error = ?4";
static const char SQL_FOLDER_LIST[] =
	"SELECT folder, last_sync, messages, last_attempt, last_error"
	" FROM upstream_folder_state WHERE upstream_id = ?1 ORDER BY folder";

/* An error as kept: at most UPSTREAM_ERROR_MAX bytes. */
static void
bind_error(sqlite3_stmt *s, int i, const char *error)
{
	char *cut = xstrndup(error, strnlen(error, UPSTREAM_ERROR_MAX));
	stmt_text(s, i, cut);
	free(cut);
}

int
store_upstream_set_result(struct store *st, int64_t id, const char *error,
			  const char **error_r)
{
	return store_upstream_record_run(st, id, error, NULL, 0, error_r);
}

int
store_upstream_record_run(struct store *st, int64_t id, const char *error,
			  const struct upstream_folder_result *folders, size_t n,
			  const char **error_r)
{
	/* no message rides on it: a light commit (store_int.h) */
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	int64_t now = store_now();
	sqlite3_stmt *s = store_stmt(st, error == NULL ? SQL_RESULT_OK : SQL_RESULT_ERR);
	stmt_int(s, 1, id);
	stmt_int(s, 2, now);
	if (error != NULL)
		bind_error(s, 3, error);
	int ret = stmt_exec_one(st, s, "cannot record the fetch result", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("upstream account %lld does not exist", (long long)id);
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		const struct upstream_folder_result *f = &folders[i];
		s = store_stmt(st, f->error == NULL ? SQL_FOLDER_OK : SQL_FOLDER_ERR);
		stmt_int(s, 1, id);
		stmt_text(s, 2, f->folder);
		stmt_int(s, 3, now);
		if (f->error == NULL)
			stmt_int(s, 4, f->messages);
		else
			bind_error(s, 4, f->error);
		ret = stmt_exec(st, s, "cannot record the folder's state", error_r);
	}
	return store_end(st, ret, error_r);
}

static void
state_read(sqlite3_stmt *s, void *elem)
{
	struct store_upstream_folder_state *f = elem;
	f->folder = stmt_col_strdup(s, 0);
	f->last_sync = sqlite3_column_int64(s, 1);
	f->messages = (uint32_t)sqlite3_column_int64(s, 2);
	f->last_attempt = sqlite3_column_int64(s, 3);
	f->last_error = stmt_col_strdup(s, 4);
}

static void
state_clear(void *elem)
{
	struct store_upstream_folder_state *f = elem;
	free(f->folder);
	free(f->last_error);
}

static const struct stmt_rows state_rows = {
	sizeof(struct store_upstream_folder_state), state_read, state_clear
};

int
store_upstream_folder_states(struct store *st, int64_t id,
			     struct store_upstream_folder_state **list_r, size_t *n_r,
			     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FOLDER_LIST);
	stmt_int(s, 1, id);
	void *list = NULL;
	int ret = stmt_list(st, s, &state_rows, "cannot read the folders' state", &list, n_r,
			    error_r);
	*list_r = list;
	return ret;
}

void
store_upstream_folder_states_free(struct store_upstream_folder_state **list, size_t n)
{
	stmt_rows_free(&state_rows, *list, n);
	*list = NULL;
}

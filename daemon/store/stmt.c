/*
 * stmt: running a cached statement and turning what SQLite answered (a row,
 * no row, rows changed or not, an error) into a STORE_* code, so that the
 * files of the store say only what is theirs: the SQL, the binds and the
 * words of their "does not exist".
 */
#include "store/store_int.h"

#include <string.h>

#include "core/xmalloc.h"

/* What a caller words better ("user 'x' does not exist"): every caller of
 * a function that can say STORE_NOTFOUND replaces it. */
static const char NOT_FOUND[] = "not found";

int
stmt_row(struct store *st, sqlite3_stmt *s, const char *what,
	 const char **error_r)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc == SQLITE_DONE) {
		*error_r = NOT_FOUND;
		stmt_done(s);
		return STORE_NOTFOUND;
	}
	*error_r = store_db_error(st, what);
	stmt_done(s);
	return STORE_ERROR;
}

int
stmt_exists(struct store *st, sqlite3_stmt *s, const char *what,
	    const char **error_r)
{
	int ret = stmt_row(st, s, what, error_r);
	if (ret == STORE_OK) {
		stmt_done(s);
		return 1;
	}
	return ret == STORE_NOTFOUND ? 0 : -1;
}

int
stmt_ints(struct store *st, sqlite3_stmt *s, const char *what, int64_t *v_r,
	  size_t n, const char **error_r)
{
	int ret = stmt_row(st, s, what, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n; i++)
		v_r[i] = sqlite3_column_int64(s, (int)i);
	stmt_done(s);
	return STORE_OK;
}

int
stmt_get(struct store *st, sqlite3_stmt *s, const struct stmt_rows *rows,
	 const char *what, void *elem, const char **error_r)
{
	memset(elem, 0, rows->size);
	int ret = stmt_row(st, s, what, error_r);
	if (ret != STORE_OK)
		return ret;
	rows->read(s, elem);
	stmt_done(s);
	return STORE_OK;
}

int
stmt_list(struct store *st, sqlite3_stmt *s, const struct stmt_rows *rows,
	  const char *what, void **list_r, size_t *n_r, const char **error_r)
{
	unsigned char *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xreallocarray(list, cap, rows->size);
		}
		void *elem = list + n++ * rows->size;
		memset(elem, 0, rows->size);
		rows->read(s, elem);
	}
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, what);
		stmt_done(s);
		stmt_rows_free(rows, list, n);
		return STORE_ERROR;
	}
	stmt_done(s);
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

void
stmt_rows_free(const struct stmt_rows *rows, void *list, size_t n)
{
	unsigned char *p = list;
	if (p == NULL)
		return;
	for (size_t i = 0; rows->clear != NULL && i < n; i++)
		rows->clear(p + i * rows->size);
	free(p);
}

static void
string_read(sqlite3_stmt *s, void *elem)
{
	char **p = elem;
	*p = stmt_col_strdup(s, 0);
	/* a NULL column (none of the callers' columns may be NULL) as "" so
	 * that the list holds strings only */
	if (*p == NULL)
		*p = xstrdup("");
}

static void
string_clear(void *elem)
{
	char **p = elem;
	xfree(*p);
}

static const struct stmt_rows string_rows = {
	.size = sizeof(char *),
	.read = string_read,
	.clear = string_clear,
};

int
stmt_strings(struct store *st, sqlite3_stmt *s, const char *what,
	     char ***list_r, size_t *n_r, const char **error_r)
{
	void *list;
	int ret = stmt_list(st, s, &string_rows, what, &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

static void
uid_read(sqlite3_stmt *s, void *elem)
{
	*(uint32_t *)elem = (uint32_t)sqlite3_column_int64(s, 0);
}

static const struct stmt_rows uid_rows = {
	.size = sizeof(uint32_t),
	.read = uid_read,
};

int
stmt_uids(struct store *st, sqlite3_stmt *s, const char *what,
	  uint32_t **list_r, size_t *n_r, const char **error_r)
{
	void *list;
	int ret = stmt_list(st, s, &uid_rows, what, &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

void
store_strv_free(char ***v, size_t n)
{
	stmt_rows_free(&string_rows, *v, n);
	*v = NULL;
}

int
stmt_exec_n(struct store *st, sqlite3_stmt *s, const char *what,
	    unsigned *n_r, const char **error_r)
{
	int ret = stmt_exec(st, s, what, error_r);
	if (ret == STORE_OK && n_r != NULL)
		*n_r = (unsigned)sqlite3_changes(st->db);
	return ret;
}

int
stmt_exec_one(struct store *st, sqlite3_stmt *s, const char *what,
	      const char **error_r)
{
	unsigned n;
	int ret = stmt_exec_n(st, s, what, &n, error_r);
	if (ret == STORE_OK && n == 0) {
		*error_r = NOT_FOUND;
		return STORE_NOTFOUND;
	}
	return ret;
}

int
store_end(struct store *st, int ret, const char **error_r)
{
	if (ret != STORE_OK) {
		store_rollback(st);
		return ret;
	}
	return store_commit(st, error_r);
}

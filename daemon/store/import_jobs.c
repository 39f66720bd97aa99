/*
 * import_jobs: the panel's background imports, as stored (import_jobs.h).
 */
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/import_jobs.h"
#include "store/store_int.h"

static const char *const state_names[] = {
	[IMPORT_JOB_RUNNING] = "running",
	[IMPORT_JOB_DONE] = "done",
	[IMPORT_JOB_FAILED] = "failed",
	[IMPORT_JOB_CANCELLED] = "cancelled",
};

const char *
import_job_state_name(enum import_job_state s)
{
	return (size_t)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "failed";
}

/* The user's last job is replaced unless it still runs: then no row
 * changes and the caller says so. */
static const char SQL_START[] =
	"INSERT INTO import_jobs (user_id, host, port, tls, tls_verify, username,"
	" password_sealed, folders, allow_private, started_by, state, started)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'running', ?11)"
	" ON CONFLICT (user_id) DO UPDATE SET host = excluded.host, port = excluded.port,"
	" tls = excluded.tls, tls_verify = excluded.tls_verify, username = excluded.username,"
	" password_sealed = excluded.password_sealed, folders = excluded.folders,"
	" allow_private = excluded.allow_private, started_by = excluded.started_by,"
	" state = 'running', started = excluded.started, finished = NULL,"
	" folders_done = 0, folders_total = 0, messages_done = 0, messages_total = 0,"
	" imported = 0, skipped = 0, failed = 0, resumed = 0, errors = NULL"
	" WHERE import_jobs.state <> 'running'";
#define JOB_COLUMNS \
	"j.user_id, u.address, j.host, j.port, j.tls, j.tls_verify, j.username," \
	" j.password_sealed, j.folders, j.allow_private, j.started_by, j.state, j.started," \
	" j.finished, j.folders_done, j.folders_total, j.messages_done, j.messages_total," \
	" j.imported, j.skipped, j.failed, j.resumed, j.errors"
static const char SQL_GET[] =
	"SELECT " JOB_COLUMNS " FROM import_jobs j JOIN users u ON u.id = j.user_id"
	" WHERE j.user_id = ?1";
static const char SQL_RUNNING[] =
	"SELECT " JOB_COLUMNS " FROM import_jobs j JOIN users u ON u.id = j.user_id"
	" WHERE j.state = 'running' ORDER BY j.started";
static const char SQL_PROGRESS[] =
	"UPDATE import_jobs SET folders_done = ?2, folders_total = ?3, messages_done = ?4,"
	" messages_total = ?5, imported = ?6, skipped = ?7, failed = ?8, errors = ?9"
	" WHERE user_id = ?1 AND state = 'running'";
static const char SQL_RESUMED[] =
	"UPDATE import_jobs SET resumed = resumed + 1 WHERE user_id = ?1 AND state = 'running'";
static const char SQL_FINISH[] =
	"UPDATE import_jobs SET folders_done = ?2, folders_total = ?3, messages_done = ?4,"
	" messages_total = ?5, imported = ?6, skipped = ?7, failed = ?8, errors = ?9,"
	" state = ?10, finished = ?11, password_sealed = NULL"
	" WHERE user_id = ?1 AND state = 'running'";

void
store_import_job_clear(struct store_import_job *j)
{
	free(j->address);
	free(j->host);
	free(j->tls);
	free(j->tls_verify);
	free(j->username);
	if (j->password_sealed != NULL)
		explicit_bzero(j->password_sealed, strlen(j->password_sealed));
	free(j->password_sealed);
	free(j->folders);
	free(j->started_by);
	free(j->errors);
	memset(j, 0, sizeof *j);
}

int
store_import_job_start(struct store *st, const struct store_import_job *j,
		       const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_START);
	stmt_int(s, 1, j->user_id);
	stmt_text(s, 2, j->host);
	stmt_int(s, 3, j->port);
	stmt_text(s, 4, j->tls);
	stmt_text(s, 5, j->tls_verify);
	stmt_text(s, 6, j->username);
	stmt_text(s, 7, j->password_sealed);
	stmt_text(s, 8, j->folders);
	stmt_int(s, 9, j->allow_private);
	stmt_text(s, 10, j->started_by);
	stmt_int(s, 11, store_now());
	unsigned n;
	int ret = stmt_exec_n(st, s, "cannot record the import", &n, error_r);
	if (ret == STORE_OK && n == 0) {
		*error_r = "an import for this user is running already";
		return STORE_EXISTS;
	}
	return ret;
}

static void
job_read(sqlite3_stmt *s, void *elem)
{
	struct store_import_job *j = elem;
	j->user_id = sqlite3_column_int64(s, 0);
	j->address = stmt_col_strdup(s, 1);
	j->host = stmt_col_strdup(s, 2);
	j->port = (unsigned)sqlite3_column_int(s, 3);
	j->tls = stmt_col_strdup(s, 4);
	j->tls_verify = stmt_col_strdup(s, 5);
	j->username = stmt_col_strdup(s, 6);
	j->password_sealed = stmt_col_strdup(s, 7);
	j->folders = stmt_col_strdup(s, 8);
	j->allow_private = sqlite3_column_int(s, 9) != 0;
	j->started_by = stmt_col_strdup(s, 10);
	const char *state = (const char *)sqlite3_column_text(s, 11);
	j->state = IMPORT_JOB_FAILED;
	for (size_t i = 0; state != NULL && i < sizeof state_names / sizeof state_names[0]; i++)
		if (strcmp(state, state_names[i]) == 0)
			j->state = (enum import_job_state)i;
	j->started = sqlite3_column_int64(s, 12);
	j->finished = sqlite3_column_int64(s, 13);
	j->p.folders_done = (uint64_t)sqlite3_column_int64(s, 14);
	j->p.folders_total = (uint64_t)sqlite3_column_int64(s, 15);
	j->p.messages_done = (uint64_t)sqlite3_column_int64(s, 16);
	j->p.messages_total = (uint64_t)sqlite3_column_int64(s, 17);
	j->p.imported = (uint64_t)sqlite3_column_int64(s, 18);
	j->p.skipped = (uint64_t)sqlite3_column_int64(s, 19);
	j->p.failed = (uint64_t)sqlite3_column_int64(s, 20);
	j->resumed = (unsigned)sqlite3_column_int(s, 21);
	j->errors = stmt_col_strdup(s, 22);
}

static void
job_clear(void *elem)
{
	store_import_job_clear(elem);
}

static const struct stmt_rows job_rows = {
	.size = sizeof(struct store_import_job),
	.read = job_read,
	.clear = job_clear,
};

int
store_import_job_get(struct store *st, int64_t user_id, struct store_import_job *j,
		     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_int(s, 1, user_id);
	int ret = stmt_get(st, s, &job_rows, "cannot read the import", j, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "no import was started for this user";
	return ret;
}

int
store_import_job_list_running(struct store *st, struct store_import_job **list_r,
			      size_t *n_r, const char **error_r)
{
	void *list;
	int ret = stmt_list(st, store_stmt(st, SQL_RUNNING), &job_rows,
			    "cannot list the imports", &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

void
store_import_job_list_free(struct store_import_job **list, size_t n)
{
	stmt_rows_free(&job_rows, *list, n);
	*list = NULL;
}

static void
bind_progress(sqlite3_stmt *s, int64_t user_id, const struct import_job_progress *p,
	      const char *errors)
{
	stmt_int(s, 1, user_id);
	stmt_int(s, 2, (int64_t)p->folders_done);
	stmt_int(s, 3, (int64_t)p->folders_total);
	stmt_int(s, 4, (int64_t)p->messages_done);
	stmt_int(s, 5, (int64_t)p->messages_total);
	stmt_int(s, 6, (int64_t)p->imported);
	stmt_int(s, 7, (int64_t)p->skipped);
	stmt_int(s, 8, (int64_t)p->failed);
	stmt_text(s, 9, errors);
}

int
store_import_job_progress(struct store *st, int64_t user_id,
			  const struct import_job_progress *p, const char *errors,
			  const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PROGRESS);
	bind_progress(s, user_id, p, errors);
	return stmt_exec(st, s, "cannot record the import's progress", error_r);
}

int
store_import_job_resumed(struct store *st, int64_t user_id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_RESUMED);
	stmt_int(s, 1, user_id);
	return stmt_exec(st, s, "cannot record the import's progress", error_r);
}

int
store_import_job_finish(struct store *st, int64_t user_id, enum import_job_state state,
			const struct import_job_progress *p, const char *errors,
			const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FINISH);
	bind_progress(s, user_id, p, errors);
	stmt_text(s, 10, import_job_state_name(state));
	stmt_int(s, 11, store_now());
	return stmt_exec(st, s, "cannot record the end of the import", error_r);
}

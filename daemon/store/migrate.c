/*
 * migrate: applies sql/NNN_name.sql (compiled into migrations.c) in order.
 */
#include "store/migrate.h"

#include <string.h>

#include "core/log.h"
#include "store/store_int.h"

static const char SQL_CREATE[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" applied INTEGER NOT NULL)";
static const char SQL_MAX[] =
	"SELECT coalesce(max(version), 0) FROM schema_migrations";
static const char SQL_COUNT[] = "SELECT count(*) FROM schema_migrations";
static const char SQL_HAS[] =
	"SELECT 1 FROM schema_migrations WHERE version = ?1";
static const char SQL_RECORD[] =
	"INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)";

int
store_migrations_latest(void)
{
	int latest = 0;
	for (size_t i = 0; i < store_n_migrations; i++)
		if (store_migrations[i].version > latest)
			latest = store_migrations[i].version;
	return latest;
}

static int
max_version(struct store *st, int *version_r, const char **error_r)
{
	int64_t v = 0;
	int ret = stmt_ints(st, store_stmt(st, SQL_MAX),
			    "cannot read schema_migrations", &v, 1, error_r);
	*version_r = (int)v;
	return ret;
}

int
store_schema_version(struct store *st, int *version_r, const char **error_r)
{
	return max_version(st, version_r, error_r);
}

/* Inside the transaction: is the version applied already? 1, 0, -1. */
static int
has_version(struct store *st, int version, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_HAS);
	stmt_int(s, 1, version);
	return stmt_exists(st, s, "cannot read schema_migrations", error_r);
}

static int
apply(struct store *st, const struct store_migration *m, const char **error_r)
{
	if (store_begin(st, error_r) < 0)
		return STORE_ERROR;
	int has = has_version(st, m->version, error_r);
	if (has != 0) {
		/* Another process applied it while we waited for the lock. */
		store_rollback(st);
		return has < 0 ? STORE_ERROR : STORE_OK;
	}
	/* The migration's text is part of the binary, never user data, and
	 * holds several statements: sqlite3_exec() is the tool for it. */
	char *msg = NULL;
	if (sqlite3_exec(st->db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = errfmt("migration %03d_%s failed: %s", m->version,
				  m->name, msg != NULL ? msg : "?");
		sqlite3_free(msg);
		store_rollback(st);
		return STORE_ERROR;
	}
	sqlite3_stmt *s = store_stmt(st, SQL_RECORD);
	stmt_int(s, 1, m->version);
	stmt_text(s, 2, m->name);
	stmt_int(s, 3, store_now());
	if (store_end(st, stmt_exec(st, s, "cannot record the migration", error_r),
		      error_r) < 0)
		return STORE_ERROR;
	log_info("store migration=%03d_%s applied", m->version, m->name);
	return STORE_OK;
}

int
store_migrate(struct store *st, const char **error_r)
{
	char *msg = NULL;
	int current;

	if (sqlite3_exec(st->db, SQL_CREATE, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = errfmt("cannot create schema_migrations: %s",
				  msg != NULL ? msg : "?");
		sqlite3_free(msg);
		return STORE_ERROR;
	}
	if (max_version(st, &current, error_r) < 0)
		return STORE_ERROR;
	int latest = store_migrations_latest();
	if (current > latest) {
		*error_r = errfmt("the database has schema version %d, newer than "
				  "this mailhub knows (%d): use a newer mailhub",
				  current, latest);
		return STORE_ERROR;
	}
	/* Every migration this binary has and the database lacks is applied,
	 * lower versions too: a database made by a build that had 008 but
	 * not 006 still gets 006.  The usual case, all applied, costs one
	 * more query. */
	int64_t applied = 0;
	if (current == latest &&
	    stmt_ints(st, store_stmt(st, SQL_COUNT), "cannot read schema_migrations",
		      &applied, 1, error_r) < 0)
		return STORE_ERROR;
	if (current == latest && applied == (int64_t)store_n_migrations)
		return STORE_OK;
	for (size_t i = 0; i < store_n_migrations; i++) {
		if (i > 0 && store_migrations[i].version <=
			     store_migrations[i - 1].version)
			panic("store: migrations out of order at %d",
			      store_migrations[i].version);
		/* apply() skips one that is recorded already */
		if (apply(st, &store_migrations[i], error_r) < 0)
			return STORE_ERROR;
	}
	return STORE_OK;
}

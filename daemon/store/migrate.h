/*
 * migrate: the schema migrations compiled into the binary.
 *
 * migrations.c is generated at build time by sql2c.sh from sql/NNN_name.sql
 * (SQL_MIGRATIONS in daemon/store/local.mk), sorted by version.
 */
#ifndef MAILHUB_STORE_MIGRATE_H
#define MAILHUB_STORE_MIGRATE_H

#include <stddef.h>

struct store;

struct store_migration {
	int version;		/* NNN of the file name */
	const char *name;	/* "initial" */
	const char *sql;	/* the file's text */
};

extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;

/*
 * Applies the migrations the database lacks, in order, each in its own
 * BEGIN IMMEDIATE transaction that first checks again that the version is
 * still missing (two processes opening a fresh database at once apply each
 * migration once).  A database with a version this binary does not know is
 * refused: it was written by a newer mailhub.
 */
int store_migrate(struct store *st, const char **error_r);

/* The highest version compiled in. */
int store_migrations_latest(void);

#endif

/*
 * store_int: what the files of daemon/store/ share and nothing else sees.
 *
 * A handle caches its prepared statements by the address of their SQL text
 * (each file keeps its SQL in `static const char` arrays, so the address is
 * stable): store_stmt() prepares a statement the first time and afterwards
 * only looks it up, so the hot paths (delivery, append, FETCH) never parse
 * SQL again.  Statements are reset after use (stmt_done()) so that no read
 * transaction stays open behind the caller's back.
 *
 * Write transactions are BEGIN IMMEDIATE: the write lock is taken up front,
 * so two writers queue on busy_timeout instead of failing with
 * SQLITE_BUSY_SNAPSHOT half-way.  Mailboxes changed in a transaction are
 * noted (store_tx_touch()) and their watchers woken after COMMIT, never
 * after a ROLLBACK.
 */
#ifndef MAILHUB_STORE_STORE_INT_H
#define MAILHUB_STORE_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	char *data_dir;
	char *blob_dir;		/* data_dir/blobs */
	struct stmt_slot *stmts;	/* open addressing by sql pointer */
	size_t stmts_cap, stmts_n;
	bool in_tx;
	int64_t *touched;	/* mailboxes changed in this transaction */
	size_t n_touched, cap_touched;
};

/* Seconds since the epoch (the store's clock for created/last_used). */
int64_t store_now(void);

/* The cached prepared statement for sql, reset and with no bindings.
 * A statement that does not prepare is a bug in the SQL: panic(). */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);
/* Resets s after use (keeps it cached). */
void stmt_done(sqlite3_stmt *s);

/* Binding helpers (text is copied by SQLite: SQLITE_TRANSIENT). */
void stmt_text(sqlite3_stmt *s, int i, const char *text);
void stmt_int(sqlite3_stmt *s, int i, int64_t v);
/* A malloc'd copy of a text column, NULL for SQL NULL. */
char *stmt_col_strdup(sqlite3_stmt *s, int i);

/* An *error_r for a failed SQLite call: "what: sqlite's message". */
const char *store_db_error(struct store *st, const char *what);

/* Runs a statement that returns no rows (reset afterwards); STORE_OK or
 * STORE_ERROR with *error_r. */
int stmt_exec(struct store *st, sqlite3_stmt *s, const char *what,
	      const char **error_r);

/* BEGIN IMMEDIATE (retrying SQLITE_BUSY), COMMIT (then notifying the
 * touched mailboxes), ROLLBACK.  No nesting: internal functions that run
 * inside a caller's transaction say so and never begin one. */
int store_begin(struct store *st, const char **error_r);
int store_commit(struct store *st, const char **error_r);
void store_rollback(struct store *st);
/* Notes that mailbox_id changed in the current transaction. */
void store_tx_touch(struct store *st, int64_t mailbox_id);

/* Copies a validated address or domain, lowercased (malloc'd). */
char *store_lower_dup(const char *s);

/* Looks up a domain id by name (lowercase): STORE_OK, STORE_NOTFOUND, or
 * STORE_ERROR. */
int store_domain_id(struct store *st, const char *name, int64_t *id_r,
		    const char **error_r);

/* Inside a transaction: a new mailbox with a fresh UIDVALIDITY. */
int store_mailbox_create_tx(struct store *st, int64_t user_id,
			    const char *name, const char *special_use,
			    int64_t *id_r, const char **error_r);
/* Inside a transaction: the next UID and MODSEQ of the mailbox, and the
 * row; quota checked unless ignore_quota. */
int store_append_tx(struct store *st, int64_t mailbox_id, const char *blob,
		    uint64_t size, int64_t internal_date, unsigned flags,
		    const char *keywords, bool ignore_quota, uint32_t *uid_r,
		    const char **error_r);

/*
 * Resolves address inside the caller's transaction (or outside one; each
 * statement then reads on its own).  Used by store_resolve(), delivery and
 * the loop check of store_alias_add().  include_disabled keeps disabled
 * users in the result (the loop check only cares about the graph).
 */
int store_resolve_internal(struct store *st, const char *address,
			   bool include_disabled,
			   struct store_resolution *res_r, const char **error_r);

/* Whether a blob is referenced by a message row or a queued message:
 * 1, 0, or -1. */
int store_blob_referenced(struct store *st, const char *hash);

#endif

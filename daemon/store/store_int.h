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

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

/*
 * The modes of what the store makes in data_dir, set on purpose whatever
 * the umask: the daemon's user reads and writes, its group (backups) may
 * read, nobody else has anything.  fsck reports a file or folder with more.
 */
#define STORE_DIR_MODE 0750	/* data_dir, blobs/, blobs/tmp, blobs/XX */
#define STORE_DB_MODE 0640	/* mailhub.db and its -wal, -shm, -journal */
#define STORE_BLOB_MODE 0440	/* blobs are never written again */

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *stmt;
};

/* messages.c: the IMAP ENVELOPE and BODYSTRUCTURE of one blob
 * (mime_imap_cache()), which its message rows cache for FETCH; NULLs when
 * they could not be computed (FETCH computes them then). */
struct store_imap_cache {
	char blob[SHA256_HEX_LEN + 1];	/* "" when empty */
	char *envelope;
	char *bodystructure;
};

struct store {
	sqlite3 *db;
	char *data_dir;
	char *blob_dir;		/* data_dir/blobs */
	struct stmt_slot *stmts;	/* open addressing by sql pointer */
	size_t stmts_cap, stmts_n;
	bool in_tx;
	bool index_wake;	/* this transaction added messages: the
				 * indexer is woken once it commits */
	bool group;		/* store_group_begin(): the transactions begun
				 * are savepoints of one (light) transaction */
	bool in_sub;		/* ... and one of them is open */
	bool sync_normal;	/* synchronous=NORMAL is set (store_begin_light) */
	bool tx_lazy;		/* the transaction is store_begin_lazy()'s */
	int64_t busy_since_ms;	/* db.c: when the current wait for a lock began */
	uint64_t tx_seen;	/* db.c: transactions ended when it last looked */
	int64_t *touched;	/* mailboxes changed in this transaction */
	size_t n_touched, cap_touched;
	/* the HIGHESTMODSEQs this transaction gave (store_tx_modseq()): the
	 * mailbox of the last, its value, how many; and what the last commit
	 * did (store_own_change(); own_mailbox 0: nothing it can tell) */
	int64_t bump_mailbox;
	uint64_t bump_modseq;
	unsigned bumps;
	int64_t own_mailbox;
	uint64_t own_gen_before, own_modseq;
	bool read_span;		/* store_read_begin() began a transaction */
	/* messages.c: the IMAP cache of the blob last prepared (owned;
	 * store_imap_cache_prepare()), and the one that store_append_tx()
	 * writes into the row of its blob (set by the caller around its
	 * transaction, NULL otherwise; not owned) */
	struct store_imap_cache imap_cache;
	const struct store_imap_cache *append_cache;
	/* resolve.c: RFC 5233 subaddress separators ("" none; owned) */
	char *delimiters;
	/* walsync.c: the WAL file this handle syncs after a light commit
	 * (-1 until the first one; owned) */
	int wal_fd;
	dev_t wal_dev;
	ino_t wal_ino;
	char *wal_path;
	/* walsync.c: the ticket of this handle's last lazy commit not known
	 * to be synced (0: none), and its group (not owned) */
	uint64_t lazy_ticket;
	struct wal_group *lazy_group;
	/* db.c: a lock of the caller's that the end of the transaction
	 * releases (store_commit_unlocks(); not owned) */
	pthread_mutex_t *commit_unlock;
	/* the same lock, to be taken before the next BEGIN
	 * (store_commit_takes()) */
	pthread_mutex_t *commit_take;
	/* names_pending.c: the blobs whose names the next delivery's
	 * transaction records as not yet durable (with the writer whose
	 * bytes go into the record, or NULL), and the ids of the records
	 * without bytes the last one wrote (store_name_pending()) */
	struct name_pending_blob *name_pending;
	size_t n_name_pending, cap_name_pending;
	int64_t *name_pending_ids;
	size_t n_name_pending_ids;
};

/* A blob of the next delivery (store_name_pending()). */
struct name_pending_blob {
	char hash[SHA256_HEX_LEN + 1];
	struct blob_writer *w;	/* its bytes recorded (not owned), or NULL */
	int64_t id;		/* its record, once written */
};

/* Inside a delivery's transaction, before its rows: the records of names
 * made durable since deleted, and st's pending names recorded (sql/054,
 * sql/056).  After its commit succeeded, store_names_pending_recorded()
 * tells the writers whose bytes it holds. */
int store_names_pending_tx(struct store *st, const char **error_r);
void store_names_pending_recorded(struct store *st);
/* Record id of the database of blob_dir is no longer needed (its blob
 * and name are durable): a later delivery's transaction deletes it.  Any
 * thread (blob.c's syncer). */
void store_name_pending_durable(const char *blob_dir, int64_t id);
/* Inside a transaction of st: every record of its database made durable
 * so far (store_name_pending_durable()) deleted. */
int store_names_synced_delete(struct store *st, const char **error_r);
/* Inside a transaction of st: a record of blob hash holding its bytes
 * p, n (sql/056), for a writer that is not a blob_writer (fetched
 * batches, upstream_batch.c); *id_r is the record's id. */
int store_name_record(struct store *st, const char *hash, const void *p, size_t n,
		      int64_t *id_r, const char **error_r);

/* Seconds since the epoch (the store's clock for created/last_used). */
int64_t store_now(void);
/* Milliseconds of CLOCK_MONOTONIC (waits and delays). */
int64_t store_mono_ms(void);

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

/* The status of a failed SQLite call's result code: STORE_NOSPACE for
 * SQLITE_FULL, STORE_ERROR otherwise. */
int store_rc_status(int rc);
/* Runs a statement that returns no rows (reset afterwards); STORE_OK, or
 * STORE_ERROR (STORE_NOSPACE when the disk is full) with *error_r. */
int stmt_exec(struct store *st, sqlite3_stmt *s, const char *what,
	      const char **error_r);

/*
 * stmt.c: a statement run and its outcome mapped to STORE_* in one place.
 * Each takes a bound statement from store_stmt() and leaves it reset (but
 * stmt_row() on a row); a failure of SQLite is STORE_ERROR (or -1) with
 * "what: sqlite's message".  STORE_NOTFOUND comes with a bare "not found"
 * that the caller rewords: only it knows what was not found.
 */
/* Steps s to its first row: STORE_OK with s on the row (the caller reads
 * it, then stmt_done()), STORE_NOTFOUND, or STORE_ERROR. */
int stmt_row(struct store *st, sqlite3_stmt *s, const char *what,
	     const char **error_r);
/* Whether s ("SELECT 1 ...") finds a row: 1, 0, or -1 with *error_r. */
int stmt_exists(struct store *st, sqlite3_stmt *s, const char *what,
		const char **error_r);
/* The integer columns 0 to n - 1 of the first row (an id, counts). */
int stmt_ints(struct store *st, sqlite3_stmt *s, const char *what,
	      int64_t *v_r, size_t n, const char **error_r);

/* What the row readers know of one kind of element: its size, how one is
 * filled from a row (the element comes zeroed), how one is freed. */
struct stmt_rows {
	size_t size;
	void (*read)(sqlite3_stmt *s, void *elem);
	void (*clear)(void *elem);
};
/* The first row as one element (zeroed unless STORE_OK). */
int stmt_get(struct store *st, sqlite3_stmt *s, const struct stmt_rows *rows,
	     const char *what, void *elem, const char **error_r);
/* Every row as a malloc'd array (NULL for none); nothing is kept on
 * STORE_ERROR. */
int stmt_list(struct store *st, sqlite3_stmt *s, const struct stmt_rows *rows,
	      const char *what, void **list_r, size_t *n_r,
	      const char **error_r);
/* Clears the n elements of list and frees it (list may be NULL). */
void stmt_rows_free(const struct stmt_rows *rows, void *list, size_t n);
/* stmt_list() of the text column 0: copies, freed by store_strv_free(). */
int stmt_strings(struct store *st, sqlite3_stmt *s, const char *what,
		 char ***list_r, size_t *n_r, const char **error_r);
void store_strv_free(char ***v, size_t n);
/* stmt_list() of the integer column 0 as UIDs (free() the list). */
int stmt_uids(struct store *st, sqlite3_stmt *s, const char *what,
	      uint32_t **list_r, size_t *n_r, const char **error_r);

/* stmt_exec(), and how many rows it changed (n_r may be NULL). */
int stmt_exec_n(struct store *st, sqlite3_stmt *s, const char *what,
		unsigned *n_r, const char **error_r);
/* stmt_exec() of a statement that must change a row: STORE_NOTFOUND
 * when it changed none. */
int stmt_exec_one(struct store *st, sqlite3_stmt *s, const char *what,
		  const char **error_r);

/* Inside the caller's transaction: the id of the user's folder name (made
 * when create; NULL, or no such folder: the INBOX), as store_deliver_copies()
 * places a copy. */
/* The user's mailbox of a special use ("\\Junk"); one named for it
 * ("Junk") when none has the attribute; else a new one with it. */
int store_special_mailbox_tx(struct store *st, int64_t user_id, const char *use, int64_t *id_r,
			     const char **error_r);
int store_copy_mailbox_tx(struct store *st, int64_t user_id, const char *name, bool create,
			  int64_t *id_r, const char **error_r);

/* BEGIN IMMEDIATE (retrying SQLITE_BUSY), COMMIT (then notifying the
 * touched mailboxes), ROLLBACK.  No nesting: internal functions that run
 * inside a caller's transaction say so and never begin one. */
int store_begin(struct store *st, const char **error_r);
/*
 * store_begin() for a change that carries no message (flags, expunges,
 * \Recent, greylist entries), and for the deliveries of SMTP (whose 250
 * waits for store_commit()): its COMMIT writes the WAL without an fsync
 * under SQLite's write lock (synchronous=NORMAL for this transaction), and
 * store_commit() then syncs the WAL itself, outside the lock and shared with
 * every other light commit of the moment (walsync.c, group commit).  So the
 * change is durable when store_commit() returns, as a message is, but
 * sessions committing at once pay one flush between them.
 */
int store_begin_light(struct store *st, const char **error_r);
/*
 * store_begin_light() for the changes an IMAP or POP3 client makes to the
 * messages it has (flags, keywords, expunges, \Recent claims), never for a
 * message itself: store_commit() returns once the transaction is in the
 * WAL, without waiting for a flush.  In DESIGN terms: an acknowledged flag
 * change or expunge survives a crash of the process at once (its frames
 * are in the kernel's page cache, and SQLite replays them), and a power
 * failure or a kernel crash once synced: by the next durable or light
 * commit's flush (which covers every frame written before it), or
 * STORE_LAZY_SYNC_MS later at most (walsync.c's keeper thread), whichever
 * comes first.  A power failure in that window loses the last moment's
 * flag changes, never a message acknowledged with OK, and never leaves
 * the database damaged (a WAL replays only whole transactions that pass
 * their checksums).  Dovecot's default (mail_fsync=optimized) never syncs
 * such changes at all.
 */
int store_begin_lazy(struct store *st, const char **error_r);
int store_commit(struct store *st, const char **error_r);
void store_rollback(struct store *st);

/* How long a lazy commit may stay unsynced (ms). */
#define STORE_LAZY_SYNC_MS 200

/* walsync.c: makes every light commit of this process so far that is in
 * st's WAL durable, sharing one fdatasync() with the other threads that
 * ask at the same time; called by store_commit() after a light COMMIT. */
int store_wal_sync(struct store *st, const char **error_r);
/* Notes a lazy commit of st (store_commit() after store_begin_lazy()):
 * the keeper thread syncs it within STORE_LAZY_SYNC_MS unless a flush
 * covers it first. */
void store_wal_lazy(struct store *st);
/* store_wal_sync() when st has a lazy commit not yet known to be synced
 * (store_close(): a short-lived process may end right after). */
int store_wal_sync_lazy(struct store *st, const char **error_r);
/* Installs st's WAL hook (store_open()): SQLite's auto-checkpoint, which
 * would run on whichever commit filled the WAL, before that session's
 * answer, becomes a request to the keeper thread, which checkpoints on a
 * connection of its own. */
void store_wal_attach(struct store *st);
/* walbuf.c: registers, as SQLite's default, its default VFS with the
 * frames of each write-ahead-log commit gathered into one write (before
 * the commit returns).  SQLITE_OK or SQLite's error. */
int store_walbuf_register(void);
/* Light commits synced, lazy commits, the fdatasync() calls that did
 * both, those of them the keeper made, and the keeper's checkpoints. */
struct store_wal_stats {
	uint64_t commits;
	uint64_t syncs;
	uint64_t lazy_commits;
	uint64_t keeper_syncs;
	uint64_t checkpoints;
};
void store_wal_stats(struct store_wal_stats *stats_r);
/* Closes st's WAL descriptor (store_close()). */
void store_wal_close(struct store *st);
/* Ends the transaction by ret (stmt.c): COMMIT when it is STORE_OK,
 * otherwise ROLLBACK and ret again. */
int store_end(struct store *st, int ret, const char **error_r);
/* Notes that mailbox_id changed in the current transaction. */
void store_tx_touch(struct store *st, int64_t mailbox_id);
/* Notes the HIGHESTMODSEQ the transaction has just given a mailbox (0:
 * raised, to a value not read), for store_own_change() once it commits;
 * every raise of it is noted. */
void store_tx_modseq(struct store *st, int64_t mailbox_id, uint64_t modseq);

/* users.c: the columns of a user row (users u) in the order
 * store_user_read() reads them into a zeroed struct store_user. */
#define USER_COLUMNS \
	"u.id, u.address, u.password_hash, u.admin, u.enabled, u.quota," \
	" u.used, u.created, u.quota_messages, (SELECT coalesce(sum(b.messages)," \
	" 0) FROM mailboxes b WHERE b.user_id = u.id)"
void store_user_read(sqlite3_stmt *s, void *elem);
/* Looks up a user id by address (lowercase): STORE_OK, STORE_NOTFOUND or
 * STORE_ERROR, with the words the CLI and API show. */
int store_user_id(struct store *st, const char *lower, int64_t *id_r,
		  const char **error_r);

/* Copies a validated address or domain, lowercased (malloc'd). */
char *store_lower_dup(const char *s);

/* Looks up a domain id by name (lowercase): STORE_OK, STORE_NOTFOUND, or
 * STORE_ERROR. */
int store_domain_id(struct store *st, const char *name, int64_t *id_r,
		    const char **error_r);
/* The same for the domain of a new user or alias: STORE_NOTLOCAL (with
 * "domain '...' is not a local domain") instead of STORE_NOTFOUND. */
int store_domain_id_local(struct store *st, const char *name, int64_t *id_r,
			  const char **error_r);

/* Inside a transaction: a new mailbox with a fresh UIDVALIDITY. */
int store_mailbox_create_tx(struct store *st, int64_t user_id,
			    const char *name, const char *special_use,
			    bool subscribe, int64_t *id_r, const char **error_r);
/* Outside any transaction (the parse must not hold the write lock):
 * computes c for the blob whose file is at path (a blob or the temporary
 * file it is made from), with mmap(2), as the file was just written and is
 * in the page cache.  A file that cannot be read leaves c empty (logged). */
void store_imap_cache_compute(const char *path, const char *blob,
			      struct store_imap_cache *c);
/* The same from the blob's bytes (len of them at data). */
void store_imap_cache_from(const char *data, size_t len, const char *blob,
			   struct store_imap_cache *c);
void store_imap_cache_clear(struct store_imap_cache *c);
/* Inside a transaction: the next UID and MODSEQ of the mailbox, and the
 * row (with the IMAP cache of st->append_cache when it is of that blob);
 * quota checked unless ignore_quota. */
int store_append_tx(struct store *st, int64_t mailbox_id, const char *blob,
		    uint64_t size, int64_t internal_date, unsigned flags,
		    const char *keywords, bool ignore_quota, uint32_t *uid_r,
		    const char **error_r);

/* The same with the UID the message should have (an import keeping the
 * old server's UIDs): want_uid when it is not below UIDNEXT (UIDNEXT then
 * moves past it), else the next UID as usual; 0: the next UID. */
int store_append_uid_tx(struct store *st, int64_t mailbox_id, uint32_t want_uid,
			const char *blob, uint64_t size, int64_t internal_date,
			unsigned flags, const char *keywords, bool ignore_quota,
			uint32_t *uid_r, const char **error_r);

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

/*
 * queue.c, for relayq.c: the two read the same queue tables.  A recipient
 * row is the QUEUE_RCPT_COLUMNS of queue_recipients r; a message is loaded
 * with or without its counts (n_recipients, n_open, next_attempt).
 */
struct store_queue_message;
#define QUEUE_RCPT_COLUMNS \
	"r.id, r.message_id, r.address, r.orcpt, r.notify, r.state, r.attempts," \
	" r.next_attempt, r.last_attempt, r.last_reply, r.dsn_sent, r.held"
/* Fills a zeroed struct store_queue_recipient from such a row. */
void store_queue_recipient_read(sqlite3_stmt *s, void *elem);
int store_queue_message_load(struct store *st, int64_t id, bool counts,
			     struct store_queue_message *msg_r,
			     const char **error_r);

#endif

/*
 * db: opening and closing a store handle, the statement cache, transactions
 * and the small helpers every other file of the store uses.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/seal.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/migrate.h"
#include "store/relayq.h"
#include "store/searchdb.h"

/* How long a writer waits for another's transaction, then how often
 * BEGIN IMMEDIATE is tried again on top of that. */
#define STORE_BUSY_TIMEOUT_MS 10000
#define STORE_BEGIN_RETRIES 5

/*
 * Waiting for the write lock.  SQLite's own busy handler sleeps in steps
 * that grow to 100 ms, so with many sessions writing at once most of the
 * wait is sleep after the lock was free.  Writers of this process instead
 * wait on a condition that every transaction's end signals (a writer of
 * another process, such as the CLI, is still found within a few ms).
 * This is no lock of its own: it only wakes waiters sooner.
 */
static pthread_mutex_t tx_end_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tx_end = PTHREAD_COND_INITIALIZER;
static uint64_t tx_end_count;
#define BUSY_POLL_MS 5

static void
tx_ended(void)
{
	pthread_mutex_lock(&tx_end_lock);
	tx_end_count++;
	pthread_cond_broadcast(&tx_end);
	pthread_mutex_unlock(&tx_end_lock);
}

/* sqlite3_busy_handler(): 1 to try again, 0 to give up (SQLITE_BUSY). */
static int
busy_wait(void *arg, int tries)
{
	struct store *st = arg;
	int64_t now_ms = store_mono_ms();
	if (tries == 0)
		st->busy_since_ms = now_ms;
	else if (now_ms - st->busy_since_ms >= STORE_BUSY_TIMEOUT_MS)
		return 0;
	pthread_mutex_lock(&tx_end_lock);
	/* the count when this writer last looked (before its BEGIN, or at
	 * its last wake): a transaction that ended since, even before this
	 * call, sends it back to try at once rather than after a poll */
	uint64_t seen = st->tx_seen;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += BUSY_POLL_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (tx_end_count == seen &&
	       pthread_cond_timedwait(&tx_end, &tx_end_lock, &until) == 0)
		;
	st->tx_seen = tx_end_count;
	pthread_mutex_unlock(&tx_end_lock);
	return 1;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_READ_BEGIN[] = "BEGIN DEFERRED";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT grouped";
static const char SQL_RELEASE[] = "RELEASE grouped";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO grouped";

int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
store_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
slot_index(const char *sql, size_t cap)
{
	uintptr_t h = (uintptr_t)sql;
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ULL & UINTPTR_MAX;
	return (size_t)(h >> 7) & (cap - 1);
}

static void
stmts_grow(struct store *st)
{
	size_t old_cap = st->stmts_cap;
	struct stmt_slot *old = st->stmts;

	st->stmts_cap = old_cap == 0 ? 64 : old_cap * 2;
	st->stmts = xcalloc(st->stmts_cap, sizeof *st->stmts);
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].sql == NULL)
			continue;
		size_t j = slot_index(old[i].sql, st->stmts_cap);
		while (st->stmts[j].sql != NULL)
			j = (j + 1) & (st->stmts_cap - 1);
		st->stmts[j] = old[i];
	}
	free(old);
}

sqlite3_stmt *
store_stmt(struct store *st, const char *sql)
{
	if (st->stmts_n * 2 >= st->stmts_cap)
		stmts_grow(st);
	size_t i = slot_index(sql, st->stmts_cap);
	while (st->stmts[i].sql != NULL) {
		if (st->stmts[i].sql == sql) {
			sqlite3_stmt *s = st->stmts[i].stmt;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return s;
		}
		i = (i + 1) & (st->stmts_cap - 1);
	}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				    &s, NULL);
	if (rc != SQLITE_OK)
		panic("store: cannot prepare \"%s\": %s", sql,
		      sqlite3_errmsg(st->db));
	st->stmts[i].sql = sql;
	st->stmts[i].stmt = s;
	st->stmts_n++;
	return s;
}

void
stmt_done(sqlite3_stmt *s)
{
	if (s != NULL)
		sqlite3_reset(s);
}

void
stmt_text(sqlite3_stmt *s, int i, const char *text)
{
	if (text == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
}

void
stmt_int(sqlite3_stmt *s, int i, int64_t v)
{
	sqlite3_bind_int64(s, i, v);
}

char *
stmt_col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	if (t == NULL)
		return NULL;
	return xstrndup((const char *)t, (size_t)sqlite3_column_bytes(s, i));
}

const char *
store_db_error(struct store *st, const char *what)
{
	return errfmt("%s: %s", what, sqlite3_errmsg(st->db));
}

int
store_rc_status(int rc)
{
	/* SQLITE_FULL: a write found the disk (or the database) full */
	return rc == SQLITE_FULL ? STORE_NOSPACE : STORE_ERROR;
}

int
stmt_exec(struct store *st, sqlite3_stmt *s, const char *what,
	  const char **error_r)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		*error_r = store_db_error(st, what);
		sqlite3_reset(s);
		return store_rc_status(rc);
	}
	sqlite3_reset(s);
	return STORE_OK;
}

static const char SQL_SYNC_FULL[] = "PRAGMA synchronous=FULL";
static const char SQL_SYNC_NORMAL[] = "PRAGMA synchronous=NORMAL";

/* Sets the connection's synchronous mode for the next transaction. */
static int
set_sync(struct store *st, bool normal, const char **error_r)
{
	if (st->sync_normal == normal)
		return STORE_OK;
	sqlite3_stmt *s = store_stmt(st, normal ? SQL_SYNC_NORMAL : SQL_SYNC_FULL);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		*error_r = store_db_error(st, "cannot set synchronous");
		return STORE_ERROR;
	}
	st->sync_normal = normal;
	return STORE_OK;
}

static int begin(struct store *st, const char **error_r);

/* Runs one of the savepoint statements: 0, or -1 with *error_r. */
static int
savepoint_exec(struct store *st, const char *sql, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot keep a savepoint");
		return -1;
	}
	return 0;
}

/* In a group: a transaction begun is a savepoint (1: done, or -1). */
static int
begin_grouped(struct store *st, const char **error_r)
{
	if (!st->group)
		return 0;
	if (st->in_sub)
		panic("store: nested transaction");
	if (savepoint_exec(st, SQL_SAVEPOINT, error_r) < 0)
		return -1;
	st->in_sub = true;
	return 1;
}

int
store_group_begin(struct store *st, const char **error_r)
{
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	st->group = true;
	return STORE_OK;
}

int
store_group_end(struct store *st, const char **error_r)
{
	if (st->in_sub)
		panic("store: a group ended inside one of its transactions");
	st->group = false;
	return store_commit(st, error_r);
}

int
store_group_end_lazy(struct store *st, const char **error_r)
{
	/* the group's transaction began light: its commit becomes a lazy
	 * one (walsync.c syncs it within STORE_LAZY_SYNC_MS, or sooner) */
	st->tx_lazy = true;
	int ret = store_group_end(st, error_r);
	st->tx_lazy = false;
	return ret;
}

void
store_group_abort(struct store *st)
{
	/* the open savepoint first, then the whole */
	store_rollback(st);
	st->group = false;
	store_rollback(st);
}

/* store_begin(), store_begin_light(), store_begin_lazy(): the connection's
 * synchronous mode (NORMAL for light and lazy) and the kind of commit. */
static int
begin_kind(struct store *st, bool normal, bool lazy, const char **error_r)
{
	if (st->commit_take != NULL) {
		/* the writers' turn (store_commit_takes()) */
		pthread_mutex_lock(st->commit_take);
		st->commit_unlock = st->commit_take;
		st->commit_take = NULL;
	}
	int g = begin_grouped(st, error_r);
	if (g != 0)
		return g > 0 ? STORE_OK : STORE_ERROR;
	if (st->in_tx)
		panic("store: nested transaction");
	if (st->read_span)
		panic("store: a transaction begun inside a read span");
	if (set_sync(st, normal, error_r) < 0)
		return STORE_ERROR;
	st->tx_lazy = lazy;
	return begin(st, error_r);
}

int
store_begin(struct store *st, const char **error_r)
{
	return begin_kind(st, false, false, error_r);
}

int
store_begin_light(struct store *st, const char **error_r)
{
	return begin_kind(st, true, false, error_r);
}

int
store_begin_lazy(struct store *st, const char **error_r)
{
	return begin_kind(st, true, true, error_r);
}

static int
begin(struct store *st, const char **error_r)
{
	pthread_mutex_lock(&tx_end_lock);
	st->tx_seen = tx_end_count;
	pthread_mutex_unlock(&tx_end_lock);
	sqlite3_stmt *s = store_stmt(st, SQL_BEGIN);
	int rc = SQLITE_BUSY;
	/* busy_timeout already waits; a writer that still finds the lock
	 * taken (a long fsck, a checkpoint) tries a few more times. */
	for (int attempt = 0; attempt < STORE_BEGIN_RETRIES; attempt++) {
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		struct timespec ts = { 0, 20 * 1000 * 1000 * (attempt + 1) };
		nanosleep(&ts, NULL);
	}
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot begin a transaction");
		return store_rc_status(rc);
	}
	st->in_tx = true;
	st->n_touched = 0;
	st->bumps = 0;
	st->index_wake = false;
	return STORE_OK;
}

/* The caller's lock handed to this transaction's end, released. */
static void
release_commit_lock(struct store *st)
{
	if (st->commit_unlock != NULL) {
		pthread_mutex_unlock(st->commit_unlock);
		st->commit_unlock = NULL;
	}
}

void
store_commit_unlocks(struct store *st, pthread_mutex_t *m)
{
	if (st->commit_unlock != NULL)
		panic("store: a lock handed to a transaction twice");
	st->commit_unlock = m;
}

void
store_commit_takes(struct store *st, pthread_mutex_t *m)
{
	if (st->commit_unlock != NULL || st->commit_take != NULL)
		panic("store: a lock handed to a transaction twice");
	st->commit_take = m;
}

void
store_commit_unlocks_end(struct store *st)
{
	release_commit_lock(st);
	st->commit_take = NULL;	/* never taken: no transaction began */
}

int
store_commit(struct store *st, const char **error_r)
{
	if (st->in_sub) {
		/* grouped: kept for store_group_end() */
		if (savepoint_exec(st, SQL_RELEASE, error_r) < 0) {
			store_rollback(st);
			return STORE_ERROR;
		}
		st->in_sub = false;
		return STORE_OK;
	}
	sqlite3_stmt *s = store_stmt(st, SQL_COMMIT);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		/* a failed COMMIT (SQLITE_FULL, an I/O error) ends the
		 * transaction here, so that the handle is never left inside
		 * one: the next store_begin() must work once there is room */
		*error_r = store_db_error(st, "cannot commit");
		store_rollback(st);
		return store_rc_status(rc);
	}
	st->in_tx = false;
	tx_ended();
	release_commit_lock(st);
	/* a light commit is durable before its caller answers OK, and before
	 * other sessions are told of it (they may answer on it at once); a
	 * lazy one is in the WAL, synced within STORE_LAZY_SYNC_MS */
	int ret = STORE_OK;
	if (st->tx_lazy)
		store_wal_lazy(st);
	else if (st->sync_normal)
		ret = store_wal_sync(st, error_r);
	st->tx_lazy = false;
	st->own_mailbox = 0;
	for (size_t i = 0; i < st->n_touched; i++) {
		uint64_t before = store_notify_mailbox(st->touched[i]);
		/* one mailbox changed, its HIGHESTMODSEQ raised once */
		if (st->n_touched == 1 && st->bumps == 1 &&
		    st->bump_mailbox == st->touched[i]) {
			st->own_mailbox = st->touched[i];
			st->own_gen_before = before;
			st->own_modseq = st->bump_modseq;
		}
	}
	st->n_touched = 0;
	st->bumps = 0;
	if (st->index_wake) {
		st->index_wake = false;
		searchdb_arrived();
	}
	return ret;
}

void
store_rollback(struct store *st)
{
	if (st->in_sub) {
		/* grouped: only this one's changes are undone */
		const char *ignored;
		(void)savepoint_exec(st, SQL_ROLLBACK_TO, &ignored);
		(void)savepoint_exec(st, SQL_RELEASE, &ignored);
		st->in_sub = false;
		return;
	}
	if (!st->in_tx)
		return;
	/* ROLLBACK fails only when no transaction is open (SQLite may have
	 * rolled back by itself after an I/O error): nothing to undo then. */
	if (sqlite3_get_autocommit(st->db) == 0) {
		sqlite3_stmt *s = store_stmt(st, SQL_ROLLBACK);
		if (sqlite3_step(s) != SQLITE_DONE)
			log_error("store: rollback failed: %s",
				  sqlite3_errmsg(st->db));
		sqlite3_reset(s);
	}
	st->in_tx = false;
	st->tx_lazy = false;
	st->n_touched = 0;
	st->index_wake = false;
	tx_ended();
	release_commit_lock(st);
}

void
store_tx_touch(struct store *st, int64_t mailbox_id)
{
	for (size_t i = 0; i < st->n_touched; i++)
		if (st->touched[i] == mailbox_id)
			return;
	if (st->n_touched == st->cap_touched) {
		st->cap_touched = st->cap_touched == 0 ? 8 : st->cap_touched * 2;
		st->touched = xreallocarray(st->touched, st->cap_touched,
					    sizeof *st->touched);
	}
	st->touched[st->n_touched++] = mailbox_id;
}

int
store_read_begin(struct store *st, const char **error_r)
{
	if (st->in_tx || st->read_span)
		return STORE_OK;
	sqlite3_stmt *s = store_stmt(st, SQL_READ_BEGIN);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot begin a read");
		return STORE_ERROR;
	}
	st->read_span = true;
	return STORE_OK;
}

void
store_read_end(struct store *st)
{
	if (!st->read_span)
		return;
	st->read_span = false;
	/* a read ends whatever happened in it; COMMIT fails only when
	 * SQLite has ended the transaction itself (an I/O error) */
	if (sqlite3_get_autocommit(st->db) != 0)
		return;
	sqlite3_stmt *s = store_stmt(st, SQL_COMMIT);
	if (sqlite3_step(s) != SQLITE_DONE)
		log_error("store: end of a read failed: %s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
}

void
store_tx_modseq(struct store *st, int64_t mailbox_id, uint64_t modseq)
{
	st->bump_mailbox = mailbox_id;
	st->bump_modseq = modseq;
	st->bumps++;
}

bool
store_own_change(const struct store *st, int64_t mailbox_id,
		 uint64_t *gen_before_r, uint64_t *modseq_r)
{
	if (st->own_mailbox == 0 || st->own_mailbox != mailbox_id)
		return false;
	*gen_before_r = st->own_gen_before;
	*modseq_r = st->own_modseq;
	return true;
}

char *
store_lower_dup(const char *s)
{
	char *d = xstrdup(s);
	str_lower(d);
	return d;
}

static int
make_dir(const char *path, const char **error_r)
{
	if (mkdir(path, STORE_DIR_MODE) == 0) {
		/* mkdir() applies the umask; the mode is meant exactly */
		if (chmod(path, STORE_DIR_MODE) < 0) {
			*error_r = errfmt("cannot set the mode of %s: %s", path,
					  strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		*error_r = errfmt("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat sb;
	if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		*error_r = errfmt("%s is not a directory", path);
		return -1;
	}
	return 0;
}

/*
 * SQLite creates the database with 0644 less the umask, and its -wal,
 * -shm and -journal files with the database's own mode: the database made
 * first (empty, which SQLite takes as a new database) with the mode meant
 * gives the whole set that mode, whatever the umask.
 */
static int
create_db_file(const char *path, const char **error_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      STORE_DB_MODE);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		*error_r = errfmt("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	int r = fchmod(fd, STORE_DB_MODE);
	if (r < 0)
		*error_r = errfmt("cannot set the mode of %s: %s", path, strerror(errno));
	close(fd);
	return r;
}

/*
 * Secrets an older version stored plain (DKIM private keys) are sealed
 * once per process, by the first handle opened with the seal key loaded:
 * a migration cannot, as it has no key.  Idempotent, so several
 * processes doing it at once are harmless; until it has worked the plain
 * keys still serve.
 */
static void
seal_plain_secrets(struct store *st)
{
	static int done;
	if (__atomic_load_n(&done, __ATOMIC_ACQUIRE) || !seal_key_ready())
		return;
	unsigned sealed;
	const char *error;
	if (relayq_dkim_seal_plain(st, &sealed, &error) != STORE_OK) {
		log_warning("store: cannot seal the DKIM keys stored plain yet: %s", error);
		return;
	}
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	if (sealed > 0)
		log_info("store sealed=%u DKIM keys that were stored plain", sealed);
}

/* Settings of every connection; none of them carries user data. */
static const char *const pragmas[] = {
	"PRAGMA journal_mode=WAL",
	/* A commit that returned is on disk (DESIGN.md: "250 OK" only after
	 * the transaction is durable), WAL or not. */
	"PRAGMA synchronous=FULL",
	"PRAGMA foreign_keys=ON",
	"PRAGMA temp_store=MEMORY",
};

/* SQLite's process-wide settings, before its first use: no memory
 * statistics, which every sqlite3_malloc() of every thread would count
 * under one global mutex (nothing here reads them). */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void
sqlite_setup(void)
{
	/* SQLITE_MISUSE when SQLite was already initialized: it then keeps
	 * its defaults, which are correct too */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* the default VFS, with the frames of a commit written at once */
	if (store_walbuf_register() != SQLITE_OK)
		log_warning("store: cannot register the WAL-gathering VFS: "
			    "frames are written one by one");
}

/*
 * One of the settings above, waiting while the database is locked.  The
 * first connection to a new database turns it to WAL, which takes an
 * exclusive lock without calling the busy handler: a second process (or
 * thread) opening it at that moment got "database is locked" at once
 * (the daemon starting while `mailhub init` runs).  Once in WAL the
 * setting only reads, and the first try succeeds.
 */
static int
exec_pragma(sqlite3 *db, const char *sql, char **msg_r)
{
	int64_t since = store_mono_ms();
	for (;;) {
		int rc = sqlite3_exec(db, sql, NULL, NULL, msg_r);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    store_mono_ms() - since >= STORE_BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_free(*msg_r);
		*msg_r = NULL;
		struct timespec ts = { 0, BUSY_POLL_MS * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int
store_open(const char *data_dir, struct store **st_r, const char **error_r)
{
	struct store *st;
	char *path;

	*st_r = NULL;
	pthread_once(&sqlite_once, sqlite_setup);
	if (make_dir(data_dir, error_r) < 0)
		return STORE_ERROR;
	st = xcalloc(1, sizeof *st);
	st->wal_fd = -1;
	st->data_dir = xstrdup(data_dir);
	st->blob_dir = xasprintf("%s/blobs", data_dir);
	if (blob_dir_prepare(data_dir, st->blob_dir, error_r) < 0) {
		store_close(&st);
		return STORE_ERROR;
	}

	path = xasprintf("%s/mailhub.db", data_dir);
	if (create_db_file(path, error_r) < 0) {
		free(path);
		store_close(&st);
		return STORE_ERROR;
	}
	/* One handle per thread: SQLite's own mutexes are not needed. */
	int rc = sqlite3_open_v2(path, &st->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*error_r = errfmt("cannot open %s: %s", path,
				  st->db != NULL ? sqlite3_errmsg(st->db)
						 : sqlite3_errstr(rc));
		free(path);
		store_close(&st);
		return STORE_ERROR;
	}
	sqlite3_extended_result_codes(st->db, 0);
	sqlite3_busy_handler(st->db, busy_wait, st);
	store_wal_attach(st);
	for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
		char *msg = NULL;
		if (exec_pragma(st->db, pragmas[i], &msg) != SQLITE_OK) {
			*error_r = errfmt("%s: %s: %s", path, pragmas[i],
					  msg != NULL ? msg : "failed");
			sqlite3_free(msg);
			free(path);
			store_close(&st);
			return STORE_ERROR;
		}
	}
	if (store_migrate(st, error_r) < 0) {
		*error_r = errfmt("%s: %s", path, *error_r);
		free(path);
		store_close(&st);
		return STORE_ERROR;
	}
	free(path);
	seal_plain_secrets(st);
	*st_r = st;
	return STORE_OK;
}

void
store_cache_kib(struct store *st, unsigned kib)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA cache_size=-%u", kib);
	/* only a speed: without it the work is slower, not wrong */
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		log_warning("store: %s: %s", sql, sqlite3_errmsg(st->db));
}

void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	if (st->db != NULL) {
		store_read_end(st);
		store_rollback(st);
		/* lazy commits of this handle durable before it goes: the
		 * process may end next (the CLI) */
		const char *error;
		if (store_wal_sync_lazy(st, &error) != STORE_OK)
			log_error("store: close: %s", error);
		for (size_t i = 0; i < st->stmts_cap; i++)
			if (st->stmts[i].stmt != NULL)
				sqlite3_finalize(st->stmts[i].stmt);
		if (sqlite3_close(st->db) != SQLITE_OK)
			log_error("store: close: %s", sqlite3_errmsg(st->db));
	}
	store_wal_close(st);
	free(st->stmts);
	free(st->touched);
	store_imap_cache_clear(&st->imap_cache);
	free(st->delimiters);
	free(st->name_pending);
	free(st->name_pending_ids);
	free(st->data_dir);
	free(st->blob_dir);
	free(st);
	*stp = NULL;
}

void
store_set_recipient_delimiter(struct store *st, const char *delimiters)
{
	if (st->delimiters != NULL && delimiters != NULL &&
	    strcmp(st->delimiters, delimiters) == 0)
		return;
	free(st->delimiters);
	st->delimiters = delimiters != NULL && *delimiters != '\0' ? xstrdup(delimiters) : NULL;
}

const char *
store_data_dir(const struct store *st)
{
	return st->data_dir;
}

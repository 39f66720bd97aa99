/*
 * walsync: group commit of the light transactions (store_begin_light()).
 *
 * A light transaction commits with synchronous=NORMAL: SQLite appends its
 * frames to the WAL and releases the write lock without an fsync.  Before
 * store_commit() returns, the committer makes the WAL durable itself with
 * fdatasync(), outside SQLite's lock, and concurrent committers share one
 * flush: each takes a ticket after its COMMIT returned (its frames are in
 * the file), and the thread that finds no flush under way syncs for every
 * ticket issued so far while the others wait for it.  So a flag change or
 * an expunge is on disk before its tagged OK, as a message is, but N
 * sessions committing at once pay one flush between them, and no other
 * writer waits for a flush while holding the write lock.
 *
 * A lazy transaction (store_begin_lazy(): flags, expunges, \Recent) commits
 * the same way but does not wait: it takes a ticket and returns, and the
 * keeper thread syncs the WAL STORE_LAZY_SYNC_MS after the first unsynced
 * lazy commit, unless a light commit's flush (which covers every ticket
 * issued before it) came first.  A crash of the process loses nothing of
 * it (the frames are in the kernel's page cache); a power failure may lose
 * the lazy commits of that last moment, never a light or durable one.
 *
 * The keeper also runs the checkpoints: each connection's WAL hook replaces
 * SQLite's auto-checkpoint, which ran on whichever commit filled the WAL
 * (1000 pages) before that session could answer, by a request to the
 * keeper, which checkpoints (PASSIVE, as the auto-checkpoint) on a
 * connection of its own, and RESTART when the WAL has grown past
 * WAL_RESTART_PAGES all the same (readers that never all stop).
 *
 * Groups are kept per WAL file (device and inode), since a process may have
 * several databases open (the unit tests do).  This module owns the group
 * table, its lock and the keeper thread; nothing else touches them.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"

/* Frames in the WAL after a commit that ask the keeper for a checkpoint
 * (SQLite's own default for its auto-checkpoint). */
#define WAL_CHECKPOINT_PAGES 1000
/* The frames of its own that make a brief process (store_wal_brief()) ask
 * for one: an incremental two-way pass of 500 changes adds about 1,000. */
#define WAL_BRIEF_PAGES (4 * WAL_CHECKPOINT_PAGES)
/*
 * Frames in the WAL after a passive checkpoint that make the keeper run a
 * RESTART one.  A passive checkpoint copies what no reader still needs,
 * and the WAL starts again from its beginning only at a write begun while
 * every reader reads the database alone; with many sessions reading all
 * the time that moment does not come, and the WAL grew by every commit
 * (tens of MB in seconds of imaptest): each commit extended the file, so
 * that its flush also had to write the file's new size and blocks (on a
 * journalled ext4, a journal commit), and every page a reader wanted was
 * looked up among more frames.  RESTART takes the write lock, waits
 * (KEEPER_RESTART_WAIT_MS at most, else it gives up until next time) for
 * the readers of older snapshots to finish, and leaves the WAL to be
 * written again from its beginning.
 */
#define WAL_RESTART_PAGES (4 * WAL_CHECKPOINT_PAGES)
#define KEEPER_RESTART_WAIT_MS 20
/* The keeper's connection to a database it checkpoints is closed after
 * this long without a request (ms). */
#define KEEPER_IDLE_MS 1000

struct wal_group {
	dev_t dev;
	ino_t ino;
	char *wal_path;		/* data_dir/mailhub.db-wal, for the keeper */
	char *db_path;		/* data_dir/mailhub.db, for its checkpoints */
	uint64_t issued;	/* tickets handed out */
	uint64_t synced;	/* every ticket up to this one is on disk */
	uint64_t lazy;		/* the last ticket of a lazy commit */
	int64_t lazy_since_ms;	/* when lazy became unsynced (0: it is synced) */
	bool busy;		/* a thread is in fdatasync() for the group */
	bool checkpoint;	/* the keeper is asked for a checkpoint */
	/* the keeper's connection for checkpoints (NULL: none open; closed
	 * after KEEPER_IDLE_MS without a request, so that the last handle's
	 * close still checkpoints and removes the WAL) */
	sqlite3 *ckpt_db;
	int64_t ckpt_last_ms;
};

/* The groups (one per WAL file ever synced; a handful at most).  A group
 * is never freed (the keeper may be using it) and never moves. */
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t groups_synced = PTHREAD_COND_INITIALIZER;
static pthread_cond_t keeper_wake = PTHREAD_COND_INITIALIZER;
static struct wal_group **groups;
static size_t n_groups, cap_groups;
static struct store_wal_stats stats;
/* the keeper thread runs (in this process: a child of fork() has none,
 * and forget_keeper() says so there, rather than a getpid() at every lazy
 * commit) */
static bool keeper_running, keeper_cond_ready;
static pthread_once_t keeper_atfork_once = PTHREAD_ONCE_INIT;

/* pthread_atfork() child handler: no thread of the parent runs here. */
static void
forget_keeper(void)
{
	keeper_running = false;
}

static void
keeper_atfork(void)
{
	if (pthread_atfork(NULL, NULL, forget_keeper) != 0)
		fatal("store: cannot register the WAL keeper's fork handler");
}

/* Under groups_lock: the group of st's current WAL file (st->wal_dev,
 * st->wal_ino), made on first use. */
static struct wal_group *
group_find(struct store *st)
{
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i]->dev == st->wal_dev && groups[i]->ino == st->wal_ino)
			return groups[i];
	if (n_groups == cap_groups) {
		cap_groups = cap_groups == 0 ? 4 : cap_groups * 2;
		groups = xreallocarray(groups, cap_groups, sizeof *groups);
	}
	struct wal_group *g = xcalloc(1, sizeof *g);
	g->dev = st->wal_dev;
	g->ino = st->wal_ino;
	g->wal_path = xstrdup(st->wal_path);
	g->db_path = xasprintf("%s/mailhub.db", st->data_dir);
	groups[n_groups++] = g;
	return g;
}

/*
 * Makes *fd a descriptor of the current WAL file at path (*dev, *ino its
 * identity).  SQLite removes the WAL when its last connection closes
 * (after a checkpoint that synced the database), and a later writer makes
 * a new one, so the file is looked up by name (by the keeper at each of
 * its syncs; by a handle once, wal_open()).  0, 1 when there
 * is no WAL (nothing to sync: it was checkpointed into the database and
 * removed), -1 on error.
 */
static int
wal_open_at(const char *path, int *fd, dev_t *dev, ino_t *ino,
	    const char **error_r)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return 1;
		*error_r = errfmt("cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (*fd >= 0 && *dev == sb.st_dev && *ino == sb.st_ino)
		return 0;
	if (*fd >= 0)
		close(*fd);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT)
			return 1;
		*error_r = errfmt("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(*fd, &sb) < 0) {
		*error_r = errfmt("cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	*dev = sb.st_dev;
	*ino = sb.st_ino;
	return 0;
}

/* st's descriptor of its WAL, opened at its first commit.  Looked up by
 * name once only: the file SQLite removes is removed by the close of its
 * last connection, which does that only when it can lock the database
 * EXCLUSIVE, and in WAL mode every connection keeps its SHARED lock from
 * its first read until it closes; so while st's connection is open, the
 * WAL its descriptor names is the database's.  (A stat() at every lazy
 * commit was one system call in twenty of the daemon's under imaptest.) */
static int
wal_open(struct store *st, const char **error_r)
{
	if (st->wal_fd >= 0)
		return 0;
	if (st->wal_path == NULL)
		st->wal_path = xasprintf("%s/mailhub.db-wal", st->data_dir);
	return wal_open_at(st->wal_path, &st->wal_fd, &st->wal_dev, &st->wal_ino,
			   error_r);
}

/*
 * Under groups_lock: waits until ticket is on disk, flushing fd (a
 * descriptor of g's WAL file, opened after the ticket was taken) when no
 * other thread is.  The flush covers every ticket issued before it began
 * (their frames are in the file).  STORE_OK or STORE_ERROR.
 */
static int
group_sync(struct wal_group *g, uint64_t ticket, int fd, const char **error_r)
{
	while (g->synced < ticket) {
		if (g->busy) {
			/* a flush is under way; it may have begun before this
			 * commit's frames were written, so look again after */
			pthread_cond_wait(&groups_synced, &groups_lock);
			continue;
		}
		g->busy = true;
		uint64_t upto = g->issued;
		int64_t began = store_mono_ms();
		stats.syncs++;
		pthread_mutex_unlock(&groups_lock);
		int rc = fdatasync(fd);
		int err = errno;
		pthread_mutex_lock(&groups_lock);
		g->busy = false;
		pthread_cond_broadcast(&groups_synced);
		if (rc < 0) {
			/* the kernel may have dropped the pages it could not
			 * write: this commit is not known to be durable */
			*error_r = errfmt("cannot sync %s: %s", g->wal_path,
					  strerror(err));
			log_error("store: %s", *error_r);
			return STORE_ERROR;
		}
		if (upto > g->synced)
			g->synced = upto;
		/* lazy commits after upto was read are younger than began */
		if (g->lazy <= g->synced)
			g->lazy_since_ms = 0;
		else if (g->lazy_since_ms != 0 && g->lazy_since_ms < began)
			g->lazy_since_ms = began;
	}
	return STORE_OK;
}

int
store_wal_sync(struct store *st, const char **error_r)
{
	int r = wal_open(st, error_r);
	if (r != 0) {
		if (r > 0)
			return STORE_OK;
		log_error("store: %s", *error_r);
		return STORE_ERROR;
	}
	pthread_mutex_lock(&groups_lock);
	struct wal_group *g = group_find(st);
	uint64_t ticket = ++g->issued;
	stats.commits++;
	int ret = group_sync(g, ticket, st->wal_fd, error_r);
	if (ret == STORE_OK && st->lazy_ticket != 0 && st->lazy_group == g &&
	    g->synced >= st->lazy_ticket)
		st->lazy_ticket = 0;
	pthread_mutex_unlock(&groups_lock);
	return ret;
}

/* A brief process (store_wal_brief()) counts the frames it added itself
 * from brief_base, the WAL's frames after its first commit (-1: none yet;
 * lowered when the WAL starts again); and how long the keeper lets a lazy
 * commit wait for its sync. */
static bool brief;
static int brief_base = -1;
static int lazy_sync_ms = STORE_LAZY_SYNC_MS;

void
store_wal_brief(void)
{
	__atomic_store_n(&brief, true, __ATOMIC_RELAXED);
	/* the lazy commits synced behind the work that follows them rather
	 * than all at the exit (store_close() waits for them) */
	__atomic_store_n(&lazy_sync_ms, 0, __ATOMIC_RELAXED);
}

/* Runs a passive checkpoint of g's database on the keeper's connection to
 * it (*db, opened on first use); 1 when it copied anything.  As SQLite's
 * auto-checkpoint does, it copies what no reader still needs, and the WAL
 * starts again from its beginning at the next write after one that copied
 * everything. */
static int
checkpoint(const struct wal_group *g, sqlite3 **db)
{
	int copied = 0, rc = SQLITE_OK;
	if (*db == NULL) {
		rc = sqlite3_open_v2(g->db_path, db, SQLITE_OPEN_READWRITE |
				     SQLITE_OPEN_NOMUTEX, NULL);
		/* a new connection knows of the WAL once it has read the
		 * database: until then a checkpoint does nothing */
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(*db, "SELECT 1 FROM sqlite_master LIMIT 1",
					  NULL, NULL, NULL);
		/* only a RESTART checkpoint waits (PASSIVE never does) */
		if (rc == SQLITE_OK)
			sqlite3_busy_timeout(*db, KEEPER_RESTART_WAIT_MS);
	}
	int frames = 0;
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(*db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					       &frames, &copied);
	if (rc == SQLITE_OK && frames >= WAL_RESTART_PAGES) {
		int restart_copied = 0;
		rc = sqlite3_wal_checkpoint_v2(*db, NULL, SQLITE_CHECKPOINT_RESTART,
					       NULL, &restart_copied);
		if (restart_copied > copied)
			copied = restart_copied;
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_warning("store: checkpoint of %s: %s", g->db_path,
			    *db != NULL ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
	}
	return rc == SQLITE_OK && copied > 0;
}

/* The keeper: syncs lazy commits STORE_LAZY_SYNC_MS after the first
 * unsynced one at most, and runs the checkpoints asked for.  Runs for the
 * life of the process. */
static void *
keeper_main(void *arg)
{
	(void)arg;
	int fd = -1;
	dev_t dev = 0;
	ino_t ino = 0;
	pthread_mutex_lock(&groups_lock);
	for (;;) {
		int64_t now = store_mono_ms(), next = -1;
		struct wal_group *due = NULL;
		bool ckpt = false;
		for (size_t i = 0; i < n_groups && due == NULL; i++) {
			struct wal_group *g = groups[i];
			if (g->lazy_since_ms != 0) {
				int64_t at = g->lazy_since_ms +
					     __atomic_load_n(&lazy_sync_ms, __ATOMIC_RELAXED);
				if (at <= now)
					due = g;
				else if (next < 0 || at < next)
					next = at;
			}
			if (due == NULL && g->checkpoint) {
				due = g;
				ckpt = true;
			}
			if (g->ckpt_db != NULL && !g->checkpoint) {
				int64_t at = g->ckpt_last_ms + KEEPER_IDLE_MS;
				if (at <= now) {
					/* idle: closed (no thread checkpoints
					 * g meanwhile: only the keeper does) */
					sqlite3 *db = g->ckpt_db;
					g->ckpt_db = NULL;
					pthread_mutex_unlock(&groups_lock);
					sqlite3_close(db);
					pthread_mutex_lock(&groups_lock);
					now = store_mono_ms();
				} else if (next < 0 || at < next) {
					next = at;
				}
			}
		}
		if (due == NULL) {
			if (next < 0) {
				pthread_cond_wait(&keeper_wake, &groups_lock);
			} else {
				struct timespec until;
				int64_t at = next + 1;
				until.tv_sec = at / 1000;
				until.tv_nsec = (at % 1000) * 1000000L;
				pthread_cond_timedwait(&keeper_wake, &groups_lock, &until);
			}
			continue;
		}
		if (ckpt) {
			due->checkpoint = false;
			sqlite3 *db = due->ckpt_db;
			pthread_mutex_unlock(&groups_lock);
			int copied = checkpoint(due, &db);
			pthread_mutex_lock(&groups_lock);
			due->ckpt_db = db;
			due->ckpt_last_ms = store_mono_ms();
			if (copied)
				stats.checkpoints++;
			continue;
		}
		/* the ticket before the file is opened: every frame of the
		 * tickets up to it is in the file opened after, or the file
		 * is another one (the group's was checkpointed, synced and
		 * removed) */
		uint64_t ticket = ++due->issued;
		pthread_mutex_unlock(&groups_lock);
		const char *error = NULL;
		int r = wal_open_at(due->wal_path, &fd, &dev, &ino, &error);
		pthread_mutex_lock(&groups_lock);
		if (r > 0 || (r == 0 && (dev != due->dev || ino != due->ino))) {
			/* not the group's file any more: that one is gone */
			if (ticket > due->synced && !due->busy)
				due->synced = ticket;
			if (due->lazy <= due->synced)
				due->lazy_since_ms = 0;
		} else if (r < 0 || group_sync(due, ticket, fd, &error) != STORE_OK) {
			if (r < 0)
				log_error("store: %s", error);
			/* try again later rather than at once */
			due->lazy_since_ms = store_mono_ms();
			continue;
		}
		stats.keeper_syncs++;
	}
	return NULL;
}

/* Under groups_lock: the keeper started in this process if it is not. */
static void
keeper_need(void)
{
	if (keeper_running)
		return;
	pthread_once(&keeper_atfork_once, keeper_atfork);
	pthread_attr_t attr;
	pthread_t t;
	if (!keeper_cond_ready) {
		/* the keeper's timed waits are on the monotonic clock */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&keeper_wake, &ca);
		pthread_condattr_destroy(&ca);
		keeper_cond_ready = true;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int err = pthread_create(&t, &attr, keeper_main, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0)
		fatal("store: cannot start the WAL keeper thread: %s", strerror(err));
	keeper_running = true;
}

void
store_wal_lazy(struct store *st)
{
	const char *error;
	int r = wal_open(st, &error);
	if (r != 0) {
		/* no WAL (its frames were checkpointed and synced since), or
		 * none that can be told apart: synced now, or an error */
		if (r < 0 && store_wal_sync(st, &error) != STORE_OK)
			log_error("store: a lazy commit is not known to be synced");
		return;
	}
	pthread_mutex_lock(&groups_lock);
	keeper_need();
	struct wal_group *g = group_find(st);
	g->lazy = ++g->issued;
	stats.lazy_commits++;
	st->lazy_ticket = g->lazy;
	st->lazy_group = g;
	if (g->lazy_since_ms == 0) {
		g->lazy_since_ms = store_mono_ms();
		pthread_cond_signal(&keeper_wake);
	}
	pthread_mutex_unlock(&groups_lock);
}

int
store_wal_sync_lazy(struct store *st, const char **error_r)
{
	if (st->lazy_ticket == 0)
		return STORE_OK;
	pthread_mutex_lock(&groups_lock);
	bool synced = st->lazy_group->synced >= st->lazy_ticket;
	pthread_mutex_unlock(&groups_lock);
	if (synced) {
		st->lazy_ticket = 0;
		return STORE_OK;
	}
	return store_wal_sync(st, error_r);
}

/* sqlite3_wal_hook(): after every commit of st's connection, in place of
 * SQLite's auto-checkpoint (which would run the checkpoint on this
 * thread, before this session's answer). */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;
	(void)db;
	(void)name;
	if (__atomic_load_n(&brief, __ATOMIC_RELAXED)) {
		/* only for frames of its own: a big run checkpoints as it
		 * goes, a small one leaves the daemon's frames alone (racing
		 * threads may only move the base a little) */
		int base = __atomic_load_n(&brief_base, __ATOMIC_RELAXED);
		if (base < 0 || pages < base) {
			__atomic_store_n(&brief_base, pages, __ATOMIC_RELAXED);
			return SQLITE_OK;
		}
		if (pages - base < WAL_BRIEF_PAGES)
			return SQLITE_OK;
	} else if (pages < WAL_CHECKPOINT_PAGES) {
		return SQLITE_OK;
	}
	const char *error;
	if (wal_open(st, &error) != 0)
		return SQLITE_OK;
	pthread_mutex_lock(&groups_lock);
	keeper_need();
	struct wal_group *g = group_find(st);
	if (!g->checkpoint) {
		g->checkpoint = true;
		pthread_cond_signal(&keeper_wake);
	}
	pthread_mutex_unlock(&groups_lock);
	return SQLITE_OK;
}

void
store_wal_attach(struct store *st)
{
	sqlite3_wal_hook(st->db, wal_hook, st);
}

void
store_wal_stats(struct store_wal_stats *stats_r)
{
	pthread_mutex_lock(&groups_lock);
	*stats_r = stats;
	pthread_mutex_unlock(&groups_lock);
}

void
store_wal_close(struct store *st)
{
	if (st->wal_fd >= 0)
		close(st->wal_fd);
	st->wal_fd = -1;
	free(st->wal_path);
	st->wal_path = NULL;
	st->lazy_group = NULL;
	st->lazy_ticket = 0;
}

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
 * Groups are kept per WAL file (device and inode), since a process may have
 * several databases open (the unit tests do).  This module owns the group
 * table and its lock; nothing else touches them.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct wal_group {
	dev_t dev;
	ino_t ino;
	uint64_t issued;	/* tickets handed out */
	uint64_t synced;	/* every ticket up to this one is on disk */
	bool busy;		/* a thread is in fdatasync() for the group */
};

/* The groups (one per WAL file ever synced; a handful at most). */
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t groups_synced = PTHREAD_COND_INITIALIZER;
static struct wal_group *groups;
static size_t n_groups, cap_groups;
static struct store_wal_stats stats;

static struct wal_group *
group_find(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i].dev == dev && groups[i].ino == ino)
			return &groups[i];
	if (n_groups == cap_groups) {
		cap_groups = cap_groups == 0 ? 4 : cap_groups * 2;
		groups = xreallocarray(groups, cap_groups, sizeof *groups);
	}
	struct wal_group *g = &groups[n_groups++];
	memset(g, 0, sizeof *g);
	g->dev = dev;
	g->ino = ino;
	return g;
}

/*
 * Makes st->wal_fd a descriptor of the current WAL file.  SQLite removes
 * the WAL when its last connection closes (after a checkpoint that synced
 * the database), and a later writer makes a new one, so the file is looked
 * up by name each time.  0, 1 when there is no WAL (nothing to sync: it was
 * checkpointed into the database and removed), -1 on error.
 */
static int
wal_open(struct store *st, struct stat *st_r, const char **error_r)
{
	if (st->wal_path == NULL)
		st->wal_path = xasprintf("%s/mailhub.db-wal", st->data_dir);
	if (stat(st->wal_path, st_r) < 0) {
		if (errno == ENOENT)
			return 1;
		*error_r = errfmt("cannot stat %s: %s", st->wal_path,
				  strerror(errno));
		return -1;
	}
	if (st->wal_fd >= 0 && st->wal_dev == st_r->st_dev &&
	    st->wal_ino == st_r->st_ino)
		return 0;
	if (st->wal_fd >= 0)
		close(st->wal_fd);
	st->wal_fd = open(st->wal_path, O_RDONLY | O_CLOEXEC);
	if (st->wal_fd < 0) {
		if (errno == ENOENT)
			return 1;
		*error_r = errfmt("cannot open %s: %s", st->wal_path,
				  strerror(errno));
		return -1;
	}
	struct stat sb;
	if (fstat(st->wal_fd, &sb) < 0) {
		*error_r = errfmt("cannot stat %s: %s", st->wal_path,
				  strerror(errno));
		return -1;
	}
	*st_r = sb;
	st->wal_dev = sb.st_dev;
	st->wal_ino = sb.st_ino;
	return 0;
}

int
store_wal_sync(struct store *st, const char **error_r)
{
	struct stat sb;
	int r = wal_open(st, &sb, error_r);
	if (r != 0) {
		if (r > 0)
			return STORE_OK;
		log_error("store: %s", *error_r);
		return STORE_ERROR;
	}

	int ret = STORE_OK;
	pthread_mutex_lock(&groups_lock);
	struct wal_group *g = group_find(st->wal_dev, st->wal_ino);
	uint64_t ticket = ++g->issued;
	stats.commits++;
	while (g->synced < ticket) {
		if (g->busy) {
			/* a flush is under way; it may have begun before this
			 * commit's frames were written, so look again after */
			pthread_cond_wait(&groups_synced, &groups_lock);
			/* groups may have moved (xreallocarray) */
			g = group_find(st->wal_dev, st->wal_ino);
			continue;
		}
		g->busy = true;
		uint64_t upto = g->issued;
		stats.syncs++;
		pthread_mutex_unlock(&groups_lock);
		int rc = fdatasync(st->wal_fd);
		int err = errno;
		pthread_mutex_lock(&groups_lock);
		g = group_find(st->wal_dev, st->wal_ino);
		g->busy = false;
		pthread_cond_broadcast(&groups_synced);
		if (rc < 0) {
			/* the kernel may have dropped the pages it could not
			 * write: this commit is not known to be durable */
			*error_r = errfmt("cannot sync %s: %s", st->wal_path,
					  strerror(err));
			log_error("store: %s", *error_r);
			ret = STORE_ERROR;
			break;
		}
		if (upto > g->synced)
			g->synced = upto;
	}
	pthread_mutex_unlock(&groups_lock);
	return ret;
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
}

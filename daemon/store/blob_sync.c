/*
 * blob_sync: the syncs of the blob folders and of the files linked into
 * them before their bytes were synced (blob_writer_link()), shared among
 * deliveries, run by the syncer thread (see blob_sync.h).
 */
#include "store/blob_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/store_int.h"

/*
 * Folder syncs, shared and started early (blob_writer_link()).
 *
 * A link into blobs/XX is durable once the folder has been fsynced after
 * it.  A file linked before its bytes were synced (blob_writer_link(), or
 * a held file another writer linked so) is synced by the same round, just
 * before the folder: on a journalled filesystem the first such fsync
 * commits the links and the bytes together, and what follows finds
 * nothing left to write (one journal commit where a sync before the link
 * and one after made two, in series).  Each link takes a ticket of its folder's group; one fsync covers
 * every ticket issued before it began (the links are done), so deliveries
 * into the same folder at once share it, as walsync.c's WAL flushes are
 * shared.  The syncer thread starts the fsync as soon as a link asks for
 * it, so that it runs while the delivery does its other work (its Sieve
 * script, its transaction, the WAL's flush); the delivery waits for it
 * only before it answers (blob_writer_wait_name()), and does the fsync
 * itself when the syncer has not started it yet.  A failed fsync fails
 * every ticket it was to cover (a later successful one covers tickets
 * issued before it too).  A link whose delivery will not wait (its bytes
 * are in its record, sql/056) is synced later, with the others of that
 * while, in one pass (syncer_main()); its record is deleted once that
 * pass succeeded.  The groups (one per folder ever linked into:
 * 256 per data directory at most) are never freed and never move.
 */

/* A record of sql/056 whose blob's file and name a round's fsyncs make
 * durable (its ticket): deleted by a later transaction once they did
 * (store_name_pending_durable()), kept for the next start when they
 * failed. */
struct dir_record {
	uint64_t ticket;
	int64_t id;
	char *blob_dir;		/* of its database (owned) */
	char hash[SHA256_HEX_LEN + 1];
};

struct dir_group {
	char *path;
	uint64_t issued;	/* tickets handed out */
	uint64_t synced;	/* every ticket up to this one is durable */
	uint64_t failed;	/* a failed fsync was to cover tickets up to this */
	int err;		/* its errno */
	bool busy;		/* a thread is in fsync() of the folder */
	bool queued;		/* in the syncer's queue */
	bool urgent;		/* a link owed a round whose delivery waits for it */
	bool in_pass;		/* busy in the syncer's pass (syncer_pass()) */
	int fs_fd;		/* its filesystem's (pass_fs_fd(); not owned), -1 none,
				 * -2 not looked up yet */
	/* the files linked into it whose bytes are not known to be durable
	 * (blob_writer_link()): descriptors of their own, fsynced by the
	 * next round before the folder, so that its tickets cover them;
	 * those of the round under way while busy */
	struct unsynced_file *files, *round_files;
	size_t n_files, cap_files, n_round_files;
	/* the records waiting for a round of this folder, in ticket order */
	struct dir_record *records;
	size_t n_records, cap_records;
	struct dir_group *next;		/* same bucket */
	struct dir_group *next_due;	/* the syncer's queue */
};

#define DIR_BUCKETS 512
static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dirs_synced = PTHREAD_COND_INITIALIZER;
static pthread_cond_t syncer_wake = PTHREAD_COND_INITIALIZER;
static struct dir_group *dir_buckets[DIR_BUCKETS];
static struct dir_group *due_head, *due_tail;
static pid_t syncer_pid;	/* the syncer runs in this process (fork: not in a child) */
/* When the first link nobody waits for was queued (ms, CLOCK_MONOTONIC;
 * 0: none in the queue), see syncer_main(). */
static int64_t lazy_since;
static struct blob_sync_stats sync_stats;

/* Under dirs_lock: the group of folder path, made on first use. */
/* A descriptor of each filesystem the syncer's passes sync, opened by its
 * first pass and kept: syncfs(2) reports the writeback errors of the
 * filesystem since the descriptor's last syncfs (or its opening), so one
 * opened afresh for each pass would miss an error of a write that the
 * kernel flushed on its own in between (syncer_pass()). */
#define PASS_FS_MAX 16
static struct pass_fs {
	dev_t dev;
	int fd;
} pass_fs[PASS_FS_MAX];
static size_t n_pass_fs;

/* Under dirs_lock: the kept descriptor of the filesystem of folder path,
 * opened now if it is the first of its filesystem; -1 when there is none
 * (the folder's rounds then fsync its files and itself). */
static int
pass_fs_fd(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return -1;
	for (size_t i = 0; i < n_pass_fs; i++)
		if (pass_fs[i].dev == sb.st_dev)
			return pass_fs[i].fd;
	if (n_pass_fs == PASS_FS_MAX)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	pass_fs[n_pass_fs++] = (struct pass_fs){ sb.st_dev, fd };
	return fd;
}

static struct dir_group *
dir_group_find(const char *path)
{
	uint32_t h = 2166136261u;
	for (const char *p = path; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct dir_group **b = &dir_buckets[h % DIR_BUCKETS];
	for (struct dir_group *g = *b; g != NULL; g = g->next)
		if (strcmp(g->path, path) == 0)
			return g;
	struct dir_group *g = xcalloc(1, sizeof *g);
	g->path = xstrdup(path);
	g->fs_fd = -2;	/* looked up by its first pass */
	g->next = *b;
	*b = g;
	return g;
}

/* Recorded writers whose round has not settled their record yet: past
 * RECORDS_BEHIND_MAX, a delivery records no bytes and waits for its own
 * fsyncs, as before (blob_writer_bytes()), so that a syncer that falls
 * behind (a slow disk, a starved thread) slows the deliveries down
 * rather than piling up records, and descriptors of files to sync. */
#define RECORDS_BEHIND_MAX 256
static atomic_int records_behind;

/* Under dirs_lock: the record r settled by the round that covered its
 * ticket (ok: its fsyncs succeeded). */
static void
dir_record_settle(struct dir_record *r, bool ok, int e)
{
	atomic_fetch_sub(&records_behind, 1);
	if (ok)
		store_name_pending_durable(r->blob_dir, r->id);
	else
		log_error("store: cannot make blob %s durable: %s (its bytes stay in the "
			  "database, and the next start writes it out)", r->hash, strerror(e));
	free(r->blob_dir);
	r->blob_dir = NULL;
}

static bool syncer_need(void);

/* Under dirs_lock: g in the syncer's queue (lazy: no delivery waits for
 * its round, see syncer_main()), unless it is there or there is no syncer. */
static void
dir_queue(struct dir_group *g, bool lazy)
{
	if (!lazy)
		g->urgent = true;
	if (g->queued || !syncer_need()) {
		if (!lazy)
			pthread_cond_signal(&syncer_wake);	/* out of its lazy wait */
		return;
	}
	g->queued = true;
	g->next_due = NULL;
	if (due_tail != NULL)
		due_tail->next_due = g;
	else
		due_head = g;
	due_tail = g;
	if (lazy && lazy_since == 0)
		lazy_since = store_mono_ms();
	pthread_cond_signal(&syncer_wake);
}

/* Under dirs_lock: g taken for a round (busy) up to its tickets issued so
 * far; its files to sync are returned (*n_r of them, the caller's). */
static struct unsynced_file *
dir_round_begin(struct dir_group *g, uint64_t *upto_r, size_t *n_r)
{
	g->busy = true;
	g->urgent = false;
	*upto_r = g->issued;
	struct unsynced_file *files = g->files;
	*n_r = g->n_files;
	g->round_files = files;
	g->n_round_files = g->n_files;
	g->files = NULL;
	g->n_files = g->cap_files = 0;
	return files;
}

/* Under dirs_lock: the round of g up to upto ended (rc 0, or -1 and
 * errno e): its tickets and its records settled. */
static void
dir_round_end(struct dir_group *g, uint64_t upto, struct unsynced_file *files, int rc, int e)
{
	g->busy = false;
	g->round_files = NULL;
	g->n_round_files = 0;
	free(files);
	if (rc < 0) {
		if (upto > g->failed)
			g->failed = upto;
		g->err = e;
	} else if (upto > g->synced) {
		g->synced = upto;
	}
	/* the records this round covered, its outcome theirs */
	size_t kept = 0;
	for (size_t i = 0; i < g->n_records; i++) {
		if (g->records[i].ticket <= upto)
			dir_record_settle(&g->records[i], rc == 0, e);
		else
			g->records[kept++] = g->records[i];
	}
	g->n_records = kept;
	/* records of links after this round began: a round of their own */
	if (kept > 0)
		dir_queue(g, true);
	pthread_cond_broadcast(&dirs_synced);
}

/* Under dirs_lock: one fsync of g's folder, covering every ticket issued
 * so far (the lock is let go meanwhile). */
static void
dir_sync_round(struct dir_group *g, bool by_syncer)
{
	uint64_t upto;
	size_t n_files;
	struct unsynced_file *files = dir_round_begin(g, &upto, &n_files);
	sync_stats.folder_syncs++;
	if (!by_syncer)
		sync_stats.folder_syncs_inline++;
	pthread_mutex_unlock(&dirs_lock);
	int rc = 0, e = 0;
	for (size_t i = 0; i < n_files; i++) {
		/* every one, even past a failure: each is closed */
		if (rc == 0 && blob_fsync_fn(files[i].fd) < 0) {
			rc = -1;
			e = errno;
		}
		close(files[i].fd);
	}
	if (rc == 0) {
		int fd = open(g->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = fd < 0 ? -1 : blob_fsync_fn(fd);
		e = errno;
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_lock(&dirs_lock);
	dir_round_end(g, upto, files, rc, e);
}

/*
 * Under dirs_lock: the rounds of every group in the syncer's queue at
 * once, when no delivery waits for any (their links' bytes are in their
 * records): one syncfs(2) of their filesystem instead of an fsync per
 * file and folder.  Those fsyncs, one after another, each made a journal
 * commit of its own and could not keep up with the deliveries; syncfs
 * writes every dirty file out and commits once.  It also waits for what
 * other programs wrote, but no delivery waits for this pass: a link
 * whose delivery waits gets an fsync round of its own, at once, and one
 * that comes into a folder of the pass syncs its file and folder itself
 * (dir_sync_wait()).  Since
 * Linux 5.8 it reports a writeback error of the filesystem.
 */
static void
syncer_pass(void)
{
	size_t n = 0;
	for (struct dir_group *g = due_head; g != NULL; g = g->next_due)
		n++;
	struct pass_group {
		struct dir_group *g;
		uint64_t upto;
		struct unsynced_file *files;
		size_t n_files;
		int fd, rc, e;
	} *pass = xcalloc(n + 1, sizeof *pass);
	size_t k = 0;
	while (due_head != NULL) {
		struct dir_group *g = due_head;
		due_head = g->next_due;
		g->queued = false;
		/* one a waiter is syncing: its round's end queues what is left */
		if (g->busy || g->synced >= g->issued)
			continue;
		if (g->fs_fd == -2)
			g->fs_fd = pass_fs_fd(g->path);
		if (g->fs_fd < 0) {
			/* no descriptor of its filesystem: a round of its own */
			dir_sync_round(g, true);
			continue;
		}
		pass[k].g = g;
		g->in_pass = true;
		pass[k].fd = g->fs_fd;
		pass[k].files = dir_round_begin(g, &pass[k].upto, &pass[k].n_files);
		k++;
	}
	due_tail = NULL;
	sync_stats.folder_syncs++;
	pthread_mutex_unlock(&dirs_lock);
	for (size_t i = 0; i < k; i++) {
		struct pass_group *p = &pass[i];
		/* once per filesystem (a process may have several data
		 * directories: the unit tests), its outcome every group's */
		size_t j = 0;
		while (j < i && pass[j].fd != p->fd)
			j++;
		if (j < i) {
			p->rc = pass[j].rc;
			p->e = pass[j].e;
		} else if (blob_syncfs_fn(p->fd) < 0) {
			p->rc = -1;
			p->e = errno;
		}
		for (size_t f = 0; f < p->n_files; f++)
			close(p->files[f].fd);
	}
	pthread_mutex_lock(&dirs_lock);
	for (size_t i = 0; i < k; i++) {
		pass[i].g->in_pass = false;
		dir_round_end(pass[i].g, pass[i].upto, pass[i].files, pass[i].rc, pass[i].e);
	}
	free(pass);
}

/* Under dirs_lock: whether a group in the syncer's queue has a link whose
 * delivery waits for its round. */
static bool
syncer_urgent(void)
{
	for (struct dir_group *g = due_head; g != NULL; g = g->next_due)
		if (g->urgent)
			return true;
	return false;
}

/*
 * The syncer: starts the fsync of each folder linked into.  At once for a
 * link whose delivery will wait for it; a link whose bytes go into its
 * record (blob_writer_bytes(): nobody waits) is left up to SYNCER_LAZY_MS,
 * so that the links of that while share one pass: its first fsync commits
 * the filesystem's journal with every file and name of the pass, and the
 * others find little left to do.  One commit per link, in the background,
 * kept the journal as busy as before, and the WAL's flushes before the
 * 250s queued behind those commits.
 */
#define SYNCER_LAZY_MS 50

static void *
syncer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&dirs_lock);
	for (;;) {
		while (due_head == NULL) {
			lazy_since = 0;
			pthread_cond_wait(&syncer_wake, &dirs_lock);
		}
		int64_t wait_ms = lazy_since + SYNCER_LAZY_MS - store_mono_ms();
		if (lazy_since != 0 && wait_ms > 0 && !syncer_urgent()) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&syncer_wake, &dirs_lock, &until);
			continue;
		}
		/* from now on the queue is drained, whatever comes meanwhile */
		lazy_since = 0;
		if (!syncer_urgent()) {
			syncer_pass();
			continue;
		}
		struct dir_group *g = due_head;
		due_head = g->next_due;
		if (due_head == NULL)
			due_tail = NULL;
		g->queued = false;
		/* a waiter may have done it already, or be doing it (then
		 * its own waiters go on waiting for it, and the next round
		 * is theirs or ours when the link came after it began) */
		if (g->synced < g->issued && !g->busy)
			dir_sync_round(g, true);
	}
	return NULL;
}

/* Under dirs_lock: the syncer started in this process if it is not;
 * false when it cannot be (the waiters then sync themselves). */
static bool
syncer_need(void)
{
	if (syncer_pid == getpid())
		return true;
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	int err = pthread_create(&t, &attr, syncer_main, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		/* said once: every link would ask again */
		static bool warned;
		if (!warned)
			log_warning("store: cannot start the folder syncer thread: %s "
				    "(deliveries sync their folders themselves)", strerror(err));
		warned = true;
		return false;
	}
	/* a child of fork() has its own (empty) queue, and no fsync of
	 * the parent's threads under way */
	due_head = due_tail = NULL;
	for (size_t i = 0; i < DIR_BUCKETS; i++)
		for (struct dir_group *g = dir_buckets[i]; g != NULL; g = g->next)
			g->queued = g->busy = false;
	syncer_pid = getpid();
	return true;
}

/* A ticket of folder path, after a link into it: its fsync started.
 * file: a file linked into it to be synced with it (fd a descriptor of
 * its own, taken), or fd -1. */
struct dir_group *
dir_sync_start(const char *path, struct unsynced_file file, bool lazy, uint64_t *ticket_r)
{
	pthread_mutex_lock(&dirs_lock);
	struct dir_group *g = dir_group_find(path);
	if (file.fd >= 0) {
		if (g->n_files == g->cap_files) {
			g->cap_files = g->cap_files == 0 ? 8 : g->cap_files * 2;
			g->files = xreallocarray(g->files, g->cap_files, sizeof *g->files);
		}
		g->files[g->n_files++] = file;
	}
	*ticket_r = ++g->issued;
	sync_stats.links++;
	dir_queue(g, lazy);
	pthread_mutex_unlock(&dirs_lock);
	return g;
}

/* Whether the file (dev, ino) named in folder path was linked before its
 * bytes were synced and its sync is still to come or under way.  Only this
 * process links so (the daemon's SMTP deliveries): a file of another's,
 * or from before a restart, was synced before it was named, or read back
 * whole from the disk after a crash (hold_existing() checks it). */
bool
dir_file_unsynced(const char *path, dev_t dev, ino_t ino)
{
	pthread_mutex_lock(&dirs_lock);
	struct dir_group *g = dir_group_find(path);
	bool found = false;
	for (size_t i = 0; i < g->n_files && !found; i++)
		found = g->files[i].dev == dev && g->files[i].ino == ino;
	for (size_t i = 0; i < g->n_round_files && !found; i++)
		found = g->round_files[i].dev == dev && g->round_files[i].ino == ino;
	pthread_mutex_unlock(&dirs_lock);
	return found;
}

/* Waits until ticket of g is durable; 0, or the errno of the fsync that
 * failed to make it so. */
int
dir_sync_wait(struct dir_group *g, uint64_t ticket, int fd)
{
	int ret = 0;
	pthread_mutex_lock(&dirs_lock);
	while (g->synced < ticket) {
		if (g->failed >= ticket) {
			ret = g->err != 0 ? g->err : EIO;
			break;
		}
		if (g->busy && g->in_pass && fd >= 0) {
			/* the syncer's syncfs may wait for much that others
			 * wrote: the file and its name synced here instead */
			pthread_mutex_unlock(&dirs_lock);
			int dfd = open(g->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (blob_fsync_fn(fd) < 0 || dfd < 0 || blob_fsync_fn(dfd) < 0)
				ret = errno != 0 ? errno : EIO;
			if (dfd >= 0)
				close(dfd);
			return ret;
		}
		if (g->busy) {
			/* under way; it may have begun before this link */
			sync_stats.waits++;
			pthread_cond_wait(&dirs_synced, &dirs_lock);
			continue;
		}
		dir_sync_round(g, false);
	}
	pthread_mutex_unlock(&dirs_lock);
	return ret;
}

void
blob_sync_stats(struct blob_sync_stats *stats_r)
{
	pthread_mutex_lock(&dirs_lock);
	*stats_r = sync_stats;
	pthread_mutex_unlock(&dirs_lock);
}

bool
blob_sync_can_defer(void)
{
	pthread_mutex_lock(&dirs_lock);
	bool syncer = syncer_pid == getpid();
	pthread_mutex_unlock(&dirs_lock);
	return syncer && atomic_load(&records_behind) < RECORDS_BEHIND_MAX;
}

void
blob_sync_deferred(void)
{
	atomic_fetch_add(&records_behind, 1);
}

void
blob_sync_record(struct dir_group *g, uint64_t ticket, int64_t id, const char *blob_dir,
		 const char hash[SHA256_HEX_LEN + 1])
{
	struct dir_record r = { .ticket = ticket, .id = id, .blob_dir = xstrdup(blob_dir) };
	memcpy(r.hash, hash, sizeof r.hash);
	pthread_mutex_lock(&dirs_lock);
	if (ticket == 0 || (g->synced >= ticket && g->failed < ticket)) {
		dir_record_settle(&r, true, 0);
	} else if (g->failed >= ticket) {
		dir_record_settle(&r, false, g->err != 0 ? g->err : EIO);
	} else {
		if (g->n_records == g->cap_records) {
			g->cap_records = g->cap_records == 0 ? 8 : g->cap_records * 2;
			g->records = xreallocarray(g->records, g->cap_records, sizeof *g->records);
		}
		g->records[g->n_records++] = r;
		/* a round to come for it (the last one may have been a
		 * waiter's, begun before its link, that the syncer left) */
		if (!g->busy)
			dir_queue(g, true);
	}
	pthread_mutex_unlock(&dirs_lock);
}

const char *
blob_sync_group_path(const struct dir_group *g)
{
	return g->path;
}

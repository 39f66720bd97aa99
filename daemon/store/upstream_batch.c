/*
 * upstream_batch: fetched messages made durable and delivered many at a
 * time (see upstreams.h).
 *
 * Fetching thousands of messages one fsync at a time spends its life
 * waiting for the disk (a blob file, its folder, the WAL: three flushes per
 * message).  Here a batch of messages is made durable in two steps (the
 * files' data, then the renames into blobs/XX/HASH and any new folder)
 * and one SQLite transaction for every row.  A batch of up to
 * BATCH_OWN_SYNC_MAX messages fsyncs its own files, then their folders
 * (and the files named, which may be another writer's not synced yet), up
 * to BATCH_SYNC_THREADS at once: the journal commits of concurrent fsyncs
 * are shared.  syncfs(2) of the whole filesystem was faster on a quiet disk
 * (50 files: 17 ms against 51 ms, medians on a loop ext4) but waits for
 * every other program's dirty data: with a loop of dd writing beside it,
 * 4.4 s against 0.9 s.  A larger batch (a first sync) keeps the two
 * syncfs calls, as its own files are most of what is dirty.
 *
 * Such a small batch whose every message is still in memory (each at most
 * BLOB_RECORD_MAX: most mail, and what an incremental sync brings) waits
 * for none of these fsyncs: its messages' bytes go into records of
 * sql/056 in the transaction of its rows, whose durable commit makes them
 * durable, as an SMTP delivery's small message (store/blob.h).  Its files
 * are written and named before the rows commit, as always, so readers find
 * them; their fsyncs come after, from store_upstream_batch_settle(), which
 * the fetcher's committer thread runs while the fetch goes on (the next
 * commit of the batch, or its free, runs it at the latest), and then the
 * records go.  A crash before leaves the records, and `mailhub serve` and
 * fsck write their files out again (store_names_pending_restore()).
 *
 * The fetcher receives the next batch while this one commits (on another
 * thread, fetch/commit.c), so the work on files is done at commit where it
 * can: a message that fits the write buffer (most mail) stays in memory
 * until then, up to BATCH_MEMORY_MAX bytes for the batch; a larger one
 * goes to its temporary file under blobs/tmp/ as it arrives, exactly as
 * blob.c names and protects them.  Each message is also parsed for its
 * IMAP cache (ENVELOPE, BODYSTRUCTURE) at commit, from memory or from its
 * just-written file, never inside the transaction: the rows get the
 * strings in their INSERT (through st->append_cache, see messages.c).
 *
 * The guarantees of blob.c hold: a row is committed only after its blob is
 * durable, and an existing blob is kept and touched (its mtime) so that
 * store_blob_gc() cannot take it before the row commits.  The blobs are
 * named under SQLite's write lock, taken before the first rename and kept
 * until the rows commit, so that no refusal elsewhere can remove one of
 * them meanwhile (store/blob.h); what the batch placed and did not deliver
 * (the rest after an over-quota message, or everything when the commit
 * fails) is removed again unless it is shared.  A crash anywhere leaves at
 * worst temporary or unreferenced blob files, which fsck and gc remove;
 * nothing is recorded as fetched unless its row is committed.
 *
 * A full disk is STORE_NOSPACE with words for the account's last error
 * (the paths go to the log only).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "mail/mime.h"
#include "store/blob.h"
#include "store/store_int.h"
#include "store/upstreams.h"

/* Bytes buffered before a write(2); a message no larger stays in memory
 * until commit, while the batch holds no more than BATCH_MEMORY_MAX. */
#define BATCH_WRITE_BUF 65536
#define BATCH_MEMORY_MAX (8 * 1024 * 1024)
/* A batch this large or smaller syncs its own files (see above), with up
 * to this many fsyncs at once. */
#define BATCH_OWN_SYNC_MAX 256
#define BATCH_SYNC_THREADS 8

struct batch_item {
	char *tmp_path;			/* its temporary file, or NULL: in data */
	char *data;
	char hash[SHA256_HEX_LEN + 1];
	uint64_t size;
	struct upstream_delivery d;	/* strings owned (copied) */
	struct store_imap_cache cache;
	void *extra;			/* the rows function's own record, or NULL */
};

struct upstream_batch {
	struct store *st;
	struct batch_item *items;
	size_t n, cap;
	size_t memory;			/* bytes of the items' data */
	char tmp_prefix[33];		/* of its temporary files' names */
	uint64_t tmp_counter;
	size_t prepared;		/* items whose file work is done */
	bool dir_made;			/* place() made a blobs/XX folder */
	bool failed;			/* that work failed: the batch is lost */
	int failed_status;		/* how (STORE_NOSPACE, STORE_ERROR) */
	char error[256];		/* why (outlives items_clear()) */
	upstream_batch_rows_fn *rows;	/* the rows of one message (NULL:
					 * store_upstream_deliver_tx) */
	void (*extra_free)(void *extra);
	/* the last commit's messages recorded with their bytes (sql/056):
	 * the files and folders to fsync, then their records to delete */
	char **settle_paths;
	size_t n_settle_paths;
	int64_t *records;
	size_t n_records;
	bool recorded;			/* records made: free deletes the synced */
	/* the message being received */
	bool begun;
	int fd;				/* its file once it outgrew buf, or -1 */
	char *tmp_path;
	struct sha256_ctx *sha;
	uint64_t size, max_size;
	bool over;
	char *buf;
	size_t buffered;
};

static const char SQL_SAVEPOINT[] = "SAVEPOINT upstream_message";
static const char SQL_RELEASE[] = "RELEASE upstream_message";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO upstream_message";

int
store_upstream_batch_new(struct store *st, struct upstream_batch **b_r)
{
	struct upstream_batch *b = xcalloc(1, sizeof *b);
	b->st = st;
	b->fd = -1;
	b->buf = xmalloc(BATCH_WRITE_BUF);
	*b_r = b;
	return STORE_OK;
}

void
store_upstream_batch_set_rows(struct upstream_batch *b, upstream_batch_rows_fn *rows,
			      void (*extra_free)(void *extra))
{
	b->rows = rows;
	b->extra_free = extra_free;
}

size_t
store_upstream_batch_count(const struct upstream_batch *b)
{
	return b->n;
}

static void
message_drop(struct upstream_batch *b)
{
	b->begun = false;
	if (b->fd >= 0) {
		close(b->fd);
		b->fd = -1;
	}
	if (b->tmp_path != NULL) {
		if (unlink(b->tmp_path) < 0 && errno != ENOENT)
			log_error("store: cannot remove %s: %s", b->tmp_path, strerror(errno));
		xfree(b->tmp_path);
	}
	if (b->sha != NULL) {
		char dummy[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&b->sha, dummy);
	}
	b->buffered = 0;
}

int
store_upstream_batch_begin(struct upstream_batch *b, uint64_t max_size,
			   const char **error_r)
{
	(void)error_r;
	message_drop(b);
	b->begun = true;
	b->sha = sha256_new();
	b->size = 0;
	b->max_size = max_size;
	b->over = false;
	b->buffered = 0;
	return STORE_OK;
}

/* A failed file operation: STORE_NOSPACE with plain words when the disk
 * is full (they become the account's last error), else STORE_ERROR. */
static int
io_failed(const char *what, const char *path, int e, const char **error_r)
{
	int ret = blob_errno_status(e);
	if (ret == STORE_NOSPACE) {
		log_error("store: cannot %s %s: %s", what, path, strerror(e));
		*error_r = "the server's disk is full";
	} else {
		*error_r = errfmt("cannot %s %s: %s", what, path, strerror(e));
	}
	return ret;
}

/* A new temporary file in *fd_r, as blob.c makes them: a name no one can
 * guess or have taken (O_EXCL), read-only from the start.  One random
 * prefix per batch and a counter, not 16 random bytes per message. */
static int
tmp_create(struct upstream_batch *b, char **path_r, int *fd_r, const char **error_r)
{
	if (b->tmp_prefix[0] == '\0') {
		unsigned char rnd[16];
		random_bytes(rnd, sizeof rnd);
		hex_encode(rnd, sizeof rnd, b->tmp_prefix);
	}
	char *path = xasprintf("%s/tmp/%s-%llu.tmp", b->st->blob_dir, b->tmp_prefix,
			       (unsigned long long)b->tmp_counter++);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, STORE_BLOB_MODE);
	/* open() applies the umask: the mode is meant exactly */
	if (fd < 0 || fchmod(fd, STORE_BLOB_MODE) < 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		int ret = io_failed("create", path, e, error_r);
		free(path);
		return ret;
	}
	*path_r = path;
	*fd_r = fd;
	return STORE_OK;
}

static int
write_all(int fd, const char *p, size_t n, const char *path, const char **error_r)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return io_failed("write", path, w < 0 ? errno : EIO, error_r);
		done += (size_t)w;
	}
	return STORE_OK;
}

/* The buffered bytes to the message's file, made now when it has none. */
static int
flush_buf(struct upstream_batch *b, const char **error_r)
{
	int ret;
	if (b->fd < 0 && (ret = tmp_create(b, &b->tmp_path, &b->fd, error_r)) != STORE_OK)
		return ret;
	if ((ret = write_all(b->fd, b->buf, b->buffered, b->tmp_path, error_r)) != STORE_OK)
		return ret;
	b->buffered = 0;
	return STORE_OK;
}

int
store_upstream_batch_write(struct upstream_batch *b, const void *p, size_t n,
			   const char **error_r)
{
	if (!b->begun) {
		*error_r = "no message begun";
		return STORE_ERROR;
	}
	b->size += n;
	if (b->over || (b->max_size != 0 && b->size > b->max_size)) {
		b->over = true;
		*error_r = "message too large";
		return STORE_INVALID;
	}
	sha256_update(b->sha, p, n);
	const char *s = p;
	while (n > 0) {
		size_t k = BATCH_WRITE_BUF - b->buffered;
		if (k > n)
			k = n;
		memcpy(b->buf + b->buffered, s, k);
		b->buffered += k;
		s += k;
		n -= k;
		int ret;
		if (b->buffered == BATCH_WRITE_BUF && (ret = flush_buf(b, error_r)) != STORE_OK)
			return ret;
	}
	return STORE_OK;
}

/* A descriptor reading the file at path from its start. */
static int
open_read(const char *path, int *fd_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_failed("open", path, errno, error_r);
	*fd_r = fd;
	return STORE_OK;
}

int
store_upstream_batch_message_open(struct upstream_batch *b, int *fd_r, uint64_t *size_r,
				  const char **error_r)
{
	if (!b->begun || b->over) {
		*error_r = b->over ? "message too large" : "no message begun";
		return b->over ? STORE_INVALID : STORE_ERROR;
	}
	int ret;
	if (b->fd >= 0) {
		/* its file, complete once the buffer is written */
		if ((ret = flush_buf(b, error_r)) != STORE_OK)
			return ret;
		if ((ret = open_read(b->tmp_path, fd_r, error_r)) != STORE_OK)
			return ret;
	} else {
		/* in memory: a copy no one else sees, gone with its descriptor */
		int fd = memfd_create("mailhub-upstream-message", MFD_CLOEXEC);
		if (fd < 0)
			return io_failed("create", "a memory file", errno, error_r);
		if ((ret = write_all(fd, b->buf, b->buffered, "a memory file", error_r)) !=
			    STORE_OK ||
		    (lseek(fd, 0, SEEK_SET) < 0 &&
		     (ret = io_failed("seek", "a memory file", errno, error_r)) != STORE_OK)) {
			close(fd);
			return ret;
		}
		*fd_r = fd;
	}
	*size_r = b->size;
	return STORE_OK;
}

int
store_upstream_batch_prepend(struct upstream_batch *b, const char *p, size_t n,
			     const char **error_r)
{
	if (!b->begun || b->over) {
		*error_r = b->over ? "message too large" : "no message begun";
		return b->over ? STORE_INVALID : STORE_ERROR;
	}
	if (n == 0)
		return STORE_OK;
	char dummy[SHA256_HEX_LEN + 1];
	sha256_finish_hex(&b->sha, dummy);
	b->sha = sha256_new();
	sha256_update(b->sha, p, n);
	if (b->fd < 0 && b->buffered + n <= BATCH_WRITE_BUF) {
		/* in memory still: moved up in the buffer */
		memmove(b->buf + n, b->buf, b->buffered);
		memcpy(b->buf, p, n);
		b->buffered += n;
		b->size += n;
		sha256_update(b->sha, b->buf + n, b->buffered - n);
		return STORE_OK;
	}
	/* a new file: the fields, then the message as it stands */
	char *path = NULL;
	int fd = -1, in = -1, ret;
	if ((ret = tmp_create(b, &path, &fd, error_r)) != STORE_OK)
		return ret;
	if ((ret = write_all(fd, p, n, path, error_r)) != STORE_OK)
		goto fail;
	if (b->fd >= 0) {
		if ((ret = flush_buf(b, error_r)) != STORE_OK ||
		    (ret = open_read(b->tmp_path, &in, error_r)) != STORE_OK)
			goto fail;
		for (;;) {
			ssize_t r = read(in, b->buf, BATCH_WRITE_BUF);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				ret = io_failed("read", b->tmp_path, errno, error_r);
				goto fail;
			}
			if (r == 0)
				break;
			sha256_update(b->sha, b->buf, (size_t)r);
			if ((ret = write_all(fd, b->buf, (size_t)r, path, error_r)) != STORE_OK)
				goto fail;
		}
		close(in);
		in = -1;
		close(b->fd);
		if (unlink(b->tmp_path) < 0 && errno != ENOENT)
			log_error("store: cannot remove %s: %s", b->tmp_path, strerror(errno));
		free(b->tmp_path);
	} else {
		sha256_update(b->sha, b->buf, b->buffered);
		if ((ret = write_all(fd, b->buf, b->buffered, path, error_r)) != STORE_OK)
			goto fail;
		b->buffered = 0;
	}
	b->fd = fd;
	b->tmp_path = path;
	b->size += n;
	return STORE_OK;
fail:
	/* the message is lost: the caller aborts it */
	if (in >= 0)
		close(in);
	close(fd);
	unlink(path);
	free(path);
	return ret;
}

void
store_upstream_batch_abort_message(struct upstream_batch *b)
{
	message_drop(b);
}

static char *
dup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

int
store_upstream_batch_end(struct upstream_batch *b, const struct upstream_delivery *d,
			 const char **error_r)
{
	return store_upstream_batch_end_extra(b, d, NULL, error_r);
}

int
store_upstream_batch_end_extra(struct upstream_batch *b, const struct upstream_delivery *d,
			       void *extra, const char **error_r)
{
	if (!b->begun || b->over) {
		*error_r = b->over ? "message too large" : "no message begun";
		if (extra != NULL && b->extra_free != NULL)
			b->extra_free(extra);
		message_drop(b);
		return b->over ? STORE_INVALID : STORE_ERROR;
	}
	char *data = NULL;
	int ret = STORE_ERROR;
	if (b->fd < 0 && b->memory + b->buffered <= BATCH_MEMORY_MAX) {
		/* whole in the buffer: kept for commit */
		data = xmalloc(b->buffered + 1);
		memcpy(data, b->buf, b->buffered);
		data[b->buffered] = '\0';
		b->memory += b->buffered;
		b->buffered = 0;
	} else {
		if ((ret = flush_buf(b, error_r)) != STORE_OK)
			goto fail;
		int fd = b->fd;
		b->fd = -1;
		if (close(fd) < 0) {
			ret = io_failed("close", b->tmp_path, errno, error_r);
			goto fail;
		}
	}
	if (b->n == b->cap) {
		b->cap = b->cap == 0 ? 64 : b->cap * 2;
		b->items = xreallocarray(b->items, b->cap, sizeof *b->items);
	}
	struct batch_item *it = &b->items[b->n++];
	memset(it, 0, sizeof *it);
	sha256_finish_hex(&b->sha, it->hash);
	it->tmp_path = b->tmp_path;
	b->tmp_path = NULL;
	it->data = data;
	it->size = b->size;
	it->d = *d;
	it->d.blob = NULL;	/* set at commit: items may move when the array grows */
	it->d.size = b->size;
	it->d.raw_hash = dup0(d->raw_hash);
	it->d.dedupe_key = dup0(d->dedupe_key);
	it->d.folder = dup0(d->folder);
	it->d.uidl = dup0(d->uidl);
	it->d.keywords = dup0(d->keywords);
	it->extra = extra;
	extra = NULL;
	b->begun = false;
	return STORE_OK;
fail:
	if (extra != NULL && b->extra_free != NULL)
		b->extra_free(extra);
	message_drop(b);
	return ret;
}

static void
item_clear(struct upstream_batch *b, struct batch_item *it, bool unlink_tmp)
{
	if (it->extra != NULL && b->extra_free != NULL)
		b->extra_free(it->extra);
	if (it->tmp_path != NULL && unlink_tmp && unlink(it->tmp_path) < 0 && errno != ENOENT)
		log_error("store: cannot remove %s: %s", it->tmp_path, strerror(errno));
	free(it->tmp_path);
	free(it->data);
	free((char *)it->d.raw_hash);
	free((char *)it->d.dedupe_key);
	free((char *)it->d.folder);
	free((char *)it->d.uidl);
	free((char *)it->d.keywords);
	store_imap_cache_clear(&it->cache);
	memset(it, 0, sizeof *it);
}

static void
items_clear(struct upstream_batch *b, bool unlink_tmp)
{
	for (size_t i = 0; i < b->n; i++)
		item_clear(b, &b->items[i], unlink_tmp);
	b->n = 0;
	b->memory = 0;
	b->prepared = 0;
	b->failed = false;
	b->failed_status = STORE_OK;
}

/* syncfs(2) of the filesystem holding the blobs.  Since Linux 5.8 it
 * reports a writeback error of any file there since the last call: a
 * batch is then not acknowledged, even when the error was another's. */
static int
sync_blob_fs(struct upstream_batch *b, const char **error_r)
{
	int fd = open(b->st->blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || blob_syncfs_fn(fd) < 0) {
		int ret = io_failed("sync", b->st->blob_dir, errno, error_r);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	return STORE_OK;
}

/* fsyncs of paths, shared out among threads. */
struct sync_job {
	char **paths;
	size_t n;
	bool missing_ok;	/* a path gone (its blob removed since) is no failure */
	size_t next;		/* the next path to take */
	int err;		/* the first errno (0: none) */
	size_t failed;		/* its path */
};

static void *
sync_worker(void *arg)
{
	struct sync_job *j = arg;
	for (;;) {
		size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (i >= j->n)
			break;
		int fd = open(j->paths[i], O_RDONLY | O_CLOEXEC);
		int e = fd < 0 || blob_fsync_fn(fd) < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		if (fd < 0 && e == ENOENT && j->missing_ok)
			e = 0;
		int none = 0;
		if (e != 0 && __atomic_compare_exchange_n(&j->err, &none, e, false,
							  __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			j->failed = i;
	}
	return NULL;
}

/* Every path (files and folders) fsynced, up to BATCH_SYNC_THREADS at once. */
static int
sync_paths(char **paths, size_t n, bool missing_ok, const char **error_r)
{
	struct sync_job j = { paths, n, missing_ok, 0, 0, 0 };
	pthread_t t[BATCH_SYNC_THREADS];
	size_t started = 0;
	for (size_t k = 1; k < BATCH_SYNC_THREADS && k < n; k++) {
		if (pthread_create(&t[started], NULL, sync_worker, &j) != 0)
			break;	/* fewer at once: still every path */
		started++;
	}
	sync_worker(&j);
	for (size_t k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	if (j.err != 0)
		return io_failed("sync", paths[j.failed], j.err, error_r);
	return STORE_OK;
}

/* The paths of the batch's first n files and of their folders (and
 * blobs/ when a folder was made for the batch); *n_r of them. */
static char **
named_paths(struct upstream_batch *b, size_t n_items, size_t *n_r)
{
	char **paths = xcalloc(2 * n_items + 2, sizeof *paths);
	size_t n = 0;
	bool dir_listed[256] = { false };	/* by the hash's first byte */
	for (size_t i = 0; i < n_items; i++) {
		const struct batch_item *it = &b->items[i];
		paths[n++] = blob_path(b->st, it->hash);
		char prefix[3] = { it->hash[0], it->hash[1], '\0' };
		unsigned x = (unsigned)strtoul(prefix, NULL, 16) & 0xff;
		if (!dir_listed[x]) {
			dir_listed[x] = true;
			paths[n++] = xasprintf("%s/%.2s", b->st->blob_dir, it->hash);
		}
	}
	/* a folder made for the batch is named in blobs/ */
	if (b->dir_made)
		paths[n++] = xstrdup(b->st->blob_dir);
	*n_r = n;
	return paths;
}

static void
paths_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* The batch's own files made durable: before the renames their data
 * (tmp paths), after them the folders named into and the files by name. */
static int
sync_own(struct upstream_batch *b, bool named, const char **error_r)
{
	size_t n = 0;
	if (named) {
		char **paths = named_paths(b, b->n, &n);
		int ret = sync_paths(paths, n, false, error_r);
		paths_free(paths, n);
		return ret;
	}
	char **paths = xcalloc(b->n + 1, sizeof *paths);
	for (size_t i = 0; i < b->n; i++)
		paths[n++] = xstrdup(b->items[i].tmp_path);
	int ret = sync_paths(paths, n, false, error_r);
	paths_free(paths, n);
	return ret;
}

/* Whether the batch's messages can be made durable by records of their
 * bytes (see above): few enough, each still in memory. */
static bool
batch_recordable(const struct upstream_batch *b)
{
	if (b->n > BATCH_OWN_SYNC_MAX)
		return false;
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].data == NULL || b->items[i].size > BLOB_RECORD_MAX)
			return false;
	return true;
}

/* Inside the batch's transaction: the records of what synced since
 * deleted, and each message's bytes recorded (one record per blob). */
static int
record_bytes(struct upstream_batch *b, const char **error_r)
{
	if (store_names_synced_delete(b->st, error_r) != STORE_OK)
		return STORE_ERROR;
	b->records = xcalloc(b->n + 1, sizeof *b->records);
	for (size_t i = 0; i < b->n; i++) {
		const struct batch_item *it = &b->items[i];
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(b->items[j].hash, it->hash) == 0;
		if (seen)
			continue;
		if (store_name_record(b->st, it->hash, it->data, (size_t)it->size,
				      &b->records[b->n_records], error_r) != STORE_OK)
			return STORE_ERROR;
		b->n_records++;
	}
	b->recorded = true;
	return STORE_OK;
}

static void
records_forget(struct upstream_batch *b)
{
	xfree(b->records);
	b->n_records = 0;
	paths_free(b->settle_paths, b->n_settle_paths);
	b->settle_paths = NULL;
	b->n_settle_paths = 0;
}

void
store_upstream_batch_settle(struct upstream_batch *b)
{
	if (b->n_records == 0 && b->n_settle_paths == 0)
		return;
	const char *error;
	if (sync_paths(b->settle_paths, b->n_settle_paths, true, &error) == STORE_OK) {
		for (size_t i = 0; i < b->n_records; i++)
			store_name_pending_durable(b->st->blob_dir, b->records[i]);
	} else {
		/* they are durable in their records: written out at the
		 * next start (store_names_pending_restore()) */
		log_error("store: fetched messages stay recorded, their files not synced: %s",
			  error);
	}
	records_forget(b);
}

/* STORE_NOSPACE when the blobs' filesystem has less than its reserve. */
static int
check_reserve(struct upstream_batch *b, const char **error_r)
{
	int fd = open(b->st->blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool room = fd < 0 || blob_disk_has_reserve(fd);
	if (fd >= 0)
		close(fd);
	if (room)
		return STORE_OK;
	log_error("store: %s is nearly full: a fetched batch is refused", b->st->blob_dir);
	*error_r = "the server's disk is full";
	return STORE_NOSPACE;
}

/* Moves a finished temporary file to its name (not yet durable). */
static int
place(struct upstream_batch *b, struct batch_item *it, const char **error_r)
{
	bool dir_made;
	int ret = blob_move_into_place(b->st->blob_dir, it->tmp_path, it->hash, &dir_made,
				       error_r);
	if (ret != STORE_OK)
		return ret;	/* items_clear() removes the temporary file */
	b->dir_made = b->dir_made || dir_made;
	xfree(it->tmp_path);
	return STORE_OK;
}

/* Item i's IMAP cache, computed (or copied from an earlier item with the
 * same content), and its temporary file, written now when its bytes were
 * kept in memory. */
static int
prepare(struct upstream_batch *b, size_t i, const char **error_r)
{
	struct batch_item *it = &b->items[i];
	bool cached = false;
	for (size_t j = i; j-- > 0 && !cached;) {
		const struct batch_item *o = &b->items[j];
		if (strcmp(o->hash, it->hash) == 0 && o->cache.blob[0] != '\0') {
			memcpy(it->cache.blob, o->cache.blob, sizeof it->cache.blob);
			it->cache.envelope = xstrdup(o->cache.envelope);
			it->cache.bodystructure = xstrdup(o->cache.bodystructure);
			cached = true;
		}
	}
	if (it->data == NULL) {
		if (!cached)
			store_imap_cache_compute(it->tmp_path, it->hash, &it->cache);
		return STORE_OK;
	}
	if (!cached) {
		mime_imap_cache(it->data, (size_t)it->size, &it->cache.envelope,
				&it->cache.bodystructure);
		memcpy(it->cache.blob, it->hash, sizeof it->cache.blob);
	}
	int fd;
	int ret = tmp_create(b, &it->tmp_path, &fd, error_r);
	if (ret != STORE_OK)
		return ret;
	ret = write_all(fd, it->data, (size_t)it->size, it->tmp_path, error_r);
	if (close(fd) < 0 && ret == STORE_OK)
		ret = io_failed("close", it->tmp_path, errno, error_r);
	/* the bytes stay until commit, for its records (batch_recordable()) */
	return ret;
}

int
store_upstream_batch_prepare(struct upstream_batch *b, const char **error_r)
{
	for (; !b->failed && b->prepared < b->n; b->prepared++) {
		const char *error;
		int ret = prepare(b, b->prepared, &error);
		if (ret != STORE_OK) {
			/* the item's bytes may be gone: no second try */
			snprintf(b->error, sizeof b->error, "%s", error);
			b->failed = true;
			b->failed_status = ret;
		}
	}
	if (b->failed) {
		*error_r = b->error;
		return b->failed_status;
	}
	return STORE_OK;
}

/* Items [from, to) were placed but their rows did not commit: their
 * blobs go unless shared (outside any transaction of the handle). */
static void
unplace(struct upstream_batch *b, size_t from, size_t to)
{
	const char *error;
	if (from >= to)
		return;
	if (store_begin(b->st, &error) != STORE_OK) {
		log_error("store: cannot remove the blobs of a failed batch: %s", error);
		return;
	}
	unsigned removed = 0;
	for (size_t i = from; i < to; i++)
		removed += (unsigned)blob_remove_unused(b->st, b->items[i].hash);
	store_rollback(b->st);
	if (removed > 0)
		log_debug("store: removed=%u blobs of a batch not delivered", removed);
}

int
store_upstream_batch_commit(struct upstream_batch *b, unsigned *appended_r,
			    unsigned *delivered_r, const char **error_r)
{
	size_t placed = 0;
	int ret;
	*appended_r = 0;
	*delivered_r = 0;
	if (b->n == 0)
		return STORE_OK;
	/* the last commit's files synced and its records let go, if no one
	 * did yet */
	store_upstream_batch_settle(b);
	/* 0: the IMAP cache, and the files of the messages kept in memory
	 * (those not done already); 1: every file's data on disk, unless
	 * the bytes go into records (see above) */
	if ((ret = store_upstream_batch_prepare(b, error_r)) != STORE_OK)
		goto fail;
	bool own = b->n <= BATCH_OWN_SYNC_MAX;
	bool record = batch_recordable(b);
	b->dir_made = false;
	if (!record &&
	    (ret = own ? sync_own(b, false, error_r) : sync_blob_fs(b, error_r)) != STORE_OK)
		goto fail;
	/* the batch written: refused if it leaves too little (store/blob.h) */
	if ((ret = check_reserve(b, error_r)) != STORE_OK)
		goto fail;
	/* 2: every name and folder, under the write lock (see above) */
	if ((ret = store_begin(b->st, error_r)) != STORE_OK)
		goto fail;
	if (record && (ret = record_bytes(b, error_r)) != STORE_OK)
		goto fail_tx;
	for (; placed < b->n; placed++) {
		if ((ret = place(b, &b->items[placed], error_r)) != STORE_OK)
			goto fail_tx;
	}
	if (!record &&
	    (ret = own ? sync_own(b, true, error_r) : sync_blob_fs(b, error_r)) != STORE_OK)
		goto fail_tx;

	/* 3: the rows, in the same transaction; a message that cannot go in
	 * (over quota) ends the batch there, the ones before it commit */
	size_t i;
	for (i = 0; i < b->n; i++) {
		bool appended;
		ret = stmt_exec(b->st, store_stmt(b->st, SQL_SAVEPOINT), "savepoint",
				error_r);
		if (ret != STORE_OK)
			goto fail_tx;
		b->items[i].d.blob = b->items[i].hash;
		b->st->append_cache = &b->items[i].cache;
		if (b->rows != NULL)
			ret = b->rows(b->st, &b->items[i].d, b->items[i].extra, &appended,
				      error_r);
		else
			ret = store_upstream_deliver_tx(b->st, &b->items[i].d, &appended,
							error_r);
		b->st->append_cache = NULL;
		if (ret != STORE_OK) {
			const char *e2;
			(void)stmt_exec(b->st, store_stmt(b->st, SQL_ROLLBACK_TO), "rollback", &e2);
			break;
		}
		(void)stmt_exec(b->st, store_stmt(b->st, SQL_RELEASE), "release", error_r);
		if (appended)
			(*appended_r)++;
	}
	const char *commit_error = NULL;
	int cret = store_commit(b->st, &commit_error);
	if (cret != STORE_OK) {
		/* store_commit() rolled back */
		*appended_r = 0;
		*error_r = commit_error;
		ret = cret;
		goto fail_placed;
	}
	*delivered_r = (unsigned)i;
	/* the files of the messages taken, for store_upstream_batch_settle()
	 * (a blob shared with one not taken is synced all the same) */
	if (record)
		b->settle_paths = named_paths(b, i, &b->n_settle_paths);
	/* the messages after the one that did not go in */
	unplace(b, i, b->n);
	items_clear(b, false);
	if (ret == STORE_NOSPACE)
		*error_r = "the server's disk is full";
	return ret;
fail_tx:
	store_rollback(b->st);
fail_placed:
	unplace(b, 0, placed);
fail:
	/* records rolled back with the rows, if any were made */
	records_forget(b);
	items_clear(b, true);
	if (ret == STORE_NOSPACE)
		*error_r = "the server's disk is full";
	return ret == STORE_OK ? STORE_ERROR : ret;
}

void
store_upstream_batch_free(struct upstream_batch **bp)
{
	struct upstream_batch *b = *bp;
	if (b == NULL)
		return;
	message_drop(b);
	items_clear(b, true);
	store_upstream_batch_settle(b);
	if (b->recorded) {
		/* the records of its synced files deleted now: a process that
		 * ends here (`upstream run`) has no later transaction for them
		 * (lazy: a record left by a crash is written out again, the
		 * same bytes, at the next start) */
		const char *error;
		if (store_begin_lazy(b->st, &error) != STORE_OK ||
		    store_names_synced_delete(b->st, &error) != STORE_OK ||
		    store_commit(b->st, &error) != STORE_OK) {
			store_rollback(b->st);
			log_warning("store: records of fetched messages stay until the next start: "
				    "%s", error);
		}
	}
	free(b->items);
	free(b->buf);
	free(b);
	*bp = NULL;
}

/*
 * blob: immutable message files named by their SHA-256 (see blob.h).
 */
#include "store/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/blob_sync.h"
#include "store/store_int.h"

/* Writes are gathered into this much memory before write(2): SMTP DATA
 * hands over a line at a time. */
#define BLOB_WRITE_BUFFER 65536
/* A message whose bytes go into its record was all in the buffer. */
_Static_assert(BLOB_RECORD_MAX <= BLOB_WRITE_BUFFER, "a recorded message is in the buffer");

int (*blob_fsync_fn)(int fd) = fsync;
int (*blob_syncfs_fn)(int fd) = syncfs;

enum writer_state {
	WRITER_WRITING,		/* bytes go to the temporary file */
	WRITER_FINISHED,	/* the temporary file is durable and closed */
	WRITER_PLACED,		/* named and held (fd: a shared flock) */
	WRITER_GONE,		/* failed: nothing of it is left */
};

struct blob_writer {
	struct store *st;
	char *tmp_path;
	int fd;			/* the temporary file, or the held blob */
	struct sha256_ctx *sha;
	char hash[SHA256_HEX_LEN + 1];
	uint64_t size;
	uint64_t max_size;
	bool over;		/* past max_size: only counting */
	enum writer_state state;
	size_t buffered;
	unsigned char *buffer;	/* BLOB_WRITE_BUFFER bytes while writing */
	bool deferred;		/* no temporary file yet (blob_writer_new_deferred()) */
	/* every byte was in the buffer, kept past finish() to go into the
	 * read cache once the blob is placed */
	bool seed;
	/* fd is an unnamed file (O_TMPFILE) in blobs/tmp, or in blobs/XX
	 * (create_tmp()): no name to remove,
	 * and placing it is one linkat() into blobs/XX (no rename out of the
	 * directory every writer shares); kept: its descriptor stays open
	 * after blob_writer_finish() (it is the file), one of anon_kept */
	bool anon;
	bool kept;
	/* its content was stored before, and fd holds that blob: found when
	 * finishing (hold_stored()) or when placing */
	bool stored;
	/* its bytes not known to be durable: finished without a sync
	 * (blob_writer_link()), or a held file another writer linked so */
	bool unsynced;
	/* placed by blob_writer_link(): the sync of its folder's entry (and
	 * of its bytes, when unsynced), the ticket to wait for (0: none owed) */
	struct dir_group *name_group;
	uint64_t name_ticket;
	/* linked without waiting, with every byte in the buffer (kept) and
	 * BLOB_RECORD_MAX at most: blob_writer_bytes() */
	bool bytes_kept;
	/* the committed record that holds its bytes (blob_writer_recorded(),
	 * sql/056), 0 none */
	int64_t record;
	/* blob_restore(): a message acknowledged before, written out
	 * whatever the disk's reserve */
	bool no_reserve;
};

/*
 * Unnamed temporary files: 1 used, -1 not (the filesystem has no O_TMPFILE,
 * or /proc/self/fd, through which linkat() names one, is missing), 0 not
 * known yet (the first writer of the process tries).  Checked once.
 */
static int anon_mode;
static pthread_mutex_t anon_lock = PTHREAD_MUTEX_INITIALIZER;
/* Unnamed files kept open between blob_writer_finish() and their placing
 * (an IMAP MULTIAPPEND's messages); past ANON_KEPT_MAX, finish() names the
 * file in blobs/tmp and closes it, as for a named temporary file. */
#define ANON_KEPT_MAX 64
static atomic_int anon_kept;

/* Names the unnamed file fd at path (never replacing a file: EEXIST). */
static int
link_anon(int fd, const char *path)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* An unnamed file in folder dir, or -1 (errno; then named files are used). */
static int
open_anon(struct blob_writer *w, const char *dir)
{
	pthread_mutex_lock(&anon_lock);
	int mode = anon_mode;
	pthread_mutex_unlock(&anon_lock);
	if (mode < 0) {
		errno = EOPNOTSUPP;
		return -1;
	}
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, STORE_BLOB_MODE);
	int e = errno;
	int probe = -1;
	if (fd >= 0 && mode == 0) {
		/* an unnamed file can be linked once only: the check (below)
		 * takes one of its own */
		probe = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, STORE_BLOB_MODE);
		if (probe < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		if (e == EOPNOTSUPP || e == EISDIR || e == EINVAL) {
			pthread_mutex_lock(&anon_lock);
			anon_mode = -1;
			pthread_mutex_unlock(&anon_lock);
			e = EOPNOTSUPP;
		}
		errno = e;
		return -1;
	}
	if (mode == 0) {
		/* once: whether it can be given a name (the writer's own
		 * temporary name, removed again) */
		int ok = link_anon(probe, w->tmp_path) == 0;
		if (ok)
			unlink(w->tmp_path);
		e = errno;
		close(probe);
		pthread_mutex_lock(&anon_lock);
		anon_mode = ok ? 1 : -1;
		pthread_mutex_unlock(&anon_lock);
		if (!ok) {
			log_info("store: unnamed temporary files cannot be named "
				 "here (%s): named ones are used", strerror(e));
			close(fd);
			errno = EOPNOTSUPP;
			return -1;
		}
	}
	return fd;
}

int
blob_errno_status(int e)
{
	return e == ENOSPC || e == EDQUOT ? STORE_NOSPACE : STORE_ERROR;
}

bool
blob_disk_has_reserve(int fd)
{
	struct statvfs sv;
	if (fstatvfs(fd, &sv) < 0)
		return true;
	return (uint64_t)sv.f_bavail * sv.f_frsize >= BLOB_DISK_RESERVE;
}

char *
blob_path(const struct store *st, const char *hash)
{
	return xasprintf("%s/%.2s/%s", st->blob_dir, hash, hash);
}

/* The folder's entries durable; STORE_OK, or the errno's status. */
static int
fsync_dir(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || blob_fsync_fn(fd) < 0) {
		int e = errno;
		*error_r = errfmt("cannot fsync %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return blob_errno_status(e);
	}
	close(fd);
	return STORE_OK;
}


/* Creates the temporary file; STORE_OK, or the errno's status.  An
 * unnamed one goes into the folder of the blob's name when its hash is
 * known already (hash not NULL: a deferred writer, finished with all its
 * bytes in its buffer), so that its inode is allocated where the blobs
 * of that folder are (blob_dir_prepare()), else into blobs/tmp. */
static int
create_tmp(struct blob_writer *w, const char *hash, const char **error_r)
{
	w->fd = -1;
	if (hash != NULL) {
		char *dir = xasprintf("%s/%.2s", w->st->blob_dir, hash);
		w->fd = open_anon(w, dir);
		free(dir);
	}
	if (w->fd < 0 && (hash == NULL || errno == ENOENT)) {
		/* (ENOENT: a folder not made yet, in a data directory made
		 * before they were made ahead; place() makes it) */
		char *dir = xasprintf("%s/tmp", w->st->blob_dir);
		w->fd = open_anon(w, dir);
		free(dir);
	}
	w->anon = w->fd >= 0;
	if (w->fd < 0 && errno == EOPNOTSUPP)
		w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			     STORE_BLOB_MODE);
	/* open() applies the umask: the mode is meant exactly */
	if (w->fd < 0 || fchmod(w->fd, STORE_BLOB_MODE) < 0) {
		int e = errno;
		*error_r = errfmt("cannot create %s: %s", w->tmp_path, strerror(e));
		if (w->fd >= 0) {
			close(w->fd);
			w->fd = -1;
			if (!w->anon)
				unlink(w->tmp_path);
		}
		return blob_errno_status(e);
	}
	w->deferred = false;
	return STORE_OK;
}

static int
writer_new(struct store *st, uint64_t max_size, bool deferred, struct blob_writer **w_r,
	   const char **error_r)
{
	struct blob_writer *w = xcalloc(1, sizeof *w);
	unsigned char rnd[16];
	char hex[sizeof rnd * 2 + 1];

	w->st = st;
	w->max_size = max_size;
	w->state = WRITER_WRITING;
	w->fd = -1;
	w->deferred = deferred;
	/* A random name with O_EXCL: two writers (threads or processes)
	 * never share a temporary file. */
	random_bytes(rnd, sizeof rnd);
	hex_encode(rnd, sizeof rnd, hex);
	w->tmp_path = xasprintf("%s/tmp/%s.tmp", st->blob_dir, hex);
	int ret = deferred ? STORE_OK : create_tmp(w, NULL, error_r);
	if (ret != STORE_OK) {
		free(w->tmp_path);
		free(w);
		*w_r = NULL;
		return ret;
	}
	w->sha = sha256_new();
	w->buffer = xmalloc(BLOB_WRITE_BUFFER);
	*w_r = w;
	return STORE_OK;
}

int
blob_writer_new(struct store *st, uint64_t max_size, struct blob_writer **w_r,
		const char **error_r)
{
	return writer_new(st, max_size, false, w_r, error_r);
}

int
blob_writer_new_deferred(struct store *st, uint64_t max_size, struct blob_writer **w_r,
			 const char **error_r)
{
	return writer_new(st, max_size, true, w_r, error_r);
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t r = write(fd, c, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The writer's descriptor closed (a kept unnamed file counted off). */
static int
close_fd(struct blob_writer *w)
{
	if (w->fd < 0)
		return 0;
	int r = close(w->fd);
	w->fd = -1;
	if (w->kept) {
		atomic_fetch_sub(&anon_kept, 1);
		w->kept = false;
	}
	return r;
}

/* The temporary file goes (the writer is done with it, or failed). */
static void
drop_tmp(struct blob_writer *w)
{
	close_fd(w);
	/* an unnamed file went with its descriptor */
	if (!w->deferred && !w->anon && unlink(w->tmp_path) < 0 && errno != ENOENT)
		log_error("store: cannot remove %s: %s", w->tmp_path, strerror(errno));
	free(w->buffer);
	w->buffer = NULL;
	w->buffered = 0;
}

/* A failed write, flush or sync: nothing of the blob stays on disk, so a
 * full disk is not made fuller by the remains of refused messages. */
static int
fail_io(struct blob_writer *w, const char *what, int e, const char **error_r)
{
	*error_r = errfmt("cannot %s %s: %s", what, w->tmp_path, strerror(e));
	drop_tmp(w);
	w->state = WRITER_GONE;
	return blob_errno_status(e);
}

/* The temporary file of a deferred writer made now (or it is gone). */
static int
need_file(struct blob_writer *w, const char **error_r)
{
	if (!w->deferred)
		return STORE_OK;
	int ret = create_tmp(w, NULL, error_r);
	if (ret != STORE_OK) {
		drop_tmp(w);
		w->state = WRITER_GONE;
	}
	return ret;
}

static int
flush_buffer(struct blob_writer *w, const char **error_r)
{
	int ret = need_file(w, error_r);
	if (ret != STORE_OK || w->buffered == 0)
		return ret;
	if (write_all(w->fd, w->buffer, w->buffered) < 0)
		return fail_io(w, "write", errno, error_r);
	w->buffered = 0;
	return STORE_OK;
}

int
blob_write(struct blob_writer *w, const void *p, size_t n,
	   const char **error_r)
{
	w->size += n;
	if (w->state != WRITER_WRITING || w->sha == NULL) {
		*error_r = w->state == WRITER_GONE ? "the message could not be stored"
						   : "the blob is finished";
		return STORE_ERROR;
	}
	if (w->over)
		goto over;
	if (w->max_size != 0 && w->size > w->max_size) {
		/* past max_size: the partial file goes at once, the rest is
		 * only counted */
		w->over = true;
		drop_tmp(w);
		goto over;
	}
	sha256_update(w->sha, p, n);
	if (w->buffered + n > BLOB_WRITE_BUFFER) {
		int ret = flush_buffer(w, error_r);
		if (ret != STORE_OK)
			return ret;
		if (n >= BLOB_WRITE_BUFFER) {
			if (write_all(w->fd, p, n) < 0)
				return fail_io(w, "write", errno, error_r);
			return STORE_OK;
		}
	}
	memcpy(w->buffer + w->buffered, p, n);
	w->buffered += n;
	return STORE_OK;
over:
	*error_r = errfmt("the message is larger than %llu bytes",
			  (unsigned long long)w->max_size);
	return STORE_INVALID;
}

uint64_t
blob_writer_size(const struct blob_writer *w)
{
	return w->size;
}

static int hold_existing(const char *path, const char *hash, int *fd_r,
			 const char **error_r);
/* One repair of a blob's wrong content at a time (hold_existing()). */
static pthread_mutex_t repair_lock = PTHREAD_MUTEX_INITIALIZER;

int
blob_hash_fd(int fd, char out[SHA256_HEX_LEN + 1])
{
	char buffer[65536];
	struct sha256_ctx *ctx = sha256_new();
	off_t at = 0;
	for (;;) {
		ssize_t r = pread(fd, buffer, sizeof buffer, at);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			sha256_finish_hex(&ctx, out);
			errno = e;
			return -1;
		}
		sha256_update(ctx, buffer, (size_t)r);
		at += r;
	}
	sha256_finish_hex(&ctx, out);
	return 0;
}

/*
 * A deferred writer whose bytes are all still in its buffer, of content
 * stored before: that blob is held now (as placing would find and hold
 * it), and no temporary file is made, written and synced.  Its content
 * is checked against its name (hold_existing()); placing still makes sure
 * of its bytes and its name (a file linked before it was synced may still
 * be on its way to the disk).  Held descriptors count
 * with the unnamed files kept open (ANON_KEPT_MAX).  True when held.
 */
static bool
hold_stored(struct blob_writer *w)
{
	if (!w->deferred || w->buffer == NULL)
		return false;
	if (w->sha != NULL)	/* else sealed: hashed then */
		sha256_finish_hex(&w->sha, w->hash);
	if (atomic_fetch_add(&anon_kept, 1) >= ANON_KEPT_MAX) {
		atomic_fetch_sub(&anon_kept, 1);
		return false;
	}
	char *path = blob_path(w->st, w->hash);
	const char *ignored;
	int fd = -1;
	/* 0: not stored (or removed meanwhile), -1: left to placing, which
	 * meets the same file and says what is wrong */
	int r = hold_existing(path, w->hash, &fd, &ignored);
	free(path);
	if (r <= 0) {
		atomic_fetch_sub(&anon_kept, 1);
		return false;
	}
	w->fd = fd;
	w->kept = true;
	w->stored = true;
	free(w->buffer);
	w->buffer = NULL;
	w->buffered = 0;
	w->state = WRITER_FINISHED;
	return true;
}

/* The bytes in the temporary file, durable unless !sync (then the
 * caller syncs them with the name: blob_writer_link()), and the hash;
 * keep_fd leaves the file open. */
static int
finish(struct blob_writer *w, bool keep_fd, bool sync, const char **error_r)
{
	if (w->over) {
		*error_r = errfmt("the message is larger than %llu bytes",
				  (unsigned long long)w->max_size);
		return STORE_INVALID;
	}
	if (w->state == WRITER_FINISHED)
		return STORE_OK;
	if (w->state != WRITER_WRITING) {
		*error_r = "the message could not be stored";
		return STORE_ERROR;
	}
	if (hold_stored(w))
		return STORE_OK;
	/* placing at once (keep_fd), with every byte in the buffer */
	bool seed = w->deferred && keep_fd;
	if (w->deferred) {
		/* every byte is in the buffer: the hash is known before the
		 * file is made, in the blob's own folder */
		if (w->sha != NULL)	/* else sealed: hashed then */
			sha256_finish_hex(&w->sha, w->hash);
		int ret = create_tmp(w, w->hash, error_r);
		if (ret != STORE_OK) {
			drop_tmp(w);
			w->state = WRITER_GONE;
			return ret;
		}
	}
	int ret = flush_buffer(w, error_r);
	if (ret != STORE_OK)
		return ret;
	/* the message written: refused if it leaves too little (blob.h) */
	if (!w->no_reserve && !blob_disk_has_reserve(w->fd)) {
		ret = fail_io(w, "keep room beside", ENOSPC, error_r);
		*error_r = "the disk is nearly full";
		return ret;
	}
	if (sync && blob_fsync_fn(w->fd) < 0)
		return fail_io(w, "fsync", errno, error_r);
	w->unsynced = !sync;
	if (!keep_fd && w->anon) {
		/* an unnamed file lives as long as its descriptor: kept open
		 * (a few), or else named in blobs/tmp after all */
		if (atomic_fetch_add(&anon_kept, 1) < ANON_KEPT_MAX) {
			w->kept = true;
			keep_fd = true;
		} else {
			atomic_fetch_sub(&anon_kept, 1);
			if (link_anon(w->fd, w->tmp_path) < 0)
				return fail_io(w, "name", errno, error_r);
			w->anon = false;
		}
	}
	if (!keep_fd) {
		if (close_fd(w) < 0)
			return fail_io(w, "close", errno, error_r);
	}
	/* a deferred writer's bytes are the whole blob: kept for the read
	 * cache (place()), unless the caller collects writers (finish()
	 * without placing: an IMAP MULTIAPPEND) */
	w->seed = seed;
	if (!w->seed) {
		free(w->buffer);
		w->buffer = NULL;
	}
	if (w->sha != NULL)	/* else sealed: hashed then */
		sha256_finish_hex(&w->sha, w->hash);
	w->state = WRITER_FINISHED;
	return STORE_OK;
}

int
blob_writer_seal(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1], int *fd_r,
		 const char **error_r)
{
	if (w->over) {
		*error_r = errfmt("the message is larger than %llu bytes",
				  (unsigned long long)w->max_size);
		return STORE_INVALID;
	}
	if (w->state != WRITER_WRITING || w->sha == NULL) {
		*error_r = w->state == WRITER_GONE ? "the message could not be stored"
						   : "the blob is finished";
		return STORE_ERROR;
	}
	int fd = -1;
	if (w->deferred) {
		/* all of it still in the buffer: read from memory, and no file
		 * unless it is placed (finish() writes the buffer then) */
		fd = memfd_create("mailhub-message", MFD_CLOEXEC);
		if (fd >= 0 && write_all(fd, w->buffer, w->buffered) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		int ret = flush_buffer(w, error_r);
		if (ret != STORE_OK)
			return ret;
		if (w->anon) {
			/* a descriptor of its own (its own offset), read-only */
			char proc[64];
			snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
			fd = open(proc, O_RDONLY | O_CLOEXEC);
		} else {
			fd = open(w->tmp_path, O_RDONLY | O_CLOEXEC);
		}
		if (fd < 0)
			return fail_io(w, "open", errno, error_r);
	}
	sha256_finish_hex(&w->sha, w->hash);
	memcpy(hash_r, w->hash, sizeof w->hash);
	*fd_r = fd;
	return STORE_OK;
}

int
blob_writer_finish(struct blob_writer *w, const char **error_r)
{
	return finish(w, false, true, error_r);
}

/*
 * Holds the blob the name path has now: a shared flock on it, taken
 * before looking whether the name is still that file (a removal holds the
 * exclusive lock while it unlinks, so after the lock the name either is
 * ours to keep or is gone).  1 held (*fd_r), 0 gone (try again), -1 error.
 */
static int
hold_existing(const char *path, const char *hash, int *fd_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = errfmt("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat held, named;
	if (flock(fd, LOCK_SH) < 0 || fstat(fd, &held) < 0) {
		*error_r = errfmt("cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (stat(path, &named) < 0 || named.st_ino != held.st_ino ||
	    named.st_dev != held.st_dev) {
		close(fd);
		return 0;
	}
	/* A file is named before its bytes are known to be durable
	 * (blob_writer_link()): after a crash in between, the name may hold
	 * less than its content (no row that was acknowledged refers to it:
	 * fsck's pending names).  Its content is checked before anything
	 * refers to it again, and a wrong one goes, for ours to take its
	 * place (the loop of the caller links again). */
	char have[SHA256_HEX_LEN + 1];
	if (blob_hash_fd(fd, have) < 0) {
		*error_r = errfmt("cannot read %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (strcmp(have, hash) != 0) {
		pthread_mutex_lock(&repair_lock);
		/* still that file: not repaired by another writer meanwhile */
		if (stat(path, &named) == 0 && named.st_ino == held.st_ino &&
		    named.st_dev == held.st_dev) {
			log_warning("store: blob %s holds other content (%s; a crash before "
				    "its bytes were synced?): replaced", hash, have);
			if (unlink(path) < 0 && errno != ENOENT) {
				*error_r = errfmt("cannot remove %s: %s", path, strerror(errno));
				pthread_mutex_unlock(&repair_lock);
				close(fd);
				return -1;
			}
		}
		pthread_mutex_unlock(&repair_lock);
		close(fd);
		return 0;
	}
	/* young again, so that gc (which goes by age) spares it too */
	if (futimens(fd, NULL) < 0)
		log_warning("store: cannot touch %s: %s", path, strerror(errno));
	*fd_r = fd;
	return 1;
}

/* A new XX folder, its mode meant exactly. */
static int
make_prefix_dir(const char *dir, const char **error_r)
{
	if (mkdir(dir, STORE_DIR_MODE) < 0) {
		if (errno == EEXIST)
			return STORE_OK;
		int e = errno;
		*error_r = errfmt("cannot create %s: %s", dir, strerror(e));
		return blob_errno_status(e);
	}
	if (chmod(dir, STORE_DIR_MODE) < 0)
		log_warning("store: cannot set the mode of %s: %s", dir, strerror(errno));
	return STORE_OK;
}

/* Removes the blob whose file fd holds (inside a write transaction, see
 * blob.h) unless a row references it or another writer holds it. */
static int
remove_held(struct store *st, const char *hash, int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return 0;	/* another writer holds it, or will */
	if (store_blob_referenced(st, hash) != 0)
		return 0;
	char *path = blob_path(st, hash);
	struct stat held, named;
	int removed = 0;
	if (fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
	    held.st_ino == named.st_ino && held.st_dev == named.st_dev) {
		if (unlink(path) == 0)
			removed = 1;
		else
			log_error("store: cannot remove %s: %s", path, strerror(errno));
	}
	free(path);
	return removed;
}

int
blob_remove_unused(struct store *st, const char *hash)
{
	char *path = blob_path(st, hash);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	int removed = remove_held(st, hash, fd);
	close(fd);
	return removed;
}

/* A placed blob the caller's rows will not reference: removed under the
 * write lock unless it is shared. */
static void
unplace(struct blob_writer *w)
{
	const char *error;
	if (w->st->in_tx)
		panic("store: a blob thrown away inside a transaction");
	if (store_begin(w->st, &error) != STORE_OK) {
		/* the hourly gc takes it later */
		log_error("store: cannot remove blob %s now: %s", w->hash, error);
		return;
	}
	if (remove_held(w->st, w->hash, w->fd) > 0)
		log_debug("store: refused blob %s removed", w->hash);
	store_rollback(w->st);
}

static void cache_put(const char *hash, const char *data, size_t size);

/* The folder entry of a linked blob durable (blob_writer_link()). */
static int
wait_name(struct blob_writer *w, const char **error_r)
{
	if (w->name_ticket == 0)
		return STORE_OK;
	int e = dir_sync_wait(w->name_group, w->name_ticket, w->fd);
	if (e != 0) {
		*error_r = errfmt("cannot fsync %s: %s", blob_sync_group_path(w->name_group),
				  strerror(e));
		return blob_errno_status(e);
	}
	w->name_ticket = 0;
	return STORE_OK;
}

/* blob_writer_place(), or blob_writer_link() when !wait. */
static int
place(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1], uint64_t *size_r,
      bool wait, const char **error_r)
{
	int ret = finish(w, true, wait, error_r);
	if (ret != STORE_OK)
		return ret;
	if (w->fd < 0) {
		/* finished apart (blob_writer_finish()): open it again */
		w->fd = open(w->tmp_path, O_RDONLY | O_CLOEXEC);
		if (w->fd < 0)
			return fail_io(w, "open", errno, error_r);
	}
	/* locked before it has its name, so it is never there unheld */
	if (flock(w->fd, LOCK_SH) < 0)
		return fail_io(w, "lock", errno, error_r);

	char *dir = xasprintf("%s/%.2s", w->st->blob_dir, w->hash);
	char *path = xasprintf("%s/%s", dir, w->hash);
	bool dir_made = false, placed = w->stored;
	ret = STORE_ERROR;
	*error_r = "the blob could not be placed";
	/* at most: the folder made, and a few removals racing with us */
	for (unsigned attempt = 0; attempt < 8 && !placed; attempt++) {
		if (w->anon ? link_anon(w->fd, path) == 0
			    : renameat2(AT_FDCWD, w->tmp_path, AT_FDCWD, path,
					RENAME_NOREPLACE) == 0) {
			placed = true;
			break;
		}
		int e = errno;
		if (e == EEXIST) {
			/* the same content stored before: that file stays
			 * (blobs are never rewritten), held as ours would be */
			int fd, r = hold_existing(path, w->hash, &fd, error_r);
			if (r < 0)
				break;
			if (r > 0) {
				drop_tmp(w);
				w->fd = fd;
				w->stored = true;
				placed = true;
			}
			continue;
		}
		if (e == ENOENT && !dir_made) {
			/* the first blob of this prefix */
			if ((ret = make_prefix_dir(dir, error_r)) != STORE_OK)
				break;
			ret = STORE_ERROR;
			dir_made = true;
			continue;
		}
		*error_r = errfmt("cannot %s %s to %s: %s",
				  w->anon ? "link" : "rename", w->tmp_path, path,
				  strerror(e));
		ret = blob_errno_status(e);
		break;
	}
	if (!placed) {
		drop_tmp(w);
		w->state = WRITER_GONE;
		goto out;
	}
	w->state = WRITER_PLACED;
	if (w->kept) {
		/* now the held blob, no longer a kept temporary file */
		atomic_fetch_sub(&anon_kept, 1);
		w->kept = false;
	}
	w->anon = false;
	/* the names durable: the new folder's in blobs/ (at once: rare),
	 * the file's in it, with the file's bytes when they are not known to
	 * be durable yet (shared with the links into it meanwhile, and left
	 * under way when the caller waits later) */
	ret = dir_made ? fsync_dir(w->st->blob_dir, error_r) : STORE_OK;
	struct unsynced_file file = { .fd = -1 };
	struct stat sb;
	if (ret == STORE_OK && fstat(w->fd, &sb) < 0) {
		int e = errno;
		*error_r = errfmt("cannot stat %s: %s", path, strerror(e));
		ret = blob_errno_status(e);
	}
	/* a file another writer placed: durable unless that one linked it
	 * unsynced and its sync is still to come (then it goes with ours) */
	if (ret == STORE_OK && w->stored)
		w->unsynced = dir_file_unsynced(dir, sb.st_dev, sb.st_ino);
	if (ret == STORE_OK && w->unsynced) {
		file = (struct unsynced_file){ fcntl(w->fd, F_DUPFD_CLOEXEC, 0),
					       sb.st_dev, sb.st_ino };
		if (file.fd < 0) {
			/* no descriptor to spare: synced here and now */
			if (blob_fsync_fn(w->fd) < 0) {
				int e = errno;
				*error_r = errfmt("cannot fsync %s: %s", path, strerror(e));
				ret = blob_errno_status(e);
			}
		}
	}
	if (ret == STORE_OK) {
		w->unsynced = false;
		/* a small one linked without waiting: its bytes will likely
		 * go into its record, and nobody waits for this round */
		bool lazy = !wait && w->seed && w->size <= BLOB_RECORD_MAX;
		w->name_group = dir_sync_start(dir, file, lazy, &w->name_ticket);
		if (wait)
			ret = wait_name(w, error_r);
	}
	if (ret != STORE_OK) {
		/* not durable, so never acknowledged: the caller fails, and the
		 * file goes unless it is shared */
		unplace(w);
		close(w->fd);
		w->fd = -1;
		w->state = WRITER_GONE;
		goto out;
	}
	memcpy(hash_r, w->hash, sizeof w->hash);
	if (size_r != NULL)
		*size_r = w->size;
	if (w->seed) {
		/* read again at once (the delivery's Sieve script, its IMAP
		 * cache, the client's first FETCH): from memory */
		cache_put(w->hash, (const char *)w->buffer, (size_t)w->size);
		/* linked without waiting: a small one's bytes stay, for its
		 * record (blob_writer_bytes()) */
		if (!wait && w->size <= BLOB_RECORD_MAX) {
			w->bytes_kept = true;
		} else {
			free(w->buffer);
			w->buffer = NULL;
		}
		w->seed = false;
	}
out:
	free(dir);
	free(path);
	return ret;
}

int
blob_writer_place(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1],
		  uint64_t *size_r, const char **error_r)
{
	return place(w, hash_r, size_r, true, error_r);
}

int
blob_writer_link(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1],
		 uint64_t *size_r, const char **error_r)
{
	return place(w, hash_r, size_r, false, error_r);
}

int
blob_writer_wait_name(struct blob_writer *w, const char **error_r)
{
	/* none owed: not linked (yet), or waited for */
	if (w == NULL)
		return STORE_OK;
	return wait_name(w, error_r);
}

bool
blob_writer_bytes(const struct blob_writer *w, const void **p_r, size_t *n_r)
{
	if (w == NULL || !w->bytes_kept || w->state != WRITER_PLACED || w->name_ticket == 0)
		return false;
	/* the background round needs the syncer: without it (it could not
	 * be started), the deliveries sync themselves, and wait */
	if (!blob_sync_can_defer())
		return false;
	*p_r = w->buffer != NULL ? w->buffer : (const void *)"";
	*n_r = (size_t)w->size;
	return true;
}

void
blob_writer_recorded(struct blob_writer *w, int64_t id)
{
	if (w->record == 0)
		blob_sync_deferred();
	w->record = id;
}

int
blob_writer_wait_durable(struct blob_writer *w, const char **error_r)
{
	/* its bytes are in a committed record: durable with the WAL */
	if (w != NULL && w->record != 0)
		return STORE_OK;
	return blob_writer_wait_name(w, error_r);
}

/* The writer's record handed on as it goes (blob_sync_record()). */
static void
writer_record_done(struct blob_writer *w)
{
	if (w->record == 0)
		return;
	blob_sync_record(w->name_group, w->name_ticket, w->record, w->st->blob_dir, w->hash);
	w->record = 0;
}

static void
writer_free(struct blob_writer **wp)
{
	struct blob_writer *w = *wp;
	writer_record_done(w);
	close_fd(w);
	if (w->sha != NULL) {
		char dummy[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&w->sha, dummy);
	}
	free(w->buffer);
	free(w->tmp_path);
	free(w);
	*wp = NULL;
}

void
blob_writer_release(struct blob_writer **wp)
{
	if (*wp != NULL)
		writer_free(wp);
}

void
blob_writer_abort(struct blob_writer **wp)
{
	struct blob_writer *w = *wp;
	if (w == NULL)
		return;
	if (w->state == WRITER_WRITING || w->state == WRITER_FINISHED)
		drop_tmp(w);
	else if (w->state == WRITER_PLACED)
		unplace(w);
	writer_free(wp);
}

int
blob_writer_commit(struct blob_writer **wp, char hash_r[SHA256_HEX_LEN + 1],
		   uint64_t *size_r, const char **error_r)
{
	int ret = blob_writer_place(*wp, hash_r, size_r, error_r);
	if (ret == STORE_OK)
		blob_writer_release(wp);
	else
		blob_writer_abort(wp);
	return ret;
}

int
blob_move_into_place(const char *blob_dir, const char *tmp_path, const char *hash,
		     bool *dir_made_r, const char **error_r)
{
	char *dir = xasprintf("%s/%.2s", blob_dir, hash);
	char *path = xasprintf("%s/%s", dir, hash);
	int ret = STORE_ERROR;
	*dir_made_r = false;

	/* at most: the folder made, then gc taking an old copy once */
	for (unsigned attempt = 0; attempt < 3; attempt++) {
		if (renameat2(AT_FDCWD, tmp_path, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
			ret = STORE_OK;
			goto out;
		}
		if (errno == EEXIST) {
			/* The same content stored before: keep that file (blobs
			 * are never rewritten) but make it young again, so that
			 * store_blob_gc() cannot take it before our row commits.
			 * If gc took it a moment ago, ours goes in its place. */
			if (utimensat(AT_FDCWD, path, NULL, 0) == 0) {
				if (unlink(tmp_path) < 0)
					log_error("store: cannot remove %s: %s", tmp_path,
						  strerror(errno));
				ret = STORE_OK;
				goto out;
			}
			if (errno == ENOENT)
				continue;
			*error_r = errfmt("cannot touch %s: %s", path, strerror(errno));
			goto out;
		}
		if (errno == ENOENT && !*dir_made_r) {
			/* the first blob of this prefix */
			if ((ret = make_prefix_dir(dir, error_r)) != STORE_OK)
				goto out;
			ret = STORE_ERROR;
			*dir_made_r = true;
			continue;
		}
		break;
	}
	ret = blob_errno_status(errno);
	*error_r = errfmt("cannot rename %s to %s: %s", tmp_path, path, strerror(errno));
out:
	free(dir);
	free(path);
	return ret;
}

int
blob_put(struct store *st, const void *p, size_t n,
	 char hash_r[SHA256_HEX_LEN + 1], const char **error_r)
{
	struct blob_writer *w;
	int ret = blob_writer_new(st, 0, &w, error_r);
	if (ret != STORE_OK)
		return ret;
	if ((ret = blob_write(w, p, n, error_r)) != STORE_OK) {
		blob_writer_abort(&w);
		return ret;
	}
	return blob_writer_commit(&w, hash_r, NULL, error_r);
}

int
blob_restore(struct store *st, const char *hash, const void *p, size_t n,
	     const char **error_r)
{
	char have[SHA256_HEX_LEN + 1];
	struct sha256_ctx *sha = sha256_new();
	sha256_update(sha, p, n);
	sha256_finish_hex(&sha, have);
	if (strcmp(have, hash) != 0) {
		*error_r = errfmt("the recorded bytes of blob %s hash to %s", hash, have);
		return STORE_INVALID;
	}
	char *path = blob_path(st, hash);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool good = fd >= 0 && blob_hash_fd(fd, have) == 0 && strcmp(have, hash) == 0;
	if (fd >= 0)
		close(fd);
	int ret = STORE_OK;
	if (!good) {
		/* written as any blob (temporary file, fsync, link, folder
		 * fsync), a wrong file under its name replaced
		 * (hold_existing()); the message was acknowledged, so the
		 * disk's reserve is no reason to refuse it */
		struct blob_writer *w;
		ret = writer_new(st, 0, false, &w, error_r);
		if (ret == STORE_OK) {
			w->no_reserve = true;
			if ((ret = blob_write(w, p, n, error_r)) == STORE_OK)
				ret = blob_writer_commit(&w, have, NULL, error_r);
			else
				blob_writer_abort(&w);
		}
		if (ret == STORE_OK)
			log_info("store: blob %s written out from its record", hash);
	}
	/* started as root: the file is the data directory's owner's, as
	 * the daemon's own are once it dropped its privileges */
	struct stat dir;
	if (ret == STORE_OK && geteuid() == 0 && stat(st->blob_dir, &dir) == 0 &&
	    dir.st_uid != 0 && chown(path, dir.st_uid, dir.st_gid) < 0)
		log_warning("store: cannot give %s to its owner: %s", path, strerror(errno));
	/* found there after a crash of the process alone, it may still be
	 * only in the page cache: its bytes and its name synced now */
	if (ret == STORE_OK) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || blob_fsync_fn(fd) < 0) {
			int e = errno;
			*error_r = errfmt("cannot fsync %s: %s", path, strerror(e));
			ret = blob_errno_status(e);
		}
		if (fd >= 0)
			close(fd);
	}
	if (ret == STORE_OK) {
		char *folder = xasprintf("%s/%.2s", st->blob_dir, hash);
		ret = fsync_dir(folder, error_r);
		free(folder);
	}
	free(path);
	return ret;
}

int
blob_open(struct store *st, const char *hash, int *fd_r, uint64_t *size_r,
	  const char **error_r)
{
	struct stat sb;

	if (!is_lower_hex(hash, SHA256_HEX_LEN)) {
		*error_r = errfmt("invalid blob name '%s'", esc_str(hash));
		return STORE_INVALID;
	}
	char *path = blob_path(st, hash);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*error_r = errfmt("cannot open %s: %s", path, strerror(e));
		free(path);
		return e == ENOENT ? STORE_NOTFOUND : STORE_ERROR;
	}
	if (fstat(fd, &sb) < 0) {
		*error_r = errfmt("cannot stat %s: %s", path, strerror(errno));
		close(fd);
		free(path);
		return STORE_ERROR;
	}
	free(path);
	*fd_r = fd;
	if (size_r != NULL)
		*size_r = (uint64_t)sb.st_size;
	return STORE_OK;
}

int
blob_read(struct store *st, const char *hash, struct buf *out,
	  const char **error_r)
{
	int fd;
	uint64_t size;
	int ret = blob_open(st, hash, &fd, &size, error_r);
	if (ret < 0)
		return ret;
	if (out->max != 0 && size > out->max - out->len) {
		*error_r = errfmt("blob %s (%llu bytes) does not fit", hash,
				  (unsigned long long)size);
		close(fd);
		return STORE_INVALID;
	}
	size_t start = out->len;
	uint64_t left = size;
	while (left > 0) {
		size_t chunk = left > 1048576 ? 1048576 : (size_t)left;
		char *p = buf_reserve(out, chunk);
		if (p == NULL) {
			*error_r = errfmt("blob %s does not fit", hash);
			buf_truncate(out, start);
			close(fd);
			return STORE_INVALID;
		}
		ssize_t r = read(fd, p, chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*error_r = errfmt("cannot read blob %s: %s", hash,
					  r < 0 ? strerror(errno) : "file shorter than expected");
			buf_truncate(out, start);
			close(fd);
			return STORE_ERROR;
		}
		buf_commit(out, (size_t)r);
		left -= (uint64_t)r;
	}
	close(fd);
	return STORE_OK;
}

/*
 * The read cache of blob_read_cached(): whole blobs of at most
 * BLOB_CACHE_ENTRY_MAX bytes, BLOB_CACHE_BYTES in all, least recently used
 * out first.  A blob's name is the SHA-256 of its bytes and a blob never
 * changes, so a copy read once is the blob for as long as it is kept,
 * whichever store and session asks.  The lock guards the table and the
 * list only: no file is read while it is held.
 */
#define BLOB_CACHE_BYTES (8u << 20)
#define BLOB_CACHE_BUCKETS 4096u

struct blob_cached {
	char hash[SHA256_HEX_LEN + 1];
	size_t size;
	struct blob_cached *next_in_bucket;
	struct blob_cached *newer, *older;
	char data[];
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blob_cached *cache_table[BLOB_CACHE_BUCKETS];
static struct blob_cached *cache_newest, *cache_oldest;
static size_t cache_bytes;

static unsigned
cache_bucket(const char *hash)
{
	/* the name is already a hash: its first hex digits will do */
	unsigned v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 4 | (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return v % BLOB_CACHE_BUCKETS;
}

static void
cache_unlink_lru(struct blob_cached *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		cache_newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		cache_oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
cache_push_newest(struct blob_cached *e)
{
	e->older = cache_newest;
	e->newer = NULL;
	if (cache_newest != NULL)
		cache_newest->newer = e;
	cache_newest = e;
	if (cache_oldest == NULL)
		cache_oldest = e;
}

static void
cache_drop(struct blob_cached *e)
{
	struct blob_cached **pp = &cache_table[cache_bucket(e->hash)];
	while (*pp != e)
		pp = &(*pp)->next_in_bucket;
	*pp = e->next_in_bucket;
	cache_unlink_lru(e);
	cache_bytes -= e->size;
	free(e);
}

/* Appends the cached copy to out: 1, or 0 when there is none (or it does
 * not fit out, which blob_read() then says). */
static int
cache_get(const char *hash, struct buf *out)
{
	int found = 0;
	pthread_mutex_lock(&cache_lock);
	struct blob_cached *e = cache_table[cache_bucket(hash)];
	while (e != NULL && memcmp(e->hash, hash, SHA256_HEX_LEN) != 0)
		e = e->next_in_bucket;
	if (e != NULL && buf_append(out, e->data, e->size) == 0) {
		cache_unlink_lru(e);
		cache_push_newest(e);
		found = 1;
	}
	pthread_mutex_unlock(&cache_lock);
	return found;
}

static void
cache_put(const char *hash, const char *data, size_t size)
{
	if (size > BLOB_CACHE_ENTRY_MAX)
		return;
	struct blob_cached *n = xmalloc(sizeof *n + size);
	memcpy(n->hash, hash, SHA256_HEX_LEN);
	n->hash[SHA256_HEX_LEN] = '\0';
	n->size = size;
	if (size > 0)
		memcpy(n->data, data, size);
	unsigned b = cache_bucket(hash);
	pthread_mutex_lock(&cache_lock);
	struct blob_cached *e = cache_table[b];
	while (e != NULL && memcmp(e->hash, hash, SHA256_HEX_LEN) != 0)
		e = e->next_in_bucket;
	if (e != NULL) {
		/* another session read it meanwhile */
		pthread_mutex_unlock(&cache_lock);
		free(n);
		return;
	}
	while (cache_oldest != NULL && cache_bytes + size > BLOB_CACHE_BYTES)
		cache_drop(cache_oldest);
	n->next_in_bucket = cache_table[b];
	cache_table[b] = n;
	n->newer = n->older = NULL;
	cache_push_newest(n);
	cache_bytes += size;
	pthread_mutex_unlock(&cache_lock);
}

int
blob_read_cached(struct store *st, const char *hash, struct buf *out,
		 const char **error_r)
{
	if (is_lower_hex(hash, SHA256_HEX_LEN) && cache_get(hash, out))
		return STORE_OK;
	size_t start = out->len;
	int ret = blob_read(st, hash, out, error_r);
	if (ret == STORE_OK)
		cache_put(hash, out->data != NULL ? out->data + start : "", out->len - start);
	return ret;
}

void
blob_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	while (cache_oldest != NULL)
		cache_drop(cache_oldest);
	pthread_mutex_unlock(&cache_lock);
}

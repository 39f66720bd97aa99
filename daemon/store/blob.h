/*
 * blob: the message files under data_dir/blobs/, named by their SHA-256.
 *
 * A blob is written to an unnamed file (O_TMPFILE) in blobs/tmp/, or in
 * blobs/XX/ when its hash is known before its file is made (a deferred
 * writer's message that fits its buffer), fsynced,
 * linked as blobs/XX/HASH (XX = its first two hex digits), and that
 * directory fsynced, before blob_writer_place() returns: the content is on
 * disk before its name is, and the name before the caller's rows commit.
 * (blob_writer_link() syncs the bytes and the name together after the
 * link, while the caller's rows commit; see there for what covers a crash
 * in between.  For a small message linked so, whose bytes were all in
 * memory, the caller puts the bytes themselves into its transaction
 * (blob_writer_bytes(), sql/056): then the durable commit makes the
 * message durable, the fsyncs finish in the background, and after a crash
 * the file is written out from the record before anything reads it.)  The shared blobs/tmp/ directory is never written, and a
 * crash leaves no temporary file behind.  Where unnamed files cannot be
 * made or named (no O_TMPFILE in the filesystem, no /proc/self/fd), the
 * file has a unique name in blobs/tmp/ and is renamed instead, in the
 * same order.  A blob that exists already is not written twice (its
 * content is checked against its name first): blobs are content-addressed and shared by every message
 * with the same bytes.  Blobs are immutable; readers open them by hash.
 * The writer hashes as it goes, so a large message is never held in memory.
 *
 * A refused message leaves nothing behind.  Callers check what they can
 * (quota, the mailbox) before the blob is placed and throw the temporary
 * file away on a refusal (blob_writer_abort()); a refusal that comes after
 * (the transaction fails, a race with another delivery) removes the placed
 * blob unless it is shared.  So that such a removal can never take a blob
 * another delivery is about to reference, a placed writer holds the file
 * with a shared flock(2) until the caller has committed its rows; removal
 * takes SQLite's write lock (so no transaction can commit a reference
 * meanwhile, and no fetched batch is between placing and committing: it
 * places under that lock), then an exclusive flock without waiting (held:
 * another delivery wants it), then checks no row references it.  The
 * hourly gc and fsck remain only a safety net for crashes.
 *
 * Running out of space (ENOSPC, EDQUOT) is STORE_NOSPACE, any other I/O
 * error STORE_ERROR; a failed fsync is always a failure.  Mail stops
 * before the disk is full: a message that would leave less than
 * BLOB_DISK_RESERVE bytes free is refused as STORE_NOSPACE too (Postfix's
 * queue_minfree), so that the database keeps room for what must still
 * work then: reading and deleting mail, flags, the fetcher's state.
 */
#ifndef MAILHUB_STORE_BLOB_H
#define MAILHUB_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/hash.h"

struct store;
struct blob_writer;

/* Bytes left free on the blobs' filesystem for the database's writes. */
#define BLOB_DISK_RESERVE (8 * 1024 * 1024)

/*
 * Makes the blob folder of data_dir (store_open(): blobs/ and blobs/tmp
 * each time, the 256 folders XX once per process and folder).  When blobs/ is made
 * here, the filesystem is first asked to treat it as the top of a
 * hierarchy of its own (ext4's FS_TOPDIR_FL, where it has one): its
 * folders then go to the disk's emptiest groups, and so do the messages'
 * inodes, each allocated in its folder's group, instead of the data
 * directory's group and whatever else churns there (on an ext4 without a
 * journal, each new inode otherwise skips every inode of its group
 * deleted in the last minutes, one buffer lookup each).  The XX folders
 * are made ahead (those that are missing) and made durable with blobs/,
 * so that a delivery never has to make one and sync blobs/ before its
 * reply; blob_writer_place() still makes a missing one.  0, or -1.
 */
int blob_dir_prepare(const char *data_dir, const char *blob_dir, const char **error_r);

/* Starts a blob; max_size (0: none) makes blob_write() fail past it. */
int blob_writer_new(struct store *st, uint64_t max_size,
		    struct blob_writer **w_r, const char **error_r);
/* The same, with the temporary file made only once the bytes outgrow the
 * writer's buffer, or when the blob is finished or placed: a message that
 * will likely be thrown away unplaced (the SMTP server's checked messages,
 * see blob_writer_seal()) then costs no file, and a small one placed gets
 * its file in the folder of its name, its hash known then (its inode where
 * that folder's are: blob_dir_prepare()); and none at all when a blob of
 * that content exists by then (the same message APPENDed again, or
 * delivered to another user too): that one is held instead, as placing
 * would find and hold it, so the same bytes are never written and synced
 * twice.  A failure to make the file is told by the call that makes it. */
int blob_writer_new_deferred(struct store *st, uint64_t max_size,
			     struct blob_writer **w_r, const char **error_r);
/* Appends bytes.  STORE_INVALID past max_size (the writer then only counts,
 * so the caller can drain the rest of the message), STORE_NOSPACE or
 * STORE_ERROR on I/O (the temporary file is gone then). */
int blob_write(struct blob_writer *w, const void *p, size_t n,
	       const char **error_r);
/* Bytes written (or counted past the limit) so far. */
uint64_t blob_writer_size(const struct blob_writer *w);
/* Makes the temporary file durable and closes it, without naming it yet:
 * for a caller that collects several messages (IMAP APPEND) before it can
 * tell whether they will be taken.  The writer keeps no buffer and no file
 * descriptor afterwards (but the one descriptor of a kept unnamed file or
 * of a blob stored before, ANON_KEPT_MAX of them in the process).  Optional: blob_writer_place() does it too. */
int blob_writer_finish(struct blob_writer *w, const char **error_r);
/* Flushes what is buffered and hashes the bytes, without making them
 * durable: the message can then be read (*fd_r, a new read-only
 * descriptor the caller closes; a deferred writer whose bytes are all in
 * its buffer gives a memory file and still has no temporary file) and checked before it is placed (which
 * makes it durable) or thrown away (which then has cost no flush to disk:
 * the SMTP server's checks read the message before they write the copy
 * that is kept).  No more bytes may be written afterwards.  STORE_OK, or
 * the failure (nothing of the file left). */
int blob_writer_seal(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1], int *fd_r,
		     const char **error_r);
/* Makes the blob durable under its name (see above) and holds it for the
 * caller's transaction, which must follow; a deferred writer's bytes, all
 * in its buffer, go into the read cache then (blob_read_cached()), as the
 * delivery reads them again at once.  Then blob_writer_release() (its
 * rows committed) or blob_writer_abort() (refused: the blob goes unless it
 * is shared).  On failure nothing of it is left; the writer is still to be
 * freed with blob_writer_abort(). */
int blob_writer_place(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1],
		      uint64_t *size_r, const char **error_r);
/* blob_writer_place() without waiting: the file is named at once, and
 * its bytes and its name are made durable meanwhile, together (the fsync
 * of the file, then of the folder it is named in, shared with the other
 * links into that folder: on a journalled filesystem one journal commit
 * rather than one before the link and one after).  The caller's rows may
 * commit then, but blob_writer_wait_name() must succeed before the
 * message is acknowledged.  A crash before it may leave a row whose blob
 * has no name or less than its content: the caller records the name in
 * the same transaction (store_name_pending()), fsck --repair removes such
 * rows of messages never acknowledged, and a writer of the same content
 * checks the file it finds under that name and replaces a wrong one.  A
 * small message's record holds its bytes too (blob_writer_bytes()): then
 * the commit makes it durable, and it is written out after a crash. */
int blob_writer_link(struct blob_writer *w, char hash_r[SHA256_HEX_LEN + 1],
		     uint64_t *size_r, const char **error_r);
/* The largest message whose bytes go into its record (sql/056): the
 * deferred writer's buffer, so that only a message already whole in
 * memory is recorded (nothing read back, nothing held longer than the
 * delivery holds it anyway), and each delivery adds to the WAL at most
 * that much besides its rows.  Most mail without attachments is smaller;
 * larger messages wait for their fsyncs as before. */
#define BLOB_RECORD_MAX (64u << 10)

/* A writer placed by blob_writer_link() with every byte in its buffer,
 * BLOB_RECORD_MAX at most, and its syncs under way in the background:
 * its bytes (*p_r, *n_r: valid until the writer is released or aborted),
 * for the caller to record in its transaction (store_name_pending()).
 * False otherwise (the caller waits for the name, as before). */
bool blob_writer_bytes(const struct blob_writer *w, const void **p_r, size_t *n_r);
/* The bytes of w are in the record id of a committed, durable
 * transaction: blob_writer_wait_durable() need not wait, and once
 * released or aborted, the writer hands id to the round of fsyncs that
 * makes its file and name durable; when that round succeeded, a later
 * transaction deletes the record (store_name_pending_durable()); when it
 * failed, the record stays (logged) and the next start writes the file
 * out (store_names_pending_restore()). */
void blob_writer_recorded(struct blob_writer *w, int64_t id);
/* Before a message is acknowledged: STORE_OK at once when its bytes are
 * in a committed record (blob_writer_recorded()), else
 * blob_writer_wait_name(). */
int blob_writer_wait_durable(struct blob_writer *w, const char **error_r);
/* Waits until the bytes and name given by blob_writer_link() are durable (at once
 * after blob_writer_place(), or when the writer is not placed; NULL ok).  STORE_OK, or the failure of the
 * folder's fsync (STORE_NOSPACE or STORE_ERROR): the message must not be
 * acknowledged then; the writer stays placed, for blob_writer_release() or
 * blob_writer_abort(). */
int blob_writer_wait_name(struct blob_writer *w, const char **error_r);
/* The caller's rows reference the placed blob: lets go of it and frees the
 * writer.  NULL ok. */
void blob_writer_release(struct blob_writer **w);
/* Throws the blob away and frees the writer; NULL ok.  Before
 * blob_writer_place(), the temporary file goes; after it, the placed blob
 * goes unless a row references it or another writer holds it.  Must not be
 * called inside a transaction of w's store. */
void blob_writer_abort(struct blob_writer **w);
/* blob_writer_place() and blob_writer_release() at once, for a blob whose
 * rows need no protection from a refusal elsewhere (or that tests write). */
int blob_writer_commit(struct blob_writer **w, char hash_r[SHA256_HEX_LEN + 1],
		       uint64_t *size_r, const char **error_r);

/* Stores a whole message that is already in memory (blob_writer_commit()). */
int blob_put(struct store *st, const void *p, size_t n,
	     char hash_r[SHA256_HEX_LEN + 1], const char **error_r);
/* Makes blob hash durable from its recorded bytes p, n (sql/056, after a
 * crash): when the file under its name is missing or holds other content,
 * it is written as any blob is (whatever the disk's reserve: the message
 * was acknowledged); then the file and its folder are fsynced (a file
 * found there may never have left the page cache).  STORE_INVALID when
 * the bytes do not hash to hash, else STORE_OK or the I/O failure. */
int blob_restore(struct store *st, const char *hash, const void *p, size_t n,
		 const char **error_r);
/* Opens a blob for reading: an fd (caller closes) and its size. */
int blob_open(struct store *st, const char *hash, int *fd_r, uint64_t *size_r,
	      const char **error_r);
/* Reads a whole blob into out (subject to out's maximum). */
int blob_read(struct store *st, const char *hash, struct buf *out,
	      const char **error_r);
/* blob_read() through a process-wide cache of small blobs (a few MiB,
 * least recently used out first): a blob never changes, so what was read
 * once is served again without opening the file.  For readers that come
 * back to the same messages (IMAP FETCH, SORT, SEARCH). */
int blob_read_cached(struct store *st, const char *hash, struct buf *out,
		     const char **error_r);
/* The largest blob that cache keeps. */
#define BLOB_CACHE_ENTRY_MAX (256u << 10)
/* Empties that cache (tests). */
void blob_cache_clear(void);
/* Moves the finished, durable temporary file tmp_path to
 * blob_dir/XX/HASH, making the XX folder when missing (*dir_made_r: then
 * blob_dir's entry for it still needs a sync); when that name exists (the
 * same content), keeps that file, touches it so that gc spares it, and
 * removes tmp_path.  The new names are not synced here.  For a caller that
 * holds SQLite's write lock until its rows commit (see above). */
int blob_move_into_place(const char *blob_dir, const char *tmp_path, const char *hash,
			 bool *dir_made_r, const char **error_r);
/* Inside a write transaction of st: removes the blob unless a row
 * references it or a writer holds it (see above).  1 removed, 0 kept. */
int blob_remove_unused(struct store *st, const char *hash);
/* STORE_NOSPACE for ENOSPC or EDQUOT, STORE_ERROR for any other errno. */
int blob_errno_status(int e);
/* Whether the filesystem of fd has BLOB_DISK_RESERVE bytes free (true
 * when it cannot tell). */
bool blob_disk_has_reserve(int fd);

/*
 * The calls that make files durable: fsync(2) and syncfs(2).  A test puts
 * a failing function in their place to show that a failed flush is never
 * acknowledged (tests/unit/check_blob.c); nothing else changes them.
 */
extern int (*blob_fsync_fn)(int fd);
extern int (*blob_syncfs_fn)(int fd);

/* Counts of the folder syncs of blob_writer_place() and blob_writer_link()
 * since the start of the process (for tests and benchmarks). */
struct blob_sync_stats {
	uint64_t links;			/* tickets: links that owe a folder sync */
	uint64_t folder_syncs;		/* fsyncs of a folder done for them */
	uint64_t folder_syncs_inline;	/* of which by the waiter itself */
	uint64_t waits;			/* waits for a sync under way */
};
void blob_sync_stats(struct blob_sync_stats *stats_r);

/* SHA-256 of fd's whole content (read from its start, its offset left
 * alone) as hex; -1 with errno when it cannot be read. */
int blob_hash_fd(int fd, char out[SHA256_HEX_LEN + 1]);

/* data_dir/blobs/XX/HASH, malloc'd. */
char *blob_path(const struct store *st, const char *hash);

#endif

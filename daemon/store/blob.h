/*
 * blob: the message files under data_dir/blobs/, named by their SHA-256.
 *
 * A blob is written to blobs/tmp/ under a unique name, fsynced, renamed to
 * blobs/XX/HASH (XX = its first two hex digits), and the directory fsynced,
 * before blob_writer_commit() returns.  A blob that exists already is not
 * written twice.  Blobs are immutable; readers open them by hash.
 * The writer hashes as it goes, so a large message is never held in memory.
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

/* Starts a blob; max_size (0: none) makes blob_write() fail past it. */
int blob_writer_new(struct store *st, uint64_t max_size,
		    struct blob_writer **w_r, const char **error_r);
/* Appends bytes.  STORE_INVALID past max_size (the writer then only counts,
 * so the caller can drain the rest of the message), STORE_ERROR on I/O. */
int blob_write(struct blob_writer *w, const void *p, size_t n,
	       const char **error_r);
/* Bytes written (or counted past the limit) so far. */
uint64_t blob_writer_size(const struct blob_writer *w);
/* Makes the blob durable (see above) and frees the writer. */
int blob_writer_commit(struct blob_writer **w, char hash_r[SHA256_HEX_LEN + 1],
		       uint64_t *size_r, const char **error_r);
/* Throws the partial blob away; NULL ok. */
void blob_writer_abort(struct blob_writer **w);

/* Stores a whole message that is already in memory. */
int blob_put(struct store *st, const void *p, size_t n,
	     char hash_r[SHA256_HEX_LEN + 1], const char **error_r);
/* Opens a blob for reading: an fd (caller closes) and its size. */
int blob_open(struct store *st, const char *hash, int *fd_r, uint64_t *size_r,
	      const char **error_r);
/* Reads a whole blob into out (subject to out's maximum). */
int blob_read(struct store *st, const char *hash, struct buf *out,
	      const char **error_r);
/* Moves the finished, durable temporary file tmp_path to
 * blob_dir/XX/HASH, making the XX folder when missing (*dir_made_r: then
 * blob_dir's entry for it still needs a sync); when that name exists (the
 * same content), keeps that file, touches it so that gc spares it, and
 * removes tmp_path.  The new names are not synced here. */
int blob_move_into_place(const char *blob_dir, const char *tmp_path, const char *hash,
			 bool *dir_made_r, const char **error_r);
/* data_dir/blobs/XX/HASH, malloc'd. */
char *blob_path(const struct store *st, const char *hash);

#endif

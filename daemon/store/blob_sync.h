/*
 * blob_sync: the folder syncer of blob.c, internal to the store.
 *
 * Each link into a blob folder (blobs/XX) takes a ticket of that folder's
 * group; a round (fsyncs of the files linked unsynced, then of the
 * folder) covers every ticket issued before it began.  The syncer thread
 * starts a round as soon as a link asks for it, or, for links whose
 * delivery will not wait for it (their bytes are in their records,
 * sql/056), syncs them all in one lazy pass; a waiter does a round itself
 * when the syncer has not started one.  See blob_sync.c for the why.
 */
#ifndef MAILHUB_STORE_BLOB_SYNC_H
#define MAILHUB_STORE_BLOB_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/hash.h"

struct dir_group;

/* A file linked into a folder before its bytes were synced: a descriptor
 * of its own (taken by dir_sync_start()), its device and inode. */
struct unsynced_file {
	int fd;
	dev_t dev;
	ino_t ino;
};

/* A ticket of folder path, after a link into it: its sync started (lazy:
 * nobody waits for it).  file: a file linked into it to be synced with it,
 * or fd -1. */
struct dir_group *dir_sync_start(const char *path, struct unsynced_file file, bool lazy,
				 uint64_t *ticket_r);
/* Whether file (dev, ino) in folder path was linked unsynced by this
 * process and its sync is still to come or under way. */
bool dir_file_unsynced(const char *path, dev_t dev, ino_t ino);
/* Waits until ticket of g is durable (fd: the linked file, synced by the
 * waiter itself when g is in the syncer's pass, or -1); 0, or the errno of
 * the fsync that failed. */
int dir_sync_wait(struct dir_group *g, uint64_t ticket, int fd);
/* The folder of g. */
const char *blob_sync_group_path(const struct dir_group *g);

/* Whether a link may be left to the syncer's lazy pass: the syncer runs,
 * and not too many records wait for it (RECORDS_BEHIND_MAX). */
bool blob_sync_can_defer(void);
/* A link was left so (its bytes recorded): counted until its record is
 * handed to blob_sync_record() and settled. */
void blob_sync_deferred(void);
/* Record id (of the database of blob_dir, for blob hash) waits for ticket
 * of g (0: none owed): handed to store_name_pending_durable() once a
 * round covering it succeeded (now, when one did), or kept, logged, when
 * it failed. */
void blob_sync_record(struct dir_group *g, uint64_t ticket, int64_t id, const char *blob_dir,
		      const char hash[SHA256_HEX_LEN + 1]);

#endif

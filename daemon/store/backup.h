/*
 * backup: a consistent copy of data_dir taken while the daemon runs, and
 * its restoration into an empty data_dir (`mailhub backup|restore DIR`).
 *
 * A backup folder holds mailhub.db, secret.key, tls/ and blobs/XX/HASH, as
 * data_dir does.  The database is copied with SQLite's online backup API
 * in one step: the copy is the database as it was at one instant (a read
 * transaction; in WAL mode writers go on meanwhile), so every message
 * acknowledged before the backup began is in it.  Then every blob that the
 * copy references (messages, expunged rows still readable, the queue,
 * learning jobs) is copied, its SHA-256 checked against its name as it is
 * read; blobs the folder holds already (an earlier backup) are not copied
 * again, and ones the copy no longer references are removed: backups are
 * incremental on the blobs.  Blobs are immutable and never removed while
 * referenced, so those the copy references are all still there.
 * Everything is fsynced, and the database is renamed into place last, so
 * an interrupted backup leaves the previous one usable.
 */
#ifndef MAILHUB_STORE_BACKUP_H
#define MAILHUB_STORE_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

struct store;

struct store_backup_report {
	unsigned blobs;		/* blobs the copy references */
	unsigned copied;	/* of those, copied now */
	unsigned removed;	/* no longer referenced, removed from the backup */
	uint64_t bytes;		/* bytes of blobs copied now */
};

/* Backs data_dir of st up into dir (created when missing). */
int store_backup(struct store *st, const char *dir, struct store_backup_report *r,
		 const char **error_r);
/* Restores the backup in dir into data_dir, which must be missing or
 * empty: every blob's hash checked, the modes the store gives set. */
int store_restore(const char *dir, const char *data_dir, struct store_backup_report *r,
		  const char **error_r);

#endif

/*
 * import: mail brought in from another server (`mailhub import`), with
 * what the old server knew of it: flags, keywords, internal date, and its
 * UID and the folder's UIDVALIDITY, so that clients already synced to the
 * old server find the same UIDs and download nothing again.
 *
 * Each message is named by a key that says where it came from (sql/017);
 * the key is recorded in the transaction that adds the message, so an
 * import run again, or resumed after an interruption, adds nothing twice.
 * Messages are made durable and added many at a time (the fetcher's batch,
 * upstreams.h): two syncfs(2) and one transaction per batch rather than
 * three fsyncs per message.  Imports are the administrator's doing and are
 * not held to the user's quota.
 */
#ifndef MAILHUB_STORE_IMPORT_H
#define MAILHUB_STORE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * The mailbox name of user_id to import into, created (subscribed) when
 * missing.  When it has never held a message (UIDNEXT 1) and uidvalidity
 * is not 0, it takes that UIDVALIDITY: the old server's.  *created_r (may
 * be NULL) says whether it was made now.
 */
int store_import_mailbox(struct store *st, int64_t user_id, const char *name,
			 uint32_t uidvalidity, int64_t *mailbox_id_r, bool *created_r,
			 const char **error_r);
/* After the messages: raises the mailbox's UIDNEXT to at least uidnext
 * (the old server's), so new mail gets UIDs the clients have not seen. */
int store_import_mailbox_done(struct store *st, int64_t mailbox_id, uint32_t uidnext,
			      const char **error_r);
/* Whether key was imported into the mailbox already: 1, 0, or -1. */
int store_import_known(struct store *st, int64_t mailbox_id, const char *key,
		       const char **error_r);

/*
 * The keys imported into a mailbox before (sql/017), read at once when a
 * folder's import begins: one query rather than one per message of the
 * source.  Keys added later (by the run itself) are not in it; commit's
 * INSERT OR IGNORE into import_keys is what keeps a message from coming in
 * twice, this only spares reading what an earlier run brought in.
 */
struct store_import_keys {
	int64_t mailbox_id;
	bool loaded;
	char **keys;		/* sorted (strcmp) */
	size_t n;
};
int store_import_keys_load(struct store *st, int64_t mailbox_id,
			   struct store_import_keys *k, const char **error_r);
bool store_import_keys_has(const struct store_import_keys *k, const char *key);
void store_import_keys_clear(struct store_import_keys *k);

/* For a connection that imports many messages (`mailhub import` of
 * files): SQLite's page cache raised to IMPORT_BULK_CACHE_KIB, so that the
 * indexes of the growing tables stay in memory instead of being read
 * back from the file on each insert. */
void store_import_bulk(struct store *st);

/* One message's record (strings copied by store_import_batch_end()). */
struct store_import_msg {
	int64_t mailbox_id;
	uint32_t uid;		/* the UID to keep when it is free; 0: the next */
	unsigned flags;		/* enum store_flag */
	const char *keywords;	/* space-separated, or NULL */
	int64_t internal_date;
	const char *key;	/* where it came from (sql/017) */
};

/*
 * A batch: begin, write the message's bytes (as they are to be stored),
 * end with its record; commit makes the batch's files durable and adds
 * every message whose key is new, in one transaction (*imported_r counts
 * them, *skipped_r those already there).  Nothing of a batch is recorded
 * before commit returns.
 */
struct store_import_batch;
int store_import_batch_new(struct store *st, struct store_import_batch **b_r);
int store_import_batch_begin(struct store_import_batch *b, const char **error_r);
int store_import_batch_write(struct store_import_batch *b, const void *p, size_t n,
			     const char **error_r);
int store_import_batch_end(struct store_import_batch *b, const struct store_import_msg *m,
			   const char **error_r);
void store_import_batch_abort_message(struct store_import_batch *b);
size_t store_import_batch_count(const struct store_import_batch *b);
int store_import_batch_commit(struct store_import_batch *b, unsigned *imported_r,
			      unsigned *skipped_r, const char **error_r);
void store_import_batch_free(struct store_import_batch **b);

#endif

/*
 * spam: the store's part of the spam defence (sql/014_spam.sql): the
 * greylisting triplets of port 25, and the queue of messages to teach
 * rspamd (moved into or out of Junk over IMAP) that the spam worker runs.
 */
#ifndef MAILHUB_STORE_SPAM_H
#define MAILHUB_STORE_SPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "core/limits.h"
#include "store/store.h"

/* ---- greylisting ---------------------------------------------------------- */

struct store_greylist_policy {
	unsigned delay;		/* seconds before a retry passes */
	unsigned retry_window;	/* seconds after the delay a retry may come */
	unsigned expire;	/* seconds a passed triplet lasts unused */
};

enum store_greylist_verdict {
	STORE_GREYLIST_PASS,	/* known and passed: take the mail */
	STORE_GREYLIST_NEW,	/* first seen (or seen too long ago): defer */
	STORE_GREYLIST_EARLY,	/* retried before the delay: defer */
};

/*
 * Looks the triplet key (trust/greylist.h: 64 hex digits) up at time now
 * and records the attempt, in one light transaction (a triplet carries no
 * message: losing the last second of them to a power failure costs a
 * retry).  *retry_r: when a deferred triplet will pass (NEW, EARLY).
 */
int store_greylist_check(struct store *st, const char *key, int64_t now,
			 const struct store_greylist_policy *p,
			 enum store_greylist_verdict *verdict_r, int64_t *retry_r,
			 const char **error_r);
/* Removes the triplets that can no longer pass (not retried in time) or
 * have expired; *removed_r how many. */
int store_greylist_sweep(struct store *st, int64_t now, const struct store_greylist_policy *p,
			 unsigned *removed_r, const char **error_r);

/* ---- learning ------------------------------------------------------------- */

enum store_learn_kind {
	STORE_LEARN_NONE,
	STORE_LEARN_SPAM,
	STORE_LEARN_HAM,
};

/*
 * What a copy or move from mailbox src to dst teaches, by their special
 * use (RFC 6154): into \Junk from elsewhere, spam; out of \Junk into any
 * folder but \Trash (deleting spam is no sign that it was ham), ham.
 */
int store_learn_kind_of_copy(struct store *st, int64_t src, int64_t dst,
			     enum store_learn_kind *kind_r, const char **error_r);
/* Inside the caller's transaction: a job for the mailbox owner's blob
 * (nothing for STORE_LEARN_NONE); replaces a job for the same message. */
int store_learn_add_tx(struct store *st, int64_t mailbox_id, const char *blob,
		       enum store_learn_kind kind, const char **error_r);
/*
 * After an IMAP APPEND of blob into mailbox: a client that "moves" by
 * APPEND and EXPUNGE (no MOVE, no COPY across its accounts' folders)
 * teaches as a move would: into \Junk, spam; into another folder (not
 * \Trash) while the same message is in one of the user's \Junk folders,
 * ham.  Its own transaction.
 */
int store_learn_append(struct store *st, int64_t mailbox_id, const char *blob,
		       const char **error_r);

struct store_learn_job {
	int64_t id;
	int64_t user_id;
	char blob[SHA256_HEX_LEN + 1];
	bool spam;
	unsigned attempts;
	int64_t created;
};

/* Up to max jobs due at now, oldest first (malloc'd array). */
int store_learn_due(struct store *st, int64_t now, size_t max, struct store_learn_job **jobs_r,
		    size_t *n_r, const char **error_r);
/* A job is done (learned, or given up): its row goes. */
int store_learn_done(struct store *st, int64_t id, const char **error_r);
/* A job failed for now: tried again at next_try, with why. */
int store_learn_retry(struct store *st, int64_t id, int64_t next_try, const char *why,
		      const char **error_r);
/* Jobs waiting (the status page). */
int store_learn_count(struct store *st, unsigned *n_r, const char **error_r);
/* Whether a job holds blob (store_blob_referenced()): 1, 0 or -1. */
int store_learn_blob_referenced(struct store *st, const char *hash);

#endif

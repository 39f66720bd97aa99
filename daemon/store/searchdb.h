/*
 * searchdb: the sort keys and full-text index of the messages (sql/016),
 * one row per blob: what SORT, THREAD and SEARCH TEXT read instead of the
 * message files.  Part of daemon/store, the only SQL of those commands.
 */
#ifndef MAILHUB_STORE_SEARCHDB_H
#define MAILHUB_STORE_SEARCHDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "mail/sortkeys.h"
#include "store/store.h"

/* A message of a mailbox with its keys. */
struct searchdb_msg {
	uint32_t uid;
	char blob[SHA256_HEX_LEN + 1];
	int64_t internal_date;
	uint64_t size;
	struct mail_sortkeys *keys;	/* NULL: not computed yet */
};

/* Every message of the mailbox in UID order, with its keys when stored
 * (read in one snapshot).  Free with searchdb_msgs_free(). */
int searchdb_msgs(struct store *st, int64_t mailbox_id,
		  struct searchdb_msg **list_r, size_t *n_r, const char **error_r);
void searchdb_msgs_free(struct searchdb_msg **list, size_t n);

/* Stores the keys (and indexed text, when k->text) of a blob unless it
 * has them; in the caller's transaction. */
int searchdb_put_tx(struct store *st, const char *blob,
		    const struct mail_sortkeys *k, const char **error_r);
/* The same in a transaction of its own (keys SORT computed from a file),
 * unless the blob no longer has a message (then nothing: no orphan rows). */
int searchdb_put(struct store *st, const char *blob,
		 const struct mail_sortkeys *k, const char **error_r);

/* The UIDs (ascending, malloc'd) of the messages of the mailbox whose
 * indexed text holds needle[0..len) (already case-folded), and those of
 * the messages not indexed (which the caller must search itself). */
int searchdb_text(struct store *st, int64_t mailbox_id, const char *needle,
		  size_t len, uint32_t **uids_r, size_t *n_r,
		  uint32_t **unindexed_r, size_t *n_unindexed_r,
		  const char **error_r);

/* The same for SEARCH SUBJECT, FROM, TO, CC, BCC or BODY (sql/025): the
 * UIDs of the messages whose field text (mail/searchfields.h) holds
 * needle[0..len) (folded, not empty), and those not indexed.  For a
 * header field the text holds each occurrence on a line of its own: a
 * needle with a line feed must be confirmed by reading the message. */
int searchdb_fields(struct store *st, int64_t mailbox_id,
		    enum mail_search_field field, const char *needle,
		    size_t len, uint32_t **uids_r, size_t *n_r,
		    uint32_t **unindexed_r, size_t *n_unindexed_r,
		    const char **error_r);

/* The background indexer's pass (cli/serve_index.c): computes the keys,
 * text and fields (sql/025) of at most max blobs of pending messages
 * (fields_pending: delivery and APPEND leave them to it), reading the files
 * outside any transaction, and stores them in light transactions of a
 * batch each; with sweep, when none are pending, of blobs with messages but
 * no keys (a scan of every message: for the start).  A blob whose last
 * message went meanwhile gets nothing.  *done_r how many (under max: none
 * are left). */
int searchdb_index_pass(struct store *st, size_t max, bool sweep,
			size_t *done_r, const char **error_r);
/* The indexer's removals (sql/049): the index rows of at most max files
 * whose last message went (the expunge left them, its transaction being
 * the smaller for it), in one light transaction, unless a file came back
 * meanwhile.  *done_r how many (under max: none are left). */
int searchdb_gone_pass(struct store *st, size_t max, size_t *done_r, const char **error_r);

/* The indexer's wake-up, process-wide.  searchdb_arrived(): a commit
 * added messages (store_commit() calls it after the commit).
 * searchdb_arrivals(): the count of those so far. */
void searchdb_arrived(void);
uint64_t searchdb_arrivals(void);
/* Waits until the count is no longer seen (1), until the CLOCK_MONOTONIC
 * time until (NULL: no limit; 0) or while searchdb_wait_interrupt(true)
 * holds (-1). */
struct timespec;
int searchdb_wait(uint64_t seen, const struct timespec *until);
/* Sleeps until the CLOCK_MONOTONIC time until (0), or while
 * searchdb_wait_interrupt(true) holds (-1); arrivals do not wake it (the
 * indexer gathering a batch: a wake-up per delivery was a context switch
 * per message for nothing). */
int searchdb_sleep(const struct timespec *until);
/* true: every wait returns -1 at once (the daemon stops); false: again. */
void searchdb_wait_interrupt(bool on);

#endif

/*
 * imapdb: the store operations only the IMAP server needs (the mailbox view
 * and its changes, \Recent, flags with MODSEQ, copy and move with new UIDs,
 * expunge of \Deleted messages, rename/delete/subscribe, the cached
 * ENVELOPE and BODYSTRUCTURE).  Part of daemon/store, so the only SQL of the
 * IMAP server lives here; every function that writes commits (or rolls
 * back) itself and wakes the watchers of the mailboxes it changed.
 */
#ifndef MAILHUB_STORE_IMAPDB_H
#define MAILHUB_STORE_IMAPDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "store/store.h"

/* A message as the IMAP view needs it. */
struct imapdb_msg {
	uint32_t uid;
	unsigned flags;		/* enum store_flag bits */
	char *keywords;		/* space-separated, or NULL */
	uint64_t modseq;
};
void imapdb_msg_list_free(struct imapdb_msg **list, size_t n);

/* In one read snapshot: the mailbox row and every message (UID order). */
int imapdb_view_load(struct store *st, int64_t mailbox_id,
		     struct store_mailbox *mb_r, struct imapdb_msg **list_r,
		     size_t *n_r, const char **error_r);
/* In one read snapshot: the mailbox row and the messages changed (or added)
 * after modseq, in UID order.  *all_uids_r (malloc'd, UID order) is filled
 * with every UID of the mailbox only when want_uids. */
int imapdb_changes(struct store *st, int64_t mailbox_id, uint64_t modseq,
		   struct store_mailbox *mb_r, struct imapdb_msg **list_r,
		   size_t *n_r, bool want_uids, uint32_t **all_uids_r,
		   size_t *n_uids_r, const char **error_r);

/* RFC 3501 §2.3.2: \Recent belongs to one session.  Takes the UIDs from
 * first_recent_uid up to (not including) upto for the caller, upto being
 * the UIDNEXT of the snapshot its view was read in (a message that came
 * after is for the session that sees it first): the caller's recent UIDs
 * are *first_r to upto - 1 (none when *first_r >= upto), and the
 * mailbox's first_recent_uid moves to upto. */
int imapdb_claim_recent(struct store *st, int64_t mailbox_id, uint32_t upto,
			uint32_t *first_r, const char **error_r);
/* The first UID that is \Recent for whoever selects the mailbox next,
 * without claiming it (EXAMINE, RFC 3501 §6.3.2: a read-only view leaves
 * \Recent to the next SELECT). */
int imapdb_first_recent(struct store *st, int64_t mailbox_id,
			uint32_t *first_r, const char **error_r);
/* Messages that are \Recent for whoever selects the mailbox next (STATUS). */
int imapdb_count_recent(struct store *st, int64_t mailbox_id,
			uint32_t *n_r, const char **error_r);

enum imapdb_flag_mode {
	IMAPDB_FLAGS_REPLACE,
	IMAPDB_FLAGS_ADD,
	IMAPDB_FLAGS_REMOVE,
};

/* A message's flags and keywords (space-separated, NULL for none) after
 * a STORE of mode with flags and keywords change; the keywords malloc'd or
 * NULL, and left as they were when the change would make them longer than
 * a message may keep (MESSAGE_KEYWORDS_MAX). */
unsigned imapdb_flags_apply(unsigned old, enum imapdb_flag_mode mode,
			    unsigned flags);
char *imapdb_keywords_apply(const char *old, enum imapdb_flag_mode mode,
			    const char *change);

/*
 * Changes the flags of the messages with these UIDs in one transaction;
 * messages whose flags really change get one new MODSEQ.  results (n
 * entries, same order) receive the flags and keywords after the change
 * (uid 0 for a UID that no longer exists); free their keywords.
 */
int imapdb_store_flags(struct store *st, int64_t mailbox_id,
		       const uint32_t *uids, size_t n,
		       enum imapdb_flag_mode mode, unsigned flags,
		       const char *keywords, struct imapdb_msg *results,
		       const char **error_r);

/* The same with RFC 7162's UNCHANGEDSINCE (UINT64_MAX: none): a message
 * whose MODSEQ is above unchangedsince is left as it is and marked in
 * modified (n entries, may be NULL).  Every result carries the message's
 * MODSEQ after the command, changed or not. */
int imapdb_store_flags_cond(struct store *st, int64_t mailbox_id,
			    const uint32_t *uids, size_t n,
			    enum imapdb_flag_mode mode, unsigned flags,
			    const char *keywords, uint64_t unchangedsince,
			    struct imapdb_msg *results, bool *modified,
			    const char **error_r);

/*
 * Copies (or moves) the messages with these UIDs (ascending) to dst in one
 * transaction; new_uids[i] receives the new UID of uids[i] (0 when the
 * source message no longer existed).  Quota is checked; a move also
 * removes the sources.  *uidvalidity_r is dst's UIDVALIDITY (COPYUID).
 * With learn, a copy into or out of Junk also queues its messages for the
 * spam filter to learn, in the same transaction (store/spam.h).
 */
int imapdb_copy(struct store *st, int64_t src_mailbox_id,
		int64_t dst_mailbox_id, const uint32_t *uids, size_t n,
		bool move, bool learn, uint32_t *new_uids, uint32_t *uidvalidity_r,
		const char **error_r);

/* Removes the \Deleted messages (only those in uids when uids != NULL) in
 * one transaction; *expunged_r (malloc'd, ascending) the UIDs removed. */
int imapdb_expunge_deleted(struct store *st, int64_t mailbox_id,
			   const uint32_t *uids, size_t n,
			   uint32_t **expunged_r, size_t *n_r,
			   const char **error_r);

/* Deletes a mailbox and its messages; INBOX cannot be deleted
 * (STORE_INVALID).  Children stay. */
int imapdb_mailbox_delete(struct store *st, int64_t user_id, const char *name,
			  const char **error_r);
/*
 * Renames a mailbox with its children (RFC 3501 §6.3.5).  Renaming INBOX
 * moves its messages to a new mailbox of that name and leaves INBOX empty
 * (its children stay).  STORE_EXISTS when new_name (or a child's new name)
 * exists, STORE_NOTFOUND when old_name does not.
 */
int imapdb_mailbox_rename(struct store *st, int64_t user_id,
			  const char *old_name, const char *new_name,
			  const char **error_r);
/* SUBSCRIBE / UNSUBSCRIBE (RFC 3501 §6.3.6): a name may be subscribed
 * whether or not a mailbox of that name exists.  STORE_NOTFOUND when
 * unsubscribing a name that is not subscribed. */
int imapdb_mailbox_subscribe(struct store *st, int64_t user_id,
			     const char *name, bool subscribed,
			     const char **error_r);
/* Forgets the files of messages expunged at least content_age seconds
 * ago (a session hears of an expunge at its next command that allows it;
 * until then it may still FETCH the message) and the expunge records of a
 * month ago.  The blob sweep (store_blob_gc()) calls it with its own
 * min_age before it looks for files no row refers to. */
int imapdb_expunged_sweep(struct store *st, unsigned content_age,
			  const char **error_r);
/* Every keyword set on a message of the mailbox so far (sql/012), at most
 * max of them, sorted (malloc'd strings and array). */
int imapdb_mailbox_keywords(struct store *st, int64_t mailbox_id, size_t max,
			    char ***list_r, size_t *n_r, const char **error_r);
/* The user's subscribed names, sorted (malloc'd strings and array). */
int imapdb_subscriptions(struct store *st, int64_t user_id, char ***names_r,
			 size_t *n_r, const char **error_r);

/* What FETCH and SEARCH read of a message besides its flags. */
struct imapdb_row {
	uint32_t uid;
	char blob[SHA256_HEX_LEN + 1];
	uint64_t size;
	int64_t internal_date;
	char *envelope;		/* cached, or NULL */
	char *bodystructure;	/* cached, or NULL */
	int64_t save_date;	/* RFC 8514: when it was stored in the
				 * mailbox (the internal date for mail
				 * stored before sql/025) */
};
/* The rows of the messages with UIDs uid_lo..uid_hi, in UID order. */
int imapdb_rows(struct store *st, int64_t mailbox_id, uint32_t uid_lo,
		uint32_t uid_hi, struct imapdb_row **rows_r, size_t *n_r,
		const char **error_r);
void imapdb_rows_free(struct imapdb_row **rows, size_t n);
/* Stores the cached ENVELOPE and BODYSTRUCTURE of a message: FETCH's repair
 * of a row stored without them (delivery and append write them with the
 * row). */
int imapdb_cache_set(struct store *st, int64_t mailbox_id, uint32_t uid,
		     const char *envelope, const char *bodystructure,
		     const char **error_r);

#endif

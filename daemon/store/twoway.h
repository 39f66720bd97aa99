/*
 * twoway: the store side of two-way sync (fetch/twoway.c).
 *
 * Each message fetched by a two-way account is linked to its upstream
 * message (sql/024_upstream_twoway.sql: upstream_links): folder,
 * UIDVALIDITY, UID, the raw SHA-256, the local blob, and the flags and
 * keywords both sides had at the last sync (the base of a three-way merge).
 * The link's state is the journal of what the upstream still owes: it is
 * committed before the upstream command it stands for is sent, and every
 * such command is idempotent, so a crash at any instant is repaired by the
 * next sync sending it again.  A trigger marks a link when its local
 * message goes, whichever code removes it.
 */
#ifndef MAILHUB_STORE_TWOWAY_H
#define MAILHUB_STORE_TWOWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum twoway_state {
	TWOWAY_LIVE = 0,		/* both sides have it */
	TWOWAY_LOCAL_GONE = 1,		/* gone here: delete or move upstream */
	TWOWAY_MOVING = 2,		/* UID MOVE to dest under way */
	TWOWAY_UNRESOLVED = 3,		/* upstream UID unknown: match by hash */
	TWOWAY_UNRESOLVED_GONE = 4,	/* the same, gone here meanwhile */
	TWOWAY_REMOTE_GONE = 5,		/* expunged upstream: expunge here */
	TWOWAY_UPLOADING = 6,		/* made here: APPEND recorded (uid 0) */
	TWOWAY_UPLOADING_GONE = 7,	/* the same, gone here meanwhile */
};

/* A link with its local message's state (the message fields are 0/"" when
 * the message is gone). */
struct twoway_link {
	int64_t id;
	int64_t message_id;
	int64_t mailbox_id;
	uint32_t local_uid;
	unsigned local_flags;
	char *local_keywords;
	uint64_t local_modseq;
	uint32_t uidvalidity;
	uint32_t uid;
	unsigned flags;			/* base */
	char *keywords;			/* base, "" none */
	enum twoway_state state;
	char *dest;			/* MOVING: the folder it goes to */
	char *blob;
	char *raw_hash;
};

/* The UIDs (from and above, under uidvalidity) that links of the
 * account's upstream folder hold, ascending (free() the list). */
int store_twoway_linked_uids(struct store *st, int64_t upstream_id, const char *folder,
			     uint32_t uidvalidity, uint32_t from, uint32_t **uids_r, size_t *n_r,
			     const char **error_r);
/* Whether any link of the account is MOVING (a move sent or not before
 * a crash: its destination's fetch must follow its source's pass). */
int store_twoway_any_moving(struct store *st, int64_t upstream_id, bool *any_r,
			    const char **error_r);
/* The links of the account's upstream folder (every state), by UID. */
int store_twoway_links(struct store *st, int64_t upstream_id, const char *folder,
		       struct twoway_link **list_r, size_t *n_r, const char **error_r);
/* The same, only those a sync must look at when the upstream named every
 * message of the folder that changed or went since the last sync
 * (QRESYNC): the links not LIVE, those whose local message is not their
 * base (dirty, sql/055), and those of uids (ascending); by UID. */
int store_twoway_links_some(struct store *st, int64_t upstream_id, const char *folder,
			    const uint32_t *uids, size_t n_uids, struct twoway_link **list_r,
			    size_t *n_r, const char **error_r);
void store_twoway_links_free(struct twoway_link **list, size_t n);

/* A local message of the user with this blob that no link holds (where a
 * moved message went): STORE_OK with its id and its mailbox's name
 * (malloc'd), or STORE_NOTFOUND. */
int store_twoway_find_copy(struct store *st, int64_t user_id, const char *blob,
			   int64_t *message_id_r, char **mailbox_r, const char **error_r);

/* One change of a link; a list of them is committed in one transaction. */
enum twoway_op_kind {
	TWOWAY_OP_BASE,		/* flags, keywords: the new base */
	TWOWAY_OP_STATE,	/* state, message_id (0: NULL), dest (NULL ok) */
	TWOWAY_OP_LOCATION,	/* folder, uidvalidity, uid, state; dest cleared */
	TWOWAY_OP_DELETE,
	TWOWAY_OP_MODSEQ,	/* folder (with link_id the account): HIGHESTMODSEQ */
	TWOWAY_OP_ADVANCE,	/* folder (link_id the account): last UID fetched, at least uid */
};
struct twoway_op {
	enum twoway_op_kind kind;
	int64_t link_id;
	unsigned flags;
	const char *keywords;
	enum twoway_state state;
	int64_t message_id;
	const char *dest;
	const char *folder;
	uint32_t uidvalidity;
	uint32_t uid;
	uint64_t modseq;
};
int store_twoway_apply(struct store *st, const struct twoway_op *ops, size_t n,
		       const char **error_r);

/* The folder's UIDVALIDITY changed: its links under another one become
 * unresolved (found again by raw hash as the folder is fetched again). */
int store_twoway_folder_reset(struct store *st, int64_t upstream_id, const char *folder,
			      uint32_t uidvalidity, const char **error_r);
/* After a complete pass over the folder: unresolved links that were not
 * found again are dropped (their local messages stay, no longer synced);
 * *dropped_r (may be NULL) counts them.  Nothing is written when there
 * are none. */
int store_twoway_drop_unresolved(struct store *st, int64_t upstream_id, const char *folder,
				 uint32_t uidvalidity, unsigned *dropped_r,
				 const char **error_r);

/* The folder's HIGHESTMODSEQ at its last completed sync (0: none). */
int store_twoway_modseq_get(struct store *st, int64_t upstream_id, const char *folder,
			    uint64_t *modseq_r, const char **error_r);
int store_twoway_modseq_set(struct store *st, int64_t upstream_id, const char *folder,
			    uint64_t modseq, const char **error_r);

/* ---- what is made here (twoway_up.c, sql/044_twoway_up.sql) -------------- */

/* A local message of a mirrored folder to go up. */
struct twoway_local {
	int64_t message_id;
	uint32_t uid;
	unsigned flags;
	char *keywords;		/* "" none */
	int64_t internal_date;
	char *blob;
	int64_t link_id;	/* its UPLOADING link (0: none yet) */
};
/* The messages of the mailbox that no link holds, or whose APPEND was
 * recorded and is not known to be done (UPLOADING), by UID; \Deleted
 * ones and those whose blob a link gone here holds (a local move from
 * another folder of the account: moved upstream by that folder's pass)
 * apart. */
int store_twoway_unlinked(struct store *st, int64_t upstream_id, int64_t mailbox_id,
			  struct twoway_local **list_r, size_t *n_r, const char **error_r);
void store_twoway_unlinked_free(struct twoway_local **list, size_t n);
/* Records an UPLOADING link (raw hash and blob: the blob; base: the flags
 * in sync_flags and the keywords) for each of list without one, sets their
 * link_id; one commit, durable on return. */
int store_twoway_upload_begin(struct store *st, int64_t upstream_id, const char *folder,
			      uint32_t uidvalidity, struct twoway_local *list, size_t n,
			      unsigned sync_flags, const char **error_r);
/* Drops the folder's UPLOADING_GONE links (after a whole pass that did
 * not find them upstream: their APPEND never happened). */
int store_twoway_upload_gone(struct store *st, int64_t upstream_id, const char *folder,
			     const char **error_r);

/* An upstream folder of the account and the local mailbox it was last
 * synced with (mailbox_id 0: not known; local_name NULL: that mailbox is
 * gone). */
struct twoway_folder {
	char *folder;
	int64_t mailbox_id;
	char *local_name;
};
int store_twoway_folders(struct store *st, int64_t upstream_id, struct twoway_folder **list_r,
			 size_t *n_r, const char **error_r);
void store_twoway_folders_free(struct twoway_folder **list, size_t n);
/* Remembers the folder's local mailbox (nothing written when known). */
int store_twoway_folder_mailbox(struct store *st, int64_t upstream_id, const char *folder,
				int64_t mailbox_id, const char **error_r);
/* The folder (and those below it, "from/...") is named to now: its row
 * and its links, in one commit. */
int store_twoway_folder_renamed(struct store *st, int64_t upstream_id, const char *from,
				const char *to, const char **error_r);
/* Whether the folder has changes here not yet sent up (links not LIVE or
 * whose message's flags or keywords are not the base; with mirror, also
 * messages of its mailbox that no link holds, or its mailbox not known):
 * a folder without them and unchanged upstream needs no visit. */
int store_twoway_folder_pending(struct store *st, int64_t upstream_id, const char *folder,
				bool mirror, bool *pending_r, const char **error_r);
/* How many of the account's folders have links with changes here not
 * yet sent up (not LIVE, or dirty); messages no link holds not counted. */
int store_twoway_pending_folders(struct store *st, int64_t upstream_id, int64_t *n_r,
				 const char **error_r);
/* The folder is gone upstream: its row and links dropped, one commit. */
int store_twoway_folder_forget(struct store *st, int64_t upstream_id, const char *folder,
			       const char **error_r);

#endif

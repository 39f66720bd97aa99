/*
 * viewcache: the last views of big mailboxes that sessions loaded (UID,
 * flags, keywords and MODSEQ of every message), shared by all sessions
 * of this process, so that a second SELECT of a mailbox that has not
 * changed copies them instead of reading every row again.
 *
 * A view is found by its mailbox's row as read in the same snapshot as
 * the caller's: id, UIDVALIDITY (never reused, store/mailboxes.c), UIDNEXT,
 * HIGHESTMODSEQ and the count of messages.  Every change to a mailbox's
 * messages (append, flags, expunge, move, RENAME of INBOX) raises its
 * HIGHESTMODSEQ in the same transaction (RFC 7162 needs that anyway), in
 * this process or any other, so a view whose row differs is stale and is
 * never returned.  At most IMAP_VIEW_CACHE_SLOTS views of at least
 * IMAP_VIEW_CACHE_MIN messages (core/limits.h), least recently used
 * first out.  One lock, not held while a view is copied out.
 * Used by store/imapdb.c only.
 */
#ifndef MAILHUB_STORE_VIEWCACHE_H
#define MAILHUB_STORE_VIEWCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/imapdb.h"
#include "store/store.h"

/* A copy of the view of mb (the row as read now) into *list_r (to free
 * with imapdb_msg_list_free()); false when there is none. */
bool viewcache_get(const struct store_mailbox *mb, struct imapdb_msg **list_r,
		   size_t *n_r);
/* Keeps a copy of the n messages of mb's view (read with mb's row in one
 * snapshot), when the mailbox is big enough. */
void viewcache_put(const struct store_mailbox *mb,
		   const struct imapdb_msg *list, size_t n);

#endif

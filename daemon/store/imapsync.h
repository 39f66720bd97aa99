/*
 * imapsync: the store's side of the IMAP extensions that keep clients in
 * step cheaply (QRESYNC's expunge history, RFC 7162) and tell them about
 * sizes and quota (STATUS=SIZE RFC 8438, QUOTA RFC 9208).  Part of
 * daemon/store like imapdb.c; read-only queries.
 */
#ifndef MAILHUB_STORE_IMAPSYNC_H
#define MAILHUB_STORE_IMAPSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/*
 * The UIDs between uid_lo and uid_hi of the messages expunged from the
 * mailbox after modseq, ascending (*uids_r malloc'd, NULL when none).
 * *complete_r is false when expunge records newer than modseq have been
 * forgotten (sql/020): the list may then miss some, and the caller must
 * also report the UIDs that are simply not there.
 */
int imapsync_vanished(struct store *st, int64_t mailbox_id, uint64_t modseq,
		      uint32_t uid_lo, uint32_t uid_hi, uint32_t **uids_r,
		      size_t *n_r, bool *complete_r, const char **error_r);

/* The messages of the mailbox flagged \Deleted (STATUS DELETED, RFC 9051
 * §6.3.11). */
int imapsync_mailbox_deleted(struct store *st, int64_t mailbox_id,
			     uint32_t *count_r, const char **error_r);
/* The bytes of every message in the mailbox (STATUS SIZE). */
int imapsync_mailbox_size(struct store *st, int64_t mailbox_id,
			  uint64_t *size_r, const char **error_r);

/* What a user uses and may use: bytes (limit 0: none) and messages. */
struct imapsync_usage {
	uint64_t bytes, bytes_limit;
	uint64_t messages, messages_limit;	/* 0: no limit */
};
int imapsync_user_usage(struct store *st, int64_t user_id,
			struct imapsync_usage *u_r, const char **error_r);

/* The cached PREVIEW of a blob (sql/020): STORE_OK with *preview_r
 * (malloc'd), or STORE_NOTFOUND. */
int imapsync_preview_get(struct store *st, const char *blob, char **preview_r,
			 const char **error_r);
int imapsync_preview_set(struct store *st, const char *blob,
			 const char *preview, const char **error_r);

#endif

/*
 * maildrop: what a POP3 session sees of the user's INBOX (RFC 1939 §4-6).
 *
 * At login the INBOX's message list is read once and fixed for the session:
 * message numbers 1..n, sizes and UIDLs do not change while it lasts, even
 * when an IMAP session expunges or appends beside it (RFC 1939 §5: the
 * numbering is fixed for the session).  DELE only marks; RSET unmarks;
 * pop3_maildrop_commit() in the UPDATE state removes all marked messages in
 * one store transaction (store_expunge, which also wakes IDLE-ing IMAP
 * sessions).  A message expunged over IMAP in the meantime is simply gone
 * at the next login.
 *
 * The maildrop belongs to its session's thread.  The bytes of a message are
 * read from its blob at RETR/TOP time and sent with dot-stuffing.
 */
#ifndef MAILHUB_POP3_MAILDROP_H
#define MAILHUB_POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"

struct conn;
struct store;

/* A UIDL is 16 hex digits and a NUL (RFC 1939 §7 allows up to 70). */
#define POP3_UIDL_SIZE 17

/* One message of the session's list. */
struct pop3_msg {
	uint32_t uid;
	bool deleted;		/* marked by DELE in this session */
	uint64_t size;		/* octets RETR sends, before dot-stuffing */
	char blob[SHA256_HEX_LEN + 1];
};

struct pop3_maildrop {
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;	/* message number i is msgs[i - 1] */
	size_t n;
	size_t n_deleted;
	uint64_t octets;	/* all messages */
	uint64_t octets_deleted;
};

/* Reads the INBOX of user_id into a new maildrop.  STORE_OK or a negative
 * enum store_status with *error_r. */
int pop3_maildrop_open(struct store *st, int64_t user_id,
		       struct pop3_maildrop **md_r, const char **error_r);
void pop3_maildrop_free(struct pop3_maildrop **md);

/* Messages and octets not marked deleted (STAT, RFC 1939 §5). */
size_t pop3_maildrop_count(const struct pop3_maildrop *md);
uint64_t pop3_maildrop_octets(const struct pop3_maildrop *md);

/* Message number msgnum (1-based), or NULL when there is no such message
 * in the list or it is marked deleted (RFC 1939 §5: "may not refer to a
 * message marked as deleted"). */
const struct pop3_msg *pop3_maildrop_get(const struct pop3_maildrop *md,
					 uint32_t msgnum);
/* Marks msgnum deleted: 0, or -1 when there is no such message or it is
 * marked already. */
int pop3_maildrop_delete(struct pop3_maildrop *md, uint32_t msgnum);
/* Unmarks every message (RSET). */
void pop3_maildrop_reset(struct pop3_maildrop *md);

/* The UPDATE state: removes every marked message from the INBOX in one
 * transaction.  *removed_r counts those that were still there.  STORE_OK or
 * a negative enum store_status with *error_r; on error nothing is removed. */
int pop3_maildrop_commit(struct store *st, struct pop3_maildrop *md,
			 size_t *removed_r, const char **error_r);

/*
 * The UIDL of a message into out: "%08X%08X" of its UID and the INBOX's
 * UIDVALIDITY (see maildrop.c for why this is stable forever).
 */
void pop3_maildrop_uidl(const struct pop3_maildrop *md,
			const struct pop3_msg *m, char out[POP3_UIDL_SIZE]);

/*
 * Opens the blob of m for pop3_maildrop_send(): 0, *fd_r and the file's
 * size in *size_r, or -1 with *error_r (the message's file is gone: the
 * caller answers -ERR before it has sent anything).
 */
int pop3_maildrop_open_msg(struct store *st, const struct pop3_msg *m,
			   int *fd_r, uint64_t *size_r, const char **error_r);

/*
 * Sends the message read from fd (which it closes; size is the file's size,
 * so no read is spent finding its end) on c, dot-stuffed, with a final CRLF
 * if the message lacks one, and the terminating ".\r\n" (RFC 1939 §3).
 * With top, only the header, the blank line and the first lines lines of
 * the body (RFC 1939 §7 TOP).  *sent_r counts the octets of the message
 * sent before stuffing (for RETR: m->size).  0, or -1 with *error_r when
 * reading or writing failed midway: the session cannot stay in step then
 * and must end.
 */
int pop3_maildrop_send(int fd, uint64_t size, struct conn *c, bool top,
		       uint32_t lines, uint64_t *sent_r, const char **error_r);

/* The cut of a message for TOP: how much of it to send. */
struct pop3_top {
	uint32_t lines_left;	/* body lines still to send */
	bool in_body;		/* the blank line after the header is behind */
	bool line_empty;	/* no byte but CR on the current line yet */
	bool done;		/* the cut is reached: send nothing more */
};

/* Starts a cut after the header and lines lines of the body. */
void pop3_top_init(struct pop3_top *t, uint32_t lines);
/* Of the next n bytes p of the message, how many to send (all of them
 * until the cut is reached; then t->done is set).  Pure. */
size_t pop3_top_take(struct pop3_top *t, const char *p, size_t n);

#endif

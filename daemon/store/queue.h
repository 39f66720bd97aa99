/*
 * queue: the outbound queue table (sql/002_queue.sql).
 *
 * The SMTP server puts a message here when it has recipients that are not
 * local (submission, or local aliases that forward elsewhere), and records
 * local deliveries that failed after the message was accepted (state
 * "failed", for a bounce).  The relay workers take due recipients, try them,
 * and write the outcome back; the CLI and the panel list, retry and delete.
 *
 * A message row references its blob; the blob file stays as long as the row
 * does (store_blob_gc() and fsck must count queue rows as references).
 * A recipient's next_attempt doubles as a lease: a worker that claims a
 * recipient (store_queue_claim) moves next_attempt into the future, so
 * another worker does not take it meanwhile; a crashed worker's claims come
 * due again when the lease runs out.
 *
 * Functions return STORE_OK or a negative enum store_status with *error_r.
 */
#ifndef MAILHUB_STORE_QUEUE_H
#define MAILHUB_STORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "store/store.h"

enum store_queue_state {
	STORE_QUEUE_PENDING,	/* not tried yet, due at next_attempt */
	STORE_QUEUE_DEFERRED,	/* failed temporarily, due again at next_attempt */
	STORE_QUEUE_DELIVERED,
	STORE_QUEUE_FAILED,	/* permanently, or past the queue lifetime */
};

/* RFC 3461 NOTIFY bits, as in smtp/command.h enum smtp_notify. */
#define STORE_QUEUE_NOTIFY_NEVER 1
#define STORE_QUEUE_NOTIFY_SUCCESS 2
#define STORE_QUEUE_NOTIFY_FAILURE 4
#define STORE_QUEUE_NOTIFY_DELAY 8

struct store_queue_recipient {
	int64_t id;
	int64_t message_id;
	char *address;
	char *orcpt;		/* "rfc822;xtext" as received, or NULL */
	unsigned notify;	/* STORE_QUEUE_NOTIFY_* bits, 0: not given */
	enum store_queue_state state;
	unsigned attempts;
	int64_t next_attempt;	/* seconds since the epoch */
	int64_t last_attempt;	/* 0: never */
	char *last_reply;	/* or NULL */
	bool dsn_sent;
	char *held;		/* why it is held back (sql/028), or NULL */
};

struct store_queue_message {
	int64_t id;
	char *qid;		/* the id the client was told ("queued as ...") */
	char blob[SHA256_HEX_LEN + 1];
	uint64_t size;
	char *sender;		/* "" for the null reverse-path */
	int64_t user_id;	/* the submitting user, 0 for none */
	char *ret;		/* "FULL", "HDRS" or NULL (RFC 3461 §4.3) */
	char *envid;		/* xtext as received, or NULL (RFC 3461 §4.4) */
	char *body;		/* "7BIT", "8BITMIME" or NULL (RFC 6152) */
	bool smtputf8;		/* relay with SMTPUTF8 (RFC 6531) */
	bool requiretls;	/* relay only with REQUIRETLS (RFC 8689) */
	char *kind;		/* "relay" or "bounce" */
	int64_t created;
	/* filled by store_queue_list() and store_queue_get() */
	unsigned n_recipients;
	unsigned n_open;	/* pending or deferred (held ones too) */
	unsigned n_held;	/* held back: no worker takes them */
	int64_t next_attempt;	/* earliest next_attempt of the open ones, 0: none */
};

/*
 * Adds a message and its recipients in one transaction.  Of msg, the
 * fields qid, blob, size, sender, user_id, ret, envid, body, smtputf8 and
 * kind (NULL: "relay") are used; created is now.  Of each recipient:
 * address, orcpt, notify, state (PENDING, or FAILED with last_reply for a
 * bounce to be sent), next_attempt (0: now) and held (NULL, or why a
 * pending recipient is held back until released).  A recipient address given
 * twice is kept once.  *id_r (may be NULL) gets the message id.
 */
int store_queue_add(struct store *st, const struct store_queue_message *msg,
		    const struct store_queue_recipient *rcpts, size_t n,
		    int64_t *id_r, const char **error_r);

/* One message with its recipients (in id order).  STORE_NOTFOUND when
 * there is no such message. */
int store_queue_get(struct store *st, int64_t id,
		    struct store_queue_message *msg_r,
		    struct store_queue_recipient **rcpts_r, size_t *n_r,
		    const char **error_r);

/* Every message, oldest first, with its counts (for the CLI and the API). */
int store_queue_list(struct store *st, struct store_queue_message **list_r,
		     size_t *n_r, const char **error_r);

/* Open recipients (pending or deferred) with next_attempt <= now, earliest
 * first, at most max of them. */
int store_queue_due(struct store *st, int64_t now, size_t max,
		    struct store_queue_recipient **list_r, size_t *n_r,
		    const char **error_r);

/* Claims an open, due recipient for a worker by moving its next_attempt to
 * lease_until; *claimed_r is false when it was not open and due any more
 * (another worker took it, or it was deleted). */
int store_queue_claim(struct store *st, int64_t rcpt_id, int64_t now,
		      int64_t lease_until, bool *claimed_r,
		      const char **error_r);

/* Records an attempt: attempts + 1, last_attempt = now, the new state,
 * next_attempt (for DEFERRED) and the reply text (may be NULL).  A change
 * of state clears dsn_sent. */
int store_queue_result(struct store *st, int64_t rcpt_id,
		       enum store_queue_state state, int64_t next_attempt,
		       const char *reply, const char **error_r);

/* Notes that a DSN for the recipient's current state has been generated. */
int store_queue_set_dsn_sent(struct store *st, int64_t rcpt_id,
			     const char **error_r);

/* Makes the open recipients of a message due now (`mailhub queue retry`);
 * STORE_NOTFOUND when the message does not exist.  Held recipients stay
 * held (here and in flush): only a release lets them go. */
int store_queue_retry(struct store *st, int64_t id, const char **error_r);
/* Makes every open recipient due now (`mailhub queue flush`); *n_r (may be
 * NULL) counts them. */
int store_queue_flush(struct store *st, unsigned *n_r, const char **error_r);
/* Lets the held recipients of a message go, due now (`mailhub queue
 * release`); *n_r (may be NULL) counts them.  STORE_NOTFOUND when the
 * message does not exist. */
int store_queue_release(struct store *st, int64_t id, unsigned *n_r, const char **error_r);
/* Deletes a message and its recipients; STORE_NOTFOUND when absent. */
int store_queue_delete(struct store *st, int64_t id, const char **error_r);

/* Deletes the messages that are finished: no open recipient, and every
 * failed recipient has had its DSN (or wants none: NOTIFY=NEVER, or a
 * null sender).  *removed_r (may be NULL) counts them. */
int store_queue_cleanup(struct store *st, unsigned *removed_r,
			const char **error_r);

/* Number of messages, and of open recipients (for the status API). */
int store_queue_count(struct store *st, unsigned *messages_r,
		      unsigned *open_r, const char **error_r);

/* Whether any queue message references the blob: 1, 0, or -1 (for the
 * blob garbage collector and fsck). */
int store_queue_blob_referenced(struct store *st, const char *hash);

/* "pending", "deferred", "delivered", "failed". */
const char *store_queue_state_name(enum store_queue_state state);

void store_queue_message_clear(struct store_queue_message *msg);
void store_queue_message_list_free(struct store_queue_message **list, size_t n);
void store_queue_recipient_clear(struct store_queue_recipient *r);
void store_queue_recipient_list_free(struct store_queue_recipient **list,
				     size_t n);

#endif

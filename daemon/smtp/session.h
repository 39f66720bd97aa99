/*
 * session: what server.c (the session and its commands) and body.c (the
 * message body: blob, headers, delivery) share, and nothing else sees.
 */
#ifndef MAILHUB_SMTP_SESSION_H
#define MAILHUB_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "smtp/command.h"
#include "smtp/data.h"
#include "mail/hdrfilter.h"
#include "store/store.h"
#include "smtp/server.h"

struct conn;
struct store;
struct blob_writer;
struct dns_resolver;
struct smtp_trust;

/*
 * What the inbound checks (inbound.c) decided about a message once it is
 * stored: the one place where trust/ verdicts meet final delivery.
 */
struct smtp_verdict {
	struct buf reply;	/* refuses the message (4xx/5xx) when not empty */
	struct buf headers;	/* fields for each local copy, after its delivery fields */
	char *subject;		/* a Subject for the local copies instead of theirs */
	const char *special_use;	/* "\\Junk": the local copies go there */
	/* rspamd's score on RFC 5235's scales (Sieve's spamtest), 0: none */
	int spamtest, spam_percent;
	struct buf log;		/* " spam=..." for the message's log line */
	/* outbound (a local user's): why what goes out is held in the queue
	 * (rspamd scored it as spam), or NULL to send it */
	char *hold;
	int reject_reason;	/* enum metrics_reject of a refusal in reply */
	/* when not empty: the header block of the local copies in place of
	 * the blob's first head_skip bytes (forged Authentication-Results
	 * removed, trust_inbound.c) */
	struct buf head;
	uint64_t head_skip;
};

enum smtp_state {
	SMTP_STATE_FRESH,	/* greeted, waiting for EHLO/HELO */
	SMTP_STATE_READY,	/* EHLO/HELO done */
	SMTP_STATE_QUIT,	/* the session ends */
};

/* One envelope recipient as accepted by RCPT. */
struct smtp_rcpt {
	char *address;		/* as smtp_path gives it */
	char *orcpt;		/* or NULL */
	unsigned notify;	/* enum smtp_notify bits */
	bool local;		/* the domain is local: delivered here */
	struct store_resolution res;	/* local: the users and forwards it reaches */
};

/* One local user's copy of the message (delivery.c). */
struct smtp_copy {
	int64_t user_id;
	size_t rcpt;		/* the recipient that reached the user first */
	size_t user;		/* the user's index in that recipient's res */
	char hash[SHA256_HEX_LEN + 1];
	uint64_t size;
	struct blob_writer *w;	/* its own blob, held until its row commits */
	int status;		/* STORE_OK or why not */
};

/* One mail transaction, from MAIL to the end of the message (or RSET). */
struct smtp_tx {
	char id[17];
	char *sender;		/* "" for <> */
	bool smtputf8;
	bool requiretls;	/* RFC 8689 */
	enum smtp_body body;
	enum smtp_ret ret;
	char *envid;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts;

	/* the body, once DATA or the first BDAT has begun */
	bool body_started;
	bool bdat;		/* a BDAT sequence is under way */
	const char *bdat_error;	/* a failed BDAT sequence: the reply for the rest */
	struct smtp_data bdat_reader;	/* the line rules across all chunks */
	struct blob_writer *blob;
	struct buf stage;	/* bytes on their way to the blob, flushed per chunk */
	uint64_t size;		/* message bytes received (without our additions) */
	bool submission;	/* check From, add Date and Message-ID */
	bool in_headers;	/* still collecting the header block (submission) */
	struct buf headers;
	const char *refusal;	/* a reply that refuses the message at its end */
	bool write_failed;
	bool write_nospace;	/* ...because the disk is full */
	struct mail_hdr_filter hdr;	/* drops Return-Path, counts Received */

	/* delivery.c: the local users' copies; with inline_fields, the first
	 * copy's delivery fields (inline_len bytes) head the streamed blob */
	struct smtp_copy *copies;
	size_t n_copies;
	bool inline_fields;
	size_t inline_len;

	/* inbound.c: the verdicts once the message is stored */
	struct smtp_verdict verdict;
	/* trust_inbound.c: SPF from MAIL FROM on, or NULL (not checked) */
	struct smtp_trust *trust;
	/* bytes of our own fields (Received) at the head of the blob */
	size_t head_len;
};

struct smtp_session {
	const char *name;	/* the listener's, for log lines: "smtp", "submission" */
	uint64_t id;
	struct conn *conn;
	const struct smtp_listener *listener;
	const struct config *cfg;
	struct store *store;	/* opened on first use */
	enum smtp_state state;
	char *helo;
	bool esmtp;
	int64_t user_id;	/* authenticated user, 0: none */
	char *user;
	unsigned errors;
	struct smtp_tx *tx;
	struct buf line;	/* the current command line */
	size_t line_len;	/* its length as received, with CRLF */
	struct buf scratch;
	char *chunk;		/* SMTP_BODY_CHUNK bytes for BDAT reads */
	unsigned messages;	/* accepted in this session */

	/* inbound.c: the checks of port 25 */
	bool refused;		/* a 554 greeting: only QUIT (RFC 5321 §3.1) */
	struct dns_resolver *dns;	/* made on first use */
	char *client_host;	/* the client's verified host name, "unknown"
				 * when it has none; NULL: not looked up yet */
};

/* Writes one reply line ("250 2.0.0 Ok") with CRLF; counts 4xx/5xx as
 * errors, except 421 and 452 (RFC 5321 §4.5.3.1.10 recipients overflow is
 * flow control, not an error). */
void smtp_reply(struct smtp_session *s, const char *text);
void smtp_replyf(struct smtp_session *s, const char *fmt, ...) MH_PRINTF(2, 3);
/* Counts a refusal of a recipient or a message in the metrics
 * (core/metrics.h), its reason told by the reply's codes. */
void smtp_count_refusal(const char *reply);

/* The session's store handle, opened on first use; NULL (logged) when the
 * store cannot be opened. */
struct store *smtp_store(struct smtp_session *s);

/* Frees the transaction (aborting a partial blob); NULL ok. */
void smtp_tx_free(struct smtp_tx **tx);

/* Starts the body of s->tx: the blob writer and the Received header.
 * 0, or -1 with the reply in *reply_r. */
int smtp_body_begin(struct smtp_session *s, const char **reply_r);
/* The sink for message bytes (smtp_data_sink): 0, or -1 once the message is
 * refused (too big, broken header, I/O error); the caller keeps draining. */
int smtp_body_write(void *ctx, const void *p, size_t n);
/* Ends the body: makes the blob durable, delivers to local recipients,
 * queues the rest, and writes the reply (250 ... queued as ID, or why not).
 * The transaction stays for the caller to free. */
void smtp_body_end(struct smtp_session *s);

/* delivery.c: at the start of the body, the users' copies (one per user)
 * and, when the message goes to local users only, the first one's delivery
 * fields into tx->stage. */
void smtp_delivery_plan(struct smtp_session *s);
/* delivery.c: the reply that refuses a message of size bytes (the blob
 * written, not yet placed) which no recipient would take: every one local
 * and every user it reaches over quota (or gone since RCPT), so that it
 * leaves nothing on disk.  NULL to go on. */
const char *smtp_delivery_refusal(struct smtp_session *s, uint64_t size);
/* delivery.c: the message to the local users and the queue; writes the
 * reply.  The message is the placed blob hash, or (hash NULL) tx->blob
 * sealed but not placed (blob_writer_seal()), read through fd, which is
 * placed here when it is queued.  True when a row or queue entry
 * references the blob (the caller lets go of it), false when it is to be
 * thrown away. */
bool smtp_delivery_run(struct smtp_session *s, const char *hash, int fd, uint64_t size);
/* delivery.c: takes (true) or lets go of (false) the lock that the SMTP
 * sessions' write transactions take turns with (see delivery.c). */
void smtp_delivery_lock(bool take);
/* RFC 5321 §4.2.3 452, RFC 3463 X.3.1 "mail system full": the disk is
 * full, the client keeps the message and tries again later. */
#define SMTP_REPLY_NOSPACE "452 4.3.1 Insufficient system storage, try again later"

#endif

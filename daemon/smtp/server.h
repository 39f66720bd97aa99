/*
 * server: the SMTP server session (RFC 5321), for the three listeners of
 * INTERFACE.md: `smtp` (port 25, mail from the world for local recipients),
 * `submission` (587, STARTTLS then AUTH) and `submissions` (465, implicit
 * TLS, AUTH).
 *
 * One thread runs one session (struct smtp_session, private to server.c)
 * with blocking I/O through conn.  A mail transaction is a separate object
 * (struct smtp_tx) made by MAIL and freed by RSET, EHLO/HELO, STARTTLS, the
 * end of DATA or BDAT LAST, QUIT and the end of the session, so nothing of
 * one message leaks into the next.  Commands go through one table with
 * gating flags that one dispatcher checks.
 *
 * Extensions offered after EHLO: PIPELINING (RFC 2920), SIZE (RFC 1870),
 * 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034),
 * STARTTLS (RFC 3207, until TLS is on), AUTH PLAIN LOGIN (RFC 4954, only
 * with TLS or, when the config allows it, from loopback), DSN (RFC 3461),
 * CHUNKING (RFC 3030).
 *
 * The message body is streamed into a blob (store/blob.h) as it arrives,
 * behind a Received header (RFC 5321 §4.4).  "250 ... queued as ID" is sent
 * only when the blob and every delivery or queue row are durable: local
 * recipients get the one blob in one transaction (store_deliver_many), other
 * recipients (authenticated relay, aliases that forward) go on the queue
 * table (store/queue.h) for the relay workers.
 *
 * A session whose user has authenticated is a submission (RFC 6409): the
 * envelope sender and the From header must belong to the user, and Date and
 * Message-ID are added when missing.
 */
#ifndef MAILHUB_SMTP_SERVER_H
#define MAILHUB_SMTP_SERVER_H

#include "core/config.h"

struct conn;

enum smtp_mode {
	SMTP_MODE_INBOUND,	/* port 25: local recipients; relay only after AUTH */
	SMTP_MODE_SUBMISSION,	/* port 587: AUTH required before MAIL */
	SMTP_MODE_SUBMISSIONS,	/* port 465: the same over implicit TLS */
};

struct smtp_listener {
	enum smtp_mode mode;
	const struct config *cfg;
};

/* The reply for a connection over the listener's limits (RFC 5321 §3.8:
 * 421 closes the channel). */
#define SMTP_BUSY_REPLY "421 4.7.0 Too many connections, try again later\r\n"

/*
 * A listener_session_fn: runs one SMTP session on c until QUIT, EOF, a
 * timeout or too many errors.  ctx is a const struct smtp_listener *.
 * Owns and frees c.  For SMTP_MODE_SUBMISSIONS the listener has done the
 * TLS handshake already.  Takes a store handle when it first needs one
 * (from the pool, or store_open()) and gives it back at the end.
 */
void smtp_session_run(struct conn *c, void *ctx);

/* Closes the store handles that finished sessions keep for the next ones
 * (at shutdown, after the listeners have stopped).  Sessions open their
 * handles lazily and hand them back to this small pool when they end. */
void smtp_server_cleanup(void);

#endif

/*
 * bounce: delivery status notifications (RFC 3464) the relay sends to the
 * envelope sender of a message it could not deliver (Action: failed) or
 * has been retrying for a while (Action: delayed).
 *
 * A DSN is a multipart/report (RFC 6522) with a plain-text explanation, a
 * message/delivery-status part with one block per recipient, and the
 * original message's header (text/rfc822-headers), or the whole message
 * with RET=FULL (message/rfc822).  It is sent from the null reverse-path
 * (RFC 5321 §4.5.5), so a DSN never causes another one; the queue never
 * makes one for a null sender or for a DSN (RFC 3461 §6.2).
 */
#ifndef MAILHUB_SMTP_BOUNCE_H
#define MAILHUB_SMTP_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct bounce_rcpt {
	const char *address;
	const char *orcpt;	/* "rfc822;xtext" or NULL (RFC 3461 §4.2) */
	const char *reply;	/* "550 5.1.1 ..." or NULL */
	const char *host;	/* the remote host that said it, or NULL */
	bool delayed;		/* Action: delayed, else failed */
	const char *success;	/* RFC 3464 §2.3.3 Action "delivered" or
				 * "relayed" for NOTIFY=SUCCESS, else NULL */
	int64_t last_attempt;	/* 0: none */
};

struct bounce_params {
	const char *hostname;	/* Reporting-MTA, and MAILER-DAEMON@hostname */
	const char *to;		/* the envelope sender being told */
	const char *qid;	/* the queue id, for the text */
	const char *envid;	/* RFC 3461 ENVID (xtext) or NULL */
	int64_t arrival;	/* Arrival-Date */
	int64_t retry_until;	/* Will-Retry-Until for delayed ones */
	int64_t now;		/* Date */
	bool utf8;		/* the message needed SMTPUTF8: RFC 6533's
				 * message/global-delivery-status, utf-8
				 * addresses and message/global-headers */
	bool held;		/* the delayed recipients are held back (a
				 * spam verdict), not retried: said so, and
				 * no Will-Retry-Until */
};

/*
 * Builds the DSN (CRLF line ends) into out.  orig[0..orig_len) is the
 * original message's header block (full false) or the whole message (full
 * true).  0, or -1 when out's maximum is reached.
 */
int bounce_build(const struct bounce_params *p, const struct bounce_rcpt *rcpts,
		 size_t n, const char *orig, size_t orig_len, bool full,
		 struct buf *out);

/* The RFC 3463 status for a recipient: the enhanced code of reply when it
 * has one of the right class, else class.0.0 from the reply code (5 when
 * there is none; 4 for delayed ones). */
void bounce_status(const char *reply, bool delayed, char out[16]);

/* RFC 5322 §3.3 date of t in UTC: "Mon, 23 Nov 2026 08:30:00 +0000". */
void bounce_date(int64_t t, struct buf *out);

struct store;
struct relayq_item;

/*
 * Sends the DSN a queued message owes (the relay's housekeeping): for the
 * recipients of it whose NOTIFY asks for one (none given: failures and
 * delays, RFC 3461 §4.1), one DSN with the original header (or the whole
 * message with RET=FULL, up to 10 MiB), delivered into the sender's
 * mailbox when the sender is local, else queued as a "bounce" message from
 * the null reverse-path.  Returns true when the duty is done (sent, not
 * wanted, or the sender's mailbox refuses it for good), false to try again
 * later (the store failed).  The caller then marks the recipients.
 */
bool bounce_send(struct store *st, const char *hostname, unsigned lifetime,
		 const struct relayq_item *it);
/* The same for recipients held back at submission (each DEFERRED with
 * the reason as last_reply): a delay notice that says they are held. */
bool bounce_send_held(struct store *st, const char *hostname, const struct relayq_item *it);

#endif

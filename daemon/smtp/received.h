/*
 * received: the header fields the SMTP server writes into a message: the
 * Received trace field (RFC 5321 §4.4), and for submission a missing Date
 * and Message-ID (RFC 6409 §8.2, §8.3).  Pure: bytes into a buf.
 */
#ifndef MAILHUB_SMTP_RECEIVED_H
#define MAILHUB_SMTP_RECEIVED_H

#include <stdbool.h>
#include <time.h>

#include "core/buf.h"

struct smtp_received_info {
	const char *helo;	/* the EHLO/HELO argument (checked by smtp_helo_valid) */
	const char *ip;		/* the client's address */
	const char *hostname;	/* ours */
	const char *with;	/* smtp_with_protocol() */
	const char *id;		/* the transaction id */
	const char *tls_version;	/* NULL without TLS */
	const char *tls_cipher;
	const char *for_rcpt;	/* the one recipient, or NULL (several: not named) */
	time_t when;
};

/* Appends "Received: from ... ; date" with CRLF, folded at the clauses. */
void smtp_received_build(struct buf *out, const struct smtp_received_info *info);

/* The "with" keyword of RFC 3848 §2 / RFC 6531 §3.7.3: SMTP, ESMTP,
 * ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA. */
const char *smtp_with_protocol(bool esmtp, bool tls, bool auth, bool utf8);

/* Appends an RFC 5322 §3.3 date-time in UTC: "Mon, 23 Nov 2026 08:39:23 +0000". */
void smtp_date_format(struct buf *out, time_t t);

/* Appends a new msg-id "<RANDOM.TIME@hostname>" (RFC 5322 §3.6.4). */
void smtp_message_id_build(struct buf *out, const char *hostname, time_t t);

/* Appends a new transaction id: 16 upper-case hex digits. */
void smtp_tx_id_build(char out[17]);

#endif

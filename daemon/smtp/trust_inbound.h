/*
 * trust_inbound: the sender checks of port 25 ([trust] in mailhub.conf(5))
 * wired into the SMTP transaction: SPF at MAIL FROM, then DKIM, ARC and
 * DMARC once the message is written, turned into the verdict that
 * inbound.c hands to delivery (struct smtp_verdict): the
 * Authentication-Results and Received-SPF fields of every local copy, a
 * refusal (DMARC p=reject, a forged local sender) or the Junk folder (DMARC
 * p=quarantine), and the words of the message's log line.
 *
 * The evaluators are trust/'s (pure, DNS through a dns_source); this file
 * only asks them with what the session knows and applies the answers.
 *
 *   MAIL FROM       spf_check(): MAIL FROM's domain, or HELO's for <>
 *   end of DATA     dkim_verify_fd() (with ARC) over the written message,
 *                   after our own Received field; From: read from it;
 *                   dmarc_check(); the local-domain spoofing rule
 *
 * Which sessions are checked: the smtp listener (not submission), no AUTH,
 * [trust] checks = yes, and a client that is neither local software
 * (127.0.0.1, ::1) nor in [trust] allow.
 */
#ifndef MAILHUB_SMTP_TRUST_INBOUND_H
#define MAILHUB_SMTP_TRUST_INBOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp/session.h"

struct store;

/* The checks of one transaction (owned by struct smtp_tx). */
struct smtp_trust;

/* Whether the session's messages are checked (see above). */
bool smtp_trust_applies(const struct smtp_session *s);

/* At MAIL FROM (s->tx just made): the SPF check, when the session is
 * checked.  Never refuses: DMARC and the spoofing rule decide at the end. */
void smtp_trust_mail(struct smtp_session *s);

/* The message of s->tx, read through fd (smtp_inbound_message()): the
 * rest of the checks, into s->tx->verdict (reply, headers, special_use,
 * log, head). */
void smtp_trust_message(struct smtp_session *s, int fd, const char *hash);

/* After the verdict (refused or not): counts the message for the
 * summary of its local recipient domains (store/trust_stats.h).  For a
 * message to be delivered into local mailboxes the counts are left to
 * the delivery's transaction (smtp_trust_count_tx()), and
 * smtp_trust_count_flush() writes them after the delivery if it did not. */
void smtp_trust_count(struct smtp_session *s);
/* store_tx_fn for store_deliver_copies_with() (arg: the session): the
 * counts left by smtp_trust_count(), inside the delivery's transaction. */
int smtp_trust_count_tx(struct store *st, void *arg, const char **error_r);
void smtp_trust_count_flush(struct smtp_session *s);

void smtp_trust_free(struct smtp_trust **t);

#endif

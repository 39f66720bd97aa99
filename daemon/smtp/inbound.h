/*
 * inbound: the verdicts on inbound mail, gathered in one place.
 *
 * DESIGN.md: "Final delivery ... takes one path: trust/ verdicts, then the
 * user's Sieve actions, then store".  This file is where the SMTP server
 * asks trust/ and turns the answers into replies, header fields and a
 * target folder; server.c, body.c and delivery.c only call it and apply
 * what it says (struct smtp_verdict in session.h).  Checks of the message
 * itself join smtp_inbound_message() (SPF, DKIM and DMARC are next).
 *
 *   at connect (port 25)        DNS blocklists ([spam] dnsbl)
 *   at RCPT (port 25, no AUTH)  greylisting ([spam] greylist)
 *   the message (no AUTH)       rspamd ([spam] rspamd), SPF/DKIM/DMARC
 *
 * Sessions that authenticated (submission, or AUTH on port 25) are the
 * users' own outbound mail and skip all three; what of it goes to other
 * domains is scanned by rspamd, and held in the queue when scored as spam
 * (struct smtp_verdict's hold).  The client addresses
 * 127.0.0.1 and ::1 (local software handing mail over) are never looked
 * up in a blocklist nor greylisted; the rest of 127.0.0.0/8 is, so that
 * 127.0.0.2, every list's test entry (RFC 5782 §5), shows a list at work.
 */
#ifndef MAILHUB_SMTP_INBOUND_H
#define MAILHUB_SMTP_INBOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp/session.h"
#include "trust/dns_source.h"
#include "trust/ipaddr.h"

/* At connect: 0 to greet, or -1 with the reply that refuses the session
 * (554, RFC 5321 §3.1) in reply. */
int smtp_inbound_connect(struct smtp_session *s, struct buf *reply);

/* At RCPT for an accepted local recipient: NULL to take it, or the reply
 * that defers it (greylisting). */
const char *smtp_inbound_rcpt(struct smtp_session *s, const char *rcpt, struct buf *reply);

/* Whether smtp_inbound_message() may write header fields into the local
 * copies (then no copy's delivery fields are streamed into the blob). */
bool smtp_inbound_checks_message(const struct smtp_session *s);

/* The message of s->tx, written but not yet made durable (body.c), is
 * read through fd (from any offset: each check seeks to its start); hash
 * is its SHA-256 and size its length.  Fills s->tx->verdict. */
void smtp_inbound_message(struct smtp_session *s, int fd, const char *hash, uint64_t size);

/* A local user's message that smtp_inbound_message() does not look at,
 * stored as blob hash: what of it goes to other domains is checked by
 * rspamd and held when scored as spam (s->tx->verdict.hold). */
void smtp_inbound_submission(struct smtp_session *s, const char *hash);

void smtp_verdict_clear(struct smtp_verdict *v);

/* The session's DNS source (its resolver made on first use, with the
 * process's shared TTL cache); -1 (logged) when no resolver can be made. */
int smtp_inbound_dns(struct smtp_session *s, struct dns_source *src_r);

/* Whether ip is local software (127.0.0.1, ::1) or in the network list
 * allow (a [spam]/[trust] *_allow setting, may be NULL). */
bool smtp_inbound_trusted(const struct ip_addr *ip, const char *allow);

/* At the end of a session: what the checks kept in it. */
void smtp_inbound_session_end(struct smtp_session *s);

#endif

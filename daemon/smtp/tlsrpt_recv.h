/*
 * tlsrpt_recv: SMTP TLS reports (RFC 8460) that come by mail to our
 * published rua address (the DNS helper's "_smtp._tls" record names
 * mailto:postmaster@DOMAIN).
 *
 * A delivered message that announces a report (RFC 8460 §5.3:
 * TLS-Report-Domain, or multipart/report; report-type=tlsrpt) is read once
 * more after its delivery: its application/tlsrpt+gzip or +json part is
 * decoded (mail/tlsrpt_mail.h) and, when the message carries a valid DKIM
 * signature of the reporting domain (RFC 8460 §3: reports without one
 * MUST be ignored), its entries about our domains are kept as a POST to
 * /api/v1/tlsrpt keeps them (store/tlsrpt_in.h, via "mail").  The
 * message itself has been delivered to its recipients like any other
 * before this runs, and stays so whatever is found: a report that cannot
 * be read is logged in plain words, never refused nor lost.
 */
#ifndef MAILHUB_SMTP_TLSRPT_RECV_H
#define MAILHUB_SMTP_TLSRPT_RECV_H

#include <stdint.h>

#include "smtp/session.h"

/*
 * s->tx's message was accepted for at least one local recipient: looks
 * for a report in it.  The message is read through fd from offset 0
 * (pread; the offset stays), or, when fd is -1, from blob hash; size is
 * its length.
 */
void smtp_tlsrpt_received(struct smtp_session *s, const char *hash, int fd, uint64_t size);

#endif

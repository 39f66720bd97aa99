/*
 * tlsrpt_recv: TLS reports received by mail (see tlsrpt_recv.h).
 */
#include "smtp/tlsrpt_recv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "mail/header.h"
#include "mail/tlsrpt_mail.h"
#include "smtp/inbound.h"
#include "store/blob.h"
#include "store/tlsrpt_in.h"
#include "trust/dkim_verify.h"
#include "trust/dns_source.h"
#include "trust/psl.h"

/* The head of a message read to see whether it announces a report: its
 * header block (our Received field and the reporter's fields). */
#define TLSRPT_HEAD_MAX (64u * 1024)

/* Appends want bytes of fd from offset 0 to out; 0, or -1 with *error_r. */
static int
read_head(int fd, size_t want, struct buf *out, const char **error_r)
{
	char *p = buf_reserve(out, want);
	size_t got = 0;
	if (p == NULL) {
		*error_r = "out of room";
		return -1;
	}
	while (got < want) {
		ssize_t n = pread(fd, p + got, want - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "the message is shorter than its size";
			return -1;
		}
		got += (size_t)n;
	}
	buf_commit(out, got);
	return 0;
}

/*
 * RFC 8460 §3: "Reports sent via SMTP MUST contain a valid DKIM signature
 * by the reporting domain.  Reports lacking such a signature MUST be
 * ignored by the recipient", and "DKIM signatures MUST NOT use the l="
 * attribute".  The reporting domain is the From address's (§5.3: it
 * matches TLS-Report-Submitter); a signature counts when its d= has the
 * same organisational domain (as DMARC's relaxed alignment).  NULL when
 * one does, else why not.
 */
static const char *
reporter_signed(struct smtp_session *s, const char *msg, size_t len)
{
	size_t hlen = mail_header_size(msg, len);
	char *from = tlsrpt_mail_from_domain(msg, hlen);
	if (from == NULL)
		return "it has not one From address (RFC 8460 section 5.3)";
	struct dns_source src;
	if (smtp_inbound_dns(s, &src) < 0) {
		free(from);
		return "its DKIM signature cannot be checked: no DNS resolver";
	}
	struct dkim_verify *v = dkim_verify_new(msg, hlen, (int64_t)time(NULL));
	dkim_verify_body(v, msg + hlen, len - hlen);
	dkim_verify_finish(v, &src);
	char *org = psl_org_domain(from);
	const char *why = "it has no DKIM signature of its reporting domain (RFC 8460 section 3)";
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const struct dkim_sig_result *r = dkim_verify_result(v, i);
		if (r->domain == NULL)
			continue;
		char *d_org = psl_org_domain(r->domain);
		bool aligned = strcmp(d_org, org) == 0;
		free(d_org);
		if (!aligned)
			continue;
		if (r->status == DKIM_PASS && !r->length_limited) {
			why = NULL;
			break;
		}
		why = r->status == DKIM_PASS ? "its DKIM signature covers part of the body only (l=)"
		      : r->status == DKIM_TEMPERROR ? "its DKIM key could not be looked up"
						    : "its DKIM signature does not verify";
	}
	dkim_verify_free(&v);
	free(org);
	free(from);
	return why;
}

void
smtp_tlsrpt_received(struct smtp_session *s, const char *hash, int fd, uint64_t size)
{
	const char *error;
	int own_fd = -1;
	struct buf msg = BUF_INIT;
	bool whole = false;
	if (fd < 0 && size <= BLOB_CACHE_ENTRY_MAX &&
	    blob_read_cached(smtp_store(s), hash, &msg, &error) == STORE_OK) {
		/* the message just delivered is in the read cache (blob.h):
		 * no file opened, read and closed at every message */
		whole = true;
		size = msg.len;
	} else if (fd < 0) {
		buf_reset(&msg);
		uint64_t blob_size;
		if (blob_open(smtp_store(s), hash, &own_fd, &blob_size, &error) != STORE_OK) {
			log_error("%s[%llu] tls-report id=%s: cannot read the message: %s", s->name,
				  (unsigned long long)s->id, s->tx->id, error);
			goto out;
		}
		fd = own_fd;
		size = blob_size;
	}
	size_t head = size < TLSRPT_HEAD_MAX ? (size_t)size : TLSRPT_HEAD_MAX;
	if (!whole && read_head(fd, head, &msg, &error) < 0) {
		log_error("%s[%llu] tls-report id=%s: cannot read the message: %s", s->name,
			  (unsigned long long)s->id, s->tx->id, error);
		goto out;
	}
	if (!tlsrpt_mail_announced(buf_cstr(&msg), head))
		goto out;	/* the usual case: not a report */
	if (size > TLSRPT_MAIL_MAX) {
		log_warning("%s[%llu] tls-report id=%s from=<%s> not read: the message (%llu bytes)"
			    " is larger than a TLS report may be (%u bytes); it is delivered as it"
			    " is", s->name, (unsigned long long)s->id, s->tx->id,
			    esc_str(s->tx->sender), (unsigned long long)size, TLSRPT_MAIL_MAX);
		goto out;
	}
	if (!whole) {
		buf_reset(&msg);
		if (read_head(fd, (size_t)size, &msg, &error) < 0) {
			log_error("%s[%llu] tls-report id=%s: cannot read the message: %s",
				  s->name, (unsigned long long)s->id, s->tx->id, error);
			goto out;
		}
	}
	struct tlsrpt_report rep;
	int found = tlsrpt_mail_decode(buf_cstr(&msg), msg.len, &rep, &error);
	if (found <= 0) {
		log_warning("%s[%llu] tls-report id=%s from=<%s> not kept: %s%s; the message is"
			    " delivered as it is", s->name, (unsigned long long)s->id, s->tx->id,
			    esc_str(s->tx->sender),
			    found == 0 ? "it says it is a TLS report but has no"
					 " application/tlsrpt+gzip or +json part"
				       : "its report cannot be read: ",
			    found == 0 ? "" : error);
		goto out;
	}
	const char *unsigned_why = reporter_signed(s, buf_cstr(&msg), msg.len);
	if (unsigned_why != NULL) {
		log_warning("%s[%llu] tls-report id=%s org=\"%s\" report=\"%s\" not kept: %s; the"
			    " message is delivered as it is", s->name, (unsigned long long)s->id,
			    s->tx->id, esc_str(rep.org), esc_str(rep.report_id), unsigned_why);
		tlsrpt_report_clear(&rep);
		goto out;
	}
	unsigned kept = 0;
	/* a write transaction: in turn with the sessions' deliveries */
	smtp_delivery_lock(true);
	int ret = tlsrpt_in_add(smtp_store(s), &rep, "mail", time(NULL), &kept, &error);
	smtp_delivery_lock(false);
	if (ret == STORE_NOTFOUND)
		log_warning("%s[%llu] tls-report id=%s org=\"%s\" report=\"%s\" not kept: %s;"
			    " the message is delivered as it is", s->name, (unsigned long long)s->id, s->tx->id, esc_str(rep.org),
			    esc_str(rep.report_id), error);
	else if (ret != STORE_OK)
		log_error("%s[%llu] tls-report id=%s: cannot keep it: %s", s->name,
			  (unsigned long long)s->id, s->tx->id, error);
	else
		log_info("%s[%llu] tls-report id=%s org=\"%s\" report=\"%s\" policies=%u via=mail",
			 s->name, (unsigned long long)s->id, s->tx->id, esc_str(rep.org),
			 esc_str(rep.report_id), kept);
	tlsrpt_report_clear(&rep);
out:
	buf_free(&msg);
	if (own_fd >= 0)
		close(own_fd);
}

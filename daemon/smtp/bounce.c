/*
 * bounce: RFC 3464 DSNs (see bounce.h).
 */
#include "smtp/bounce.h"

#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/log.h"

void
bounce_date(int64_t t, struct buf *out)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
					    "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
					      "Jun", "Jul", "Aug", "Sep", "Oct",
					      "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	/* not strftime: the names must not depend on the locale */
	buf_printf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		   tm.tm_min, tm.tm_sec);
}

void
bounce_status(const char *reply, bool delayed, char out[16])
{
	char cls = delayed ? '4' : '5';
	if (reply != NULL && strlen(reply) >= 4 && reply[3] == ' ') {
		const char *e = reply + 4;
		size_t n = 0;
		while (e[n] != '\0' && e[n] != ' ' && n < 11)
			n++;
		/* "d.ddd.ddd" of the same class as the outcome */
		if (n >= 5 && e[0] == cls && e[1] == '.' && (e[n] == ' ' || e[n] == '\0')) {
			bool ok = true;
			unsigned dots = 0;
			for (size_t i = 1; i < n; i++) {
				if (e[i] == '.')
					dots++;
				else if (e[i] < '0' || e[i] > '9')
					ok = false;
			}
			if (ok && dots == 2 && e[n - 1] != '.') {
				memcpy(out, e, n);
				out[n] = '\0';
				return;
			}
		}
	}
	out[0] = cls;
	memcpy(out + 1, ".0.0", 5);
}

/* Printable ASCII only in the report (it is us-ascii text). */
static void
put_ascii(struct buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		buf_putc(out, c < 0x20 || c > 0x7e ? '?' : (char)c);
	}
}

static void
header_field(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s: ", name);
	put_ascii(out, value);
	buf_puts(out, "\r\n");
}

int
bounce_build(const struct bounce_params *p, const struct bounce_rcpt *rcpts,
	     size_t n, const char *orig, size_t orig_len, bool full,
	     struct buf *out)
{
	unsigned char rnd[12];
	char hex[25], boundary[64];
	bool any_failed = false;
	random_bytes(rnd, sizeof rnd);
	hex_encode(rnd, sizeof rnd, hex);
	memcpy(boundary, "=_mailhub_dsn_", 14);
	memcpy(boundary + 14, hex, 25);
	for (size_t i = 0; i < n; i++)
		any_failed |= !rcpts[i].delayed;

	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", p->hostname);
	buf_puts(out, "To: <");
	put_ascii(out, p->to);
	buf_puts(out, ">\r\n");
	header_field(out, "Subject", any_failed ? "Undelivered Mail Returned to Sender"
				     : "Delayed Mail (still being retried)");
	buf_puts(out, "Date: ");
	bounce_date(p->now, out);
	buf_puts(out, "\r\n");
	buf_printf(out, "Message-ID: <dsn.%s@%s>\r\n", hex, p->hostname);
	/* RFC 3834 §5: an automatic reply, so nobody auto-replies to it */
	buf_puts(out, "Auto-Submitted: auto-replied\r\n");
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		   "\tboundary=\"%s\"\r\n\r\n", boundary);
	buf_puts(out, "This is a MIME-encapsulated delivery status notification.\r\n\r\n");

	/* 1: for people */
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
		   boundary);
	buf_printf(out, "This is the mail system at %s.\r\n\r\n", p->hostname);
	if (any_failed)
		buf_puts(out, "Your message could not be delivered to one or more"
			 " recipients.\r\nIt is attached below.\r\n\r\n");
	else
		buf_puts(out, "Your message has not been delivered yet to the"
			 " recipients below.\r\nThe mail system keeps trying; you"
			 " do not need to send it again.\r\n\r\n");
	if (p->qid != NULL && p->qid[0] != '\0') {
		buf_puts(out, "Queue id: ");
		put_ascii(out, p->qid);
		buf_puts(out, "\r\n\r\n");
	}
	for (size_t i = 0; i < n; i++) {
		buf_puts(out, "<");
		put_ascii(out, rcpts[i].address);
		buf_printf(out, ">: %s\r\n    ", rcpts[i].delayed ? "delayed" : "failed");
		put_ascii(out, rcpts[i].reply != NULL ? rcpts[i].reply : "no reason recorded");
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");

	/* 2: RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields */
	buf_printf(out, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
	buf_printf(out, "Reporting-MTA: dns; %s\r\n", p->hostname);
	if (p->envid != NULL)
		header_field(out, "Original-Envelope-Id", p->envid);
	if (p->arrival > 0) {
		buf_puts(out, "Arrival-Date: ");
		bounce_date(p->arrival, out);
		buf_puts(out, "\r\n");
	}
	for (size_t i = 0; i < n; i++) {
		const struct bounce_rcpt *r = &rcpts[i];
		char status[16];
		bounce_status(r->reply, r->delayed, status);
		buf_puts(out, "\r\nFinal-Recipient: rfc822; ");
		put_ascii(out, r->address);
		buf_puts(out, "\r\n");
		if (r->orcpt != NULL) {
			/* stored as "type;xtext": RFC 3464 wants "type; value" */
			const char *semi = strchr(r->orcpt, ';');
			buf_puts(out, "Original-Recipient: ");
			if (semi != NULL) {
				buf_append(out, r->orcpt, (size_t)(semi - r->orcpt));
				buf_puts(out, "; ");
				put_ascii(out, semi + 1);
			} else {
				put_ascii(out, r->orcpt);
			}
			buf_puts(out, "\r\n");
		}
		buf_printf(out, "Action: %s\r\n", r->delayed ? "delayed" : "failed");
		buf_printf(out, "Status: %s\r\n", status);
		if (r->host != NULL)
			header_field(out, "Remote-MTA", errfmt("dns; %s", r->host));
		if (r->reply != NULL && r->reply[0] >= '2' && r->reply[0] <= '5') {
			buf_puts(out, "Diagnostic-Code: smtp; ");
			put_ascii(out, r->reply);
			buf_puts(out, "\r\n");
		}
		if (r->last_attempt > 0) {
			buf_puts(out, "Last-Attempt-Date: ");
			bounce_date(r->last_attempt, out);
			buf_puts(out, "\r\n");
		}
		if (r->delayed && p->retry_until > 0) {
			buf_puts(out, "Will-Retry-Until: ");
			bounce_date(p->retry_until, out);
			buf_puts(out, "\r\n");
		}
	}
	buf_puts(out, "\r\n");

	/* 3: the original (RFC 6522 §3: text/rfc822-headers for headers) */
	buf_printf(out, "--%s\r\nContent-Type: %s\r\n\r\n", boundary,
		   full ? "message/rfc822" : "text/rfc822-headers");
	buf_append(out, orig, orig_len);
	if (orig_len > 0 && orig[orig_len - 1] != '\n')
		buf_puts(out, "\r\n");
	return buf_printf(out, "\r\n--%s--\r\n", boundary);
}

/*
 * bounce: RFC 3464 DSNs (see bounce.h).
 */
#include "smtp/bounce.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "mail/header.h"
#include "store/blob.h"
#include "store/relayq.h"

/* The most of a message a RET=FULL DSN returns (else headers only). */
#define DSN_FULL_MAX (10 * 1024 * 1024)

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
		/* RFC 3463 §2: class "." 1-3 digits "." 1-3 digits, of the
		 * same class as the outcome */
		if (n >= 5 && e[0] == cls && e[1] == '.') {
			size_t i = 2, parts = 0;
			while (parts < 2) {
				size_t start = i;
				while (i < n && e[i] >= '0' && e[i] <= '9' && i - start < 4)
					i++;
				if (i == start || i - start > 3)
					break;
				parts++;
				if (parts == 1) {
					if (i >= n || e[i] != '.')
						break;
					i++;
				}
			}
			if (parts == 2 && i == n) {
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

/* An address for a DSN field: UTF-8 as it is in an RFC 6533 report (the
 * "utf-8" address type, §3), else ASCII only. */
static void
put_addr(struct buf *out, const char *s, bool utf8)
{
	if (!utf8) {
		put_ascii(out, s);
		return;
	}
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
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
	bool all_success = true;
	for (size_t i = 0; i < n; i++) {
		any_failed |= !rcpts[i].delayed && rcpts[i].success == NULL;
		all_success &= rcpts[i].success != NULL;
	}

	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", p->hostname);
	buf_puts(out, "To: <");
	put_addr(out, p->to, p->utf8);
	buf_puts(out, ">\r\n");
	header_field(out, "Subject", any_failed ? "Undelivered Mail Returned to Sender"
				     : all_success ? "Successful Mail Delivery Report"
				     : p->held ? "Outgoing Mail Held (not sent)"
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
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=%s\r\n\r\n",
		   boundary, p->utf8 ? "utf-8" : "us-ascii");
	buf_printf(out, "This is the mail system at %s.\r\n\r\n", p->hostname);
	if (any_failed)
		buf_puts(out, "Your message could not be delivered to one or more"
			 " recipients.\r\nIt is attached below.\r\n\r\n");
	else if (all_success)
		buf_puts(out, "Your message was delivered to the recipients below,"
			 " as you asked to be told.\r\n\r\n");
	else if (p->held)
		buf_puts(out, "Your message has been held and not sent to the"
			 " recipients below.\r\nIt stays in the queue until an"
			 " administrator of this server releases\r\nor deletes it."
			 " If you did not send it, change your password.\r\n\r\n");
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
		put_addr(out, rcpts[i].address, p->utf8);
		buf_printf(out, ">: %s\r\n    ", rcpts[i].success != NULL ? rcpts[i].success
					      : rcpts[i].delayed ? "delayed" : "failed");
		put_ascii(out, rcpts[i].reply != NULL ? rcpts[i].reply : "no reason recorded");
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");

	/* 2: RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields */
	/* RFC 6533 §6.1: a report about an internationalized message */
	buf_printf(out, "--%s\r\nContent-Type: message/%sdelivery-status\r\n\r\n", boundary,
		   p->utf8 ? "global-" : "");
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
		if (r->success != NULL) {
			/* RFC 3463: 2.x.x, the server's own when it gave one */
			const char *e = r->reply != NULL ? strchr(r->reply, ' ') : NULL;
			size_t el = e != NULL ? strcspn(e + 1, " ") : 0;
			if (e != NULL && e[1] == '2' && e[2] == '.' && el < sizeof status)
				snprintf(status, sizeof status, "%.*s", (int)el, e + 1);
			else
				snprintf(status, sizeof status, "2.0.0");
		}
		buf_printf(out, "\r\nFinal-Recipient: %s; ", p->utf8 ? "utf-8" : "rfc822");
		put_addr(out, r->address, p->utf8);
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
		buf_printf(out, "Action: %s\r\n", r->success != NULL ? r->success
			   : r->delayed ? "delayed" : "failed");
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
		if (r->delayed && p->retry_until > 0 && !p->held) {
			buf_puts(out, "Will-Retry-Until: ");
			bounce_date(p->retry_until, out);
			buf_puts(out, "\r\n");
		}
	}
	buf_puts(out, "\r\n");

	/* 3: the original (RFC 6522 §3: text/rfc822-headers for headers) */
	/* RFC 6533 §6.3 and §6.4: message/global, message/global-headers */
	buf_printf(out, "--%s\r\nContent-Type: %s\r\n\r\n", boundary,
		   p->utf8 ? (full ? "message/global" : "message/global-headers")
			   : (full ? "message/rfc822" : "text/rfc822-headers"));
	buf_append(out, orig, orig_len);
	if (orig_len > 0 && orig[orig_len - 1] != '\n')
		buf_puts(out, "\r\n");
	return buf_printf(out, "\r\n--%s--\r\n", boundary);
}

/* ---- sending ------------------------------------------------------------ */

static bool
wants_dsn(const struct store_queue_recipient *r)
{
	/* RFC 3461 §4.1: no NOTIFY means FAILURE (and DELAY at our choice) */
	if (r->notify & STORE_QUEUE_NOTIFY_NEVER)
		return false;
	if (r->state == STORE_QUEUE_DELIVERED)
		return (r->notify & STORE_QUEUE_NOTIFY_SUCCESS) != 0;
	if (r->state == STORE_QUEUE_FAILED)
		return r->notify == 0 || (r->notify & STORE_QUEUE_NOTIFY_FAILURE);
	return r->notify == 0 || (r->notify & STORE_QUEUE_NOTIFY_DELAY);
}

static bool send_dsn(struct store *st, const char *hostname, unsigned lifetime,
		     const struct relayq_item *it, bool held);

bool
bounce_send(struct store *st, const char *hostname, unsigned lifetime,
	    const struct relayq_item *it)
{
	return send_dsn(st, hostname, lifetime, it, false);
}

bool
bounce_send_held(struct store *st, const char *hostname, const struct relayq_item *it)
{
	return send_dsn(st, hostname, 0, it, true);
}

static bool
send_dsn(struct store *st, const char *hostname, unsigned lifetime,
	 const struct relayq_item *it, bool held)
{
	struct bounce_rcpt *br = xcalloc(it->n_rcpts, sizeof *br);
	size_t n = 0;
	const char *error;
	bool done = true;
	int64_t now = time(NULL);
	for (size_t i = 0; i < it->n_rcpts; i++) {
		const struct store_queue_recipient *r = &it->rcpts[i];
		if (!wants_dsn(r))
			continue;
		br[n].address = r->address;
		br[n].orcpt = r->orcpt;
		br[n].reply = r->last_reply;
		br[n].delayed = r->state == STORE_QUEUE_DEFERRED;
		if (r->state == STORE_QUEUE_DELIVERED) {
			/* RFC 3464 §2.3.3: delivered here, or passed on to a
			 * server that will not report (no DSN extension) */
			const char *at = strrchr(r->address, '@');
			br[n].success = at != NULL && store_domain_is_local(st, at + 1) > 0
				? "delivered" : "relayed";
		}
		br[n].last_attempt = r->last_attempt;
		n++;
	}
	if (n == 0)
		goto out;

	struct buf orig = BUF_INIT, dsn = BUF_INIT;
	bool full = it->msg.ret != NULL && strcmp(it->msg.ret, "FULL") == 0 &&
		    it->msg.size <= DSN_FULL_MAX;
	buf_init(&orig, full ? DSN_FULL_MAX + 1 : SMTP_SUBMIT_HEADER_MAX + SMTP_BODY_CHUNK);
	int fd;
	uint64_t size;
	if (blob_open(st, it->msg.blob, &fd, &size, &error) == STORE_OK) {
		char *chunk = xmalloc(SMTP_BODY_CHUNK);
		ssize_t k;
		while ((k = read(fd, chunk, SMTP_BODY_CHUNK)) > 0) {
			if (buf_append(&orig, chunk, (size_t)k) < 0)
				break;
			if (!full && mail_header_size(orig.data, orig.len) < orig.len)
				break;
		}
		free(chunk);
		close(fd);
	}
	if (!full)
		buf_truncate(&orig, mail_header_size(orig.data, orig.len));
	struct bounce_params p = {
		.hostname = hostname,
		.to = it->msg.sender,
		.qid = it->msg.qid,
		.envid = it->msg.envid,
		.arrival = it->msg.created,
		.retry_until = it->msg.created + lifetime,
		.now = now,
		.utf8 = it->msg.smtputf8,
		.held = held,
	};
	bounce_build(&p, br, n, orig.data != NULL ? orig.data : "", orig.len, full, &dsn);
	buf_free(&orig);

	char hash[SHA256_HEX_LEN + 1];
	/* held until its row or queue entry commits; a DSN that goes
	 * nowhere leaves no blob (store/blob.h) */
	struct blob_writer *w = NULL;
	bool kept = false;
	if (blob_writer_new(st, 0, &w, &error) != STORE_OK ||
	    blob_write(w, dsn.data, dsn.len, &error) != STORE_OK ||
	    blob_writer_place(w, hash, NULL, &error) != STORE_OK) {
		log_error("relay id=%s cannot store a DSN: %s", it->msg.qid, error);
		blob_writer_abort(&w);
		buf_free(&dsn);
		done = false;
		goto out;
	}
	struct store_delivery d;
	memset(&d, 0, sizeof d);
	int ret = store_deliver(st, it->msg.sender, hash, dsn.len, now, &d, &error);
	if (ret == STORE_OK && d.status == STORE_OK) {
		log_info("relay id=%s dsn delivered to=%s", it->msg.qid, esc_str(it->msg.sender));
		kept = true;
	} else if (ret == STORE_NOTLOCAL || (ret == STORE_OK && d.status == STORE_NOTLOCAL)) {
		/* RFC 5321 §4.5.5: from the null reverse-path, as a bounce */
		struct store_queue_message m = {
			.qid = it->msg.qid, .size = dsn.len, .sender = (char *)"",
			.kind = (char *)"bounce",
			.smtputf8 = it->msg.smtputf8,
		};
		memcpy(m.blob, hash, sizeof hash);
		struct store_queue_recipient q = {
			.address = it->msg.sender, .notify = STORE_QUEUE_NOTIFY_NEVER,
			.state = STORE_QUEUE_PENDING,
		};
		if (store_queue_add(st, &m, &q, 1, NULL, &error) != STORE_OK) {
			log_error("relay id=%s cannot queue a DSN: %s", it->msg.qid, error);
			done = false;
		} else {
			log_info("relay id=%s dsn queued to=%s", it->msg.qid,
				 esc_str(it->msg.sender));
			kept = true;
		}
	} else {
		int s = ret != STORE_OK ? ret : d.status;
		/* the sender's mailbox is gone or over quota: drop the DSN */
		log_info("relay id=%s dsn dropped to=%s: %s", it->msg.qid,
			 esc_str(it->msg.sender),
			 d.error != NULL ? d.error : ret != STORE_OK ? error : "?");
		/* a full disk is no reason to drop it: tried again later */
		done = s != STORE_ERROR && s != STORE_NOSPACE;
	}
	if (kept)
		blob_writer_release(&w);
	else
		blob_writer_abort(&w);
	store_delivery_clear(&d);
	buf_free(&dsn);
out:
	free(br);
	return done;
}

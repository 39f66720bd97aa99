/*
 * body: the message body of a transaction, from the first byte after DATA
 * (or of the first BDAT chunk) to the final reply: streaming into a blob,
 * the submission header checks and additions, and delivery.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "mail/address.h"
#include "mail/header.h"
#include "smtp/inbound.h"
#include "smtp/queue.h"
#include "smtp/received.h"
#include "smtp/session.h"
#include "smtp/trust_inbound.h"
#include "store/blob.h"
#include "store/queue.h"
#include "store/store.h"

/* The most From addresses a submitted message may have (RFC 5322 allows
 * a list); each is checked, and a longer list is refused, not cut. */
#define FROM_ADDRESSES_MAX 50
/* RFC 5321 §6.3: a message with more Received fields than this is in a
 * loop (Postfix's hopcount_limit) */
#define RECEIVED_MAX 50

static int body_pass(void *ctx, const void *p, size_t n);

/* RFC 5321 §4.4: Return-Path is written at final delivery, so one the
 * client sent goes (delivery.c writes ours); with a spam filter, so do the
 * fields that carry its verdict (a sender must not vouch for itself). */
static const char *const drop_plain[] = { "Return-Path", NULL };
static const char *const drop_checked[] = { "Return-Path", "X-Spam-Status", "X-Spamd-Result",
					    "X-Spam", NULL };

static void
stage_flush(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	if (tx->stage.len == 0 || tx->write_failed)
		return;
	const char *error;
	int ret = blob_write(tx->blob, tx->stage.data, tx->stage.len, &error);
	if (ret != STORE_OK) {
		log_error("%s[%llu] cannot write message id=%s: %s",
			  s->name, (unsigned long long)s->id, tx->id, error);
		tx->write_failed = true;
		tx->write_nospace = ret == STORE_NOSPACE;
	}
	buf_reset(&tx->stage);
}

static int
stage_append(struct smtp_session *s, const void *p, size_t n)
{
	struct smtp_tx *tx = s->tx;
	if (tx->write_failed)
		return -1;
	/* stage has no maximum: it is flushed every SMTP_BODY_CHUNK bytes, and
	 * each append is at most one line or one read */
	buf_append(&tx->stage, p, n);
	if (tx->stage.len >= SMTP_BODY_CHUNK)
		stage_flush(s);
	return tx->write_failed ? -1 : 0;
}

int
smtp_body_begin(struct smtp_session *s, const char **reply_r)
{
	struct smtp_tx *tx = s->tx;
	struct store *st = smtp_store(s);
	const char *error;

	if (st == NULL) {
		*reply_r = "451 4.3.0 Temporary failure, try again later";
		return -1;
	}
	/* the size limit is checked on the bytes the client sends (tx->size),
	 * not on the blob, which has our Received header too */
	/* a checked message is kept as the users' copies (body_end_checked()):
	 * a small one then never needs a file of its own; any other small
	 * one gets its file only once its hash is known, in its own folder
	 * (store/blob.h) */
	int ret = blob_writer_new_deferred(st, 0, &tx->blob, &error);
	if (ret != STORE_OK) {
		log_error("%s[%llu] cannot start a message: %s",
			  s->name, (unsigned long long)s->id, error);
		*reply_r = ret == STORE_NOSPACE ? SMTP_REPLY_NOSPACE
						: "451 4.3.0 Temporary failure, try again later";
		return -1;
	}
	tx->body_started = true;
	buf_init(&tx->stage, 0);
	mail_hdr_filter_init(&tx->hdr, smtp_inbound_checks_message(s) ? drop_checked : drop_plain,
			     body_pass, s);
	smtp_delivery_plan(s);
	tx->submission = s->user_id != 0;
	tx->in_headers = tx->submission;
	buf_init(&tx->headers, SMTP_SUBMIT_HEADER_MAX);

	bool tls = conn_is_tls(s->conn);
	struct smtp_received_info info = {
		.helo = s->helo,
		.ip = conn_peer_ip(s->conn),
		.hostname = s->cfg->hostname,
		.with = smtp_with_protocol(s->esmtp, tls, s->user_id != 0, tx->smtputf8),
		.id = tx->id,
		.tls_version = tls ? conn_tls_version(s->conn) : NULL,
		.tls_cipher = tls ? conn_tls_cipher(s->conn) : NULL,
		.for_rcpt = tx->n_rcpts == 1 ? tx->rcpts[0].address : NULL,
		.when = time(NULL),
	};
	smtp_received_build(&tx->stage, &info);
	tx->head_len = tx->stage.len;
	return 0;
}

/* Checks that every address of the From field belongs to the user. */
static const char *
check_from(struct smtp_session *s, const char *hdr, size_t len)
{
	struct mail_header_iter it;
	struct mail_header_field f, from;
	unsigned n_from = 0;

	mail_header_iter_init(&it, hdr, len);
	while (mail_header_iter_next(&it, &f)) {
		if (f.name_len == 4 && mem_eq_nocase(f.name, "From", 4)) {
			from = f;
			n_from++;
		}
	}
	/* RFC 5322 §3.6: exactly one From field */
	if (n_from != 1)
		return "550 5.6.0 Message must have exactly one From header field";

	struct buf value = BUF_INIT;
	buf_init(&value, SMTP_SUBMIT_HEADER_MAX);
	mail_header_value_unfold(&value, &from);
	/* one more than allowed: the parser stops there, and a list it cut
	 * must not pass with its tail unchecked */
	struct mail_address *list = mail_address_parse(buf_cstr(&value), value.len,
						       FROM_ADDRESSES_MAX + 1);
	buf_free(&value);
	unsigned n_entries = 0;
	for (const struct mail_address *a = list; a != NULL; a = a->next)
		n_entries++;
	if (n_entries > FROM_ADDRESSES_MAX) {
		mail_address_free(&list);
		return "553 5.7.1 Too many addresses in the From header field";
	}
	const char *refusal = NULL;
	unsigned checked = 0;
	struct buf addr = BUF_INIT;
	for (struct mail_address *a = list; a != NULL && refusal == NULL; a = a->next) {
		if (a->domain == NULL)
			continue;	/* a group's start or end */
		buf_reset(&addr);
		if (a->invalid || mail_address_append_addr_spec(&addr, a) < 0) {
			refusal = "553 5.7.1 Malformed From header field";
			break;
		}
		bool owned = false;
		const char *error;
		int ret = store_address_owned_by(smtp_store(s), buf_cstr(&addr),
						 s->user_id, &owned, &error);
		if (ret != STORE_OK && ret != STORE_NOTFOUND && ret != STORE_NOTLOCAL &&
		    ret != STORE_INVALID) {
			log_error("%s[%llu] cannot check From: %s",
				  s->name, (unsigned long long)s->id, error);
			refusal = "451 4.3.0 Temporary failure, try again later";
		} else if (!owned) {
			log_info("%s[%llu] refused from=%s user=%s reason=from-not-owned",
				 s->name, (unsigned long long)s->id, esc_str(buf_cstr(&addr)),
				 s->user);
			refusal = "553 5.7.1 From address not owned by the authenticated user";
		}
		checked++;
	}
	buf_free(&addr);
	mail_address_free(&list);
	if (refusal == NULL && checked == 0)
		refusal = "553 5.7.1 Malformed From header field";
	return refusal;
}

/*
 * The header block of a submitted message is complete: hdr[0..fields) are
 * its fields, followed by the empty line (when the message has a body) and
 * the rest of what was read.  Checks From, adds
 * Date and Message-ID when missing (RFC 6409 §8.2, §8.3), and passes it all
 * on to the blob.
 */
static int
header_finish(struct smtp_session *s, size_t fields)
{
	struct smtp_tx *tx = s->tx;
	const char *h = tx->headers.data != NULL ? tx->headers.data : "";
	size_t len = tx->headers.len;

	tx->in_headers = false;
	tx->refusal = check_from(s, h, fields);
	if (tx->refusal != NULL) {
		buf_free(&tx->headers);
		return -1;
	}
	struct mail_header_field f;
	bool has_date = mail_header_find(h, fields, "Date", false, &f);
	bool has_id = mail_header_find(h, fields, "Message-ID", false, &f);
	stage_append(s, h, fields);
	if (fields > 0 && h[fields - 1] != '\n')
		stage_append(s, "\r\n", 2);
	struct buf add = BUF_INIT;
	time_t now = time(NULL);
	if (!has_date) {
		buf_puts(&add, "Date: ");
		smtp_date_format(&add, now);
		buf_puts(&add, "\r\n");
	}
	if (!has_id) {
		buf_puts(&add, "Message-ID: ");
		smtp_message_id_build(&add, s->cfg->hostname, now);
		buf_puts(&add, "\r\n");
	}
	stage_append(s, add.data != NULL ? add.data : "", add.len);
	buf_free(&add);
	int ret = stage_append(s, h + fields, len - fields);
	buf_free(&tx->headers);
	return ret;
}

/* Collects the header block of a submitted message. */
static int
header_feed(struct smtp_session *s, const void *p, size_t n)
{
	struct smtp_tx *tx = s->tx;
	size_t old = tx->headers.len;
	if (buf_append(&tx->headers, p, n) < 0) {
		tx->refusal = "552 5.3.4 Header section too large";
		buf_free(&tx->headers);
		return -1;
	}
	const char *h = tx->headers.data;
	size_t len = tx->headers.len;
	if (len >= 2 && h[0] == '\r' && h[1] == '\n')
		return header_finish(s, 0);	/* no header fields at all */
	size_t from = old >= 3 ? old - 3 : 0;
	for (size_t i = from; i + 4 <= len; i++) {
		if (h[i] == '\r' && memcmp(h + i, "\r\n\r\n", 4) == 0)
			return header_finish(s, i + 2);
	}
	return 0;
}

/* The message bytes after the header filter. */
static int
body_pass(void *ctx, const void *p, size_t n)
{
	struct smtp_session *s = ctx;
	if (s->tx->in_headers)
		return header_feed(s, p, n);
	return stage_append(s, p, n);
}

int
smtp_body_write(void *ctx, const void *p, size_t n)
{
	struct smtp_session *s = ctx;
	struct smtp_tx *tx = s->tx;

	if (tx->refusal != NULL || tx->write_failed)
		return -1;
	tx->size += n;
	if (tx->size > s->cfg->message_size) {
		/* RFC 1870 §6.3 / RFC 5321 §4.5.3.1.10 */
		tx->refusal = "552 5.3.4 Message size exceeds fixed maximum message size";
		return -1;
	}
	int ret = mail_hdr_filter_feed(&tx->hdr, p, n);
	if (ret == 0 && tx->hdr.received > RECEIVED_MAX) {
		/* RFC 5321 §6.3, RFC 3463 X.4.6 routing loop detected */
		tx->refusal = "554 5.4.6 Too many Received header fields: mail loop";
		log_info("%s[%llu] loop id=%s received=%u ip=%s", s->name,
			 (unsigned long long)s->id, tx->id, tx->hdr.received,
			 conn_peer_ip(s->conn));
		return -1;
	}
	return ret;
}

/* The message could not be written (ret, error): nothing of it stays. */
static void
store_failed(struct smtp_session *s, int ret, const char *error)
{
	blob_writer_abort(&s->tx->blob);
	log_error("%s[%llu] cannot store message id=%s: %s",
		  s->name, (unsigned long long)s->id, s->tx->id, error);
	smtp_reply(s, ret == STORE_NOSPACE ? SMTP_REPLY_NOSPACE
					   : "451 4.3.0 Error storing the message, try again later");
	metrics_rejected(METRICS_REJECT_TEMPORARY);
}

/*
 * The end of a message the inbound checks look at (SPF, DKIM, ARC, DMARC,
 * rspamd): they read the streamed file before it is made durable, and
 * what is kept is written once, after them: each user's copy with its
 * delivery fields and the verdicts' fields at its head, fsynced with its
 * row committed before the 250 (delivery.c).  The streamed file itself is
 * made durable only when it is queued (remote recipients, forwards,
 * DSNs); else it goes without ever having been flushed to disk.
 */
static void
body_end_checked(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const char *error;
	char hash[SHA256_HEX_LEN + 1];
	int fd = -1;

	int ret = blob_writer_seal(tx->blob, hash, &fd, &error);
	if (ret != STORE_OK) {
		store_failed(s, ret, error);
		return;
	}
	uint64_t size = blob_writer_size(tx->blob);
	/* a refused message leaves nothing on disk */
	smtp_inbound_message(s, fd, hash, size);
	if (tx->verdict.reply.len > 0) {
		log_info("%s[%llu] refused id=%s from=<%s> size=%llu%s reply=\"%s\"",
			 s->name, (unsigned long long)s->id, tx->id, esc_str(tx->sender),
			 (unsigned long long)tx->size, buf_cstr(&tx->verdict.log),
			 buf_cstr(&tx->verdict.reply));
		blob_writer_abort(&tx->blob);
		smtp_reply(s, buf_cstr(&tx->verdict.reply));
		metrics_rejected((enum metrics_reject)tx->verdict.reject_reason);
	} else if (smtp_delivery_run(s, NULL, fd, size)) {
		blob_writer_release(&tx->blob);	/* placed and queued */
	} else {
		blob_writer_abort(&tx->blob);
	}
	smtp_trust_count_flush(s);
	close(fd);
}

void
smtp_body_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const char *error;

	if (tx->refusal == NULL && !tx->write_failed)
		mail_hdr_filter_end(&tx->hdr);
	if (tx->in_headers && tx->refusal == NULL)
		header_finish(s, tx->headers.len);
	if (tx->refusal == NULL)
		stage_flush(s);
	const char *reply = tx->refusal;
	if (reply == NULL && tx->write_failed)
		reply = tx->write_nospace ? SMTP_REPLY_NOSPACE
					  : "451 4.3.0 Error writing the message, try again later";
	if (reply == NULL)
		reply = smtp_delivery_refusal(s, blob_writer_size(tx->blob));
	if (reply != NULL) {
		/* a refused message leaves nothing on disk */
		blob_writer_abort(&tx->blob);
		log_info("%s[%llu] refused id=%s from=<%s> size=%llu reply=\"%s\"",
			 s->name, (unsigned long long)s->id, tx->id, esc_str(tx->sender),
			 (unsigned long long)tx->size, reply);
		smtp_reply(s, reply);
		smtp_count_refusal(reply);
		return;
	}
	if (smtp_inbound_checks_message(s)) {
		body_end_checked(s);
		return;
	}
	char hash[SHA256_HEX_LEN + 1];
	uint64_t size;
	/* the fsyncs of the file and its folder run while the message is
	 * delivered; smtp_delivery_run() waits for them before its 250,
	 * unless the message's bytes went into its record (sql/056) */
	int ret = blob_writer_link(tx->blob, hash, &size, &error);
	if (ret != STORE_OK) {
		store_failed(s, ret, error);
		return;
	}
	smtp_inbound_submission(s, hash);
	/* refused after all (a race, a failed transaction), or only its
	 * copies kept: the blob goes unless another message shares it */
	if (smtp_delivery_run(s, hash, -1, size))
		blob_writer_release(&tx->blob);
	else
		blob_writer_abort(&tx->blob);
}

/*
 * body: the message body of a transaction, from the first byte after DATA
 * (or of the first BDAT chunk) to the final reply: streaming into a blob,
 * the submission header checks and additions, and delivery.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "mail/address.h"
#include "mail/header.h"
#include "smtp/queue.h"
#include "smtp/received.h"
#include "smtp/session.h"
#include "store/blob.h"
#include "store/queue.h"
#include "store/store.h"

/*
 * SMTP sessions take turns for their delivery transactions.  SQLite lets
 * one writer in at a time anyway; without this lock the others wait in
 * SQLite's busy handler, which polls with sleeps of up to 100 ms, and ten
 * sessions spend most of their time asleep.  Owned by this file; held only
 * around the transactions (blob files are written and fsynced outside).
 */
static pthread_mutex_t deliver_lock = PTHREAD_MUTEX_INITIALIZER;

/* RFC 5321 §4.2.3 452, RFC 3463 X.3.1 "mail system full": the disk is
 * full, the client keeps the message and tries again later. */
#define REPLY_NOSPACE "452 4.3.1 Insufficient system storage, try again later"

/* The most From addresses a submitted message may have (RFC 5322 allows
 * a list); each is checked, and a longer list is refused, not cut. */
#define FROM_ADDRESSES_MAX 50

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
	int ret = blob_writer_new(st, 0, &tx->blob, &error);
	if (ret != STORE_OK) {
		log_error("%s[%llu] cannot start a message: %s",
			  s->name, (unsigned long long)s->id, error);
		*reply_r = ret == STORE_NOSPACE ? REPLY_NOSPACE
						: "451 4.3.0 Temporary failure, try again later";
		return -1;
	}
	tx->body_started = true;
	buf_init(&tx->stage, 0);
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
	if (tx->in_headers)
		return header_feed(s, p, n);
	return stage_append(s, p, n);
}

/* The reply for a recipient whose local delivery failed. */
static const char *
failure_reply(int status)
{
	switch (status) {
	case STORE_OVERQUOTA:
		/* RFC 3463 X.2.2 mailbox full */
		return "552 5.2.2 Mailbox full";
	case STORE_NOTFOUND:
	case STORE_NOTLOCAL:
	case STORE_INVALID:
		return "550 5.1.1 Recipient address rejected: no such user";
	case STORE_LOOP:
		return "550 5.4.6 Alias loop";
	case STORE_NOSPACE:
		return REPLY_NOSPACE;
	default:
		return "451 4.3.0 Local delivery failed, try again later";
	}
}

static void
queue_rcpt_add(struct store_queue_recipient **list, size_t *n, size_t *cap,
	       const char *address, const char *orcpt, unsigned notify,
	       enum store_queue_state state, const char *reply)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		*list = xreallocarray(*list, *cap, sizeof **list);
	}
	struct store_queue_recipient *r = &(*list)[(*n)++];
	memset(r, 0, sizeof *r);
	r->address = xstrdup(address);
	r->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	r->state = state;
	r->last_reply = reply != NULL ? xstrdup(reply) : NULL;
}

static const char *const ret_names[] = { NULL, "FULL", "HDRS" };
static const char *const body_names[] = { NULL, "7BIT", "8BITMIME" };

/* Delivers the placed blob and queues what is not local, and replies;
 * true when the message was accepted (250). */
static bool
deliver(struct smtp_session *s, const char *hash, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	struct store *st = smtp_store(s);
	const char *error;
	size_t n_local = 0;
	for (size_t i = 0; i < tx->n_rcpts; i++)
		n_local += tx->rcpts[i].local ? 1 : 0;

	const char **addrs = xcalloc(n_local + 1, sizeof *addrs);
	size_t *index = xcalloc(n_local + 1, sizeof *index);
	struct store_delivery *deliveries = xcalloc(n_local + 1, sizeof *deliveries);
	struct store_queue_recipient *q = NULL;
	size_t n_q = 0, cap_q = 0, ok = 0, pending = 0, dsn_wanted = 0;
	const char *failure = NULL;
	bool accepted = false;

	for (size_t i = 0, k = 0; i < tx->n_rcpts; i++) {
		if (tx->rcpts[i].local) {
			index[k] = i;
			addrs[k++] = tx->rcpts[i].address;
		}
	}
	int ret = STORE_OK;
	if (n_local > 0) {
		/* the parse for the IMAP cache, outside the lock */
		store_imap_cache_prepare(st, hash);
		pthread_mutex_lock(&deliver_lock);
		ret = store_deliver_many(st, addrs, n_local, hash, size, time(NULL),
					 deliveries, &error);
		pthread_mutex_unlock(&deliver_lock);
	}
	if (ret != STORE_OK) {
		log_error("%s[%llu] delivery failed id=%s: %s",
			  s->name, (unsigned long long)s->id, tx->id, error);
		smtp_reply(s, ret == STORE_NOSPACE ? REPLY_NOSPACE
						   : "451 4.3.0 Local delivery failed, try again later");
		goto out;
	}
	struct buf orcpt = BUF_INIT;
	for (size_t k = 0; k < n_local; k++) {
		const struct smtp_rcpt *r = &tx->rcpts[index[k]];
		const struct store_delivery *d = &deliveries[k];
		if (d->status != STORE_OK) {
			const char *reply = failure_reply(d->status);
			log_info("%s[%llu] delivery failed id=%s to=%s reason=%s",
				 s->name, (unsigned long long)s->id, tx->id, esc_str(r->address),
				 esc_str(d->error != NULL ? d->error : reply));
			if (failure == NULL || reply[0] == '4')
				failure = reply;
			if (reply[0] == '5') {
				queue_rcpt_add(&q, &n_q, &cap_q, r->address, r->orcpt,
					       r->notify, STORE_QUEUE_FAILED, reply);
				if (tx->sender[0] != '\0' && !(r->notify & SMTP_NOTIFY_NEVER))
					dsn_wanted++;
			}
			continue;
		}
		ok++;
		/* RFC 3461 §6.2: a forwarded recipient keeps the original one */
		for (size_t j = 0; j < d->n_forward; j++) {
			const char *o = r->orcpt;
			if (o == NULL) {
				buf_reset(&orcpt);
				buf_puts(&orcpt, "rfc822;");
				smtp_xtext_encode(r->address, strlen(r->address), &orcpt);
				o = buf_cstr(&orcpt);
			}
			queue_rcpt_add(&q, &n_q, &cap_q, d->forward[j], o, r->notify,
				       STORE_QUEUE_PENDING, NULL);
			pending++;
		}
	}
	buf_free(&orcpt);
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[i];
		if (r->local)
			continue;
		queue_rcpt_add(&q, &n_q, &cap_q, r->address, r->orcpt, r->notify,
			       STORE_QUEUE_PENDING, NULL);
		pending++;
	}

	if (ok == 0 && pending == 0) {
		/* nobody got it: refuse, so the client keeps responsibility */
		smtp_reply(s, failure != NULL ? failure
					      : "451 4.3.0 Local delivery failed, try again later");
		goto out;
	}
	if (pending > 0 || dsn_wanted > 0) {
		struct store_queue_message m = {
			.qid = tx->id,
			.size = size,
			.sender = tx->sender,
			.user_id = s->user_id,
			/* the store only reads these (queue.h) */
			.ret = (char *)ret_names[tx->ret],
			.envid = tx->envid,
			.body = (char *)body_names[tx->body],
			.smtputf8 = tx->smtputf8,
			.kind = (char *)"relay",
		};
		memcpy(m.blob, hash, SHA256_HEX_LEN + 1);
		pthread_mutex_lock(&deliver_lock);
		ret = store_queue_add(st, &m, q, n_q, NULL, &error);
		pthread_mutex_unlock(&deliver_lock);
		if (ret != STORE_OK) {
			log_error("%s[%llu] cannot queue id=%s: %s",
				  s->name, (unsigned long long)s->id, tx->id, error);
			smtp_reply(s, ret == STORE_NOSPACE
				   ? REPLY_NOSPACE
				   : "451 4.3.0 Cannot queue the message, try again later");
			goto out;
		}
		if (pending > 0)
			relay_kick();	/* the relay workers look at the queue now */
	}
	log_info("%s[%llu] accepted id=%s from=<%s> rcpts=%zu delivered=%zu queued=%zu size=%llu%s%s",
		 s->name, (unsigned long long)s->id, tx->id, esc_str(tx->sender), tx->n_rcpts,
		 ok, pending, (unsigned long long)size, s->user != NULL ? " user=" : "",
		 s->user != NULL ? s->user : "");
	smtp_replyf(s, "250 2.0.0 Ok: queued as %s", tx->id);
	s->messages++;
	accepted = true;
out:
	for (size_t k = 0; k < n_local; k++)
		store_delivery_clear(&deliveries[k]);
	store_queue_recipient_list_free(&q, n_q);
	free(deliveries);
	free(index);
	free(addrs);
	return accepted;
}

/*
 * A message that every recipient would refuse (all of them local, each
 * over quota or gone since RCPT) is refused before its blob is placed, so
 * that it leaves nothing on disk.  The reply, or NULL to go on; the same
 * words deliver() would use.  The delivery checks again in its
 * transaction: this only saves the placing.
 */
static const char *
refuse_early(struct smtp_session *s, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	struct store *st = smtp_store(s);
	for (size_t i = 0; i < tx->n_rcpts; i++)
		if (!tx->rcpts[i].local)
			return NULL;	/* queued for a remote host: taken */
	const char **addrs = xcalloc(tx->n_rcpts + 1, sizeof *addrs);
	struct store_delivery *d = xcalloc(tx->n_rcpts + 1, sizeof *d);
	for (size_t i = 0; i < tx->n_rcpts; i++)
		addrs[i] = tx->rcpts[i].address;
	const char *error, *failure = NULL;
	int taken = store_deliver_check(st, addrs, tx->n_rcpts, size, d, &error);
	if (taken == 0) {
		for (size_t i = 0; i < tx->n_rcpts; i++) {
			const char *reply = failure_reply(d[i].status);
			log_info("%s[%llu] delivery failed id=%s to=%s reason=%s",
				 s->name, (unsigned long long)s->id, tx->id,
				 esc_str(tx->rcpts[i].address),
				 esc_str(d[i].error != NULL ? d[i].error : reply));
			if (failure == NULL || reply[0] == '4')
				failure = reply;
		}
	}
	for (size_t i = 0; i < tx->n_rcpts; i++)
		store_delivery_clear(&d[i]);
	free(d);
	free(addrs);
	return failure;
}

void
smtp_body_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const char *error;

	if (tx->in_headers && tx->refusal == NULL)
		header_finish(s, tx->headers.len);
	if (tx->refusal == NULL)
		stage_flush(s);
	const char *reply = tx->refusal;
	if (reply == NULL && tx->write_failed)
		reply = tx->write_nospace ? REPLY_NOSPACE
					  : "451 4.3.0 Error writing the message, try again later";
	if (reply == NULL)
		reply = refuse_early(s, blob_writer_size(tx->blob));
	if (reply != NULL) {
		blob_writer_abort(&tx->blob);
		log_info("%s[%llu] refused id=%s from=<%s> size=%llu reply=\"%s\"",
			 s->name, (unsigned long long)s->id, tx->id, esc_str(tx->sender),
			 (unsigned long long)tx->size, reply);
		smtp_reply(s, reply);
		return;
	}
	char hash[SHA256_HEX_LEN + 1];
	uint64_t size;
	int ret = blob_writer_place(tx->blob, hash, &size, &error);
	if (ret != STORE_OK) {
		blob_writer_abort(&tx->blob);
		log_error("%s[%llu] cannot store message id=%s: %s",
			  s->name, (unsigned long long)s->id, tx->id, error);
		smtp_reply(s, ret == STORE_NOSPACE
			   ? REPLY_NOSPACE
			   : "451 4.3.0 Error storing the message, try again later");
		return;
	}
	/* refused after all (a race, a failed transaction): the blob goes
	 * unless another message shares it */
	if (deliver(s, hash, size))
		blob_writer_release(&tx->blob);
	else
		blob_writer_abort(&tx->blob);
}

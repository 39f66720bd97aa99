/*
 * delivery: where a received message goes once its blob is durable: a
 * copy for each local user its recipients reach, headed by the fields of
 * final delivery (RFC 5321 §4.4), in the folder a subaddress names (RFC
 * 5233); the rest queued for the relay, forwards with an SRS sender.
 *
 * What each local user's copy starts with, as Postfix's local(8) writes it:
 *
 *     Return-Path: <sender>
 *     X-Original-To: the recipient as the client gave it (a catch-all's
 *                    owner sees which address the mail was sent to)
 *     Delivered-To: the final recipient: the user's address, with the
 *                   subaddress it was reached with
 *
 * These differ per user, so the users do not share one blob.  When the
 * message goes to local users only, the first user's fields are written at
 * the head of the streamed blob itself (one write, the usual case of one
 * recipient) and the other users' blobs are made from it; when it is also
 * queued (remote recipients, forwards), the streamed blob stays without
 * them for the queue and every user gets a copy.
 *
 * A refused message leaves nothing on disk (store/blob.h): each blob made
 * here is held until its row or queue entry commits and thrown away when
 * it is not taken (a user over quota, a failed transaction), and the
 * caller does the same with the streamed blob by what smtp_delivery_run()
 * says.
 *
 * The verdicts of inbound.c come after the delivery fields: the spam
 * filter's fields, and a rewritten Subject in place of the message's own.
 * When they may come (the sender checks or a spam filter are on), no
 * fields are streamed into the blob, since the verdict is known only once
 * the whole message is written; the checks read that file before it is
 * made durable (body.c), and the users' copies are made from it then, so
 * each copy is the one file flushed to disk for it; local copies of spam
 * go to the user's Junk folder.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/limits.h"
#include "core/log.h"
#include "mail/hdrfilter.h"
#include "smtp/bounce.h"
#include "smtp/inbound.h"
#include "smtp/queue.h"
#include "smtp/sendlimit.h"
#include "smtp/session.h"
#include "sieve/deliver.h"
#include "smtp/srs.h"
#include "smtp/tlsrpt_recv.h"
#include "smtp/trust_inbound.h"
#include "store/blob.h"
#include "store/queue.h"
#include "store/relayq.h"
#include "store/store.h"
#include "trust/rspamd.h"

/*
 * SMTP sessions take turns for their delivery transactions.  SQLite lets
 * one writer in at a time anyway; without this lock the others wait in
 * SQLite's busy handler, which polls with sleeps of up to 100 ms, and ten
 * sessions spend most of their time asleep.  Owned by this file; held only
 * around the transactions (blob files are written and fsynced outside).
 */
static pthread_mutex_t deliver_lock = PTHREAD_MUTEX_INITIALIZER;

void
smtp_delivery_lock(bool take)
{
	if (take)
		pthread_mutex_lock(&deliver_lock);
	else
		pthread_mutex_unlock(&deliver_lock);
}

/* The final delivery fields of copy c (see above). */
static void
copy_fields(const struct smtp_tx *tx, const struct smtp_copy *c, struct buf *out)
{
	const struct smtp_rcpt *r = &tx->rcpts[c->rcpt];
	const char *user = r->res.user_addresses[c->user];
	const char *detail = r->res.details[c->user];
	const char *at = strrchr(user, '@');

	buf_printf(out, "Return-Path: <%s>\r\n", tx->sender);
	buf_printf(out, "X-Original-To: %s\r\n", r->address);
	if (detail != NULL && at != NULL)
		buf_printf(out, "Delivered-To: %.*s%s%s\r\n", (int)(at - user), user, detail, at);
	else
		buf_printf(out, "Delivered-To: %s\r\n", user);
}

void
smtp_delivery_plan(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	bool queued = false;

	for (size_t i = 0; i < tx->n_rcpts; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[i];
		if (!r->local || r->res.n_remote > 0)
			queued = true;
		if (!r->local)
			continue;
		for (size_t u = 0; u < r->res.n_users; u++) {
			size_t k = 0;
			while (k < tx->n_copies && tx->copies[k].user_id != r->res.user_ids[u])
				k++;
			if (k < tx->n_copies)
				continue;	/* one copy per user: the first way wins */
			tx->copies = xreallocarray(tx->copies, tx->n_copies + 1, sizeof *tx->copies);
			struct smtp_copy *c = &tx->copies[tx->n_copies++];
			memset(c, 0, sizeof *c);
			c->user_id = r->res.user_ids[u];
			c->rcpt = i;
			c->user = u;
		}
	}
	tx->inline_fields = tx->n_copies > 0 && !queued && !smtp_inbound_checks_message(s);
	if (tx->inline_fields) {
		size_t before = tx->stage.len;
		copy_fields(tx, &tx->copies[0], &tx->stage);
		tx->inline_len = tx->stage.len - before;
	}
}

/* The address the copy was delivered to, with its detail (malloc'd). */
static char *
delivered_to(const char *user, const char *detail)
{
	const char *at = strrchr(user, '@');
	if (detail == NULL || at == NULL)
		return xstrdup(user);
	return xasprintf("%.*s%s%s", (int)(at - user), user, detail, at);
}

/* The head of copy c: its delivery fields, then the verdict's fields and
 * Subject. */
static void
copy_head(const struct smtp_tx *tx, const struct smtp_copy *c, struct buf *out)
{
	copy_fields(tx, c, out);
	buf_append(out, tx->verdict.headers.data, tx->verdict.headers.len);
	if (tx->verdict.subject != NULL)
		rspamd_subject_header(tx->verdict.subject, out);
}

/* Where copy_blob() writes through the header filter. */
struct copy_sink {
	struct blob_writer *w;
	const char *error;
	int ret;
};

static int
copy_sink_write(void *ctx, const void *p, size_t n)
{
	struct copy_sink *k = ctx;
	k->ret = blob_write(k->w, p, n, &k->error);
	return k->ret == STORE_OK ? 0 : -1;
}

/* A new blob: fields, then head (when not NULL: a header block in place
 * of the message's own) and the message read through fd from byte skip on
 * (without its Subject fields when drop_subject), placed and held in *w_r
 * (see above).  STORE_OK, or the failure (logged). */
static int
copy_blob(struct smtp_session *s, int fd, uint64_t skip, const struct buf *fields,
	  const struct buf *head, bool drop_subject, char hash_r[SHA256_HEX_LEN + 1],
	  uint64_t *size_r, struct blob_writer **w_r)
{
	static const char *const subject[] = { "Subject", NULL };
	struct store *st = smtp_store(s);
	struct blob_writer *w = NULL;
	const char *error;
	char *chunk = NULL;
	int ret;
	struct copy_sink sink = { NULL, NULL, STORE_OK };
	struct mail_hdr_filter hdr;

	*w_r = NULL;
	if ((ret = blob_writer_new_deferred(st, 0, &w, &error)) != STORE_OK ||
	    (ret = blob_write(w, fields->data, fields->len, &error)) != STORE_OK)
		goto fail;
	sink.w = w;
	mail_hdr_filter_init(&hdr, subject, copy_sink_write, &sink);
	ret = STORE_ERROR;
	if (lseek(fd, (off_t)skip, SEEK_SET) < 0) {
		error = "cannot seek in the message";
		goto fail;
	}
	if (head != NULL && head->len > 0) {
		if (drop_subject) {
			if (mail_hdr_filter_feed(&hdr, head->data, head->len) < 0) {
				error = sink.error;
				ret = sink.ret;
				goto fail;
			}
		} else if ((ret = blob_write(w, head->data, head->len, &error)) != STORE_OK) {
			goto fail;
		}
	}
	chunk = xmalloc(SMTP_BODY_CHUNK);
	for (;;) {
		ssize_t n = read(fd, chunk, SMTP_BODY_CHUNK);
		if (n == 0)
			break;
		if (n < 0) {
			error = "cannot read the message";
			goto fail;
		}
		if (drop_subject) {
			if (mail_hdr_filter_feed(&hdr, chunk, (size_t)n) < 0) {
				error = sink.error;
				ret = sink.ret;
				goto fail;
			}
		} else if ((ret = blob_write(w, chunk, (size_t)n, &error)) != STORE_OK) {
			goto fail;
		}
	}
	if (drop_subject && mail_hdr_filter_end(&hdr) < 0) {
		error = sink.error;
		ret = sink.ret;
		goto fail;
	}
	free(chunk);
	chunk = NULL;
	/* the fsyncs of the file and its folder run while it is delivered:
	 * deliver_copies() waits for them before the copy counts as
	 * delivered, unless its bytes went into its record (sql/056) */
	if ((ret = blob_writer_link(w, hash_r, size_r, &error)) != STORE_OK)
		goto fail;
	*w_r = w;
	return STORE_OK;
fail:
	log_error("%s[%llu] cannot write a copy id=%s: %s", s->name, (unsigned long long)s->id,
		  s->tx->id, error);
	free(chunk);
	blob_writer_abort(&w);
	return ret == STORE_OK ? STORE_ERROR : ret;
}

/* The reply for a recipient whose local delivery failed. */
static const char *
failure_reply(int status)
{
	switch (status) {
	case STORE_OVERQUOTA:
		/* RFC 3463 X.2.2 mailbox full */
		return "552 5.2.2 Mailbox full";
	case STORE_NOSPACE:
		return SMTP_REPLY_NOSPACE;
	default:
		return "451 4.3.0 Local delivery failed, try again later";
	}
}

const char *
smtp_delivery_refusal(struct smtp_session *s, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	if (tx->n_copies == 0)
		return NULL;
	for (size_t i = 0; i < tx->n_rcpts; i++)
		if (!tx->rcpts[i].local || tx->rcpts[i].res.n_remote > 0)
			return NULL;	/* queued: taken */
	const char *error;
	for (size_t i = 0; i < tx->n_copies; i++) {
		/* the copies differ from the streamed blob only by their
		 * fields: size is near enough for a check made again later */
		if (store_user_quota_fits(smtp_store(s), tx->copies[i].user_id, size, &error) != 0)
			return NULL;	/* room, or cannot tell: try */
	}
	for (size_t i = 0; i < tx->n_copies; i++) {
		const struct smtp_copy *c = &tx->copies[i];
		log_info("%s[%llu] delivery failed id=%s to=%s reason=over quota",
			 s->name, (unsigned long long)s->id, tx->id,
			 esc_str(tx->rcpts[c->rcpt].res.user_addresses[c->user]));
	}
	return failure_reply(STORE_OVERQUOTA);
}

/* Recipients on their way into one queued message. */
struct queue_group {
	char *sender;
	struct store_queue_recipient *q;
	size_t n, cap;
};

static void
group_add(struct queue_group **groups, size_t *n_groups, const char *sender,
	  const char *address, const char *orcpt, unsigned notify,
	  enum store_queue_state state, const char *reply, const char *held)
{
	size_t g = 0;
	while (g < *n_groups && strcmp((*groups)[g].sender, sender) != 0)
		g++;
	if (g == *n_groups) {
		*groups = xreallocarray(*groups, *n_groups + 1, sizeof **groups);
		memset(&(*groups)[g], 0, sizeof **groups);
		(*groups)[g].sender = xstrdup(sender);
		(*n_groups)++;
	}
	struct queue_group *gr = &(*groups)[g];
	if (gr->n == gr->cap) {
		gr->cap = gr->cap == 0 ? 8 : gr->cap * 2;
		gr->q = xreallocarray(gr->q, gr->cap, sizeof *gr->q);
	}
	struct store_queue_recipient *r = &gr->q[gr->n++];
	memset(r, 0, sizeof *r);
	r->address = xstrdup(address);
	r->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	r->state = state;
	r->last_reply = reply != NULL ? xstrdup(reply) : NULL;
	r->held = held != NULL ? xstrdup(held) : NULL;
}

/*
 * The envelope sender for what recipient r forwards to other domains: the
 * sender SRS-rewritten into r's domain, so that the receiver's SPF check
 * sees a domain that sends through us; unchanged for the null sender and
 * for senders of our own domains (we send for those anyway).  malloc'd.
 */
static char *
forward_sender(struct smtp_session *s, const struct smtp_rcpt *r)
{
	const char *sender = s->tx->sender;
	const char *sat = strrchr(sender, '@');
	const char *rat = strrchr(r->address, '@');
	const struct srs_key *k = srs_key_current();
	if (k == NULL || sat == NULL || rat == NULL ||
	    store_domain_is_local(smtp_store(s), sat + 1) != 0)
		return xstrdup(sender);
	char *domain = xstrdup(rat + 1);
	str_lower(domain);
	struct buf out = BUF_INIT;
	int ret = srs_forward(k, sender, domain, time(NULL), &out);
	free(domain);
	if (ret <= 0) {
		if (ret < 0)
			log_info("%s[%llu] sender too long for SRS id=%s from=<%s>", s->name,
				 (unsigned long long)s->id, s->tx->id, esc_str(sender));
		buf_free(&out);
		return xstrdup(sender);
	}
	return buf_steal(&out);
}

static const char *const ret_names[] = { NULL, "FULL", "HDRS" };
static const char *const body_names[] = { NULL, "7BIT", "8BITMIME" };

/*
 * Tells the sender that what goes out of the message is held (issue 21):
 * a delay notice (RFC 3464 Action: delayed, 4.7.1) for the held
 * recipients, delivered into the sender's mailbox as the relay's DSNs
 * are; NOTIFY=NEVER or a null sender asks for none.
 */
static void
hold_notice(struct smtp_session *s, struct queue_group *groups, size_t n_groups,
	    const char *hash, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	char *reply = xasprintf("451 4.7.1 held: %s; not sent unless an administrator"
				" releases it", tx->verdict.hold);
	for (size_t g = 0; g < n_groups; g++) {
		struct relayq_item it = {
			.msg = {
				.qid = tx->id,
				.size = size,
				.sender = tx->sender,
				.ret = (char *)ret_names[tx->ret],
				.envid = tx->envid,
				.smtputf8 = tx->smtputf8,
				.kind = (char *)"relay",
				.created = time(NULL),
			},
			.rcpts = xcalloc(groups[g].n, sizeof *it.rcpts),
		};
		memcpy(it.msg.blob, hash, SHA256_HEX_LEN + 1);
		for (size_t i = 0; i < groups[g].n; i++) {
			const struct store_queue_recipient *q = &groups[g].q[i];
			if (q->held == NULL)
				continue;
			struct store_queue_recipient *r = &it.rcpts[it.n_rcpts++];
			*r = *q;
			r->state = STORE_QUEUE_DEFERRED;
			r->last_reply = reply;
		}
		/* the sender of the group is ours only when not SRS-rewritten */
		if (it.n_rcpts > 0 && tx->sender[0] != '\0' &&
		    strcmp(groups[g].sender, tx->sender) == 0)
			bounce_send_held(smtp_store(s), s->cfg->hostname, &it);
		free(it.rcpts);
	}
	free(reply);
}

/* Queues each group; STORE_OK, or the failure (logged). */
static int
queue_groups(struct smtp_session *s, struct queue_group *groups, size_t n_groups,
	     const char *hash, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	const char *error;
	for (size_t g = 0; g < n_groups; g++) {
		struct store_queue_message m = {
			.qid = tx->id,
			.size = size,
			.sender = groups[g].sender,
			.user_id = s->user_id,
			/* the store only reads these (queue.h) */
			.ret = (char *)ret_names[tx->ret],
			.envid = tx->envid,
			.body = (char *)body_names[tx->body],
			.smtputf8 = tx->smtputf8,
			.requiretls = tx->requiretls,
			.kind = (char *)"relay",
		};
		memcpy(m.blob, hash, SHA256_HEX_LEN + 1);
		pthread_mutex_lock(&deliver_lock);
		int ret = store_queue_add(smtp_store(s), &m, groups[g].q, groups[g].n, NULL, &error);
		pthread_mutex_unlock(&deliver_lock);
		if (ret != STORE_OK) {
			log_error("%s[%llu] cannot queue id=%s: %s",
				  s->name, (unsigned long long)s->id, tx->id, error);
			return ret;
		}
	}
	return STORE_OK;
}

/* Makes and delivers the users' copies of the message (blob hash, or
 * read through fd: see smtp_delivery_run()); 0, or -1 (a reply has been
 * written). */
static int
deliver_copies(struct smtp_session *s, const char *hash, int fd, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	struct store_copy *sc = xcalloc(tx->n_copies + 1, sizeof *sc);
	struct buf fields = BUF_INIT;
	const char *error;
	int ret = 0;

	for (size_t i = 0; i < tx->n_copies && ret == 0; i++) {
		struct smtp_copy *c = &tx->copies[i];
		if (tx->inline_fields && i == 0) {
			memcpy(c->hash, hash, SHA256_HEX_LEN + 1);
			c->size = size;
		} else {
			buf_reset(&fields);
			copy_head(tx, c, &fields);
			/* a header block of the verdict's replaces the blob's
			 * (never with inline fields: see smtp_delivery_plan) */
			bool head = tx->verdict.head.len > 0;
			uint64_t skip = head ? tx->verdict.head_skip
					     : tx->inline_fields ? tx->inline_len : 0;
			ret = copy_blob(s, fd, skip, &fields, head ? &tx->verdict.head : NULL,
					tx->verdict.subject != NULL, c->hash, &c->size, &c->w);
		}
		const char *detail = tx->rcpts[c->rcpt].res.details[c->user];
		sc[i].user_id = c->user_id;
		sc[i].mailbox = detail != NULL ? detail + 1 : NULL;
		sc[i].blob = c->hash;
		sc[i].size = c->size;
		sc[i].special_use = tx->verdict.special_use;
	}
	buf_free(&fields);
	/* the users' Sieve scripts decide where each copy goes (DESIGN.md:
	 * verdicts, then Sieve, then store) */
	struct sieve_delivery *plans = xcalloc(tx->n_copies + 1, sizeof *plans);
	struct store_copy *all = NULL;
	size_t n_all = 0, *first = xcalloc(tx->n_copies + 1, sizeof *first),
	       *count = xcalloc(tx->n_copies + 1, sizeof *count);
	bool *planned = xcalloc(tx->n_copies + 1, sizeof *planned);
	for (size_t i = 0; ret == 0 && i < tx->n_copies; i++) {
		const struct smtp_copy *c = &tx->copies[i];
		const struct smtp_rcpt *r = &tx->rcpts[c->rcpt];
		char *user = delivered_to(r->res.user_addresses[c->user], r->res.details[c->user]);
		struct sieve_deliver_input in = {
			.user_id = c->user_id,
			.user = user,
			.orig_rcpt = r->address,
			.sender = tx->sender,
			.blob = c->hash,
			.size = c->size,
			.base = &sc[i],
			/* RFC 5235: 0 untested; Junk is the top of the scale,
			 * else rspamd's score when it was asked */
			.spam_score = !smtp_inbound_checks_message(s) ? 0
				      : tx->verdict.special_use != NULL ? 10
				      : tx->verdict.spamtest > 0	  ? tx->verdict.spamtest
									  : 1,
			.spam_percent = tx->verdict.spam_percent,
			.have_spam_percent = tx->verdict.special_use == NULL &&
					     tx->verdict.spamtest > 0,
		};
		planned[i] = sieve_deliver_plan(smtp_store(s), &in, &plans[i]) == 1;
		free(user);
		if (planned[i] && plans[i].n_out > 0) {
			/* redirects leave as forwards do: SRS into the user's
			 * domain, so that the receiver's SPF check passes */
			char *fs = forward_sender(s, r);
			sieve_delivery_redirect_sender(&plans[i], fs);
			free(fs);
		}
		first[i] = n_all;
		size_t add = planned[i] ? plans[i].n_copies : 1;
		all = xreallocarray(all, n_all + add + 1, sizeof *all);
		if (planned[i]) {
			/* none for a discard or a redirect alone (copies NULL) */
			if (add > 0)
				memcpy(&all[n_all], plans[i].copies, add * sizeof *all);
			log_info("%s[%llu] sieve id=%s to=%s%s", s->name, (unsigned long long)s->id,
				 tx->id, esc_str(tx->rcpts[c->rcpt].res.user_addresses[c->user]),
				 plans[i].log);
		} else {
			all[n_all] = sc[i];
		}
		count[i] = add;
		n_all += add;
	}
	if (ret == 0) {
		struct store *st = smtp_store(s);
		/* our turn is taken at our BEGIN (the blobs parsed before it),
		 * and the next session's comes at our COMMIT, not after our
		 * WAL flush (which it may then share) */
		store_commit_takes(st, &deliver_lock);
		/* the names of the streamed blob (body.c) and of the copies'
		 * may not be durable yet: their rows say so until the 250
		 * (sql/054), and a small one's record holds its bytes, so
		 * that the commit makes it durable without waiting for the
		 * fsyncs of its file and folder (sql/056) */
		if (n_all > 0 && hash != NULL && tx->inline_fields)
			store_name_pending(st, hash, tx->blob);
		for (size_t i = 0; n_all > 0 && i < tx->n_copies; i++)
			if (tx->copies[i].w != NULL)
				store_name_pending(st, tx->copies[i].hash, tx->copies[i].w);
		/* the check counts of the message commit with its rows */
		ret = n_all > 0 ? store_deliver_copies_with(st, all, n_all, time(NULL),
							    smtp_trust_count_tx, s, &error)
				: 0;
		store_commit_unlocks_end(st);
		if (ret != STORE_OK)
			log_error("%s[%llu] delivery failed id=%s: %s",
				  s->name, (unsigned long long)s->id, tx->id, error);
	}
	for (size_t i = 0; i < tx->n_copies; i++) {
		if (ret == 0) {
			/* a copy is delivered when any of its folders took it, or
			 * when its script stored it nowhere (discard, redirect) */
			sc[i].status = count[i] == 0 ? STORE_OK : all[first[i]].status;
			for (size_t k = first[i]; k < first[i] + count[i]; k++)
				if (all[k].status == STORE_OK)
					sc[i].status = STORE_OK;
			if (sc[i].status != STORE_OK && count[i] > 0 && sc[i].error == NULL &&
			    all[first[i]].error != NULL)
				sc[i].error = xstrdup(all[first[i]].error);
			/* the turn only when there is anything to write: else
			 * it waited for the next session's transaction */
			if (planned[i] && sc[i].status == STORE_OK &&
			    sieve_delivery_finishes(&plans[i])) {
				pthread_mutex_lock(&deliver_lock);
				sieve_deliver_finish(smtp_store(s), &plans[i], tx->id);
				pthread_mutex_unlock(&deliver_lock);
			}
		}
		/* the store's reasons are the copies' own (an unplanned copy
		 * was taken into all[] before delivery, with none) */
		for (size_t k = first[i]; k < first[i] + count[i]; k++)
			store_copy_clear(&all[k]);
		sieve_delivery_clear(&plans[i]);
	}
	free(plans);
	free(all);
	free(first);
	free(count);
	free(planned);
	/* the copies durable before they count as delivered: their bytes in
	 * their committed records, or their names synced (their rows are
	 * committed: a failure here is answered 4xx, and a retry may give a
	 * second copy, never none) */
	for (size_t i = 0; ret == 0 && i < tx->n_copies; i++) {
		if (sc[i].status != STORE_OK)
			continue;
		int r = blob_writer_wait_durable(tx->copies[i].w, &error);
		if (r != STORE_OK) {
			log_error("%s[%llu] cannot store a copy id=%s: %s", s->name,
				  (unsigned long long)s->id, tx->id, error);
			store_name_pending_forget(smtp_store(s));
			ret = r;
		}
	}
	for (size_t i = 0; i < tx->n_copies; i++) {
		tx->copies[i].status = ret == 0 ? sc[i].status : ret;
		/* a copy not taken goes (unless shared) */
		if (tx->copies[i].status == STORE_OK)
			blob_writer_release(&tx->copies[i].w);
		else
			blob_writer_abort(&tx->copies[i].w);
		if (ret == 0 && sc[i].status != STORE_OK)
			log_info("%s[%llu] delivery failed id=%s to=%s reason=%s",
				 s->name, (unsigned long long)s->id, tx->id,
				 esc_str(tx->rcpts[tx->copies[i].rcpt].res.user_addresses[tx->copies[i].user]),
				 esc_str(sc[i].error != NULL ? sc[i].error : "?"));
		store_copy_clear(&sc[i]);
	}
	free(sc);
	if (ret < 0)
		smtp_reply(s, failure_reply(ret == STORE_OVERQUOTA ? STORE_ERROR : ret));
	return ret < 0 ? -1 : 0;
}

/* The outcome of local recipient r: STORE_OK when any user it reaches got
 * the message (or it forwards on), else the first failure. */
static int
rcpt_status(const struct smtp_tx *tx, const struct smtp_rcpt *r)
{
	int failure = STORE_ERROR;
	if (r->res.n_remote > 0)
		return STORE_OK;
	for (size_t u = 0; u < r->res.n_users; u++) {
		for (size_t k = 0; k < tx->n_copies; k++) {
			if (tx->copies[k].user_id != r->res.user_ids[u])
				continue;
			if (tx->copies[k].status == STORE_OK)
				return STORE_OK;
			failure = tx->copies[k].status;
		}
	}
	return failure;
}

/* A descriptor to read blob hash through; -1 (logged) when it cannot. */
static int
open_source(struct smtp_session *s, const char *hash)
{
	const char *error;
	uint64_t size;
	int fd;
	if (blob_open(smtp_store(s), hash, &fd, &size, &error) != STORE_OK) {
		log_error("%s[%llu] cannot read message id=%s: %s", s->name,
			  (unsigned long long)s->id, s->tx->id, error);
		return -1;
	}
	return fd;
}

bool
smtp_delivery_run(struct smtp_session *s, const char *hash, int fd, uint64_t size)
{
	struct smtp_tx *tx = s->tx;
	struct queue_group *groups = NULL;
	size_t n_groups = 0, ok = 0, pending = 0, dsn_wanted = 0, local_stored = 0;
	const char *failure = NULL;
	struct buf orcpt = BUF_INIT;
	char base[SHA256_HEX_LEN + 1];
	uint64_t base_size = size;
	struct blob_writer *base_w = NULL;
	bool queued = false;
	int own_fd = -1;

	if (hash != NULL && (tx->n_copies > 1 || !tx->inline_fields)) {
		/* the copies are made from the placed blob */
		if ((own_fd = open_source(s, hash)) < 0) {
			smtp_reply(s, "451 4.3.0 Local delivery failed, try again later");
			goto out;
		}
		fd = own_fd;
	}
	if (tx->n_copies > 0 && deliver_copies(s, hash, fd, size) < 0)
		goto out;
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[i];
		if (!r->local) {
			group_add(&groups, &n_groups, tx->sender, r->address, r->orcpt, r->notify,
				  STORE_QUEUE_PENDING, NULL, tx->verdict.hold);
			pending++;
			continue;
		}
		int status = rcpt_status(tx, r);
		if (status != STORE_OK) {
			const char *reply = failure_reply(status);
			if (failure == NULL || reply[0] == '4')
				failure = reply;
			if (reply[0] == '5') {
				group_add(&groups, &n_groups, tx->sender, r->address, r->orcpt,
					  r->notify, STORE_QUEUE_FAILED, reply, NULL);
				if (tx->sender[0] != '\0' && !(r->notify & SMTP_NOTIFY_NEVER))
					dsn_wanted++;
			}
			continue;
		}
		ok++;
		if (r->res.n_remote == 0) {
			local_stored++;
			continue;
		}
		/* RFC 3461 §6.2: a forwarded recipient keeps the original one */
		const char *o = r->orcpt;
		if (o == NULL) {
			buf_reset(&orcpt);
			buf_puts(&orcpt, "rfc822;");
			smtp_xtext_encode(r->address, strlen(r->address), &orcpt);
			o = buf_cstr(&orcpt);
		}
		char *fsender = forward_sender(s, r);
		for (size_t j = 0; j < r->res.n_remote; j++) {
			group_add(&groups, &n_groups, fsender, r->res.remote[j], o, r->notify,
				  STORE_QUEUE_PENDING, NULL, tx->verdict.hold);
			pending++;
		}
		free(fsender);
	}
	if (ok == 0 && pending == 0) {
		/* nobody got it: refuse, so the client keeps responsibility */
		failure = failure != NULL ? failure : "451 4.3.0 Local delivery failed, try again later";
		smtp_reply(s, failure);
		smtp_count_refusal(failure);
		goto out;
	}
	if (pending + dsn_wanted > 0) {
		struct buf none = BUF_INIT;
		const char *error;
		int ret = STORE_OK;
		if (hash == NULL) {
			/* the checked message: made durable now, as it is
			 * queued (body.c) */
			ret = blob_writer_place(tx->blob, base, &base_size, &error);
			if (ret != STORE_OK)
				log_error("%s[%llu] cannot store message id=%s: %s", s->name,
					  (unsigned long long)s->id, tx->id, error);
		} else if (tx->inline_fields) {
			/* only DSNs of failed local recipients are queued, with
			 * the message as received, not the first user's fields */
			if (fd < 0)
				fd = own_fd = open_source(s, hash);
			ret = fd < 0 ? STORE_ERROR
				     : copy_blob(s, fd, tx->inline_len, &none, NULL, false, base,
						 &base_size, &base_w);
		} else {
			memcpy(base, hash, sizeof base);
		}
		/* queued rows wait for the blob's bytes and name (body.c, and
		 * the copy queued for DSNs), so that the queue never refers to
		 * a file a crash may take or cut short */
		if (ret == STORE_OK &&
		    ((ret = blob_writer_wait_name(tx->blob, &error)) != STORE_OK ||
		     (ret = blob_writer_wait_name(base_w, &error)) != STORE_OK))
			log_error("%s[%llu] cannot store message id=%s: %s", s->name,
				  (unsigned long long)s->id, tx->id, error);
		if (ret == STORE_OK)
			ret = queue_groups(s, groups, n_groups, base, base_size);
		if (ret != STORE_OK) {
			smtp_reply(s, ret == STORE_NOSPACE
				   ? SMTP_REPLY_NOSPACE
				   : "451 4.3.0 Cannot queue the message, try again later");
			metrics_rejected(METRICS_REJECT_TEMPORARY);
			goto out;
		}
		queued = true;
		if (pending > 0 && tx->verdict.hold != NULL)
			hold_notice(s, groups, n_groups, base, base_size);
		else if (pending > 0)
			relay_kick();	/* the relay workers look at the queue now */
	}
	/* the blob durable too (body.c linked it and left the sync of its
	 * file and folder under way): its bytes in its committed record
	 * (sql/056; the fsyncs finish in the background), or else its name
	 * synced; only then is the message acknowledged */
	const char *werror;
	int wret = blob_writer_wait_durable(tx->blob, &werror);
	if (wret != STORE_OK) {
		/* its rows are committed, so a retry of the client may give a
		 * second copy: never none */
		log_error("%s[%llu] cannot store message id=%s: %s", s->name,
			  (unsigned long long)s->id, tx->id, werror);
		/* its record stays, for fsck */
		store_name_pending_forget(smtp_store(s));
		smtp_reply(s, failure_reply(wret));
		metrics_rejected(METRICS_REJECT_TEMPORARY);
		goto out;
	}
	/* the records of its rows go with a later transaction */
	store_name_pending_synced(smtp_store(s));
	log_info("%s[%llu] accepted id=%s from=<%s> rcpts=%zu delivered=%zu queued=%zu size=%llu%s%s%s%s",
		 s->name, (unsigned long long)s->id, tx->id, esc_str(tx->sender), tx->n_rcpts,
		 ok, pending, (unsigned long long)size, s->user != NULL ? " user=" : "",
		 s->user != NULL ? s->user : "", buf_cstr(&tx->verdict.log),
		 tx->verdict.special_use != NULL ? " folder=Junk" : "");
	if (pending > 0 && tx->verdict.hold != NULL)
		smtp_replyf(s, "250 2.0.0 Ok: queued as %s, but held: %s; it is not sent unless"
			    " an administrator releases it", tx->id, tx->verdict.hold);
	else
		smtp_replyf(s, "250 2.0.0 Ok: queued as %s", tx->id);
	/* RFC 8460 §5.3: a TLS report sent to our rua address, once the
	 * message is delivered (it stays so, whatever the report is) */
	if (ok > 0)
		smtp_tlsrpt_received(s, hash, fd, size);
	s->messages++;
	metrics_received(metrics_proto_by_name(s->name));
	metrics_delivered_local((unsigned)local_stored);
	smtp_send_limit_count(s, tx->n_rcpts);
out:
	if (own_fd >= 0)
		close(own_fd);
	if (queued)
		blob_writer_release(&base_w);
	else
		blob_writer_abort(&base_w);
	buf_free(&orcpt);
	for (size_t g = 0; g < n_groups; g++) {
		store_queue_recipient_list_free(&groups[g].q, groups[g].n);
		free(groups[g].sender);
	}
	free(groups);
	/* the streamed blob: the first user's copy, or the queued message
	 * (placed above when it was not) */
	if (tx->inline_fields)
		return tx->n_copies > 0 && tx->copies[0].status == STORE_OK;
	return queued;
}

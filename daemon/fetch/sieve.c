/*
 * sieve: the owner's active Sieve script on fetched mail, for accounts
 * that turn it on (upstreams.sieve, sql/018_sieve.sql; DESIGN.md: final
 * delivery takes one path, Sieve then store).
 *
 * The script runs inside the batch's commit (store/upstreams.h rows), on
 * the committer's thread, once the message's blob is in place: its copies
 * replace the one copy to the account's target folder, in the same
 * transaction that records the message as fetched, so that a message is
 * filed where the script says or not at all (and fetched again).  What
 * goes out (vacation replies, redirects, notifications) and what is
 * remembered (vacation and duplicate ids) is done after the commit, for
 * the messages it took (fetch_sieve_committed(), the committer's thread
 * too: the plans never cross threads).  The envelope sender is the
 * message's Return-Path, which the upstream's final delivery wrote; none
 * is the null sender, to which nothing is ever sent (RFC 3834 §2).
 * Redirects leave with that sender SRS-rewritten into the owner's domain
 * (smtp/srs.h, a pure function: as the SMTP side forwards), so that the
 * receiver's SPF check passes.
 */
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"
#include "mail/address.h"
#include "mail/header.h"
#include "sieve/deliver.h"
#include "smtp/srs.h"
#include "store/sieve_store.h"

/* One fetched message's record in the batch (the rows' extra). */
struct sieve_msg {
	struct fetch_run *run;
	char *sender;		/* from Return-Path; "" null */
	char *target;		/* the folder it would go to without Sieve */
	bool junk;		/* rspamd's spam: Junk without Sieve */
	int spamtest, percent;	/* rspamd's score (RFC 5235), 0: not checked */
};

/* A plan whose copies are in the transaction, waiting for the commit. */
struct fetch_sieve_done {
	struct sieve_delivery plan;
	struct fetch_sieve_done *next;
};

static void
msg_free(void *extra)
{
	struct sieve_msg *m = extra;
	if (m == NULL)
		return;
	free(m->sender);
	free(m->target);
	free(m);
}

/* Whether a plan of the batch before its commit remembers id: a vacation
 * reply planned for the same sender goes out once per batch too. */
static bool
pending_seen(void *ctx, int kind, const char *id)
{
	const struct fetch_run *run = ctx;
	for (const struct fetch_sieve_done *p = run->sieve_done; p != NULL; p = p->next)
		for (size_t i = 0; i < p->plan.n_memory; i++)
			if (p->plan.memory_kind[i] == kind && strcmp(p->plan.memory[i], id) == 0)
				return true;
	return false;
}

/* The rows of one message (upstream_batch_rows_fn): the plan's copies,
 * or the one copy to the target when the owner has no active script. */
static int
sieve_rows(struct store *st, const struct upstream_delivery *d, void *extra,
	   bool *appended_r, const char **error_r)
{
	struct sieve_msg *m = extra;
	if (m == NULL)
		return store_upstream_deliver_tx(st, d, appended_r, error_r);
	struct store_copy base;
	memset(&base, 0, sizeof base);
	base.user_id = d->user_id;
	base.mailbox = m->target;
	base.special_use = m->junk ? "\\Junk" : NULL;
	base.blob = d->blob;
	base.size = d->size;
	struct sieve_deliver_input in = {
		.user_id = d->user_id,
		.user = m->run->up->owner,
		.sender = m->sender,
		.blob = d->blob,
		.size = d->size,
		.base = &base,
		.spam_score = m->spamtest,
		.spam_percent = m->percent,
		.have_spam_percent = m->spamtest > 0,
		.pending_seen = pending_seen,
		.pending_ctx = m->run,
	};
	struct fetch_sieve_done *done = xcalloc(1, sizeof *done);
	if (sieve_deliver_plan(st, &in, &done->plan) != 1) {
		/* no script, or it cannot be read (logged): as without Sieve */
		free(done);
		return store_upstream_deliver_tx(st, d, appended_r, error_r);
	}
	const struct srs_key *k = srs_key_current();
	const char *domain = strrchr(m->run->up->owner, '@');
	if (k != NULL && domain != NULL && done->plan.n_out > 0 &&
	    store_domain_is_local(st, strrchr(m->sender, '@') != NULL
				  ? strrchr(m->sender, '@') + 1 : domain + 1) == 0) {
		struct buf fs = BUF_INIT;
		if (srs_forward(k, m->sender, domain + 1, time(NULL), &fs) > 0)
			sieve_delivery_redirect_sender(&done->plan, buf_cstr(&fs));
		buf_free(&fs);
	}
	struct upstream_delivery pd = *d;
	pd.placed = true;
	pd.copies = done->plan.copies;
	pd.n_copies = done->plan.n_copies;
	int ret = store_upstream_deliver_tx(st, &pd, appended_r, error_r);
	if (ret != STORE_OK || !*appended_r) {
		/* refused, or fetched before: nothing to send or remember */
		sieve_delivery_clear(&done->plan);
		free(done);
		return ret;
	}
	log_info("fetch[%llu] upstream=%lld sieve owner=%s%s",
		 (unsigned long long)m->run->log_id, (long long)m->run->up->id,
		 m->run->up->owner, done->plan.log);
	done->next = m->run->sieve_done;
	m->run->sieve_done = done;
	return STORE_OK;
}

int
fetch_sieve_setup(struct fetch_run *run, const char **error_r)
{
	bool on = false;
	if (store_upstream_sieve_get(run->st, run->up->id, &on, error_r) != STORE_OK)
		return -1;
	/* a two-way account keeps each message linked to its upstream
	 * folder and UID (store/twoway.h): the script would move it away */
	run->sieve = on && !run->up->set.two_way;
	return 0;
}

void
fetch_sieve_batch(struct fetch_run *run, struct upstream_batch *b)
{
	if (run->sieve)
		store_upstream_batch_set_rows(b, sieve_rows, msg_free);
}

char *
fetch_return_path(const char *header, size_t header_len)
{
	struct buf rp = BUF_INIT;
	char *addr = NULL;
	/* RFC 5321 §4.4: the final delivery's Return-Path is the envelope
	 * sender ("<>" the null one) */
	if (mail_header_get(&rp, header != NULL ? header : "", header_len, "Return-Path") == 1) {
		const char *p = buf_cstr(&rp);
		const char *lt = strchr(p, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;
		if (lt != NULL && gt != NULL)
			addr = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	}
	buf_free(&rp);
	return addr != NULL ? addr : xstrdup("");
}

int
fetch_sieve_end(struct fetch_run *run, const struct upstream_delivery *d, const char *sender,
		const struct fetch_spam_verdict *spam, const char *target, const char **error_r)
{
	if (!run->sieve)
		return store_upstream_batch_end(run->batch, d, error_r);
	struct sieve_msg *m = xcalloc(1, sizeof *m);
	m->run = run;
	m->target = xstrdup(target);
	m->sender = xstrdup(sender);
	m->junk = spam->junk;
	m->spamtest = spam->spamtest;
	m->percent = spam->percent;
	return store_upstream_batch_end_extra(run->batch, d, m, error_r);
}

void
fetch_sieve_committed(struct fetch_run *run, struct store *st, bool committed)
{
	struct fetch_sieve_done *done = run->sieve_done;
	run->sieve_done = NULL;
	while (done != NULL) {
		struct fetch_sieve_done *next = done->next;
		if (committed)
			sieve_deliver_finish(st, &done->plan, "");
		sieve_delivery_clear(&done->plan);
		free(done);
		done = next;
	}
}

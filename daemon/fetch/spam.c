/*
 * spam: rspamd's verdict on fetched mail, when [spam] rspamd is set, as
 * smtp/inbound.c asks it for mail that arrives over SMTP (the same client,
 * trust/rspamd_client.h, and the same header fields).
 *
 * The check is part of a message's delivery, before its local commit: at
 * the end of the message (fetch_sink_end), on the run's thread, while the
 * batch before it may be committing.  rspamd reads the message as it will
 * be stored (our Received field first); its verdict is put in front of it
 * (X-Spamd-Result, X-Spam-Status, X-Spam), the fields of those names the
 * message brought are dropped as it arrives (a sender must not vouch for
 * itself: fetch_sink_write), and spam goes to the owner's Junk folder, or
 * where the owner's Sieve script says when the account runs it (spamtest
 * and spamtestplus, RFC 5235, see the verdict's score).  What rspamd knows
 * of a fetched message: the envelope sender from the Return-Path the
 * upstream's delivery wrote, the owner as the recipient.  No client
 * address or HELO: the upstream's Received fields name them, but where
 * the trusted part of a foreign provider's chain ends is not known here,
 * and a wrong address would fail SPF on good mail.
 *
 * Fetched mail cannot be refused: it is in the upstream mailbox already.
 * rspamd's reject and discard (and quarantine) therefore file it in Junk,
 * as Dovecot setups and mailcow do with a sieve_before script; greylist
 * and soft reject concern an SMTP client and change nothing here; rewrite
 * subject files it in Junk with the headers but keeps its Subject (the
 * message's head is written as it arrives).
 *
 * When rspamd cannot be asked (down, timed out, a message over
 * rspamd_max_size), the message is delivered with "X-Spam-Status:
 * unchecked (...)": a failed check is never an error of the fetch, so a
 * message is neither lost nor fetched twice because of it.
 *
 * Which messages: those of every account but a two-way one (its local
 * folders mirror the upstream's, which does its own filtering); of an
 * account that mirrors its folders, those of the upstream INBOX only (the
 * other folders are the user's own filing: Sent, Archive...).
 */
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"
#include "trust/rspamd.h"
#include "trust/rspamd_client.h"

struct fetch_spam {
	struct rspamd_server srv;
	bool usable;			/* srv was made from the URL */
	uint64_t max_size;		/* [spam] rspamd_max_size */
};

/* The fields only rspamd's verdict writes (as smtp/body.c drops them). */
static const char *const verdict_fields[] = { "X-Spam-Status", "X-Spamd-Result", "X-Spam",
					      NULL };

void
fetch_spam_setup(struct fetch_run *run, const struct config *cfg)
{
	run->spam = NULL;
	if (cfg->rspamd_url == NULL || run->up->set.two_way)
		return;
	struct fetch_spam *sp = xcalloc(1, sizeof *sp);
	const char *error;
	sp->max_size = cfg->rspamd_max_size;
	sp->usable = rspamd_server_init(&sp->srv, cfg->rspamd_url, cfg->rspamd_timeout, NULL,
					&error) == 0;
	if (!sp->usable)
		log_error("fetch[%llu] upstream=%lld rspamd: %s",
			  (unsigned long long)run->log_id, (long long)run->up->id, error);
	run->spam = sp;
}

void
fetch_spam_free(struct fetch_run *run)
{
	if (run->spam == NULL)
		return;
	rspamd_server_clear(&run->spam->srv);
	free(run->spam);
	run->spam = NULL;
}

bool
fetch_spam_applies(const struct fetch_run *run, const char *folder)
{
	if (run->spam == NULL)
		return false;
	return !run->up->set.mirror || folder == NULL || strcasecmp(folder, "INBOX") == 0;
}

const char *const *
fetch_spam_fields(void)
{
	return verdict_fields;
}

/* rspamd's verdict on the message begun in run->batch: 0 with *r (the
 * caller clears it), or -1 with *why (static words; logged). */
static int
ask(struct fetch_run *run, const char *sender, struct rspamd_result *r, const char **why)
{
	struct fetch_spam *sp = run->spam;
	const char *error;
	int fd = -1;
	uint64_t size;
	if (!sp->usable) {
		*why = "rspamd unavailable";
		return -1;
	}
	if (store_upstream_batch_message_open(run->batch, &fd, &size, &error) != STORE_OK) {
		log_error("fetch[%llu] upstream=%lld cannot check a message with rspamd: %s",
			  (unsigned long long)run->log_id, (long long)run->up->id, error);
		*why = "rspamd unavailable";
		return -1;
	}
	if (size > sp->max_size) {
		close(fd);
		log_info("fetch[%llu] upstream=%lld rspamd skipped size=%llu (over rspamd_max_size)",
			 (unsigned long long)run->log_id, (long long)run->up->id,
			 (unsigned long long)size);
		*why = "message too large for rspamd";
		return -1;
	}
	const char *rcpts[] = { run->up->owner };
	struct rspamd_request req = {
		.from = sender,
		.rcpts = rcpts,
		.n_rcpts = 1,
	};
	int ret = rspamd_check(&sp->srv, &req, fd, size, r, &error);
	close(fd);
	if (ret < 0) {
		/* the mail still arrives; the header and the status page say so */
		log_warning("fetch[%llu] upstream=%lld rspamd unavailable: %s",
			    (unsigned long long)run->log_id, (long long)run->up->id, error);
		*why = "rspamd unavailable";
		return -1;
	}
	return 0;
}

int
fetch_spam_check(struct fetch_run *run, const char *sender, struct fetch_spam_verdict *v,
		 const char **error_r)
{
	struct buf fields = BUF_INIT;
	struct rspamd_result r;
	const char *why;
	memset(v, 0, sizeof *v);
	if (ask(run, sender, &r, &why) < 0) {
		rspamd_unchecked_header(why, &fields);
		rspamd_status_unchecked();
		log_info("fetch[%llu] upstream=%lld owner=%s spam=unchecked",
			 (unsigned long long)run->log_id, (long long)run->up->id, run->up->owner);
	} else {
		v->junk = rspamd_action_is_spam(r.action);
		rspamd_spamtest(&r, &v->spamtest, &v->percent);
		rspamd_result_headers(&r, &fields);
		log_info("fetch[%llu] upstream=%lld owner=%s spam=\"%s\" score=%.2f%s",
			 (unsigned long long)run->log_id, (long long)run->up->id, run->up->owner,
			 rspamd_action_name(r.action), r.score, v->junk ? " folder=Junk" : "");
		rspamd_result_clear(&r);
	}
	int ret = store_upstream_batch_prepend(run->batch, fields.data, fields.len, error_r);
	buf_free(&fields);
	return ret == STORE_OK ? 0 : -1;
}

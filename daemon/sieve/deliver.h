/*
 * deliver: the user's active Sieve script at final delivery (DESIGN.md:
 * trust/ verdicts, then the user's Sieve actions, then store).  Used by
 * the SMTP delivery (smtp/delivery.c) and by the fetcher for accounts
 * that turn it on.
 *
 * sieve_deliver_plan() runs the script (compiled once and kept: cache.h)
 * over one user's copy and turns its actions into store copies (folder,
 * flags, :create) and messages to send (redirects with the copy's blob,
 * vacation replies, notifications and rejections with new blobs), all
 * queued by sieve_deliver_queue() once the copies are committed.  A runtime error keeps the message in the
 * default folder and adds a note to the user's INBOX saying what failed.
 */
#ifndef MAILHUB_SIEVE_DELIVER_H
#define MAILHUB_SIEVE_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "store/store.h"

struct sieve_outgoing {
	char *sender;		/* envelope sender ("" null) */
	char *rcpt;
	char blob[SHA256_HEX_LEN + 1];
	uint64_t size;
	bool redirect;		/* a redirect (its sender is the caller's: SRS) */
};

struct sieve_delivery {
	struct store_copy *copies;	/* blob pointers into blobs[] or the input */
	size_t n_copies;
	char (*blobs)[SHA256_HEX_LEN + 1];	/* notes made here */
	char **keywords;		/* owned keyword strings of the copies */
	char **mailboxes;		/* owned folder names of the copies */
	struct sieve_outgoing *out;
	size_t n_out;
	char *log;			/* " sieve=..." for the log line */
	/* remembered after the copies commit */
	char **memory;
	int *memory_kind;
	unsigned *memory_seconds;
	size_t n_memory;
	int64_t user_id;
};

struct sieve_deliver_input {
	int64_t user_id;
	const char *user;		/* the user's address with its detail */
	const char *orig_rcpt;		/* as the client gave it, or NULL */
	const char *sender;		/* "" for the null sender */
	const char *blob;		/* the user's copy, committed or held */
	uint64_t size;
	const struct store_copy *base;	/* the copy without Sieve (its folder) */
	int spam_score;			/* spamtest 0..10, 0: not tested */
	/* spamtestplus :percent 0..100 (RFC 5235 §3.2) when have_spam_percent,
	 * else derived from spam_score */
	int spam_percent;
	bool have_spam_percent;
	/* What is remembered but not stored yet (the fetcher's batch:
	 * plans whose memory is written after their commit); NULL: none.
	 * kind is SIEVE_MEMORY_VACATION or SIEVE_MEMORY_DUPLICATE. */
	bool (*pending_seen)(void *ctx, int kind, const char *id);
	void *pending_ctx;
};

/*
 * 1 and *d filled when the user has an active script (d->copies replace
 * base); 0 when there is none (deliver base as it is); STORE_ERROR when
 * the store cannot be read (deliver base as it is, logged).
 */
int sieve_deliver_plan(struct store *st, const struct sieve_deliver_input *in,
		       struct sieve_delivery *d);
/* Queues d's outgoing messages and writes its memory; after the copies
 * committed.  SRS for redirects is the caller's (it owns the sender:
 * sieve_delivery_redirect_sender()). */
void sieve_deliver_finish(struct store *st, struct sieve_delivery *d, const char *qid);
/* Whether sieve_deliver_finish() has anything to write for d (a message
 * to queue, a reply to remember): a caller that takes a lock for it
 * takes none otherwise. */
bool sieve_delivery_finishes(const struct sieve_delivery *d);
void sieve_delivery_clear(struct sieve_delivery *d);
/* Sets the envelope sender of d's redirects (the caller's SRS rewriting
 * of the message's sender into the user's domain), before finish. */
void sieve_delivery_redirect_sender(struct sieve_delivery *d, const char *sender);

#endif

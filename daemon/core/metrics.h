/*
 * metrics: the daemon's event counters, for GET /metrics (the Prometheus
 * text format) and the dashboard's chart of the last day.
 *
 * The module owns every counter.  Counters are relaxed atomics, bumped where
 * the event happens (a message accepted, a relay outcome, a failed login, a
 * session started, a fetch run) from any thread without a lock; a scrape
 * reads them as they are (each one exact, the set not one snapshot).
 * Per-account fetch counters live in a fixed table of METRICS_ACCOUNTS_MAX
 * slots claimed by compare-and-swap on the account id; an account past the
 * table counts in the "other" slot (id 0).  Gauges that the store knows
 * (queue length and age, store size) and those the listener knows (sessions
 * now) are not kept here: the caller reads them at scrape time and hands
 * them to metrics_render().
 *
 * The history (the chart) is a ring of METRICS_HISTORY_MAX samples of the
 * main counters, one every [admin] metrics_interval seconds, behind the
 * module's one lock (taken by the sampler and the reader of the history,
 * never by a counter).  Counters start at zero with the process, as
 * Prometheus counters may (a restart is a reset).
 */
#ifndef MAILHUB_CORE_METRICS_H
#define MAILHUB_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* Upstream accounts counted one by one. */
#define METRICS_ACCOUNTS_MAX 1024
/* Samples the history keeps (a day at the default interval of 300 s). */
#define METRICS_HISTORY_MAX 288

/* Where a session or a login happened: the listener names, plus "web"
 * (the panel's sign-in) and "managesieve". */
enum metrics_proto {
	METRICS_PROTO_SMTP,
	METRICS_PROTO_SUBMISSION,
	METRICS_PROTO_SUBMISSIONS,
	METRICS_PROTO_IMAP,
	METRICS_PROTO_IMAPS,
	METRICS_PROTO_POP3,
	METRICS_PROTO_POP3S,
	METRICS_PROTO_MANAGESIEVE,
	METRICS_PROTO_WEB,
	METRICS_PROTO_OTHER,
	METRICS_PROTO_COUNT
};

/* Why a message or a recipient was refused (the label "reason"). */
enum metrics_reject {
	METRICS_REJECT_OTHER,		/* 0: none of the below */
	METRICS_REJECT_RELAY,		/* 554 5.7.1 relay access denied */
	METRICS_REJECT_NO_SUCH_USER,	/* 550 5.1.1 */
	METRICS_REJECT_SENDER,		/* 553 sender not owned by the user */
	METRICS_REJECT_SIZE,		/* 552 over [limits] message_size */
	METRICS_REJECT_RECIPIENTS,	/* 452 too many recipients */
	METRICS_REJECT_RATE,		/* [relay] sending limits */
	METRICS_REJECT_GREYLIST,	/* 451 greylisted (ours or rspamd's) */
	METRICS_REJECT_DNSBL,		/* the client is on a blocklist */
	METRICS_REJECT_SPAM,		/* rspamd said reject */
	METRICS_REJECT_DMARC,		/* the From: domain's policy said reject */
	METRICS_REJECT_SPOOFING,	/* a local domain without authentication */
	METRICS_REJECT_FORMAT,		/* bare CR/LF, a line too long */
	METRICS_REJECT_MAILBOX_FULL,	/* 552 5.2.2 over the user's quota */
	METRICS_REJECT_TEMPORARY,	/* our own temporary failure (store, disk) */
	METRICS_REJECT_COUNT
};

/* A message taken in: by an SMTP listener (after its 250), or fetched. */
void metrics_received(enum metrics_proto via);
void metrics_fetched(unsigned n);
/* Local copies stored for recipients here; remote: a relay outcome. */
void metrics_delivered_local(unsigned n);
void metrics_delivered_remote(void);
void metrics_deferred(void);
void metrics_bounced(void);
void metrics_rejected(enum metrics_reject why);
/* A session started on a listener (by its name, "imaps"). */
void metrics_session(const char *listener);
/* A login that failed (wrong credentials) or was refused unchecked
 * (blocked address), by protocol name ("imap", "pop3", "smtp", "web"). */
void metrics_login_failed(const char *protocol);
void metrics_login_blocked(const char *protocol);
/* One fetch run of upstream account id (> 0): failed or not, and how many
 * new messages it stored. */
void metrics_fetch_run(int64_t id, bool failed, unsigned messages);

/* The label of a value ("imaps", "no_such_user"). */
const char *metrics_proto_name(enum metrics_proto p);
const char *metrics_reject_name(enum metrics_reject r);
/* The protocol of a listener or login name; METRICS_PROTO_OTHER when it is
 * none of them. */
enum metrics_proto metrics_proto_by_name(const char *name);

/* What the caller reads at scrape time. */
struct metrics_gauges {
	uint64_t queue_messages;	/* messages with recipients still to try */
	uint64_t queue_recipients;	/* those recipients */
	int64_t queue_oldest;		/* created time of the oldest, 0: none */
	uint64_t store_messages;	/* messages in every mailbox */
	uint64_t store_bytes;		/* their sizes added up */
	unsigned sessions[METRICS_PROTO_COUNT];	/* running now */
	int64_t started;		/* when the daemon started */
};

/* Appends the Prometheus text exposition format (version 0.0.4) of every
 * counter and of g, at now, to out (a buf without a maximum: a few KiB,
 * and at most about 100 bytes per upstream account). */
void metrics_render(const struct metrics_gauges *g, time_t now, struct buf *out);

/* One point of the history. */
struct metrics_sample {
	int64_t time;
	uint64_t received;	/* all listeners and fetched */
	uint64_t delivered;	/* local and remote */
	uint64_t deferred;
	uint64_t bounced;
	uint64_t rejected;	/* all reasons */
	uint64_t logins_failed;	/* all protocols */
	uint64_t queue;		/* queue_messages then */
};

/* Takes a sample of the counters now, with the queue length given. */
void metrics_sample_take(time_t now, uint64_t queue_messages);
/* The samples no older than since, oldest first, into out (room for
 * METRICS_HISTORY_MAX); returns how many. */
size_t metrics_history(int64_t since, struct metrics_sample *out);
/* The counters now as a sample (the chart's last point). */
void metrics_sample_now(time_t now, uint64_t queue_messages, struct metrics_sample *s);

/* Zeroes every counter and the history (tests). */
void metrics_reset(void);

#endif

/*
 * metrics: lock-free event counters and the sampled history (see metrics.h).
 */
#include "core/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef _Atomic uint64_t counter;

struct account_slot {
	_Atomic int64_t id;	/* 0: free; claimed once, never given back */
	counter runs, errors, messages;
};

static struct {
	counter received[METRICS_PROTO_COUNT];
	counter fetched;
	counter delivered_local, delivered_remote, deferred, bounced;
	counter rejected[METRICS_REJECT_COUNT];
	counter sessions[METRICS_PROTO_COUNT];
	counter logins_failed[METRICS_PROTO_COUNT];
	counter logins_blocked[METRICS_PROTO_COUNT];
	struct account_slot accounts[METRICS_ACCOUNTS_MAX];
	struct account_slot other;	/* accounts past the table */
} M;

/* The history ring, behind its lock. */
static pthread_mutex_t history_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_sample history[METRICS_HISTORY_MAX];
static size_t history_next, history_n;

static const char *const proto_names[METRICS_PROTO_COUNT] = {
	[METRICS_PROTO_SMTP] = "smtp",
	[METRICS_PROTO_SUBMISSION] = "submission",
	[METRICS_PROTO_SUBMISSIONS] = "submissions",
	[METRICS_PROTO_IMAP] = "imap",
	[METRICS_PROTO_IMAPS] = "imaps",
	[METRICS_PROTO_POP3] = "pop3",
	[METRICS_PROTO_POP3S] = "pop3s",
	[METRICS_PROTO_MANAGESIEVE] = "managesieve",
	[METRICS_PROTO_WEB] = "web",
	[METRICS_PROTO_OTHER] = "other",
};

static const char *const reject_names[METRICS_REJECT_COUNT] = {
	[METRICS_REJECT_RELAY] = "relay_denied",
	[METRICS_REJECT_NO_SUCH_USER] = "no_such_user",
	[METRICS_REJECT_SENDER] = "sender_not_owned",
	[METRICS_REJECT_SIZE] = "size",
	[METRICS_REJECT_RECIPIENTS] = "too_many_recipients",
	[METRICS_REJECT_RATE] = "sending_limit",
	[METRICS_REJECT_GREYLIST] = "greylist",
	[METRICS_REJECT_DNSBL] = "dnsbl",
	[METRICS_REJECT_SPAM] = "spam",
	[METRICS_REJECT_DMARC] = "dmarc",
	[METRICS_REJECT_SPOOFING] = "spoofing",
	[METRICS_REJECT_FORMAT] = "format",
	[METRICS_REJECT_MAILBOX_FULL] = "mailbox_full",
	[METRICS_REJECT_TEMPORARY] = "temporary",
	[METRICS_REJECT_OTHER] = "other",
};

static inline void
bump(counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t
get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

const char *
metrics_proto_name(enum metrics_proto p)
{
	return (unsigned)p < METRICS_PROTO_COUNT ? proto_names[p] : "other";
}

const char *
metrics_reject_name(enum metrics_reject r)
{
	return (unsigned)r < METRICS_REJECT_COUNT ? reject_names[r] : "other";
}

enum metrics_proto
metrics_proto_by_name(const char *name)
{
	for (unsigned i = 0; name != NULL && i < METRICS_PROTO_OTHER; i++)
		if (strcmp(proto_names[i], name) == 0)
			return (enum metrics_proto)i;
	return METRICS_PROTO_OTHER;
}

void
metrics_received(enum metrics_proto via)
{
	bump(&M.received[(unsigned)via < METRICS_PROTO_COUNT ? via : METRICS_PROTO_OTHER], 1);
}

void
metrics_fetched(unsigned n)
{
	bump(&M.fetched, n);
}

void
metrics_delivered_local(unsigned n)
{
	bump(&M.delivered_local, n);
}

void
metrics_delivered_remote(void)
{
	bump(&M.delivered_remote, 1);
}

void
metrics_deferred(void)
{
	bump(&M.deferred, 1);
}

void
metrics_bounced(void)
{
	bump(&M.bounced, 1);
}

void
metrics_rejected(enum metrics_reject why)
{
	bump(&M.rejected[(unsigned)why < METRICS_REJECT_COUNT ? why : METRICS_REJECT_OTHER], 1);
}

void
metrics_session(const char *listener)
{
	bump(&M.sessions[metrics_proto_by_name(listener)], 1);
}

void
metrics_login_failed(const char *protocol)
{
	bump(&M.logins_failed[metrics_proto_by_name(protocol)], 1);
}

void
metrics_login_blocked(const char *protocol)
{
	bump(&M.logins_blocked[metrics_proto_by_name(protocol)], 1);
}

/* The slot of account id: found, or claimed by compare-and-swap on a free
 * one (open addressing from a hash of the id), or the shared "other". */
static struct account_slot *
account_slot(int64_t id)
{
	if (id <= 0)
		return &M.other;
	size_t start = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 32) % METRICS_ACCOUNTS_MAX;
	for (size_t k = 0; k < METRICS_ACCOUNTS_MAX; k++) {
		struct account_slot *s = &M.accounts[(start + k) % METRICS_ACCOUNTS_MAX];
		int64_t cur = atomic_load_explicit(&s->id, memory_order_acquire);
		if (cur == id)
			return s;
		if (cur == 0) {
			int64_t expected = 0;
			if (atomic_compare_exchange_strong_explicit(&s->id, &expected, id,
								    memory_order_acq_rel,
								    memory_order_acquire) ||
			    expected == id)
				return s;
		}
	}
	return &M.other;
}

void
metrics_fetch_run(int64_t id, bool failed, unsigned messages)
{
	struct account_slot *s = account_slot(id);
	bump(&s->runs, 1);
	if (failed)
		bump(&s->errors, 1);
	bump(&s->messages, messages);
}

/* ---- the text format ------------------------------------------------------ */

static void
head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
value(struct buf *out, const char *name, const char *labels, uint64_t v)
{
	if (labels != NULL)
		buf_printf(out, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

static void
by_proto(struct buf *out, const char *name, const char *label, counter *c, bool skip_zero)
{
	for (unsigned i = 0; i < METRICS_PROTO_COUNT; i++) {
		uint64_t v = get(&c[i]);
		if (skip_zero && v == 0)
			continue;
		buf_printf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, proto_names[i], v);
	}
}

static void
account_lines(struct buf *out, const char *name, size_t field)
{
	for (size_t i = 0; i <= METRICS_ACCOUNTS_MAX; i++) {
		struct account_slot *s = i < METRICS_ACCOUNTS_MAX ? &M.accounts[i] : &M.other;
		int64_t id = atomic_load_explicit(&s->id, memory_order_acquire);
		counter *c = (counter *)((char *)s + field);
		if (s == &M.other) {
			if (get(&s->runs) > 0)
				buf_printf(out, "%s{account=\"other\"} %" PRIu64 "\n", name, get(c));
		} else if (id != 0) {
			buf_printf(out, "%s{account=\"%" PRId64 "\"} %" PRIu64 "\n", name, id, get(c));
		}
	}
}

void
metrics_render(const struct metrics_gauges *g, time_t now, struct buf *out)
{
	head(out, "mailhub_messages_received_total", "counter",
	     "Messages accepted, by the listener that took them (fetch: from upstream accounts).");
	for (unsigned i = 0; i < METRICS_PROTO_COUNT; i++) {
		uint64_t v = get(&M.received[i]);
		if (i <= METRICS_PROTO_SUBMISSIONS || v > 0)
			buf_printf(out, "mailhub_messages_received_total{via=\"%s\"} %" PRIu64 "\n",
				   proto_names[i], v);
	}
	value(out, "mailhub_messages_received_total", "via=\"fetch\"", get(&M.fetched));

	head(out, "mailhub_messages_delivered_total", "counter",
	     "Deliveries per recipient: stored here (local) or handed to the next server (remote).");
	value(out, "mailhub_messages_delivered_total", "to=\"local\"", get(&M.delivered_local));
	value(out, "mailhub_messages_delivered_total", "to=\"remote\"", get(&M.delivered_remote));
	head(out, "mailhub_messages_deferred_total", "counter",
	     "Outbound delivery attempts that failed temporarily, per recipient.");
	value(out, "mailhub_messages_deferred_total", NULL, get(&M.deferred));
	head(out, "mailhub_messages_bounced_total", "counter",
	     "Outbound recipients given up on (permanent failure or expired).");
	value(out, "mailhub_messages_bounced_total", NULL, get(&M.bounced));
	head(out, "mailhub_messages_rejected_total", "counter",
	     "Messages and recipients refused during the SMTP session, by reason.");
	for (unsigned i = 0; i < METRICS_REJECT_COUNT; i++)
		buf_printf(out, "mailhub_messages_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
			   reject_names[i], get(&M.rejected[i]));

	head(out, "mailhub_queue_messages", "gauge",
	     "Queued messages with recipients still to be tried.");
	value(out, "mailhub_queue_messages", NULL, g->queue_messages);
	head(out, "mailhub_queue_recipients", "gauge", "Queued recipients still to be tried.");
	value(out, "mailhub_queue_recipients", NULL, g->queue_recipients);
	head(out, "mailhub_queue_oldest_age_seconds", "gauge",
	     "Age of the oldest queued message with recipients still to be tried (0: none).");
	value(out, "mailhub_queue_oldest_age_seconds", NULL,
	      g->queue_oldest > 0 && now > g->queue_oldest ? (uint64_t)(now - g->queue_oldest) : 0);

	head(out, "mailhub_sessions", "gauge", "Sessions running now, by listener.");
	for (unsigned i = 0; i < METRICS_PROTO_WEB; i++)
		buf_printf(out, "mailhub_sessions{listener=\"%s\"} %u\n", proto_names[i],
			   g->sessions[i]);
	head(out, "mailhub_sessions_total", "counter", "Sessions started, by listener.");
	by_proto(out, "mailhub_sessions_total", "listener", M.sessions, false);
	head(out, "mailhub_logins_failed_total", "counter",
	     "Logins refused for wrong credentials, by protocol.");
	by_proto(out, "mailhub_logins_failed_total", "protocol", M.logins_failed, false);
	head(out, "mailhub_logins_blocked_total", "counter",
	     "Logins refused unchecked because the address was blocked, by protocol.");
	by_proto(out, "mailhub_logins_blocked_total", "protocol", M.logins_blocked, false);

	head(out, "mailhub_fetch_runs_total", "counter", "Fetch runs, by upstream account id.");
	account_lines(out, "mailhub_fetch_runs_total", offsetof(struct account_slot, runs));
	head(out, "mailhub_fetch_errors_total", "counter",
	     "Fetch runs that failed, by upstream account id.");
	account_lines(out, "mailhub_fetch_errors_total", offsetof(struct account_slot, errors));
	head(out, "mailhub_fetch_messages_total", "counter",
	     "Messages fetched and stored, by upstream account id.");
	account_lines(out, "mailhub_fetch_messages_total", offsetof(struct account_slot, messages));

	head(out, "mailhub_store_messages", "gauge", "Messages in all mailboxes.");
	value(out, "mailhub_store_messages", NULL, g->store_messages);
	head(out, "mailhub_store_bytes", "gauge", "Sizes of the messages in all mailboxes.");
	value(out, "mailhub_store_bytes", NULL, g->store_bytes);
	head(out, "mailhub_start_time_seconds", "gauge", "When the daemon started (Unix time).");
	value(out, "mailhub_start_time_seconds", NULL, g->started > 0 ? (uint64_t)g->started : 0);
}

/* ---- history ---------------------------------------------------------------- */

void
metrics_sample_now(time_t now, uint64_t queue_messages, struct metrics_sample *s)
{
	memset(s, 0, sizeof *s);
	s->time = now;
	for (unsigned i = 0; i < METRICS_PROTO_COUNT; i++) {
		s->received += get(&M.received[i]);
		s->logins_failed += get(&M.logins_failed[i]);
	}
	s->received += get(&M.fetched);
	s->delivered = get(&M.delivered_local) + get(&M.delivered_remote);
	s->deferred = get(&M.deferred);
	s->bounced = get(&M.bounced);
	for (unsigned i = 0; i < METRICS_REJECT_COUNT; i++)
		s->rejected += get(&M.rejected[i]);
	s->queue = queue_messages;
}

void
metrics_sample_take(time_t now, uint64_t queue_messages)
{
	struct metrics_sample s;
	metrics_sample_now(now, queue_messages, &s);
	pthread_mutex_lock(&history_lock);
	history[history_next] = s;
	history_next = (history_next + 1) % METRICS_HISTORY_MAX;
	if (history_n < METRICS_HISTORY_MAX)
		history_n++;
	pthread_mutex_unlock(&history_lock);
}

size_t
metrics_history(int64_t since, struct metrics_sample *out)
{
	size_t n = 0;
	pthread_mutex_lock(&history_lock);
	size_t first = (history_next + METRICS_HISTORY_MAX - history_n) % METRICS_HISTORY_MAX;
	for (size_t k = 0; k < history_n; k++) {
		const struct metrics_sample *s = &history[(first + k) % METRICS_HISTORY_MAX];
		if (s->time >= since)
			out[n++] = *s;
	}
	pthread_mutex_unlock(&history_lock);
	return n;
}

void
metrics_reset(void)
{
	pthread_mutex_lock(&history_lock);
	/* atomics zeroed one by one (memset on atomics is not portable) */
	counter *all[] = { &M.fetched, &M.delivered_local, &M.delivered_remote, &M.deferred,
			   &M.bounced };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		atomic_store(all[i], 0);
	for (unsigned i = 0; i < METRICS_PROTO_COUNT; i++) {
		atomic_store(&M.received[i], 0);
		atomic_store(&M.sessions[i], 0);
		atomic_store(&M.logins_failed[i], 0);
		atomic_store(&M.logins_blocked[i], 0);
	}
	for (unsigned i = 0; i < METRICS_REJECT_COUNT; i++)
		atomic_store(&M.rejected[i], 0);
	for (size_t i = 0; i <= METRICS_ACCOUNTS_MAX; i++) {
		struct account_slot *s = i < METRICS_ACCOUNTS_MAX ? &M.accounts[i] : &M.other;
		atomic_store(&s->id, 0);
		atomic_store(&s->runs, 0);
		atomic_store(&s->errors, 0);
		atomic_store(&s->messages, 0);
	}
	history_next = history_n = 0;
	pthread_mutex_unlock(&history_lock);
}

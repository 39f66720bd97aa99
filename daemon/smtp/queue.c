/*
 * queue: the relay's workers (see queue.h).
 */
#include "smtp/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/dns.h"
#include "core/dns_cache.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/seal.h"
#include "core/tls.h"
#include "mail/address.h"
#include "mail/header.h"
#include "smtp/bounce.h"
#include "smtp/client.h"
#include "smtp/dane.h"
#include "smtp/dkim.h"
#include "smtp/mtasts.h"
#include "smtp/tlsrpt.h"
#include "smtp/tlsrpt_post.h"
#include "store/blob.h"
#include "store/relaytls.h"
#include "store/relayq.h"

/* A worker holds its recipients this long at most (longer than any one
 * delivery with RFC 5321's timeouts); a restart drops leases anyway. */
#define LEASE_SECONDS 3600
/* How often worker 0 looks for DSNs to send and finished messages. */
#define HOUSEKEEPING_SECONDS 1

struct relay_settings {
	char *hostname;
	char *data_dir;
	char *resolver;
	unsigned mx_port;
	unsigned workers;
	unsigned retry_first, retry_max, lifetime, delay_notice;
	unsigned smtp_timeout;
	unsigned shutdown_grace;
	bool dnssec;		/* [dns] dnssec: DANE */
	bool mta_sts;
	unsigned mta_sts_port;
	bool tls_reports;
};

/* How often worker 0 looks for TLS reports owed for yesterday. */
#define TLSRPT_CHECK_SECONDS 10

/* How often a fresh cached MTA-STS policy's TXT record is looked at again
 * (RFC 8461 §5.1: to find a newer policy before the cached one expires). */
#define MTASTS_RECHECK_SECONDS 3600
/* The relay's DNS cache: a household sends to a few thousand domains */
#define RELAY_DNS_CACHE_ENTRIES 10000
#define RELAY_DNS_CACHE_BYTES (4u * 1024 * 1024)

/* A worker's parsed DKIM keys of one domain (parsing a PEM key costs more
 * than a signature); looked up again after DKIM_CACHE_SECONDS so that new
 * keys are taken up. */
#define DKIM_CACHE_DOMAINS 16
#define DKIM_CACHE_SECONDS 300
struct dkim_cached {
	char *domain;
	int64_t loaded;
	struct relayq_dkim_key *keys;	/* owns the strings of dk */
	struct dkim_key *dk;
	size_t n;			/* 0: the domain is not local, no keys */
};

struct worker {
	unsigned index;
	pthread_t thread;
	struct store *st;
	struct dns_resolver *dns;
	int64_t next_housekeeping;
	uint64_t last_seq;		/* of its last outcomes given to the committer */
	uint64_t cleaned_seq;		/* committed_seq at its last queue cleanup */
	int64_t next_cleanup;
	int64_t next_tlsrpt;
	int active_fd;			/* its SMTP session's socket, -1: none
					 * (relay.lock) */
	struct dkim_cached dkim[DKIM_CACHE_DOMAINS];
	unsigned dkim_next;		/* the slot to replace next */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running;
	bool stop;
	unsigned kicks;
	unsigned exited;	/* workers that have left their loop */
	struct relay_settings set;
	struct worker *workers;
	SSL_CTX *ctx_any;	/* opportunistic STARTTLS to MX hosts */
	SSL_CTX *ctx_verify;	/* the smarthost and MTA-STS: verified */
	SSL_CTX *ctx_dane;	/* DANE (RFC 7672): verified by TLSA records */
	/* the workers' DNS answers (MX, TLSA, the _mta-sts TXT) kept for
	 * their TTLs, so that a domain's policies cost no lookup while they
	 * are fresh (relay_policy_bench.py) */
	struct dns_cache *dns_cache;
	atomic_ullong next_id;
	relay_oauth_fn *oauth;	/* set before start, read-only after */
} relay = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static bool
stopping(void)
{
	pthread_mutex_lock(&relay.lock);
	bool s = relay.stop;
	pthread_mutex_unlock(&relay.lock);
	return s;
}

void
relay_set_oauth(relay_oauth_fn *fn)
{
	relay.oauth = fn;
}

void
relay_kick(void)
{
	pthread_mutex_lock(&relay.lock);
	relay.kicks++;
	pthread_cond_broadcast(&relay.cond);
	pthread_mutex_unlock(&relay.lock);
}

/* Notes the socket of the worker's session, so that relay_stop() can cut
 * it when the worker outstays the shutdown grace. */
static void
set_active_fd(struct worker *w, int fd)
{
	pthread_mutex_lock(&relay.lock);
	w->active_fd = fd;
	pthread_mutex_unlock(&relay.lock);
}

/* Sleeps up to seconds, or until a kick or stop. */
static void
idle_wait(unsigned seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&relay.lock);
	unsigned kicks = relay.kicks;
	while (!relay.stop && relay.kicks == kicks) {
		if (pthread_cond_timedwait(&relay.cond, &relay.lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&relay.lock);
}

/* ---- the committer ---------------------------------------------------------- */

/*
 * Outcomes are committed by one thread for all workers, many per
 * transaction (group commit: one fsync for what every worker finished
 * meanwhile).  A worker hands over a message's outcomes right after the
 * server's reply and goes on with the next message, but never more than
 * one message ahead: before it hands over the next outcomes it waits until
 * the previous ones are durable.  So a crash can resend at most the last
 * two messages of each worker (the at-least-once window).
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* outcomes queued, or stop */
	pthread_cond_t done;		/* committed_seq moved */
	struct relayq_outcome *q;
	size_t n, cap;
	uint64_t queued_seq;		/* the seq of the last outcomes queued */
	uint64_t committed_seq;		/* everything up to it is durable (or failed) */
	bool stop;
	bool running;
	pthread_t thread;
	struct store *st;
} committer = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void
outcomes_free(struct relayq_outcome *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)o[i].reply);
		free((char *)o[i].host);
	}
	free(o);
}

/* Commits what is queued and ends the thread. */
static void
committer_stop(void)
{
	pthread_mutex_lock(&committer.lock);
	committer.stop = true;
	pthread_cond_signal(&committer.wake);
	pthread_mutex_unlock(&committer.lock);
	pthread_join(committer.thread, NULL);
	pthread_mutex_lock(&committer.lock);
	committer.running = false;
	pthread_cond_broadcast(&committer.done);
	pthread_mutex_unlock(&committer.lock);
	store_close(&committer.st);
}

/* Waits until everything up to seq is committed. */
static void
committer_wait(uint64_t seq)
{
	pthread_mutex_lock(&committer.lock);
	while (committer.committed_seq < seq && committer.running)
		pthread_cond_wait(&committer.done, &committer.lock);
	pthread_mutex_unlock(&committer.lock);
}

/* Takes o[0..n) (and the strings in it). */
static void
committer_push(struct worker *w, struct relayq_outcome *o, size_t n)
{
	committer_wait(w->last_seq);
	pthread_mutex_lock(&committer.lock);
	if (committer.n + n > committer.cap) {
		committer.cap = (committer.n + n) * 2;
		committer.q = xreallocarray(committer.q, committer.cap, sizeof *committer.q);
	}
	memcpy(committer.q + committer.n, o, n * sizeof *o);
	committer.n += n;
	w->last_seq = ++committer.queued_seq;
	pthread_cond_signal(&committer.wake);
	pthread_mutex_unlock(&committer.lock);
	free(o);	/* the strings now belong to the queue */
}

static void *
committer_main(void *arg)
{
	(void)arg;
	const char *error;
	pthread_mutex_lock(&committer.lock);
	for (;;) {
		while (committer.n == 0 && !committer.stop)
			pthread_cond_wait(&committer.wake, &committer.lock);
		if (committer.n == 0 && committer.stop)
			break;
		struct relayq_outcome *batch = committer.q;
		size_t n = committer.n;
		uint64_t seq = committer.queued_seq;
		committer.q = NULL;
		committer.n = committer.cap = 0;
		pthread_mutex_unlock(&committer.lock);
		if (relayq_record(committer.st, batch, n, &error) != STORE_OK)
			log_error("relay cannot record %zu outcomes (they are tried again"
				  " when their lease ends): %s", n, error);
		outcomes_free(batch, n);
		pthread_mutex_lock(&committer.lock);
		committer.committed_seq = seq;
		pthread_cond_broadcast(&committer.done);
	}
	pthread_mutex_unlock(&committer.lock);
	return NULL;
}

/* ---- outcomes ------------------------------------------------------------ */

int64_t
relay_next_attempt(int64_t created, unsigned attempts, int64_t now,
		   unsigned retry_first, unsigned retry_max, unsigned lifetime)
{
	int64_t delay = retry_first;
	for (unsigned i = 0; i < attempts && delay < retry_max; i++)
		delay *= 2;
	if (delay > retry_max)
		delay = retry_max;
	int64_t next = now + delay;
	int64_t end = created + lifetime;
	return next > end ? (end > now ? end : now) : next;
}

static int64_t
backoff(const struct store_queue_message *m, unsigned attempts, int64_t now)
{
	return relay_next_attempt(m->created, attempts, now, relay.set.retry_first,
				  relay.set.retry_max, relay.set.lifetime);
}

/* Turns a result into an outcome for r (text stays the caller's). */
static void
outcome_of(const struct store_queue_message *m, const struct store_queue_recipient *r,
	   const struct smtp_result *res, const char *host, int64_t now,
	   struct relayq_outcome *o, char **expired_text)
{
	o->rcpt_id = r->id;
	o->host = host;
	o->reply = res->text != NULL ? res->text : smtp_fail_name(res->fail);
	o->next_attempt = 0;
	switch (res->fail) {
	case SMTP_FAIL_NONE:
		o->state = STORE_QUEUE_DELIVERED;
		return;
	case SMTP_FAIL_PERM:
		o->state = STORE_QUEUE_FAILED;
		return;
	default:
		break;
	}
	if (now >= m->created + relay.set.lifetime) {
		/* RFC 3463 X.4.7: delivery time expired */
		*expired_text = xasprintf("550 5.4.7 gave up after %u days in the queue;"
					  " last error: %s", relay.set.lifetime / 86400,
					  o->reply);
		o->state = STORE_QUEUE_FAILED;
		o->reply = *expired_text;
		return;
	}
	o->state = STORE_QUEUE_DEFERRED;
	o->next_attempt = backoff(m, r->attempts, now);
}

static void
record_dsn(struct worker *w, const struct relayq_item *it,
	   const struct smtp_result *res, const char *host, bool dsn_passed)
{
	int64_t now = time(NULL);
	struct relayq_outcome *o = xcalloc(it->n_rcpts, sizeof *o);
	char **expired = xcalloc(it->n_rcpts, sizeof *expired);
	for (size_t i = 0; i < it->n_rcpts; i++) {
		outcome_of(&it->msg, &it->rcpts[i], &res[i], host, now, &o[i], &expired[i]);
		if (o[i].state == STORE_QUEUE_DELIVERED)
			metrics_delivered_remote();
		else if (o[i].state == STORE_QUEUE_FAILED)
			metrics_bounced();
		else
			metrics_deferred();
		log_info("relay id=%s to=%s host=%s status=%s reply=%s",
			 it->msg.qid, esc_str(it->rcpts[i].address),
			 host != NULL ? host : "-", store_queue_state_name(o[i].state),
			 esc_str(o[i].reply));
	}
	/* the committer takes copies of the texts */
	for (size_t i = 0; i < it->n_rcpts; i++) {
		o[i].reply = o[i].reply != NULL ? xstrdup(o[i].reply) : NULL;
		o[i].host = o[i].host != NULL ? xstrdup(o[i].host) : NULL;
		o[i].dsn_passed = dsn_passed && o[i].state == STORE_QUEUE_DELIVERED;
		free(expired[i]);
	}
	free(expired);
	committer_push(w, o, it->n_rcpts);
}

static void
record(struct worker *w, const struct relayq_item *it,
       const struct smtp_result *res, const char *host)
{
	record_dsn(w, it, res, host, false);
}

/* Records the same result for every recipient of every item. */
static void
record_all(struct worker *w, const struct relayq_batch *b, size_t from,
	   enum smtp_fail fail, const char *text, const char *host)
{
	for (size_t i = from; i < b->n_items; i++) {
		const struct relayq_item *it = &b->items[i];
		struct smtp_result *res = xcalloc(it->n_rcpts, sizeof *res);
		for (size_t k = 0; k < it->n_rcpts; k++)
			smtp_result_set(&res[k], fail, 0, text);
		record(w, it, res, host);
		for (size_t k = 0; k < it->n_rcpts; k++)
			smtp_result_clear(&res[k]);
		free(res);
	}
}

/* ---- local domains --------------------------------------------------------- */

static void
deliver_local(struct worker *w, const struct relayq_item *it)
{
	struct smtp_result *res = xcalloc(it->n_rcpts, sizeof *res);
	for (size_t i = 0; i < it->n_rcpts; i++) {
		struct store_delivery d;
		const char *error;
		memset(&d, 0, sizeof d);
		int st = store_deliver(w->st, it->rcpts[i].address, it->msg.blob,
				       it->msg.size, it->msg.created, &d, &error);
		if (st == STORE_OK && d.status == STORE_OK) {
			smtp_result_set(&res[i], SMTP_FAIL_NONE, 250, "250 2.0.0 delivered locally");
			if (d.n_forward > 0) {
				/* an alias that forwards on: queue those now */
				struct store_queue_recipient *q = xcalloc(d.n_forward, sizeof *q);
				for (size_t k = 0; k < d.n_forward; k++) {
					q[k].address = d.forward[k];
					q[k].orcpt = it->rcpts[i].orcpt;
					q[k].notify = it->rcpts[i].notify;
					q[k].state = STORE_QUEUE_PENDING;
				}
				struct store_queue_message m = it->msg;
				if (store_queue_add(w->st, &m, q, d.n_forward, NULL, &error) != STORE_OK) {
					log_error("relay id=%s cannot queue forwards: %s", it->msg.qid, error);
					smtp_result_set(&res[i], SMTP_FAIL_TEMP, 451,
							"451 4.3.0 cannot queue forwarded copies");
				}
				free(q);
			}
		} else {
			int status = st != STORE_OK ? st : d.status;
			const char *why = d.error != NULL ? d.error : error;
			if (status == STORE_NOTFOUND || status == STORE_LOOP)
				smtp_result_set(&res[i], SMTP_FAIL_PERM, 550,
						errfmt("550 5.1.1 %s", why));
			else if (status == STORE_OVERQUOTA)
				smtp_result_set(&res[i], SMTP_FAIL_TEMP, 452,
						"452 4.2.2 mailbox full");
			else
				smtp_result_set(&res[i], SMTP_FAIL_TEMP, 451,
						errfmt("451 4.3.0 local delivery failed: %s", why));
		}
		store_delivery_clear(&d);
	}
	record(w, it, res, NULL);
	for (size_t i = 0; i < it->n_rcpts; i++)
		smtp_result_clear(&res[i]);
	free(res);
}

/* ---- DKIM ------------------------------------------------------------------ */

/* The domain of the From field's first address, lowercased, or NULL. */
static char *
from_domain(const char *hdr, size_t hdr_len)
{
	struct buf v = BUF_INIT;
	char *d = NULL;
	buf_init(&v, SMTP_SUBMIT_HEADER_MAX);
	if (mail_header_get(&v, hdr, hdr_len, "From") == 1) {
		struct mail_address *a = mail_address_parse(v.data, v.len, 10);
		for (struct mail_address *p = a; p != NULL && d == NULL; p = p->next)
			if (p->domain != NULL && !p->invalid && p->mailbox != NULL)
				d = xstrdup(p->domain);
		mail_address_free(&a);
	}
	buf_free(&v);
	if (d != NULL)
		str_lower(d);
	return d;
}

static void
dkim_cached_clear(struct dkim_cached *c)
{
	for (size_t i = 0; i < c->n; i++)
		dkim_key_unload(&c->dk[i]);
	free(c->dk);
	relayq_dkim_keys_free(&c->keys, c->n);
	free(c->domain);
	memset(c, 0, sizeof *c);
}

/* The domain's signing keys, parsed, or NULL when it has none (not a
 * local domain, or the store failed: then the message goes unsigned). */
static const struct dkim_cached *
dkim_keys_for(struct worker *w, const char *domain, const char *qid)
{
	int64_t now = time(NULL);
	const char *error;
	for (size_t i = 0; i < DKIM_CACHE_DOMAINS; i++) {
		struct dkim_cached *c = &w->dkim[i];
		if (c->domain == NULL || strcmp(c->domain, domain) != 0)
			continue;
		if (now - c->loaded < DKIM_CACHE_SECONDS)
			return c->n > 0 ? c : NULL;
		dkim_cached_clear(c);
	}
	struct dkim_cached *c = &w->dkim[w->dkim_next];
	w->dkim_next = (w->dkim_next + 1) % DKIM_CACHE_DOMAINS;
	dkim_cached_clear(c);
	struct relayq_dkim_key *keys = NULL;
	size_t n = 0;
	int ret = relayq_dkim_keys(w->st, domain, true, &keys, &n, &error);
	if (ret != STORE_OK) {
		if (ret != STORE_NOTFOUND) {
			log_error("relay id=%s dkim keys domain=%s: %s", qid, esc_str(domain),
				  error);
			return NULL;	/* not cached: try again next time */
		}
		n = 0;
	}
	c->domain = xstrdup(domain);
	c->loaded = now;
	c->keys = keys;
	c->dk = n > 0 ? xcalloc(n, sizeof *c->dk) : NULL;
	for (size_t i = 0; i < n; i++) {
		c->dk[i].alg = strcmp(keys[i].algorithm, "ed25519") == 0 ? DKIM_ED25519 : DKIM_RSA;
		c->dk[i].domain = c->domain;
		c->dk[i].selector = keys[i].selector;
		c->dk[i].private_pem = keys[i].private_key;
		if (dkim_key_load(&c->dk[i], &error) < 0)
			log_error("relay dkim domain=%s selector=%s: %s", esc_str(domain),
				  keys[i].selector, error);
	}
	c->n = n;
	return n > 0 ? c : NULL;
}

/* DKIM-Signature fields for the message in fd (read from its start, left
 * at its start).  Nothing when the message is not a local user's, its From
 * domain is not local, or anything fails (then it goes unsigned: a missing
 * signature is better than a message that never leaves). */
static void
dkim_prefix(struct worker *w, const struct relayq_item *it, int fd, struct buf *out)
{
	if (it->msg.user_id <= 0 || strcmp(it->msg.kind, "relay") != 0)
		return;
	struct buf head = BUF_INIT;
	char *chunk = xmalloc(SMTP_BODY_CHUNK);
	struct dkim_signer *sg = NULL;
	char *domain = NULL;
	size_t hdr_len = 0;
	const char *error;
	ssize_t n;

	/* read until the header block is complete */
	while (head.len <= SMTP_SUBMIT_HEADER_MAX) {
		n = read(fd, chunk, SMTP_BODY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(&head, chunk, (size_t)n);
		hdr_len = mail_header_size(head.data, head.len);
		if (hdr_len < head.len)
			break;
	}
	hdr_len = mail_header_size(head.data, head.len);
	domain = from_domain(head.data, hdr_len);
	if (domain == NULL)
		goto out;
	const struct dkim_cached *keys = dkim_keys_for(w, domain, it->msg.qid);
	if (keys == NULL)
		goto out;
	sg = dkim_signer_new(head.data, hdr_len, time(NULL));
	dkim_signer_body(sg, head.data + hdr_len, head.len - hdr_len);
	while ((n = read(fd, chunk, SMTP_BODY_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		dkim_signer_body(sg, chunk, (size_t)n);
	}
	if (dkim_signer_finish(sg, keys->dk, keys->n, out, &error) < 0) {
		log_error("relay id=%s dkim: %s", it->msg.qid, error);
		buf_reset(out);
	}
out:
	dkim_signer_free(&sg);
	free(domain);
	free(chunk);
	buf_free(&head);
	if (lseek(fd, 0, SEEK_SET) != 0)
		log_error("relay id=%s cannot rewind the message", it->msg.qid);
}

/* ---- remote delivery --------------------------------------------------------- */

struct route_host {
	char *name;
	unsigned port;
};

struct route {
	bool smarthost;
	enum smtp_client_tls tls;
	char *username;
	char *password;		/* or the OAuth2 access token */
	bool oauth2;
	struct route_host *hosts;
	size_t n_hosts;
	bool implicit_mx;	/* the domain itself, no MX record */
	char *domain;
	bool mx_secure;		/* the MX answer was DNSSEC-validated: DANE applies */
	bool sts_on;		/* an MTA-STS policy in testing or enforce */
	struct mtasts_policy sts;
	const char *sts_fail;	/* a policy fetch failure to report (static) */
	char *sts_why;
};

static void
route_clear(struct route *r)
{
	for (size_t i = 0; i < r->n_hosts; i++)
		free(r->hosts[i].name);
	free(r->hosts);
	free(r->domain);
	mtasts_policy_clear(&r->sts);
	free(r->sts_why);
	free(r->username);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	memset(r, 0, sizeof *r);
}

static void
route_add(struct route *r, const char *name, unsigned port)
{
	r->hosts = xreallocarray(r->hosts, r->n_hosts + 1, sizeof *r->hosts);
	r->hosts[r->n_hosts].name = xstrdup(name);
	r->hosts[r->n_hosts++].port = port;
}

/*
 * Counts one session's TLS outcome for the daily TLS-RPT report (RFC 8460
 * §4.4: result "success" or a §4.3 failure type; NULL counts nothing) and
 * notes the domain's status for the panel.  mx_host NULL: the route as a
 * whole (no host could be tried).
 */
static void
tls_note(struct worker *w, const struct route *r, const struct dane_host *dh,
	 const char *mx_host, const char *ip, const char *result, const char *error,
	 bool ok, const char *tls_version)
{
	const char *why;
	bool tlsa = dh != NULL && (dh->state == DANE_USABLE || dh->state == DANE_UNUSABLE ||
				   dh->state == DANE_FAILED);
	struct relaytls_result res = {
		.when = time(NULL),
		.domain = r->domain,
		.policy_type = tlsa ? "tlsa" : r->sts_on ? "sts" : "no-policy-found",
		.policy_string = tlsa ? (dh->policy != NULL ? dh->policy : "")
			: r->sts_on ? r->sts.text : "",
		.mx_host = mx_host != NULL ? mx_host : "",
		.result = result,
		.receiving_ip = ip != NULL ? ip : "",
		.detail = error != NULL ? error : "",
	};
	struct relaytls_result extra[2];
	size_t n = 0;
	if (result != NULL)
		extra[n++] = res;
	struct relaytls_status st = {
		.domain = r->domain,
		.tls = tls_version != NULL ? tls_version : "none",
		.mta_sts = r->sts_on ? mtasts_mode_name(r->sts.mode)
			: r->sts_fail != NULL ? r->sts_fail : "none",
		.dane = dh == NULL || dh->state == DANE_NONE ? "none"
			: dh->state == DANE_USABLE ? (ok ? "verified" : "failed")
			: dh->state == DANE_UNUSABLE ? "unusable records" : "lookup failed",
		.host = mx_host,
		.error = ok ? NULL : error != NULL ? error : "failed",
		.when = res.when,
	};
	if (relaytls_note(w->st, extra, n, &st, &why) != STORE_OK)
		log_error("relay domain=%s cannot note TLS results: %s", r->domain, why);
}

/* The domain's MX records, sorted, and whether the answer was validated
 * (DNSSEC, RFC 7672 §2.2.1).  A dns_status. */
static int
lookup_mx(struct worker *w, const char *domain, struct dns_mx **list_r, size_t *n_r,
	  bool *secure_r, const char **error_r)
{
	struct dns_answer ans;
	*list_r = NULL;
	*n_r = 0;
	int ret = dns_query(w->dns, domain, DNS_T_MX, &ans);
	*secure_r = relay.set.dnssec && ans.secure;
	if (ret != DNS_OK) {
		*error_r = errfmt("%s: %s", esc_str(domain), dns_status_name(ret));
		dns_answer_free(&ans);
		return ret;
	}
	struct dns_mx *list = xcalloc(ans.n, sizeof *list);
	for (size_t i = 0; i < ans.n; i++) {
		list[i].host = xstrdup(ans.rr[i].text);
		list[i].preference = ans.rr[i].pref;
	}
	dns_mx_sort(list, ans.n, true);
	*list_r = list;
	*n_r = ans.n;
	dns_answer_free(&ans);
	return DNS_OK;
}

/* Applies the domain's MTA-STS policy to the route (RFC 8461 §4.1: in
 * enforce mode only MX hosts that match a pattern are candidates).  0, or
 * -1 when no host is left (deferred: the policy or the MX may change). */
static int
route_sts(struct worker *w, struct route *r, enum smtp_fail *fail_r,
	  const char **text_r)
{
	if (!relay.set.mta_sts)
		return 0;
	struct mtasts_env env = {
		.st = w->st,
		.dns = w->dns,
		.ctx = relay.ctx_verify,
		.port = relay.set.mta_sts_port,
		.recheck = MTASTS_RECHECK_SECONDS,
	};
	const char *fail, *why;
	r->sts_on = mtasts_get(&env, r->domain, time(NULL), &r->sts, &fail, &why) > 0;
	r->sts_fail = fail;
	r->sts_why = why != NULL ? xstrdup(why) : NULL;
	if (fail != NULL) {
		/* RFC 8460 §4.3.2: a policy that could not be had is reported */
		struct relaytls_result res = {
			.when = time(NULL), .domain = r->domain, .policy_type = "sts",
			.policy_string = "", .mx_host = "", .result = fail,
			.receiving_ip = "", .detail = r->sts_why != NULL ? r->sts_why : "",
		};
		const char *error;
		if (relaytls_note(w->st, &res, 1, NULL, &error) != STORE_OK)
			log_error("relay domain=%s cannot note TLS results: %s", r->domain, error);
	}
	if (!r->sts_on || r->sts.mode != MTASTS_ENFORCE)
		return 0;
	size_t kept = 0;
	for (size_t i = 0; i < r->n_hosts; i++) {
		if (mtasts_mx_match(&r->sts, r->hosts[i].name)) {
			r->hosts[kept++] = r->hosts[i];
		} else {
			log_info("relay domain=%s mx=%s skipped: not in its MTA-STS policy",
				 r->domain, r->hosts[i].name);
			free(r->hosts[i].name);
		}
	}
	r->n_hosts = kept;
	if (kept == 0) {
		/* RFC 3463 X.7.5: cryptographic failure (no host can meet the
		 * policy); deferred, and bounced with this when it expires */
		*fail_r = SMTP_FAIL_TEMP;
		*text_r = errfmt("451 4.7.5 no MX host of %s matches its MTA-STS policy"
				 " (mode enforce)", r->domain);
		tls_note(w, r, NULL, NULL, "", "validation-failure", *text_r, false, NULL);
		route_clear(r);
		return -1;
	}
	return 0;
}

/* Works out where the domain's mail goes.  0; or -1 with *fail_r and
 * *text_r (errfmt) when it cannot go anywhere now. */
static int
route_find(struct worker *w, const char *domain, struct route *r,
	   enum smtp_fail *fail_r, const char **text_r)
{
	struct relayq_smarthost sh;
	const char *error;
	memset(r, 0, sizeof *r);
	int ret = relayq_smarthost_get(w->st, &sh, &error);
	if (ret == STORE_OK) {
		r->smarthost = true;
		r->tls = strcmp(sh.tls, "implicit") == 0 ? SMTP_TLS_IMPLICIT : SMTP_TLS_STARTTLS;
		route_add(r, sh.host, sh.port);
		if (sh.oauth_upstream != 0) {
			r->oauth2 = true;
			if (relay.oauth == NULL ||
			    relay.oauth(sh.oauth_upstream, &r->username, &r->password, &error) < 0) {
				relayq_smarthost_clear(&sh);
				route_clear(r);
				*fail_r = SMTP_FAIL_AUTH;
				*text_r = errfmt("451 4.7.0 no OAuth2 token for the smarthost: %s",
						 relay.oauth == NULL ? "not available" : error);
				return -1;
			}
		} else if (sh.username != NULL) {
			size_t len;
			if (unseal(sh.password_sealed, &r->password, &len, &error) < 0) {
				relayq_smarthost_clear(&sh);
				route_clear(r);
				*fail_r = SMTP_FAIL_AUTH;
				*text_r = errfmt("451 4.3.5 cannot open the smarthost password: %s",
						 error);
				return -1;
			}
			r->username = xstrdup(sh.username);
		}
		relayq_smarthost_clear(&sh);
		return 0;
	}
	if (ret != STORE_NOTFOUND) {
		*fail_r = SMTP_FAIL_TEMP;
		*text_r = errfmt("451 4.3.0 %s", error);
		return -1;
	}

	r->tls = SMTP_TLS_OPPORTUNISTIC;
	r->domain = xstrdup(domain);
	struct dns_mx *mx = NULL;
	size_t n_mx = 0;
	ret = lookup_mx(w, domain, &mx, &n_mx, &r->mx_secure, &error);
	switch (ret) {
	case DNS_OK:
		if (dns_mx_is_null(mx, n_mx)) {
			dns_mx_list_free(&mx, n_mx);
			*fail_r = SMTP_FAIL_PERM;
			/* RFC 7505 §4.1: 556 and 5.1.10 for a null MX */
			*text_r = errfmt("556 5.1.10 %s accepts no mail (null MX, RFC 7505)",
					 domain);
			route_clear(r);
			return -1;
		}
		for (size_t i = 0; i < n_mx; i++)
			if (mx[i].host[0] != '\0')
				route_add(r, mx[i].host, relay.set.mx_port);
		dns_mx_list_free(&mx, n_mx);
		return route_sts(w, r, fail_r, text_r);
	case DNS_NODATA:
		/* RFC 5321 §5.1: no MX, the domain's own address is the MX */
		r->implicit_mx = true;
		route_add(r, domain, relay.set.mx_port);
		return route_sts(w, r, fail_r, text_r);
	case DNS_NXDOMAIN:
		*fail_r = SMTP_FAIL_PERM;
		*text_r = errfmt("550 5.1.2 domain %s does not exist", domain);
		route_clear(r);
		return -1;
	default:
		*fail_r = SMTP_FAIL_TEMP;
		*text_r = errfmt("451 4.4.3 DNS lookup for %s failed: %s", domain, error);
		route_clear(r);
		return -1;
	}
}

/* Opens a session to one address of a host with the TLS the policies ask
 * for (RFC 7672 DANE first, then RFC 8461 MTA-STS, else opportunistic),
 * counting the outcome for TLS reporting.  NULL with *res on failure. */
static struct smtp_client *
open_host(struct worker *w, const struct route *r, const struct route_host *host,
	  const char *addr, const struct dane_host *dh, uint64_t id,
	  struct smtp_result *res)
{
	struct smtp_client_params p = {
		.id = id,
		.host = host->name,
		.address = addr,
		.port = host->port,
		.helo = relay.set.hostname,
		.tls = r->tls,
		.tls_ctx = r->smarthost ? relay.ctx_verify : relay.ctx_any,
		.username = r->username,
		.password = r->password,
		.oauth2 = r->oauth2,
		.command_timeout = relay.set.smtp_timeout,
	};
	bool dane = dh->state == DANE_USABLE;
	bool policy = !r->smarthost && (dane || dh->state == DANE_UNUSABLE || r->sts_on);
	if (dane) {
		/* RFC 7672 §2.2: STARTTLS is required, the TLSA records decide */
		p.tls = SMTP_TLS_STARTTLS;
		p.tls_ctx = relay.ctx_dane;
		p.tls_setup = dane_tls_setup;
		p.tls_setup_arg = (void *)dh;
	} else if (dh->state == DANE_UNUSABLE) {
		/* §2.2: records, none usable: TLS without authentication */
		p.tls = SMTP_TLS_STARTTLS;
	} else if (r->sts_on) {
		/* RFC 8461 §4.2: STARTTLS with a certificate valid for the MX
		 * host's name under the web PKI */
		p.tls = SMTP_TLS_STARTTLS;
		p.tls_ctx = relay.ctx_verify;
	}
	struct smtp_client *c = smtp_client_open(&p, res);
	if (policy && (c != NULL || res->fail == SMTP_FAIL_TLS))
		tls_note(w, r, dh, host->name, addr,
			 c != NULL ? "success" : res->tls_result != NULL ? res->tls_result
									: "validation-failure",
			 c != NULL ? NULL : res->text, c != NULL,
			 c != NULL ? smtp_client_tls_version(c) : NULL);
	if (c == NULL && res->fail == SMTP_FAIL_TLS && !dane &&
	    dh->state != DANE_UNUSABLE && r->sts_on && r->sts.mode == MTASTS_TESTING) {
		/* RFC 8461 §5: a policy in testing mode is reported on, but
		 * mail goes on as it would without one */
		log_info("relay[%llu] host=%s ip=%s: %s; MTA-STS testing: delivering anyway",
			 (unsigned long long)id, host->name, addr,
			 res->text != NULL ? res->text : "?");
		smtp_result_clear(res);
		p.tls = SMTP_TLS_OPPORTUNISTIC;
		p.tls_ctx = relay.ctx_any;
		c = smtp_client_open(&p, res);
	}
	if (c == NULL && res->fail == SMTP_FAIL_TLS && p.tls == SMTP_TLS_OPPORTUNISTIC) {
		/* RFC 7435 §3: opportunistic TLS that fails falls back to
		 * cleartext rather than not delivering */
		log_info("relay[%llu] host=%s ip=%s: %s; again without TLS",
			 (unsigned long long)id, host->name, addr,
			 res->text != NULL ? res->text : "?");
		smtp_result_clear(res);
		p.tls = SMTP_TLS_NONE;
		c = smtp_client_open(&p, res);
	}
	if (!policy && !r->smarthost)
		tls_note(w, r, dh, host->name, addr, c != NULL ? "success" : NULL,
			 c != NULL ? NULL : res->text, c != NULL,
			 c != NULL ? smtp_client_tls_version(c) : NULL);
	if (c == NULL && policy && res->fail == SMTP_FAIL_TLS) {
		/* the policy's demand in the reason the queue keeps: deferred
		 * (the server may be fixed), bounced with it at the end */
		const char *what = dane ? "DANE (TLSA records)"
			: dh->state == DANE_UNUSABLE ? "DANE (TLS required)"
			: "MTA-STS policy (mode enforce)";
		char *text = xasprintf("451 4.7.5 %s of %s not met by %s: %s", what,
				       r->domain, host->name,
				       res->text != NULL ? res->text : "TLS failed");
		free(res->text);
		res->text = text;
	}
	return c;
}

/* Opens a session to the first host of the route that takes one.  On
 * failure, *fail_r and *text_r say why (the last host's reason, permanent only
 * when nothing could ever be delivered).  *dane_r: whether the session was
 * authenticated by DANE. */
static struct smtp_client *
connect_route(struct worker *w, const struct route *r, uint64_t id,
	      char **host_r, enum smtp_fail *fail_r, char **text_r)
{
	struct smtp_result res = { 0 };
	bool any_address = false;
	const char *error = NULL;
	*text_r = NULL;
	*host_r = NULL;
	for (size_t h = 0; h < r->n_hosts && !stopping(); h++) {
		const struct route_host *host = &r->hosts[h];
		char **addrs = NULL;
		size_t n_addrs = 0;
		int ret = dns_lookup_addr(w->dns, host->name, &addrs, &n_addrs, &error);
		if (ret != DNS_OK) {
			if (r->smarthost) {
				/* a smarthost may be a name from /etc/hosts */
				addrs = xcalloc(1, sizeof *addrs);
				addrs[0] = xstrdup(host->name);
				n_addrs = 1;
			} else {
				log_info("relay[%llu] host=%s skipped: %s", (unsigned long long)id,
					 host->name, error);
				free(*text_r);
				*text_r = xasprintf("451 4.4.4 cannot find the address of %s: %s",
						    host->name, error);
				/* RFC 5321 §5.1: a domain with neither MX nor
				 * address records has no mail server; RFC 3463
				 * X.1.2: bad destination system address */
				if ((ret == DNS_NXDOMAIN || ret == DNS_NODATA) && r->implicit_mx &&
				    r->n_hosts == 1) {
					*fail_r = SMTP_FAIL_PERM;
					free(*text_r);
					*text_r = xasprintf("550 5.1.2 %s has no mail server (no MX"
							    " and no address record)", host->name);
					return NULL;
				}
				continue;
			}
		}
		struct dane_host dh = { .state = DANE_NONE };
		if (r->mx_secure && !r->smarthost) {
			const char *why;
			dane_lookup(w->dns, host->name, host->port, &dh, &why);
			if (dh.state == DANE_FAILED) {
				/* RFC 7672 §2.2: not "no records": skip the host */
				log_info("relay[%llu] host=%s skipped: %s", (unsigned long long)id,
					 host->name, why);
				free(*text_r);
				*text_r = xasprintf("451 4.7.5 %s", why);
				tls_note(w, r, &dh, host->name, "", "tlsa-invalid", *text_r, false,
					 NULL);
				dane_host_clear(&dh);
				dns_strings_free(&addrs, n_addrs);
				continue;
			}
		}
		for (size_t a = 0; a < n_addrs && !stopping(); a++) {
			any_address = true;
			struct smtp_client *c = open_host(w, r, host, addrs[a], &dh, id, &res);
			if (c != NULL) {
				*host_r = xasprintf("%s[%s]", host->name, addrs[a]);
				dns_strings_free(&addrs, n_addrs);
				dane_host_clear(&dh);
				xfree(*text_r);	/* an earlier host's failure */
				return c;
			}
			log_info("relay[%llu] host=%s ip=%s failed: %s", (unsigned long long)id,
				 host->name, addrs[a], res.text != NULL ? res.text : "?");
			free(*text_r);
			*text_r = xstrdup(res.text != NULL ? res.text : "connection failed");
			smtp_result_clear(&res);
		}
		dane_host_clear(&dh);
		dns_strings_free(&addrs, n_addrs);
	}
	/* every host refused or could not be reached: that may pass */
	*fail_r = SMTP_FAIL_TEMP;
	if (*text_r == NULL)
		*text_r = xstrdup(any_address ? "451 4.4.1 no host answered"
				  : "451 4.4.4 no mail server address found");
	return NULL;
}

/* Sends one message over c; false when c broke. */
static bool
send_item(struct worker *w, struct smtp_client *c, const char *host,
	  const struct relayq_item *it)
{
	const char *error;
	int fd = -1;
	uint64_t size = 0;
	struct smtp_result *res = xcalloc(it->n_rcpts, sizeof *res);
	bool ok = true;

	if (blob_open(w->st, it->msg.blob, &fd, &size, &error) != STORE_OK) {
		log_error("relay id=%s cannot open its blob: %s", it->msg.qid, error);
		for (size_t i = 0; i < it->n_rcpts; i++)
			smtp_result_set(&res[i], SMTP_FAIL_TEMP, 451,
					"451 4.3.0 the queued message cannot be read");
		record(w, it, res, NULL);
		goto out;
	}
	if (it->msg.requiretls && !smtp_client_tls_verified(c)) {
		/* RFC 8689 §4.2.1: only over TLS whose server was authenticated
		 * (DANE, or an MTA-STS policy's web PKI check); §5: 5.7.30 */
		for (size_t i = 0; i < it->n_rcpts; i++)
			smtp_result_set(&res[i], SMTP_FAIL_PERM, 550,
					errfmt("550 5.7.30 REQUIRETLS support required: no"
					       " authenticated TLS to %s (neither DANE nor"
					       " MTA-STS applies)", host));
		record(w, it, res, host);
		close(fd);
		goto out;
	}
	struct buf prefix = BUF_INIT;
	dkim_prefix(w, it, fd, &prefix);
	const char **rcpts = xcalloc(it->n_rcpts, sizeof *rcpts);
	const char **orcpt = xcalloc(it->n_rcpts, sizeof *orcpt);
	unsigned *notify = xcalloc(it->n_rcpts, sizeof *notify);
	for (size_t i = 0; i < it->n_rcpts; i++) {
		rcpts[i] = it->rcpts[i].address;
		orcpt[i] = it->rcpts[i].orcpt;
		notify[i] = it->rcpts[i].notify;
	}
	struct smtp_envelope env = {
		.sender = it->msg.sender,
		.size = size + prefix.len,
		.eightbit = it->msg.body != NULL && strcmp(it->msg.body, "8BITMIME") == 0,
		.smtputf8 = it->msg.smtputf8,
		.requiretls = it->msg.requiretls,
		.ret = it->msg.ret,
		.envid = it->msg.envid,
		.n_rcpts = it->n_rcpts,
		.rcpts = rcpts,
		.notify = notify,
		.orcpt = orcpt,
	};
	ok = smtp_client_send(c, &env, prefix.data, prefix.len, fd, size, res) == 0;
	/* RFC 3461 §5.2.2.1: NOTIFY went on with the message when the server
	 * offers DSN; else a SUCCESS DSN is ours to send ("relayed") */
	record_dsn(w, it, res, host, smtp_client_caps(c)->dsn);
	close(fd);
	buf_free(&prefix);
	free(rcpts);
	free(orcpt);
	free(notify);
out:
	for (size_t i = 0; i < it->n_rcpts; i++)
		smtp_result_clear(&res[i]);
	free(res);
	return ok;
}

static void
deliver_remote(struct worker *w, const struct relayq_batch *b)
{
	uint64_t id = atomic_fetch_add(&relay.next_id, 1) + 1;
	struct route r;
	enum smtp_fail fail;
	const char *text;
	if (route_find(w, b->domain, &r, &fail, &text) < 0) {
		const char *error;
		if (relaytls_domain_status(w->st, b->domain, "none", "none", "none", NULL, text,
					   time(NULL), &error) != STORE_OK)
			log_error("relay domain=%s: %s", b->domain, error);
		record_all(w, b, 0, fail, text, NULL);
		return;
	}
	size_t next = 0;
	/* a session that breaks mid-batch is opened again once */
	for (int round = 0; round < 2 && next < b->n_items && !stopping(); round++) {
		char *host = NULL, *why = NULL;
		struct smtp_client *c = connect_route(w, &r, id, &host, &fail, &why);
		if (c == NULL) {
			record_all(w, b, next, fail, why, NULL);
			free(why);
			next = b->n_items;
			break;
		}
		bool ok = true;
		set_active_fd(w, smtp_client_fd(c));
		while (ok && next < b->n_items && !stopping())
			ok = send_item(w, c, host, &b->items[next++]);
		/* before the close: the number may be reused at once */
		set_active_fd(w, -1);
		smtp_client_close(&c);
		free(host);
	}
	/* sessions broke twice: the rest waits for its next turn rather than
	 * for the lease to run out */
	if (next < b->n_items && !stopping())
		record_all(w, b, next, SMTP_FAIL_CONNECT,
			   "451 4.4.2 the connection broke twice during this batch", NULL);
	route_clear(&r);
}

/* ---- housekeeping ------------------------------------------------------------- */

static void
housekeeping(struct worker *w)
{
	const char *error;
	/* this worker's last failures owe their DSN now */
	committer_wait(w->last_seq);
	int64_t now = time(NULL);
	struct relayq_item *items = NULL;
	size_t n = 0;
	int64_t delayed_before = relay.set.delay_notice > 0
		? now - relay.set.delay_notice : 0;
	if (relayq_dsn_due(w->st, delayed_before, 500, &items, &n, &error) != STORE_OK) {
		log_error("relay cannot read the DSN queue: %s", error);
		return;
	}
	for (size_t i = 0; i < n && !stopping(); i++) {
		if (!bounce_send(w->st, relay.set.hostname, relay.set.lifetime, &items[i]))
			continue;
		int64_t *ids = xcalloc(items[i].n_rcpts, sizeof *ids);
		for (size_t k = 0; k < items[i].n_rcpts; k++)
			ids[k] = items[i].rcpts[k].id;
		if (relayq_dsn_done(w->st, ids, items[i].n_rcpts, &error) != STORE_OK)
			log_error("relay cannot mark DSNs: %s", error);
		free(ids);
	}
	relayq_items_free(&items, n);
	if (relay.set.tls_reports && now >= w->next_tlsrpt) {
		/* RFC 8460 §4.1: one report per day, once the day is over */
		w->next_tlsrpt = now + TLSRPT_CHECK_SECONDS;
		time_t y = (time_t)(now - 86400);
		struct tm tm;
		char day[16];
		gmtime_r(&y, &tm);
		strftime(day, sizeof day, "%Y-%m-%d", &tm);
		if (tlsrpt_send_due(w->st, w->dns, relay.set.hostname, day) > 0)
			relay_kick();
	}
	if (relay.set.tls_reports) {
		/* RFC 8460 §5.4, §5.5: reports owed to https: addresses */
		struct tlsrpt_post_settings ps = {
			.ctx = relay.ctx_verify,
			.retry_first = relay.set.retry_first,
			.retry_max = relay.set.retry_max,
		};
		tlsrpt_post_due(w->st, w->dns, &ps, now);
	}
	/* finished messages go when something was recorded (or now and
	 * then for rows the CLI or the panel changed); an idle daemon does
	 * not write to the disk every second */
	pthread_mutex_lock(&committer.lock);
	uint64_t seq = committer.committed_seq;
	pthread_mutex_unlock(&committer.lock);
	if (seq == w->cleaned_seq && n == 0 && now < w->next_cleanup)
		return;
	w->cleaned_seq = seq;
	w->next_cleanup = now + 300;
	unsigned removed = 0;
	if (store_queue_cleanup(w->st, &removed, &error) != STORE_OK)
		log_error("relay cannot clean up the queue: %s", error);
}

/* ---- the workers ------------------------------------------------------------- */

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const char *error;
	while (!stopping()) {
		int64_t now = time(NULL);
		if (w->index == 0 && now >= w->next_housekeeping) {
			housekeeping(w);
			w->next_housekeeping = now + HOUSEKEEPING_SECONDS;
		}
		struct relayq_batch b;
		int ret = relayq_claim(w->st, now, now + LEASE_SECONDS, RELAY_BATCH_RCPTS,
				       RELAY_BATCH_MESSAGES, &b, &error);
		if (ret != STORE_OK) {
			log_error("relay cannot read the queue: %s", error);
			idle_wait(5);
			continue;
		}
		if (b.n_items == 0) {
			idle_wait(1);
			continue;
		}
		int local = store_domain_is_local(w->st, b.domain);
		if (local > 0) {
			for (size_t i = 0; i < b.n_items; i++)
				deliver_local(w, &b.items[i]);
		} else if (local == 0) {
			deliver_remote(w, &b);
		} else {
			record_all(w, &b, 0, SMTP_FAIL_TEMP, "451 4.3.0 cannot read the domains",
				   NULL);
		}
		relayq_batch_clear(&b);
		if (w->index == 0)
			w->next_housekeeping = 0;	/* failures may owe a DSN now */
	}
	pthread_mutex_lock(&relay.lock);
	relay.exited++;
	pthread_cond_broadcast(&relay.cond);
	pthread_mutex_unlock(&relay.lock);
	return NULL;
}

static void
settings_free(struct relay_settings *s)
{
	free(s->hostname);
	free(s->data_dir);
	free(s->resolver);
	memset(s, 0, sizeof *s);
}

static void
workers_free(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		store_close(&relay.workers[i].st);
		dns_resolver_free(&relay.workers[i].dns);
		for (size_t k = 0; k < DKIM_CACHE_DOMAINS; k++)
			dkim_cached_clear(&relay.workers[i].dkim[k]);
	}
	xfree(relay.workers);
	dns_cache_free(&relay.dns_cache);
}

int
relay_start(const struct config *cfg, const char **error_r)
{
	if (relay.running)
		panic("relay_start: already running");
	struct relay_settings *s = &relay.set;
	s->hostname = xstrdup(cfg->hostname != NULL ? cfg->hostname : "localhost");
	s->data_dir = xstrdup(cfg->data_dir);
	s->resolver = cfg->dns_resolver != NULL ? xstrdup(cfg->dns_resolver) : NULL;
	s->mx_port = cfg->relay_mx_port;
	s->workers = cfg->relay_workers > 0 ? cfg->relay_workers : 1;
	s->retry_first = cfg->relay_retry_first;
	s->retry_max = cfg->relay_retry_max;
	s->lifetime = cfg->relay_lifetime;
	s->delay_notice = cfg->relay_delay_notice;
	s->smtp_timeout = cfg->smtp_timeout;
	s->shutdown_grace = cfg->shutdown_grace;
	s->dnssec = cfg->dns_dnssec;
	s->mta_sts = cfg->relay_mta_sts;
	s->mta_sts_port = cfg->relay_mta_sts_port;
	s->tls_reports = cfg->relay_tls_reports;
	relay.stop = false;
	relay.exited = 0;

	relay.ctx_any = tls_client_ctx_new(TLS_VERIFY_NONE, error_r);
	if (relay.ctx_any == NULL)
		goto fail;
	relay.ctx_verify = tls_client_ctx_new(TLS_VERIFY_SYSTEM, error_r);
	if (relay.ctx_verify == NULL)
		goto fail;
	relay.ctx_dane = tls_client_ctx_new(TLS_VERIFY_SYSTEM, error_r);
	if (relay.ctx_dane == NULL)
		goto fail;
	if (SSL_CTX_dane_enable(relay.ctx_dane) <= 0) {
		*error_r = errfmt("cannot turn on DANE: %s", tls_error_string());
		goto fail;
	}

	relay.workers = xcalloc(s->workers, sizeof *relay.workers);
	relay.dns_cache = dns_cache_new(RELAY_DNS_CACHE_ENTRIES, RELAY_DNS_CACHE_BYTES);
	for (unsigned i = 0; i < s->workers; i++) {
		struct worker *w = &relay.workers[i];
		w->index = i;
		w->active_fd = -1;
		if (store_open(s->data_dir, &w->st, error_r) != STORE_OK) {
			workers_free(s->workers);
			goto fail;
		}
		/* DSNs to a local sender with a subaddress find their user */
		store_set_recipient_delimiter(w->st, cfg->recipient_delimiter);
		w->dns = dns_resolver_new(s->resolver, error_r);
		if (w->dns == NULL) {
			workers_free(s->workers);
			goto fail;
		}
		dns_resolver_set_cache(w->dns, relay.dns_cache);
	}
	unsigned released = 0;
	if (relayq_release_all(relay.workers[0].st, &released, error_r) != STORE_OK) {
		workers_free(s->workers);
		goto fail;
	}
	if (store_open(s->data_dir, &committer.st, error_r) != STORE_OK) {
		workers_free(s->workers);
		goto fail;
	}
	committer.stop = false;
	committer.running = true;
	committer.queued_seq = committer.committed_seq = 0;
	int ce = pthread_create(&committer.thread, NULL, committer_main, NULL);
	if (ce != 0) {
		committer.running = false;
		store_close(&committer.st);
		workers_free(s->workers);
		*error_r = errfmt("cannot start the relay committer: %s", strerror(ce));
		goto fail;
	}
	if (released > 0)
		log_info("relay released=%u recipients claimed before a restart", released);
	for (unsigned i = 0; i < s->workers; i++) {
		int e = pthread_create(&relay.workers[i].thread, NULL, worker_main,
				       &relay.workers[i]);
		if (e != 0) {
			pthread_mutex_lock(&relay.lock);
			relay.stop = true;
			pthread_cond_broadcast(&relay.cond);
			pthread_mutex_unlock(&relay.lock);
			for (unsigned k = 0; k < i; k++)
				pthread_join(relay.workers[k].thread, NULL);
			committer_stop();
			workers_free(s->workers);
			*error_r = errfmt("cannot start a relay worker: %s", strerror(e));
			goto fail;
		}
	}
	relay.running = true;
	log_info("relay started workers=%u mx_port=%u resolver=%s dnssec=%s mta_sts=%s",
		 s->workers, s->mx_port, s->resolver != NULL ? s->resolver : "system",
		 s->dnssec ? "yes" : "no", s->mta_sts ? "yes" : "no");
	return 0;
fail:
	SSL_CTX_free(relay.ctx_any);
	SSL_CTX_free(relay.ctx_verify);
	SSL_CTX_free(relay.ctx_dane);
	relay.ctx_any = relay.ctx_verify = relay.ctx_dane = NULL;
	settings_free(s);
	return -1;
}

void
relay_stop(void)
{
	if (!relay.running)
		return;
	pthread_mutex_lock(&relay.lock);
	relay.stop = true;
	pthread_cond_broadcast(&relay.cond);
	pthread_mutex_unlock(&relay.lock);
	/* a worker finishes the message it is sending; one that is still
	 * talking to a slow server after the grace has its session cut (the
	 * recipients stay queued, and are tried again after the restart) */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += relay.set.shutdown_grace;
	pthread_mutex_lock(&relay.lock);
	while (relay.exited < relay.set.workers &&
	       pthread_cond_timedwait(&relay.cond, &relay.lock, &ts) != ETIMEDOUT)
		;
	for (unsigned i = 0; i < relay.set.workers; i++) {
		if (relay.workers[i].active_fd >= 0) {
			log_info("relay stop: cutting a session after the grace");
			(void)shutdown(relay.workers[i].active_fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&relay.lock);
	for (unsigned i = 0; i < relay.set.workers; i++)
		pthread_join(relay.workers[i].thread, NULL);
	/* what the workers finished is committed before the end */
	committer_stop();
	workers_free(relay.set.workers);
	SSL_CTX_free(relay.ctx_any);
	SSL_CTX_free(relay.ctx_verify);
	SSL_CTX_free(relay.ctx_dane);
	relay.ctx_any = relay.ctx_verify = relay.ctx_dane = NULL;
	settings_free(&relay.set);
	relay.running = false;
	log_info("relay stopped");
}

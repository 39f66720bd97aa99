/*
 * inbound: DNS blocklists at connect, greylisting at RCPT and rspamd's
 * verdict on the stored message, for the SMTP server (see inbound.h).
 */
#include "smtp/inbound.h"

#include <pthread.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "core/cidr.h"
#include "core/conn.h"
#include "core/dns.h"
#include "core/dns_cache.h"
#include "core/log.h"
#include "store/blob.h"
#include "store/spam.h"
#include "store/store.h"
#include "smtp/trust_inbound.h"
#include "trust/dns_source.h"
#include "trust/dnsbl.h"
#include "trust/greylist.h"
#include "trust/ipaddr.h"
#include "trust/rdns.h"
#include "trust/rspamd_client.h"

/* The DNS answers the sessions share (blocklists, reverse names), kept for
 * their TTLs.  Made on first use, lives as long as the process. */
#define DNS_CACHE_ENTRIES 20000
#define DNS_CACHE_BYTES (8u * 1024 * 1024)

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static struct dns_cache *cache;

static void
cache_make(void)
{
	cache = dns_cache_new(DNS_CACHE_ENTRIES, DNS_CACHE_BYTES);
}

int
smtp_inbound_dns(struct smtp_session *s, struct dns_source *src_r)
{
	if (s->dns == NULL) {
		const char *error;
		s->dns = dns_resolver_new(s->cfg->dns_resolver, &error);
		if (s->dns == NULL) {
			log_error("%s[%llu] no DNS resolver: %s", s->name,
				  (unsigned long long)s->id, error);
			return -1;
		}
		pthread_once(&cache_once, cache_make);
		dns_resolver_set_cache(s->dns, cache);
	}
	*src_r = dns_source_resolver(s->dns);
	return 0;
}

/* The client's address; false when the listener gave none we know. */
static bool
client_ip(const struct smtp_session *s, struct ip_addr *ip)
{
	return ip_addr_parse(conn_peer_ip(s->conn), ip) == 0;
}

bool
smtp_inbound_trusted(const struct ip_addr *ip, const char *allow)
{
	static const unsigned char v4[4] = { 127, 0, 0, 1 };
	static const unsigned char v6[16] = { [15] = 1 };
	if (ip_addr_in_net(ip, v4, AF_INET, 32) || ip_addr_in_net(ip, v6, AF_INET6, 128))
		return true;
	if (allow == NULL)
		return false;
	struct cidr *list;
	size_t n;
	const char *error;
	if (cidr_list_parse(allow, &list, &n, &error) < 0)
		return false;	/* the config has checked it */
	bool in = false;
	for (size_t i = 0; i < n && !in; i++)
		in = ip_addr_in_net(ip, list[i].net, list[i].family, list[i].prefix);
	free(list);
	return in;
}

void
smtp_verdict_clear(struct smtp_verdict *v)
{
	buf_free(&v->reply);
	buf_free(&v->headers);
	buf_free(&v->log);
	buf_free(&v->head);
	v->head_skip = 0;
	xfree(v->subject);
	xfree(v->hold);
	v->special_use = NULL;
	v->spamtest = 0;
	v->spam_percent = 0;
}

void
smtp_inbound_session_end(struct smtp_session *s)
{
	dns_resolver_free(&s->dns);
	xfree(s->client_host);
}

/* ---- DNS blocklists ------------------------------------------------------- */

int
smtp_inbound_connect(struct smtp_session *s, struct buf *reply)
{
	struct ip_addr ip;
	struct dns_source src;
	if (s->listener->mode != SMTP_MODE_INBOUND || s->cfg->dnsbl == NULL ||
	    !client_ip(s, &ip) || smtp_inbound_trusted(&ip, s->cfg->dnsbl_allow) || smtp_inbound_dns(s, &src) < 0)
		return 0;
	struct dnsbl_result r;
	dnsbl_check(&src, s->cfg->dnsbl, &ip, &r);
	int ret = 0;
	if (r.verdict == DNSBL_LISTED) {
		dnsbl_reply(&r, &ip, reply);
		log_info("%s[%llu] dnsbl refused ip=%s zone=%s text=\"%s\"", s->name,
			 (unsigned long long)s->id, conn_peer_ip(s->conn), r.zone, esc_str(r.text));
		ret = -1;
	} else if (r.verdict == DNSBL_UNKNOWN) {
		/* fail open: a list that does not answer stops no mail */
		log_warning("%s[%llu] dnsbl lookup failed ip=%s zone=%s (let through)", s->name,
			    (unsigned long long)s->id, conn_peer_ip(s->conn), r.zone);
	}
	dnsbl_result_clear(&r);
	return ret;
}

/* ---- greylisting ---------------------------------------------------------- */

/* One triplet's verdict: true to pass (or when the store cannot say:
 * greylisting fails open), false with *retry_r to defer. */
static bool
triplet_passes(struct smtp_session *s, const struct ip_addr *ip, const char *rcpt,
	       int64_t *retry_r)
{
	const struct store_greylist_policy p = {
		.delay = s->cfg->greylist_delay,
		.retry_window = s->cfg->greylist_retry_window,
		.expire = s->cfg->greylist_expire,
	};
	char key[SHA256_HEX_LEN + 1];
	enum store_greylist_verdict v;
	const char *error;
	struct store *st = smtp_store(s);

	greylist_key(ip, s->tx->sender, rcpt, key);
	if (st == NULL ||
	    store_greylist_check(st, key, (int64_t)time(NULL), &p, &v, retry_r, &error) !=
		    STORE_OK) {
		if (st != NULL)
			log_error("%s[%llu] greylisting failed (let through): %s", s->name,
				  (unsigned long long)s->id, error);
		return true;
	}
	return v == STORE_GREYLIST_PASS;
}

const char *
smtp_inbound_rcpt(struct smtp_session *s, const char *rcpt, struct buf *reply)
{
	struct ip_addr ip;
	int64_t retry = 0;
	if (!s->cfg->greylist || s->listener->mode != SMTP_MODE_INBOUND || s->user_id != 0 ||
	    !client_ip(s, &ip) || smtp_inbound_trusted(&ip, s->cfg->greylist_allow) ||
	    triplet_passes(s, &ip, rcpt, &retry))
		return NULL;
	int64_t wait = retry - (int64_t)time(NULL);
	log_info("%s[%llu] greylisted ip=%s from=<%s> to=<%s>", s->name,
		 (unsigned long long)s->id, conn_peer_ip(s->conn), esc_str(s->tx->sender),
		 esc_str(rcpt));
	/* RFC 6647 §2.1: a temporary failure, which a real MTA retries */
	buf_printf(reply, "451 4.7.1 Greylisted, try again in %lld seconds",
		   (long long)(wait > 0 ? wait : 1));
	return buf_cstr(reply);
}

/* ---- rspamd --------------------------------------------------------------- */

bool
smtp_inbound_checks_message(const struct smtp_session *s)
{
	return (s->cfg->rspamd_url != NULL && s->user_id == 0) || smtp_trust_applies(s);
}

/* The client's verified host name for rspamd's Hostname ("unknown" when it
 * has none, as Postfix tells a milter), looked up once per session. */
static const char *
client_host(struct smtp_session *s)
{
	if (s->client_host != NULL)
		return s->client_host;
	struct ip_addr ip;
	struct dns_source src;
	struct buf name = BUF_INIT;
	if (client_ip(s, &ip) && smtp_inbound_dns(s, &src) == 0 &&
	    rdns_verified_name(&src, &ip, &name) == 0)
		s->client_host = buf_steal(&name);
	else
		s->client_host = xstrdup("unknown");
	buf_free(&name);
	return s->client_host;
}

/* rspamd's "greylist": the triplets of every recipient must have passed
 * (the store's greylisting, whatever [spam] greylist says, so that the
 * action works without rspamd's own Redis-backed greylist module). */
static bool
greylist_passed(struct smtp_session *s)
{
	struct ip_addr ip;
	bool all = true;
	int64_t retry;
	if (!client_ip(s, &ip) || smtp_inbound_trusted(&ip, s->cfg->greylist_allow))
		return true;
	for (size_t i = 0; i < s->tx->n_rcpts; i++)
		all = triplet_passes(s, &ip, s->tx->rcpts[i].address, &retry) && all;
	return all;
}

static void
unchecked(struct smtp_session *s, const char *reason)
{
	struct smtp_verdict *v = &s->tx->verdict;
	rspamd_unchecked_header(reason, &v->headers);
	buf_puts(&v->log, " spam=unchecked");
	rspamd_status_unchecked();
}

/* The reply for a refusal: code, enhanced code, rspamd's words or ours. */
static void
refuse(struct smtp_verdict *v, const char *code, const struct rspamd_result *r,
       const char *ours)
{
	buf_printf(&v->reply, "%s %s", code, r->message != NULL ? r->message : ours);
}

/* Asks rspamd about the message read through fd: 0 with *r (the caller
 * clears it), or -1 with *why (static words) when it could not be checked
 * (logged). */
static int
rspamd_ask(struct smtp_session *s, int fd, uint64_t size, struct rspamd_result *r,
	   const char **why)
{
	struct smtp_tx *tx = s->tx;
	struct rspamd_server srv;
	const char *error;

	memset(&srv, 0, sizeof srv);
	if (size > s->cfg->rspamd_max_size) {
		log_info("%s[%llu] rspamd skipped id=%s size=%llu (over rspamd_max_size)", s->name,
			 (unsigned long long)s->id, tx->id, (unsigned long long)size);
		*why = "message too large for rspamd";
		return -1;
	}
	if (rspamd_server_init(&srv, s->cfg->rspamd_url, s->cfg->rspamd_timeout, NULL, &error) <
		    0 ||
	    (lseek(fd, 0, SEEK_SET) < 0 && (error = "cannot read the message") != NULL)) {
		log_error("%s[%llu] cannot check id=%s with rspamd: %s", s->name,
			  (unsigned long long)s->id, tx->id, error);
		rspamd_server_clear(&srv);
		*why = "rspamd unavailable";
		return -1;
	}
	const char **rcpts = xcalloc(tx->n_rcpts + 1, sizeof *rcpts);
	for (size_t i = 0; i < tx->n_rcpts; i++)
		rcpts[i] = tx->rcpts[i].address;
	struct rspamd_request req = {
		.ip = conn_peer_ip(s->conn),
		.helo = s->helo,
		.from = tx->sender,
		.rcpts = rcpts,
		.n_rcpts = tx->n_rcpts,
		/* rspamd's docs: User marks the message as authenticated
		 * (outbound): no SPF or greylisting of our own users */
		.user = s->user_id != 0 ? s->user : NULL,
		.queue_id = tx->id,
		.hostname = s->user_id != 0 ? NULL : client_host(s),
	};
	int ret = rspamd_check(&srv, &req, fd, size, r, &error);
	free(rcpts);
	rspamd_server_clear(&srv);
	if (ret < 0) {
		/* mail still flows; the header and the status page say so */
		log_warning("%s[%llu] rspamd unavailable id=%s: %s", s->name,
			    (unsigned long long)s->id, tx->id, error);
		*why = "rspamd unavailable";
		return -1;
	}
	return 0;
}

static void
rspamd_verdict(struct smtp_session *s, int fd, uint64_t size)
{
	struct smtp_verdict *v = &s->tx->verdict;
	struct rspamd_result r;
	const char *why;
	if (rspamd_ask(s, fd, size, &r, &why) < 0) {
		unchecked(s, why);
		return;
	}
	buf_printf(&v->log, " spam=\"%s\" score=%.2f", rspamd_action_name(r.action), r.score);
	rspamd_spamtest(&r, &v->spamtest, &v->spam_percent);
	switch (r.action) {
	case RSPAMD_REJECT:
	case RSPAMD_DISCARD:	/* refused, never dropped without a word */
		/* RFC 3463 5.7.1: delivery not authorized, message refused */
		refuse(v, "550 5.7.1", &r, "Spam message rejected");
		v->reject_reason = METRICS_REJECT_SPAM;
		break;
	case RSPAMD_SOFT_REJECT:
		refuse(v, "451 4.7.1", &r, "Try again later");
		v->reject_reason = METRICS_REJECT_SPAM;
		break;
	case RSPAMD_GREYLIST:
		if (!greylist_passed(s)) {
			buf_puts(&v->reply, "451 4.7.1 Greylisted by rspamd, try again later");
			v->reject_reason = METRICS_REJECT_GREYLIST;
		}
		break;
	case RSPAMD_REWRITE_SUBJECT:
		if (r.subject != NULL) {
			v->subject = r.subject;
			r.subject = NULL;
		}
		/* spam too: into Junk */
		__attribute__((fallthrough));
	case RSPAMD_ADD_HEADER:
	case RSPAMD_QUARANTINE:
		v->special_use = "\\Junk";
		break;
	case RSPAMD_NO_ACTION:
	case RSPAMD_CUSTOM:
		break;
	}
	if (v->reply.len == 0)
		rspamd_result_headers(&r, &v->headers);
	rspamd_result_clear(&r);
}

/*
 * A local user's outbound mail (issue 21): what rspamd scores as spam is
 * held in the queue rather than sent, so that a stolen password or an
 * infected machine does not spend the household's reputation; the user is
 * told (the reply, and a delay notice), an admin releases or deletes it.
 * Mail that rspamd cannot check goes out as before.
 */
static void
rspamd_outbound(struct smtp_session *s, int fd, uint64_t size)
{
	struct smtp_verdict *v = &s->tx->verdict;
	struct rspamd_result r;
	const char *why;
	if (rspamd_ask(s, fd, size, &r, &why) < 0) {
		buf_puts(&v->log, " spam=unchecked");
		rspamd_status_unchecked();
		return;
	}
	buf_printf(&v->log, " spam=\"%s\" score=%.2f", rspamd_action_name(r.action), r.score);
	if (rspamd_action_is_spam(r.action)) {
		xfree(v->hold);
		v->hold = xasprintf("rspamd scored it as spam (%s, score %.2f of %.2f)",
				    rspamd_action_name(r.action), r.score, r.required);
		buf_puts(&v->log, " held=yes");
	}
	rspamd_result_clear(&r);
}

/* Whether the message goes anywhere but here (a recipient of another
 * domain, or a local address that forwards elsewhere). */
static bool
goes_out(const struct smtp_tx *tx)
{
	for (size_t i = 0; i < tx->n_rcpts; i++)
		if (!tx->rcpts[i].local || tx->rcpts[i].res.n_remote > 0)
			return true;
	return false;
}

void
smtp_inbound_submission(struct smtp_session *s, const char *hash)
{
	if (s->cfg->rspamd_url == NULL || s->user_id == 0 || !goes_out(s->tx))
		return;
	struct store *st = smtp_store(s);
	const char *error = "no store";
	int fd = -1;
	uint64_t size;
	if (st == NULL || blob_open(st, hash, &fd, &size, &error) != STORE_OK) {
		/* mail still flows, as when rspamd is away */
		log_error("%s[%llu] cannot check id=%s with rspamd: %s", s->name,
			  (unsigned long long)s->id, s->tx->id, error);
		buf_puts(&s->tx->verdict.log, " spam=unchecked");
		return;
	}
	rspamd_outbound(s, fd, size);
	close(fd);
}

void
smtp_inbound_message(struct smtp_session *s, int fd, const char *hash, uint64_t size)
{
	/* the senders first: a message they refuse is not scanned */
	smtp_trust_message(s, fd, hash);
	if (s->tx->verdict.reply.len == 0 && s->cfg->rspamd_url != NULL && s->user_id == 0)
		rspamd_verdict(s, fd, size);
	else if (s->cfg->rspamd_url != NULL && s->user_id != 0 && goes_out(s->tx))
		rspamd_outbound(s, fd, size);
	smtp_trust_count(s);
}

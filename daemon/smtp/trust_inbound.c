/*
 * trust_inbound: SPF, DKIM, ARC and DMARC for the SMTP server; see
 * trust_inbound.h.
 */
#include "smtp/trust_inbound.h"

#include <errno.h>
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
#include "store/blob.h"
#include "store/store.h"
#include "store/trust_stats.h"
#include "trust/arc.h"
#include "trust/authres.h"
#include "trust/dkim_verify.h"
#include "trust/dmarc.h"
#include "trust/psl.h"
#include "trust/spf.h"

/* The most From: addresses looked at for the spoofing rule (RFC 5322
 * allows a list; DMARC only judges a single author, RFC 7489 §6.6.1). */
#define FROM_ADDRESSES_MAX 50
/* How much of the blob is read at a time for the header block. */
#define HEADER_READ_CHUNK 16384

struct smtp_trust {
	bool spf_done;
	struct spf_request req;	/* its strings point into the fields below */
	struct spf_verdict spf;
	char *helo, *sender, *ip;
	/* the end of DATA's, for the counts */
	bool dkim_pass;
	enum dmarc_result dmarc;
	/* the counts wait for the delivery's transaction, and are in it */
	bool count_due, count_done;
};

void
smtp_trust_free(struct smtp_trust **tp)
{
	struct smtp_trust *t = *tp;
	if (t == NULL)
		return;
	spf_verdict_free(&t->spf);
	free(t->helo);
	free(t->sender);
	free(t->ip);
	free(t);
	*tp = NULL;
}

bool
smtp_trust_applies(const struct smtp_session *s)
{
	struct ip_addr ip;
	return s->cfg->trust_checks && s->listener->mode == SMTP_MODE_INBOUND &&
	       s->user_id == 0 && ip_addr_parse(conn_peer_ip(s->conn), &ip) == 0 &&
	       !smtp_inbound_trusted(&ip, s->cfg->trust_allow);
}

void
smtp_trust_mail(struct smtp_session *s)
{
	struct dns_source src;
	if (!smtp_trust_applies(s) || smtp_inbound_dns(s, &src) < 0)
		return;
	struct smtp_trust *t = xcalloc(1, sizeof *t);
	t->helo = xstrdup(s->helo != NULL ? s->helo : "");
	t->sender = xstrdup(s->tx->sender);
	t->ip = xstrdup(conn_peer_ip(s->conn));
	ip_addr_parse(t->ip, &t->req.ip);
	t->req.helo = t->helo;
	t->req.sender = t->sender;
	t->req.receiver = s->cfg->hostname;
	t->req.now = (int64_t)time(NULL);
	spf_check(&src, &t->req, &t->spf);
	t->spf_done = true;
	s->tx->trust = t;
}

/* ---- the message's header block ----------------------------------------- */

/* Reads the header block at the start of fd into out (at most max bytes);
 * *size_r is its length with the empty line.  0, or -1 with *error_r. */
static int
read_header(int fd, size_t max, struct buf *out, size_t *size_r, const char **error_r)
{
	char chunk[HEADER_READ_CHUNK];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = "cannot read the message";
			return -1;
		}
		if (n > 0)
			buf_append(out, chunk, (size_t)n);
		const char *d = out->data != NULL ? out->data : "";
		size_t hs = mail_header_size(d, out->len);
		if (n == 0 || hs < out->len) {
			*size_r = hs;
			return 0;
		}
		if (out->len > max) {
			*error_r = "header section too large";
			return -1;
		}
	}
}

/* The domains of the From: field's addresses (lowercase, at most
 * FROM_ADDRESSES_MAX), and how many From fields there are. */
struct from_info {
	unsigned fields;
	char *domains[FROM_ADDRESSES_MAX];
	size_t n;
};

static void
from_read(const char *hdr, size_t len, struct from_info *fi)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	memset(fi, 0, sizeof *fi);
	mail_header_iter_init(&it, hdr, len);
	while (mail_header_iter_next(&it, &f)) {
		if (f.name_len != 4 || !mem_eq_nocase(f.name, "From", 4))
			continue;
		fi->fields++;
		struct buf v = BUF_INIT;
		mail_header_value_unfold(&v, &f);
		struct mail_address *list =
			mail_address_parse(buf_cstr(&v), v.len, FROM_ADDRESSES_MAX);
		for (struct mail_address *a = list; a != NULL && fi->n < FROM_ADDRESSES_MAX;
		     a = a->next) {
			if (a->domain == NULL || a->domain[0] == '\0')
				continue;
			char *d = xstrdup(a->domain);
			str_lower(d);
			fi->domains[fi->n++] = d;
		}
		mail_address_free(&list);
		buf_free(&v);
	}
}

static void
from_clear(struct from_info *fi)
{
	for (size_t i = 0; i < fi->n; i++)
		free(fi->domains[i]);
	fi->n = 0;
}

/* ---- the verdict -------------------------------------------------------- */

/* A DKIM signature counts for DMARC and the spoofing rule when it passed
 * and signed the whole body (l= leaves the rest unsigned: not trusted). */
static bool
dkim_counts(const struct dkim_sig_result *r)
{
	return r->status == DKIM_PASS && r->domain != NULL &&
	       !(r->length_limited && r->body_length > r->length);
}

/* Relaxed alignment (RFC 7489 §3.1): the same organisational domain. */
static bool
aligned(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	char *oa = psl_org_domain(a), *ob = psl_org_domain(b);
	bool same = strcmp(oa, ob) == 0;
	free(oa);
	free(ob);
	return same;
}

/* Whether SPF or a DKIM signature vouches for domain (relaxed). */
static bool
authenticated_for(const struct smtp_trust *t, const struct dkim_verify *v, const char *domain)
{
	if (t != NULL && t->spf.result == SPF_PASS && aligned(t->spf.domain, domain))
		return true;
	for (size_t i = 0; v != NULL && i < dkim_verify_count(v); i++) {
		const struct dkim_sig_result *r = dkim_verify_result(v, i);
		if (dkim_counts(r) && aligned(r->domain, domain))
			return true;
	}
	return false;
}

/* The spoofing rule: the local domain the message claims without proof,
 * or NULL. */
static const char *
spoofed_domain(struct smtp_session *s, const struct dkim_verify *v, const struct from_info *fi)
{
	struct store *st = smtp_store(s);
	const char *at = strrchr(s->tx->sender, '@');
	if (st == NULL)
		return NULL;
	if (at != NULL && store_domain_is_local(st, at + 1) == 1 &&
	    !authenticated_for(s->tx->trust, v, at + 1))
		return at + 1;
	for (size_t i = 0; i < fi->n; i++)
		if (store_domain_is_local(st, fi->domains[i]) == 1 &&
		    !authenticated_for(s->tx->trust, v, fi->domains[i]))
			return fi->domains[i];
	return NULL;
}

/* Appends the Authentication-Results field of all the checks. */
static void
authres_field(struct smtp_session *s, const struct dkim_verify *v, const struct arc_verify *a,
	      const struct dmarc_verdict *dm, struct buf *out)
{
	const struct smtp_trust *t = s->tx->trust;
	size_t n = v != NULL ? dkim_verify_count(v) : 0;
	struct authres_result res[DKIM_VERIFY_SIGS_MAX + 4];
	const struct dkim_sig_result *sigs[DKIM_VERIFY_SIGS_MAX];
	struct buf spf_text = BUF_INIT, dmarc_text = BUF_INIT;
	size_t k = 0;

	memset(res, 0, sizeof res);
	if (t != NULL && t->spf_done) {
		spf_authres(&spf_text, &t->spf);
		res[k++].text = buf_cstr(&spf_text);
	}
	for (size_t i = 0; i < n; i++)
		sigs[i] = dkim_verify_result(v, i);
	size_t prefix = authres_dkim_b_prefix(sigs, n);
	for (size_t i = 0; i < n; i++)
		authres_from_dkim(sigs[i], prefix, &res[k++]);
	if (n == 0) {
		/* no verifier: the message could not be read, so nothing is
		 * known of its signatures (RFC 8601 §2.7.1) */
		res[k].method = "dkim";
		res[k].result = v != NULL ? "none" : "temperror";
		k++;
	}
	if (a != NULL && arc_verify_result(a)->status != ARC_NONE)
		authres_from_arc(arc_verify_result(a), &res[k++]);
	if (dm != NULL) {
		dmarc_authres(&dmarc_text, dm);
		res[k++].text = buf_cstr(&dmarc_text);
	}
	authres_build(out, s->cfg->hostname, res, k);
	for (size_t i = 0; i < k; i++)
		authres_result_free(&res[i]);
	buf_free(&spf_text);
	buf_free(&dmarc_text);
}

/* The summary words of the log line: " spf=pass dkim=pass dmarc=pass". */
static void
log_words(const struct smtp_trust *t, const struct dkim_verify *v, const struct arc_verify *a,
	  const struct dmarc_verdict *dm, struct buf *out)
{
	if (t != NULL && t->spf_done)
		buf_printf(out, " spf=%s", spf_result_name(t->spf.result));
	buf_printf(out, " dkim=%s",
		   dkim_status_name(v != NULL ? dkim_verify_summary(v) : DKIM_TEMPERROR));
	if (v != NULL)
		for (size_t i = 0; i < dkim_verify_count(v); i++)
			if (dkim_verify_result(v, i)->status == DKIM_PASS &&
			    dkim_verify_result(v, i)->domain != NULL) {
				buf_printf(out, " dkim.d=%s", esc_str(dkim_verify_result(v, i)->domain));
				break;
			}
	if (a != NULL && arc_verify_result(a)->status != ARC_NONE)
		buf_printf(out, " arc=%s", arc_status_name(arc_verify_result(a)->status));
	if (dm != NULL) {
		buf_printf(out, " dmarc=%s", dmarc_result_name(dm->result));
		if (dm->from_domain != NULL && dm->from_domain[0] != '\0')
			buf_printf(out, " header.from=%s", esc_str(dm->from_domain));
		if (dm->disposition != DMARC_POLICY_NONE)
			buf_printf(out, " dmarc.policy=%s", dmarc_policy_name(dm->disposition));
		if (dm->arc_override != NULL)
			buf_printf(out, " dmarc.override=arc arc.d=%s", esc_str(dm->arc_override));
	}
}

/* DMARC for the message: its From: domain (one field of one address, RFC
 * 7489 §6.6.1; else DMARC does not apply: none), SPF, the signatures. */
static void
dmarc_run(struct smtp_session *s, const struct dns_source *src, const struct from_info *fi,
	  const struct dkim_verify *v, const char *hash, struct dmarc_verdict *dm)
{
	const struct smtp_trust *t = s->tx->trust;
	size_t n = v != NULL ? dkim_verify_count(v) : 0;
	struct dmarc_dkim_result dk[DKIM_VERIFY_SIGS_MAX];
	for (size_t i = 0; i < n; i++) {
		const struct dkim_sig_result *r = dkim_verify_result(v, i);
		dk[i].domain = r->domain != NULL ? r->domain : "";
		dk[i].pass = dkim_counts(r);
	}
	struct dmarc_request req = {
		.from_domain = fi->fields == 1 && fi->n == 1 ? fi->domains[0] : NULL,
		.spf = t != NULL ? t->spf.result : SPF_NONE,
		.spf_domain = t != NULL ? t->spf.domain : NULL,
		.dkim = dk,
		.n_dkim = n,
		/* the same message always meets the same pct= decision */
		.sample = dmarc_sample(hash, strlen(hash)),
	};
	dmarc_check(src, &req, dm);
}

/*
 * RFC 8617 §7.2 and RFC 7489 §7.2 (local policy): a message whose ARC
 * chain passes, last sealed by an intermediary the admin trusts ([trust]
 * arc_sealers: a mailing list, a forwarder), keeps no DMARC failure
 * against it: the list changed the message on its way and so broke the
 * author's signature, and the sealer vouches for what it received.  The
 * sealer's domain when that is so (a listed name or a subdomain of one),
 * else NULL.
 */
static const char *
trusted_sealer(const struct smtp_session *s, const struct arc_verify *a)
{
	const char *list = s->cfg->trust_arc_sealers;
	if (list == NULL || a == NULL || arc_verify_result(a)->status != ARC_PASS ||
	    arc_verify_result(a)->domain == NULL)
		return NULL;
	const char *d = arc_verify_result(a)->domain;
	size_t dl = strlen(d);
	for (const char *p = list; *p != '\0';) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n > 0 && (dl == n || (dl > n && d[dl - n - 1] == '.')) &&
		    mem_eq_nocase(d + dl - n, p, n))
			return d;
		p += n;
	}
	return NULL;
}

void
smtp_trust_message(struct smtp_session *s, int fd, const char *hash)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_verdict *vd = &tx->verdict;
	struct dns_source src;
	struct dkim_verify *v = NULL;
	struct arc_verify *a = NULL;
	struct dmarc_verdict dm;
	struct from_info fi;
	struct buf hdr = BUF_INIT;
	size_t hsize = 0;
	const char *error = "cannot read the message";

	memset(&dm, 0, sizeof dm);
	memset(&fi, 0, sizeof fi);
	if (!smtp_trust_applies(s) || smtp_inbound_dns(s, &src) < 0)
		return;
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    read_header(fd, DKIM_VERIFY_HEADER_MAX + tx->head_len, &hdr, &hsize, &error) < 0 ||
	    lseek(fd, (off_t)tx->head_len, SEEK_SET) < 0 ||
	    dkim_verify_fd(fd, (int64_t)time(NULL), &src, &v, &a, &error) < 0) {
		/* DKIM and DMARC unknown: recorded as such, the mail goes on */
		log_warning("%s[%llu] cannot check id=%s: %s", s->name, (unsigned long long)s->id,
			    tx->id, error);
		dkim_verify_free(&v);
		arc_verify_free(&a);
	}
	const char *h = hdr.data != NULL ? hdr.data : "";
	from_read(h, hsize, &fi);
	if (v != NULL)
		dmarc_run(s, &src, &fi, v, hash, &dm);
	if (v != NULL && dm.result == DMARC_FAIL && dm.disposition != DMARC_POLICY_NONE &&
	    (dm.arc_override = trusted_sealer(s, a)) != NULL)
		dm.disposition = DMARC_POLICY_NONE;

	/* RFC 8601 §5: no field claiming our authserv-id gets through */
	struct buf stripped = BUF_INIT;
	if (authres_strip(h, hsize, s->cfg->hostname, &stripped) > 0) {
		log_info("%s[%llu] removed forged Authentication-Results id=%s", s->name,
			 (unsigned long long)s->id, tx->id);
		buf_free(&vd->head);
		vd->head = stripped;
		vd->head_skip = hsize;
	} else {
		buf_free(&stripped);
	}

	authres_field(s, v, a, v != NULL ? &dm : NULL, &vd->headers);
	if (tx->trust != NULL && tx->trust->spf_done) {
		buf_puts(&vd->headers, "Received-SPF: ");
		spf_received_spf(&vd->headers, &tx->trust->spf, &tx->trust->req);
		buf_puts(&vd->headers, "\r\n");
	}
	log_words(tx->trust, v, a, v != NULL ? &dm : NULL, &vd->log);
	if (tx->trust != NULL) {
		tx->trust->dkim_pass = v != NULL && dkim_verify_summary(v) == DKIM_PASS;
		tx->trust->dmarc = v != NULL ? dm.result : DMARC_TEMPERROR;
	}

	const char *spoofed = s->cfg->trust_refuse_spoofing ? spoofed_domain(s, v, &fi) : NULL;
	if (spoofed != NULL) {
		/* DESIGN.md: local users send through submission */
		buf_printf(&vd->reply,
			   "550 5.7.1 Sender in local domain %s is not authenticated; "
			   "use the submission port", spoofed);
		buf_puts(&vd->log, " spoofing=refused");
		vd->reject_reason = METRICS_REJECT_SPOOFING;
	} else if (v != NULL && s->cfg->trust_dmarc_policy && dm.result == DMARC_FAIL) {
		if (dm.disposition == DMARC_POLICY_REJECT) {
			/* RFC 7489 §6.6.4, §10.3: refused during the session */
			buf_printf(&vd->reply,
				   "550 5.7.1 Message rejected by the DMARC policy of %s",
				   dm.from_domain != NULL ? dm.from_domain : "its From: domain");
			vd->reject_reason = METRICS_REJECT_DMARC;
		} else if (dm.disposition == DMARC_POLICY_QUARANTINE) {
			vd->special_use = "\\Junk";
		}
	}
	if (v != NULL)
		dmarc_verdict_free(&dm);
	from_clear(&fi);
	buf_free(&hdr);
	dkim_verify_free(&v);
	arc_verify_free(&a);
}

/* Adds the message's counts once per local domain among its recipients:
 * inside the caller's transaction (in_tx: STORE_OK or its failure), else
 * each in a light transaction of its own (failures logged). */
static int
count_domains(struct smtp_session *s, struct store *st, bool in_tx, const char **error_r)
{
	const struct smtp_tx *tx = s->tx;
	const struct smtp_trust *t = tx->trust;
	const struct store_trust_counts c = {
		.messages = 1,
		.spf_pass = t->spf.result == SPF_PASS,
		.dkim_pass = t->dkim_pass,
		.dmarc_pass = t->dmarc == DMARC_PASS,
		.dmarc_fail = t->dmarc == DMARC_FAIL,
		.refused = tx->verdict.reply.len > 0,
		.junk = tx->verdict.reply.len == 0 && tx->verdict.special_use != NULL,
	};
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		const char *at = strrchr(tx->rcpts[i].address, '@');
		bool seen = !tx->rcpts[i].local || at == NULL;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *aj = strrchr(tx->rcpts[j].address, '@');
			seen = tx->rcpts[j].local && aj != NULL && str_eq_nocase(aj, at);
		}
		if (seen)
			continue;
		if (in_tx) {
			int ret = store_trust_stats_add_tx(st, at + 1, now, &c, error_r);
			if (ret != STORE_OK)
				return ret;
			continue;
		}
		const char *error;
		/* a write transaction: in turn with the deliveries */
		smtp_delivery_lock(true);
		int ret = store_trust_stats_add(st, at + 1, now, &c, &error);
		smtp_delivery_lock(false);
		if (ret != STORE_OK)
			log_error("%s[%llu] %s", s->name, (unsigned long long)s->id, error);
	}
	return STORE_OK;
}

void
smtp_trust_count(struct smtp_session *s)
{
	struct smtp_trust *t = s->tx->trust;
	if (t == NULL)
		return;
	/* a message for local copies is counted by their delivery's
	 * transaction (smtp_trust_count_tx()): one transaction fewer */
	if (s->tx->verdict.reply.len == 0 && s->tx->n_copies > 0) {
		t->count_due = true;
		return;
	}
	struct store *st = smtp_store(s);
	if (st != NULL)
		(void)count_domains(s, st, false, NULL);
}

int
smtp_trust_count_tx(struct store *st, void *arg, const char **error_r)
{
	struct smtp_session *s = arg;
	struct smtp_trust *t = s->tx->trust;
	const char *error;
	(void)error_r;
	if (t == NULL || !t->count_due)
		return STORE_OK;
	/* counts never cost a message its delivery: a failure is logged, as
	 * on their own (and a broken transaction fails at its COMMIT) */
	if (count_domains(s, st, true, &error) != STORE_OK)
		log_error("%s[%llu] %s", s->name, (unsigned long long)s->id, error);
	t->count_done = true;
	return STORE_OK;
}

void
smtp_trust_count_flush(struct smtp_session *s)
{
	struct smtp_trust *t = s->tx->trust;
	struct store *st = smtp_store(s);
	if (t == NULL || !t->count_due || st == NULL)
		return;
	t->count_due = false;
	/* its delivery's transaction did not commit them (it failed, or
	 * there was none): on their own, as for a refused message */
	if (!t->count_done)
		(void)count_domains(s, st, false, NULL);
}

/*
 * dns: libresolv lookups for the relay (see dns.h).
 */
#include "core/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/dns_cache.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* The largest DNS message over TCP (RFC 1035 §4.2.2: a 16-bit length). */
#define DNS_ANSWER_MAX 65536
/* Records of one answer that we keep: more is not a mail domain's setup. */
#define DNS_RECORDS_MAX 64

struct dns_resolver {
	struct __res_state res;
	struct dns_cache *cache;	/* shared, not owned; NULL: none */
};

static const char *const status_names[] = {
	"ok", "no such domain", "no record of that type",
	"temporary DNS failure", "bad DNS answer",
};

const char *
dns_status_name(enum dns_status status)
{
	int i = -(int)status;
	if (i < 0 || i >= (int)(sizeof status_names / sizeof status_names[0]))
		return "unknown DNS status";
	return status_names[i];
}

/* "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT" into ss (port 53 unless
 * given). */
static int
parse_server(const char *text, struct sockaddr_storage *ss, const char **error_r)
{
	unsigned long port = 53;
	char *host;
	const char *rest;
	memset(ss, 0, sizeof *ss);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL)
			goto bad;
		host = xstrndup(text + 1, (size_t)(close - text - 1));
		rest = close + 1;
		if (*rest != '\0' && *rest != ':') {
			free(host);
			goto bad;
		}
	} else {
		const char *colon = strchr(text, ':');
		host = colon != NULL ? xstrndup(text, (size_t)(colon - text)) : xstrdup(text);
		rest = colon != NULL ? colon : "";
	}
	if (*rest == ':') {
		char *end;
		port = strtoul(rest + 1, &end, 10);
		if (rest[1] == '\0' || *end != '\0' || port == 0 || port > 65535) {
			free(host);
			*error_r = errfmt("bad DNS resolver port in '%s'", esc_str(text));
			return -1;
		}
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (text[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (text[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	} else {
		free(host);
		goto bad;
	}
	free(host);
	return 0;
bad:
	*error_r = errfmt("DNS resolver '%s' is not IP[:PORT] or [IPv6][:PORT]",
			  esc_str(text));
	return -1;
}

/* Makes ss the only name server of res.  An IPv6 server goes where glibc
 * keeps them (_u._ext.nsaddrs, a malloc'd copy that res_nclose() frees,
 * with nsaddr_list's family 0 pointing there), as res_ninit() itself
 * does for an IPv6 "nameserver" line. */
static int
use_server(struct __res_state *res, const struct sockaddr_storage *ss,
	   const char **error_r)
{
#ifdef __GLIBC__
	for (int i = 0; i < MAXNS; i++) {
		free(res->_u._ext.nsaddrs[i]);
		res->_u._ext.nsaddrs[i] = NULL;
	}
#endif
	memset(&res->nsaddr_list[0], 0, sizeof res->nsaddr_list[0]);
	if (ss->ss_family == AF_INET) {
		res->nsaddr_list[0] = *(const struct sockaddr_in *)ss;
	} else {
#ifdef __GLIBC__
		struct sockaddr_in6 *copy = xmalloc(sizeof *copy);
		*copy = *(const struct sockaddr_in6 *)ss;
		res->_u._ext.nsaddrs[0] = copy;
		res->nsaddr_list[0].sin_family = 0;
#else
		*error_r = "an IPv6 DNS resolver needs glibc";
		return -1;
#endif
	}
	res->nscount = 1;
	(void)error_r;
	return 0;
}

struct dns_resolver *
dns_resolver_new(const char *server, const char **error_r)
{
	struct dns_resolver *r = xcalloc(1, sizeof *r);
	if (res_ninit(&r->res) != 0) {
		free(r);
		*error_r = "cannot initialise the DNS resolver";
		return NULL;
	}
	/* the names are fully qualified: never append a search domain */
	r->res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
#ifdef RES_TRUSTAD
	/* glibc clears the AD bit of answers unless told to keep it; whether
	 * it means anything is the caller's to decide ([dns] dnssec) */
	r->res.options |= RES_TRUSTAD;
#endif
	r->res.retrans = 3;
	r->res.retry = 2;
	if (server != NULL) {
		struct sockaddr_storage ss;
		if (parse_server(server, &ss, error_r) < 0 ||
		    use_server(&r->res, &ss, error_r) < 0) {
			res_nclose(&r->res);
			free(r);
			return NULL;
		}
	}
	return r;
}

void
dns_resolver_free(struct dns_resolver **r)
{
	if (*r == NULL)
		return;
	res_nclose(&(*r)->res);
	xfree(*r);
}

void
dns_resolver_set_cache(struct dns_resolver *r, struct dns_cache *cache)
{
	r->cache = cache;
}

void
dns_mx_list_free(struct dns_mx **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*list)[i].host);
	xfree(*list);
}

void
dns_strings_free(char ***list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*list)[i]);
	xfree(*list);
}

/* Runs a query; the answer (malloc'd) in *ans_r, its length in *len_r. */
static int
query(struct dns_resolver *r, const char *name, int type, unsigned char **ans_r,
      int *len_r, const char **error_r)
{
	unsigned char *ans = xmalloc(DNS_ANSWER_MAX);
	r->res.res_h_errno = 0;
	int len = res_nquery(&r->res, name, ns_c_in, type, ans, DNS_ANSWER_MAX);
	if (len < 0) {
		free(ans);
		int st;
		switch (r->res.res_h_errno) {
		case HOST_NOT_FOUND:
			st = DNS_NXDOMAIN;
			break;
		case NO_DATA:
			st = DNS_NODATA;
			break;
		case NO_RECOVERY:
			/* FORMERR, REFUSED, NOTIMP: nothing a retry soon fixes,
			 * but a resolver's setup can change: still temporary */
			st = DNS_TEMPFAIL;
			break;
		default:
			st = DNS_TEMPFAIL;
			break;
		}
		*error_r = errfmt("%s: %s", esc_str(name), dns_status_name(st));
		return st;
	}
	*ans_r = ans;
	*len_r = len > DNS_ANSWER_MAX ? DNS_ANSWER_MAX : len;
	return DNS_OK;
}

/* Calls fn for each answer record of type; stops at its error. */
static int
each_answer(const unsigned char *msg, size_t len, int type,
	    int (*fn)(ns_msg *h, ns_rr *rr, void *ctx), void *ctx,
	    const char **error_r)
{
	ns_msg h;
	if (len > DNS_ANSWER_MAX || ns_initparse(msg, (int)len, &h) < 0) {
		*error_r = "malformed DNS answer";
		return DNS_ERROR;
	}
	int count = ns_msg_count(h, ns_s_an);
	for (int i = 0; i < count; i++) {
		ns_rr rr;
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
			*error_r = "malformed DNS answer record";
			return DNS_ERROR;
		}
		if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
			continue;	/* CNAMEs on the way */
		int ret = fn(&h, &rr, ctx);
		if (ret != DNS_OK) {
			*error_r = "malformed DNS record data";
			return ret;
		}
	}
	return DNS_OK;
}

struct mx_acc {
	struct dns_mx *list;
	size_t n, cap;
};

static int
mx_one(ns_msg *h, ns_rr *rr, void *ctx)
{
	struct mx_acc *acc = ctx;
	const unsigned char *rd = ns_rr_rdata(*rr);
	if (ns_rr_rdlen(*rr) < 3)
		return DNS_ERROR;
	char name[NS_MAXDNAME];
	if (ns_name_uncompress(ns_msg_base(*h), ns_msg_end(*h), rd + 2, name,
			       sizeof name) < 0)
		return DNS_ERROR;
	if (acc->n >= DNS_RECORDS_MAX)
		return DNS_OK;
	if (acc->n == acc->cap) {
		acc->cap = acc->cap == 0 ? 4 : acc->cap * 2;
		acc->list = xreallocarray(acc->list, acc->cap, sizeof *acc->list);
	}
	struct dns_mx *mx = &acc->list[acc->n++];
	mx->preference = ((unsigned)rd[0] << 8) | rd[1];
	size_t l = strlen(name);
	/* the root is "." in ns_name_uncompress's text: keep it as "" */
	if (l > 0 && name[l - 1] == '.')
		l--;
	mx->host = xstrndup(name, l);
	str_lower(mx->host);
	return DNS_OK;
}

int
dns_parse_mx(const unsigned char *msg, size_t len, struct dns_mx **list_r,
	     size_t *n_r, const char **error_r)
{
	struct mx_acc acc = { NULL, 0, 0 };
	*list_r = NULL;
	*n_r = 0;
	int ret = each_answer(msg, len, ns_t_mx, mx_one, &acc, error_r);
	if (ret != DNS_OK) {
		dns_mx_list_free(&acc.list, acc.n);
		return ret;
	}
	if (acc.n == 0) {
		*error_r = "no MX record";
		return DNS_NODATA;
	}
	*list_r = acc.list;
	*n_r = acc.n;
	return DNS_OK;
}

struct str_acc {
	char **list;
	size_t n, cap;
};

static void
str_push(struct str_acc *acc, char *s)
{
	if (acc->n == acc->cap) {
		acc->cap = acc->cap == 0 ? 4 : acc->cap * 2;
		acc->list = xreallocarray(acc->list, acc->cap, sizeof *acc->list);
	}
	acc->list[acc->n++] = s;
}

static int
txt_one(ns_msg *h, ns_rr *rr, void *ctx)
{
	(void)h;
	struct str_acc *acc = ctx;
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr), pos = 0;
	struct buf b = BUF_INIT;
	/* RFC 1035 §3.3.14: one or more <character-string>s */
	while (pos < rdlen) {
		size_t l = rd[pos++];
		if (l > rdlen - pos) {
			buf_free(&b);
			return DNS_ERROR;
		}
		buf_append(&b, rd + pos, l);
		pos += l;
	}
	if (acc->n >= DNS_RECORDS_MAX) {
		buf_free(&b);
		return DNS_OK;
	}
	if (b.data == NULL)
		buf_puts(&b, "");
	str_push(acc, buf_steal(&b));
	return DNS_OK;
}

int
dns_parse_txt(const unsigned char *msg, size_t len, char ***txt_r, size_t *n_r,
	      const char **error_r)
{
	struct str_acc acc = { NULL, 0, 0 };
	*txt_r = NULL;
	*n_r = 0;
	int ret = each_answer(msg, len, ns_t_txt, txt_one, &acc, error_r);
	if (ret != DNS_OK) {
		dns_strings_free(&acc.list, acc.n);
		return ret;
	}
	if (acc.n == 0) {
		*error_r = "no TXT record";
		return DNS_NODATA;
	}
	*txt_r = acc.list;
	*n_r = acc.n;
	return DNS_OK;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return x->preference < y->preference ? -1 : x->preference > y->preference;
}

void
dns_mx_sort(struct dns_mx *list, size_t n, bool shuffle)
{
	if (n < 2)
		return;
	if (shuffle) {
		/* Fisher-Yates first, then a stable sort keeps the random
		 * order within one preference */
		for (size_t i = n - 1; i > 0; i--) {
			uint32_t rnd;
			random_bytes(&rnd, sizeof rnd);
			size_t j = rnd % (i + 1);
			struct dns_mx t = list[i];
			list[i] = list[j];
			list[j] = t;
		}
	}
	/* insertion sort: stable, and n is small (DNS_RECORDS_MAX) */
	for (size_t i = 1; i < n; i++) {
		struct dns_mx t = list[i];
		size_t j = i;
		while (j > 0 && mx_cmp(&list[j - 1], &t) > 0) {
			list[j] = list[j - 1];
			j--;
		}
		list[j] = t;
	}
}

bool
dns_mx_is_null(const struct dns_mx *list, size_t n)
{
	return n == 1 && list[0].preference == 0 && list[0].host[0] == '\0';
}

int
dns_lookup_mx(struct dns_resolver *r, const char *domain, struct dns_mx **list_r,
	      size_t *n_r, const char **error_r)
{
	unsigned char *ans;
	int len;
	*list_r = NULL;
	*n_r = 0;
	int ret = query(r, domain, ns_t_mx, &ans, &len, error_r);
	if (ret != DNS_OK)
		return ret;
	ret = dns_parse_mx(ans, (size_t)len, list_r, n_r, error_r);
	free(ans);
	if (ret == DNS_OK)
		dns_mx_sort(*list_r, *n_r, true);
	return ret;
}

static int
addr_one(ns_msg *h, ns_rr *rr, void *ctx)
{
	(void)h;
	struct str_acc *acc = ctx;
	char text[INET6_ADDRSTRLEN];
	int af = ns_rr_type(*rr) == ns_t_a ? AF_INET : AF_INET6;
	size_t want = af == AF_INET ? 4 : 16;
	if (ns_rr_rdlen(*rr) != want ||
	    inet_ntop(af, ns_rr_rdata(*rr), text, sizeof text) == NULL)
		return DNS_ERROR;
	if (acc->n < DNS_RECORDS_MAX)
		str_push(acc, xstrdup(text));
	return DNS_OK;
}

int
dns_lookup_addr(struct dns_resolver *r, const char *host, char ***addrs_r,
		size_t *n_r, const char **error_r)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	struct str_acc acc = { NULL, 0, 0 };
	int worst = DNS_NODATA;
	*addrs_r = NULL;
	*n_r = 0;
	/* an address literal needs no lookup */
	unsigned char tmp[16];
	if (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1) {
		str_push(&acc, xstrdup(host));
		*addrs_r = acc.list;
		*n_r = 1;
		return DNS_OK;
	}
	for (size_t i = 0; i < 2; i++) {
		unsigned char *ans;
		int len;
		int ret = query(r, host, types[i], &ans, &len, error_r);
		if (ret == DNS_OK) {
			ret = each_answer(ans, (size_t)len, types[i], addr_one, &acc,
					  error_r);
			free(ans);
		}
		if (ret == DNS_NXDOMAIN)
			worst = DNS_NXDOMAIN;
		else if (ret == DNS_TEMPFAIL || ret == DNS_ERROR)
			worst = worst == DNS_NXDOMAIN ? worst : ret;
	}
	if (acc.n == 0) {
		*error_r = errfmt("%s: %s", esc_str(host), dns_status_name(worst));
		return worst;
	}
	*addrs_r = acc.list;
	*n_r = acc.n;
	return DNS_OK;
}

int
dns_lookup_txt(struct dns_resolver *r, const char *name, char ***txt_r,
	       size_t *n_r, const char **error_r)
{
	unsigned char *ans;
	int len;
	*txt_r = NULL;
	*n_r = 0;
	int ret = query(r, name, ns_t_txt, &ans, &len, error_r);
	if (ret != DNS_OK)
		return ret;
	ret = dns_parse_txt(ans, (size_t)len, txt_r, n_r, error_r);
	free(ans);
	return ret;
}

/* ---- dns_query: any type, with TTLs and the status told apart ---------- */

const char *
dns_type_name(enum dns_type type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TLSA:
		return "TLSA";
	}
	return "?";
}

char *
dns_name_canon(const char *name, size_t len)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	char *s = xstrndup(name, len);
	str_lower(s);
	return s;
}

void
dns_answer_free(struct dns_answer *ans)
{
	if (ans->rr != NULL) {
		for (size_t i = 0; i < ans->n; i++)
			free(ans->rr[i].text);
	}
	xfree(ans->rr);
	ans->n = 0;
}

void
dns_answer_copy(struct dns_answer *dst, const struct dns_answer *src)
{
	*dst = *src;
	dst->rr = NULL;
	if (src->n == 0)
		return;
	dst->rr = xreallocarray(NULL, src->n, sizeof *dst->rr);
	for (size_t i = 0; i < src->n; i++) {
		dst->rr[i] = src->rr[i];
		if (src->rr[i].text != NULL)
			dst->rr[i].text = xmemdup(src->rr[i].text, src->rr[i].text_len);
	}
}

/* The negative TTL of RFC 2308 §5: an SOA in the authority section, the
 * lesser of its own TTL and its MINIMUM field; 0 without one. */
static uint32_t
negative_ttl(ns_msg *h)
{
	int count = ns_msg_count(*h, ns_s_ns);
	for (int i = 0; i < count; i++) {
		ns_rr rr;
		if (ns_parserr(h, ns_s_ns, i, &rr) < 0)
			return 0;
		if (ns_rr_type(rr) != ns_t_soa)
			continue;
		/* MNAME and RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM */
		const unsigned char *p = ns_rr_rdata(rr), *end = p + ns_rr_rdlen(rr);
		for (int k = 0; k < 2; k++) {
			int l = dn_skipname(p, end);
			if (l < 0)
				return 0;
			p += l;
		}
		if (end - p < 20)
			return 0;
		uint32_t min = ns_get32(p + 16), ttl = ns_rr_ttl(rr);
		return min < ttl ? min : ttl;
	}
	return 0;
}

static void
rr_push(struct dns_answer *ans, size_t *cap, const struct dns_rr *rr)
{
	if (ans->n == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		ans->rr = xreallocarray(ans->rr, *cap, sizeof *ans->rr);
	}
	ans->rr[ans->n++] = *rr;
}

/* One record's data into *out; -1 when it is malformed. */
static int
rr_data(ns_msg *h, ns_rr *rr, enum dns_type type, struct dns_rr *out)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);
	char name[NS_MAXDNAME];
	memset(out, 0, sizeof *out);
	out->ttl = ns_rr_ttl(*rr);
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA: {
		size_t want = type == DNS_T_A ? 4 : 16;
		if (rdlen != want)
			return -1;
		memcpy(out->addr, rd, want);
		return 0;
	}
	case DNS_T_TXT: {
		/* RFC 1035 §3.3.14: one or more <character-string>s */
		struct buf b = BUF_INIT;
		size_t pos = 0;
		while (pos < rdlen) {
			size_t l = rd[pos++];
			if (l > rdlen - pos) {
				buf_free(&b);
				return -1;
			}
			buf_append(&b, rd + pos, l);
			pos += l;
		}
		out->text_len = b.len;
		if (b.data == NULL)
			buf_puts(&b, "");
		out->text = buf_steal(&b);
		return 0;
	}
	case DNS_T_TLSA:
		/* RFC 6698 §2.1: three one-octet fields and the data */
		if (rdlen < 4)
			return -1;
		out->text = xmemdup(rd, rdlen);
		out->text_len = rdlen;
		return 0;
	case DNS_T_MX:
	case DNS_T_PTR: {
		size_t skip = type == DNS_T_MX ? 2 : 0;
		if (rdlen < skip + 1 ||
		    ns_name_uncompress(ns_msg_base(*h), ns_msg_end(*h), rd + skip, name,
				       sizeof name) < 0)
			return -1;
		if (type == DNS_T_MX)
			out->pref = ((unsigned)rd[0] << 8) | rd[1];
		size_t l = strlen(name);
		if (l > 0 && name[l - 1] == '.')
			l--;
		out->text = xstrndup(name, l);
		out->text_len = l;
		str_lower(out->text);
		return 0;
	}
	}
	return -1;
}

int
dns_parse_answer(const unsigned char *msg, size_t len, enum dns_type type,
		 struct dns_answer *ans_r)
{
	ns_msg h;
	size_t cap = 0;
	memset(ans_r, 0, sizeof *ans_r);
	if (len > DNS_ANSWER_MAX || ns_initparse(msg, (int)len, &h) < 0) {
		ans_r->status = DNS_ERROR;
		return DNS_ERROR;
	}
	ans_r->secure = ns_msg_getflag(h, ns_f_ad) != 0;
	switch (ns_msg_getflag(h, ns_f_rcode)) {
	case ns_r_noerror:
		break;
	case ns_r_nxdomain:
		ans_r->status = DNS_NXDOMAIN;
		ans_r->ttl = negative_ttl(&h);
		return DNS_NXDOMAIN;
	default:
		/* SERVFAIL, and FORMERR, NOTIMP, REFUSED: a resolver's setup
		 * can change, so all are temporary (as query() says) */
		ans_r->status = DNS_TEMPFAIL;
		return DNS_TEMPFAIL;
	}
	int count = ns_msg_count(h, ns_s_an);
	uint32_t ttl = UINT32_MAX;
	for (int i = 0; i < count; i++) {
		ns_rr rr;
		struct dns_rr one;
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0)
			goto bad;
		if ((int)ns_rr_type(rr) != (int)type || ns_rr_class(rr) != ns_c_in)
			continue;	/* CNAMEs on the way */
		if (rr_data(&h, &rr, type, &one) < 0)
			goto bad;
		if (ans_r->n >= DNS_RECORDS_MAX) {
			free(one.text);
			continue;
		}
		if (one.ttl < ttl)
			ttl = one.ttl;
		rr_push(ans_r, &cap, &one);
	}
	if (ans_r->n == 0) {
		ans_r->status = DNS_NODATA;
		ans_r->ttl = negative_ttl(&h);
		return DNS_NODATA;
	}
	ans_r->status = DNS_OK;
	ans_r->ttl = ttl;
	return DNS_OK;
bad:
	dns_answer_free(ans_r);
	ans_r->status = DNS_ERROR;
	return DNS_ERROR;
}

int
dns_query(struct dns_resolver *r, const char *name, enum dns_type type,
	  struct dns_answer *ans_r)
{
	memset(ans_r, 0, sizeof *ans_r);
	uint64_t now = 0;
	if (r->cache != NULL) {
		now = dns_cache_now();
		if (dns_cache_get(r->cache, name, type, now, ans_r))
			return ans_r->status;
	}
	unsigned char q[NS_PACKETSZ];
	int qlen = res_nmkquery(&r->res, ns_o_query, name, ns_c_in, (int)type, NULL, 0,
				NULL, q, sizeof q);
	if (qlen < 0) {
		/* not a name DNS can carry (too long, an empty label) */
		ans_r->status = DNS_ERROR;
		return DNS_ERROR;
	}
	/* RFC 6840 §5.7: AD in a query asks the resolver to say whether it
	 * validated the answer (without the DNSSEC records DO would bring) */
	q[3] |= 0x20;
	unsigned char *msg = xmalloc(DNS_ANSWER_MAX);
	/* res_nsend() retries, and repeats over TCP a truncated answer */
	int len = res_nsend(&r->res, q, qlen, msg, DNS_ANSWER_MAX);
	if (len < 0) {
		free(msg);
		ans_r->status = DNS_TEMPFAIL;
		return DNS_TEMPFAIL;
	}
	int ret = dns_parse_answer(msg, len > DNS_ANSWER_MAX ? DNS_ANSWER_MAX : (size_t)len,
				   type, ans_r);
	free(msg);
	if (r->cache != NULL)
		dns_cache_put(r->cache, name, type, now, ans_r);
	return ret;
}

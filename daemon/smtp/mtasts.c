/*
 * mtasts: RFC 8461 policies (see mtasts.h).
 */
#include "smtp/mtasts.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/dns.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "core/https_get.h"
#include "store/relaytls.h"

/* RFC 8461 §3.3: the policy lives here, on the host "mta-sts." DOMAIN. */
#define MTASTS_PATH "/.well-known/mta-sts.txt"
/* §3.3 asks for a timeout; a policy host that takes longer is broken. */
#define MTASTS_FETCH_TIMEOUT 30

static const char *const mode_names[] = { "none", "testing", "enforce" };

const char *
mtasts_mode_name(enum mtasts_mode mode)
{
	return (unsigned)mode < 3 ? mode_names[mode] : "none";
}

int
mtasts_mode_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return i;
	return -1;
}

void
mtasts_policy_clear(struct mtasts_policy *p)
{
	for (size_t i = 0; i < p->n_mx; i++)
		free(p->mx[i]);
	free(p->mx);
	free(p->id);
	free(p->text);
	memset(p, 0, sizeof *p);
}

/* RFC 8461 §3.1: sts-text-record = sts-version 1*(sts-field-delim
 * sts-field) [sts-field-delim]; sts-version = "v=STSv1"; the id field is
 * 1*32(ALPHA / DIGIT); other fields are ignored. */
int
mtasts_txt_parse(const char *txt, size_t len, char **id_r)
{
	*id_r = NULL;
	if (len < 7 || memcmp(txt, "v=STSv1", 7) != 0)
		return -1;
	const char *p = txt + 7, *end = txt + len;
	char *id = NULL;
	while (p < end) {
		/* sts-field-delim = *WSP ";" *WSP */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		if (*p != ';')
			goto bad;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		const char *name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		if (p == end || *p != '=')
			goto bad;
		size_t nlen = (size_t)(p - name);
		const char *v = ++p;
		while (p < end && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		size_t vlen = (size_t)(p - v);
		if (nlen == 2 && memcmp(name, "id", 2) == 0) {
			if (id != NULL || vlen == 0 || vlen > 32)
				goto bad;
			for (size_t i = 0; i < vlen; i++)
				if (!isalnum((unsigned char)v[i]))
					goto bad;
			id = xstrndup(v, vlen);
		}
	}
	if (id == NULL)
		return -1;
	*id_r = id;
	return 0;
bad:
	free(id);
	return -1;
}

/* A pattern of §3.2's mx field: a host name, or "*." and one. */
static bool
mx_pattern_valid(const char *s)
{
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	size_t n = strlen(s);
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return strstr(s, "..") == NULL;
}

int
mtasts_policy_parse(const char *text, size_t len, struct mtasts_policy *p,
		    const char **error_r)
{
	memset(p, 0, sizeof *p);
	const char *s = text, *end = text + len;
	bool have_version = false, have_mode = false, have_age = false;
	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		const char *le = eol != NULL ? eol : end;
		const char *next = eol != NULL ? eol + 1 : end;
		if (le > s && le[-1] == '\r')
			le--;
		/* sts-policy-field = sts-policy-name ":" *WSP value *WSP */
		const char *colon = memchr(s, ':', (size_t)(le - s));
		if (colon == NULL) {
			if (le != s) {
				*error_r = "a policy line without a colon";
				goto bad;
			}
			s = next;
			continue;
		}
		const char *v = colon + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		const char *ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t nlen = (size_t)(colon - s), vlen = (size_t)(ve - v);
		if (nlen == 7 && memcmp(s, "version", 7) == 0) {
			if (vlen != 5 || memcmp(v, "STSv1", 5) != 0) {
				*error_r = "the policy's version is not STSv1";
				goto bad;
			}
			have_version = true;
		} else if (nlen == 4 && memcmp(s, "mode", 4) == 0) {
			char *m = xstrndup(v, vlen);
			int mode = mtasts_mode_parse(m);
			free(m);
			if (mode < 0 || have_mode) {
				*error_r = "the policy's mode is not enforce, testing or none";
				goto bad;
			}
			p->mode = (enum mtasts_mode)mode;
			have_mode = true;
		} else if (nlen == 7 && memcmp(s, "max_age", 7) == 0) {
			/* max-age-value = 1*10(DIGIT) */
			uint64_t age = 0;
			if (vlen == 0 || vlen > 10 || have_age) {
				*error_r = "the policy's max_age is malformed";
				goto bad;
			}
			for (size_t i = 0; i < vlen; i++) {
				if (!isdigit((unsigned char)v[i])) {
					*error_r = "the policy's max_age is malformed";
					goto bad;
				}
				age = age * 10 + (uint64_t)(v[i] - '0');
			}
			p->max_age = age > MTASTS_MAX_AGE_MAX ? MTASTS_MAX_AGE_MAX : age;
			have_age = true;
		} else if (nlen == 2 && memcmp(s, "mx", 2) == 0) {
			char *pat = xstrndup(v, vlen);
			str_lower(pat);
			if (!mx_pattern_valid(pat) || p->n_mx >= MTASTS_MX_MAX) {
				free(pat);
				*error_r = "the policy has a malformed or one too many mx";
				goto bad;
			}
			p->mx = xreallocarray(p->mx, p->n_mx + 1, sizeof *p->mx);
			p->mx[p->n_mx++] = pat;
		}
		/* §3.2: other fields are to be ignored */
		s = next;
	}
	if (!have_version || !have_mode || !have_age) {
		*error_r = "the policy lacks version, mode or max_age";
		goto bad;
	}
	if (p->mode != MTASTS_NONE && p->n_mx == 0) {
		*error_r = "the policy names no mx";
		goto bad;
	}
	p->text = xstrndup(text, len);
	return 0;
bad:
	mtasts_policy_clear(p);
	return -1;
}

bool
mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++) {
		const char *pat = p->mx[i];
		if (strncmp(pat, "*.", 2) == 0) {
			/* §4.1: the wildcard is the leftmost label only */
			const char *dot = strchr(host, '.');
			if (dot != NULL && dot != host && strcasecmp(dot + 1, pat + 2) == 0)
				return true;
		} else if (strcasecmp(host, pat) == 0) {
			return true;
		}
	}
	return false;
}

/* ---- the cache and the fetch -------------------------------------------- */

/* The cached row as a policy; -1 when it does not parse (then it is
 * fetched again). */
static int
from_cache(const struct relaytls_sts *c, struct mtasts_policy *p)
{
	const char *error;
	if (mtasts_policy_parse(c->policy_text, strlen(c->policy_text), p, &error) < 0)
		return -1;
	p->id = xstrdup(c->policy_id);
	return 0;
}

/* The id of the domain's _mta-sts TXT record: 1 with *id_r, 0 when there
 * is no (valid) record, -1 on a DNS failure. */
static int
txt_id(const struct mtasts_env *env, const char *domain, char **id_r)
{
	char *name = xasprintf("_mta-sts.%s", domain);
	struct dns_answer ans;
	int ret = dns_query(env->dns, name, DNS_T_TXT, &ans);
	free(name);
	*id_r = NULL;
	if (ret == DNS_NXDOMAIN || ret == DNS_NODATA) {
		dns_answer_free(&ans);
		return 0;
	}
	if (ret != DNS_OK) {
		dns_answer_free(&ans);
		return -1;
	}
	/* §3.1: more than one STSv1 record means none */
	int found = 0;
	for (size_t i = 0; i < ans.n; i++) {
		char *id;
		if (mtasts_txt_parse(ans.rr[i].text, ans.rr[i].text_len, &id) < 0)
			continue;
		if (found++ == 0)
			*id_r = id;
		else
			free(id);
	}
	dns_answer_free(&ans);
	if (found != 1) {
		free(*id_r);
		*id_r = NULL;
		return 0;
	}
	return 1;
}

/* Fetches the policy: 0 with *p, or -1 with the result type and why. */
static int
fetch(const struct mtasts_env *env, const char *domain, struct mtasts_policy *p,
      const char **fail_r, const char **why_r)
{
	char *host = xasprintf("mta-sts.%s", domain);
	char **addrs = NULL;
	size_t n = 0;
	const char *error;
	int ret = -1;
	*fail_r = "sts-policy-fetch-error";
	*why_r = NULL;
	if (dns_lookup_addr(env->dns, host, &addrs, &n, &error) != DNS_OK) {
		*why_r = errfmt("MTA-STS policy host %s: %s", host, error);
		free(host);
		return -1;
	}
	for (size_t i = 0; i < n && ret < 0; i++) {
		struct https_get_params hp = {
			.host = host,
			.address = addrs[i],
			.port = env->port,
			.path = MTASTS_PATH,
			.ctx = env->ctx,
			.timeout = MTASTS_FETCH_TIMEOUT,
			.max_body = MTASTS_POLICY_MAX,
		};
		struct https_response resp;
		bool tls_failed;
		if (https_get(&hp, &resp, &tls_failed, &error) < 0) {
			/* §3.3: the certificate must be valid for the host */
			*fail_r = tls_failed ? "sts-webpki-invalid" : "sts-policy-fetch-error";
			*why_r = errfmt("MTA-STS policy fetch: %s", error);
			continue;
		}
		if (resp.status != 200) {
			/* §3.3: redirects are not followed */
			*fail_r = "sts-policy-fetch-error";
			*why_r = errfmt("MTA-STS policy fetch from %s: HTTP status %u", host,
					resp.status);
		} else if (resp.content_type == NULL ||
			   strncasecmp(resp.content_type, "text/plain", 10) != 0) {
			/* §3.2: the media type is text/plain */
			*fail_r = "sts-policy-invalid";
			*why_r = errfmt("MTA-STS policy from %s is not text/plain", host);
		} else if (mtasts_policy_parse(resp.body.data, resp.body.len, p, &error) < 0) {
			*fail_r = "sts-policy-invalid";
			*why_r = errfmt("MTA-STS policy from %s: %s", host, error);
		} else {
			ret = 0;
		}
		https_response_clear(&resp);
	}
	dns_strings_free(&addrs, n);
	free(host);
	return ret;
}

static void
store_policy(const struct mtasts_env *env, const char *domain,
	     const struct mtasts_policy *p, int64_t now)
{
	struct buf mx = BUF_INIT;
	const char *error;
	for (size_t i = 0; i < p->n_mx; i++)
		buf_printf(&mx, "%s%s", i > 0 ? "\n" : "", p->mx[i]);
	struct relaytls_sts row = {
		.domain = (char *)domain,
		.policy_id = p->id,
		.mode = (char *)mtasts_mode_name(p->mode),
		.mx = (char *)buf_cstr(&mx),
		.max_age = (int64_t)p->max_age,
		.fetched = now,
		.checked = now,
		.policy_text = p->text,
	};
	if (relaytls_sts_put(env->st, &row, &error) != STORE_OK)
		log_error("relay[%llu] mta-sts domain=%s: %s", (unsigned long long)env->id,
			  domain, error);
	buf_free(&mx);
}

int
mtasts_get(const struct mtasts_env *env, const char *domain, int64_t now,
	   struct mtasts_policy *p, const char **fail_r, const char **why_r)
{
	struct relaytls_sts cached;
	const char *error;
	bool fresh = false;
	memset(p, 0, sizeof *p);
	*fail_r = NULL;
	*why_r = NULL;
	int ret = relaytls_sts_get(env->st, domain, &cached, &error);
	if (ret == STORE_ERROR)
		log_error("relay[%llu] mta-sts domain=%s: %s", (unsigned long long)env->id,
			  domain, error);
	if (ret == STORE_OK) {
		fresh = now < cached.fetched + cached.max_age;
		/* §5.1: a fresh policy is used; its TXT record is looked at now
		 * and then to find a newer one */
		if (fresh && now < cached.checked + (int64_t)env->recheck &&
		    from_cache(&cached, p) == 0) {
			relaytls_sts_clear(&cached);
			return p->mode != MTASTS_NONE;
		}
	}
	char *id = NULL;
	int txt = txt_id(env, domain, &id);
	if (txt <= 0 || (ret == STORE_OK && strcmp(id, cached.policy_id) == 0)) {
		/* no record (or no answer), or the same id: the cache, while
		 * fresh, is what applies (§5.1) */
		int found = 0;
		if (ret == STORE_OK && fresh && from_cache(&cached, p) == 0) {
			if (txt > 0)
				(void)relaytls_sts_checked(env->st, domain, now, &error);
			found = p->mode != MTASTS_NONE;
		}
		free(id);
		relaytls_sts_clear(&cached);
		return found;
	}
	/* a new id, or nothing cached: fetch */
	if (fetch(env, domain, p, fail_r, why_r) == 0) {
		*fail_r = NULL;
		*why_r = NULL;
		p->id = id;
		store_policy(env, domain, p, now);
		log_info("relay[%llu] mta-sts domain=%s id=%s mode=%s max_age=%llu",
			 (unsigned long long)env->id, domain, esc_str(p->id),
			 mtasts_mode_name(p->mode), (unsigned long long)p->max_age);
		relaytls_sts_clear(&cached);
		return p->mode != MTASTS_NONE;
	}
	free(id);
	log_info("relay[%llu] mta-sts domain=%s %s: %s", (unsigned long long)env->id,
		 domain, *fail_r, *why_r != NULL ? *why_r : "?");
	/* §5.1: a cached policy still in force outlives a failed refresh */
	int found = 0;
	if (ret == STORE_OK && fresh && from_cache(&cached, p) == 0) {
		found = p->mode != MTASTS_NONE;
		*fail_r = NULL;
	}
	relaytls_sts_clear(&cached);
	return found;
}

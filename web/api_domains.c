/*
 * api_domains: the local domains (admin only), and the DNS records a domain
 * needs published to receive mail and configure clients.
 *   GET    /api/v1/domains              list
 *   POST   /api/v1/domains {"name"}     add
 *   GET    /api/v1/domains/{name}       one
 *   DELETE /api/v1/domains/{name}       remove (409 while users or aliases use it)
 *   GET    /api/v1/domains/{name}/dns   the records to publish (MX, SPF, DKIM,
 *                                       DMARC, autoconfig CNAMEs, RFC 6186 SRV)
 */
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "store/relayq.h"
#include "web/api.h"
#include "web/internal.h"

static cJSON *
domain_json(const struct store_domain *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddItemToObject(o, "created", json_time(d->created));
	return o;
}

/* Finds one domain by name (the store has no single-domain getter). */
static int
domain_find(struct web_request *r, const char *name, struct store_domain *out,
	    const char **error_r)
{
	struct store_domain *list = NULL;
	size_t n = 0;
	int st = store_domain_list(r->st, &list, &n, error_r);
	if (st != STORE_OK)
		return st;
	st = STORE_NOTFOUND;
	*error_r = errfmt("domain '%s' does not exist", esc_str(name));
	for (size_t i = 0; i < n; i++) {
		if (str_eq_nocase(list[i].name, name)) {
			out->id = list[i].id;
			out->created = list[i].created;
			out->name = xstrdup(list[i].name);
			st = STORE_OK;
			break;
		}
	}
	store_domain_list_free(&list, n);
	return st;
}

enum MHD_Result
api_domains_list(struct web_request *r)
{
	struct store_domain *list = NULL;
	size_t n = 0;
	const char *error;
	int st = store_domain_list(r->st, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, domain_json(&list[i]));
	store_domain_list_free(&list, n);
	return reply_json(r, 200, arr);
}

enum MHD_Result
api_domains_create(struct web_request *r)
{
	static const char *const fields[] = { "name", NULL };
	const char *name = NULL, *error;
	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "name", true, &name) < 0)
		return MHD_YES;
	if (!store_domain_name_valid(name))
		return reply_problem(r, 422, "field 'name' is not a valid domain name: '%s' "
				     "(letters, digits and inner hyphens, dots between labels)",
				     esc_str(name));
	int st = store_domain_add(r->st, name, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web domain=%s added by=%s", esc_str(name), r->user.address);
	struct store_domain d = { 0 };
	st = domain_find(r, name, &d, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = domain_json(&d);
	free(d.name);
	return reply_json(r, 201, o);
}

enum MHD_Result
api_domains_get(struct web_request *r)
{
	struct store_domain d = { 0 };
	const char *error;
	int st = domain_find(r, r->params[0], &d, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = domain_json(&d);
	free(d.name);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_domains_delete(struct web_request *r)
{
	const char *error;
	int st = store_domain_del(r->st, r->params[0], &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web domain=%s deleted by=%s", esc_str(r->params[0]), r->user.address);
	return reply_empty(r, 204);
}

/* ---- DNS records --------------------------------------------------------- */

static void
add_record(cJSON *arr, const char *purpose, const char *name, const char *type,
	   const char *value)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "purpose", purpose);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "value", value);
	cJSON_AddItemToArray(arr, o);
}

/*
 * RFC 6186 §3: _imap, _imaps, _pop3, _pop3s and _submission SRV records;
 * RFC 8314 §5.1 adds _submissions.  A service this server does not offer
 * gets the "not available" form of RFC 6186 §4 (priority 0, weight 0,
 * port 0, target ".") so that clients do not guess.
 */
static void
add_srv(cJSON *arr, const struct config *cfg, const char *domain,
	const char *service, enum listen_kind kind)
{
	char *name = xasprintf("_%s._tcp.%s.", service, domain);
	char *value;
	if (cfg->listen[kind].enabled)
		value = xasprintf("0 1 %u %s.", cfg->listen[kind].port, cfg->hostname);
	else
		value = xstrdup("0 0 0 .");
	add_record(arr, "client autoconfiguration (RFC 6186)", name, "SRV", value);
	free(name);
	free(value);
}

/*
 * RFC 6376 §3.6.2.1: each key's public half at SELECTOR._domainkey.DOMAIN.
 * The relay signs with the domain's keys (store/relayq.h), made here on
 * first use, so what the panel shows is what signatures will need.
 */
static void
add_dkim(struct web_request *r, const char *domain, cJSON *records, cJSON *dkim)
{
	struct relayq_dkim_key *keys = NULL;
	size_t n = 0;
	const char *error;
	int st = relayq_dkim_keys(r->st, domain, true, &keys, &n, &error);
	if (st != STORE_OK || n == 0) {
		if (st != STORE_OK)
			log_error("web dkim keys domain=%s: %s", domain, error);
		cJSON_AddBoolToObject(dkim, "available", false);
		cJSON_AddStringToObject(dkim, "reason", st != STORE_OK ? error
					: "the domain has no DKIM key");
		return;
	}
	cJSON_AddBoolToObject(dkim, "available", true);
	cJSON *sel = cJSON_AddArrayToObject(dkim, "selectors");
	for (size_t i = 0; i < n; i++) {
		struct buf txt = BUF_INIT;
		relayq_dkim_txt(&keys[i], &txt);
		char *name = xasprintf("%s._domainkey.%s.", keys[i].selector, domain);
		char *purpose = xasprintf("DKIM signing key (%s)", keys[i].algorithm);
		add_record(records, purpose, name, "TXT", buf_cstr(&txt));
		cJSON_AddItemToArray(sel, cJSON_CreateString(keys[i].selector));
		free(purpose);
		free(name);
		buf_free(&txt);
	}
	relayq_dkim_keys_free(&keys, n);
}

enum MHD_Result
api_domains_dns(struct web_request *r)
{
	const struct config *cfg = r->srv->cfg;
	struct store_domain d = { 0 };
	const char *error;
	int st = domain_find(r, r->params[0], &d, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);

	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "domain", d.name);
	cJSON_AddStringToObject(body, "hostname", cfg->hostname);
	cJSON *arr = cJSON_AddArrayToObject(body, "records");
	char *name = xasprintf("%s.", d.name);
	char *host = xasprintf("10 %s.", cfg->hostname);
	/* RFC 5321 §5.1: mail for the domain goes to its MX host. */
	add_record(arr, "receive mail (MX)", name, "MX", host);
	/* RFC 7208: only the domain's MX host sends its mail.  With a
	 * smarthost, add the smarthost's own SPF mechanism before -all. */
	add_record(arr, "sender policy (SPF)", name, "TXT", "v=spf1 mx -all");
	free(host);
	/* RFC 7489 §6.3: start with p=none, and raise it to quarantine once
	 * reports show that all of the domain's mail passes. */
	char *dmarc = xasprintf("_dmarc.%s.", d.name);
	add_record(arr, "DMARC policy", dmarc, "TXT", "v=DMARC1; p=none; adkim=r; aspf=r");
	free(dmarc);
	char *target = xasprintf("%s.", cfg->hostname);
	char *ac = xasprintf("autoconfig.%s.", d.name);
	add_record(arr, "Thunderbird autoconfig", ac, "CNAME", target);
	free(ac);
	char *ad = xasprintf("autodiscover.%s.", d.name);
	add_record(arr, "Outlook autodiscover", ad, "CNAME", target);
	free(ad);
	free(target);
	add_srv(arr, cfg, d.name, "submissions", LISTEN_SUBMISSIONS);
	add_srv(arr, cfg, d.name, "submission", LISTEN_SUBMISSION);
	add_srv(arr, cfg, d.name, "imaps", LISTEN_IMAPS);
	add_srv(arr, cfg, d.name, "imap", LISTEN_IMAP);
	add_srv(arr, cfg, d.name, "pop3s", LISTEN_POP3S);
	add_srv(arr, cfg, d.name, "pop3", LISTEN_POP3);
	free(name);

	add_dkim(r, d.name, arr, cJSON_AddObjectToObject(body, "dkim"));
	free(d.name);
	return reply_json(r, 200, body);
}

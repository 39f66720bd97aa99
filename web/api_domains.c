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
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "store/relayq.h"
#include "store/trust_stats.h"
#include "web/api.h"
#include "web/internal.h"

/* "inbound": what the sender checks of port 25 said of the last 24
 * hours' mail to the domain (store/trust_stats.h); null when the counts
 * cannot be read. */
static cJSON *
inbound_json(struct web_request *r, const char *name)
{
	struct store_trust_counts c;
	const char *error;
	if (store_trust_stats_day(r->st, name, (int64_t)time(NULL), &c, &error) != STORE_OK) {
		log_error("web: %s", error);
		return cJSON_CreateNull();
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "messages", (double)c.messages);
	cJSON_AddNumberToObject(o, "spf_pass", (double)c.spf_pass);
	cJSON_AddNumberToObject(o, "dkim_pass", (double)c.dkim_pass);
	cJSON_AddNumberToObject(o, "dmarc_pass", (double)c.dmarc_pass);
	cJSON_AddNumberToObject(o, "dmarc_fail", (double)c.dmarc_fail);
	cJSON_AddNumberToObject(o, "refused", (double)c.refused);
	cJSON_AddNumberToObject(o, "junk", (double)c.junk);
	return o;
}

static cJSON *
domain_json(struct web_request *r, const struct store_domain *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddItemToObject(o, "created", json_time(d->created));
	cJSON_AddItemToObject(o, "inbound", inbound_json(r, d->name));
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
		cJSON_AddItemToArray(arr, domain_json(r, &list[i]));
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
	cJSON *o = domain_json(r, &d);
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
	cJSON *o = domain_json(r, &d);
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

/* ---- DNS records ---------------------------------------------------------- */

/* The records as relayq_dns_records() makes them for `mailhub domain show`
 * too, so the panel and the command line never disagree. */
enum MHD_Result
api_domains_dns(struct web_request *r)
{
	const struct config *cfg = r->srv->cfg;
	struct store_domain d = { 0 };
	struct relayq_dns_record *list = NULL;
	size_t n = 0;
	char *dkim_error = NULL;
	const char *error;
	int st = domain_find(r, r->params[0], &d, &error);
	if (st == STORE_OK)
		st = relayq_dns_records(r->st, d.name, cfg, &list, &n, &dkim_error, &error);
	if (st != STORE_OK) {
		free(d.name);
		return reply_store_error(r, st, error);
	}
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "domain", d.name);
	cJSON_AddStringToObject(body, "hostname", cfg->hostname);
	cJSON *arr = cJSON_AddArrayToObject(body, "records");
	cJSON *dkim = cJSON_AddObjectToObject(body, "dkim");
	cJSON_AddBoolToObject(dkim, "available", dkim_error == NULL);
	cJSON *sel = dkim_error == NULL ? cJSON_AddArrayToObject(dkim, "selectors") : NULL;
	if (dkim_error != NULL) {
		log_error("web dkim keys domain=%s: %s", d.name, dkim_error);
		cJSON_AddStringToObject(dkim, "reason", dkim_error);
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "purpose", list[i].purpose);
		cJSON_AddStringToObject(o, "name", list[i].name);
		cJSON_AddStringToObject(o, "type", list[i].type);
		cJSON_AddStringToObject(o, "value", list[i].value);
		cJSON_AddItemToArray(arr, o);
		if (sel != NULL && list[i].selector != NULL)
			cJSON_AddItemToArray(sel, cJSON_CreateString(list[i].selector));
	}
	relayq_dns_records_free(&list, n);
	free(dkim_error);
	free(d.name);
	return reply_json(r, 200, body);
}

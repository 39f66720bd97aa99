/*
 * api_tlsrpt: SMTP TLS reports (RFC 8460) about mail to our domains.
 *   POST /api/v1/tlsrpt          a report, as RFC 8460 §3's https: method
 *                                sends it (anonymous: reporters have no
 *                                account): application/tlsrpt+gzip or
 *                                application/tlsrpt+json, at most
 *                                WEB_BODY_MAX bytes; kept when it is about
 *                                one of our domains
 *   GET  /api/v1/relay/tls-reports  what was received, newest first (admin)
 * The parsing is mail/tlsrpt_report.c's; the rows are store/tlsrpt_in.c's.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "mail/tlsrpt_report.h"
#include "store/tlsrpt_in.h"
#include "web/api_relay.h"
#include "web/internal.h"

/* The newest rows the API lists. */
#define TLSRPT_LIST_MAX 500

/* Whether the media type (parameters aside) is type. */
static bool
media_is(const char *ctype, const char *type)
{
	size_t n = strlen(type);
	return ctype != NULL && strncasecmp(ctype, type, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

enum MHD_Result
api_tlsrpt_post(struct web_request *r)
{
	const char *ctype = MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_CONTENT_TYPE);
	/* RFC 8460 §6.4/§6.5: the two media types of a report */
	if (!media_is(ctype, "application/tlsrpt+gzip") &&
	    !media_is(ctype, "application/tlsrpt+json"))
		return reply_problem(r, 415, "a TLS report is application/tlsrpt+gzip or"
				     " application/tlsrpt+json");
	struct tlsrpt_report rep;
	const char *error;
	if (tlsrpt_report_decode(r->body.data != NULL ? r->body.data : "", r->body.len, &rep,
				 &error) < 0)
		return reply_problem(r, 400, "not a TLS report: %s", error);
	unsigned kept = 0;
	int st = tlsrpt_in_add(r->st, &rep, "https", time(NULL), &kept, &error);
	if (st == STORE_NOTFOUND) {
		tlsrpt_report_clear(&rep);
		return reply_problem(r, 422, "%s", error);
	}
	if (st != STORE_OK) {
		tlsrpt_report_clear(&rep);
		return reply_store_error(r, st, error);
	}
	log_info("web tls-report org=\"%s\" id=\"%s\" policies=%u ip=%s",
		 esc_str(rep.org), esc_str(rep.report_id), kept, r->peer_ip);
	tlsrpt_report_clear(&rep);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "policies", kept);
	return reply_json(r, 201, o);
}

enum MHD_Result
api_tlsrpt_list(struct web_request *r)
{
	struct tlsrpt_in_row *list = NULL;
	size_t n = 0;
	const char *error;
	int st = tlsrpt_in_list(r->st, TLSRPT_LIST_MAX, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		const struct tlsrpt_in_row *x = &list[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "received", json_time(x->received));
		cJSON_AddStringToObject(o, "via", x->via);
		cJSON_AddStringToObject(o, "organization", x->organization);
		cJSON_AddStringToObject(o, "report_id", x->report_id);
		cJSON_AddStringToObject(o, "contact", x->contact);
		cJSON_AddStringToObject(o, "start", x->start);
		cJSON_AddStringToObject(o, "end", x->end);
		cJSON_AddStringToObject(o, "policy_type", x->policy_type);
		cJSON_AddStringToObject(o, "policy_domain", x->policy_domain);
		if (x->mx_host != NULL)
			cJSON_AddStringToObject(o, "mx_host", x->mx_host);
		else
			cJSON_AddNullToObject(o, "mx_host");
		cJSON_AddNumberToObject(o, "success", (double)x->success);
		cJSON_AddNumberToObject(o, "failure", (double)x->failure);
		cJSON_AddStringToObject(o, "details", x->details);
		cJSON_AddItemToArray(arr, o);
	}
	tlsrpt_in_list_free(&list, n);
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "reports", arr);
	return reply_json(r, 200, body);
}

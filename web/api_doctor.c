/*
 * api_doctor: GET /api/v1/doctor (admin), the findings of `mailhub doctor`
 * (doctor/doctor.h) as JSON for the dashboard:
 *   {"findings": [{"domain": null | "example.org", "check": "spf",
 *                  "status": "ok" | "info" | "warn" | "fail", "text": "..."}],
 *    "fail": N, "warn": N}
 * Query: domain=NAME (one local domain), address=IP (the public address to
 * check instead of the host name's), probe=HOST:PORT (the outbound port 25
 * probe; "none" skips it; default that of the command line).
 * It waits for DNS and for the probe (DOCTOR_PROBE_SECONDS at most) on the
 * request's thread: an admin's occasional check, not a page anybody loads.
 */
#include <string.h>

#include "doctor/doctor.h"
#include "web/api.h"
#include "web/internal.h"

#define DOCTOR_DEFAULT_PROBE "gmail-smtp-in.l.google.com:25"

enum MHD_Result
api_doctor_get(struct web_request *r)
{
	const char *domain = web_query(r, "domain"), *address = web_query(r, "address");
	const char *probe = web_query(r, "probe"), *error;
	if (probe == NULL)
		probe = DOCTOR_DEFAULT_PROBE;
	else if (strcmp(probe, "none") == 0)
		probe = NULL;
	if (domain != NULL && !store_domain_name_valid(domain))
		return reply_problem(r, 422, "domain: not a domain name");
	struct doctor_report rep;
	doctor_report_init(&rep);
	int st = doctor_collect(r->st, r->srv->cfg, domain, address, probe, &rep, &error);
	if (st != STORE_OK) {
		doctor_report_free(&rep);
		return reply_store_error(r, st, error);
	}
	cJSON *body = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(body, "findings");
	for (size_t i = 0; i < rep.n; i++) {
		const struct doctor_finding *f = &rep.f[i];
		cJSON *o = cJSON_CreateObject();
		if (f->domain != NULL)
			cJSON_AddStringToObject(o, "domain", f->domain);
		else
			cJSON_AddNullToObject(o, "domain");
		cJSON_AddStringToObject(o, "check", f->check);
		cJSON_AddStringToObject(o, "status", doctor_status_name(f->status));
		cJSON_AddStringToObject(o, "text", f->text);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(body, "fail", (double)doctor_report_count(&rep, DOCTOR_FAIL));
	cJSON_AddNumberToObject(body, "warn", (double)doctor_report_count(&rep, DOCTOR_WARN));
	doctor_report_free(&rep);
	return reply_json(r, 200, body);
}

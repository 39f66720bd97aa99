/*
 * api_status: GET /api/v1/status.  Anonymous callers learn only that the
 * server is up; signed-in callers get version, uptime and listeners, and an
 * admin also the counts, the queue, the disk used, the state of every
 * upstream account and of the spam defence (the dashboard).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/tls.h"
#include "doctor/doctor.h"
#include "store/queue.h"
#include "store/spam.h"
#include "store/stats.h"
#include "store/upstreams.h"
#include "trust/rspamd_client.h"
#include "web/api.h"
#include "web/internal.h"

/* Each account's state for the dashboard, with totals. */
static cJSON *
upstream_summary(const struct store_upstream *ups, size_t n)
{
	unsigned enabled = 0, failing = 0;
	double fetched = 0;
	cJSON *o = cJSON_CreateObject();
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		const struct store_upstream *u = &ups[i];
		enabled += u->set.enabled;
		failing += u->set.enabled && u->last_error != NULL;
		fetched += (double)u->fetched;
		cJSON *a = cJSON_CreateObject();
		cJSON_AddNumberToObject(a, "id", (double)u->id);
		cJSON_AddStringToObject(a, "owner", u->owner);
		cJSON_AddStringToObject(a, "host", u->set.host);
		cJSON_AddBoolToObject(a, "enabled", u->set.enabled);
		cJSON_AddItemToObject(a, "last_ok", json_time(u->last_ok));
		if (u->last_error != NULL)
			cJSON_AddStringToObject(a, "last_error", u->last_error);
		else
			cJSON_AddNullToObject(a, "last_error");
		cJSON_AddItemToArray(list, a);
	}
	cJSON_AddNumberToObject(o, "accounts", (double)n);
	cJSON_AddNumberToObject(o, "enabled", enabled);
	cJSON_AddNumberToObject(o, "failing", failing);
	cJSON_AddNumberToObject(o, "fetched", fetched);
	cJSON_AddItemToObject(o, "list", list);
	return o;
}

/* A list setting ("a, b c") as a JSON array of its entries. */
static cJSON *
list_of(const char *text)
{
	cJSON *a = cJSON_CreateArray();
	for (const char *p = text; p != NULL;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		char *item = xstrndup(p, len);
		cJSON_AddItemToArray(a, cJSON_CreateString(item));
		free(item);
		p += len;
	}
	return a;
}

/*
 * The spam defence: whether rspamd answers (the last contact with its
 * normal worker: a check, or the spam worker's ping when mail is quiet),
 * the learning through its controller, and the lists in use.
 */
/* What the doctor says of the certificates in use (the one of [tls] or
 * the self-signed one, and those of [tls] sni): self-signed, expiring
 * within DOCTOR_CERT_DAYS days, or not for the host name; no network. */
static cJSON *
certificate_findings(const struct config *cfg)
{
	char *cert = cfg->tls_cert != NULL ? xstrdup(cfg->tls_cert)
		: xasprintf("%s/%s", cfg->data_dir, TLS_SELFSIGNED_CERT);
	struct doctor_params p = {
		.hostname = cfg->hostname != NULL ? cfg->hostname : "localhost",
		.cert_path = cert,
		.sni_dir = cfg->tls_sni,
		.now = time(NULL),
	};
	struct doctor_report rep;
	doctor_report_init(&rep);
	doctor_check_certificate(&p, &rep);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < rep.n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "status", doctor_status_name(rep.f[i].status));
		cJSON_AddStringToObject(o, "text", rep.f[i].text);
		cJSON_AddItemToArray(arr, o);
	}
	doctor_report_free(&rep);
	free(cert);
	return arr;
}

static cJSON *
spam_summary(const struct config *cfg, unsigned queued)
{
	struct rspamd_status st;
	rspamd_status_get(&st);
	cJSON *o = cJSON_CreateObject();
	cJSON *rs = cJSON_AddObjectToObject(o, "rspamd");
	cJSON_AddBoolToObject(rs, "configured", cfg->rspamd_url != NULL);
	if (cfg->rspamd_url != NULL) {
		cJSON_AddStringToObject(rs, "url", cfg->rspamd_url);
		cJSON_AddStringToObject(rs, "state", st.last_contact == 0 ? "unknown"
						     : st.ok		   ? "connected"
									   : "unavailable");
		cJSON_AddItemToObject(rs, "last_contact", json_time((int64_t)st.last_contact));
		cJSON_AddStringToObject(rs, "last_result", st.last_result);
		cJSON_AddNumberToObject(rs, "checked", (double)st.checked);
		cJSON_AddNumberToObject(rs, "unchecked", (double)st.unavailable);
	}
	cJSON *learn = cJSON_AddObjectToObject(rs, "learning");
	cJSON_AddBoolToObject(learn, "configured", cfg->rspamd_controller != NULL);
	if (cfg->rspamd_controller != NULL) {
		cJSON_AddItemToObject(learn, "last", json_time((int64_t)st.last_learn));
		cJSON_AddBoolToObject(learn, "ok", st.last_learn == 0 || st.learn_ok);
		cJSON_AddStringToObject(learn, "last_result", st.learn_result);
		cJSON_AddNumberToObject(learn, "learned", (double)st.learned);
		cJSON_AddNumberToObject(learn, "queued", queued);
	}
	cJSON_AddItemToObject(o, "dnsbl", list_of(cfg->dnsbl));
	cJSON_AddBoolToObject(o, "greylist", cfg->greylist);
	return o;
}

enum MHD_Result
api_status_get(struct web_request *r)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "status", "ok");
	if (r->auth == WEB_AUTH_NONE)
		return reply_json(r, 200, body);

	const struct config *cfg = r->srv->cfg;
	cJSON_AddStringToObject(body, "version", PACKAGE_VERSION);
	cJSON_AddStringToObject(body, "hostname", cfg->hostname);
	cJSON_AddNumberToObject(body, "uptime", (double)(time(NULL) - r->srv->started));
	cJSON *listeners = cJSON_AddObjectToObject(body, "listeners");
	for (int k = 0; k < LISTEN_COUNT; k++)
		if (cfg->listen[k].enabled)
			cJSON_AddStringToObject(listeners, config_listen_name((enum listen_kind)k),
						cfg->listen[k].text);
	cJSON_AddBoolToObject(body, "admin_tls", r->srv->tls);
	if (!web_is_admin(r))
		return reply_json(r, 200, body);

	const char *error;
	struct store_stats stats;
	int st = store_stats_get(r->st, &stats, &error);
	if (st != STORE_OK) {
		cJSON_Delete(body);
		return reply_store_error(r, st, error);
	}
	cJSON_AddNumberToObject(body, "domains", stats.domains);
	cJSON_AddNumberToObject(body, "users", stats.users);
	cJSON_AddNumberToObject(body, "aliases", stats.aliases);
	cJSON *disk = cJSON_AddObjectToObject(body, "disk");
	cJSON_AddNumberToObject(disk, "messages", (double)stats.blob_bytes);
	cJSON_AddNumberToObject(disk, "message_files", (double)stats.blob_files);
	cJSON_AddNumberToObject(disk, "database", (double)stats.db_bytes);

	unsigned messages = 0, open = 0;
	st = store_queue_count(r->st, &messages, &open, &error);
	if (st != STORE_OK) {
		cJSON_Delete(body);
		return reply_store_error(r, st, error);
	}
	cJSON *queue = cJSON_AddObjectToObject(body, "queue");
	cJSON_AddNumberToObject(queue, "messages", messages);
	cJSON_AddNumberToObject(queue, "open_recipients", open);
	struct store_upstream *ups = NULL;
	size_t n = 0;
	st = store_upstream_list(r->st, 0, &ups, &n, &error);
	if (st != STORE_OK) {
		cJSON_Delete(body);
		return reply_store_error(r, st, error);
	}
	cJSON_AddItemToObject(body, "upstreams", upstream_summary(ups, n));
	store_upstream_list_free(&ups, n);
	unsigned queued = 0;
	if (cfg->rspamd_controller != NULL &&
	    (st = store_learn_count(r->st, &queued, &error)) != STORE_OK) {
		cJSON_Delete(body);
		return reply_store_error(r, st, error);
	}
	cJSON_AddItemToObject(body, "spam", spam_summary(cfg, queued));
	cJSON_AddItemToObject(body, "certificates", certificate_findings(cfg));
	return reply_json(r, 200, body);
}

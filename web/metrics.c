/*
 * metrics: GET /metrics, the Prometheus text format of core/metrics.h, and
 * GET /api/v1/metrics/history, the samples behind the dashboard's chart.
 *
 * /metrics sits outside /api/v1 where scrapers look for it.  It takes the
 * bearer token of an admin (mailhub token create), or [admin]
 * metrics_token, which opens this one path and nothing else, so that the
 * scraper holds no admin's token.  A wrong token counts as a failed login
 * for the address, as on every other route.
 */
#include <string.h>

#include "core/config.h"
#include "core/hash.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/throttle.h"
#include "store/stats.h"
#include "web/api.h"
#include "web/internal.h"

/* Reads the gauges the store and the listener know now. */
static int
gauges_read(struct web_request *r, struct metrics_gauges *g, const char **error_r)
{
	struct store_metrics m;
	memset(g, 0, sizeof *g);
	int st = store_metrics_get(r->st, &m, error_r);
	if (st != STORE_OK)
		return st;
	g->queue_messages = m.queue_messages;
	g->queue_recipients = m.queue_recipients;
	g->queue_oldest = m.queue_oldest;
	g->store_messages = m.messages;
	g->store_bytes = m.bytes;
	for (unsigned i = 0; i < METRICS_PROTO_WEB; i++)
		g->sessions[i] = listener_active(metrics_proto_name((enum metrics_proto)i));
	g->started = r->srv->started;
	return STORE_OK;
}

/* True when the request carries [admin] metrics_token. */
static bool
metrics_token_given(struct web_request *r)
{
	const char *want = r->srv->cfg->metrics_token;
	const char *authz = MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);
	if (want == NULL || authz == NULL || strncmp(authz, "Bearer ", 7) != 0)
		return false;
	size_t n = strlen(want);
	return strlen(authz + 7) == n && mem_equal_ct(authz + 7, want, n);
}

bool
web_metrics_serve(struct web_request *r, enum MHD_Result *result_r)
{
	const char *error;

	if (strcmp(r->path, "/metrics") != 0)
		return false;
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		r->allow = "GET, HEAD";
		*result_r = reply_problem(r, 405, "only GET and HEAD are allowed here");
		return true;
	}
	if (!metrics_token_given(r)) {
		if (throttle_blocked(r->peer_ip)) {
			*result_r = reply_problem(r, 429, "too many failed logins from this "
						  "address; try later");
			return true;
		}
		if (!web_authenticate(r, ROUTE_AUTH | ROUTE_ADMIN, result_r))
			return true;
		if (r->auth == WEB_AUTH_NONE) {
			*result_r = reply_problem(r, 401, "authentication required: an admin's "
						  "bearer token or [admin] metrics_token");
			return true;
		}
		if (!web_is_admin(r)) {
			*result_r = reply_problem(r, 403, "this needs an admin");
			return true;
		}
	}
	struct metrics_gauges g;
	int st = gauges_read(r, &g, &error);
	if (st != STORE_OK) {
		*result_r = reply_store_error(r, st, error);
		return true;
	}
	struct buf out = BUF_INIT;
	metrics_render(&g, time(NULL), &out);
	*result_r = reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8",
				buf_cstr(&out), out.len, NULL);
	buf_free(&out);
	return true;
}

static cJSON *
sample_json(const struct metrics_sample *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time", (double)s->time);
	cJSON_AddNumberToObject(o, "received", (double)s->received);
	cJSON_AddNumberToObject(o, "delivered", (double)s->delivered);
	cJSON_AddNumberToObject(o, "deferred", (double)s->deferred);
	cJSON_AddNumberToObject(o, "bounced", (double)s->bounced);
	cJSON_AddNumberToObject(o, "rejected", (double)s->rejected);
	cJSON_AddNumberToObject(o, "logins_failed", (double)s->logins_failed);
	cJSON_AddNumberToObject(o, "queue", (double)s->queue);
	return o;
}

/* GET /api/v1/metrics/history (admin): {"interval", "samples": [...]} of
 * the last day, oldest first, the counters as they were then (the chart
 * draws the differences), and the last one taken now. */
enum MHD_Result
api_metrics_history(struct web_request *r)
{
	const char *error;
	struct metrics_gauges g;
	int st = gauges_read(r, &g, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	time_t now = time(NULL);
	struct metrics_sample *samples = xcalloc(METRICS_HISTORY_MAX + 1, sizeof *samples);
	size_t n = metrics_history((int64_t)now - 86400, samples);
	metrics_sample_now(now, g.queue_messages, &samples[n++]);
	cJSON *body = cJSON_CreateObject();
	cJSON_AddNumberToObject(body, "interval", r->srv->cfg->metrics_interval);
	cJSON *arr = cJSON_AddArrayToObject(body, "samples");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, sample_json(&samples[i]));
	free(samples);
	return reply_json(r, 200, body);
}

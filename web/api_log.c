/*
 * api_log: GET /api/v1/log (admin): the recent events of the in-memory log
 * ring, oldest first, optionally searched:
 *   after=SEQ    only events after this one (the panel polls with the last
 *                seq it has seen)
 *   limit=N      the newest N of those that match
 *   level=L      L and above (debug, info, warning, error)
 *   since=T, until=T   RFC 3339 date-times, or Unix seconds
 *   q=TEXT       the text contains TEXT (ASCII case ignored)
 *   address=A    the event names address A anywhere (from=, to=, user=...)
 *   user=U       the event's user=U
 *   queue=ID     the event's id=ID (a message's queue id)
 * Log lines were escaped when written (log.h), and JSON encoding escapes
 * them again for the wire.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "web/api.h"
#include "web/internal.h"
#include "web/rfc3339.h"

/* Reads an optional query number; false (and a 422) when malformed. */
static bool
query_uint(struct web_request *r, const char *key, uint64_t max, uint64_t *out)
{
	const char *s = web_query(r, key);
	if (s == NULL)
		return true;
	uint64_t v = 0;
	if (*s == '\0' || strlen(s) > 19)
		goto bad;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		goto bad;
	*out = v;
	return true;
bad:
	reply_problem(r, 422, "query parameter '%s' must be a whole number from 0 to %llu",
		      key, (unsigned long long)max);
	return false;
}

/* An optional time: RFC 3339, or Unix seconds; false (and a 422) when
 * malformed. */
static bool
query_time(struct web_request *r, const char *key, int64_t *out)
{
	const char *s = web_query(r, key);
	if (s == NULL)
		return true;
	uint64_t secs;
	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 12) {
		if (!query_uint(r, key, UINT32_MAX * 64ULL, &secs))
			return false;
		*out = (int64_t)secs;
		return true;
	}
	if (!rfc3339_parse(s, out)) {
		reply_problem(r, 422, "query parameter '%s' must be an RFC 3339 date-time"
			      " or Unix seconds", key);
		return false;
	}
	return true;
}

/* Whether hay contains needle, ASCII case ignored. */
static bool
contains_nocase(const char *hay, const char *needle)
{
	size_t nl = strlen(needle);
	if (nl == 0)
		return true;
	for (const char *p = hay; *p != '\0'; p++) {
		if (strncasecmp(p, needle, nl) == 0)
			return true;
	}
	return false;
}

/* Whether text has the word key=value (value to the next space, or the
 * end), value compared with ASCII case ignored. */
static bool
has_field(const char *text, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	for (const char *p = text; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p != text && p[-1] != ' ') || p[kl] != '=')
			continue;
		const char *v = p + kl + 1;
		if (*v == '<')
			v++;	/* from=<a@b> */
		if (strncasecmp(v, value, vl) == 0 &&
		    (v[vl] == '\0' || v[vl] == ' ' || v[vl] == '>'))
			return true;
	}
	return false;
}

struct log_filter {
	enum log_level level;
	int64_t since, until;
	const char *q, *address, *user, *queue;
};

static bool
matches(const struct log_event *ev, const struct log_filter *f)
{
	return ev->level >= f->level && (int64_t)ev->time >= f->since &&
	       (int64_t)ev->time <= f->until &&
	       (f->q == NULL || contains_nocase(ev->text, f->q)) &&
	       (f->address == NULL || contains_nocase(ev->text, f->address)) &&
	       (f->user == NULL || has_field(ev->text, "user", f->user)) &&
	       (f->queue == NULL || has_field(ev->text, "id", f->queue));
}

enum MHD_Result
api_log_get(struct web_request *r)
{
	uint64_t after = 0, limit = LOG_RING_SIZE;
	struct log_filter f = { LOG_LEVEL_DEBUG, 0, INT64_MAX, NULL, NULL, NULL, NULL };
	if (!query_uint(r, "after", UINT64_MAX / 2, &after) ||
	    !query_uint(r, "limit", LOG_RING_SIZE, &limit) ||
	    !query_time(r, "since", &f.since) || !query_time(r, "until", &f.until))
		return MHD_YES;
	const char *level = web_query(r, "level");
	if (level != NULL && log_level_parse(level, &f.level) < 0) {
		reply_problem(r, 422, "query parameter 'level' must be debug, info,"
			      " warning or error");
		return MHD_YES;
	}
	f.q = web_query(r, "q");
	f.address = web_query(r, "address");
	f.user = web_query(r, "user");
	f.queue = web_query(r, "queue");
	struct log_event *ev = xcalloc(LOG_RING_SIZE, sizeof *ev);
	size_t n = log_ring_read(after, ev, LOG_RING_SIZE);
	uint64_t last = n > 0 ? ev[n - 1].seq : after;
	/* keep the ones that match, in order */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (matches(&ev[i], &f))
			ev[m++] = ev[i];
	}
	n = m;
	/* The newest `limit` of them. */
	size_t first = n > limit ? n - (size_t)limit : 0;
	cJSON *body = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(body, "events");
	for (size_t i = first; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "seq", (double)ev[i].seq);
		cJSON_AddItemToObject(o, "time", json_time((int64_t)ev[i].time));
		cJSON_AddStringToObject(o, "level", log_level_name(ev[i].level));
		cJSON_AddStringToObject(o, "text", ev[i].text);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(body, "last", (double)last);
	free(ev);
	return reply_json(r, 200, body);
}

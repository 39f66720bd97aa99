/*
 * api_log: GET /api/v1/log?after=SEQ&limit=N (admin): the recent events of
 * the in-memory log ring, oldest first.  The panel polls with the last seq
 * it has seen.  Log lines were escaped when written (log.h), and JSON
 * encoding escapes them again for the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "web/api.h"
#include "web/internal.h"

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

enum MHD_Result
api_log_get(struct web_request *r)
{
	uint64_t after = 0, limit = LOG_RING_SIZE;
	if (!query_uint(r, "after", UINT64_MAX / 2, &after) ||
	    !query_uint(r, "limit", LOG_RING_SIZE, &limit))
		return MHD_YES;
	struct log_event *ev = xcalloc(LOG_RING_SIZE, sizeof *ev);
	size_t n = log_ring_read(after, ev, LOG_RING_SIZE);
	/* The newest `limit` of them. */
	size_t first = n > limit ? n - (size_t)limit : 0;
	cJSON *body = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(body, "events");
	uint64_t last = after;
	for (size_t i = first; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "seq", (double)ev[i].seq);
		cJSON_AddItemToObject(o, "time", json_time((int64_t)ev[i].time));
		cJSON_AddStringToObject(o, "level", log_level_name(ev[i].level));
		cJSON_AddStringToObject(o, "text", ev[i].text);
		cJSON_AddItemToArray(arr, o);
	}
	if (n > 0)
		last = ev[n - 1].seq;
	cJSON_AddNumberToObject(body, "last", (double)last);
	free(ev);
	return reply_json(r, 200, body);
}

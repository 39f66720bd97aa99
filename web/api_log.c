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
 *
 * The SMTP server's line for each message it accepted or refused
 * (smtp/delivery.c, smtp/body.c) carries the verdicts of the inbound
 * checks as words (spf=pass dkim=pass dkim.d=D dmarc=pass header.from=D
 * spam="add header" score=6.00 folder=Junk ...); such an event also has
 * them as fields, in "checks", so that the panel shows them as such.
 */
#include <stdio.h>
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

/* ---- a message's verdicts ------------------------------------------------ */

/* The words of a message's line that carry verdicts, and their names in
 * "checks"; score is spam_score, a number. */
static const struct {
	const char *word, *name;
	bool verdict;	/* a check's verdict (not the message's own data) */
} check_words[] = {
	{ "id", "id", false },
	{ "from", "from", false },
	{ "spf", "spf", true },
	{ "dkim", "dkim", true },
	{ "dkim.d", "dkim_domain", false },
	{ "arc", "arc", true },
	{ "dmarc", "dmarc", true },
	{ "header.from", "header_from", false },
	{ "dmarc.policy", "dmarc_policy", false },
	{ "dmarc.override", "dmarc_override", false },
	{ "arc.d", "arc_domain", false },
	{ "spoofing", "spoofing", true },
	{ "spam", "spam", true },
	{ "folder", "folder", false },
	{ "reply", "reply", false },
};

/* The next word=value of *pp (value to the next space, or in double
 * quotes); false at the end. */
static bool
next_word(const char **pp, const char **k, size_t *kl, const char **v, size_t *vl)
{
	const char *p = *pp;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return false;
		*k = p;
		while (*p != '\0' && *p != ' ' && *p != '=')
			p++;
		*kl = (size_t)(p - *k);
		if (*p != '=')
			continue;
		p++;
		if (*p == '"') {
			*v = ++p;
			while (*p != '\0' && *p != '"')
				p += p[0] == '\\' && p[1] != '\0' ? 2 : 1;
			*vl = (size_t)(p - *v);
			if (*p == '"')
				p++;
		} else {
			*v = p;
			while (*p != '\0' && *p != ' ')
				p++;
			*vl = (size_t)(p - *v);
		}
		*pp = p;
		return true;
	}
}

/* The verdicts of a message's line as fields, or NULL when text is not
 * such a line or has none (mail the checks did not look at). */
static cJSON *
message_checks(const char *text)
{
	const char *p = strstr(text, "] ");
	if (p == NULL)
		return NULL;
	p += 2;
	bool accepted = strncmp(p, "accepted id=", 12) == 0;
	if (!accepted && strncmp(p, "refused id=", 11) != 0)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "outcome", accepted ? "accepted" : "refused");
	bool any = false;
	const char *k, *v;
	size_t kl, vl;
	while (next_word(&p, &k, &kl, &v, &vl)) {
		if (kl == 5 && memcmp(k, "score", 5) == 0) {
			char num[32];
			snprintf(num, sizeof num, "%.*s", (int)(vl < 31 ? vl : 31), v);
			cJSON_AddNumberToObject(o, "spam_score", strtod(num, NULL));
			continue;
		}
		for (size_t i = 0; i < sizeof check_words / sizeof check_words[0]; i++) {
			const char *w = check_words[i].word;
			if (strlen(w) != kl || memcmp(k, w, kl) != 0 ||
			    cJSON_HasObjectItem(o, check_words[i].name))
				continue;
			if (vl >= 2 && v[0] == '<' && v[vl - 1] == '>') {
				v++;	/* from=<a@b> */
				vl -= 2;
			}
			char *val = xasprintf("%.*s", (int)vl, v);
			cJSON_AddStringToObject(o, check_words[i].name, val);
			free(val);
			any = any || check_words[i].verdict;
			break;
		}
	}
	if (!any) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
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
		cJSON *checks = message_checks(ev[i].text);
		if (checks != NULL)
			cJSON_AddItemToObject(o, "checks", checks);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(body, "last", (double)last);
	free(ev);
	return reply_json(r, 200, body);
}

/*
 * api_doctor: GET /api/v1/doctor (admin), the findings of `mailhub doctor`
 * (doctor/doctor.h) for the dashboard, checked in the background:
 *   {"findings": [{"domain": null | "example.org", "check": "spf",
 *                  "status": "ok" | "info" | "warn" | "fail", "text": "..."}],
 *    "fail": N, "warn": N, "checked": TIME | null, "running": BOOL,
 *    "error": null | "..."}
 * Query: domain=NAME (one local domain), address=IP (the public address to
 * check instead of the host name's), probe=HOST:PORT (the outbound port 25
 * probe; "none" skips it; default that of the command line), run=1 (check
 * now).
 *
 * The doctor asks DNS and waits for the port 25 probe (up to
 * DOCTOR_PROBE_SECONDS), too long for a request thread: a few slow checks
 * would hold libmicrohttpd's threads and stall the whole panel.  So the
 * route answers at once with the last findings for the same query and
 * their time ("checked"), and run=1 starts a check in a thread of its own
 * unless one runs ("running" says so; the dashboard polls until it is
 * false).  One check runs at a time in the process; the findings of the
 * last DOCTOR_CACHE_MAX queries are kept.  `mailhub doctor` (the command
 * line) stays synchronous.
 *
 * This file owns the cache and the check's thread behind its own lock.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "doctor/doctor.h"
#include "web/api.h"
#include "web/internal.h"

#define DOCTOR_DEFAULT_PROBE "gmail-smtp-in.l.google.com:25"
/* Queries whose findings are kept. */
#define DOCTOR_CACHE_MAX 8

struct doctor_entry {
	char *key;		/* domain, address, probe: the query */
	char *domain, *address, *probe;
	cJSON *result;		/* {"findings","fail","warn"}; NULL: never checked */
	char *error;		/* the last check failed: why */
	time_t checked;		/* when the last check ended (0: never) */
	time_t used;		/* last asked for (the oldest goes first) */
	bool running;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct doctor_entry e[DOCTOR_CACHE_MAX];
	size_t n;
	bool running;		/* a check's thread is alive */
	bool closed;		/* stopping: no new check */
} D = { .lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };

struct doctor_job {
	const struct config *cfg;
	char *key, *domain, *address, *probe;
};

static void
entry_clear(struct doctor_entry *e)
{
	free(e->key);
	free(e->domain);
	free(e->address);
	free(e->probe);
	cJSON_Delete(e->result);
	free(e->error);
	memset(e, 0, sizeof *e);
}

/* Under D.lock: the entry of key, or NULL. */
static struct doctor_entry *
entry_find(const char *key)
{
	for (size_t i = 0; i < D.n; i++)
		if (strcmp(D.e[i].key, key) == 0)
			return &D.e[i];
	return NULL;
}

/* Under D.lock: a new entry for the query, in place of the one least
 * recently asked for (never the one being checked) when all are taken. */
static struct doctor_entry *
entry_add(const char *key, const char *domain, const char *address, const char *probe)
{
	struct doctor_entry *e = NULL;
	if (D.n < DOCTOR_CACHE_MAX) {
		e = &D.e[D.n++];
	} else {
		for (size_t i = 0; i < D.n; i++)
			if (!D.e[i].running && (e == NULL || D.e[i].used < e->used))
				e = &D.e[i];
		entry_clear(e);
	}
	e->key = xstrdup(key);
	e->domain = domain != NULL ? xstrdup(domain) : NULL;
	e->address = address != NULL ? xstrdup(address) : NULL;
	e->probe = probe != NULL ? xstrdup(probe) : NULL;
	return e;
}

static cJSON *
report_json(const struct doctor_report *rep)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(body, "findings");
	for (size_t i = 0; i < rep->n; i++) {
		const struct doctor_finding *f = &rep->f[i];
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
	cJSON_AddNumberToObject(body, "fail", (double)doctor_report_count(rep, DOCTOR_FAIL));
	cJSON_AddNumberToObject(body, "warn", (double)doctor_report_count(rep, DOCTOR_WARN));
	return body;
}

static void *
doctor_thread(void *arg)
{
	struct doctor_job *job = arg;
	struct store *st = NULL;
	struct doctor_report rep;
	const char *error = NULL;
	cJSON *result = NULL;
	doctor_report_init(&rep);
	int ret = store_open(job->cfg->data_dir, &st, &error);
	if (ret == STORE_OK)
		ret = doctor_collect(st, job->cfg, job->domain, job->address, job->probe, &rep,
				     &error);
	if (ret == STORE_OK)
		result = report_json(&rep);
	else
		log_error("web doctor: %s", error);
	char *why = ret == STORE_OK ? NULL : xstrdup(error);
	doctor_report_free(&rep);
	store_close(&st);
	pthread_mutex_lock(&D.lock);
	struct doctor_entry *e = entry_find(job->key);
	if (e != NULL) {
		e->running = false;
		e->checked = time(NULL);
		free(e->error);
		e->error = why;
		why = NULL;
		if (result != NULL) {
			cJSON_Delete(e->result);
			e->result = result;
			result = NULL;
		}
	}
	D.running = false;
	pthread_cond_broadcast(&D.done);
	pthread_mutex_unlock(&D.lock);
	free(why);
	cJSON_Delete(result);
	free(job->key);
	free(job->domain);
	free(job->address);
	free(job->probe);
	free(job);
	return NULL;
}

/* Under D.lock: starts the check of e unless one runs; false when it
 * could not start. */
static bool
start_check(const struct config *cfg, struct doctor_entry *e)
{
	if (D.running || D.closed)
		return false;
	struct doctor_job *job = xcalloc(1, sizeof *job);
	job->cfg = cfg;
	job->key = xstrdup(e->key);
	job->domain = e->domain != NULL ? xstrdup(e->domain) : NULL;
	job->address = e->address != NULL ? xstrdup(e->address) : NULL;
	job->probe = e->probe != NULL ? xstrdup(e->probe) : NULL;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int err = pthread_create(&t, &attr, doctor_thread, job);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		log_error("web doctor cannot start a thread: %s", strerror(err));
		free(job->key);
		free(job->domain);
		free(job->address);
		free(job->probe);
		free(job);
		return false;
	}
	D.running = true;
	e->running = true;
	return true;
}

void
web_doctor_close(int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&D.lock);
	D.closed = true;
	while (D.running)
		if (pthread_cond_timedwait(&D.done, &D.lock, &until) != 0)
			break;
	if (!D.running) {
		for (size_t i = 0; i < D.n; i++)
			entry_clear(&D.e[i]);
		D.n = 0;
	}
	pthread_mutex_unlock(&D.lock);
}

enum MHD_Result
api_doctor_get(struct web_request *r)
{
	const char *domain = web_query(r, "domain"), *address = web_query(r, "address");
	const char *probe = web_query(r, "probe"), *run = web_query(r, "run");
	if (probe == NULL)
		probe = DOCTOR_DEFAULT_PROBE;
	else if (strcmp(probe, "none") == 0)
		probe = NULL;
	if (domain != NULL && !store_domain_name_valid(domain))
		return reply_problem(r, 422, "domain: not a domain name");
	if (run != NULL && strcmp(run, "1") != 0 && strcmp(run, "0") != 0)
		return reply_problem(r, 422, "run: 1 (check now) or 0");
	if (domain != NULL) {
		/* checked here, at once: a check of no local domain is no check */
		int local = store_domain_is_local(r->st, domain);
		if (local < 0)
			return reply_problem(r, 500, "cannot read the domains; see the server log");
		if (local == 0)
			return reply_problem(r, 404, "%s is not a local domain", domain);
	}
	char *key = xasprintf("%s\n%s\n%s", domain != NULL ? domain : "",
			      address != NULL ? address : "", probe != NULL ? probe : "");
	cJSON *body = NULL;
	pthread_mutex_lock(&D.lock);
	struct doctor_entry *e = entry_find(key);
	if (e == NULL && run != NULL && strcmp(run, "1") == 0)
		e = entry_add(key, domain, address, probe);
	if (e != NULL) {
		e->used = time(NULL);
		if (run != NULL && strcmp(run, "1") == 0 && !e->running &&
		    start_check(r->srv->cfg, e))
			log_info("web doctor check started by=%s", r->user.address);
		body = e->result != NULL ? cJSON_Duplicate(e->result, true) : NULL;
	}
	if (body == NULL) {
		body = cJSON_CreateObject();
		cJSON_AddArrayToObject(body, "findings");
		cJSON_AddNumberToObject(body, "fail", 0);
		cJSON_AddNumberToObject(body, "warn", 0);
	}
	cJSON_AddItemToObject(body, "checked", json_time(e != NULL ? e->checked : 0));
	cJSON_AddBoolToObject(body, "running", e != NULL && e->running);
	if (e != NULL && e->error != NULL)
		cJSON_AddStringToObject(body, "error", e->error);
	else
		cJSON_AddNullToObject(body, "error");
	pthread_mutex_unlock(&D.lock);
	free(key);
	return reply_json(r, 200, body);
}

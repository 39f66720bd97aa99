/*
 * serve_spam: the spam worker (see serve_spam.h).
 */
#include "cli/serve_spam.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/spam.h"
#include "store/store.h"
#include "trust/rspamd_client.h"

/* How often the queue is looked at (a move is learned within this). */
#define POLL_SECONDS 2
/* Jobs taken per look. */
#define BATCH 16
/* A request of the worker lasts at most this (shutdown waits for it). */
#define SPAM_WORKER_TIMEOUT 10
/* rspamd is pinged when no message was checked for this long. */
#define PING_SECONDS 60
/* The greylisting triplets are swept this often. */
#define SWEEP_SECONDS 3600
/* A job that keeps failing is given up after this many tries or this age
 * (rspamd away for days: what users moved then is not worth learning). */
#define LEARN_ATTEMPTS_MAX 20
#define LEARN_AGE_MAX (2 * 86400)
/* Waits between tries: doubling from the first, up to the last. */
#define RETRY_FIRST 30
#define RETRY_MAX 3600

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool running;
	pthread_t thread;
	struct store *st;
	bool learn, ping, sweep;
	struct rspamd_server controller, normal;
	uint64_t max_size;
	struct store_greylist_policy grey;
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* Sleeps up to seconds; false once stopping. */
static bool
nap(unsigned seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&w.lock);
	while (!w.stop && pthread_cond_timedwait(&w.cond, &w.lock, &ts) != ETIMEDOUT)
		;
	bool go_on = !w.stop;
	pthread_mutex_unlock(&w.lock);
	return go_on;
}

static bool
stopping(void)
{
	pthread_mutex_lock(&w.lock);
	bool stop = w.stop;
	pthread_mutex_unlock(&w.lock);
	return stop;
}

static void
job_finish(const struct store_learn_job *j)
{
	const char *error;
	if (store_learn_done(w.st, j->id, &error) != STORE_OK)
		log_error("spam cannot remove learning job id=%lld: %s", (long long)j->id, error);
}

static void
learn_one(const struct store_learn_job *j)
{
	const char *what = j->spam ? "spam" : "ham", *error;
	int fd = -1;
	uint64_t size = 0;
	if (blob_open(w.st, j->blob, &fd, &size, &error) != STORE_OK) {
		log_warning("spam learn dropped user_id=%lld blob=%s: %s", (long long)j->user_id,
			    j->blob, error);
		job_finish(j);
		return;
	}
	if (size > w.max_size) {
		close(fd);
		log_info("spam learn skipped user_id=%lld blob=%s size=%llu (over rspamd_max_size)",
			 (long long)j->user_id, j->blob, (unsigned long long)size);
		job_finish(j);
		return;
	}
	struct buf reason = BUF_INIT;
	enum rspamd_learn_result r = rspamd_learn(&w.controller, j->spam, fd, size, &reason);
	close(fd);
	int64_t now = (int64_t)time(NULL);
	switch (r) {
	case RSPAMD_LEARN_OK:
	case RSPAMD_LEARN_DONE:
		log_info("spam learned as=%s user_id=%lld blob=%s%s%s", what,
			 (long long)j->user_id, j->blob, r == RSPAMD_LEARN_DONE ? " note=" : "",
			 r == RSPAMD_LEARN_DONE ? esc_str(buf_cstr(&reason)) : "");
		job_finish(j);
		break;
	case RSPAMD_LEARN_REFUSED:
		log_warning("spam learn refused as=%s user_id=%lld blob=%s: %s", what,
			    (long long)j->user_id, j->blob, esc_str(buf_cstr(&reason)));
		job_finish(j);
		break;
	case RSPAMD_LEARN_FAILED:
		if (j->attempts + 1 >= LEARN_ATTEMPTS_MAX || now - j->created > LEARN_AGE_MAX) {
			log_warning("spam learn given up as=%s user_id=%lld blob=%s after %u tries: %s",
				    what, (long long)j->user_id, j->blob, j->attempts + 1,
				    esc_str(buf_cstr(&reason)));
			job_finish(j);
			break;
		}
		unsigned wait = RETRY_FIRST;
		for (unsigned i = 0; i < j->attempts && wait < RETRY_MAX; i++)
			wait *= 2;
		if (wait > RETRY_MAX)
			wait = RETRY_MAX;
		log_info("spam learn deferred as=%s user_id=%lld blob=%s retry_in=%us: %s", what,
			 (long long)j->user_id, j->blob, wait, esc_str(buf_cstr(&reason)));
		if (store_learn_retry(w.st, j->id, now + wait, buf_cstr(&reason), &error) !=
		    STORE_OK)
			log_error("spam cannot reschedule learning job id=%lld: %s",
				  (long long)j->id, error);
		break;
	}
	buf_free(&reason);
}

static void
learn_due(void)
{
	struct store_learn_job *jobs = NULL;
	size_t n = 0;
	const char *error;
	if (store_learn_due(w.st, (int64_t)time(NULL), BATCH, &jobs, &n, &error) != STORE_OK) {
		log_error("spam cannot list learning jobs: %s", error);
		return;
	}
	for (size_t i = 0; i < n && !stopping(); i++)
		learn_one(&jobs[i]);
	free(jobs);
}

static void
ping(void)
{
	struct rspamd_status now;
	const char *error;
	rspamd_status_get(&now);
	if (now.last_contact + PING_SECONDS > time(NULL))
		return;	/* a recent check says enough */
	if (rspamd_ping(&w.normal, &error) < 0 && now.ok)
		log_warning("spam rspamd unavailable: %s", error);
}

static void
sweep(void)
{
	unsigned removed = 0;
	const char *error;
	if (store_greylist_sweep(w.st, (int64_t)time(NULL), &w.grey, &removed, &error) !=
	    STORE_OK)
		log_error("spam cannot sweep greylisting triplets: %s", error);
	else if (removed > 0)
		log_info("spam greylist swept=%u", removed);
}

static void *
worker_main(void *arg)
{
	(void)arg;
	time_t next_ping = 0, next_sweep = time(NULL) + SWEEP_SECONDS;
	do {
		if (w.learn)
			learn_due();
		if (w.ping && time(NULL) >= next_ping) {
			ping();
			next_ping = time(NULL) + PING_SECONDS;
		}
		if (w.sweep && time(NULL) >= next_sweep) {
			sweep();
			next_sweep = time(NULL) + SWEEP_SECONDS;
		}
	} while (nap(POLL_SECONDS));
	return NULL;
}

int
spam_worker_start(const struct config *cfg, const char **error_r)
{
	if (w.running)
		panic("spam_worker_start: already running");
	w.learn = cfg->rspamd_controller != NULL;
	w.ping = cfg->rspamd_url != NULL;
	/* rspamd's "greylist" action uses the triplets too */
	w.sweep = cfg->greylist || cfg->rspamd_url != NULL;
	if (!w.learn && !w.ping && !w.sweep)
		return 0;
	unsigned timeout = cfg->rspamd_timeout < SPAM_WORKER_TIMEOUT ? cfg->rspamd_timeout
								     : SPAM_WORKER_TIMEOUT;
	if ((w.learn && rspamd_server_init(&w.controller, cfg->rspamd_controller, timeout,
					   cfg->rspamd_password, error_r) < 0) ||
	    (w.ping && rspamd_server_init(&w.normal, cfg->rspamd_url, timeout, NULL,
					  error_r) < 0))
		goto fail;
	w.max_size = cfg->rspamd_max_size;
	w.grey.delay = cfg->greylist_delay;
	w.grey.retry_window = cfg->greylist_retry_window;
	w.grey.expire = cfg->greylist_expire;
	if (store_open(cfg->data_dir, &w.st, error_r) != STORE_OK)
		goto fail;
	w.stop = false;
	if (pthread_create(&w.thread, NULL, worker_main, NULL) != 0) {
		*error_r = "cannot start the spam worker";
		store_close(&w.st);
		goto fail;
	}
	w.running = true;
	log_info("spam worker started learn=%s ping=%s sweep=%s", w.learn ? "yes" : "no",
		 w.ping ? "yes" : "no", w.sweep ? "yes" : "no");
	return 0;
fail:
	rspamd_server_clear(&w.controller);
	rspamd_server_clear(&w.normal);
	return -1;
}

void
spam_worker_stop(void)
{
	if (!w.running)
		return;
	pthread_mutex_lock(&w.lock);
	w.stop = true;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	store_close(&w.st);
	rspamd_server_clear(&w.controller);
	rspamd_server_clear(&w.normal);
	w.running = false;
}

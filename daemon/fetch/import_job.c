/*
 * fetch/import_job.c: the panel's background IMAP imports (import_job.h).
 */
#include "fetch/import_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/client_conn.h"
#include "core/log.h"
#include "core/seal.h"
#include "core/xmalloc.h"
#include "fetch/import.h"
#include "store/store.h"

/* Each step of the source's connection (connect, each read and write). */
#define IMPORT_JOB_STEP_MS 60000
/* How long a stop waits for the jobs' threads. */
#define IMPORT_JOBS_STOP_MS 15000

struct job {
	struct job *next;
	int64_t user_id;
	atomic_bool stop;		/* asked to stop (cancel or shutdown) */
	bool cancelled;			/* ...by the user: it ends "cancelled" */
	struct client_conn_cancel cancel;
	/* under J.lock: what the panel is shown */
	struct import_job_progress p;
	char *folder;
	struct buf errors;		/* lines */
	unsigned n_errors;
	/* the thread's own */
	struct store *st;
	int64_t last_save_ms;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t done;		/* a thread ended */
	bool running;			/* started and not stopping */
	const struct config *cfg;
	struct job *jobs;
	unsigned n_jobs;		/* threads alive */
} J = { .lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under J.lock. */
static struct job *
job_find(int64_t user_id)
{
	for (struct job *j = J.jobs; j != NULL; j = j->next)
		if (j->user_id == user_id)
			return j;
	return NULL;
}

/* Under J.lock: takes j out of the list and frees it. */
static void
job_remove(struct job *j)
{
	for (struct job **p = &J.jobs; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	J.n_jobs--;
	client_conn_cancel_clear(&j->cancel);
	pthread_mutex_destroy(&j->cancel.lock);
	free(j->folder);
	buf_free(&j->errors);
	free(j);
	pthread_cond_broadcast(&J.done);
}

static void
job_on_error(struct import_run *r, const char *text)
{
	struct job *j = r->ctx;
	/* after a stop was asked for, what fails is its doing ("stopped",
	 * the connection cut): the state says it */
	if (atomic_load(&j->stop)) {
		log_info("import job user_id=%lld stopping: %s", (long long)j->user_id, text);
		return;
	}
	log_warning("import job user_id=%lld: %s", (long long)j->user_id, text);
	pthread_mutex_lock(&J.lock);
	if (j->n_errors < IMPORT_JOB_ERRORS_MAX) {
		size_t len = strlen(text);
		if (len > IMPORT_JOB_ERROR_LEN)
			len = IMPORT_JOB_ERROR_LEN;
		for (size_t i = 0; i < len; i++)
			buf_putc(&j->errors, text[i] == '\n' || text[i] == '\r' ? ' ' : text[i]);
		buf_putc(&j->errors, '\n');
	}
	j->n_errors++;
	pthread_mutex_unlock(&J.lock);
}

/* The progress of r as the row keeps it (under J.lock). */
static void
take_progress(struct job *j, const struct import_run *r)
{
	j->p.folders_total = r->folders_total;
	j->p.folders_done = r->folders_done;
	j->p.messages_total = r->messages_total;
	j->p.messages_done = r->messages_before + r->folder_done;
	if (j->p.messages_done > j->p.messages_total)
		j->p.messages_total = j->p.messages_done;
	j->p.imported = r->imported;
	j->p.skipped = r->skipped;
	j->p.failed = r->failed;
	if (r->folder != NULL && (j->folder == NULL || strcmp(j->folder, r->folder) != 0)) {
		free(j->folder);
		j->folder = xstrdup(r->folder);
	}
}

/* The errors as the row keeps them (malloc'd, NULL for none). */
static char *
errors_text(struct job *j)
{
	pthread_mutex_lock(&J.lock);
	char *text = NULL;
	if (j->errors.len > 0) {
		struct buf b = BUF_INIT;
		buf_append(&b, j->errors.data, j->errors.len - 1);	/* less the last LF */
		if (j->n_errors > IMPORT_JOB_ERRORS_MAX)
			buf_printf(&b, "\n... and %u more errors (see the server log)",
				   j->n_errors - IMPORT_JOB_ERRORS_MAX);
		text = buf_steal(&b);
	}
	pthread_mutex_unlock(&J.lock);
	return text;
}

static void
save_progress(struct job *j)
{
	struct import_job_progress p;
	const char *error;
	pthread_mutex_lock(&J.lock);
	p = j->p;
	pthread_mutex_unlock(&J.lock);
	char *errors = errors_text(j);
	if (store_import_job_progress(j->st, j->user_id, &p, errors, &error) != STORE_OK)
		log_warning("import job user_id=%lld: %s", (long long)j->user_id, error);
	free(errors);
	j->last_save_ms = now_ms();
}

static void
job_on_progress(struct import_run *r)
{
	struct job *j = r->ctx;
	pthread_mutex_lock(&J.lock);
	take_progress(j, r);
	pthread_mutex_unlock(&J.lock);
	if (now_ms() - j->last_save_ms >= IMPORT_JOB_SAVE_MS)
		save_progress(j);
}

/* One import, start to end (or to the stop), in its own thread. */
static void
job_run(struct job *j)
{
	struct store_import_job row = { 0 };
	struct upstream_settings set = { 0 };
	char *password = NULL;
	size_t password_len = 0;
	const char *error;
	enum import_job_state end = IMPORT_JOB_FAILED;
	struct import_run r = { 0 };

	if (store_open(J.cfg->data_dir, &j->st, &error) != STORE_OK) {
		log_error("import job user_id=%lld: %s", (long long)j->user_id, error);
		return;		/* the row stays running: the next start tries again */
	}
	if (store_import_job_get(j->st, j->user_id, &row, &error) != STORE_OK ||
	    row.state != IMPORT_JOB_RUNNING) {
		log_warning("import job user_id=%lld: %s", (long long)j->user_id,
			    row.user_id != 0 ? "not running" : error);
		goto out;
	}
	r.st = j->st;
	r.user_id = j->user_id;
	r.on_error = job_on_error;
	r.on_progress = job_on_progress;
	r.ctx = j;
	r.stop = &j->stop;
	if (row.password_sealed == NULL ||
	    unseal(row.password_sealed, &password, &password_len, &error) < 0) {
		import_error(&r, "the password of the source cannot be read back (was "
				 "secret.key replaced?); start the import again");
		goto finish;
	}
	set.protocol = UPSTREAM_IMAP;
	set.host = xstrdup(row.host);
	set.port = row.port;
	if (upstream_tls_parse(row.tls, &set.tls) < 0)
		set.tls = UPSTREAM_TLS_IMPLICIT;
	set.tls_verify = xstrdup(row.tls_verify);
	set.username = xstrdup(row.username);
	set.keep = true;
	set.enabled = true;
	if (upstream_settings_check(&set, &error) < 0) {
		import_error(&r, "%s", error);
		goto finish;
	}
	const struct client_conn_params params = {
		.timeout_ms = IMPORT_JOB_STEP_MS,
		.allow_private = row.allow_private,
		.cancel = &j->cancel,
	};
	log_info("import job user=%s host=%s port=%u username=%s started_by=%s resumed=%u",
		 row.address, esc_str(row.host), set.port, esc_str(row.username),
		 row.started_by, row.resumed);
	store_import_batch_new(j->st, &r.batch);
	int ret = import_imap_run(&r, &set, password, &params, row.folders);
	if (ret == 0)
		ret = import_commit(&r);
	store_import_batch_free(&r.batch);
	pthread_mutex_lock(&J.lock);
	take_progress(j, &r);
	bool cancelled = j->cancelled, stopping = atomic_load(&j->stop);
	pthread_mutex_unlock(&J.lock);
	if (stopping && !cancelled) {
		/* the daemon stops: the row stays running, resumed at the next start */
		save_progress(j);
		log_info("import job user=%s paused imported=%u skipped=%u: resumes at the next "
			 "start", row.address, r.imported, r.skipped);
		goto out;
	}
	end = cancelled ? IMPORT_JOB_CANCELLED : ret == 0 ? IMPORT_JOB_DONE : IMPORT_JOB_FAILED;
finish:;
	struct import_job_progress p;
	pthread_mutex_lock(&J.lock);
	p = j->p;
	pthread_mutex_unlock(&J.lock);
	char *errors = errors_text(j);
	if (store_import_job_finish(j->st, j->user_id, end, &p, errors, &error) != STORE_OK)
		log_error("import job user_id=%lld: %s", (long long)j->user_id, error);
	free(errors);
	log_info("import job user=%s %s imported=%llu skipped=%llu failed=%llu",
		 row.address != NULL ? row.address : "?", import_job_state_name(end),
		 (unsigned long long)p.imported, (unsigned long long)p.skipped,
		 (unsigned long long)p.failed);
out:
	buf_free(&r.crlf);
	import_run_clear(&r);
	if (password != NULL) {
		explicit_bzero(password, password_len);
		free(password);
	}
	upstream_settings_clear(&set);
	store_import_job_clear(&row);
	store_close(&j->st);
}

static void *
job_main(void *arg)
{
	struct job *j = arg;
	job_run(j);
	pthread_mutex_lock(&J.lock);
	job_remove(j);
	pthread_mutex_unlock(&J.lock);
	/* OpenSSL's per-thread state goes with the thread (a leak check
	 * otherwise sees it: OPENSSL_thread_stop(3)) */
	OPENSSL_thread_stop();
	return NULL;
}

/* Under J.lock: a job for user_id in the list, and its thread. */
static bool
job_spawn(int64_t user_id)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->user_id = user_id;
	atomic_init(&j->stop, false);
	client_conn_cancel_init(&j->cancel);
	j->next = J.jobs;
	J.jobs = j;
	J.n_jobs++;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	int err = pthread_create(&t, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		log_error("import job cannot start a thread: %s", strerror(err));
		job_remove(j);
		return false;
	}
	return true;
}

int
import_jobs_start(const struct config *cfg, const char **error_r)
{
	struct store *st;
	struct store_import_job *list = NULL;
	size_t n = 0;
	if (store_open(cfg->data_dir, &st, error_r) != STORE_OK)
		return -1;
	if (store_import_job_list_running(st, &list, &n, error_r) != STORE_OK) {
		store_close(&st);
		return -1;
	}
	pthread_mutex_lock(&J.lock);
	J.cfg = cfg;
	J.running = true;
	for (size_t i = 0; i < n; i++) {
		const char *error;
		if (J.n_jobs < IMPORT_JOBS_MAX) {
			if (store_import_job_resumed(st, list[i].user_id, &error) != STORE_OK)
				log_warning("import job user=%s: %s", list[i].address, error);
			log_info("import job user=%s resumed after a restart", list[i].address);
			job_spawn(list[i].user_id);
			continue;
		}
		/* more were running than run at once (the limit changed) */
		const char *why = "the daemon restarted with more imports under way than it "
				  "runs at once; this one stopped: start it again";
		if (store_import_job_finish(st, list[i].user_id, IMPORT_JOB_FAILED, &list[i].p,
					    why, &error) != STORE_OK)
			log_error("import job user=%s: %s", list[i].address, error);
	}
	pthread_mutex_unlock(&J.lock);
	store_import_job_list_free(&list, n);
	store_close(&st);
	return 0;
}

void
import_jobs_stop(void)
{
	pthread_mutex_lock(&J.lock);
	J.running = false;
	for (struct job *j = J.jobs; j != NULL; j = j->next) {
		atomic_store(&j->stop, true);
		client_conn_cancel_fire(&j->cancel);
	}
	/* a job still connecting (no socket to end yet) may take its step;
	 * past IMPORT_JOBS_STOP_MS the daemon goes on stopping (its row stays
	 * running, to resume at the next start) */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += IMPORT_JOBS_STOP_MS / 1000;
	while (J.n_jobs > 0)
		if (pthread_cond_timedwait(&J.done, &J.lock, &until) != 0) {
			log_warning("import jobs=%u still stopping", J.n_jobs);
			break;
		}
	pthread_mutex_unlock(&J.lock);
}

enum import_job_start_result
import_job_start(struct store *st, const struct store_import_job *job, const char **error_r)
{
	enum import_job_start_result res = IMPORT_JOB_STARTED;
	pthread_mutex_lock(&J.lock);
	if (!J.running) {
		res = IMPORT_JOB_OFF;
	} else if (job_find(job->user_id) != NULL) {
		res = IMPORT_JOB_USER_BUSY;
	} else if (J.n_jobs >= IMPORT_JOBS_MAX) {
		res = IMPORT_JOB_FULL;
	} else {
		/* recorded under the lock: no second start for the user slips
		 * in between the row and the thread */
		int ret = store_import_job_start(st, job, error_r);
		if (ret == STORE_EXISTS)
			res = IMPORT_JOB_USER_BUSY;
		else if (ret != STORE_OK)
			res = IMPORT_JOB_ERROR;
		else if (!job_spawn(job->user_id)) {
			*error_r = "cannot start the import's thread";
			res = IMPORT_JOB_ERROR;
		}
	}
	pthread_mutex_unlock(&J.lock);
	return res;
}

bool
import_job_live(int64_t user_id, struct import_job_progress *p, char **folder_r,
		char **errors_r)
{
	pthread_mutex_lock(&J.lock);
	struct job *j = job_find(user_id);
	if (j != NULL) {
		*p = j->p;
		*folder_r = j->folder != NULL ? xstrdup(j->folder) : NULL;
		*errors_r = j->errors.len > 0 ? xstrndup(j->errors.data, j->errors.len - 1)
					      : NULL;
	}
	pthread_mutex_unlock(&J.lock);
	return j != NULL;
}

bool
import_job_cancel(int64_t user_id)
{
	pthread_mutex_lock(&J.lock);
	struct job *j = job_find(user_id);
	if (j != NULL) {
		j->cancelled = true;
		atomic_store(&j->stop, true);
		client_conn_cancel_fire(&j->cancel);
	}
	pthread_mutex_unlock(&J.lock);
	return j != NULL;
}

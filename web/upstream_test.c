/*
 * upstream_test: connection tests off the request threads (see
 * upstream_test.h).
 *
 * A test is shared by two owners, its request (until libmicrohttpd's
 * completion callback) and its thread (until the test is done), and freed
 * by the last one to let go.  Everything below is under tests_lock, and the
 * connection is resumed under it too, only while it is suspended: so it is
 * resumed exactly once, and never after web_tests_close() has resumed it
 * before the daemon stops.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch.h"
#include "web/upstream_test.h"

struct web_test {
	struct web_test *next;		/* in the running list while the thread runs */
	int64_t user_id;
	struct MHD_Connection *mhd;
	bool suspended;			/* the connection waits for us */
	bool done;			/* result is filled in */
	unsigned refs;			/* the request and the thread */
	bool allow_private;
	struct client_conn_cancel cancel;	/* web_tests_close() ends the test */
	struct upstream_settings set;
	char *password;
	size_t password_len;
	struct fetch_test_result result;
};

static pthread_mutex_t tests_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tests_ended = PTHREAD_COND_INITIALIZER;
static struct web_test *running;	/* tests whose thread runs */
static unsigned n_running;
static bool closed;

static void
test_free(struct web_test *t)
{
	if (t->password != NULL) {
		explicit_bzero(t->password, t->password_len);
		free(t->password);
	}
	upstream_settings_clear(&t->set);
	fetch_test_result_clear(&t->result);
	client_conn_cancel_clear(&t->cancel);
	pthread_mutex_destroy(&t->cancel.lock);
	free(t);
}

/* Lets go of one reference; under tests_lock. */
static void
unref_locked(struct web_test *t)
{
	if (--t->refs == 0)
		test_free(t);
}

/* Resumes t's connection when it still waits; under tests_lock. */
static void
resume_locked(struct web_test *t)
{
	if (!t->suspended)
		return;
	t->suspended = false;
	MHD_resume_connection(t->mhd);
}

static void
finish_locked(struct web_test *t)
{
	for (struct web_test **p = &running; *p != NULL; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->next = NULL;
	if (--n_running == 0)
		pthread_cond_broadcast(&tests_ended);
	resume_locked(t);
	unref_locked(t);
}

static void *
test_thread(void *arg)
{
	struct web_test *t = arg;
	struct fetch_test_result res;
	fetch_test_settings(&t->set, t->password, t->allow_private, &t->cancel, &res);
	client_conn_cancel_clear(&t->cancel);
	explicit_bzero(t->password, t->password_len);
	pthread_mutex_lock(&tests_lock);
	t->result = res;
	t->done = true;
	finish_locked(t);
	pthread_mutex_unlock(&tests_lock);
	return NULL;
}

enum MHD_Result
web_test_start(struct web_request *r, struct upstream_settings *set,
	       const char *password, bool allow_private)
{
	pthread_mutex_lock(&tests_lock);
	if (closed) {
		pthread_mutex_unlock(&tests_lock);
		return reply_problem(r, 503, "the admin listener is restarting; try again");
	}
	for (const struct web_test *t = running; t != NULL; t = t->next) {
		if (t->user_id == r->user.id) {
			pthread_mutex_unlock(&tests_lock);
			return reply_problem(r, 429, "a connection test of yours is still running; "
					     "try again when it has answered");
		}
	}
	if (n_running >= WEB_TESTS_MAX) {
		pthread_mutex_unlock(&tests_lock);
		return reply_problem(r, 429, "%d connection tests are running already; try again "
				     "in a few seconds", WEB_TESTS_MAX);
	}
	struct web_test *t = xcalloc(1, sizeof *t);
	t->user_id = r->user.id;
	t->mhd = r->mhd;
	t->allow_private = allow_private;
	client_conn_cancel_init(&t->cancel);
	t->set = *set;
	memset(set, 0, sizeof *set);
	t->password_len = strlen(password);
	t->password = xstrdup(password);
	t->refs = 2;
	t->next = running;
	running = t;
	n_running++;
	/* suspended before the thread exists, so that it can only resume a
	 * suspended connection */
	MHD_suspend_connection(r->mhd);
	t->suspended = true;
	r->test = t;

	pthread_attr_t attr;
	pthread_t tid;
	int err = pthread_attr_init(&attr);
	if (err == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&tid, &attr, test_thread, t);
		pthread_attr_destroy(&attr);
	}
	if (err != 0) {
		log_error("web cannot start a connection test thread: %s", strerror(err));
		t->result.error = xstrdup("the server cannot start the test now");
		t->done = true;
		finish_locked(t);
	}
	pthread_mutex_unlock(&tests_lock);
	return MHD_YES;
}

enum MHD_Result
web_test_reply(struct web_request *r)
{
	struct web_test *t = r->test;
	cJSON *o = NULL;
	pthread_mutex_lock(&tests_lock);
	if (t->done) {
		const struct fetch_test_result *res = &t->result;
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ok", res->ok);
		if (res->error != NULL)
			cJSON_AddStringToObject(o, "error", res->error);
		else
			cJSON_AddNullToObject(o, "error");
		cJSON_AddStringToObject(o, "tls", res->tls != NULL ? res->tls : "none");
		/* also after a failed check: what the server presented, so that
		 * the user can pin it */
		if (res->cert_sha256[0] != '\0')
			cJSON_AddStringToObject(o, "certificate_sha256", res->cert_sha256);
		else
			cJSON_AddNullToObject(o, "certificate_sha256");
		if (t->set.protocol == UPSTREAM_IMAP) {
			cJSON *f = cJSON_AddArrayToObject(o, "folders");
			for (size_t i = 0; i < res->n_folders; i++)
				cJSON_AddItemToArray(f, cJSON_CreateString(res->folders[i]));
		} else {
			cJSON_AddNumberToObject(o, "messages", res->messages);
		}
	}
	pthread_mutex_unlock(&tests_lock);
	if (o == NULL)
		return reply_problem(r, 503, "the admin listener is restarting; try the test again");
	return reply_json(r, 200, o);
}

void
web_test_release(struct web_test **tp)
{
	struct web_test *t = *tp;
	if (t == NULL)
		return;
	pthread_mutex_lock(&tests_lock);
	unref_locked(t);
	pthread_mutex_unlock(&tests_lock);
	*tp = NULL;
}

void
web_tests_close(void)
{
	pthread_mutex_lock(&tests_lock);
	closed = true;
	for (struct web_test *t = running; t != NULL; t = t->next)
		resume_locked(t);
	pthread_mutex_unlock(&tests_lock);
}

void
web_tests_cancel(void)
{
	pthread_mutex_lock(&tests_lock);
	for (struct web_test *t = running; t != NULL; t = t->next)
		client_conn_cancel_fire(&t->cancel);
	pthread_mutex_unlock(&tests_lock);
}

void
web_tests_wait(int timeout_ms)
{
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&tests_lock);
	while (n_running > 0) {
		if (pthread_cond_timedwait(&tests_ended, &tests_lock, &end) != 0)
			break;
	}
	if (n_running > 0)
		log_warning("web %u connection tests still running at stop", n_running);
	pthread_mutex_unlock(&tests_lock);
}

void
web_tests_open(void)
{
	pthread_mutex_lock(&tests_lock);
	closed = false;
	pthread_mutex_unlock(&tests_lock);
}

/*
 * watch: push for the fetched folders beyond the one the account's IDLE
 * thread waits on (scheduler.c).
 *
 * IMAP IDLE (RFC 2177) watches the selected folder only, so each further
 * folder needs a session of its own.  A watcher thread per folder (up to
 * [fetch] idle_connections - 1 per account) logs in, EXAMINEs its folder
 * and waits in IDLE; when the server reports new messages it marks the
 * folder and wakes the account's thread, which fetches that folder over
 * its own session.  Watchers never fetch and never touch the store: the
 * one fetching thread of an account stays the only writer of its state.
 *
 * Where the server offers NOTIFY (RFC 5465) one session watches every
 * folder instead: the first watcher logs in, and with NOTIFY it asks for
 * the events of all the folders (new messages and expunges; flag changes
 * too for a two-way account) and marks each folder the server reports;
 * without it, or when NOTIFY SET fails, it starts the other watchers and
 * IDLEs on its own folder as they do.
 *
 * A watcher that loses its session waits WATCH_RETRY_MS and logs in again;
 * each new session marks its folder once, so mail that came while it was
 * away is fetched too.  A server without IDLE ends the watcher (the folder
 * is then fetched on the account's interval).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/seal.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"
#include "fetch/oauth.h"

/* Wait after a lost watcher session before logging in again. */
#define WATCH_RETRY_MS 30000

struct watcher {
	struct fetch_watch *w;
	char *folder;
	pthread_t thread;
	bool started;
	struct client_conn_cancel cancel;	/* fired at stop: a connect or a
						 * read ends at once */
	bool dirty;		/* news since the last fetch_watch_take() */
};

struct fetch_watch {
	struct upstream_settings set;	/* a copy: the watchers' own */
	const struct config *cfg;	/* oauth2: for renewing the token */
	char *password;			/* or the oauth2 access token; under lock */
	size_t password_len;
	int64_t id;
	bool allow_private;
	int wake_fd;			/* the account thread's wake pipe */
	int stop[2];			/* readable: every watcher ends */
	pthread_mutex_t lock;		/* the dirty marks, and the others' start */
	struct watcher *watchers;
	size_t n;
	bool others_started;		/* the first watcher started the others */
};

static void *watcher_main(void *arg);

static uint64_t
watch_log_id(void)
{
	static uint64_t seq = 1000000000;
	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

static bool
stop_asked(const struct fetch_watch *w, int ms)
{
	struct pollfd p = { .fd = w->stop[0], .events = POLLIN };
	return poll(&p, 1, ms) > 0;
}

static void
mark(struct watcher *x)
{
	pthread_mutex_lock(&x->w->lock);
	x->dirty = true;
	pthread_mutex_unlock(&x->w->lock);
	ssize_t r = write(x->w->wake_fd, "w", 1);
	(void)r;	/* a full pipe is awake enough */
}

/* oauth2: an access token for the next login (the one at the start
 * expires within the hour; fetch/oauth.c renews it when due). */
static int
renew_token(struct fetch_watch *w, const char **error_r)
{
	struct store_upstream up = { .id = w->id, .set = w->set };
	char *token;
	size_t len;
	if (fetch_oauth_secret(w->cfg, NULL, &up, false, &token, &len, error_r) < 0)
		return -1;
	pthread_mutex_lock(&w->lock);
	fetch_secret_free(&w->password, w->password_len);
	w->password = token;
	w->password_len = len;
	pthread_mutex_unlock(&w->lock);
	return 0;
}


/* Marks the watcher of folder (NULL: every one). */
static void
notify_mark(void *ctx, const char *folder)
{
	struct fetch_watch *w = ctx;
	for (size_t i = 0; i < w->n; i++) {
		if (folder == NULL || strcmp(w->watchers[i].folder, folder) == 0)
			mark(&w->watchers[i]);
	}
}

/* The first watcher, where NOTIFY is offered: one session for all the
 * folders until it is lost (then 0) or NOTIFY SET fails (-1: IDLE per
 * folder instead). */
static int
notify_all(struct fetch_watch *w, struct imap_client *c)
{
	const char *error = NULL;
	const char **folders = xcalloc(w->n, sizeof *folders);
	for (size_t i = 0; i < w->n; i++)
		folders[i] = w->watchers[i].folder;
	int ret = imap_client_notify_set(c, folders, w->n, w->set.two_way, &error);
	free(folders);
	if (ret < 0) {
		log_info("fetch upstream=%lld NOTIFY refused, IDLE per folder: %s",
			 (long long)w->id, error);
		return -1;
	}
	log_info("fetch upstream=%lld watching folders=%zu by NOTIFY", (long long)w->id, w->n);
	for (size_t i = 0; i < w->n; i++)
		fetch_push_set(w->id, w->watchers[i].folder, FETCH_PUSH_NOTIFY);
	/* what came while no session watched */
	notify_mark(w, NULL);
	while (!stop_asked(w, 0)) {
		if (imap_client_notify_wait(c, w->stop[0], IMAPC_IDLE_MAX_MS, notify_mark, w,
					    &error) < 0) {
			log_info("fetch upstream=%lld NOTIFY watch ended: %s", (long long)w->id,
				 error);
			break;
		}
	}
	for (size_t i = 0; i < w->n; i++)
		fetch_push_set(w->id, w->watchers[i].folder, FETCH_PUSH_POLL);
	return 0;
}

/* Starts the watchers after the first (IDLE per folder), once. */
static void
start_others(struct fetch_watch *w)
{
	pthread_mutex_lock(&w->lock);
	if (!w->others_started && !stop_asked(w, 0)) {
		w->others_started = true;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		for (size_t i = 1; i < w->n; i++) {
			if (pthread_create(&w->watchers[i].thread, &attr, watcher_main,
					   &w->watchers[i]) != 0) {
				log_error("fetch upstream=%lld cannot start a watcher",
					  (long long)w->id);
				break;
			}
			w->watchers[i].started = true;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&w->lock);
}

/* Logs in (oauth2: with a token renewed when due): 0, or -1 with *c
 * to be freed. */
static int
open_session(struct fetch_watch *w, const struct client_conn_params *params, uint64_t log_id,
	     struct imap_client **c, const char **error_r)
{
	if (w->set.auth == UPSTREAM_AUTH_OAUTH2 && renew_token(w, error_r) < 0)
		return -1;
	/* a copy: another watcher may renew the token meanwhile */
	pthread_mutex_lock(&w->lock);
	size_t slen = w->password_len;
	char *secret = xstrdup(w->password);
	pthread_mutex_unlock(&w->lock);
	int opened = imap_client_open(&w->set, secret, params, log_id, c, error_r);
	fetch_secret_free(&secret, slen);
	return opened;
}

static void *
watcher_main(void *arg)
{
	struct watcher *x = arg;
	struct fetch_watch *w = x->w;
	const struct client_conn_params params = {
		.timeout_ms = FETCH_TIMEOUT_MS,
		.allow_private = w->allow_private,
		.cancel = &x->cancel,
	};
	bool first = x == &w->watchers[0];
	bool notify = first && w->n >= 2;
	while (!stop_asked(w, 0)) {
		struct imap_client *c = NULL;
		const char *error = NULL;
		struct imapc_mailbox mb;
		uint64_t log_id = watch_log_id();
		if (notify) {
			if (open_session(w, &params, log_id, &c, &error) < 0) {
				log_info("fetch upstream=%lld watch failed: %s", (long long)w->id,
					 error);
				imap_client_free(&c);
				client_conn_cancel_clear(&x->cancel);
				if (stop_asked(w, WATCH_RETRY_MS))
					break;
				continue;
			}
			if ((imap_client_caps(c) & IMAPC_CAP_NOTIFY) != 0 && notify_all(w, c) == 0) {
				imap_client_free(&c);
				client_conn_cancel_clear(&x->cancel);
				if (stop_asked(w, 1000))
					break;
				continue;
			}
			/* no NOTIFY there: IDLE per folder from now on */
			notify = false;
			imap_client_free(&c);
			client_conn_cancel_clear(&x->cancel);
			start_others(w);
			continue;
		}
		if (first)
			start_others(w);
		if (open_session(w, &params, log_id, &c, &error) < 0 ||
		    imap_client_select(c, x->folder, true, &mb, &error) < 0) {
			log_info("fetch upstream=%lld folder=%s watch failed: %s", (long long)w->id,
				 esc_str(x->folder), error);
			imap_client_free(&c);
			client_conn_cancel_clear(&x->cancel);
			if (stop_asked(w, WATCH_RETRY_MS))
				break;
			continue;
		}
		if ((imap_client_caps(c) & IMAPC_CAP_IDLE) == 0) {
			log_info("fetch upstream=%lld folder=%s no IDLE upstream: polled",
				 (long long)w->id, esc_str(x->folder));
			imap_client_free(&c);
			break;
		}
		log_debug("fetch upstream=%lld folder=%s watching", (long long)w->id,
			  esc_str(x->folder));
		/* what came while no session watched */
		mark(x);
		/* two-way: flag changes and expunges are news too */
		imap_client_set_news_any(c, w->set.two_way);
		fetch_push_set(w->id, x->folder, FETCH_PUSH_IDLE);
		for (;;) {
			bool news = false;
			if (imap_client_idle(c, w->stop[0], IMAPC_IDLE_MAX_MS, &news, &error) < 0) {
				log_info("fetch upstream=%lld folder=%s watch ended: %s",
					 (long long)w->id, esc_str(x->folder), error);
				break;
			}
			if (news)
				mark(x);
			if (stop_asked(w, 0))
				break;
		}
		fetch_push_set(w->id, x->folder, FETCH_PUSH_POLL);
		imap_client_free(&c);
		client_conn_cancel_clear(&x->cancel);
		if (!stop_asked(w, 0) && stop_asked(w, 1000))
			break;
	}
	OPENSSL_thread_stop();
	return NULL;
}

int
fetch_watch_start(const struct config *cfg, const struct store_upstream *up,
		  const char *const *folders, size_t n, int wake_fd,
		  struct fetch_watch **w_r, const char **error_r)
{
	*w_r = NULL;
	if (n == 0)
		return 0;
	struct fetch_watch *w = xcalloc(1, sizeof *w);
	upstream_settings_copy(&w->set, &up->set);
	w->id = up->id;
	w->allow_private = cfg->fetch_allow_private_hosts;
	w->wake_fd = wake_fd;
	w->stop[0] = w->stop[1] = -1;
	pthread_mutex_init(&w->lock, NULL);
	w->watchers = xcalloc(n, sizeof *w->watchers);
	w->n = n;
	for (size_t i = 0; i < n; i++) {
		w->watchers[i].w = w;
		w->watchers[i].folder = xstrdup(folders[i]);
		client_conn_cancel_init(&w->watchers[i].cancel);
	}
	*w_r = w;
	w->cfg = cfg;
	if (fetch_oauth_secret(cfg, NULL, up, false, &w->password, &w->password_len,
			       error_r) < 0) {
		fetch_watch_stop(w_r);
		return -1;
	}
	if (pipe2(w->stop, O_CLOEXEC | O_NONBLOCK) < 0) {
		*error_r = "cannot make a pipe";
		fetch_watch_stop(w_r);
		return -1;
	}
	/* the first watcher starts the others unless NOTIFY serves them all */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	if (pthread_create(&w->watchers[0].thread, &attr, watcher_main, &w->watchers[0]) != 0)
		log_error("fetch upstream=%lld cannot start a watcher", (long long)up->id);
	else
		w->watchers[0].started = true;
	pthread_attr_destroy(&attr);
	log_info("fetch upstream=%lld watching folders=%zu", (long long)up->id, n);
	return 0;
}

size_t
fetch_watch_take(struct fetch_watch *w, char ***folders_r)
{
	size_t k = 0;
	*folders_r = NULL;
	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n; i++) {
		if (!w->watchers[i].dirty)
			continue;
		w->watchers[i].dirty = false;
		*folders_r = xreallocarray(*folders_r, k + 1, sizeof **folders_r);
		(*folders_r)[k++] = xstrdup(w->watchers[i].folder);
	}
	pthread_mutex_unlock(&w->lock);
	return k;
}

void
fetch_watch_stop(struct fetch_watch **wp)
{
	struct fetch_watch *w = *wp;
	if (w == NULL)
		return;
	if (w->stop[1] >= 0) {
		ssize_t r = write(w->stop[1], "x", 1);
		(void)r;
	}
	for (size_t i = 0; i < w->n; i++)
		client_conn_cancel_fire(&w->watchers[i].cancel);
	/* the first one first: after it no other is started */
	if (w->n > 0 && w->watchers[0].started)
		pthread_join(w->watchers[0].thread, NULL);
	pthread_mutex_lock(&w->lock);
	w->others_started = true;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < w->n; i++) {
		if (i > 0 && w->watchers[i].started)
			pthread_join(w->watchers[i].thread, NULL);
		client_conn_cancel_clear(&w->watchers[i].cancel);
		free(w->watchers[i].folder);
	}
	free(w->watchers);
	for (int i = 0; i < 2; i++) {
		if (w->stop[i] >= 0)
			close(w->stop[i]);
	}
	fetch_secret_free(&w->password, w->password_len);
	upstream_settings_clear(&w->set);
	pthread_mutex_destroy(&w->lock);
	free(w);
	*wp = NULL;
}

/* ---- local changes of a two-way account -------------------------------- */

/* After a local change, the changes made with it (a client's STORE over
 * many messages, a move of several) are collected this long before the
 * account's thread syncs. */
#define LOCAL_SETTLE_MS 300

struct fetch_local_watch {
	struct store_watch **w;
	size_t n;
	int wake_fd;
	int stop[2];
	pthread_t thread;
	bool started;
	bool dirty;			/* atomic: changed since the last take */
};

static void *
local_main(void *arg)
{
	struct fetch_local_watch *lw = arg;
	struct pollfd *p = xcalloc(lw->n + 1, sizeof *p);
	p[0].fd = lw->stop[0];
	p[0].events = POLLIN;
	for (size_t i = 0; i < lw->n; i++) {
		p[i + 1].fd = store_watch_fd(lw->w[i]);
		p[i + 1].events = POLLIN;
	}
	for (;;) {
		if (poll(p, lw->n + 1, -1) < 0)
			continue;
		if (p[0].revents != 0)
			break;
		struct pollfd s = { .fd = lw->stop[0], .events = POLLIN };
		if (poll(&s, 1, LOCAL_SETTLE_MS) > 0)
			break;
		for (size_t i = 0; i < lw->n; i++)
			store_watch_drain(lw->w[i]);
		__atomic_store_n(&lw->dirty, true, __ATOMIC_RELEASE);
		ssize_t r = write(lw->wake_fd, "l", 1);
		(void)r;
	}
	free(p);
	return NULL;
}

int
fetch_local_watch_start(const int64_t *mailbox_ids, size_t n, int wake_fd,
			struct fetch_local_watch **lw_r)
{
	*lw_r = NULL;
	if (n == 0)
		return 0;
	struct fetch_local_watch *lw = xcalloc(1, sizeof *lw);
	lw->wake_fd = wake_fd;
	lw->stop[0] = lw->stop[1] = -1;
	lw->w = xcalloc(n, sizeof *lw->w);
	*lw_r = lw;
	for (size_t i = 0; i < n; i++) {
		if ((lw->w[lw->n] = store_watch_new(mailbox_ids[i])) != NULL)
			lw->n++;
	}
	if (lw->n == 0 || pipe2(lw->stop, O_CLOEXEC | O_NONBLOCK) < 0) {
		fetch_local_watch_stop(lw_r);
		return -1;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	lw->started = pthread_create(&lw->thread, &attr, local_main, lw) == 0;
	pthread_attr_destroy(&attr);
	if (!lw->started) {
		fetch_local_watch_stop(lw_r);
		return -1;
	}
	return 0;
}

bool
fetch_local_watch_take(struct fetch_local_watch *lw)
{
	return lw != NULL && __atomic_exchange_n(&lw->dirty, false, __ATOMIC_ACQ_REL);
}

void
fetch_local_watch_stop(struct fetch_local_watch **lwp)
{
	struct fetch_local_watch *lw = *lwp;
	if (lw == NULL)
		return;
	if (lw->started) {
		ssize_t r = write(lw->stop[1], "x", 1);
		(void)r;
		pthread_join(lw->thread, NULL);
	}
	for (int i = 0; i < 2; i++) {
		if (lw->stop[i] >= 0)
			close(lw->stop[i]);
	}
	for (size_t i = 0; i < lw->n; i++)
		store_watch_free(&lw->w[i]);
	free(lw->w);
	free(lw);
	*lwp = NULL;
}

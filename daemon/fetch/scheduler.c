/*
 * scheduler: when each account is fetched, and by which thread.
 *
 * One scheduler thread looks at the accounts in the store every couple of
 * seconds (the CLI and the API change them while the daemon runs, and the
 * CLI marks accounts to fetch now), keeps each polled account on its
 * interval and puts due ones in a queue; config->fetch_workers worker
 * threads take them from there.  An enabled IMAP account with idle on has
 * a thread of its own that keeps its session open and waits in IDLE.  All
 * fetches, pooled or IDLE, share one limit of concurrent fetches.
 *
 * Stop: one pipe (stop_pipe) becomes readable; every wait and every
 * fetch step looks at it, so SIGTERM ends fetches between messages and
 * nothing is left half-delivered (a message not committed is not deleted
 * upstream and is fetched again next time).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/limits.h"
#include "core/log.h"
#include "fetch/fetch_int.h"

/* How often the scheduler looks at the store for changes and requests. */
#define SCHED_RELOAD_MS 1000

struct slot {
	int64_t id;
	int64_t generation;
	bool present;		/* seen in the last look at the store */
	bool enabled;
	bool idle_mode;		/* an IMAP account with idle on: own thread */
	time_t due;
	bool queued, running, now;
	/* the IDLE thread */
	bool has_thread;
	bool quit;		/* the thread is to end (settings changed, gone) */
	int wake[2];		/* written to wake the thread */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work_cond;	/* queue not empty, or stopping */
	pthread_cond_t slot_cond;	/* a fetch slot is free */
	pthread_cond_t done_cond;	/* a thread ended */
	bool started, stopping;
	const struct config *cfg;
	struct slot **slots;
	size_t n_slots;
	int64_t *queue;
	size_t n_queue;
	unsigned active, max_active;
	unsigned threads;		/* live worker, scheduler and IDLE threads */
	int stop_pipe[2];
	int sched_wake[2];
} F = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work_cond = PTHREAD_COND_INITIALIZER,
	.slot_cond = PTHREAD_COND_INITIALIZER,
	.done_cond = PTHREAD_COND_INITIALIZER,
	.stop_pipe = { -1, -1 },
	.sched_wake = { -1, -1 },
};

static void
poke(int fd)
{
	if (fd >= 0) {
		ssize_t r = write(fd, "x", 1);
		(void)r;	/* a full pipe is awake enough */
	}
}

static void
drain(int fd)
{
	char b[64];
	while (read(fd, b, sizeof b) > 0)
		;
}

static int
make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		p[0] = p[1] = -1;
		return -1;
	}
	return 0;
}

/* Waits up to ms for fd (or the stop pipe): 1 woken, 0 timeout. */
static int
wait_fd(int fd, int64_t ms)
{
	struct pollfd p[2] = { { .fd = F.stop_pipe[0], .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	if (ms > INT32_MAX)
		ms = INT32_MAX;
	int r = poll(p, fd >= 0 ? 2 : 1, ms < 0 ? 0 : (int)ms);
	return r > 0 ? 1 : 0;
}

static bool
stopping(void)
{
	pthread_mutex_lock(&F.lock);
	bool s = F.stopping;
	pthread_mutex_unlock(&F.lock);
	return s;
}

/* The shared limit of concurrent fetches. */
static bool
fetch_slot_acquire(void)
{
	pthread_mutex_lock(&F.lock);
	while (!F.stopping && F.active >= F.max_active)
		pthread_cond_wait(&F.slot_cond, &F.lock);
	bool ok = !F.stopping;
	if (ok)
		F.active++;
	pthread_mutex_unlock(&F.lock);
	return ok;
}

static void
fetch_slot_release(void)
{
	pthread_mutex_lock(&F.lock);
	F.active--;
	pthread_cond_signal(&F.slot_cond);
	pthread_mutex_unlock(&F.lock);
}

/* Every fetch thread ends here. */
static void
thread_done(void)
{
	/* OpenSSL's per-thread state (its DRBGs) is freed at once, not left
	 * to a thread-exit handler that may run after the process's leak
	 * check (OPENSSL_thread_stop(3)) */
	OPENSSL_thread_stop();
	pthread_mutex_lock(&F.lock);
	F.threads--;
	pthread_cond_broadcast(&F.done_cond);
	pthread_mutex_unlock(&F.lock);
}

static struct slot *
slot_find(int64_t id)
{
	for (size_t i = 0; i < F.n_slots; i++) {
		if (F.slots[i]->id == id)
			return F.slots[i];
	}
	return NULL;
}

static struct store *
thread_store(const char *who)
{
	struct store *st = NULL;
	const char *error;
	if (store_open(F.cfg->data_dir, &st, &error) != STORE_OK) {
		log_error("fetch %s cannot open the store: %s", who, error);
		return NULL;
	}
	/* a two-way pass reads the links and messages of the account's
	 * folders on every run: kept in the cache, not read again */
	store_cache_kib(st, FETCH_CACHE_KIB);
	return st;
}

/* ---- the pooled workers ---------------------------------------------- */

static void *
worker_main(void *arg)
{
	(void)arg;
	struct store *st = thread_store("worker");
	for (;;) {
		pthread_mutex_lock(&F.lock);
		while (!F.stopping && F.n_queue == 0)
			pthread_cond_wait(&F.work_cond, &F.lock);
		if (F.stopping) {
			pthread_mutex_unlock(&F.lock);
			break;
		}
		int64_t id = F.queue[0];
		memmove(F.queue, F.queue + 1, (F.n_queue - 1) * sizeof *F.queue);
		F.n_queue--;
		struct slot *s = slot_find(id);
		if (s != NULL) {
			s->queued = false;
			s->running = true;
			s->now = false;
		}
		pthread_mutex_unlock(&F.lock);
		if (s == NULL || st == NULL)
			continue;

		struct store_upstream up;
		const char *error = NULL;
		bool failed = true;
		unsigned delay = 60;
		if (store_upstream_get(st, id, &up, &error) == STORE_OK) {
			if (fetch_slot_acquire()) {
				unsigned fetched;
				failed = fetch_account_once(F.cfg, st, &up, F.stop_pipe[0], NULL,
							    NULL, NULL, &fetched, &error) < 0;
				fetch_slot_release();
			}
			store_upstream_clear(&up);
			/* the failure count as it is now, for the backoff */
			if (store_upstream_get(st, id, &up, &error) == STORE_OK) {
				delay = fetch_next_delay(&up, failed);
				store_upstream_clear(&up);
			}
		}
		pthread_mutex_lock(&F.lock);
		s->running = false;
		s->due = time(NULL) + delay;
		pthread_mutex_unlock(&F.lock);
	}
	store_close(&st);
	thread_done();
	return NULL;
}

/* ---- the IDLE threads ------------------------------------------------- */

static const char *
idle_folder(const struct store_upstream *up)
{
	if (fetch_all_folders(&up->set))
		return "INBOX";
	for (size_t i = 0; i < up->set.n_folders; i++) {
		if (str_eq_nocase(up->set.folders[i], "INBOX"))
			return up->set.folders[i];
	}
	return up->set.folders[0];
}

/* Whether the thread of slot s is to end; clears a "fetch now". */
static bool
idle_should_quit(struct slot *s, bool *now_r)
{
	pthread_mutex_lock(&F.lock);
	bool quit = F.stopping || s->quit;
	*now_r = s->now;
	s->now = false;
	pthread_mutex_unlock(&F.lock);
	return quit;
}

/* Starts watchers on the fetched folders other than the one this thread
 * IDLEs on, up to [fetch] idle_connections sessions for the account; the
 * number of watchers started. */
static size_t
watch_folders(struct slot *s, struct imap_client *c, const struct store_upstream *up,
	      const char *idle_on, struct fetch_watch **w_r)
{
	char **listed = NULL;
	size_t n_listed = 0;
	const char *const *folders = (const char *const *)up->set.folders;
	size_t n = up->set.n_folders;
	const char *error = NULL;
	if (fetch_all_folders(&up->set)) {
		if (imap_client_list(c, &listed, &n_listed, &error) < 0) {
			log_info("fetch upstream=%lld cannot list the folders to watch: %s",
				 (long long)up->id, error);
			return 0;
		}
		folders = (const char *const *)listed;
		n = n_listed;
	}
	size_t max = F.cfg->fetch_idle_connections > 0 ? F.cfg->fetch_idle_connections - 1 : 0;
	const char **pick = xcalloc(n + 1, sizeof *pick);
	size_t k = 0;
	for (size_t i = 0; i < n && k < max; i++) {
		if (strcmp(folders[i], idle_on) != 0)
			pick[k++] = folders[i];
	}
	if (k < n - (n > 0) && k == max)
		log_info("fetch upstream=%lld folders=%zu watched=%zu: the rest are polled "
			 "([fetch] idle_connections)", (long long)up->id, n, k + 1);
	if (fetch_watch_start(F.cfg, up, pick, k, s->wake[1], w_r, &error) < 0) {
		log_error("fetch upstream=%lld cannot watch its folders: %s", (long long)up->id,
			  error);
		k = 0;
	}
	free(pick);
	imapc_names_free(&listed, n_listed);
	return k;
}

/* Two-way: watches the account's local mailboxes (target, and target/...
 * when it mirrors) for changes to send up. */
static void
watch_local(struct slot *s, struct store *st, const struct store_upstream *up,
	    struct fetch_local_watch **lw_r)
{
	struct store_mailbox *list = NULL;
	size_t n = 0;
	const char *error;
	if (store_mailbox_list(st, up->user_id, &list, &n, &error) != STORE_OK) {
		log_info("fetch upstream=%lld cannot list local folders to watch: %s",
			 (long long)up->id, error);
		return;
	}
	int64_t *ids = xcalloc(n + 1, sizeof *ids);
	size_t k = 0, tl = strlen(up->set.target);
	for (size_t i = 0; i < n; i++) {
		const char *name = list[i].name;
		if (strcmp(name, up->set.target) == 0 ||
		    (up->set.mirror && strncmp(name, up->set.target, tl) == 0 && name[tl] == '/'))
			ids[k++] = list[i].id;
	}
	if (fetch_local_watch_start(ids, k, s->wake[1], lw_r) < 0)
		log_error("fetch upstream=%lld cannot watch its local folders", (long long)up->id);
	free(ids);
	store_mailbox_list_free(&list, n);
}

/* Fetches the folders the watchers marked, over c: 0, or -1 (c freed). */
static int
fetch_marked(struct fetch_watch *w, struct store *st, const struct store_upstream *up,
	     struct imap_client **c, struct fetch_lanes *lanes)
{
	char **marked;
	size_t n = fetch_watch_take(w, &marked);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0 && *c != NULL; i++) {
		unsigned fetched;
		const char *error;
		if (!fetch_slot_acquire()) {
			ret = -1;
			break;
		}
		ret = fetch_account_once(F.cfg, st, up, F.stop_pipe[0], c, lanes, marked[i],
					 &fetched, &error);
		fetch_slot_release();
	}
	imapc_names_free(&marked, n);
	if (ret < 0 || *c == NULL) {
		imap_client_free(c);
		return -1;
	}
	return 0;
}

static void *
idle_main(void *arg)
{
	struct slot *s = arg;
	struct store *st = thread_store("idle");
	struct imap_client *c = NULL;
	struct store_upstream up = { 0 };
	const char *error = NULL;
	bool have_up = false;
	bool full = true;		/* next fetch: every folder */
	time_t next_full = 0;
	bool now;
	struct fetch_watch *watch = NULL;	/* the other folders' IDLE */
	struct fetch_local_watch *local = NULL;	/* two-way: local changes */
	bool watching = false;
	char *pushed = NULL;			/* the folder said to be IDLE'd on */
	/* two-way: the further sessions of the sends, kept between passes,
	 * within the account's sessions ([fetch] idle_connections) beside
	 * this one and the watchers' (none until those are started) */
	struct fetch_lanes *lanes = fetch_lanes_new(0, true);
	size_t sessions_max = F.cfg->fetch_idle_connections > 0 ? F.cfg->fetch_idle_connections : 1;

	while (st != NULL && !idle_should_quit(s, &now)) {
		if (c == NULL && pushed != NULL) {
			/* no session: polled until IDLE is back */
			fetch_push_set(s->id, pushed, FETCH_PUSH_POLL);
			xfree(pushed);
		}
		if (!have_up) {
			if (store_upstream_get(st, s->id, &up, &error) != STORE_OK)
				break;
			have_up = true;
		}
		const char *folder = idle_folder(&up);
		unsigned fetched = 0;
		bool failed = false;
		if (full || now || c == NULL || time(NULL) >= next_full) {
			if (!fetch_slot_acquire())
				break;
			failed = fetch_account_once(F.cfg, st, &up, F.stop_pipe[0], &c, lanes,
						    NULL, &fetched, &error) < 0;
			fetch_slot_release();
			next_full = time(NULL) + up.set.interval;
		} else {
			if (!fetch_slot_acquire())
				break;
			failed = fetch_account_once(F.cfg, st, &up, F.stop_pipe[0], &c, lanes,
						    folder, &fetched, &error) < 0;
			fetch_slot_release();
		}
		full = false;
		if (failed || c == NULL) {
			fetch_watch_stop(&watch);
			fetch_local_watch_stop(&local);
			watching = false;
			imap_client_free(&c);
			fetch_lanes_close(lanes);
			fetch_lanes_set_max(lanes, 0);
			store_upstream_clear(&up);
			have_up = false;
			struct store_upstream cur;
			unsigned delay = 60;
			if (store_upstream_get(st, s->id, &cur, &error) == STORE_OK) {
				delay = fetch_next_delay(&cur, true);
				store_upstream_clear(&cur);
			}
			wait_fd(s->wake[0], (int64_t)delay * 1000);
			drain(s->wake[0]);
			full = true;
			continue;
		}
		if ((imap_client_caps(c) & IMAPC_CAP_IDLE) == 0) {
			/* no IDLE upstream: poll on the interval with the
			 * session kept open (NOOP keeps it alive); no watchers */
			fetch_lanes_set_max(lanes, (unsigned)sessions_max - 1);
			bool news = false;
			int64_t left = (int64_t)up.set.interval * 1000;
			while (left > 0 && !news) {
				int64_t step = left < 30000 ? left : 30000;
				if (wait_fd(s->wake[0], step))
					break;
				left -= step;
				if (imap_client_noop(c, &news, &error) < 0)
					break;
			}
			drain(s->wake[0]);
			if (left <= 0)
				next_full = 0;
			continue;
		}
		if (!watching) {
			size_t watched = watch_folders(s, c, &up, folder, &watch);
			fetch_lanes_set_max(lanes, sessions_max > watched + 1
							   ? (unsigned)(sessions_max - watched - 1)
							   : 0);
			if (up.set.two_way)
				watch_local(s, st, &up, &local);
			watching = true;
		}
		/* RFC 2177: IDLE on the folder's own selection */
		struct imapc_mailbox mb;
		if (imap_client_select(c, folder, up.set.keep, &mb, &error) < 0) {
			imap_client_free(&c);
			continue;
		}
		/* two-way: the server's flag changes and expunges come down
		 * as soon as it reports them */
		imap_client_set_news_any(c, up.set.two_way);
		int64_t idle_ms = (int64_t)(next_full - time(NULL)) * 1000;
		if (idle_ms > IMAPC_IDLE_MAX_MS)
			idle_ms = IMAPC_IDLE_MAX_MS;
		if (idle_ms < 1000)
			idle_ms = 1000;
		bool news = false;
		if (pushed == NULL) {
			pushed = xstrdup(folder);
			fetch_push_set(s->id, pushed, FETCH_PUSH_IDLE);
		}
		if (imap_client_idle(c, s->wake[0], (int)idle_ms, &news, &error) < 0) {
			log_info("fetch upstream=%lld idle ended: %s", (long long)s->id, error);
			imap_client_free(&c);
			continue;
		}
		drain(s->wake[0]);
		fetch_lanes_expire(lanes, time(NULL));
		/* two-way: local changes go up with a run over every folder */
		if (fetch_local_watch_take(local))
			next_full = 0;
		/* new mail in the other watched folders */
		if (fetch_marked(watch, st, &up, &c, lanes) < 0)
			continue;
		if (!news && time(NULL) + 1 >= next_full)
			next_full = 0;
		/* settings changed: start again with the new ones */
		pthread_mutex_lock(&F.lock);
		bool changed = s->quit;
		pthread_mutex_unlock(&F.lock);
		if (changed)
			break;
	}
	fetch_watch_stop(&watch);
	fetch_local_watch_stop(&local);
	imap_client_free(&c);
	fetch_lanes_free(&lanes);
	if (pushed != NULL) {
		fetch_push_set(s->id, pushed, FETCH_PUSH_POLL);
		free(pushed);
	}
	if (have_up)
		store_upstream_clear(&up);
	store_close(&st);
	pthread_mutex_lock(&F.lock);
	s->has_thread = false;
	pthread_mutex_unlock(&F.lock);
	poke(F.sched_wake[1]);
	thread_done();
	return NULL;
}

/* ---- the scheduler ---------------------------------------------------- */

static bool
spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	pthread_mutex_lock(&F.lock);
	F.threads++;
	pthread_mutex_unlock(&F.lock);
	int err = pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		log_error("fetch cannot start a thread: %s", strerror(err));
		thread_done();
		return false;
	}
	return true;
}

/* Under the lock: brings the slots in line with the accounts. */
static void
reload(struct store_upstream *list, size_t n, const int64_t *req, size_t n_req)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < F.n_slots; i++)
		F.slots[i]->present = false;
	for (size_t i = 0; i < n; i++) {
		const struct store_upstream *up = &list[i];
		struct slot *s = slot_find(up->id);
		if (s == NULL) {
			s = xcalloc(1, sizeof *s);
			s->id = up->id;
			s->generation = up->generation;
			s->wake[0] = s->wake[1] = -1;
			make_pipe(s->wake);
			/* first fetch soon, spread over a few seconds; an
			 * account that failed before waits for its backoff */
			s->due = now + (up->failures > 0 && up->last_attempt > 0
				       ? (time_t)fetch_next_delay(up, true) -
					 (now - up->last_attempt)
				       : (time_t)(up->id % 3));
			F.slots = xreallocarray(F.slots, F.n_slots + 1, sizeof *F.slots);
			F.slots[F.n_slots++] = s;
		}
		s->present = true;
		if (s->generation != up->generation) {
			s->generation = up->generation;
			s->due = now;
			if (s->has_thread) {
				s->quit = true;
				poke(s->wake[1]);
			}
		}
		/* an account whose OAuth2 grant was refused waits for the user */
		s->enabled = up->set.enabled && !up->reconnect;
		s->idle_mode = up->set.protocol == UPSTREAM_IMAP && up->set.idle;
	}
	for (size_t i = 0; i < n_req; i++) {
		struct slot *s = slot_find(req[i]);
		if (s != NULL) {
			s->now = true;
			poke(s->wake[1]);
		}
	}
	for (size_t i = 0; i < F.n_slots; i++) {
		struct slot *s = F.slots[i];
		bool want_thread = s->present && s->enabled && s->idle_mode;
		if (s->has_thread && !want_thread && !s->quit) {
			s->quit = true;
			poke(s->wake[1]);
		}
	}
}

static void
schedule(void)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < F.n_slots; i++) {
		struct slot *s = F.slots[i];
		if (!s->present || !s->enabled || s->running || s->queued)
			continue;
		if (s->idle_mode) {
			if (!s->has_thread) {
				s->has_thread = true;
				s->quit = false;
				pthread_mutex_unlock(&F.lock);
				bool ok = spawn(idle_main, s);
				pthread_mutex_lock(&F.lock);
				if (!ok)
					s->has_thread = false;
			}
			continue;
		}
		if (s->now || s->due <= now) {
			s->queued = true;
			F.queue = xreallocarray(F.queue, F.n_queue + 1, sizeof *F.queue);
			F.queue[F.n_queue++] = s->id;
			pthread_cond_signal(&F.work_cond);
		}
	}
}

static void *
scheduler_main(void *arg)
{
	(void)arg;
	struct store *st = thread_store("scheduler");
	while (st != NULL && !stopping()) {
		struct store_upstream *list = NULL;
		size_t n = 0, n_req = 0;
		int64_t *req = NULL;
		const char *error;
		if (store_upstream_list(st, 0, &list, &n, &error) != STORE_OK ||
		    store_upstream_take_requests(st, &req, &n_req, &error) != STORE_OK)
			log_error("fetch scheduler: %s", error);
		pthread_mutex_lock(&F.lock);
		reload(list, n, req, n_req);
		schedule();
		pthread_mutex_unlock(&F.lock);
		store_upstream_list_free(&list, n);
		free(req);
		wait_fd(F.sched_wake[0], SCHED_RELOAD_MS);
		drain(F.sched_wake[0]);
	}
	store_close(&st);
	thread_done();
	return NULL;
}

int
fetch_start(const struct config *cfg, const char **error_r)
{
	pthread_mutex_lock(&F.lock);
	if (F.started) {
		pthread_mutex_unlock(&F.lock);
		*error_r = "the fetcher is running already";
		return -1;
	}
	F.cfg = cfg;
	F.stopping = false;
	F.max_active = cfg->fetch_workers > 0 ? cfg->fetch_workers : 1;
	pthread_mutex_unlock(&F.lock);
	if (make_pipe(F.stop_pipe) < 0 || make_pipe(F.sched_wake) < 0) {
		*error_r = errfmt("cannot make a pipe: %s", strerror(errno));
		return -1;
	}
	F.started = true;
	for (unsigned i = 0; i < F.max_active; i++) {
		if (!spawn(worker_main, NULL)) {
			*error_r = "cannot start the fetch workers";
			fetch_stop();
			return -1;
		}
	}
	if (!spawn(scheduler_main, NULL)) {
		*error_r = "cannot start the fetch scheduler";
		fetch_stop();
		return -1;
	}
	log_info("fetch started workers=%u", F.max_active);
	return 0;
}

void
fetch_stop(void)
{
	pthread_mutex_lock(&F.lock);
	if (!F.started) {
		pthread_mutex_unlock(&F.lock);
		return;
	}
	F.stopping = true;
	pthread_cond_broadcast(&F.work_cond);
	pthread_cond_broadcast(&F.slot_cond);
	for (size_t i = 0; i < F.n_slots; i++)
		poke(F.slots[i]->wake[1]);
	poke(F.stop_pipe[1]);
	poke(F.sched_wake[1]);
	while (F.threads > 0)
		pthread_cond_wait(&F.done_cond, &F.lock);
	for (size_t i = 0; i < F.n_slots; i++) {
		close(F.slots[i]->wake[0]);
		close(F.slots[i]->wake[1]);
		free(F.slots[i]);
	}
	xfree(F.slots);
	F.n_slots = 0;
	xfree(F.queue);
	F.n_queue = 0;
	for (int i = 0; i < 2; i++) {
		close(F.stop_pipe[i]);
		close(F.sched_wake[i]);
		F.stop_pipe[i] = F.sched_wake[i] = -1;
	}
	F.started = false;
	pthread_mutex_unlock(&F.lock);
	log_info("fetch stopped");
}

int
fetch_account_now(int64_t id)
{
	pthread_mutex_lock(&F.lock);
	if (!F.started || F.stopping) {
		pthread_mutex_unlock(&F.lock);
		return -1;
	}
	struct slot *s = slot_find(id);
	if (s != NULL) {
		s->now = true;
		poke(s->wake[1]);
	}
	poke(F.sched_wake[1]);
	pthread_mutex_unlock(&F.lock);
	return 0;
}

/*
 * lanes: the further upstream sessions over which a two-way pass sends its
 * folders' changes.
 *
 * After a two-way pass's plans are durable, each changed folder's second
 * half (SELECT, UID STORE, UID EXPUNGE, UID MOVE, APPEND, then the new
 * bases here) is a few round trips that wait on the server, which does
 * one command after another per session.  Spread over several sessions,
 * the folders' commands run side by side (the server has a process per
 * session).  The folders are independent once their plans are committed:
 * a move is planned by its source folder alone, and what it brings to its
 * destination is found there by the next pass, in whichever order they
 * run.
 *
 * A lane is one more session with its own thread, its own store handle
 * (SQLite: one connection per thread) and its own fetch_run: the run's
 * settings, and the session state (the selected folder, the pass's
 * folder, notes) that is the lane's alone.  fetch_lanes_open() starts the
 * lanes' threads, which log in (or check a session kept from an earlier
 * pass with a NOOP) while the pass goes on; fetch_lanes_send() then hands
 * out the folders: the pass's own session and every lane that is ready
 * take the next folder in turn from one list under a lock, so each folder
 * is sent exactly once or not at all, whichever session is slow.  A lane
 * that cannot log in takes nothing.  The first folder that fails stops
 * the others from taking more (the pass fails as it did over one session:
 * the folders not sent are noted with that error and synced next time,
 * from their durable plans).  Every lane thread has ended when
 * fetch_lanes_send() (or fetch_lanes_join()) returns.
 *
 * How many: one per folder with changes here to send beyond the pass's
 * own session (run_imap.c asks the store), FETCH_LANES_MAX sessions at
 * most and the account's [fetch] idle_connections beside its other
 * sessions; with the server on this machine no more than there are cores
 * (fetch_lanes_cap).  The lanes are started as soon as the pass knows it
 * commits its folders' plans together, so that their logins overlap the
 * first halves; a pass with nothing to send here starts none.
 *
 * Between passes the sessions (and store handles) stay in the lanes, for
 * the daemon's IDLE thread, which keeps them for the next pass and closes
 * those unused for FETCH_LANES_KEEP_S; `upstream run` and the pooled
 * workers close theirs at the end of the pass, each in its own thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"

struct lane {
	struct fetch_lanes *ls;
	struct imap_client *c;		/* NULL: not open */
	struct store *st;
	time_t used;			/* the last pass that sent over it */
	pthread_t thread;
	bool running;			/* its thread is started, not joined */
	bool ready;			/* logged in for this pass */
	struct fetch_run run;		/* the lane's own: copied per job */
};

struct fetch_lanes {
	unsigned max;			/* sessions beyond the pass's own */
	bool keep;			/* the sessions stay for the next pass */
	struct lane v[FETCH_LANES_MAX - 1];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* the pass's, while its threads run */
	const struct fetch_run *run;
	const char *password;
	char *data_dir;
	struct fetch_lane_job *job;	/* handed out (NULL: not yet) */
	bool closed;			/* no job is coming, or it is over */
	size_t next;			/* the job's next item */
	unsigned sessions;		/* sending: the pass's and the lanes ready */
	bool failed;
	char error[512];
};

unsigned
fetch_lanes_cap(unsigned max, long cpus)
{
	/* A server on this machine shares its cores: measured against a
	 * Dovecot on loopback on 2 cores, a session's commands keep one
	 * server process and this side's thread busy, so sessions beyond the
	 * cores only slow each other (4 sessions took as long as 1, each
	 * command 4 to 6 times slower; 2 cut the sends by a fifth).  One
	 * further session at least. */
	unsigned cap = FETCH_LANES_MAX - 1;
	if (cpus >= 2 && (unsigned long)cpus - 1 < cap)
		cap = (unsigned)cpus - 1;
	else if (cpus < 2)
		cap = 1;
	return max < cap ? max : cap;
}

struct fetch_lanes *
fetch_lanes_new(unsigned max, bool keep)
{
	struct fetch_lanes *ls = xcalloc(1, sizeof *ls);
	ls->keep = keep;
	ls->max = max < FETCH_LANES_MAX - 1 ? max : FETCH_LANES_MAX - 1;
	pthread_mutex_init(&ls->lock, NULL);
	pthread_cond_init(&ls->cond, NULL);
	for (size_t i = 0; i < FETCH_LANES_MAX - 1; i++)
		ls->v[i].ls = ls;
	return ls;
}

static void
lane_close(struct lane *l)
{
	imap_client_free(&l->c);
	store_close(&l->st);
}

void
fetch_lanes_set_max(struct fetch_lanes *ls, unsigned max)
{
	ls->max = max < FETCH_LANES_MAX - 1 ? max : FETCH_LANES_MAX - 1;
	for (size_t i = ls->max; i < FETCH_LANES_MAX - 1; i++)
		lane_close(&ls->v[i]);
}

void
fetch_lanes_expire(struct fetch_lanes *ls, time_t now)
{
	if (ls == NULL)
		return;
	for (size_t i = 0; i < FETCH_LANES_MAX - 1; i++)
		if (ls->v[i].c != NULL && now - ls->v[i].used >= FETCH_LANES_KEEP_S)
			lane_close(&ls->v[i]);
}

void
fetch_lanes_close(struct fetch_lanes *ls)
{
	if (ls == NULL)
		return;
	fetch_lanes_join(ls);
	for (size_t i = 0; i < FETCH_LANES_MAX - 1; i++)
		lane_close(&ls->v[i]);
}

void
fetch_lanes_free(struct fetch_lanes **lsp)
{
	struct fetch_lanes *ls = *lsp;
	if (ls == NULL)
		return;
	fetch_lanes_close(ls);
	pthread_cond_destroy(&ls->cond);
	pthread_mutex_destroy(&ls->lock);
	free(ls->data_dir);
	free(ls);
	*lsp = NULL;
}

unsigned
fetch_lanes_want(unsigned max, size_t n_folders)
{
	if (n_folders < 2)
		return 0;
	return n_folders - 1 < max ? (unsigned)(n_folders - 1) : max;
}

size_t
fetch_lanes_order(const unsigned *weight, size_t n, size_t *order)
{
	/* the folders that send most first, so that the last ones taken are
	 * short and the sessions end at about the same time; those that only
	 * record here (a few statements each) last.  Insertion, stable: n is
	 * the account's folders. */
	size_t n_sends = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = i;
		while (k > 0 && weight[order[k - 1]] < weight[i]) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
		n_sends += weight[i] > 0;
	}
	return n_sends;
}

/* Under the lock: the job's next item for a session (SIZE_MAX: none). */
static size_t
take(struct fetch_lanes *ls)
{
	struct fetch_lane_job *j = ls->job;
	if (j == NULL || ls->failed || ls->next >= j->n)
		return SIZE_MAX;
	return ls->next++;
}

/* Under the lock: the item a session takes after the one it has, so that
 * its SELECT goes ahead; none while fewer are left than sessions send
 * (one held back by a busy session would end the job late). */
static size_t
take_ahead(struct fetch_lanes *ls)
{
	struct fetch_lane_job *j = ls->job;
	if (j == NULL || ls->next >= j->n || j->n - ls->next < ls->sessions)
		return SIZE_MAX;
	return take(ls);
}

/* Under the lock: the first failure, the pass's error. */
static void
fail(struct fetch_lanes *ls, size_t item, const char *error)
{
	ls->job->errors[item] = xstrdup(error);
	if (!ls->failed) {
		ls->failed = true;
		snprintf(ls->error, sizeof ls->error, "%s", error);
	}
}

/* One session's share of the job: the items it takes, each with the one it
 * takes next (whose SELECT its last command carries ahead). */
static void
send_items(struct fetch_lanes *ls, struct fetch_run *run, struct imap_client *c, size_t cur)
{
	struct fetch_lane_job *j = ls->job;
	pthread_mutex_lock(&ls->lock);
	if (cur == SIZE_MAX)
		cur = take(ls);
	size_t next = take_ahead(ls);
	pthread_mutex_unlock(&ls->lock);
	while (cur != SIZE_MAX) {
		const char *error = NULL;
		int r = j->send(j->ctx, run, c, cur, next, &error);
		pthread_mutex_lock(&ls->lock);
		if (r < 0) {
			fail(ls, cur, error != NULL ? error : "failed");
			next = SIZE_MAX;	/* not sent: noted with the error */
		} else {
			j->done[cur] = true;
		}
		cur = next != SIZE_MAX || r < 0 ? next : take(ls);
		next = cur != SIZE_MAX ? take_ahead(ls) : SIZE_MAX;
		pthread_mutex_unlock(&ls->lock);
	}
}

static void *
lane_main(void *arg)
{
	struct lane *l = arg;
	struct fetch_lanes *ls = l->ls;
	const struct fetch_run *run = ls->run;
	const char *error = NULL;
	bool ok = true;
	if (l->c != NULL) {
		/* kept from an earlier pass: still there? */
		bool news;
		if (imap_client_noop(l->c, &news, &error) < 0)
			imap_client_free(&l->c);
	}
	if (l->c == NULL &&
	    imap_client_open(&run->up->set, ls->password, &run->connect, run->log_id, &l->c,
			     &error) < 0) {
		log_info("fetch[%llu] upstream=%lld a further session for the sends: %s",
			 (unsigned long long)run->log_id, (long long)run->up->id, error);
		ok = false;
	}
	if (ok && l->st == NULL) {
		if (store_open(ls->data_dir, &l->st, &error) != STORE_OK) {
			log_error("fetch[%llu] upstream=%lld cannot open the store: %s",
				  (unsigned long long)run->log_id, (long long)run->up->id, error);
			imap_client_free(&l->c);
			ok = false;
		} else {
			store_cache_kib(l->st, FETCH_CACHE_KIB);
		}
	}
	pthread_mutex_lock(&ls->lock);
	while (ok && ls->job == NULL && !ls->closed)
		pthread_cond_wait(&ls->cond, &ls->lock);
	bool work = ok && ls->job != NULL && !ls->closed;
	l->ready = work;
	ls->sessions += work;
	/* the run was copied when the job came: the store is the lane's,
	 * opened above, maybe after */
	l->run.st = l->st;
	pthread_mutex_unlock(&ls->lock);
	if (work) {
		send_items(ls, &l->run, l->c, SIZE_MAX);
		l->used = time(NULL);
	}
	/* not kept: its LOGOUT and the store's last sync here, beside the
	 * other sessions' */
	if (!ls->keep)
		lane_close(l);
	OPENSSL_thread_stop();
	return NULL;
}

unsigned
fetch_lanes_open(struct fetch_lanes *ls, const struct fetch_run *run, const char *password,
		 unsigned want)
{
	if (ls == NULL || want == 0)
		return 0;
	fetch_lanes_join(ls);	/* a pass's threads are its own */
	ls->run = run;
	ls->password = password;
	free(ls->data_dir);
	ls->data_dir = xstrdup(store_data_dir(run->st));
	ls->job = NULL;
	ls->closed = false;
	ls->failed = false;
	ls->next = 0;
	ls->error[0] = '\0';
	unsigned started = 0;
	for (unsigned i = 0; i < ls->max && started < want; i++) {
		struct lane *l = &ls->v[i];
		l->ready = false;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		/* SQLite and the client's work, as a fetch worker's */
		pthread_attr_setstacksize(&attr, 512 * 1024);
		int err = pthread_create(&l->thread, &attr, lane_main, l);
		pthread_attr_destroy(&attr);
		if (err != 0) {
			log_warning("fetch[%llu] upstream=%lld cannot start a thread: %s",
				    (unsigned long long)run->log_id, (long long)run->up->id,
				    strerror(err));
			break;
		}
		l->running = true;
		started++;
	}
	return started;
}

void
fetch_lanes_join(struct fetch_lanes *ls)
{
	if (ls == NULL)
		return;
	pthread_mutex_lock(&ls->lock);
	ls->closed = true;
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->lock);
	for (size_t i = 0; i < FETCH_LANES_MAX - 1; i++) {
		if (ls->v[i].running) {
			pthread_join(ls->v[i].thread, NULL);
			ls->v[i].running = false;
		}
	}
	ls->job = NULL;
	ls->password = NULL;
}

/* The lane's fetch_run: the pass's settings; its store and session state
 * its own. */
static void
lane_run(struct lane *l, const struct fetch_run *run)
{
	l->run = (struct fetch_run){
		.st = l->st,
		.up = run->up,
		.hostname = run->hostname,
		.max_size = run->max_size,
		.mailbox_id = run->mailbox_id,
		.stop_fd = run->stop_fd,
		.connect = run->connect,
		.log_id = run->log_id,
	};
}

int
fetch_lanes_send(struct fetch_lanes *ls, struct fetch_run *run, struct imap_client *c,
		 struct fetch_lane_job *job, unsigned *sessions_r, const char **error_r)
{
	*sessions_r = 1;
	if (job->n == 0) {
		fetch_lanes_join(ls);
		return 0;
	}
	if (ls == NULL) {
		/* the pass's own session alone */
		struct fetch_lanes one = { .sessions = 1 };
		pthread_mutex_init(&one.lock, NULL);
		one.job = job;
		send_items(&one, run, c, SIZE_MAX);
		pthread_mutex_destroy(&one.lock);
		if (one.failed)
			*error_r = errfmt("%s", one.error);
		return one.failed ? -1 : 0;
	}
	pthread_mutex_lock(&ls->lock);
	/* the session's first item: its SELECT is written ahead already */
	ls->job = job;
	ls->next = 1;
	ls->sessions = 1;
	ls->failed = false;
	for (size_t i = 0; i < FETCH_LANES_MAX - 1; i++)
		if (ls->v[i].running)
			lane_run(&ls->v[i], run);
	pthread_cond_broadcast(&ls->cond);
	pthread_mutex_unlock(&ls->lock);
	send_items(ls, run, c, 0);
	/* the lanes finish what they took; one still logging in takes
	 * nothing now */
	fetch_lanes_join(ls);
	for (size_t i = 0; i < FETCH_LANES_MAX - 1; i++) {
		struct lane *l = &ls->v[i];
		*sessions_r += l->ready;
		free(l->run.selected);
		free(l->run.pass_folder);
		l->run.selected = l->run.pass_folder = NULL;
		l->ready = false;
		/* a session whose command failed may be out of step: not kept */
		if (ls->failed)
			imap_client_free(&l->c);
	}
	if (ls->failed)
		*error_r = errfmt("%s", ls->error);
	return ls->failed ? -1 : 0;
}

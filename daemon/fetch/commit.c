/*
 * commit: making fetched batches durable while the next batch arrives.
 *
 * Committing a batch (syncfs, renames, one SQLite transaction; see
 * store/upstream_batch.c) is mostly waiting for the disk, and receiving
 * the next batch is mostly waiting for the upstream.  A run therefore has
 * two batches: the one being received (run->batch) and the one being
 * committed by the run's committer thread.  fetch_flush_start() hands
 * run->batch over and gives the run the other one back; fetch_flush_wait()
 * waits for the commit and tells what it delivered.  Only after that wait
 * may anything of that batch be deleted upstream.
 *
 * A batch whose messages went into records of their bytes (sql/056, see
 * store/upstream_batch.c) is durable once committed: the committer tells
 * the run so at once and syncs the batch's files after, while the run
 * goes on; the batch comes back to the run (as the spare) only then.
 *
 * While a commit is in flight the run's thread must not use run->st (the
 * committer uses it): it only reads the network and writes temporary blob
 * files, which touch no SQLite state.  Every use of run->st in fetch/
 * happens before the first fetch_flush_start() or after a
 * fetch_flush_wait(); fetch_run_store() asserts it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"

struct fetch_committer {
	struct fetch_run *run;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct upstream_batch *job;	/* to commit (set by the run) */
	struct upstream_batch *spare;	/* the batch not in run->batch */
	bool busy;			/* a job is handed over, not yet waited for */
	bool done;			/* the job is committed (or failed) */
	bool quit;
	/* the result of the last job */
	int ret;
	unsigned appended, delivered;
	size_t queued;
	char error[512];		/* the committer's errfmt() is its own */
};

static void *
committer_main(void *arg)
{
	struct fetch_committer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->job == NULL && !c->quit)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->job == NULL)
			break;
		struct upstream_batch *b = c->job;
		pthread_mutex_unlock(&c->lock);

		unsigned appended = 0, delivered = 0;
		const char *error = "";
		size_t queued = store_upstream_batch_count(b);
		int ret = store_upstream_batch_commit(b, &appended, &delivered, &error);
		/* the messages before a refused one are committed */
		fetch_sieve_committed(c->run, c->run->st,
				      ret == STORE_OK || ret == STORE_OVERQUOTA);

		pthread_mutex_lock(&c->lock);
		c->ret = ret;
		c->appended = appended;
		c->delivered = delivered;
		c->queued = queued;
		snprintf(c->error, sizeof c->error, "%s", ret == STORE_OK ? "" : error);
		c->job = NULL;
		c->done = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);

		/* the files of a recorded batch synced now, not waited for
		 * (touches no SQLite handle: the run has run->st back) */
		store_upstream_batch_settle(b);

		pthread_mutex_lock(&c->lock);
		c->spare = b;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
fetch_committer_new(struct fetch_run *run, const char **error_r)
{
	struct fetch_committer *c = xcalloc(1, sizeof *c);
	c->run = run;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (store_upstream_batch_new(run->st, &c->spare) != STORE_OK ||
	    store_upstream_batch_new(run->st, &run->batch) != STORE_OK) {
		*error_r = "cannot start a batch";
		run->committer = c;
		fetch_committer_free(run);
		return -1;
	}
	fetch_sieve_batch(run, c->spare);
	fetch_sieve_batch(run, run->batch);
	run->committer = c;
	return 0;
}

void
fetch_committer_free(struct fetch_run *run)
{
	struct fetch_committer *c = run->committer;
	if (c == NULL)
		return;
	if (c->busy) {
		/* committed whatever the run does now: count it */
		const char *error;
		if (fetch_flush_wait(run, NULL, &error) < 0)
			log_error("fetch[%llu] upstream=%lld %s", (unsigned long long)run->log_id,
				  (long long)run->up->id, error);
	}
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->quit = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	store_upstream_batch_free(&c->spare);
	store_upstream_batch_free(&run->batch);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	run->committer = NULL;
}

bool
fetch_commit_busy(const struct fetch_run *run)
{
	/* busy is written by the run's thread only (start and wait) */
	return run->committer != NULL && run->committer->busy;
}

int
fetch_flush_start(struct fetch_run *run, const char **error_r)
{
	struct fetch_committer *c = run->committer;
	if (c->busy)
		panic("fetch: a batch handed over while another is in flight");
	/* empty: nothing to commit, nothing to wait for */
	if (!c->started) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		/* SQLite and the store's work, as a fetch worker's */
		pthread_attr_setstacksize(&attr, 512 * 1024);
		int err = pthread_create(&c->thread, &attr, committer_main, c);
		pthread_attr_destroy(&attr);
		if (err != 0) {
			*error_r = errfmt("cannot start a thread: %s", strerror(err));
			return -1;
		}
		c->started = true;
	}
	pthread_mutex_lock(&c->lock);
	/* the last batch committed, back once its files are synced */
	while (c->spare == NULL)
		pthread_cond_wait(&c->cond, &c->lock);
	c->job = run->batch;
	run->batch = c->spare;
	c->spare = NULL;
	c->busy = true;
	c->done = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int
fetch_flush_wait(struct fetch_run *run, size_t *delivered_r, const char **error_r)
{
	struct fetch_committer *c = run->committer;
	if (delivered_r != NULL)
		*delivered_r = 0;
	if (!c->busy)
		return 0;
	/* the file work of the batch received meanwhile, done here while the
	 * committer is still busy with the one before (an error is kept for
	 * that batch's commit to report) */
	const char *prepare_error;
	pthread_mutex_lock(&c->lock);
	bool done = c->done;
	pthread_mutex_unlock(&c->lock);
	if (!done)
		(void)store_upstream_batch_prepare(run->batch, &prepare_error);
	pthread_mutex_lock(&c->lock);
	while (!c->done)
		pthread_cond_wait(&c->cond, &c->lock);
	c->busy = false;
	int ret = c->ret;
	unsigned appended = c->appended, delivered = c->delivered;
	size_t queued = c->queued;
	if (ret != STORE_OK)
		*error_r = errfmt("%s", c->error);
	pthread_mutex_unlock(&c->lock);

	run->appended += appended;
	run->seen += delivered;
	if (delivered_r != NULL)
		*delivered_r = delivered;
	if (ret == STORE_OVERQUOTA)
		*error_r = errfmt("the mailbox of %s is over its quota", run->up->owner);
	else if (ret == STORE_NOSPACE)
		/* nothing of the batch is deleted upstream; the account's
		 * backoff brings the next try, which goes on from here */
		*error_r = "the server's disk is full: fetching pauses until there is room";
	else if (ret == STORE_OK && delivered < queued)
		*error_r = "not every message could be delivered";
	return ret == STORE_OK && delivered == queued ? 0 : -1;
}

struct store *
fetch_run_store(const struct fetch_run *run)
{
	if (fetch_commit_busy(run))
		panic("fetch: the store used while the committer has it");
	return run->st;
}

int
fetch_flush(struct fetch_run *run, size_t *delivered_r, const char **error_r)
{
	if (delivered_r != NULL)
		*delivered_r = 0;
	if (fetch_flush_wait(run, NULL, error_r) < 0)
		return -1;
	if (store_upstream_batch_count(run->batch) == 0)
		return 0;
	if (fetch_flush_start(run, error_r) < 0)
		return -1;
	return fetch_flush_wait(run, delivered_r, error_r);
}

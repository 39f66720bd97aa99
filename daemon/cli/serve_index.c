/* serve_index: see serve_index.h. */
#include "cli/serve_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "core/limits.h"
#include "core/log.h"
#include "store/searchdb.h"
#include "store/store.h"

/* Blobs per pass; a pass stores them in transactions of at most this
 * many (fewer when their text is large: searchdb.c), each holding the
 * write lock only for its inserts, the files having been read and parsed
 * before it began.  Mail arriving is indexed in small batches, so that
 * deliveries wait little for the lock; a backlog (after an import, an
 * upgrade or a crash) in larger ones, which cost FTS5 less per message
 * (measured: about 13% less CPU at 1,000 than at 64). */
#define INDEX_BATCH 64
#define INDEX_BATCH_BACKLOG 500

/* Seconds between looks for messages that another process stored (the
 * delay instead when it is longer). */
#define INDEX_LOOK_SECONDS 30

/*
 * While mail keeps arriving, the indexer waits for a pause (see gather()),
 * at most this long and this many commits that added mail.  Its transactions hold
 * SQLite's one write lock for their FTS5 inserts, and every delivery
 * waiting for the lock meanwhile answers later: measured with sieve_bench
 * (4 sessions), a delivery's transaction took 0.60-0.68 ms from its turn
 * to its COMMIT with the indexer at work beside it and 0.17 ms without,
 * and the rate was 673-816 msg/s against 984-1,144.  Accepting mail comes
 * first; SEARCH meanwhile reads the messages not indexed yet itself
 * (searchdb.h), so it stays right, only slower for them.  A longer
 * stream (an import, a first fetch) is indexed as it goes after these
 * limits, in the larger batches of a backlog.
 */
#define INDEX_DEFER_MS 10000
#define INDEX_DEFER_ARRIVALS 5000

static pthread_t index_thread;
static bool index_running;
static atomic_bool index_stop;
static unsigned index_delay_ms;

/* Indexes what is pending until none is (sweep: and blobs without keys);
 * the count in *total_r.  false: a pass failed (tried again at the next
 * arrival). */
static bool
index_all(struct store *st, bool sweep, size_t *total_r)
{
	const char *error;
	size_t done, max = INDEX_BATCH;
	for (;;) {
		if (atomic_load(&index_stop))
			return true;
		if (searchdb_index_pass(st, max, sweep, &done, &error) != STORE_OK) {
			log_error("index pass failed: %s", error);
			return false;
		}
		*total_r += done;
		if (done < max)
			break;
		max = INDEX_BATCH_BACKLOG;
	}
	/* then what expunges left in the index (sql/049) */
	for (;;) {
		if (atomic_load(&index_stop))
			return true;
		if (searchdb_gone_pass(st, INDEX_BATCH_BACKLOG, &done, &error) != STORE_OK) {
			log_error("index pass failed: %s", error);
			return false;
		}
		if (done < INDEX_BATCH_BACKLOG)
			return true;
	}
}

/* Sleeps index_delay_ms (an arrival does not wake it); false when
 * stopped. */
static bool
sleep_delay(void)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += index_delay_ms / 1000;
	until.tv_nsec += (long)(index_delay_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return searchdb_sleep(&until) == 0;
}

/* Waits until index_delay_ms pass without an arrival, so that messages
 * arriving close together share a batch and a stream of them is not
 * slowed by the index (see INDEX_DEFER_MS), but no longer than those
 * limits; false when stopped. */
static bool
gather(void)
{
	if (index_delay_ms == 0)
		return true;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	uint64_t first = searchdb_arrivals();
	for (;;) {
		uint64_t before = searchdb_arrivals();
		if (!sleep_delay())
			return false;
		uint64_t after = searchdb_arrivals();
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t ms = (int64_t)(now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000;
		if (after == before || ms >= INDEX_DEFER_MS ||
		    after - first >= INDEX_DEFER_ARRIVALS)
			return true;
	}
}

static void *
index_main(void *arg)
{
	const struct config *cfg = arg;
	struct store *st;
	const char *error;
	size_t total = 0;

	if (store_open(cfg->data_dir, &st, &error) != STORE_OK) {
		log_error("index cannot open the store: %s", error);
		return NULL;
	}
	store_cache_kib(st, INDEX_CACHE_KIB);
	/* what a stop or a crash left unindexed, and mail stored while the
	 * daemon was not running: at once */
	uint64_t seen = searchdb_arrivals();
	index_all(st, true, &total);
	log_info("index started delay_ms=%u messages=%zu indexed at start",
		 index_delay_ms, total);
	while (!atomic_load(&index_stop)) {
		/* woken by this process's commits; another process's (mailhub
		 * import while the daemon runs) are found by looking now and
		 * then */
		struct timespec look;
		clock_gettime(CLOCK_MONOTONIC, &look);
		look.tv_sec += index_delay_ms / 1000 > INDEX_LOOK_SECONDS
			? index_delay_ms / 1000 : INDEX_LOOK_SECONDS;
		int r = searchdb_wait(seen, &look);
		if (r < 0 || (r > 0 && !gather()))
			break;
		/* read before the pass: a commit after this wakes it again */
		seen = searchdb_arrivals();
		total = 0;
		index_all(st, false, &total);
		if (total > 0)
			log_debug("index messages=%zu indexed", total);
	}
	store_close(&st);
	return NULL;
}

void
serve_index_start(const struct config *cfg)
{
	atomic_store(&index_stop, false);
	searchdb_wait_interrupt(false);
	index_delay_ms = cfg->search_index_delay_ms;
	if (pthread_create(&index_thread, NULL, index_main, (void *)cfg) != 0) {
		log_error("index cannot start its thread");
		return;
	}
	index_running = true;
}

void
serve_index_stop(void)
{
	if (!index_running)
		return;
	atomic_store(&index_stop, true);
	searchdb_wait_interrupt(true);
	pthread_join(index_thread, NULL);
	index_running = false;
}

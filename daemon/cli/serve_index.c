/* serve_index: see serve_index.h. */
#include "cli/serve_index.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "core/log.h"
#include "store/searchdb.h"
#include "store/store.h"

/* Blobs per transaction: short, so sessions' writes wait little. */
#define INDEX_BATCH 100

static pthread_t index_thread;
static bool index_running;
static atomic_bool index_stop;

static void *
index_main(void *arg)
{
	const struct config *cfg = arg;
	struct store *st;
	const char *error;
	size_t total = 0, done;

	if (store_open(cfg->data_dir, &st, &error) != STORE_OK) {
		log_error("index cannot open the store: %s", error);
		return NULL;
	}
	while (!atomic_load(&index_stop)) {
		if (searchdb_index_pass(st, INDEX_BATCH, &done, &error) != STORE_OK) {
			log_error("index pass failed: %s", error);
			break;
		}
		if (done == 0)
			break;
		total += done;
		/* leave the disk and the write lock to the sessions a while */
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (total > 0)
		log_info("index messages=%zu given sort keys and full-text index", total);
	store_close(&st);
	return NULL;
}

void
serve_index_start(const struct config *cfg)
{
	atomic_store(&index_stop, false);
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
	pthread_join(index_thread, NULL);
	index_running = false;
}

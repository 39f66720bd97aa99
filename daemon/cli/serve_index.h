/* serve_index: the daemon's background indexer.  Deliveries, APPEND,
 * COPY and fetched mail leave the sort keys and full-text index of their
 * messages to it (store/searchdb.h): woken when a commit adds messages, it
 * waits [search] index_delay_ms to gather them, then indexes them in
 * batches of their own short transactions, in a thread at a lower
 * priority.  At its start it indexes what a stop or crash left, and mail
 * stored while the daemon was not running. */
#ifndef MAILHUB_CLI_SERVE_INDEX_H
#define MAILHUB_CLI_SERVE_INDEX_H

#include "core/config.h"

/* Starts the indexer in a thread of its own. */
void serve_index_start(const struct config *cfg);
/* Stops it (between two batches, or in its wait) and waits for it. */
void serve_index_stop(void);

#endif

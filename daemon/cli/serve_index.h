/* serve_index: the background pass that gives mail stored before sql/016
 * its sort keys and full-text index (store/searchdb.h), in small batches,
 * while the daemon serves. */
#ifndef MAILHUB_CLI_SERVE_INDEX_H
#define MAILHUB_CLI_SERVE_INDEX_H

#include "core/config.h"

/* Starts the pass in a thread of its own (it ends when nothing is left). */
void serve_index_start(const struct config *cfg);
/* Stops it between two batches and waits for it. */
void serve_index_stop(void);

#endif

/*
 * stats: figures about the whole store for the admin panel's dashboard
 * (GET /api/v1/status): how many domains, users and aliases there are, and
 * how much disk the database and the message files take; and the gauges of
 * the metrics (GET /metrics).
 */
#ifndef MAILHUB_STORE_STATS_H
#define MAILHUB_STORE_STATS_H

#include <stdint.h>

#include "store/store.h"

struct store_stats {
	unsigned domains;
	unsigned users;
	unsigned aliases;
	uint64_t blob_files;	/* message files under data_dir/blobs/ */
	uint64_t blob_bytes;	/* their size on disk (allocated blocks) */
	uint64_t db_bytes;	/* mailhub.db with its -wal file */
};

/* Counts rows and walks data_dir/blobs/ (two levels: XX/HASH, plus tmp/).
 * The walk is bounded by what is on disk; it reads only directory entries
 * and inode data, never file contents. */
int store_stats_get(struct store *st, struct store_stats *stats_r,
		    const char **error_r);

/* The figures GET /metrics and the dashboard's chart read at each scrape:
 * two indexed counts on the queue and one pass over the messages table
 * (never the files). */
struct store_metrics {
	uint64_t queue_messages;	/* with recipients pending or deferred */
	uint64_t queue_recipients;	/* pending or deferred */
	int64_t queue_oldest;		/* created time of the oldest such message; 0 */
	uint64_t messages;		/* in every mailbox */
	uint64_t bytes;			/* their sizes */
};
int store_metrics_get(struct store *st, struct store_metrics *m_r, const char **error_r);

#endif

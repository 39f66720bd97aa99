/*
 * trust_stats: per local domain and hour, counts of what the inbound
 * checks said (sql/013_trust_stats.sql), for the panel's summary of the
 * last day (GET /api/v1/domains).  Counts carry no message, so they are
 * written in light transactions (store_begin_light: synced by a group
 * commit shared with the other light commits of the moment), or in the
 * transaction of the delivery they count.
 */
#ifndef MAILHUB_STORE_TRUST_STATS_H
#define MAILHUB_STORE_TRUST_STATS_H

#include <stdint.h>

#include "store/store.h"

struct store_trust_counts {
	int64_t messages;
	int64_t spf_pass, dkim_pass, dmarc_pass, dmarc_fail;
	int64_t refused, junk;
};

/* How long rows are kept (hours). */
#define STORE_TRUST_STATS_KEEP_HOURS 48

/* Adds c to the row of domain's hour of now (and removes rows older than
 * STORE_TRUST_STATS_KEEP_HOURS).  STORE_OK, or the failure. */
int store_trust_stats_add(struct store *st, const char *domain, int64_t now,
			  const struct store_trust_counts *c, const char **error_r);
/* The same inside the caller's write transaction (a delivery's: the
 * counts of a delivered message commit with its rows, at no cost of a
 * transaction of their own). */
int store_trust_stats_add_tx(struct store *st, const char *domain, int64_t now,
			     const struct store_trust_counts *c, const char **error_r);

/* The sums over the last 24 hours (the current one and the 23 before). */
int store_trust_stats_day(struct store *st, const char *domain, int64_t now,
			  struct store_trust_counts *c_r, const char **error_r);

#endif

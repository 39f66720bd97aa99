/*
 * dns_cache: DNS answers kept for their TTL, shared by the daemon's threads.
 *
 * The inbound checks ask the same questions again and again (the SPF record
 * of a big sender, its includes, a DMARC policy); a cache that honours the
 * TTLs (RFC 1035 §3.2.1, RFC 2308 §5 for NXDOMAIN and no data) saves the
 * round trips without keeping anything longer than its owner allows.
 *
 * Bounded: at most max_entries answers and about max_bytes of record data;
 * when full, the least recently used answer goes first.  Temporary failures
 * and answers with TTL 0 are not kept; no TTL is trusted past
 * DNS_CACHE_TTL_MAX.  The cache has its own lock: any thread may use it.
 * Times are whole seconds of a monotonic clock, passed in so that tests
 * can move time.
 */
#ifndef MAILHUB_CORE_DNS_CACHE_H
#define MAILHUB_CORE_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dns.h"

/* One day: the longest any answer is kept, whatever its TTL says. */
#define DNS_CACHE_TTL_MAX 86400

struct dns_cache *dns_cache_new(size_t max_entries, size_t max_bytes);
void dns_cache_free(struct dns_cache **c);

/* The kept answer for (name, type) when there is one that has not expired
 * at now: true, with a copy in *ans_r whose TTL is what remains of it.
 * Names compare without case and without a trailing dot. */
bool dns_cache_get(struct dns_cache *c, const char *name, enum dns_type type,
		   uint64_t now, struct dns_answer *ans_r);
/* Keeps a copy of ans until now + its TTL (see above for what is not
 * kept); replaces an older answer to the same question. */
void dns_cache_put(struct dns_cache *c, const char *name, enum dns_type type,
		   uint64_t now, const struct dns_answer *ans);
/* How many answers are kept (tests). */
size_t dns_cache_count(struct dns_cache *c);
/* Seconds of CLOCK_MONOTONIC, for now above. */
uint64_t dns_cache_now(void);

#endif

/*
 * cache: the compiled form of the users' active scripts, kept between
 * deliveries so that a delivery does not parse and check the script
 * again (it was compiled once, when it was stored).
 *
 * An entry is found by the script's row id and the version of its text
 * (store_sieve_active_version(): every change of the text, in this process
 * or another such as the CLI, gives it a new version), so a delivery reads
 * the text only when it is not kept: a changed script is compiled anew,
 * and the change takes effect at the next delivery.  (Before, the entry
 * held the text, which every delivery read from the database, a few pages
 * for a 50-rule script, and compared whole.)  The daemon's writers
 * (ManageSieve, the REST API) also drop a user's entries when the user's
 * scripts change or are deactivated.  At most SIEVE_CACHE_ENTRIES scripts holding
 * SIEVE_CACHE_TEXT_MAX bytes of text are kept; the least recently used
 * goes first.
 *
 * Shared by every delivering thread (SMTP sessions, fetchers): one lock,
 * owned here.  A compiled script is read only while it runs, so threads
 * run the same one at once; an entry dropped while in use is freed by its
 * last user.
 */
#ifndef MAILHUB_SIEVE_CACHE_H
#define MAILHUB_SIEVE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "sieve/sieve.h"

#define SIEVE_CACHE_ENTRIES 256
#define SIEVE_CACHE_TEXT_MAX (16 * 1024 * 1024)

struct sieve_cache_ref;

/*
 * The compiled form of script row id at version, when it is kept: 0 with
 * *script_r and *ref_r (give it back with sieve_cache_release() once the
 * run is over), or -1 (then read the text and call sieve_cache_get()).
 */
int sieve_cache_find(int64_t id, int64_t version, const struct sieve_script **script_r,
		     struct sieve_cache_ref **ref_r);
/*
 * The compiled form of script row id at version of user_id, whose text is
 * text[0..len): from the cache, or compiled now and kept.  0 with *script_r
 * and *ref_r (as above), or -1 with the compiler's errors appended to
 * errors.
 */
int sieve_cache_get(int64_t id, int64_t version, int64_t user_id, const char *text, size_t len,
		    const struct sieve_script **script_r, struct sieve_cache_ref **ref_r,
		    struct buf *errors);
/* Done with a script of sieve_cache_get(); NULL is fine; sets *ref NULL. */
void sieve_cache_release(struct sieve_cache_ref **ref);
/* Drops the entries of user_id's scripts (they changed). */
void sieve_cache_forget_user(int64_t user_id);
/* Drops every entry (tests; a reload). */
void sieve_cache_clear(void);

struct sieve_cache_stats {
	size_t entries;		/* scripts kept */
	size_t text_bytes;	/* their text */
	uint64_t hits, misses;	/* since the start */
};
void sieve_cache_stats(struct sieve_cache_stats *st);

#endif

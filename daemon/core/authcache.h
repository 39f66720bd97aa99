/*
 * authcache: the passwords verified lately, so that a client that logs in
 * again and again (a phone checking mail, several clients of one person)
 * does not pay a yescrypt check each time.  Dovecot's auth_cache answers
 * the same load.
 *
 * What is kept is no password: each entry is an HMAC-SHA-256, under a
 * random key made when the process starts and never written anywhere, of
 * the address, the password given and the stored hash it was verified
 * against, with the time it expires.  So
 *  - a wrong password never hits: its HMAC is another value (a hit needs
 *    all 32 bytes equal, compared in constant time);
 *  - a change of password (a new stored hash) misses at once, and
 *    authcache_forget_all() drops every entry when a password changes or a
 *    user is removed;
 *  - entries live at most AUTH_CACHE_TTL seconds (core/limits.h).
 * The table has AUTH_CACHE_SLOTS slots, chosen by the HMAC: a new entry
 * takes its slot over, so the memory is fixed.  One lock, held for a copy
 * of 40 bytes, never across I/O or the yescrypt check.
 */
#ifndef MAILHUB_CORE_AUTHCACHE_H
#define MAILHUB_CORE_AUTHCACHE_H

#include <stdbool.h>

/* True when this password was verified against stored_hash for address
 * less than AUTH_CACHE_TTL seconds ago (and not forgotten since). */
bool authcache_hit(const char *address, const char *password,
		   const char *stored_hash);
/* Notes a password that has just been verified against stored_hash. */
void authcache_add(const char *address, const char *password,
		   const char *stored_hash);
/* Drops every entry (a password changed, a user was removed or disabled). */
void authcache_forget_all(void);

#endif

/*
 * throttle: the one login-failure throttle for SMTP, IMAP, POP3 and the panel.
 *
 * Each failed login from an address makes the next answer to that address
 * slower (a delay that doubles from 250 ms up to auth_delay_max_ms); after
 * auth_block_after failures within the block window, the address is blocked
 * for auth_block_seconds: every login attempt from it is refused at once
 * without checking the password.  A success clears the address's record.
 * The table is bounded (THROTTLE_MAX_ENTRIES; the stalest entry makes room).
 * The module owns the table behind its own lock.
 *
 * The window is sliding: a failure auth_block_seconds or more after the
 * previous one starts the count again, and when a block ends the address
 * starts afresh.  IPv6 addresses count by their /64 (one host usually holds
 * a whole /64); an IPv4-mapped IPv6 address counts as the IPv4 address.
 * Text that is not an address (say "local") is its own key.
 * Time is the monotonic clock in seconds, so changing the wall clock neither
 * lifts nor stretches a block.
 */
#ifndef MAILHUB_CORE_THROTTLE_H
#define MAILHUB_CORE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define THROTTLE_MAX_ENTRIES 16384

struct throttle_settings {
	unsigned block_after;	/* failures before a block */
	unsigned block_seconds;
	unsigned delay_max_ms;
};

/* Sets the rules (before configure: 10 failures, 900 s, 8000 ms).
 * block_after 0 never blocks; block_seconds should be at least 1. */
void throttle_configure(const struct throttle_settings *settings);

/* True when ip is blocked now: refuse the login without checking it. */
bool throttle_blocked(const char *ip);
/* Records a failed login from ip; returns the delay in milliseconds the
 * caller should wait before answering (the caller sleeps, so that only that
 * session waits). */
unsigned throttle_failure(const char *ip);
/* Records a successful login: forgets ip's failures. */
void throttle_success(const char *ip);
/* Forgets everything (tests). */
void throttle_reset(void);

/* The same with an explicit clock, for tests: now is any count of seconds
 * that never goes backwards (the plain calls use CLOCK_MONOTONIC). */
bool throttle_blocked_at(const char *ip, time_t now);
unsigned throttle_failure_at(const char *ip, time_t now);
/* How many addresses the table holds now (tests, status). */
size_t throttle_count(void);

#endif

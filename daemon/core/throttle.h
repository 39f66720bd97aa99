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
 */
#ifndef MAILHUB_CORE_THROTTLE_H
#define MAILHUB_CORE_THROTTLE_H

#include <stdbool.h>
#include <time.h>

#define THROTTLE_MAX_ENTRIES 16384

struct throttle_settings {
	unsigned block_after;	/* failures before a block */
	unsigned block_seconds;
	unsigned delay_max_ms;
};

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

/* The same with an explicit clock, for tests. */
bool throttle_blocked_at(const char *ip, time_t now);
unsigned throttle_failure_at(const char *ip, time_t now);

#endif

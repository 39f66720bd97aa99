/*
 * throttle: the one login-failure throttle for SMTP, IMAP, POP3 and the panel.
 *
 * A login is a ticket: throttle_begin() before the credentials are checked,
 * throttle_end() with the outcome after.  Failures count per source address
 * and, within it, per target account (up to THROTTLE_ACCOUNTS accounts an
 * address; failures for further accounts share one more count).  A success
 * clears only that account's count for that address, so a right login as
 * bob does not forgive the guesses for alice.
 *
 * The address is blocked for block_seconds, every login from it refused at
 * once without checking anything, when one account's count reaches
 * block_after, or all its failures together reach
 * THROTTLE_ADDRESS_FACTOR * block_after (spraying one guess over many
 * accounts).  Each failure makes the failing session wait longer before it
 * answers (a delay that doubles from 250 ms up to delay_max_ms, by the
 * address's failures).
 *
 * Concurrency: checks that could still fail are counted as they run, so that
 * the block is decided before the slow password check, not after it.  A
 * check starts only while the target account's failures plus the checks in
 * flight from the address stay below block_after, and, once the address has
 * any failure (its soft limit), only when no other check from it is in
 * flight.  A login that may not start yet waits up to THROTTLE_WAIT_MS for
 * the running ones and is then told to try later (THROTTLE_BUSY).  So no
 * number of parallel connections gets more than block_after guesses at an
 * account checked.
 *
 * The window is sliding: a failure block_seconds or more after the address's
 * previous one starts its counts again, and when a block ends the address
 * starts afresh.  IPv6 addresses count by their /64 (one host usually holds
 * a whole /64); an IPv4-mapped IPv6 address counts as the IPv4 address.
 * Text that is not an address (say "local") is its own key.  Accounts are
 * compared without ASCII case, by a keyed hash (the names are not kept).
 * The table is bounded (THROTTLE_MAX_ENTRIES addresses; the least recently
 * touched one without a check in flight makes room).  The module owns the
 * table behind its own lock.  Time is the monotonic clock in seconds, so
 * changing the wall clock neither lifts nor stretches a block.
 */
#ifndef MAILHUB_CORE_THROTTLE_H
#define MAILHUB_CORE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define THROTTLE_MAX_ENTRIES 16384
/* Accounts counted one by one per address. */
#define THROTTLE_ACCOUNTS 8
/* All failures of an address together block at this many times block_after. */
#define THROTTLE_ADDRESS_FACTOR 3
/* How long a login waits for the checks in flight from its address. */
#define THROTTLE_WAIT_MS 5000

struct throttle_settings {
	unsigned block_after;	/* failures before a block */
	unsigned block_seconds;
	unsigned delay_max_ms;
};

/* An address as a fixed key (see the header comment). */
struct throttle_key {
	uint8_t family;		/* 4, 6, or 0 for text that is not an address */
	uint8_t bytes[16];
};

/* One login from throttle_begin() to throttle_end(); lives on the caller's
 * stack.  Nothing in it needs freeing. */
struct throttle_ticket {
	struct throttle_key key;
	uint64_t account;
	bool running;		/* begun with THROTTLE_GO and not ended */
};

enum throttle_verdict {
	THROTTLE_GO,		/* check the credentials, then throttle_end() */
	THROTTLE_BLOCKED,	/* refuse: too many failures from the address */
	THROTTLE_BUSY,		/* refuse for now: "temporary failure, try later" */
};

/* Sets the rules (before configure: 10 failures, 900 s, 8000 ms).
 * block_after 0 never blocks; block_seconds should be at least 1. */
void throttle_configure(const struct throttle_settings *settings);

/*
 * Starts a login from ip for account (the name the peer gave; NULL or ""
 * when there is none).  May wait up to THROTTLE_WAIT_MS for other checks
 * from ip.  Only after THROTTLE_GO is the ticket running; then the caller
 * checks the credentials and must call throttle_end().
 */
enum throttle_verdict throttle_begin(struct throttle_ticket *t, const char *ip,
				     const char *account);
/*
 * Ends a running login: success clears the account's failures for the
 * address; a failure counts (and may block the address).  Returns the delay
 * in milliseconds the caller should wait before answering a failure (the
 * caller sleeps, so that only that session waits); 0 for a success or a
 * ticket that is not running.
 */
unsigned throttle_end(struct throttle_ticket *t, bool success);

/* Ends a running login that reached no verdict (the store failed): it
 * counts neither way. */
void throttle_abandon(struct throttle_ticket *t);

/* True when ip is blocked now (a cheap check before work that is not a
 * password check, such as looking up an API token). */
bool throttle_blocked(const char *ip);
/* Records a failure from ip that names no account (a wrong API token);
 * returns the delay as throttle_end() does. */
unsigned throttle_failure(const char *ip);
/* The same for account, for a check that needs no ticket (a wrong second
 * factor: a code is cheap to check). */
unsigned throttle_account_failure(const char *ip, const char *account);
/* Records a success for account outside a ticket (a right second factor
 * after a right password): clears that account's failures from ip. */
void throttle_account_success(const char *ip, const char *account);
/* Forgets everything (tests). */
void throttle_reset(void);

/* The same with an explicit clock, for tests: now is any count of seconds
 * that never goes backwards (the plain calls use CLOCK_MONOTONIC).
 * throttle_begin_at() never waits: it answers THROTTLE_BUSY at once. */
enum throttle_verdict throttle_begin_at(struct throttle_ticket *t, const char *ip,
					const char *account, time_t now);
unsigned throttle_end_at(struct throttle_ticket *t, bool success, time_t now);
bool throttle_blocked_at(const char *ip, time_t now);
unsigned throttle_failure_at(const char *ip, time_t now);
/* How many addresses the table holds now (tests, status). */
size_t throttle_count(void);

#endif

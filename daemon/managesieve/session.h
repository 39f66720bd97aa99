/*
 * managesieve/session: the ManageSieve session (RFC 5804) of the
 * managesieve listener (usually port 4190): STARTTLS, AUTHENTICATE with
 * the SASL mechanisms of IMAP, POP3 and SMTP (store/login.h: PLAIN, LOGIN,
 * SCRAM-SHA-256(-PLUS), app passwords, the shared login throttle), and the
 * commands that manage a user's Sieve scripts in the store
 * (store/sieve_store.h), each script compiled (sieve/sieve.h) before it is
 * stored so that errors come back with their line numbers.
 *
 * A session is one thread (see core/listener.h).  Its states are
 * NONAUTH and AUTH; each has one command table and one dispatcher checks
 * the tables' gating flags.  Commands are read whole, literals included,
 * by managesieve/parser.h; literals are limited to SASL_LINE_MAX before
 * login and to SIEVE_SCRIPT_MAX after.
 */
#ifndef MAILHUB_MANAGESIEVE_SESSION_H
#define MAILHUB_MANAGESIEVE_SESSION_H

struct config;
struct conn;

/* What the listener hands to its sessions; lives as long as the listener. */
struct managesieve_listener {
	const struct config *cfg;
};

enum managesieve_state {
	MANAGESIEVE_STATE_NONAUTH,	/* before AUTHENTICATE */
	MANAGESIEVE_STATE_AUTH,		/* a user's scripts may be managed */
	MANAGESIEVE_STATE_COUNT
};

/* "NONAUTH", "AUTH". */
const char *managesieve_state_name(enum managesieve_state state);

/* Runs one session to its end (a listener_session_fn): ctx is a const
 * struct managesieve_listener *; owns and frees c. */
void managesieve_session_run(struct conn *c, void *ctx);

#endif

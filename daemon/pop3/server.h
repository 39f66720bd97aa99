/*
 * pop3/server: the POP3 session of the pop3 (STLS) and pop3s (implicit TLS)
 * listeners: RFC 1939, CAPA (RFC 2449), STLS (RFC 2595 §4), AUTH (RFC 5034)
 * and the response codes of RFC 2449 §8 and RFC 3206.  APOP is not offered.
 *
 * A session is one thread (see core/listener.h).  Its states are
 * AUTHORIZATION, TRANSACTION and UPDATE (RFC 1939 §3); each state has one
 * command table, and one dispatcher checks the tables' gating flags.  The
 * maildrop is the user's INBOX, fixed at login (pop3/maildrop.h); one POP3
 * session per user at a time (pop3/inuse.h).  Each session opens its own
 * store handle and closes it at the end.
 */
#ifndef MAILHUB_POP3_SERVER_H
#define MAILHUB_POP3_SERVER_H

#include <stdbool.h>

struct config;
struct conn;

/* What a POP3 listener hands to its sessions; lives as long as the
 * listener. */
struct pop3_listener {
	bool implicit_tls;		/* pop3s: the handshake is done already */
	const struct config *cfg;
};

/* The states of RFC 1939 §3. */
enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
	POP3_STATE_COUNT
};

/* "AUTHORIZATION", "TRANSACTION", "UPDATE". */
const char *pop3_state_name(enum pop3_state state);

/*
 * Runs one session to its end (a listener_session_fn): ctx is a
 * const struct pop3_listener *; owns and frees c.  For pop3s the listener
 * has done the TLS handshake before calling.
 */
void pop3_session_run(struct conn *c, void *ctx);

#endif

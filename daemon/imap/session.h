/*
 * session: the IMAP4rev1 server (RFC 3501) on the imap and imaps listeners.
 *
 * One session per connection, on its own thread, with its own store
 * handle; a session waiting in IDLE gives both up (it is parked: see
 * listener_park()).  The listener calls imap_session_run(); for imaps it
 * has done the TLS handshake before.
 */
#ifndef MAILHUB_IMAP_SESSION_H
#define MAILHUB_IMAP_SESSION_H

#include <stdbool.h>

struct conn;
struct config;

struct imap_listener {
	bool implicit_tls;
	const struct config *cfg;
};

/* listener_session_fn: ctx is a const struct imap_listener *; owns and
 * frees c. */
void imap_session_run(struct conn *c, void *ctx);

#endif

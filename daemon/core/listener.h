/*
 * listener: the daemon's listening sockets and its one thread per connection.
 *
 * One accept thread polls every listening socket.  Each accepted connection
 * is counted against a global and a per-IP limit (the module owns those
 * counts behind its lock); over a limit, the listener's busy reply is written
 * and the socket closed.  Otherwise a detached thread with a small stack runs
 * the listener's session function, which owns the conn and frees it.
 * For implicit-TLS listeners the handshake happens in the session thread
 * before the session function runs (an error there is logged and ends it).
 *
 * A session that waits for a long time with nothing to do (IMAP IDLE) can
 * park: its thread ends, and one parker thread watches its socket and one
 * more descriptor in an epoll set, then starts a new session thread to
 * resume it.  A parked session costs no thread stack, and none of the free
 * memory that a busy thread keeps cached in its malloc arena and in
 * OpenSSL's per-thread state; it is still counted against the limits.
 */
#ifndef MAILHUB_CORE_LISTENER_H
#define MAILHUB_CORE_LISTENER_H

#include <stdbool.h>

struct conn;

/* Runs one session; owns c and must conn_free() it, unless it parked the
 * session (listener_park()) just before returning. */
typedef void listener_session_fn(struct conn *c, void *ctx);
/* Goes on with a parked session in a new thread; the same contract as
 * listener_session_fn (arg is what was given to listener_park()). */
typedef void listener_resume_fn(struct conn *c, void *arg);

struct listener_spec {
	const char *name;	/* "smtp", "imaps", ...: log prefix and counts */
	const char *host;	/* NULL: all addresses (IPv6 and IPv4) */
	unsigned port;
	bool implicit_tls;	/* handshake before the session starts */
	const char *busy_reply;	/* written when over a limit (with CRLF), or NULL */
	listener_session_fn *session;
	void *ctx;
};

struct listener_limits {
	unsigned max_connections;	/* all listeners together */
	unsigned max_per_ip;		/* from one address (IPv6: one /64),
					 * all listeners together */
};

/* Binds and listens (SO_REUSEADDR, IPV6_V6ONLY off for the all-address
 * case; a host name binds the first of its addresses that works).  Called
 * before privileges are dropped and before listener_start().  0, or -1 with
 * *error_r. */
int listener_add(const struct listener_spec *spec, const char **error_r);
/* The port actually bound by the listener named name (for port 0 in tests);
 * 0 when unknown. */
unsigned listener_bound_port(const char *name);

/* Sets the limits (0: no limit; that is also the default).  May be called
 * while running; it applies to the next connection accepted. */
void listener_set_limits(const struct listener_limits *limits);

/* Starts the accept thread.  0 or -1. */
int listener_start(const char **error_r);
/*
 * Begins the stop, without waiting for sessions: stops accepting and tells
 * every session that the daemon is stopping.  Each conn a listener accepted
 * has the listener's stop descriptor (conn_set_stop_fd()), which becomes
 * readable now: a session waiting for its next command (or in a TLS
 * handshake, or in IMAP IDLE) wakes at once to say goodbye and end, and
 * parked sessions are resumed to do the same; a session in the middle of a
 * transaction finishes it first.
 */
void listener_stop_begin(void);
/* listener_stop_begin() if it has not been called; closes the listening
 * sockets; then waits up to grace_seconds for running sessions to end.
 * Sessions still running then have their sockets shut down (so blocked
 * reads return) and get one more second.  Returns the number of sessions
 * still running when it gave up. */
unsigned listener_stop(unsigned grace_seconds);
/* Number of sessions running now: for one listener name, or in total when
 * name is NULL. */
unsigned listener_active(const char *name);
/* True once listener_stop_begin() has run: long-running sessions (IDLE)
 * look at this to say goodbye. */
bool listener_stopping(void);

/*
 * Asks that the calling session be parked when its session (or resume)
 * function returns, which it must then do without waiting for anything
 * (until it has returned, c and arg are still its own); its thread ends
 * there.  A new session thread calls resume(c, arg) when c's socket is
 * readable (or hung up), when wake_fd (-1: none) is readable, when
 * timeout_ms (-1: none) has passed, or when the listeners stop, whichever
 * comes first.  Only the socket is watched: the caller must first make
 * sure that nothing is waiting in c's input buffer or in its TLS state
 * (conn_wait(c, fd, 0) == 0).
 * 0, or -1 when the session cannot be parked (not called from a session
 * thread, the listeners are stopping): the caller waits in its own thread.
 */
int listener_park(struct conn *c, int wake_fd, int timeout_ms,
		  listener_resume_fn *resume, void *arg);

#endif

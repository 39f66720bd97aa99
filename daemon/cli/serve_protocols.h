/*
 * serve_protocols: which session runs on which listener, and the background
 * workers (outbound queue, upstream fetcher) that `serve` starts and stops.
 * The one place where the daemon's protocol modules are wired together.
 */
#ifndef MAILHUB_CLI_SERVE_PROTOCOLS_H
#define MAILHUB_CLI_SERVE_PROTOCOLS_H

#include "core/config.h"
#include "core/listener.h"

/* Fills spec (name, implicit_tls, busy_reply, session, ctx) for a listener
 * kind other than LISTEN_ADMIN; host and port are the caller's.  The ctx lives as long as the
 * process.  0, or -1 with *error_r. */
int serve_protocol_spec(const struct config *cfg, enum listen_kind kind,
			struct listener_spec *spec, const char **error_r);

/* Starts and stops the background workers. */
int serve_workers_start(const struct config *cfg, const char **error_r);
void serve_workers_stop(void);
/* Frees what protocol modules keep between sessions, once every listener
 * and session has stopped. */
void serve_protocols_cleanup(void);

#endif

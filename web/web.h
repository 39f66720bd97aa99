/*
 * web: the admin listener — REST API, HTML panel, mail client autoconfig —
 * on libmicrohttpd with its own internal thread pool.
 *
 * serve.c starts it after the protocol listeners (before privileges are
 * dropped, so it can bind a low port) and stops it at shutdown.
 */
#ifndef MAILHUB_WEB_WEB_H
#define MAILHUB_WEB_WEB_H

#include <stdbool.h>

struct config;
struct web_server;

/* Binds host:port (host NULL: all addresses) and starts serving.
 * 0, or -1 with *error_r. */
int web_server_start(const struct config *cfg, const char *host, unsigned port,
		     struct web_server **srv_r, const char **error_r);
/* True when the listener speaks HTTPS: it does unless it listens on
 * loopback only (then plain HTTP), with the certificate of [tls] or the
 * self-signed one in data_dir/tls.  For serve.c's "listen admin=" line. */
bool web_server_tls(const struct web_server *srv);
/* SIGHUP: serves the certificate and key read anew from their files; on
 * error (a bad pair is refused before anything changes) the old ones stay.
 * Nothing to do without HTTPS.  Called from the thread that started it. */
int web_server_reload_tls(struct web_server *srv, const char **error_r);
/* Stops accepting, waits for requests in flight, frees; NULL ok. */
void web_server_stop(struct web_server **srv);

#endif

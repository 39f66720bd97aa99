/*
 * client_conn: how the fetcher's IMAP and POP3 clients reach a server.
 *
 * A TCP connection with a deadline on every read and write, and TLS (at
 * once or after STARTTLS/STLS) under one of the certificate policies of an
 * upstream account: "system" (the system CA store and the host name),
 * "pin:HEX" (the SHA-256 of the server's certificate, for a self-signed
 * home server), or "off" (no check, logged as a warning).  Errors are in
 * plain words, for the account's state.
 */
#ifndef MAILHUB_CORE_CLIENT_CONN_H
#define MAILHUB_CORE_CLIENT_CONN_H

#include <stdint.h>

#include "core/conn.h"

/* Connects to host:port within timeout_ms, which then bounds each read and
 * write too; NULL with *error_r on failure. */
struct conn *client_conn_open(const char *host, unsigned port, int timeout_ms,
			      const char **error_r);

/* The TLS handshake on c as a client of host, checked by verify (see
 * above).  cert_sha256 receives the SHA-256 of the server's certificate
 * ("" when there is none).  log_name and log_id name the session in the
 * warning that "off" gives. */
int client_conn_tls(struct conn *c, const char *host, const char *verify,
		    char cert_sha256[65], const char *log_name, uint64_t log_id,
		    const char **error_r);

#endif

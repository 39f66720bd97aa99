/*
 * https_get: a small HTTPS client for one GET, for MTA-STS policies
 * (RFC 8461 §3.3): HTTP/1.1 over TLS with the certificate checked against
 * the system's CAs and the host name, no redirects followed, a size cap
 * and one deadline for the whole exchange.  Self-contained on conn and
 * OpenSSL; it is no general web client (no proxies, no keep-alive).
 *
 * https_response_parse() is the pure part: a whole response (status line,
 * fields, a body by Content-Length, chunks or the end of the connection)
 * into a struct https_response.
 */
#ifndef MAILHUB_SMTP_HTTPS_GET_H
#define MAILHUB_SMTP_HTTPS_GET_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "core/buf.h"

struct https_response {
	unsigned status;	/* 200 ... */
	char *content_type;	/* the field's value, NULL when absent */
	struct buf body;
};

struct https_get_params {
	const char *host;	/* for Host, SNI and the certificate check */
	const char *address;	/* the IP address to connect to */
	unsigned port;
	const char *path;	/* "/.well-known/mta-sts.txt" */
	SSL_CTX *ctx;		/* a verifying client context */
	unsigned timeout;	/* seconds for everything */
	size_t max_body;
};

/* Fetches params->path: 0 with the response in *resp (whatever its
 * status), or -1 with *error_r (no connection, a TLS or certificate
 * failure, a malformed or oversized response, the deadline).  A TLS
 * failure sets *tls_failed_r (when not NULL). */
int https_get(const struct https_get_params *params, struct https_response *resp,
	      bool *tls_failed_r, const char **error_r);

/* Pure: a complete response in data[0..len) (the connection closed after
 * it).  0, or -1 with *error_r; a body over max_body is an error. */
int https_response_parse(const char *data, size_t len, size_t max_body,
			 struct https_response *resp, const char **error_r);
void https_response_clear(struct https_response *resp);

#endif

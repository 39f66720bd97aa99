/*
 * https_get: a small HTTPS client for one request: a GET for MTA-STS
 * policies (RFC 8461 §3.3), a form POST to an OAuth2 endpoint (RFC 6749
 * §4.1.3, §6; RFC 8628 §3.1; RFC 7009 §2.1), or the POST of a TLS report
 * (RFC 8460 §5.4): HTTP/1.1 over TLS with the
 * certificate checked against the system's CAs and the host name, no
 * redirects followed, a size cap and one deadline for the whole exchange.
 * Self-contained on conn and OpenSSL; it is no general web client (no
 * proxies, no keep-alive).
 *
 * https_response_parse() is the pure part: a whole response (status line,
 * fields, a body by Content-Length, chunks or the end of the connection)
 * into a struct https_response.
 */
#ifndef MAILHUB_CORE_HTTPS_GET_H
#define MAILHUB_CORE_HTTPS_GET_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/conn.h"

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
	/* NULL: a GET; else a POST of this application/x-www-form-urlencoded
	 * body (its bytes are never logged: it may hold secrets) */
	const char *form;
	/* else, when not NULL: a POST of body[0..body_len) as content_type
	 * (an SMTP TLS report, RFC 8460 §5.4) */
	const void *body;
	size_t body_len;
	const char *content_type;
	const char *accept;	/* the Accept field; NULL: text/plain */
	/* not NULL: sent as "Authorization: Basic" (RFC 6749 §2.3.1) */
	const char *basic_user, *basic_password;
};

/* Fetches params->path: 0 with the response in *resp (whatever its
 * status), or -1 with *error_r (no connection, a TLS or certificate
 * failure, a malformed or oversized response, the deadline).  A TLS
 * failure sets *tls_failed_r (when not NULL). */
int https_get(const struct https_get_params *params, struct https_response *resp,
	      bool *tls_failed_r, const char **error_r);

/* The same over c, a connection already made to params->host (address is
 * then unused): TLS, the request, the response.  c stays the caller's. */
int https_request_on(struct conn *c, const struct https_get_params *params,
		     struct https_response *resp, bool *tls_failed_r,
		     const char **error_r);

/* Appends s to out with RFC 3986 percent-encoding of everything but the
 * unreserved characters (for forms and query strings). */
void https_form_escape(struct buf *out, const char *s);

/* Pure: a complete response in data[0..len) (the connection closed after
 * it).  0, or -1 with *error_r; a body over max_body is an error. */
int https_response_parse(const char *data, size_t len, size_t max_body,
			 struct https_response *resp, const char **error_r);
void https_response_clear(struct https_response *resp);

#endif

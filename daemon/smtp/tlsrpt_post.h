/*
 * tlsrpt_post: our daily TLS reports (RFC 8460) sent to https: rua
 * addresses.
 *
 * tlsrpt_send_due() (smtp/tlsrpt.h) owes a report to each https: URI of a
 * domain's _smtp._tls record (store/relaytls.h, tlsrpt_posts);
 * tlsrpt_post_due(), called by the relay's worker 0, POSTs what is due
 * (§5.4: the gzip of the JSON as application/tlsrpt+gzip) over
 * core/https_get.c with the certificate checked against the system's CAs
 * and the URI's host name, no redirects followed.  A 2xx answer is
 * success; anything else is tried again with exponential back-off (the
 * relay's retry_first doubling up to retry_max) for up to
 * TLSRPT_POST_RETRY_SECONDS after the report was first owed (§5.5: "up to
 * 24hrs"), then given up.  Every attempt is logged with its outcome.
 */
#ifndef MAILHUB_SMTP_TLSRPT_POST_H
#define MAILHUB_SMTP_TLSRPT_POST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/buf.h"

struct store;
struct dns_resolver;

/* RFC 8460 §5.5: redelivery "for up to 24hrs after the initial attempt" */
#define TLSRPT_POST_RETRY_SECONDS 86400
/* One POST: connection, TLS, request and answer. */
#define TLSRPT_POST_TIMEOUT 30
/* Posts made per call of tlsrpt_post_due(): worker 0 also delivers mail. */
#define TLSRPT_POSTS_PER_ROUND 4

/* An https: URI taken apart: host (a name; an IPv6 literal without its
 * brackets), port (443 when absent) and path with its query ("/" when
 * absent).  The strings are malloc'd. */
struct tlsrpt_uri {
	char *host;
	unsigned port;
	char *path;
};

/* Pure: parses uri ("https://host[:port][/path[?query]]", RFC 3986; no
 * user information, no fragment kept).  0, or -1 with *error_r. */
int tlsrpt_uri_parse(const char *uri, struct tlsrpt_uri *u, const char **error_r);
void tlsrpt_uri_clear(struct tlsrpt_uri *u);

/* Pure: appends the gzip (RFC 1952) of data[0..len) to out. */
void tlsrpt_gzip(const void *data, size_t len, struct buf *out);

struct tlsrpt_post_settings {
	SSL_CTX *ctx;			/* verifying */
	unsigned retry_first, retry_max;	/* seconds */
};

/* Makes the posts due at now (at most TLSRPT_POSTS_PER_ROUND), notes each
 * outcome and logs it.  Returns how many were delivered. */
unsigned tlsrpt_post_due(struct store *st, struct dns_resolver *dns,
			 const struct tlsrpt_post_settings *set, int64_t now);

#endif

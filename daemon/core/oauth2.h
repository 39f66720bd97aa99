/*
 * oauth2: the pure parts of being an OAuth2 client for upstream accounts.
 *
 * The SASL initial responses that carry a bearer token to an IMAP, POP3 or
 * SMTP server (XOAUTH2, Google's; OAUTHBEARER, RFC 7628), the token
 * endpoint's answers (RFC 6749 §5.1 success, §5.2 error; RFC 8628 §3.2 and
 * §3.5 for the device grant), PKCE (RFC 7636) and the splitting of an
 * endpoint's https URL.  No sockets: fetch/oauth.c drives the exchanges.
 */
#ifndef MAILHUB_CORE_OAUTH2_H
#define MAILHUB_CORE_OAUTH2_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The largest token endpoint answer read. */
#define OAUTH2_RESPONSE_MAX (64 * 1024)
/* The longest token kept (Microsoft's access tokens run to a few KiB). */
#define OAUTH2_TOKEN_MAX 16384

/* XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A, into out (raw, the
 * caller encodes it in base64). */
void oauth2_sasl_xoauth2(struct buf *out, const char *user, const char *token);
/* RFC 7628 §3.1: the GS2 header "n,a=USER," (',' and '=' escaped as
 * =2C and =3D, RFC 5801 §4), then ^A host=HOST ^A port=PORT ^A
 * auth=Bearer TOKEN ^A ^A. */
void oauth2_sasl_oauthbearer(struct buf *out, const char *user, const char *host,
			     unsigned port, const char *token);

/* What a token endpoint answered. */
enum oauth2_result {
	OAUTH2_OK,		/* a token */
	OAUTH2_PENDING,		/* RFC 8628 §3.5: authorization_pending */
	OAUTH2_SLOW_DOWN,	/* RFC 8628 §3.5: slow_down */
	OAUTH2_INVALID_GRANT,	/* RFC 6749 §5.2: the grant is revoked, expired
				 * or was never valid; also RFC 8628's
				 * access_denied and expired_token */
	OAUTH2_ERROR,		/* anything else (a misconfigured client, a
				 * broken answer) */
};

struct oauth2_token {
	char *access_token;
	char *refresh_token;	/* NULL when the answer holds none */
	int64_t expires_in;	/* seconds; 0 when not said */
};

/*
 * Parses a token endpoint's answer (status and JSON body).  OAUTH2_OK
 * fills *tok; the error kinds set *error_r in plain words, naming the
 * provider's error code (and its error_description, escaped) when it
 * gave one.
 */
enum oauth2_result oauth2_token_parse(unsigned status, const char *body, size_t len,
				      struct oauth2_token *tok, const char **error_r);
void oauth2_token_clear(struct oauth2_token *tok);

/* RFC 8628 §3.2: the device authorization answer. */
struct oauth2_device {
	char *device_code;
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete;	/* NULL when absent */
	int64_t expires_in;
	int64_t interval;			/* 5 when not said (§3.2) */
};
int oauth2_device_parse(unsigned status, const char *body, size_t len,
			struct oauth2_device *dev, const char **error_r);
void oauth2_device_clear(struct oauth2_device *dev);

/* RFC 7636 §4.1-4.2: a code verifier of 43 characters and its S256
 * challenge (BASE64URL(SHA256(verifier)), 43 characters), NUL-ended. */
void oauth2_pkce_new(char verifier[44], char challenge[44]);
void oauth2_pkce_challenge(const char *verifier, char challenge[44]);

/* Splits "https://HOST[:PORT]/PATH[?QUERY]" (HOST a name, an IPv4 address
 * or a bracketed IPv6 one): 0 with malloc'd *host_r and *path_r ("/" when
 * none) and *port_r (443 when none), or -1 with *error_r. */
int oauth2_url_split(const char *url, char **host_r, unsigned *port_r, char **path_r,
		     const char **error_r);

#endif

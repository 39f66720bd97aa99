/*
 * sasl: the server side of SASL PLAIN (RFC 4616) and LOGIN, as SMTP AUTH
 * (RFC 4954), IMAP AUTHENTICATE (RFC 3501, SASL-IR RFC 4959) and POP3 AUTH
 * (RFC 5034) use them.  Pure: the protocol code moves base64 lines between
 * the peer and sasl_server_step(), then checks the credentials itself.
 *
 *   struct sasl_server *s = sasl_server_new("PLAIN");
 *   r = sasl_server_step(s, initial_response, &challenge, &error);
 *   while (r == SASL_CONTINUE) { send challenge; read line; r = step(...) }
 *   if (r == SASL_DONE) check sasl_server_user(s), sasl_server_password(s)
 */
#ifndef MAILHUB_CORE_SASL_H
#define MAILHUB_CORE_SASL_H

#include <stdbool.h>
#include <stddef.h>

enum sasl_result {
	SASL_CONTINUE,	/* send *challenge_r (base64, may be "") and read a line */
	SASL_DONE,	/* credentials are ready */
	SASL_FAIL,	/* malformed or cancelled ("*"): *error_r says which */
};

struct sasl_server;

/* "PLAIN" or "LOGIN" (any case); NULL for an unknown mechanism. */
struct sasl_server *sasl_server_new(const char *mechanism);
void sasl_server_free(struct sasl_server **s);
/* True for the mechanisms this module serves. */
bool sasl_mechanism_known(const char *mechanism);

/*
 * Feeds one client response (base64 text without CRLF; NULL when the client
 * sent no initial response; "=" is an empty initial response per RFC 4954 §4).
 * *challenge_r is base64 text owned by s, valid until the next call.
 */
enum sasl_result sasl_server_step(struct sasl_server *s, const char *response,
				  const char **challenge_r, const char **error_r);

/* After SASL_DONE: the authentication identity and password (NUL-free, at
 * most ADDRESS_MAX / PASSWORD_MAX bytes), and the authorization identity
 * ("" when none was given).  Owned by s. */
const char *sasl_server_user(const struct sasl_server *s);
const char *sasl_server_password(const struct sasl_server *s);
const char *sasl_server_authzid(const struct sasl_server *s);

/* Decodes a PLAIN message "authzid\0authcid\0passwd" (already base64-decoded).
 * Pure helper, exposed for tests and the SMTP client side. */
int sasl_plain_split(const char *msg, size_t len, char **authzid_r,
		     char **authcid_r, char **passwd_r, const char **error_r);

#endif

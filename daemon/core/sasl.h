/*
 * sasl: the server side of SASL PLAIN (RFC 4616), LOGIN, SCRAM-SHA-256
 * (RFC 5802, RFC 7677) and SCRAM-SHA-256-PLUS (channel binding: tls-unique,
 * RFC 5929 §3, for TLS 1.2; tls-exporter, RFC 9266, for TLS 1.3), as SMTP
 * AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 3501, SASL-IR RFC 4959) and POP3
 * AUTH (RFC 5034) use them.  Pure: the caller (store/login.c) moves base64
 * lines between the peer and sasl_server_step(), and supplies credentials.
 *
 *   struct sasl_server *s = sasl_server_new("PLAIN");
 *   r = sasl_server_step(s, initial_response, &challenge, &error);
 *   while (r == SASL_CONTINUE) { send challenge; read line; r = step(...) }
 *   if (r == SASL_DONE) check sasl_server_user(s), sasl_server_password(s)
 *
 * SCRAM checks the client's proof itself, against keys the caller looks up
 * when the client has named itself:
 *
 *   r == SASL_NEED_KEYS: look up sasl_server_user(s)'s keys, then
 *   r = sasl_server_scram_keys(s, keys, n, &challenge, &error)   (CONTINUE)
 *   ...the client's proof arrives (sasl_server_expects_proof(s)): step()
 *   checks it against every key (cheap: no PBKDF2 on the server) and
 *   answers the server's signature as a last challenge; the client's empty
 *   response then ends in SASL_DONE, sasl_server_scram_match(s) telling
 *   which key it was.  A proof that matches no key is SASL_FAIL with
 *   sasl_server_rejected(s) true: a failed login, not a malformed one.
 */
#ifndef MAILHUB_CORE_SASL_H
#define MAILHUB_CORE_SASL_H

#include <stdbool.h>
#include <stddef.h>

enum sasl_result {
	SASL_CONTINUE,	/* send *challenge_r (base64, may be "") and read a line */
	SASL_DONE,	/* credentials are ready */
	SASL_FAIL,	/* malformed or cancelled ("*"), or (SCRAM) rejected */
	SASL_NEED_KEYS,	/* SCRAM: call sasl_server_scram_keys() */
};

struct scram_keys;

/* Channel binding types a connection may offer, at most this many. */
#define SASL_CB_MAX 2
/* SCRAM keys one exchange may be checked against (a password and its
 * user's app passwords). */
#define SASL_SCRAM_KEYS_MAX 64

struct sasl_server;

/* "PLAIN", "LOGIN", "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS" (any case);
 * NULL for an unknown mechanism. */
struct sasl_server *sasl_server_new(const char *mechanism);
void sasl_server_free(struct sasl_server **s);
/* True for the mechanisms this module serves. */
bool sasl_mechanism_known(const char *mechanism);
/* The mechanisms to offer, in order, NULL-terminated: with channel_binding
 * (TLS with a binding to offer) the -PLUS ones too. */
const char *const *sasl_mechanisms(bool channel_binding);

/* Offers a channel binding of the connection (type "tls-unique" or
 * "tls-exporter", data at most 64 bytes), before the first step.  A -PLUS
 * exchange must name one of them; a plain SCRAM exchange whose client says
 * "y" (it could bind, but thinks the server cannot) fails once one is
 * offered, as RFC 5802 §6 requires against downgrades. */
void sasl_server_channel_binding(struct sasl_server *s, const char *type,
				 const unsigned char *data, size_t len);
/* Fixes the server's nonce part (printable, no ','); for tests with the
 * RFC's example exchange.  Before the first step. */
void sasl_server_set_nonce(struct sasl_server *s, const char *nonce);

/*
 * Feeds one client response (base64 text without CRLF; NULL when the client
 * sent no initial response; "=" is an empty initial response per RFC 4954 §4).
 * *challenge_r is base64 text owned by s, valid until the next call.
 */
enum sasl_result sasl_server_step(struct sasl_server *s, const char *response,
				  const char **challenge_r, const char **error_r);

/*
 * After SASL_NEED_KEYS: the keys of the user (n >= 1, at most
 * SASL_SCRAM_KEYS_MAX, all with the salt and count of keys[0], which the
 * server-first message announces).  For a user that does not exist or has
 * no keys, pass one made-up key with a stable made-up salt: the exchange
 * then looks the same and fails at the proof.  Returns SASL_CONTINUE with
 * the server-first challenge, or SASL_FAIL.
 */
enum sasl_result sasl_server_scram_keys(struct sasl_server *s,
					const struct scram_keys *keys, size_t n,
					const char **challenge_r, const char **error_r);
/* True when the next response is a SCRAM proof: the step that checks the
 * credentials (the caller's throttle counts it). */
bool sasl_server_expects_proof(const struct sasl_server *s);
/* After SASL_FAIL: true when credentials were checked and wrong. */
bool sasl_server_rejected(const struct sasl_server *s);
/* True for a SCRAM mechanism. */
bool sasl_server_is_scram(const struct sasl_server *s);
/* The mechanism's name as offered ("SCRAM-SHA-256"). */
const char *sasl_server_mechanism(const struct sasl_server *s);

/* After SASL_NEED_KEYS or SASL_DONE: the authentication identity (NUL-free,
 * at most ADDRESS_MAX bytes) and the authorization identity ("" when none
 * was given).  After SASL_DONE: the password (PLAIN and LOGIN; NULL for
 * SCRAM, NUL-free, at most PASSWORD_MAX bytes) or the index of the SCRAM
 * key that matched (-1 for PLAIN and LOGIN).  Owned by s. */
const char *sasl_server_user(const struct sasl_server *s);
const char *sasl_server_password(const struct sasl_server *s);
const char *sasl_server_authzid(const struct sasl_server *s);
int sasl_server_scram_match(const struct sasl_server *s);

/* Decodes a PLAIN message "authzid\0authcid\0passwd" (already base64-decoded).
 * Pure helper, exposed for tests and the SMTP client side. */
int sasl_plain_split(const char *msg, size_t len, char **authzid_r,
		     char **authcid_r, char **passwd_r, const char **error_r);

#endif

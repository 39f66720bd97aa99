/*
 * login: a mail client's login, the one way in for IMAP (LOGIN,
 * AUTHENTICATE), POP3 (USER/PASS, AUTH) and SMTP AUTH.
 *
 * It runs the SASL exchange (core/sasl), asks the shared throttle
 * (core/throttle) before every credential check and tells it the outcome,
 * and checks credentials against the store: the user's password or one of
 * their app passwords for PLAIN, LOGIN and USER/PASS (one yescrypt check
 * either way, see store/app_passwords.h), or the SCRAM keys of both for
 * SCRAM-SHA-256(-PLUS), with the TLS channel bindings of the connection.
 * The panel does not come here: app passwords are for mail clients only.
 *
 * A failed check waits the throttle's delay before it returns, so that only
 * that session waits.  Failures, blocks and refusals are logged here, with
 * the session's prefix; the protocol logs the successful login.
 *
 *   struct login *l = login_new(st, mechanism, &params);   (NULL: unknown)
 *   r = login_step(l, initial_response, &challenge, &error);
 *   while (r == LOGIN_CONTINUE) { send challenge; read line; r = login_step() }
 *   if (r == LOGIN_OK) login_take_user(l, &user);
 *   login_free(&l);
 */
#ifndef MAILHUB_STORE_LOGIN_H
#define MAILHUB_STORE_LOGIN_H

#include "core/conn.h"
#include "store/store.h"

struct login_params {
	const char *protocol;	/* "imap", "pop3", "smtp": app passwords' last use */
	const char *session;	/* "imap[12]": the prefix of log lines */
	const char *ip;		/* the peer's address */
	struct conn *conn;	/* TLS channel bindings; NULL: none */
};

enum login_status {
	LOGIN_CONTINUE,		/* send *challenge_r, read the next response */
	LOGIN_OK,		/* login_take_user() */
	LOGIN_FAILED,		/* wrong credentials */
	LOGIN_AUTHZ,		/* an authorization identity other than the user */
	LOGIN_BLOCKED,		/* too many failures from the address: unchecked */
	LOGIN_TRYLATER,		/* another check from the address, or the store failed */
	LOGIN_MALFORMED,	/* a malformed or cancelled exchange: *error_r */
};

/* The mechanisms to offer on c (the -PLUS one where c has a channel
 * binding), NULL-terminated. */
const char *const *login_mechanisms(const struct conn *c);

/* A SASL login with mechanism (any case); NULL for one not served.  The
 * strings of params must outlive the login. */
struct login *login_new(struct store *st, const char *mechanism,
			const struct login_params *params);
void login_free(struct login **l);
/* Feeds one client response (base64 text; NULL when the client sent no
 * initial response; "=" an empty initial response). */
enum login_status login_step(struct login *l, const char *response,
			     const char **challenge_r, const char **error_r);
/* After LOGIN_OK: moves the user into *user_r. */
void login_take_user(struct login *l, struct store_user *user_r);

/* A password login without SASL (IMAP LOGIN, POP3 USER/PASS): LOGIN_OK
 * with *user_r, or a failure as above. */
enum login_status login_password(struct store *st, const struct login_params *params,
				 const char *user, const char *password,
				 struct store_user *user_r);

#endif

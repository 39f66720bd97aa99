/*
 * api_totp: two-factor sign-in to the panel with TOTP (RFC 6238).
 *   GET    /api/v1/users/{address}/totp          {"enabled", "pending", "recovery_codes_left"}
 *   POST   /api/v1/users/{address}/totp          the user: a new secret to enrol,
 *                                                {"secret", "uri"} (201)
 *   POST   /api/v1/users/{address}/totp/confirm  the user: {"code"} turns it on and
 *                                                answers {"recovery_codes": [10]}, shown once
 *   POST   /api/v1/users/{address}/totp/disable  the user: {"code"} (or a recovery code)
 *                                                or {"password"} turns it off
 *   DELETE /api/v1/users/{address}/totp          an admin's reset for a user who lost
 *                                                the device; ends that user's sessions
 * The secret is sealed at rest (core/seal.h) like upstream passwords.
 * The routes and their flags are in routes.c; the sign-in's second step is
 * in api_session.c and checks codes with web_totp_verify().
 */
#ifndef MAILHUB_WEB_API_TOTP_H
#define MAILHUB_WEB_API_TOTP_H

#include "web/request.h"

web_handler_fn api_totp_get;
web_handler_fn api_totp_enrol;
web_handler_fn api_totp_confirm;
web_handler_fn api_totp_disable;
web_handler_fn api_totp_reset;

/* Whether the user has two-factor sign-in on: 1, 0, or -1 with *error_r. */
int web_totp_enabled(struct web_request *r, int64_t user_id, const char **error_r);
/*
 * Checks and uses up a second factor of user_id: a 6-digit code of the
 * current time step or one either side, later than the last code used, or
 * (allow_recovery) one of the user's unused recovery codes.  1 when it was
 * good, 0 when not (a wrong, reused or malformed code), -1 with *error_r
 * when the store or the secret failed.
 */
int web_totp_verify(struct web_request *r, int64_t user_id, const char *code,
		    bool allow_recovery, const char **error_r);
/* A failed password or code from this caller: counted in the login
 * throttle (core/throttle.h), logged, and answered only after the
 * throttle's delay. */
void web_login_failed(struct web_request *r, const char *user, const char *what);

#endif

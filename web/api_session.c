/*
 * api_session: the panel's login and logout.
 *   POST /api/v1/session {"username","password"[,"totp"]} -> {"csrf": "..."} + cookie
 *   POST /api/v1/session/totp {"challenge","code"}         -> the same, second step
 *   DELETE /api/v1/session
 * Logins go through the shared throttle like every other protocol's.
 *
 * A user with two-factor sign-in on gives a code as well: with the
 * password ("totp"), or in a second step.  The right password alone is
 * answered 401 with {"totp_required": true, "challenge": "..."} and no
 * cookie: until the code comes there is no session that could do anything.
 * A wrong code counts as a failed login, and the password's success is not
 * reported to the throttle until the code is right, so that a known
 * password does not buy endless guesses at the code.  A recovery code may
 * stand in for the code, once.
 */
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/throttle.h"
#include "web/api.h"
#include "web/api_totp.h"
#include "web/internal.h"

/* The longest code or recovery code a client may send (with spaces). */
#define CODE_TEXT_MAX 64

/* A new session for user: the cookie, and {"csrf","user","admin"}. */
static enum MHD_Result
reply_signed_in(struct web_request *r, const struct store_user *user, int64_t epoch)
{
	char *id, *csrf;
	/* only now, with the second factor if any, does the password count as
	 * right: it forgives this account's failures from this address */
	throttle_account_success(r->peer_ip, user->address);
	web_session_create(user->id, epoch, &id, &csrf);
	log_info("web login user=%s ip=%s result=ok", user->address, r->peer_ip);

	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "csrf", csrf);
	cJSON_AddStringToObject(body, "user", user->address);
	cJSON_AddBoolToObject(body, "admin", user->admin);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	char *cookie = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict%s",
				 WEB_SESSION_COOKIE, id, r->srv->tls ? "; Secure" : "");
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Set-Cookie", cookie);
	reply_add_security_headers(resp);
	r->replied = true;
	enum MHD_Result res = MHD_queue_response(r->mhd, 200, resp);
	MHD_destroy_response(resp);
	free(cookie);
	free(id);
	free(csrf);
	return res;
}

/* RFC 9457 §3.2: the problem of a missing second factor carries the
 * challenge for the second step as an extension member. */
static enum MHD_Result
reply_code_needed(struct web_request *r, const struct store_user *user, int64_t epoch)
{
	char *challenge;
	web_challenge_create(user->id, epoch, &challenge);
	log_info("web login user=%s ip=%s result=code-needed", user->address, r->peer_ip);
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "type", "about:blank");
	cJSON_AddStringToObject(body, "title", "Unauthorized");
	cJSON_AddNumberToObject(body, "status", 401);
	cJSON_AddStringToObject(body, "detail", "this account needs a code from its "
				"authenticator app: send it with the challenge to "
				"POST /api/v1/session/totp");
	cJSON_AddBoolToObject(body, "totp_required", true);
	cJSON_AddStringToObject(body, "challenge", challenge);
	free(challenge);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/problem+json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"mailhub\"");
	reply_add_security_headers(resp);
	r->replied = true;
	enum MHD_Result res = MHD_queue_response(r->mhd, 401, resp);
	MHD_destroy_response(resp);
	return res;
}

/* Checks a second factor of user: 1 good, 0 wrong (answered, counted),
 * -1 broken (answered). */
static int
second_factor(struct web_request *r, const struct store_user *user, const char *code)
{
	const char *error;
	int ok = strlen(code) <= CODE_TEXT_MAX ? web_totp_verify(r, user->id, code, true, &error) : 0;
	if (ok < 0) {
		log_error("web login user=%s: %s", user->address, error);
		reply_problem(r, 500, "the second factor cannot be checked; see the server log");
	} else if (ok == 0) {
		web_login_failed(r, user->address, "login-code");
		reply_problem(r, 401, "wrong or used code");
	}
	return ok;
}

enum MHD_Result
api_session_create(struct web_request *r)
{
	static const char *const fields[] = { "username", "password", "totp", NULL };
	const char *username = NULL, *password = NULL, *code = NULL, *error;
	struct store_user user = { 0 };
	int64_t epoch;
	enum MHD_Result res = MHD_YES;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "username", true, &username) < 0 ||
	    json_get_string(r, r->json, "password", true, &password) < 0 ||
	    json_get_string(r, r->json, "totp", false, &code) < 0)
		return MHD_YES;
	/* the password check runs under a throttle ticket, so that parallel
	 * guesses are counted before they are checked (core/throttle.h) */
	struct throttle_ticket ticket;
	enum throttle_verdict v = throttle_begin(&ticket, r->peer_ip, username);
	if (v == THROTTLE_BLOCKED) {
		metrics_login_blocked("web");
		return reply_problem(r, 429, "too many failed logins from this address; try later");
	}
	if (v == THROTTLE_BUSY)
		return reply_problem(r, 503, "another login from this address is being checked; "
				     "try again");
	/* The epoch is read under the hash that was checked: a password
	 * changed in between does not make a session under the new one. */
	if (strlen(username) > ADDRESS_MAX || strlen(password) > PASSWORD_MAX ||
	    store_user_authenticate(r->st, username, password, &user, &error) != STORE_OK ||
	    store_user_epoch(r->st, user.id, user.password_hash, &epoch, &error) != STORE_OK) {
		store_user_clear(&user);
		unsigned delay = throttle_end(&ticket, false);
		log_info("web login user=%s ip=%s result=fail", esc_str(username), r->peer_ip);
		metrics_login_failed("web");
		if (delay > 0)
			usleep(delay * 1000u);
		return reply_problem(r, 401, "wrong username or password");
	}
	/* a right password is not yet a success: with two-factor sign-in on,
	 * the code must follow (reply_signed_in() reports the success) */
	throttle_abandon(&ticket);
	int on = web_totp_enabled(r, user.id, &error);
	if (on < 0) {
		log_error("web login user=%s: %s", user.address, error);
		res = reply_problem(r, 500, "the second factor cannot be checked; see the server log");
	} else if (on > 0 && code == NULL) {
		res = reply_code_needed(r, &user, epoch);
	} else if (on == 0 || second_factor(r, &user, code) > 0) {
		res = reply_signed_in(r, &user, epoch);
	}
	store_user_clear(&user);
	return res;
}

enum MHD_Result
api_session_totp(struct web_request *r)
{
	static const char *const fields[] = { "challenge", "code", NULL };
	const char *challenge = NULL, *code = NULL, *error;
	struct store_user user = { 0 };
	int64_t user_id, epoch;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "challenge", true, &challenge) < 0 ||
	    json_get_string(r, r->json, "code", true, &code) < 0)
		return MHD_YES;
	if (throttle_blocked(r->peer_ip))
		return reply_problem(r, 429, "too many failed logins from this address; try later");
	if (!web_challenge_try(challenge, &user_id, &epoch))
		return reply_problem(r, 401, "this sign-in has expired or had too many wrong "
				     "codes: sign in again with the password");
	/* The password changed or the user was disabled meanwhile. */
	int st = store_user_get_session(r->st, user_id, epoch, &user, &error);
	if (st != STORE_OK) {
		web_challenge_destroy(challenge);
		if (st != STORE_NOTFOUND)
			log_error("web login: %s", error);
		return reply_problem(r, 401, "this sign-in has expired: sign in again with the "
				     "password");
	}
	enum MHD_Result res = MHD_YES;
	if (second_factor(r, &user, code) > 0) {
		web_challenge_destroy(challenge);
		res = reply_signed_in(r, &user, epoch);
	}
	store_user_clear(&user);
	return res;
}

enum MHD_Result
api_session_delete(struct web_request *r)
{
	if (r->session_id != NULL)
		web_session_destroy(r->session_id);
	char *cookie = xasprintf("%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
				 WEB_SESSION_COOKIE);
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL,
								    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Set-Cookie", cookie);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	reply_add_security_headers(resp);
	r->replied = true;
	enum MHD_Result res = MHD_queue_response(r->mhd, 204, resp);
	MHD_destroy_response(resp);
	free(cookie);
	return res;
}

/* GET /api/v1/session: who am I, and the session's CSRF token, for the
 * panel after a reload.  Only this origin's scripts can read the answer (no
 * CORS headers are ever sent), so handing the token back is safe. */
enum MHD_Result
api_session_get(struct web_request *r)
{
	cJSON *body = cJSON_CreateObject();
	if (r->auth == WEB_AUTH_COOKIE)
		cJSON_AddStringToObject(body, "csrf", r->csrf);
	cJSON_AddStringToObject(body, "user", r->user.address);
	cJSON_AddBoolToObject(body, "admin", r->user.admin);
	return reply_json(r, 200, body);
}

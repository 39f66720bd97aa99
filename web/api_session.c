/*
 * api_session: the panel's login and logout.
 *   POST /api/v1/session {"username","password"} -> {"csrf": "..."} + cookie
 *   DELETE /api/v1/session
 * Logins go through the shared throttle like every other protocol's.
 */
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/throttle.h"
#include "web/api.h"
#include "web/internal.h"

enum MHD_Result
api_session_create(struct web_request *r)
{
	static const char *const fields[] = { "username", "password", NULL };
	const char *username = NULL, *password = NULL, *error;
	struct store_user user = { 0 };

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "username", true, &username) < 0 ||
	    json_get_string(r, r->json, "password", true, &password) < 0)
		return MHD_YES;
	struct throttle_ticket ticket;
	enum throttle_verdict v = throttle_begin(&ticket, r->peer_ip, username);
	if (v == THROTTLE_BLOCKED)
		return reply_problem(r, 429, "too many failed logins from this address; try later");
	if (v == THROTTLE_BUSY)
		return reply_problem(r, 503, "another login from this address is being checked; try again");
	bool ok = strlen(username) <= ADDRESS_MAX && strlen(password) <= PASSWORD_MAX &&
		  store_user_authenticate(r->st, username, password, &user, &error) == STORE_OK;
	unsigned delay = throttle_end(&ticket, ok);
	if (!ok) {
		log_info("web login user=%s ip=%s result=fail", esc_str(username), r->peer_ip);
		if (delay > 0)
			usleep(delay * 1000u);
		return reply_problem(r, 401, "wrong username or password");
	}
	char *id, *csrf;
	web_session_create(user.id, &id, &csrf);
	log_info("web login user=%s ip=%s result=ok", user.address, r->peer_ip);

	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "csrf", csrf);
	cJSON_AddStringToObject(body, "user", user.address);
	cJSON_AddBoolToObject(body, "admin", user.admin);
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

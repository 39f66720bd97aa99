/*
 * auth: who is calling the admin listener.
 *
 * A bearer token (API clients, `mailhub token create`) or the panel's
 * session cookie.  Sessions live in memory, owned by this file behind its
 * lock: a restart logs the panel out, which is the safe direction.  A
 * state-changing request made with the cookie must carry the session's CSRF
 * token in X-CSRF-Token (the cookie is SameSite=Strict as well; the header is
 * the defence that does not depend on the browser).
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/throttle.h"
#include "web/internal.h"

struct session {
	char id[65];
	char csrf[65];
	int64_t user_id;
	time_t created;
	time_t last_used;
};

/* Sessions age by the monotonic clock: setting the wall clock neither
 * ends nor stretches them. */
static time_t
mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static bool
session_expired(const struct session *s, time_t now)
{
	return now - s->last_used > WEB_SESSION_IDLE_SECONDS ||
	       now - s->created > WEB_SESSION_MAX_SECONDS;
}

static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session sessions[WEB_SESSIONS_MAX];

static void
random_hex(char out[65])
{
	unsigned char raw[32];
	random_bytes(raw, sizeof raw);
	hex_encode(raw, sizeof raw, out);
}

int
web_session_create(int64_t user_id, char **id_r, char **csrf_r)
{
	time_t now = mono_now();
	struct session *slot = NULL;

	pthread_mutex_lock(&sessions_lock);
	/* A free or expired slot, else the least recently used one. */
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		struct session *s = &sessions[i];
		if (s->user_id == 0 || session_expired(s, now)) {
			slot = s;
			break;
		}
		if (slot == NULL || s->last_used < slot->last_used)
			slot = s;
	}
	random_hex(slot->id);
	random_hex(slot->csrf);
	slot->user_id = user_id;
	slot->created = now;
	slot->last_used = now;
	*id_r = xstrdup(slot->id);
	*csrf_r = xstrdup(slot->csrf);
	pthread_mutex_unlock(&sessions_lock);
	return 0;
}

void
web_session_destroy(const char *id)
{
	pthread_mutex_lock(&sessions_lock);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		if (sessions[i].user_id != 0 && mem_equal_ct(sessions[i].id, id, 64)) {
			memset(&sessions[i], 0, sizeof sessions[i]);
			break;
		}
	}
	pthread_mutex_unlock(&sessions_lock);
}

void
web_session_destroy_user(int64_t user_id, const char *keep)
{
	pthread_mutex_lock(&sessions_lock);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		struct session *s = &sessions[i];
		if (s->user_id != user_id)
			continue;
		if (keep != NULL && mem_equal_ct(s->id, keep, 64))
			continue;
		memset(s, 0, sizeof *s);
	}
	pthread_mutex_unlock(&sessions_lock);
}

/* Finds a live session; copies its user and CSRF token out. */
static bool
session_lookup(const char *id, int64_t *user_id_r, char csrf_r[65])
{
	bool found = false;
	time_t now = mono_now();

	if (strlen(id) != 64 || !is_lower_hex(id, 64))
		return false;
	pthread_mutex_lock(&sessions_lock);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		struct session *s = &sessions[i];
		if (s->user_id == 0 || !mem_equal_ct(s->id, id, 64))
			continue;
		if (session_expired(s, now)) {
			memset(s, 0, sizeof *s);
			break;
		}
		s->last_used = now;
		*user_id_r = s->user_id;
		memcpy(csrf_r, s->csrf, 65);
		found = true;
		break;
	}
	pthread_mutex_unlock(&sessions_lock);
	return found;
}

static bool
method_changes_state(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	       strcmp(method, "OPTIONS") != 0;
}

bool
web_authenticate(struct web_request *r, unsigned route_flags,
		 enum MHD_Result *result_r)
{
	const char *error;
	const char *authz = MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);
	if (authz != NULL) {
		if (strncmp(authz, "Bearer ", 7) != 0) {
			*result_r = reply_problem(r, 401, "only Bearer authorization is supported");
			return false;
		}
		if (throttle_blocked(r->peer_ip)) {
			*result_r = reply_problem(r, 429, "too many failed logins from this address; try later");
			return false;
		}
		int st = store_token_check(r->st, authz + 7, &r->user, &error);
		if (st != STORE_OK) {
			if (st != STORE_NOTFOUND)
				log_error("web token check failed: %s", error);
			throttle_failure(r->peer_ip);
			log_info("web auth=token result=fail ip=%s", r->peer_ip);
			*result_r = reply_problem(r, 401, "the token is not valid");
			return false;
		}
		r->auth = WEB_AUTH_TOKEN;
		return true;
	}

	const char *cookie = MHD_lookup_connection_value(r->mhd, MHD_COOKIE_KIND,
							 WEB_SESSION_COOKIE);
	int64_t user_id;
	char csrf[65];
	if (cookie == NULL || !session_lookup(cookie, &user_id, csrf))
		return true;	/* anonymous; the route's flags decide */
	if (store_user_get_by_id(r->st, user_id, &r->user, &error) != STORE_OK ||
	    !r->user.enabled) {
		store_user_clear(&r->user);
		web_session_destroy(cookie);
		return true;
	}
	if (method_changes_state(r->method)) {
		const char *token = MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
								"X-CSRF-Token");
		if (token == NULL || strlen(token) != 64 || !mem_equal_ct(token, csrf, 64)) {
			store_user_clear(&r->user);
			if (!(route_flags & (ROUTE_AUTH | ROUTE_ADMIN)))
				return true;
			*result_r = reply_problem(r, 403, "missing or wrong X-CSRF-Token header");
			return false;
		}
	}
	r->auth = WEB_AUTH_COOKIE;
	r->session_id = xstrdup(cookie);
	memcpy(r->csrf, csrf, sizeof r->csrf);
	return true;
}

bool
web_is_admin(const struct web_request *r)
{
	return r->auth != WEB_AUTH_NONE && r->user.admin;
}

bool
web_may_access_user(const struct web_request *r, const char *address)
{
	if (r->auth == WEB_AUTH_NONE)
		return false;
	return r->user.admin || str_eq_nocase(r->user.address, address);
}

const char *
web_query(struct web_request *r, const char *key)
{
	return MHD_lookup_connection_value(r->mhd, MHD_GET_ARGUMENT_KIND, key);
}

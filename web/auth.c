/*
 * auth: who is calling the admin listener.
 *
 * A bearer token (API clients, `mailhub token create`) or the panel's
 * session cookie.  Sessions live in memory, owned by this file behind its
 * lock: a restart logs the panel out, which is the safe direction.  Each
 * session keeps the user's credentials epoch (sql/008) from when it was
 * made and is checked against the database on every request, so a new
 * password or a disabled account ends it even when another process (the
 * CLI) made the change.  A state-changing request made with the cookie must
 * carry the session's CSRF token in X-CSRF-Token (the cookie is
 * SameSite=Strict as well; the header is the defence that does not depend
 * on the browser).
 *
 * A sign-in with two-factor sign-in on makes no session until the code is
 * given: the right password only earns a challenge, kept here too, that
 * nothing but the second step (POST /api/v1/session/totp) accepts.
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
	int64_t epoch;		/* the user's credentials epoch at sign-in */
	time_t created;
	time_t last_used;
};

/* A password checked, a code still to come. */
struct challenge {
	char id[65];
	int64_t user_id;
	int64_t epoch;
	time_t created;
	unsigned tries;
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
static struct challenge challenges[WEB_CHALLENGES_MAX];

static void
random_hex(char out[65])
{
	unsigned char raw[32];
	random_bytes(raw, sizeof raw);
	hex_encode(raw, sizeof raw, out);
}

int
web_session_create(int64_t user_id, int64_t epoch, char **id_r, char **csrf_r)
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
	slot->epoch = epoch;
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

void
web_session_set_epoch(const char *id, int64_t epoch)
{
	pthread_mutex_lock(&sessions_lock);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		if (sessions[i].user_id != 0 && mem_equal_ct(sessions[i].id, id, 64)) {
			sessions[i].epoch = epoch;
			break;
		}
	}
	pthread_mutex_unlock(&sessions_lock);
}

static bool
challenge_expired(const struct challenge *c, time_t now)
{
	return now - c->created > WEB_CHALLENGE_SECONDS || c->tries >= WEB_CHALLENGE_TRIES;
}

void
web_challenge_create(int64_t user_id, int64_t epoch, char **id_r)
{
	time_t now = mono_now();
	struct challenge *slot = NULL;

	pthread_mutex_lock(&sessions_lock);
	/* A free or spent slot, else the oldest one. */
	for (size_t i = 0; i < WEB_CHALLENGES_MAX; i++) {
		struct challenge *c = &challenges[i];
		if (c->user_id == 0 || challenge_expired(c, now)) {
			slot = c;
			break;
		}
		if (slot == NULL || c->created < slot->created)
			slot = c;
	}
	random_hex(slot->id);
	slot->user_id = user_id;
	slot->epoch = epoch;
	slot->created = now;
	slot->tries = 0;
	*id_r = xstrdup(slot->id);
	pthread_mutex_unlock(&sessions_lock);
}

bool
web_challenge_try(const char *id, int64_t *user_id_r, int64_t *epoch_r)
{
	bool found = false;
	time_t now = mono_now();

	if (strlen(id) != 64 || !is_lower_hex(id, 64))
		return false;
	pthread_mutex_lock(&sessions_lock);
	for (size_t i = 0; i < WEB_CHALLENGES_MAX; i++) {
		struct challenge *c = &challenges[i];
		if (c->user_id == 0 || !mem_equal_ct(c->id, id, 64))
			continue;
		if (challenge_expired(c, now)) {
			memset(c, 0, sizeof *c);
			break;
		}
		/* counted before the code is checked: requests sent at once
		 * cannot try more codes than the limit */
		c->tries++;
		*user_id_r = c->user_id;
		*epoch_r = c->epoch;
		found = true;
		break;
	}
	pthread_mutex_unlock(&sessions_lock);
	return found;
}

void
web_challenge_destroy(const char *id)
{
	pthread_mutex_lock(&sessions_lock);
	for (size_t i = 0; i < WEB_CHALLENGES_MAX; i++) {
		if (challenges[i].user_id != 0 && mem_equal_ct(challenges[i].id, id, 64)) {
			memset(&challenges[i], 0, sizeof challenges[i]);
			break;
		}
	}
	pthread_mutex_unlock(&sessions_lock);
}

/* Finds a live session; copies its user, epoch and CSRF token out. */
static bool
session_lookup(const char *id, int64_t *user_id_r, int64_t *epoch_r, char csrf_r[65])
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
		*epoch_r = s->epoch;
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
	int64_t user_id, epoch;
	char csrf[65];
	if (cookie == NULL || !session_lookup(cookie, &user_id, &epoch, csrf))
		return true;	/* anonymous; the route's flags decide */
	/* Gone, disabled, or a new password since (from whichever process):
	 * the session is over. */
	int st = store_user_get_session(r->st, user_id, epoch, &r->user, &error);
	if (st != STORE_OK) {
		if (st != STORE_NOTFOUND)
			log_error("web session check failed: %s", error);
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

/*
 * web internals shared between server.c and the files it dispatches to.
 * Handlers see only request.h.
 */
#ifndef MAILHUB_WEB_INTERNAL_H
#define MAILHUB_WEB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "web/request.h"

struct config;

struct web_server {
	const struct config *cfg;
	struct MHD_Daemon *mhd;
	time_t started;
	bool tls;		/* HTTPS: cookies get Secure */
	char *tls_cert;		/* the PEM texts libmicrohttpd was given */
	char *tls_key;
};

/* routes.c: the one route table of the REST API. */
extern const struct route web_routes[];
extern const size_t web_n_routes;

/* auth.c: who is calling (bearer token or session cookie, with the CSRF
 * check for state-changing cookie requests).  Returns true when the request
 * may go on; otherwise a reply has been queued.  A cookie request without
 * its CSRF token is refused, except on a public route (logging in again,
 * logging out), where it simply counts as anonymous. */
bool web_authenticate(struct web_request *r, unsigned route_flags,
		      enum MHD_Result *result_r);
/* Browser sessions, owned by auth.c behind its lock.  A session holds the
 * user's credentials epoch (store_user_epoch()) it was made under. */
int web_session_create(int64_t user_id, int64_t epoch, char **id_r, char **csrf_r);
/* Moves a session to the user's new epoch: the one session that changed
 * its own password goes on. */
void web_session_set_epoch(const char *id, int64_t epoch);
void web_session_destroy(const char *id);
/* Ends every session of the user except keep (NULL: all): after a password
 * change, other browsers must sign in again. */
void web_session_destroy_user(int64_t user_id, const char *keep);
/* Lifetime of a panel session without activity. */
#define WEB_SESSION_IDLE_SECONDS (8 * 3600)
/* ...and at most this long in all, however busy. */
#define WEB_SESSION_MAX_SECONDS (24 * 3600)
#define WEB_SESSIONS_MAX 4096
#define WEB_SESSION_COOKIE "mailhub_session"

/* Sign-ins waiting for their second factor (auth.c): the right password of
 * a user with two-factor sign-in earns a challenge (64 hex digits) good for
 * WEB_CHALLENGE_TRIES codes within WEB_CHALLENGE_SECONDS, and nothing else. */
void web_challenge_create(int64_t user_id, int64_t epoch, char **id_r);
/* Finds a live challenge and counts one try on it; false when it is
 * unknown, expired or out of tries. */
bool web_challenge_try(const char *id, int64_t *user_id_r, int64_t *epoch_r);
void web_challenge_destroy(const char *id);
#define WEB_CHALLENGE_SECONDS 300
#define WEB_CHALLENGE_TRIES 5
#define WEB_CHALLENGES_MAX 1024

/* path.c: the pure parts of routing, unit tested and fuzzed.
 * Matches path against a route pattern such as "/api/v1/users/{address}";
 * with params non-NULL, the {name} segments are copied out (malloc'd, at
 * most WEB_PARAMS_MAX, *n_r of them; the caller frees them).  A parameter
 * is never empty and never holds a '/'. */
bool web_route_match(const char *pattern, const char *path, char **params,
		     size_t *n_r);
/* True when rel ("js/app.js", no leading '/') may name a file under
 * static_dir: at most WEB_STATIC_PATH_MAX bytes of '/'-separated segments,
 * each non-empty, of letters, digits, '-', '_' and '.', not starting with
 * '.' (so neither "..", nor hidden files, nor anything encoded). */
#define WEB_STATIC_PATH_MAX 256
bool web_static_path_ok(const char *rel);

/* static.c: files under static_dir for any path outside /api/ (with "/"
 * meaning index.html). */
enum MHD_Result web_static_serve(struct web_request *r);
/* autoconfig.c: Thunderbird autoconfig and Microsoft autodiscover; false
 * when the path is not one of theirs. */
bool web_autoconfig_serve(struct web_request *r, enum MHD_Result *result_r);
/* metrics.c: GET /metrics (Prometheus text; an admin's bearer token or
 * [admin] metrics_token); false when the path is another. */
bool web_metrics_serve(struct web_request *r, enum MHD_Result *result_r);
/* api_doctor.c: at the end, no new doctor check starts, and the one
 * running (if any) gets at most timeout_ms to end. */
void web_doctor_close(int timeout_ms);
/* mta_sts.c: GET /.well-known/mta-sts.txt (RFC 8461) by the Host field. */
bool web_mta_sts_serve(struct web_request *r, enum MHD_Result *result_r);

#endif

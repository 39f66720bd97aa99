/*
 * web internals shared between server.c and the files it dispatches to.
 * Handlers see only request.h.
 */
#ifndef MAILHUB_WEB_INTERNAL_H
#define MAILHUB_WEB_INTERNAL_H

#include <stdbool.h>
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
/* Browser sessions, owned by auth.c behind its lock. */
int web_session_create(int64_t user_id, char **id_r, char **csrf_r);
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

#endif

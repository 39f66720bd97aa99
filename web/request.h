/*
 * request: what a route handler sees of one HTTP request, and the one pair
 * of functions every handler answers through (reply_json / reply_problem).
 *
 * The server (server.c) owns a request from libmicrohttpd's first callback
 * to its completion callback: it accumulates the body (capped at
 * WEB_BODY_MAX), authenticates the caller, parses a JSON body for routes that
 * take one, matches the route and calls the handler once.  A handler must
 * queue exactly one reply and return its result.
 */
#ifndef MAILHUB_WEB_REQUEST_H
#define MAILHUB_WEB_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "core/buf.h"
#include "store/store.h"

/* Largest request body accepted (RFC 9110 §15.5.14: 413 past it). */
#define WEB_BODY_MAX (1024 * 1024)
/* Path parameters a route pattern may have. */
#define WEB_PARAMS_MAX 4

struct web_server;
struct web_test;

/* Who is calling. */
enum web_auth {
	WEB_AUTH_NONE,		/* anonymous */
	WEB_AUTH_TOKEN,		/* Authorization: Bearer */
	WEB_AUTH_COOKIE,	/* the panel's session cookie (CSRF checked) */
};

struct web_request {
	struct web_server *srv;
	struct MHD_Connection *mhd;
	const char *method;	/* "GET", ... (libmicrohttpd's string) */
	const char *path;	/* "/api/v1/users/a@b.org" (percent-decoded) */
	char peer_ip[64];

	struct buf body;	/* at most WEB_BODY_MAX */
	bool body_too_large;
	cJSON *json;		/* the parsed body, for ROUTE_JSON routes */

	struct store *st;	/* this thread's store handle (not owned) */
	enum web_auth auth;
	struct store_user user;	/* the caller when auth != WEB_AUTH_NONE */
	char *session_id;	/* the cookie session, when auth == WEB_AUTH_COOKIE */
	char csrf[65];		/* that session's CSRF token ("" otherwise) */

	const char *allow;	/* the Allow header of a 405 (RFC 9110 §15.5.6) */

	char *params[WEB_PARAMS_MAX];	/* {name} segments of the route, decoded */
	size_t n_params;
	bool replied;
	struct web_test *test;	/* a connection test running for this request
				 * (upstream_test.h); the connection is
				 * suspended until it answers */
};

/* Route flags, checked once by the dispatcher before any handler runs. */
enum route_flags {
	ROUTE_PUBLIC = 0,	/* no authentication needed */
	ROUTE_AUTH = 1 << 0,	/* a user or an admin (401 otherwise) */
	ROUTE_ADMIN = 1 << 1,	/* an admin (403 for a user) */
	ROUTE_JSON = 1 << 2,	/* the body must be a JSON object (400/415 otherwise) */
};

typedef enum MHD_Result web_handler_fn(struct web_request *r);

struct route {
	const char *method;
	const char *pattern;	/* "/api/v1/users/{address}" */
	web_handler_fn *handler;
	unsigned flags;
};

/* ---- replies (reply.c) ---------------------------------------------- */

/* Sends body (consumed; NULL for no body) as application/json. */
enum MHD_Result reply_json(struct web_request *r, unsigned status, cJSON *body);
/* RFC 9457 problem details: {"type","title","status","detail"} as
 * application/problem+json.  title is the reason phrase ("Bad Request");
 * detail says what exactly went wrong, naming the field where one is bad. */
enum MHD_Result reply_problem(struct web_request *r, unsigned status,
			      const char *detail_fmt, ...) MH_PRINTF(3, 4);
/* A problem for a store failure: NOTFOUND 404, EXISTS 409, INVALID 422,
 * BUSY/LOOP 409, NOTLOCAL 422, OVERQUOTA 507, else 500. */
enum MHD_Result reply_store_error(struct web_request *r, int status,
				  const char *error);
/* 204 No Content. */
enum MHD_Result reply_empty(struct web_request *r, unsigned status);
/* Any other body with a content type (static files, autoconfig XML). */
enum MHD_Result reply_bytes(struct web_request *r, unsigned status,
			    const char *content_type, const void *data,
			    size_t len, const char *cache_control);
/* Adds the security headers every response carries. */
void reply_add_security_headers(struct MHD_Response *resp);

/* ---- helpers for handlers -------------------------------------------- */

bool web_is_admin(const struct web_request *r);
/* True when the caller is an admin or is the user with that address. */
bool web_may_access_user(const struct web_request *r, const char *address);
/* A query string argument, or NULL. */
const char *web_query(struct web_request *r, const char *key);

/* JSON field access with type checks.  On a wrong type these reply 422 with
 * the field named and return -1; a missing optional field leaves *out alone
 * and returns 0; a missing required field replies 422 and returns -1. */
int json_get_string(struct web_request *r, const cJSON *obj, const char *field,
		    bool required, const char **out);
int json_get_bool(struct web_request *r, const cJSON *obj, const char *field,
		  bool required, bool *out);
int json_get_uint(struct web_request *r, const cJSON *obj, const char *field,
		  bool required, uint64_t max, uint64_t *out);
/* A string of at most max bytes with no control characters (a name, a
 * label); 422 naming the field otherwise. */
int json_get_text(struct web_request *r, const cJSON *obj, const char *field,
		  bool required, size_t max, const char **out);
/* A string that is a valid address (store_address_valid); with
 * allow_catchall, "@domain" as well.  422 naming the field otherwise. */
int json_get_address(struct web_request *r, const cJSON *obj, const char *field,
		     bool required, bool allow_catchall, const char **out);
/* An array of 1..max valid addresses (copied into a NULL-ended, malloc'd
 * array of borrowed pointers in *list_r, freed by the caller with free()). */
int json_get_address_list(struct web_request *r, const cJSON *obj,
			  const char *field, size_t max, const char ***list_r,
			  size_t *n_r);
/* Path parameter i as a positive integer id; replies 404 and returns -1
 * when it is not one. */
int web_param_id(struct web_request *r, size_t i, int64_t *id_r);
/* Replies 422 naming the first key of obj that is not in allowed (NULL-ended). */
int json_only_fields(struct web_request *r, const cJSON *obj,
		     const char *const *allowed);

/* An ISO 8601 UTC timestamp ("2026-11-23T08:30:00Z") as a JSON string,
 * or JSON null for 0. */
cJSON *json_time(int64_t t);

#endif

/*
 * api_upstreams: the user's upstream POP3/IMAP accounts (INTERFACE.md).
 *   GET    /api/v1/upstreams             admin: all (?owner=ADDRESS); a user: their own
 *   POST   /api/v1/upstreams             {"owner","protocol","host","port","tls",
 *                                         "tls_verify","username","password","folders",
 *                                         "target","keep","idle","dedupe","interval",
 *                                         "enabled"}; owner defaults to the caller
 *   GET    /api/v1/upstreams/{id}
 *   PATCH  /api/v1/upstreams/{id}        any of the fields above but owner
 *   DELETE /api/v1/upstreams/{id}
 *   POST   /api/v1/upstreams/{id}/fetch  fetch now (202)
 *   POST   /api/v1/upstreams/test        the fields above (or "id" of a stored
 *                                        account, its password used unless given):
 *                                        connect, TLS, login, list folders;
 *                                        {"ok","error","tls","certificate_sha256",
 *                                         "folders","messages"}; run off the
 *                                        request threads (upstream_test.h), 429
 *                                        while the caller has one running
 * A user sees only their own accounts (anything else is 404, as if it did
 * not exist); an admin sees all.  The password is write-only: it is sealed
 * (core/seal.h) before it reaches the store and never returned.  A stored
 * password only ever goes where it was saved for: a PATCH or a test of a
 * stored account that changes protocol, host, port, tls, tls_verify or
 * username needs "password" again (422 otherwise).
 *
 * The routes and their flags are in routes.c.
 */
#ifndef MAILHUB_WEB_API_UPSTREAMS_H
#define MAILHUB_WEB_API_UPSTREAMS_H

#include "web/request.h"

web_handler_fn api_upstreams_list;
web_handler_fn api_upstreams_create;
web_handler_fn api_upstreams_get;
web_handler_fn api_upstreams_patch;
web_handler_fn api_upstreams_delete;
web_handler_fn api_upstreams_fetch;
web_handler_fn api_upstreams_test;
/* OAuth2 (fetch/oauth.h): POST .../{id}/oauth/device starts the device
 * grant (RFC 8628) and answers the code to show; POST .../oauth/device/poll
 * asks the provider once ("pending" or "connected"); POST .../oauth/authorize
 * {"redirect_uri"} answers the provider's URL for the code flow with PKCE
 * (RFC 7636), its state bound to the caller's session; POST .../oauth/code
 * {"state","code"} finishes it.  GET /api/v1/upstream-presets lists the
 * provider presets (fetch/presets.h). */
web_handler_fn api_upstreams_device;
web_handler_fn api_upstreams_device_poll;
web_handler_fn api_upstreams_authorize;
web_handler_fn api_upstreams_code;
web_handler_fn api_upstream_presets;
/* GET .../{id}/folders: per fetched folder (IMAP) {"folder","local",
 * "last_sync","messages","push" ("idle", "notify", "polling" or "off"),
 * "last_attempt","last_error"} (api_upstream_folders.c). */
web_handler_fn api_upstreams_folders;

/* The account of the path's {id} when the caller may see it (a user only
 * their own: anything else is 404); otherwise the reply is sent and -1. */
struct store_upstream;
int api_upstream_path_account(struct web_request *r, struct store_upstream *up);

#endif

/*
 * api_relay: how outbound mail leaves (admin only).
 *   GET /api/v1/relay   {"mode": "direct" | "smarthost", "smarthost": null |
 *                        {"host", "port", "tls", "username", "password_set"}}
 *   PUT /api/v1/relay   {"smarthost": null} (direct delivery by MX), or
 *                       {"smarthost": {"host", "port", "tls": "implicit" |
 *                        "starttls", "username", "password"}}
 * The password is write-only: it is sealed (core/seal.h) and never
 * returned; a PUT with the same username and no password keeps the stored
 * one.  The relay workers use a change from their next delivery on.
 * The routes and their flags are in routes.c.
 */
#ifndef MAILHUB_WEB_API_RELAY_H
#define MAILHUB_WEB_API_RELAY_H

#include "web/request.h"

web_handler_fn api_relay_get;
web_handler_fn api_relay_domains;	/* GET /api/v1/relay/domains */
web_handler_fn api_relay_put;
/* api_tlsrpt.c: TLS reports received (RFC 8460) */
web_handler_fn api_tlsrpt_post;	/* POST /api/v1/tlsrpt (anonymous) */
web_handler_fn api_tlsrpt_list;	/* GET /api/v1/relay/tls-reports */

#endif

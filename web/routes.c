/*
 * routes: the one route table of the REST API.  The dispatcher in server.c
 * matches method and pattern and enforces the flags before a handler runs;
 * static/openapi.json describes the same routes (a test keeps them equal).
 * Handlers that serve both roles (users, aliases) narrow what a plain user
 * sees themselves; ROUTE_ADMIN routes never reach a handler for a user.
 */
#include "web/api.h"
#include "web/api_relay.h"
#include "web/api_totp.h"
#include "web/api_upstreams.h"
#include "web/internal.h"

#define A ROUTE_AUTH
#define ADM (ROUTE_AUTH | ROUTE_ADMIN)
#define J ROUTE_JSON

const struct route web_routes[] = {
	{ "GET", "/api/v1/status", api_status_get, ROUTE_PUBLIC },
	{ "GET", "/api/v1/openapi.json", api_openapi_get, ROUTE_PUBLIC },

	{ "GET", "/api/v1/session", api_session_get, A },
	{ "POST", "/api/v1/session", api_session_create, ROUTE_PUBLIC | J },
	{ "DELETE", "/api/v1/session", api_session_delete, ROUTE_PUBLIC },
	{ "POST", "/api/v1/session/totp", api_session_totp, ROUTE_PUBLIC | J },

	{ "GET", "/api/v1/domains", api_domains_list, ADM },
	{ "POST", "/api/v1/domains", api_domains_create, ADM | J },
	{ "GET", "/api/v1/domains/{name}", api_domains_get, ADM },
	{ "DELETE", "/api/v1/domains/{name}", api_domains_delete, ADM },
	{ "GET", "/api/v1/domains/{name}/dns", api_domains_dns, ADM },

	{ "GET", "/api/v1/users", api_users_list, A },
	{ "POST", "/api/v1/users", api_users_create, ADM | J },
	{ "GET", "/api/v1/users/{address}", api_users_get, A },
	{ "PATCH", "/api/v1/users/{address}", api_users_patch, A | J },
	{ "DELETE", "/api/v1/users/{address}", api_users_delete, ADM },
	{ "GET", "/api/v1/users/{address}/download", api_users_download, A },
	{ "POST", "/api/v1/users/{address}/import", api_import_start, A | J },
	{ "GET", "/api/v1/users/{address}/import", api_import_get, A },
	{ "DELETE", "/api/v1/users/{address}/import", api_import_cancel, A },
	{ "GET", "/api/v1/users/{address}/totp", api_totp_get, A },
	{ "POST", "/api/v1/users/{address}/totp", api_totp_enrol, A },
	{ "DELETE", "/api/v1/users/{address}/totp", api_totp_reset, ADM },
	{ "POST", "/api/v1/users/{address}/totp/confirm", api_totp_confirm, A | J },
	{ "POST", "/api/v1/users/{address}/totp/disable", api_totp_disable, A | J },

	{ "GET", "/api/v1/aliases", api_aliases_list, A },
	{ "POST", "/api/v1/aliases", api_aliases_create, ADM | J },
	{ "GET", "/api/v1/aliases/{source}", api_aliases_get, A },
	{ "PATCH", "/api/v1/aliases/{source}", api_aliases_patch, ADM | J },
	{ "DELETE", "/api/v1/aliases/{source}", api_aliases_delete, ADM },

	{ "GET", "/api/v1/tokens", api_tokens_list, A },
	{ "POST", "/api/v1/tokens", api_tokens_create, A | J },
	{ "DELETE", "/api/v1/tokens/{id}", api_tokens_delete, A },

	{ "GET", "/api/v1/app-passwords", api_app_passwords_list, A },
	{ "POST", "/api/v1/app-passwords", api_app_passwords_create, A | J },
	{ "DELETE", "/api/v1/app-passwords/{id}", api_app_passwords_delete, A },

	{ "GET", "/api/v1/sieve", api_sieve_list, A },
	{ "GET", "/api/v1/sieve/{name}", api_sieve_get, A },
	{ "PUT", "/api/v1/sieve/{name}", api_sieve_put, A | J },
	{ "DELETE", "/api/v1/sieve/{name}", api_sieve_delete, A },
	{ "POST", "/api/v1/sieve/{name}/activate", api_sieve_activate, A },
	{ "POST", "/api/v1/sieve/{name}/deactivate", api_sieve_deactivate, A },

	{ "GET", "/api/v1/upstreams", api_upstreams_list, A },
	{ "POST", "/api/v1/upstreams", api_upstreams_create, A | J },
	{ "POST", "/api/v1/upstreams/test", api_upstreams_test, A | J },
	{ "GET", "/api/v1/upstreams/{id}", api_upstreams_get, A },
	{ "PATCH", "/api/v1/upstreams/{id}", api_upstreams_patch, A | J },
	{ "DELETE", "/api/v1/upstreams/{id}", api_upstreams_delete, A },
	{ "POST", "/api/v1/upstreams/{id}/fetch", api_upstreams_fetch, A },
	{ "GET", "/api/v1/upstreams/{id}/folders", api_upstreams_folders, A },
	{ "POST", "/api/v1/upstreams/{id}/oauth/device", api_upstreams_device, A },
	{ "POST", "/api/v1/upstreams/{id}/oauth/device/poll", api_upstreams_device_poll, A },
	{ "POST", "/api/v1/upstreams/{id}/oauth/authorize", api_upstreams_authorize, A | J },
	{ "POST", "/api/v1/upstreams/{id}/oauth/code", api_upstreams_code, A | J },
	{ "GET", "/api/v1/upstream-presets", api_upstream_presets, A },

	{ "GET", "/api/v1/relay", api_relay_get, ADM },
	{ "PUT", "/api/v1/relay", api_relay_put, ADM | J },
	{ "GET", "/api/v1/relay/domains", api_relay_domains, ADM },
	{ "GET", "/api/v1/relay/tls-reports", api_tlsrpt_list, ADM },
	/* RFC 8460 §3: reporters POST without an account */
	{ "POST", "/api/v1/tlsrpt", api_tlsrpt_post, ROUTE_PUBLIC },

	{ "GET", "/api/v1/queue", api_queue_list, ADM },
	{ "GET", "/api/v1/queue/{id}", api_queue_get, ADM },
	{ "DELETE", "/api/v1/queue/{id}", api_queue_delete, ADM },
	{ "POST", "/api/v1/queue/{id}/retry", api_queue_retry, ADM },
	{ "POST", "/api/v1/queue/{id}/release", api_queue_release, ADM },

	{ "GET", "/api/v1/log", api_log_get, ADM },
	{ "GET", "/api/v1/metrics/history", api_metrics_history, ADM },
	{ "GET", "/api/v1/doctor", api_doctor_get, ADM },
};

const size_t web_n_routes = sizeof web_routes / sizeof web_routes[0];

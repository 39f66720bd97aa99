/*
 * api: the REST handlers, one file per resource (api_users.c, ...).
 * routes.c lists them in the one route table with their flags; each file's
 * head comment says what its routes do, and static/openapi.json describes
 * them for clients.  Upstream accounts and the relay have headers of their
 * own (api_upstreams.h, api_relay.h), written with the fetcher and the relay.
 */
#ifndef MAILHUB_WEB_API_H
#define MAILHUB_WEB_API_H

#include "web/request.h"

/* api_session.c */
web_handler_fn api_session_create;
web_handler_fn api_session_totp;
web_handler_fn api_session_delete;
web_handler_fn api_session_get;

/* api_status.c */
web_handler_fn api_status_get;

/* api_openapi.c */
web_handler_fn api_openapi_get;

/* api_domains.c */
web_handler_fn api_domains_list;
web_handler_fn api_domains_create;
web_handler_fn api_domains_get;
web_handler_fn api_domains_delete;
web_handler_fn api_domains_dns;

/* api_users.c */
web_handler_fn api_users_list;
web_handler_fn api_users_create;
web_handler_fn api_users_get;
web_handler_fn api_users_patch;
web_handler_fn api_users_delete;

/* api_aliases.c */
web_handler_fn api_aliases_list;
web_handler_fn api_aliases_create;
web_handler_fn api_aliases_get;
web_handler_fn api_aliases_patch;
web_handler_fn api_aliases_delete;

/* api_tokens.c */
web_handler_fn api_tokens_list;
web_handler_fn api_tokens_create;
web_handler_fn api_tokens_delete;

/* api_app_passwords.c */
web_handler_fn api_app_passwords_list;
web_handler_fn api_app_passwords_create;
web_handler_fn api_app_passwords_delete;

/* api_sieve.c */
web_handler_fn api_sieve_list;
web_handler_fn api_sieve_get;
web_handler_fn api_sieve_put;
web_handler_fn api_sieve_activate;
web_handler_fn api_sieve_deactivate;
web_handler_fn api_sieve_delete;
/* api_log.c */
web_handler_fn api_log_get;

/* metrics.c */
web_handler_fn api_metrics_history;

/* api_doctor.c */
web_handler_fn api_doctor_get;

/* api_download.c */
web_handler_fn api_users_download;

/* api_import.c */
web_handler_fn api_import_start;
web_handler_fn api_import_get;
web_handler_fn api_import_cancel;

/* api_queue.c */
web_handler_fn api_queue_list;
web_handler_fn api_queue_get;
web_handler_fn api_queue_delete;
web_handler_fn api_queue_retry;
web_handler_fn api_queue_release;

#endif

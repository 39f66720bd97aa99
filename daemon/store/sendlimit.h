/*
 * sendlimit: what local users submitted per clock hour, per user and per
 * domain (sql/019_outbound.sql send_counts), and who ran into a limit
 * (send_limit_hits), for [relay]'s sending limits and the panel.
 * A scope is "user:ADDRESS" or "domain:NAME".
 */
#ifndef MAILHUB_STORE_SENDLIMIT_H
#define MAILHUB_STORE_SENDLIMIT_H

#include <stdint.h>

#include "store/store.h"

/* The messages and recipients counted for scope in hour (now / 3600). */
int store_send_usage(struct store *st, const char *scope, int64_t hour,
		     int64_t *messages_r, int64_t *recipients_r, const char **error_r);
/* Counts one accepted message with rcpts recipients for both scopes, in
 * one light transaction (no message rides on it). */
int store_send_count(struct store *st, const char *user_scope, const char *domain_scope,
		     int64_t hour, unsigned rcpts, const char **error_r);
/* Notes that scope hit the limit described by what. */
int store_send_limit_hit(struct store *st, const char *scope, const char *what,
			 int64_t now, const char **error_r);

#endif

/*
 * queue: the relay's scheduler and worker pool (DESIGN.md: smtp/queue).
 *
 * [relay] workers threads each own a store handle, a DNS resolver and at
 * most one SMTP client connection.  A worker claims the due recipients of
 * one domain (store/relayq.h: leased, so no other worker takes them), and
 * routes them: a local domain is delivered into the mailboxes; otherwise
 * the smarthost, when one is set, takes everything (TLS with a verified
 * certificate, AUTH when a username is set); otherwise the domain's MX
 * hosts by preference (RFC 5321 §5.1: the implicit MX when there is none,
 * RFC 7505's null MX fails at once), each address of each host in turn,
 * STARTTLS whenever offered.  Recipients of one domain and message share
 * one transaction; messages of one batch share the connection.
 *
 * Each message's outcome is committed right after the server's reply to
 * its data (one committer thread commits what every worker finished
 * meanwhile in one transaction; a worker sends its next message meanwhile
 * but never runs more than one message ahead of its commits), so a
 * recipient that got a 2xx is not sent the message again, unless the
 * process dies between that reply and the commit (at-least-once delivery:
 * the one window in which a duplicate is possible, at most the last two
 * messages of each worker).  4xx replies and connection failures back off (retry_first,
 * doubling up to retry_max) until the queue lifetime; a 5xx or expiry gives
 * one RFC 3464 DSN (smtp/bounce.h), a long delay one delay notice.
 *
 * Mail that local users submitted (queue rows with a user) is DKIM-signed
 * (smtp/dkim.h) with both keys of the From domain when that domain is local;
 * the keys are made at first need.
 */
#ifndef MAILHUB_SMTP_QUEUE_H
#define MAILHUB_SMTP_QUEUE_H

#include <stdint.h>

#include "core/config.h"

/* Starts the workers (copies what it needs of cfg).  The caller has
 * loaded the sealing key (smarthost passwords).  0, or -1 with *error_r. */
int relay_start(const struct config *cfg, const char **error_r);
/*
 * Where a smarthost that logs in with an upstream account's OAuth2 grant
 * gets its credentials (the fetcher's grants: fetch/oauth.h; serve sets it
 * before relay_start, so that smtp/ needs nothing of fetch/): the account's
 * username and a valid access token, malloc'd; -1 with *error_r in plain
 * words.  Unset, such a smarthost is not used (mail waits).
 */
typedef int relay_oauth_fn(int64_t upstream_id, char **username_r, char **token_r,
			   const char **error_r);
void relay_set_oauth(relay_oauth_fn *fn);

/* Stops the workers: each finishes the message it is sending (bounded by
 * the SMTP timeouts) and exits; leases of unsent recipients are dropped. */
void relay_stop(void);
/* Wakes the workers to look at the queue now (after a submission). */
void relay_kick(void);

/*
 * Pure: when a recipient that has failed attempts times (before this
 * failure) is tried next: retry_first seconds after the first failure,
 * doubling up to retry_max, but never after the message's end of life
 * (created + lifetime), which is then its last attempt; an attempt that
 * fails at or after the end of life fails the recipient for good.
 */
int64_t relay_next_attempt(int64_t created, unsigned attempts, int64_t now,
			   unsigned retry_first, unsigned retry_max,
			   unsigned lifetime);

#endif

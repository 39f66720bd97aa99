/*
 * serve_spam: the spam worker of `mailhub serve`, one small thread of its
 * own (the relay and fetcher pools have their own queues and limits):
 * it teaches rspamd's controller the messages users moved into or out of
 * Junk (the store's learning queue, filled by the IMAP server), pings
 * rspamd when no mail has been checked for a while so that the status page
 * stays true, and sweeps the greylisting triplets that can no longer pass.
 * It starts only when [spam] has something for it to do.
 */
#ifndef MAILHUB_CLI_SERVE_SPAM_H
#define MAILHUB_CLI_SERVE_SPAM_H

#include "core/config.h"

/* 0, or -1 with *error_r. */
int spam_worker_start(const struct config *cfg, const char **error_r);
/* Stops it after the request under way (at most SPAM_WORKER_TIMEOUT). */
void spam_worker_stop(void);

#endif

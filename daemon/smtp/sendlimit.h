/*
 * sendlimit: [relay]'s sending limits on submission: messages and
 * recipients per clock hour, per authenticated user and per the user's
 * domain, so that a stolen password cannot send without end.  Over a
 * limit, MAIL or RCPT gets 451 4.7.1 with the limit in words and the hit
 * is noted for the panel (store/sendlimit.h).
 */
#ifndef MAILHUB_SMTP_SENDLIMIT_H
#define MAILHUB_SMTP_SENDLIMIT_H

#include <stdbool.h>
#include <stddef.h>

struct smtp_session;

/* Whether the session's user may start one more message (n_rcpts 0, at
 * MAIL) or add a recipient to a transaction of n_rcpts (at RCPT).  NULL
 * when so (or the session has no user), else the reply to give. */
const char *smtp_send_limit_check(struct smtp_session *s, size_t n_rcpts, bool rcpt);
/* Counts an accepted message of n_rcpts recipients. */
void smtp_send_limit_count(struct smtp_session *s, size_t n_rcpts);

#endif

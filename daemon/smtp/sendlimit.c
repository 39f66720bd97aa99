/*
 * sendlimit: hourly sending limits on submission (see sendlimit.h).
 */
#include "smtp/sendlimit.h"

#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "smtp/session.h"
#include "store/sendlimit.h"

/* The two scopes of the session's user ("user:a@b", "domain:b"). */
static void
scopes(const struct smtp_session *s, char **user_r, char **domain_r)
{
	const char *at = strrchr(s->user, '@');
	*user_r = xasprintf("user:%s", s->user);
	*domain_r = xasprintf("domain:%s", at != NULL ? at + 1 : s->user);
}

const char *
smtp_send_limit_check(struct smtp_session *s, size_t n_rcpts, bool rcpt)
{
	if (s->user_id == 0 || s->user == NULL)
		return NULL;
	struct store *st = smtp_store(s);
	if (st == NULL)
		return NULL;
	const struct config *cfg = s->cfg;
	int64_t now = time(NULL), hour = now / 3600;
	char *sc[2];
	scopes(s, &sc[0], &sc[1]);
	unsigned max_msgs[2] = { cfg->relay_user_messages, cfg->relay_domain_messages };
	unsigned max_rcpts[2] = { cfg->relay_user_recipients, cfg->relay_domain_recipients };
	const char *reply = NULL, *error;
	for (int i = 0; i < 2 && reply == NULL; i++) {
		int64_t msgs, rcpts;
		if (store_send_usage(st, sc[i], hour, &msgs, &rcpts, &error) != STORE_OK) {
			log_error("%s[%llu] sending limits: %s", s->name,
				  (unsigned long long)s->id, error);
			break;	/* the counters are no reason to stop mail */
		}
		const char *what = NULL;
		unsigned limit = 0;
		if (!rcpt && msgs >= max_msgs[i]) {
			what = "messages";
			limit = max_msgs[i];
		} else if (rcpt && rcpts + (int64_t)n_rcpts + 1 > max_rcpts[i]) {
			what = "recipients";
			limit = max_rcpts[i];
		}
		if (what == NULL)
			continue;
		const char *who = i == 0 ? "your address" : "your domain";
		char *desc = xasprintf("%s per hour (%u)", what, limit);
		/* RFC 3463 X.7.1: delivery not authorized (for now) */
		reply = errfmt("451 4.7.1 Sending limit reached: %s may send %u %s per hour;"
			       " try again later", who, limit, what);
		log_info("%s[%llu] sending limit user=%s scope=%s limit=%s", s->name,
			 (unsigned long long)s->id, s->user, sc[i], desc);
		if (store_send_limit_hit(st, sc[i], desc, now, &error) != STORE_OK)
			log_error("%s[%llu] sending limits: %s", s->name,
				  (unsigned long long)s->id, error);
		free(desc);
	}
	free(sc[0]);
	free(sc[1]);
	return reply;
}

void
smtp_send_limit_count(struct smtp_session *s, size_t n_rcpts)
{
	if (s->user_id == 0 || s->user == NULL)
		return;
	struct store *st = smtp_store(s);
	if (st == NULL)
		return;
	char *user, *domain;
	const char *error;
	scopes(s, &user, &domain);
	if (store_send_count(st, user, domain, time(NULL) / 3600, (unsigned)n_rcpts,
			     &error) != STORE_OK)
		log_error("%s[%llu] sending limits: %s", s->name, (unsigned long long)s->id,
			  error);
	free(user);
	free(domain);
}

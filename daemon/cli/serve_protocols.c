/*
 * serve_protocols: the daemon's wiring.  Each listener kind gets its
 * protocol's session function and a context that lives as long as the
 * process; the busy replies are what a client sees when the connection
 * limits are reached, in its own protocol's words.
 */
#include "cli/serve_protocols.h"

#include <string.h>

#include "cli/serve_spam.h"
#include "core/log.h"
#include "fetch/fetch.h"
#include "fetch/import_job.h"
#include "fetch/oauth.h"
#include "imap/session.h"
#include "managesieve/session.h"
#include "pop3/server.h"
#include "smtp/queue.h"
#include "smtp/server.h"

/* RFC 5321 §3.8 / RFC 3463 4.7.0: a temporary refusal, try again later. */
static const char smtp_busy[] = "421 4.7.0 Too many connections, try again later\r\n";
/* RFC 3501 §7.1.5 BYE; RFC 5530 UNAVAILABLE. */
static const char imap_busy[] = "* BYE [UNAVAILABLE] Too many connections\r\n";
/* RFC 2449 §8.1.2 SYS/TEMP: the problem is temporary. */
static const char pop3_busy[] = "-ERR [SYS/TEMP] Too many connections\r\n";
/* RFC 5804 §1.3 BYE with TRYLATER: the problem is temporary. */
static const char managesieve_busy[] = "BYE (TRYLATER) \"Too many connections\"\r\n";

static struct smtp_listener smtp_ctx[3];
static struct imap_listener imap_ctx[2];
static struct pop3_listener pop3_ctx[2];
static struct managesieve_listener managesieve_ctx;

int
serve_protocol_spec(const struct config *cfg, enum listen_kind kind,
		    struct listener_spec *spec, const char **error_r)
{
	memset(spec, 0, sizeof *spec);
	spec->name = config_listen_name(kind);
	switch (kind) {
	case LISTEN_SMTP:
	case LISTEN_SUBMISSION:
	case LISTEN_SUBMISSIONS: {
		struct smtp_listener *l = &smtp_ctx[kind - LISTEN_SMTP];
		l->mode = kind == LISTEN_SMTP ? SMTP_MODE_INBOUND
			: kind == LISTEN_SUBMISSION ? SMTP_MODE_SUBMISSION
			: SMTP_MODE_SUBMISSIONS;
		l->cfg = cfg;
		spec->implicit_tls = kind == LISTEN_SUBMISSIONS;
		spec->busy_reply = smtp_busy;
		spec->session = smtp_session_run;
		spec->ctx = l;
		return 0;
	}
	case LISTEN_IMAP:
	case LISTEN_IMAPS: {
		struct imap_listener *l = &imap_ctx[kind - LISTEN_IMAP];
		l->implicit_tls = kind == LISTEN_IMAPS;
		l->cfg = cfg;
		spec->implicit_tls = l->implicit_tls;
		spec->busy_reply = imap_busy;
		spec->session = imap_session_run;
		spec->ctx = l;
		return 0;
	}
	case LISTEN_POP3:
	case LISTEN_POP3S: {
		struct pop3_listener *l = &pop3_ctx[kind - LISTEN_POP3];
		l->implicit_tls = kind == LISTEN_POP3S;
		l->cfg = cfg;
		spec->implicit_tls = l->implicit_tls;
		spec->busy_reply = pop3_busy;
		spec->session = pop3_session_run;
		spec->ctx = l;
		return 0;
	}
	case LISTEN_MANAGESIEVE:
		managesieve_ctx.cfg = cfg;
		spec->busy_reply = managesieve_busy;
		spec->session = managesieve_session_run;
		spec->ctx = &managesieve_ctx;
		return 0;
	case LISTEN_ADMIN:	/* libmicrohttpd's own listener (web/) */
	case LISTEN_COUNT:
		break;
	}
	*error_r = errfmt("listener kind %d has no session", (int)kind);
	return -1;
}

/* The config the smarthost's OAuth2 tokens are renewed under: set once
 * before the relay's workers start, read-only after (the daemon's cfg). */
static const struct config *relay_oauth_cfg;

/* The smarthost logs in with an upstream account's grant (smtp/queue.h):
 * the relay asks the fetcher's grants, through here. */
static int
relay_oauth(int64_t upstream_id, char **username_r, char **token_r, const char **error_r)
{
	return fetch_oauth_account_token(relay_oauth_cfg, upstream_id, username_r, token_r,
					 error_r);
}

/* The outbound queue and the upstream fetcher: worker pools of their own;
 * the spam worker: one thread. */
int
serve_workers_start(const struct config *cfg, const char **error_r)
{
	relay_oauth_cfg = cfg;
	relay_set_oauth(relay_oauth);
	if (relay_start(cfg, error_r) < 0)
		return -1;
	if (fetch_start(cfg, error_r) < 0) {
		relay_stop();
		return -1;
	}
	if (spam_worker_start(cfg, error_r) < 0) {
		fetch_stop();
		relay_stop();
		return -1;
	}
	if (import_jobs_start(cfg, error_r) < 0) {
		spam_worker_stop();
		fetch_stop();
		relay_stop();
		return -1;
	}
	return 0;
}

void
serve_workers_stop(void)
{
	import_jobs_stop();
	spam_worker_stop();
	fetch_stop();
	relay_stop();
}

void
serve_protocols_cleanup(void)
{
	smtp_server_cleanup();
}

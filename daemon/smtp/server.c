/*
 * server: the SMTP session state machine and its command table.
 */
#include "smtp/server.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/tls.h"
#include "smtp/command.h"
#include "smtp/data.h"
#include "smtp/inbound.h"
#include "smtp/received.h"
#include "smtp/sendlimit.h"
#include "smtp/session.h"
#include "smtp/srs.h"
#include "smtp/trust_inbound.h"
#include "store/blob.h"
#include "store/login.h"
#include "store/store.h"

/* Gating flags of the command table, checked in dispatch() only. */
enum {
	CMD_NEEDS_HELO = 1 << 0,	/* after EHLO/HELO */
	CMD_NEEDS_MAIL = 1 << 1,	/* inside a transaction */
	CMD_NEEDS_RCPT = 1 << 2,	/* with at least one recipient */
	CMD_NO_TX = 1 << 3,		/* not inside a transaction */
	CMD_SUBMIT_AUTH = 1 << 4,	/* on submission ports: after AUTH */
	CMD_AUTH_TLS = 1 << 5,		/* with TLS (or loopback when allowed) */
	CMD_NOT_AUTHED = 1 << 6,	/* not after a successful AUTH */
	CMD_NOT_TLS = 1 << 7,		/* not once TLS is on */
	CMD_IN_BDAT = 1 << 8,		/* allowed between BDAT chunks */
	CMD_LONG_PATH = 1 << 9,		/* line may be SMTP_COMMAND_LINE_UTF8_MAX */
	CMD_LONG_SASL = 1 << 10,	/* line may be SASL_LINE_MAX */
};

typedef int smtp_cmd_fn(struct smtp_session *s, const char *args);

struct smtp_cmd {
	const char *name;
	smtp_cmd_fn *fn;
	unsigned flags;
};

static smtp_cmd_fn cmd_helo, cmd_ehlo, cmd_mail, cmd_rcpt, cmd_data, cmd_bdat,
	cmd_rset, cmd_noop, cmd_quit, cmd_help, cmd_vrfy, cmd_expn, cmd_starttls,
	cmd_auth;

static const struct smtp_cmd commands[] = {
	{ "EHLO", cmd_ehlo, 0 },
	{ "HELO", cmd_helo, 0 },
	{ "MAIL", cmd_mail, CMD_NEEDS_HELO | CMD_SUBMIT_AUTH | CMD_LONG_PATH },
	{ "RCPT", cmd_rcpt, CMD_NEEDS_HELO | CMD_NEEDS_MAIL | CMD_LONG_PATH },
	{ "DATA", cmd_data, CMD_NEEDS_HELO | CMD_NEEDS_MAIL | CMD_NEEDS_RCPT },
	/* BDAT checks its own state: it must read its chunk whatever happens */
	{ "BDAT", cmd_bdat, CMD_IN_BDAT },
	{ "RSET", cmd_rset, CMD_IN_BDAT },
	{ "NOOP", cmd_noop, CMD_IN_BDAT },
	{ "QUIT", cmd_quit, CMD_IN_BDAT },
	{ "HELP", cmd_help, 0 },
	{ "VRFY", cmd_vrfy, 0 },
	{ "EXPN", cmd_expn, 0 },
	{ "STARTTLS", cmd_starttls, CMD_NEEDS_HELO | CMD_NO_TX | CMD_NOT_TLS },
	{ "AUTH", cmd_auth, CMD_NEEDS_HELO | CMD_NO_TX | CMD_AUTH_TLS | CMD_NOT_AUTHED |
		CMD_LONG_SASL },
};

/* ---- replies and small helpers -------------------------------------- */

void
smtp_reply(struct smtp_session *s, const char *text)
{
	if ((text[0] == '4' || text[0] == '5') && strncmp(text, "421", 3) != 0 &&
	    strncmp(text, "452", 3) != 0)
		s->errors++;
	conn_puts(s->conn, text);
	conn_puts(s->conn, "\r\n");
}

/* A reply that is flow control, not one of the client's errors (like 452):
 * greylisting's 451 (RFC 6647 §2.1), which a good client meets once per
 * new correspondent and recipient. */
static void
reply_flow(struct smtp_session *s, const char *text)
{
	conn_puts(s->conn, text);
	conn_puts(s->conn, "\r\n");
}

void
smtp_replyf(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	smtp_reply(s, buf_cstr(&b));
	buf_free(&b);
}

/*
 * Idle store handles, kept between sessions.  Opening a handle costs a
 * SQLite open, the migration check and the preparing of every statement
 * again; and when the last handle of the process closes, SQLite checkpoints
 * and deletes the WAL, which the next session has to create anew.  A
 * session takes a handle on first use and gives it back at its end (a
 * handle is used by one thread at a time).  Owned by this file.
 */
#define SMTP_STORE_POOL_MAX 32
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *pool[SMTP_STORE_POOL_MAX];
static size_t pool_n;

static struct store *
pool_take(const char *data_dir)
{
	struct store *st = NULL;
	pthread_mutex_lock(&pool_lock);
	for (size_t i = pool_n; i-- > 0;) {
		if (strcmp(store_data_dir(pool[i]), data_dir) == 0) {
			st = pool[i];
			pool[i] = pool[--pool_n];
			break;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return st;
}

static void
pool_put(struct store **st)
{
	if (*st == NULL)
		return;
	pthread_mutex_lock(&pool_lock);
	if (pool_n < SMTP_STORE_POOL_MAX) {
		pool[pool_n++] = *st;
		*st = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	store_close(st);
}

void
smtp_server_cleanup(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_n > 0)
		store_close(&pool[--pool_n]);
	pthread_mutex_unlock(&pool_lock);
}

struct store *
smtp_store(struct smtp_session *s)
{
	if (s->store == NULL)
		s->store = pool_take(s->cfg->data_dir);
	if (s->store == NULL) {
		const char *error;
		if (store_open(s->cfg->data_dir, &s->store, &error) != STORE_OK) {
			log_error("%s[%llu] cannot open the store: %s", s->name,
				  (unsigned long long)s->id, error);
			s->store = NULL;
		}
	}
	if (s->store != NULL)
		store_set_recipient_delimiter(s->store, s->cfg->recipient_delimiter);
	return s->store;
}

static void
set_state(struct smtp_session *s, enum smtp_state state)
{
	static const char *const names[] = { "fresh", "ready", "quit" };
	if (s->state != state)
		log_debug("%s[%llu] state %s -> %s", s->name, (unsigned long long)s->id,
			  names[s->state], names[state]);
	s->state = state;
}

void
smtp_tx_free(struct smtp_tx **txp)
{
	struct smtp_tx *tx = *txp;
	if (tx == NULL)
		return;
	free(tx->sender);
	free(tx->envid);
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		free(tx->rcpts[i].address);
		free(tx->rcpts[i].orcpt);
		store_resolution_clear(&tx->rcpts[i].res);
	}
	free(tx->rcpts);
	for (size_t i = 0; i < tx->n_copies; i++)
		blob_writer_abort(&tx->copies[i].w);
	free(tx->copies);
	smtp_verdict_clear(&tx->verdict);
	smtp_trust_free(&tx->trust);
	blob_writer_abort(&tx->blob);
	buf_free(&tx->stage);
	buf_free(&tx->headers);
	free(tx);
	*txp = NULL;
}

/* Authentication is possible: TLS, or loopback when the config allows it. */
static bool
auth_allowed(const struct smtp_session *s)
{
	return conn_is_tls(s->conn) ||
	       (s->cfg->plaintext_on_loopback && conn_is_loopback(s->conn));
}

static bool
is_submission_port(const struct smtp_session *s)
{
	return s->listener->mode != SMTP_MODE_INBOUND;
}

/* ---- EHLO, HELO, and the simple ones ------------------------------------ */

static int
helo_common(struct smtp_session *s, const char *args, bool esmtp)
{
	/* RFC 2034 §3: no enhanced code in replies to HELO and EHLO */
	if (!smtp_helo_valid(args)) {
		smtp_reply(s, esmtp ? "501 Syntax: EHLO hostname" : "501 Syntax: HELO hostname");
		return 0;
	}
	/* RFC 5321 §4.1.4: EHLO/HELO also resets the transaction */
	smtp_tx_free(&s->tx);
	free(s->helo);
	s->helo = xstrdup(args);
	s->esmtp = esmtp;
	set_state(s, SMTP_STATE_READY);
	return 0;
}

static int
cmd_ehlo(struct smtp_session *s, const char *args)
{
	helo_common(s, args, true);
	if (s->state != SMTP_STATE_READY || !s->esmtp)
		return 0;
	struct conn *c = s->conn;
	conn_printf(c, "250-%s\r\n", s->cfg->hostname);
	conn_puts(c, "250-PIPELINING\r\n");
	conn_printf(c, "250-SIZE %llu\r\n", (unsigned long long)s->cfg->message_size);
	conn_puts(c, "250-8BITMIME\r\n");
	conn_puts(c, "250-SMTPUTF8\r\n");
	conn_puts(c, "250-ENHANCEDSTATUSCODES\r\n");
	/* RFC 8689 §4: offered only in a session protected by TLS */
	if (conn_is_tls(c))
		conn_puts(c, "250-REQUIRETLS\r\n");
	if (!conn_is_tls(c))
		conn_puts(c, "250-STARTTLS\r\n");
	/* RFC 4954 §4 + DESIGN.md: AUTH only where a password may travel */
	if (auth_allowed(s) && s->user_id == 0) {
		conn_puts(c, "250-AUTH");
		for (const char *const *m = login_mechanisms(c); *m != NULL; m++)
			conn_printf(c, " %s", *m);
		conn_puts(c, "\r\n");
	}
	conn_puts(c, "250-DSN\r\n");
	conn_puts(c, "250 CHUNKING\r\n");
	return 0;
}

static int
cmd_helo(struct smtp_session *s, const char *args)
{
	helo_common(s, args, false);
	if (s->state == SMTP_STATE_READY && !s->esmtp)
		conn_printf(s->conn, "250 %s\r\n", s->cfg->hostname);
	return 0;
}

static int
cmd_rset(struct smtp_session *s, const char *args)
{
	if (args[0] != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: RSET");
		return 0;
	}
	smtp_tx_free(&s->tx);
	smtp_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int
cmd_noop(struct smtp_session *s, const char *args)
{
	/* RFC 5321 §4.1.1.9: a parameter is allowed and ignored */
	smtp_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int
cmd_quit(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "221 2.0.0 Bye");
	set_state(s, SMTP_STATE_QUIT);
	return 0;
}

static int
cmd_help(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT "
		      "HELP VRFY STARTTLS AUTH");
	return 0;
}

static int
cmd_vrfy(struct smtp_session *s, const char *args)
{
	/* RFC 5321 §3.5.3: 252 says nothing about whether the user exists */
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
	return 0;
}

static int
cmd_expn(struct smtp_session *s, const char *args)
{
	/* RFC 5321 §3.5.2: lists are not disclosed */
	smtp_reply(s, "502 5.5.1 EXPN not available");
	return 0;
}

/* ---- MAIL and RCPT ---------------------------------------------------- */

void
smtp_count_refusal(const char *reply)
{
	enum metrics_reject why = METRICS_REJECT_OTHER;
	if (reply[0] == '4')
		why = strncmp(reply, "451 4.7.1 Greylisted", 20) == 0 ? METRICS_REJECT_GREYLIST
			: METRICS_REJECT_TEMPORARY;
	else if (strncmp(reply, "554 5.7.1 Relay", 15) == 0)
		why = METRICS_REJECT_RELAY;
	else if (strncmp(reply, "550 5.1.1", 9) == 0)
		why = METRICS_REJECT_NO_SUCH_USER;
	else if (strncmp(reply, "552 5.3.4", 9) == 0 || strncmp(reply, "552 5.2.3", 9) == 0)
		why = METRICS_REJECT_SIZE;
	else if (strncmp(reply, "552 5.2.2", 9) == 0)
		why = METRICS_REJECT_MAILBOX_FULL;
	else if (strncmp(reply, "554 5.6.0", 9) == 0)
		why = METRICS_REJECT_FORMAT;
	metrics_rejected(why);
}

static int
cmd_mail(struct smtp_session *s, const char *args)
{
	struct smtp_mail_args m;
	const char *error;

	if (s->tx != NULL) {
		/* RFC 5321 §4.1.4: no MAIL inside a transaction */
		smtp_reply(s, "503 5.5.1 Sender already specified");
		return 0;
	}
	if (smtp_parse_mail(args, &m, &error) < 0) {
		smtp_reply(s, error);
		return 0;
	}
	/* RFC 6531 §3.4: the longer line is only for SMTPUTF8 addresses */
	if (s->line_len > SMTP_COMMAND_LINE_MAX && !m.smtputf8) {
		smtp_reply(s, "500 5.5.2 Line too long");
		goto out;
	}
	if (m.requiretls && !conn_is_tls(s->conn)) {
		/* RFC 8689 §4.1: REQUIRETLS only over TLS */
		smtp_reply(s, "530 5.7.10 REQUIRETLS needs a TLS session");
		goto out;
	}
	if (m.smtputf8 && !s->esmtp) {
		smtp_reply(s, "503 5.5.1 SMTPUTF8 needs EHLO");
		goto out;
	}
	if (m.size_given && m.size > s->cfg->message_size) {
		/* RFC 1870 §6.1: refuse an announced size over the limit now */
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		metrics_rejected(METRICS_REJECT_SIZE);
		goto out;
	}
	if (s->user_id != 0 && m.path.address[0] != '\0') {
		/* RFC 6409 §6.1: the MSA checks the sender is the user's */
		struct store *st = smtp_store(s);
		bool owned = false;
		int ret = st == NULL ? STORE_ERROR
				     : store_address_owned_by(st, m.path.address, s->user_id,
							      &owned, &error);
		if (ret == STORE_ERROR) {
			smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
			goto out;
		}
		if (!owned) {
			log_info("%s[%llu] refused sender=%s user=%s reason=not-owned",
				 s->name, (unsigned long long)s->id, esc_str(m.path.address), s->user);
			smtp_reply(s, "553 5.7.1 Sender address not owned by the authenticated user");
			metrics_rejected(METRICS_REJECT_SENDER);
			goto out;
		}
	}
	const char *over = smtp_send_limit_check(s, 0, false);
	if (over != NULL) {
		smtp_reply(s, over);
		metrics_rejected(METRICS_REJECT_RATE);
		goto out;
	}
	struct smtp_tx *tx = xcalloc(1, sizeof *tx);
	smtp_tx_id_build(tx->id);
	tx->sender = m.path.address;
	m.path.address = NULL;
	tx->smtputf8 = m.smtputf8;
	tx->requiretls = m.requiretls;
	tx->body = m.body;
	tx->ret = m.ret;
	tx->envid = m.envid;
	m.envid = NULL;
	s->tx = tx;
	smtp_trust_mail(s);
	smtp_reply(s, "250 2.1.0 Ok");
out:
	smtp_mail_args_clear(&m);
	return 0;
}

/*
 * A bounce to one of our SRS addresses (srs.h): the reply that refuses a
 * forged or expired one, or NULL with *to_r set to the address it goes
 * back to (malloc'd), or NULL and *to_r NULL when it is no SRS address.
 * Local parts that start with "SRS0=" or "SRS1=" are SRS's: they are
 * looked at before users, aliases and the catch-all.
 */
static const char *
rcpt_srs(struct smtp_session *s, const char *address, char **to_r)
{
	const struct srs_key *k = srs_key_current();
	const char *why;
	struct buf to = BUF_INIT;

	*to_r = NULL;
	if (k == NULL)
		return NULL;
	int ret = srs_reverse(k, address, time(NULL), &to, &why);
	if (ret < 0) {
		log_info("%s[%llu] srs refused to=%s ip=%s reason=\"%s\"", s->name,
			 (unsigned long long)s->id, esc_str(address), conn_peer_ip(s->conn), why);
		buf_free(&to);
		return "550 5.1.1 Recipient address rejected: invalid SRS address";
	}
	if (ret > 0) {
		log_info("%s[%llu] srs to=%s back to=%s", s->name, (unsigned long long)s->id,
			 esc_str(address), esc_str(buf_cstr(&to)));
		*to_r = buf_steal(&to);
	}
	buf_free(&to);
	return NULL;
}

/* Whether the recipient is local and exists: the reply to give, or NULL
 * to accept (then *local_r says whether it is delivered here, res_r what
 * it reaches, and *srs_r, when not NULL, the address an SRS bounce goes
 * back to). */
static const char *
rcpt_check(struct smtp_session *s, const struct smtp_path *path, bool *local_r,
	   struct store_resolution *res_r, char **srs_r)
{
	struct store *st = smtp_store(s);
	const char *error;
	*local_r = false;
	*srs_r = NULL;
	memset(res_r, 0, sizeof *res_r);
	if (st == NULL)
		return "451 4.3.0 Temporary failure, try again later";

	/* Locality goes by the domain alone, as written: an address literal,
	 * a source route (dropped by the parser), '%' or '!' in the local
	 * part, or quotes never make a remote address local or the reverse. */
	int local = path->domain_literal ? 0 : store_domain_is_local(st, path->domain);
	if (local < 0)
		return "451 4.3.0 Temporary failure, try again later";
	if (local == 0) {
		if (s->user_id != 0)
			return NULL;	/* authenticated: relayed through the queue */
		/* RFC 5321 §3.6.2 / RFC 3463 X.7.1: no open relay */
		return "554 5.7.1 Relay access denied";
	}
	if (!path->quoted && !path->utf8) {
		const char *refusal = rcpt_srs(s, path->address, srs_r);
		if (refusal != NULL || *srs_r != NULL)
			return refusal;	/* a bounce goes back out: not local */
	}
	*local_r = true;
	if (path->quoted || path->utf8)
		return "550 5.1.1 Recipient address rejected: no such user";
	int ret = store_resolve(st, path->address, res_r, &error);
	if (ret == STORE_OK)
		return NULL;
	switch (ret) {
	case STORE_NOTFOUND:
	case STORE_INVALID:
	case STORE_NOTLOCAL:
		return "550 5.1.1 Recipient address rejected: no such user";
	case STORE_LOOP:
		return "550 5.4.6 Alias loop";
	default:
		log_error("%s[%llu] cannot resolve %s: %s", s->name, (unsigned long long)s->id,
			  esc_str(path->address), error);
		return "451 4.3.0 Temporary failure, try again later";
	}
}

static int
cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_rcpt_args r;
	const char *error;

	if (tx->body_started) {
		smtp_reply(s, "503 5.5.1 RCPT not allowed during BDAT");
		return 0;
	}
	if (smtp_parse_rcpt(args, tx->smtputf8, &r, &error) < 0) {
		smtp_reply(s, error);
		return 0;
	}
	if (s->line_len > SMTP_COMMAND_LINE_MAX && !tx->smtputf8) {
		smtp_reply(s, "500 5.5.2 Line too long");
		goto out;
	}
	if (r.path.postmaster) {
		/* §4.1.1.3: <Postmaster> is the postmaster of our host name */
		char *a = xasprintf("postmaster@%s", s->cfg->hostname);
		free(r.path.address);
		free(r.path.domain);
		r.path.address = a;
		r.path.domain = xstrdup(s->cfg->hostname);
	}
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		if (str_eq_nocase(tx->rcpts[i].address, r.path.address)) {
			smtp_reply(s, "250 2.1.5 Ok");	/* the same recipient twice */
			goto out;
		}
	}
	const char *over = smtp_send_limit_check(s, tx->n_rcpts, true);
	if (over != NULL) {
		smtp_reply(s, over);
		metrics_rejected(METRICS_REJECT_RATE);
		goto out;
	}
	if (tx->n_rcpts >= s->cfg->recipients) {
		/* RFC 5321 §4.5.3.1.10: 452, the client sends the rest later */
		smtp_reply(s, "452 4.5.3 Too many recipients");
		metrics_rejected(METRICS_REJECT_RECIPIENTS);
		goto out;
	}
	bool local;
	struct store_resolution res;
	char *srs_to;
	const char *refusal = rcpt_check(s, &r.path, &local, &res, &srs_to);
	if (refusal != NULL) {
		log_info("%s[%llu] rcpt refused to=%s ip=%s reply=\"%s\"",
			 s->name, (unsigned long long)s->id, esc_str(r.path.address),
			 conn_peer_ip(s->conn), refusal);
		smtp_reply(s, refusal);
		smtp_count_refusal(refusal);
		goto out;
	}
	struct buf defer = BUF_INIT;
	if (local && smtp_inbound_rcpt(s, r.path.address, &defer) != NULL) {
		reply_flow(s, buf_cstr(&defer));
		metrics_rejected(METRICS_REJECT_GREYLIST);
		buf_free(&defer);
		store_resolution_clear(&res);
		free(srs_to);
		goto out;
	}
	if (tx->n_rcpts == tx->cap_rcpts) {
		tx->cap_rcpts = tx->cap_rcpts == 0 ? 4 : tx->cap_rcpts * 2;
		tx->rcpts = xreallocarray(tx->rcpts, tx->cap_rcpts, sizeof *tx->rcpts);
	}
	struct smtp_rcpt *rc = &tx->rcpts[tx->n_rcpts++];
	memset(rc, 0, sizeof *rc);
	if (srs_to != NULL) {
		/* RFC 3461 §4.2: the DSN names the address the bounce came to */
		if (r.orcpt == NULL) {
			struct buf o = BUF_INIT;
			buf_puts(&o, "rfc822;");
			smtp_xtext_encode(r.path.address, strlen(r.path.address), &o);
			r.orcpt = buf_steal(&o);
		}
		free(r.path.address);
		r.path.address = srs_to;
	}
	rc->address = r.path.address;
	r.path.address = NULL;
	rc->orcpt = r.orcpt;
	r.orcpt = NULL;
	rc->notify = r.notify;
	rc->local = local;
	rc->res = res;
	smtp_reply(s, "250 2.1.5 Ok");
out:
	smtp_rcpt_args_clear(&r);
	return 0;
}

/* ---- DATA and BDAT ---------------------------------------------------- */

static void
set_timeout(struct smtp_session *s, bool data)
{
	unsigned secs = data ? s->cfg->smtp_data_timeout : s->cfg->smtp_timeout;
	conn_set_timeout(s->conn, (int)(secs > 2000000 ? 2000000 : secs) * 1000);
}

/* Turns what the body reader found into the refusal of the message: the
 * same rules for DATA and BDAT. */
static void
body_check(struct smtp_session *s, const struct smtp_data *d)
{
	struct smtp_tx *tx = s->tx;
	if (d->errors & (SMTP_DATA_ERR_BARE_LF | SMTP_DATA_ERR_BARE_CR)) {
		/* RFC 5321 §2.3.8: CR and LF only as CRLF; never an end marker */
		if (tx->refusal == NULL || strncmp(tx->refusal, "552", 3) != 0) {
			if (tx->refusal == NULL)
				log_info("%s[%llu] bare CR/LF in message ip=%s", s->name,
					 (unsigned long long)s->id, conn_peer_ip(s->conn));
			tx->refusal = "554 5.6.0 Message refused: bare CR or LF in message";
		}
	} else if (d->errors & SMTP_DATA_ERR_LONG_LINE) {
		if (tx->refusal == NULL)
			tx->refusal = "554 5.6.0 Message refused: line too long";
	}
}

static int
cmd_data(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;
	const char *reply;

	if (args[0] != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return 0;
	}
	if (tx->body_started) {
		/* RFC 3030 §2: DATA and BDAT do not mix in one transaction */
		smtp_reply(s, "503 5.5.1 DATA not allowed after BDAT");
		return 0;
	}
	if (smtp_body_begin(s, &reply) < 0) {
		smtp_reply(s, reply);
		return 0;
	}
	/* RFC 2034: 354 is not 2xx/4xx/5xx and carries no enhanced code */
	conn_puts(s->conn, "354 End data with <CR><LF>.<CR><LF>\r\n");
	set_timeout(s, true);

	struct smtp_data d;
	smtp_data_init(&d, SMTP_TEXT_LINE_MAX, smtp_body_write, s);
	while (!d.done) {
		const char *piece;
		size_t len;
		/* up to each LF, so nothing after the end marker is taken from
		 * conn (the next pipelined command stays there); a line too
		 * long to hold comes in pieces, never skipped: the reader must
		 * see the bare LF or CR that ends it to know that no line
		 * starts after it (issue 14: "<70,000 bytes><LF>.<CRLF>") */
		enum conn_result r = conn_read_line_part(s->conn, SMTP_TEXT_LINE_MAX,
							 &piece, &len);
		if (r != CONN_OK) {
			log_info("%s[%llu] connection lost in DATA ip=%s",
				 s->name, (unsigned long long)s->id, conn_peer_ip(s->conn));
			return -1;
		}
		/* a piece ends at its first LF, and the end marker ends with
		 * its LF: the reader always takes the whole piece */
		if (smtp_data_feed(&d, piece, len) != len)
			panic("smtp: DATA reader stopped inside a piece");
	}
	set_timeout(s, false);
	body_check(s, &d);
	smtp_body_end(s);
	smtp_tx_free(&s->tx);
	return 0;
}

/* Reads and throws away n bytes of a refused chunk; 0, or -1 on EOF. */
static int
bdat_skip(struct smtp_session *s, uint64_t n)
{
	if (s->chunk == NULL)
		s->chunk = xmalloc(SMTP_BODY_CHUNK);
	while (n > 0) {
		size_t want = n > SMTP_BODY_CHUNK ? SMTP_BODY_CHUNK : (size_t)n;
		ssize_t got = conn_read(s->conn, s->chunk, want);
		if (got <= 0)
			return -1;
		n -= (uint64_t)got;
	}
	return 0;
}

static int
cmd_bdat(struct smtp_session *s, const char *args)
{
	uint64_t size;
	bool last;
	const char *error;
	const char *refusal = NULL;
	struct smtp_tx *tx = s->tx;

	if (smtp_parse_bdat(args, &size, &last, &error) < 0) {
		/* the chunk's length is unknown: the stream is out of step */
		smtp_reply(s, error);
		smtp_reply(s, "421 4.5.0 Lost synchronisation, closing connection");
		return -1;
	}
	if (s->state != SMTP_STATE_READY)
		refusal = "503 5.5.1 Send EHLO first";
	else if (tx == NULL)
		refusal = "503 5.5.1 Need MAIL command";
	else if (tx->n_rcpts == 0)
		refusal = "554 5.5.1 No valid recipients";
	else if (tx->bdat_error != NULL)
		refusal = tx->bdat_error;
	else if (tx->body_started && !tx->bdat)
		refusal = "503 5.5.1 BDAT not allowed after DATA";
	if (refusal == NULL && !tx->body_started) {
		if (smtp_body_begin(s, &refusal) == 0) {
			tx->bdat = true;
			smtp_data_init_chunked(&tx->bdat_reader, SMTP_TEXT_LINE_MAX,
					       smtp_body_write, s);
		}
	}
	set_timeout(s, true);
	if (refusal != NULL) {
		/* RFC 3030 §2: the chunk is read even when it is refused */
		if (bdat_skip(s, size) < 0)
			return -1;
		set_timeout(s, false);
		if (tx != NULL && tx->bdat_error == NULL && tx->body_started)
			tx->bdat_error = refusal;
		if (last && tx != NULL)
			smtp_tx_free(&s->tx);
		smtp_reply(s, refusal);
		return 0;
	}
	if (s->chunk == NULL)
		s->chunk = xmalloc(SMTP_BODY_CHUNK);
	uint64_t left = size;
	while (left > 0) {
		size_t want = left > SMTP_BODY_CHUNK ? SMTP_BODY_CHUNK : (size_t)left;
		ssize_t got = conn_read(s->conn, s->chunk, want);
		if (got <= 0) {
			log_info("%s[%llu] connection lost in BDAT ip=%s",
				 s->name, (unsigned long long)s->id, conn_peer_ip(s->conn));
			return -1;
		}
		left -= (uint64_t)got;
		/* through the line rules of DATA; refusals are kept in tx */
		smtp_data_feed(&tx->bdat_reader, s->chunk, (size_t)got);
	}
	set_timeout(s, false);
	if (last)
		smtp_data_end(&tx->bdat_reader);
	body_check(s, &tx->bdat_reader);
	if (last) {
		smtp_body_end(s);
		smtp_tx_free(&s->tx);
		return 0;
	}
	if (tx->refusal != NULL) {
		/* RFC 3030 §3: an error on a chunk fails the transaction */
		tx->bdat_error = tx->refusal;
		smtp_reply(s, tx->refusal);
		return 0;
	}
	smtp_replyf(s, "250 2.0.0 Ok: %llu octets received", (unsigned long long)size);
	return 0;
}

/* ---- STARTTLS and AUTH ------------------------------------------------ */

static int
cmd_starttls(struct smtp_session *s, const char *args)
{
	const char *error;
	if (args[0] != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return 0;
	}
	SSL_CTX *ctx = tls_server_ctx();
	if (ctx == NULL) {
		/* RFC 3207 §4 */
		smtp_reply(s, "454 4.7.0 TLS not available due to temporary reason");
		return 0;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (conn_flush(s->conn) < 0) {
		SSL_CTX_free(ctx);
		return -1;
	}
	/* conn throws away whatever plaintext was pipelined after STARTTLS */
	int ret = conn_starttls_server(s->conn, ctx, &error);
	SSL_CTX_free(ctx);
	if (ret < 0) {
		log_info("%s[%llu] TLS handshake failed ip=%s: %s",
			 s->name, (unsigned long long)s->id, conn_peer_ip(s->conn), error);
		return -1;
	}
	/* RFC 3207 §4.2: forget everything learnt before TLS */
	smtp_tx_free(&s->tx);
	xfree(s->helo);
	s->esmtp = false;
	s->user_id = 0;
	xfree(s->user);
	set_state(s, SMTP_STATE_FRESH);
	log_debug("%s[%llu] tls=%s cipher=%s", s->name, (unsigned long long)s->id,
		  conn_tls_version(s->conn), conn_tls_cipher(s->conn));
	return 0;
}

/* Reads one SASL response line into s->scratch; 0, 1 when cancelled
 * ("*", RFC 4954 §4), -1 when the connection is gone, -2 when too long. */
static int
auth_read_response(struct smtp_session *s, const char **resp_r)
{
	const char *line;
	size_t len;
	enum conn_result r = conn_read_line(s->conn, SASL_LINE_MAX + 2, &line, &len);
	if (r == CONN_TOOLONG)
		return -2;
	if (r != CONN_OK)
		return -1;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	buf_reset(&s->scratch);
	buf_append(&s->scratch, line, len);
	*resp_r = buf_cstr(&s->scratch);
	if (len == 1 && line[0] == '*')
		return 1;
	return 0;
}

static int
cmd_auth(struct smtp_session *s, const char *args)
{
	const char *mech, *initial, *error, *challenge;
	struct buf argcopy = BUF_INIT;
	char session[64];
	int ret = 0;

	if (smtp_parse_auth(args, &argcopy, &mech, &initial, &error) < 0) {
		smtp_reply(s, error);
		buf_free(&argcopy);
		return 0;
	}
	struct store *st = smtp_store(s);
	if (st == NULL) {
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		buf_free(&argcopy);
		return 0;
	}
	snprintf(session, sizeof session, "%s[%llu]", s->name, (unsigned long long)s->id);
	struct login_params lp = { .protocol = "smtp", .session = session,
				   .ip = conn_peer_ip(s->conn), .conn = s->conn };
	struct login *login = login_new(st, mech, &lp);
	if (login == NULL) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		buf_free(&argcopy);
		return 0;
	}
	const char *resp = initial;
	enum login_status r;
	while ((r = login_step(login, resp, &challenge, &error)) == LOGIN_CONTINUE) {
		conn_printf(s->conn, "334 %s\r\n", challenge);
		int rr = auth_read_response(s, &resp);
		if (rr == -1) {
			ret = -1;
			goto out;
		}
		if (rr == -2) {
			smtp_reply(s, "500 5.5.6 Authentication exchange line is too long");
			goto out;
		}
		if (rr == 1) {
			smtp_reply(s, "501 5.0.0 Authentication cancelled");
			goto out;
		}
	}
	switch (r) {
	case LOGIN_OK:
		break;
	case LOGIN_MALFORMED:
		smtp_reply(s, "501 5.5.2 Cannot decode the response");
		goto out;
	case LOGIN_BLOCKED:
		smtp_reply(s, "454 4.7.0 Too many failed logins, try again later");
		goto out;
	case LOGIN_TRYLATER:
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		goto out;
	default:
		/* RFC 4954 §6 */
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		goto out;
	}
	struct store_user u;
	login_take_user(login, &u);
	s->user_id = u.id;
	s->user = xstrdup(u.address);
	store_user_clear(&u);
	log_info("%s login user=%s ip=%s tls=%s", session, s->user, lp.ip,
		 conn_tls_version(s->conn));
	smtp_reply(s, "235 2.7.0 Authentication successful");
out:
	login_free(&login);
	buf_free(&argcopy);
	buf_reset(&s->scratch);
	return ret;
}

/* ---- the dispatcher ------------------------------------------------------ */

static const struct smtp_cmd *
find_command(const char *verb)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, verb) == 0)
			return &commands[i];
	return NULL;
}

/* The one place where a command's preconditions are enforced. */
static int
dispatch(struct smtp_session *s, char *line, size_t len)
{
	struct smtp_command cmd;
	const char *error;

	s->line_len = len;
	if (smtp_command_split(line, len, &cmd, &error) < 0) {
		smtp_reply(s, error);
		return 0;
	}
	const struct smtp_cmd *c = find_command(cmd.verb);
	if (c == NULL) {
		/* RFC 5321 §4.2.4 */
		smtp_reply(s, "500 5.5.1 Command unrecognized");
		return 0;
	}
	if (s->refused && c->fn != cmd_quit) {
		/* RFC 5321 §3.1: after a 554 greeting the server waits for
		 * QUIT and answers anything else with 503 */
		smtp_reply(s, "503 5.5.1 Bad sequence of commands");
		return 0;
	}
	/* RFC 5321 §4.5.3.1.4: 512 octets; RFC 6531 and RFC 4954 §4 allow more */
	size_t max = SMTP_COMMAND_LINE_MAX;
	if ((c->flags & CMD_LONG_PATH) && s->esmtp)
		max = SMTP_COMMAND_LINE_UTF8_MAX;
	if (c->flags & CMD_LONG_SASL)
		max = SASL_LINE_MAX;
	if (len > max) {
		smtp_reply(s, "500 5.5.2 Line too long");
		return 0;
	}
	if (s->tx != NULL && s->tx->bdat && !(c->flags & CMD_IN_BDAT)) {
		/* RFC 3030 §2: between chunks only BDAT, RSET, NOOP, QUIT */
		smtp_reply(s, "503 5.5.1 Command not allowed during BDAT");
		return 0;
	}
	if ((c->flags & CMD_NEEDS_HELO) && s->state != SMTP_STATE_READY) {
		/* RFC 5321 §4.1.4 */
		smtp_reply(s, "503 5.5.1 Send EHLO or HELO first");
		return 0;
	}
	if ((c->flags & CMD_NOT_TLS) && conn_is_tls(s->conn)) {
		smtp_reply(s, "503 5.5.1 TLS already active");
		return 0;
	}
	if ((c->flags & CMD_AUTH_TLS) && !auth_allowed(s)) {
		/* RFC 3207 §4: no AUTH (and so no password) before TLS */
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return 0;
	}
	if ((c->flags & CMD_NOT_AUTHED) && s->user_id != 0) {
		/* RFC 4954 §4: one successful AUTH per session */
		smtp_reply(s, "503 5.5.1 Already authenticated");
		return 0;
	}
	if ((c->flags & CMD_NO_TX) && s->tx != NULL) {
		/* RFC 4954 §4: no AUTH during a mail transaction */
		smtp_reply(s, "503 5.5.1 Not allowed during a mail transaction");
		return 0;
	}
	if ((c->flags & CMD_SUBMIT_AUTH) && is_submission_port(s) && s->user_id == 0) {
		/* RFC 6409 §4.3 / RFC 4954 §6: submission needs AUTH */
		smtp_reply(s, auth_allowed(s) ? "530 5.7.0 Authentication required"
					      : "530 5.7.0 Must issue a STARTTLS command first");
		return 0;
	}
	if ((c->flags & CMD_NEEDS_MAIL) && s->tx == NULL) {
		smtp_reply(s, "503 5.5.1 Need MAIL command");
		return 0;
	}
	if ((c->flags & CMD_NEEDS_RCPT) && s->tx->n_rcpts == 0) {
		/* RFC 5321 §3.3: DATA without a valid recipient */
		smtp_reply(s, "554 5.5.1 No valid recipients");
		return 0;
	}
	return c->fn(s, cmd.args);
}

void
smtp_session_run(struct conn *c, void *ctx)
{
	const struct smtp_listener *l = ctx;
	struct smtp_session s;

	static const char *const names[] = { "smtp", "submission", "submissions" };
	memset(&s, 0, sizeof s);
	s.name = names[l->mode];
	s.id = conn_id(c);
	s.conn = c;
	s.listener = l;
	s.cfg = l->cfg;
	s.state = SMTP_STATE_FRESH;
	buf_init(&s.line, SASL_LINE_MAX + 2);
	buf_init(&s.scratch, SASL_LINE_MAX + 2);
	set_timeout(&s, false);

	log_debug("%s[%llu] connect ip=%s port=%u tls=%s", s.name, (unsigned long long)s.id,
		  conn_peer_ip(c), conn_local_port(c), conn_tls_version(c));
	/* RFC 5321 §4.2: the greeting carries no enhanced code (RFC 2034 §3);
	 * §3.1: a server that will take no mail from this client says 554 */
	struct buf refusal = BUF_INIT;
	if (smtp_inbound_connect(&s, &refusal) < 0) {
		s.refused = true;
		metrics_rejected(METRICS_REJECT_DNSBL);
		conn_printf(c, "%s\r\n", buf_cstr(&refusal));
	} else {
		conn_printf(c, "220 %s ESMTP mailhub\r\n", s.cfg->hostname);
	}
	buf_free(&refusal);
	while (s.state != SMTP_STATE_QUIT) {
		const char *line;
		size_t len;
		/* read up to the longest any command may be (AUTH's initial
		 * response); dispatch() applies each command's own limit.
		 * Waiting for a command, the session is told goodbye at once
		 * when the daemon stops; between BDAT chunks a message is under
		 * way, and it has the grace to finish. */
		enum conn_result r = s.tx != NULL && s.tx->bdat ?
			conn_read_line(c, SASL_LINE_MAX + 2, &line, &len) :
			conn_read_command(c, SASL_LINE_MAX + 2, &line, &len);
		if (r == CONN_STOPPED) {
			/* RFC 5321 §3.8; RFC 3463 §3.5: 4.3.2, not accepting
			 * messages */
			smtp_replyf(&s, "421 4.3.2 %s Service shutting down, closing connection",
				    s.cfg->hostname);
			break;
		}
		if (r == CONN_TOOLONG) {
			smtp_reply(&s, "500 5.5.2 Line too long");
		} else if (r != CONN_OK) {
			break;
		} else {
			buf_reset(&s.line);
			buf_append(&s.line, line, len);
			if (dispatch(&s, s.line.data, len) < 0)
				break;
		}
		if (s.errors >= s.cfg->errors && s.state != SMTP_STATE_QUIT) {
			/* RFC 5321 §3.8: 421 closes the channel */
			log_info("%s[%llu] too many errors ip=%s", s.name, (unsigned long long)s.id,
				 conn_peer_ip(c));
			smtp_reply(&s, "421 4.7.0 Too many errors, closing connection");
			break;
		}
	}
	conn_flush(c);
	log_debug("%s[%llu] disconnect ip=%s messages=%u", s.name, (unsigned long long)s.id,
		  conn_peer_ip(c), s.messages);
	smtp_tx_free(&s.tx);
	smtp_inbound_session_end(&s);
	free(s.helo);
	free(s.user);
	free(s.chunk);
	buf_free(&s.line);
	buf_free(&s.scratch);
	pool_put(&s.store);
	conn_free(&c);
}

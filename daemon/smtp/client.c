/*
 * client: outbound SMTP (see client.h).
 */
#include "smtp/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/base64.h"
#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/oauth2.h"
#include "mail/dotstuff.h"
#include "store/queue.h"

/* ---- results ----------------------------------------------------------- */

static const char *const fail_names[] = {
	[SMTP_FAIL_NONE] = "ok",
	[SMTP_FAIL_CONNECT] = "connection failed",
	[SMTP_FAIL_TLS] = "TLS failed",
	[SMTP_FAIL_AUTH] = "authentication failed",
	[SMTP_FAIL_PROTOCOL] = "protocol error",
	[SMTP_FAIL_TEMP] = "temporary failure",
	[SMTP_FAIL_PERM] = "permanent failure",
};

const char *
smtp_fail_name(enum smtp_fail fail)
{
	if ((unsigned)fail >= sizeof fail_names / sizeof fail_names[0])
		return "unknown failure";
	return fail_names[fail];
}

void
smtp_result_clear(struct smtp_result *res)
{
	free(res->text);
	memset(res, 0, sizeof *res);
}

void
smtp_result_set(struct smtp_result *res, enum smtp_fail fail, unsigned code,
		const char *text)
{
	free(res->text);
	res->fail = fail;
	res->code = code;
	res->text = xstrdup(text);
}

/* ---- the session -------------------------------------------------------- */

enum smtp_client_state {
	CLIENT_CONNECTING,
	CLIENT_GREETING,
	CLIENT_EHLO,
	CLIENT_STARTTLS,
	CLIENT_AUTH,
	CLIENT_READY,		/* between transactions */
	CLIENT_MAIL,		/* MAIL and RCPT sent */
	CLIENT_DATA,
	CLIENT_QUIT,
	CLIENT_BROKEN,
};

static const char *const state_names[] = {
	"connecting", "greeting", "ehlo", "starttls", "auth", "ready", "mail",
	"data", "quit", "broken",
};

struct smtp_client {
	struct smtp_client_params p;	/* strings are the caller's */
	char *host;			/* copy, for log lines */
	struct conn *conn;
	enum smtp_client_state state;
	struct smtp_caps caps;
	struct smtp_reply reply;
	struct buf lines;		/* raw reply lines being collected */
};

static void
set_state(struct smtp_client *c, enum smtp_client_state state)
{
	log_debug("relay[%llu] client host=%s state=%s->%s",
		  (unsigned long long)c->p.id, c->host, state_names[c->state],
		  state_names[state]);
	c->state = state;
}

static int
timeout_ms(unsigned configured, unsigned rfc_default)
{
	return (int)((configured > 0 ? configured : rfc_default) * 1000);
}

/* Reads one reply into c->reply.  0, or -1 with res filled (the session
 * is then broken). */
static int
read_reply(struct smtp_client *c, unsigned timeout_s, struct smtp_result *res)
{
	buf_reset(&c->lines);
	conn_set_timeout(c->conn, (int)timeout_s * 1000);
	for (;;) {
		const char *line, *error;
		size_t len, used;
		enum conn_result r = conn_read_line(c->conn, SMTP_REPLY_LINE_MAX, &line,
						    &len);
		if (r != CONN_OK) {
			const char *why = r == CONN_EOF ? "connection closed by the server"
				: r == CONN_TOOLONG ? "reply line too long"
				: conn_error(c->conn);
			smtp_result_set(res, r == CONN_TOOLONG ? SMTP_FAIL_PROTOCOL
					: SMTP_FAIL_CONNECT, 0,
					errfmt("%s (%s)", why, c->host));
			set_state(c, CLIENT_BROKEN);
			return -1;
		}
		if (buf_append(&c->lines, line, len) < 0) {
			smtp_result_set(res, SMTP_FAIL_PROTOCOL, 0, "reply too long");
			set_state(c, CLIENT_BROKEN);
			return -1;
		}
		int ret = smtp_reply_parse(c->lines.data, c->lines.len, &c->reply,
					   &used, &error);
		if (ret > 0)
			return 0;
		if (ret < 0) {
			smtp_result_set(res, SMTP_FAIL_PROTOCOL, 0,
					errfmt("%s from %s: %s", error, c->host,
					       esc(line, len)));
			set_state(c, CLIENT_BROKEN);
			return -1;
		}
	}
}

/* The current reply as a result: NONE for 2xx/3xx, TEMP, PERM. */
static void
reply_result(struct smtp_client *c, struct smtp_result *res)
{
	struct buf b = BUF_INIT;
	smtp_reply_format(&c->reply, &b);
	buf_printf(&b, " (%s)", c->host);
	enum smtp_fail f = c->reply.code >= 500 ? SMTP_FAIL_PERM
		: c->reply.code >= 400 ? SMTP_FAIL_TEMP : SMTP_FAIL_NONE;
	free(res->text);
	res->fail = f;
	res->code = c->reply.code;
	res->text = buf_steal(&b);
}

/* Sends a command and reads its reply; 0 with c->reply, -1 (broken). */
static int
command(struct smtp_client *c, const char *line, unsigned timeout_s,
	struct smtp_result *res)
{
	if (conn_puts(c->conn, line) < 0 || conn_puts(c->conn, "\r\n") < 0 ||
	    conn_flush(c->conn) < 0) {
		smtp_result_set(res, SMTP_FAIL_CONNECT, 0,
				errfmt("cannot send to %s: %s", c->host,
				       conn_error(c->conn)));
		set_state(c, CLIENT_BROKEN);
		return -1;
	}
	return read_reply(c, timeout_s, res);
}

static unsigned
cmd_timeout(const struct smtp_client *c)
{
	/* RFC 5321 §4.5.3.2.1-4: 5 minutes for the greeting, MAIL, RCPT */
	return c->p.command_timeout > 0 ? c->p.command_timeout : 300;
}

static int
ehlo(struct smtp_client *c, struct smtp_result *res)
{
	set_state(c, CLIENT_EHLO);
	char *cmd = xasprintf("EHLO %s", c->p.helo);
	int ret = command(c, cmd, cmd_timeout(c), res);
	free(cmd);
	if (ret < 0)
		return -1;
	if (c->reply.code == 250) {
		smtp_caps_parse(&c->reply, &c->caps);
		return 0;
	}
	/* RFC 5321 §3.2: a server that does not know EHLO gets HELO */
	if (c->reply.code >= 500) {
		cmd = xasprintf("HELO %s", c->p.helo);
		ret = command(c, cmd, cmd_timeout(c), res);
		free(cmd);
		if (ret < 0)
			return -1;
		if (c->reply.code == 250) {
			memset(&c->caps, 0, sizeof c->caps);
			return 0;
		}
	}
	reply_result(c, res);
	return -1;
}

static int
auth(struct smtp_client *c, struct smtp_result *res)
{
	set_state(c, CLIENT_AUTH);
	/* RFC 4954 §4: never a password over plaintext */
	if (!conn_is_tls(c->conn)) {
		smtp_result_set(res, SMTP_FAIL_TLS, 0,
				errfmt("will not send a password to %s without TLS", c->host));
		return -1;
	}
	struct buf b = BUF_INIT, enc = BUF_INIT;
	int ret = -1;
	if (c->p.oauth2 && (c->caps.auth_oauthbearer || c->caps.auth_xoauth2)) {
		/* RFC 7628 §3.1 / XOAUTH2, as the initial response (RFC 4954
		 * §4 allows AUTH lines of 12288 octets) */
		bool bearer = c->caps.auth_oauthbearer;
		if (bearer)
			oauth2_sasl_oauthbearer(&b, c->p.username, c->host, c->p.port,
						c->p.password);
		else
			oauth2_sasl_xoauth2(&b, c->p.username, c->p.password);
		buf_puts(&enc, bearer ? "AUTH OAUTHBEARER " : "AUTH XOAUTH2 ");
		base64_encode(&enc, b.data, b.len);
		ret = command(c, buf_cstr(&enc), cmd_timeout(c), res);
		/* RFC 7628 §3.2.2: a refusal comes as a 334 challenge first,
		 * answered with ^A (XOAUTH2: an empty line); then 535 */
		if (ret == 0 && c->reply.code == 334)
			ret = command(c, bearer ? "AQ==" : "", cmd_timeout(c), res);
	} else if (c->p.oauth2) {
		smtp_result_set(res, SMTP_FAIL_AUTH, 0,
				errfmt("%s offers neither AUTH OAUTHBEARER nor XOAUTH2", c->host));
	} else if (c->caps.auth_plain) {
		/* RFC 4616: authzid NUL authcid NUL passwd */
		buf_putc(&b, '\0');
		buf_puts(&b, c->p.username);
		buf_putc(&b, '\0');
		buf_puts(&b, c->p.password);
		buf_puts(&enc, "AUTH PLAIN ");
		base64_encode(&enc, b.data, b.len);
		ret = command(c, buf_cstr(&enc), cmd_timeout(c), res);
	} else if (c->caps.auth_login) {
		ret = command(c, "AUTH LOGIN", cmd_timeout(c), res);
		for (int step = 0; ret == 0 && step < 2 && c->reply.code == 334; step++) {
			const char *v = step == 0 ? c->p.username : c->p.password;
			buf_reset(&enc);
			base64_encode(&enc, v, strlen(v));
			ret = command(c, buf_cstr(&enc), cmd_timeout(c), res);
		}
	} else {
		smtp_result_set(res, SMTP_FAIL_AUTH, 0,
				errfmt("%s offers neither AUTH PLAIN nor LOGIN", c->host));
	}
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	if (enc.data != NULL)
		explicit_bzero(enc.data, enc.len);
	buf_free(&b);
	buf_free(&enc);
	if (ret < 0)
		return -1;
	if (c->reply.code != 235) {
		reply_result(c, res);
		/* 535 is our credentials; a 4xx is the server's trouble */
		if (res->fail != SMTP_FAIL_TEMP)
			res->fail = SMTP_FAIL_AUTH;
		return -1;
	}
	return 0;
}

/* RFC 8460 §4.3.1: the result type of a failed certificate check. */
static const char *
tls_result_of(struct conn *conn)
{
	switch (conn_verify_result(conn)) {
	case X509_V_OK:
		return "validation-failure";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate-expired";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return "certificate-not-trusted";
	default:
		return "validation-failure";
	}
}

/* A failed handshake as a result. */
static void
tls_failed(struct smtp_client *c, struct smtp_result *res, const char *error)
{
	smtp_result_set(res, SMTP_FAIL_TLS, 0,
			errfmt("TLS with %s failed: %s", c->p.host, error));
	res->tls_result = tls_result_of(c->conn);
}

struct smtp_client *
smtp_client_open(const struct smtp_client_params *params, struct smtp_result *res)
{
	const char *error;
	smtp_result_clear(res);
	struct smtp_client *c = xcalloc(1, sizeof *c);
	c->p = *params;
	c->host = xstrdup(params->host);
	smtp_reply_init(&c->reply);
	buf_init(&c->lines, SMTP_REPLY_LINE_MAX * 4 + SMTP_REPLY_TEXT_MAX);
	c->state = CLIENT_CONNECTING;

	const char *addr = params->address != NULL ? params->address : params->host;
	c->conn = conn_connect(addr, params->port,
			       timeout_ms(params->connect_timeout, 60), &error);
	if (c->conn == NULL) {
		smtp_result_set(res, SMTP_FAIL_CONNECT, 0,
				errfmt("cannot connect to %s[%s]:%u: %s", params->host,
				       addr, params->port, error));
		goto fail;
	}
	if (params->tls_setup != NULL)
		conn_set_tls_setup(c->conn, params->tls_setup, params->tls_setup_arg);
	if (params->tls == SMTP_TLS_IMPLICIT &&
	    conn_starttls_client(c->conn, params->tls_ctx, params->host, &error) < 0) {
		tls_failed(c, res, error);
		goto fail;
	}
	set_state(c, CLIENT_GREETING);
	if (read_reply(c, cmd_timeout(c), res) < 0)
		goto fail;
	if (c->reply.code != 220) {
		/* RFC 5321 §3.1: 554 instead of 220 means no service here */
		reply_result(c, res);
		if (res->fail == SMTP_FAIL_NONE)
			res->fail = SMTP_FAIL_PROTOCOL;
		goto fail;
	}
	if (ehlo(c, res) < 0)
		goto fail;
	bool want_tls = params->tls == SMTP_TLS_STARTTLS ||
			(params->tls == SMTP_TLS_OPPORTUNISTIC && c->caps.starttls);
	if (want_tls && !conn_is_tls(c->conn)) {
		set_state(c, CLIENT_STARTTLS);
		if (!c->caps.starttls) {
			smtp_result_set(res, SMTP_FAIL_TLS, 0,
					errfmt("%s does not offer STARTTLS", params->host));
			res->tls_result = "starttls-not-supported";
			goto fail;
		}
		if (command(c, "STARTTLS", cmd_timeout(c), res) < 0)
			goto fail;
		if (c->reply.code != 220) {
			reply_result(c, res);
			res->fail = SMTP_FAIL_TLS;
			res->tls_result = "starttls-not-supported";
			goto fail;
		}
		/* RFC 3207 §4.2: anything the server sent before the handshake
		 * is dropped; conn_starttls_client starts from an empty buffer */
		if (conn_pending(c->conn) > 0) {
			smtp_result_set(res, SMTP_FAIL_PROTOCOL, 0,
					errfmt("%s sent data after its STARTTLS reply", params->host));
			goto fail;
		}
		if (conn_starttls_client(c->conn, params->tls_ctx, params->host, &error) < 0) {
			tls_failed(c, res, error);
			goto fail;
		}
		/* RFC 3207 §4.2: forget what was learnt before TLS, ask again */
		if (ehlo(c, res) < 0)
			goto fail;
	}
	if (params->username != NULL && auth(c, res) < 0)
		goto fail;
	set_state(c, CLIENT_READY);
	log_info("relay[%llu] connected host=%s ip=%s port=%u tls=%s%s",
		 (unsigned long long)params->id, params->host, addr, params->port,
		 conn_tls_version(c->conn), params->username != NULL ? " auth=yes" : "");
	return c;
fail:
	if (res->fail == SMTP_FAIL_NONE)
		res->fail = SMTP_FAIL_PROTOCOL;
	if (c->conn != NULL && c->state != CLIENT_BROKEN)
		(void)conn_puts(c->conn, "QUIT\r\n");
	conn_free(&c->conn);
	smtp_reply_free(&c->reply);
	buf_free(&c->lines);
	free(c->host);
	free(c);
	return NULL;
}

void
smtp_client_close(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;
	if (c == NULL)
		return;
	if (c->conn != NULL && c->state != CLIENT_BROKEN) {
		struct smtp_result res = { 0 };
		set_state(c, CLIENT_QUIT);
		/* RFC 5321 §4.1.1.10: wait for 221, but briefly */
		c->p.command_timeout = 10;
		(void)command(c, "QUIT", 10, &res);
		smtp_result_clear(&res);
	}
	conn_free(&c->conn);
	smtp_reply_free(&c->reply);
	buf_free(&c->lines);
	free(c->host);
	free(c);
	*cp = NULL;
}

const struct smtp_caps *
smtp_client_caps(const struct smtp_client *c)
{
	return &c->caps;
}

bool
smtp_client_is_tls(const struct smtp_client *c)
{
	return conn_is_tls(c->conn);
}

int
smtp_client_fd(const struct smtp_client *c)
{
	return conn_fd(c->conn);
}

bool
smtp_client_tls_verified(const struct smtp_client *c)
{
	return conn_is_tls(c->conn) && c->p.tls_ctx != NULL &&
	       conn_verify_result(c->conn) == X509_V_OK &&
	       (SSL_CTX_get_verify_mode(c->p.tls_ctx) & SSL_VERIFY_PEER) != 0;
}

const char *
smtp_client_tls_version(const struct smtp_client *c)
{
	return conn_tls_version(c->conn);
}

/* ---- a transaction ------------------------------------------------------ */

static void
notify_param(struct buf *b, unsigned notify)
{
	if (notify == 0)
		return;
	buf_puts(b, " NOTIFY=");
	if (notify & STORE_QUEUE_NOTIFY_NEVER) {
		buf_puts(b, "NEVER");
		return;
	}
	const char *sep = "";
	if (notify & STORE_QUEUE_NOTIFY_SUCCESS) {
		buf_puts(b, "SUCCESS");
		sep = ",";
	}
	if (notify & STORE_QUEUE_NOTIFY_FAILURE) {
		buf_printf(b, "%sFAILURE", sep);
		sep = ",";
	}
	if (notify & STORE_QUEUE_NOTIFY_DELAY)
		buf_printf(b, "%sDELAY", sep);
}

static void
all_fail(const struct smtp_envelope *env, struct smtp_result *rcpt_res,
	 const struct smtp_result *res)
{
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (rcpt_res[i].fail == SMTP_FAIL_NONE || rcpt_res[i].text == NULL)
			smtp_result_set(&rcpt_res[i], res->fail, res->code,
					res->text != NULL ? res->text : "failed");
}

/* Starts the encoder of the body: dot-stuffed for DATA; for BDAT only
 * CRLF line ends.  Either way every line goes out ending in CRLF whatever
 * the stored bytes (mail/dotstuff.h). */
static void
body_encoder(struct dotstuff *ds, bool bdat)
{
	if (bdat)
		dotstuff_init_lines(ds);
	else
		dotstuff_init(ds);
}

/*
 * The size of the encoded body, which BDAT announces before its bytes: the
 * file is read once more from its current offset (pread: the offset stays
 * for write_body()).  0, or -1 when it cannot be read.
 */
static int
bdat_size(const char *prefix, size_t prefix_len, int fd, uint64_t fd_size,
	  uint64_t *size_r)
{
	struct dotstuff ds;
	char *chunk = xmalloc(SMTP_BODY_CHUNK);
	off_t off = lseek(fd, 0, SEEK_CUR);
	uint64_t left = fd_size;
	int ret = 0;

	*size_r = 0;
	body_encoder(&ds, true);
	dotstuff_count(&ds, prefix, prefix_len, size_r);
	while (left > 0 && off >= 0) {
		size_t want = left < SMTP_BODY_CHUNK ? (size_t)left : SMTP_BODY_CHUNK;
		ssize_t n = pread(fd, chunk, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		dotstuff_count(&ds, chunk, (size_t)n, size_r);
		left -= (uint64_t)n;
		off += n;
	}
	if (left > 0 || off < 0)
		ret = -1;
	dotstuff_count(&ds, NULL, 0, size_r);
	free(chunk);
	return ret;
}

/* Encodes p[0..n) and sends it; 0, or -1 when the connection broke. */
static int
send_encoded(struct smtp_client *c, struct dotstuff *ds, struct buf *out,
	     const void *p, size_t n, uint64_t *sent)
{
	buf_reset(out);
	if (p != NULL)
		(void)dotstuff_add(ds, out, p, n);
	else
		(void)dotstuff_finish(ds, out);
	*sent += out->len;
	return conn_write(c->conn, out->data, out->len);
}

/* Writes the message body: for DATA dot-stuffed with the end marker, for
 * BDAT the bdat_len bytes announced. */
static int
write_body(struct smtp_client *c, bool bdat, uint64_t bdat_len, const char *prefix,
	   size_t prefix_len, int fd, uint64_t fd_size, struct smtp_result *res)
{
	struct buf out = BUF_INIT;
	struct dotstuff ds;
	char *chunk = xmalloc(SMTP_BODY_CHUNK);
	uint64_t left = fd_size, sent = 0;
	int ret = -1;

	body_encoder(&ds, bdat);
	conn_set_timeout(c->conn, timeout_ms(c->p.data_block_timeout, 180));
	if (prefix_len > 0 && send_encoded(c, &ds, &out, prefix, prefix_len, &sent) < 0)
		goto io;
	while (left > 0) {
		size_t want = left < SMTP_BODY_CHUNK ? (size_t)left : SMTP_BODY_CHUNK;
		ssize_t n = read(fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto unreadable;
		left -= (uint64_t)n;
		if (send_encoded(c, &ds, &out, chunk, (size_t)n, &sent) < 0)
			goto io;
	}
	/* RFC 5321 §4.1.1.4: the mail data ends with CRLF "." CRLF; BDAT
	 * only ends its last line */
	if (send_encoded(c, &ds, &out, NULL, 0, &sent) < 0)
		goto io;
	if (bdat && sent != bdat_len) {
		/* the file changed under us: the peer counts bytes that
		 * will never come, so the session cannot go on */
		goto unreadable;
	}
	if (conn_flush(c->conn) < 0)
		goto io;
	ret = 0;
	goto out;
unreadable:
	smtp_result_set(res, SMTP_FAIL_TEMP, 451, "451 4.3.0 cannot read the queued message");
	set_state(c, CLIENT_BROKEN);
	goto out;
io:
	smtp_result_set(res, SMTP_FAIL_CONNECT, 0,
			errfmt("connection to %s broke while sending the message: %s",
			       c->host, conn_error(c->conn)));
	set_state(c, CLIENT_BROKEN);
out:
	free(chunk);
	buf_free(&out);
	return ret;
}

int
smtp_client_send(struct smtp_client *c, const struct smtp_envelope *env,
		 const char *prefix, size_t prefix_len, int fd, uint64_t fd_size,
		 struct smtp_result *rcpt_res)
{
	struct smtp_result res = { 0 };
	struct buf cmd = BUF_INIT;
	uint64_t total = fd_size + prefix_len;
	size_t accepted = 0;
	int ret = -1;

	for (size_t i = 0; i < env->n_rcpts; i++)
		smtp_result_clear(&rcpt_res[i]);
	if (c->state != CLIENT_READY) {
		smtp_result_set(&res, SMTP_FAIL_CONNECT, 0, "session not ready");
		all_fail(env, rcpt_res, &res);
		goto out;
	}
	/* RFC 6531 §3.2: a message that needs SMTPUTF8 is not sent to a
	 * server without it; it bounces with 5.6.7 */
	if (env->smtputf8 && !c->caps.smtputf8) {
		smtp_result_set(&res, SMTP_FAIL_PERM, 553,
				errfmt("553 5.6.7 %s does not support SMTPUTF8 (RFC 6531),"
				       " which this message needs", c->host));
		all_fail(env, rcpt_res, &res);
		ret = 0;
		goto out;
	}
	/* RFC 8689 §4.2.1: a REQUIRETLS message goes only to a server that
	 * offers REQUIRETLS (over TLS); RFC 8689 §5: 5.7.30 */
	if (env->requiretls && (!c->caps.requiretls || !conn_is_tls(c->conn))) {
		smtp_result_set(&res, SMTP_FAIL_PERM, 550,
				errfmt("550 5.7.30 REQUIRETLS support required: %s does not"
				       " offer REQUIRETLS", c->host));
		all_fail(env, rcpt_res, &res);
		ret = 0;
		goto out;
	}
	/* RFC 1870 §6: over the server's fixed maximum is permanent */
	if (c->caps.size && c->caps.size_max > 0 && total > c->caps.size_max) {
		smtp_result_set(&res, SMTP_FAIL_PERM, 552,
				errfmt("552 5.3.4 message of %llu bytes is over %s's limit"
				       " of %llu bytes", (unsigned long long)total, c->host,
				       (unsigned long long)c->caps.size_max));
		all_fail(env, rcpt_res, &res);
		ret = 0;
		goto out;
	}

	set_state(c, CLIENT_MAIL);
	buf_printf(&cmd, "MAIL FROM:<%s>", env->sender);
	if (c->caps.size)
		buf_printf(&cmd, " SIZE=%llu", (unsigned long long)total);
	if (env->eightbit && c->caps.eightbitmime)
		buf_puts(&cmd, " BODY=8BITMIME");
	if (env->smtputf8)
		buf_puts(&cmd, " SMTPUTF8");
	if (env->requiretls)
		buf_puts(&cmd, " REQUIRETLS");
	if (c->caps.dsn && env->ret != NULL)
		buf_printf(&cmd, " RET=%s", env->ret);
	if (c->caps.dsn && env->envid != NULL)
		buf_printf(&cmd, " ENVID=%s", env->envid);
	buf_puts(&cmd, "\r\n");
	for (size_t i = 0; i < env->n_rcpts; i++) {
		buf_printf(&cmd, "RCPT TO:<%s>", env->rcpts[i]);
		if (c->caps.dsn && env->notify != NULL)
			notify_param(&cmd, env->notify[i]);
		if (c->caps.dsn && env->orcpt != NULL && env->orcpt[i] != NULL)
			buf_printf(&cmd, " ORCPT=%s", env->orcpt[i]);
		buf_puts(&cmd, "\r\n");
	}
	bool bdat = c->caps.chunking;
	/* RFC 2920 §3.1: DATA may end a pipelined group, BDAT waits for the
	 * RCPT replies here so that no bytes go out for nobody */
	bool pipe = c->caps.pipelining;
	if (pipe && !bdat)
		buf_puts(&cmd, "DATA\r\n");

	/* without PIPELINING, one command at a time */
	const char *p = cmd.data;
	size_t n_cmds = env->n_rcpts + 1 + (pipe && !bdat ? 1 : 0);
	bool mail_ok = false;
	for (size_t k = 0; k < n_cmds; k++) {
		const char *eol = strstr(p, "\r\n");
		size_t l = (size_t)(eol - p) + 2;
		if (!pipe || k == 0) {
			size_t send = pipe ? cmd.len : l;
			if (conn_write(c->conn, p, send) < 0 || conn_flush(c->conn) < 0) {
				smtp_result_set(&res, SMTP_FAIL_CONNECT, 0,
						errfmt("cannot send to %s: %s", c->host,
						       conn_error(c->conn)));
				set_state(c, CLIENT_BROKEN);
				all_fail(env, rcpt_res, &res);
				goto out;
			}
		}
		p += l;
		bool is_data = pipe && !bdat && k == n_cmds - 1;
		unsigned to = is_data ? (c->p.data_init_timeout > 0 ? c->p.data_init_timeout : 120)
			      : cmd_timeout(c);
		if (read_reply(c, to, &res) < 0) {
			all_fail(env, rcpt_res, &res);
			goto out;
		}
		if (k == 0) {
			if (c->reply.code == 250) {
				mail_ok = true;
				continue;
			}
			reply_result(c, &res);
			all_fail(env, rcpt_res, &res);
			if (!pipe)
				break;
			continue;
		}
		if (is_data)
			break;
		size_t i = k - 1;
		if (!mail_ok)
			continue;	/* all failed already with the MAIL reply */
		if (c->reply.code == 250 || c->reply.code == 251) {
			accepted++;
			/* provisional: the final word is the reply to the data */
			smtp_result_set(&rcpt_res[i], SMTP_FAIL_NONE, c->reply.code, "");
		} else {
			reply_result(c, &rcpt_res[i]);
			if (rcpt_res[i].fail == SMTP_FAIL_NONE)
				rcpt_res[i].fail = SMTP_FAIL_PROTOCOL;
		}
	}
	bool data_pending = pipe && !bdat;	/* its reply is in c->reply */
	if (accepted == 0) {
		/* RFC 2920 §3.1: a 354 to a pipelined DATA after every RCPT
		 * failed gets an empty message's end */
		if (data_pending && c->reply.code == 354) {
			struct smtp_result ign = { 0 };
			(void)command(c, ".", 60, &ign);
			smtp_result_clear(&ign);
		}
		if (c->state == CLIENT_BROKEN)
			goto out;
		if (command(c, "RSET", cmd_timeout(c), &res) < 0)
			goto out;
		set_state(c, CLIENT_READY);
		ret = 0;
		goto out;
	}

	set_state(c, CLIENT_DATA);
	uint64_t bdat_len = 0;
	if (bdat) {
		/* RFC 3030 §2: BDAT size LAST, then exactly size bytes */
		if (bdat_size(prefix, prefix_len, fd, fd_size, &bdat_len) < 0) {
			smtp_result_set(&res, SMTP_FAIL_TEMP, 451,
					"451 4.3.0 cannot read the queued message");
			goto fail_accepted_ready;
		}
		buf_reset(&cmd);
		buf_printf(&cmd, "BDAT %llu LAST\r\n", (unsigned long long)bdat_len);
		if (conn_write(c->conn, cmd.data, cmd.len) < 0) {
			smtp_result_set(&res, SMTP_FAIL_CONNECT, 0, "connection broke");
			set_state(c, CLIENT_BROKEN);
			goto fail_accepted;
		}
	} else {
		if (!data_pending) {
			conn_set_timeout(c->conn, timeout_ms(c->p.data_init_timeout, 120));
			if (command(c, "DATA", c->p.data_init_timeout > 0 ?
				    c->p.data_init_timeout : 120, &res) < 0)
				goto fail_accepted;
		}
		if (c->reply.code != 354) {
			reply_result(c, &res);
			if (res.fail == SMTP_FAIL_NONE)
				res.fail = SMTP_FAIL_PROTOCOL;
			goto fail_accepted_ready;
		}
	}
	if (write_body(c, bdat, bdat_len, prefix, prefix_len, fd, fd_size, &res) < 0)
		goto fail_accepted;
	/* RFC 5321 §4.5.3.2.6: 10 minutes for the reply to the end of data */
	if (read_reply(c, c->p.data_term_timeout > 0 ? c->p.data_term_timeout : 600,
		       &res) < 0)
		goto fail_accepted;
	reply_result(c, &res);
	if (res.fail == SMTP_FAIL_NONE && c->reply.code != 250)
		res.fail = SMTP_FAIL_PROTOCOL;
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (rcpt_res[i].fail == SMTP_FAIL_NONE && rcpt_res[i].code != 0)
			smtp_result_set(&rcpt_res[i], res.fail, res.code, res.text);
	set_state(c, CLIENT_READY);
	ret = 0;
	goto out;

fail_accepted_ready:
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (rcpt_res[i].fail == SMTP_FAIL_NONE)
			smtp_result_set(&rcpt_res[i], res.fail, res.code, res.text);
	if (command(c, "RSET", cmd_timeout(c), &res) == 0) {
		set_state(c, CLIENT_READY);
		ret = 0;
	}
	goto out;
fail_accepted:
	/* the session broke after the recipients were accepted: nobody has
	 * the message, all of them are tried again */
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (rcpt_res[i].fail == SMTP_FAIL_NONE)
			smtp_result_set(&rcpt_res[i], res.fail == SMTP_FAIL_NONE
					? SMTP_FAIL_CONNECT : res.fail, res.code,
					res.text != NULL ? res.text : "connection broke");
out:
	smtp_result_clear(&res);
	buf_free(&cmd);
	return ret;
}

/*
 * pop3/client: the POP3 client state machine over a conn (see client.h).
 */
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/client_conn.h"
#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/oauth2.h"
#include "pop3/client.h"

enum pop3c_state {
	POP3C_GREETING,
	POP3C_AUTHORIZATION,
	POP3C_TRANSACTION,
	POP3C_CLOSED,
};

struct pop3_client {
	struct conn *conn;
	enum pop3c_state state;
	uint64_t id;
	unsigned caps;
	bool capa_ok;		/* CAPA was answered */
	char cert_sha256[65];
	const struct upstream_settings *set;
};

static void
set_state(struct pop3_client *c, enum pop3c_state state)
{
	static const char *const names[] = { "greeting", "authorization",
					     "transaction", "closed" };
	log_debug("pop3c[%llu] state=%s", (unsigned long long)c->id, names[state]);
	c->state = state;
}

/*
 * What the server sent is never put in an error: errors reach the user
 * (the account's state, the API's connection test), and the peer may be
 * any host a user named.  Its text is logged, escaped; the error says what
 * failed in plain words, with the RFC 2449 / RFC 3206 response code when
 * the server gave one.
 */
static void
log_peer_text(const struct pop3_client *c, const char *what, const char *line, size_t len)
{
	log_info("pop3c[%llu] %s: the server sent %s", (unsigned long long)c->id, what,
		 esc(line, len));
}

/* The plain words of a -ERR text ("[AUTH] bad password"): by its code. */
static const char *
err_words(const char *text)
{
	static const struct {
		const char *code;
		const char *words;
	} codes[] = {
		{ "[AUTH]", "the server rejected the username or password" },
		{ "[SYS/TEMP]", "the server has a temporary problem" },
		{ "[SYS/PERM]", "the server has a problem that will not go away by itself" },
		{ "[IN-USE]", "the maildrop is in use by another session" },
		{ "[LOGIN-DELAY]", "the server wants more time between logins" },
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strncasecmp(text, codes[i].code, strlen(codes[i].code)) == 0)
			return codes[i].words;
	return NULL;
}

/* "what: reason" for a -ERR with text (as read_status gave it). */
static const char *
refusal(const struct pop3_client *c, const char *what, const char *text, bool login)
{
	log_info("pop3c[%llu] %s: the server answered -ERR %s", (unsigned long long)c->id,
		 what, text);
	const char *words = err_words(text);
	bool oauth = c->set->auth == UPSTREAM_AUTH_OAUTH2;
	if (words == NULL || (oauth && login && strncasecmp(text, "[AUTH]", 6) == 0))
		words = !login ? "the server answered -ERR"
			: oauth ? "the server rejected the OAuth2 access token"
			: "the server rejected the username or password";
	return errfmt("%s: %s", what, words);
}

/* Reads one status line: 1 +OK, 0 -ERR (its text, escaped, in *text_r; for
 * the log only), -1 broken. */
static int
read_status(struct pop3_client *c, const char **text_r, const char **error_r)
{
	const char *line, *text;
	size_t len, tlen;
	enum conn_result r = conn_read_line(c->conn, POP3C_LINE_MAX, &line, &len);
	if (r != CONN_OK) {
		*error_r = r == CONN_EOF ? "the server closed the connection"
			 : r == CONN_TOOLONG ? "the server sent an overlong line"
			 : errfmt("cannot read from the server: %s", conn_error(c->conn));
		return -1;
	}
	int ok = pop3c_parse_status(line, len, &text, &tlen);
	if (ok < 0) {
		log_peer_text(c, "reply", line, len);
		*error_r = c->state == POP3C_GREETING
			   ? "this is not a POP3 server (its greeting is not a POP3 one)"
			   : "the server sent a malformed reply";
		return -1;
	}
	*text_r = errfmt("%s", esc(text, tlen));
	return ok;
}

/* Sends cmd and reads +OK; a -ERR is an error "what: -ERR ...". */
static int
command(struct pop3_client *c, const char *cmd, const char *what,
	const char **error_r)
{
	const char *text;
	if (conn_puts(c->conn, cmd) < 0 || conn_puts(c->conn, "\r\n") < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	int ok = read_status(c, &text, error_r);
	if (ok < 0)
		return -1;
	if (ok == 0) {
		*error_r = refusal(c, what, text, strcmp(what, "login failed") == 0);
		return -1;
	}
	return 0;
}

/* Reads a multi-line body through write (NULL: discard). */
static int
read_multiline(struct pop3_client *c, size_t line_max, bool crlf,
	       pop3c_write_fn *write, void *ctx, const char **error_r)
{
	for (;;) {
		const char *write_error = NULL;
		const char *line, *data;
		size_t len, dlen;
		enum conn_result r = conn_read_line(c->conn, line_max, &line, &len);
		if (r == CONN_TOOLONG) {
			/* the line is gone: the message cannot be had whole */
			*error_r = errfmt("the server sent a line longer than %zu bytes",
					  line_max);
			return -1;
		}
		if (r != CONN_OK) {
			*error_r = r == CONN_EOF
				? "the server closed the connection in the middle of a message"
				: errfmt("cannot read from the server: %s", conn_error(c->conn));
			return -1;
		}
		if (pop3c_unstuff_line(line, len, &data, &dlen) == 1)
			break;
		/* A failed write (a message over the size limit, a disk
		 * error) ends the session: the rest of a never-ending
		 * message is not read, and nothing of it is delivered. */
		if (write != NULL &&
		    (write(ctx, data, dlen, &write_error) < 0 ||
		     (crlf && write(ctx, "\r\n", 2, &write_error) < 0))) {
			*error_r = write_error != NULL ? write_error
						       : "cannot store the message";
			return -1;
		}
	}
	return 0;
}

static int
capa(struct pop3_client *c, const char **error_r)
{
	const char *text;
	c->caps = 0;
	c->capa_ok = false;
	if (conn_puts(c->conn, "CAPA\r\n") < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	int ok = read_status(c, &text, error_r);
	if (ok < 0)
		return -1;
	if (ok == 0)	/* an RFC 1939 server without CAPA */
		return 0;
	c->capa_ok = true;
	for (unsigned i = 0; i < 1000; i++) {
		const char *line, *data;
		size_t len, dlen;
		enum conn_result r = conn_read_line(c->conn, POP3C_LINE_MAX, &line, &len);
		if (r != CONN_OK) {
			*error_r = "the server broke off its CAPA reply";
			return -1;
		}
		if (pop3c_unstuff_line(line, len, &data, &dlen) == 1)
			return 0;
		c->caps |= pop3c_parse_capa(data, dlen);
	}
	*error_r = "the server's CAPA reply does not end";
	return -1;
}

static int
tls_start(struct pop3_client *c, const char **error_r)
{
	return client_conn_tls(c->conn, c->set->host, c->set->tls_verify, c->cert_sha256,
			       "pop3c", c->id, error_r);
}

/* Reads a line that should be a SASL challenge ("+ ..."): 1 it is, 0 it is
 * a status (+OK: *ok_r true), -1 broken or -ERR (*error_r). */
static int
read_challenge(struct pop3_client *c, bool *ok_r, const char **error_r)
{
	const char *line;
	size_t len;
	*ok_r = false;
	enum conn_result r = conn_read_line(c->conn, POP3C_LINE_MAX, &line, &len);
	if (r != CONN_OK) {
		*error_r = r == CONN_EOF ? "the server closed the connection"
			 : r == CONN_TOOLONG ? "the server sent an overlong line"
			 : errfmt("cannot read from the server: %s", conn_error(c->conn));
		return -1;
	}
	if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' '))
		return 1;
	const char *text;
	size_t tlen;
	int ok = pop3c_parse_status(line, len, &text, &tlen);
	if (ok < 0) {
		log_peer_text(c, "reply", line, len);
		*error_r = "the server sent a malformed reply";
		return -1;
	}
	if (ok == 0) {
		*error_r = refusal(c, "login failed", esc(text, tlen), true);
		return -1;
	}
	*ok_r = true;
	return 0;
}

/*
 * RFC 5034 AUTH with OAUTHBEARER (RFC 7628, preferred) or XOAUTH2.  The
 * token makes the initial response longer than the 255 octets a command
 * may have, so it goes after the server's "+".  A server refusing the token
 * sends its error as a challenge first (RFC 7628 §3.2.2), answered with a
 * lone ^A (XOAUTH2: an empty line), and then -ERR.
 */
static int
login_oauth2(struct pop3_client *c, const char *token, const char **error_r)
{
	const struct upstream_settings *set = c->set;
	bool bearer = (c->caps & POP3C_CAP_SASL_OAUTHBEARER) != 0;
	if (!bearer && (c->caps & POP3C_CAP_SASL_XOAUTH2) == 0) {
		*error_r = "login failed: the server offers no OAuth2 login "
			   "(neither SASL OAUTHBEARER nor XOAUTH2)";
		return -1;
	}
	bool ok;
	if (conn_puts(c->conn, bearer ? "AUTH OAUTHBEARER\r\n" : "AUTH XOAUTH2\r\n") < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	int r = read_challenge(c, &ok, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = "login failed: the server skipped the OAuth2 exchange";
		return -1;
	}
	struct buf raw = BUF_INIT, line = BUF_INIT;
	if (bearer)
		oauth2_sasl_oauthbearer(&raw, set->username, set->host, set->port, token);
	else
		oauth2_sasl_xoauth2(&raw, set->username, token);
	base64_encode(&line, raw.data, raw.len);
	buf_puts(&line, "\r\n");
	explicit_bzero(raw.data, raw.len);
	buf_free(&raw);
	int wr = conn_write(c->conn, line.data, line.len);
	explicit_bzero(line.data, line.len);
	buf_free(&line);
	if (wr < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	r = read_challenge(c, &ok, error_r);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	/* the error challenge: its JSON stays the server's */
	if (conn_puts(c->conn, bearer ? "AQ==\r\n" : "\r\n") < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	if (read_challenge(c, &ok, error_r) >= 0)
		*error_r = "login failed: the server accepted an OAuth2 exchange it had refused";
	return -1;
}

static int
login(struct pop3_client *c, const char *password, const char **error_r)
{
	const struct upstream_settings *set = c->set;
	if (set->auth == UPSTREAM_AUTH_OAUTH2)
		return login_oauth2(c, password, error_r);
	if ((c->caps & POP3C_CAP_SASL_PLAIN) != 0) {
		/* RFC 5034 §4 with the initial response; RFC 4616: "\0user\0pass" */
		struct buf raw = BUF_INIT, cmd = BUF_INIT;
		buf_putc(&raw, '\0');
		buf_puts(&raw, set->username);
		buf_putc(&raw, '\0');
		buf_puts(&raw, password);
		buf_puts(&cmd, "AUTH PLAIN ");
		base64_encode(&cmd, raw.data, raw.len);
		explicit_bzero(raw.data, raw.len);
		buf_free(&raw);
		int ret = command(c, buf_cstr(&cmd), "login failed", error_r);
		explicit_bzero(cmd.data, cmd.len);
		buf_free(&cmd);
		return ret;
	}
	if (strpbrk(set->username, "\r\n") != NULL || strpbrk(password, "\r\n") != NULL) {
		*error_r = "login failed: username or password holds a line end";
		return -1;
	}
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "USER %s", set->username);
	int ret = command(c, buf_cstr(&cmd), "login failed", error_r);
	buf_reset(&cmd);
	if (ret == 0) {
		buf_printf(&cmd, "PASS %s", password);
		ret = command(c, buf_cstr(&cmd), "login failed", error_r);
		explicit_bzero(cmd.data, cmd.len);
	}
	buf_free(&cmd);
	return ret;
}

int
pop3_client_open(const struct upstream_settings *set, const char *password,
		 const struct client_conn_params *params, uint64_t log_id,
		 struct pop3_client **c_r, const char **error_r)
{
	*c_r = NULL;
	struct conn *conn = client_conn_open(set->host, set->port, params, error_r);
	if (conn == NULL)
		return -1;
	struct pop3_client *c = xcalloc(1, sizeof *c);
	c->conn = conn;
	c->id = log_id;
	c->set = set;
	set_state(c, POP3C_GREETING);
	const char *text;
	if (set->tls == UPSTREAM_TLS_IMPLICIT && tls_start(c, error_r) < 0)
		goto fail;
	int ok = read_status(c, &text, error_r);
	if (ok <= 0) {
		if (ok == 0)
			*error_r = refusal(c, "the server refused the session", text, false);
		goto fail;
	}
	set_state(c, POP3C_AUTHORIZATION);
	if (capa(c, error_r) < 0)
		goto fail;
	if (set->tls == UPSTREAM_TLS_STARTTLS) {
		/* RFC 2595 §4: STLS, then CAPA again (it may change) */
		if (command(c, "STLS", "the server refused STLS", error_r) < 0 ||
		    tls_start(c, error_r) < 0 || capa(c, error_r) < 0)
			goto fail;
	}
	if (login(c, password, error_r) < 0)
		goto fail;
	set_state(c, POP3C_TRANSACTION);
	log_info("pop3c[%llu] login host=%s user=%s tls=%s", (unsigned long long)log_id,
		 esc_str(set->host), esc_str(set->username), conn_tls_version(conn));
	*c_r = c;
	return 0;
fail:
	if (params->cert_sha256_r != NULL)
		memcpy(params->cert_sha256_r, c->cert_sha256, sizeof c->cert_sha256);
	c->state = POP3C_CLOSED;
	pop3_client_free(&c);
	return -1;
}

void
pop3_client_free(struct pop3_client **cp)
{
	struct pop3_client *c = *cp;
	if (c == NULL)
		return;
	/* No QUIT: RFC 1939 §6, a session that ends without QUIT does not
	 * enter UPDATE, so nothing marked deleted is removed. */
	conn_free(&c->conn);
	free(c);
	*cp = NULL;
}

unsigned
pop3_client_caps(const struct pop3_client *c)
{
	return c->caps;
}

const char *
pop3_client_cert_sha256(const struct pop3_client *c)
{
	return c->cert_sha256;
}

const char *
pop3_client_tls_version(const struct pop3_client *c)
{
	return conn_tls_version(c->conn);
}

struct list_ctx {
	const struct pop3_client *c;
	struct pop3c_message *msgs;
	size_t n;
	bool bad;
};

static int
list_uidl_line(void *ctx, const void *p, size_t n, const char **error_r)
{
	struct list_ctx *l = ctx;
	uint32_t msgno;
	const char *u;
	size_t ulen;
	if (l->bad)
		return 0;
	if (pop3c_parse_uidl(p, n, &msgno, &u, &ulen) < 0 || l->n >= POP3C_MESSAGES_MAX) {
		l->bad = true;
		log_peer_text(l->c, "UIDL", p, n);
		*error_r = "the server sent a malformed UIDL line";
		return -1;
	}
	l->msgs = xreallocarray(l->msgs, l->n + 1, sizeof *l->msgs);
	l->msgs[l->n].msgno = msgno;
	l->msgs[l->n].uidl = xstrndup(u, ulen);
	l->n++;
	return 0;
}

int
pop3_client_list(struct pop3_client *c, struct pop3c_message **msgs_r,
		 size_t *n_r, const char **error_r)
{
	const char *text;
	*msgs_r = NULL;
	*n_r = 0;
	if (conn_puts(c->conn, "UIDL\r\n") < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	int ok = read_status(c, &text, error_r);
	if (ok < 0)
		return -1;
	if (ok == 1) {
		struct list_ctx l = { c, NULL, 0, false };
		if (read_multiline(c, POP3C_LINE_MAX, false, list_uidl_line, &l, error_r) < 0) {
			pop3c_messages_free(&l.msgs, l.n);
			return -1;
		}
		*msgs_r = l.msgs;
		*n_r = l.n;
		return 0;
	}
	/* RFC 1939 §7: UIDL is optional; STAT gives the count */
	const char *line;
	size_t len;
	if (conn_puts(c->conn, "STAT\r\n") < 0) {
		*error_r = errfmt("cannot send to the server: %s", conn_error(c->conn));
		return -1;
	}
	enum conn_result r = conn_read_line(c->conn, POP3C_LINE_MAX, &line, &len);
	uint32_t count;
	uint64_t size;
	const char *stext;
	size_t stlen;
	if (r != CONN_OK || pop3c_parse_status(line, len, &stext, &stlen) != 1 ||
	    pop3c_parse_pair(stext, stlen, &count, &size) < 0 ||
	    count > POP3C_MESSAGES_MAX) {
		*error_r = "the server's STAT reply is malformed";
		return -1;
	}
	struct pop3c_message *msgs = count > 0 ? xcalloc(count, sizeof *msgs) : NULL;
	for (uint32_t i = 0; i < count; i++)
		msgs[i].msgno = i + 1;
	*msgs_r = msgs;
	*n_r = count;
	return 0;
}

void
pop3c_messages_free(struct pop3c_message **msgs, size_t n)
{
	if (*msgs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*msgs)[i].uidl);
	xfree(*msgs);
}

int
pop3_client_retr_send(struct pop3_client *c, uint32_t msgno)
{
	return conn_printf(c->conn, "RETR %u\r\n", msgno);
}

int
pop3_client_retr_read(struct pop3_client *c, pop3c_write_fn *write, void *ctx,
		      const char **error_r)
{
	const char *text;
	int ok = read_status(c, &text, error_r);
	if (ok < 0)
		return -1;
	if (ok == 0) {
		*error_r = refusal(c, "RETR failed", text, false);
		return -1;
	}
	return read_multiline(c, POP3C_BODY_LINE_MAX, true, write, ctx, error_r);
}

int
pop3_client_dele_send(struct pop3_client *c, uint32_t msgno)
{
	return conn_printf(c->conn, "DELE %u\r\n", msgno);
}

int
pop3_client_status_read(struct pop3_client *c, const char *what,
			const char **error_r)
{
	const char *text;
	int ok = read_status(c, &text, error_r);
	if (ok == 0)
		*error_r = refusal(c, what, text, false);
	return ok == 1 ? 0 : -1;
}

int
pop3_client_quit(struct pop3_client *c, const char **error_r)
{
	/* RFC 1939 §6: only the +OK to QUIT says the messages marked deleted
	 * are gone; a -ERR or a lost connection leaves them all or some on
	 * the server (the next run gets them again), and the account's state
	 * should say so rather than a bare "the server closed the connection" */
	const char *text, *error = NULL;
	int ok = -1;
	if (conn_puts(c->conn, "QUIT\r\n") < 0)
		error = errfmt("cannot send to the server: %s", conn_error(c->conn));
	else if ((ok = read_status(c, &text, &error)) == 0)
		error = refusal(c, "QUIT", text, false);
	set_state(c, POP3C_CLOSED);
	if (ok == 1)
		return 0;
	*error_r = errfmt("QUIT failed, deletions on the server not confirmed: %s", error);
	return -1;
}

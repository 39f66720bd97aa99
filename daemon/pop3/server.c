/* The POP3 session: see server.h. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xmalloc.h"
#include "pop3/command.h"
#include "pop3/inuse.h"
#include "pop3/maildrop.h"
#include "pop3/server.h"
#include "store/login.h"
#include "store/store.h"

/* SASL PLAIN and LOGIN need at most two responses, SCRAM three; anything
 * beyond this many rounds is a confused client. */
#define SASL_ROUNDS_MAX 4

struct pop3_session {
	struct conn *c;
	const struct config *cfg;
	const char *name;	/* "pop3" or "pop3s": the log prefix */
	uint64_t id;
	enum pop3_state state;
	struct store *st;
	unsigned errors;	/* protocol errors so far (cfg->errors ends it) */
	bool quit;		/* end the session after this command */

	/* AUTHORIZATION: the name from USER, waiting for PASS */
	char *user_name;

	/* TRANSACTION and UPDATE */
	struct store_user user;
	bool locked;		/* holds the user's pop3/inuse.h lock */
	struct pop3_maildrop *md;
	unsigned retrieved;	/* RETR count, for the logout line */
};

typedef void pop3_cmd_fn(struct pop3_session *s, struct pop3_command *cmd);

/* Gating flags of a command table entry, enforced by dispatch() alone. */
enum pop3_cmd_flags {
	/* credentials only over TLS (or loopback when configured) */
	CMD_NEEDS_PRIVACY = 1 << 0,
	/* only before TLS is active (STLS) */
	CMD_NEEDS_PLAINTEXT = 1 << 1,
};

struct pop3_cmd_entry {
	enum pop3_verb verb;
	pop3_cmd_fn *fn;
	unsigned flags;
};

static const char *const state_names[POP3_STATE_COUNT] = {
	[POP3_STATE_AUTHORIZATION] = "AUTHORIZATION",
	[POP3_STATE_TRANSACTION] = "TRANSACTION",
	[POP3_STATE_UPDATE] = "UPDATE",
};

const char *
pop3_state_name(enum pop3_state state)
{
	if ((unsigned)state >= POP3_STATE_COUNT)
		return "?";
	return state_names[state];
}

/* The one place where a session changes state. */
static void
set_state(struct pop3_session *s, enum pop3_state state)
{
	log_debug("%s[%llu] state %s -> %s", s->name, (unsigned long long)s->id,
		  pop3_state_name(s->state), pop3_state_name(state));
	s->state = state;
}

static void
reply(struct pop3_session *s, const char *text)
{
	(void)conn_puts(s->c, text);
	(void)conn_puts(s->c, "\r\n");
}

/* A -ERR for a protocol error: counts towards cfg->errors. */
static void
reply_error(struct pop3_session *s, const char *text)
{
	s->errors++;
	(void)conn_printf(s->c, "-ERR %s\r\n", text);
}

/* Credentials may be sent: under TLS, or from loopback when configured
 * (DESIGN.md: AUTH and LOGIN only over TLS). */
static bool
privacy_ok(const struct pop3_session *s)
{
	if (conn_is_tls(s->c))
		return true;
	return s->cfg->plaintext_on_loopback && conn_is_loopback(s->c);
}

/* STLS can be offered: not yet TLS, and a server certificate is loaded. */
static bool
stls_available(const struct pop3_session *s)
{
	if (conn_is_tls(s->c))
		return false;
	SSL_CTX *ctx = tls_server_ctx();
	if (ctx == NULL)
		return false;
	SSL_CTX_free(ctx);
	return true;
}

/* ---- AUTHORIZATION -------------------------------------------------------- */

/* The session's prefix of log lines and its peer, for store/login.c. */
static struct login_params
login_params(struct pop3_session *s, char *session, size_t size)
{
	snprintf(session, size, "%s[%llu]", s->name, (unsigned long long)s->id);
	return (struct login_params){ .protocol = "pop3", .session = session,
				      .ip = conn_peer_ip(s->c), .conn = s->c };
}

/* The answer to a login that did not succeed (RFC 3206 §4: [AUTH] also
 * covers a login against policy; [SYS/TEMP] a passing failure). */
static void
login_refused(struct pop3_session *s, enum login_status r, const char *error)
{
	switch (r) {
	case LOGIN_BLOCKED:
		reply_error(s, "[AUTH] too many failed logins, try again later");
		break;
	case LOGIN_TRYLATER:
		reply(s, "-ERR [SYS/TEMP] temporary failure, try again later");
		break;
	case LOGIN_AUTHZ:
		/* no proxy logins: one may only act as oneself */
		reply_error(s, "[AUTH] authorization identity not allowed");
		break;
	case LOGIN_MALFORMED:
		/* RFC 5034 §4: a cancelled or malformed exchange is -ERR */
		reply_error(s, error != NULL ? error : "malformed authentication exchange");
		break;
	default:
		reply_error(s, "[AUTH] authentication failed");
		break;
	}
}

/*
 * The common end of USER/PASS and AUTH once s->user is logged in: takes
 * the maildrop lock and opens the maildrop.
 */
static void
logged_in(struct pop3_session *s, const char *method)
{
	const char *ip = conn_peer_ip(s->c);
	const char *error = NULL;
	int r;

	/* RFC 2449 §8.1.2: [IN-USE] when another session has the maildrop.
	 * RFC 1939 §4: the session stays in AUTHORIZATION. */
	if (!pop3_inuse_acquire(s->user.id)) {
		log_info("%s[%llu] login refused user=%s ip=%s reason=in-use",
			 s->name, (unsigned long long)s->id, esc_str(s->user.address),
			 ip);
		store_user_clear(&s->user);
		reply(s, "-ERR [IN-USE] the mailbox is in use by another POP3 session");
		return;
	}
	s->locked = true;
	r = pop3_maildrop_open(s->st, s->user.id, &s->md, &error);
	if (r != STORE_OK) {
		log_error("%s[%llu] maildrop error user=%s error=%s",
			  s->name, (unsigned long long)s->id, esc_str(s->user.address),
			  esc_str(error));
		/* RFC 1939 §4: release the lock before rejecting */
		pop3_inuse_release(s->user.id);
		s->locked = false;
		store_user_clear(&s->user);
		reply(s, "-ERR [SYS/TEMP] cannot open the mailbox, try again later");
		return;
	}
	set_state(s, POP3_STATE_TRANSACTION);
	log_info("%s[%llu] login user=%s ip=%s tls=%s method=%s messages=%zu",
		 s->name, (unsigned long long)s->id, esc_str(s->user.address), ip,
		 conn_tls_version(s->c), method, s->md->n);
	(void)conn_printf(s->c, "+OK logged in, %zu messages (%llu octets)\r\n",
			  pop3_maildrop_count(s->md),
			  (unsigned long long)pop3_maildrop_octets(s->md));
}

/* RFC 2449 §5 */
static void
cmd_capa(struct pop3_session *s, struct pop3_command *cmd)
{
	reply(s, "+OK capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	if (s->state == POP3_STATE_AUTHORIZATION && stls_available(s))
		reply(s, "STLS");
	/* RFC 2449 §6.2, §6.3: announced only where they may be used, so
	 * that no client is invited to send a password in clear (Dovecot
	 * does the same before STLS). */
	if (privacy_ok(s)) {
		reply(s, "USER");
		(void)conn_puts(s->c, "SASL");
		for (const char *const *m = login_mechanisms(s->c); *m != NULL; m++)
			(void)conn_printf(s->c, " %s", *m);
		reply(s, "");
	}
	reply(s, "IMPLEMENTATION mailhub");
	reply(s, ".");
}

/* RFC 2595 §4 */
static void
cmd_stls(struct pop3_session *s, struct pop3_command *cmd)
{
	const char *error = NULL;
	SSL_CTX *ctx = tls_server_ctx();

	if (ctx == NULL) {
		reply_error(s, "[SYS/PERM] TLS is not available");
		return;
	}
	reply(s, "+OK begin TLS negotiation");
	if (conn_flush(s->c) < 0 ||
	    conn_starttls_server(s->c, ctx, &error) < 0) {
		log_info("%s[%llu] STLS failed ip=%s error=%s",
			 s->name, (unsigned long long)s->id, conn_peer_ip(s->c),
			 esc_str(error != NULL ? error : "write failed"));
		s->quit = true;
	}
	SSL_CTX_free(ctx);
	/* RFC 2595 §4: a USER given before the handshake is forgotten */
	xfree(s->user_name);
}

/* RFC 1939 §7 USER */
static void
cmd_user(struct pop3_session *s, struct pop3_command *cmd)
{
	if (strlen(cmd->arg) > ADDRESS_MAX) {
		reply_error(s, "user name too long");
		return;
	}
	xfree(s->user_name);
	s->user_name = cmd->arg;
	cmd->arg = NULL;
	/* the same answer for every name: existence is not revealed */
	reply(s, "+OK send PASS");
}

/* RFC 1939 §7 PASS */
static void
cmd_pass(struct pop3_session *s, struct pop3_command *cmd)
{
	if (s->user_name == NULL) {
		reply_error(s, "send USER first");
		return;
	}
	char *name = s->user_name;
	s->user_name = NULL;
	if (strlen(cmd->arg) > PASSWORD_MAX) {
		reply_error(s, "[AUTH] authentication failed");
	} else {
		char session[32];
		struct login_params lp = login_params(s, session, sizeof session);
		enum login_status r = login_password(s->st, &lp, name, cmd->arg, &s->user);
		if (r == LOGIN_OK)
			logged_in(s, "USER");
		else
			login_refused(s, r, NULL);
	}
	free(name);
}

/* Lists the mechanisms for AUTH without an argument: not in RFC 5034, but
 * an older convention (draft-myers-sasl-pop3) that Outlook and fetchmail
 * still use to probe. */
static void
auth_list(struct pop3_session *s)
{
	reply(s, "+OK SASL mechanisms follow");
	for (const char *const *m = login_mechanisms(s->c); *m != NULL; m++)
		reply(s, *m);
	reply(s, ".");
}

/* Reads one SASL response line (RFC 5034 §4) as a malloc'd string without
 * its CRLF; NULL when the connection failed (the session ends). */
static char *
auth_read_response(struct pop3_session *s, bool *toolong_r)
{
	const char *line;
	size_t len;

	*toolong_r = false;
	enum conn_result r = conn_read_line(s->c, SASL_LINE_MAX, &line, &len);
	if (r == CONN_TOOLONG) {
		*toolong_r = true;
		return NULL;
	}
	if (r != CONN_OK)
		return NULL;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return xstrndup(line, len);
}

/* RFC 5034 §4 AUTH */
static void
cmd_auth(struct pop3_session *s, struct pop3_command *cmd)
{
	const char *challenge = NULL;
	const char *error = NULL;
	enum login_status r;

	if (cmd->arg == NULL) {
		auth_list(s);
		return;
	}
	char session[32];
	struct login_params lp = login_params(s, session, sizeof session);
	struct login *login = login_new(s->st, cmd->arg, &lp);
	if (login == NULL) {
		reply_error(s, "unsupported authentication mechanism");
		return;
	}
	xfree(s->user_name);
	r = login_step(login, cmd->initial, &challenge, &error);
	for (unsigned round = 0; r == LOGIN_CONTINUE; round++) {
		bool toolong;
		if (round == SASL_ROUNDS_MAX) {
			r = LOGIN_MALFORMED;
			error = "too many rounds";
			break;
		}
		(void)conn_printf(s->c, "+ %s\r\n", challenge);
		char *response = auth_read_response(s, &toolong);
		if (response == NULL) {
			if (!toolong) {
				s->quit = true;
				login_free(&login);
				return;
			}
			r = LOGIN_MALFORMED;
			error = "response too long";
			break;
		}
		r = login_step(login, response, &challenge, &error);
		explicit_bzero(response, strlen(response));
		free(response);
	}
	if (r == LOGIN_OK) {
		login_take_user(login, &s->user);
		logged_in(s, "AUTH");
	} else {
		login_refused(s, r, error);
	}
	login_free(&login);
}

/* RFC 1939 §4 QUIT in AUTHORIZATION: no UPDATE state */
static void
cmd_quit_authorization(struct pop3_session *s, struct pop3_command *cmd)
{
	reply(s, "+OK bye");
	s->quit = true;
}

/* ---- TRANSACTION ---------------------------------------------------------- */

/* RFC 1939 §5 STAT */
static void
cmd_stat(struct pop3_session *s, struct pop3_command *cmd)
{
	(void)conn_printf(s->c, "+OK %zu %llu\r\n", pop3_maildrop_count(s->md),
			  (unsigned long long)pop3_maildrop_octets(s->md));
}

/* The message of a command's number, or NULL after a -ERR. */
static const struct pop3_msg *
get_msg(struct pop3_session *s, uint32_t msgnum)
{
	const struct pop3_msg *m = pop3_maildrop_get(s->md, msgnum);
	if (m == NULL) {
		/* RFC 1939 §5: deleted messages are as if absent */
		reply_error(s, "no such message");
	}
	return m;
}

/* RFC 1939 §5 LIST */
static void
cmd_list(struct pop3_session *s, struct pop3_command *cmd)
{
	if (cmd->has_msg) {
		const struct pop3_msg *m = get_msg(s, cmd->msg);
		if (m != NULL)
			(void)conn_printf(s->c, "+OK %lu %llu\r\n",
					  (unsigned long)cmd->msg,
					  (unsigned long long)m->size);
		return;
	}
	(void)conn_printf(s->c, "+OK %zu messages (%llu octets)\r\n",
			  pop3_maildrop_count(s->md),
			  (unsigned long long)pop3_maildrop_octets(s->md));
	for (size_t i = 0; i < s->md->n; i++) {
		const struct pop3_msg *m = &s->md->msgs[i];
		if (!m->deleted)
			(void)conn_printf(s->c, "%zu %llu\r\n", i + 1,
					  (unsigned long long)m->size);
	}
	reply(s, ".");
}

/* RFC 1939 §7 UIDL */
static void
cmd_uidl(struct pop3_session *s, struct pop3_command *cmd)
{
	char uidl[POP3_UIDL_SIZE];

	if (cmd->has_msg) {
		const struct pop3_msg *m = get_msg(s, cmd->msg);
		if (m != NULL) {
			pop3_maildrop_uidl(s->md, m, uidl);
			(void)conn_printf(s->c, "+OK %lu %s\r\n",
					  (unsigned long)cmd->msg, uidl);
		}
		return;
	}
	reply(s, "+OK unique-id listing follows");
	for (size_t i = 0; i < s->md->n; i++) {
		const struct pop3_msg *m = &s->md->msgs[i];
		if (m->deleted)
			continue;
		pop3_maildrop_uidl(s->md, m, uidl);
		(void)conn_printf(s->c, "%zu %s\r\n", i + 1, uidl);
	}
	reply(s, ".");
}

/* RETR and TOP: the message, or its header and some lines of its body. */
static void
send_message(struct pop3_session *s, struct pop3_command *cmd, bool top)
{
	const char *error = NULL;
	uint64_t sent, file_size;
	int fd;

	const struct pop3_msg *m = get_msg(s, cmd->msg);
	if (m == NULL)
		return;
	if (pop3_maildrop_open_msg(s->st, m, &fd, &file_size, &error) < 0) {
		/* the file is gone (an IMAP expunge and the blob collector
		 * got there first): nothing has been sent yet */
		log_warning("%s[%llu] message unreadable uid=%lu error=%s",
			    s->name, (unsigned long long)s->id, (unsigned long)m->uid,
			    esc_str(error));
		reply(s, "-ERR [SYS/TEMP] the message is no longer available");
		return;
	}
	if (top)
		reply(s, "+OK top of message follows");
	else
		(void)conn_printf(s->c, "+OK %llu octets\r\n",
				  (unsigned long long)m->size);
	if (pop3_maildrop_send(fd, file_size, s->c, top, cmd->lines, &sent,
			       &error) < 0) {
		/* midway through a multi-line reply: no way back in step */
		log_info("%s[%llu] sending failed uid=%lu error=%s",
			 s->name, (unsigned long long)s->id, (unsigned long)m->uid,
			 esc_str(error));
		s->quit = true;
		return;
	}
	if (!top) {
		s->retrieved++;
		if (sent != m->size)
			log_warning("%s[%llu] size mismatch uid=%lu listed=%llu sent=%llu",
				    s->name, (unsigned long long)s->id,
				    (unsigned long)m->uid,
				    (unsigned long long)m->size,
				    (unsigned long long)sent);
	}
}

/* RFC 1939 §5 RETR */
static void
cmd_retr(struct pop3_session *s, struct pop3_command *cmd)
{
	send_message(s, cmd, false);
}

/* RFC 1939 §7 TOP */
static void
cmd_top(struct pop3_session *s, struct pop3_command *cmd)
{
	send_message(s, cmd, true);
}

/* RFC 1939 §5 DELE: marks only; UPDATE removes */
static void
cmd_dele(struct pop3_session *s, struct pop3_command *cmd)
{
	if (pop3_maildrop_delete(s->md, cmd->msg) < 0) {
		reply_error(s, "no such message");
		return;
	}
	(void)conn_printf(s->c, "+OK message %lu deleted\r\n",
			  (unsigned long)cmd->msg);
}

/* RFC 1939 §5 NOOP */
static void
cmd_noop(struct pop3_session *s, struct pop3_command *cmd)
{
	reply(s, "+OK");
}

/* RFC 1939 §5 RSET */
static void
cmd_rset(struct pop3_session *s, struct pop3_command *cmd)
{
	pop3_maildrop_reset(s->md);
	(void)conn_printf(s->c, "+OK %zu messages (%llu octets)\r\n",
			  pop3_maildrop_count(s->md),
			  (unsigned long long)pop3_maildrop_octets(s->md));
}

/* RFC 1939 §6 QUIT in TRANSACTION: the UPDATE state */
static void
cmd_quit_transaction(struct pop3_session *s, struct pop3_command *cmd)
{
	const char *error = NULL;
	size_t removed = 0;

	set_state(s, POP3_STATE_UPDATE);
	s->quit = true;
	if (pop3_maildrop_commit(s->st, s->md, &removed, &error) != STORE_OK) {
		log_error("%s[%llu] update failed user=%s error=%s",
			  s->name, (unsigned long long)s->id, esc_str(s->user.address),
			  esc_str(error));
		/* RFC 1939 §6: "-ERR some deleted messages not removed" */
		reply(s, "-ERR [SYS/TEMP] some deleted messages not removed");
		return;
	}
	log_info("%s[%llu] logout user=%s retrieved=%u deleted=%zu",
		 s->name, (unsigned long long)s->id, esc_str(s->user.address),
		 s->retrieved, removed);
	(void)conn_printf(s->c, "+OK bye, %zu deleted\r\n",
			  s->md->n_deleted);
}

/* ---- the command tables and the dispatcher --------------------------------- */

static const struct pop3_cmd_entry authorization_cmds[] = {
	{ POP3_CMD_CAPA, cmd_capa, 0 },
	{ POP3_CMD_STLS, cmd_stls, CMD_NEEDS_PLAINTEXT },
	{ POP3_CMD_USER, cmd_user, CMD_NEEDS_PRIVACY },
	{ POP3_CMD_PASS, cmd_pass, CMD_NEEDS_PRIVACY },
	{ POP3_CMD_AUTH, cmd_auth, CMD_NEEDS_PRIVACY },
	{ POP3_CMD_QUIT, cmd_quit_authorization, 0 },
	{ POP3_CMD_UNKNOWN, NULL, 0 },
};

static const struct pop3_cmd_entry transaction_cmds[] = {
	{ POP3_CMD_CAPA, cmd_capa, 0 },
	{ POP3_CMD_STAT, cmd_stat, 0 },
	{ POP3_CMD_LIST, cmd_list, 0 },
	{ POP3_CMD_RETR, cmd_retr, 0 },
	{ POP3_CMD_DELE, cmd_dele, 0 },
	{ POP3_CMD_NOOP, cmd_noop, 0 },
	{ POP3_CMD_RSET, cmd_rset, 0 },
	{ POP3_CMD_TOP, cmd_top, 0 },
	{ POP3_CMD_UIDL, cmd_uidl, 0 },
	{ POP3_CMD_QUIT, cmd_quit_transaction, 0 },
	{ POP3_CMD_UNKNOWN, NULL, 0 },
};

/* UPDATE reads no commands: the session ends after the QUIT reply. */
static const struct pop3_cmd_entry update_cmds[] = {
	{ POP3_CMD_UNKNOWN, NULL, 0 },
};

static const struct pop3_cmd_entry *const state_cmds[POP3_STATE_COUNT] = {
	[POP3_STATE_AUTHORIZATION] = authorization_cmds,
	[POP3_STATE_TRANSACTION] = transaction_cmds,
	[POP3_STATE_UPDATE] = update_cmds,
};

static void
dispatch(struct pop3_session *s, struct pop3_command *cmd)
{
	const struct pop3_cmd_entry *e = state_cmds[s->state];

	while (e->fn != NULL && e->verb != cmd->verb)
		e++;
	if (e->fn == NULL) {
		if (cmd->verb == POP3_CMD_UNKNOWN)
			reply_error(s, "unknown command");
		else
			reply_error(s, s->state == POP3_STATE_AUTHORIZATION ?
				    "not allowed before login" :
				    "not allowed after login");
		return;
	}
	if ((e->flags & CMD_NEEDS_PRIVACY) && !privacy_ok(s)) {
		/* DESIGN.md: credentials only under TLS.  RFC 3206 §4:
		 * [AUTH] covers "an attempt to authenticate in violation of
		 * policy". */
		reply_error(s, "[AUTH] plaintext authentication is not allowed without TLS, use STLS first");
		return;
	}
	if ((e->flags & CMD_NEEDS_PLAINTEXT) && conn_is_tls(s->c)) {
		/* RFC 2595 §4: STLS only once, before TLS */
		reply_error(s, "TLS is already active");
		return;
	}
	e->fn(s, cmd);
}

/* ---- the session ------------------------------------------------------------ */

static void
session_loop(struct pop3_session *s)
{
	while (!s->quit) {
		struct pop3_command cmd;
		const char *line;
		const char *error = NULL;
		size_t len;

		enum conn_result r = conn_read_command(s->c, POP3_LINE_MAX,
						       &line, &len);
		if (r == CONN_STOPPED) {
			/* the daemon is stopping: goodbye without UPDATE
			 * (RFC 1939 §6), so nothing is deleted; RFC 3206 §4:
			 * SYS/TEMP, a problem that will pass */
			reply(s, "-ERR [SYS/TEMP] server shutting down, try again later");
			log_info("%s[%llu] disconnected state=%s reason=shutdown",
				 s->name, (unsigned long long)s->id,
				 pop3_state_name(s->state));
			return;
		}
		if (r == CONN_EOF || r == CONN_ERROR) {
			/* RFC 1939 §6: no QUIT, no UPDATE; RFC 1939 §3:
			 * the autologout timer also ends up here */
			log_info("%s[%llu] disconnected state=%s reason=%s",
				 s->name, (unsigned long long)s->id,
				 pop3_state_name(s->state),
				 r == CONN_EOF ? "closed by peer" :
				 esc_str(conn_error(s->c)));
			return;
		}
		if (r == CONN_TOOLONG) {
			/* RFC 2449 §4: 255 octets with CRLF */
			reply_error(s, "command line too long");
		} else if (pop3_command_parse_line(line, len, &cmd, &error) !=
			   POP3_PARSE_OK) {
			reply_error(s, error);
		} else {
			dispatch(s, &cmd);
			pop3_command_clear(&cmd);
		}
		if (!s->quit && s->errors >= s->cfg->errors) {
			reply(s, "-ERR too many errors, closing the connection");
			log_info("%s[%llu] too many errors ip=%s",
				 s->name, (unsigned long long)s->id, conn_peer_ip(s->c));
			return;
		}
	}
}

void
pop3_session_run(struct conn *c, void *ctx)
{
	const struct pop3_listener *listener = ctx;
	struct pop3_session s;
	const char *error = NULL;

	memset(&s, 0, sizeof s);
	s.c = c;
	s.cfg = listener->cfg;
	s.name = listener->implicit_tls ? "pop3s" : "pop3";
	s.id = conn_id(c);
	s.state = POP3_STATE_AUTHORIZATION;
	/* RFC 1939 §3: an autologout timer of at least 10 minutes */
	conn_set_timeout(c, (int)s.cfg->pop3_timeout * 1000);

	if (store_open(s.cfg->data_dir, &s.st, &error) != STORE_OK) {
		log_error("%s[%llu] store unavailable error=%s",
			  s.name, (unsigned long long)s.id, esc_str(error));
		reply(&s, "-ERR [SYS/TEMP] mail store unavailable, try again later");
	} else {
		/* RFC 1939 §4 greeting; no APOP timestamp (APOP is not
		 * offered) */
		reply(&s, "+OK POP3 server ready");
		session_loop(&s);
	}
	(void)conn_flush(c);

	if (s.locked)
		pop3_inuse_release(s.user.id);
	pop3_maildrop_free(&s.md);
	store_user_clear(&s.user);
	xfree(s.user_name);
	store_close(&s.st);
	conn_free(&c);
}

/*
 * session: one IMAP connection's state machine (RFC 3501 §3), its command
 * table and dispatcher, and the commands of the any / not-authenticated
 * states (CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, STARTTLS,
 * LOGIN, AUTHENTICATE).
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/limits.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "imap/utf7.h"
#include "mail/imapquote.h"
#include "store/login.h"

/* Gating flags of the command table, enforced by imap_dispatch() alone. */
/* A session that has heard nothing for this long after its last command
 * is parked (wait_park()): long enough that a client's next command of a
 * burst finds the session still in its thread, short next to how long
 * clients sit between bursts. */
#define IMAP_PARK_AFTER_MS 1000

enum {
	CMD_ANY = 1 << 0,	/* every state */
	CMD_NOAUTH = 1 << 1,	/* not authenticated only */
	CMD_AUTH = 1 << 2,	/* authenticated or selected */
	CMD_SELECTED = 1 << 3,	/* selected only */
	CMD_UID = 1 << 4,	/* also as "UID <command>" */
	CMD_NO_EXPUNGE = 1 << 5, /* no EXPUNGE responses during it (non-UID) */
	CMD_NEEDS_PRIVACY = 1 << 6, /* plaintext login: TLS or loopback rule */
	CMD_SYNC_FULL = 1 << 7,	/* its closing sync always looks at the store */
};

static imap_command_fn cmd_capability, cmd_noop, cmd_logout, cmd_id,
	cmd_namespace, cmd_starttls, cmd_login, cmd_authenticate,
	cmd_unauthenticate;

struct imap_command {
	const char *name;
	imap_command_fn *fn;
	unsigned flags;
};

/* The only way in. */
static const struct imap_command commands[] = {
	{ "CAPABILITY", cmd_capability, CMD_ANY },
	{ "NOOP", cmd_noop, CMD_ANY | CMD_SYNC_FULL },
	{ "LOGOUT", cmd_logout, CMD_ANY },
	{ "ID", cmd_id, CMD_ANY },
	{ "STARTTLS", cmd_starttls, CMD_NOAUTH },
	{ "LOGIN", cmd_login, CMD_NOAUTH | CMD_NEEDS_PRIVACY },
	{ "AUTHENTICATE", cmd_authenticate, CMD_NOAUTH | CMD_NEEDS_PRIVACY },
	{ "ENABLE", imap_cmd_enable, CMD_AUTH },
	{ "NAMESPACE", cmd_namespace, CMD_AUTH },
	{ "UNAUTHENTICATE", cmd_unauthenticate, CMD_AUTH },
	{ "GETQUOTAROOT", imap_cmd_getquotaroot, CMD_AUTH },
	{ "GETQUOTA", imap_cmd_getquota, CMD_AUTH },
	{ "COMPRESS", imap_cmd_compress, CMD_AUTH },
	{ "SELECT", imap_cmd_select, CMD_AUTH | CMD_SYNC_FULL },
	{ "EXAMINE", imap_cmd_examine, CMD_AUTH | CMD_SYNC_FULL },
	{ "CREATE", imap_cmd_create, CMD_AUTH },
	{ "DELETE", imap_cmd_delete, CMD_AUTH },
	{ "RENAME", imap_cmd_rename, CMD_AUTH },
	{ "SUBSCRIBE", imap_cmd_subscribe, CMD_AUTH },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, CMD_AUTH },
	{ "LIST", imap_cmd_list, CMD_AUTH },
	{ "LSUB", imap_cmd_lsub, CMD_AUTH },
	{ "STATUS", imap_cmd_status, CMD_AUTH },
	{ "APPEND", imap_cmd_append, CMD_AUTH },
	{ "IDLE", imap_cmd_idle, CMD_AUTH | CMD_SYNC_FULL },
	{ "CHECK", imap_cmd_check, CMD_SELECTED | CMD_SYNC_FULL },
	{ "CLOSE", imap_cmd_close, CMD_SELECTED },
	{ "UNSELECT", imap_cmd_unselect, CMD_SELECTED },
	{ "EXPUNGE", imap_cmd_expunge, CMD_SELECTED | CMD_UID },
	{ "SEARCH", imap_cmd_search, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "SORT", imap_cmd_sort, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "THREAD", imap_cmd_thread, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "FETCH", imap_cmd_fetch, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "STORE", imap_cmd_store, CMD_SELECTED | CMD_UID | CMD_NO_EXPUNGE },
	{ "COPY", imap_cmd_copy, CMD_SELECTED | CMD_UID },
	{ "MOVE", imap_cmd_move, CMD_SELECTED | CMD_UID },
};

/* RFC 3501 §7.1: before login, commands and literals are short */
static const struct imap_parser_limits prelogin_limits = {
	.line_max = IMAP_PRELOGIN_LINE_MAX,
	.literal_max = IMAP_PRELOGIN_LITERAL_MAX,
	.literal_buffer_max = IMAP_PRELOGIN_LITERAL_MAX,
	.command_max = IMAP_PRELOGIN_COMMAND_MAX,
	.skip_max = IMAP_PRELOGIN_SKIP_MAX,
	.args_max = 64,
	.depth_max = 4,
};

static const char *const state_names[] = {
	"not-authenticated", "authenticated", "selected", "logout",
};

void
imap_session_set_state(struct imap_session *s, enum imap_state state)
{
	if (s->state == state)
		return;
	log_debug("imap[%llu] state %s -> %s", (unsigned long long)s->id,
		  state_names[s->state], state_names[state]);
	if (s->state == IMAP_STATE_SELECTED && state != IMAP_STATE_SELECTED)
		imap_view_close(s);
	s->state = state;
}

void
imap_reply(struct imap_session *s, enum imap_reply r, const char *fmt, ...)
{
	va_list ap;
	s->reply = r;
	buf_reset(&s->reply_text);
	va_start(ap, fmt);
	buf_vprintf(&s->reply_text, fmt, ap);
	va_end(ap);
}

int
imap_write(struct imap_session *s, const void *p, size_t n)
{
	return conn_write(s->c, p, n);
}

int
imap_printf(struct imap_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	int r = conn_write(s->c, b.data, b.len);
	buf_free(&b);
	return r;
}

static bool
login_allowed(const struct imap_session *s)
{
	return conn_is_tls(s->c) ||
	       (s->cfg->plaintext_on_loopback && conn_is_loopback(s->c));
}

void
imap_capabilities(struct imap_session *s, struct buf *out)
{
	/* RFC 9051 §7.2.2: IMAP4rev2 beside IMAP4rev1; a client switches
	 * it on with ENABLE IMAP4rev2 */
	buf_puts(out, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE"
		 " NAMESPACE");
	if (s->state == IMAP_STATE_NOT_AUTHENTICATED) {
		if (!conn_is_tls(s->c) && !s->lst->implicit_tls)
			buf_puts(out, " STARTTLS");
		/* RFC 3501 §6.2.3: LOGINDISABLED while LOGIN may not be used */
		if (login_allowed(s)) {
			for (const char *const *m = login_mechanisms(s->c); *m != NULL; m++)
				buf_printf(out, " AUTH=%s", *m);
		} else
			buf_puts(out, " LOGINDISABLED");
		return;
	}
	buf_printf(out, " UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE"
		   " LIST-EXTENDED LIST-STATUS APPENDLIMIT=%llu"
		   " CONDSTORE QRESYNC MULTIAPPEND STATUS=SIZE QUOTA"
		   " QUOTA=RES-STORAGE QUOTA=RES-MESSAGE CREATE-SPECIAL-USE UNAUTHENTICATE OBJECTID"
		   " COMPRESS=DEFLATE BINARY PREVIEW SAVEDATE",
		   (unsigned long long)s->cfg->message_size);
	/* sort.c, esearch.c */
	buf_puts(out, " ESEARCH SEARCHRES SORT SORT=DISPLAY ESORT"
		 " THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
}

void
imap_append_mailbox(struct buf *out, const char *name)
{
	struct buf m = BUF_INIT;
	if (imap_utf8_to_mutf7(name, strlen(name), &m) < 0) {
		/* a name the store holds is valid UTF-8; never send garbage */
		imap_append_string(out, name, strlen(name));
	} else {
		imap_append_string(out, m.data ? m.data : "", m.len);
	}
	buf_free(&m);
}

int
imap_arg_mailbox(struct imap_session *s, const struct imap_arg *a,
		 struct buf *out)
{
	if (!imap_arg_is_astring(a)) {
		imap_bad(s, "Missing mailbox name");
		return -1;
	}
	buf_reset(out);
	if (str_eq_nocase(a->str, "INBOX")) {
		buf_puts(out, "INBOX");
		return 0;
	}
	/* The command is well formed, only the name cannot be: NO, not BAD
	 * (RFC 5530 §3 CANNOT; Dovecot answers the same) */
	if (strlen(a->str) != a->len || a->len > MAILBOX_NAME_MAX ||
	    imap_mutf7_to_utf8(a->str, a->len, out) < 0) {
		imap_no(s, "[CANNOT] Mailbox name is not valid modified UTF-7.");
		return -1;
	}
	/* "INBOX/x" keeps INBOX's canonical spelling for its children */
	if (out->len > 6 && mem_eq_nocase(out->data, "INBOX/", 6))
		memcpy(out->data, "INBOX", 5);
	return 0;
}

/* ---- the commands of any state ------------------------------------------- */

static void
cmd_capability(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	struct buf b = BUF_INIT;
	imap_capabilities(s, &b);
	imap_printf(s, "* CAPABILITY %s\r\n", buf_cstr(&b));
	buf_free(&b);
	imap_ok(s, "Capability completed.");
}

static void
cmd_noop(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "NOOP takes no arguments");
		return;
	}
	imap_ok(s, "NOOP completed.");
}

static void
cmd_logout(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "LOGOUT takes no arguments");
		return;
	}
	/* RFC 3501 §6.1.3: BYE first, then the tagged OK */
	imap_printf(s, "* BYE Logging out\r\n");
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	imap_ok(s, "Logout completed.");
}

/* RFC 2971: the client's list is logged (bounded), ours is sent. */
static void
cmd_id(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 1 || (!imap_arg_is_nil(&args[0]) && !imap_arg_is_list(&args[0]))) {
		imap_bad(s, "ID needs a list or NIL");
		return;
	}
	if (imap_arg_is_list(&args[0])) {
		const struct imap_arg *l = args[0].list;
		/* §3.3: at most 30 field-value pairs, fields at most 30 bytes */
		if (args[0].n % 2 != 0 || args[0].n > 60) {
			imap_bad(s, "ID list must hold at most 30 pairs");
			return;
		}
		struct buf b = BUF_INIT;
		for (size_t i = 0; i + 1 < args[0].n; i += 2) {
			if (!imap_arg_is_string(&l[i]) || l[i].len > 30 ||
			    (!imap_arg_is_string(&l[i + 1]) &&
			     !imap_arg_is_nil(&l[i + 1]))) {
				buf_free(&b);
				imap_bad(s, "ID fields must be strings");
				return;
			}
			if (imap_arg_is_string(&l[i + 1]))
				buf_printf(&b, " %s=%s", esc(l[i].str, l[i].len),
					   esc(l[i + 1].str, l[i + 1].len));
		}
		log_info("imap[%llu] id%s", (unsigned long long)s->id,
			 buf_cstr(&b));
		buf_free(&b);
	}
	imap_printf(s, "* ID (\"name\" \"mailhub\" \"version\" \"%s\")\r\n",
		    PACKAGE_VERSION);
	imap_ok(s, "ID completed.");
}

/* RFC 2342: one personal namespace, no prefix, '/' as the delimiter. */
static void
cmd_namespace(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "NAMESPACE takes no arguments");
		return;
	}
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_ok(s, "NAMESPACE completed.");
}

/* ---- not authenticated ----------------------------------------------------- */

static void
cmd_starttls(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "STARTTLS takes no arguments");
		return;
	}
	if (conn_is_tls(s->c) || s->lst->implicit_tls) {
		imap_bad(s, "TLS is already active");
		return;
	}
	SSL_CTX *ctx = tls_server_ctx();
	if (ctx == NULL) {
		imap_no(s, "TLS is not available");
		return;
	}
	imap_printf(s, "%s OK Begin TLS negotiation now.\r\n", s->tag);
	s->reply = IMAP_REPLY_NONE;
	const char *err;
	/* conn_starttls_server() throws away whatever was pipelined after
	 * STARTTLS (RFC 3501 §6.2.1); the line of STARTTLS itself ended at
	 * its CRLF, so the parser holds nothing of it either */
	if (conn_flush(s->c) < 0 || conn_starttls_server(s->c, ctx, &err) < 0) {
		log_info("imap[%llu] starttls failed ip=%s: %s",
			 (unsigned long long)s->id, conn_peer_ip(s->c),
			 err ? err : "write failed");
		SSL_CTX_free(ctx);
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return;
	}
	SSL_CTX_free(ctx);
	log_debug("imap[%llu] starttls %s", (unsigned long long)s->id,
		  conn_tls_version(s->c));
}

/* The session's prefix of log lines, for store/login.c. */
static struct login_params
login_params(struct imap_session *s, char *session, size_t size)
{
	snprintf(session, size, "imap[%llu]", (unsigned long long)s->id);
	return (struct login_params){ .protocol = "imap", .session = session,
				      .ip = conn_peer_ip(s->c), .conn = s->c };
}

/* Answers the tagged line of a login that did not succeed. */
static void
login_refused(struct imap_session *s, enum login_status r, const char *error)
{
	switch (r) {
	case LOGIN_BLOCKED:
		imap_no(s, "[UNAVAILABLE] Too many failed logins, try later.");
		break;
	case LOGIN_TRYLATER:
		imap_no(s, "[UNAVAILABLE] Temporary failure, try later.");
		break;
	case LOGIN_AUTHZ:
		imap_no(s, "[AUTHORIZATIONFAILED] Authorization identity not allowed.");
		break;
	case LOGIN_MALFORMED:
		imap_bad(s, "Malformed authentication data: %s", error != NULL ? error : "?");
		break;
	default:
		imap_no(s, "[AUTHENTICATIONFAILED] Authentication failed.");
		break;
	}
}

/* The session is logged in as u: answers the tagged line. */
static void
logged_in(struct imap_session *s, struct store_user *u)
{
	s->user_id = u->id;
	s->user = xstrdup(u->address);
	store_user_clear(u);
	log_info("imap[%llu] login user=%s ip=%s tls=%s", (unsigned long long)s->id,
		 s->user, conn_peer_ip(s->c), conn_tls_version(s->c));
	imap_session_set_state(s, IMAP_STATE_AUTHENTICATED);
	conn_set_timeout(s->c, (int)s->cfg->imap_timeout * 1000);
	struct imap_parser_limits lim = {
		.line_max = IMAP_LINE_MAX,
		.literal_max = s->cfg->message_size,
		.literal_buffer_max = IMAP_LINE_MAX,
		.command_max = IMAP_COMMAND_MAX,
		.skip_max = IMAP_LITERAL_SKIP_MAX,
		.args_max = IMAP_ARGS_MAX,
		.depth_max = IMAP_SEARCH_DEPTH_MAX + 2,
	};
	imap_parser_set_limits(s->parser, &lim);
	struct buf b = BUF_INIT;
	imap_capabilities(s, &b);
	imap_ok(s, "[CAPABILITY %s] Logged in", buf_cstr(&b));
	buf_free(&b);
}

static void
cmd_login(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 2 || !imap_arg_is_astring(&args[0]) ||
	    !imap_arg_is_astring(&args[1])) {
		imap_bad(s, "LOGIN needs a user name and a password");
		return;
	}
	if (strlen(args[0].str) != args[0].len || args[0].len > ADDRESS_MAX ||
	    strlen(args[1].str) != args[1].len || args[1].len > PASSWORD_MAX) {
		imap_no(s, "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	char session[32];
	struct login_params lp = login_params(s, session, sizeof session);
	struct store_user u;
	enum login_status r = login_password(s->st, &lp, args[0].str, args[1].str, &u);
	if (r == LOGIN_OK)
		logged_in(s, &u);
	else
		login_refused(s, r, NULL);
}

static void
cmd_authenticate(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n < 1 || n > 2 || !imap_arg_is_atom(&args[0]) ||
	    (n == 2 && !imap_arg_is_astring(&args[1]))) {
		imap_bad(s, "AUTHENTICATE needs a mechanism");
		return;
	}
	char session[32];
	struct login_params lp = login_params(s, session, sizeof session);
	struct login *login = login_new(s->st, args[0].str, &lp);
	if (login == NULL) {
		imap_no(s, "Unsupported authentication mechanism.");
		return;
	}
	const char *challenge, *err = NULL;
	/* RFC 4959: an initial response in the command, "=" for empty */
	enum login_status r = login_step(login, n == 2 ? args[1].str : NULL, &challenge, &err);
	while (r == LOGIN_CONTINUE) {
		imap_printf(s, "+ %s\r\n", challenge);
		const char *line;
		size_t len;
		enum conn_result cr = conn_read_line(s->c, SASL_LINE_MAX, &line, &len);
		if (cr == CONN_TOOLONG) {
			login_free(&login);
			imap_bad(s, "Authentication line too long");
			return;
		}
		if (cr != CONN_OK) {
			login_free(&login);
			imap_session_set_state(s, IMAP_STATE_LOGOUT);
			s->reply = IMAP_REPLY_NONE;
			return;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		char *resp = xstrndup(line, len);
		if (strcmp(resp, "*") == 0) {
			free(resp);
			login_free(&login);
			/* RFC 3501 §6.2.2: a cancelled exchange is BAD */
			imap_bad(s, "Authentication cancelled");
			return;
		}
		r = login_step(login, resp, &challenge, &err);
		explicit_bzero(resp, len);
		free(resp);
	}
	if (r == LOGIN_OK) {
		struct store_user u;
		login_take_user(login, &u);
		logged_in(s, &u);
	} else {
		login_refused(s, r, err);
	}
	login_free(&login);
}

/* RFC 8437: back to the not-authenticated state, as if newly connected
 * (TLS stays); the session forgets its user, mailbox and ENABLEs. */
static void
cmd_unauthenticate(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 0) {
		imap_bad(s, "UNAUTHENTICATE takes no arguments");
		return;
	}
	log_info("imap[%llu] unauthenticate user=%s", (unsigned long long)s->id,
		 s->user);
	imap_session_set_state(s, IMAP_STATE_NOT_AUTHENTICATED);
	free(s->user);
	s->user = NULL;
	s->user_id = 0;
	s->enabled = 0;
	imap_parser_set_limits(s->parser, &prelogin_limits);
	conn_set_timeout(s->c, (int)s->cfg->imap_prelogin_timeout * 1000);
	imap_ok(s, "Unauthenticate completed.");
}

/* ---- the dispatcher ----------------------------------------------------- */

static const struct imap_command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (str_eq_nocase(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

/* RFC 3501 §9: tag = 1*<any ASTRING-CHAR except "+"> */
static bool
tag_valid(const struct imap_arg *a)
{
	if (!imap_arg_is_atom(a) || a->len == 0)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		char c = a->str[i];
		if (c == '+' || c == '*' || c == '%')
			return false;
	}
	return true;
}

static void
write_tagged(struct imap_session *s)
{
	static const char *const words[] = { "", "OK", "NO", "BAD" };
	if (s->reply == IMAP_REPLY_NONE)
		return;
	imap_printf(s, "%s %s %s\r\n", s->tag, words[s->reply],
		    buf_cstr(&s->reply_text));
}

/* Counts errors and writes the tagged reply. */
static void
reply_done(struct imap_session *s)
{
	if (s->reply == IMAP_REPLY_BAD)
		s->errors++;
	else if (s->reply != IMAP_REPLY_NONE)
		s->errors = 0;
	write_tagged(s);
}

/* The end of a command that ran. */
static void
command_done(struct imap_session *s)
{
	/* untagged updates go out before the tagged reply of any command */
	if (s->state == IMAP_STATE_SELECTED && s->reply != IMAP_REPLY_NONE)
		imap_view_sync(s);
	s->sync_may_skip = false;
	reply_done(s);
}

static void
dispatch(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	s->reply = IMAP_REPLY_NONE;
	s->uid_cmd = false;
	if (n == 0) {
		imap_printf(s, "* BAD Empty command line\r\n");
		s->errors++;
		return;
	}
	if (!tag_valid(&args[0])) {
		imap_printf(s, "* BAD Invalid tag\r\n");
		s->errors++;
		return;
	}
	s->tag = args[0].str;
	if (n < 2 || !imap_arg_is_atom(&args[1])) {
		imap_bad(s, "Missing command");
		goto done;
	}
	const char *name = args[1].str;
	size_t first = 2;
	if (str_eq_nocase(name, "UID")) {
		if (n < 3 || !imap_arg_is_atom(&args[2])) {
			imap_bad(s, "UID needs a command");
			goto done;
		}
		name = args[2].str;
		first = 3;
		s->uid_cmd = true;
	}
	const struct imap_command *cmd = find_command(name);
	if (cmd == NULL || (s->uid_cmd && !(cmd->flags & CMD_UID))) {
		imap_bad(s, "Unknown command %s", esc_str(name));
		goto done;
	}
	if ((cmd->flags & CMD_NOAUTH) && s->state != IMAP_STATE_NOT_AUTHENTICATED) {
		imap_bad(s, "Already authenticated");
		goto done;
	}
	if ((cmd->flags & CMD_AUTH) && s->state == IMAP_STATE_NOT_AUTHENTICATED) {
		imap_bad(s, "Log in first");
		goto done;
	}
	if ((cmd->flags & CMD_SELECTED) && s->state != IMAP_STATE_SELECTED) {
		imap_bad(s, "No mailbox selected");
		goto done;
	}
	/* RFC 3501 §6.2.3 / §11.1 and RFC 8314: no plaintext passwords outside
	 * TLS (the administrator may allow loopback); written here only */
	if ((cmd->flags & CMD_NEEDS_PRIVACY) && !login_allowed(s)) {
		imap_no(s, "[PRIVACYREQUIRED] Plaintext authentication disallowed"
			" on non-secure connections.");
		goto done;
	}
	/* RFC 3501 §7.4.1: no EXPUNGE while a FETCH, STORE or SEARCH is in
	 * progress (the UID forms may have them, RFC 3501 §7.4.1 note) */
	s->allow_expunge = !(cmd->flags & CMD_NO_EXPUNGE) || s->uid_cmd;
	/* NOOP and CHECK are how a client asks for news, another process's
	 * too (imap_view_sync()) */
	s->sync_may_skip = !(cmd->flags & CMD_SYNC_FULL);
	/* RFC 5182 §2.1: "$" for the saved search result (esearch.c) */
	bool res_empty = false;
	struct imap_arg *res_args = (cmd->flags & CMD_SELECTED) ?
		imap_searchres_expand(s, cmd->name, args + first, n - first,
				      &res_empty) : NULL;
	if (res_empty)
		imap_ok(s, "No messages in the saved result.");
	else
		cmd->fn(s, res_args != NULL ? res_args : args + first, n - first);
	imap_searchres_args_free(&res_args);
	if (s->parked)
		return;		/* finished by session_resume() */
	command_done(s);
	return;
done:
	reply_done(s);
}

/* Whether the literal now announced is an APPEND message (streamed to a
 * blob): "tag APPEND mailbox [flags] [date] {n}". */
static bool
literal_is_append_message(const struct imap_session *s)
{
	size_t n;
	const struct imap_arg *args = imap_parser_args(s->parser, &n);
	return s->state != IMAP_STATE_NOT_AUTHENTICATED && n >= 3 &&
	       imap_arg_atom_eq(&args[1], "APPEND");
}

/* The tag of the command being parsed, for replies before it has run. */
static const char *
parser_tag(const struct imap_session *s)
{
	size_t n;
	const struct imap_arg *args = imap_parser_args(s->parser, &n);
	return n > 0 && tag_valid(&args[0]) ? args[0].str : "*";
}

/* The parser reported a limit passed: the command is refused, and the
 * parser skips its rest. */
static void
refuse_over_limit(struct imap_session *s, const char *why)
{
	/* RFC 5530 §3: LIMIT, an implementation limit */
	imap_printf(s, "%s BAD [LIMIT] Command refused: %s\r\n", parser_tag(s),
		    why);
	s->errors++;
}

/* The end of a command that did not run. */
static void
command_dropped(struct imap_session *s)
{
	imap_parser_reset(s->parser);
	imap_append_reset(s);
}

/* Reads the size bytes of a literal the parser has accepted from the
 * connection into the parser (which keeps them, or throws them away while
 * skipping a refused command).  0, or -1 when the connection broke. */
static int
feed_literal(struct imap_session *s, uint64_t size)
{
	char tmp[8192];
	uint64_t left = size;
	while (left > 0) {
		size_t want = left < sizeof tmp ? (size_t)left : sizeof tmp;
		ssize_t got = conn_read(s->c, tmp, want);
		if (got <= 0)
			return -1;
		size_t used;
		const char *err;
		if (imap_parser_feed(s->parser, tmp, (size_t)got, &used, &err) ==
		    IMAP_PARSE_ERROR) {
			/* only a limit can be passed by a literal's bytes (by
			 * the argument it ends) */
			if (!imap_parser_skipping(s->parser) || used != (size_t)got)
				panic("imap parser refused an accepted literal: %s", err);
			refuse_over_limit(s, err);
		}
		left -= (uint64_t)got;
	}
	return 0;
}

/*
 * A literal of a command that was refused part-way (its tagged reply is
 * written).  A synchronising one ends the command: the client has had its
 * reply instead of "+" and sends no literal (RFC 3501 §7.5).  A
 * non-synchronising one is on its way whatever the server says
 * (RFC 7888 §4): it is read and thrown away, so that nothing in it is taken
 * for a command; one too large for that ends the session, as Dovecot does.
 * Returns 0 to go on parsing (or with the next command), -1 when the
 * session ends.
 */
static int
skip_literal(struct imap_session *s, uint64_t size, bool sync)
{
	if (sync) {
		command_dropped(s);
		return 0;
	}
	if (imap_parser_literal_accept(s->parser) < 0) {
		log_info("imap[%llu] literal too large to skip size=%llu ip=%s",
			 (unsigned long long)s->id, (unsigned long long)size,
			 conn_peer_ip(s->c));
		imap_printf(s, "* BYE Literal too large, closing the connection\r\n");
		imap_session_set_state(s, IMAP_STATE_LOGOUT);
		return -1;
	}
	return feed_literal(s, size);
}

/* Handles an announced literal.  Returns 0 to go on parsing (or with the
 * next command), -1 when the session ends. */
static int
handle_literal(struct imap_session *s)
{
	uint64_t size;
	bool sync;
	imap_parser_literal(s->parser, &size, &sync);
	if (imap_parser_skipping(s->parser))
		return skip_literal(s, size, sync);

	const char *tag = parser_tag(s);
	if (literal_is_append_message(s)) {
		int ar = imap_append_literal(s, tag, size, sync,
					     imap_parser_literal_binary(s->parser));
		if (ar < 0)
			return -1;
		if (ar == 0) {
			imap_parser_literal_streamed(s->parser);
			return 0;
		}
		/* refused: the tagged NO is written */
	} else if (imap_parser_literal_accept(s->parser) == 0) {
		if (sync) {
			imap_printf(s, "+ OK\r\n");
			if (conn_flush(s->c) < 0)
				return -1;
		}
		/* the literal's bytes straight from the connection */
		return feed_literal(s, size);
	} else {
		/* RFC 7888 §4 / RFC 3501 §7.5: refuse before the continuation
		 * is sent, so none of the literal is buffered: over the
		 * literal's own limit or over what the command may hold */
		imap_printf(s, "%s BAD [TOOBIG] Literal too large\r\n", tag);
	}
	s->errors++;
	imap_parser_skip(s->parser);
	return skip_literal(s, size, sync);
}

static int wait_park(struct imap_session *s);

/* Reads and runs commands until LOGOUT, an error, or too many errors, or
 * until a command parked the session, or the session parked while it waited
 * for its next command. */
static void
command_loop(struct imap_session *s)
{
	while (s->state != IMAP_STATE_LOGOUT) {
		if (s->errors >= s->cfg->errors) {
			imap_printf(s, "* BYE Too many invalid commands\r\n");
			break;
		}
		const char *line;
		size_t len;
		/* between commands, a session that has heard nothing for a
		 * while gives up its thread (and its store handle) */
		if (!imap_parser_pending(s->parser) &&
		    conn_wait(s->c, -1, IMAP_PARK_AFTER_MS) == 0 &&
		    !conn_stop_requested(s->c)) {
			/* the autologout counts from the last command */
			s->wait_deadline_ms = imap_now_ms() - IMAP_PARK_AFTER_MS +
					      conn_get_timeout(s->c);
			if (wait_park(s) == 0)
				return;
		}
		/* waiting for a command, the session is told goodbye at once
		 * when the daemon stops; with part of one read (an APPEND under
		 * way) it finishes it first, within the grace */
		enum conn_result r = imap_parser_pending(s->parser) ?
			conn_read_line(s->c, IMAP_LINE_MAX + 2, &line, &len) :
			conn_read_command(s->c, IMAP_LINE_MAX + 2, &line, &len);
		if (r == CONN_STOPPED) {
			/* RFC 3501 §7.1.5 */
			imap_printf(s, "* BYE Server shutting down.\r\n");
			break;
		}
		if (r == CONN_EOF)
			break;
		if (r == CONN_ERROR) {
			/* RFC 3501 §5.4: the autologout timer */
			imap_printf(s, "* BYE Autologout; idle for too long\r\n");
			break;
		}
		if (r == CONN_TOOLONG) {
			imap_printf(s, "* BAD Command line too long\r\n");
			command_dropped(s);
			s->errors++;
			continue;
		}
		size_t pos = 0;
		while (pos < len && s->state != IMAP_STATE_LOGOUT) {
			size_t used;
			const char *err;
			enum imap_parse_result pr = imap_parser_feed(
				s->parser, line + pos, len - pos, &used, &err);
			pos += used;
			if (pr == IMAP_PARSE_NEED_MORE)
				break;
			if (pr == IMAP_PARSE_ERROR) {
				if (imap_parser_skipping(s->parser)) {
					/* a limit: the rest of the command is
					 * parsed, and dropped */
					refuse_over_limit(s, err);
					continue;
				}
				imap_printf(s, "%s BAD Syntax error: %s\r\n",
					    parser_tag(s), err);
				s->errors++;
				command_dropped(s);
				break;
			}
			if (pr == IMAP_PARSE_SKIPPED) {
				command_dropped(s);
				continue;
			}
			if (pr == IMAP_PARSE_LITERAL) {
				/* the conn's line buffer is reused by reads of
				 * the literal: the header ended the line */
				if (handle_literal(s) < 0)
					return;
				break;
			}
			/* complete */
			size_t n;
			const struct imap_arg *args = imap_parser_args(s->parser, &n);
			dispatch(s, args, n);
			imap_parser_reset(s->parser);
			imap_append_reset(s);
			s->tag = NULL;
			/* a parked command ended its line (IDLE has no
			 * arguments): nothing of it is left to parse */
			if (s->parked)
				return;
		}
		if (conn_flush(s->c) < 0)
			break;
	}
}

/* The session is over: frees everything it holds, c included. */
static void
session_free(struct imap_session *s)
{
	struct conn *c = s->c;

	conn_flush(c);
	log_debug("imap[%llu] disconnect user=%s", (unsigned long long)s->id,
		  s->user ? s->user : "-");
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	imap_view_free(&s->view);
	imap_append_reset(s);
	free(s->appends);
	imap_parser_free(&s->parser);
	store_close(&s->st);
	free(s->user);
	free(s->parked_tag);
	buf_free(&s->reply_text);
	conn_free(&c);
	free(s);
}

/* listener_resume_fn: a parked command goes on in a new thread; once it is
 * over, so is the rest of the session (unless it parks again). */
static void
session_resume(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	(void)c;
	s->parked = false;
	if (imap_idle_resume(s))
		return;
	s->tag = s->parked_tag;
	command_done(s);
	s->tag = NULL;
	free(s->parked_tag);
	s->parked_tag = NULL;
	if (conn_flush(s->c) == 0) {
		command_loop(s);
		if (s->parked)
			return;
	}
	session_free(s);
}

int64_t
imap_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* listener_resume_fn of a session parked between commands: the client sent
 * something, the autologout time came, or the daemon is stopping. */
static void
session_resume_wait(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	(void)c;
	s->parked = false;
	int w = conn_wait(s->c, -1, 0);
	if (w == 0 && !conn_stop_requested(s->c)) {
		if (imap_now_ms() >= s->wait_deadline_ms) {
			/* RFC 3501 §5.4: the autologout timer */
			imap_printf(s, "* BYE Autologout; idle for too long\r\n");
			session_free(s);
			return;
		}
		if (wait_park(s) == 0)
			return;
	}
	/* a stop is said goodbye to by the loop's read */
	if (imap_store_reopen(s) == 0) {
		command_loop(s);
		if (s->parked)
			return;
	}
	session_free(s);
}

/*
 * Parks a session that waits for its next command (the caller saw nothing
 * to read for IMAP_PARK_AFTER_MS): its thread ends, and so does its store
 * handle (SQLite's schema and statement cache cost more than the rest of the
 * session), until the client sends something; the autologout time goes on
 * counting from the last command.  0, or -1 when it cannot be parked.
 */
static int
wait_park(struct imap_session *s)
{
	int64_t left = s->wait_deadline_ms - imap_now_ms();
	if (left < 0)
		left = 0;
	if (listener_park(s->c, -1, (int)left, session_resume_wait, s) < 0)
		return -1;
	s->parked = true;
	store_close(&s->st);
	imap_view_drop_rows(s->view);
	/* give what the handle used back to the system, not only to this
	 * thread's malloc arena */
	malloc_trim(0);
	return 0;
}

int
imap_session_park(struct imap_session *s, int wake_fd, int timeout_ms)
{
	if (listener_park(s->c, wake_fd, timeout_ms, session_resume, s) < 0)
		return -1;
	/* the parser's copy goes with the command line */
	if (s->parked_tag == NULL)
		s->parked_tag = xstrdup(s->tag);
	s->parked = true;
	return 0;
}

void
imap_session_run(struct conn *c, void *ctx)
{
	const struct imap_listener *lst = ctx;
	/* on the heap: a parked session outlives this thread */
	struct imap_session *s = xcalloc(1, sizeof *s);
	const char *err;

	s->c = c;
	s->lst = lst;
	s->cfg = lst->cfg;
	s->id = conn_id(c);
	s->state = IMAP_STATE_NOT_AUTHENTICATED;
	buf_init(&s->reply_text, 4096);
	conn_set_timeout(c, (int)s->cfg->imap_prelogin_timeout * 1000);

	if (store_open(s->cfg->data_dir, &s->st, &err) != STORE_OK) {
		log_error("imap[%llu] cannot open the store: %s",
			  (unsigned long long)s->id, err);
		conn_puts(c, "* BYE [UNAVAILABLE] Temporary failure\r\n");
		conn_flush(c);
		conn_free(&c);
		buf_free(&s->reply_text);
		free(s);
		return;
	}
	s->parser = imap_parser_new(&prelogin_limits);
	log_debug("imap[%llu] connect ip=%s tls=%s", (unsigned long long)s->id,
		  conn_peer_ip(c), conn_tls_version(c));

	struct buf caps = BUF_INIT;
	imap_capabilities(s, &caps);
	imap_printf(s, "* OK [CAPABILITY %s] mailhub ready.\r\n", buf_cstr(&caps));
	buf_free(&caps);
	if (conn_flush(c) == 0) {
		command_loop(s);
		if (s->parked)
			return;
	}
	session_free(s);
}

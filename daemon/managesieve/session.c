/* The ManageSieve session: see session.h. */
#include "managesieve/session.h"

#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xmalloc.h"
#include "managesieve/parser.h"
#include "sieve/cache.h"
#include "sieve/sieve.h"
#include "store/login.h"
#include "store/sieve_store.h"
#include "store/store.h"

/* The longest line of a command outside its literals: two quoted strings
 * of RFC 5804's 1024 octets and the command's name. */
#define MSIEVE_LINE_MAX 4096
/* SASL PLAIN and LOGIN need at most two responses, SCRAM three. */
#define SASL_ROUNDS_MAX 4

struct msieve_session {
	struct conn *c;
	const struct config *cfg;
	uint64_t id;
	char prefix[40];	/* "managesieve[12]": log lines, login */
	enum managesieve_state state;
	struct store *st;
	unsigned errors;	/* protocol errors (cfg->errors ends it) */
	bool quit;
	struct store_user user;	/* AUTH */
	struct buf in;		/* the command being read */
};

typedef void msieve_cmd_fn(struct msieve_session *s, struct msieve_command *cmd);

/* Gating flags of a command table entry, enforced by dispatch() alone. */
enum msieve_cmd_flags {
	CMD_NEEDS_PRIVACY = 1 << 0,	/* credentials: TLS (or loopback) */
	CMD_NEEDS_PLAINTEXT = 1 << 1,	/* STARTTLS: not under TLS yet */
};

struct msieve_cmd_entry {
	enum msieve_verb verb;
	msieve_cmd_fn *fn;
	unsigned flags;
};

static const char *const state_names[MANAGESIEVE_STATE_COUNT] = {
	[MANAGESIEVE_STATE_NONAUTH] = "NONAUTH",
	[MANAGESIEVE_STATE_AUTH] = "AUTH",
};

const char *
managesieve_state_name(enum managesieve_state state)
{
	if ((unsigned)state >= MANAGESIEVE_STATE_COUNT)
		return "?";
	return state_names[state];
}

/* The one place where a session changes state. */
static void
set_state(struct msieve_session *s, enum managesieve_state state)
{
	log_debug("%s state %s -> %s", s->prefix, managesieve_state_name(s->state),
		  managesieve_state_name(state));
	s->state = state;
}

/* ---- replies ---------------------------------------------------------------- */

/* A string as RFC 5804 §4 lets the server send it: quoted when it can be,
 * otherwise a literal ("{N}" CRLF octets).  Line ends become CRLF. */
static void
put_string(struct msieve_session *s, const char *p, size_t len)
{
	bool quotable = len <= MSIEVE_QUOTED_MAX;
	for (size_t i = 0; quotable && i < len; i++)
		quotable = p[i] != '\r' && p[i] != '\n' && p[i] != '\0';
	if (quotable) {
		(void)conn_puts(s->c, "\"");
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '"' || p[i] == '\\')
				(void)conn_write(s->c, "\\", 1);
			(void)conn_write(s->c, &p[i], 1);
		}
		(void)conn_puts(s->c, "\"");
		return;
	}
	(void)conn_printf(s->c, "{%zu}\r\n", len);
	(void)conn_write(s->c, p, len);
}

/* OK, NO or BYE with an optional response code and text (RFC 5804 §1.2). */
static void
respond(struct msieve_session *s, const char *kind, const char *code, const char *text)
{
	(void)conn_puts(s->c, kind);
	if (code != NULL)
		(void)conn_printf(s->c, " (%s)", code);
	if (text != NULL) {
		(void)conn_puts(s->c, " ");
		put_string(s, text, strlen(text));
	}
	(void)conn_puts(s->c, "\r\n");
}

/* A NO for a protocol error: counts towards cfg->errors. */
static void
reply_error(struct msieve_session *s, const char *text)
{
	s->errors++;
	respond(s, "NO", NULL, text);
}

/* NO for a store failure that may pass (RFC 5804 §1.3 TRYLATER). */
static void
reply_store_error(struct msieve_session *s, const char *what, const char *error)
{
	log_error("%s %s failed user=%s error=%s", s->prefix, what,
		  esc_str(s->user.address), esc_str(error));
	respond(s, "NO", "TRYLATER", "the mail store is unavailable, try again later");
}

/* Credentials may be sent: under TLS, or from loopback when configured. */
static bool
privacy_ok(const struct msieve_session *s)
{
	if (conn_is_tls(s->c))
		return true;
	return s->cfg->plaintext_on_loopback && conn_is_loopback(s->c);
}

static bool
starttls_available(const struct msieve_session *s)
{
	if (conn_is_tls(s->c))
		return false;
	SSL_CTX *ctx = tls_server_ctx();
	if (ctx == NULL)
		return false;
	SSL_CTX_free(ctx);
	return true;
}

/* RFC 5804 §1.7: the capability lines, then OK. */
static void
send_capability(struct msieve_session *s)
{
	(void)conn_puts(s->c, "\"IMPLEMENTATION\" \"mailhub\"\r\n");
	(void)conn_printf(s->c, "\"SIEVE\" \"%s\"\r\n", sieve_capability);
	(void)conn_puts(s->c, "\"NOTIFY\" \"mailto\"\r\n");
	(void)conn_printf(s->c, "\"MAXREDIRECTS\" \"%d\"\r\n", SIEVE_MAX_REDIRECTS);
	/* §1.7: the mechanisms usable now; none in clear text, so that no
	 * client is invited to send a password unprotected */
	(void)conn_puts(s->c, "\"SASL\" \"");
	if (s->state == MANAGESIEVE_STATE_NONAUTH && privacy_ok(s)) {
		const char *sep = "";
		for (const char *const *m = login_mechanisms(s->c); *m != NULL; m++) {
			(void)conn_printf(s->c, "%s%s", sep, *m);
			sep = " ";
		}
	}
	(void)conn_puts(s->c, "\"\r\n");
	if (s->state == MANAGESIEVE_STATE_NONAUTH && starttls_available(s))
		(void)conn_puts(s->c, "\"STARTTLS\"\r\n");
	if (s->state == MANAGESIEVE_STATE_AUTH) {
		(void)conn_puts(s->c, "\"OWNER\" ");
		put_string(s, s->user.address, strlen(s->user.address));
		(void)conn_puts(s->c, "\r\n");
	}
	(void)conn_puts(s->c, "\"UNAUTHENTICATE\"\r\n");
	(void)conn_puts(s->c, "\"VERSION\" \"1.0\"\r\n");
	respond(s, "OK", NULL, NULL);
}

/* ---- reading a command ------------------------------------------------------ */

enum read_result {
	READ_OK,	/* *cmd filled */
	READ_BAD,	/* answered (a syntax error or a literal too big) */
	READ_END,	/* the connection ended or the daemon stops: quit */
};

/* Skips n octets of a literal the session refused, then the rest of its
 * line.  0, or -1 when the connection failed. */
static int
skip_literal(struct msieve_session *s, size_t n)
{
	char scratch[4096];
	const char *p;
	size_t len;

	while (n > 0) {
		size_t chunk = n < sizeof scratch ? n : sizeof scratch;
		if (conn_read_exact(s->c, scratch, chunk) != CONN_OK)
			return -1;
		n -= chunk;
	}
	do {
		if (conn_read_line_part(s->c, MSIEVE_LINE_MAX, &p, &len) != CONN_OK)
			return -1;
	} while (len == 0 || p[len - 1] != '\n');
	return 0;
}

/*
 * Reads one command (mode MSIEVE_PARSE_COMMAND) or SASL response, with its
 * literals, into *cmd.  Syntax errors and refused literals are answered
 * here.
 */
static enum read_result
read_command(struct msieve_session *s, enum msieve_parse_mode mode,
	     struct msieve_command *cmd)
{
	size_t literal_max = s->state == MANAGESIEVE_STATE_AUTH
		? SIEVE_SCRIPT_MAX : SASL_LINE_MAX;
	bool first = true;

	buf_reset(&s->in);
	for (;;) {
		const char *line, *error = NULL;
		size_t len, used, need;
		enum conn_result cr = first && mode == MSIEVE_PARSE_COMMAND
			? conn_read_command(s->c, MSIEVE_LINE_MAX, &line, &len)
			: conn_read_line(s->c, MSIEVE_LINE_MAX, &line, &len);
		first = false;
		if (cr == CONN_STOPPED) {
			/* RFC 5804 §1.3: BYE, and TRYLATER for a passing cause */
			respond(s, "BYE", "TRYLATER", "server shutting down");
			log_info("%s disconnected state=%s reason=shutdown", s->prefix,
				 managesieve_state_name(s->state));
			return READ_END;
		}
		if (cr == CONN_EOF || cr == CONN_ERROR) {
			log_info("%s disconnected state=%s reason=%s", s->prefix,
				 managesieve_state_name(s->state),
				 cr == CONN_EOF ? "closed by peer" : esc_str(conn_error(s->c)));
			return READ_END;
		}
		if (cr == CONN_TOOLONG) {
			reply_error(s, "line too long");
			return READ_BAD;
		}
		if (buf_append(&s->in, line, len) < 0) {
			respond(s, "BYE", NULL, "command too long");
			return READ_END;
		}
		for (;;) {
			enum msieve_parse_result pr = msieve_parse(
				s->in.data, s->in.len, mode, literal_max, cmd,
				&used, &need, &error);
			if (pr == MSIEVE_PARSE_OK)
				return READ_OK;
			if (pr == MSIEVE_PARSE_ERROR) {
				reply_error(s, error);
				return READ_BAD;
			}
			if (pr == MSIEVE_PARSE_TOOBIG) {
				if (skip_literal(s, need) < 0)
					return READ_END;
				/* RFC 5804 §1.3 QUOTA/MAXSIZE */
				s->errors++;
				respond(s, "NO", "QUOTA/MAXSIZE", "too big");
				return READ_BAD;
			}
			if (need == 0)
				break;	/* a line more */
			char *dst = buf_reserve(&s->in, need);
			if (dst == NULL) {
				respond(s, "BYE", NULL, "command too long");
				return READ_END;
			}
			if (conn_read_exact(s->c, dst, need) != CONN_OK)
				return READ_END;
			buf_commit(&s->in, need);
		}
	}
}

/* ---- NONAUTH ---------------------------------------------------------------- */

/* RFC 5804 §2.4 CAPABILITY */
static void
cmd_capability(struct msieve_session *s, struct msieve_command *cmd)
{
	send_capability(s);
}

/* RFC 5804 §2.2 STARTTLS */
static void
cmd_starttls(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *error = NULL;
	SSL_CTX *ctx = tls_server_ctx();

	if (ctx == NULL) {
		reply_error(s, "TLS is not available");
		return;
	}
	respond(s, "OK", NULL, "begin TLS negotiation now");
	if (conn_flush(s->c) < 0 || conn_starttls_server(s->c, ctx, &error) < 0) {
		log_info("%s STARTTLS failed ip=%s error=%s", s->prefix,
			 conn_peer_ip(s->c), esc_str(error != NULL ? error : "write failed"));
		s->quit = true;
		SSL_CTX_free(ctx);
		return;
	}
	SSL_CTX_free(ctx);
	/* RFC 5804 §2.2: the capabilities again, as they are under TLS */
	send_capability(s);
}

/* The answer to a login that did not succeed. */
static void
login_refused(struct msieve_session *s, enum login_status r, const char *error)
{
	switch (r) {
	case LOGIN_BLOCKED:
		s->errors++;
		respond(s, "NO", "TRYLATER", "too many failed logins, try again later");
		break;
	case LOGIN_TRYLATER:
		respond(s, "NO", "TRYLATER", "temporary failure, try again later");
		break;
	case LOGIN_AUTHZ:
		reply_error(s, "authorization identity not allowed");
		break;
	case LOGIN_MALFORMED:
		reply_error(s, error != NULL ? error : "malformed authentication exchange");
		break;
	default:
		reply_error(s, "authentication failed");
		break;
	}
}

/* RFC 5804 §2.1 AUTHENTICATE mechanism [initial-response] */
static void
cmd_authenticate(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *challenge = NULL, *error = NULL;
	struct login_params lp = { .protocol = "managesieve", .session = s->prefix,
				   .ip = conn_peer_ip(s->c), .conn = s->c };
	enum login_status r;

	struct login *login = login_new(s->st, cmd->args[0].str, &lp);
	if (login == NULL) {
		reply_error(s, "unsupported authentication mechanism");
		return;
	}
	const char *initial = NULL;
	if (cmd->n_args > 1)
		/* an empty initial response is "=" to the SASL code (RFC 4954 §4) */
		initial = cmd->args[1].len == 0 ? "=" : cmd->args[1].str;
	r = login_step(login, initial, &challenge, &error);
	for (unsigned round = 0; r == LOGIN_CONTINUE; round++) {
		struct msieve_command resp;
		if (round == SASL_ROUNDS_MAX) {
			r = LOGIN_MALFORMED;
			error = "too many rounds";
			break;
		}
		/* §2.1: a challenge is a string on its own line */
		put_string(s, challenge, strlen(challenge));
		(void)conn_puts(s->c, "\r\n");
		enum read_result rr = read_command(s, MSIEVE_PARSE_RESPONSE, &resp);
		if (rr == READ_END) {
			s->quit = true;
			login_free(&login);
			return;
		}
		if (rr == READ_BAD) {
			/* answered already; the exchange is over */
			login_free(&login);
			return;
		}
		if (strlen(resp.args[0].str) != resp.args[0].len) {
			msieve_command_clear(&resp);
			r = LOGIN_MALFORMED;
			error = "NUL in a SASL response";
			break;
		}
		/* §2.1: "*" cancels; login_step() takes it as the SASL code's
		 * cancel; an empty response stays empty */
		r = login_step(login, resp.args[0].str, &challenge, &error);
		msieve_command_clear(&resp);
	}
	if (r == LOGIN_OK) {
		login_take_user(login, &s->user);
		set_state(s, MANAGESIEVE_STATE_AUTH);
		log_info("%s login user=%s ip=%s tls=%s method=%s", s->prefix,
			 esc_str(s->user.address), conn_peer_ip(s->c),
			 conn_tls_version(s->c), esc_str(cmd->args[0].str));
		respond(s, "OK", NULL, "logged in");
	} else {
		login_refused(s, r, error);
	}
	login_free(&login);
}

/* RFC 5804 §2.3 LOGOUT */
static void
cmd_logout(struct msieve_session *s, struct msieve_command *cmd)
{
	respond(s, "OK", NULL, "logout completed");
	if (s->state == MANAGESIEVE_STATE_AUTH)
		log_info("%s logout user=%s", s->prefix, esc_str(s->user.address));
	s->quit = true;
}

/* RFC 5804 §2.11 NOOP [tag] */
static void
cmd_noop(struct msieve_session *s, struct msieve_command *cmd)
{
	if (cmd->n_args == 0) {
		respond(s, "OK", NULL, "done");
		return;
	}
	(void)conn_puts(s->c, "OK (TAG ");
	put_string(s, cmd->args[0].str, cmd->args[0].len);
	(void)conn_puts(s->c, ") \"done\"\r\n");
}

/* ---- AUTH ------------------------------------------------------------------- */

/* A script name from a command: valid per RFC 5804 §1.6, or answered. */
static bool
name_ok(struct msieve_session *s, const struct msieve_arg *a)
{
	if (strlen(a->str) != a->len || !store_sieve_name_valid(a->str)) {
		reply_error(s, "invalid script name");
		return false;
	}
	return true;
}

/* Compiles a script; false with the compiler's errors answered as NO
 * (RFC 5804 §2.6: the reason is for a human, line numbers included). */
static bool
script_compiles(struct msieve_session *s, const struct msieve_arg *a)
{
	struct buf errors = BUF_INIT;
	struct sieve_script *script = NULL;

	if (strlen(a->str) != a->len) {
		respond(s, "NO", NULL, "line 1: error: NUL character in the script");
		return false;
	}
	if (sieve_compile(a->str, a->len, &script, &errors) == 0) {
		sieve_script_free(&script);
		buf_free(&errors);
		return true;
	}
	size_t len = errors.len;
	while (len > 0 && (errors.data[len - 1] == '\n' || errors.data[len - 1] == '\r'))
		len--;
	(void)conn_puts(s->c, "NO ");
	if (len == 0)
		put_string(s, "the script has errors", strlen("the script has errors"));
	else
		put_string(s, errors.data, len);
	(void)conn_puts(s->c, "\r\n");
	buf_free(&errors);
	return false;
}

/* Whether the user has a script of that name; -1 after a store error. */
static int
script_exists(struct msieve_session *s, const char *name, size_t *count_r)
{
	struct store_sieve_script *list = NULL;
	const char *error = NULL;
	size_t n = 0;
	int found = 0;

	if (store_sieve_list(s->st, s->user.id, &list, &n, &error) != STORE_OK) {
		reply_store_error(s, "list", error);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			found = 1;
	store_sieve_list_free(&list, n);
	*count_r = n;
	return found;
}

/* RFC 5804 §2.5 HAVESPACE name size */
static void
cmd_havespace(struct msieve_session *s, struct msieve_command *cmd)
{
	size_t count;

	if (!name_ok(s, &cmd->args[0]))
		return;
	if (cmd->args[1].number > SIEVE_SCRIPT_MAX) {
		respond(s, "NO", "QUOTA/MAXSIZE", "the script is too big");
		return;
	}
	int found = script_exists(s, cmd->args[0].str, &count);
	if (found < 0)
		return;
	if (!found && count >= SIEVE_SCRIPTS_MAX) {
		respond(s, "NO", "QUOTA/MAXSCRIPTS", "too many scripts");
		return;
	}
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.6 PUTSCRIPT name content */
static void
cmd_putscript(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *error = NULL;

	if (!name_ok(s, &cmd->args[0]) || !script_compiles(s, &cmd->args[1]))
		return;
	int r = store_sieve_put(s->st, s->user.id, cmd->args[0].str, cmd->args[1].str,
				cmd->args[1].len, &error);
	sieve_cache_forget_user(s->user.id);
	if (r == STORE_OVERQUOTA) {
		respond(s, "NO", "QUOTA/MAXSCRIPTS", "too many scripts");
		return;
	}
	if (r == STORE_INVALID) {
		reply_error(s, "invalid script name");
		return;
	}
	if (r != STORE_OK) {
		reply_store_error(s, "put", error);
		return;
	}
	log_info("%s putscript user=%s name=%s size=%zu", s->prefix,
		 esc_str(s->user.address), esc_str(cmd->args[0].str), cmd->args[1].len);
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.12 CHECKSCRIPT content */
static void
cmd_checkscript(struct msieve_session *s, struct msieve_command *cmd)
{
	if (script_compiles(s, &cmd->args[0]))
		respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.7 LISTSCRIPTS */
static void
cmd_listscripts(struct msieve_session *s, struct msieve_command *cmd)
{
	struct store_sieve_script *list = NULL;
	const char *error = NULL;
	size_t n = 0;

	if (store_sieve_list(s->st, s->user.id, &list, &n, &error) != STORE_OK) {
		reply_store_error(s, "list", error);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		put_string(s, list[i].name, strlen(list[i].name));
		(void)conn_puts(s->c, list[i].active ? " ACTIVE\r\n" : "\r\n");
	}
	store_sieve_list_free(&list, n);
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.8 SETACTIVE name ("" deactivates) */
static void
cmd_setactive(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *error = NULL;
	const char *name = cmd->args[0].len == 0 ? NULL : cmd->args[0].str;

	if (name != NULL && !name_ok(s, &cmd->args[0]))
		return;
	int r = store_sieve_activate(s->st, s->user.id, name, &error);
	sieve_cache_forget_user(s->user.id);
	if (r == STORE_NOTFOUND) {
		respond(s, "NO", "NONEXISTENT", "there is no script of that name");
		return;
	}
	if (r != STORE_OK) {
		reply_store_error(s, "setactive", error);
		return;
	}
	log_info("%s setactive user=%s name=%s", s->prefix, esc_str(s->user.address),
		 name != NULL ? esc_str(name) : "-");
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.9 GETSCRIPT name */
static void
cmd_getscript(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *error = NULL;
	char *text = NULL;

	if (!name_ok(s, &cmd->args[0]))
		return;
	int r = store_sieve_get(s->st, s->user.id, cmd->args[0].str, &text, NULL, &error);
	if (r == STORE_NOTFOUND) {
		respond(s, "NO", "NONEXISTENT", "there is no script of that name");
		return;
	}
	if (r != STORE_OK) {
		reply_store_error(s, "getscript", error);
		return;
	}
	/* §2.9: the script is a literal, byte for byte as it was put */
	size_t len = strlen(text);
	(void)conn_printf(s->c, "{%zu}\r\n", len);
	(void)conn_write(s->c, text, len);
	(void)conn_puts(s->c, "\r\n");
	free(text);
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.10 DELETESCRIPT name */
static void
cmd_deletescript(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *error = NULL;

	if (!name_ok(s, &cmd->args[0]))
		return;
	int r = store_sieve_delete(s->st, s->user.id, cmd->args[0].str, &error);
	if (r == STORE_NOTFOUND) {
		respond(s, "NO", "NONEXISTENT", "there is no script of that name");
		return;
	}
	if (r == STORE_BUSY) {
		/* §2.10: the active script cannot be deleted */
		respond(s, "NO", "ACTIVE", "the script is active");
		return;
	}
	if (r != STORE_OK) {
		reply_store_error(s, "deletescript", error);
		return;
	}
	log_info("%s deletescript user=%s name=%s", s->prefix,
		 esc_str(s->user.address), esc_str(cmd->args[0].str));
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.11.1 RENAMESCRIPT old new */
static void
cmd_renamescript(struct msieve_session *s, struct msieve_command *cmd)
{
	const char *error = NULL;

	if (!name_ok(s, &cmd->args[0]) || !name_ok(s, &cmd->args[1]))
		return;
	int r = store_sieve_rename(s->st, s->user.id, cmd->args[0].str,
				   cmd->args[1].str, &error);
	if (r == STORE_NOTFOUND) {
		respond(s, "NO", "NONEXISTENT", "there is no script of that name");
		return;
	}
	if (r == STORE_EXISTS) {
		respond(s, "NO", "ALREADYEXISTS", "a script of the new name exists");
		return;
	}
	if (r != STORE_OK) {
		reply_store_error(s, "renamescript", error);
		return;
	}
	respond(s, "OK", NULL, NULL);
}

/* RFC 5804 §2.14.1 UNAUTHENTICATE: back to NONAUTH */
static void
cmd_unauthenticate(struct msieve_session *s, struct msieve_command *cmd)
{
	log_info("%s unauthenticate user=%s", s->prefix, esc_str(s->user.address));
	store_user_clear(&s->user);
	set_state(s, MANAGESIEVE_STATE_NONAUTH);
	respond(s, "OK", NULL, NULL);
}

/* ---- the command tables and the dispatcher ---------------------------------- */

static const struct msieve_cmd_entry nonauth_cmds[] = {
	{ MSIEVE_CMD_CAPABILITY, cmd_capability, 0 },
	{ MSIEVE_CMD_STARTTLS, cmd_starttls, CMD_NEEDS_PLAINTEXT },
	{ MSIEVE_CMD_AUTHENTICATE, cmd_authenticate, CMD_NEEDS_PRIVACY },
	{ MSIEVE_CMD_LOGOUT, cmd_logout, 0 },
	{ MSIEVE_CMD_NOOP, cmd_noop, 0 },
	{ MSIEVE_CMD_UNKNOWN, NULL, 0 },
};

static const struct msieve_cmd_entry auth_cmds[] = {
	{ MSIEVE_CMD_CAPABILITY, cmd_capability, 0 },
	{ MSIEVE_CMD_LOGOUT, cmd_logout, 0 },
	{ MSIEVE_CMD_NOOP, cmd_noop, 0 },
	{ MSIEVE_CMD_HAVESPACE, cmd_havespace, 0 },
	{ MSIEVE_CMD_PUTSCRIPT, cmd_putscript, 0 },
	{ MSIEVE_CMD_LISTSCRIPTS, cmd_listscripts, 0 },
	{ MSIEVE_CMD_SETACTIVE, cmd_setactive, 0 },
	{ MSIEVE_CMD_GETSCRIPT, cmd_getscript, 0 },
	{ MSIEVE_CMD_DELETESCRIPT, cmd_deletescript, 0 },
	{ MSIEVE_CMD_RENAMESCRIPT, cmd_renamescript, 0 },
	{ MSIEVE_CMD_CHECKSCRIPT, cmd_checkscript, 0 },
	{ MSIEVE_CMD_UNAUTHENTICATE, cmd_unauthenticate, 0 },
	{ MSIEVE_CMD_UNKNOWN, NULL, 0 },
};

static const struct msieve_cmd_entry *const state_cmds[MANAGESIEVE_STATE_COUNT] = {
	[MANAGESIEVE_STATE_NONAUTH] = nonauth_cmds,
	[MANAGESIEVE_STATE_AUTH] = auth_cmds,
};

static void
dispatch(struct msieve_session *s, struct msieve_command *cmd)
{
	const struct msieve_cmd_entry *e = state_cmds[s->state];

	while (e->fn != NULL && e->verb != cmd->verb)
		e++;
	if (e->fn == NULL) {
		if (cmd->verb == MSIEVE_CMD_UNKNOWN)
			reply_error(s, "unknown command");
		else
			reply_error(s, s->state == MANAGESIEVE_STATE_NONAUTH
				    ? "authenticate first" : "not allowed after login");
		return;
	}
	if ((e->flags & CMD_NEEDS_PRIVACY) && !privacy_ok(s)) {
		/* DESIGN.md: credentials only under TLS.  RFC 5804 §1.3
		 * ENCRYPT-NEEDED: "the operation requires ... encryption" */
		s->errors++;
		respond(s, "NO", "ENCRYPT-NEEDED", "use STARTTLS first");
		return;
	}
	if ((e->flags & CMD_NEEDS_PLAINTEXT) && conn_is_tls(s->c)) {
		reply_error(s, "TLS is already active");
		return;
	}
	e->fn(s, cmd);
}

/* ---- the session ------------------------------------------------------------ */

static void
session_loop(struct msieve_session *s)
{
	while (!s->quit) {
		struct msieve_command cmd;
		enum read_result r = read_command(s, MSIEVE_PARSE_COMMAND, &cmd);
		if (r == READ_END)
			return;
		if (r == READ_OK) {
			dispatch(s, &cmd);
			msieve_command_clear(&cmd);
		}
		if (!s->quit && s->errors >= s->cfg->errors) {
			respond(s, "BYE", NULL, "too many errors");
			log_info("%s too many errors ip=%s", s->prefix, conn_peer_ip(s->c));
			return;
		}
	}
}

void
managesieve_session_run(struct conn *c, void *ctx)
{
	const struct managesieve_listener *listener = ctx;
	struct msieve_session s;
	const char *error = NULL;

	memset(&s, 0, sizeof s);
	s.c = c;
	s.cfg = listener->cfg;
	s.id = conn_id(c);
	snprintf(s.prefix, sizeof s.prefix, "managesieve[%llu]", (unsigned long long)s.id);
	s.state = MANAGESIEVE_STATE_NONAUTH;
	/* a whole script and two lines around it, at most */
	buf_init(&s.in, SIEVE_SCRIPT_MAX + 4 * MSIEVE_LINE_MAX);
	conn_set_timeout(c, (int)s.cfg->managesieve_timeout * 1000);

	if (store_open(s.cfg->data_dir, &s.st, &error) != STORE_OK) {
		log_error("%s store unavailable error=%s", s.prefix, esc_str(error));
		respond(&s, "BYE", "TRYLATER", "mail store unavailable, try again later");
	} else {
		/* RFC 5804 §1.7: the greeting is the capability response */
		send_capability(&s);
		session_loop(&s);
	}
	(void)conn_flush(c);

	if (s.state == MANAGESIEVE_STATE_AUTH)
		store_user_clear(&s.user);
	if (s.in.data != NULL)
		explicit_bzero(s.in.data, s.in.len);
	buf_free(&s.in);
	store_close(&s.st);
	conn_free(&c);
}

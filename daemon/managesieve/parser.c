/* The ManageSieve command parser: see parser.h. */
#include "managesieve/parser.h"

#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"

/* The argument kinds of a command's grammar (RFC 5804 §2). */
enum arg_kind {
	ARG_NONE,	/* end of the list */
	ARG_STRING,
	ARG_NUMBER,
	ARG_OPT_STRING,	/* an optional string, last */
};

struct verb_syntax {
	const char *name;
	enum arg_kind args[MSIEVE_ARGS_MAX + 1];
};

/* One table: the names and the argument lists of RFC 5804 §2. */
static const struct verb_syntax verbs[MSIEVE_CMD_COUNT] = {
	[MSIEVE_CMD_UNKNOWN] = { "?", { ARG_NONE } },
	/* §2.1 AUTHENTICATE mechanism [initial-response] */
	[MSIEVE_CMD_AUTHENTICATE] = { "AUTHENTICATE", { ARG_STRING, ARG_OPT_STRING, ARG_NONE } },
	[MSIEVE_CMD_STARTTLS] = { "STARTTLS", { ARG_NONE } },
	[MSIEVE_CMD_LOGOUT] = { "LOGOUT", { ARG_NONE } },
	[MSIEVE_CMD_CAPABILITY] = { "CAPABILITY", { ARG_NONE } },
	/* §2.5 HAVESPACE name size */
	[MSIEVE_CMD_HAVESPACE] = { "HAVESPACE", { ARG_STRING, ARG_NUMBER, ARG_NONE } },
	[MSIEVE_CMD_PUTSCRIPT] = { "PUTSCRIPT", { ARG_STRING, ARG_STRING, ARG_NONE } },
	[MSIEVE_CMD_LISTSCRIPTS] = { "LISTSCRIPTS", { ARG_NONE } },
	[MSIEVE_CMD_SETACTIVE] = { "SETACTIVE", { ARG_STRING, ARG_NONE } },
	[MSIEVE_CMD_GETSCRIPT] = { "GETSCRIPT", { ARG_STRING, ARG_NONE } },
	[MSIEVE_CMD_DELETESCRIPT] = { "DELETESCRIPT", { ARG_STRING, ARG_NONE } },
	[MSIEVE_CMD_RENAMESCRIPT] = { "RENAMESCRIPT", { ARG_STRING, ARG_STRING, ARG_NONE } },
	[MSIEVE_CMD_CHECKSCRIPT] = { "CHECKSCRIPT", { ARG_STRING, ARG_NONE } },
	/* §2.14 NOOP [tag] */
	[MSIEVE_CMD_NOOP] = { "NOOP", { ARG_OPT_STRING, ARG_NONE } },
	[MSIEVE_CMD_UNAUTHENTICATE] = { "UNAUTHENTICATE", { ARG_NONE } },
};

/* The longest atom we look at; longer ones are unknown. */
#define ATOM_MAX 32
/* "{4294967295+}": digits of a literal's length */
#define LENGTH_DIGITS_MAX 10

const char *
msieve_verb_name(enum msieve_verb verb)
{
	if ((unsigned)verb >= MSIEVE_CMD_COUNT)
		return "?";
	return verbs[verb].name;
}

void
msieve_command_clear(struct msieve_command *cmd)
{
	for (size_t i = 0; i < cmd->n_args; i++) {
		if (cmd->args[i].str != NULL) {
			explicit_bzero(cmd->args[i].str, cmd->args[i].len);
			free(cmd->args[i].str);
		}
	}
	memset(cmd, 0, sizeof *cmd);
}

/* Where the parse is; the input is parsed anew from its start each time
 * more of it arrives (a command has at most a few literals). */
struct cursor {
	const char *p;
	size_t len;
	size_t pos;
	size_t literal_max;
	size_t need;		/* NEED_MORE: octets of a literal missing */
	size_t skip;		/* TOOBIG: octets of the literal to skip */
	const char *error;
};

static bool
at_end(const struct cursor *c)
{
	return c->pos >= c->len;
}

/* A number: 1*DIGIT, at most 4294967295 (RFC 5804 §4). */
static enum msieve_parse_result
parse_number(struct cursor *c, uint32_t *value_r)
{
	uint64_t v = 0;
	size_t start = c->pos;

	while (!at_end(c) && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
		v = v * 10 + (uint64_t)(c->p[c->pos] - '0');
		if (v > UINT32_MAX) {
			c->error = "number too large";
			return MSIEVE_PARSE_ERROR;
		}
		c->pos++;
	}
	if (at_end(c))
		return MSIEVE_PARSE_NEED_MORE;
	if (c->pos == start) {
		c->error = "number expected";
		return MSIEVE_PARSE_ERROR;
	}
	*value_r = (uint32_t)v;
	return MSIEVE_PARSE_OK;
}

/* A quoted string, the opening quote at c->pos. */
static enum msieve_parse_result
parse_quoted(struct cursor *c, struct msieve_arg *arg)
{
	struct buf b;
	size_t i = c->pos + 1;

	buf_init(&b, MSIEVE_QUOTED_MAX + 1);
	for (;;) {
		if (i >= c->len) {
			buf_free(&b);
			return MSIEVE_PARSE_NEED_MORE;
		}
		char ch = c->p[i];
		if (ch == '"')
			break;
		if (ch == '\0' || ch == '\r' || ch == '\n') {
			buf_free(&b);
			c->pos = i;
			c->error = "bad character in a quoted string";
			return MSIEVE_PARSE_ERROR;
		}
		if (ch == '\\') {
			if (i + 1 >= c->len) {
				buf_free(&b);
				return MSIEVE_PARSE_NEED_MORE;
			}
			ch = c->p[i + 1];
			if (ch != '"' && ch != '\\') {
				/* RFC 5804 §4: QUOTED-SPECIALS only */
				buf_free(&b);
				c->pos = i;
				c->error = "bad escape in a quoted string";
				return MSIEVE_PARSE_ERROR;
			}
			i++;
		}
		if (b.len >= MSIEVE_QUOTED_MAX) {
			buf_free(&b);
			c->pos = i;
			c->error = "quoted string too long, send a literal";
			return MSIEVE_PARSE_ERROR;
		}
		(void)buf_putc(&b, ch);
		i++;
	}
	c->pos = i + 1;
	arg->len = b.len;
	arg->str = xmemdup(buf_cstr(&b), b.len + 1);
	arg->str[arg->len] = '\0';
	buf_free(&b);
	return MSIEVE_PARSE_OK;
}

/* A literal, the '{' at c->pos: "{" number ["+"] "}" CRLF *OCTET. */
static enum msieve_parse_result
parse_literal(struct cursor *c, struct msieve_arg *arg)
{
	uint64_t n = 0;
	size_t i = c->pos + 1;
	size_t digits = 0;

	while (i < c->len && c->p[i] >= '0' && c->p[i] <= '9') {
		if (++digits > LENGTH_DIGITS_MAX) {
			c->pos = i;
			c->error = "bad literal length";
			return MSIEVE_PARSE_ERROR;
		}
		n = n * 10 + (uint64_t)(c->p[i] - '0');
		i++;
	}
	if (i < c->len && c->p[i] == '+')
		i++;
	if (i >= c->len)
		return MSIEVE_PARSE_NEED_MORE;
	if (digits == 0 || n > UINT32_MAX || c->p[i] != '}') {
		c->pos = i;
		c->error = "bad literal";
		return MSIEVE_PARSE_ERROR;
	}
	i++;
	if (i < c->len && c->p[i] == '\r')
		i++;
	if (i >= c->len)
		return MSIEVE_PARSE_NEED_MORE;
	if (c->p[i] != '\n') {
		c->pos = i;
		c->error = "a literal's length must end its line";
		return MSIEVE_PARSE_ERROR;
	}
	i++;
	if (n > c->literal_max) {
		c->pos = i;
		c->skip = (size_t)n;
		return MSIEVE_PARSE_TOOBIG;
	}
	if (c->len - i < n) {
		c->need = (size_t)n - (c->len - i);
		return MSIEVE_PARSE_NEED_MORE;
	}
	arg->len = (size_t)n;
	arg->str = xmalloc((size_t)n + 1);
	memcpy(arg->str, c->p + i, (size_t)n);
	arg->str[n] = '\0';
	c->pos = i + (size_t)n;
	return MSIEVE_PARSE_OK;
}

/* Any argument: a string or a number. */
static enum msieve_parse_result
parse_arg(struct cursor *c, struct msieve_arg *arg)
{
	memset(arg, 0, sizeof *arg);
	char ch = c->p[c->pos];
	if (ch == '"')
		return parse_quoted(c, arg);
	if (ch == '{')
		return parse_literal(c, arg);
	if (ch >= '0' && ch <= '9') {
		arg->is_number = true;
		return parse_number(c, &arg->number);
	}
	c->error = "string or number expected";
	return MSIEVE_PARSE_ERROR;
}

/* Skips spaces; true when at least one was there. */
static bool
skip_spaces(struct cursor *c)
{
	size_t start = c->pos;
	while (!at_end(c) && c->p[c->pos] == ' ')
		c->pos++;
	return c->pos > start;
}

/* At the line's end (after optional spaces): CRLF or LF.  1 when it was
 * there (consumed), 0 when something else is, -1 when more is needed. */
static int
line_end(struct cursor *c)
{
	size_t i = c->pos;
	while (i < c->len && c->p[i] == ' ')
		i++;
	if (i < c->len && c->p[i] == '\r')
		i++;
	if (i >= c->len)
		return -1;
	if (c->p[i] != '\n')
		return 0;
	c->pos = i + 1;
	return 1;
}

/* After an error at c->pos: the command ends at the next LF. */
static enum msieve_parse_result
fail(struct cursor *c, struct msieve_command *cmd, size_t *used_r,
     const char **error_r)
{
	msieve_command_clear(cmd);
	const char *lf = c->pos < c->len
		? memchr(c->p + c->pos, '\n', c->len - c->pos) : NULL;
	if (lf == NULL)
		return MSIEVE_PARSE_NEED_MORE;
	*used_r = (size_t)(lf - c->p) + 1;
	*error_r = c->error;
	return MSIEVE_PARSE_ERROR;
}

/* The verb of an atom (letters only, any case). */
static enum msieve_verb
verb_of(const char *p, size_t n)
{
	for (int v = 1; v < MSIEVE_CMD_COUNT; v++) {
		if (strlen(verbs[v].name) == n && mem_eq_nocase(p, verbs[v].name, n))
			return (enum msieve_verb)v;
	}
	return MSIEVE_CMD_UNKNOWN;
}

/* Whether the arguments read fit the verb's grammar; *error_r if not. */
static bool
args_fit(const struct msieve_command *cmd, size_t n_read, const char **error_r)
{
	const enum arg_kind *k = verbs[cmd->verb].args;
	size_t i = 0;

	for (; k[i] != ARG_NONE; i++) {
		if (i >= n_read) {
			if (k[i] == ARG_OPT_STRING)
				break;
			*error_r = "missing argument";
			return false;
		}
		bool number = k[i] == ARG_NUMBER;
		if (cmd->args[i].is_number != number) {
			*error_r = number ? "number expected" : "string expected";
			return false;
		}
	}
	if (n_read > i) {
		*error_r = "too many arguments";
		return false;
	}
	return true;
}

enum msieve_parse_result
msieve_parse(const char *data, size_t len, enum msieve_parse_mode mode,
	     size_t literal_max, struct msieve_command *cmd_r, size_t *used_r,
	     size_t *need_r, const char **error_r)
{
	struct cursor c = { .p = data, .len = len, .literal_max = literal_max };
	struct msieve_command *cmd = cmd_r;
	struct msieve_arg dropped;
	size_t n_read = 0;
	enum msieve_parse_result r;
	int end;

	memset(cmd, 0, sizeof *cmd);
	*used_r = 0;
	*need_r = 0;
	*error_r = NULL;

	if (mode == MSIEVE_PARSE_COMMAND) {
		size_t start = c.pos;
		while (!at_end(&c) && ((c.p[c.pos] | 0x20) >= 'a' && (c.p[c.pos] | 0x20) <= 'z'))
			c.pos++;
		if (at_end(&c))
			return MSIEVE_PARSE_NEED_MORE;
		if (c.pos == start) {
			c.error = "command expected";
			return fail(&c, cmd, used_r, error_r);
		}
		if (c.pos - start <= ATOM_MAX)
			cmd->verb = verb_of(c.p + start, c.pos - start);
		if (c.p[c.pos] != ' ' && c.p[c.pos] != '\r' && c.p[c.pos] != '\n') {
			c.error = "bad character in the command name";
			return fail(&c, cmd, used_r, error_r);
		}
	} else {
		/* RFC 5804 §2.1: a SASL response is a string alone */
		if (at_end(&c))
			return MSIEVE_PARSE_NEED_MORE;
		r = parse_arg(&c, &cmd->args[0]);
		if (r == MSIEVE_PARSE_OK && cmd->args[0].is_number) {
			c.error = "string expected";
			r = MSIEVE_PARSE_ERROR;
		}
		if (r == MSIEVE_PARSE_OK)
			cmd->n_args = n_read = 1;
		else
			goto failed;
	}

	for (;;) {
		end = line_end(&c);
		if (end < 0) {
			msieve_command_clear(cmd);
			return MSIEVE_PARSE_NEED_MORE;
		}
		if (end > 0)
			break;
		if (mode == MSIEVE_PARSE_RESPONSE || !skip_spaces(&c)) {
			c.error = "space expected between arguments";
			return fail(&c, cmd, used_r, error_r);
		}
		/* arguments past what any command takes are read and
		 * dropped, so that the line's end is found past literals */
		struct msieve_arg *arg = cmd->verb != MSIEVE_CMD_UNKNOWN &&
			n_read < MSIEVE_ARGS_MAX ? &cmd->args[n_read] : &dropped;
		r = parse_arg(&c, arg);
		if (arg == &dropped && arg->str != NULL)
			free(arg->str);
		if (r != MSIEVE_PARSE_OK)
			goto failed;
		n_read++;
		if (arg != &dropped)
			cmd->n_args = n_read;
	}
	*used_r = c.pos;
	if (mode == MSIEVE_PARSE_COMMAND && cmd->verb != MSIEVE_CMD_UNKNOWN &&
	    !args_fit(cmd, n_read, error_r)) {
		msieve_command_clear(cmd);
		return MSIEVE_PARSE_ERROR;
	}
	return MSIEVE_PARSE_OK;

failed:
	if (r == MSIEVE_PARSE_NEED_MORE) {
		msieve_command_clear(cmd);
		*need_r = c.need;
		return r;
	}
	if (r == MSIEVE_PARSE_TOOBIG) {
		msieve_command_clear(cmd);
		*used_r = c.pos;
		*need_r = c.skip;
		*error_r = "literal too big";
		return r;
	}
	return fail(&c, cmd, used_r, error_r);
}

/* The POP3 command parser: see command.h. */
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/xmalloc.h"
#include "pop3/command.h"

/* The shapes of argument lists. */
enum pop3_syntax {
	SYN_NONE,	/* no arguments */
	SYN_NAME,	/* exactly one argument (USER) */
	SYN_REST,	/* the rest of the line, spaces included (PASS) */
	SYN_AUTH,	/* [mechanism [initial-response]] (RFC 5034 §4) */
	SYN_OPT_MSG,	/* [msg] (LIST, UIDL) */
	SYN_MSG,	/* msg (RETR, DELE) */
	SYN_MSG_LINES,	/* msg n (TOP) */
};

struct pop3_syntax_entry {
	const char *name;
	enum pop3_verb verb;
	enum pop3_syntax syntax;
};

/* The one list of keywords: RFC 1939 §5-7, RFC 2449 §5, RFC 2595 §4,
 * RFC 5034 §4.  Indexed by enum pop3_verb. */
static const struct pop3_syntax_entry syntax_table[POP3_CMD_COUNT] = {
	[POP3_CMD_UNKNOWN] = { "?", POP3_CMD_UNKNOWN, SYN_NONE },
	[POP3_CMD_USER] = { "USER", POP3_CMD_USER, SYN_NAME },
	[POP3_CMD_PASS] = { "PASS", POP3_CMD_PASS, SYN_REST },
	[POP3_CMD_AUTH] = { "AUTH", POP3_CMD_AUTH, SYN_AUTH },
	[POP3_CMD_STLS] = { "STLS", POP3_CMD_STLS, SYN_NONE },
	[POP3_CMD_CAPA] = { "CAPA", POP3_CMD_CAPA, SYN_NONE },
	[POP3_CMD_QUIT] = { "QUIT", POP3_CMD_QUIT, SYN_NONE },
	[POP3_CMD_STAT] = { "STAT", POP3_CMD_STAT, SYN_NONE },
	[POP3_CMD_LIST] = { "LIST", POP3_CMD_LIST, SYN_OPT_MSG },
	[POP3_CMD_RETR] = { "RETR", POP3_CMD_RETR, SYN_MSG },
	[POP3_CMD_DELE] = { "DELE", POP3_CMD_DELE, SYN_MSG },
	[POP3_CMD_NOOP] = { "NOOP", POP3_CMD_NOOP, SYN_NONE },
	[POP3_CMD_RSET] = { "RSET", POP3_CMD_RSET, SYN_NONE },
	[POP3_CMD_TOP] = { "TOP", POP3_CMD_TOP, SYN_MSG_LINES },
	[POP3_CMD_UIDL] = { "UIDL", POP3_CMD_UIDL, SYN_OPT_MSG },
};

/* The longest number we parse: 4294967295 has 10 digits. */
#define NUMBER_DIGITS_MAX 10

const char *
pop3_verb_name(enum pop3_verb verb)
{
	if ((unsigned)verb >= POP3_CMD_COUNT)
		return "?";
	return syntax_table[verb].name;
}

int
pop3_parse_number(const char *s, size_t len, uint32_t *value_r)
{
	uint64_t v = 0;

	if (len == 0 || len > NUMBER_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*value_r = (uint32_t)v;
	return 0;
}

void
pop3_command_clear(struct pop3_command *cmd)
{
	if (cmd->arg != NULL) {
		/* PASS carries a password: do not leave it in freed memory */
		explicit_bzero(cmd->arg, strlen(cmd->arg));
		free(cmd->arg);
	}
	if (cmd->initial != NULL) {
		explicit_bzero(cmd->initial, strlen(cmd->initial));
		free(cmd->initial);
	}
	memset(cmd, 0, sizeof *cmd);
}

/* An argument byte: printable, no space (RFC 1939 §3 says printable
 * ASCII; 8-bit bytes are let through for UTF-8 user names). */
static bool
is_arg_byte(unsigned char ch)
{
	return ch > 0x20 && ch != 0x7f;
}

/* Splits the next space-separated token off [*p, end); false at the end.
 * Runs of spaces count as one separator (clients are not all strict). */
static bool
next_token(const char **p, const char *end, const char **tok_r,
	   size_t *len_r)
{
	const char *s = *p;

	while (s < end && *s == ' ')
		s++;
	if (s == end)
		return false;
	const char *t = s;
	while (t < end && *t != ' ')
		t++;
	*tok_r = s;
	*len_r = (size_t)(t - s);
	*p = t;
	return true;
}

static bool
token_valid(const char *tok, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!is_arg_byte((unsigned char)tok[i]))
			return false;
	}
	return true;
}

/* Reads the tokens of [p, end) into at most max slots; returns the count,
 * or max + 1 when there are more, or -1 for a bad byte. */
static int
split_args(const char *p, const char *end, const char **tok, size_t *tlen,
	   int max)
{
	int n = 0;
	const char *t;
	size_t tl;

	while (next_token(&p, end, &t, &tl)) {
		if (!token_valid(t, tl))
			return -1;
		if (n == max)
			return max + 1;
		tok[n] = t;
		tlen[n] = tl;
		n++;
	}
	return n;
}

static enum pop3_verb
lookup_verb(const char *kw, size_t len)
{
	/* RFC 1939 §3: keywords are three or four characters, any case */
	if (len < 3 || len > 4)
		return POP3_CMD_UNKNOWN;
	for (unsigned v = 1; v < POP3_CMD_COUNT; v++) {
		const char *name = syntax_table[v].name;
		if (strlen(name) == len && mem_eq_nocase(name, kw, len))
			return syntax_table[v].verb;
	}
	return POP3_CMD_UNKNOWN;
}

static enum pop3_parse_result
parse_args(enum pop3_syntax syntax, const char *p, const char *end,
	   struct pop3_command *cmd, const char **error_r)
{
	const char *tok[2];
	size_t tlen[2];
	int n;

	if (syntax == SYN_REST) {
		/* PASS: exactly one space after the keyword, then everything;
		 * RFC 1939 §7 lets the password contain spaces. */
		if (p == end) {
			*error_r = "missing argument";
			return POP3_PARSE_ERROR;
		}
		p++;	/* the space */
		if (memchr(p, '\0', (size_t)(end - p)) != NULL ||
		    memchr(p, '\r', (size_t)(end - p)) != NULL) {
			*error_r = "invalid character in argument";
			return POP3_PARSE_ERROR;
		}
		cmd->arg = xstrndup(p, (size_t)(end - p));
		return POP3_PARSE_OK;
	}

	n = split_args(p, end, tok, tlen, 2);
	if (n < 0) {
		*error_r = "invalid character in argument";
		return POP3_PARSE_ERROR;
	}
	switch (syntax) {
	case SYN_NONE:
		if (n != 0) {
			*error_r = "this command takes no arguments";
			return POP3_PARSE_ERROR;
		}
		return POP3_PARSE_OK;
	case SYN_NAME:
		if (n != 1) {
			*error_r = n == 0 ? "missing argument" : "too many arguments";
			return POP3_PARSE_ERROR;
		}
		cmd->arg = xstrndup(tok[0], tlen[0]);
		return POP3_PARSE_OK;
	case SYN_AUTH:
		if (n > 2) {
			*error_r = "too many arguments";
			return POP3_PARSE_ERROR;
		}
		if (n >= 1)
			cmd->arg = xstrndup(tok[0], tlen[0]);
		if (n == 2)
			cmd->initial = xstrndup(tok[1], tlen[1]);
		return POP3_PARSE_OK;
	case SYN_OPT_MSG:
	case SYN_MSG:
	case SYN_MSG_LINES: {
		int want = syntax == SYN_MSG_LINES ? 2 : 1;
		int least = syntax == SYN_OPT_MSG ? 0 : want;
		if (n < least) {
			*error_r = "missing argument";
			return POP3_PARSE_ERROR;
		}
		if (n > want) {
			*error_r = "too many arguments";
			return POP3_PARSE_ERROR;
		}
		if (n >= 1) {
			if (pop3_parse_number(tok[0], tlen[0], &cmd->msg) < 0) {
				*error_r = "invalid message number";
				return POP3_PARSE_ERROR;
			}
			cmd->has_msg = true;
		}
		if (n == 2 &&
		    pop3_parse_number(tok[1], tlen[1], &cmd->lines) < 0) {
			*error_r = "invalid number of lines";
			return POP3_PARSE_ERROR;
		}
		return POP3_PARSE_OK;
	}
	case SYN_REST:
		break;
	}
	*error_r = "internal parser error";
	return POP3_PARSE_ERROR;
}

enum pop3_parse_result
pop3_command_parse_line(const char *line, size_t len,
			struct pop3_command *cmd_r, const char **error_r)
{
	const char *end = line + len;
	const char *p = line;
	enum pop3_parse_result r;

	memset(cmd_r, 0, sizeof *cmd_r);
	if (end > line && end[-1] == '\n')
		end--;
	if (end > line && end[-1] == '\r')
		end--;
	if (end == line) {
		*error_r = "empty command";
		return POP3_PARSE_ERROR;
	}
	while (p < end && *p != ' ')
		p++;
	cmd_r->verb = lookup_verb(line, (size_t)(p - line));
	if (cmd_r->verb == POP3_CMD_UNKNOWN)
		return POP3_PARSE_OK;
	if (syntax_table[cmd_r->verb].syntax != SYN_REST) {
		/* trailing spaces are harmless; some clients send them */
		while (end > p && end[-1] == ' ')
			end--;
	}
	r = parse_args(syntax_table[cmd_r->verb].syntax, p, end, cmd_r,
		       error_r);
	if (r != POP3_PARSE_OK)
		pop3_command_clear(cmd_r);
	return r;
}

enum pop3_parse_result
pop3_command_parse(const char *data, size_t len, struct pop3_command *cmd_r,
		   size_t *consumed_r, const char **error_r)
{
	size_t scan = len < POP3_LINE_MAX ? len : POP3_LINE_MAX;
	const char *lf = memchr(data, '\n', scan);

	memset(cmd_r, 0, sizeof *cmd_r);
	if (lf == NULL) {
		/* RFC 2449 §4: at most 255 octets including the CRLF */
		if (len >= POP3_LINE_MAX) {
			*error_r = "command line too long";
			return POP3_PARSE_TOOLONG;
		}
		return POP3_PARSE_NEED_MORE;
	}
	*consumed_r = (size_t)(lf - data) + 1;
	return pop3_command_parse_line(data, *consumed_r, cmd_r, error_r);
}

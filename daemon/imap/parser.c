/*
 * parser: the incremental IMAP command parser (see parser.h).
 *
 * A byte-driven state machine: the only state kept between feeds is the
 * current state, the partly built argument, and a stack of open lists, so
 * a command may be split anywhere (tests feed it one byte at a time).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/parser.h"

/* What an argument costs beyond the bytes of its text (which count as line
 * or literal bytes): its struct imap_arg in a list whose array grows by
 * doubling, and the allocation of its string. */
#define ARG_COST (2 * sizeof(struct imap_arg) + 16)

enum pstate {
	PS_ARG_START,	/* at the start of an argument (or list end, CRLF) */
	PS_AFTER_ARG,	/* after an argument: SP, ')' or CRLF */
	PS_ATOM,
	PS_TILDE,	/* "~": an atom or a literal8 */
	PS_QUOTED,
	PS_QUOTED_ESC,
	PS_LIT_SIZE,	/* inside "{...}" */
	PS_LIT_CR,	/* after '}' */
	PS_LIT_LF,
	PS_LIT_WAIT,	/* reported LITERAL; the caller decides */
	PS_LIT_DATA,
	PS_CR,		/* CR seen at the end of the line */
	PS_SKIP_LINE,	/* skipping, after a syntax error: up to the LF */
	PS_DONE,
	PS_ERROR,
};

/* What one byte did (step()). */
enum step {
	STEP_GO,	/* nothing to report */
	STEP_AGAIN,	/* look at the same byte again (in the new state) */
	STEP_LITERAL,	/* a literal header is complete */
	STEP_END,	/* the command's final LF */
	STEP_SYNTAX,	/* a syntax error: p->syntax says which */
};

struct arg_list {
	struct imap_arg *args;
	size_t n, cap;
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum pstate state;
	struct arg_list *stack;	/* stack[0] is the top level */
	size_t depth;		/* open lists (stack entries in use - 1) */
	size_t stack_cap;
	size_t n_args;		/* arguments in all lists */
	size_t line_len;	/* bytes outside literals */
	size_t held;		/* what the command holds (see parser.h) */
	struct buf cur;		/* the argument being built */
	unsigned brackets;	/* open '[' in the current atom */
	uint64_t lit_size;
	bool lit_sync;
	bool lit_binary;	/* RFC 3516 literal8 "~{N}" */
	bool lit_has_digit;
	uint64_t lit_left;
	/* over a limit: the rest of the command is parsed and dropped */
	bool skipping;
	size_t skip_depth;	/* lists open while skipping */
	uint64_t skipped;	/* literal bytes thrown away */
	const char *limit_error; /* not yet reported */
	const char *syntax;	/* the last STEP_SYNTAX */
};

static void
arg_clear(struct imap_arg *a)
{
	if (a->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < a->n; i++)
			arg_clear(&a->list[i]);
		free(a->list);
	} else {
		free(a->str);
	}
	memset(a, 0, sizeof *a);
}

static void
list_clear(struct arg_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		arg_clear(&l->args[i]);
	free(l->args);
	memset(l, 0, sizeof *l);
}

struct imap_parser *
imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof *p);
	p->stack_cap = 4;
	p->stack = xcalloc(p->stack_cap, sizeof *p->stack);
	imap_parser_set_limits(p, limits);
	imap_parser_reset(p);
	return p;
}

void
imap_parser_set_limits(struct imap_parser *p,
		       const struct imap_parser_limits *limits)
{
	p->lim = *limits;
	if (p->lim.depth_max == 0)
		p->lim.depth_max = 1;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (p == NULL)
		return;
	imap_parser_reset(p);
	free(p->stack);
	buf_free(&p->cur);
	free(p);
	*pp = NULL;
}

void
imap_parser_reset(struct imap_parser *p)
{
	for (size_t i = 0; i <= p->depth && i < p->stack_cap; i++)
		list_clear(&p->stack[i]);
	p->depth = 0;
	p->n_args = 0;
	p->line_len = 0;
	p->held = 0;
	p->state = PS_ARG_START;
	p->brackets = 0;
	p->lit_size = p->lit_left = 0;
	p->lit_sync = false;
	p->lit_has_digit = false;
	p->skipping = false;
	p->skip_depth = 0;
	p->skipped = 0;
	p->limit_error = NULL;
	p->syntax = NULL;
	buf_free(&p->cur);
	buf_init(&p->cur, 0);
}

/* Forgets what the command holds but its tag (for the reply) and starts
 * skipping its rest; the lists open now stay open in skip_depth. */
static void
start_skipping(struct imap_parser *p)
{
	struct arg_list *top = &p->stack[0];
	struct imap_arg tag;
	bool have_tag = top->n > 0 && top->args[0].type == IMAP_ARG_ATOM;

	if (p->skipping)
		return;
	if (have_tag) {
		tag = top->args[0];
		memset(&top->args[0], 0, sizeof top->args[0]);
	}
	for (size_t i = 0; i <= p->depth; i++)
		list_clear(&p->stack[i]);
	if (have_tag) {
		top->cap = 1;
		top->args = xcalloc(1, sizeof *top->args);
		top->args[0] = tag;
		top->n = 1;
	}
	p->skip_depth = p->depth;
	p->depth = 0;
	p->n_args = top->n;
	p->held = 0;
	buf_free(&p->cur);
	buf_init(&p->cur, 0);
	p->skipping = true;
}

/* A limit was passed: the command is refused (why is reported by the next
 * return of imap_parser_feed()), and its rest is skipped. */
static void
over_limit(struct imap_parser *p, const char *why)
{
	if (p->skipping)
		return;
	start_skipping(p);
	p->limit_error = why;
}

/* Counts n more bytes held by the command; false when that is over the
 * limit (the command is then refused). */
static bool
hold(struct imap_parser *p, size_t n)
{
	if (p->lim.command_max > 0 && n > p->lim.command_max - p->held) {
		over_limit(p, "command too large");
		return false;
	}
	p->held += n;
	return true;
}

/* Adds an argument to the innermost open list; NULL when that is over a
 * limit (the command is then refused and skipped).  Not while skipping. */
static struct imap_arg *
push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->lim.args_max > 0 && p->n_args >= p->lim.args_max) {
		over_limit(p, "too many arguments");
		return NULL;
	}
	if (!hold(p, ARG_COST))
		return NULL;
	struct arg_list *l = &p->stack[p->depth];
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->args = xreallocarray(l->args, l->cap, sizeof *l->args);
	}
	struct imap_arg *a = &l->args[l->n++];
	memset(a, 0, sizeof *a);
	a->type = type;
	p->n_args++;
	return a;
}

/* Keeps a byte of the argument being built (none while skipping). */
static void
keep(struct imap_parser *p, unsigned char c)
{
	if (!p->skipping)
		buf_putc(&p->cur, (char)c);
}

/* Finishes the argument in p->cur as type. */
static void
finish_string(struct imap_parser *p, enum imap_arg_type type)
{
	if (!p->skipping) {
		struct imap_arg *a = push_arg(p, type);
		if (a != NULL) {
			a->len = p->cur.len;
			if (p->cur.data == NULL)
				a->str = xstrdup("");
			else
				a->str = buf_steal(&p->cur);
		}
	}
	buf_free(&p->cur);
	buf_init(&p->cur, 0);	/* a literal's exact maximum is over */
}

static void
open_list(struct imap_parser *p)
{
	if (!p->skipping) {
		if (p->depth + 1 > p->lim.depth_max)
			over_limit(p, "lists nested too deep");
		else if (p->lim.args_max > 0 && p->n_args >= p->lim.args_max)
			over_limit(p, "too many arguments");
	}
	if (p->skipping) {
		p->skip_depth++;
		return;
	}
	if (p->depth + 1 >= p->stack_cap) {
		size_t old = p->stack_cap;
		p->stack_cap *= 2;
		p->stack = xreallocarray(p->stack, p->stack_cap, sizeof *p->stack);
		memset(p->stack + old, 0, (p->stack_cap - old) * sizeof *p->stack);
	}
	p->depth++;
	memset(&p->stack[p->depth], 0, sizeof p->stack[p->depth]);
}

/* -1 for a ')' that closes nothing. */
static int
close_list(struct imap_parser *p)
{
	if (p->skipping) {
		if (p->skip_depth == 0)
			return -1;
		p->skip_depth--;
		return 0;
	}
	if (p->depth == 0)
		return -1;
	struct arg_list done = p->stack[p->depth];
	memset(&p->stack[p->depth], 0, sizeof p->stack[p->depth]);
	p->depth--;
	struct imap_arg *a = push_arg(p, IMAP_ARG_LIST);
	if (a == NULL) {
		list_clear(&done);	/* refused: skipping from here */
		return 0;
	}
	a->list = done.args;
	a->n = done.n;
	return 0;
}

/* Open lists, whether skipping or not. */
static size_t
open_lists(const struct imap_parser *p)
{
	return p->skipping ? p->skip_depth : p->depth;
}

/* RFC 3501 §9 atom-specials, except that '[' ']' '%' '*' '\\' are let into
 * atoms (flags, FETCH sections, LIST patterns, sequence sets). */
static bool
is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

static enum step
syntax(struct imap_parser *p, const char *why)
{
	p->syntax = why;
	return STEP_SYNTAX;
}

/* The end of a line at the end of a command (c is CR or LF). */
static enum step
line_end(struct imap_parser *p, unsigned char c)
{
	if (open_lists(p) > 0)
		return syntax(p, "unterminated list");
	if (c == '\r') {
		p->state = PS_CR;
		return STEP_GO;
	}
	p->state = PS_DONE;
	return STEP_END;
}

/* One byte outside a literal's data. */
static enum step
step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case PS_ARG_START:
		if (c == '(') {
			open_list(p);
		} else if (c == ')') {
			if (close_list(p) < 0)
				return syntax(p, "unexpected ')'");
			p->state = PS_AFTER_ARG;
		} else if (c == '"') {
			buf_reset(&p->cur);
			p->state = PS_QUOTED;
		} else if (c == '{') {
			p->lit_size = 0;
			p->lit_sync = true;
			p->lit_binary = false;
			p->lit_has_digit = false;
			p->state = PS_LIT_SIZE;
		} else if (c == '\r' || c == '\n') {
			/* an empty line, or a line ending after SP or inside a
			 * list: only an empty line is fine */
			if (open_lists(p) == 0 && p->stack[0].n > 0 &&
			    p->line_len > 1)
				return syntax(p, "trailing space");
			return line_end(p, c);
		} else if (c == '~') {
			/* an atom, or RFC 3516's literal8 "~{N}" */
			buf_reset(&p->cur);
			keep(p, c);
			p->brackets = 0;
			p->state = PS_TILDE;
		} else if (is_atom_char(c)) {
			buf_reset(&p->cur);
			keep(p, c);
			p->brackets = c == '[';
			p->state = PS_ATOM;
		} else {
			return syntax(p, "invalid character");
		}
		return STEP_GO;

	case PS_TILDE:
		if (c == '{') {
			buf_reset(&p->cur);
			p->lit_size = 0;
			p->lit_sync = true;
			p->lit_binary = true;
			p->lit_has_digit = false;
			p->state = PS_LIT_SIZE;
			return STEP_GO;
		}
		p->state = PS_ATOM;
		return STEP_AGAIN;

	case PS_ATOM:
		if (p->brackets > 0 && c != '\r' && c != '\n' && c != 0 &&
		    c < 0x80) {
			/* inside [...]: spaces and lists are part of the FETCH
			 * section */
			if (c == '[')
				p->brackets++;
			else if (c == ']')
				p->brackets--;
			keep(p, c);
			return STEP_GO;
		}
		if (is_atom_char(c)) {
			if (c == '[')
				p->brackets++;
			keep(p, c);
			return STEP_GO;
		}
		finish_string(p, IMAP_ARG_ATOM);
		p->state = PS_AFTER_ARG;
		return STEP_AGAIN;	/* c ends the argument */

	case PS_AFTER_ARG:
		if (c == ' ') {
			p->state = PS_ARG_START;
		} else if (c == ')') {
			if (close_list(p) < 0)
				return syntax(p, "unexpected ')'");
		} else if (c == '\r' || c == '\n') {
			return line_end(p, c);
		} else if (c == '(' && open_lists(p) > 0) {
			/* "(a(b))": tolerated as Dovecot does */
			open_list(p);
			p->state = PS_ARG_START;
		} else {
			return syntax(p, "expected a space");
		}
		return STEP_GO;

	case PS_QUOTED:
		if (c == '"') {
			finish_string(p, IMAP_ARG_QUOTED);
			p->state = PS_AFTER_ARG;
		} else if (c == '\\') {
			p->state = PS_QUOTED_ESC;
		} else if (c == '\r' || c == '\n' || c == 0) {
			return syntax(p, "CR, LF or NUL in a quoted string");
		} else {
			keep(p, c);
		}
		return STEP_GO;

	case PS_QUOTED_ESC:
		/* RFC 3501 §9: only \" and \\ are quoted-specials */
		if (c != '"' && c != '\\')
			return syntax(p, "invalid escape in a quoted string");
		keep(p, c);
		p->state = PS_QUOTED;
		return STEP_GO;

	case PS_LIT_SIZE:
		if (c >= '0' && c <= '9' && p->lit_sync) {
			if (p->lit_size > (UINT64_MAX - 9) / 10)
				return syntax(p, "literal size too large");
			p->lit_size = p->lit_size * 10 + (c - '0');
			p->lit_has_digit = true;
		} else if (c == '+' && p->lit_has_digit && p->lit_sync) {
			p->lit_sync = false;	/* RFC 7888 LITERAL+ */
		} else if (c == '}' && p->lit_has_digit) {
			p->state = PS_LIT_CR;
		} else {
			return syntax(p, "invalid literal size");
		}
		return STEP_GO;

	case PS_LIT_CR:
		if (c == '\r') {
			p->state = PS_LIT_LF;
			return STEP_GO;
		}
		/* a bare LF is taken as CRLF */
		__attribute__((fallthrough));
	case PS_LIT_LF:
		if (c != '\n')
			return syntax(p, "literal size not at the end of the line");
		p->state = PS_LIT_WAIT;
		return STEP_LITERAL;

	case PS_CR:
		if (c != '\n')
			return syntax(p, "CR without LF");
		p->state = PS_DONE;
		return STEP_END;

	case PS_SKIP_LINE:
		if (c == '\n') {
			p->state = PS_DONE;
			return STEP_END;
		}
		return STEP_GO;

	case PS_LIT_DATA:
	case PS_LIT_WAIT:
	case PS_DONE:
	case PS_ERROR:
		break;
	}
	panic("imap parser: state %d in the byte loop", p->state);
}

static enum imap_parse_result
fail(struct imap_parser *p, const char *why, const char **error_r)
{
	p->state = PS_ERROR;
	*error_r = why;
	return IMAP_PARSE_ERROR;
}

/* Reports a limit passed: the command is refused, and skipped from here. */
static enum imap_parse_result
report_limit(struct imap_parser *p, const char **error_r)
{
	*error_r = p->limit_error;
	p->limit_error = NULL;
	return IMAP_PARSE_ERROR;
}

enum imap_parse_result
imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
		 size_t *consumed_r, const char **error_r)
{
	const unsigned char *s = data;
	size_t i = 0;

	*consumed_r = 0;
	*error_r = NULL;
	if (p->limit_error != NULL)
		return report_limit(p, error_r);
	if (p->state == PS_ERROR)
		return fail(p, "parser in error state", error_r);
	if (p->state == PS_DONE)
		return p->skipping ? IMAP_PARSE_SKIPPED : IMAP_PARSE_COMPLETE;
	if (p->state == PS_LIT_WAIT) {
		*error_r = "literal not yet accepted";
		return IMAP_PARSE_ERROR;
	}

	while (i < len) {
		if (p->state == PS_LIT_DATA) {
			size_t take = len - i;
			if (take > p->lit_left)
				take = (size_t)p->lit_left;
			if (!p->skipping && buf_append(&p->cur, s + i, take) < 0)
				panic("imap parser: literal over its own size");
			i += take;
			p->lit_left -= take;
			if (p->lit_left == 0) {
				finish_string(p, IMAP_ARG_LITERAL);
				p->state = PS_AFTER_ARG;
			}
			if (p->limit_error != NULL) {
				*consumed_r = i;
				return report_limit(p, error_r);
			}
			continue;
		}

		/* every byte outside literals counts against the line limit
		 * and what the command holds; one over is not consumed: it
		 * is looked at again, skipping, by the next feed */
		if (!p->skipping) {
			if (p->line_len + 1 > p->lim.line_max)
				over_limit(p, "command line too long");
			else if (hold(p, 1))
				p->line_len++;
			if (p->limit_error != NULL) {
				*consumed_r = i;
				return report_limit(p, error_r);
			}
		}
		unsigned char c = s[i++];
		enum step r;
		do
			r = step(p, c);
		while (r == STEP_AGAIN && p->limit_error == NULL);
		if (p->limit_error != NULL) {
			/* a byte that ended a refused argument is looked at
			 * again, skipping; nothing else is pending */
			if (r == STEP_AGAIN)
				i--;
			*consumed_r = i;
			return report_limit(p, error_r);
		}
		if (r == STEP_SYNTAX) {
			*consumed_r = i;
			if (!p->skipping)
				return fail(p, p->syntax, error_r);
			/* the command was refused already: the rest of its
			 * line cannot be parsed, so it ends with the line */
			p->state = PS_SKIP_LINE;
			r = step(p, c);
		}
		if (r == STEP_LITERAL) {
			*consumed_r = i;
			return IMAP_PARSE_LITERAL;
		}
		if (r == STEP_END) {
			*consumed_r = i;
			return p->skipping ? IMAP_PARSE_SKIPPED : IMAP_PARSE_COMPLETE;
		}
	}
	*consumed_r = i;
	return IMAP_PARSE_NEED_MORE;
}

void
imap_parser_literal(const struct imap_parser *p, uint64_t *size_r,
		    bool *sync_r)
{
	*size_r = p->lit_size;
	*sync_r = p->lit_sync;
}

bool
imap_parser_literal_binary(const struct imap_parser *p)
{
	return p->lit_binary;
}

int
imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		panic("imap parser: literal_accept without a literal");
	if (p->skipping) {
		/* thrown away as it comes, but not without end */
		if (p->lit_size > p->lim.skip_max - p->skipped)
			return -1;
		p->skipped += p->lit_size;
	} else {
		if (p->lit_size > p->lim.literal_buffer_max ||
		    (p->lim.command_max > 0 &&
		     p->lit_size > p->lim.command_max - p->held))
			return -1;
		p->held += (size_t)p->lit_size;
		buf_free(&p->cur);
		buf_init(&p->cur, (size_t)p->lit_size);
	}
	p->lit_left = p->lit_size;
	if (p->lit_left == 0) {
		/* a limit passed here is reported by the next feed */
		finish_string(p, IMAP_ARG_LITERAL);
		p->state = PS_AFTER_ARG;
	} else {
		p->state = PS_LIT_DATA;
	}
	return 0;
}

void
imap_parser_literal_streamed(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		panic("imap parser: literal_streamed without a literal");
	p->state = PS_AFTER_ARG;
	if (p->skipping)
		return;
	/* a limit passed here is reported by the next feed */
	struct imap_arg *a = push_arg(p, IMAP_ARG_LITERAL);
	if (a != NULL) {
		a->streamed = true;
		a->len = (size_t)p->lit_size;
	}
}

void
imap_parser_skip(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		panic("imap parser: skip without a literal");
	start_skipping(p);
}

bool
imap_parser_skipping(const struct imap_parser *p)
{
	return p->skipping;
}

bool
imap_parser_pending(const struct imap_parser *p)
{
	return p->state != PS_ARG_START || p->stack[0].n > 0 ||
	       p->line_len > 0 || p->skipping;
}

const struct imap_arg *
imap_parser_args(const struct imap_parser *p, size_t *n_r)
{
	*n_r = p->stack[0].n;
	return p->stack[0].args;
}

bool
imap_arg_is_atom(const struct imap_arg *a)
{
	return a != NULL && a->type == IMAP_ARG_ATOM;
}

bool
imap_arg_is_string(const struct imap_arg *a)
{
	return a != NULL && (a->type == IMAP_ARG_QUOTED ||
			     (a->type == IMAP_ARG_LITERAL && !a->streamed));
}

bool
imap_arg_is_astring(const struct imap_arg *a)
{
	return imap_arg_is_atom(a) || imap_arg_is_string(a);
}

bool
imap_arg_is_nil(const struct imap_arg *a)
{
	return imap_arg_atom_eq(a, "NIL");
}

bool
imap_arg_is_list(const struct imap_arg *a)
{
	return a != NULL && a->type == IMAP_ARG_LIST;
}

bool
imap_arg_atom_eq(const struct imap_arg *a, const char *word)
{
	return imap_arg_is_atom(a) && str_eq_nocase(a->str, word);
}

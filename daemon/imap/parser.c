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

enum pstate {
	PS_ARG_START,	/* at the start of an argument (or list end, CRLF) */
	PS_AFTER_ARG,	/* after an argument: SP, ')' or CRLF */
	PS_ATOM,
	PS_QUOTED,
	PS_QUOTED_ESC,
	PS_LIT_SIZE,	/* inside "{...}" */
	PS_LIT_CR,	/* after '}' */
	PS_LIT_LF,
	PS_LIT_WAIT,	/* reported LITERAL; the caller decides */
	PS_LIT_DATA,
	PS_CR,		/* CR seen at the end of the line */
	PS_DONE,
	PS_ERROR,
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
	struct buf cur;		/* the argument being built */
	unsigned brackets;	/* open '[' in the current atom */
	uint64_t lit_size;
	bool lit_sync;
	bool lit_has_digit;
	uint64_t lit_left;
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
	p->state = PS_ARG_START;
	p->brackets = 0;
	p->lit_size = p->lit_left = 0;
	p->lit_sync = false;
	p->lit_has_digit = false;
	buf_free(&p->cur);
	buf_init(&p->cur, 0);
}

/* Adds an argument to the innermost open list; -1 past args_max. */
static struct imap_arg *
push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->lim.args_max > 0 && p->n_args >= p->lim.args_max)
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

/* Finishes the argument in p->cur as type. */
static int
finish_string(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a = push_arg(p, type);
	if (a == NULL)
		return -1;
	a->len = p->cur.len;
	if (p->cur.data == NULL)
		a->str = xstrdup("");
	else
		a->str = buf_steal(&p->cur);
	buf_free(&p->cur);
	buf_init(&p->cur, 0);	/* a literal's exact maximum is over */
	return 0;
}

static int
open_list(struct imap_parser *p)
{
	if (p->depth + 1 > p->lim.depth_max)
		return -1;
	if (p->lim.args_max > 0 && p->n_args >= p->lim.args_max)
		return -1;
	if (p->depth + 1 >= p->stack_cap) {
		size_t old = p->stack_cap;
		p->stack_cap *= 2;
		p->stack = xreallocarray(p->stack, p->stack_cap, sizeof *p->stack);
		memset(p->stack + old, 0, (p->stack_cap - old) * sizeof *p->stack);
	}
	p->depth++;
	memset(&p->stack[p->depth], 0, sizeof p->stack[p->depth]);
	return 0;
}

static int
close_list(struct imap_parser *p)
{
	if (p->depth == 0)
		return -1;
	struct arg_list done = p->stack[p->depth];
	memset(&p->stack[p->depth], 0, sizeof p->stack[p->depth]);
	p->depth--;
	struct imap_arg *a = push_arg(p, IMAP_ARG_LIST);
	if (a == NULL) {
		list_clear(&done);
		return -1;
	}
	p->n_args--;	/* the list itself was counted when it opened */
	a->list = done.args;
	a->n = done.n;
	return 0;
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

static enum imap_parse_result
fail(struct imap_parser *p, const char *why, const char **error_r)
{
	p->state = PS_ERROR;
	*error_r = why;
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
	if (p->state == PS_ERROR)
		return fail(p, "parser in error state", error_r);
	if (p->state == PS_DONE)
		return IMAP_PARSE_COMPLETE;
	if (p->state == PS_LIT_WAIT) {
		*error_r = "literal not yet accepted";
		return IMAP_PARSE_ERROR;
	}

	while (i < len) {
		unsigned char c = s[i];

		if (p->state == PS_LIT_DATA) {
			size_t take = len - i;
			if (take > p->lit_left)
				take = (size_t)p->lit_left;
			if (buf_append(&p->cur, s + i, take) < 0) {
				*consumed_r = i;
				return fail(p, "literal too large", error_r);
			}
			i += take;
			p->lit_left -= take;
			if (p->lit_left == 0) {
				if (finish_string(p, IMAP_ARG_LITERAL) < 0) {
					*consumed_r = i;
					return fail(p, "too many arguments",
						    error_r);
				}
				p->state = PS_AFTER_ARG;
			}
			continue;
		}

		/* every byte outside literals counts against the line limit */
		if (++p->line_len > p->lim.line_max) {
			*consumed_r = i;
			return fail(p, "command line too long", error_r);
		}
		i++;

		switch (p->state) {
		case PS_ARG_START:
			if (c == '(') {
				if (open_list(p) < 0) {
					*consumed_r = i;
					return fail(p, "lists nested too deep or too many arguments",
						    error_r);
				}
			} else if (c == ')') {
				if (close_list(p) < 0) {
					*consumed_r = i;
					return fail(p, "unexpected ')'", error_r);
				}
				p->state = PS_AFTER_ARG;
			} else if (c == '"') {
				buf_reset(&p->cur);
				p->state = PS_QUOTED;
			} else if (c == '{') {
				p->lit_size = 0;
				p->lit_sync = true;
				p->lit_has_digit = false;
				p->state = PS_LIT_SIZE;
			} else if (c == '\r' || c == '\n') {
				/* an empty line, or a line ending after SP or
				 * inside a list: only an empty list end is fine */
				if (p->depth > 0) {
					*consumed_r = i;
					return fail(p, "unterminated list", error_r);
				}
				if (p->stack[0].n > 0 && p->line_len > 1) {
					/* "TAG CMD " with a trailing space */
					*consumed_r = i;
					return fail(p, "trailing space", error_r);
				}
				if (c == '\r') {
					p->state = PS_CR;
				} else {
					p->state = PS_DONE;
					*consumed_r = i;
					return IMAP_PARSE_COMPLETE;
				}
			} else if (is_atom_char(c)) {
				buf_reset(&p->cur);
				buf_putc(&p->cur, (char)c);
				p->brackets = c == '[';
				p->state = PS_ATOM;
			} else {
				*consumed_r = i;
				return fail(p, "invalid character", error_r);
			}
			break;

		case PS_ATOM:
			if (p->brackets > 0 && c != '\r' && c != '\n' &&
			    c != 0 && c < 0x80) {
				/* inside [...]: spaces and lists are part of
				 * the FETCH section */
				if (c == '[')
					p->brackets++;
				else if (c == ']')
					p->brackets--;
				buf_putc(&p->cur, (char)c);
				break;
			}
			if (is_atom_char(c)) {
				if (c == '[')
					p->brackets++;
				buf_putc(&p->cur, (char)c);
				break;
			}
			if (finish_string(p, IMAP_ARG_ATOM) < 0) {
				*consumed_r = i;
				return fail(p, "too many arguments", error_r);
			}
			i--;	/* look at c again as the end of an argument */
			p->line_len--;
			p->state = PS_AFTER_ARG;
			break;

		case PS_AFTER_ARG:
			if (c == ' ') {
				p->state = PS_ARG_START;
			} else if (c == ')') {
				if (close_list(p) < 0) {
					*consumed_r = i;
					return fail(p, "unexpected ')'", error_r);
				}
			} else if (c == '\r' || c == '\n') {
				if (p->depth > 0) {
					*consumed_r = i;
					return fail(p, "unterminated list", error_r);
				}
				if (c == '\r') {
					p->state = PS_CR;
				} else {
					p->state = PS_DONE;
					*consumed_r = i;
					return IMAP_PARSE_COMPLETE;
				}
			} else if (c == '(' && p->depth > 0) {
				/* "(a(b))": tolerated as Dovecot does */
				if (open_list(p) < 0) {
					*consumed_r = i;
					return fail(p, "lists nested too deep",
						    error_r);
				}
				p->state = PS_ARG_START;
			} else {
				*consumed_r = i;
				return fail(p, "expected a space", error_r);
			}
			break;

		case PS_QUOTED:
			if (c == '"') {
				if (finish_string(p, IMAP_ARG_QUOTED) < 0) {
					*consumed_r = i;
					return fail(p, "too many arguments",
						    error_r);
				}
				p->state = PS_AFTER_ARG;
			} else if (c == '\\') {
				p->state = PS_QUOTED_ESC;
			} else if (c == '\r' || c == '\n' || c == 0) {
				*consumed_r = i;
				return fail(p, "CR, LF or NUL in a quoted string",
					    error_r);
			} else {
				buf_putc(&p->cur, (char)c);
			}
			break;

		case PS_QUOTED_ESC:
			/* RFC 3501 §9: only \" and \\ are quoted-specials */
			if (c != '"' && c != '\\') {
				*consumed_r = i;
				return fail(p, "invalid escape in a quoted string",
					    error_r);
			}
			buf_putc(&p->cur, (char)c);
			p->state = PS_QUOTED;
			break;

		case PS_LIT_SIZE:
			if (c >= '0' && c <= '9' && p->lit_sync) {
				if (p->lit_size > (UINT64_MAX - 9) / 10) {
					*consumed_r = i;
					return fail(p, "literal size too large",
						    error_r);
				}
				p->lit_size = p->lit_size * 10 + (c - '0');
				p->lit_has_digit = true;
			} else if (c == '+' && p->lit_has_digit && p->lit_sync) {
				p->lit_sync = false;	/* RFC 7888 LITERAL+ */
			} else if (c == '}' && p->lit_has_digit) {
				p->state = PS_LIT_CR;
			} else {
				*consumed_r = i;
				return fail(p, "invalid literal size", error_r);
			}
			break;

		case PS_LIT_CR:
			if (c == '\r') {
				p->state = PS_LIT_LF;
				break;
			}
			/* a bare LF is taken as CRLF */
			__attribute__((fallthrough));
		case PS_LIT_LF:
			if (c != '\n') {
				*consumed_r = i;
				return fail(p, "literal size not at the end of the line",
					    error_r);
			}
			p->state = PS_LIT_WAIT;
			*consumed_r = i;
			return IMAP_PARSE_LITERAL;

		case PS_CR:
			if (c != '\n') {
				*consumed_r = i;
				return fail(p, "CR without LF", error_r);
			}
			p->state = PS_DONE;
			*consumed_r = i;
			return IMAP_PARSE_COMPLETE;

		case PS_LIT_DATA:
		case PS_LIT_WAIT:
		case PS_DONE:
		case PS_ERROR:
			panic("imap parser: state %d in the byte loop", p->state);
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

int
imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		panic("imap parser: literal_accept without a literal");
	if (p->lit_size > p->lim.literal_buffer_max)
		return -1;
	buf_free(&p->cur);
	buf_init(&p->cur, (size_t)p->lit_size);
	p->lit_left = p->lit_size;
	if (p->lit_left == 0) {
		if (finish_string(p, IMAP_ARG_LITERAL) < 0) {
			p->state = PS_ERROR;
			return -1;
		}
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
	struct imap_arg *a = push_arg(p, IMAP_ARG_LITERAL);
	if (a == NULL) {
		p->state = PS_ERROR;
		return;
	}
	a->streamed = true;
	a->len = (size_t)p->lit_size;
	p->state = PS_AFTER_ARG;
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

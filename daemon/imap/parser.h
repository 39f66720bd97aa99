/*
 * parser: IMAP command lines (RFC 3501 §9) as a pure, incremental parser.
 *
 * The session feeds whatever bytes it has; the parser answers
 *   IMAP_PARSE_NEED_MORE  everything was consumed, the command is not done;
 *   IMAP_PARSE_LITERAL    a literal header "{N}" or "{N+}" and its CRLF were
 *                         consumed: the caller looks at imap_parser_literal(),
 *                         checks N against its limit *before* any continuation
 *                         ("+ ...") is sent, and then accepts it (the parser
 *                         collects the next N bytes it is fed), streams it
 *                         itself (imap_parser_literal_streamed()) or rejects
 *                         the command;
 *   IMAP_PARSE_COMPLETE   a whole command, through its CRLF, was consumed:
 *                         imap_parser_args() holds it until the next reset;
 *   IMAP_PARSE_ERROR      a syntax error or a limit; *error_r says which;
 *   IMAP_PARSE_SKIPPED    the rest of a refused command, through its CRLF,
 *                         was consumed and thrown away (see below).
 * *consumed_r always tells how many of the fed bytes were used.
 *
 * Limits.  A command may hold at most command_max bytes in memory: the
 * bytes of its line outside literals, the literals the parser collects,
 * and a fixed cost per argument (a streamed literal costs only that).
 * Going over a limit (line, command, arguments, nesting) refuses the
 * command, but its rest is still parsed, keeping nothing, until its end:
 * the parser is then "skipping" (imap_parser_skipping()).  Without that, a
 * literal later in the command would be taken for commands.  A syntax
 * error does not skip: the caller drops the rest of the line and resets.
 *
 * Arguments come out as a tree: atoms, quoted strings, literals and
 * parenthesised lists.  An atom that opens a '[' runs to its matching ']'
 * including spaces and parentheses, so a FETCH item such as
 * BODY.PEEK[HEADER.FIELDS (From To)]<0.100> is one atom that fetch.c takes
 * apart.  NIL is an atom (imap_arg_is_nil()).
 */
#ifndef MAILHUB_IMAP_PARSER_H
#define MAILHUB_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;		/* atom/quoted/literal, NUL-terminated; NULL
				 * for a streamed literal */
	size_t len;		/* bytes of str (a streamed literal: its size) */
	struct imap_arg *list;	/* IMAP_ARG_LIST: its members */
	size_t n;		/* IMAP_ARG_LIST: their number */
	bool streamed;		/* a literal the caller read itself */
};

enum imap_parse_result {
	IMAP_PARSE_NEED_MORE,
	IMAP_PARSE_LITERAL,
	IMAP_PARSE_COMPLETE,
	IMAP_PARSE_ERROR,
	IMAP_PARSE_SKIPPED,
};

struct imap_parser_limits {
	size_t line_max;	/* bytes of a command without its literals */
	uint64_t literal_max;	/* advisory: reported by imap_parser_literal() */
	size_t literal_buffer_max; /* largest literal the parser will collect */
	size_t command_max;	/* bytes a command holds, literals included
				 * (see above); 0: no limit */
	uint64_t skip_max;	/* bytes of literals read and thrown away in a
				 * refused command */
	size_t args_max;	/* arguments in all lists together */
	unsigned depth_max;	/* nesting of parentheses */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **p);
/* Forgets the current command (after COMPLETE, ERROR or a rejected
 * literal); the limits stay. */
void imap_parser_reset(struct imap_parser *p);
/* Changes the limits (tighter before login); applies to the next command. */
void imap_parser_set_limits(struct imap_parser *p,
			    const struct imap_parser_limits *limits);

enum imap_parse_result imap_parser_feed(struct imap_parser *p,
					const void *data, size_t len,
					size_t *consumed_r,
					const char **error_r);

/* After IMAP_PARSE_LITERAL: its size and whether it is synchronising
 * ({N}: the client waits for "+") or not ({N+}, RFC 7888). */
void imap_parser_literal(const struct imap_parser *p, uint64_t *size_r,
			 bool *sync_r);
/* After IMAP_PARSE_LITERAL: whether it is a literal8 ("~{N}", RFC 3516). */
bool imap_parser_literal_binary(const struct imap_parser *p);
/* After IMAP_PARSE_LITERAL: the parser will collect the literal's bytes
 * from the following feeds.  -1 when it is larger than literal_buffer_max
 * or would take the command over command_max: the caller refuses the
 * command (before any continuation) and calls imap_parser_skip().
 * While skipping, the bytes are thrown away as they come; -1 then means
 * that the literals skipped in this command would pass skip_max (the
 * caller ends the session). */
int imap_parser_literal_accept(struct imap_parser *p);
/* After IMAP_PARSE_LITERAL: the caller has read (or discarded) the N bytes
 * itself; the parser records a streamed literal argument (none while
 * skipping) and goes on with the rest of the line. */
void imap_parser_literal_streamed(struct imap_parser *p);
/* After IMAP_PARSE_LITERAL: the caller refused the command; the parser
 * forgets it (but its tag) and skips its rest, this literal included. */
void imap_parser_skip(struct imap_parser *p);
/* True while the rest of a refused command is being skipped. */
bool imap_parser_skipping(const struct imap_parser *p);
/* True when part of a command has been fed (the caller is not waiting for
 * a new command). */
bool imap_parser_pending(const struct imap_parser *p);

/* The arguments parsed so far (the whole command after COMPLETE; only
 * the tag, if any, while skipping). */
const struct imap_arg *imap_parser_args(const struct imap_parser *p,
					size_t *n_r);

/* Helpers over arguments. */
bool imap_arg_is_atom(const struct imap_arg *a);
bool imap_arg_is_string(const struct imap_arg *a); /* quoted or literal */
/* An astring (atom, quoted or non-streamed literal). */
bool imap_arg_is_astring(const struct imap_arg *a);
bool imap_arg_is_nil(const struct imap_arg *a);
bool imap_arg_is_list(const struct imap_arg *a);
/* atom equal to word, ignoring ASCII case */
bool imap_arg_atom_eq(const struct imap_arg *a, const char *word);

#endif

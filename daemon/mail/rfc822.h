/*
 * rfc822: the lexical layer of RFC 5322 §3.2 (CFWS, atoms, quoted strings,
 * phrases, domains) and of MIME header values (RFC 2045 §5.1 tokens and
 * parameters, RFC 2231 continuations), shared by the address and MIME
 * parsers of this module.
 *
 * A struct rfc822_lex walks a byte range.  Every function stops at the end
 * of the range; none reads past it, and none fails on malformed input other
 * than by returning -1 and leaving the position somewhere inside the range.
 * Return values follow one rule: 1 when more input follows, 0 at the end,
 * -1 for a syntax error.  8-bit bytes count as atom text (RFC 6532).
 */
#ifndef MAILHUB_MAIL_RFC822_H
#define MAILHUB_MAIL_RFC822_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct rfc822_lex {
	const unsigned char *p, *end;
	/* when not NULL, the text of the last comment skipped is kept here */
	struct buf *last_comment;
};

void rfc822_lex_init(struct rfc822_lex *lx, const void *data, size_t len,
		     struct buf *last_comment);

/* Skips white space (SP, TAB, CR, LF) and nested comments. */
int rfc822_skip_cfws(struct rfc822_lex *lx);
/* Appends an atom (RFC 5322 atext) and skips the CFWS after it. */
int rfc822_parse_atom(struct rfc822_lex *lx, struct buf *out);
/* Appends a dot-atom, allowing CFWS around the dots (obs-local-part),
 * without the white space. */
int rfc822_parse_dot_atom(struct rfc822_lex *lx, struct buf *out);
/* Appends the content of a quoted string (at '"'), quoted-pairs undone,
 * folding CRLFs removed and NUL as U+FFFD, and skips the CFWS after it.
 * Unterminated: -1, with only the text before its last line end or
 * quoted-pair appended (as Dovecot's parser). */
int rfc822_parse_quoted_string(struct rfc822_lex *lx, struct buf *out);
/* Appends a phrase: words (atoms, which may hold '.' as obs-phrase allows,
 * or quoted strings) joined by one space. */
int rfc822_parse_phrase(struct rfc822_lex *lx, struct buf *out);
/* Appends a domain: a dot-atom or a domain literal "[...]" (kept whole). */
int rfc822_parse_domain(struct rfc822_lex *lx, struct buf *out);
/* Appends a MIME token (RFC 2045 §5.1: no tspecials, SP or CTLs). */
int rfc822_parse_mime_token(struct rfc822_lex *lx, struct buf *out);
/* Parses "type/subtype" into out as written, e.g. "text/plain". */
int rfc822_parse_content_type(struct rfc822_lex *lx, struct buf *out);

/* A MIME parameter after RFC 2231 merging. */
struct mime_param {
	char *name;
	char *value;
};

/*
 * Parses the ";name=value" list that follows a Content-Type or
 * Content-Disposition value, as Dovecot's rfc2231_parse() does: plain
 * parameters in their order, then RFC 2231 continuations (name*0, name*1*,
 * ...) merged in name order; a merged parameter with any extended piece is
 * named "name*" and its value stays charset'lang'%XX-encoded.  Broken
 * parameters end the list; what came before is kept.  At most max_params
 * are returned.  *params_r is a malloc'd array (free with
 * mime_params_free), NULL when there are none.
 */
void rfc2231_parse_params(struct rfc822_lex *lx, size_t max_params,
			  struct mime_param **params_r, size_t *count_r);
void mime_params_free(struct mime_param **params, size_t count);
/* The value of the first parameter called name (case-insensitive), or NULL. */
const char *mime_param_get(const struct mime_param *params, size_t count,
			   const char *name);

#endif

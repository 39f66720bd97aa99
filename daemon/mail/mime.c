/* mime: the MIME part tree of a message; see mime.h.  The rules (what is
 * MIME, defaults, boundaries) follow Dovecot's lib-mail/message-parser.c
 * and message-part-data.c. */
#include "mail/mime.h"

#include <stdint.h>
#include <string.h>

#include "core/limits.h"
#include "mail/header.h"

/* Parameters kept per Content-Type or Content-Disposition field. */
#define MIME_PARAMS_MAX 100
/* Languages kept per Content-Language field. */
#define MIME_LANGUAGES_MAX 50

struct boundary {
	const char *s;
	size_t len;
};

struct parse_ctx {
	const char *d;
	size_t len;
	struct boundary stack[MIME_DEPTH_MAX + 1];
	size_t nbnd;
	unsigned nparts;
};

static size_t
next_line(const struct parse_ctx *c, size_t pos)
{
	const char *lf = memchr(c->d + pos, '\n', c->len - pos);
	return lf == NULL ? c->len : (size_t)(lf - c->d) + 1;
}

/* The innermost boundary whose line starts at pos, or -1. */
static int
match_boundary(const struct parse_ctx *c, size_t pos)
{
	if (c->nbnd == 0 || pos + 2 > c->len || c->d[pos] != '-' ||
	    c->d[pos + 1] != '-')
		return -1;
	size_t avail = c->len - pos - 2;
	for (size_t i = c->nbnd; i-- > 0;) {
		const struct boundary *b = &c->stack[i];
		if (b->len <= avail && memcmp(c->d + pos + 2, b->s, b->len) == 0)
			return (int)i;
	}
	return -1;
}

/* The start of the first line after the line at pos that starts with
 * "--" (c->len when none).  It goes from '-' to '-', and past the end of a
 * line where a '-' is not at its start, instead of from line to line: a
 * base64 attachment, which has no '-', takes one memchr(). */
static size_t
next_dash_line(const struct parse_ctx *c, size_t pos)
{
	const char *d = c->d, *end = c->d + c->len;
	const char *q = d + pos;
	while (q + 1 < end) {
		q = memchr(q + 1, '-', (size_t)(end - q - 1));
		if (q == NULL)
			break;
		if (q[-1] == '\n' && q + 1 < end && q[1] == '-')
			return (size_t)(q - d);
		q = memchr(q, '\n', (size_t)(end - q));
		if (q == NULL)
			break;
	}
	return c->len;
}

/* The first line at or after pos (a line start) that is a boundary line:
 * its offset (c->len when none) and level (-1 when none).  Only a line
 * that starts with "--" can be one. */
static size_t
scan_boundary(const struct parse_ctx *c, size_t pos, int *level_r)
{
	while (c->nbnd > 0 && pos < c->len) {
		int l = match_boundary(c, pos);
		if (l >= 0) {
			*level_r = l;
			return pos;
		}
		pos = next_dash_line(c, pos);
	}
	*level_r = -1;
	return c->len;
}

/* Where the header starting at start ends (*hdr_end_r) and the body begins
 * (the return value): after its empty line, at the end, or after
 * MIME_HEADER_LINES_MAX lines.  A boundary line also ends it, and the line
 * end before that boundary line belongs to the boundary, and for a part of
 * a multipart (mime_part) even when it is the header's own empty line (so
 * such a header has no empty line and the body is empty), as in Dovecot
 * 2.3; the header of a message in a message/rfc822 part keeps it. */
static size_t
header_end(const struct parse_ctx *c, size_t start, bool mime_part,
	   size_t *hdr_end_r, size_t *cut_eol_r, size_t *cut_q_r)
{
	size_t pos = start;
	unsigned lines = 0;
	*cut_eol_r = 0;
	*cut_q_r = SIZE_MAX;
	while (pos < c->len) {
		size_t eol = 0;
		if (c->d[pos] == '\n')
			eol = 1;
		else if (c->d[pos] == '\r' && pos + 1 < c->len &&
			 c->d[pos + 1] == '\n')
			eol = 2;
		if (eol > 0) {
			if (mime_part && match_boundary(c, pos + eol) >= 0) {
				*hdr_end_r = pos;
				*cut_eol_r = eol;
				*cut_q_r = pos + eol;
				return pos;
			}
			*hdr_end_r = pos + eol;
			return pos + eol;
		}
		if (match_boundary(c, pos) >= 0) {
			size_t e = pos;
			if (e > start && c->d[e - 1] == '\n') {
				e--;
				if (e > start && c->d[e - 1] == '\r')
					e--;
			}
			*hdr_end_r = e;
			*cut_q_r = pos;
			return e;
		}
		if (++lines > MIME_HEADER_LINES_MAX)
			break;
		pos = next_line(c, pos);
	}
	*hdr_end_r = pos < c->len ? pos : c->len;
	return *hdr_end_r;
}

/* A field value as Dovecot hands it on, as a malloc'd string with its
 * length (it may hold NUL bytes unless replace_nul). */
static char *
field_value(const struct mail_header_field *f, bool replace_nul, size_t *len_r)
{
	struct buf b = BUF_INIT;
	mail_header_value_lf(&b, f, replace_nul);
	*len_r = b.len;
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

/*
 * Content-Type, read the way Dovecot 2.3 reads it: "type/subtype" followed
 * by the end or ';'.  A lone "type" keeps its type with an empty subtype;
 * anything else broken gives "" "" and its parameters are not read.
 */
static void
parse_content_type(struct mime_part *part, const char *v, size_t len)
{
	struct rfc822_lex lx;
	struct buf type = BUF_INIT, sub = BUF_INIT;
	bool ok = false;
	int ret;

	rfc822_lex_init(&lx, v, len, NULL);
	if (rfc822_skip_cfws(&lx) <= 0)
		goto done;
	ret = rfc822_parse_mime_token(&lx, &type);
	if (ret <= 0 || type.len == 0)
		goto done;
	if (*lx.p != '/' || (lx.p++, rfc822_skip_cfws(&lx)) <= 0) {
		buf_reset(&type);
		goto done;
	}
	ret = rfc822_parse_mime_token(&lx, &sub);
	if (ret < 0 || sub.len == 0 || (lx.p < lx.end && *lx.p != ';')) {
		buf_reset(&type);
		buf_reset(&sub);
		goto done;
	}
	ok = true;
done:
	part->type = xstrdup(buf_cstr(&type));
	part->subtype = xstrdup(buf_cstr(&sub));
	buf_free(&type);
	buf_free(&sub);
	if (ok)
		rfc2231_parse_params(&lx, MIME_PARAMS_MAX, &part->type_params,
				     &part->type_params_count);
}

static void
parse_disposition(struct mime_part *part, const char *v, size_t len)
{
	struct rfc822_lex lx;
	struct buf tok = BUF_INIT;
	rfc822_lex_init(&lx, v, len, NULL);
	/* an empty disposition type is kept, as Dovecot keeps it */
	if (rfc822_skip_cfws(&lx) < 0 || rfc822_parse_mime_token(&lx, &tok) < 0) {
		buf_free(&tok);
		return;
	}
	part->disposition = tok.data != NULL ? buf_steal(&tok) : xstrdup("");
	rfc2231_parse_params(&lx, MIME_PARAMS_MAX, &part->disposition_params,
			     &part->disposition_params_count);
}

static void
parse_encoding(struct mime_part *part, const char *v, size_t len)
{
	struct rfc822_lex lx;
	struct buf tok = BUF_INIT;
	rfc822_lex_init(&lx, v, len, NULL);
	if (rfc822_skip_cfws(&lx) > 0 &&
	    rfc822_parse_mime_token(&lx, &tok) == 0 && tok.len > 0)
		part->encoding = buf_steal(&tok);
	buf_free(&tok);
}

/* Content-Language = 1#Language-tag */
static void
parse_language(struct mime_part *part, const char *v, size_t len)
{
	struct rfc822_lex lx;
	struct buf tok = BUF_INIT;
	size_t cap = 0;
	rfc822_lex_init(&lx, v, len, NULL);
	rfc822_skip_cfws(&lx);
	while (part->languages_count < MIME_LANGUAGES_MAX &&
	       rfc822_parse_atom(&lx, &tok) >= 0) {
		if (part->languages_count == cap) {
			cap = cap == 0 ? 2 : cap * 2;
			part->languages = xreallocarray(part->languages, cap,
							sizeof(char *));
		}
		part->languages[part->languages_count++] = buf_steal(&tok);
		if (lx.p >= lx.end || *lx.p != ',')
			break;
		lx.p++;
		rfc822_skip_cfws(&lx);
	}
	buf_free(&tok);
}

static void
clear_content(struct mime_part *part)
{
	xfree(part->type);
	xfree(part->subtype);
	mime_params_free(&part->type_params, part->type_params_count);
	part->type_params_count = 0;
	xfree(part->id);
	xfree(part->description);
	xfree(part->encoding);
	xfree(part->md5);
	xfree(part->location);
	xfree(part->disposition);
	mime_params_free(&part->disposition_params,
			 part->disposition_params_count);
	part->disposition_params_count = 0;
	for (size_t i = 0; i < part->languages_count; i++)
		free(part->languages[i]);
	xfree(part->languages);
	part->languages_count = 0;
}

static bool
name_is(const struct mail_header_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && mem_eq_nocase(f->name, name, n);
}

/* Reads the Content-* fields of a part and sets its flags. */
static void
parse_fields(const struct parse_ctx *c, struct mime_part *part,
	     const char **boundary_r, size_t *boundary_len_r)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	bool seen_type = false;

	*boundary_r = NULL;
	mail_header_iter_init(&it, c->d + part->hdr_off, part->hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		if (memchr(c->d + part->hdr_off + f.raw_off, '\0', f.raw_len))
			part->flags |= MIME_PART_HAS_NULS;
		if (name_is(&f, "MIME-Version")) {
			part->flags |= MIME_PART_IS_MIME;
			continue;
		}
		if (f.name_len < 8 || !mem_eq_nocase(f.name, "Content-", 8))
			continue;
		char **slot = NULL;
		size_t vlen;
		/* structured fields are parsed with their NUL bytes (which
		 * end tokens), text fields get U+FFFD, as in Dovecot */
		bool text = name_is(&f, "Content-ID") ||
			    name_is(&f, "Content-Description") ||
			    name_is(&f, "Content-MD5") ||
			    name_is(&f, "Content-Location");
		char *v = field_value(&f, text, &vlen);
		if (name_is(&f, "Content-Type")) {
			part->flags |= MIME_PART_IS_MIME;
			if (!seen_type) {
				seen_type = true;
				parse_content_type(part, v, vlen);
			}
		} else if (name_is(&f, "Content-Transfer-Encoding")) {
			if (part->encoding == NULL)
				parse_encoding(part, v, vlen);
		} else if (name_is(&f, "Content-Disposition")) {
			/* Dovecot lets a later field replace one that had no
			 * parameters; the same here for identical output */
			if (part->disposition_params_count == 0) {
				xfree(part->disposition);
				parse_disposition(part, v, vlen);
			}
		} else if (name_is(&f, "Content-Language")) {
			if (part->languages == NULL)
				parse_language(part, v, vlen);
		} else if (name_is(&f, "Content-ID")) {
			slot = &part->id;
		} else if (name_is(&f, "Content-Description")) {
			slot = &part->description;
		} else if (name_is(&f, "Content-MD5")) {
			slot = &part->md5;
		} else if (name_is(&f, "Content-Location")) {
			slot = &part->location;
		}
		if (slot != NULL && *slot == NULL) {
			*slot = v;
			v = NULL;
		}
		free(v);
	}

	unsigned kind = 0;
	if (part->type != NULL) {
		if (str_eq_nocase(part->type, "message") &&
		    str_eq_nocase(part->subtype, "rfc822")) {
			kind = MIME_PART_MESSAGE;
		} else if (str_eq_nocase(part->type, "text")) {
			kind = MIME_PART_TEXT;
		} else if (str_eq_nocase(part->type, "multipart")) {
			kind = MIME_PART_MULTIPART;
			if (str_eq_nocase(part->subtype, "digest"))
				kind |= MIME_PART_DIGEST;
			const char *b = mime_param_get(part->type_params,
						       part->type_params_count,
						       "boundary");
			/* without a boundary it stays a multipart without
			 * parts; an empty boundary is a boundary (both as
			 * Dovecot 2.3 does it) */
			if (b != NULL) {
				*boundary_r = b;
				*boundary_len_r = strlen(b);
			}
		}
	} else {
		seen_type = false;
	}
	if ((part->flags & MIME_PART_IS_MIME) == 0) {
		/* RFC 2045 §4: without MIME-Version the Content-* fields
		 * mean nothing */
		clear_content(part);
		kind = 0;
		*boundary_r = NULL;
		seen_type = false;
	}
	if (!seen_type) {
		/* RFC 2045 §5.2 and RFC 2046 §5.1.5 defaults */
		if (part->parent != NULL &&
		    (part->parent->flags & MIME_PART_DIGEST) != 0)
			kind = MIME_PART_MESSAGE;
		else
			kind = MIME_PART_TEXT;
	}
	part->flags |= kind;
}

/* A new last child of parent; prev is the child made before (NULL for the
 * first), so that a multipart of MIME_PARTS_MAX parts is not quadratic. */
static struct mime_part *
new_child(struct parse_ctx *c, struct mime_part *parent, struct mime_part *prev)
{
	struct mime_part *p = xcalloc(1, sizeof *p);
	p->parent = parent;
	if (prev == NULL)
		parent->children = p;
	else
		prev->next = p;
	c->nparts++;
	return p;
}

/* Where the content searched from region ends when boundary line q (level
 * >= 0) or the end of the message stopped the search: the line end before a
 * boundary line belongs to the boundary, unless the boundary is the first
 * line of the region (RFC 2046 §5.1.1; Dovecot's parse_part_finish). */
static size_t
content_end(const struct parse_ctx *c, size_t region, size_t q, int level)
{
	if (level < 0 || q <= region)
		return q;
	size_t e = q;
	if (c->d[e - 1] == '\n') {
		e--;
		if (e > region && c->d[e - 1] == '\r')
			e--;
	}
	return e;
}

/*
 * The LF count of p[0..n).  Each block of 256 bytes is counted in 32
 * byte-sized counters (at most 8 each), a loop that compilers turn into
 * vector instructions (some 20 GB/s); the obvious memchr() per line pays a
 * call for every 78-byte line of a base64 attachment, and a part is
 * counted again at each level of nesting.
 */
static size_t
count_lines(const char *p, size_t n)
{
	size_t lines = 0;
	for (; n >= 256; p += 256, n -= 256) {
		unsigned char k[32] = { 0 };
		for (size_t j = 0; j < 256; j += 32)
			for (size_t i = 0; i < 32; i++)
				k[i] += p[j + i] == '\n';
		for (size_t i = 0; i < 32; i++)
			lines += k[i];
	}
	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

/* Parses the entity starting at start.  Returns where it ends (a boundary
 * line or the end of the message), in *level_r which boundary ended it (-1:
 * none), and in *end_r where its content ends. */
static size_t
parse_entity(struct parse_ctx *c, struct mime_part *part, size_t start,
	     unsigned depth, int *level_r, size_t *end_r)
{
	const char *bnd;
	size_t bnd_len = 0, q, end;
	int level;

	size_t hdr_end, cut_eol, cut_q;
	bool in_multipart = part->parent != NULL &&
			    (part->parent->flags & MIME_PART_MULTIPART) != 0;
	part->hdr_off = start;
	part->body_off = header_end(c, start, in_multipart, &hdr_end, &cut_eol,
				    &cut_q);
	part->hdr_len = hdr_end - start;
	if (in_multipart)
		part->flags |= MIME_PART_IS_MIME;
	parse_fields(c, part, &bnd, &bnd_len);
	if (cut_eol > 0 && bnd != NULL) {
		/* the line after the empty line is this multipart's own first
		 * boundary (innermost, so it wins over an outer boundary it
		 * starts like): the empty line stays in the header */
		size_t next = hdr_end + cut_eol;
		if (next + 2 + bnd_len <= c->len && c->d[next] == '-' &&
		    c->d[next + 1] == '-' &&
		    memcmp(c->d + next + 2, bnd, bnd_len) == 0) {
			part->hdr_len += cut_eol;
			part->body_off += cut_eol;
			cut_q = SIZE_MAX;
		}
	}
	if (cut_q != SIZE_MAX) {
		/* a boundary line ended the header: the body is empty (an
		 * embedded message is there, but empty too) */
		if ((part->flags & MIME_PART_MESSAGE) != 0 &&
		    c->nparts < MIME_PARTS_MAX && depth < MIME_DEPTH_MAX) {
			struct mime_part *child = new_child(c, part, NULL);
			child->hdr_off = child->body_off = part->body_off;
			parse_fields(c, child, &bnd, &bnd_len);
		} else {
			part->flags &= ~(unsigned)MIME_PART_MESSAGE;
		}
		part->body_len = 0;
		part->body_lines = 0;
		*level_r = match_boundary(c, cut_q);
		*end_r = part->body_off;
		return cut_q;
	}

	bool room = depth < MIME_DEPTH_MAX && c->nparts < MIME_PARTS_MAX;
	if ((part->flags & MIME_PART_MULTIPART) != 0 && room && bnd != NULL &&
	    c->nbnd < MIME_DEPTH_MAX + 1) {
		size_t mine = c->nbnd;
		struct mime_part *last = NULL;
		c->stack[c->nbnd].s = bnd;
		c->stack[c->nbnd].len = bnd_len;
		c->nbnd++;
		/* the preamble */
		q = scan_boundary(c, part->body_off, &level);
		end = content_end(c, part->body_off, q, level);
		while (level == (int)mine) {
			size_t after = q + 2 + bnd_len;
			bool close = after + 2 <= c->len &&
				     c->d[after] == '-' && c->d[after + 1] == '-';
			after = next_line(c, q);
			if (close) {
				/* the epilogue runs to an outer boundary */
				c->nbnd = mine;
				q = scan_boundary(c, after, &level);
				end = content_end(c, after, q, level);
				break;
			}
			if (c->nparts >= MIME_PARTS_MAX) {
				q = scan_boundary(c, after, &level);
				end = content_end(c, after, q, level);
				continue;
			}
			last = new_child(c, part, last);
			q = parse_entity(c, last, after, depth + 1, &level, &end);
		}
		c->nbnd = mine;
	} else if ((part->flags & MIME_PART_MESSAGE) != 0 && room) {
		struct mime_part *child = new_child(c, part, NULL);
		q = parse_entity(c, child, part->body_off, depth + 1, &level,
				 &end);
	} else {
		/* a leaf, a multipart without a boundary (which stays a
		 * multipart without parts), or a container we do not open */
		if (!room)
			part->flags &= ~(unsigned)(MIME_PART_MULTIPART |
						   MIME_PART_MESSAGE);
		q = scan_boundary(c, part->body_off, &level);
		end = content_end(c, part->body_off, q, level);
	}
	if (end < part->body_off)
		end = part->body_off;
	part->body_len = end - part->body_off;
	part->body_lines = count_lines(c->d + part->body_off, part->body_len);
	if (memchr(c->d + part->body_off, '\0', part->body_len) != NULL)
		part->flags |= MIME_PART_HAS_NULS;
	*level_r = level;
	*end_r = end;
	return q;
}

struct mime_part *
mime_parse(const char *msg, size_t len)
{
	struct parse_ctx c;
	int level;
	size_t end;
	memset(&c, 0, sizeof c);
	c.d = msg;
	c.len = len;
	struct mime_part *root = xcalloc(1, sizeof *root);
	c.nparts = 1;
	(void)parse_entity(&c, root, 0, 0, &level, &end);
	return root;
}

void
mime_part_free(struct mime_part **rootp)
{
	struct mime_part *p = *rootp;
	while (p != NULL) {
		struct mime_part *next = p->next;
		mime_part_free(&p->children);
		clear_content(p);
		free(p);
		p = next;
	}
	*rootp = NULL;
}

const char *
mime_part_charset(const struct mime_part *part)
{
	return mime_param_get(part->type_params, part->type_params_count,
			      "charset");
}

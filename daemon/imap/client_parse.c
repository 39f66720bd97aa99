/*
 * imap/client_parse: the pure half of the IMAP client (see client.h).
 * RFC 3501 §9 (formal syntax) is the reference for every token here.
 */
#include <string.h>

#include "core/buf.h"
#include "imap/client.h"

static size_t
strip_eol(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len;
}

static int
parse_u64(const char *p, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int
parse_u32(const char *p, size_t len, uint32_t *v_r)
{
	uint64_t v;
	if (len > 10 || parse_u64(p, len, &v) < 0 || v > UINT32_MAX)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

static size_t
word_end(const char *p, size_t pos, size_t len)
{
	while (pos < len && p[pos] != ' ')
		pos++;
	return pos;
}

static size_t
skip_sp(const char *p, size_t pos, size_t len)
{
	while (pos < len && p[pos] == ' ')
		pos++;
	return pos;
}

static bool
is_status_name(const char *n, size_t len)
{
	static const char *const names[] = { "OK", "NO", "BAD", "BYE", "PREAUTH" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strlen(names[i]) == len && mem_eq_nocase(n, names[i], len))
			return true;
	}
	return false;
}

int
imapc_parse_response(const char *line, size_t len, struct imapc_resp *r)
{
	memset(r, 0, sizeof *r);
	len = strip_eol(line, len);
	if (len == 0)
		return -1;
	size_t pos;
	if (line[0] == '+') {
		/* RFC 3501 §7.5: "+" SP (resp-text / base64); some servers omit SP */
		r->kind = IMAPC_CONTINUE;
		pos = skip_sp(line, 1, len);
		r->rest = line + pos;
		r->rest_len = len - pos;
		return 0;
	}
	if (line[0] == '*') {
		if (len < 2 || line[1] != ' ')
			return -1;
		r->kind = IMAPC_UNTAGGED;
		pos = 2;
	} else {
		size_t end = word_end(line, 0, len);
		for (size_t i = 0; i < end; i++) {
			/* tag = 1*<any ASTRING-CHAR except "+"> */
			unsigned char ch = (unsigned char)line[i];
			if (ch <= 0x20 || ch >= 0x7f || ch == '+' || ch == '(' ||
			    ch == ')' || ch == '{' || ch == '"' || ch == '\\' || ch == '%' ||
			    ch == '*')
				return -1;
		}
		if (end == len)
			return -1;
		r->kind = IMAPC_TAGGED;
		r->tag = line;
		r->tag_len = end;
		pos = end + 1;
	}
	size_t end = word_end(line, pos, len);
	if (end == pos)
		return -1;
	if (r->kind == IMAPC_UNTAGGED && line[pos] >= '0' && line[pos] <= '9') {
		if (parse_u32(line + pos, end - pos, &r->number) < 0)
			return -1;
		r->has_number = true;
		pos = skip_sp(line, end, len);
		end = word_end(line, pos, len);
		if (end == pos)
			return -1;
	}
	/* "FETCH (" has no space problem; a name ends at SP */
	r->name = line + pos;
	r->name_len = end - pos;
	for (size_t i = 0; i < r->name_len; i++) {
		char ch = r->name[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return -1;
	}
	if (r->kind == IMAPC_TAGGED && !is_status_name(r->name, r->name_len))
		return -1;
	pos = skip_sp(line, end, len);
	if (is_status_name(r->name, r->name_len) && pos < len && line[pos] == '[') {
		/* resp-text-code: up to the matching ']' (no nesting in codes) */
		const char *close = memchr(line + pos, ']', len - pos);
		if (close == NULL)
			return -1;
		r->code = line + pos + 1;
		r->code_len = (size_t)(close - r->code);
		pos = skip_sp(line, (size_t)(close - line) + 1, len);
	}
	r->rest = line + pos;
	r->rest_len = len - pos;
	return 0;
}

bool
imapc_resp_is(const struct imapc_resp *r, const char *s)
{
	return r->name != NULL && strlen(s) == r->name_len &&
	       mem_eq_nocase(r->name, s, r->name_len);
}

int
imapc_line_literal(const char *line, size_t len, uint64_t max, uint64_t *n_r)
{
	len = strip_eol(line, len);
	if (len < 3 || line[len - 1] != '}')
		return 0;
	size_t end = len - 1;
	if (line[end - 1] == '+')	/* RFC 7888 non-synchronizing */
		end--;
	size_t start = end;
	while (start > 0 && line[start - 1] >= '0' && line[start - 1] <= '9')
		start--;
	if (start == 0 || line[start - 1] != '{')
		return 0;
	if (start == end || end - start > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = start; i < end; i++)
		v = v * 10 + (unsigned)(line[i] - '0');
	if (v > max)
		return -1;
	*n_r = v;
	return 1;
}

unsigned
imapc_parse_caps(const char *p, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} caps[] = {
		{ "IMAP4rev1", IMAPC_CAP_IMAP4REV1 },
		{ "IMAP4rev2", IMAPC_CAP_IMAP4REV2 },
		{ "STARTTLS", IMAPC_CAP_STARTTLS },
		{ "LOGINDISABLED", IMAPC_CAP_LOGINDISABLED },
		{ "AUTH=PLAIN", IMAPC_CAP_AUTH_PLAIN },
		{ "IDLE", IMAPC_CAP_IDLE },
		{ "UIDPLUS", IMAPC_CAP_UIDPLUS },
		{ "SASL-IR", IMAPC_CAP_SASL_IR },
		{ "LITERAL+", IMAPC_CAP_LITERALPLUS },
		{ "NOTIFY", IMAPC_CAP_NOTIFY },
		{ "X-GM-EXT-1", IMAPC_CAP_X_GM_EXT_1 },
		{ "AUTH=XOAUTH2", IMAPC_CAP_AUTH_XOAUTH2 },
		{ "AUTH=OAUTHBEARER", IMAPC_CAP_AUTH_OAUTHBEARER },
		{ "CONDSTORE", IMAPC_CAP_CONDSTORE },
		/* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE */
		{ "QRESYNC", IMAPC_CAP_CONDSTORE | IMAPC_CAP_QRESYNC },
		{ "MOVE", IMAPC_CAP_MOVE },
		{ "ESEARCH", IMAPC_CAP_ESEARCH },
	};
	unsigned bits = 0;
	size_t pos = 0;
	len = strip_eol(p, len);
	while (pos < len) {
		pos = skip_sp(p, pos, len);
		size_t end = word_end(p, pos, len);
		for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
			if (strlen(caps[i].name) == end - pos &&
			    mem_eq_nocase(p + pos, caps[i].name, end - pos))
				bits |= caps[i].bit;
		}
		pos = end;
	}
	return bits;
}

int
imapc_code_number(const char *code, size_t len, const char *name, uint32_t *n_r)
{
	size_t nlen = strlen(name);
	if (code == NULL || len < nlen + 2 || !mem_eq_nocase(code, name, nlen) ||
	    code[nlen] != ' ')
		return 0;
	size_t end = word_end(code, nlen + 1, len);
	return parse_u32(code + nlen + 1, end - nlen - 1, n_r) == 0 ? 1 : 0;
}

int
imapc_parse_search(const char *p, size_t len, uint32_t **uids, size_t *n,
		   size_t max)
{
	size_t pos = 0;
	len = strip_eol(p, len);
	while (pos < len) {
		pos = skip_sp(p, pos, len);
		if (pos == len)
			break;
		size_t end = word_end(p, pos, len);
		uint32_t v;
		if (parse_u32(p + pos, end - pos, &v) < 0 || v == 0) {
			/* RFC 4731/7162 "(MODSEQ n)" and the like: not asked for */
			return -1;
		}
		if (*n >= max)
			return -1;
		if (*n % 1024 == 0)
			*uids = xreallocarray(*uids, *n + 1024, sizeof **uids);
		(*uids)[(*n)++] = v;
		pos = end;
	}
	return 0;
}

void
imapc_uidset(struct buf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (out->len > 0)
			buf_putc(out, ',');
		if (j == i)
			buf_printf(out, "%u", uids[i]);
		else
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		i = j + 1;
	}
}

/* ---- FETCH ---------------------------------------------------------------- */

enum fetch_state {
	F_OPEN,		/* expecting "(" */
	F_ITEM,		/* expecting an item name or ")" */
	F_VALUE,	/* expecting the value of f->item */
	F_SKIP,		/* inside a list value being skipped */
	F_FLAGS,	/* inside the FLAGS list */
	F_END,		/* after the closing ")" */
};

enum tok {
	T_END,
	T_LPAREN,
	T_RPAREN,
	T_ATOM,
	T_QUOTED,
	T_LITERAL,
	T_BAD,
};

struct tokenizer {
	const char *p;
	size_t len, pos;
	const char *tok;	/* T_ATOM: the atom; T_QUOTED: the raw inside */
	size_t tok_len;
	uint64_t literal;
};

static enum tok
next_token(struct tokenizer *t)
{
	t->pos = skip_sp(t->p, t->pos, t->len);
	if (t->pos >= t->len)
		return T_END;
	char ch = t->p[t->pos];
	if (ch == '(') {
		t->pos++;
		return T_LPAREN;
	}
	if (ch == ')') {
		t->pos++;
		return T_RPAREN;
	}
	if (ch == '"') {
		size_t i = t->pos + 1;
		while (i < t->len && t->p[i] != '"') {
			if (t->p[i] == '\\')
				i++;
			i++;
		}
		if (i >= t->len)
			return T_BAD;
		t->tok = t->p + t->pos + 1;
		t->tok_len = i - t->pos - 1;
		t->pos = i + 1;
		return T_QUOTED;
	}
	if (ch == '{') {
		/* a literal announcement ends the segment */
		uint64_t n;
		if (imapc_line_literal(t->p + t->pos, t->len - t->pos, UINT64_MAX / 2, &n) != 1)
			return T_BAD;
		t->literal = n;
		t->pos = t->len;
		return T_LITERAL;
	}
	size_t start = t->pos;
	while (t->pos < t->len) {
		ch = t->p[t->pos];
		if (ch == '[') {
			/* section spec: "BODY[HEADER.FIELDS (A B)]" */
			const char *close = memchr(t->p + t->pos, ']', t->len - t->pos);
			if (close == NULL)
				return T_BAD;
			t->pos = (size_t)(close - t->p) + 1;
			continue;
		}
		if (ch == ' ' || ch == '(' || ch == ')' || ch == '"' || ch == '{' ||
		    (unsigned char)ch < 0x20 || ch == 0x7f)
			break;
		t->pos++;
	}
	if (t->pos == start)
		return T_BAD;
	t->tok = t->p + start;
	t->tok_len = t->pos - start;
	return T_ATOM;
}

void
imapc_fetch_init(struct imapc_fetch *f)
{
	memset(f, 0, sizeof *f);
	f->state = F_OPEN;
}

static bool
item_is(const struct imapc_fetch *f, const char *name)
{
	return str_eq_nocase(f->item, name);
}

static bool
item_is_body(const struct imapc_fetch *f)
{
	/* BODY[] or BODY[]<0> (a partial from 0), or RFC822 */
	return item_is(f, "RFC822") || str_has_prefix_nocase(f->item, "BODY[]");
}

/* One flag of a FETCH FLAGS list (RFC 3501 §2.3.2): a system flag to its
 * bit, \Recent and unknown backslash flags dropped, a keyword (atom) added
 * once (case-insensitive, as RFC 3501 compares them) while it fits. */
static void
add_flag(struct imapc_fetch *f, const char *p, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {
		{ "\\Seen", IMAPC_FLAG_SEEN },     { "\\Answered", IMAPC_FLAG_ANSWERED },
		{ "\\Flagged", IMAPC_FLAG_FLAGGED }, { "\\Deleted", IMAPC_FLAG_DELETED },
		{ "\\Draft", IMAPC_FLAG_DRAFT },
	};
	if (len == 0)
		return;
	if (p[0] == '\\') {
		for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) {
			if (strlen(sys[i].name) == len && mem_eq_nocase(p, sys[i].name, len))
				f->flags |= sys[i].bit;
		}
		return;
	}
	for (size_t i = 0; i < len; i++) {
		/* an atom (the tokenizer let '[', ']' and '\\' through) */
		if (p[i] == '[' || p[i] == ']' || p[i] == '\\' || p[i] == '%' || p[i] == '*')
			return;
	}
	size_t have = strlen(f->keywords);
	for (size_t pos = 0; pos < have;) {
		size_t end = pos;
		while (end < have && f->keywords[end] != ' ')
			end++;
		if (end - pos == len && mem_eq_nocase(f->keywords + pos, p, len))
			return;
		pos = end + 1;
	}
	if (have + (have > 0) + len > MESSAGE_KEYWORDS_MAX)
		return;
	if (have > 0)
		f->keywords[have++] = ' ';
	memcpy(f->keywords + have, p, len);
	f->keywords[have + len] = '\0';
}

enum imapc_fetch_result
imapc_fetch_feed(struct imapc_fetch *f, const char *p, size_t len)
{
	struct tokenizer t = { .p = p, .len = strip_eol(p, len) };
	f->quoted_body = NULL;
	f->quoted_body_len = 0;
	for (;;) {
		enum tok k = next_token(&t);
		if (k == T_BAD)
			return IMAPC_FETCH_ERROR;
		switch (f->state) {
		case F_OPEN:
			if (k != T_LPAREN)
				return IMAPC_FETCH_ERROR;
			f->state = F_ITEM;
			break;
		case F_ITEM:
			if (k == T_RPAREN) {
				f->state = F_END;
				break;
			}
			if (k != T_ATOM)
				return IMAPC_FETCH_ERROR;
			/* a name longer than ours is none we look at */
			if (t.tok_len >= sizeof f->item) {
				memcpy(f->item, "?", 2);
			} else {
				memcpy(f->item, t.tok, t.tok_len);
				f->item[t.tok_len] = '\0';
			}
			f->state = F_VALUE;
			break;
		case F_VALUE:
			if (k == T_END || k == T_RPAREN)
				return IMAPC_FETCH_ERROR;
			f->state = F_ITEM;
			if (item_is(f, "UID")) {
				if (k != T_ATOM || parse_u32(t.tok, t.tok_len, &f->uid) < 0 ||
				    f->uid == 0)
					return IMAPC_FETCH_ERROR;
			} else if (item_is(f, "INTERNALDATE")) {
				if (k != T_QUOTED || t.tok_len >= sizeof f->date)
					return IMAPC_FETCH_ERROR;
				memcpy(f->date, t.tok, t.tok_len);
				f->date[t.tok_len] = '\0';
				f->have_date = true;
			} else if (item_is_body(f)) {
				if (f->have_body || (k != T_LITERAL && k != T_QUOTED))
					return IMAPC_FETCH_ERROR;	/* NIL, or twice */
				f->have_body = true;
				if (k == T_LITERAL) {
					f->literal = t.literal;
					return IMAPC_FETCH_BODY;
				}
				f->quoted_body = t.tok;
				f->quoted_body_len = t.tok_len;
			} else if (item_is(f, "FLAGS")) {
				if (k != T_LPAREN)
					return IMAPC_FETCH_ERROR;
				f->have_flags = true;
				f->flags = 0;
				f->keywords[0] = '\0';
				f->state = F_FLAGS;
			} else if (item_is(f, "X-GM-MSGID")) {
				if (k != T_ATOM || parse_u64(t.tok, t.tok_len, &f->gm_msgid) < 0)
					return IMAPC_FETCH_ERROR;
			} else if (k == T_LPAREN) {
				f->state = F_SKIP;
				f->depth = 1;
			} else if (k == T_LITERAL) {
				f->literal = t.literal;
				return IMAPC_FETCH_SKIP;
			}
			break;
		case F_FLAGS:
			if (k == T_RPAREN)
				f->state = F_ITEM;
			else if (k == T_ATOM)
				add_flag(f, t.tok, t.tok_len);
			else
				return IMAPC_FETCH_ERROR;
			break;
		case F_SKIP:
			if (k == T_END)
				return IMAPC_FETCH_ERROR;
			if (k == T_LPAREN) {
				if (++f->depth > 100)
					return IMAPC_FETCH_ERROR;
			} else if (k == T_RPAREN) {
				if (--f->depth == 0)
					f->state = F_ITEM;
			} else if (k == T_LITERAL) {
				f->literal = t.literal;
				return IMAPC_FETCH_SKIP;
			}
			break;
		case F_END:
			return k == T_END ? IMAPC_FETCH_DONE : IMAPC_FETCH_ERROR;
		default:
			return IMAPC_FETCH_ERROR;
		}
		if (k == T_END && f->state != F_END)
			return IMAPC_FETCH_ERROR;
	}
}

/* Appends v to *uids (grown by 1024 at a time); -1 past max. */
static int
uid_push(uint32_t **uids, size_t *n, size_t max, uint32_t v)
{
	if (*n >= max)
		return -1;
	if (*n % 1024 == 0)
		*uids = xreallocarray(*uids, *n + 1024, sizeof **uids);
	(*uids)[(*n)++] = v;
	return 0;
}

int
imapc_parse_uidset(const char *p, size_t len, uint32_t **uids, size_t *n, size_t max)
{
	size_t pos = 0;
	len = strip_eol(p, len);
	if (len == 0)
		return -1;
	while (pos < len) {
		size_t end = pos;
		while (end < len && p[end] != ',')
			end++;
		const char *colon = memchr(p + pos, ':', end - pos);
		uint32_t a, b;
		if (colon == NULL) {
			if (parse_u32(p + pos, end - pos, &a) < 0 || a == 0)
				return -1;
			b = a;
		} else if (parse_u32(p + pos, (size_t)(colon - (p + pos)), &a) < 0 ||
			   parse_u32(colon + 1, (size_t)(p + end - colon - 1), &b) < 0 ||
			   a == 0 || b == 0) {
			return -1;
		}
		/* RFC 9051 §9 seq-range: either order means the same range */
		uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
		if ((uint64_t)hi - lo >= max)
			return -1;
		for (uint64_t v = lo; v <= hi; v++)
			if (uid_push(uids, n, max, (uint32_t)v) < 0)
				return -1;
		pos = end < len ? end + 1 : end;
		if (end < len && pos == len)
			return -1;
	}
	return 0;
}

int
imapc_parse_vanished(const char *p, size_t len, bool *earlier_r, uint32_t **uids, size_t *n,
		     size_t max, const char **error_r)
{
	size_t pos = 0;
	*earlier_r = false;
	len = strip_eol(p, len);
	pos = skip_sp(p, pos, len);
	if (pos < len && p[pos] == '(') {
		/* RFC 7162 §7.3: "(EARLIER)" is the only tag defined; an
		 * unknown one is refused rather than read as a live expunge */
		static const char earlier[] = "(EARLIER)";
		size_t el = sizeof earlier - 1;
		if (len - pos < el || !mem_eq_nocase(p + pos, earlier, el)) {
			*error_r = "the server sent a VANISHED response with an unknown tag";
			return -1;
		}
		*earlier_r = true;
		pos += el;
		if (pos == len || p[pos] != ' ') {
			*error_r = "the server sent a VANISHED response without UIDs";
			return -1;
		}
		pos = skip_sp(p, pos, len);
	}
	size_t end = word_end(p, pos, len);
	if (pos == len || end != len) {
		*error_r = pos == len ? "the server sent a VANISHED response without UIDs"
				      : "the server sent a VANISHED response with text after its UIDs";
		return -1;
	}
	/* known-uids (RFC 7162 §7.3): a sequence set of UIDs, no "*" */
	if (imapc_parse_uidset(p + pos, end - pos, uids, n, max) < 0) {
		*error_r = "the server sent a malformed VANISHED response (or too many UIDs)";
		return -1;
	}
	return 0;
}

int
imapc_parse_esearch_all(const char *p, size_t len, uint32_t **uids, size_t *n, size_t max)
{
	size_t pos = 0;
	len = strip_eol(p, len);
	while (pos < len) {
		pos = skip_sp(p, pos, len);
		if (pos < len && p[pos] == '(') {
			/* the search correlator "(TAG "A0004")": skip it */
			const char *close = memchr(p + pos, ')', len - pos);
			if (close == NULL)
				return -1;
			pos = (size_t)(close - p) + 1;
			continue;
		}
		size_t end = word_end(p, pos, len);
		if (end - pos == 3 && mem_eq_nocase(p + pos, "ALL", 3)) {
			pos = skip_sp(p, end, len);
			end = word_end(p, pos, len);
			return imapc_parse_uidset(p + pos, end - pos, uids, n, max);
		}
		pos = end;
	}
	return 0;
}

int
imapc_parse_copyuid(const char *p, size_t len, uint32_t *uidvalidity_r, uint32_t **src_r,
		    uint32_t **dst_r, size_t *n_r)
{
	*src_r = *dst_r = NULL;
	*n_r = 0;
	len = strip_eol(p, len);
	size_t pos = skip_sp(p, 0, len);
	size_t end = word_end(p, pos, len);
	if (parse_u32(p + pos, end - pos, uidvalidity_r) < 0 || *uidvalidity_r == 0)
		return -1;
	pos = skip_sp(p, end, len);
	end = word_end(p, pos, len);
	size_t ns = 0, nd = 0;
	if (imapc_parse_uidset(p + pos, end - pos, src_r, &ns, IMAPC_SEARCH_MAX) < 0)
		goto fail;
	pos = skip_sp(p, end, len);
	end = word_end(p, pos, len);
	if (imapc_parse_uidset(p + pos, end - pos, dst_r, &nd, IMAPC_SEARCH_MAX) < 0 ||
	    nd != ns)
		goto fail;
	*n_r = ns;
	return 0;
fail:
	xfree(*src_r);
	xfree(*dst_r);
	return -1;
}

/*
 * fetch: FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2).
 *
 * FLAGS and UID come from the view alone, so "UID FETCH 1:* (FLAGS)" never
 * touches the database; the other items read the message rows in batches
 * of IMAP_FETCH_BATCH, and the blob only when a body part is asked for.
 * ENVELOPE and BODYSTRUCTURE come from the message row, where the store
 * put them when the message was delivered or appended (mime_imap_cache());
 * only rows stored by older versions lack them, and are filled here.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "store/blob.h"
#include "mail/imapquote.h"
#include "store/imapdb.h"
#include "store/imapsync.h"

enum item_kind {
	ITEM_FLAGS,
	ITEM_UID,
	ITEM_INTERNALDATE,
	ITEM_SIZE,
	ITEM_ENVELOPE,
	ITEM_BODYSTRUCTURE,
	ITEM_BODY,		/* BODY without a section: non-extended structure */
	ITEM_SECTION,		/* BODY[...], BODY.PEEK[...], RFC822* */
	ITEM_MODSEQ,		/* RFC 7162 §3.1.4.2 */
	ITEM_EMAILID,		/* RFC 8474 §5.1 */
	ITEM_THREADID,		/* RFC 8474 §5.2 */
	ITEM_BINARY,		/* RFC 3516: BINARY[...], BINARY.PEEK[...] */
	ITEM_BINARY_SIZE,	/* BINARY.SIZE[...] */
	ITEM_PREVIEW,		/* RFC 8970 */
	ITEM_SAVEDATE,		/* RFC 8514 §4.2 */
};

enum section_what {
	SEC_ALL,		/* "", "1.2" */
	SEC_HEADER,
	SEC_TEXT,
	SEC_MIME,
	SEC_FIELDS,
	SEC_FIELDS_NOT,
};

struct fetch_item {
	enum item_kind kind;
	/* ITEM_SECTION */
	char *name;		/* what the response calls it ("BODY[1.MIME]") */
	char *path;		/* "1.2" or "" */
	enum section_what what;
	char **fields;
	size_t n_fields;
	bool peek;
	bool partial;
	uint64_t part_start, part_len;
};

struct fetch_req {
	struct fetch_item *items;
	size_t n;
	bool need_row;		/* anything besides FLAGS/UID */
	bool need_blob;
	bool need_cache;	/* ENVELOPE or BODYSTRUCTURE */
	bool sets_seen;
	bool has_flags;
	bool has_uid;
	bool has_modseq;
};

static void
req_free(struct fetch_req *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct fetch_item *it = &r->items[i];
		free(it->name);
		free(it->path);
		for (size_t k = 0; k < it->n_fields; k++)
			free(it->fields[k]);
		free(it->fields);
	}
	free(r->items);
	memset(r, 0, sizeof *r);
}

static struct fetch_item *
add_item(struct fetch_req *r, enum item_kind kind)
{
	r->items = xreallocarray(r->items, r->n + 1, sizeof *r->items);
	struct fetch_item *it = &r->items[r->n++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	switch (kind) {
	case ITEM_FLAGS:
		r->has_flags = true;
		break;
	case ITEM_UID:
		r->has_uid = true;
		break;
	case ITEM_MODSEQ:
		r->has_modseq = true;
		break;
	case ITEM_THREADID:
		break;
	case ITEM_EMAILID:
	case ITEM_PREVIEW:
	case ITEM_SAVEDATE:
	case ITEM_INTERNALDATE:
	case ITEM_SIZE:
		r->need_row = true;
		break;
	case ITEM_ENVELOPE:
	case ITEM_BODYSTRUCTURE:
	case ITEM_BODY:
		r->need_row = true;
		r->need_cache = true;
		break;
	case ITEM_SECTION:
	case ITEM_BINARY:
	case ITEM_BINARY_SIZE:
		r->need_row = true;
		r->need_blob = true;
		break;
	}
	return it;
}

/* Parses the header field list "(From To)" of HEADER.FIELDS. */
static int
parse_fields(const char *p, const char *end, struct fetch_item *it)
{
	while (p < end && *p == ' ')
		p++;
	if (p >= end || *p != '(')
		return -1;
	p++;
	for (;;) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			return -1;
		if (*p == ')')
			return p + 1 == end ? (it->n_fields > 0 ? 0 : -1) : -1;
		const char *start = p;
		size_t len;
		if (*p == '"') {
			start = ++p;
			while (p < end && *p != '"')
				p++;
			if (p >= end)
				return -1;
			len = (size_t)(p - start);
			p++;
		} else {
			while (p < end && *p != ' ' && *p != ')')
				p++;
			len = (size_t)(p - start);
		}
		if (len == 0 || it->n_fields >= 1000)
			return -1;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)start[i];
			/* RFC 5322 §3.6.8: ftext is printable ASCII except ':' */
			if (c <= 0x20 || c >= 0x7f || c == ':')
				return -1;
		}
		it->fields = xreallocarray(it->fields, it->n_fields + 1,
					   sizeof *it->fields);
		it->fields[it->n_fields++] = xstrndup(start, len);
	}
}

/* Parses the text between '[' and ']' into path and what. */
static int
parse_section(const char *sec, size_t len, struct fetch_item *it)
{
	const char *p = sec, *end = sec + len;
	/* the part number "1.2.3" */
	const char *num_end = p;
	while (num_end < end) {
		const char *q = num_end;
		if (*q < '1' || *q > '9')
			break;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q - num_end > 9)
			return -1;
		num_end = q;
		if (num_end < end && *num_end == '.')
			num_end++;
		else
			break;
	}
	size_t path_len = (size_t)(num_end - p);
	if (path_len > 0 && p[path_len - 1] == '.')
		path_len--;
	it->path = xstrndup(p, path_len);
	const char *rest = num_end;
	if (path_len > 0 && rest == p + path_len && rest != end)
		return -1;	/* "1x" */
	size_t rl = (size_t)(end - rest);
	it->what = SEC_ALL;
	if (rl == 0) {
		return path_len > 0 || len == 0 ? 0 : -1;
	}
	if (rl == 6 && mem_eq_nocase(rest, "HEADER", 6)) {
		it->what = SEC_HEADER;
	} else if (rl == 4 && mem_eq_nocase(rest, "TEXT", 4)) {
		it->what = SEC_TEXT;
	} else if (rl == 4 && mem_eq_nocase(rest, "MIME", 4)) {
		if (path_len == 0)
			return -1;	/* RFC 3501 §6.4.5: MIME needs a part */
		it->what = SEC_MIME;
	} else if (rl > 17 && mem_eq_nocase(rest, "HEADER.FIELDS.NOT", 17) &&
		   (rest[17] == ' ' || rest[17] == '(')) {
		it->what = SEC_FIELDS_NOT;
		return parse_fields(rest + 17, end, it);
	} else if (rl > 13 && mem_eq_nocase(rest, "HEADER.FIELDS", 13) &&
		   (rest[13] == ' ' || rest[13] == '(')) {
		it->what = SEC_FIELDS;
		return parse_fields(rest + 13, end, it);
	} else {
		return -1;
	}
	return 0;
}

/* BODY[...]<a.b> or BODY.PEEK[...]<a.b>; BINARY[...]<a.b>, BINARY.PEEK and
 * BINARY.SIZE (kind), whose section is a part number only (RFC 3516 §6) */
static int
parse_body_item(struct fetch_req *r, const char *s, size_t len, bool peek,
		enum item_kind kind)
{
	const char *lb = memchr(s, '[', len);
	const char *rb = lb ? memchr(lb, ']', len - (size_t)(lb - s)) : NULL;
	/* the last ']' closes the section */
	if (rb != NULL) {
		const char *q = s + len;
		while (q > lb && q[-1] != ']')
			q--;
		rb = q - 1;
	}
	if (lb == NULL || rb == NULL)
		return -1;
	struct fetch_item *it = add_item(r, kind);
	it->peek = peek;
	if (!peek)
		r->sets_seen = true;
	if (parse_section(lb + 1, (size_t)(rb - lb - 1), it) < 0)
		return -1;
	if (kind != ITEM_SECTION && it->what != SEC_ALL)
		return -1;
	const char *after = rb + 1, *end = s + len;
	if (after < end && kind == ITEM_BINARY_SIZE)
		return -1;
	if (after < end) {
		/* <start.length> */
		if (*after != '<' || end[-1] != '>')
			return -1;
		char *tmp = xstrndup(after + 1, (size_t)(end - after - 2));
		char *dot = strchr(tmp, '.');
		char *e1, *e2;
		if (dot == NULL || tmp[0] < '0' || tmp[0] > '9' ||
		    dot[1] < '1' || dot[1] > '9') {
			free(tmp);
			return -1;
		}
		*dot = '\0';
		unsigned long long a = strtoull(tmp, &e1, 10);
		unsigned long long b = strtoull(dot + 1, &e2, 10);
		bool ok = *e1 == '\0' && *e2 == '\0' && a <= UINT32_MAX &&
			  b <= UINT32_MAX;
		free(tmp);
		if (!ok)
			return -1;
		it->partial = true;
		it->part_start = a;
		it->part_len = b;
	}
	/* the response name: BODY[SECTION]<start> (RFC 3501 §7.4.2) */
	struct buf n = BUF_INIT;
	buf_puts(&n, kind == ITEM_SECTION ? "BODY[" :
		 kind == ITEM_BINARY ? "BINARY[" : "BINARY.SIZE[");
	for (const char *q = lb + 1; q < rb; q++) {
		char c = *q;
		buf_putc(&n, c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
	}
	buf_putc(&n, ']');
	if (it->partial)
		buf_printf(&n, "<%llu>", (unsigned long long)it->part_start);
	it->name = buf_steal(&n);
	return 0;
}

static int
parse_one(struct fetch_req *r, const struct imap_arg *a)
{
	if (!imap_arg_is_atom(a))
		return -1;
	const char *s = a->str;
	if (str_eq_nocase(s, "ALL") || str_eq_nocase(s, "FAST") ||
	    str_eq_nocase(s, "FULL")) {
		add_item(r, ITEM_FLAGS);
		add_item(r, ITEM_INTERNALDATE);
		add_item(r, ITEM_SIZE);
		if (!str_eq_nocase(s, "FAST"))
			add_item(r, ITEM_ENVELOPE);
		if (str_eq_nocase(s, "FULL"))
			add_item(r, ITEM_BODY);
		return 0;
	}
	if (str_eq_nocase(s, "FLAGS"))
		add_item(r, ITEM_FLAGS);
	else if (str_eq_nocase(s, "UID"))
		add_item(r, ITEM_UID);
	else if (str_eq_nocase(s, "INTERNALDATE"))
		add_item(r, ITEM_INTERNALDATE);
	else if (str_eq_nocase(s, "RFC822.SIZE"))
		add_item(r, ITEM_SIZE);
	else if (str_eq_nocase(s, "ENVELOPE"))
		add_item(r, ITEM_ENVELOPE);
	else if (str_eq_nocase(s, "BODYSTRUCTURE"))
		add_item(r, ITEM_BODYSTRUCTURE);
	else if (str_eq_nocase(s, "BODY"))
		add_item(r, ITEM_BODY);
	else if (str_eq_nocase(s, "MODSEQ"))
		add_item(r, ITEM_MODSEQ);
	else if (str_eq_nocase(s, "EMAILID"))
		add_item(r, ITEM_EMAILID);
	else if (str_eq_nocase(s, "THREADID"))
		add_item(r, ITEM_THREADID);
	else if (str_eq_nocase(s, "PREVIEW"))
		add_item(r, ITEM_PREVIEW);
	else if (str_eq_nocase(s, "SAVEDATE"))
		add_item(r, ITEM_SAVEDATE);
	else if (str_eq_nocase(s, "RFC822") || str_eq_nocase(s, "RFC822.HEADER") ||
		 str_eq_nocase(s, "RFC822.TEXT")) {
		struct fetch_item *it = add_item(r, ITEM_SECTION);
		it->path = xstrdup("");
		if (str_eq_nocase(s, "RFC822")) {
			it->what = SEC_ALL;
			it->name = xstrdup("RFC822");
			r->sets_seen = true;
		} else if (str_eq_nocase(s, "RFC822.HEADER")) {
			/* RFC 3501 §6.4.5: like BODY.PEEK[HEADER] */
			it->what = SEC_HEADER;
			it->peek = true;
			it->name = xstrdup("RFC822.HEADER");
		} else {
			it->what = SEC_TEXT;
			it->name = xstrdup("RFC822.TEXT");
			r->sets_seen = true;
		}
	} else if (str_has_prefix_nocase(s, "BODY.PEEK["))
		return parse_body_item(r, s, a->len, true, ITEM_SECTION);
	else if (str_has_prefix_nocase(s, "BODY["))
		return parse_body_item(r, s, a->len, false, ITEM_SECTION);
	else if (str_has_prefix_nocase(s, "BINARY.PEEK["))
		return parse_body_item(r, s, a->len, true, ITEM_BINARY);
	else if (str_has_prefix_nocase(s, "BINARY.SIZE["))
		return parse_body_item(r, s, a->len, true, ITEM_BINARY_SIZE);
	else if (str_has_prefix_nocase(s, "BINARY["))
		return parse_body_item(r, s, a->len, false, ITEM_BINARY);
	else
		return -1;
	return 0;
}

struct fetch_msg {
	struct buf data;	/* the blob, when read */
	struct mime_part *root;
	bool loaded;
};

static int
load_message(struct imap_session *s, const struct imapdb_row *row,
	     struct fetch_msg *fm)
{
	if (fm->loaded)
		return 0;
	const char *err;
	buf_init(&fm->data, 0);
	if (blob_read_cached(s->st, row->blob, &fm->data, &err) != STORE_OK) {
		log_error("imap[%llu] cannot read blob %s: %s",
			  (unsigned long long)s->id, row->blob, err);
		return -1;
	}
	fm->root = mime_parse(fm->data.data ? fm->data.data : "", fm->data.len);
	fm->loaded = true;
	return 0;
}

/* Narrows bytes to the <start.length> of the item, when it has one. */
static void
apply_partial(const struct fetch_item *it, const char **bytes, size_t *len)
{
	if (!it->partial)
		return;
	if (it->part_start >= *len) {
		*len = 0;
		return;
	}
	*bytes += it->part_start;
	*len -= (size_t)it->part_start;
	if (*len > it->part_len)
		*len = (size_t)it->part_len;
}

/* Appends the bytes of a section (with <partial>) as a literal. */
static void
write_section(struct buf *out, const struct fetch_item *it,
	      struct fetch_msg *fm)
{
	const char *msg = fm->data.data ? fm->data.data : "";
	size_t off = 0, len = 0;
	struct buf tmp = BUF_INIT;
	const char *bytes = NULL;
	enum mime_section what = MIME_SECTION_ALL;
	switch (it->what) {
	case SEC_ALL:
		what = MIME_SECTION_ALL;
		break;
	case SEC_HEADER:
	case SEC_FIELDS:
	case SEC_FIELDS_NOT:
		what = MIME_SECTION_HEADER;
		break;
	case SEC_TEXT:
		what = MIME_SECTION_TEXT;
		break;
	case SEC_MIME:
		what = MIME_SECTION_MIME;
		break;
	}
	if (it->path[0] == '\0' && what == MIME_SECTION_ALL) {
		off = 0;
		len = fm->data.len;
		bytes = msg;
	} else if (mime_section_find(fm->root, it->path, strlen(it->path), what,
				     &off, &len) == 0) {
		bytes = msg + off;
	} else {
		/* no such part: an empty string, as Dovecot answers */
		bytes = "";
		len = 0;
	}
	if (it->what == SEC_FIELDS || it->what == SEC_FIELDS_NOT) {
		mail_header_write_fields(&tmp, bytes, len,
					 (const char *const *)it->fields,
					 it->n_fields, it->what == SEC_FIELDS_NOT);
		bytes = tmp.data ? tmp.data : "";
		len = tmp.len;
	}
	apply_partial(it, &bytes, &len);
	buf_printf(out, "{%zu}\r\n", len);
	size_t start = out->len;
	buf_append(out, bytes, len);
	/* RFC 3501 §9: a literal carries no NUL (CHAR8); Dovecot sends 0x80 */
	if (memchr(bytes, '\0', len) != NULL && out->len == start + len) {
		for (size_t i = start; i < out->len; i++)
			if (out->data[i] == '\0')
				out->data[i] = (char)0x80;
	}
	buf_free(&tmp);
}

/* Appends a decimal number without the cost of printf (FETCH of 100,000
 * messages writes three numbers each). */
static void
put_num(struct buf *out, uint64_t v)
{
	char t[24];
	size_t i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	buf_append(out, t + i, sizeof t - i);
}

/* BINARY[...] or BINARY.SIZE[...] of a loaded message: false for an
 * unknown transfer encoding (then NIL). */
static bool
write_binary(struct buf *out, const struct fetch_item *it, struct fetch_msg *fm)
{
	struct buf dec = BUF_INIT;
	bool ok = imap_binary_section(fm->data.data ? fm->data.data : "",
				      fm->data.len, fm->root, it->path, &dec) == 0;
	const char *p = dec.data != NULL ? dec.data : "";
	size_t len = dec.len;
	if (!ok) {
		buf_puts(out, "NIL");
	} else if (it->kind == ITEM_BINARY_SIZE) {
		buf_printf(out, "%zu", len);
	} else {
		apply_partial(it, &p, &len);
		/* RFC 3516 §4.2: literal8 when the content holds a NUL */
		buf_printf(out, "%s{%zu}\r\n", memchr(p, '\0', len) ? "~" : "", len);
		buf_append(out, p, len);
	}
	buf_free(&dec);
	return ok;
}

/* The PREVIEW of a message: kept per message file by the store, computed
 * the first time. */
static void
write_preview(struct imap_session *s, const struct imapdb_row *row,
	      struct fetch_msg *fm, struct buf *out)
{
	char *preview;
	const char *err;
	int r = imapsync_preview_get(s->st, row->blob, &preview, &err);
	if (r == STORE_OK) {
		imap_append_string(out, preview, strlen(preview));
		free(preview);
		return;
	}
	if (r != STORE_NOTFOUND || load_message(s, row, fm) < 0) {
		buf_puts(out, "NIL");
		return;
	}
	struct buf text = BUF_INIT;
	mail_preview_compute(fm->data.data ? fm->data.data : "", fm->root, &text);
	const char *t = buf_cstr(&text);
	if (imapsync_preview_set(s->st, row->blob, t, &err) != STORE_OK)
		log_error("imap[%llu] %s", (unsigned long long)s->id, err);
	imap_append_string(out, t, text.len);
	buf_free(&text);
}

/* Writes the FETCH response of one message. */
static void
fetch_one(struct imap_session *s, const struct fetch_req *r, size_t idx,
	  struct imapdb_row *row, bool flags_changed, struct buf *out,
	  bool *unknown_cte)
{
	struct imap_view *v = s->view;
	struct imap_msg *m = &v->msgs[idx];
	struct fetch_msg fm;
	bool first = true;
	memset(&fm, 0, sizeof fm);

	buf_puts(out, "* ");
	put_num(out, idx + 1);
	buf_puts(out, " FETCH (");
	/* UID FETCH always reports the UID (RFC 3501 §6.4.8), and so does
	 * a FETCH that tells of changed flags once QRESYNC is on (RFC 7162
	 * §3.2.4) */
	if ((s->uid_cmd || (flags_changed && imap_qresync_on(s))) && !r->has_uid) {
		buf_puts(out, "UID ");
		put_num(out, m->uid);
		first = false;
	}
	if (flags_changed && !r->has_flags) {
		buf_puts(out, first ? "FLAGS " : " FLAGS ");
		imap_append_flags(out, m->flags, m->keywords,
				  imap_show_recent(s, m->recent));
		if (imap_condstore_on(s) && !r->has_modseq)
			imap_append_modseq(out, m->modseq);
		first = false;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct fetch_item *it = &r->items[i];
		if (!first)
			buf_putc(out, ' ');
		first = false;
		switch (it->kind) {
		case ITEM_FLAGS:
			buf_puts(out, "FLAGS ");
			imap_append_flags(out, m->flags, m->keywords,
				  imap_show_recent(s, m->recent));
			break;
		case ITEM_UID:
			buf_puts(out, "UID ");
			put_num(out, m->uid);
			break;
		case ITEM_MODSEQ:
			buf_puts(out, "MODSEQ (");
			put_num(out, m->modseq);
			buf_putc(out, ')');
			break;
		case ITEM_EMAILID:
			buf_puts(out, "EMAILID (");
			imap_append_emailid(out, row->blob);
			buf_putc(out, ')');
			break;
		case ITEM_THREADID:
			buf_puts(out, "THREADID NIL");
			break;
		case ITEM_PREVIEW:
			buf_puts(out, "PREVIEW ");
			write_preview(s, row, &fm, out);
			break;
		case ITEM_SAVEDATE:
			buf_puts(out, "SAVEDATE \"");
			imap_date_time_format(out, (time_t)row->save_date, 0);
			buf_putc(out, '"');
			break;
		case ITEM_INTERNALDATE:
			buf_puts(out, "INTERNALDATE \"");
			imap_date_time_format(out, (time_t)row->internal_date, 0);
			buf_putc(out, '"');
			break;
		case ITEM_SIZE:
			buf_printf(out, "RFC822.SIZE %llu",
				   (unsigned long long)row->size);
			break;
		case ITEM_ENVELOPE:
			buf_printf(out, "ENVELOPE (%s)", row->envelope ?
				   row->envelope : "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL");
			break;
		case ITEM_BODYSTRUCTURE:
			buf_printf(out, "BODYSTRUCTURE (%s)", row->bodystructure ?
				   row->bodystructure : "\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0");
			break;
		case ITEM_BODY:
			buf_puts(out, "BODY (");
			if (load_message(s, row, &fm) == 0)
				mime_write_bodystructure(out, fm.data.data ?
							 fm.data.data : "",
							 fm.root, false);
			buf_putc(out, ')');
			break;
		case ITEM_SECTION:
			buf_printf(out, "%s ", it->name);
			if (load_message(s, row, &fm) == 0)
				write_section(out, it, &fm);
			else
				buf_puts(out, "NIL");
			break;
		case ITEM_BINARY:
		case ITEM_BINARY_SIZE:
			buf_printf(out, "%s ", it->name);
			if (load_message(s, row, &fm) < 0)
				buf_puts(out, "NIL");
			else if (!write_binary(out, it, &fm))
				*unknown_cte = true;
			break;
		}
		/* keep memory bounded on big answers */
		if (out->len > 256 * 1024) {
			imap_write(s, out->data, out->len);
			buf_reset(out);
		}
	}
	buf_puts(out, ")\r\n");
	mime_part_free(&fm.root);
	buf_free(&fm.data);
}

/*
 * A repair path only: delivery and append store ENVELOPE and BODYSTRUCTURE
 * with the row (store_imap_cache_prepare()), so only a row stored by an
 * older version, or whose blob could not be read then, lacks them.  It
 * gets them here once, with the same function, and keeps them.
 */
static void
fill_cache(struct imap_session *s, struct imapdb_row *row)
{
	if (row->envelope != NULL && row->bodystructure != NULL)
		return;
	struct buf data = BUF_INIT;
	const char *err;
	if (blob_read(s->st, row->blob, &data, &err) != STORE_OK) {
		log_error("imap[%llu] cannot read blob %s: %s",
			  (unsigned long long)s->id, row->blob, err);
		buf_free(&data);
		return;
	}
	free(row->envelope);
	free(row->bodystructure);
	mime_imap_cache(data.data != NULL ? data.data : "", data.len,
			&row->envelope, &row->bodystructure);
	buf_free(&data);
	if (imapdb_cache_set(s->st, s->view->mailbox_id, row->uid, row->envelope,
			     row->bodystructure, &err) != STORE_OK)
		log_error("imap[%llu] %s", (unsigned long long)s->id, err);
}

/* A copy of a row read from the store, kept in the view while there is
 * room (IMAP_VIEW_ROWS_MAX): a message's row never changes while it is in
 * the view, except that the repair above fills what was missing. */
static void
keep_row(struct imap_view *v, struct imap_msg *m, const struct imapdb_row *row)
{
	if (m->row != NULL || row->envelope == NULL || row->bodystructure == NULL)
		return;
	size_t bytes = imap_row_bytes(row);
	if (v->rows_bytes + bytes > IMAP_VIEW_ROWS_MAX)
		return;
	struct imapdb_row *c = xmalloc(sizeof *c);
	*c = *row;
	c->envelope = xstrdup(row->envelope);
	c->bodystructure = xstrdup(row->bodystructure);
	m->row = c;
	v->rows_bytes += bytes;
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	struct fetch_req req;
	memset(&req, 0, sizeof req);
	if ((n != 2 && n != 3) || !imap_arg_is_atom(&args[0])) {
		imap_bad(s, "FETCH needs a set and items");
		return;
	}
	/* RFC 7162 §3.1.4.1, §3.2.6: (CHANGEDSINCE n [VANISHED]) */
	uint64_t changedsince = 0;
	bool vanished = false;
	if (n == 3 && imap_fetch_modifiers(s, &args[2], &changedsince, &vanished) < 0)
		return;
	if (imap_arg_is_list(&args[1])) {
		for (size_t i = 0; i < args[1].n; i++) {
			const struct imap_arg *l = args[1].list;
			/* RFC 8970 §4: PREVIEW (LAZY): it is always there */
			if (imap_arg_is_list(&l[i]) && i > 0 &&
			    imap_arg_atom_eq(&l[i - 1], "PREVIEW") && l[i].n == 1 &&
			    imap_arg_atom_eq(&l[i].list[0], "LAZY"))
				continue;
			if (parse_one(&req, &args[1].list[i]) < 0) {
				req_free(&req);
				imap_bad(s, "Invalid FETCH item");
				return;
			}
		}
		if (args[1].n == 0) {
			imap_bad(s, "Empty FETCH item list");
			return;
		}
	} else if (parse_one(&req, &args[1]) < 0) {
		req_free(&req);
		imap_bad(s, "Invalid FETCH item");
		return;
	}
	struct imap_view *v = s->view;
	size_t *idx, count;
	if (imap_seqset_to_indexes(v, args[0].str, s->uid_cmd, &idx, &count) < 0) {
		req_free(&req);
		imap_bad(s, "Invalid message set");
		return;
	}
	/* MODSEQ is a CONDSTORE-enabling item (§3.1); CHANGEDSINCE keeps
	 * the messages changed since, and reports their MODSEQ */
	if (changedsince > 0 && !req.has_modseq)
		add_item(&req, ITEM_MODSEQ);
	if (req.has_modseq)
		imap_condstore_enable(s);
	if (changedsince > 0) {
		size_t w = 0;
		for (size_t i = 0; i < count; i++)
			if (v->msgs[idx[i]].modseq > changedsince)
				idx[w++] = idx[i];
		count = w;
	}
	if (vanished &&
	    imap_qresync_vanished_earlier(s, changedsince, args[0].str) < 0) {
		free(idx);
		req_free(&req);
		imap_no(s, "[SERVERBUG] Cannot read expunged messages.");
		return;
	}
	bool set_seen = req.sets_seen && !v->readonly;
	bool expunge_issued = false, unknown_cte = false;
	struct buf out = BUF_INIT;
	for (size_t b = 0; b < count; b += IMAP_FETCH_BATCH) {
		size_t e = b + IMAP_FETCH_BATCH < count ? b + IMAP_FETCH_BATCH : count;
		struct imapdb_row *rows = NULL;
		size_t nr = 0;
		const char *err;
		/* RFC 3501 §6.4.5: a non-PEEK body fetch sets \Seen */
		bool *changed = xcalloc(e - b, sizeof *changed);
		if (set_seen) {
			uint32_t *uids = xcalloc(e - b, sizeof *uids);
			size_t *pos = xcalloc(e - b, sizeof *pos);
			size_t nu = 0;
			for (size_t i = b; i < e; i++) {
				struct imap_msg *m = &v->msgs[idx[i]];
				if (!m->expunged && !(m->flags & STORE_FLAG_SEEN)) {
					pos[nu] = i - b;
					uids[nu++] = m->uid;
				}
			}
			if (nu > 0) {
				struct imapdb_msg *res = xcalloc(nu, sizeof *res);
				if (imapdb_store_flags(s->st, v->mailbox_id, uids, nu,
						       IMAPDB_FLAGS_ADD,
						       STORE_FLAG_SEEN, NULL, res,
						       &err) == STORE_OK) {
					/* the flags as they are now, keywords
					 * another session set meanwhile too
					 * (announced in FLAGS first) */
					bool news = false;
					for (size_t i = 0; i < nu; i++) {
						if (res[i].uid == 0)
							continue;
						struct imap_msg *m = &v->msgs[idx[b + pos[i]]];
						m->flags = res[i].flags;
						m->modseq = res[i].modseq;
						news |= imap_view_note_keywords(s, res[i].keywords);
						free(m->keywords);
						m->keywords = res[i].keywords;
						res[i].keywords = NULL;
						changed[pos[i]] = true;
					}
					if (news)
						imap_view_send_flags(s);
				}
				for (size_t i = 0; i < nu; i++)
					free(res[i].keywords);
				free(res);
			}
			free(pos);
			free(uids);
		}
		/* rows the view keeps: no read at all when it has all, and
		 * only the UIDs from the first to the last of those it lacks
		 * otherwise (under load most are kept, and a client's new
		 * messages are at the end of its range) */
		uint32_t lo = 0, hi = 0;
		if (req.need_row) {
			for (size_t i = b; i < e; i++) {
				const struct imap_msg *m = &v->msgs[idx[i]];
				if (m->row != NULL)
					continue;
				if (lo == 0)
					lo = m->uid;
				hi = m->uid;
			}
		}
		if (lo != 0 &&
		    imapdb_rows(s->st, v->mailbox_id, lo, hi, &rows, &nr,
				&err) != STORE_OK) {
			free(changed);
			free(idx);
			req_free(&req);
			buf_free(&out);
			imap_no(s, "[SERVERBUG] %s", err);
			return;
		}
		size_t ri = 0;
		for (size_t i = b; i < e; i++) {
			struct imap_msg *m = &v->msgs[idx[i]];
			struct imapdb_row *row = NULL;
			if (!req.need_row) {
				/* UID, FLAGS, MODSEQ: the view has them */
			} else if (m->row != NULL) {
				/* a row never changes while its message is in
				 * the view */
				row = m->row;
			} else {
				while (ri < nr && rows[ri].uid < m->uid)
					ri++;
				if (ri < nr && rows[ri].uid == m->uid)
					row = &rows[ri];
				if (row == NULL) {
					expunge_issued = true;
					continue;
				}
				if (req.need_cache)
					fill_cache(s, row);
				keep_row(v, m, row);
			}
			fetch_one(s, &req, idx[i], row, changed[i - b], &out,
				  &unknown_cte);
			if (out.len > 64 * 1024) {
				imap_write(s, out.data, out.len);
				buf_reset(&out);
			}
		}
		free(changed);
		imapdb_rows_free(&rows, nr);
	}
	if (out.len > 0)
		imap_write(s, out.data, out.len);
	buf_free(&out);
	free(idx);
	req_free(&req);
	if (unknown_cte)
		imap_no(s, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding.");
	else if (expunge_issued)
		imap_no(s, "[EXPUNGEISSUED] Some messages were expunged.");
	else
		imap_ok(s, "Fetch completed.");
}

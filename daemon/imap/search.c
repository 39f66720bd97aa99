/*
 * search: the search keys of SEARCH, SORT and THREAD (RFC 3501 §6.4.4).
 *
 * The keys become a tree (bounded by IMAP_SEARCH_DEPTH_MAX), evaluated per
 * message with what it needs, cheapest first: flags and numbers from the
 * view, size and dates from the row, headers and text from the blob.
 * Strings match as case-insensitive substrings of the decoded text
 * (RFC 2047 words in headers, transfer encodings and charsets in bodies):
 * both sides are Unicode case-folded (mail/casefold.h) and compared as
 * bytes, so "STRASSE" finds "Straße" and "σ" finds "Σ" and "ς".
 * TEXT asks the full-text index first (store/searchdb.h), which holds the
 * same folded text, and reads only the messages not indexed yet; so do
 * BODY, SUBJECT, FROM, TO, CC and BCC, whose text (mail/searchfields.h)
 * the index holds per field.  The command and its replies (ESEARCH,
 * SEARCHRES) are esearch.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "mail/address.h"
#include "mail/casefold.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/rfc2047.h"
#include "mail/searchfields.h"
#include "mail/sortkeys.h"
#include "store/blob.h"
#include "store/imapdb.h"
#include "store/searchdb.h"

enum key_type {
	K_ALL, K_AND, K_OR, K_NOT,
	K_FLAG, K_UNFLAG,	/* num: store flag bit */
	K_RECENT, K_NEW, K_OLD,
	K_KEYWORD, K_UNKEYWORD,
	K_SEQ, K_UID,
	K_LARGER, K_SMALLER,
	K_BEFORE, K_ON, K_SINCE,
	K_SENTBEFORE, K_SENTON, K_SENTSINCE,
	K_SAVEDBEFORE, K_SAVEDON, K_SAVEDSINCE,	/* RFC 8514 §4.3 */
	K_HEADER,		/* str: field name, str2: value, num: an address field,
				 * field: its column in the index */
	K_BODY, K_TEXT,
	K_UIDLIST,		/* uids, n_uids: RFC 5182's "$" */
	K_MODSEQ,		/* num: RFC 7162 §3.1.5 */
};

struct skey {
	enum key_type type;
	char *str, *str2;
	uint64_t num;
	time_t day;
	struct imap_seqset set;
	struct skey **kids;
	size_t n_kids;
	uint32_t *uids;		/* K_UIDLIST: ascending */
	size_t n_uids;
	/* K_TEXT, K_BODY, K_HEADER through the index (store/searchdb.h):
	 * the messages whose text holds str2, and those not indexed
	 * (searched by reading); confirm: a hit is only a candidate, which
	 * the message itself decides */
	int field;		/* enum mail_search_field, -1: none */
	size_t len;		/* of str2 */
	bool indexed, confirm;
	uint32_t *hits, *unindexed;
	size_t n_hits, n_unindexed;
};

static void
skey_free(struct skey *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n_kids; i++)
		skey_free(k->kids[i]);
	free(k->kids);
	free(k->uids);
	free(k->hits);
	free(k->unindexed);
	free(k->str);
	free(k->str2);
	imap_seqset_free(&k->set);
	free(k);
}

static struct skey *
skey_new(enum key_type t)
{
	struct skey *k = xcalloc(1, sizeof *k);
	k->type = t;
	k->field = -1;
	return k;
}

static void
skey_add(struct skey *parent, struct skey *kid)
{
	parent->kids = xreallocarray(parent->kids, parent->n_kids + 1,
				     sizeof *parent->kids);
	parent->kids[parent->n_kids++] = kid;
}

struct parse_ctx {
	struct imap_session *s;
	const struct imap_view *v;
	const char *error;
	bool need_row, need_blob;
	bool need_row_other;	/* for a key besides TEXT, BODY and the
				 * header keys (which the index may answer
				 * without the row) */
	bool has_modseq;	/* the reply ends in (MODSEQ n) */
};

static const struct imap_arg *
next_arg(const struct imap_arg *args, size_t n, size_t *pos)
{
	return *pos < n ? &args[(*pos)++] : NULL;
}

static struct skey *parse_key(struct parse_ctx *c, const struct imap_arg *args,
			      size_t n, size_t *pos, unsigned depth);

static struct skey *
parse_date_key(struct parse_ctx *c, enum key_type t, const struct imap_arg *a)
{
	time_t day;
	if (!imap_arg_is_astring(a) || imap_date_parse(a->str, a->len, &day) < 0) {
		c->error = "Invalid date";
		return NULL;
	}
	struct skey *k = skey_new(t);
	k->day = day;
	c->need_row = c->need_row_other = true;
	if (t == K_SENTBEFORE || t == K_SENTON || t == K_SENTSINCE)
		c->need_blob = true;
	return k;
}

static struct skey *
parse_key(struct parse_ctx *c, const struct imap_arg *args, size_t n,
	  size_t *pos, unsigned depth)
{
	static const struct { const char *name; enum key_type t; unsigned flag; }
	simple[] = {
		{ "ALL", K_ALL, 0 },
		{ "ANSWERED", K_FLAG, STORE_FLAG_ANSWERED },
		{ "DELETED", K_FLAG, STORE_FLAG_DELETED },
		{ "DRAFT", K_FLAG, STORE_FLAG_DRAFT },
		{ "FLAGGED", K_FLAG, STORE_FLAG_FLAGGED },
		{ "SEEN", K_FLAG, STORE_FLAG_SEEN },
		{ "UNANSWERED", K_UNFLAG, STORE_FLAG_ANSWERED },
		{ "UNDELETED", K_UNFLAG, STORE_FLAG_DELETED },
		{ "UNDRAFT", K_UNFLAG, STORE_FLAG_DRAFT },
		{ "UNFLAGGED", K_UNFLAG, STORE_FLAG_FLAGGED },
		{ "UNSEEN", K_UNFLAG, STORE_FLAG_SEEN },
		{ "RECENT", K_RECENT, 0 },
		{ "NEW", K_NEW, 0 },
		{ "OLD", K_OLD, 0 },
		/* RFC 8514 §4.3: every mailbox has save dates */
		{ "SAVEDATESUPPORTED", K_ALL, 0 },
	};
	static const struct { const char *name; enum mail_search_field f; } hdr[] = {
		{ "FROM", MAIL_SEARCH_FROM }, { "TO", MAIL_SEARCH_TO },
		{ "CC", MAIL_SEARCH_CC }, { "BCC", MAIL_SEARCH_BCC },
		{ "SUBJECT", MAIL_SEARCH_SUBJECT },
	};
	static const struct { const char *name; enum key_type t; } dates[] = {
		{ "BEFORE", K_BEFORE }, { "ON", K_ON }, { "SINCE", K_SINCE },
		{ "SENTBEFORE", K_SENTBEFORE }, { "SENTON", K_SENTON },
		{ "SENTSINCE", K_SENTSINCE }, { "SAVEDBEFORE", K_SAVEDBEFORE },
		{ "SAVEDON", K_SAVEDON }, { "SAVEDSINCE", K_SAVEDSINCE },
	};

	if (depth > IMAP_SEARCH_DEPTH_MAX) {
		c->error = "Search keys nested too deep";
		return NULL;
	}
	const struct imap_arg *a = next_arg(args, n, pos);
	if (a == NULL) {
		c->error = "Missing search key";
		return NULL;
	}
	if (imap_arg_is_list(a)) {
		if (a->n == 0) {
			c->error = "Empty search list";
			return NULL;
		}
		struct skey *k = skey_new(K_AND);
		size_t p = 0;
		while (p < a->n) {
			struct skey *kid = parse_key(c, a->list, a->n, &p, depth + 1);
			if (kid == NULL) {
				skey_free(k);
				return NULL;
			}
			skey_add(k, kid);
		}
		return k;
	}
	if (!imap_arg_is_atom(a)) {
		c->error = "Search keys are atoms";
		return NULL;
	}
	const char *w = a->str;
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
		if (str_eq_nocase(w, simple[i].name)) {
			struct skey *k = skey_new(simple[i].t);
			k->num = simple[i].flag;
			return k;
		}
	}
	for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
		if (str_eq_nocase(w, dates[i].name))
			return parse_date_key(c, dates[i].t, next_arg(args, n, pos));
	}
	for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) {
		if (str_eq_nocase(w, hdr[i].name)) {
			const struct imap_arg *v = next_arg(args, n, pos);
			if (!imap_arg_is_astring(v)) {
				c->error = "Missing search string";
				return NULL;
			}
			struct skey *k = skey_new(K_HEADER);
			k->str = xstrdup(mail_search_field_header(hdr[i].f));
			k->str2 = casefold_dup(v->str, v->len, &k->len);
			/* FROM, TO, CC, BCC: address fields (see match_header) */
			k->num = hdr[i].f != MAIL_SEARCH_SUBJECT;
			k->field = (int)hdr[i].f;
			c->need_row = c->need_blob = true;
			return k;
		}
	}
	if (str_eq_nocase(w, "HEADER")) {
		const struct imap_arg *f = next_arg(args, n, pos);
		const struct imap_arg *v = next_arg(args, n, pos);
		if (!imap_arg_is_astring(f) || !imap_arg_is_astring(v) || f->len == 0) {
			c->error = "HEADER needs a field name and a string";
			return NULL;
		}
		struct skey *k = skey_new(K_HEADER);
		k->str = xstrndup(f->str, f->len);
		k->str2 = casefold_dup(v->str, v->len, NULL);
		c->need_row = c->need_row_other = c->need_blob = true;
		return k;
	}
	if (str_eq_nocase(w, "BODY") || str_eq_nocase(w, "TEXT")) {
		const struct imap_arg *v = next_arg(args, n, pos);
		if (!imap_arg_is_astring(v)) {
			c->error = "Missing search string";
			return NULL;
		}
		struct skey *k = skey_new(str_eq_nocase(w, "BODY") ? K_BODY : K_TEXT);
		k->str2 = casefold_dup(v->str, v->len, &k->len);
		if (k->type == K_BODY)
			k->field = MAIL_SEARCH_BODY;
		c->need_row = c->need_blob = true;
		return k;
	}
	if (str_eq_nocase(w, "KEYWORD") || str_eq_nocase(w, "UNKEYWORD")) {
		const struct imap_arg *v = next_arg(args, n, pos);
		if (!imap_arg_is_atom(v)) {
			c->error = "Missing keyword";
			return NULL;
		}
		struct skey *k = skey_new(str_eq_nocase(w, "KEYWORD") ? K_KEYWORD :
					  K_UNKEYWORD);
		k->str = xstrndup(v->str, v->len);
		return k;
	}
	if (str_eq_nocase(w, "LARGER") || str_eq_nocase(w, "SMALLER")) {
		const struct imap_arg *v = next_arg(args, n, pos);
		char *end;
		if (!imap_arg_is_atom(v) || v->str[0] < '0' || v->str[0] > '9') {
			c->error = "Missing number";
			return NULL;
		}
		unsigned long long num = strtoull(v->str, &end, 10);
		if (*end != '\0') {
			c->error = "Invalid number";
			return NULL;
		}
		struct skey *k = skey_new(str_eq_nocase(w, "LARGER") ? K_LARGER :
					  K_SMALLER);
		k->num = num;
		c->need_row = c->need_row_other = true;
		return k;
	}
	if (str_eq_nocase(w, "MODSEQ")) {
		struct skey *k = skey_new(K_MODSEQ);
		if (imap_search_modseq_key(c->s, args, n, pos, &k->num) < 0) {
			skey_free(k);
			c->error = "MODSEQ needs a mod-sequence";
			return NULL;
		}
		c->has_modseq = true;
		return k;
	}
	if (str_eq_nocase(w, "NOT")) {
		struct skey *kid = parse_key(c, args, n, pos, depth + 1);
		if (kid == NULL)
			return NULL;
		struct skey *k = skey_new(K_NOT);
		skey_add(k, kid);
		return k;
	}
	if (str_eq_nocase(w, "OR")) {
		struct skey *k = skey_new(K_OR);
		for (int i = 0; i < 2; i++) {
			struct skey *kid = parse_key(c, args, n, pos, depth + 1);
			if (kid == NULL) {
				skey_free(k);
				return NULL;
			}
			skey_add(k, kid);
		}
		return k;
	}
	const struct imap_view *v = c->v;
	if (strcmp(w, "$") == 0) {
		/* RFC 5182 §2.1: the saved search result */
		struct skey *k = skey_new(K_UIDLIST);
		imap_searchres_get(c->s, &k->uids, &k->n_uids);
		return k;
	}
	bool uid = str_eq_nocase(w, "UID");
	if (uid) {
		a = next_arg(args, n, pos);
		if (!imap_arg_is_atom(a)) {
			c->error = "UID needs a set";
			return NULL;
		}
		if (strcmp(a->str, "$") == 0) {
			struct skey *k = skey_new(K_UIDLIST);
			imap_searchres_get(c->s, &k->uids, &k->n_uids);
			return k;
		}
	}
	struct skey *k = skey_new(uid ? K_UID : K_SEQ);
	uint32_t star = v->n == 0 ? 0 :
		uid ? v->msgs[v->n - 1].uid : (uint32_t)v->n;
	if (imap_seqset_parse(a->str, star, &k->set) < 0) {
		skey_free(k);
		c->error = "Unknown search key";
		return NULL;
	}
	return k;
}

/* What one message offers while it is tested. */
struct smsg {
	const struct imap_msg *m;
	uint32_t seq;
	const struct imapdb_row *row;
	struct buf data;
	struct mime_part *root;
	bool loaded, failed;
	struct buf text, body;	/* decoded, case-folded (on demand) */
	bool have_text, have_body;
	bool have_sent;
	time_t sent_day;
	bool sent_valid;
};

static bool
load(struct imap_session *s, struct smsg *sm)
{
	if (sm->loaded)
		return !sm->failed;
	sm->loaded = true;
	const char *err;
	buf_init(&sm->data, 0);
	if (sm->row == NULL || blob_read_cached(s->st, sm->row->blob, &sm->data, &err) != STORE_OK) {
		sm->failed = true;
		return false;
	}
	sm->root = mime_parse(sm->data.data ? sm->data.data : "", sm->data.len);
	return true;
}

static bool
contains(const struct buf *hay, const char *needle)
{
	size_t nl = strlen(needle);
	if (nl == 0)
		return true;
	return hay->data != NULL && memmem(hay->data, hay->len, needle, nl) != NULL;
}

static bool
match_header(struct imap_session *s, struct smsg *sm, const struct skey *k)
{
	if (!load(s, sm))
		return false;
	struct mail_header_iter it;
	struct mail_header_field f;
	size_t hl = sm->root->hdr_len;
	mail_header_iter_init(&it, sm->data.data ? sm->data.data : "", hl);
	bool found = false;
	while (!found && mail_header_iter_next(&it, &f)) {
		if (f.name_len != strlen(k->str) ||
		    !mem_eq_nocase(f.name, k->str, f.name_len))
			continue;
		if (k->str2[0] == '\0')
			return true;
		struct buf raw = BUF_INIT, dec = BUF_INIT;
		mail_header_value_unfold(&raw, &f);
		mail_search_field_text(&dec, raw.data ? raw.data : "", raw.len,
				       k->num != 0);
		found = contains(&dec, k->str2);
		buf_free(&raw);
		buf_free(&dec);
	}
	return found;
}

static bool
sent_day(struct imap_session *s, struct smsg *sm, time_t *day_r)
{
	if (!sm->have_sent) {
		sm->have_sent = true;
		if (load(s, sm)) {
			struct buf d = BUF_INIT;
			time_t t;
			int tz;
			if (mail_header_get(&d, sm->data.data ? sm->data.data : "",
					    sm->root->hdr_len, "Date") > 0 &&
			    mail_date_parse(d.data, d.len, &t, &tz) == 0) {
				sm->sent_day = mail_date_day(t, tz);
				sm->sent_valid = true;
			}
			buf_free(&d);
		}
	}
	*day_r = sm->sent_day;
	return sm->sent_valid;
}

static bool
has_keyword(const char *list, const char *kw)
{
	size_t kl = strlen(kw);
	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == kl && mem_eq_nocase(p, kw, l))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static bool
uid_in(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Asks the full-text index for each TEXT, BODY, SUBJECT, FROM, TO, CC and
 * BCC key of the tree; false when a message that is not indexed must be
 * read (then the rows are needed). */
static bool
use_index(struct imap_session *s, struct skey *k, bool *need_rows)
{
	for (size_t i = 0; i < k->n_kids; i++)
		if (!use_index(s, k->kids[i], need_rows))
			return false;
	if (k->type != K_TEXT && k->field < 0)
		return true;
	if (k->len == 0) {
		*need_rows = true;	/* "" holds everywhere: read */
		return true;
	}
	const char *err;
	int r;
	if (k->type == K_TEXT)
		r = searchdb_text(s->st, s->view->mailbox_id, k->str2, k->len,
				  &k->hits, &k->n_hits, &k->unindexed,
				  &k->n_unindexed, &err);
	else
		r = searchdb_fields(s->st, s->view->mailbox_id,
				    (enum mail_search_field)k->field, k->str2,
				    k->len, &k->hits, &k->n_hits, &k->unindexed,
				    &k->n_unindexed, &err);
	if (r == STORE_INVALID)
		return false;	/* a string the index does not hold */
	if (r != STORE_OK) {
		log_error("imap[%llu] search index: %s", (unsigned long long)s->id,
			  err);
		return false;
	}
	k->indexed = true;
	/* a header field's text holds its occurrences one a line: a string
	 * across lines could hold in the column and in no occurrence */
	k->confirm = k->type == K_HEADER && memchr(k->str2, '\n', k->len) != NULL;
	if (k->n_unindexed > 0 || k->confirm)
		*need_rows = true;
	return true;
}

/* For a key the index answered: 1 found, 0 not, -1 read the message. */
static int
indexed_answer(const struct skey *k, uint32_t uid)
{
	if (!k->indexed)
		return -1;
	if (uid_in(k->hits, k->n_hits, uid))
		return k->confirm ? -1 : 1;
	return uid_in(k->unindexed, k->n_unindexed, uid) ? -1 : 0;
}

static bool
eval(struct imap_session *s, const struct skey *k, struct smsg *sm)
{
	const struct imap_msg *m = sm->m;
	time_t day;
	int r;
	switch (k->type) {
	case K_ALL:
		return true;
	case K_AND:
		for (size_t i = 0; i < k->n_kids; i++)
			if (!eval(s, k->kids[i], sm))
				return false;
		return true;
	case K_OR:
		return eval(s, k->kids[0], sm) || eval(s, k->kids[1], sm);
	case K_NOT:
		return !eval(s, k->kids[0], sm);
	case K_FLAG:
		return (m->flags & k->num) != 0;
	case K_UNFLAG:
		return (m->flags & k->num) == 0;
	case K_RECENT:
		return m->recent;
	case K_NEW:
		return m->recent && !(m->flags & STORE_FLAG_SEEN);
	case K_OLD:
		return !m->recent;
	case K_KEYWORD:
		return has_keyword(m->keywords, k->str);
	case K_UNKEYWORD:
		return !has_keyword(m->keywords, k->str);
	case K_SEQ:
		return imap_seqset_has(&k->set, sm->seq);
	case K_UID:
		return imap_seqset_has(&k->set, m->uid);
	case K_LARGER:
		return sm->row != NULL && sm->row->size > k->num;
	case K_SMALLER:
		return sm->row != NULL && sm->row->size < k->num;
	case K_BEFORE:
		return sm->row != NULL && sm->row->internal_date < k->day;
	case K_ON:
		return sm->row != NULL && sm->row->internal_date >= k->day &&
		       sm->row->internal_date < k->day + 86400;
	case K_SINCE:
		return sm->row != NULL && sm->row->internal_date >= k->day;
	case K_SAVEDBEFORE:
		return sm->row != NULL && sm->row->save_date < k->day;
	case K_SAVEDON:
		return sm->row != NULL && sm->row->save_date >= k->day &&
		       sm->row->save_date < k->day + 86400;
	case K_SAVEDSINCE:
		return sm->row != NULL && sm->row->save_date >= k->day;
	case K_SENTBEFORE:
		return sent_day(s, sm, &day) && day < k->day;
	case K_SENTON:
		return sent_day(s, sm, &day) && day == k->day;
	case K_SENTSINCE:
		return sent_day(s, sm, &day) && day >= k->day;
	case K_HEADER:
		if ((r = indexed_answer(k, m->uid)) >= 0)
			return r;
		return match_header(s, sm, k);
	case K_MODSEQ:
		return m->modseq >= k->num;
	case K_BODY:
		if ((r = indexed_answer(k, m->uid)) >= 0)
			return r;
		if (!load(s, sm))
			return false;
		if (!sm->have_body) {
			sm->have_body = true;
			buf_init(&sm->body, 0);
			mail_search_body_folded(&sm->body,
						sm->data.data ? sm->data.data : "",
						sm->root);
		}
		return contains(&sm->body, k->str2);
	case K_UIDLIST:
		return uid_in(k->uids, k->n_uids, m->uid);
	case K_TEXT:
		if ((r = indexed_answer(k, m->uid)) >= 0)
			return r;
		if (!load(s, sm))
			return false;
		if (!sm->have_text) {
			sm->have_text = true;
			buf_init(&sm->text, 0);
			mail_search_text_folded(&sm->text,
						sm->data.data ? sm->data.data : "",
						sm->root);
		}
		return contains(&sm->text, k->str2);
	}
	return false;
}

int
imap_search_match(struct imap_session *s, const struct imap_arg *args,
		  size_t n, size_t **idx_r, size_t *n_r, uint64_t *modseq_r)
{
	struct imap_view *v = s->view;
	size_t pos = 0;

	*idx_r = NULL;
	*n_r = 0;
	*modseq_r = 0;
	if (pos >= n) {
		imap_bad(s, "Missing search keys");
		return -1;
	}
	struct parse_ctx c = { .s = s, .v = v };
	struct skey *root = skey_new(K_AND);
	while (pos < n) {
		struct skey *k = parse_key(&c, args, n, &pos, 1);
		if (k == NULL) {
			skey_free(root);
			imap_bad(s, "%s", c.error ? c.error : "Invalid search");
			return -1;
		}
		skey_add(root, k);
	}
	/* TEXT from the index when it can answer; rows only when something
	 * else needs them */
	bool need_rows = c.need_row_other;
	if (use_index(s, root, &need_rows))
		c.need_row = need_rows;
	size_t *idx = NULL, cap = 0, count = 0;
	bool failed = false;
	uint64_t max_modseq = 0;
	for (size_t b = 0; b < v->n && !failed; b += IMAP_FETCH_BATCH) {
		size_t e = b + IMAP_FETCH_BATCH < v->n ? b + IMAP_FETCH_BATCH : v->n;
		struct imapdb_row *rows = NULL;
		size_t nr = 0, ri = 0;
		const char *err;
		if (c.need_row &&
		    imapdb_rows(s->st, v->mailbox_id, v->msgs[b].uid,
				v->msgs[e - 1].uid, &rows, &nr, &err) != STORE_OK) {
			log_error("imap[%llu] search: %s", (unsigned long long)s->id, err);
			failed = true;
			break;
		}
		for (size_t i = b; i < e; i++) {
			struct smsg sm;
			memset(&sm, 0, sizeof sm);
			sm.m = &v->msgs[i];
			sm.seq = (uint32_t)(i + 1);
			if (c.need_row) {
				while (ri < nr && rows[ri].uid < sm.m->uid)
					ri++;
				if (ri < nr && rows[ri].uid == sm.m->uid)
					sm.row = &rows[ri];
			}
			if (eval(s, root, &sm)) {
				if (count == cap) {
					cap = cap == 0 ? 64 : cap * 2;
					idx = xreallocarray(idx, cap, sizeof *idx);
				}
				idx[count++] = i;
				if (sm.m->modseq > max_modseq)
					max_modseq = sm.m->modseq;
			}
			mime_part_free(&sm.root);
			buf_free(&sm.data);
			buf_free(&sm.text);
			buf_free(&sm.body);
		}
		imapdb_rows_free(&rows, nr);
	}
	skey_free(root);
	if (failed) {
		free(idx);
		imap_no(s, "[SERVERBUG] Search failed.");
		return -1;
	}
	/* RFC 7162 §3.1.5: the highest MODSEQ of what was found */
	*modseq_r = c.has_modseq ? max_modseq : 0;
	*idx_r = idx;
	*n_r = count;
	return 0;
}

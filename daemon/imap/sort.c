/*
 * sort: SORT (RFC 5256 §3 with ESORT of RFC 5267 and SORT=DISPLAY of RFC
 * 5957) and THREAD (RFC 5256 §3, the algorithms in thread.c).
 *
 * Both read the keys the background indexer stored for each message
 * (store/searchdb.h, one query for the mailbox) instead of parsing message
 * files; a message it has not indexed yet (or stored before those keys
 * existed) has them computed now, from its file, and stored for next time.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "imap/thread.h"
#include "mail/sortkeys.h"
#include "store/blob.h"
#include "store/imapdb.h"
#include "store/searchdb.h"

/* What the commands know of one message of the view. */
struct skmsg {
	int64_t internal_date;
	uint64_t size;
	struct mail_sortkeys *keys;	/* owned */
};

/* Keys of a message from its file (a message stored before sql/016, or
 * one expunged by another session a moment ago); stored when stored is
 * the blob's row. */
static struct mail_sortkeys *
keys_from_file(struct imap_session *s, const char *blob, bool store_them)
{
	struct buf data = BUF_INIT;
	const char *err;
	bool ok = blob[0] != '\0' && blob_read_cached(s->st, blob, &data, &err) == STORE_OK;
	if (!ok)
		buf_reset(&data);
	struct mail_sortkeys *k = mail_sortkeys_compute(
		data.data != NULL ? data.data : "", data.len, ok && store_them);
	buf_free(&data);
	if (ok && store_them && searchdb_put(s->st, blob, k, &err) != STORE_OK)
		log_warning("imap[%llu] cannot store sort keys: %s",
			    (unsigned long long)s->id, err);
	return k;
}

/* RFC 5256 §3 / RFC 5957 §3: the sort criteria */
enum sort_key {
	SK_ARRIVAL, SK_CC, SK_DATE, SK_FROM, SK_SIZE, SK_SUBJECT, SK_TO,
	SK_DISPLAYFROM, SK_DISPLAYTO,
	SK_N
};

/* The keys of every message of the view, kept with the view while its
 * messages stay the same: a message's keys never change (its file never
 * does), so a session that sorts again only sorts. */
struct imap_sort_cache {
	uint32_t *uids;
	struct skmsg *msgs;
	size_t n;
	/* per text criterion, each message's rank among the strings (equal
	 * strings share one), made on first use: a SORT SUBJECT of a big
	 * mailbox then compares numbers */
	uint32_t *rank[SK_N];
};

static void
free_keys(struct skmsg **msgs, size_t n)
{
	if (*msgs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		mail_sortkeys_free(&(*msgs)[i].keys);
	free(*msgs);
	*msgs = NULL;
}

void
imap_sort_cache_free(struct imap_sort_cache **cp)
{
	struct imap_sort_cache *c = *cp;
	if (c == NULL)
		return;
	free_keys(&c->msgs, c->n);
	free(c->uids);
	for (size_t k = 0; k < SK_N; k++)
		free(c->rank[k]);
	free(c);
	*cp = NULL;
}

static bool
cache_valid(const struct imap_view *v)
{
	const struct imap_sort_cache *c = v->sort_cache;
	if (c == NULL || c->n != v->n)
		return false;
	for (size_t i = 0; i < v->n; i++)
		if (c->uids[i] != v->msgs[i].uid)
			return false;
	return true;
}

/* The keys of every message of the view (index i for view message i; the
 * view's cache owns them).  -1 with a NO reply set. */
static int
load_keys(struct imap_session *s, const struct skmsg **msgs_r)
{
	struct imap_view *v = s->view;
	if (cache_valid(v)) {
		*msgs_r = v->sort_cache->msgs;
		return 0;
	}
	imap_sort_cache_free(&v->sort_cache);
	struct searchdb_msg *list = NULL;
	size_t n = 0;
	const char *err;

	if (searchdb_msgs(s->st, v->mailbox_id, &list, &n, &err) != STORE_OK) {
		log_error("imap[%llu] sort keys: %s", (unsigned long long)s->id, err);
		imap_no(s, "[SERVERBUG] Cannot read the sort keys.");
		return -1;
	}
	struct skmsg *msgs = xcalloc(v->n > 0 ? v->n : 1, sizeof *msgs);
	size_t j = 0;
	for (size_t i = 0; i < v->n; i++) {
		uint32_t uid = v->msgs[i].uid;
		while (j < n && list[j].uid < uid)
			j++;
		if (j < n && list[j].uid == uid) {
			msgs[i].internal_date = list[j].internal_date;
			msgs[i].size = list[j].size;
			msgs[i].keys = list[j].keys;
			list[j].keys = NULL;
			if (msgs[i].keys == NULL)
				msgs[i].keys = keys_from_file(s, list[j].blob, true);
			continue;
		}
		/* gone from the store, not yet from this view */
		struct imapdb_row *rows = NULL;
		size_t nr = 0;
		if (imapdb_rows(s->st, v->mailbox_id, uid, uid, &rows, &nr,
				&err) == STORE_OK && nr == 1) {
			msgs[i].internal_date = rows[0].internal_date;
			msgs[i].size = rows[0].size;
			msgs[i].keys = keys_from_file(s, rows[0].blob, false);
		} else {
			msgs[i].keys = keys_from_file(s, "", false);
		}
		imapdb_rows_free(&rows, nr);
	}
	searchdb_msgs_free(&list, n);
	struct imap_sort_cache *c = xcalloc(1, sizeof *c);
	c->n = v->n;
	c->msgs = msgs;
	c->uids = xreallocarray(NULL, v->n > 0 ? v->n : 1, sizeof *c->uids);
	for (size_t i = 0; i < v->n; i++)
		c->uids[i] = v->msgs[i].uid;
	v->sort_cache = c;
	*msgs_r = msgs;
	return 0;
}

#define SORT_CRITERIA_MAX 16

struct criterion {
	enum sort_key key;
	bool reverse;
};

struct sort_ctx {
	const struct skmsg *msgs;
	uint32_t *const *rank;		/* the cache's */
	const struct criterion *crit;
	size_t n_crit;
};

static int64_t
sent_date(const struct skmsg *m)
{
	/* RFC 5256 §2.2: the internal date when the Date cannot be used */
	return m->keys->has_date ? m->keys->sent_date : m->internal_date;
}

static int
cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

/* qsort() has no context argument: per thread, as sessions sort at once */
static _Thread_local const struct sort_ctx *sort_ctx;

/* The string a text criterion compares. */
static const char *
str_key(const struct mail_sortkeys *k, enum sort_key key)
{
	switch (key) {
	case SK_CC:
		return k->cc;
	case SK_FROM:
		return k->from;
	case SK_TO:
		return k->to;
	case SK_DISPLAYFROM:
		return k->display_from;
	case SK_DISPLAYTO:
		return k->display_to;
	default:
		return k->subject;
	}
}

static _Thread_local const struct skmsg *rank_msgs;
static _Thread_local enum sort_key rank_key;

static int
rank_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return strcmp(str_key(rank_msgs[a].keys, rank_key),
		      str_key(rank_msgs[b].keys, rank_key));
}

/* The ranks of a text criterion over the cache's messages. */
static void
make_rank(struct imap_sort_cache *c, enum sort_key key)
{
	if (c->rank[key] != NULL)
		return;
	size_t n = c->n;
	size_t *order = xreallocarray(NULL, n > 0 ? n : 1, sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	rank_msgs = c->msgs;
	rank_key = key;
	qsort(order, n, sizeof *order, rank_cmp);
	uint32_t *r = xreallocarray(NULL, n > 0 ? n : 1, sizeof *r);
	uint32_t rank = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && rank_cmp(&order[i - 1], &order[i]) != 0)
			rank++;
		r[order[i]] = rank;
	}
	rank_msgs = NULL;
	free(order);
	c->rank[key] = r;
}

static int
sort_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct skmsg *x = &sort_ctx->msgs[a], *y = &sort_ctx->msgs[b];
	for (size_t i = 0; i < sort_ctx->n_crit; i++) {
		int c = 0;
		switch (sort_ctx->crit[i].key) {
		case SK_ARRIVAL:
			c = cmp_i64(x->internal_date, y->internal_date);
			break;
		case SK_DATE:
			c = cmp_i64(sent_date(x), sent_date(y));
			break;
		case SK_SIZE:
			c = x->size < y->size ? -1 : x->size > y->size;
			break;
		default: {
			const uint32_t *r = sort_ctx->rank[sort_ctx->crit[i].key];
			c = r[a] < r[b] ? -1 : r[a] > r[b];
			break;
		}
		}
		if (c != 0)
			return sort_ctx->crit[i].reverse ? -c : c;
	}
	/* RFC 5256 §3: equal in every criterion: mailbox order */
	return a < b ? -1 : a > b;
}

static int
parse_criteria(struct imap_session *s, const struct imap_arg *a,
	       struct criterion *crit, size_t *n_r)
{
	static const struct { const char *name; enum sort_key key; } names[] = {
		{ "ARRIVAL", SK_ARRIVAL }, { "CC", SK_CC }, { "DATE", SK_DATE },
		{ "FROM", SK_FROM }, { "SIZE", SK_SIZE },
		{ "SUBJECT", SK_SUBJECT }, { "TO", SK_TO },
		{ "DISPLAYFROM", SK_DISPLAYFROM }, { "DISPLAYTO", SK_DISPLAYTO },
	};
	size_t n = 0;
	bool reverse = false;
	if (!imap_arg_is_list(a) || a->n == 0) {
		imap_bad(s, "SORT needs a list of criteria");
		return -1;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *w = &a->list[i];
		if (!imap_arg_is_atom(w)) {
			imap_bad(s, "Invalid sort criterion");
			return -1;
		}
		if (str_eq_nocase(w->str, "REVERSE")) {
			reverse = true;
			continue;
		}
		size_t k = 0;
		while (k < sizeof names / sizeof names[0] &&
		       !str_eq_nocase(w->str, names[k].name))
			k++;
		if (k == sizeof names / sizeof names[0]) {
			imap_bad(s, "Unknown sort criterion %s", esc_str(w->str));
			return -1;
		}
		if (n == SORT_CRITERIA_MAX) {
			imap_bad(s, "Too many sort criteria");
			return -1;
		}
		crit[n].key = names[k].key;
		crit[n].reverse = reverse;
		n++;
		reverse = false;
	}
	if (reverse || n == 0) {
		imap_bad(s, "REVERSE needs a criterion after it");
		return -1;
	}
	*n_r = n;
	return 0;
}

void
imap_cmd_sort(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	size_t pos = 0, n_crit;
	struct imap_return r;
	struct criterion crit[SORT_CRITERIA_MAX];

	if (imap_parse_return(s, args, n, &pos, &r) < 0)
		return;
	if (pos >= n) {
		imap_bad(s, "SORT needs criteria");
		return;
	}
	if (parse_criteria(s, &args[pos], crit, &n_crit) < 0)
		return;
	pos++;
	/* RFC 5256 §3: the charset is not optional here */
	if (imap_parse_charset(s, args, n, &pos, false) < 0)
		return;
	if (pos >= n) {
		imap_bad(s, "SORT needs search keys");
		return;
	}
	size_t *idx, count;
	uint64_t modseq;
	if (imap_search_match(s, args + pos, n - pos, &idx, &count, &modseq) < 0)
		return;
	const struct skmsg *msgs = NULL;
	if (count > 0 && load_keys(s, &msgs) < 0) {
		free(idx);
		return;
	}
	for (size_t i = 0; count > 0 && i < n_crit; i++) {
		if (crit[i].key != SK_ARRIVAL && crit[i].key != SK_DATE &&
		    crit[i].key != SK_SIZE)
			make_rank(s->view->sort_cache, crit[i].key);
	}
	struct sort_ctx c = { msgs, count > 0 ? s->view->sort_cache->rank : NULL,
			      crit, n_crit };
	sort_ctx = &c;
	if (count > 1)
		qsort(idx, count, sizeof *idx, sort_cmp);
	sort_ctx = NULL;
	imap_result_reply(s, &r, "SORT", idx, count, modseq);
	free(idx);
	imap_ok(s, "Sort completed.");
}

void
imap_cmd_thread(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n < 3 || !imap_arg_is_atom(&args[0])) {
		imap_bad(s, "THREAD needs an algorithm, a charset and keys");
		return;
	}
	bool refs = str_eq_nocase(args[0].str, "REFERENCES");
	if (!refs && !str_eq_nocase(args[0].str, "ORDEREDSUBJECT")) {
		imap_bad(s, "Unknown threading algorithm %s", esc_str(args[0].str));
		return;
	}
	size_t pos = 1;
	if (imap_parse_charset(s, args, n, &pos, false) < 0)
		return;
	size_t *idx, count;
	uint64_t modseq;
	if (imap_search_match(s, args + pos, n - pos, &idx, &count, &modseq) < 0)
		return;
	const struct skmsg *msgs = NULL;
	if (count > 0 && load_keys(s, &msgs) < 0) {
		free(idx);
		return;
	}
	struct thread_msg *tm = xcalloc(count > 0 ? count : 1, sizeof *tm);
	for (size_t i = 0; i < count; i++) {
		const struct skmsg *m = &msgs[idx[i]];
		tm[i].id = s->uid_cmd ? s->view->msgs[idx[i]].uid : (uint32_t)(idx[i] + 1);
		tm[i].date = sent_date(m);
		tm[i].subject = m->keys->subject;
		tm[i].reply = m->keys->reply;
		tm[i].msgid = m->keys->message_id;
		tm[i].refs = m->keys->refs;
	}
	struct buf out = BUF_INIT;
	buf_puts(&out, "* THREAD ");
	if (refs)
		imap_thread_references(tm, count, &out);
	else
		imap_thread_orderedsubject(tm, count, &out);
	buf_puts(&out, "\r\n");
	imap_write(s, out.data, out.len);
	buf_free(&out);
	free(tm);
	free(idx);
	imap_ok(s, "Thread completed.");
}

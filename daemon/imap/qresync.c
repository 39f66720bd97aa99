/*
 * qresync: QRESYNC (RFC 7162 §3.2): SELECT/EXAMINE's QRESYNC and CONDSTORE
 * parameters, VANISHED instead of EXPUNGE, and VANISHED (EARLIER) from the
 * store's expunge history (sql/012, sql/020) for SELECT and for
 * UID FETCH ... (CHANGEDSINCE n VANISHED).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"
#include "store/imapsync.h"

/* UID ranges, gathered in any order and written merged. */
struct ranges {
	struct { uint32_t lo, hi; } *r;
	size_t n, cap;
};

static void
ranges_add(struct ranges *rs, uint32_t lo, uint32_t hi)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap == 0 ? 32 : rs->cap * 2;
		rs->r = xreallocarray(rs->r, rs->cap, sizeof *rs->r);
	}
	rs->r[rs->n].lo = lo;
	rs->r[rs->n].hi = hi;
	rs->n++;
}

static int
range_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;	/* lo is the first member */
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Appends "1:3,7" for the ranges, merged. */
static void
ranges_write(struct buf *out, struct ranges *rs)
{
	qsort(rs->r, rs->n, sizeof *rs->r, range_cmp);
	bool first = true;
	for (size_t i = 0; i < rs->n;) {
		uint32_t lo = rs->r[i].lo, hi = rs->r[i].hi;
		for (i++; i < rs->n && (uint64_t)rs->r[i].lo <= (uint64_t)hi + 1; i++)
			if (rs->r[i].hi > hi)
				hi = rs->r[i].hi;
		if (!first)
			buf_putc(out, ',');
		first = false;
		if (lo == hi)
			buf_printf(out, "%u", lo);
		else
			buf_printf(out, "%u:%u", lo, hi);
	}
}

/* The UIDs of [lo, hi] that the view does not hold. */
static void
add_gaps(const struct imap_view *v, uint32_t lo, uint32_t hi, struct ranges *rs)
{
	uint64_t next = lo;
	for (size_t i = imap_view_lower_bound(v, lo); i < v->n && v->msgs[i].uid <= hi; i++) {
		if (v->msgs[i].uid > next)
			ranges_add(rs, (uint32_t)next, v->msgs[i].uid - 1);
		next = (uint64_t)v->msgs[i].uid + 1;
	}
	if (next <= hi)
		ranges_add(rs, (uint32_t)next, hi);
}

/*
 * Writes VANISHED (EARLIER) for the UIDs of set (NULL: all) expunged
 * after modseq and no longer in the view (one still in it hears of its
 * expunge the usual way).  When the store has forgotten expunges newer
 * than modseq, every UID of the set below UIDNEXT that the view does not
 * hold is reported (RFC 7162 §3.2.5.2 lets a server do so).
 */
static int
vanished_earlier(struct imap_session *s, uint64_t modseq,
		 const struct imap_seqset *set)
{
	struct imap_view *v = s->view;
	uint32_t *uids;
	size_t n;
	bool complete;
	const char *err;
	if (imapsync_vanished(s->st, v->mailbox_id, modseq, 1, UINT32_MAX,
			      &uids, &n, &complete, &err) != STORE_OK) {
		log_error("imap[%llu] %s", (unsigned long long)s->id, err);
		return -1;
	}
	struct ranges rs = { NULL, 0, 0 };
	for (size_t i = 0; i < n; i++) {
		if ((set == NULL || imap_seqset_has(set, uids[i])) &&
		    imap_view_find_uid(v, uids[i]) < 0)
			ranges_add(&rs, uids[i], uids[i]);
	}
	free(uids);
	if (!complete && v->uidnext > 1) {
		uint32_t top = v->uidnext - 1;
		if (set == NULL) {
			add_gaps(v, 1, top, &rs);
		} else {
			for (size_t i = 0; i < set->n; i++)
				if (set->r[i].lo <= top)
					add_gaps(v, set->r[i].lo,
						 set->r[i].hi < top ? set->r[i].hi : top,
						 &rs);
		}
	}
	if (rs.n > 0) {
		struct buf b = BUF_INIT;
		buf_puts(&b, "* VANISHED (EARLIER) ");
		ranges_write(&b, &rs);
		buf_puts(&b, "\r\n");
		imap_write(s, b.data, b.len);
		buf_free(&b);
	}
	free(rs.r);
	return 0;
}

int
imap_qresync_vanished_earlier(struct imap_session *s, uint64_t modseq,
			      const char *uidset)
{
	struct imap_seqset set;
	struct imap_view *v = s->view;
	/* '*' reaches the expunged UIDs above the last one left too */
	uint32_t star = v->uidnext > 1 ? v->uidnext - 1 : 0;
	if (v->n > 0 && v->msgs[v->n - 1].uid > star)
		star = v->msgs[v->n - 1].uid;
	if (imap_seqset_parse(uidset, star, &set) < 0)
		return 0;	/* FETCH has checked it already */
	int r = vanished_earlier(s, modseq, &set);
	imap_seqset_free(&set);
	return r;
}

void
imap_qresync_vanished(struct imap_session *s, const uint32_t *uids, size_t n)
{
	if (n == 0)
		return;
	struct buf b = BUF_INIT;
	buf_puts(&b, "* VANISHED ");
	imap_append_uidset(&b, uids, n);
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

void
imap_select_params_clear(struct imap_select_params *p)
{
	free(p->known_uids);
	memset(p, 0, sizeof *p);
}

static bool
parse_u32(const struct imap_arg *a, uint32_t *v_r)
{
	uint64_t v;
	if (imap_parse_modseq(a, false, &v) < 0 || v > UINT32_MAX)
		return false;
	*v_r = (uint32_t)v;
	return true;
}

/* RFC 7162 §3.2.5: "(" uidvalidity SP mod-sequence-value [SP known-uids]
 * [SP seq-match-data] ")"; known-uids may not use '*'. */
static int
parse_qresync(struct imap_session *s, const struct imap_arg *l,
	      struct imap_select_params *p)
{
	if (!imap_arg_is_list(l) || l->n < 2 || l->n > 4 ||
	    !parse_u32(&l->list[0], &p->uidvalidity) ||
	    imap_parse_modseq(&l->list[1], false, &p->modseq) < 0) {
		imap_bad(s, "Invalid QRESYNC parameters");
		return -1;
	}
	struct imap_seqset set;
	size_t i = 2;
	if (i < l->n && imap_arg_is_atom(&l->list[i])) {
		const struct imap_arg *k = &l->list[i++];
		if (strchr(k->str, '*') != NULL ||
		    imap_seqset_parse(k->str, 0, &set) < 0) {
			imap_bad(s, "Invalid known UIDs");
			return -1;
		}
		imap_seqset_free(&set);
		p->known_uids = xstrdup(k->str);
	}
	if (i < l->n) {
		/* seq-match-data: checked, not needed: the store remembers
		 * every expunge for a month, and after that the gaps of the
		 * view are reported (see vanished_earlier()) */
		const struct imap_arg *m = &l->list[i++];
		if (!imap_arg_is_list(m) || m->n != 2 ||
		    !imap_arg_is_atom(&m->list[0]) || !imap_arg_is_atom(&m->list[1]) ||
		    imap_seqset_parse(m->list[0].str, 0, &set) < 0) {
			imap_bad(s, "Invalid sequence match data");
			return -1;
		}
		imap_seqset_free(&set);
		if (imap_seqset_parse(m->list[1].str, 0, &set) < 0) {
			imap_bad(s, "Invalid sequence match data");
			return -1;
		}
		imap_seqset_free(&set);
	}
	if (i != l->n) {
		imap_bad(s, "Invalid QRESYNC parameters");
		return -1;
	}
	p->qresync = true;
	return 0;
}

int
imap_select_params_parse(struct imap_session *s, const struct imap_arg *a,
			 struct imap_select_params *p)
{
	memset(p, 0, sizeof *p);
	if (!imap_arg_is_list(a) || a->n == 0) {
		imap_bad(s, "Invalid SELECT parameters");
		return -1;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *w = &a->list[i];
		if (imap_arg_atom_eq(w, "CONDSTORE")) {
			imap_condstore_enable(s);
		} else if (imap_arg_atom_eq(w, "QRESYNC") && !p->qresync &&
			   i + 1 < a->n) {
			/* §3.2.5: BAD unless the client has enabled QRESYNC */
			if (!imap_qresync_on(s)) {
				imap_bad(s, "QRESYNC is not enabled");
				goto fail;
			}
			if (parse_qresync(s, &a->list[++i], p) < 0)
				goto fail;
		} else {
			imap_bad(s, "Unknown SELECT parameter");
			goto fail;
		}
	}
	return 0;
fail:
	imap_select_params_clear(p);
	return -1;
}

void
imap_qresync_select(struct imap_session *s, const struct imap_select_params *p)
{
	struct imap_view *v = s->view;
	/* §3.2.5: a UIDVALIDITY that changed makes the rest meaningless;
	 * the client starts over from what SELECT said */
	if (!p->qresync || v == NULL || p->uidvalidity != v->uidvalidity)
		return;
	struct imap_seqset set, *known = NULL;
	if (p->known_uids != NULL &&
	    imap_seqset_parse(p->known_uids, 0, &set) == 0)
		known = &set;
	vanished_earlier(s, p->modseq, known);
	if (known != NULL)
		imap_seqset_free(known);
	/* the flags of every message changed since the client's MODSEQ */
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < v->n; i++) {
		const struct imap_msg *m = &v->msgs[i];
		if (m->modseq <= p->modseq)
			continue;
		buf_printf(&b, "* %zu FETCH (UID %u FLAGS ", i + 1, m->uid);
		imap_append_flags(&b, m->flags, m->keywords,
				  imap_show_recent(s, m->recent));
		imap_append_modseq(&b, m->modseq);
		buf_puts(&b, ")\r\n");
		if (b.len > 64 * 1024) {
			imap_write(s, b.data, b.len);
			buf_reset(&b);
		}
	}
	if (b.len > 0)
		imap_write(s, b.data, b.len);
	buf_free(&b);
}

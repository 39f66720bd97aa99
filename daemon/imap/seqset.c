/*
 * seqset: IMAP sequence sets (RFC 3501 §9 sequence-set) over the view.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "imap/imap.h"

/* Parses one number or '*' at *p; 0 on success. */
static int
parse_num(const char **p, uint32_t star, uint32_t *v_r, bool *star_r)
{
	const char *s = *p;
	if (*s == '*') {
		*v_r = star;
		*star_r = true;
		*p = s + 1;
		return 0;
	}
	*star_r = false;
	if (*s < '1' || *s > '9')
		return -1;
	uint64_t v = 0;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
		s++;
	}
	*v_r = (uint32_t)v;
	*p = s;
	return 0;
}

int
imap_seqset_parse(const char *text, uint32_t star_value,
		  struct imap_seqset *set_r)
{
	size_t cap = 0;
	const char *p = text;
	memset(set_r, 0, sizeof *set_r);
	if (*p == '\0')
		return -1;
	for (;;) {
		uint32_t lo, hi;
		bool star;
		if (parse_num(&p, star_value, &lo, &star) < 0)
			goto fail;
		hi = lo;
		if (*p == ':') {
			p++;
			if (parse_num(&p, star_value, &hi, &star) < 0)
				goto fail;
		}
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (set_r->n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			set_r->r = xreallocarray(set_r->r, cap, sizeof *set_r->r);
		}
		set_r->r[set_r->n].lo = lo;
		set_r->r[set_r->n].hi = hi;
		set_r->n++;
		if (*p == '\0')
			return 0;
		if (*p != ',')
			goto fail;
		p++;
	}
fail:
	imap_seqset_free(set_r);
	return -1;
}

bool
imap_seqset_has(const struct imap_seqset *set, uint32_t v)
{
	for (size_t i = 0; i < set->n; i++) {
		if (v >= set->r[i].lo && v <= set->r[i].hi)
			return true;
	}
	return false;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

ssize_t
imap_view_find_uid(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->n && v->msgs[lo].uid == uid)
		return (ssize_t)lo;
	return -1;
}

size_t
imap_view_lower_bound(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
imap_seqset_to_indexes(const struct imap_view *v, const char *text, bool uid,
		       size_t **idx_r, size_t *n_r)
{
	struct imap_seqset set;
	uint32_t star = 0;
	*idx_r = NULL;
	*n_r = 0;
	if (v->n > 0)
		star = uid ? v->msgs[v->n - 1].uid : (uint32_t)v->n;
	/* RFC 3501 §6.4.8: in a UID set, "*" is the largest UID in use; with
	 * an empty mailbox "n:*" still means n (and matches nothing) */
	if (uid && v->n == 0)
		star = 0;
	if (imap_seqset_parse(text, star, &set) < 0)
		return -1;
	/* mark the indexes, then collect them in order without duplicates */
	if (v->n == 0) {
		imap_seqset_free(&set);
		return uid ? 0 : -1;
	}
	unsigned char *mark = xcalloc(v->n, 1);
	int ret = 0;
	for (size_t i = 0; i < set.n; i++) {
		uint32_t lo = set.r[i].lo, hi = set.r[i].hi;
		if (uid) {
			for (size_t k = imap_view_lower_bound(v, lo);
			     k < v->n && v->msgs[k].uid <= hi; k++)
				mark[k] = 1;
		} else {
			if (lo == 0 || hi > v->n) {
				ret = -1;
				break;
			}
			memset(mark + lo - 1, 1, hi - lo + 1);
		}
	}
	imap_seqset_free(&set);
	if (ret == 0) {
		size_t n = 0;
		for (size_t k = 0; k < v->n; k++)
			n += mark[k];
		if (n > 0) {
			size_t *idx = xreallocarray(NULL, n, sizeof *idx);
			size_t j = 0;
			for (size_t k = 0; k < v->n; k++)
				if (mark[k])
					idx[j++] = k;
			*idx_r = idx;
			*n_r = n;
		}
	}
	free(mark);
	return ret;
}

void
imap_append_uidset(struct buf *out, const uint32_t *uids, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_putc(out, ',');
		if (j == i)
			buf_printf(out, "%u", uids[i]);
		else
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		i = j + 1;
	}
}

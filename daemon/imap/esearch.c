/*
 * esearch: the SEARCH command and the answers SEARCH and SORT share:
 * ESEARCH (RFC 4731) with its result options MIN, MAX, COUNT and ALL, and
 * SEARCHRES (RFC 5182): SAVE keeps a result that "$" then stands for in
 * SEARCH keys and in the sequence set of FETCH, STORE, COPY, MOVE and UID
 * EXPUNGE.  The keys themselves are search.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/imap.h"

int
imap_parse_charset(struct imap_session *s, const struct imap_arg *args,
		   size_t n, size_t *pos, bool optional)
{
	if (optional && !(*pos + 1 < n && imap_arg_atom_eq(&args[*pos], "CHARSET")))
		return 0;
	const struct imap_arg *a = &args[*pos + (optional ? 1 : 0)];
	if (*pos + (optional ? 1 : 0) >= n || !imap_arg_is_astring(a)) {
		imap_bad(s, "Missing charset");
		return -1;
	}
	/* RFC 3501 §6.4.4: the charsets we decode search strings in */
	if (!str_eq_nocase(a->str, "UTF-8") && !str_eq_nocase(a->str, "US-ASCII")) {
		imap_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.");
		return -1;
	}
	*pos += optional ? 2 : 1;
	return 0;
}

int
imap_parse_return(struct imap_session *s, const struct imap_arg *args,
		  size_t n, size_t *pos, struct imap_return *r)
{
	memset(r, 0, sizeof *r);
	if (*pos >= n || !imap_arg_atom_eq(&args[*pos], "RETURN"))
		return 0;
	if (*pos + 1 >= n || !imap_arg_is_list(&args[*pos + 1])) {
		imap_bad(s, "RETURN needs a list of options");
		return -1;
	}
	const struct imap_arg *l = &args[*pos + 1];
	r->esearch = true;
	for (size_t i = 0; i < l->n; i++) {
		const struct imap_arg *o = &l->list[i];
		if (!imap_arg_is_atom(o)) {
			imap_bad(s, "Invalid RETURN option");
			return -1;
		}
		if (str_eq_nocase(o->str, "MIN"))
			r->min = true;
		else if (str_eq_nocase(o->str, "MAX"))
			r->max = true;
		else if (str_eq_nocase(o->str, "COUNT"))
			r->count = true;
		else if (str_eq_nocase(o->str, "ALL"))
			r->all = true;
		else if (str_eq_nocase(o->str, "SAVE"))
			r->save = true;
		else {
			imap_bad(s, "Unknown RETURN option %s", esc_str(o->str));
			return -1;
		}
	}
	/* RFC 4731 §3.1: RETURN () means RETURN (ALL) */
	if (!r->min && !r->max && !r->count && !r->all && !r->save)
		r->all = true;
	*pos += 2;
	return 0;
}

static void
save_result(struct imap_session *s, const struct imap_return *r,
	    const size_t *idx, size_t n)
{
	struct imap_view *v = s->view;
	free(v->saved);
	v->saved = NULL;
	v->n_saved = 0;
	if (n == 0)
		return;
	/* RFC 5182 §2.4: with MIN or MAX but neither ALL nor COUNT, only
	 * those are saved */
	size_t *pick = xreallocarray(NULL, n, sizeof *pick);
	size_t k = 0;
	if ((r->min || r->max) && !r->all && !r->count) {
		size_t lo = 0, hi = 0;
		for (size_t i = 1; i < n; i++) {
			if (idx[i] < idx[lo])
				lo = i;
			if (idx[i] > idx[hi])
				hi = i;
		}
		if (r->min)
			pick[k++] = idx[lo];
		if (r->max && (!r->min || hi != lo))
			pick[k++] = idx[hi];
	} else {
		memcpy(pick, idx, n * sizeof *pick);
		k = n;
	}
	v->saved = xreallocarray(NULL, k, sizeof *v->saved);
	for (size_t i = 0; i < k; i++)
		v->saved[i] = v->msgs[pick[i]].uid;
	free(pick);
	/* a set: ascending (a SORT result comes in sort order) */
	for (size_t i = 1; i < k; i++) {
		uint32_t u = v->saved[i];
		size_t j = i;
		for (; j > 0 && v->saved[j - 1] > u; j--)
			v->saved[j] = v->saved[j - 1];
		v->saved[j] = u;
	}
	v->n_saved = k;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
imap_result_reply(struct imap_session *s, const struct imap_return *r,
		  const char *word, const size_t *idx, size_t n, uint64_t modseq)
{
	struct imap_view *v = s->view;
	bool sort = strcmp(word, "SORT") == 0;

	if (r->save)
		save_result(s, r, idx, n);
	uint32_t *nums = xreallocarray(NULL, n > 0 ? n : 1, sizeof *nums);
	for (size_t i = 0; i < n; i++)
		nums[i] = s->uid_cmd ? v->msgs[idx[i]].uid : (uint32_t)(idx[i] + 1);

	struct buf out = BUF_INIT;
	if (!r->esearch) {
		buf_printf(&out, "* %s", word);
		for (size_t i = 0; i < n; i++)
			buf_printf(&out, " %u", nums[i]);
		/* RFC 7162 §3.1.5 */
		if (modseq > 0 && n > 0)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)modseq);
		buf_puts(&out, "\r\n");
	} else if (r->min || r->max || r->count || r->all) {
		/* RFC 5182 §2.1: SAVE alone gives no ESEARCH */
		/* a tag has no quotes or backslashes (session.c) */
		buf_printf(&out, "* ESEARCH (TAG \"%s\")", s->tag);
		if (s->uid_cmd)
			buf_puts(&out, " UID");
		if (n > 0) {
			/* RFC 5267 §4.2: for SORT, the first and last in
			 * sort order; for SEARCH the lowest and highest */
			uint32_t lo = nums[0], hi = nums[n - 1];
			if (r->min)
				buf_printf(&out, " MIN %u", lo);
			if (r->max)
				buf_printf(&out, " MAX %u", hi);
		}
		/* in Dovecot's order (RFC 4731 §3.1 leaves it open) */
		if (r->all && n > 0) {
			buf_puts(&out, " ALL ");
			if (!sort)
				qsort(nums, n, sizeof *nums, cmp_u32);
			imap_append_uidset(&out, nums, n);
		}
		if (r->count)
			buf_printf(&out, " COUNT %zu", n);
		/* RFC 7162 §3.2: with MIN and/or MAX alone, the highest
		 * MODSEQ of the messages they name; else of all found */
		if (modseq > 0 && n > 0 && !r->all && !r->count) {
			uint64_t lo = v->msgs[idx[0]].modseq, hi = v->msgs[idx[n - 1]].modseq;
			modseq = !r->max ? lo : !r->min ? hi : lo > hi ? lo : hi;
		}
		if (modseq > 0 && n > 0)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)modseq);
		buf_puts(&out, "\r\n");
	}
	free(nums);
	if (out.len > 0)
		imap_write(s, out.data, out.len);
	buf_free(&out);
}

void
imap_cmd_search(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	size_t pos = 0;
	struct imap_return r;

	if (imap_parse_return(s, args, n, &pos, &r) < 0 ||
	    imap_parse_charset(s, args, n, &pos, true) < 0)
		return;
	/* RFC 9051 §6.4.4: an IMAP4rev2 client gets ESEARCH; no RETURN
	 * means RETURN (ALL) */
	if (imap_rev2_on(s) && !r.esearch) {
		r.esearch = true;
		r.all = true;
	}
	if (pos >= n) {
		imap_bad(s, "SEARCH needs a key");
		return;
	}
	size_t *idx, count;
	uint64_t modseq;
	if (imap_search_match(s, args + pos, n - pos, &idx, &count, &modseq) < 0)
		return;
	imap_result_reply(s, &r, "SEARCH", idx, count, modseq);
	free(idx);
	imap_ok(s, "Search completed.");
}

void
imap_searchres_get(struct imap_session *s, uint32_t **uids_r, size_t *n_r)
{
	const struct imap_view *v = s->view;
	uint32_t *out = NULL;
	size_t k = 0;
	for (size_t i = 0; i < v->n_saved; i++) {
		if (imap_view_find_uid(v, v->saved[i]) < 0)
			continue;	/* expunged */
		if (out == NULL)
			out = xreallocarray(NULL, v->n_saved, sizeof *out);
		out[k++] = v->saved[i];
	}
	*uids_r = out;
	*n_r = k;
}

struct imap_arg *
imap_searchres_expand(struct imap_session *s, const char *command,
		      const struct imap_arg *args, size_t n, bool *empty_r)
{
	static const char *const takes_set[] = {
		"FETCH", "STORE", "COPY", "MOVE", "EXPUNGE",
	};
	bool found = false;
	*empty_r = false;
	for (size_t i = 0; i < sizeof takes_set / sizeof takes_set[0]; i++)
		found |= str_eq_nocase(command, takes_set[i]);
	if (!found || n == 0 || !imap_arg_is_atom(&args[0]) ||
	    strcmp(args[0].str, "$") != 0 ||
	    (str_eq_nocase(command, "EXPUNGE") && !s->uid_cmd))
		return NULL;
	uint32_t *uids;
	size_t k;
	imap_searchres_get(s, &uids, &k);
	if (k == 0) {
		*empty_r = true;
		return NULL;
	}
	struct buf set = BUF_INIT;
	if (!s->uid_cmd) {
		/* the sequence numbers of the saved messages now */
		for (size_t i = 0; i < k; i++)
			uids[i] = (uint32_t)imap_view_find_uid(s->view, uids[i]) + 1;
	}
	imap_append_uidset(&set, uids, k);
	free(uids);
	struct imap_arg *copy = xreallocarray(NULL, n + 1, sizeof *copy);
	memcpy(copy, args, n * sizeof *copy);
	memset(&copy[n], 0, sizeof copy[n]);
	copy[0].str = xstrdup(buf_cstr(&set));
	copy[0].len = set.len;
	/* the last element keeps the string to free */
	copy[n].str = copy[0].str;
	buf_free(&set);
	return copy;
}

void
imap_searchres_args_free(struct imap_arg **args)
{
	if (*args == NULL)
		return;
	free((*args)[0].str);
	free(*args);
	*args = NULL;
}

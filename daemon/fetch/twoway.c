/*
 * twoway: two-way sync of one upstream folder (accounts with two_way on),
 * after its new messages were fetched (run_imap.c).
 *
 * The rule: each flag (\Seen, \Answered, \Flagged, \Draft, each keyword)
 * is merged on its own against the value both sides had at the last sync
 * (the link's base, store/twoway.h): changed on one side only, that side's
 * value wins; changed on both, both hold the same value.  A deletion on
 * either side wins over flag changes on the other.  A local move into
 * another local folder of the account moves the upstream message there
 * (UID MOVE); a local move out of the account's folders unlinks it (the
 * upstream copy stays).  \Deleted itself is not synced: an expunge is.
 *
 * Order, chosen for crash safety (every step below is committed before
 * the upstream command it stands for is sent, and every upstream command
 * is idempotent: +FLAGS/-FLAGS, UID EXPUNGE of given UIDs, a move checked
 * against the source's UIDs first):
 *   1. UID SEARCH ALL: what the upstream folder still has;
 *   2. links whose local message went: a copy elsewhere is a move (state
 *      MOVING, dest), none is a deletion; links whose upstream message
 *      went: REMOTE_GONE; all committed;
 *   3. UID STORE \Deleted + UID EXPUNGE of the deletions, links dropped;
 *   4. UID MOVE per destination, links given their new UIDs (COPYUID) or
 *      left for the destination's fetch to find by raw hash (3. and 4.
 *      are recorded with the bases of step 6, in one commit: a crash
 *      before it finds the deleted ones gone and the moved ones MOVING
 *      with their source gone, and settles both);
 *   5. local expunge of the REMOTE_GONE messages (the trigger drops them),
 *      in the same commit as 2. (store_group_begin: one commit, not one
 *      per mailbox);
 *   6. flags: the upstream's changes (UID FETCH FLAGS CHANGEDSINCE the
 *      folder's last HIGHESTMODSEQ where CONDSTORE is offered, else every
 *      message's flags), merged with the local ones; UID STORE of the
 *      upstream's differences, the local ones (UNCHANGEDSINCE what was
 *      read, so a change made here meanwhile is merged next time), then
 *      the new bases, the local changes and the bases in one commit (with
 *      what 3. and 4. did); a crash in between leaves local != base or remote !=
 *      base with the same values, which the next merge settles;
 *   7. the folder's HIGHESTMODSEQ remembered.
 *
 * Which links are read: with QRESYNC the SELECT named every upstream
 * message that changed (its flags) or went (VANISHED) since the MODSEQ of
 * the last sync, so only those links are read, with the ones that have
 * something to send (not LIVE, or dirty: the local message's flags are not
 * the base, sql/055); any other link has nothing to merge.  Without
 * QRESYNC every link of the folder is read.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"
#include "store/imapdb.h"
#include "store/twoway.h"

/* Above this many UIDs reported changed or gone, a folder's links are
 * read whole rather than one UID at a time. */
#define TWOWAY_LOOKUPS_MAX 2048

/* The flags that are synced (\Deleted is not: expunges are). */
#define SYNC_FLAGS (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT)

/* ---- keyword sets ------------------------------------------------------- */

/* The words of a space-separated list, sorted, repeats dropped. */
struct kwset {
	char *copy;
	char **w;
	size_t n;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
kwset_init(struct kwset *k, const char *text)
{
	k->copy = xstrdup(text != NULL ? text : "");
	k->w = NULL;
	k->n = 0;
	char *save = NULL;
	for (char *t = strtok_r(k->copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		k->w = xreallocarray(k->w, k->n + 1, sizeof *k->w);
		k->w[k->n++] = t;
	}
	if (k->n > 1)
		qsort(k->w, k->n, sizeof *k->w, cmp_str);
	size_t j = 0;
	for (size_t i = 0; i < k->n; i++)
		if (j == 0 || strcmp(k->w[j - 1], k->w[i]) != 0)
			k->w[j++] = k->w[i];
	k->n = j;
}

static void
kwset_free(struct kwset *k)
{
	free(k->copy);
	free(k->w);
}

static bool
kwset_has(const struct kwset *k, const char *w)
{
	return k->n > 0 && bsearch(&w, k->w, k->n, sizeof *k->w, cmp_str) != NULL;
}

/* The three-way merge of keyword sets; *merged, *add (to the upstream)
 * and *remove get space-separated lists. */
static void
kw_merge(const char *base_t, const char *local_t, const char *remote_t, struct buf *merged,
	 struct buf *add, struct buf *remove)
{
	struct kwset b, l, r;
	kwset_init(&b, base_t);
	kwset_init(&l, local_t);
	kwset_init(&r, remote_t);
	const struct kwset *all[3] = { &b, &l, &r };
	/* every word of the three, once (sorted merge would be tidier; the
	 * lists are a handful of words) */
	struct kwset seen = { NULL, NULL, 0 };
	for (size_t s = 0; s < 3; s++) {
		for (size_t i = 0; i < all[s]->n; i++) {
			const char *w = all[s]->w[i];
			bool dup = false;
			for (size_t j = 0; j < seen.n && !dup; j++)
				dup = strcmp(seen.w[j], w) == 0;
			if (dup)
				continue;
			seen.w = xreallocarray(seen.w, seen.n + 1, sizeof *seen.w);
			seen.w[seen.n++] = (char *)w;
			bool in_b = kwset_has(&b, w), in_l = kwset_has(&l, w), in_r = kwset_has(&r, w);
			bool in = in_l != in_b ? in_l : in_r;
			if (in) {
				if (merged->len > 0)
					buf_putc(merged, ' ');
				buf_puts(merged, w);
			}
			struct buf *to = in && !in_r ? add : !in && in_r ? remove : NULL;
			if (to != NULL) {
				if (to->len > 0)
					buf_putc(to, ' ');
				buf_puts(to, w);
			}
		}
	}
	free(seen.w);
	kwset_free(&b);
	kwset_free(&l);
	kwset_free(&r);
}

/* Whether two keyword lists hold the same words. */
static bool
kw_same(const char *a, const char *b)
{
	struct kwset x, y;
	kwset_init(&x, a);
	kwset_init(&y, b);
	bool same = x.n == y.n;
	for (size_t i = 0; same && i < x.n; i++)
		same = strcmp(x.w[i], y.w[i]) == 0;
	kwset_free(&x);
	kwset_free(&y);
	return same;
}

/* ---- what the upstream reported ---------------------------------------- */

struct remote_flags {
	uint32_t uid;
	unsigned flags;
	char *keywords;
};

struct remote_list {
	struct remote_flags *v;
	size_t n;
};

static int
remote_add(void *ctx, uint32_t uid, unsigned flags, const char *keywords, const char **error_r)
{
	struct remote_list *r = ctx;
	(void)error_r;
	if (r->n % 256 == 0)
		r->v = xreallocarray(r->v, r->n + 256, sizeof *r->v);
	r->v[r->n].uid = uid;
	r->v[r->n].flags = flags & SYNC_FLAGS;
	r->v[r->n].keywords = xstrdup(keywords != NULL ? keywords : "");
	r->n++;
	return 0;
}

static int
cmp_remote(const void *a, const void *b)
{
	uint32_t x = ((const struct remote_flags *)a)->uid, y = ((const struct remote_flags *)b)->uid;
	return x < y ? -1 : x > y;
}

static const struct remote_flags *
remote_find(const struct remote_list *r, uint32_t uid)
{
	struct remote_flags key = { .uid = uid };
	return r->n > 0 ? bsearch(&key, r->v, r->n, sizeof *r->v, cmp_remote) : NULL;
}

static void
remote_free(struct remote_list *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].keywords);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool
uid_in(const uint32_t *uids, size_t n, uint32_t uid)
{
	return n > 0 && bsearch(&uid, uids, n, sizeof *uids, cmp_u32) != NULL;
}

/* What the upstream folder holds: every UID (present), or with QRESYNC
 * the UIDs expunged since the last sync (vanished): a linked UID is there
 * unless it vanished. */
struct upstream_uids {
	const uint32_t *present;
	size_t n_present;
	const uint32_t *vanished;
	size_t n_vanished;
	bool qresync;
};

static bool
upstream_has(const struct upstream_uids *u, uint32_t uid)
{
	return u->qresync ? !uid_in(u->vanished, u->n_vanished, uid)
			  : uid_in(u->present, u->n_present, uid);
}

/* ---- local folders and upstream folders -------------------------------- */

/* The upstream folder that local mailbox name stands for in this account
 * (malloc'd), or NULL when it is none of the account's. */
static char *
upstream_folder_of(const struct fetch_run *run, const char *name, char *const *listed,
		   size_t n_listed, const char *folder)
{
	const struct upstream_settings *set = &run->up->set;
	if (!set->mirror)
		return strcmp(name, set->target) == 0 ? xstrdup(folder) : NULL;
	size_t tl = strlen(set->target);
	if (strncmp(name, set->target, tl) != 0 || name[tl] != '/')
		return NULL;
	const char *f = name + tl + 1;
	char *const *v = fetch_all_folders(set) ? listed : set->folders;
	size_t n = fetch_all_folders(set) ? n_listed : set->n_folders;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], f) == 0)
			return xstrdup(f);
	return NULL;
}

/* ---- the steps ----------------------------------------------------------- */

struct op_list {
	struct twoway_op *v;
	size_t n;
};

static struct twoway_op *
op_add(struct op_list *o, enum twoway_op_kind kind, int64_t link_id)
{
	if (o->n % 64 == 0)
		o->v = xreallocarray(o->v, o->n + 64, sizeof *o->v);
	struct twoway_op *op = &o->v[o->n++];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->link_id = link_id;
	return op;
}

static int
op_commit(struct fetch_run *run, struct op_list *o, const char **error_r)
{
	int ret = store_twoway_apply(fetch_run_store(run), o->v, o->n, error_r);
	o->n = 0;
	return ret == STORE_OK ? 0 : -1;
}

/* A push of flags to the upstream: one UID STORE per distinct change. */
struct push {
	char *key;		/* "+5 kw1 kw2": sign, flag bits, keywords */
	uint32_t uid;
};

static int
cmp_push(const void *a, const void *b)
{
	const struct push *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c != 0 ? c : x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* A local change of flags: grouped per mailbox and result. */
struct local_set {
	int64_t mailbox_id;
	unsigned flags;
	char *keywords;
	uint32_t uid;
	uint64_t modseq;
	size_t link;		/* index into the links */
};

static int
cmp_local(const void *a, const void *b)
{
	const struct local_set *x = a, *y = b;
	if (x->mailbox_id != y->mailbox_id)
		return x->mailbox_id < y->mailbox_id ? -1 : 1;
	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	int c = strcmp(x->keywords, y->keywords);
	return c != 0 ? c : x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void
push_add(struct push **v, size_t *n, char sign, unsigned flags, const char *kw, uint32_t uid)
{
	if ((flags == 0 && (kw == NULL || *kw == '\0')))
		return;
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n].key = xasprintf("%c%u %s", sign, flags, kw != NULL ? kw : "");
	(*v)[*n].uid = uid;
	(*n)++;
}

/* Sends the pushes, one UID STORE per key. */
static int
push_send(struct imap_client *c, struct push *v, size_t n, const char **error_r)
{
	qsort(v, n, sizeof *v, cmp_push);
	uint32_t *uids = xcalloc(n + 1, sizeof *uids);
	struct imapc_store *changes = xcalloc(n + 1, sizeof *changes);
	struct buf *sets = xcalloc(n + 1, sizeof *sets);
	size_t n_changes = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i, k = 0;
		while (j < n && strcmp(v[j].key, v[i].key) == 0)
			uids[k++] = v[j++].uid;
		struct buf *set = &sets[n_changes];
		imapc_uidset(set, uids, k);
		char *end;
		unsigned flags = (unsigned)strtoul(v[i].key + 1, &end, 10);
		changes[n_changes++] = (struct imapc_store){
			.uidset = buf_cstr(set),
			.add = v[i].key[0] == '+',
			.flags = flags,
			.keywords = *end == ' ' ? end + 1 : "",
		};
		i = j;
	}
	/* every change at once: each is idempotent and none depends on
	 * another (a flag is added or removed on distinct keys) */
	int ret = imap_client_store_many(c, changes, n_changes, error_r);
	for (size_t i = 0; i < n_changes; i++)
		buf_free(&sets[i]);
	free(sets);
	free(changes);
	free(uids);
	return ret;
}

/* Applies the local changes (grouped), marking in applied[] the links
 * whose local message took the change. */
static int
local_apply(struct fetch_run *run, struct local_set *v, size_t n, bool *applied,
	    const char **error_r)
{
	qsort(v, n, sizeof *v, cmp_local);
	uint32_t *uids = xcalloc(n + 1, sizeof *uids);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0;) {
		size_t j = i, k = 0;
		uint64_t since = 0;
		while (j < n && v[j].mailbox_id == v[i].mailbox_id && v[j].flags == v[i].flags &&
		       strcmp(v[j].keywords, v[i].keywords) == 0) {
			/* MODSEQs come from the mailbox's HIGHESTMODSEQ, which
			 * only grows: anything changed after these were read
			 * is above all of them (RFC 7162 §3.1.3 UNCHANGEDSINCE) */
			if (v[j].modseq > since)
				since = v[j].modseq;
			uids[k++] = v[j++].uid;
		}
		struct imapdb_msg *res = xcalloc(k, sizeof *res);
		bool *modified = xcalloc(k, sizeof *modified);
		if (imapdb_store_flags_cond(fetch_run_store(run), v[i].mailbox_id, uids, k,
					    IMAPDB_FLAGS_REPLACE, v[i].flags,
					    *v[i].keywords != '\0' ? v[i].keywords : NULL, since,
					    res, modified, error_r) != STORE_OK) {
			ret = -1;
		} else {
			for (size_t m = 0; m < k; m++)
				applied[v[i + m].link] = res[m].uid != 0 && !modified[m];
		}
		for (size_t m = 0; m < k; m++)
			free(res[m].keywords);
		free(res);
		free(modified);
		i = j;
	}
	free(uids);
	return ret;
}

/* Step 6: the flags. */
/* The SELECT of next (the folder whose pass sends next, NULL: none)
 * written ahead: behind the folder's last command (now false), or at once;
 * the session's selected folder is not known from then on. */
static int
select_next(struct fetch_run *run, struct imap_client *c, const char *next, bool now,
	    const char **error_r)
{
	if (next == NULL)
		return 0;
	fetch_pass_selected(run, NULL, NULL);
	return imap_client_select_ahead(c, next, now, error_r);
}

static int
sync_flags(struct fetch_run *run, struct imap_client *c, const char *folder,
	   const struct imapc_mailbox *mb, struct twoway_link *links, size_t n_links,
	   const struct upstream_uids *there, unsigned fresh, bool partial, struct op_list *ops,
	   struct fetch_twoway_pre *pre, const char *next, const char **error_r)
{
	uint64_t since = 0;
	if (store_twoway_modseq_get(fetch_run_store(run), run->up->id, folder, &since, error_r) !=
	    STORE_OK)
		return -1;
	struct remote_list remote = { NULL, 0 };
	bool condstore = mb->highestmodseq != 0 && since != 0;
	/* the folder's first sync, every link made by this pass: their flags
	 * came with the messages, after the SELECT whose HIGHESTMODSEQ the
	 * next sync starts from */
	size_t live = 0;
	for (size_t i = 0; i < n_links; i++)
		live += links[i].state == TWOWAY_LIVE;
	bool all_fresh = mb->highestmodseq != 0 && since == 0 && live == fresh;
	if (pre != NULL && pre->flags_read && pre->since == since && condstore) {
		/* asked with the SELECT (CHANGEDSINCE the same MODSEQ) */
		struct remote_list *r = pre->remote;
		remote = *r;
		r->v = NULL;
		r->n = 0;
		if (remote.n > 1)
			qsort(remote.v, remote.n, sizeof *remote.v, cmp_remote);
	} else if (partial) {
		/* the links were read for what the SELECT reported: other
		 * changes would find no link (the MODSEQ is not moved) */
		*error_r = "the folder's MODSEQ changed during the sync";
		return -1;
	} else if ((there->qresync || there->n_present > 0) && !all_fresh &&
		   !(condstore && since >= mb->highestmodseq)) {
		if (imap_client_fetch_flags(c, "1:*", condstore ? since : 0, remote_add, &remote,
					    error_r) < 0) {
			remote_free(&remote);
			return -1;
		}
		if (remote.n > 1)
			qsort(remote.v, remote.n, sizeof *remote.v, cmp_remote);
	}
	struct push *pushes = NULL;
	size_t n_pushes = 0;
	struct local_set *locals = NULL;
	size_t n_locals = 0;
	unsigned *new_flags = xcalloc(n_links + 1, sizeof *new_flags);
	char **new_kw = xcalloc(n_links + 1, sizeof *new_kw);
	bool *changed = xcalloc(n_links + 1, sizeof *changed);
	bool *applied = xcalloc(n_links + 1, sizeof *applied);
	unsigned pushed = 0, pulled = 0;
	for (size_t i = 0; i < n_links; i++) {
		struct twoway_link *l = &links[i];
		if (l->state != TWOWAY_LIVE || l->uidvalidity != mb->uidvalidity ||
		    !upstream_has(there, l->uid))
			continue;
		const struct remote_flags *r = remote_find(&remote, l->uid);
		/* without a report the upstream has the base (CHANGEDSINCE) */
		unsigned base = l->flags & SYNC_FLAGS, local = l->local_flags & SYNC_FLAGS;
		unsigned rem = r != NULL ? r->flags : base;
		const char *rem_kw = r != NULL ? r->keywords : l->keywords;
		unsigned lchanged = local ^ base;
		unsigned merged = (rem & ~lchanged) | (local & lchanged);
		struct buf mk = BUF_INIT, add = BUF_INIT, del = BUF_INIT;
		kw_merge(l->keywords, l->local_keywords, rem_kw, &mk, &add, &del);
		push_add(&pushes, &n_pushes, '+', merged & ~rem, buf_cstr(&add), l->uid);
		push_add(&pushes, &n_pushes, '-', rem & ~merged, buf_cstr(&del), l->uid);
		if ((merged & ~rem) != 0 || add.len > 0)
			pushed++;
		else if ((rem & ~merged) != 0 || del.len > 0)
			pushed++;
		new_flags[i] = merged;
		new_kw[i] = buf_steal(&mk);
		if (new_kw[i] == NULL)
			new_kw[i] = xstrdup("");
		bool local_differs = merged != local || !kw_same(new_kw[i], l->local_keywords);
		changed[i] = local_differs || merged != base || !kw_same(new_kw[i], l->keywords);
		applied[i] = !local_differs;
		if (local_differs) {
			locals = xreallocarray(locals, n_locals + 1, sizeof *locals);
			locals[n_locals++] = (struct local_set){
				.mailbox_id = l->mailbox_id,
				/* what is not synced (\Deleted) stays as it is */
				.flags = merged | (l->local_flags & ~SYNC_FLAGS),
				.keywords = new_kw[i],
				.uid = l->local_uid,
				.modseq = l->local_modseq,
				.link = i,
			};
			pulled++;
		}
		buf_free(&add);
		buf_free(&del);
	}
	int ret = 0;
	if (n_pushes > 0)
		ret = fetch_pass_select(run, c, error_r);
	/* the next folder's SELECT rides with the last command sent here
	 * (or goes now, while the commit below is made) */
	if (ret == 0)
		ret = select_next(run, c, next, n_pushes == 0, error_r);
	if (ret == 0 && n_pushes > 0)
		ret = push_send(c, pushes, n_pushes, error_r);
	/* the local changes and the new bases (and what the moves did): one
	 * commit; none of it gates a command (a base not recorded is merged
	 * again to the same values) */
	bool grouped = false;
	if (ret == 0) {
		ret = store_group_begin(fetch_run_store(run), error_r) == STORE_OK ? 0 : -1;
		grouped = ret == 0;
	}
	if (ret == 0 && n_locals > 0)
		ret = local_apply(run, locals, n_locals, applied, error_r);
	if (ret == 0) {
		for (size_t i = 0; i < n_links; i++) {
			if (!changed[i] || !applied[i])
				continue;
			struct twoway_op *op = op_add(ops, TWOWAY_OP_BASE, links[i].id);
			op->flags = new_flags[i];
			op->keywords = new_kw[i];
		}
		/* the last UID fetched, where the pass moved it past what
		 * it fetched (run_imap.c) */
		if (pre != NULL && pre->advance != 0) {
			struct twoway_op *op = op_add(ops, TWOWAY_OP_ADVANCE, run->up->id);
			op->folder = folder;
			op->uid = pre->advance;
		}
		/* with the bases, the HIGHESTMODSEQ they stand for */
		if (mb->highestmodseq != 0 && mb->highestmodseq != since) {
			struct twoway_op *op = op_add(ops, TWOWAY_OP_MODSEQ, run->up->id);
			op->folder = folder;
			op->modseq = mb->highestmodseq;
		}
		ret = op_commit(run, ops, error_r);
	}
	if (grouped) {
		/* a lazy commit, its fdatasync not waited for: nothing here
		 * gates a command, and a replay merges to the same values */
		if (ret != 0)
			store_group_abort(fetch_run_store(run));
		else if (store_group_end_lazy(fetch_run_store(run), error_r) != STORE_OK)
			ret = -1;
	}
	if (pushed > 0 || pulled > 0)
		log_info("fetch[%llu] upstream=%lld folder=%s two-way flags up=%u down=%u",
			 (unsigned long long)run->log_id, (long long)run->up->id, esc_str(folder),
			 pushed, pulled);
	for (size_t i = 0; i < n_pushes; i++)
		free(pushes[i].key);
	free(pushes);
	free(locals);
	for (size_t i = 0; i < n_links; i++)
		free(new_kw[i]);
	free(new_kw);
	free(new_flags);
	free(changed);
	free(applied);
	remote_free(&remote);
	return ret;
}

/* A move to send: the link and where it goes. */
struct move {
	size_t link;
	const char *dest;
};

static int
cmp_move(const void *a, const void *b)
{
	const struct move *x = a, *y = b;
	return strcmp(x->dest, y->dest);
}

/* Step 4: UID MOVE per destination; the links' new places go into ops
 * (committed with the bases: until then a replay finds the moved ones). */
static int select_next(struct fetch_run *run, struct imap_client *c, const char *next, bool now,
		       const char **error_r);

/* ahead (NULL: none): the SELECT written behind the last move (nothing
 * else is sent in the folder after it). */
static int
send_moves(struct fetch_run *run, struct imap_client *c, struct twoway_link *links,
	   struct move *mv, size_t n, const char *ahead, struct op_list *ops,
	   const char **error_r)
{
	qsort(mv, n, sizeof *mv, cmp_move);
	uint32_t *uids = xcalloc(n + 1, sizeof *uids);
	struct buf set = BUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0;) {
		size_t j = i, k = 0;
		while (j < n && strcmp(mv[j].dest, mv[i].dest) == 0)
			uids[k++] = links[mv[j++].link].uid;
		qsort(uids, k, sizeof *uids, cmp_u32);
		buf_reset(&set);
		imapc_uidset(&set, uids, k);
		uint32_t uv = 0, *src = NULL, *dst = NULL;
		size_t pairs = 0;
		if (j == n)
			ret = select_next(run, c, ahead, false, error_r);
		if (ret == 0)
			ret = imap_client_move(c, buf_cstr(&set), mv[i].dest, &uv, &src, &dst,
					       &pairs, error_r);
		for (size_t m = i; m < j && ret == 0; m++) {
			struct twoway_link *l = &links[mv[m].link];
			uint32_t to = 0;
			for (size_t p = 0; p < pairs && to == 0; p++)
				if (src[p] == l->uid)
					to = dst[p];
			struct twoway_op *op = op_add(ops, TWOWAY_OP_LOCATION, l->id);
			op->folder = mv[m].dest;
			/* without COPYUID the destination's fetch finds it by
			 * its raw hash (store_upstream_deliver_tx) */
			op->uidvalidity = to != 0 ? uv : 0;
			op->uid = to;
			op->state = to != 0 ? (l->message_id != 0 ? TWOWAY_LIVE : TWOWAY_LOCAL_GONE)
					    : (l->message_id != 0 ? TWOWAY_UNRESOLVED
								  : TWOWAY_UNRESOLVED_GONE);
		}
		free(src);
		free(dst);
		i = j;
	}
	buf_free(&set);
	free(uids);
	return ret;
}

/* Step 5: the upstream's expunges, here. */
static int
expunge_local(struct fetch_run *run, struct twoway_link *links, const size_t *gone, size_t n,
	      const char **error_r)
{
	struct local_set *v = xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		v[i].mailbox_id = links[gone[i]].mailbox_id;
		v[i].uid = links[gone[i]].local_uid;
		v[i].keywords = (char *)"";
	}
	qsort(v, n, sizeof *v, cmp_local);
	uint32_t *uids = xcalloc(n + 1, sizeof *uids);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0;) {
		size_t j = i, k = 0;
		while (j < n && v[j].mailbox_id == v[i].mailbox_id)
			uids[k++] = v[j++].uid;
		if (store_expunge(fetch_run_store(run), v[i].mailbox_id, uids, k, NULL, error_r) !=
		    STORE_OK)
			ret = -1;
		i = j;
	}
	free(uids);
	free(v);
	return ret;
}

/* The SELECT with QRESYNC where the session has it and the folder was
 * synced before under the same UIDVALIDITY: 1 when done (pre filled), 0
 * when not tried, -1 on failure. */
static int
select_qresync(struct fetch_run *run, struct imap_client *c, const char *folder,
	       struct imapc_mailbox *mb_r, struct fetch_twoway_pre *pre, const char **error_r)
{
	if (pre->since == 0 || !imap_client_qresync(c))
		return 0;
	uint32_t uidvalidity = 0, last_uid = 0;
	bool refetch = false;
	int r = store_upstream_folder_get(fetch_run_store(run), run->up->id, folder, &uidvalidity,
					  &last_uid, &refetch, error_r);
	if (r == STORE_NOTFOUND || (r == STORE_OK && (refetch || last_uid == UINT32_MAX)))
		return 0;
	if (r != STORE_OK)
		return -1;
	if (imap_client_select_qresync(c, folder, uidvalidity, pre->since, last_uid + 1, mb_r,
				       &pre->fresh, &pre->n_fresh, &pre->vanished,
				       &pre->n_vanished, remote_add, pre->remote, error_r) < 0)
		return -1;
	if (mb_r->uidvalidity == uidvalidity && mb_r->highestmodseq != 0) {
		uint32_t *v = pre->vanished;
		return fetch_twoway_pre_qresync(run, folder, uidvalidity, pre, mb_r, &v,
						pre->n_vanished, error_r) < 0 ? -1 : 1;
	}
	/* RFC 7162 §3.2.5.1: a new UIDVALIDITY (or no MODSEQs any more):
	 * the server reported no changes; every UID is asked for */
	xfree(pre->fresh);
	xfree(pre->vanished);
	pre->n_fresh = pre->n_vanished = 0;
	remote_free(pre->remote);
	if (imap_client_search_all(c, &pre->present, &pre->n_present, error_r) < 0)
		return -1;
	if (pre->present == NULL)
		pre->present = xcalloc(1, sizeof *pre->present);
	return 1;
}

int
fetch_twoway_select(struct fetch_run *run, struct imap_client *c, const char *folder,
		    struct imapc_mailbox *mb_r, struct fetch_twoway_pre *pre, const char **error_r)
{
	memset(pre, 0, sizeof *pre);
	struct remote_list *r = xcalloc(1, sizeof *r);
	pre->remote = r;
	if (store_twoway_modseq_get(fetch_run_store(run), run->up->id, folder, &pre->since,
				    error_r) != STORE_OK)
		return -1;
	int q = select_qresync(run, c, folder, mb_r, pre, error_r);
	if (q != 0)
		return q < 0 ? -1 : 0;
	if (imap_client_select_sync(c, folder, pre->since, mb_r, &pre->present, &pre->n_present,
				    remote_add, r, error_r) < 0)
		return -1;
	/* an empty folder's list is known too (NULL: not asked) */
	if (pre->present == NULL)
		pre->present = xcalloc(1, sizeof *pre->present);
	pre->flags_read = pre->since != 0 && mb_r->highestmodseq != 0;
	return 0;
}

int
fetch_twoway_pre_begin(struct fetch_run *run, const char *folder, struct fetch_twoway_pre *pre,
		       imapc_flags_fn **fn_r, void **ctx_r, const char **error_r)
{
	memset(pre, 0, sizeof *pre);
	pre->remote = xcalloc(1, sizeof(struct remote_list));
	*fn_r = remote_add;
	*ctx_r = pre->remote;
	return store_twoway_modseq_get(fetch_run_store(run), run->up->id, folder, &pre->since,
				       error_r) == STORE_OK ? 0 : -1;
}

int
fetch_twoway_pre_qresync(struct fetch_run *run, const char *folder, uint32_t uidvalidity,
			 struct fetch_twoway_pre *pre, const struct imapc_mailbox *mb,
			 uint32_t **vanished, size_t n_vanished, const char **error_r)
{
	if (mb->uidvalidity != uidvalidity || mb->highestmodseq == 0) {
		/* RFC 7162 §3.2.5.1: no changes reported; the next run
		 * starts the folder again by its new UIDVALIDITY */
		*error_r = "the folder's UIDVALIDITY changed during the sync";
		return -1;
	}
	pre->vanished = *vanished;
	pre->n_vanished = n_vanished;
	*vanished = NULL;
	pre->qresync = true;
	pre->flags_read = true;
	size_t changed = ((const struct remote_list *)pre->remote)->n;
	if (pre->n_vanished > 0 || changed > 0)
		log_info("fetch[%llu] upstream=%lld folder=%s two-way qresync vanished=%zu changed=%zu",
			 (unsigned long long)run->log_id, (long long)run->up->id, esc_str(folder),
			 pre->n_vanished, changed);
	return 0;
}

void
fetch_twoway_pre_free(struct fetch_twoway_pre *pre)
{
	if (pre->remote != NULL) {
		remote_free(pre->remote);
		free(pre->remote);
	}
	free(pre->present);
	free(pre->vanished);
	free(pre->fresh);
	memset(pre, 0, sizeof *pre);
}

/* What a folder's pass decided before sending anything (steps 1 and 2),
 * for the steps that send (3, 4, 6, 7). */
struct fetch_twoway_plan {
	const char *folder;
	struct imapc_mailbox mb;
	struct twoway_link *links;
	size_t n_links;
	uint32_t *present;		/* every UID, when asked for (else NULL) */
	size_t n_present;
	struct upstream_uids up_uids;	/* present, or pre's vanished */
	uint32_t *dels;			/* to delete upstream */
	size_t n_dels;
	struct move *mv;		/* to move upstream */
	size_t n_mv;
	char **dests;			/* per link: the move's destination */
	size_t n_gone;			/* expunged here as they went upstream */
	struct op_list del_ops;		/* recorded with the bases (6.) */
	bool partial;			/* links: only those QRESYNC named and
					 * the pending ones */
	char **listed;
	size_t n_listed;
};

void
fetch_twoway_plan_free(struct fetch_twoway_plan **pp)
{
	struct fetch_twoway_plan *p = *pp;
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_links; i++)
		free(p->dests[i]);
	free(p->dests);
	free(p->mv);
	free(p->dels);
	free(p->del_ops.v);
	free(p->present);
	imapc_names_free(&p->listed, p->n_listed);
	store_twoway_links_free(&p->links, p->n_links);
	free(p);
	*pp = NULL;
}

int
fetch_twoway_plan(struct fetch_run *run, struct imap_client *c, const char *folder,
		  const struct imapc_mailbox *mb, const struct fetch_twoway_pre *pre, bool grouped,
		  struct fetch_twoway_plan **plan_r, const char **error_r)
{
	struct store *st = fetch_run_store(run);
	struct fetch_twoway_plan *p = xcalloc(1, sizeof *p);
	*plan_r = p;
	p->folder = folder;
	p->mb = *mb;
	/* with QRESYNC the upstream named what changed or went there: those
	 * links, and the ones with something to send (not every link) */
	p->partial = pre != NULL && pre->qresync && pre->flags_read && pre->since != 0 &&
		     mb->highestmodseq != 0 &&
		     pre->n_vanished + ((const struct remote_list *)pre->remote)->n <=
			     TWOWAY_LOOKUPS_MAX;
	int lr;
	if (p->partial) {
		const struct remote_list *r = pre->remote;
		size_t n_uids = 0;
		uint32_t *uids = xcalloc(pre->n_vanished + r->n + 1, sizeof *uids);
		for (size_t i = 0; i < pre->n_vanished; i++)
			uids[n_uids++] = pre->vanished[i];
		for (size_t i = 0; i < r->n; i++)
			uids[n_uids++] = r->v[i].uid;
		if (n_uids > 1)
			qsort(uids, n_uids, sizeof *uids, cmp_u32);
		lr = store_twoway_links_some(st, run->up->id, folder, uids, n_uids, &p->links,
					     &p->n_links, error_r);
		free(uids);
	} else {
		lr = store_twoway_links(st, run->up->id, folder, &p->links, &p->n_links, error_r);
	}
	if (lr != STORE_OK)
		return -1;
	struct twoway_link *links = p->links;
	size_t n_links = p->n_links;
	struct op_list ops = { NULL, 0 };
	size_t *gone = xcalloc(n_links + 1, sizeof *gone), n_gone = 0;
	p->dels = xcalloc(n_links + 1, sizeof *p->dels);
	p->mv = xcalloc(n_links + 1, sizeof *p->mv);
	p->dests = xcalloc(n_links + 1, sizeof *p->dests);
	int ret = -1;

	/* 1. what the upstream folder has (asked with the SELECT, or now) */
	struct upstream_uids *up_uids = &p->up_uids;
	if (pre != NULL && pre->qresync) {
		up_uids->qresync = true;
		up_uids->vanished = pre->vanished;
		up_uids->n_vanished = pre->n_vanished;
	} else if (n_links > 0 && pre != NULL && pre->present != NULL) {
		p->present = xcalloc(pre->n_present + 1, sizeof *p->present);
		memcpy(p->present, pre->present, pre->n_present * sizeof *p->present);
		p->n_present = pre->n_present;
	} else if (n_links > 0) {
		/* a grouped plan runs with another folder selected: only what
		 * the SELECT brought will do */
		if (grouped)
			panic("fetch: a grouped two-way plan without the folder's UIDs");
		if (fetch_pass_select(run, c, error_r) < 0 ||
		    imap_client_search_all(c, &p->present, &p->n_present, error_r) < 0)
			goto out;
	}
	up_uids->present = p->present;
	up_uids->n_present = p->n_present;
	/* 2. what went on either side */
	for (size_t i = 0; i < n_links; i++) {
		struct twoway_link *l = &links[i];
		if (l->uidvalidity != mb->uidvalidity)
			continue;	/* unresolved: the refetch finds it */
		/* a UID at or above the SELECT's UIDNEXT came after what it
		 * reported (moved here by an earlier folder's second half,
		 * run_imap.c): there, as far as this pass knows */
		bool there = upstream_has(up_uids, l->uid) ||
			     (mb->uidnext != 0 && l->uid >= mb->uidnext);
		switch (l->state) {
		case TWOWAY_LIVE:
			if (!there) {
				/* deleted upstream: that wins over local flags */
				struct twoway_op *op = op_add(&ops, TWOWAY_OP_STATE, l->id);
				op->state = TWOWAY_REMOTE_GONE;
				op->message_id = l->message_id;
				gone[n_gone++] = i;
			}
			break;
		case TWOWAY_REMOTE_GONE:
			if (l->message_id != 0)
				gone[n_gone++] = i;
			break;
		case TWOWAY_MOVING:
			if (there) {
				/* sent before a crash, or not at all: again */
				p->mv[p->n_mv].link = i;
				p->mv[p->n_mv++].dest = l->dest;
			} else {
				struct twoway_op *op = op_add(&ops, TWOWAY_OP_LOCATION, l->id);
				op->folder = l->dest;
				op->state = l->message_id != 0 ? TWOWAY_UNRESOLVED
							       : TWOWAY_UNRESOLVED_GONE;
			}
			break;
		case TWOWAY_LOCAL_GONE: {
			if (!there) {
				(void)op_add(&ops, TWOWAY_OP_DELETE, l->id);
				break;
			}
			int64_t copy_id = 0;
			char *mailbox = NULL;
			int fr = store_twoway_find_copy(st, run->up->user_id, l->blob, &copy_id,
							&mailbox, error_r);
			if (fr != STORE_OK && fr != STORE_NOTFOUND)
				goto out;
			if (fr == STORE_NOTFOUND) {
				p->dels[p->n_dels++] = l->uid;
				(void)op_add(&p->del_ops, TWOWAY_OP_DELETE, l->id);
				break;
			}
			if (run->up->set.mirror && fetch_all_folders(&run->up->set) && p->listed == NULL &&
			    imap_client_list(c, &p->listed, &p->n_listed, error_r) < 0) {
				free(mailbox);
				goto out;
			}
			char *dest = upstream_folder_of(run, mailbox, p->listed, p->n_listed, folder);
			free(mailbox);
			if (dest == NULL) {
				/* moved out of the account: unlinked, the
				 * upstream copy stays */
				(void)op_add(&ops, TWOWAY_OP_DELETE, l->id);
			} else if (strcmp(dest, folder) == 0) {
				/* copied within the folder, then removed */
				struct twoway_op *op = op_add(&ops, TWOWAY_OP_STATE, l->id);
				op->state = TWOWAY_LIVE;
				op->message_id = copy_id;
				free(dest);
			} else {
				p->dests[i] = dest;
				struct twoway_op *op = op_add(&ops, TWOWAY_OP_STATE, l->id);
				op->state = TWOWAY_MOVING;
				op->message_id = copy_id;
				op->dest = dest;
				l->message_id = copy_id;
				p->mv[p->n_mv].link = i;
				p->mv[p->n_mv++].dest = dest;
			}
			break;
		}
		default:
			break;
		}
	}
	/* the intentions, durable before anything is sent, and the upstream's
	 * expunges here (5.), in one commit (grouped: the caller's, with other
	 * folders' before any of them sends) */
	if (ops.n > 0 || n_gone > 0) {
		if (!grouped && store_group_begin(st, error_r) != STORE_OK)
			goto out;
		if (op_commit(run, &ops, error_r) < 0 ||
		    (n_gone > 0 && expunge_local(run, links, gone, n_gone, error_r) < 0)) {
			if (!grouped)
				store_group_abort(st);
			goto out;
		}
		if (!grouped && store_group_end(st, error_r) != STORE_OK)
			goto out;
	}
	p->n_gone = n_gone;
	ret = 0;
out:
	free(gone);
	free(ops.v);
	return ret;
}

/* Whether a flag was changed here since the base: without one, the merge
 * takes the upstream's values and pushes nothing (a keyword list written
 * otherwise may be the same: a push is then merely possible). */
static bool
flags_changed_here(const struct fetch_twoway_plan *p)
{
	for (size_t i = 0; i < p->n_links; i++) {
		const struct twoway_link *l = &p->links[i];
		if (l->state == TWOWAY_LIVE &&
		    ((l->local_flags ^ l->flags) & SYNC_FLAGS ||
		     strcmp(l->local_keywords != NULL ? l->local_keywords : "",
			    l->keywords != NULL ? l->keywords : "") != 0))
			return true;
	}
	return false;
}

bool
fetch_twoway_plan_sends(const struct fetch_twoway_plan *p)
{
	return p != NULL && (p->n_dels > 0 || p->n_mv > 0 || flags_changed_here(p));
}

unsigned
fetch_twoway_plan_weight(const struct fetch_twoway_plan *p)
{
	if (!fetch_twoway_plan_sends(p))
		return 0;
	/* the SELECT; UID STORE and UID EXPUNGE; a UID MOVE (or more); the
	 * flags' UID STOREs */
	return 1 + (p->n_dels > 0 ? 2 : 0) + (p->n_mv > 0 ? 2 : 0) + flags_changed_here(p);
}

int
fetch_twoway_send(struct fetch_run *run, struct imap_client *c, struct fetch_twoway_plan *p,
		  unsigned fresh, struct fetch_twoway_pre *pre, const char *next,
		  const char **error_r)
{
	const char *folder = p->folder;
	int ret = -1;
	/* the next folder's SELECT goes behind this folder's last command:
	 * the last move or the expunge when no flag can be pushed here */
	const char *ahead = flags_changed_here(p) ? NULL : next;
	/* 3. deletions */
	if ((p->n_dels > 0 || p->n_mv > 0) && fetch_pass_select(run, c, error_r) < 0)
		goto out;
	if (p->n_dels > 0) {
		struct buf set = BUF_INIT;
		qsort(p->dels, p->n_dels, sizeof *p->dels, cmp_u32);
		imapc_uidset(&set, p->dels, p->n_dels);
		int r = p->n_mv == 0 ? select_next(run, c, ahead, false, error_r) : 0;
		if (r == 0)
			r = imap_client_delete(c, buf_cstr(&set), error_r);
		buf_free(&set);
		/* the links go with the bases' commit; until then a replay
		 * finds them gone upstream and drops them */
		if (r < 0)
			goto out;
	}
	/* 4. moves */
	if (p->n_mv > 0 &&
	    send_moves(run, c, p->links, p->mv, p->n_mv, ahead, &p->del_ops, error_r) < 0)
		goto out;
	if (p->n_dels > 0 || p->n_mv > 0 || p->n_gone > 0)
		log_info("fetch[%llu] upstream=%lld folder=%s two-way deleted_up=%zu moved_up=%zu deleted_here=%zu",
			 (unsigned long long)run->log_id, (long long)run->up->id, esc_str(folder),
			 p->n_dels, p->n_mv, p->n_gone);
	/* 6. and 7. flags */
	ret = sync_flags(run, c, folder, &p->mb, p->links, p->n_links, &p->up_uids, fresh,
			 p->partial, &p->del_ops, pre, next, error_r);
out:
	if (ret < 0 && p->del_ops.n > 0 && !fetch_commit_busy(run)) {
		/* what was sent before the failure, recorded when possible */
		const char *ignored;
		(void)op_commit(run, &p->del_ops, &ignored);
	}
	return ret;
}

int
fetch_twoway_folder(struct fetch_run *run, struct imap_client *c, const char *folder,
		    const struct imapc_mailbox *mb, unsigned fresh, struct fetch_twoway_pre *pre,
		    const char **error_r)
{
	struct fetch_twoway_plan *p = NULL;
	int ret = fetch_twoway_plan(run, c, folder, mb, pre, false, &p, error_r);
	if (ret == 0)
		ret = fetch_twoway_send(run, c, p, fresh, pre, NULL, error_r);
	fetch_twoway_plan_free(&p);
	return ret;
}

int
fetch_twoway_filter(struct fetch_run *run, const char *folder, uint32_t uidvalidity,
		    uint32_t *uids, size_t *n, uint32_t *skipped_max_r, const char **error_r)
{
	*skipped_max_r = 0;
	if (*n == 0)
		return 0;
	/* only the linked UIDs from the lowest new one: not every link of
	 * the folder */
	uint32_t from = UINT32_MAX;
	for (size_t i = 0; i < *n; i++)
		if (uids[i] < from)
			from = uids[i];
	uint32_t *linked = NULL;
	size_t k = 0;
	if (store_twoway_linked_uids(fetch_run_store(run), run->up->id, folder, uidvalidity,
				     from > 0 ? from : 1, &linked, &k, error_r) != STORE_OK)
		return -1;
	size_t out = 0;
	for (size_t i = 0; i < *n; i++) {
		if (uid_in(linked, k, uids[i])) {
			/* moved here by us (COPYUID): it is linked already */
			if (uids[i] > *skipped_max_r)
				*skipped_max_r = uids[i];
			continue;
		}
		uids[out++] = uids[i];
	}
	*n = out;
	free(linked);
	return 0;
}

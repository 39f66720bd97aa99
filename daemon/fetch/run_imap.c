/*
 * run_imap: fetching the configured folders of an IMAP account.
 *
 * Per folder: SELECT (delete mode) or EXAMINE (keep mode); UIDVALIDITY
 * compared with the one remembered (a change starts the folder again from
 * UID 1, skipping messages whose raw hash is known: nothing duplicated);
 * in delete mode first the leftovers of an earlier run (UIDs up to the last
 * one fetched, all durable here) are deleted; then UID SEARCH for UIDs
 * above the last one fetched, and UID FETCH of BODY.PEEK[] in batches, each
 * message delivered as its FETCH response completes, each batch deleted
 * upstream after its messages are committed here.
 */
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"
#include "imap/client.h"
#include "store/twoway.h"

/* the client's flag bits are the store's */
_Static_assert(IMAPC_FLAG_SEEN == STORE_FLAG_SEEN && IMAPC_FLAG_ANSWERED == STORE_FLAG_ANSWERED &&
		       IMAPC_FLAG_FLAGGED == STORE_FLAG_FLAGGED &&
		       IMAPC_FLAG_DELETED == STORE_FLAG_DELETED && IMAPC_FLAG_DRAFT == STORE_FLAG_DRAFT,
	       "flag bits");

struct imap_sink_ctx {
	struct fetch_sink sink;
	bool open;
};

static int
sink_begin(void *ctx, uint64_t size, const char **error_r)
{
	struct imap_sink_ctx *x = ctx;
	if (x->sink.run->max_size != 0 && size > x->sink.run->max_size) {
		*error_r = errfmt("a message of %llu bytes is larger than the limit of %llu bytes",
				  (unsigned long long)size,
				  (unsigned long long)x->sink.run->max_size);
		return -1;
	}
	if (fetch_sink_begin(&x->sink, "IMAP", error_r) < 0)
		return -1;
	x->open = true;
	return 0;
}

static int
sink_write(void *ctx, const void *p, size_t n, const char **error_r)
{
	struct imap_sink_ctx *x = ctx;
	return fetch_sink_write(&x->sink, p, n, error_r);
}

static int
sink_end(void *ctx, const struct imapc_message_meta *meta, const char **error_r)
{
	struct imap_sink_ctx *x = ctx;
	x->open = false;
	/* \\Deleted stays upstream: a message arriving deleted here would
	 * go with the next EXPUNGE of any client */
	unsigned flags = meta->flags & (IMAPC_FLAG_SEEN | IMAPC_FLAG_ANSWERED |
					IMAPC_FLAG_FLAGGED | IMAPC_FLAG_DRAFT);
	return fetch_sink_end(&x->sink, meta->uid, NULL, (int64_t)meta->internal_date, flags,
			      meta->keywords, meta->gm_msgid, error_r);
}

static void
sink_abort(void *ctx)
{
	struct imap_sink_ctx *x = ctx;
	x->open = false;
	fetch_sink_abort(&x->sink);
}

/* Waits for the batch in flight to be durable here; in delete mode then
 * deletes its UID set (empty: nothing in flight) upstream. */
static int
delete_committed(struct fetch_run *run, struct imap_client *c, const struct buf *set,
		 const char **error_r)
{
	if (fetch_flush_wait(run, NULL, error_r) < 0)
		return -1;
	if (run->up->set.keep || set->len == 0)
		return 0;
	return imap_client_delete(c, buf_cstr(set), error_r);
}

/* What the first half of a folder's pass (SELECT, the new messages into
 * run->batch) leaves for its second half (the two-way sync). */
struct folder_pass {
	const char *folder;
	struct imapc_mailbox mb;
	struct fetch_twoway_pre pre;
	uint32_t uidvalidity;
	bool refetch;
	bool deferred;		/* its messages are committed with the others' */
	int64_t mailbox_id;	/* run->mailbox_id for it */
	unsigned appended_before;
	unsigned long exists;
	struct fetch_twoway_plan *plan;	/* its two-way plan, made before it sends */
	bool unchanged;		/* found unchanged on both sides: no second half */
};

static int folder_fetch(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp,
			bool may_defer, const char **error_r);
static int folder_plan(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp,
		       bool grouped, const char **error_r);
static int folder_send(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp,
		       const char *next, const char **error_r);

void
fetch_pass_selected(struct fetch_run *run, const char *folder, const struct imapc_mailbox *mb)
{
	free(run->selected);
	run->selected = NULL;
	if (folder == NULL)
		return;
	run->selected = xstrdup(folder);
	free(run->pass_folder);
	run->pass_folder = xstrdup(folder);
	run->pass_uidvalidity = mb->uidvalidity;
}

int
fetch_pass_select(struct fetch_run *run, struct imap_client *c, const char **error_r)
{
	if (run->pass_folder == NULL)
		panic("fetch: a command for no folder's pass");
	if (run->selected != NULL && strcmp(run->selected, run->pass_folder) == 0)
		return 0;
	/* selected again for its commands; the merge is of what its first
	 * SELECT reported (a change meanwhile has a higher MODSEQ: the next
	 * sync) */
	struct imapc_mailbox now;
	free(run->selected);
	run->selected = NULL;
	if (imap_client_select_rw(c, run->pass_folder, &now, error_r) < 0)
		return -1;
	if (now.uidvalidity != run->pass_uidvalidity) {
		*error_r = "the folder's UIDVALIDITY changed during the sync";
		return -1;
	}
	run->selected = xstrdup(run->pass_folder);
	return 0;
}

/* Both halves of the second half: the plan and what it sends. */
static int
folder_finish(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp,
	      const char **error_r)
{
	int ret = folder_plan(run, c, fp, false, error_r);
	if (ret == 0)
		ret = folder_send(run, c, fp, NULL, error_r);
	fetch_twoway_plan_free(&fp->plan);
	return ret;
}

int
fetch_imap_folder(struct fetch_run *run, struct imap_client *c, const char *folder,
		  const char **error_r)
{
	struct folder_pass fp = { .folder = folder };
	int ret = folder_fetch(run, c, &fp, false, error_r);
	if (ret == 0)
		ret = folder_finish(run, c, &fp, error_r);
	fetch_twoway_pre_free(&fp.pre);
	return ret;
}

/*
 * The first half of a folder's pass: SELECT (two-way: with the folder's
 * UIDs and flag changes, client_sync.c), the UIDVALIDITY check, and the
 * new messages fetched into run->batch.  may_defer (two-way, a run over
 * several folders): a folder synced before (a MODSEQ recorded) leaves its
 * messages in run->batch, committed with those of the other folders
 * (fp->deferred; the caller flushes before the second halves); else they
 * are committed here.  Either way nothing of the folder is changed
 * upstream before its messages are durable here: the second half follows
 * the commit.
 */
static int
folder_fetch(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp,
	     bool may_defer, const char **error_r)
{
	const struct store_upstream *up = run->up;
	const char *folder = fp->folder;
	bool keep = up->set.keep, two_way = up->set.two_way;
	struct fetch_twoway_pre *pre = &fp->pre;
	/* the store is the run's again (a batch handed over by the folder
	 * before: its commit is waited for) */
	if (fetch_flush_wait(run, NULL, error_r) < 0)
		return -1;
	/* two-way changes flags and moves messages: read-write, CONDSTORE,
	 * and the folder's UIDs and flag changes asked for with the SELECT */
	if (two_way) {
		if (fetch_twoway_select(run, c, folder, &fp->mb, pre, error_r) < 0)
			return -1;
	} else if (imap_client_select(c, folder, keep, &fp->mb, error_r) < 0) {
		return -1;
	}
	fetch_pass_selected(run, folder, &fp->mb);
	struct imapc_mailbox mb = fp->mb;
	run->exists = mb.exists;
	if (up->set.mirror && fetch_folder_mailbox(run, folder, error_r) < 0)
		return -1;

	uint32_t uidvalidity = 0, last_uid = 0;
	bool refetch = false;
	int ret = store_upstream_folder_get(fetch_run_store(run), up->id, folder, &uidvalidity,
					    &last_uid, &refetch, error_r);
	if (ret == STORE_NOTFOUND || (ret == STORE_OK && uidvalidity != mb.uidvalidity)) {
		if (ret == STORE_OK) {
			/* RFC 3501 §2.3.1.1: the old UIDs mean nothing now */
			log_warning("fetch[%llu] upstream=%lld folder=%s uidvalidity changed old=%u new=%u: refetching with dedupe",
				    (unsigned long long)run->log_id, (long long)up->id,
				    esc_str(folder), uidvalidity, mb.uidvalidity);
			refetch = true;
		}
		last_uid = 0;
		/* before the new UIDVALIDITY is recorded: the links under the
		 * old one are found again by hash as the folder is refetched */
		if (two_way && ret == STORE_OK &&
		    store_twoway_folder_reset(fetch_run_store(run), up->id, folder, mb.uidvalidity,
					      error_r) != STORE_OK)
			return -1;
		if (store_upstream_folder_set(fetch_run_store(run), up->id, folder, mb.uidvalidity, 0,
					      refetch, error_r) != STORE_OK)
			return -1;
		uidvalidity = mb.uidvalidity;
		/* flags changed since a MODSEQ of the old UIDVALIDITY: asked
		 * again as before */
		pre->flags_read = false;
	} else if (ret != STORE_OK) {
		return -1;
	}
	fp->uidvalidity = uidvalidity;
	fp->refetch = refetch;
	/* deferred: a folder synced before, whose second half needs no count
	 * of what this pass added (sync_flags' first-sync shortcut) */
	fp->deferred = may_defer && two_way && pre->since != 0 && !refetch;
	if (!fp->deferred && (fetch_commit_busy(run) || store_upstream_batch_count(run->batch) > 0)) {
		/* the folders before, deferred: committed first, so that this
		 * folder's count of messages added is its own */
		if (fetch_flush(run, NULL, error_r) < 0)
			return -1;
	}
	fp->appended_before = run->appended;

	struct buf set = BUF_INIT;
	if (!keep && last_uid > 0 && mb.exists > 0) {
		/* a crash (or a failed delete) after the last run's commits */
		buf_printf(&set, "1:%u", last_uid);
		if (imap_client_delete(c, buf_cstr(&set), error_r) < 0)
			goto fail;
	}
	uint32_t *uids = NULL;
	size_t n = 0;
	bool nothing_new = mb.exists == 0 ||
			   (mb.uidnext != 0 && mb.uidnext <= last_uid + 1);
	if (!nothing_new && two_way && pre->present != NULL) {
		/* the new UIDs: those above the last one fetched, from the
		 * UID SEARCH ALL sent with the SELECT */
		uids = xcalloc(pre->n_present + 1, sizeof *uids);
		for (size_t i = 0; i < pre->n_present; i++)
			if (pre->present[i] > last_uid)
				uids[n++] = pre->present[i];
	} else if (!nothing_new && two_way && pre->qresync) {
		/* QRESYNC: asked with the SELECT from the last one fetched */
		uids = xcalloc(pre->n_fresh + 1, sizeof *uids);
		for (size_t i = 0; i < pre->n_fresh; i++)
			if (pre->fresh[i] > last_uid)
				uids[n++] = pre->fresh[i];
	} else if (!nothing_new &&
		   imap_client_search_from(c, last_uid + 1, &uids, &n, error_r) < 0) {
		goto fail;
	}
	uint32_t linked_max = 0;
	if (two_way && fetch_twoway_filter(run, folder, uidvalidity, uids, &n, &linked_max,
					   error_r) < 0) {
		free(uids);
		goto fail;
	}

	struct imap_sink_ctx x;
	fetch_sink_init(&x.sink, run);
	x.open = false;
	x.sink.folder = folder;
	x.sink.uidvalidity = uidvalidity;
	x.sink.refetch = refetch;
	struct imapc_fetch_sink sink = { sink_begin, sink_write, sink_end, sink_abort, &x };
	/* batch i arrives while batch i-1 is committed (commit.c); the UID
	 * set of the batch in flight is deleted once it is committed */
	struct buf prev = BUF_INIT;
	for (size_t i = 0; i < n; i += FETCH_IMAP_BATCH) {
		if (fetch_should_stop(run)) {
			*error_r = "stopped";
			goto fail_flush;
		}
		size_t k = n - i < FETCH_IMAP_BATCH ? n - i : FETCH_IMAP_BATCH;
		buf_reset(&set);
		imapc_uidset(&set, uids + i, k);
		if (imap_client_fetch(c, buf_cstr(&set), &sink, error_r) < 0) {
			if (x.open)
				fetch_sink_abort(&x.sink);
			goto fail_flush;
		}
		/* deferred (keep mode: nothing deleted): handed over once
		 * a batch's worth has gathered, over the folders */
		if (fp->deferred && store_upstream_batch_count(run->batch) < FETCH_IMAP_BATCH)
			continue;
		if (delete_committed(run, c, &prev, error_r) < 0 ||
		    fetch_flush_start(run, error_r) < 0)
			goto fail_uids;
		buf_reset(&prev);
		buf_append(&prev, set.data, set.len);
	}
	if (!fp->deferred && delete_committed(run, c, &prev, error_r) < 0)
		goto fail_uids;
	fetch_sink_clear(&x.sink);
	uint32_t uids_max = n > 0 ? uids[n - 1] : 0;
	free(uids);
	buf_free(&set);
	buf_free(&prev);
	/* two-way: every UID below the SELECT's UIDNEXT is here or was
	 * expunged, so the next STATUS finds the folder unchanged (an
	 * expunged last message would leave a gap that looks new) */
	if (two_way && (pre->present != NULL || pre->qresync) && mb.uidnext > 1 &&
	    mb.uidnext - 1 > linked_max &&
	    mb.uidnext - 1 > last_uid && (n == 0 || mb.uidnext - 1 > uids_max))
		linked_max = mb.uidnext - 1;
	/* everything new is here: what a move of ours brought is linked
	 * (two-way: recorded with the pass's last commit, twoway.c; a crash
	 * before it searches those UIDs again and skips them again) */
	if (two_way)
		pre->advance = linked_max;
	else if (linked_max > 0 &&
		 store_upstream_folder_advance(fetch_run_store(run), up->id, folder, linked_max,
					       error_r) != STORE_OK)
		return -1;
	fp->exists = run->exists;
	fp->mailbox_id = run->mailbox_id;
	return 0;
fail_flush:
	/* what arrived whole before the failure is kept (not deleted there) */
	{
		const char *flush_error;
		if (fetch_flush(run, NULL, &flush_error) < 0)
			log_error("fetch[%llu] upstream=%lld %s", (unsigned long long)run->log_id,
				  (long long)up->id, flush_error);
	}
fail_uids:
	fetch_sink_clear(&x.sink);
	free(uids);
	buf_free(&prev);
fail:
	buf_free(&set);
	return -1;
}

/* The second half of a folder's pass, its messages committed here, in
 * two steps: the plan of its two-way sync (twoway.c; grouped: in the
 * caller's store group, the folder maybe not selected), then what it sends
 * and what was made here going up (twoway_up.c). */
static int
folder_plan(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp, bool grouped,
	    const char **error_r)
{
	const struct store_upstream *up = run->up;
	const char *folder = fp->folder;
	bool two_way = up->set.two_way;
	uint32_t uidvalidity = fp->uidvalidity;
	if (two_way) {
		/* a whole pass is done: what was not found again by hash is
		 * not upstream any more (its local message stays) */
		unsigned dropped = 0;
		if (store_twoway_drop_unresolved(fetch_run_store(run), up->id, folder,
						 uidvalidity, &dropped, error_r) != STORE_OK)
			return -1;
		if (dropped > 0)
			log_warning("fetch[%llu] upstream=%lld folder=%s two-way unlinked=%u (not found upstream again; kept here)",
				    (unsigned long long)run->log_id, (long long)up->id,
				    esc_str(folder), dropped);
	}
	if (fp->refetch) {
		/* a whole pass is done: back to plain UIDs */
		uint32_t v, last;
		bool r;
		if (store_upstream_folder_get(fetch_run_store(run), up->id, folder, &v, &last, &r,
					      error_r) != STORE_OK ||
		    store_upstream_folder_set(fetch_run_store(run), up->id, folder, v, last, false,
					      error_r) != STORE_OK)
			return -1;
	}
	if (two_way && fetch_twoway_plan(run, c, folder, &fp->mb, &fp->pre, grouped, &fp->plan,
					 error_r) < 0)
		return -1;
	return 0;
}

static int
folder_send(struct fetch_run *run, struct imap_client *c, struct folder_pass *fp,
	    const char *next, const char **error_r)
{
	if (!run->up->set.two_way)
		return 0;
	/* deferred: the count of messages added is not this folder's alone
	 * (0: sync_flags takes none of them as fresh) */
	unsigned fresh = fp->deferred ? 0 : run->appended - fp->appended_before;
	if (fetch_twoway_send(run, c, fp->plan, fresh, &fp->pre, next, error_r) < 0)
		return -1;
	/* what was made here goes up last: a message of an APPEND cut short
	 * by a crash came down above and resolved its link by hash */
	return fetch_twoway_up_messages(run, c, fp->folder, &fp->mb, error_r);
}

bool
fetch_all_folders(const struct upstream_settings *set)
{
	return set->n_folders == 1 && strcmp(set->folders[0], "*") == 0;
}

/* Two-way, every folder at once: STATUS of all of them in one round trip
 * (pipelined); a folder unchanged upstream (same UIDVALIDITY, nothing
 * above the last UID fetched, the HIGHESTMODSEQ of its last sync, RFC
 * 7162 §3.1.6) and without changes here is not visited. */
struct status_pass {
	const char *const *folders;
	size_t n;
	struct imapc_status *st;	/* per folder; uidvalidity 0: none came */
};

static void
status_one(void *ctx, const char *folder, const struct imapc_status *st)
{
	struct status_pass *p = ctx;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->folders[i], folder) == 0)
			p->st[i] = *st;
}

/* Whether folder needs no pass now (its STATUS st). */
static int
folder_unchanged(struct fetch_run *run, const char *folder, const struct imapc_status *st,
		 bool *unchanged_r, const char **error_r)
{
	*unchanged_r = false;
	if (st->uidvalidity == 0 || st->uidnext == 0 || st->highestmodseq == 0)
		return 0;
	struct store *s = fetch_run_store(run);
	uint32_t uidvalidity, last_uid;
	bool refetch;
	uint64_t modseq;
	int r = store_upstream_folder_get(s, run->up->id, folder, &uidvalidity, &last_uid, &refetch,
					  error_r);
	if (r == STORE_NOTFOUND)
		return 0;
	if (r != STORE_OK || store_twoway_modseq_get(s, run->up->id, folder, &modseq, error_r) !=
				     STORE_OK)
		return -1;
	if (refetch || uidvalidity != st->uidvalidity || st->uidnext > last_uid + 1 ||
	    modseq != st->highestmodseq)
		return 0;
	bool pending;
	if (store_twoway_folder_pending(s, run->up->id, folder, run->up->set.mirror, &pending,
					error_r) != STORE_OK)
		return -1;
	*unchanged_r = !pending;
	return 0;
}

/*
 * Two-way with QRESYNC, the folders synced before: the first halves of
 * their passes at once.  Each folder's SELECT (QRESYNC) and the UID FETCH
 * of its new messages (from the last UID fetched + 1) are written
 * together, and every such folder's behind the one before
 * (imap_client_sync_many): one round trip for all of them instead of two
 * per folder, and no STATUS before (the SELECT says what it would: a
 * folder found unchanged on both sides has no second half).  The messages
 * gather in run->batch (deferred: committed with the others' before any
 * second half), as folder_fetch's deferred folders' do; a UID linked
 * already (a move of ours brought it, COPYUID) is dropped as it arrives,
 * and so are the last UID that "from:*" always matches (RFC 3501 §6.4.8)
 * and UIDs from the SELECT's UIDNEXT on (the next run's: the last UID
 * recorded is UIDNEXT - 1).  A folder whose UIDVALIDITY changed delivers
 * nothing here and goes through folder_fetch after.
 */
struct piped {
	struct imap_sink_ctx x;		/* first: the sink's ctx */
	struct fetch_run *run;
	struct folder_pass *fp;
	const struct imapc_sync_folder *sf;
	size_t folder_index;		/* in the run's folders */
	uint32_t last_uid;
	uint32_t *linked;		/* linked already from last_uid + 1 */
	size_t n_linked;
	uint32_t linked_max, uids_max;
	bool skip;			/* the message begun is not delivered */
	struct buf set;
};

/* Whether the folder is still the one whose UIDs the pass knows (its
 * SELECT's answer came before any of its FETCH's, RFC 3501 §5.5). */
static bool
piped_same(const struct piped *p)
{
	return p->sf->mb.uidvalidity == p->fp->uidvalidity && p->sf->mb.highestmodseq != 0;
}

static int
piped_begin(void *ctx, uint64_t size, const char **error_r)
{
	struct piped *p = ctx;
	p->skip = !piped_same(p);
	if (p->skip)
		return 0;
	p->run->mailbox_id = p->fp->mailbox_id;
	return sink_begin(&p->x, size, error_r);
}

static int
piped_write(void *ctx, const void *data, size_t n, const char **error_r)
{
	struct piped *p = ctx;
	return p->skip ? 0 : sink_write(&p->x, data, n, error_r);
}

static void
piped_abort(void *ctx)
{
	struct piped *p = ctx;
	if (!p->skip)
		sink_abort(&p->x);
}

static int
piped_end(void *ctx, const struct imapc_message_meta *meta, const char **error_r)
{
	struct piped *p = ctx;
	if (p->skip)
		return 0;
	bool linked = false;
	for (size_t i = 0; i < p->n_linked && !linked; i++)
		linked = p->linked[i] == meta->uid;
	uint32_t uidnext = p->sf->mb.uidnext;
	if (meta->uid <= p->last_uid || linked || (uidnext != 0 && meta->uid >= uidnext)) {
		sink_abort(&p->x);
		/* moved here by us: linked already (fetch_twoway_filter) */
		if (linked && meta->uid > p->linked_max)
			p->linked_max = meta->uid;
		return 0;
	}
	if (meta->uid > p->uids_max)
		p->uids_max = meta->uid;
	p->run->mailbox_id = p->fp->mailbox_id;
	return sink_end(&p->x, meta, error_r);
}

/* Whether folder can go in the pipeline, and if so fp and p made ready
 * for it. */
static int
piped_prepare(struct fetch_run *run, const char *folder, struct folder_pass *fp, struct piped *p,
	      struct imapc_sync_folder *sf, bool *ok_r, const char **error_r)
{
	struct store *s = fetch_run_store(run);
	*ok_r = false;
	uint32_t uidvalidity = 0, last_uid = 0;
	bool refetch = false;
	uint64_t since = 0;
	int r = store_upstream_folder_get(s, run->up->id, folder, &uidvalidity, &last_uid,
					  &refetch, error_r);
	if (r == STORE_NOTFOUND)
		return 0;
	if (r != STORE_OK ||
	    store_twoway_modseq_get(s, run->up->id, folder, &since, error_r) != STORE_OK)
		return -1;
	if (since == 0 || refetch || last_uid == UINT32_MAX || uidvalidity == 0)
		return 0;	/* folder_fetch's way */
	memset(fp, 0, sizeof *fp);
	memset(p, 0, sizeof *p);
	memset(sf, 0, sizeof *sf);
	fp->folder = folder;
	fp->uidvalidity = uidvalidity;
	fp->deferred = true;
	*ok_r = true;	/* from here on freed by the caller */
	fetch_sink_init(&p->x.sink, run);
	p->x.sink.folder = folder;
	p->x.sink.uidvalidity = uidvalidity;
	p->run = run;
	p->fp = fp;
	p->sf = sf;
	p->last_uid = last_uid;
	if (fetch_twoway_pre_begin(run, folder, &fp->pre, &sf->flags_fn, &sf->flags_ctx,
				   error_r) < 0)
		return -1;
	if (run->up->set.mirror && fetch_folder_mailbox(run, folder, error_r) < 0)
		return -1;
	fp->mailbox_id = run->mailbox_id;
	if (store_twoway_linked_uids(s, run->up->id, folder, uidvalidity, last_uid + 1, &p->linked,
				     &p->n_linked, error_r) != STORE_OK)
		return -1;
	buf_printf(&p->set, "%u:*", last_uid + 1);
	sf->uidset = buf_cstr(&p->set);
	sf->folder = folder;
	sf->uidvalidity = uidvalidity;
	sf->modseq = fp->pre.since;
	return 0;
}

/* After the pipeline: what folder_fetch leaves for the second half, or
 * *redo_r (its UIDVALIDITY changed: folder_fetch's way) or
 * fp->unchanged (nothing changed on either side: no second half). */
static int
piped_finish(struct fetch_run *run, struct piped *p, struct imapc_sync_folder *sf, bool *redo_r,
	     const char **error_r)
{
	struct folder_pass *fp = p->fp;
	/* the session's selected folder from here on (the last one's) */
	fetch_pass_selected(run, fp->folder, &sf->mb);
	*redo_r = !piped_same(p);
	if (*redo_r)
		return 0;
	fp->mb = sf->mb;
	if (fetch_twoway_pre_qresync(run, fp->folder, fp->uidvalidity, &fp->pre, &sf->mb,
				     &sf->vanished, sf->n_vanished, error_r) < 0)
		return -1;
	/* every UID below the SELECT's UIDNEXT is here, linked, or expunged
	 * (see folder_fetch) */
	uint32_t to = sf->mb.uidnext > 0 ? sf->mb.uidnext - 1 : 0;
	uint32_t advance = p->linked_max;
	if (to > advance && to > p->last_uid && to > p->uids_max)
		advance = to;
	fp->pre.advance = advance;
	fp->exists = sf->mb.exists;
	fp->appended_before = run->appended;
	if (p->uids_max == 0 && p->linked_max == 0) {
		const struct imapc_status st = { sf->mb.exists, sf->mb.uidnext, sf->mb.uidvalidity,
						 sf->mb.highestmodseq };
		if (folder_unchanged(run, fp->folder, &st, &fp->unchanged, error_r) < 0)
			return -1;
	}
	return 0;
}

static void
piped_free(struct piped *p, struct imapc_sync_folder *sf)
{
	if (p->x.open)
		fetch_sink_abort(&p->x.sink);
	fetch_sink_clear(&p->x.sink);
	free(p->linked);
	buf_free(&p->set);
	xfree(sf->vanished);
}

/* The pipeline over folders[0..n); the folders taken are marked in
 * piped_r[] and their passes appended to fps (a folder found changed
 * since: not taken, folder_fetch's way). */
static int
fetch_piped(struct fetch_run *run, struct imap_client *c, const char *const *folders, size_t n,
	    bool *piped_r, struct folder_pass *fps, size_t *n_fps_io, const char **error_r)
{
	struct piped *p = xcalloc(n + 1, sizeof *p);
	struct imapc_sync_folder *sf = xcalloc(n + 1, sizeof *sf);
	struct imapc_fetch_sink *sinks = xcalloc(n + 1, sizeof *sinks);
	size_t k = 0, first = *n_fps_io;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		bool ok;
		struct folder_pass *fp = &fps[*n_fps_io];
		ret = piped_prepare(run, folders[i], fp, &p[k], &sf[k], &ok, error_r);
		if (!ok && ret < 0 && fp->folder == NULL)
			fp->folder = folders[i];	/* noted with the error */
		if (ok || ret < 0) {
			p[k].folder_index = i;
			piped_r[i] = true;
			sinks[k] = (struct imapc_fetch_sink){ piped_begin, piped_write, piped_end,
							      piped_abort, &p[k] };
			sf[k].sink = &sinks[k];
			(*n_fps_io)++;
			k++;
		}
	}
	if (ret == 0 && k > 0)
		ret = imap_client_sync_many(c, sf, k, error_r);
	size_t out = first;
	for (size_t j = 0; j < k; j++) {
		bool redo = false;
		if (ret == 0)
			ret = piped_finish(run, &p[j], &sf[j], &redo, error_r);
		piped_free(&p[j], &sf[j]);
		if (redo) {
			/* its own pass after (a new UIDVALIDITY) */
			fetch_twoway_pre_free(&fps[first + j].pre);
			piped_r[p[j].folder_index] = false;
			continue;
		}
		if (out != first + j)
			fps[out] = fps[first + j];
		out++;
	}
	*n_fps_io = out;
	free(sinks);
	free(sf);
	free(p);
	return ret;
}

/* Notes how the pass of folder ended (the account's page); a stop at
 * shutdown is no error of the folder. */
static void
note_folder(struct fetch_run *run, const char *folder, const char *error)
{
	if (error != NULL && strcmp(error, "stopped") == 0)
		return;
	run->notes = xreallocarray(run->notes, run->n_notes + 1, sizeof *run->notes);
	run->notes[run->n_notes++] = (struct fetch_folder_note){
		.folder = xstrdup(folder),
		.messages = run->exists,
		.error = error != NULL ? xstrdup(error) : NULL,
	};
	run->exists = 0;
}

/* The folders' sends of a pass over several folders (fetch_lanes_send):
 * item k is fps[order[k]]; run is the session's own (the pass's or a
 * lane's), with nothing of it shared with the other sessions. */
struct send_job {
	struct folder_pass *fps;
	const size_t *order;
	const bool *sends;	/* per folder pass */
};

static int
send_one(void *ctx, struct fetch_run *run, struct imap_client *c, size_t item, size_t next,
	 const char **error_r)
{
	const struct send_job *j = ctx;
	struct folder_pass *fp = &j->fps[j->order[item]];
	run->mailbox_id = fp->mailbox_id;
	run->exists = fp->exists;
	/* its commands go to it: selected again only when it sends any
	 * (fetch_pass_select) */
	free(run->pass_folder);
	run->pass_folder = xstrdup(fp->folder);
	run->pass_uidvalidity = fp->mb.uidvalidity;
	/* the session's next folder, when it sends anything: its SELECT is
	 * written ahead (twoway.c) */
	const char *ahead = next != SIZE_MAX && j->sends[j->order[next]]
				    ? j->fps[j->order[next]].folder
				    : NULL;
	return folder_send(run, c, fp, ahead, error_r);
}

/* Opens the lanes (lanes.c) for the sends of up to n folders, as many as
 * have changes here to send (an upstream's change sends nothing back: a
 * pass after one that sent only finds its own changes there, and opens
 * none); they log in while the pass goes on. */
static void
lanes_open(struct fetch_run *run, struct imap_client *c, const char *password, size_t n)
{
	if (run->lanes == NULL || n < 2)
		return;
	int64_t pending = 0;
	const char *error;
	if (store_twoway_pending_folders(fetch_run_store(run), run->up->id, &pending, &error) !=
	    STORE_OK)
		log_warning("fetch[%llu] upstream=%lld %s", (unsigned long long)run->log_id,
			    (long long)run->up->id, error);
	if ((size_t)pending < n)
		n = (size_t)pending;
	unsigned want = fetch_lanes_want(FETCH_LANES_MAX - 1, n);
	if (imap_client_loopback(c))
		want = fetch_lanes_cap(want, sysconf(_SC_NPROCESSORS_ONLN));
	(void)fetch_lanes_open(run->lanes, run, password, want);
}

int
fetch_imap_account(struct fetch_run *run, const char *password,
		   struct imap_client **c_io, const char *only_folder,
		   const char **error_r)
{
	struct imap_client *c = c_io != NULL ? *c_io : NULL;
	if (c == NULL && imap_client_open(&run->up->set, password, &run->connect,
					  run->log_id, &c, error_r) < 0)
		return -1;
	int ret = 0;
	char **listed = NULL;
	size_t n_listed = 0;
	const char *const *folders = (const char *const *)run->up->set.folders;
	size_t n_folders = run->up->set.n_folders;
	/* two-way: QRESYNC where offered (RFC 7162 §3.2.3: before a SELECT
	 * may use it) */
	if (run->up->set.two_way && imap_client_enable_qresync(c, error_r) < 0)
		ret = -1;
	if (ret == 0 && only_folder == NULL && fetch_all_folders(&run->up->set)) {
		/* "*": every folder the server lists now, new ones included */
		ret = imap_client_list(c, &listed, &n_listed, error_r);
		/* two-way: the folders made, renamed, deleted here first */
		if (ret == 0)
			ret = fetch_twoway_up_folders(run, c, &listed, &n_listed, error_r);
		folders = (const char *const *)listed;
		n_folders = n_listed;
	}
	if (ret == 0 && only_folder != NULL) {
		ret = fetch_imap_folder(run, c, only_folder, error_r);
		note_folder(run, only_folder, ret == 0 ? NULL : *error_r);
	}
	struct status_pass sp = { folders, n_folders, NULL };
	/* two-way over several folders: the first halves of the changed
	 * folders' passes (their new messages gathered in run->batch), one
	 * commit, then the second halves; a folder not synced before goes
	 * through both halves at once (folder_fetch) */
	bool may_defer = ret == 0 && only_folder == NULL && run->up->set.two_way &&
			 n_folders > 1 && (imap_client_caps(c) & IMAPC_CAP_CONDSTORE) != 0;
	/* with QRESYNC the SELECTs of the pipeline (fetch_piped) say what
	 * STATUS would; else STATUS tells which folders changed */
	bool piping = may_defer && imap_client_qresync(c) && run->up->set.keep;
	/* the lanes log in while the first halves and the commit go on */
	if (may_defer)
		lanes_open(run, c, password, n_folders);
	if (may_defer && !piping) {
		sp.st = xcalloc(n_folders, sizeof *sp.st);
		ret = imap_client_status_many(c, folders, n_folders, status_one, &sp, error_r);
	}
	unsigned skipped = 0;
	if (may_defer && ret == 0) {
		/* a move left MOVING by a crash is settled by its source
		 * folder's second half (the link goes to the destination,
		 * UNRESOLVED, found there by hash): every folder's pass in
		 * turn then, as the destination's fetch must come after it */
		bool moving = false;
		ret = store_twoway_any_moving(fetch_run_store(run), run->up->id, &moving,
					      error_r) == STORE_OK ? 0 : -1;
		may_defer = !moving;
		piping = piping && may_defer;
	}
	struct folder_pass *fps = xcalloc(n_folders + 1, sizeof *fps);
	size_t n_fps = 0;
	bool *unchanged_v = xcalloc(n_folders + 1, sizeof *unchanged_v);
	bool *piped = xcalloc(n_folders + 1, sizeof *piped);
	for (size_t i = 0; sp.st != NULL && i < n_folders && ret == 0; i++)
		ret = folder_unchanged(run, folders[i], &sp.st[i], &unchanged_v[i], error_r);
	if (ret == 0 && piping)
		ret = fetch_piped(run, c, folders, n_folders, piped, fps, &n_fps, error_r);
	for (size_t i = 0; only_folder == NULL && i < n_folders && ret == 0; i++) {
		bool unchanged = unchanged_v[i];
		if (piped[i])
			continue;	/* its first half is done */
		if (unchanged) {
			run->exists = sp.st[i].messages;
			note_folder(run, folders[i], NULL);
			skipped++;
			continue;
		}
		struct folder_pass *fp = &fps[n_fps];
		memset(fp, 0, sizeof *fp);
		fp->folder = folders[i];
		ret = folder_fetch(run, c, fp, may_defer, error_r);
		if (ret == 0 && fp->deferred) {
			n_fps++;	/* its second half after the commit */
			continue;
		}
		if (ret == 0)
			ret = folder_finish(run, c, fp, error_r);
		fetch_twoway_pre_free(&fp->pre);
		note_folder(run, folders[i], ret == 0 ? NULL : *error_r);
	}
	if (n_fps > 0) {
		/* the deferred folders' messages, durable in one commit (on a
		 * failure above too: what arrived whole is kept) */
		const char *flush_error = NULL;
		int fr = fetch_flush(run, NULL, &flush_error);
		if (fr < 0 && ret == 0) {
			ret = -1;
			*error_r = flush_error;
		}
		/* then every folder's plan: their intentions and the
		 * upstream's expunges here in one durable commit, before any
		 * of them sends (one sync of the disk, not one per folder) */
		bool grouped = false, changed = false;
		for (size_t i = 0; i < n_fps; i++)
			changed = changed || !fps[i].unchanged;
		if (ret == 0 && changed) {
			ret = store_group_begin(fetch_run_store(run), error_r) == STORE_OK ? 0 : -1;
			grouped = ret == 0;
		}
		for (size_t i = 0; i < n_fps && ret == 0; i++) {
			if (fps[i].unchanged)
				continue;	/* no second half */
			run->mailbox_id = fps[i].mailbox_id;
			ret = folder_plan(run, c, &fps[i], true, error_r);
		}
		/* then the folders' sends, over the pass's session and the
		 * lanes (lanes.c), the heaviest first */
		bool *sends = xcalloc(n_fps + 1, sizeof *sends);
		size_t *order = xcalloc(n_fps + 1, sizeof *order), n_items = 0;
		for (size_t i = 0; i < n_fps; i++) {
			sends[i] = fetch_twoway_plan_sends(fps[i].plan);
			if (!fps[i].unchanged)
				order[n_items++] = i;
		}
		unsigned *weight = xcalloc(n_items + 1, sizeof *weight);
		for (size_t k = 0; k < n_items; k++)
			weight[k] = fetch_twoway_plan_weight(fps[order[k]].plan);
		size_t *by = xcalloc(n_items + 1, sizeof *by);
		(void)fetch_lanes_order(weight, n_items, by);
		for (size_t k = 0; k < n_items; k++)
			by[k] = order[by[k]];
		/* the first is the pass's own session's: its SELECT travels
		 * while the plans are made durable */
		if (ret == 0 && n_items > 0 && sends[by[0]] &&
		    (run->selected == NULL || strcmp(run->selected, fps[by[0]].folder) != 0)) {
			fetch_pass_selected(run, NULL, NULL);
			ret = imap_client_select_ahead(c, fps[by[0]].folder, true, error_r);
		}
		if (grouped && ret == 0)
			ret = store_group_end(fetch_run_store(run), error_r) == STORE_OK ? 0 : -1;
		else if (grouped)
			store_group_abort(fetch_run_store(run));
		struct send_job sj = { fps, by, sends };
		struct fetch_lane_job job = {
			.n = ret == 0 ? n_items : 0,
			.send = send_one,
			.ctx = &sj,
			.done = xcalloc(n_items + 1, sizeof *job.done),
			.errors = xcalloc(n_items + 1, sizeof *job.errors),
		};
		unsigned sessions = 1;
		if (fetch_lanes_send(run->lanes, run, c, &job, &sessions, error_r) < 0)
			ret = -1;
		if (sessions > 1)
			log_info("fetch[%llu] upstream=%lld two-way folders sent=%zu sessions=%u",
				 (unsigned long long)run->log_id, (long long)run->up->id, n_items,
				 sessions);
		/* how each folder's pass ended, in the folders' order */
		const char **result = xcalloc(n_fps + 1, sizeof *result);
		for (size_t i = 0; i < n_fps; i++)
			result[i] = ret == 0 || fps[i].unchanged ? NULL : *error_r;
		for (size_t k = 0; k < job.n; k++)
			result[by[k]] = job.done[k] ? NULL
				       : job.errors[k] != NULL ? job.errors[k] : result[by[k]];
		for (size_t i = 0; i < n_fps; i++) {
			struct folder_pass *fp = &fps[i];
			run->exists = fp->exists;
			skipped += fp->unchanged;
			fetch_twoway_plan_free(&fp->plan);
			fetch_twoway_pre_free(&fp->pre);
			note_folder(run, fp->folder, result[i]);
		}
		for (size_t k = 0; k < job.n; k++)
			free(job.errors[k]);
		free(job.errors);
		free(job.done);
		free(result);
		free(by);
		free(weight);
		free(order);
		free(sends);
	}
	fetch_lanes_join(run->lanes);
	if (ret < 0)
		fetch_lanes_close(run->lanes);
	free(fps);
	free(piped);
	free(unchanged_v);
	free(run->selected);
	free(run->pass_folder);
	run->selected = run->pass_folder = NULL;
	if (skipped > 0)
		log_info("fetch[%llu] upstream=%lld two-way folders unchanged on both sides=%u",
			 (unsigned long long)run->log_id, (long long)run->up->id, skipped);
	free(sp.st);
	imapc_names_free(&listed, n_listed);
	if (ret < 0 || c_io == NULL) {
		imap_client_free(&c);
		if (c_io != NULL)
			*c_io = NULL;
	} else {
		*c_io = c;
	}
	return ret;
}

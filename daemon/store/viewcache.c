/*
 * viewcache: shared views of big mailboxes (see viewcache.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/xmalloc.h"
#include "store/viewcache.h"

/* One view, immutable once made; freed by the last of the cache and the
 * readers copying it out. */
struct view {
	int64_t mailbox_id;
	uint32_t uidvalidity, uidnext, messages;
	uint64_t highestmodseq;
	struct imapdb_msg *msgs;
	size_t n;
	unsigned refs;
	uint64_t used;		/* the clock tick of its last use */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct view *slots[IMAP_VIEW_CACHE_SLOTS];
static uint64_t clock_tick;

static bool
same_state(const struct view *v, const struct store_mailbox *mb)
{
	return v->mailbox_id == mb->id && v->uidvalidity == mb->uidvalidity &&
	       v->uidnext == mb->uidnext && v->messages == mb->messages &&
	       v->highestmodseq == mb->highestmodseq;
}

/* Drops a reference; the caller holds the lock. */
static void
view_unref_locked(struct view *v)
{
	if (--v->refs > 0)
		return;
	imapdb_msg_list_free(&v->msgs, v->n);
	free(v);
}

static struct imapdb_msg *
copy_list(const struct imapdb_msg *list, size_t n)
{
	struct imapdb_msg *out = xreallocarray(NULL, n > 0 ? n : 1, sizeof *out);
	memcpy(out, list, n * sizeof *out);
	for (size_t i = 0; i < n; i++)
		if (out[i].keywords != NULL)
			out[i].keywords = xstrdup(out[i].keywords);
	return out;
}

bool
viewcache_get(const struct store_mailbox *mb, struct imapdb_msg **list_r,
	      size_t *n_r)
{
	struct view *v = NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < IMAP_VIEW_CACHE_SLOTS; i++) {
		if (slots[i] != NULL && same_state(slots[i], mb)) {
			v = slots[i];
			v->refs++;
			v->used = ++clock_tick;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	if (v == NULL)
		return false;
	*list_r = copy_list(v->msgs, v->n);
	*n_r = v->n;
	pthread_mutex_lock(&lock);
	view_unref_locked(v);
	pthread_mutex_unlock(&lock);
	return true;
}

void
viewcache_put(const struct store_mailbox *mb, const struct imapdb_msg *list,
	      size_t n)
{
	if (n < IMAP_VIEW_CACHE_MIN || n != mb->messages)
		return;
	struct view *v = xcalloc(1, sizeof *v);
	v->mailbox_id = mb->id;
	v->uidvalidity = mb->uidvalidity;
	v->uidnext = mb->uidnext;
	v->messages = mb->messages;
	v->highestmodseq = mb->highestmodseq;
	v->msgs = copy_list(list, n);
	v->n = n;
	v->refs = 1;
	pthread_mutex_lock(&lock);
	/* the mailbox's older view goes; else an empty slot, else the least
	 * recently used */
	size_t victim = IMAP_VIEW_CACHE_SLOTS;
	for (size_t i = 0; i < IMAP_VIEW_CACHE_SLOTS; i++) {
		if (slots[i] != NULL && slots[i]->mailbox_id == mb->id) {
			victim = i;
			break;
		}
		if (slots[i] == NULL) {
			if (victim == IMAP_VIEW_CACHE_SLOTS || slots[victim] != NULL)
				victim = i;
		} else if (victim == IMAP_VIEW_CACHE_SLOTS ||
			   (slots[victim] != NULL && slots[i]->used < slots[victim]->used)) {
			victim = i;
		}
	}
	struct view *old = slots[victim];
	v->used = ++clock_tick;
	slots[victim] = v;
	if (old != NULL)
		view_unref_locked(old);
	pthread_mutex_unlock(&lock);
}

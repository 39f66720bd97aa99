/*
 * cache: compiled scripts kept between deliveries (cache.h).
 */
#include <pthread.h>
#include <stdbool.h>

#include "core/xmalloc.h"
#include "sieve/cache.h"

#define BUCKETS 512	/* a power of two, above SIEVE_CACHE_ENTRIES */

struct sieve_cache_ref {
	int64_t id, version, user_id;
	size_t text_len;	/* of the text it was compiled from */
	struct sieve_script *script;
	unsigned refs;		/* runs using it, + 1 while cached */
	bool cached;
	struct sieve_cache_ref *prev, *next;	/* recency: head is newest */
	struct sieve_cache_ref *chain;		/* bucket; then the free list */
};

/* The cache's one owner: everything below is under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sieve_cache_ref *buckets[BUCKETS];
static struct sieve_cache_ref *head, *tail;
static size_t n_entries, text_bytes;
static uint64_t hits, misses;

static size_t
bucket_of(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 32) & (BUCKETS - 1);
}

static struct sieve_cache_ref *
find(int64_t id)
{
	for (struct sieve_cache_ref *e = buckets[bucket_of(id)]; e != NULL; e = e->chain)
		if (e->id == id)
			return e;
	return NULL;
}

static void
free_entry(struct sieve_cache_ref *e)
{
	sieve_script_free(&e->script);
	free(e);
}

static void
lru_unlink(struct sieve_cache_ref *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct sieve_cache_ref *e)
{
	e->prev = NULL;
	e->next = head;
	if (head != NULL)
		head->prev = e;
	head = e;
	if (tail == NULL)
		tail = e;
}

/* Takes e out of the cache; when no run holds it, it joins *dead (freed
 * by the caller once the lock is released). */
static void
drop(struct sieve_cache_ref *e, struct sieve_cache_ref **dead)
{
	struct sieve_cache_ref **p = &buckets[bucket_of(e->id)];
	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	e->chain = NULL;
	lru_unlink(e);
	e->cached = false;
	n_entries--;
	text_bytes -= e->text_len;
	if (--e->refs == 0) {
		e->chain = *dead;
		*dead = e;
	}
}

static void
free_dead(struct sieve_cache_ref *dead)
{
	while (dead != NULL) {
		struct sieve_cache_ref *next = dead->chain;
		free_entry(dead);
		dead = next;
	}
}

/* Under the lock: the entry for script id at version taken for a run, or
 * NULL (an entry of id at another version is dropped: its text changed). */
static struct sieve_cache_ref *
take(int64_t id, int64_t version, struct sieve_cache_ref **dead)
{
	struct sieve_cache_ref *e = find(id);
	if (e == NULL)
		return NULL;
	if (e->version != version) {
		drop(e, dead);
		return NULL;
	}
	lru_unlink(e);
	lru_push(e);
	e->refs++;
	return e;
}

/* The entry of id at version taken for a run, or NULL; counted as a hit,
 * and as a miss when count_miss. */
static struct sieve_cache_ref *
lookup(int64_t id, int64_t version, bool count_miss)
{
	struct sieve_cache_ref *dead = NULL;
	pthread_mutex_lock(&lock);
	struct sieve_cache_ref *e = take(id, version, &dead);
	if (e != NULL)
		hits++;
	else if (count_miss)
		misses++;
	pthread_mutex_unlock(&lock);
	free_dead(dead);
	return e;
}

int
sieve_cache_find(int64_t id, int64_t version, const struct sieve_script **script_r,
		 struct sieve_cache_ref **ref_r)
{
	/* a miss is counted by the sieve_cache_get() that follows */
	struct sieve_cache_ref *e = lookup(id, version, false);
	if (e == NULL)
		return -1;
	*script_r = e->script;
	*ref_r = e;
	return 0;
}

int
sieve_cache_get(int64_t id, int64_t version, int64_t user_id, const char *text, size_t len,
		const struct sieve_script **script_r, struct sieve_cache_ref **ref_r,
		struct buf *errors)
{
	struct sieve_cache_ref *dead = NULL;
	struct sieve_cache_ref *e = lookup(id, version, true);
	if (e != NULL) {
		*script_r = e->script;
		*ref_r = e;
		return 0;
	}

	/* compiled outside the lock: other users' deliveries go on */
	struct sieve_script *script;
	if (sieve_compile(text, len, &script, errors) < 0)
		return -1;
	struct sieve_cache_ref *mine = xcalloc(1, sizeof *mine);
	mine->id = id;
	mine->version = version;
	mine->user_id = user_id;
	mine->text_len = len;
	mine->script = script;

	pthread_mutex_lock(&lock);
	e = take(id, version, &dead);	/* another thread was quicker */
	if (e == NULL) {
		e = mine;
		mine = NULL;
		e->cached = true;
		e->refs = 2;
		size_t b = bucket_of(id);
		e->chain = buckets[b];
		buckets[b] = e;
		lru_push(e);
		n_entries++;
		text_bytes += len;
		while (tail != e &&
		       (n_entries > SIEVE_CACHE_ENTRIES || text_bytes > SIEVE_CACHE_TEXT_MAX))
			drop(tail, &dead);
	}
	pthread_mutex_unlock(&lock);
	free_dead(dead);
	if (mine != NULL)
		free_entry(mine);
	*script_r = e->script;
	*ref_r = e;
	return 0;
}

void
sieve_cache_release(struct sieve_cache_ref **ref)
{
	struct sieve_cache_ref *e = *ref;
	if (e == NULL)
		return;
	*ref = NULL;
	pthread_mutex_lock(&lock);
	bool last = --e->refs == 0;
	pthread_mutex_unlock(&lock);
	if (last) {
		e->chain = NULL;
		free_dead(e);
	}
}

void
sieve_cache_forget_user(int64_t user_id)
{
	struct sieve_cache_ref *dead = NULL;
	pthread_mutex_lock(&lock);
	for (struct sieve_cache_ref *e = head, *next; e != NULL; e = next) {
		next = e->next;
		if (e->user_id == user_id)
			drop(e, &dead);
	}
	pthread_mutex_unlock(&lock);
	free_dead(dead);
}

void
sieve_cache_clear(void)
{
	struct sieve_cache_ref *dead = NULL;
	pthread_mutex_lock(&lock);
	while (tail != NULL)
		drop(tail, &dead);
	pthread_mutex_unlock(&lock);
	free_dead(dead);
}

void
sieve_cache_stats(struct sieve_cache_stats *st)
{
	pthread_mutex_lock(&lock);
	st->entries = n_entries;
	st->text_bytes = text_bytes;
	st->hits = hits;
	st->misses = misses;
	pthread_mutex_unlock(&lock);
}

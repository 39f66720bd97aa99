/*
 * dns_cache: answers kept for their TTL, bounded, least recently used
 * first out (see dns_cache.h).
 *
 * A hash table of chains for the look-up and one doubly linked list in
 * order of use for the eviction; both under one mutex, held only for the
 * copy in or out (never across a query).
 */
#include "core/dns_cache.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/xmalloc.h"

struct entry {
	struct entry *next_hash;
	struct entry *prev_use, *next_use;	/* prev_use: more recent */
	char *name;				/* lowercase, no trailing dot */
	enum dns_type type;
	uint32_t hash;
	uint64_t expires;			/* monotonic seconds */
	size_t bytes;				/* what it counts against max_bytes */
	struct dns_answer ans;
};

struct dns_cache {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t n_buckets;
	struct entry *newest, *oldest;
	size_t count, bytes;
	size_t max_entries, max_bytes;
};

uint64_t
dns_cache_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct dns_cache *
dns_cache_new(size_t max_entries, size_t max_bytes)
{
	struct dns_cache *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	c->max_entries = max_entries > 0 ? max_entries : 1;
	c->max_bytes = max_bytes;
	/* about two entries per chain when full */
	c->n_buckets = c->max_entries / 2 + 1;
	c->buckets = xcalloc(c->n_buckets, sizeof *c->buckets);
	return c;
}

static void
entry_free(struct entry *e)
{
	free(e->name);
	dns_answer_free(&e->ans);
	free(e);
}

void
dns_cache_free(struct dns_cache **c)
{
	if (*c == NULL)
		return;
	struct entry *e = (*c)->newest;
	while (e != NULL) {
		struct entry *next = e->next_use;
		entry_free(e);
		e = next;
	}
	pthread_mutex_destroy(&(*c)->lock);
	free((*c)->buckets);
	xfree(*c);
}

/* FNV-1a over the type and the name. */
static uint32_t
key_hash(const char *name, enum dns_type type)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	h *= 16777619u;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

static void
use_unlink(struct dns_cache *c, struct entry *e)
{
	if (e->prev_use != NULL)
		e->prev_use->next_use = e->next_use;
	else
		c->newest = e->next_use;
	if (e->next_use != NULL)
		e->next_use->prev_use = e->prev_use;
	else
		c->oldest = e->prev_use;
	e->prev_use = e->next_use = NULL;
}

static void
use_push(struct dns_cache *c, struct entry *e)
{
	e->prev_use = NULL;
	e->next_use = c->newest;
	if (c->newest != NULL)
		c->newest->prev_use = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

static struct entry **
find_slot(struct dns_cache *c, const char *key, enum dns_type type, uint32_t h)
{
	struct entry **pp = &c->buckets[h % c->n_buckets];
	while (*pp != NULL) {
		struct entry *e = *pp;
		if (e->hash == h && e->type == type && strcmp(e->name, key) == 0)
			return pp;
		pp = &e->next_hash;
	}
	return pp;
}

/* Takes e out of the table and the use list and frees it. */
static void
remove_entry(struct dns_cache *c, struct entry *e)
{
	struct entry **pp = find_slot(c, e->name, e->type, e->hash);
	*pp = e->next_hash;
	use_unlink(c, e);
	c->count--;
	c->bytes -= e->bytes;
	entry_free(e);
}

bool
dns_cache_get(struct dns_cache *c, const char *name, enum dns_type type, uint64_t now,
	      struct dns_answer *ans_r)
{
	char *key = dns_name_canon(name, strlen(name));
	uint32_t h = key_hash(key, type);
	bool found = false;
	pthread_mutex_lock(&c->lock);
	struct entry *e = *find_slot(c, key, type, h);
	if (e != NULL && e->expires <= now) {
		remove_entry(c, e);
		e = NULL;
	}
	if (e != NULL) {
		use_unlink(c, e);
		use_push(c, e);
		dns_answer_copy(ans_r, &e->ans);
		ans_r->ttl = (uint32_t)(e->expires - now);
		for (size_t i = 0; i < ans_r->n; i++)
			if (ans_r->rr[i].ttl > ans_r->ttl)
				ans_r->rr[i].ttl = ans_r->ttl;
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	free(key);
	return found;
}

static size_t
answer_bytes(const struct dns_answer *ans, const char *key)
{
	size_t b = sizeof(struct entry) + strlen(key) + 1 + ans->n * sizeof(struct dns_rr);
	for (size_t i = 0; i < ans->n; i++)
		b += ans->rr[i].text_len + 1;
	return b;
}

void
dns_cache_put(struct dns_cache *c, const char *name, enum dns_type type, uint64_t now,
	      const struct dns_answer *ans)
{
	/* RFC 2308 §7: a server failure may be kept for at most five
	 * minutes; keeping it not at all is simpler and asks again */
	if (ans->status != DNS_OK && ans->status != DNS_NXDOMAIN && ans->status != DNS_NODATA)
		return;
	if (ans->ttl == 0)
		return;
	char *key = dns_name_canon(name, strlen(name));
	size_t bytes = answer_bytes(ans, key);
	if (c->max_bytes > 0 && bytes > c->max_bytes) {
		free(key);
		return;
	}
	struct entry *e = xcalloc(1, sizeof *e);
	e->name = key;
	e->type = type;
	e->hash = key_hash(key, type);
	e->expires = now + (ans->ttl < DNS_CACHE_TTL_MAX ? ans->ttl : DNS_CACHE_TTL_MAX);
	e->bytes = bytes;
	dns_answer_copy(&e->ans, ans);

	pthread_mutex_lock(&c->lock);
	struct entry *old = *find_slot(c, key, type, e->hash);
	if (old != NULL)
		remove_entry(c, old);
	while (c->oldest != NULL &&
	       (c->count >= c->max_entries ||
		(c->max_bytes > 0 && c->bytes + bytes > c->max_bytes)))
		remove_entry(c, c->oldest);
	*find_slot(c, key, type, e->hash) = e;
	use_push(c, e);
	c->count++;
	c->bytes += bytes;
	pthread_mutex_unlock(&c->lock);
}

size_t
dns_cache_count(struct dns_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

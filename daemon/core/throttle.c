#include "core/throttle.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* The first delay after a failure; each further failure doubles it. */
#define THROTTLE_DELAY_FIRST_MS 250u
/* Hash buckets: a power of two, about one per entry. */
#define THROTTLE_BUCKETS 16384u

/*
 * An address as a fixed key.  IPv6 addresses count by their /64: one host
 * usually holds a whole /64 and could otherwise step around the block by
 * changing its interface identifier.  IPv4-mapped IPv6 counts as IPv4.
 */
struct throttle_key {
	uint8_t family;		/* 4, 6, or 0 for text that is not an address */
	uint8_t bytes[16];
};

struct throttle_entry {
	struct throttle_key key;
	unsigned failures;	/* within the current window */
	time_t last_failure;
	time_t blocked_until;	/* 0: not blocked */
	struct throttle_entry *next_in_bucket;
	/* least recently touched first */
	struct throttle_entry *lru_prev, *lru_next;
};

static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct throttle_settings settings = { 10, 900, 8000 };
static struct throttle_entry *buckets[THROTTLE_BUCKETS];
static struct throttle_entry *lru_head, *lru_tail;
static size_t n_entries;
/* A random hash seed so that nobody can pick addresses that collide. */
static uint64_t hash_seed;
static bool seeded;

void
throttle_configure(const struct throttle_settings *s)
{
	pthread_mutex_lock(&throttle_lock);
	settings = *s;
	pthread_mutex_unlock(&throttle_lock);
}

static void
make_key(const char *ip, struct throttle_key *key)
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(key, 0, sizeof *key);
	if (ip == NULL)
		return;
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		key->family = 4;
		memcpy(key->bytes, &a4, 4);
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			key->family = 4;
			memcpy(key->bytes, &a6.s6_addr[12], 4);
		} else {
			key->family = 6;
			memcpy(key->bytes, a6.s6_addr, 8);
		}
	} else {
		/* not an address (a UNIX socket's "local"): its first 16 bytes */
		size_t n = strnlen(ip, sizeof key->bytes);
		memcpy(key->bytes, ip, n);
	}
}

static size_t
key_bucket(const struct throttle_key *key)
{
	/* FNV-1a over the seeded key */
	uint64_t h = 0xcbf29ce484222325ull ^ hash_seed;
	h = (h ^ key->family) * 0x100000001b3ull;
	for (size_t i = 0; i < sizeof key->bytes; i++)
		h = (h ^ key->bytes[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 32)) & (THROTTLE_BUCKETS - 1);
}

static bool
key_equal(const struct throttle_key *a, const struct throttle_key *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

static void
lru_unlink(struct throttle_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
lru_push_tail(struct throttle_entry *e)
{
	e->lru_prev = lru_tail;
	e->lru_next = NULL;
	if (lru_tail != NULL)
		lru_tail->lru_next = e;
	else
		lru_head = e;
	lru_tail = e;
}

static struct throttle_entry *
find(const struct throttle_key *key)
{
	for (struct throttle_entry *e = buckets[key_bucket(key)]; e != NULL; e = e->next_in_bucket) {
		if (key_equal(&e->key, key))
			return e;
	}
	return NULL;
}

static void
remove_entry(struct throttle_entry *e)
{
	struct throttle_entry **pp = &buckets[key_bucket(&e->key)];
	while (*pp != e) {
		if (*pp == NULL)
			panic("throttle: entry missing from its bucket");
		pp = &(*pp)->next_in_bucket;
	}
	*pp = e->next_in_bucket;
	lru_unlink(e);
	free(e);
	n_entries--;
}

static struct throttle_entry *
insert(const struct throttle_key *key)
{
	if (n_entries >= THROTTLE_MAX_ENTRIES)
		remove_entry(lru_head);
	struct throttle_entry *e = xcalloc(1, sizeof *e);
	size_t b = key_bucket(key);
	e->key = *key;
	e->next_in_bucket = buckets[b];
	buckets[b] = e;
	lru_push_tail(e);
	n_entries++;
	return e;
}

static void
seed_once(void)
{
	if (!seeded) {
		random_bytes(&hash_seed, sizeof hash_seed);
		seeded = true;
	}
}

/*
 * Drops e when its block is over or its last failure left the window;
 * returns e, or NULL when dropped.  Called under the lock.
 */
static struct throttle_entry *
expire(struct throttle_entry *e, time_t now)
{
	if (e == NULL)
		return NULL;
	if (e->blocked_until != 0 ? now >= e->blocked_until
				  : now - e->last_failure >= (time_t)settings.block_seconds) {
		remove_entry(e);
		return NULL;
	}
	return e;
}

bool
throttle_blocked_at(const char *ip, time_t now)
{
	struct throttle_key key;
	bool blocked;

	make_key(ip, &key);
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	struct throttle_entry *e = expire(find(&key), now);
	blocked = e != NULL && e->blocked_until != 0;
	pthread_mutex_unlock(&throttle_lock);
	return blocked;
}

static unsigned
delay_for(unsigned failures)
{
	unsigned d = THROTTLE_DELAY_FIRST_MS;

	for (unsigned i = 1; i < failures && d < settings.delay_max_ms && d <= UINT_MAX / 2; i++)
		d *= 2;
	return d < settings.delay_max_ms ? d : settings.delay_max_ms;
}

unsigned
throttle_failure_at(const char *ip, time_t now)
{
	struct throttle_key key;
	unsigned delay;

	make_key(ip, &key);
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	struct throttle_entry *e = expire(find(&key), now);
	if (e == NULL)
		e = insert(&key);
	/* a failure during a block (the caller checked the password anyway)
	 * neither extends the block nor counts: the block ends as announced */
	if (e->blocked_until == 0) {
		if (e->failures < UINT_MAX)
			e->failures++;
		e->last_failure = now;
		if (settings.block_after > 0 && e->failures >= settings.block_after) {
			e->blocked_until = now + (time_t)settings.block_seconds;
			/* block_seconds 0 still blocks for this second */
			if (e->blocked_until == now)
				e->blocked_until = now + 1;
		}
	}
	lru_unlink(e);
	lru_push_tail(e);
	delay = delay_for(e->failures);
	pthread_mutex_unlock(&throttle_lock);
	return delay;
}

void
throttle_success(const char *ip)
{
	struct throttle_key key;

	make_key(ip, &key);
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	struct throttle_entry *e = find(&key);
	if (e != NULL)
		remove_entry(e);
	pthread_mutex_unlock(&throttle_lock);
}

void
throttle_reset(void)
{
	pthread_mutex_lock(&throttle_lock);
	while (lru_head != NULL)
		remove_entry(lru_head);
	pthread_mutex_unlock(&throttle_lock);
}

size_t
throttle_count(void)
{
	pthread_mutex_lock(&throttle_lock);
	size_t n = n_entries;
	pthread_mutex_unlock(&throttle_lock);
	return n;
}

/* The throttle's clock: monotonic, so that setting the wall clock neither
 * lifts nor stretches a block. */
static time_t
throttle_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

bool
throttle_blocked(const char *ip)
{
	return throttle_blocked_at(ip, throttle_now());
}

unsigned
throttle_failure(const char *ip)
{
	return throttle_failure_at(ip, throttle_now());
}

#include "core/throttle.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* The first delay after a failure; each further failure doubles it. */
#define THROTTLE_DELAY_FIRST_MS 250u
/* Hash buckets: a power of two, about one per entry. */
#define THROTTLE_BUCKETS 16384u

/* Failures for one account from one address. */
struct throttle_account {
	uint64_t id;		/* keyed hash of the lowercased name */
	unsigned failures;
};

struct throttle_entry {
	struct throttle_key key;
	unsigned failures;	/* all accounts together, within the window */
	unsigned other;		/* failures for accounts beyond the slots */
	unsigned n_accounts;
	struct throttle_account accounts[THROTTLE_ACCOUNTS];
	unsigned in_flight;	/* checks begun and not ended */
	time_t last_failure;
	time_t blocked_until;	/* 0: not blocked */
	struct throttle_entry *next_in_bucket;
	/* least recently touched first */
	struct throttle_entry *lru_prev, *lru_next;
};

static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled whenever a check ends: logins waiting for their turn look again. */
static pthread_cond_t throttle_turn = PTHREAD_COND_INITIALIZER;
static struct throttle_settings settings = { 10, 900, 8000 };
static struct throttle_entry *buckets[THROTTLE_BUCKETS];
static struct throttle_entry *lru_head, *lru_tail;
static size_t n_entries;
/* A random seed so that nobody can pick addresses whose buckets collide,
 * or an account name that counts as another's. */
static uint64_t hash_seed;
static unsigned char account_seed[16];
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

/* Makes room by dropping the least recently touched entry that has no check
 * in flight (those are at most one per session thread, so the walk is
 * short); when every entry has one, the table grows past its bound. */
static void
make_room(void)
{
	for (struct throttle_entry *e = lru_head; e != NULL; e = e->lru_next) {
		if (e->in_flight == 0) {
			remove_entry(e);
			return;
		}
	}
}

static struct throttle_entry *
insert(const struct throttle_key *key)
{
	if (n_entries >= THROTTLE_MAX_ENTRIES)
		make_room();
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
touch(struct throttle_entry *e)
{
	lru_unlink(e);
	lru_push_tail(e);
}

static void
seed_once(void)
{
	if (!seeded) {
		random_bytes(&hash_seed, sizeof hash_seed);
		random_bytes(account_seed, sizeof account_seed);
		seeded = true;
	}
}

/* The account's id: the first 8 bytes of SHA-256(seed || lowercased name).
 * Keyed, so that no name can be chosen to share another's count. */
static uint64_t
account_id(const char *account)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char chunk[64];
	uint64_t id = 0;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatal("throttle: cannot start SHA-256");
	EVP_DigestUpdate(ctx, account_seed, sizeof account_seed);
	for (const char *p = account != NULL ? account : ""; *p != '\0';) {
		size_t n = 0;
		while (n < sizeof chunk && p[n] != '\0') {
			char c = p[n];
			chunk[n] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
			n++;
		}
		EVP_DigestUpdate(ctx, chunk, n);
		p += n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len < sizeof id)
		fatal("throttle: cannot finish SHA-256");
	EVP_MD_CTX_free(ctx);
	memcpy(&id, md, sizeof id);
	return id;
}

/* Forgets an entry's failures and block (a check may still be in flight). */
static void
clear_counts(struct throttle_entry *e)
{
	e->failures = 0;
	e->other = 0;
	e->n_accounts = 0;
	e->blocked_until = 0;
	e->last_failure = 0;
}

/* The entry's counts are over when its block ended or its last failure left
 * the window. */
static bool
stale(const struct throttle_entry *e, time_t now)
{
	if (e->blocked_until != 0)
		return now >= e->blocked_until;
	return e->failures == 0 || now - e->last_failure >= (time_t)settings.block_seconds;
}

/*
 * Drops e's counts when they are over: the whole entry when no check is in
 * flight; returns e, or NULL when dropped.  Called under the lock.
 */
static struct throttle_entry *
expire(struct throttle_entry *e, time_t now)
{
	if (e == NULL || !stale(e, now))
		return e;
	if (e->in_flight == 0) {
		remove_entry(e);
		return NULL;
	}
	clear_counts(e);
	return e;
}

/* The slot of an account, or NULL when it has none. */
static struct throttle_account *
account_slot(struct throttle_entry *e, uint64_t id)
{
	for (unsigned i = 0; i < e->n_accounts; i++) {
		if (e->accounts[i].id == id)
			return &e->accounts[i];
	}
	return NULL;
}

/* The failures counted against an account: its slot's, or the shared count
 * when the slots are full and it has none. */
static unsigned
account_failures(struct throttle_entry *e, uint64_t id)
{
	struct throttle_account *a = account_slot(e, id);
	if (a != NULL)
		return a->failures;
	return e->n_accounts == THROTTLE_ACCOUNTS ? e->other : 0;
}

/* Whether a check for account may start now (see the header comment). */
static bool
may_start(struct throttle_entry *e, uint64_t account)
{
	unsigned block_after = settings.block_after;

	/* the soft limit: after a failure, one check at a time */
	if (e->failures > 0 && e->in_flight > 0)
		return false;
	/* the checks in flight could all fail: they must not overshoot */
	if (block_after > 0 &&
	    (account_failures(e, account) + e->in_flight >= block_after ||
	     e->failures + e->in_flight >= THROTTLE_ADDRESS_FACTOR * block_after))
		return false;
	return true;
}

static unsigned
delay_for(unsigned failures)
{
	unsigned d = THROTTLE_DELAY_FIRST_MS;

	for (unsigned i = 1; i < failures && d < settings.delay_max_ms && d <= UINT_MAX / 2; i++)
		d *= 2;
	return d < settings.delay_max_ms ? d : settings.delay_max_ms;
}

static void
block(struct throttle_entry *e, time_t now)
{
	e->blocked_until = now + (time_t)settings.block_seconds;
	/* block_seconds 0 still blocks for this second */
	if (e->blocked_until == now)
		e->blocked_until = now + 1;
}

/* Counts one failure for account from e's address; returns the delay. */
static unsigned
count_failure(struct throttle_entry *e, uint64_t account, time_t now)
{
	/* a failure during a block (a check that began before it) neither
	 * extends the block nor counts: the block ends as announced */
	if (e->blocked_until == 0) {
		unsigned *n;
		struct throttle_account *a = account_slot(e, account);
		if (a == NULL && e->n_accounts < THROTTLE_ACCOUNTS) {
			a = &e->accounts[e->n_accounts++];
			a->id = account;
			a->failures = 0;
		}
		n = a != NULL ? &a->failures : &e->other;
		if (*n < UINT_MAX)
			(*n)++;
		if (e->failures < UINT_MAX)
			e->failures++;
		e->last_failure = now;
		unsigned block_after = settings.block_after;
		if (block_after > 0 &&
		    (*n >= block_after ||
		     e->failures >= THROTTLE_ADDRESS_FACTOR * block_after))
			block(e, now);
	}
	touch(e);
	return delay_for(e->failures);
}

/* Forgets account's failures from e's address after a right login. */
static void
count_success(struct throttle_entry *e, uint64_t account)
{
	struct throttle_account *a = account_slot(e, account);
	if (a == NULL)
		return;
	e->failures -= a->failures < e->failures ? a->failures : e->failures;
	*a = e->accounts[--e->n_accounts];
}

enum begin_result { BEGIN_GO, BEGIN_BLOCKED, BEGIN_WAIT };

/* One try to begin, under the lock. */
static enum begin_result
begin_locked(struct throttle_ticket *t, time_t now)
{
	struct throttle_entry *e = expire(find(&t->key), now);
	if (e != NULL && e->blocked_until != 0)
		return BEGIN_BLOCKED;
	if (e != NULL && !may_start(e, t->account))
		return BEGIN_WAIT;
	if (e == NULL)
		e = insert(&t->key);
	e->in_flight++;
	touch(e);
	t->running = true;
	return BEGIN_GO;
}

static void
ticket_init(struct throttle_ticket *t, const char *ip, const char *account)
{
	memset(t, 0, sizeof *t);
	make_key(ip, &t->key);
	t->account = account_id(account);
}

enum throttle_verdict
throttle_begin_at(struct throttle_ticket *t, const char *ip, const char *account,
		  time_t now)
{
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	ticket_init(t, ip, account);
	enum begin_result r = begin_locked(t, now);
	pthread_mutex_unlock(&throttle_lock);
	return r == BEGIN_GO ? THROTTLE_GO : r == BEGIN_BLOCKED ? THROTTLE_BLOCKED
								 : THROTTLE_BUSY;
}

unsigned
throttle_end_at(struct throttle_ticket *t, bool success, time_t now)
{
	unsigned delay = 0;

	if (!t->running)
		return 0;
	pthread_mutex_lock(&throttle_lock);
	t->running = false;
	/* the entry exists unless throttle_reset() ran meanwhile */
	struct throttle_entry *e = find(&t->key);
	if (e != NULL && e->in_flight > 0)
		e->in_flight--;
	if (e != NULL && stale(e, now))
		clear_counts(e);
	if (!success) {
		if (e == NULL)
			e = insert(&t->key);
		delay = count_failure(e, t->account, now);
	} else if (e != NULL) {
		count_success(e, t->account);
		if (e->failures == 0 && e->in_flight == 0 && e->blocked_until == 0)
			remove_entry(e);
	}
	pthread_cond_broadcast(&throttle_turn);
	pthread_mutex_unlock(&throttle_lock);
	return delay;
}

void
throttle_abandon(struct throttle_ticket *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&throttle_lock);
	t->running = false;
	struct throttle_entry *e = find(&t->key);
	if (e != NULL && e->in_flight > 0)
		e->in_flight--;
	if (e != NULL && e->failures == 0 && e->in_flight == 0 && e->blocked_until == 0)
		remove_entry(e);
	pthread_cond_broadcast(&throttle_turn);
	pthread_mutex_unlock(&throttle_lock);
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

/* A failure outside a ticket. */
static unsigned
failure_at(const char *ip, const char *account, time_t now)
{
	struct throttle_key key;

	make_key(ip, &key);
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	struct throttle_entry *e = expire(find(&key), now);
	if (e == NULL)
		e = insert(&key);
	unsigned delay = count_failure(e, account_id(account), now);
	pthread_mutex_unlock(&throttle_lock);
	return delay;
}

unsigned
throttle_failure_at(const char *ip, time_t now)
{
	return failure_at(ip, NULL, now);
}

void
throttle_account_success(const char *ip, const char *account)
{
	struct throttle_key key;

	make_key(ip, &key);
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	struct throttle_entry *e = find(&key);
	if (e != NULL) {
		count_success(e, account_id(account));
		if (e->failures == 0 && e->in_flight == 0 && e->blocked_until == 0)
			remove_entry(e);
	}
	pthread_mutex_unlock(&throttle_lock);
}

void
throttle_reset(void)
{
	pthread_mutex_lock(&throttle_lock);
	while (lru_head != NULL)
		remove_entry(lru_head);
	pthread_cond_broadcast(&throttle_turn);
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

enum throttle_verdict
throttle_begin(struct throttle_ticket *t, const char *ip, const char *account)
{
	struct timespec deadline;
	enum begin_result r;

	/* the wait's deadline is on the condition variable's clock (the
	 * real-time one); the throttle's own rules use the monotonic one */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += THROTTLE_WAIT_MS / 1000;
	deadline.tv_nsec += (long)(THROTTLE_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&throttle_lock);
	seed_once();
	ticket_init(t, ip, account);
	while ((r = begin_locked(t, throttle_now())) == BEGIN_WAIT) {
		if (pthread_cond_timedwait(&throttle_turn, &throttle_lock, &deadline) != 0)
			break;
	}
	pthread_mutex_unlock(&throttle_lock);
	return r == BEGIN_GO ? THROTTLE_GO : r == BEGIN_BLOCKED ? THROTTLE_BLOCKED
								 : THROTTLE_BUSY;
}

unsigned
throttle_end(struct throttle_ticket *t, bool success)
{
	return throttle_end_at(t, success, throttle_now());
}

bool
throttle_blocked(const char *ip)
{
	return throttle_blocked_at(ip, throttle_now());
}

unsigned
throttle_failure(const char *ip)
{
	return failure_at(ip, NULL, throttle_now());
}

unsigned
throttle_account_failure(const char *ip, const char *account)
{
	return failure_at(ip, account, throttle_now());
}

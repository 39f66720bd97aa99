/*
 * authcache: verified credentials, as HMACs under a key of this process
 * (see authcache.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/authcache.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define TAG_LEN 32

struct slot {
	unsigned char tag[TAG_LEN];
	int64_t expires;	/* monotonic seconds; 0: empty */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static unsigned char key[32];
static struct slot slots[AUTH_CACHE_SLOTS];

static void
key_init(void)
{
	random_bytes(key, sizeof key);
}

static int64_t
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* HMAC of the three strings, each with its NUL, so that no two different
 * triples give the same input. */
static void
make_tag(const char *address, const char *password, const char *stored_hash,
	 unsigned char tag[TAG_LEN])
{
	pthread_once(&key_once, key_init);
	size_t la = strlen(address) + 1, lp = strlen(password) + 1,
	       lh = strlen(stored_hash) + 1;
	size_t n = la + lp + lh;
	unsigned char *in = xmalloc(n);
	memcpy(in, address, la);
	memcpy(in + la, password, lp);
	memcpy(in + la + lp, stored_hash, lh);
	unsigned int out_len = 0;
	unsigned char *r = HMAC(EVP_sha256(), key, (int)sizeof key, in, n, tag,
				&out_len);
	explicit_bzero(in, n);
	free(in);
	if (r == NULL || out_len != TAG_LEN)
		fatal("authcache: HMAC-SHA-256 failed");
}

static struct slot *
slot_of(const unsigned char tag[TAG_LEN])
{
	uint32_t h;
	memcpy(&h, tag, sizeof h);
	return &slots[h % AUTH_CACHE_SLOTS];
}

bool
authcache_hit(const char *address, const char *password,
	      const char *stored_hash)
{
	if (address == NULL || password == NULL || stored_hash == NULL)
		return false;
	unsigned char tag[TAG_LEN];
	make_tag(address, password, stored_hash, tag);
	struct slot *sl = slot_of(tag);
	struct slot copy;
	pthread_mutex_lock(&lock);
	copy = *sl;
	pthread_mutex_unlock(&lock);
	bool hit = copy.expires > now_s() &&
		   mem_equal_ct(copy.tag, tag, TAG_LEN);
	explicit_bzero(tag, sizeof tag);
	return hit;
}

void
authcache_add(const char *address, const char *password,
	      const char *stored_hash)
{
	if (address == NULL || password == NULL || stored_hash == NULL)
		return;
	unsigned char tag[TAG_LEN];
	make_tag(address, password, stored_hash, tag);
	struct slot *sl = slot_of(tag);
	pthread_mutex_lock(&lock);
	memcpy(sl->tag, tag, TAG_LEN);
	sl->expires = now_s() + AUTH_CACHE_TTL;
	pthread_mutex_unlock(&lock);
	explicit_bzero(tag, sizeof tag);
}

void
authcache_forget_all(void)
{
	pthread_mutex_lock(&lock);
	explicit_bzero(slots, sizeof slots);
	pthread_mutex_unlock(&lock);
}

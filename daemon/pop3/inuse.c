/* The POP3 maildrop lock registry: see inuse.h. */
#include <pthread.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "pop3/inuse.h"

/* A small unordered set of user ids: there is one entry per logged-in POP3
 * session, so a linear scan is cheaper than any hash table would be. */
static pthread_mutex_t inuse_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t *inuse_ids;
static size_t inuse_n;
static size_t inuse_cap;

static size_t
find_locked(int64_t user_id)
{
	for (size_t i = 0; i < inuse_n; i++) {
		if (inuse_ids[i] == user_id)
			return i;
	}
	return SIZE_MAX;
}

bool
pop3_inuse_acquire(int64_t user_id)
{
	bool taken = false;

	pthread_mutex_lock(&inuse_lock);
	if (find_locked(user_id) == SIZE_MAX) {
		if (inuse_n == inuse_cap) {
			inuse_cap = inuse_cap == 0 ? 16 : inuse_cap * 2;
			inuse_ids = xreallocarray(inuse_ids, inuse_cap,
						  sizeof *inuse_ids);
		}
		inuse_ids[inuse_n++] = user_id;
		taken = true;
	}
	pthread_mutex_unlock(&inuse_lock);
	return taken;
}

void
pop3_inuse_release(int64_t user_id)
{
	pthread_mutex_lock(&inuse_lock);
	size_t i = find_locked(user_id);
	if (i == SIZE_MAX) {
		pthread_mutex_unlock(&inuse_lock);
		panic("pop3: releasing the maildrop lock of user %lld, not held",
		      (long long)user_id);
	}
	inuse_ids[i] = inuse_ids[--inuse_n];
	if (inuse_n == 0) {
		/* give the memory back once the last session is gone */
		xfree(inuse_ids);
		inuse_cap = 0;
	}
	pthread_mutex_unlock(&inuse_lock);
}

bool
pop3_inuse_held(int64_t user_id)
{
	pthread_mutex_lock(&inuse_lock);
	bool held = find_locked(user_id) != SIZE_MAX;
	pthread_mutex_unlock(&inuse_lock);
	return held;
}

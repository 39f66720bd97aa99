/*
 * push: how each fetched folder of each account is being watched right
 * now, for the account's page (GET /api/v1/upstreams/{id}/folders): IDLE
 * (RFC 2177) on a session of its own, NOTIFY (RFC 5465) on the account's
 * watching session, or nothing (the folder is polled on the account's
 * interval).  The account's IDLE thread (scheduler.c) and the watchers
 * (watch.c) say what they do as they start, change and end; this module
 * owns the table and its lock, and nothing is stored: it describes this
 * process's fetcher only.
 */
#include <pthread.h>
#include <string.h>

#include "core/xmalloc.h"
#include "fetch/fetch_int.h"

struct push_entry {
	int64_t id;
	char *folder;
	enum fetch_push mode;
};

static struct {
	pthread_mutex_t lock;
	struct push_entry *v;
	size_t n;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER };

const char *
fetch_push_name(enum fetch_push mode)
{
	switch (mode) {
	case FETCH_PUSH_IDLE:
		return "idle";
	case FETCH_PUSH_NOTIFY:
		return "notify";
	case FETCH_PUSH_POLL:
		break;
	}
	return "polling";
}

void
fetch_push_set(int64_t id, const char *folder, enum fetch_push mode)
{
	pthread_mutex_lock(&P.lock);
	size_t i = 0;
	while (i < P.n && !(P.v[i].id == id && strcmp(P.v[i].folder, folder) == 0))
		i++;
	if (mode == FETCH_PUSH_POLL) {
		/* polled: the default, nothing to keep */
		if (i < P.n) {
			free(P.v[i].folder);
			P.v[i] = P.v[--P.n];
		}
	} else if (i < P.n) {
		P.v[i].mode = mode;
	} else {
		P.v = xreallocarray(P.v, P.n + 1, sizeof *P.v);
		P.v[P.n++] = (struct push_entry){ id, xstrdup(folder), mode };
	}
	if (P.n == 0)
		xfree(P.v);
	pthread_mutex_unlock(&P.lock);
}

enum fetch_push
fetch_push_state(int64_t id, const char *folder)
{
	enum fetch_push mode = FETCH_PUSH_POLL;
	pthread_mutex_lock(&P.lock);
	for (size_t i = 0; i < P.n; i++) {
		if (P.v[i].id == id && strcmp(P.v[i].folder, folder) == 0) {
			mode = P.v[i].mode;
			break;
		}
	}
	pthread_mutex_unlock(&P.lock);
	return mode;
}

/*
 * notify: the process-wide registry of mailbox watches (IDLE, and sessions
 * that must see each other's changes).  Each watch is an eventfd; a commit
 * that changed a mailbox writes to the eventfd of every watch on it.  The
 * registry is this file's alone, behind its own mutex.  And the stamps by
 * which a waiting session notices another process's changes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

#define WATCH_BUCKETS 256

struct store_watch {
	int64_t mailbox_id;
	int fd;
	struct store_watch *next;
	struct store_watch **prevp;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_watch *watch_buckets[WATCH_BUCKETS];
/* store_mailbox_gen(): counts of notifications, by bucket (mailboxes that
 * share a bucket share a count: a look too many, never one too few) */
static _Atomic uint64_t bucket_gens[WATCH_BUCKETS];

static struct store_watch **
bucket(int64_t mailbox_id)
{
	return &watch_buckets[(uint64_t)mailbox_id % WATCH_BUCKETS];
}

struct store_watch *
store_watch_new(int64_t mailbox_id)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		log_error("store: cannot make an eventfd: %s", strerror(errno));
		return NULL;
	}
	struct store_watch *w = xmalloc(sizeof *w);
	w->mailbox_id = mailbox_id;
	w->fd = fd;
	pthread_mutex_lock(&watch_lock);
	struct store_watch **head = bucket(mailbox_id);
	w->next = *head;
	w->prevp = head;
	if (*head != NULL)
		(*head)->prevp = &w->next;
	*head = w;
	pthread_mutex_unlock(&watch_lock);
	return w;
}

int
store_watch_fd(const struct store_watch *w)
{
	return w->fd;
}

void
store_watch_drain(struct store_watch *w)
{
	uint64_t v;
	/* Non-blocking: nothing to read just means nothing happened. */
	while (read(w->fd, &v, sizeof v) < 0 && errno == EINTR)
		;
}

void
store_watch_free(struct store_watch **wp)
{
	struct store_watch *w = *wp;
	if (w == NULL)
		return;
	pthread_mutex_lock(&watch_lock);
	*w->prevp = w->next;
	if (w->next != NULL)
		w->next->prevp = w->prevp;
	pthread_mutex_unlock(&watch_lock);
	close(w->fd);
	free(w);
	*wp = NULL;
}

uint64_t
store_notify_mailbox(int64_t mailbox_id)
{
	static const uint64_t one = 1;

	uint64_t before = atomic_fetch_add_explicit(
		&bucket_gens[(uint64_t)mailbox_id % WATCH_BUCKETS], 1,
		memory_order_acq_rel);
	pthread_mutex_lock(&watch_lock);
	for (struct store_watch *w = *bucket(mailbox_id); w != NULL; w = w->next) {
		if (w->mailbox_id != mailbox_id)
			continue;
		/* EAGAIN: the counter is full, the watcher is woken anyway. */
		while (write(w->fd, &one, sizeof one) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&watch_lock);
	return before;
}

uint64_t
store_mailbox_gen(int64_t mailbox_id)
{
	return atomic_load_explicit(&bucket_gens[(uint64_t)mailbox_id % WATCH_BUCKETS],
				    memory_order_acquire);
}

/* Size and change time of data_dir/name; zeros when it is not there (the
 * log is removed when the last handle closes). */
static void
stamp_file(const char *data_dir, const char *name, int64_t *size_r,
	   int64_t *mtime_ns_r)
{
	char *path = xasprintf("%s/%s", data_dir, name);
	struct stat sb;

	if (stat(path, &sb) == 0) {
		*size_r = (int64_t)sb.st_size;
		*mtime_ns_r = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
			      sb.st_mtim.tv_nsec;
	} else {
		*size_r = 0;
		*mtime_ns_r = 0;
	}
	free(path);
}

void
store_stamp_read(const char *data_dir, struct store_stamp *stamp_r)
{
	stamp_file(data_dir, "mailhub.db", &stamp_r->db_size,
		   &stamp_r->db_mtime_ns);
	stamp_file(data_dir, "mailhub.db-wal", &stamp_r->wal_size,
		   &stamp_r->wal_mtime_ns);
}

bool
store_stamp_equal(const struct store_stamp *a, const struct store_stamp *b)
{
	return a->db_size == b->db_size && a->db_mtime_ns == b->db_mtime_ns &&
	       a->wal_size == b->wal_size && a->wal_mtime_ns == b->wal_mtime_ns;
}

/*
 * run_pop3: fetching a POP3 maildrop.
 *
 * UIDL lists the maildrop; UIDLs remembered but no longer listed are
 * forgotten (the server has removed those messages).  New messages are
 * retrieved (RETR pipelined when the server offers PIPELINING) and each is
 * committed locally before anything else happens to it.  In delete mode a
 * message is marked with DELE only after its commit, and messages already
 * fetched by an earlier run that died before QUIT are marked too; QUIT then
 * makes the server remove them (RFC 1939 §6).  A server without UIDL gets
 * every message fetched and deleted; the raw hash of each fetched message
 * keeps one fetched twice (after a crash before QUIT) from being delivered
 * twice.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "fetch/fetch_int.h"
#include "pop3/client.h"

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
pop3_write(void *ctx, const void *p, size_t n, const char **error_r)
{
	return fetch_sink_write(ctx, p, n, error_r);
}

/* Forgets remembered UIDLs the server no longer lists; *known_r the rest
 * (sorted, for bsearch). */
static int
sync_uidls(struct fetch_run *run, const struct pop3c_message *msgs, size_t n,
	   char ***known_r, size_t *n_known_r, const char **error_r)
{
	struct store *st = fetch_run_store(run);
	char **known = NULL;
	size_t n_known = 0;
	if (store_upstream_uidl_list(st, run->up->id, &known, &n_known, error_r) != STORE_OK)
		return -1;
	const char **listed = n > 0 ? xcalloc(n, sizeof *listed) : NULL;
	size_t n_listed = 0;
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].uidl != NULL)
			listed[n_listed++] = msgs[i].uidl;
	}
	if (n_listed > 0)
		qsort(listed, n_listed, sizeof *listed, cmp_str);
	const char **gone = n_known > 0 ? xcalloc(n_known, sizeof *gone) : NULL;
	size_t n_gone = 0;
	for (size_t i = 0; i < n_known; i++) {
		if (n_listed == 0 ||
		    bsearch(&known[i], listed, n_listed, sizeof *listed, cmp_str) == NULL)
			gone[n_gone++] = known[i];
	}
	int ret = store_upstream_uidl_forget(st, run->up->id, gone, n_gone, error_r);
	free(gone);
	free(listed);
	if (ret != STORE_OK) {
		store_upstream_uidls_free(&known, n_known);
		return -1;
	}
	if (n_known > 0)
		qsort(known, n_known, sizeof *known, cmp_str);
	*known_r = known;
	*n_known_r = n_known;
	return 0;
}

/* The messages to delete on the server, msgnos[0..n), of which the first
 * n_marked have had their DELE. */
struct dele_list {
	uint32_t *msgnos;
	size_t n, n_marked;
};

static int
send_all(struct pop3_client *c, int (*send)(struct pop3_client *, uint32_t),
	 const uint32_t *msgnos, size_t n, const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		if (send(c, msgnos[i]) < 0) {
			*error_r = "cannot send to the server";
			return -1;
		}
	}
	return 0;
}

static int
dele_read(struct pop3_client *c, size_t n, const char **error_r)
{
	for (size_t i = 0; i < n; i++) {
		if (pop3_client_status_read(c, "DELE failed", error_r) < 0)
			return -1;
	}
	return 0;
}

/* DELE for every one not marked yet, replies read after each window of
 * commands (one command at a time without PIPELINING). */
static int
dele_all(struct pop3_client *c, struct dele_list *d, bool pipelining, const char **error_r)
{
	size_t window = pipelining ? FETCH_POP3_BATCH : 1;
	while (d->n_marked < d->n) {
		size_t k = d->n - d->n_marked < window ? d->n - d->n_marked : window;
		if (send_all(c, pop3_client_dele_send, d->msgnos + d->n_marked, k, error_r) < 0 ||
		    dele_read(c, k, error_r) < 0)
			return -1;
		d->n_marked += k;
	}
	return 0;
}

static size_t
batch_len(size_t from, size_t n)
{
	return n - from < FETCH_POP3_BATCH ? n - from : FETCH_POP3_BATCH;
}

int
fetch_pop3_account(struct fetch_run *run, const char *password, const char **error_r)
{
	struct pop3_client *c = NULL;
	struct pop3c_message *msgs = NULL;
	size_t n = 0;
	char **known = NULL;
	size_t n_known = 0;
	uint32_t *new_msgnos = NULL;
	struct dele_list dele = { NULL, 0, 0 };
	size_t n_new = 0;
	const char **new_uidl = NULL;
	struct fetch_sink sink;
	int ret = -1;

	fetch_sink_init(&sink, run);
	if (pop3_client_open(&run->up->set, password, &run->connect, run->log_id, &c,
			     error_r) < 0)
		goto out;
	if (pop3_client_list(c, &msgs, &n, error_r) < 0)
		goto out;
	bool have_uidl = n == 0 || msgs[0].uidl != NULL;
	if (have_uidl && sync_uidls(run, msgs, n, &known, &n_known, error_r) < 0)
		goto out;
	bool delete = !run->up->set.keep || !have_uidl;
	new_msgnos = n > 0 ? xcalloc(n, sizeof *new_msgnos) : NULL;
	new_uidl = n > 0 ? xcalloc(n, sizeof *new_uidl) : NULL;
	dele.msgnos = n > 0 ? xcalloc(n, sizeof *dele.msgnos) : NULL;
	for (size_t i = 0; i < n; i++) {
		bool seen = msgs[i].uidl != NULL && n_known > 0 &&
			    bsearch(&msgs[i].uidl, known, n_known, sizeof *known,
				    cmp_str) != NULL;
		if (!seen) {
			new_uidl[n_new] = msgs[i].uidl;
			new_msgnos[n_new++] = msgs[i].msgno;
		} else if (delete) {
			dele.msgnos[dele.n++] = msgs[i].msgno;	/* durable here already */
		}
	}
	bool pipelining = (pop3_client_caps(c) & POP3C_CAP_PIPELINING) != 0;
	/* the leftovers of a run that died before QUIT, before any RETR */
	if (dele_all(c, &dele, pipelining, error_r) < 0)
		goto out;
	/*
	 * RFC 2449 §6.6: with PIPELINING the commands of a batch go out at
	 * once; without, one at a time.  Batch i arrives while batch i-1 is
	 * committed (commit.c).  Then batch i+1's RETR go out before the wait
	 * for that commit, so that the server works meanwhile, and batch
	 * i-1's DELE after it; their replies follow batch i+1's messages and
	 * are read after them.  The commands in flight stay far smaller than
	 * the socket's buffers, so neither side can block the other.
	 */
	if (pipelining && send_all(c, pop3_client_retr_send, new_msgnos, batch_len(0, n_new),
				   error_r) < 0)
		goto out;
	size_t prev = 0;	/* where the batch in flight starts in new_msgnos[] */
	size_t dele_sent = 0;	/* DELE replies still to read */
	for (size_t i = 0; i < n_new; i += FETCH_POP3_BATCH) {
		size_t k = batch_len(i, n_new);
		if (fetch_should_stop(run)) {
			*error_r = "stopped";
			goto out_flush;
		}
		for (size_t j = 0; j < k; j++) {
			if (!pipelining && pop3_client_retr_send(c, new_msgnos[i + j]) < 0) {
				*error_r = "cannot send to the server";
				goto out_flush;
			}
			if (fetch_sink_begin(&sink, "POP3", error_r) < 0)
				goto out_flush;
			if (pop3_client_retr_read(c, pop3_write, &sink, error_r) < 0 ||
			    fetch_sink_end(&sink, 0, new_uidl[i + j], 0, 0, NULL, 0, error_r) < 0) {
				fetch_sink_abort(&sink);
				goto out_flush;
			}
		}
		if (dele_read(c, dele_sent, error_r) < 0)
			goto out_flush;
		dele.n_marked += dele_sent;
		dele_sent = 0;
		if (pipelining && i + k < n_new &&
		    send_all(c, pop3_client_retr_send, new_msgnos + i + k, batch_len(i + k, n_new),
			     error_r) < 0)
			goto out_flush;
		/* durable here before any DELE */
		size_t delivered;
		if (fetch_flush_wait(run, &delivered, error_r) < 0)
			goto out;
		for (size_t j = 0; delete && j < delivered; j++)
			dele.msgnos[dele.n++] = new_msgnos[prev + j];
		if (pipelining) {
			dele_sent = dele.n - dele.n_marked;
			if (send_all(c, pop3_client_dele_send, dele.msgnos + dele.n_marked,
				     dele_sent, error_r) < 0)
				goto out;
		} else if (dele_all(c, &dele, pipelining, error_r) < 0) {
			goto out;
		}
		if (fetch_flush_start(run, error_r) < 0)
			goto out;
		prev = i;
	}
	/* the last batch */
	size_t delivered;
	if (fetch_flush_wait(run, &delivered, error_r) < 0)
		goto out;
	if (dele_read(c, dele_sent, error_r) < 0)
		goto out;
	dele.n_marked += dele_sent;
	for (size_t j = 0; delete && j < delivered; j++)
		dele.msgnos[dele.n++] = new_msgnos[prev + j];
	if (dele_all(c, &dele, pipelining, error_r) < 0)
		goto out;
	if (pop3_client_quit(c, error_r) < 0)
		goto out;
	ret = 0;
	goto out;
out_flush:
	/* what arrived whole before the failure is kept (not deleted there) */
	{
		const char *flush_error;
		if (fetch_flush(run, NULL, &flush_error) < 0)
			log_error("fetch[%llu] upstream=%lld %s", (unsigned long long)run->log_id,
				  (long long)run->up->id, flush_error);
	}
out:
	fetch_sink_clear(&sink);
	pop3_client_free(&c);
	pop3c_messages_free(&msgs, n);
	store_upstream_uidls_free(&known, n_known);
	free(new_msgnos);
	free(new_uidl);
	free(dele.msgnos);
	return ret;
}

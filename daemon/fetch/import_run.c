/*
 * fetch/import_run.c: what the sources of an import share (import.h):
 * the store's batch, the keys of what came in already, the counts, and
 * the reports of failures and progress through the run's callbacks.
 */
#include "fetch/import.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"
#include "store/store.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
import_error(struct import_run *r, const char *fmt, ...)
{
	struct buf text = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	if (r->on_error != NULL)
		r->on_error(r, buf_cstr(&text));
	buf_free(&text);
}

bool
import_stopping(const struct import_run *r)
{
	return r->stop != NULL && atomic_load(r->stop);
}

void
import_progress(struct import_run *r, bool force)
{
	if (r->on_progress == NULL)
		return;
	int64_t t = now_ms();
	if (!force && t - r->last_progress_ms < IMPORT_PROGRESS_MS)
		return;
	r->last_progress_ms = t;
	r->on_progress(r);
}

int
import_known(struct import_run *r, int64_t mailbox_id, const char *key)
{
	const char *error;
	if (r->known.loaded && r->known.mailbox_id == mailbox_id)
		return store_import_keys_has(&r->known, key) ? 1 : 0;
	int k = store_import_known(r->st, mailbox_id, key, &error);
	if (k < 0)
		import_error(r, "%s", error);
	return k;
}

int
import_commit(struct import_run *r)
{
	unsigned imported, skipped;
	const char *error;
	if (store_import_batch_count(r->batch) == 0)
		return 0;
	if (store_import_batch_commit(r->batch, &imported, &skipped, &error) != STORE_OK) {
		import_error(r, "%s", error);
		return -1;
	}
	r->imported += imported;
	r->skipped += skipped;
	return 0;
}

int
import_begin(struct import_run *r)
{
	const char *error;
	if (store_import_batch_begin(r->batch, &error) != STORE_OK) {
		import_error(r, "%s", error);
		return -1;
	}
	return 0;
}

int
import_write(struct import_run *r, const char *p, size_t n, bool *last_cr)
{
	const char *error;
	size_t start = 0;
	/* a bare LF gets its CR (RFC 5322 §2.1: lines end in CRLF) */
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		bool cr = i > 0 ? p[i - 1] == '\r' : *last_cr;
		if (cr)
			continue;
		if ((i > start && store_import_batch_write(r->batch, p + start, i - start,
							   &error) != STORE_OK) ||
		    store_import_batch_write(r->batch, "\r", 1, &error) != STORE_OK)
			goto fail;
		start = i;
	}
	if (n > start && store_import_batch_write(r->batch, p + start, n - start, &error) !=
				 STORE_OK)
		goto fail;
	if (n > 0)
		*last_cr = p[n - 1] == '\r';
	return 0;
fail:
	import_error(r, "%s", error);
	store_import_batch_abort_message(r->batch);
	return -1;
}

int
import_end(struct import_run *r, const struct store_import_msg *m)
{
	const char *error;
	if (store_import_batch_end(r->batch, m, &error) != STORE_OK) {
		import_error(r, "%s: %s", m->key, error);
		r->failed++;
		return 0;	/* that one is left out; the rest goes on */
	}
	unsigned max = r->batch_messages != 0 ? r->batch_messages : IMPORT_BATCH_MESSAGES;
	if (store_import_batch_count(r->batch) >= max)
		return import_commit(r);
	return 0;
}

int
import_message(struct import_run *r, const char *p, size_t n, const struct store_import_msg *m)
{
	bool last_cr = false;
	if (n > IMPORT_MESSAGE_MAX) {
		import_error(r, "%s: larger than %u bytes, left out", m->key,
			     (unsigned)IMPORT_MESSAGE_MAX);
		r->failed++;
		return 0;
	}
	if (import_begin(r) < 0 || import_write(r, p, n, &last_cr) < 0)
		return -1;
	return import_end(r, m);
}

int
import_folder_open(struct import_run *r, const char *name, uint32_t uidvalidity,
		   int64_t *mailbox_id_r)
{
	const char *error;
	if (store_import_mailbox(r->st, r->user_id, name, uidvalidity, mailbox_id_r, NULL,
				 &error) != STORE_OK) {
		import_error(r, "folder %s: %s", esc_str(name), error);
		return -1;
	}
	if (store_import_keys_load(r->st, *mailbox_id_r, &r->known, &error) != STORE_OK) {
		import_error(r, "folder %s: %s", esc_str(name), error);
		return -1;
	}
	r->folder = name;
	r->folder_done = 0;
	r->folder_total = 0;
	r->folders++;
	return 0;
}

void
import_run_clear(struct import_run *r)
{
	store_import_keys_clear(&r->known);
}

int
import_folder_done(struct import_run *r, int64_t mailbox_id, uint32_t next_uid)
{
	const char *error;
	if (import_commit(r) < 0)
		return -1;
	if (store_import_mailbox_done(r->st, mailbox_id, next_uid, &error) != STORE_OK) {
		import_error(r, "%s", error);
		return -1;
	}
	r->folders_done++;
	store_import_keys_clear(&r->known);
	import_progress(r, true);
	return 0;
}

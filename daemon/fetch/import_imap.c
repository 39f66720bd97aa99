/*
 * fetch/import_imap.c: an import from a remote IMAP account (`mailhub
 * import ADDRESS imap HOST[:PORT]`, and the panel's import job): every
 * folder of a remote IMAP account in one go: the folder tree (the server's
 * hierarchy delimiter becomes '/'), each message with its flags, keywords,
 * internal date and UID, and each folder's UIDVALIDITY and UIDNEXT.
 *
 * Folders are opened read-only (EXAMINE) and messages fetched with
 * BODY.PEEK[]: the old account is left exactly as it was.  Each message is
 * recorded under "imap:UIDVALIDITY:UID" in the transaction that adds it,
 * and a batch commits every IMPORT_IMAP_CHUNK messages, so an import cut
 * off at any point (even by SIGKILL) loses at most the batch under way and
 * resumes, when run again, with what is missing: nothing comes in twice.
 */
#include "fetch/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/client_conn.h"
#include "core/log.h"
#include "imap/client.h"
#include "core/xmalloc.h"
#include "store/store.h"

/* UIDs fetched per UID FETCH, and committed together. */
#define IMPORT_IMAP_CHUNK 250

struct imap_sink_ctx {
	struct import_run *r;
	int64_t mailbox_id;
	uint32_t uidvalidity;
	bool last_cr;
	bool begun;
	bool stopped;		/* the run was asked to stop */
};

static int
sink_begin(void *ctx, uint64_t size, const char **error_r)
{
	struct imap_sink_ctx *x = ctx;
	(void)size;
	x->last_cr = false;
	if (import_begin(x->r) < 0) {
		*error_r = "cannot start the message";
		return -1;
	}
	x->begun = true;
	return 0;
}

static int
sink_write(void *ctx, const void *p, size_t n, const char **error_r)
{
	struct imap_sink_ctx *x = ctx;
	if (import_write(x->r, p, n, &x->last_cr) < 0) {
		x->begun = false;
		*error_r = "cannot store the message";
		return -1;
	}
	return 0;
}

static int
sink_end(void *ctx, const struct imapc_message_meta *meta, const char **error_r)
{
	struct imap_sink_ctx *x = ctx;
	char key[48];
	snprintf(key, sizeof key, "imap:%u:%u", x->uidvalidity, meta->uid);
	x->begun = false;
	struct store_import_msg m = {
		.mailbox_id = x->mailbox_id,
		.uid = meta->uid,
		.flags = meta->flags,
		.keywords = meta->keywords,
		.internal_date = meta->internal_date != 0 ? meta->internal_date : time(NULL),
		.key = key,
	};
	x->r->folder_done++;
	if (import_end(x->r, &m) < 0) {
		*error_r = "cannot store the message";
		return -1;
	}
	import_progress(x->r, false);
	if (import_stopping(x->r)) {
		x->stopped = true;
		*error_r = "stopped";
		return -1;
	}
	return 0;
}

static void
sink_abort(void *ctx)
{
	struct imap_sink_ctx *x = ctx;
	if (x->begun)
		store_import_batch_abort_message(x->r->batch);
	x->begun = false;
}

/* The store's name of a folder: the server's delimiter made '/'. */
static char *
local_name(const char *folder, char delim)
{
	char *name = xstrdup(folder);
	if (delim != '\0' && delim != '/')
		for (char *p = name; *p != '\0'; p++)
			if (*p == delim)
				*p = '/';
	return name;
}

static int
import_folder(struct import_run *r, struct imap_client *c, const char *folder, char delim)
{
	struct imapc_mailbox mb;
	const char *error;
	uint32_t *uids = NULL;
	size_t n = 0;
	int ret = -1;
	char *name = local_name(folder, delim);
	struct imap_sink_ctx x = { .r = r };
	struct buf set = BUF_INIT;

	if (imap_client_select(c, folder, true, &mb, &error) < 0 ||
	    imap_client_search_from(c, 1, &uids, &n, &error) < 0) {
		import_error(r, "folder %s: %s", esc_str(folder), error);
		goto out;
	}
	if (import_folder_open(r, name, mb.uidvalidity, &x.mailbox_id) < 0)
		goto out;
	x.uidvalidity = mb.uidvalidity;
	r->folder_total = n;
	import_progress(r, true);
	/* what an earlier run brought in already is not fetched again */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char key[48];
		snprintf(key, sizeof key, "imap:%u:%u", mb.uidvalidity, uids[i]);
		int known = import_known(r, x.mailbox_id, key);
		if (known < 0)
			goto out;
		if (known > 0) {
			r->skipped++;
			r->folder_done++;
		} else {
			uids[k++] = uids[i];
		}
	}
	const struct imapc_fetch_sink sink = {
		.begin = sink_begin,
		.write = sink_write,
		.end = sink_end,
		.abort = sink_abort,
		.ctx = &x,
	};
	for (size_t i = 0; i < k; i += IMPORT_IMAP_CHUNK) {
		size_t m = k - i < IMPORT_IMAP_CHUNK ? k - i : IMPORT_IMAP_CHUNK;
		buf_reset(&set);
		imapc_uidset(&set, uids + i, m);
		if (imap_client_fetch(c, buf_cstr(&set), &sink, &error) < 0) {
			/* what came complete before the stop is kept */
			if (x.stopped || import_stopping(r)) {
				if (import_commit(r) == 0)
					import_error(r, "stopped");
			} else {
				import_error(r, "folder %s: %s", esc_str(folder), error);
			}
			goto out;
		}
		if (import_commit(r) < 0)
			goto out;
		if (import_stopping(r)) {
			import_error(r, "stopped");
			goto out;
		}
	}
	ret = import_folder_done(r, x.mailbox_id, mb.uidnext);
out:
	r->messages_before += n;
	r->folder_done = 0;
	r->folder_total = 0;
	free(uids);
	free(name);
	buf_free(&set);
	return ret;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether folder is one of wanted, a comma-separated list (NULL: all). */
static bool
folder_wanted(const char *wanted, const char *folder)
{
	if (wanted == NULL)
		return true;
	size_t len = strlen(folder);
	for (const char *p = wanted; *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t l = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (l == len && memcmp(p, folder, l) == 0)
			return true;
		p += l + (comma != NULL);
	}
	return false;
}

int
import_imap_run(struct import_run *r, const struct upstream_settings *set,
		const char *password, const struct client_conn_params *params,
		const char *wanted)
{
	struct imap_client *c = NULL;
	char **folders = NULL;
	size_t n = 0, k = 0;
	char delim;
	const char *error;
	int ret = -1;
	if (imap_client_open(set, password, params, 0, &c, &error) < 0 ||
	    imap_client_list_folders(c, &folders, &n, &delim, &error) < 0) {
		import_error(r, "%s", error);
		goto out;
	}
	qsort(folders, n, sizeof *folders, cmp_name);
	for (size_t i = 0; i < n; i++)
		if (folder_wanted(wanted, folders[i]))
			folders[k++] = folders[i];
		else
			free(folders[i]);
	n = k;
	/* the size of the whole, for the progress (EXAMINE is cheap) */
	r->folders_total = n;
	for (size_t i = 0; i < n && !import_stopping(r); i++) {
		struct imapc_mailbox mb;
		if (imap_client_select(c, folders[i], true, &mb, &error) < 0) {
			import_error(r, "folder %s: %s", esc_str(folders[i]), error);
			goto out;
		}
		r->messages_total += mb.exists;
	}
	import_progress(r, true);
	ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (import_stopping(r)) {
			import_error(r, "stopped");
			ret = -1;
			break;
		}
		ret = import_folder(r, c, folders[i], delim);
	}
out:
	imapc_names_free(&folders, n);
	imap_client_free(&c);
	return ret;
}

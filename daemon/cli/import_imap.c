/*
 * cli/import_imap.c: `mailhub import ADDRESS imap HOST[:PORT] ...`, every
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
#include "cli/cli.h"
#include "cli/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/client_conn.h"
#include "core/log.h"
#include "imap/client.h"
#include "store/store.h"
#include "store/upstreams.h"

/* UIDs fetched per UID FETCH, and committed together. */
#define IMPORT_IMAP_CHUNK 250

struct imap_sink_ctx {
	struct import_run *r;
	int64_t mailbox_id;
	uint32_t uidvalidity;
	bool last_cr;
	bool begun;
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
	import_progress(x->r, false);
	if (import_end(x->r, &m) < 0) {
		*error_r = "cannot store the message";
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
		cli_error("import: %s", error);
		goto out;
	}
	if (import_folder_open(r, name, mb.uidvalidity, &x.mailbox_id) < 0)
		goto out;
	x.uidvalidity = mb.uidvalidity;
	r->folder_total = n;
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
			cli_error("import: folder %s: %s", esc_str(folder), error);
			goto out;
		}
		if (import_commit(r) < 0)
			goto out;
	}
	ret = import_folder_done(r, x.mailbox_id, mb.uidnext);
out:
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

enum { O_USERNAME, O_PASSWORD, O_TLS, O_VERIFY, O_FOLDERS, O_QUIET, O_COUNT };

int
import_imap(struct import_run *r, int argc, char **argv)
{
	struct cli_option opts[O_COUNT] = {
		[O_USERNAME] = { .name = "--username", .takes_value = true },
		[O_PASSWORD] = { .name = "--password-stdin" },
		[O_TLS] = { .name = "--tls", .takes_value = true },
		[O_VERIFY] = { .name = "--tls-verify", .takes_value = true },
		[O_FOLDERS] = { .name = "--folders", .takes_value = true },
		[O_QUIET] = { .name = "--quiet" },
	};
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args("import", argc, argv, 3, opts, O_COUNT, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (opts[O_QUIET].seen)
		r->progress = false;
	if (n_pos != 1)
		return cli_usage_error("import: HOST[:PORT] of the IMAP server is missing");
	if (!opts[O_USERNAME].seen || !opts[O_PASSWORD].seen)
		return cli_usage_error("import: --username and --password-stdin are required "
				       "(passwords are never taken from the command line)");
	struct upstream_settings set = { 0 };
	set.protocol = UPSTREAM_IMAP;
	set.tls = UPSTREAM_TLS_IMPLICIT;
	set.keep = true;
	set.enabled = true;
	if (opts[O_TLS].seen && upstream_tls_parse(opts[O_TLS].value, &set.tls) < 0)
		return cli_usage_error("import: --tls must be implicit, starttls or none");
	/* HOST, HOST:PORT or [IPv6]:PORT */
	const char *hp = pos[0];
	const char *colon = strrchr(hp, ':');
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (close == NULL)
			return cli_usage_error("import: malformed address '%s'", esc_str(hp));
		set.host = xstrndup(hp + 1, (size_t)(close - hp - 1));
		colon = close[1] == ':' ? close + 1 : NULL;
	} else if (colon != NULL && strchr(hp, ':') == colon) {
		set.host = xstrndup(hp, (size_t)(colon - hp));
	} else {
		set.host = xstrdup(hp);
		colon = NULL;
	}
	if (colon != NULL) {
		char *end;
		long port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535) {
			upstream_settings_clear(&set);
			return cli_usage_error("import: the port must be 1-65535");
		}
		set.port = (unsigned)port;
	}
	set.username = xstrdup(opts[O_USERNAME].value);
	if (opts[O_VERIFY].seen)
		set.tls_verify = xstrdup(opts[O_VERIFY].value);
	const char *error;
	if (upstream_settings_check(&set, &error) < 0) {
		upstream_settings_clear(&set);
		return cli_usage_error("import: %s", error);
	}
	char *password;
	if (cli_read_password(&password) != CLI_OK) {
		upstream_settings_clear(&set);
		return -1;
	}
	/* the administrator names the server here: a host on the home network
	 * (the old mail server) is what is expected, not refused as the
	 * fetcher refuses one an ordinary user gives */
	const struct client_conn_params params = {
		.timeout_ms = 60000,
		.allow_private = true,
	};
	struct imap_client *c = NULL;
	ret = -1;
	if (imap_client_open(&set, password, &params, 0, &c, &error) < 0) {
		cli_error("import: %s", error);
		goto out;
	}
	char **folders = NULL;
	size_t n = 0;
	char delim;
	if (imap_client_list_folders(c, &folders, &n, &delim, &error) < 0) {
		cli_error("import: %s", error);
		goto out;
	}
	qsort(folders, n, sizeof *folders, cmp_name);
	ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (opts[O_FOLDERS].seen) {
			/* a comma-separated list of the server's names */
			bool wanted = false;
			const char *p = opts[O_FOLDERS].value;
			size_t len = strlen(folders[i]);
			while (*p != '\0' && !wanted) {
				const char *comma = strchr(p, ',');
				size_t l = comma != NULL ? (size_t)(comma - p) : strlen(p);
				wanted = l == len && memcmp(p, folders[i], l) == 0;
				p += l + (comma != NULL);
			}
			if (!wanted)
				continue;
		}
		ret = import_folder(r, c, folders[i], delim);
	}
	imapc_names_free(&folders, n);
out:
	imap_client_free(&c);
	cli_password_free(&password);
	upstream_settings_clear(&set);
	return ret;
}

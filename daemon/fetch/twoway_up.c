/*
 * twoway_up: two-way sync of what is made here (mirroring two-way
 * accounts): messages added to a mirrored folder (APPEND by a client, a
 * COPY or MOVE from a folder of no account) go up by APPEND, and folders
 * created, renamed and deleted here under the account's tree
 * (target/...) are created, renamed and deleted upstream.
 *
 * Messages, after a folder's pass (fetch of the new UIDs, then the
 * two-way sync of twoway.c):
 *   1. the folder's local messages that no link holds (store_twoway_
 *      unlinked: a message moved here from another folder of the account
 *      is not one of them; that folder's pass moves it upstream);
 *   2. an UPLOADING link each, committed before anything is sent;
 *   3. APPEND of the blob's bytes with the flags, keywords and date; the
 *      upstream UID from APPENDUID (RFC 4315), or where the server lacks
 *      UIDPLUS from UID SEARCH HEADER Message-ID over the UIDs from the
 *      folder's UIDNEXT; the links LIVE under that UID in one commit.
 * A crash between 2 and the last commit leaves UPLOADING links (uid 0):
 * the next pass fetches the folder's new UIDs first, and a message whose
 * raw hash is an UPLOADING link's blob resolves that link instead of
 * coming down as a copy (store_upstream_deliver_tx); links still
 * UPLOADING after that pass were never appended and are sent again, and
 * UPLOADING_GONE ones (deleted here meanwhile) are dropped.  The bytes
 * sent are the blob's, so the hash holds wherever the server keeps a
 * message's bytes as sent (IMAP servers do; a server that rewrote them
 * and had no UIDPLUS and the message no Message-ID would get it twice).
 *
 * Folders, at the start of a run over every folder ("*"), from what the
 * store says (upstream_folders.mailbox_id, sql/044) against LIST:
 *   - renamed here (its mailbox has another name under the tree):
 *     RENAME upstream when the old name is listed and the new one is not;
 *     only the new one listed: done before (a crash), recorded; both
 *     listed: the new name is taken upstream, so the local folder is
 *     renamed back and the run notes it (nothing merged silently);
 *   - deleted here (its mailbox is gone): the folder's links are all gone
 *     here, so its pass (twoway.c) deletes those messages upstream (or
 *     moves them where they were moved here); then, only when the folder
 *     is empty upstream, DELETE; a folder that still has messages this
 *     server never had (arrived meanwhile, or moved out of the account
 *     here) stays upstream and is fetched again into a new local folder:
 *     deleting a folder here never deletes mail it did not show here;
 *   - created here (a mailbox under the tree that no folder row names and
 *     LIST lacks): CREATE, then its pass appends its messages.
 * Each is decided from durable state and checked against LIST before it
 * is sent, so a crash anywhere is repaired by the next run deciding again.
 * Moved out of the tree here: nothing goes up (the folder comes back here
 * empty but for new mail; its messages stay where they were moved).
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/fetch_int.h"
#include "store/blob.h"
#include "store/imapdb.h"
#include "store/twoway.h"

#define UP_FLAGS (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT)

/* The message's Message-ID ("<...>", malloc'd) from its header, or NULL. */
static char *
message_id_of(const char *p, size_t len)
{
	static const char name[] = "message-id:";
	size_t nl = sizeof name - 1;
	for (size_t i = 0; i < len;) {
		size_t eol = i;
		while (eol < len && p[eol] != '\n')
			eol++;
		size_t line = eol - i;
		if (line == 0 || (line == 1 && p[i] == '\r'))
			return NULL;	/* end of the header */
		if (line > nl && mem_eq_nocase(p + i, name, nl)) {
			const char *lt = memchr(p + i + nl, '<', line - nl);
			const char *gt = lt != NULL ? memchr(lt, '>', (size_t)(p + eol - lt)) : NULL;
			if (gt != NULL && gt - lt < 990)
				return xstrndup(lt, (size_t)(gt - lt + 1));
			return NULL;
		}
		i = eol + 1;
	}
	return NULL;
}

int
fetch_twoway_up_messages(struct fetch_run *run, struct imap_client *c, const char *folder,
			 const struct imapc_mailbox *mb, const char **error_r)
{
	const struct store_upstream *up = run->up;
	if (!up->set.mirror)
		return 0;	/* one local folder for all: nothing here is the folder's */
	struct store *st = fetch_run_store(run);
	if (store_twoway_folder_mailbox(st, up->id, folder, run->mailbox_id, error_r) != STORE_OK ||
	    store_twoway_upload_gone(st, up->id, folder, error_r) != STORE_OK)
		return -1;
	struct twoway_local *list = NULL;
	size_t n = 0;
	if (store_twoway_unlinked(st, up->id, run->mailbox_id, &list, &n, error_r) != STORE_OK)
		return -1;
	if (n == 0)
		return 0;
	int ret = -1;
	struct twoway_op *ops = xcalloc(n, sizeof *ops);
	size_t n_ops = 0;
	unsigned sent = 0, by_search = 0;
	if (store_twoway_upload_begin(st, up->id, folder, mb->uidvalidity, list, n, UP_FLAGS,
				      error_r) != STORE_OK)
		goto out;
	struct buf data = BUF_INIT;
	buf_init(&data, run->max_size != 0 ? run->max_size : 0);
	for (size_t i = 0; i < n; i++) {
		struct twoway_local *m = &list[i];
		if (fetch_should_stop(run)) {
			*error_r = "stopped";
			break;
		}
		buf_reset(&data);
		if (blob_read(st, m->blob, &data, error_r) < 0) {
			/* its file is missing (fsck's to say): skip it, keep
			 * the link UPLOADING for the next pass */
			log_warning("fetch[%llu] upstream=%lld folder=%s cannot read a message to send up: %s",
				    (unsigned long long)run->log_id, (long long)up->id,
				    esc_str(folder), *error_r);
			continue;
		}
		uint32_t uv = 0, uid = 0;
		if (imap_client_append(c, folder, m->flags & UP_FLAGS, m->keywords,
				       (time_t)m->internal_date, data.data != NULL ? data.data : "",
				       data.len, &uv, &uid, error_r) < 0)
			break;
		sent++;
		if (uid == 0) {
			/* no UIDPLUS: the new message by its Message-ID among
			 * the UIDs given since the SELECT */
			char *mid = message_id_of(data.data != NULL ? data.data : "", data.len);
			uint32_t *found = NULL;
			size_t n_found = 0;
			if (mid != NULL && (fetch_pass_select(run, c, error_r) < 0 ||
					    imap_client_search_message_id(c, mb->uidnext, mid, &found,
									  &n_found, error_r) < 0)) {
				free(mid);
				break;
			}
			if (n_found > 0) {
				/* the last: an earlier one is another copy */
				uid = found[n_found - 1];
				uv = mb->uidvalidity;
				by_search++;
			}
			free(found);
			free(mid);
		}
		if (uid == 0 || uv != mb->uidvalidity)
			continue;	/* left UPLOADING: the next pass finds it by hash */
		struct twoway_op *op = &ops[n_ops++];
		op->kind = TWOWAY_OP_LOCATION;
		op->link_id = m->link_id;
		op->folder = folder;
		op->uidvalidity = uv;
		op->uid = uid;
		op->state = TWOWAY_LIVE;
	}
	buf_free(&data);
	{
		/* what was sent is recorded even when a later APPEND failed */
		const char *commit_error;
		int r = store_twoway_apply(st, ops, n_ops, &commit_error);
		if (r != STORE_OK && n_ops > 0)
			*error_r = commit_error;
		if (sent == n && r == STORE_OK)
			ret = 0;
		else if (sent < n && r == STORE_OK && fetch_should_stop(run))
			*error_r = "stopped";
	}
	if (sent > 0)
		log_info("fetch[%llu] upstream=%lld folder=%s two-way added_up=%u%s",
			 (unsigned long long)run->log_id, (long long)up->id, esc_str(folder), sent,
			 by_search > 0 ? " (found by Message-ID)" : "");
out:
	free(ops);
	store_twoway_unlinked_free(&list, n);
	return ret;
}

/* ---- folders ---------------------------------------------------------------- */

static bool
listed_has(char *const *listed, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(listed[i], name) == 0)
			return true;
	return false;
}

/* Renames from (and from/...) to to in the list. */
static void
listed_rename(char **listed, size_t n, const char *from, const char *to)
{
	size_t fl = strlen(from);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(listed[i], from, fl) != 0 || (listed[i][fl] != '\0' && listed[i][fl] != '/'))
			continue;
		char *name = xasprintf("%s%s", to, listed[i] + fl);
		free(listed[i]);
		listed[i] = name;
	}
}

static void
listed_drop(char **listed, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(listed[i], name) == 0) {
			free(listed[i]);
			memmove(&listed[i], &listed[i + 1], (*n - i - 1) * sizeof *listed);
			(*n)--;
			return;
		}
	}
}

/* A folder deleted here: its pass sends the deletions (or moves) of its
 * messages, then DELETE when nothing is left upstream.  *kept_r: the
 * folder stays upstream (fetched again from its first UID). */
static int
delete_folder(struct fetch_run *run, struct imap_client *c, const char *folder, bool *kept_r,
	      const char **error_r)
{
	*kept_r = true;
	struct imapc_mailbox mb;
	if (imap_client_select_rw(c, folder, &mb, error_r) < 0)
		return -1;
	fetch_pass_selected(run, folder, &mb);
	uint32_t uidvalidity = 0, last_uid = 0;
	bool refetch = false;
	int r = store_upstream_folder_get(fetch_run_store(run), run->up->id, folder, &uidvalidity,
					  &last_uid, &refetch, error_r);
	if (r != STORE_OK && r != STORE_NOTFOUND)
		return -1;
	if (r == STORE_OK && uidvalidity == mb.uidvalidity &&
	    fetch_twoway_folder(run, c, folder, &mb, 0, NULL, error_r) < 0)
		return -1;
	uint32_t *left = NULL;
	size_t n_left = 0;
	if (imap_client_search_all(c, &left, &n_left, error_r) < 0)
		return -1;
	free(left);
	if (n_left > 0) {
		/* never deletes what it did not show here: the folder comes
		 * back here with what it still has (known hashes skipped) */
		log_warning("fetch[%llu] upstream=%lld folder=%s deleted here but holds %zu messages upstream that were not here: kept, fetched again",
			    (unsigned long long)run->log_id, (long long)run->up->id,
			    esc_str(folder), n_left);
		if (store_twoway_folder_mailbox(fetch_run_store(run), run->up->id, folder, 0,
						error_r) != STORE_OK ||
		    store_upstream_folder_set(fetch_run_store(run), run->up->id, folder,
					      mb.uidvalidity, 0, true, error_r) != STORE_OK)
			return -1;
		return 0;
	}
	fetch_pass_selected(run, NULL, NULL);
	if (imap_client_unselect(c, error_r) < 0 || imap_client_delete_folder(c, folder, error_r) < 0)
		return -1;
	*kept_r = false;
	log_info("fetch[%llu] upstream=%lld folder=%s two-way deleted the folder upstream (deleted here)",
		 (unsigned long long)run->log_id, (long long)run->up->id, esc_str(folder));
	return store_twoway_folder_forget(fetch_run_store(run), run->up->id, folder, error_r) ==
			       STORE_OK
		       ? 0
		       : -1;
}

int
fetch_twoway_up_folders(struct fetch_run *run, struct imap_client *c, char ***listed_io,
			size_t *n_listed_io, const char **error_r)
{
	const struct store_upstream *up = run->up;
	if (!up->set.two_way || !up->set.mirror || !fetch_all_folders(&up->set))
		return 0;
	struct store *st = fetch_run_store(run);
	const char *target = up->set.target;
	size_t tl = strlen(target);
	struct twoway_folder *rows = NULL;
	size_t n_rows = 0;
	struct store_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	int ret = -1;
	if (store_twoway_folders(st, up->id, &rows, &n_rows, error_r) != STORE_OK)
		return -1;
	/* renames and deletions first, parents before their children */
	for (size_t i = 0; i < n_rows; i++) {
		struct twoway_folder *f = &rows[i];
		if (f->mailbox_id == 0)
			continue;	/* not synced since sql/044: nothing known */
		if (f->local_name == NULL) {
			if (!listed_has(*listed_io, *n_listed_io, f->folder)) {
				/* gone on both sides */
				if (store_twoway_folder_forget(st, up->id, f->folder, error_r) !=
				    STORE_OK)
					goto out;
				continue;
			}
			bool kept;
			if (delete_folder(run, c, f->folder, &kept, error_r) < 0)
				goto out;
			if (!kept)
				listed_drop(*listed_io, n_listed_io, f->folder);
			continue;
		}
		if (strncmp(f->local_name, target, tl) != 0 || f->local_name[tl] != '/')
			continue;	/* moved out of the account's tree */
		const char *now = f->local_name + tl + 1;
		if (strcmp(now, f->folder) == 0)
			continue;
		bool had = listed_has(*listed_io, *n_listed_io, f->folder);
		bool taken = listed_has(*listed_io, *n_listed_io, now);
		if (had && taken) {
			/* the new name is a folder upstream already: no merge
			 * behind the user's back; the old name comes back here */
			char *back = xasprintf("%s/%s", target, f->folder);
			int r = imapdb_mailbox_rename(st, up->user_id, f->local_name, back, error_r);
			log_warning("fetch[%llu] upstream=%lld folder=%s renamed here to %s, which exists upstream: %s",
				    (unsigned long long)run->log_id, (long long)up->id,
				    esc_str(f->folder), esc_str(now),
				    r == STORE_OK ? "renamed back here" : *error_r);
			free(back);
			continue;
		}
		if (!had && !taken) {
			log_warning("fetch[%llu] upstream=%lld folder=%s renamed here to %s, but it is gone upstream: not renamed there",
				    (unsigned long long)run->log_id, (long long)up->id,
				    esc_str(f->folder), esc_str(now));
			continue;
		}
		if (had && imap_client_rename(c, f->folder, now, error_r) < 0)
			goto out;
		log_info("fetch[%llu] upstream=%lld folder=%s two-way renamed upstream to %s",
			 (unsigned long long)run->log_id, (long long)up->id, esc_str(f->folder),
			 esc_str(now));
		char *from = xstrdup(f->folder);
		listed_rename(*listed_io, *n_listed_io, from, now);
		/* the rows below it were renamed there too (RFC 3501 §6.3.5) */
		int r = store_twoway_folder_renamed(st, up->id, from, now, error_r);
		free(from);
		if (r != STORE_OK)
			goto out;
	}
	/* creations: a mailbox under the tree that is no folder's */
	store_twoway_folders_free(&rows, n_rows);
	n_rows = 0;
	if (store_twoway_folders(st, up->id, &rows, &n_rows, error_r) != STORE_OK ||
	    store_mailbox_list(st, up->user_id, &mbs, &n_mbs, error_r) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n_mbs; i++) {
		const char *name = mbs[i].name;
		if (strncmp(name, target, tl) != 0 || name[tl] != '/' || name[tl + 1] == '\0')
			continue;
		const char *folder = name + tl + 1;
		bool known = false;
		for (size_t j = 0; j < n_rows && !known; j++)
			known = rows[j].mailbox_id == mbs[i].id || strcmp(rows[j].folder, folder) == 0;
		if (known || listed_has(*listed_io, *n_listed_io, folder))
			continue;
		if (imap_client_create(c, folder, error_r) < 0)
			goto out;
		log_info("fetch[%llu] upstream=%lld folder=%s two-way created upstream (created here)",
			 (unsigned long long)run->log_id, (long long)up->id, esc_str(folder));
		*listed_io = xreallocarray(*listed_io, *n_listed_io + 1, sizeof **listed_io);
		(*listed_io)[(*n_listed_io)++] = xstrdup(folder);
	}
	ret = 0;
out:
	store_mailbox_list_free(&mbs, n_mbs);
	store_twoway_folders_free(&rows, n_rows);
	return ret;
}

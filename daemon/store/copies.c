/*
 * copies: final delivery of one message to several local users when each
 * user's copy is its own blob (the SMTP server writes Return-Path,
 * X-Original-To and Delivered-To per user, RFC 5321 §4.4), into the folder
 * each copy asks for (a subaddress, RFC 5233; Junk for spam) or the INBOX,
 * in one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/blob.h"
#include "store/store_int.h"

/* The user's mailbox of that name (ASCII case ignored: a subaddress comes
 * lowercased, as addresses are; an exact match first).  (One query with
 * "OR name = 'INBOX'" loses the case-blind match to the (user_id, name)
 * index in SQLite 3.40, so the INBOX is a second query.) */
static const char SQL_MAILBOX[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1 AND name = ?2 COLLATE NOCASE"
	" ORDER BY name = ?2 DESC, id LIMIT 1";

static const char SQL_SPECIAL_USE[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1 AND special_use = ?2 ORDER BY id LIMIT 1";

/* The user's mailbox of a special use ("\\Junk"); one named for it
 * ("Junk") when none has the attribute; else a new one with it. */
int
store_special_mailbox_tx(struct store *st, int64_t user_id, const char *use, int64_t *id_r,
			 const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_SPECIAL_USE);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, use);
	int ret = stmt_ints(st, s, "cannot find the mailbox", id_r, 1, error_r);
	if (ret != STORE_NOTFOUND)
		return ret;
	s = store_stmt(st, SQL_MAILBOX);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, use + 1);
	ret = stmt_ints(st, s, "cannot find the mailbox", id_r, 1, error_r);
	if (ret != STORE_NOTFOUND)
		return ret;
	return store_mailbox_create_tx(st, user_id, use + 1, use, true, id_r, error_r);
}

int
store_copy_mailbox_tx(struct store *st, int64_t user_id, const char *name, bool create,
		      int64_t *id_r, const char **error_r)
{
	int ret = STORE_NOTFOUND;
	for (int pass = name != NULL ? 0 : 1; pass < 2 && ret == STORE_NOTFOUND; pass++) {
		sqlite3_stmt *s = store_stmt(st, SQL_MAILBOX);
		stmt_int(s, 1, user_id);
		stmt_text(s, 2, pass == 0 ? name : "INBOX");
		ret = stmt_ints(st, s, "cannot find the mailbox", id_r, 1, error_r);
		if (pass == 0 && ret == STORE_NOTFOUND && create) {
			const char *err;
			ret = store_mailbox_create_tx(st, user_id, name, NULL, true, id_r, &err);
			if (ret == STORE_OK || ret == STORE_ERROR || ret == STORE_NOSPACE) {
				if (ret != STORE_OK)
					*error_r = err;
				return ret;
			}
			/* an invalid name: the INBOX, as for no such folder */
			ret = STORE_NOTFOUND;
		}
	}
	if (ret != STORE_NOTFOUND)
		return ret;
	/* Every user is made with an INBOX; one lost by hand comes back. */
	return store_mailbox_create_tx(st, user_id, "INBOX", NULL, true, id_r, error_r);
}

void
store_copy_clear(struct store_copy *c)
{
	if (c == NULL)
		return;
	free(c->error);
	c->error = NULL;
}

int
store_deliver_copies(struct store *st, struct store_copy *copies, size_t n,
		     int64_t internal_date, const char **error_r)
{
	return store_deliver_copies_with(st, copies, n, internal_date, NULL, NULL, error_r);
}

int
store_deliver_copies_with(struct store *st, struct store_copy *copies, size_t n,
			  int64_t internal_date, store_tx_fn *also, void *also_arg,
			  const char **error_r)
{
	struct store_imap_cache *caches = xcalloc(n + 1, sizeof *caches);
	int ret = STORE_OK;

	for (size_t i = 0; i < n; i++) {
		copies[i].status = STORE_ERROR;
		copies[i].error = NULL;
		if (!is_lower_hex(copies[i].blob, SHA256_HEX_LEN) ||
		    copies[i].blob[SHA256_HEX_LEN] != '\0' || copies[i].size > INT64_MAX) {
			*error_r = errfmt("invalid blob name '%s'", esc_str(copies[i].blob));
			ret = STORE_INVALID;
			goto out;
		}
	}
	/* each blob parsed once for its IMAP cache, outside the transaction */
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < i && strcmp(copies[k].blob, copies[i].blob) != 0)
			k++;
		if (k < i)
			continue;
		/* a small one just placed is in the read cache (blob.h) */
		struct buf data = BUF_INIT;
		const char *err;
		if (copies[i].size <= BLOB_CACHE_ENTRY_MAX &&
		    blob_read_cached(st, copies[i].blob, &data, &err) == STORE_OK) {
			store_imap_cache_from(data.data != NULL ? data.data : "", data.len,
					      copies[i].blob, &caches[i]);
		} else {
			char *path = blob_path(st, copies[i].blob);
			store_imap_cache_compute(path, copies[i].blob, &caches[i]);
			free(path);
		}
		buf_free(&data);
	}
	/* light: the WAL synced by store_commit() outside SQLite's write
	 * lock, in a flush shared with the deliveries of the moment; the
	 * copies are durable when it returns all the same (the 250 follows) */
	if ((ret = store_begin_light(st, error_r)) < 0)
		goto out;
	ret = store_names_pending_tx(st, error_r);
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		struct store_copy *c = &copies[i];
		int64_t mailbox;
		size_t k = 0;
		while (k < i && strcmp(copies[k].blob, c->blob) != 0)
			k++;
		if (c->special_use != NULL && c->special_use[0] == '\\')
			ret = store_special_mailbox_tx(st, c->user_id, c->special_use, &mailbox, error_r);
		else
			ret = store_copy_mailbox_tx(st, c->user_id, c->mailbox, c->create, &mailbox, error_r);
		if (ret < 0)
			break;
		const char *err = NULL;
		st->append_cache = &caches[k];
		int r = store_append_tx(st, mailbox, c->blob, c->size, internal_date, c->flags,
					c->keywords,
					false, NULL, &err);
		st->append_cache = NULL;
		if (r != STORE_OK && r != STORE_OVERQUOTA) {
			*error_r = err;
			ret = r;
			break;
		}
		c->status = r;
		c->error = r == STORE_OK ? NULL : xstrdup(err);
	}
	if (ret == STORE_OK && also != NULL)
		ret = also(st, also_arg, error_r);
	ret = store_end(st, ret, error_r);
	if (ret != STORE_OK)
		store_name_pending_forget(st);	/* rolled back */
	else
		store_names_pending_recorded(st);
out:
	st->n_name_pending = 0;
	for (size_t i = 0; i < n; i++) {
		store_imap_cache_clear(&caches[i]);
		if (ret != STORE_OK) {
			store_copy_clear(&copies[i]);
			copies[i].status = ret;
		}
	}
	free(caches);
	return ret;
}

/*
 * client_sync: the IMAP client's commands for two-way sync (RFC 7162
 * CONDSTORE, RFC 4731 ESEARCH, RFC 6851 MOVE, RFC 4315 COPYUID) and for
 * NOTIFY (RFC 5465); see client.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "imap/client.h"
#include "imap/client_int.h"

int
imap_client_notify_set(struct imap_client *c, const char *const *folders, size_t n,
		       bool flags, const char **error_r)
{
	struct buf cmd = BUF_INIT;
	/* RFC 5465 §6: MessageNew and MessageExpunge go together */
	buf_puts(&cmd, "NOTIFY SET (mailboxes (");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&cmd, ' ');
		if (imapc_quote_folder(folders[i], &cmd, error_r) < 0) {
			buf_free(&cmd);
			return -1;
		}
	}
	buf_printf(&cmd, ") (MessageNew MessageExpunge%s))", flags ? " FlagChange" : "");
	struct cmd_ctx x = { 0 };
	int ret = 0;
	/* RFC 5465 §5.3 with RFC 7162: a flag change in a folder that is not
	 * selected is a STATUS with HIGHESTMODSEQ, once CONDSTORE is on */
	if (flags && (imap_client_caps(c) & IMAPC_CAP_CONDSTORE) != 0)
		ret = imapc_command(c, &x, "ENABLE failed", error_r, "ENABLE CONDSTORE");
	if (ret == 0)
		ret = imapc_command(c, &x, "NOTIFY failed", error_r, "%s", buf_cstr(&cmd));
	buf_free(&cmd);
	return ret;
}

int
imap_client_search_all(struct imap_client *c, uint32_t **uids_r, size_t *n_r,
		       const char **error_r)
{
	struct cmd_ctx x = { 0 };
	*uids_r = NULL;
	*n_r = 0;
	x.uids = uids_r;
	x.n_uids = n_r;
	/* RFC 4731 §3.1: ALL as a sequence set, "1:10000" rather than
	 * 10,000 numbers */
	x.esearch = (imap_client_caps(c) & IMAPC_CAP_ESEARCH) != 0;
	if (imapc_command(c, &x, "UID SEARCH failed", error_r, "%s",
			  x.esearch ? "UID SEARCH RETURN (ALL) ALL" : "UID SEARCH ALL") < 0) {
		xfree(*uids_r);
		*n_r = 0;
		return -1;
	}
	imapc_sort_unique(*uids_r, n_r);
	return 0;
}

int
imap_client_fetch_flags(struct imap_client *c, const char *uidset, uint64_t changedsince,
			imapc_flags_fn *fn, void *ctx, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	x.flags_fn = fn;
	x.flags_ctx = ctx;
	if (changedsince != 0)
		return imapc_command(c, &x, "UID FETCH FLAGS failed", error_r,
				     "UID FETCH %s (UID FLAGS) (CHANGEDSINCE %llu)", uidset,
				     (unsigned long long)changedsince);
	return imapc_command(c, &x, "UID FETCH FLAGS failed", error_r, "UID FETCH %s (UID FLAGS)",
			     uidset);
}

/* The command "UID STORE ..." of a change (malloc'd). */
static char *
store_command(const struct imapc_store *ch)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ IMAPC_FLAG_SEEN, "\\Seen" },	   { IMAPC_FLAG_ANSWERED, "\\Answered" },
		{ IMAPC_FLAG_FLAGGED, "\\Flagged" }, { IMAPC_FLAG_DELETED, "\\Deleted" },
		{ IMAPC_FLAG_DRAFT, "\\Draft" },
	};
	struct buf list = BUF_INIT;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if ((ch->flags & names[i].bit) != 0) {
			if (list.len > 0)
				buf_putc(&list, ' ');
			buf_puts(&list, names[i].name);
		}
	}
	if (ch->keywords != NULL && *ch->keywords != '\0') {
		if (list.len > 0)
			buf_putc(&list, ' ');
		buf_puts(&list, ch->keywords);
	}
	char *cmd = xasprintf("UID STORE %s %cFLAGS.SILENT (%s)", ch->uidset, ch->add ? '+' : '-',
			      buf_cstr(&list));
	buf_free(&list);
	return cmd;
}

int
imap_client_store_flags(struct imap_client *c, const char *uidset, bool add, unsigned flags,
			const char *keywords, const char **error_r)
{
	const struct imapc_store ch = { uidset, add, flags, keywords };
	return imap_client_store_many(c, &ch, 1, error_r);
}

int
imap_client_store_many(struct imap_client *c, const struct imapc_store *changes, size_t n,
		       const char **error_r)
{
	char **cmds = xcalloc(n + 1, sizeof *cmds);
	for (size_t i = 0; i < n; i++)
		cmds[i] = store_command(&changes[i]);
	/* .SILENT: no answers but the tagged ones; each sets flags of its
	 * own, so their order does not matter */
	int ret = imapc_pipeline(c, "cannot change flags upstream", cmds, n, error_r);
	for (size_t i = 0; i < n; i++)
		free(cmds[i]);
	free(cmds);
	return ret;
}

int
imap_client_move(struct imap_client *c, const char *uidset, const char *dest,
		 uint32_t *dst_uidvalidity_r, uint32_t **src_r, uint32_t **dst_r, size_t *n_r,
		 const char **error_r)
{
	*src_r = *dst_r = NULL;
	*n_r = 0;
	*dst_uidvalidity_r = 0;
	struct buf quoted = BUF_INIT;
	if (imapc_quote_folder(dest, &quoted, error_r) < 0)
		return -1;
	struct cmd_ctx x = { 0 };
	bool move = (imap_client_caps(c) & IMAPC_CAP_MOVE) != 0;
	/* without MOVE a SELECT written ahead goes behind the expunge */
	bool ahead = !move && imapc_ahead_hold(c);
	int ret = imapc_command(c, &x, "cannot move messages upstream", error_r, "UID %s %s %s",
				move ? "MOVE" : "COPY", uidset, buf_cstr(&quoted));
	buf_free(&quoted);
	if (!move)
		imapc_ahead_restore(c, ahead);
	if (ret < 0) {
		xfree(x.copy_src);
		xfree(x.copy_dst);
		return -1;
	}
	/* RFC 6851 §3.3: without MOVE, COPY and then expunge the originals */
	if (!move && imap_client_delete(c, uidset, error_r) < 0) {
		xfree(x.copy_src);
		xfree(x.copy_dst);
		return -1;
	}
	if (x.copyuid_seen) {
		*dst_uidvalidity_r = x.copy_uidvalidity;
		*src_r = x.copy_src;
		*dst_r = x.copy_dst;
		*n_r = x.copy_n;
	}
	return 0;
}

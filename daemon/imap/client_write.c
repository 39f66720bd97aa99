/*
 * client_write: the IMAP client's commands that create on the upstream,
 * for two-way sync of what was made here (fetch/twoway_up.c): APPEND with
 * RFC 4315 APPENDUID, the search by Message-ID where the server lacks it,
 * and CREATE, RENAME, DELETE of folders (RFC 3501 §6.3); see client.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xmalloc.h"
#include "imap/client.h"
#include "imap/client_int.h"

/* The flag list "(\Seen kw ...)" of flags and keywords, appended to out. */
static void
flag_list(struct buf *out, unsigned flags, const char *keywords)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ IMAPC_FLAG_SEEN, "\\Seen" },	   { IMAPC_FLAG_ANSWERED, "\\Answered" },
		{ IMAPC_FLAG_FLAGGED, "\\Flagged" }, { IMAPC_FLAG_DRAFT, "\\Draft" },
	};
	size_t start = out->len;
	buf_putc(out, '(');
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if ((flags & names[i].bit) != 0) {
			if (out->len > start + 1)
				buf_putc(out, ' ');
			buf_puts(out, names[i].name);
		}
	}
	if (keywords != NULL && *keywords != '\0') {
		if (out->len > start + 1)
			buf_putc(out, ' ');
		buf_puts(out, keywords);
	}
	buf_putc(out, ')');
}

int
imap_client_append(struct imap_client *c, const char *folder, unsigned flags,
		   const char *keywords, time_t internal_date, const void *data, size_t len,
		   uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r)
{
	*uidvalidity_r = *uid_r = 0;
	struct buf head = BUF_INIT;
	buf_puts(&head, "APPEND ");
	if (imapc_quote_folder(folder, &head, error_r) < 0) {
		buf_free(&head);
		return -1;
	}
	buf_putc(&head, ' ');
	flag_list(&head, flags, keywords);
	if (internal_date > 0) {
		/* RFC 3501 §9 date-time: "dd-Mon-yyyy hh:mm:ss +0000" */
		static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
						   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		struct tm tm;
		if (gmtime_r(&internal_date, &tm) != NULL)
			buf_printf(&head, " \"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
				   mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
				   tm.tm_sec);
	}
	struct cmd_ctx x = { 0 };
	int ret = imapc_command_literal(c, &x, "cannot add a message upstream", error_r,
					buf_cstr(&head), data, len);
	buf_free(&head);
	if (ret == 0 && x.appenduid_seen) {
		*uidvalidity_r = x.append_uidvalidity;
		*uid_r = x.append_uid;
	}
	return ret;
}

int
imap_client_search_message_id(struct imap_client *c, uint32_t from, const char *message_id,
			      uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	/* a quoted string: no quote, backslash or line end in it */
	if (strpbrk(message_id, "\"\\\r\n") != NULL || strlen(message_id) > 998) {
		*error_r = "the Message-ID cannot be searched for";
		return -1;
	}
	struct cmd_ctx x = { 0 };
	x.uids = uids_r;
	x.n_uids = n_r;
	int ret = imapc_command(c, &x, "UID SEARCH failed", error_r,
				"UID SEARCH UID %u:* HEADER Message-ID \"%s\"", from != 0 ? from : 1,
				message_id);
	if (ret < 0) {
		xfree(*uids_r);
		*n_r = 0;
	}
	return ret;
}

/* CREATE, DELETE (one folder) or RENAME (two). */
static int
folder_command(struct imap_client *c, const char *verb, const char *what, const char *a,
	       const char *b, const char **error_r)
{
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "%s ", verb);
	int ret = imapc_quote_folder(a, &cmd, error_r);
	if (ret == 0 && b != NULL) {
		buf_putc(&cmd, ' ');
		ret = imapc_quote_folder(b, &cmd, error_r);
	}
	struct cmd_ctx x = { 0 };
	if (ret == 0)
		ret = imapc_command(c, &x, what, error_r, "%s", buf_cstr(&cmd));
	buf_free(&cmd);
	return ret;
}

int
imap_client_create(struct imap_client *c, const char *folder, const char **error_r)
{
	return folder_command(c, "CREATE", "cannot create the folder upstream", folder, NULL,
			      error_r);
}

int
imap_client_rename(struct imap_client *c, const char *from, const char *to,
		   const char **error_r)
{
	return folder_command(c, "RENAME", "cannot rename the folder upstream", from, to, error_r);
}

int
imap_client_delete_folder(struct imap_client *c, const char *folder, const char **error_r)
{
	return folder_command(c, "DELETE", "cannot delete the folder upstream", folder, NULL,
			      error_r);
}

int
imap_client_unselect(struct imap_client *c, const char **error_r)
{
	struct cmd_ctx x = { 0 };
	/* RFC 3501 §6.4.2 CLOSE expunges \Deleted messages: none are left by
	 * the callers, who expunge what they delete (RFC 3691 UNSELECT is
	 * not everywhere) */
	return imapc_command(c, &x, "CLOSE failed", error_r, "CLOSE");
}

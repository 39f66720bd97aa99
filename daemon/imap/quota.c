/*
 * quota: GETQUOTAROOT and GETQUOTA (RFC 9208).  A user has one quota root,
 * "", holding all their mailboxes: the STORAGE resource is the user's
 * quota in the store (users.quota, `mailhub user add --quota`), counted in
 * units of 1024 bytes as §5.1 says; the MESSAGE resource (§5.2) is the
 * user's message limit (users.quota_messages, `mailhub user add
 * --quota-messages`).  Either makes the root.  There is no SETQUOTA: the quota is
 * the administrator's to set.  Going over it is refused with OVERQUOTA
 * where the store says so (append.c, store.c).
 */
#include <string.h>

#include "core/buf.h"
#include "imap/imap.h"
#include "store/imapsync.h"

/* Writes "* QUOTA "" (STORAGE used limit MESSAGE used limit)", each
 * resource that has a limit. */
static void
write_quota(struct imap_session *s, const struct imapsync_usage *u)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "* QUOTA \"\" (");
	/* §5.1: STORAGE in units of 1024 octets, rounded up */
	if (u->bytes_limit > 0)
		buf_printf(&b, "STORAGE %llu %llu",
			   (unsigned long long)((u->bytes + 1023) / 1024),
			   (unsigned long long)(u->bytes_limit / 1024));
	if (u->messages_limit > 0)
		buf_printf(&b, "%sMESSAGE %llu %llu", u->bytes_limit > 0 ? " " : "",
			   (unsigned long long)u->messages,
			   (unsigned long long)u->messages_limit);
	buf_puts(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

static bool
has_quota(const struct imapsync_usage *u)
{
	return u->bytes_limit > 0 || u->messages_limit > 0;
}

static int
usage(struct imap_session *s, struct imapsync_usage *u)
{
	const char *err;
	if (imapsync_user_usage(s->st, s->user_id, u, &err) != STORE_OK) {
		imap_no(s, "[SERVERBUG] %s", err);
		return -1;
	}
	return 0;
}

void
imap_cmd_getquotaroot(struct imap_session *s, const struct imap_arg *args,
		      size_t n)
{
	if (n != 1) {
		imap_bad(s, "GETQUOTAROOT needs a mailbox");
		return;
	}
	struct store_mailbox mb;
	if (imap_arg_mailbox_get(s, &args[0], &mb) < 0)
		return;
	struct imapsync_usage u;
	if (usage(s, &u) < 0) {
		store_mailbox_clear(&mb);
		return;
	}
	/* §4.3: a mailbox under no limit has no quota root */
	struct buf b = BUF_INIT;
	buf_puts(&b, "* QUOTAROOT ");
	imap_append_mailbox(&b, mb.name);
	if (has_quota(&u))
		buf_puts(&b, " \"\"");
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
	if (has_quota(&u))
		write_quota(s, &u);
	store_mailbox_clear(&mb);
	imap_ok(s, "Getquotaroot completed.");
}

void
imap_cmd_getquota(struct imap_session *s, const struct imap_arg *args, size_t n)
{
	if (n != 1 || !imap_arg_is_astring(&args[0])) {
		imap_bad(s, "GETQUOTA needs a quota root");
		return;
	}
	struct imapsync_usage u;
	if (args[0].len != 0) {
		imap_no(s, "[NONEXISTENT] No such quota root.");
		return;
	}
	if (usage(s, &u) < 0)
		return;
	if (!has_quota(&u)) {
		imap_no(s, "[NONEXISTENT] No quota.");
		return;
	}
	write_quota(s, &u);
	imap_ok(s, "Getquota completed.");
}

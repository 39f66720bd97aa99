/*
 * client_int: what client.c shares with client_sync.c (the commands of
 * two-way sync and NOTIFY), and nothing else sees.
 */
#ifndef MAILHUB_IMAP_CLIENT_INT_H
#define MAILHUB_IMAP_CLIENT_INT_H

#include "imap/client.h"

/* What the responses to one command are collected into. */
struct cmd_ctx {
	struct imapc_mailbox *mb;
	uint32_t **uids;
	size_t *n_uids;
	char ***names;
	size_t *n_names;
	const struct imapc_fetch_sink *sink;
	bool news;		/* EXISTS seen */
	bool continued;		/* "+" seen (returns at once) */
	bool want_continue;
	bool login;		/* LOGIN or AUTHENTICATE: NO means wrong credentials */
	char *delim;		/* LIST: the hierarchy delimiter seen */
	/* two-way sync: FETCH responses without a body, ESEARCH, COPYUID */
	imapc_flags_fn *flags_fn;
	void *flags_ctx;
	bool esearch;		/* the UIDs come in an ESEARCH response */
	bool copyuid_seen;
	uint32_t copy_uidvalidity;
	uint32_t *copy_src, *copy_dst;
	size_t copy_n;
};

/* Sends one command (printf-formatted, tagged here) and reads its
 * responses into x until the tagged reply: 0, or -1 with *error_r "what:
 * ..." (the session is then not to be used again). */
int imapc_command(struct imap_client *c, struct cmd_ctx *x, const char *what,
		  const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A folder name (UTF-8) as a quoted string in modified UTF-7 (RFC 3501
 * §5.1.3), appended to out: 0, or -1 when it is not UTF-8. */
int imapc_quote_folder(const char *folder, struct buf *out, const char **error_r);

#endif

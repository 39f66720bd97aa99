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
	/* RFC 4315 §3: APPENDUID uidvalidity uid */
	bool appenduid_seen;
	uint32_t append_uidvalidity, append_uid;
	/* STATUS responses (imap_client_status_many) */
	imapc_status_fn *status_fn;
	void *status_ctx;
	bool no_ok;		/* a tagged NO is an answer, not a failure */
	/* RFC 7162 §3.2.5.1: the UIDs of VANISHED (EARLIER) responses (a
	 * live VANISHED is not taken: it may be the folder's before) */
	uint32_t **vanished;
	size_t *n_vanished;
	/* imapc_pipeline(): the other commands in flight, whose tagged
	 * answers may come first (RFC 3501 §5.5: a server may run them at
	 * once); pipe_done[i] is set when pipe_tags[i] was answered OK */
	char (*pipe_tags)[16];
	bool *pipe_done;
	size_t pipe_n;
	/* RFC 7162 §3.2.11: a SELECT while another folder is selected (with
	 * QRESYNC on): the untagged FETCH responses before "* OK [CLOSED]"
	 * are the old folder's.  They are held (held_*) and given to
	 * flags_fn only when no [CLOSED] came by the tagged answer (a server
	 * that does not send it: they were this folder's after all). */
	bool await_closed;
	bool closed_seen;
	struct imapc_held_flags *held;
	size_t n_held;
};

/* A FETCH of flags held until [CLOSED] tells whose it is (above). */
struct imapc_held_flags {
	uint32_t uid;
	unsigned flags;
	char *keywords;
};

/* Sends one command (printf-formatted, tagged here) and reads its
 * responses into x until the tagged reply: 0, or -1 with *error_r "what:
 * ..." (the session is then not to be used again). */
int imapc_command(struct imap_client *c, struct cmd_ctx *x, const char *what,
		  const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Commands sent at once (at most IMAPC_PIPELINE_MAX before their answers
 * are read), whose untagged responses mean nothing to the caller: 0 when
 * every one was answered OK, else -1 with *error_r "what: ..." (the
 * session is then not to be used again). */
#define IMAPC_PIPELINE_MAX 32
int imapc_pipeline(struct imap_client *c, const char *what, char *const *cmds, size_t n,
		   const char **error_r);
/* The same, the untagged responses read into shared (its callbacks and
 * outputs; NULL: dropped). */
int imapc_pipeline_into(struct imap_client *c, const struct cmd_ctx *shared, const char *what,
			char *const *cmds, size_t n, const char **error_r);
/* Sends "TAG head {len}" (LITERAL+ where offered, else after the
 * server's "+"), then the len bytes of data and the line's end, and reads
 * the responses into x as imapc_command does (RFC 3501 §4.3 literals). */
int imapc_command_literal(struct imap_client *c, struct cmd_ctx *x, const char *what,
			  const char **error_r, const char *head, const void *data, size_t len);
/* A folder name (UTF-8) as a quoted string in modified UTF-7 (RFC 3501
 * §5.1.3), appended to out: 0, or -1 when it is not UTF-8. */
int imapc_quote_folder(const char *folder, struct buf *out, const char **error_r);

/* A SELECT queued by imap_client_select_ahead held back while a command
 * that is not the folder's last one is sent (_hold returns whether one
 * was queued; _restore queues it again for the command after). */
bool imapc_ahead_hold(struct imap_client *c);
void imapc_ahead_restore(struct imap_client *c, bool queued);

/* Sorts uids[0..*n) ascending and drops repeats (servers send them
 * sorted: insertion sort is linear then). */
void imapc_sort_unique(uint32_t *uids, size_t *n);

#endif

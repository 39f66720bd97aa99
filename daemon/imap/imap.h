/*
 * imap: what the files of the IMAP server share (session.c owns the
 * session; mailbox.c, append.c, fetch.c, store.c, search.c and idle.c are
 * command families).  Nothing outside daemon/imap/ includes this.
 */
#ifndef MAILHUB_IMAP_IMAP_H
#define MAILHUB_IMAP_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "imap/parser.h"
#include "imap/session.h"
#include "store/store.h"

struct conn;

/* RFC 3501 §3: the states of a connection. */
enum imap_state {
	IMAP_STATE_NOT_AUTHENTICATED,
	IMAP_STATE_AUTHENTICATED,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* One message of the selected mailbox as this session sees it. */
struct imap_msg {
	uint32_t uid;
	unsigned flags;		/* enum store_flag bits */
	bool recent;		/* \Recent for this session */
	bool expunged;		/* gone from the store; EXPUNGE not yet sent */
	char *keywords;		/* space-separated, or NULL */
	uint64_t modseq;	/* MODSEQ of the flags shown (RFC 7162) */
	/* FETCH's copy of the message's row (what never changes: blob,
	 * size, dates, ENVELOPE, BODYSTRUCTURE), or NULL; see
	 * IMAP_VIEW_ROWS_MAX */
	struct imapdb_row *row;
};

/* The selected mailbox: sequence numbers are indexes into msgs + 1. */
struct imap_view {
	int64_t mailbox_id;
	char *name;		/* UTF-8, as stored */
	bool readonly;		/* EXAMINE, or SELECT of a read-only box */
	uint32_t uidvalidity;
	uint32_t uidnext;	/* as last reported */
	uint64_t modseq;	/* HIGHESTMODSEQ as last synchronised */
	struct imap_msg *msgs;
	size_t n, cap;
	size_t recent;		/* messages with recent set */
	size_t exists_sent;	/* the EXISTS count the client knows */
	size_t recent_sent;	/* the RECENT count the client knows */
	char **keywords;	/* keywords seen in the mailbox (for FLAGS) */
	size_t n_keywords;
	uint32_t keywords_listed; /* size of the mailbox's keyword list
				   * (sql/012) at the last look */
	struct store_watch *watch;
	uint32_t *saved;	/* RFC 5182 SEARCHRES "$": UIDs, ascending */
	size_t n_saved;
	struct imap_sort_cache *sort_cache;	/* sort.c */
	/* imap_view_sync(): store_mailbox_gen() and the time (CLOCK_MONOTONIC
	 * ms) of the last look at the store; EXPUNGEs not sent yet */
	uint64_t synced_gen;
	int64_t synced_ms;
	bool expunge_pending;
	size_t rows_bytes;	/* of the msgs' rows kept */
};

/* The bytes of message rows a view keeps for FETCH (imap_msg.row): a
 * client that fetches the same messages again is answered without
 * SQLite; what goes past it is read each time.  Dropped when the session
 * parks. */
#define IMAP_VIEW_ROWS_MAX (256u << 10)
/* Frees the rows a view keeps (NULL ok). */
void imap_view_drop_rows(struct imap_view *v);
/* What a kept row counts against IMAP_VIEW_ROWS_MAX. */
size_t imap_row_bytes(const struct imapdb_row *row);

/* Reply status of a command, written by the dispatcher as the tagged line. */
enum imap_reply {
	IMAP_REPLY_NONE,	/* the command wrote its own tagged line */
	IMAP_REPLY_OK,
	IMAP_REPLY_NO,
	IMAP_REPLY_BAD,
};

/* RFC 5161 ENABLE (and the commands that enable on their own): what the
 * client has switched on for the rest of the session. */
enum imap_enabled {
	IMAP_ENABLED_CONDSTORE = 1 << 0,	/* RFC 7162 §3.1 */
	IMAP_ENABLED_QRESYNC = 1 << 1,		/* RFC 7162 §3.2.3 */
	IMAP_ENABLED_REV2 = 1 << 2,		/* RFC 9051 */
};

struct imap_session {
	struct conn *c;
	const struct imap_listener *lst;
	const struct config *cfg;
	uint64_t id;
	enum imap_state state;
	struct store *st;
	int64_t user_id;
	char *user;		/* address after login */
	struct imap_parser *parser;
	const char *tag;	/* of the command being run */
	bool uid_cmd;		/* the command came after UID */
	bool allow_expunge;	/* untagged EXPUNGE may be sent now */
	/* the command's closing sync may trust this process's notifications
	 * (imap_view_sync()): every command but NOOP, CHECK, SELECT, EXAMINE */
	bool sync_may_skip;
	enum imap_reply reply;
	struct buf reply_text;	/* "[CODE] text" of the tagged line */
	struct imap_view *view;
	unsigned enabled;	/* enum imap_enabled bits */
	unsigned errors;	/* BADs in a row */
	/* APPEND literals read straight into blobs (append.c) */
	struct imap_append_blob *appends;
	size_t n_appends, cap_appends;
	bool append_failed;	/* a literal was refused or could not be stored */
	bool append_nospace;	/* ...because the disk is full */
	const char *append_error;
	bool append_toobig;
	/* IDLE (idle.c); while it waits the session may be parked without a
	 * thread (imap_session_park()) */
	int64_t idle_deadline;	/* time() of the autologout */
	struct store_stamp idle_stamp;	/* the database's files at the last look */
	int64_t idle_looked;	/* time() of the last look */
	bool parked;		/* return to the listener now */
	int64_t wait_deadline_ms; /* a session parked between commands:
				   * the monotonic ms of its autologout */
	char *parked_tag;	/* the tag of the command that parked */
};

/* An APPEND message literal, durable in a temporary file until the
 * command is known to take it (append.c). */
struct imap_append_blob {
	struct blob_writer *w;
	uint64_t size;
};

/* A command: args are what follows the command name. */
typedef void imap_command_fn(struct imap_session *s,
			     const struct imap_arg *args, size_t n);

/* ---- session.c ---------------------------------------------------------- */

/* The one place where the state changes (and is logged). */
void imap_session_set_state(struct imap_session *s, enum imap_state state);
/* Sets the tagged reply; text may start with "[CODE] ". */
void imap_reply(struct imap_session *s, enum imap_reply r, const char *fmt,
		...) MH_PRINTF(3, 4);
#define imap_ok(s, ...) imap_reply((s), IMAP_REPLY_OK, __VA_ARGS__)
#define imap_no(s, ...) imap_reply((s), IMAP_REPLY_NO, __VA_ARGS__)
#define imap_bad(s, ...) imap_reply((s), IMAP_REPLY_BAD, __VA_ARGS__)
/* Writes untagged or raw output. */
int imap_write(struct imap_session *s, const void *p, size_t n);
int imap_printf(struct imap_session *s, const char *fmt, ...) MH_PRINTF(2, 3);
/* The capability list after "CAPABILITY " for the current state. */
void imap_capabilities(struct imap_session *s, struct buf *out);
/* Decodes a mailbox argument (modified UTF-7) into UTF-8 in out, with
 * "INBOX" in any case made "INBOX".  -1 (and a BAD reply) when invalid. */
int imap_arg_mailbox(struct imap_session *s, const struct imap_arg *a,
		     struct buf *out);
/* The user's mailbox a mailbox argument names (mailbox.c); -1 with a BAD
 * or NO reply set when invalid or missing. */
int imap_arg_mailbox_get(struct imap_session *s, const struct imap_arg *a,
			 struct store_mailbox *mb_r);
/* Appends a mailbox name (UTF-8) as a modified UTF-7 astring. */
void imap_append_mailbox(struct buf *out, const char *name);
/* Parks the session during a command that waits (IDLE): the command returns
 * at once without a reply, the session's thread ends, and when the socket
 * or wake_fd is readable or timeout_ms has passed, a new thread calls
 * imap_idle_resume() and finishes the command.  0, or -1 when it cannot be
 * parked (the command waits in this thread). */
int imap_session_park(struct imap_session *s, int wake_fd, int timeout_ms);

/* ---- flags (store.c) ---------------------------------------------------- */

/* Appends "(\Seen $Junk)"-style flags. */
void imap_append_flags(struct buf *out, unsigned flags, const char *keywords,
		       bool recent);
/* Parses a flag list (or one flag) into bits and a space-separated keyword
 * string (malloc'd or NULL).  -1 on a bad flag (\Recent is refused unless
 * allow_recent). */
int imap_parse_flags(const struct imap_arg *a, unsigned *flags_r,
		     char **keywords_r, const char **error_r);

/* ---- sequence sets (seqset.c) ------------------------------------------- */

struct imap_seqset {
	struct { uint32_t lo, hi; } *r;
	size_t n;
};
/* Parses "1:3,5,7:*" with '*' standing for star_value (the largest number
 * in use, 0 when none); ranges in either order.  -1 when malformed. */
int imap_seqset_parse(const char *text, uint32_t star_value,
		      struct imap_seqset *set_r);
bool imap_seqset_has(const struct imap_seqset *set, uint32_t v);
void imap_seqset_free(struct imap_seqset *set);
/* Resolves a set into view indexes (0-based, ascending, unique): sequence
 * numbers, or UIDs when uid (UIDs not present are skipped).  *idx_r is
 * malloc'd (NULL when empty).  Sequence numbers past the end: -1. */
int imap_seqset_to_indexes(const struct imap_view *v, const char *text,
			   bool uid, size_t **idx_r, size_t *n_r);
/* Appends a compact UID set "1:3,7" for the n sorted numbers. */
void imap_append_uidset(struct buf *out, const uint32_t *uids, size_t n);
/* Index of the message with this UID, or -1. */
ssize_t imap_view_find_uid(const struct imap_view *v, uint32_t uid);
/* The first index whose UID is at least uid (v->n when none). */
size_t imap_view_lower_bound(const struct imap_view *v, uint32_t uid);

/* ---- idle.c: the selected mailbox and its updates ----------------------- */

/* Opens the view of mailbox (SELECT / EXAMINE) and writes the untagged
 * data of RFC 3501 §6.3.1.  0 or -1 (with a NO reply set). */
int imap_view_open(struct imap_session *s, const struct store_mailbox *mb,
		   bool readonly);
void imap_view_close(struct imap_session *s);
/* Looks at the store and writes untagged EXISTS, RECENT, FETCH (flags
 * changed by others) and, when s->allow_expunge, EXPUNGE.  With
 * s->sync_may_skip, it does not look when no session of this process
 * changed the mailbox since the last look, that look is less than
 * IMAP_SYNC_TRUST_MS old, and no EXPUNGE waits to be sent: another
 * process's change (the CLI) is then told by the next command after that
 * time, or at once by NOOP, CHECK and IDLE. */
#define IMAP_SYNC_TRUST_MS 500
void imap_view_sync(struct imap_session *s);
/*
 * After the session's own commit to its selected mailbox (STORE, EXPUNGE),
 * already shown in its view: when nothing else changed the mailbox since
 * the view's last look (store_own_change()), the view counts as looked at
 * now, so that the command's closing imap_view_sync() need not read the
 * store again.  Otherwise nothing.
 */
void imap_view_own_change(struct imap_session *s);
/* CLOCK_MONOTONIC in ms. */
int64_t imap_now_ms(void);
/* Notes the keywords (space-separated, or NULL) the session is about to
 * use in a FETCH and sends a new untagged FLAGS first when one is new. */
void imap_view_announce_keywords(struct imap_session *s, const char *keywords);
/* The same in two steps, for many lists and one FLAGS: notes them (true
 * when one was new), then imap_view_send_flags() writes FLAGS and
 * PERMANENTFLAGS before the FETCH that uses them. */
bool imap_view_note_keywords(struct imap_session *s, const char *keywords);
void imap_view_send_flags(struct imap_session *s);
void imap_view_free(struct imap_view **v);
/* Opens the session's store handle again after a park closed it: 0, or -1
 * with a BYE written and the session in LOGOUT. */
int imap_store_reopen(struct imap_session *s);
/* Goes on with an IDLE that was parked: true when it parked again, false
 * when IDLE is over (its reply set, or the session in LOGOUT). */
bool imap_idle_resume(struct imap_session *s);

/* ---- the command families ------------------------------------------------ */

imap_command_fn imap_cmd_select, imap_cmd_examine, imap_cmd_create,
	imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe,
	imap_cmd_unsubscribe, imap_cmd_list, imap_cmd_lsub, imap_cmd_status;
imap_command_fn imap_cmd_append;
imap_command_fn imap_cmd_fetch;
imap_command_fn imap_cmd_store, imap_cmd_copy, imap_cmd_move,
	imap_cmd_expunge, imap_cmd_close, imap_cmd_unselect, imap_cmd_check;
imap_command_fn imap_cmd_search;
/* sort.c: SORT (RFC 5256, ESORT and SORT=DISPLAY of RFC 5267 and 5957)
 * and THREAD */
imap_command_fn imap_cmd_sort, imap_cmd_thread;
struct imap_sort_cache;
void imap_sort_cache_free(struct imap_sort_cache **c);

/* search.c: the messages (view indexes, ascending; *idx_r malloc'd) that
 * match the search keys args[0..n); *modseq_r the highest MODSEQ among
 * them when the keys had MODSEQ (RFC 7162 §3.1.5), else 0.  -1 with a BAD
 * or NO reply set. */
int imap_search_match(struct imap_session *s, const struct imap_arg *args,
		      size_t n, size_t **idx_r, size_t *n_r, uint64_t *modseq_r);

/* esearch.c: what SEARCH, SORT and THREAD share. */
/* RFC 4731 / RFC 5267 result options */
struct imap_return {
	bool esearch;		/* RETURN was given: answer ESEARCH */
	bool min, max, count, all, save;
};
/* Parses "[RETURN (options)]" at args[*pos]; -1 with a BAD reply. */
int imap_parse_return(struct imap_session *s, const struct imap_arg *args,
		      size_t n, size_t *pos, struct imap_return *r);
/* Parses "CHARSET name" (optional when optional) at args[*pos]; -1 with
 * a NO [BADCHARSET] or BAD reply. */
int imap_parse_charset(struct imap_session *s, const struct imap_arg *args,
		       size_t n, size_t *pos, bool optional);
/* Answers a search or sort result: nums are the view indexes in result
 * order (ascending for SEARCH, sort order for SORT); word is "SEARCH" or
 * "SORT" for the answer without RETURN.  Saves it for "$" when asked. */
void imap_result_reply(struct imap_session *s, const struct imap_return *r,
		       const char *word, const size_t *idx, size_t n,
		       uint64_t modseq);
/* RFC 5182: the saved result as UIDs still in the view (ascending;
 * malloc'd copy, NULL when empty). */
void imap_searchres_get(struct imap_session *s, uint32_t **uids_r, size_t *n_r);
/* Rewrites a "$" sequence set (the first argument of FETCH, STORE, COPY,
 * MOVE and UID EXPUNGE) into the numbers it stands for now: a copy of the
 * arguments to free with imap_searchres_args_free(), or NULL when there
 * is no "$".  *empty_r when "$" is empty (the command has nothing to do). */
struct imap_arg *imap_searchres_expand(struct imap_session *s,
				       const char *command,
				       const struct imap_arg *args, size_t n,
				       bool *empty_r);
void imap_searchres_args_free(struct imap_arg **args);
imap_command_fn imap_cmd_idle;

/* ---- condstore.c: CONDSTORE and ENABLE (RFC 7162 §3.1, RFC 5161) ------- */

imap_command_fn imap_cmd_enable;
/* Switches CONDSTORE on (a CONDSTORE-enabling command, RFC 7162 §3.1);
 * in the selected state the first time it sends HIGHESTMODSEQ. */
void imap_condstore_enable(struct imap_session *s);
static inline bool
imap_condstore_on(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLED_CONDSTORE) != 0;
}
/* A mod-sequence-value (1 to 2^63 - 1; 0 too when zero_ok). */
int imap_parse_modseq(const struct imap_arg *a, bool zero_ok, uint64_t *v_r);
/* FETCH's modifier list "(CHANGEDSINCE n [VANISHED])"; answers BAD itself.
 * *changedsince_r is 0 when absent. */
int imap_fetch_modifiers(struct imap_session *s, const struct imap_arg *a,
			 uint64_t *changedsince_r, bool *vanished_r);
/* STORE's modifier list "(UNCHANGEDSINCE n)"; answers BAD itself. */
int imap_store_modifiers(struct imap_session *s, const struct imap_arg *a,
			 uint64_t *unchangedsince_r);
/* SEARCH's MODSEQ key after the word: [entry-name entry-type] value. */
int imap_search_modseq_key(struct imap_session *s, const struct imap_arg *args,
			   size_t n, size_t *pos, uint64_t *v_r);
/* Appends " MODSEQ (n)" to a FETCH response. */
void imap_append_modseq(struct buf *out, uint64_t modseq);

/* ---- compress.c: COMPRESS=DEFLATE (RFC 4978) ---------------------------- */

imap_command_fn imap_cmd_compress;

/* ---- binary.c: BINARY (RFC 3516) ---------------------------------------- */

struct mime_part;
/* Appends the content of part path ("" the whole message) of msg with its
 * transfer encoding undone.  0, or -1 for an encoding it does not know
 * (UNKNOWN-CTE). */
int imap_binary_section(const char *msg, size_t len, const struct mime_part *root,
			const char *path, struct buf *out);

/* ---- quota.c: QUOTA (RFC 9208) ------------------------------------------ */

imap_command_fn imap_cmd_getquotaroot, imap_cmd_getquota;

/* ---- objectid.c: OBJECTID (RFC 8474) ------------------------------------- */

/* Appends the MAILBOXID of a mailbox: "F" and its UIDVALIDITY and row id
 * in hex (neither is ever reused, and RENAME keeps both). */
void imap_append_mailboxid(struct buf *out, const struct store_mailbox *mb);
/* Appends the EMAILID of a message stored in blob: "M" and the first 24
 * hex digits of its SHA-256, the same for a copy or a move. */
void imap_append_emailid(struct buf *out, const char *blob);

/* ---- IMAP4rev2 (RFC 9051), switched on by ENABLE IMAP4rev2 ---------------- */

static inline bool
imap_rev2_on(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLED_REV2) != 0;
}
/* Whether a message shows \Recent: never to an IMAP4rev2 client (RFC 9051
 * Appendix E item 6 removed the flag and the RECENT response). */
static inline bool
imap_show_recent(const struct imap_session *s, bool recent)
{
	return recent && !imap_rev2_on(s);
}

/* ---- qresync.c: QRESYNC (RFC 7162 §3.2) --------------------------------- */

static inline bool
imap_qresync_on(const struct imap_session *s)
{
	return (s->enabled & IMAP_ENABLED_QRESYNC) != 0;
}
/* SELECT/EXAMINE's parameters "(CONDSTORE)" or "(QRESYNC (...))". */
struct imap_select_params {
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	char *known_uids;	/* or NULL: every UID */
};
/* Parses the parameter list; answers BAD itself. */
int imap_select_params_parse(struct imap_session *s, const struct imap_arg *a,
			     struct imap_select_params *p);
void imap_select_params_clear(struct imap_select_params *p);
/* After the untagged data of a SELECT with QRESYNC: VANISHED (EARLIER)
 * and the FETCH of every message changed since the client's MODSEQ. */
void imap_qresync_select(struct imap_session *s,
			 const struct imap_select_params *p);
/* "* VANISHED (EARLIER) ..." for the UIDs of the set (text) expunged since
 * modseq (UID FETCH ... (CHANGEDSINCE n VANISHED)).  -1 on a store error. */
int imap_qresync_vanished_earlier(struct imap_session *s, uint64_t modseq,
				  const char *uidset);
/* "* VANISHED uids" for n ascending UIDs (instead of EXPUNGEs). */
void imap_qresync_vanished(struct imap_session *s, const uint32_t *uids,
			   size_t n);

/* append.c: called by the session when an APPEND message literal arrives:
 * checks its size before any continuation is sent, sends "+" for a
 * synchronising literal, and reads it into a blob (bare LF made CRLF,
 * except in a literal8 of RFC 3516, kept byte for byte: binary).
 * 0 when read (the parser goes on); 1 when refused with a tagged reply
 * already written and nothing read (the caller skips the rest of the
 * command, this literal included); -1 when the connection broke. */
int imap_append_literal(struct imap_session *s, const char *tag,
			uint64_t size, bool sync, bool binary);
void imap_append_reset(struct imap_session *s);

#endif

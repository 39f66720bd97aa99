/*
 * imap/client: the fetcher's IMAP client (RFC 3501 / RFC 9051 subset:
 * CAPABILITY, STARTTLS, LOGIN or AUTHENTICATE PLAIN, SELECT/EXAMINE, UID
 * SEARCH, UID FETCH of BODY.PEEK[] with INTERNALDATE, UID STORE and UID
 * EXPUNGE (RFC 4315), IDLE (RFC 2177), LIST, LOGOUT).
 *
 * Two layers.  The response parser (client_parse.c) is pure: it looks at
 * one line the server sent (a "segment": up to a CRLF, possibly ending in a
 * literal announcement {N}) and says what it is; a FETCH response is parsed
 * segment by segment by a small state machine that says when a literal is
 * the message body (to be streamed), when one is to be skipped, and when
 * the response is complete.  Nothing is held in memory beyond one segment
 * (IMAPC_LINE_MAX) and the small values the fetcher needs.
 *
 * The client (client.c) drives a conn through the dialogue; each function
 * returns 0, or -1 with *error_r in plain words ("login failed: NO
 * [AUTHENTICATIONFAILED] Authentication failed.").  After any -1 the
 * session is not to be used again (only freed).
 */
#ifndef MAILHUB_IMAP_CLIENT_H
#define MAILHUB_IMAP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/client_conn.h"
#include "core/limits.h"
#include "store/upstreams.h"

/* A response line (segment) from the server, literals apart. */
#define IMAPC_LINE_MAX 65536
/* A literal that is not a message body (a folder name in LIST). */
#define IMAPC_SMALL_LITERAL_MAX 65536
/* UIDs one UID SEARCH may return. */
#define IMAPC_SEARCH_MAX 1000000
/* Untagged responses one command may bring before its tagged reply ends it
 * (a broken server must not keep us reading forever). */
#define IMAPC_UNTAGGED_MAX 5000000
/* IDLE is re-issued before the server's 30-minute inactivity timer
 * (RFC 2177 §3: clients "SHOULD" re-issue at least every 29 minutes). */
#define IMAPC_IDLE_MAX_MS (28 * 60 * 1000)

/* ---- pure parser (client_parse.c) -------------------------------------- */

enum imapc_cap {
	IMAPC_CAP_IMAP4REV1 = 1 << 0,
	IMAPC_CAP_STARTTLS = 1 << 1,
	IMAPC_CAP_LOGINDISABLED = 1 << 2,
	IMAPC_CAP_AUTH_PLAIN = 1 << 3,
	IMAPC_CAP_IDLE = 1 << 4,
	IMAPC_CAP_UIDPLUS = 1 << 5,
	IMAPC_CAP_SASL_IR = 1 << 6,
	IMAPC_CAP_LITERALPLUS = 1 << 7,
	IMAPC_CAP_IMAP4REV2 = 1 << 8,
	IMAPC_CAP_NOTIFY = 1 << 9,	/* RFC 5465 */
	IMAPC_CAP_X_GM_EXT_1 = 1 << 10,	/* Gmail: X-GM-MSGID, X-GM-LABELS */
	IMAPC_CAP_AUTH_XOAUTH2 = 1 << 11,
	IMAPC_CAP_AUTH_OAUTHBEARER = 1 << 12,	/* RFC 7628 */
	/* two-way sync (fetch/twoway.c) */
	IMAPC_CAP_CONDSTORE = 1 << 20,	/* RFC 7162 */
	IMAPC_CAP_MOVE = 1 << 21,	/* RFC 6851 */
	IMAPC_CAP_ESEARCH = 1 << 22,	/* RFC 4731 */
	IMAPC_CAP_QRESYNC = 1 << 23,	/* RFC 7162 §3.2 */
};

/* System flags as a FETCH FLAGS list gives them (the store's bits, see
 * store/store.h: \Seen 1, \Answered 2, \Flagged 4, \Deleted 8, \Draft 16). */
#define IMAPC_FLAG_SEEN (1u << 0)
#define IMAPC_FLAG_ANSWERED (1u << 1)
#define IMAPC_FLAG_FLAGGED (1u << 2)
#define IMAPC_FLAG_DELETED (1u << 3)
#define IMAPC_FLAG_DRAFT (1u << 4)

enum imapc_kind {
	IMAPC_TAGGED,		/* "A1 OK ..." */
	IMAPC_UNTAGGED,		/* "* ..." */
	IMAPC_CONTINUE,		/* "+ ..." */
};

/* What a response line says (pointers into the line). */
struct imapc_resp {
	enum imapc_kind kind;
	const char *tag;	/* IMAPC_TAGGED */
	size_t tag_len;
	bool has_number;	/* "* 23 EXISTS": number 23, name "EXISTS" */
	uint32_t number;
	const char *name;	/* OK NO BAD BYE PREAUTH CAPABILITY FETCH SEARCH ... */
	size_t name_len;
	const char *code;	/* inside [ ] of a status response, or NULL */
	size_t code_len;
	const char *rest;	/* after the name (and code), spaces skipped */
	size_t rest_len;
};

/* Parses line[0..len) (CRLF optional).  0, or -1 when malformed. */
int imapc_parse_response(const char *line, size_t len, struct imapc_resp *r);
/* True when r's name is s (case-insensitive). */
bool imapc_resp_is(const struct imapc_resp *r, const char *s);
/* When the line (CRLF optional) ends in a literal announcement "{N}" or
 * "{N+}": 1 and *n_r; 0 when not; -1 when malformed or N > max. */
int imapc_line_literal(const char *line, size_t len, uint64_t max, uint64_t *n_r);
/* The capabilities in a CAPABILITY list (the text after the name). */
unsigned imapc_parse_caps(const char *p, size_t len);
/* A resp-text-code "NAME number" (UIDVALIDITY, UIDNEXT): 1 and *n_r when
 * code is that name with a number, else 0. */
int imapc_code_number(const char *code, size_t len, const char *name, uint32_t *n_r);
/* The numbers of a SEARCH response's text, appended to *uids (at most
 * max in all): 0, or -1 when malformed or too many. */
int imapc_parse_search(const char *p, size_t len, uint32_t **uids, size_t *n,
		       size_t max);

/* The UIDs of a sequence set "1:5,7" (no "*"), appended to *uids in
 * the set's order (at most max in all): 0, or -1 when malformed or too
 * many. */
int imapc_parse_uidset(const char *p, size_t len, uint32_t **uids, size_t *n,
		       size_t max);
/* An ESEARCH response's text (RFC 4731 §3: "(TAG "x") UID ALL set"): the
 * UIDs of its ALL set appended to *uids (none when it has no ALL): 0, or
 * -1 when malformed or too many. */
int imapc_parse_esearch_all(const char *p, size_t len, uint32_t **uids, size_t *n,
			    size_t max);
/* A VANISHED response's text (RFC 7162 §7.3: "(EARLIER) 3:5,9" or
 * "3:5,9"): *earlier_r says whether it had "(EARLIER)" (an answer to a
 * QRESYNC SELECT or a UID FETCH VANISHED, not a live expunge), the UIDs
 * are appended to *uids (at most max in all).  0, or -1 with *error_r in
 * plain words when malformed, of an unknown tag, or too many. */
int imapc_parse_vanished(const char *p, size_t len, bool *earlier_r, uint32_t **uids, size_t *n,
			 size_t max, const char **error_r);
/* A COPYUID response code's text after its name (RFC 4315 §3: "uidvalidity
 * srcset dstset"): 0 with the two sets expanded (same length, malloc'd),
 * or -1 when malformed or their lengths differ. */
int imapc_parse_copyuid(const char *p, size_t len, uint32_t *uidvalidity_r,
			uint32_t **src_r, uint32_t **dst_r, size_t *n_r);

/* Appends a sequence set "1:5,7,9:10" of uids[0..n) (ascending) to out
 * (a comma first when out is not empty). */
void imapc_uidset(struct buf *out, const uint32_t *uids, size_t n);

/* The FETCH response state machine. */
enum imapc_fetch_result {
	IMAPC_FETCH_DONE,	/* the response is complete */
	IMAPC_FETCH_BODY,	/* a literal follows: the message body */
	IMAPC_FETCH_SKIP,	/* a literal follows: some other value, discard it */
	IMAPC_FETCH_MORE,	/* (internal) */
	IMAPC_FETCH_ERROR,
};

struct imapc_fetch {
	/* out */
	uint32_t uid;		/* 0 when not given */
	bool have_date;
	char date[40];		/* INTERNALDATE text, when have_date */
	bool have_body;		/* a BODY[] value was given (literal or quoted) */
	uint64_t literal;	/* size of the literal that follows */
	const char *quoted_body;	/* a BODY[] sent as a quoted string: */
	size_t quoted_body_len;	/* its raw text (escapes not undone) */
	bool have_flags;	/* a FLAGS list was given: */
	unsigned flags;		/* its system flags (IMAPC_FLAG_*) */
	char keywords[MESSAGE_KEYWORDS_MAX + 1];	/* its keywords, space-separated
				 * ("" none); those past MESSAGE_KEYWORDS_MAX
				 * bytes are left out */
	uint64_t gm_msgid;	/* X-GM-MSGID (Gmail), 0 when not given */
	/* state */
	int state;
	unsigned depth;
	char item[32];		/* the item whose value comes next */
};

/* Starts parsing "(...)", the rest of a "* N FETCH" line. */
void imapc_fetch_init(struct imapc_fetch *f);
/* Feeds the next segment (the first: resp.rest of the FETCH line; later
 * ones: the line after a literal), without its CRLF.  Returns DONE, BODY
 * or SKIP (with f->literal) or ERROR. */
enum imapc_fetch_result imapc_fetch_feed(struct imapc_fetch *f, const char *p,
					 size_t len);

/* ---- client (client.c) --------------------------------------------------- */

struct imap_client;

/* What SELECT or EXAMINE reported. */
struct imapc_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext;	/* 0 when not reported */
	uint32_t exists;
	uint64_t highestmodseq;	/* RFC 7162 §3.1.2.1; 0 when not reported */
};

/* What the FETCH response said about a message besides its bytes. */
struct imapc_message_meta {
	uint32_t uid;
	time_t internal_date;	/* 0 when none */
	unsigned flags;		/* IMAPC_FLAG_* (\Recent never) */
	const char *keywords;	/* space-separated, "" when none */
	uint64_t gm_msgid;	/* 0 when not given */
};

/* Receives the fetched messages: begin when a body starts, write for its
 * bytes, end with its UID, INTERNALDATE, flags and keywords once its FETCH
 * response is complete.  A begun message without end is aborted. */
struct imapc_fetch_sink {
	int (*begin)(void *ctx, uint64_t size, const char **error_r);
	int (*write)(void *ctx, const void *p, size_t n, const char **error_r);
	int (*end)(void *ctx, const struct imapc_message_meta *meta, const char **error_r);
	void (*abort)(void *ctx);
	void *ctx;
};

/* Connects as params say (timeouts, the addresses it may reach:
 * client_conn.h), does TLS as set says (implicit, STARTTLS, none; the
 * certificate checked as set->tls_verify says), reads the greeting and
 * capabilities, and logs in (AUTHENTICATE PLAIN when LOGIN is disabled or
 * PLAIN with SASL-IR is offered, else LOGIN; for set->auth oauth2,
 * password is the access token, sent by AUTHENTICATE OAUTHBEARER or
 * XOAUTH2).  *error_r says in plain words
 * what failed and never holds text the server sent (that is logged). */
int imap_client_open(const struct upstream_settings *set, const char *password,
		     const struct client_conn_params *params, uint64_t log_id,
		     struct imap_client **c_r, const char **error_r);
/* LOGOUT (not waiting long) and close; NULL ok. */
void imap_client_free(struct imap_client **c);
unsigned imap_client_caps(const struct imap_client *c);
const char *imap_client_cert_sha256(const struct imap_client *c);
const char *imap_client_tls_version(const struct imap_client *c);

/* LIST "" "*": the folder names (UTF-8) in *names_r. */
int imap_client_list(struct imap_client *c, char ***names_r, size_t *n_r,
		     const char **error_r);
void imapc_names_free(char ***names, size_t n);
/* The same for an import, with the server's hierarchy delimiter ('\0'
 * when it has none). */
int imap_client_list_folders(struct imap_client *c, char ***names_r, size_t *n_r,
			     char *delim_r, const char **error_r);
/* SELECT (readonly false) or EXAMINE a folder given in UTF-8. */
int imap_client_select(struct imap_client *c, const char *folder, bool readonly,
		       struct imapc_mailbox *mb_r, const char **error_r);
/* UID SEARCH UID from:* ; the UIDs >= from, ascending, in *uids_r. */
int imap_client_search_from(struct imap_client *c, uint32_t from,
			    uint32_t **uids_r, size_t *n_r, const char **error_r);
/* UID FETCH uidset (UID FLAGS INTERNALDATE BODY.PEEK[], and X-GM-MSGID
 * where Gmail's X-GM-EXT-1 is offered) through sink. */
int imap_client_fetch(struct imap_client *c, const char *uidset,
		      const struct imapc_fetch_sink *sink, const char **error_r);
/* UID STORE uidset +FLAGS.SILENT (\Deleted), then UID EXPUNGE uidset when
 * UIDPLUS is offered, else EXPUNGE (RFC 3501 §6.4.3). */
int imap_client_delete(struct imap_client *c, const char *uidset,
		       const char **error_r);
/*
 * IDLE (RFC 2177) on the selected folder until the server reports new
 * messages (EXISTS), stop_fd becomes readable, or timeout_ms passes; then
 * DONE and its tagged OK.  *news_r says whether EXISTS came.
 */
int imap_client_idle(struct imap_client *c, int stop_fd, int timeout_ms,
		     bool *news_r, const char **error_r);
/* NOOP: keeps the session alive and collects EXISTS (*news_r). */
int imap_client_noop(struct imap_client *c, bool *news_r, const char **error_r);

/* ---- NOTIFY (RFC 5465, fetch/watch.c) -------------------------------------- */

/* NOTIFY SET for these folders (UTF-8): new messages and expunges, and
 * with flags also flag changes (after ENABLE CONDSTORE where offered). */
int imap_client_notify_set(struct imap_client *c, const char *const *folders, size_t n,
			   bool flags, const char **error_r);
/* Called for each folder the server reports an event of (its UTF-8 name,
 * or NULL when it could not be read: any of them). */
typedef void imapc_notify_fn(void *ctx, const char *folder);
/* IDLE (the NOTIFY events arrive in it) until an event, stop_fd, or
 * timeout_ms, like imap_client_idle. */
int imap_client_notify_wait(struct imap_client *c, int stop_fd, int timeout_ms,
			    imapc_notify_fn *fn, void *ctx, const char **error_r);

/* ---- two-way sync (fetch/twoway.c) --------------------------------------- */

/* Whether IDLE and NOOP count flag changes and expunges (FETCH, EXPUNGE,
 * VANISHED) as news too, not only new messages. */
void imap_client_set_news_any(struct imap_client *c, bool any);
/* SELECT (read-write), with CONDSTORE when the server offers it so that
 * mb_r->highestmodseq is reported (RFC 7162 §3.1.8). */
int imap_client_select_rw(struct imap_client *c, const char *folder,
			  struct imapc_mailbox *mb_r, const char **error_r);
/* The SELECT of imap_client_select_rw for folder, written ahead of its
 * call so that its round trip overlaps other work: behind the next command
 * written (before its answer is read: for the last command of the folder
 * selected now), or with now at once.  imap_client_select_rw(folder) then
 * reads its answer; any other command first reads and drops it.  One at a
 * time (a second call while one is pending does nothing). */
int imap_client_select_ahead(struct imap_client *c, const char *folder, bool now,
			     const char **error_r);
/* Every UID of the selected folder, ascending (ESEARCH's compact form
 * where offered, RFC 4731). */
int imap_client_search_all(struct imap_client *c, uint32_t **uids_r, size_t *n_r,
			   const char **error_r);
/* Receives one message's flags from imap_client_fetch_flags. */
typedef int imapc_flags_fn(void *ctx, uint32_t uid, unsigned flags, const char *keywords,
			   const char **error_r);
/* What STATUS said of a folder (0: not reported). */
struct imapc_status {
	uint32_t messages;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
};
typedef void imapc_status_fn(void *ctx, const char *folder, const struct imapc_status *st);
/* STATUS (MESSAGES UIDNEXT UIDVALIDITY, and HIGHESTMODSEQ where CONDSTORE
 * is offered, RFC 7162 §3.1.6) of every folder, sent at once (RFC 3501
 * §5.5): fn for each answer (the folder's UTF-8 name); a folder the
 * server answers NO for gets none. */
int imap_client_status_many(struct imap_client *c, const char *const *folders, size_t n,
			    imapc_status_fn *fn, void *ctx, const char **error_r);
/* SELECT folder (CONDSTORE where offered), UID SEARCH ALL and, when
 * changedsince is not 0 and CONDSTORE is offered, UID FETCH 1:* (UID
 * FLAGS) (CHANGEDSINCE changedsince), sent at once: the folder's state,
 * every UID ascending in *uids_r (malloc'd), fn for each message whose
 * flags changed.  One round trip where three would be. */
int imap_client_select_sync(struct imap_client *c, const char *folder, uint64_t changedsince,
			    struct imapc_mailbox *mb_r, uint32_t **uids_r, size_t *n_r,
			    imapc_flags_fn *fn, void *ctx, const char **error_r);
/* ENABLE QRESYNC (RFC 7162 §3.2.3) where offered, in the authenticated
 * state (else nothing is done: the session goes on without it). */
int imap_client_enable_qresync(struct imap_client *c, const char **error_r);
/* Whether QRESYNC is enabled on the session (the server said ENABLED). */
bool imap_client_qresync(const struct imap_client *c);
/* Whether the server is on this machine (a loopback address). */
bool imap_client_loopback(const struct imap_client *c);
/* With QRESYNC enabled, instead of the above: SELECT folder (QRESYNC
 * (uidvalidity modseq)) and UID SEARCH UID from:*, sent at once (RFC 7162
 * §3.2.5): the folder's state; the UIDs expunged since modseq (VANISHED
 * (EARLIER)), ascending, in *vanished_r; the UIDs >= from, ascending, in
 * *uids_r; fn for each message whose flags changed since modseq.  One
 * round trip, and no list of every UID.  When the folder's UIDVALIDITY is
 * not uidvalidity any more the server reports no changes: the caller
 * compares mb_r->uidvalidity. */
int imap_client_select_qresync(struct imap_client *c, const char *folder, uint32_t uidvalidity,
			       uint64_t modseq, uint32_t from, struct imapc_mailbox *mb_r,
			       uint32_t **uids_r, size_t *n_r, uint32_t **vanished_r,
			       size_t *n_vanished_r, imapc_flags_fn *fn, void *ctx,
			       const char **error_r);
/* One folder of imap_client_sync_many (the caller fills the first part). */
struct imapc_sync_folder {
	const char *folder;
	uint32_t uidvalidity;		/* the QRESYNC parameters (non-zero) */
	uint64_t modseq;
	const char *uidset;		/* UID FETCH of these bodies (NULL: none) */
	const struct imapc_fetch_sink *sink;
	imapc_flags_fn *flags_fn;	/* messages whose flags changed since modseq */
	void *flags_ctx;
	/* what the SELECT said; complete before the sink's first call */
	struct imapc_mailbox mb;
	uint32_t *vanished;		/* VANISHED (EARLIER), ascending; malloc'd */
	size_t n_vanished;
};
/* With QRESYNC enabled: for each folder, SELECT folder (QRESYNC
 * (uidvalidity modseq)) and then UID FETCH uidset (as imap_client_fetch),
 * every folder's commands written at once and the answers read in order
 * (RFC 3501 §5.5: each command after a SELECT runs on the folder it
 * opened; RFC 7162 §3.2.11: [CLOSED] parts one folder's responses from
 * the next's).  A folder whose UIDVALIDITY is not uidvalidity any more
 * reports no changes: the sink compares mb.uidvalidity.  -1 when any
 * command fails (the session is then not to be used again); v[].vanished
 * are the caller's to free either way. */
int imap_client_sync_many(struct imap_client *c, struct imapc_sync_folder *v, size_t n,
			  const char **error_r);
/* UID FETCH uidset (UID FLAGS), with (CHANGEDSINCE changedsince) when it is
 * not 0 (RFC 7162 §3.1.4): fn for each message reported. */
int imap_client_fetch_flags(struct imap_client *c, const char *uidset, uint64_t changedsince,
			    imapc_flags_fn *fn, void *ctx, const char **error_r);
/* UID STORE uidset +FLAGS.SILENT (add) or -FLAGS.SILENT: the system flags
 * (IMAPC_FLAG_*) and keywords (space-separated, NULL or "" none). */
int imap_client_store_flags(struct imap_client *c, const char *uidset, bool add,
			    unsigned flags, const char *keywords, const char **error_r);
/* Many such changes, sent without waiting for each answer (pipelined,
 * RFC 3501 §5.5): one round trip instead of n.  0 when all were done. */
struct imapc_store {
	const char *uidset;
	bool add;
	unsigned flags;
	const char *keywords;
};
int imap_client_store_many(struct imap_client *c, const struct imapc_store *changes, size_t n,
			   const char **error_r);
/* Moves uidset to folder dest: UID MOVE (RFC 6851) where offered, else
 * UID COPY and then the delete above.  With UIDPLUS's COPYUID the new
 * UIDs come back (*n_r pairs, src/dst malloc'd; *n_r 0 without it). */
int imap_client_move(struct imap_client *c, const char *uidset, const char *dest,
		     uint32_t *dst_uidvalidity_r, uint32_t **src_r, uint32_t **dst_r,
		     size_t *n_r, const char **error_r);

/* ---- two-way sync of what was made here (client_write.c) ------------------ */

/* APPEND of len bytes to folder with these flags (IMAPC_FLAG_*, \Deleted
 * never), keywords (space-separated, NULL or "" none) and INTERNALDATE (0:
 * the server's time).  With UIDPLUS's APPENDUID (RFC 4315 §3) the new
 * message's UIDVALIDITY and UID come back, else both 0. */
int imap_client_append(struct imap_client *c, const char *folder, unsigned flags,
		       const char *keywords, time_t internal_date, const void *data, size_t len,
		       uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r);
/* UID SEARCH UID from:* HEADER Message-ID "id" in the selected folder:
 * the UIDs, ascending, in *uids_r (malloc'd). */
int imap_client_search_message_id(struct imap_client *c, uint32_t from, const char *message_id,
				  uint32_t **uids_r, size_t *n_r, const char **error_r);
/* CREATE, RENAME (the folders below go with it, RFC 3501 §6.3.5) and
 * DELETE of folders given in UTF-8. */
int imap_client_create(struct imap_client *c, const char *folder, const char **error_r);
int imap_client_rename(struct imap_client *c, const char *from, const char *to,
		       const char **error_r);
int imap_client_delete_folder(struct imap_client *c, const char *folder, const char **error_r);
/* Leaves the selected folder (CLOSE; the callers leave nothing \Deleted). */
int imap_client_unselect(struct imap_client *c, const char **error_r);

#endif

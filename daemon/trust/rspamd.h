/*
 * rspamd: the client side of rspamd's HTTP protocol (its docs: "Rspamd
 * protocol"), for the spam verdict on inbound mail and for learning.
 *
 * The pure half (rspamd.c): the request head of POST /checkv2 with the
 * SMTP envelope in rspamd's headers (Ip, Helo, From, one Rcpt per
 * recipient, User, Queue-Id, Hostname), the head of the controller's
 * /learnspam and /learnham (Password), the HTTP reply head, the JSON reply
 * of /checkv2 (action, score, required_score, symbols, subject,
 * messages.smtp_message), and the header fields mailhub writes from it in
 * the form of rspamd's milter_headers module (X-Spamd-Result,
 * X-Spam-Status, X-Spam).  Every text from rspamd is cut to a bound and
 * reduced to printable ASCII (a rewritten Subject: valid UTF-8, written as
 * RFC 2047 encoded words) before it reaches a header or an SMTP reply.
 *
 * The I/O half (rspamd_client.c): one connection per request with a
 * deadline, and the state the status page shows.
 */
#ifndef MAILHUB_TRUST_RSPAMD_H
#define MAILHUB_TRUST_RSPAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/limits.h"

/* rspamd's actions (its docs: "Rspamd actions and scores"). */
enum rspamd_action {
	RSPAMD_NO_ACTION,
	RSPAMD_GREYLIST,
	RSPAMD_ADD_HEADER,
	RSPAMD_REWRITE_SUBJECT,
	RSPAMD_SOFT_REJECT,
	RSPAMD_REJECT,
	RSPAMD_DISCARD,		/* rspamd 1.9: drop silently (we reject instead) */
	RSPAMD_QUARANTINE,	/* rspamd 1.9: hold (we file it in Junk) */
	RSPAMD_CUSTOM,		/* an action of the admin's own: no effect */
};

struct rspamd_symbol {
	char *name;
	double score;
	char **options;
	size_t n_options;
};

/* A /checkv2 reply. */
struct rspamd_result {
	enum rspamd_action action;
	bool skipped;		/* is_skipped: settings skipped the checks */
	double score;
	double required;	/* required_score */
	char *subject;		/* "rewrite subject": the new Subject (UTF-8), or NULL */
	char *message;		/* messages.smtp_message (ASCII), or NULL */
	struct rspamd_symbol *symbols;	/* by |score|, largest first */
	size_t n_symbols;
};

/* Parses the JSON reply of /checkv2 (json[0..len), not NUL-terminated).
 * 0, or -1 with *error_r when it is not a reply (no action or score).
 * The result is the caller's to clear, on failure too. */
int rspamd_reply_parse(const char *json, size_t len, struct rspamd_result *r,
		       const char **error_r);
void rspamd_result_clear(struct rspamd_result *r);

/* "no action", "add header"... as rspamd names them. */
const char *rspamd_action_name(enum rspamd_action a);
/* Whether the action marks the message as spam (into Junk, X-Spam: Yes). */
bool rspamd_action_is_spam(enum rspamd_action a);

/*
 * The verdict on RFC 5235's scales, for Sieve's spamtest and spamtestplus:
 * *value_r 1 to 10 (10: an action that marks spam; else 1 plus the score's
 * share of required_score, at most 9; 1 for a score of 0 or less) and
 * *percent_r 0 to 100 (the score's share of required_score; 100 for an
 * action that marks spam).  0 ("not tested") is never given: a message
 * rspamd did not check has no result.
 */
void rspamd_spamtest(const struct rspamd_result *r, int *value_r, int *percent_r);

/*
 * Appends the header fields for a checked message, each ending in CRLF,
 * folded as rspamd's milter_headers module folds them:
 *
 *	X-Spamd-Result: default: True [12.30 / 15.00];
 *		SYMBOL(5.00)[option,option];
 *		...
 *	X-Spam-Status: Yes, score=12.30
 *	X-Spam: Yes                     (only for spam)
 */
void rspamd_result_headers(const struct rspamd_result *r, struct buf *out);
/* Appends "X-Spam-Status: unchecked (reason)" with CRLF. */
void rspamd_unchecked_header(const char *reason, struct buf *out);
/* Appends "Subject: " and the subject with CRLF: as it is when it is
 * printable ASCII, else as RFC 2047 "B" encoded words of UTF-8 folded on
 * lines of their own (RFC 2047 §2: at most 75 characters a word). */
void rspamd_subject_header(const char *subject, struct buf *out);

/* The envelope of a message, as /checkv2's request headers carry it. */
struct rspamd_request {
	const char *ip;		/* the client's address */
	const char *helo;	/* or NULL */
	const char *from;	/* the envelope sender ("" for <>) */
	const char *const *rcpts;
	size_t n_rcpts;
	const char *user;	/* the authenticated user, or NULL */
	const char *queue_id;	/* or NULL */
	const char *hostname;	/* the client's host name, or NULL (unknown) */
};

/* Appends the request head of POST path (HTTP/1.0, Connection: close)
 * for a body of length bytes: Host, Content-Length, then req's headers
 * (req may be NULL) and Password (may be NULL).  Values are reduced to
 * printable ASCII (a CR or LF would start a header of the caller's). */
void rspamd_request_head(struct buf *out, const char *path, const char *host,
			 unsigned port, const struct rspamd_request *req,
			 const char *password, uint64_t length);

/* The head of an HTTP reply, line by line. */
struct rspamd_http_head {
	unsigned status;	/* 200... */
	char reason[RSPAMD_TEXT_MAX + 1];	/* the status line's text (ASCII) */
	bool have_length;
	uint64_t length;	/* Content-Length */
	bool chunked;		/* a Transfer-Encoding other than identity */
	unsigned lines;
	bool done;		/* the empty line has been seen */
};

void rspamd_http_head_init(struct rspamd_http_head *h);
/* Takes one line of the head (with or without its CRLF).  0, or -1 with
 * *error_r (a malformed status line or header, too many lines). */
int rspamd_http_head_line(struct rspamd_http_head *h, const char *line, size_t len,
			  const char **error_r);

/* The "error" of a controller's JSON reply ({"error":"..."}), printable
 * ASCII and bounded, into out; false when it has none. */
bool rspamd_reply_error(const char *json, size_t len, struct buf *out);

#endif

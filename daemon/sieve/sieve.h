/*
 * sieve: the Sieve mail filtering language (RFC 5228) with the extensions
 * people use: fileinto, reject/ereject (RFC 5429), envelope, imap4flags
 * (RFC 5232), copy (RFC 3894), body (RFC 5173), variables (RFC 5229),
 * relational (RFC 5231), subaddress (RFC 5233), date and index (RFC 5260),
 * regex (draft-ietf-sieve-regex), vacation and vacation-seconds (RFC 5230,
 * RFC 6131), enotify with mailto (RFC 5435, RFC 5436), duplicate (RFC
 * 7352), editheader (RFC 5293), spamtest/virustest (RFC 5235), mailbox
 * (RFC 5490) and encoded-character (RFC 5228 §2.4.2.4).
 *
 * Pure functions: a script is compiled once (sieve_compile) into a tree
 * that is checked completely, with line-numbered errors; running it
 * (sieve_run) over a message and its envelope gives a list of actions and
 * touches nothing.  What the interpreter needs to know of the world
 * (whether a folder exists, whether a duplicate or a vacation reply was
 * seen) comes through callbacks in struct sieve_env; the caller applies
 * the actions (store, queue, reply) and records what must be remembered.
 *
 * The choices follow Dovecot Pigeonhole 0.5 where the RFCs leave room
 * (checked against its sieve-test, tests/integration/test_sieve_pigeonhole.py):
 * default vacation period 7 days, clamped to 1 to 60 days (:seconds too);
 * at most SIEVE_MAX_ACTIONS actions and SIEVE_MAX_REDIRECTS redirects;
 * POSIX extended regular expressions; flags compared without regard to
 * case; the match variables set by the last successful :matches/:regex.
 */
#ifndef MAILHUB_SIEVE_SIEVE_H
#define MAILHUB_SIEVE_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* Runtime limits (Pigeonhole's defaults). */
#define SIEVE_SCRIPT_MAX (1024 * 1024)	/* bytes of a script */
#define SIEVE_MAX_ACTIONS 32
#define SIEVE_MAX_REDIRECTS 4
#define SIEVE_MAX_STEPS 200000		/* commands + tests + matches run */
#define SIEVE_MAX_VARIABLES 255
#define SIEVE_VARIABLE_MAX 4096		/* bytes of one variable's value */
#define SIEVE_NESTING_MAX 32
#define SIEVE_VACATION_DEFAULT (7 * 86400)
#define SIEVE_VACATION_MIN 86400
#define SIEVE_VACATION_MAX (60 * 86400)

struct sieve_script;

/*
 * Compiles script text.  0 and *script_r, or -1 with the errors appended
 * to errors, one a line: "line N: error: text" (as Pigeonhole writes them).
 */
int sieve_compile(const char *text, size_t len, struct sieve_script **script_r,
		  struct buf *errors);
void sieve_script_free(struct sieve_script **script);
/* The extensions the script requires, space separated (for the log). */
const char *sieve_script_requires(const struct sieve_script *script);

/* The space-separated list of extensions that ManageSieve announces. */
extern const char sieve_capability[];

/* What the script runs on. */
struct sieve_env {
	const char *msg;	/* the message as it will be stored (CRLF) */
	size_t msg_len;
	const char *sender;	/* envelope sender; "" for the null sender */
	const char *recipient;	/* the final (user's) address, with its detail */
	const char *orig_recipient;	/* RCPT TO as given; NULL: recipient */
	time_t now;
	int spam_score;		/* spamtest value 0..10 (0: not tested) */
	int spam_percent;	/* :percent value 0..100, -1: not tested */
	int virus_score;	/* virustest 0..5 (0: not tested) */
	/* Whether mailbox exists for the user (mailboxexists, fileinto
	 * without :create); NULL: every name exists. */
	bool (*mailbox_exists)(void *ctx, const char *mailbox);
	/* Whether the duplicate id (a SHA-256 hex of handle and value)
	 * was seen within seconds; NULL: never. */
	bool (*duplicate_seen)(void *ctx, const char *id, unsigned seconds);
	/* Whether a vacation reply for id (SHA-256 hex of the handle and the
	 * sender) went out within seconds; NULL: never. */
	bool (*vacation_seen)(void *ctx, const char *id, unsigned seconds);
	void *ctx;
};

enum sieve_action_kind {
	SIEVE_ACT_KEEP,		/* store in INBOX (explicit keep) */
	SIEVE_ACT_FILEINTO,
	SIEVE_ACT_REDIRECT,
	SIEVE_ACT_DISCARD,
	SIEVE_ACT_REJECT,
	SIEVE_ACT_EREJECT,
	SIEVE_ACT_VACATION,
	SIEVE_ACT_NOTIFY,
};

struct sieve_action {
	enum sieve_action_kind kind;
	char *target;		/* folder, address, or notify method URI */
	char **flags;		/* IMAP flags for keep/fileinto */
	size_t n_flags;
	bool copy, create;
	char *text;		/* reject reason; vacation/notify body */
	/* vacation: the decision and the reply */
	bool send;		/* false: decided not to reply (reason in why) */
	char *why;
	char *reply_to;		/* the address the reply goes to */
	char *reply_from;	/* the envelope sender to use ("" null) */
	char *reply;		/* the whole reply message (CRLF) */
	char id[65];		/* vacation/duplicate memory key */
	unsigned seconds;	/* vacation period */
};

struct sieve_result {
	struct sieve_action *actions;
	size_t n_actions;
	bool implicit_keep;	/* keep in INBOX with implicit_flags */
	char **implicit_flags;
	size_t n_implicit_flags;
	char *header;		/* non-NULL: the header block after editheader
				 * (replaces the message's own; ends with the
				 * empty line) */
	char **duplicates;	/* duplicate ids to remember after delivery */
	unsigned *duplicate_seconds;
	size_t n_duplicates;
	char *error;		/* runtime error: the actions were dropped and
				 * implicit_keep is set (RFC 5228 §2.10.6) */
};

/* Runs the script.  Always fills *r (on a runtime error, r->error says
 * what happened and only the implicit keep is left).  0 or -1 (error). */
int sieve_run(const struct sieve_script *script, const struct sieve_env *env,
	      struct sieve_result *r);
void sieve_result_clear(struct sieve_result *r);

/* Appends one line per action, the form `mailhub sieve test` prints. */
void sieve_result_write(const struct sieve_result *r, struct buf *out);

#endif

/*
 * command: the pure parser of SMTP command lines (RFC 5321 §4.1), with the
 * paths of MAIL and RCPT (§4.1.2: source routes, quoted local parts, address
 * literals; RFC 6531 UTF-8 addresses) and their ESMTP parameters (SIZE
 * RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT
 * RFC 3461, AUTH RFC 4954 §5), and the xtext encoding of RFC 3461 §4.
 *
 * Nothing here touches a socket or the store: every function takes bytes and
 * fills a struct, or returns -1 with *error_r set to a whole SMTP reply line
 * without CRLF ("501 5.1.7 Bad sender address syntax"), which the session
 * writes as it is.  The texts are static strings.
 */
#ifndef MAILHUB_SMTP_COMMAND_H
#define MAILHUB_SMTP_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* RFC 3461 §4.4: ENVID is at most 100 characters (of xtext). */
#define SMTP_ENVID_MAX 100
/* RFC 3461 §4.2: ORCPT's address part is at most 500 characters. */
#define SMTP_ORCPT_MAX 500
/* RFC 4954 §5: the AUTH= parameter of MAIL, an xtext mailbox or "<>". */
#define SMTP_AUTH_PARAM_MAX 500
/* The longest command verb we know ("STARTTLS"), with room to spare. */
#define SMTP_VERB_MAX 16

/* A command line split into its verb and the rest. */
struct smtp_command {
	char verb[SMTP_VERB_MAX + 1];	/* upper-cased */
	const char *args;		/* after the first space, NUL-terminated */
	size_t args_len;
};

/*
 * Splits one command line (as read, with its CRLF) into verb and
 * arguments.  line must be NUL-terminated after len (conn's lines and struct
 * buf are); the CRLF is cut off by writing a NUL over the CR (the line is
 * modified in place).  A line without CRLF, with a bare CR or LF, a NUL
 * byte, or a verb that is not 1..16 letters is refused: -1 and *error_r.
 */
int smtp_command_split(char *line, size_t len, struct smtp_command *cmd_r,
		       const char **error_r);

/* BODY= of MAIL (RFC 6152; BINARYMIME is not offered). */
enum smtp_body {
	SMTP_BODY_UNSPECIFIED,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

/* RET= of MAIL (RFC 3461 §4.3). */
enum smtp_ret {
	SMTP_RET_UNSPECIFIED,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= of RCPT as bits (RFC 3461 §4.1); 0 when not given. */
enum smtp_notify {
	SMTP_NOTIFY_NEVER = 1 << 0,
	SMTP_NOTIFY_SUCCESS = 1 << 1,
	SMTP_NOTIFY_FAILURE = 1 << 2,
	SMTP_NOTIFY_DELAY = 1 << 3,
};

/*
 * A parsed path.  address is the mailbox as the store and the queue take it:
 * "local@domain" with the domain as written (no trailing dot: that is a
 * syntax error) and the local part without quotes when it is a dot-string
 * (RFC 5321 §4.1.2: "bob" and bob are the same mailbox), quoted again
 * (with the needed backslashes) when it is not.  An empty address is the
 * null reverse-path "<>".  The source route (§4.1.1.3 says to ignore it) is
 * dropped; had_route tells that there was one.
 */
struct smtp_path {
	char *address;		/* malloc'd; "" for <> */
	char *local;		/* malloc'd: the local part, unquoted */
	char *domain;		/* malloc'd: the domain or "[literal]"; "" for <> */
	bool quoted;		/* the local part needs quotes (not a dot-string) */
	bool utf8;		/* holds non-ASCII bytes (RFC 6531) */
	bool had_route;		/* a source route "@a,@b:" was given and dropped */
	bool domain_literal;	/* the domain is an address literal */
	bool postmaster;	/* RCPT TO:<Postmaster> without a domain (§4.1.1.3) */
};

struct smtp_mail_args {
	struct smtp_path path;
	uint64_t size;		/* SIZE=, 0 when not given */
	bool size_given;
	enum smtp_body body;
	bool smtputf8;		/* the SMTPUTF8 parameter */
	bool requiretls;	/* RFC 8689 §4.1: the REQUIRETLS parameter */
	enum smtp_ret ret;
	char *envid;		/* ENVID= as sent (xtext, validated), or NULL */
	char *auth;		/* AUTH= as sent (xtext), or NULL */
};

struct smtp_rcpt_args {
	struct smtp_path path;
	unsigned notify;	/* enum smtp_notify bits, 0 when not given */
	char *orcpt;		/* ORCPT= as sent ("rfc822;bob+2B@x"), or NULL */
};

/*
 * Parses the arguments of MAIL ("FROM:<path> params").  smtputf8_allowed is
 * false when the session did not use EHLO.  UTF-8 in the path without the
 * SMTPUTF8 parameter is refused with 553 5.6.7 (RFC 6531 §3.5).  Unknown
 * or repeated parameters: 555 5.5.4 (RFC 5321 §4.1.1.11) / 501 5.5.4.
 * On -1 nothing needs freeing; on 0 free with smtp_mail_args_clear().
 */
int smtp_parse_mail(const char *args, struct smtp_mail_args *r,
		    const char **error_r);
void smtp_mail_args_clear(struct smtp_mail_args *r);

/*
 * Parses the arguments of RCPT ("TO:<path> params").  smtputf8 says whether
 * the transaction's MAIL had SMTPUTF8, which lets UTF-8 into the path.
 * "<Postmaster>" (any case) without a domain is accepted (RFC 5321 §4.1.1.3)
 * and comes back with postmaster set and domain "".
 */
int smtp_parse_rcpt(const char *args, bool smtputf8, struct smtp_rcpt_args *r,
		    const char **error_r);
void smtp_rcpt_args_clear(struct smtp_rcpt_args *r);

/* Parses a path alone ("<...>"), for tests and the fuzzer.  *end_r points
 * after the '>'.  null_ok allows "<>". */
int smtp_parse_path(const char *s, bool null_ok, bool utf8_ok,
		    struct smtp_path *path_r, const char **end_r,
		    const char **error_r);
void smtp_path_clear(struct smtp_path *path);

/* Parses "SIZE [LAST]" of BDAT (RFC 3030 §2). */
int smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r,
		    const char **error_r);

/* Parses "MECHANISM [initial-response]" of AUTH (RFC 4954 §4): *mech_r and
 * *initial_r point into a copy owned by the caller's buf scratch; initial
 * is NULL when absent.  The mechanism is upper-cased. */
int smtp_parse_auth(const char *args, struct buf *scratch, const char **mech_r,
		    const char **initial_r, const char **error_r);

/* Checks the argument of EHLO/HELO: a domain (letters, digits, '-', '_',
 * '.', or UTF-8) or an address literal "[...]" of printable ASCII.  It ends
 * up in the Received header, so nothing else is let through. */
bool smtp_helo_valid(const char *arg);

/* True when s[0..n) is well-formed xtext (RFC 3461 §4: "+" followed by two
 * upper-case hex digits, other bytes 33..126 except '+' and '='). */
bool smtp_xtext_valid(const char *s, size_t n);
/* Appends the decoded xtext to out; 0, or -1 when malformed or past max. */
int smtp_xtext_decode(const char *s, size_t n, struct buf *out);
/* Appends s[0..n) as xtext; 0, or -1 past out's max. */
int smtp_xtext_encode(const void *s, size_t n, struct buf *out);

/* True when s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool smtp_utf8_valid(const void *s, size_t n);

#endif

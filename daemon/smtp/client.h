/*
 * client: the outbound SMTP client of the relay (RFC 5321), as a state
 * machine over one conn, plus its pure reply and EHLO parsers.
 *
 * A struct smtp_client is one connection to one host: smtp_client_open()
 * connects, reads the greeting, says EHLO (HELO when EHLO is refused),
 * does STARTTLS (required or opportunistic) and AUTH PLAIN/LOGIN;
 * smtp_client_send() runs one mail transaction with per-recipient results
 * (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, DSN and CHUNKING/BDAT when the
 * server offers them); the connection can carry several transactions.
 * Every read has the timeout RFC 5321 §4.5.3.2 gives its command.
 *
 * Failures are sorted into kinds (connect, TLS, auth, protocol, remote 4xx,
 * remote 5xx) with the reply or reason in plain words, which the queue
 * stores and the DSNs quote.  The client belongs to one thread.
 */
#ifndef MAILHUB_SMTP_CLIENT_H
#define MAILHUB_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/buf.h"

/* ---- the pure parsers ------------------------------------------------- */

struct smtp_reply {
	unsigned code;		/* 200-599 (a 1xx or out-of-range code is an error) */
	char status[16];	/* RFC 3463 enhanced code of the first line, or "" */
	struct buf text;	/* the text after "ddd-"/"ddd " of each line,
				 * "\n" between lines, at most SMTP_REPLY_TEXT_MAX */
	unsigned lines;
};

/*
 * Parses one complete reply at the start of data[0..len).  Returns 1 with
 * the reply in *reply (cleared first) and *used_r bytes consumed; 0 when the
 * data ends before the reply's last line (feed more, from the start); -1
 * with *error_r when it is malformed (a line without a 3-digit code, codes
 * that differ between lines, a line over SMTP_REPLY_LINE_MAX, more than
 * SMTP_REPLY_LINES_MAX lines).  Lines end in CRLF or a bare LF.
 */
int smtp_reply_parse(const char *data, size_t len, struct smtp_reply *reply,
		     size_t *used_r, const char **error_r);
void smtp_reply_init(struct smtp_reply *reply);
void smtp_reply_free(struct smtp_reply *reply);
/* The reply as one line: "550 5.1.1 first line text second line text". */
void smtp_reply_format(const struct smtp_reply *reply, struct buf *out);

/* What an EHLO reply offers (RFC 5321 §4.1.1.1: keywords after line 1). */
struct smtp_caps {
	bool esmtp;		/* EHLO was accepted */
	bool starttls;		/* RFC 3207 */
	bool pipelining;	/* RFC 2920 */
	bool eightbitmime;	/* RFC 6152 */
	bool smtputf8;		/* RFC 6531 */
	bool requiretls;	/* RFC 8689 */
	bool chunking;		/* RFC 3030 BDAT */
	bool dsn;		/* RFC 3461 */
	bool enhancedstatuscodes; /* RFC 2034 */
	bool size;		/* RFC 1870 */
	uint64_t size_max;	/* 0: no fixed maximum */
	bool auth_plain, auth_login;	/* RFC 4954 */
	bool auth_xoauth2, auth_oauthbearer;	/* RFC 7628 */
};

/* Fills caps from an EHLO reply (keywords are case-insensitive). */
void smtp_caps_parse(const struct smtp_reply *ehlo, struct smtp_caps *caps);

/* ---- the client ------------------------------------------------------- */

enum smtp_client_tls {
	SMTP_TLS_NONE,		/* never (tests, and hosts known not to) */
	SMTP_TLS_OPPORTUNISTIC,	/* STARTTLS when offered, certificate not
				 * checked (RFC 7435: better than plaintext) */
	SMTP_TLS_STARTTLS,	/* STARTTLS required, certificate verified */
	SMTP_TLS_IMPLICIT,	/* TLS from the first byte, verified (RFC 8314) */
};

enum smtp_fail {
	SMTP_FAIL_NONE,
	SMTP_FAIL_CONNECT,	/* no TCP connection, or it broke */
	SMTP_FAIL_TLS,		/* handshake or certificate */
	SMTP_FAIL_AUTH,		/* the server refused our credentials */
	SMTP_FAIL_PROTOCOL,	/* a malformed or unexpected reply, a timeout */
	SMTP_FAIL_TEMP,		/* a 4xx reply */
	SMTP_FAIL_PERM,		/* a 5xx reply, or a permanent condition of ours */
};

/* The outcome of a step, or of one recipient. */
struct smtp_result {
	enum smtp_fail fail;
	unsigned code;		/* the reply code (ours for local reasons), 0: none */
	char *text;		/* "550 5.1.1 <bob@x>: no such user", malloc'd */
	/* A TLS failure as RFC 8460 §4.3 names it ("starttls-not-supported",
	 * "certificate-host-mismatch", "certificate-expired",
	 * "certificate-not-trusted", "validation-failure"), static; NULL for
	 * any other outcome. */
	const char *tls_result;
};

void smtp_result_clear(struct smtp_result *res);
/* A result of our own making (text is formatted into it). */
void smtp_result_set(struct smtp_result *res, enum smtp_fail fail,
		     unsigned code, const char *text);
/* The kind of failure in words: "connection failed", "TLS failed"... */
const char *smtp_fail_name(enum smtp_fail fail);

struct smtp_client_params {
	uint64_t id;		/* for log lines "relay[ID]" */
	const char *host;	/* name for SNI, certificate checks and logs */
	const char *address;	/* IP address to connect to; NULL: host */
	unsigned port;
	const char *helo;	/* our name for EHLO */
	enum smtp_client_tls tls;
	SSL_CTX *tls_ctx;	/* verifying for STARTTLS/IMPLICIT */
	const char *username;	/* NULL: no AUTH */
	const char *password;	/* or, with oauth2, the access token */
	bool oauth2;		/* AUTH OAUTHBEARER or XOAUTH2 */
	/* Called on the SSL right before the handshake (conn_set_tls_setup()):
	 * DANE's TLSA records; NULL: none. */
	int (*tls_setup)(SSL *ssl, void *arg, const char **error_r);
	void *tls_setup_arg;
	/* Timeouts in seconds; 0 takes RFC 5321 §4.5.3.2's value. */
	unsigned connect_timeout;	/* default 60 */
	unsigned command_timeout;	/* greeting, EHLO, MAIL, RCPT: 300 */
	unsigned data_init_timeout;	/* DATA's 354: 120 */
	unsigned data_block_timeout;	/* each block written: 180 */
	unsigned data_term_timeout;	/* the reply to "." or BDAT LAST: 600 */
};

struct smtp_client;

/*
 * Opens a session ready for mail.  NULL on failure, with *res telling
 * which kind (a 4xx or 5xx greeting, a refused STARTTLS when it was
 * required, a TLS or AUTH failure, a timeout).
 */
struct smtp_client *smtp_client_open(const struct smtp_client_params *params,
				     struct smtp_result *res);
/* Sends QUIT (waiting briefly for its reply), closes and frees; NULL ok. */
void smtp_client_close(struct smtp_client **c);
/* What the server offered (after STARTTLS, the second EHLO). */
const struct smtp_caps *smtp_client_caps(const struct smtp_client *c);
bool smtp_client_is_tls(const struct smtp_client *c);
/* True when the session is TLS and the server's certificate passed the
 * context's checks (a verifying context, or DANE). */
bool smtp_client_tls_verified(const struct smtp_client *c);
/* "TLSv1.3" or "none". */
const char *smtp_client_tls_version(const struct smtp_client *c);
/* The socket, for a shutdown(2) from another thread that must end a
 * session stuck on a slow peer (the daemon stopping). */
int smtp_client_fd(const struct smtp_client *c);

/* One mail transaction's envelope (RFC 5321 §3.3). */
struct smtp_envelope {
	const char *sender;		/* "" for the null reverse-path */
	uint64_t size;			/* the message's bytes, for SIZE= */
	bool eightbit;			/* BODY=8BITMIME (RFC 6152) */
	bool smtputf8;			/* needs SMTPUTF8 (RFC 6531) */
	bool requiretls;		/* REQUIRETLS (RFC 8689): the server must offer it */
	const char *ret;		/* "FULL"/"HDRS" or NULL (RFC 3461 §4.3) */
	const char *envid;		/* xtext or NULL (RFC 3461 §4.4) */
	size_t n_rcpts;
	const char *const *rcpts;
	const unsigned *notify;		/* NOTIFY bits per recipient (queue.h), or NULL */
	const char *const *orcpt;	/* ORCPT per recipient (may be NULL entries), or NULL */
};

/*
 * Sends one message: prefix[0..prefix_len) (fields to put first, such as
 * DKIM-Signature, CRLF line ends) and then the message read from fd
 * (fd_size bytes from its current offset; CRLF line ends).  Each
 * recipient's outcome goes to rcpt_res[i] (cleared first): SMTP_FAIL_NONE
 * when the server took the message for it.  Returns 0 when the session
 * can carry another transaction, -1 when it is broken or was closed (then
 * the caller frees it).  A message that needs SMTPUTF8 or is over the
 * server's SIZE fails for every recipient without being sent.
 */
int smtp_client_send(struct smtp_client *c, const struct smtp_envelope *env,
		     const char *prefix, size_t prefix_len, int fd,
		     uint64_t fd_size, struct smtp_result *rcpt_res);

#endif

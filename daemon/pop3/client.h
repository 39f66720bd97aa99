/*
 * pop3/client: the fetcher's POP3 client (RFC 1939, CAPA and its tags from
 * RFC 2449, STLS from RFC 2595, AUTH PLAIN from RFC 5034 / RFC 4616).
 *
 * Two layers.  The response parser (client_parse.c) is pure: it takes one
 * line the server sent and says what it is, so it can be unit tested and
 * fuzzed without a socket.  The client (client.c) is a small state machine
 * over a conn: connect, TLS (implicit or STLS, the certificate checked
 * against the system CA store, a pinned SHA-256 or not at all), CAPA,
 * login, UIDL/STAT, RETR streamed to a caller's writer a line at a time
 * (never a whole message in memory), DELE and QUIT, which commits the
 * deletions (RFC 1939 §6: DELE takes effect only in the UPDATE state).
 * Commands may be pipelined (RFC 2449 §6.6) by sending several before
 * reading their replies.  Every error comes back as plain words for the
 * account's state ("login failed: -ERR [AUTH] Authentication failed").
 */
#ifndef MAILHUB_POP3_CLIENT_H
#define MAILHUB_POP3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/client_conn.h"
#include "store/upstreams.h"

/* A reply line (status or multi-line data) at most this long (RFC 2449
 * §4 allows 512 octets for a status line; we accept more). */
#define POP3C_LINE_MAX 8192
/* A message line: RFC 5322 asks for at most 998 octets, real mail has
 * longer ones; past this the message is refused as broken. */
#define POP3C_BODY_LINE_MAX (1024 * 1024)
/* A UIDL is 1-70 characters 0x21-0x7E (RFC 1939 §7). */
#define POP3C_UIDL_MAX 70
/* Messages in one maildrop listing we accept. */
#define POP3C_MESSAGES_MAX 1000000

/* ---- pure parser (client_parse.c) -------------------------------------- */

/* line[0..len) is a status line (its CRLF may be included): 1 for +OK, 0
 * for -ERR, -1 when it is neither.  text_r and text_len_r: what follows. */
int pop3c_parse_status(const char *line, size_t len, const char **text_r,
		       size_t *text_len_r);
/* A line of a multi-line reply with its terminator: 1 when it is the
 * terminating ".", else 0 and data_r, data_len_r the line with its dot
 * stuffing undone and without its line end (RFC 1939 §3). */
int pop3c_unstuff_line(const char *line, size_t len, const char **data_r,
		       size_t *data_len_r);
/* "N UID" of a UIDL listing (without line end): 0, or -1 when malformed. */
int pop3c_parse_uidl(const char *line, size_t len, uint32_t *msgno_r,
		     const char **uidl_r, size_t *uidl_len_r);
/* "N M": a LIST line, or the text of the STAT reply; 0 or -1. */
int pop3c_parse_pair(const char *line, size_t len, uint32_t *a_r, uint64_t *b_r);
/* CAPA capabilities from one capability line. */
enum pop3c_cap {
	POP3C_CAP_STLS = 1 << 0,
	POP3C_CAP_UIDL = 1 << 1,
	POP3C_CAP_PIPELINING = 1 << 2,
	POP3C_CAP_SASL_PLAIN = 1 << 3,
	POP3C_CAP_USER = 1 << 4,
	POP3C_CAP_SASL_XOAUTH2 = 1 << 5,
	POP3C_CAP_SASL_OAUTHBEARER = 1 << 6,	/* RFC 7628 */
};
unsigned pop3c_parse_capa(const char *line, size_t len);

/* ---- client (client.c) --------------------------------------------------- */

struct pop3_client;

/* A message of the maildrop. */
struct pop3c_message {
	uint32_t msgno;
	char *uidl;		/* NULL when the server has no UIDL */
};

/* Writer for a message body: called with each line (line end CRLF). */
typedef int pop3c_write_fn(void *ctx, const void *p, size_t n, const char **error_r);

/*
 * Connects to set->host:port as params say (timeouts, the addresses it may
 * reach: client_conn.h), does TLS as set->tls and set->tls_verify say,
 * reads the greeting, CAPA, STLS, and logs in (AUTH PLAIN when offered, else
 * USER/PASS).  *error_r says which step failed and why, in plain words: the
 * server's own text is logged, never put in it.
 */
int pop3_client_open(const struct upstream_settings *set, const char *password,
		     const struct client_conn_params *params, uint64_t log_id,
		     struct pop3_client **c_r, const char **error_r);
/* Sends QUIT (without waiting: nothing is deleted) and closes; NULL ok. */
void pop3_client_free(struct pop3_client **c);
unsigned pop3_client_caps(const struct pop3_client *c);
/* The SHA-256 of the server's certificate (hex), "" without TLS. */
const char *pop3_client_cert_sha256(const struct pop3_client *c);
const char *pop3_client_tls_version(const struct pop3_client *c);

/* The messages of the maildrop: UIDL, or when the server has none (-ERR),
 * STAT with every uidl NULL. */
int pop3_client_list(struct pop3_client *c, struct pop3c_message **msgs_r,
		     size_t *n_r, const char **error_r);
void pop3c_messages_free(struct pop3c_message **msgs, size_t n);

/* Queues "RETR msgno" (sent with the next read; pipelining). */
int pop3_client_retr_send(struct pop3_client *c, uint32_t msgno);
/* Reads the reply of the oldest RETR sent: the message goes to write a line
 * at a time.  A failed write is drained to the terminator (the session
 * stays in step) and reported.  -1 with *error_r on any failure. */
int pop3_client_retr_read(struct pop3_client *c, pop3c_write_fn *write,
			  void *ctx, const char **error_r);
/* Queues "DELE msgno"; pop3_client_status_read reads its reply. */
int pop3_client_dele_send(struct pop3_client *c, uint32_t msgno);
int pop3_client_status_read(struct pop3_client *c, const char *what,
			    const char **error_r);
/* QUIT and its +OK: the server removes the deleted messages now (without
 * the +OK, *error_r says the deletions are not confirmed). */
int pop3_client_quit(struct pop3_client *c, const char **error_r);

#endif

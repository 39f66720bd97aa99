/*
 * conn: one network connection, plain or TLS, with buffered blocking I/O.
 *
 * Every read has a deadline (conn_set_timeout); output is buffered and
 * flushed before any read that has to wait for the peer (so pipelined
 * replies go out in one write) and by conn_flush().  A conn belongs to one
 * thread.  Sessions read lines with a maximum length and bodies as N bytes.
 *
 * Stopping: a server's conns are given the listener's stop descriptor,
 * which becomes readable (and stays so) when the daemon stops.  Reads that
 * wait for a peer's next command (conn_read_command()), conn_wait() and
 * the server side TLS handshake return as soon as it is readable, so an
 * idle session can say goodbye at once; every other read ignores it (a
 * transaction under way goes on until the listener cuts it).
 *
 * STARTTLS: conn_starttls_server() throws away whatever plaintext the peer
 * sent after the STARTTLS command and that is already buffered, before the
 * handshake, so nothing injected in plaintext is ever taken as encrypted
 * input (the CVE-2011-0411 class).
 */
#ifndef MAILHUB_CORE_CONN_H
#define MAILHUB_CORE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "core/buf.h"

struct conn;

/* Results of the read functions (besides a positive count). */
enum conn_result {
	CONN_OK = 1,
	CONN_EOF = 0,		/* the peer closed the connection */
	CONN_ERROR = -1,	/* I/O or TLS error, or the deadline passed */
	CONN_TOOLONG = -2,	/* line over the limit; skipped through its LF */
	CONN_STOPPED = -3,	/* the daemon is stopping (conn_read_command) */
};

/* Wraps an accepted or connected socket (takes ownership of fd, and makes
 * it non-blocking: all waiting is done with poll() and the deadline).
 * id is a small number for log prefixes ("smtp[12]"); 0 picks the next one. */
struct conn *conn_new(int fd, uint64_t id);
/* Sends what is still buffered (waiting at most 10 s), closes the connection
 * (TLS close_notify, then close) and frees it; NULL ok. */
void conn_free(struct conn **c);

/* Resolves host:port for a TCP connection (getaddrinfo, any family): 0 and
 * the list in *res_r (freeaddrinfo it), or -1 with *error_r in plain words
 * ("no such host", "temporary failure in name resolution"). */
struct addrinfo;
int conn_resolve(const char *host, unsigned port, struct addrinfo **res_r,
		 const char **error_r);
/* Opens a TCP connection to host:port (name resolved with conn_resolve,
 * each address tried in turn) within timeout_ms.  On error *error_r says
 * why in plain words ("connection refused", "timed out", "no such host"). */
struct conn *conn_connect(const char *host, unsigned port, int timeout_ms,
			  const char **error_r);

/* Deadline for each read and write, in milliseconds (default 300000; < 0:
 * none).  conn_read_line() must have its whole line within the deadline (a
 * peer cannot trickle a line in forever); conn_read(), conn_read_exact() and
 * flushing restart it whenever bytes move, so big bodies are not cut off. */
void conn_set_timeout(struct conn *c, int timeout_ms);
int conn_get_timeout(const struct conn *c);
/* An end for the whole connection, timeout_ms from now (< 0: none, the
 * default): no read, write, handshake or conn_wait() waits past it, however
 * often bytes move, so a peer that trickles cannot stretch a short exchange
 * (an upstream connection test) beyond it. */
void conn_set_deadline(struct conn *c, int timeout_ms);

/*
 * Reads one line ending in LF.  On CONN_OK, *line_r points at the line with
 * its terminator (LF or CRLF) inside the conn's buffer, valid until the next
 * read or conn_wait() on c, and *len_r counts the terminator (the line is
 * not NUL-terminated).  A line longer than max bytes (terminator included)
 * is consumed through its LF and CONN_TOOLONG is returned, so the session
 * stays in step; memory stays bounded by max.  At EOF with a partial line,
 * the partial line is discarded and CONN_EOF returned.
 */
enum conn_result conn_read_line(struct conn *c, size_t max,
				const char **line_r, size_t *len_r);
/* conn_read_line() for a session waiting for the peer's next command: it
 * returns CONN_STOPPED instead when the stop descriptor is readable, while
 * it waits, or when it is called (whatever is buffered: no new command
 * starts once the daemon is stopping; with commands buffered back to back
 * the descriptor is looked at every 100 ms, and always once it was seen
 * readable). */
enum conn_result conn_read_command(struct conn *c, size_t max,
				   const char **line_r, size_t *len_r);
/* The descriptor that becomes readable when the daemon stops (-1: none,
 * the default); the caller keeps it open as long as c lives. */
void conn_set_stop_fd(struct conn *c, int fd);
/* True when the stop descriptor is readable. */
bool conn_stop_requested(const struct conn *c);
/*
 * Reads one line ending in LF as conn_read_line() does, except that a line
 * longer than max bytes comes in pieces of max bytes (the last piece ends
 * with the LF) instead of being skipped: for readers that must see every
 * byte to stay in step, such as the SMTP DATA reader, which may only take
 * CRLF "." CRLF as the end whatever the length of the line before it.
 * CONN_OK with the piece in *p_r (valid as for conn_read_line()),
 * CONN_EOF or CONN_ERROR.  The deadline covers one piece.
 */
enum conn_result conn_read_line_part(struct conn *c, size_t max,
				     const char **p_r, size_t *len_r);
/* Reads up to n bytes (at least 1 unless EOF/error); returns the count,
 * 0 at EOF, -1 on error. */
ssize_t conn_read(struct conn *c, void *p, size_t n);
/* Reads exactly n bytes into p; CONN_OK, CONN_EOF (short) or CONN_ERROR. */
enum conn_result conn_read_exact(struct conn *c, void *p, size_t n);
/* Bytes already read from the peer and buffered, not yet consumed. */
size_t conn_pending(const struct conn *c);

/* Buffers output; 0 or -1 when the connection is already broken.
 * Writes to a peer that has gone away fail (EPIPE) without SIGPIPE.
 * Output over 64 KiB is flushed as it goes. */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_puts(struct conn *c, const char *s);
int conn_printf(struct conn *c, const char *fmt, ...) MH_PRINTF(2, 3);
/* Sends all buffered output within the deadline; 0 or -1. */
int conn_flush(struct conn *c);

/*
 * Waits until the peer has sent something (or buffered input exists), or
 * extra_fd (if >= 0) becomes readable, or timeout_ms passes, or the stop
 * descriptor becomes readable.  Flushes output first.  Returns 1 when the
 * peer has data (or closed), 2 when extra_fd is readable, 0 on timeout or
 * stop (conn_stop_requested() tells them apart), -1 on error; timeout_ms 0
 * only checks, < 0 waits without limit.  For IMAP IDLE.
 */
int conn_wait(struct conn *c, int extra_fd, int timeout_ms);

/* Server side TLS: implicit (right after accept) or after STARTTLS.  The
 * plaintext input buffer is emptied first (see above).  Returns 0 or -1. */
int conn_starttls_server(struct conn *c, SSL_CTX *ctx, const char **error_r);
/* Client side TLS with SNI and hostname verification when ctx verifies. */
int conn_starttls_client(struct conn *c, SSL_CTX *ctx, const char *sni_host,
			 const char **error_r);
/* A function conn_starttls_client() calls on the new SSL right before the
 * handshake (after SNI and the host name check are set), for what the
 * caller adds: DANE's TLSA records (RFC 7672).  0, or -1 with *error_r to
 * give up the handshake. */
typedef int conn_tls_setup_fn(SSL *ssl, void *arg, const char **error_r);
void conn_set_tls_setup(struct conn *c, conn_tls_setup_fn *fn, void *arg);

bool conn_is_tls(const struct conn *c);
/* RFC 4978 COMPRESS=DEFLATE: sends what is buffered as it is, then
 * deflates both directions from here on (over TLS when it is on).
 * 0, or -1 with *error_r. */
int conn_compress_start(struct conn *c, const char **error_r);
bool conn_is_compressed(const struct conn *c);
/* "TLSv1.3" or "none". */
const char *conn_tls_version(const struct conn *c);
/* "TLS_AES_256_GCM_SHA384" or "none". */
const char *conn_tls_cipher(const struct conn *c);
/* SHA-256 of the peer's certificate (DER) as 64 lowercase hex digits plus
 * NUL into out; 0, or -1 when there is no TLS or no certificate.  On the
 * client side it is there after a handshake that failed the verification
 * too (the certificate the server presented). */
int conn_peer_cert_sha256(const struct conn *c, char out[65]);
/* The verification result of the peer certificate (X509_V_OK when good). */
long conn_verify_result(const struct conn *c);
/* The TLS channel binding of type "tls-exporter" (RFC 9266: TLS 1.3, or
 * TLS 1.2 with the extended master secret) or "tls-unique" (RFC 5929 §3:
 * TLS 1.2 and older only) into out[0..64), length in *len_r.  -1 when the
 * connection is not TLS or the type is not sound for its TLS version. */
int conn_channel_binding(const struct conn *c, const char *type,
			 unsigned char out[64], size_t *len_r);

/* Why the last read, write or handshake failed, in plain words ("timed out",
 * "connection reset", an OpenSSL reason); valid until the next call on c. */
const char *conn_error(const struct conn *c);

/* The peer's address as text ("192.0.2.4", "2001:db8::1"; IPv4-mapped IPv6
 * addresses as IPv4; "unix" for a local socket), local address, ports. */
const char *conn_peer_ip(const struct conn *c);
unsigned conn_peer_port(const struct conn *c);
const char *conn_local_ip(const struct conn *c);
unsigned conn_local_port(const struct conn *c);
/* True when the peer is 127.0.0.0/8 or ::1 (or ::ffff:127.x), or the
 * socket is a local (AF_UNIX) one. */
bool conn_is_loopback(const struct conn *c);
uint64_t conn_id(const struct conn *c);
int conn_fd(const struct conn *c);

#endif

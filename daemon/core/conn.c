#include "core/conn.h"
#include "core/conn_deflate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/tls.h"

#define CONN_DEFAULT_TIMEOUT_MS 300000
/* Output is sent once this much is buffered (see conn.h). */
#define CONN_WRITE_MAX 65536
/* An output buffer larger than this is freed once it has been sent, so an
 * idle connection holds no big buffers. */
#define CONN_OUT_KEEP 1024
/* conn_free() waits at most this long to send what is still buffered. */
#define CONN_FREE_FLUSH_MS 10000

/* Why the last operation failed, for conn_error(). */
enum conn_err {
	CONN_ERR_NONE,
	CONN_ERR_TIMEOUT,
	CONN_ERR_ERRNO,
	CONN_ERR_TLS,
	CONN_ERR_EOF,
};

struct conn {
	int fd;
	uint64_t id;
	int timeout_ms;
	int64_t end_ms;		/* conn_set_deadline(): no wait past it; -1: none */
	SSL *ssl;
	struct conn_deflate *z;	/* COMPRESS=DEFLATE, over ssl or the socket */
	/* Input: unconsumed bytes are in.data[in_pos..in.len).  The storage is
	 * freed whenever it is empty and we are about to wait for the peer. */
	struct buf in;
	size_t in_pos;
	/* Output: unsent bytes are out.data[out_pos..out.len). */
	struct buf out;
	size_t out_pos;
	int stop_fd;	/* readable once the daemon stops; -1: none */
	/* read_line(): when stop_fd was last polled before a command, and
	 * whether the stop was seen (then it is not polled again) */
	int64_t stop_checked_ms;
	bool stop_seen;
	bool eof;	/* the peer closed its side */
	bool broken;	/* an error happened: no more I/O */
	bool loopback;
	enum conn_err err;
	int err_errno;
	const char *err_tls;	/* static OpenSSL reason text */
	unsigned peer_port, local_port;
	char peer_ip[INET6_ADDRSTRLEN];
	char local_ip[INET6_ADDRSTRLEN];
	conn_tls_setup_fn *tls_setup;	/* conn_set_tls_setup() */
	void *tls_setup_arg;
};

static atomic_uint_fast64_t conn_next_id;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What wait_fd() saw besides readiness (1), a timeout (0), an error (-1). */
#define WAIT_STOPPED 2

/* Waits until fd has one of events or deadline passes (deadline < 0: never),
 * or stop_fd (-1: none) is readable.  1 ready (or hung up: the next I/O call
 * says what happened), 0 timeout, -1 error, WAIT_STOPPED. */
static int
wait_fd(int fd, short events, int stop_fd, int64_t deadline)
{
	for (;;) {
		int ms = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return 0;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd p[2] = {
			{ .fd = fd, .events = events },
			{ .fd = stop_fd, .events = POLLIN },
		};
		int r = poll(p, stop_fd >= 0 ? 2 : 1, ms);
		if (r > 0)
			return stop_fd >= 0 && p[1].revents != 0 ? WAIT_STOPPED : 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int64_t
deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* The deadline of one wait: timeout_ms from now, but never past the end
 * the connection was given (conn_set_deadline). */
static int64_t
io_deadline(const struct conn *c, int timeout_ms)
{
	int64_t d = deadline_after(timeout_ms);
	if (c->end_ms >= 0 && (d < 0 || d > c->end_ms))
		d = c->end_ms;
	return d;
}

static void
set_errno_error(struct conn *c, int e)
{
	c->err = CONN_ERR_ERRNO;
	c->err_errno = e;
	c->broken = true;
}

static void
set_timeout_error(struct conn *c)
{
	c->err = CONN_ERR_TIMEOUT;
	c->broken = true;
}

/* Records the OpenSSL reason of a failed call (and clears the queue). */
static void
set_tls_error(struct conn *c, int ssl_error)
{
	unsigned long e = ERR_peek_error();

	if (ssl_error == SSL_ERROR_SYSCALL && e == 0) {
		if (errno != 0)
			set_errno_error(c, errno);
		else {
			c->err = CONN_ERR_EOF;
			c->broken = true;
		}
		return;
	}
	c->err = CONN_ERR_TLS;
	c->err_tls = e != 0 && !ERR_SYSTEM_ERROR(e) ? ERR_reason_error_string(e) : NULL;
	if (c->err_tls == NULL)
		c->err_tls = "TLS protocol error";
	ERR_clear_error();
	c->broken = true;
}

/* Formats a socket address; IPv4-mapped IPv6 addresses come out as IPv4. */
static void
format_addr(const struct sockaddr_storage *ss, socklen_t len, char *ip,
	    size_t ip_size, unsigned *port_r, bool *loopback_r)
{
	*port_r = 0;
	*loopback_r = false;
	if (len == 0 || ss->ss_family == AF_UNIX) {
		/* a socketpair or a local socket: on this machine by definition */
		snprintf(ip, ip_size, "unix");
		*loopback_r = true;
		return;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)ip_size);
		*port_r = ntohs(sin->sin_port);
		*loopback_r = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		return;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		*port_r = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, a + 12, ip, (socklen_t)ip_size);
			*loopback_r = a[12] == 127;
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)ip_size);
			*loopback_r = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
		return;
	}
	snprintf(ip, ip_size, "unknown");
}

struct conn *
conn_new(int fd, uint64_t id)
{
	struct conn *c = xcalloc(1, sizeof *c);
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	c->fd = fd;
	c->id = id != 0 ? id : atomic_fetch_add(&conn_next_id, 1) + 1;
	c->timeout_ms = CONN_DEFAULT_TIMEOUT_MS;
	c->end_ms = -1;
	c->stop_fd = -1;
	buf_init(&c->in, 0);
	buf_init(&c->out, 0);

	/* All I/O is non-blocking with poll() and a deadline. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);

	len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		len = 0;
	format_addr(&ss, len, c->peer_ip, sizeof c->peer_ip, &c->peer_port, &c->loopback);
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		/* whole replies are written at once: no need for Nagle's delay */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	bool local_loop;
	len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		len = 0;
	format_addr(&ss, len, c->local_ip, sizeof c->local_ip, &c->local_port, &local_loop);
	return c;
}

void
conn_free(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	if (!c->broken && c->out.len > c->out_pos) {
		int t = c->timeout_ms;
		if (t < 0 || t > CONN_FREE_FLUSH_MS)
			c->timeout_ms = CONN_FREE_FLUSH_MS;
		(void)conn_flush(c);
	}
	if (c->ssl != NULL) {
		/* one close_notify, without waiting for the peer's */
		if (!c->broken)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	conn_deflate_free(&c->z);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	*cp = NULL;
}

static const char *
connect_error_words(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "connection refused";
	case ETIMEDOUT:
		return "timed out";
	case ENETUNREACH:
		return "network unreachable";
	case EHOSTUNREACH:
		return "host unreachable";
	case ECONNRESET:
		return "connection reset";
	case EADDRNOTAVAIL:
		return "address not available";
	default:
		return errfmt("%s", strerror(e));
	}
}

/* One address: 0 and *fd_r, or an errno value. */
static int
connect_one(const struct addrinfo *ai, int timeout_ms, int *fd_r)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			int e = errno;
			close(fd);
			return e;
		}
		int w = wait_fd(fd, POLLOUT, -1, deadline_after(timeout_ms));
		if (w <= 0) {
			int e = w == 0 ? ETIMEDOUT : errno;
			close(fd);
			return e;
		}
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			close(fd);
			return soerr;
		}
	}
	*fd_r = fd;
	return 0;
}

int
conn_resolve(const char *host, unsigned port, struct addrinfo **res_r, const char **error_r)
{
	struct addrinfo hints;
	char portstr[16];

	*res_r = NULL;
	if (host == NULL || *host == '\0' || port == 0 || port > 65535) {
		*error_r = "invalid host or port";
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", port);
	int gr = getaddrinfo(host, portstr, &hints, res_r);
	if (gr == 0)
		return 0;
	*res_r = NULL;
	switch (gr) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
	case EAI_FAMILY:
		*error_r = "no such host";
		break;
	case EAI_AGAIN:
		*error_r = "temporary failure in name resolution";
		break;
	default:
		*error_r = errfmt("name resolution failed: %s", gai_strerror(gr));
		break;
	}
	return -1;
}

struct conn *
conn_connect(const char *host, unsigned port, int timeout_ms, const char **error_r)
{
	struct addrinfo *res = NULL;

	if (conn_resolve(host, port, &res, error_r) < 0)
		return NULL;
	/* Each address in turn, each with the whole timeout (as MTAs do), so
	 * one unreachable IPv6 address does not use up the time of the rest. */
	int last = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = -1;
		last = connect_one(ai, timeout_ms, &fd);
		if (last == 0) {
			freeaddrinfo(res);
			return conn_new(fd, 0);
		}
	}
	freeaddrinfo(res);
	*error_r = connect_error_words(last);
	return NULL;
}

void
conn_set_stop_fd(struct conn *c, int fd)
{
	c->stop_fd = fd;
}

bool
conn_stop_requested(const struct conn *c)
{
	if (c->stop_fd < 0)
		return false;
	struct pollfd p = { .fd = c->stop_fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

void
conn_set_timeout(struct conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

int
conn_get_timeout(const struct conn *c)
{
	return c->timeout_ms;
}

void
conn_set_deadline(struct conn *c, int timeout_ms)
{
	c->end_ms = deadline_after(timeout_ms);
}

/*
 * One non-blocking read into p: a count, 0 at EOF, -1 on error, or -2 when
 * it would block, with *events_r saying what to wait for (TLS may need to
 * write in order to read).
 */
static ssize_t
raw_read(struct conn *c, void *p, size_t n, short *events_r)
{
	if (c->ssl == NULL) {
		for (;;) {
			ssize_t r = recv(c->fd, p, n, 0);
			if (r >= 0)
				return r;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*events_r = POLLIN;
				return -2;
			}
			set_errno_error(c, errno);
			return -1;
		}
	}
	size_t got = 0;
	ERR_clear_error();
	errno = 0;
	int r = SSL_read_ex(c->ssl, p, n, &got);
	if (r == 1)
		return (ssize_t)got;
	int e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		*events_r = POLLIN;
		return -2;
	case SSL_ERROR_WANT_WRITE:
		*events_r = POLLOUT;
		return -2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		set_tls_error(c, e);
		return -1;
	}
}

/* One non-blocking write; like raw_read. */
static ssize_t
raw_write(struct conn *c, const void *p, size_t n, short *events_r)
{
	if (c->ssl == NULL) {
		for (;;) {
			ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r >= 0)
				return r;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*events_r = POLLOUT;
				return -2;
			}
			set_errno_error(c, errno);
			return -1;
		}
	}
	size_t done = 0;
	ERR_clear_error();
	errno = 0;
	int r = SSL_write_ex(c->ssl, p, n, &done);
	if (r == 1)
		return (ssize_t)done;
	int e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		*events_r = POLLIN;
		return -2;
	case SSL_ERROR_WANT_WRITE:
		*events_r = POLLOUT;
		return -2;
	default:
		set_tls_error(c, e);
		return -1;
	}
}

/* Waits until the transport can take or give bytes (ev); 0 or -1. */
static int
wait_io(struct conn *c, short ev)
{
	int w = wait_fd(c->fd, ev, -1, io_deadline(c, c->timeout_ms));
	if (w == 0) {
		set_timeout_error(c);
		return -1;
	}
	if (w < 0) {
		set_errno_error(c, errno);
		return -1;
	}
	return 0;
}

/* flush_out() of a compressed connection: the plain bytes are deflated,
 * then the compressed ones sent. */
static int
flush_deflate(struct conn *c)
{
	if (c->out_pos < c->out.len)
		conn_deflate_deflate(c->z, c->out.data + c->out_pos,
				     c->out.len - c->out_pos);
	buf_reset(&c->out);
	c->out_pos = 0;
	for (;;) {
		size_t n;
		const char *p = conn_deflate_out(c->z, &n);
		if (n == 0)
			return 0;
		short ev = 0;
		ssize_t r = raw_write(c, p, n, &ev);
		if (r > 0)
			conn_deflate_sent(c->z, (size_t)r);
		else if (r == -1 || wait_io(c, ev) < 0)
			return -1;
	}
}

/* fill_once() of a compressed connection: inflates what has come, reading
 * the transport when that is not enough for a byte. */
static ssize_t
fill_deflate(struct conn *c, short *events_r)
{
	for (;;) {
		if (conn_deflate_has_input(c->z)) {
			char *dst = buf_reserve(&c->in, CONN_READ_CHUNK);
			if (dst == NULL)
				panic("conn: input buffer without limit refused to grow");
			ssize_t n = conn_deflate_inflate(c->z, dst, CONN_READ_CHUNK);
			if (n < 0) {
				set_errno_error(c, EPROTO);
				return -1;
			}
			if (n > 0) {
				buf_commit(&c->in, (size_t)n);
				return n;
			}
		}
		size_t room;
		void *dst = conn_deflate_in_space(c->z, &room);
		ssize_t r = raw_read(c, dst, room, events_r);
		if (r <= 0) {
			if (r == 0)
				c->eof = true;
			return r;
		}
		conn_deflate_commit(c->z, (size_t)r);
	}
}

int
conn_compress_start(struct conn *c, const char **error_r)
{
	if (c->z != NULL) {
		*error_r = "compression is active already";
		return -1;
	}
	/* what was written so far goes out as it is (the OK of COMPRESS) */
	if (conn_flush(c) < 0) {
		*error_r = "write failed";
		return -1;
	}
	c->z = conn_deflate_new();
	if (c->z == NULL) {
		*error_r = "zlib cannot start";
		return -1;
	}
	/* bytes after the command are the peer's first compressed ones */
	if (c->in_pos < c->in.len)
		conn_deflate_feed(c->z, c->in.data + c->in_pos, c->in.len - c->in_pos);
	c->in_pos = 0;
	buf_reset(&c->in);
	return 0;
}

bool
conn_is_compressed(const struct conn *c)
{
	return c->z != NULL;
}

/* Sends all buffered output; the deadline restarts whenever bytes leave, so
 * a slow but moving peer is not cut off.  0 or -1. */
static int
flush_out(struct conn *c)
{
	if (c->z != NULL)
		return flush_deflate(c);
	while (c->out_pos < c->out.len) {
		short ev = 0;
		ssize_t r = raw_write(c, c->out.data + c->out_pos, c->out.len - c->out_pos, &ev);
		if (r > 0) {
			c->out_pos += (size_t)r;
			continue;
		}
		if (r == -1 || wait_io(c, ev) < 0)
			return -1;
	}
	if (c->out.cap > CONN_OUT_KEEP)
		buf_free(&c->out);
	else
		buf_reset(&c->out);
	c->out_pos = 0;
	return 0;
}

int
conn_flush(struct conn *c)
{
	if (c->broken)
		return -1;
	return flush_out(c);
}

/* Moves unconsumed input to the front of the buffer. */
static void
compact_in(struct conn *c)
{
	if (c->in_pos == 0)
		return;
	if (c->in_pos >= c->in.len)
		buf_reset(&c->in);
	else
		buf_consume(&c->in, c->in_pos);
	c->in_pos = 0;
}

/*
 * One non-blocking attempt to add peer bytes to the input buffer: a count,
 * 0 at EOF, -1 on error, -2 when it would block (*events_r set).
 */
static ssize_t
fill_once(struct conn *c, short *events_r)
{
	if (c->broken)
		return -1;
	if (c->eof)
		return 0;
	compact_in(c);
	if (c->z != NULL)
		return fill_deflate(c, events_r);
	char *dst = buf_reserve(&c->in, CONN_READ_CHUNK);
	if (dst == NULL)
		panic("conn: input buffer without limit refused to grow");
	ssize_t r = raw_read(c, dst, CONN_READ_CHUNK, events_r);
	if (r > 0) {
		buf_commit(&c->in, (size_t)r);
		return r;
	}
	if (r == 0)
		c->eof = true;
	return r;
}

/* What fill() returns when the daemon stops while it waits (stoppable). */
#define FILL_STOPPED (-3)

/*
 * Reads more from the peer, waiting until deadline (or, when stoppable,
 * until the stop descriptor is readable: FILL_STOPPED).  Before it waits it
 * sends the buffered output (the peer may be waiting for it) and, when no
 * input is left, frees the input buffer so an idle connection holds no
 * buffers.
 */
static ssize_t
fill(struct conn *c, int64_t deadline, bool stoppable)
{
	for (;;) {
		short ev = 0;
		ssize_t r = fill_once(c, &ev);
		if (r != -2)
			return r;
		if (c->out_pos < c->out.len && flush_out(c) < 0)
			return -1;
		if (c->in.len == 0)
			buf_free(&c->in);
		int w = wait_fd(c->fd, ev, stoppable ? c->stop_fd : -1, deadline);
		if (w == WAIT_STOPPED)
			return FILL_STOPPED;
		if (w == 0) {
			set_timeout_error(c);
			return -1;
		}
		if (w < 0) {
			set_errno_error(c, errno);
			return -1;
		}
	}
}

/* Whether a command read polls the stop descriptor first: at most every
 * CONN_STOP_CHECK_MS (one poll() per command was a tenth of a busy IMAP
 * session's system calls), always once the stop was seen.  A read that
 * has to wait polls it anyway, so only a client whose commands are already
 * buffered runs on, that long at most, before it is told goodbye. */
#define CONN_STOP_CHECK_MS 100

static bool
stop_check_due(struct conn *c)
{
	if (c->stop_fd < 0)
		return false;
	if (c->stop_seen)
		return true;
	int64_t now = now_ms();
	if (c->stop_checked_ms != 0 && now - c->stop_checked_ms < CONN_STOP_CHECK_MS &&
	    now >= c->stop_checked_ms)
		return false;
	c->stop_checked_ms = now;
	return true;
}

/* conn_read_line(); conn_read_command() when stoppable; with pieces,
 * conn_read_line_part(). */
static enum conn_result
read_line(struct conn *c, size_t max, bool stoppable, bool pieces,
	  const char **line_r,
	  size_t *len_r)
{
	int64_t deadline = io_deadline(c, c->timeout_ms);
	bool skipping = false;
	size_t scanned = 0;

	*line_r = NULL;
	*len_r = 0;
	if (stoppable && stop_check_due(c) && conn_stop_requested(c)) {
		c->stop_seen = true;
		return CONN_STOPPED;
	}
	if (max == 0)
		max = 1;
	for (;;) {
		size_t avail = c->in.len - c->in_pos;
		const char *start = c->in.data != NULL ? c->in.data + c->in_pos : NULL;
		/* in pieces, nothing past the first max bytes is looked at */
		size_t look = pieces && avail > max ? max : avail;
		const char *lf = NULL;
		if (look > scanned)
			lf = memchr(start + scanned, '\n', look - scanned);
		if (lf != NULL || (pieces && avail >= max)) {
			size_t len = lf != NULL ? (size_t)(lf - start) + 1 : max;
			c->in_pos += len;
			if (skipping || len > max)
				return CONN_TOOLONG;
			*line_r = start;
			*len_r = len;
			return CONN_OK;
		}
		if (avail >= max) {
			/* Too long already: drop what we have, keep reading to the
			 * LF without storing, so memory stays bounded by max. */
			skipping = true;
			c->in_pos = c->in.len;
			scanned = 0;
		} else {
			scanned = avail;
		}
		ssize_t r = fill(c, deadline, stoppable);
		if (r == 0) {
			c->in_pos = c->in.len;
			return CONN_EOF;
		}
		if (r == FILL_STOPPED) {
			c->stop_seen = true;
			return CONN_STOPPED;
		}
		if (r < 0)
			return CONN_ERROR;
	}
}

enum conn_result
conn_read_line(struct conn *c, size_t max, const char **line_r, size_t *len_r)
{
	return read_line(c, max, false, false, line_r, len_r);
}

enum conn_result
conn_read_command(struct conn *c, size_t max, const char **line_r, size_t *len_r)
{
	return read_line(c, max, true, false, line_r, len_r);
}

enum conn_result
conn_read_line_part(struct conn *c, size_t max, const char **p_r, size_t *len_r)
{
	return read_line(c, max, false, true, p_r, len_r);
}

ssize_t
conn_read(struct conn *c, void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (c->in_pos == c->in.len) {
		ssize_t r = fill(c, io_deadline(c, c->timeout_ms), false);
		if (r <= 0)
			return r;
	}
	size_t avail = c->in.len - c->in_pos;
	size_t k = avail < n ? avail : n;
	memcpy(p, c->in.data + c->in_pos, k);
	c->in_pos += k;
	return (ssize_t)k;
}

enum conn_result
conn_read_exact(struct conn *c, void *p, size_t n)
{
	char *dst = p;

	while (n > 0) {
		ssize_t r = conn_read(c, dst, n);
		if (r == 0)
			return CONN_EOF;
		if (r < 0)
			return CONN_ERROR;
		dst += r;
		n -= (size_t)r;
	}
	return CONN_OK;
}

size_t
conn_pending(const struct conn *c)
{
	return c->in.len - c->in_pos;
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	const char *src = p;

	if (c->broken)
		return -1;
	while (n > 0) {
		if (c->out.len >= CONN_WRITE_MAX && flush_out(c) < 0)
			return -1;
		size_t room = CONN_WRITE_MAX - c->out.len;
		size_t k = n < room ? n : room;
		if (buf_append(&c->out, src, k) < 0)
			panic("conn: output buffer without limit refused to grow");
		src += k;
		n -= k;
	}
	return 0;
}

int
conn_puts(struct conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->broken)
		return -1;
	/* straight into the output buffer (it has no maximum), then the same
	 * rule as conn_write: send once 64 KiB are waiting */
	va_start(ap, fmt);
	int r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	if (c->out.len >= CONN_WRITE_MAX)
		return flush_out(c);
	return 0;
}

int
conn_wait(struct conn *c, int extra_fd, int timeout_ms)
{
	int64_t deadline = io_deadline(c, timeout_ms);

	if (c->broken)
		return -1;
	if (c->out_pos < c->out.len && flush_out(c) < 0)
		return -1;
	if (c->in_pos < c->in.len || c->eof)
		return 1;
	/* nothing unread: an idle session (IMAP IDLE) holds no input buffer */
	c->in_pos = 0;
	buf_free(&c->in);
	for (;;) {
		short ev = POLLIN;
		if (c->ssl != NULL || c->z != NULL) {
			/* TLS: bytes on the socket may be only a partial record
			 * or a session ticket, so ask OpenSSL whether there is
			 * application data before telling the caller so. */
			ssize_t r = fill_once(c, &ev);
			if (r >= 0)
				return 1;
			if (r == -1)
				return -1;
			if (c->in.len == 0)
				buf_free(&c->in);
		}
		/* the socket, then extra_fd and the stop descriptor when set */
		struct pollfd p[3] = { { .fd = c->fd, .events = ev } };
		nfds_t n = 1, extra = 0, stop = 0;
		if (extra_fd >= 0) {
			extra = n;
			p[n++] = (struct pollfd){ .fd = extra_fd, .events = POLLIN };
		}
		if (c->stop_fd >= 0) {
			stop = n;
			p[n++] = (struct pollfd){ .fd = c->stop_fd, .events = POLLIN };
		}
		/* timeout 0 still looks once: conn_wait(c, fd, 0) is a check */
		int ms = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		int r = poll(p, n, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			set_errno_error(c, errno);
			return -1;
		}
		if (r == 0)
			return 0;
		/* the peer first: an IMAP client's DONE ends IDLE even when a
		 * notification arrives at the same moment (with TLS, after
		 * OpenSSL has said whether the bytes are data) */
		if (p[0].revents != 0) {
			if (c->ssl == NULL)
				return 1;
			continue;
		}
		if (extra > 0 && p[extra].revents != 0)
			return 2;
		if (stop > 0 && p[stop].revents != 0)
			return 0;
	}
}

/* Attaches a new SSL to the socket with our BIO and the modes we rely on. */
static int
tls_attach(struct conn *c, SSL_CTX *ctx, const char **error_r)
{
	ERR_clear_error();
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL) {
		*error_r = tls_error_string();
		return -1;
	}
	/* our BIO: sends with MSG_NOSIGNAL, so no SIGPIPE */
	BIO *bio = tls_socket_bio_new(c->fd);
	if (bio == NULL) {
		SSL_free(ssl);
		*error_r = tls_error_string();
		return -1;
	}
	SSL_set_bio(ssl, bio, bio);
	/* RELEASE_BUFFERS: no 34 KiB of record buffers while idle;
	 * PARTIAL_WRITE + MOVING_BUFFER: SSL_write behaves like send(). */
	SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
		     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* a peer that hangs up without close_notify is an ordinary EOF for
	 * line protocols that have their own end (QUIT, LOGOUT) */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	c->ssl = ssl;
	return 0;
}

static int
tls_handshake(struct conn *c, const char **error_r)
{
	int64_t deadline = io_deadline(c, c->timeout_ms);

	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_do_handshake(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		short ev;
		if (e == SSL_ERROR_WANT_READ) {
			ev = POLLIN;
		} else if (e == SSL_ERROR_WANT_WRITE) {
			ev = POLLOUT;
		} else {
			long v = SSL_get_verify_result(c->ssl);
			unsigned long le = ERR_peek_last_error();
			if (e == SSL_ERROR_SSL && v != X509_V_OK &&
			    ERR_GET_LIB(le) == ERR_LIB_SSL &&
			    ERR_GET_REASON(le) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
				*error_r = errfmt("certificate verify failed: %s",
						  X509_verify_cert_error_string(v));
				ERR_clear_error();
				c->err = CONN_ERR_TLS;
				c->err_tls = "certificate verify failed";
				c->broken = true;
				return -1;
			}
			set_tls_error(c, e);
			if (c->err == CONN_ERR_EOF)
				*error_r = "connection closed during the TLS handshake";
			else
				*error_r = conn_error(c);
			return -1;
		}
		/* a server's handshake is not a transaction: it ends when the
		 * daemon stops */
		int w = wait_fd(c->fd, ev, c->stop_fd, deadline);
		if (w == WAIT_STOPPED) {
			c->broken = true;
			*error_r = "the server is stopping";
			return -1;
		}
		if (w == 0) {
			set_timeout_error(c);
			*error_r = "TLS handshake timed out";
			return -1;
		}
		if (w < 0) {
			set_errno_error(c, errno);
			*error_r = conn_error(c);
			return -1;
		}
	}
}

int
conn_starttls_server(struct conn *c, SSL_CTX *ctx, const char **error_r)
{
	if (c->ssl != NULL || c->broken) {
		*error_r = c->ssl != NULL ? "TLS is already active" : "connection broken";
		return -1;
	}
	/* The reply to STARTTLS must leave in plaintext before the handshake. */
	if (flush_out(c) < 0) {
		*error_r = conn_error(c);
		return -1;
	}
	/* CVE-2011-0411: anything the peer pipelined after STARTTLS arrived in
	 * plaintext; throw it away so it is never taken as protected input. */
	c->in_pos = 0;
	buf_free(&c->in);
	if (tls_attach(c, ctx, error_r) < 0)
		return -1;
	SSL_set_accept_state(c->ssl);
	return tls_handshake(c, error_r);
}

/* True when s is an IPv4 or IPv6 literal (no SNI for those: RFC 6066 §3). */
static bool
is_ip_literal(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

int
conn_starttls_client(struct conn *c, SSL_CTX *ctx, const char *sni_host,
		     const char **error_r)
{
	if (c->ssl != NULL || c->broken) {
		*error_r = c->ssl != NULL ? "TLS is already active" : "connection broken";
		return -1;
	}
	if (flush_out(c) < 0) {
		*error_r = conn_error(c);
		return -1;
	}
	/* whatever the server sent before its handshake is not protected */
	c->in_pos = 0;
	buf_free(&c->in);
	if (tls_attach(c, ctx, error_r) < 0)
		return -1;
	bool ip = sni_host != NULL && is_ip_literal(sni_host);
	if (sni_host != NULL && *sni_host != '\0' && !ip &&
	    SSL_set_tlsext_host_name(c->ssl, sni_host) != 1) {
		*error_r = tls_error_string();
		return -1;
	}
	if ((SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0) {
		if (sni_host == NULL || *sni_host == '\0') {
			*error_r = "certificate verification needs a host name";
			return -1;
		}
		X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, sni_host)
			    : X509_VERIFY_PARAM_set1_host(param, sni_host, 0);
		if (ok != 1) {
			*error_r = tls_error_string();
			return -1;
		}
	}
	if (c->tls_setup != NULL && c->tls_setup(c->ssl, c->tls_setup_arg, error_r) < 0)
		return -1;
	SSL_set_connect_state(c->ssl);
	return tls_handshake(c, error_r);
}

void
conn_set_tls_setup(struct conn *c, conn_tls_setup_fn *fn, void *arg)
{
	c->tls_setup = fn;
	c->tls_setup_arg = arg;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

const char *
conn_tls_version(const struct conn *c)
{
	return c->ssl != NULL ? SSL_get_version(c->ssl) : "none";
}

const char *
conn_tls_cipher(const struct conn *c)
{
	if (c->ssl == NULL)
		return "none";
	const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
	return cipher != NULL ? SSL_CIPHER_get_name(cipher) : "none";
}

int
conn_peer_cert_sha256(const struct conn *c, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	out[0] = '\0';
	if (c->ssl == NULL)
		return -1;
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	if (cert == NULL && !SSL_is_server(c->ssl)) {
		/* A failed verification leaves no verified peer certificate,
		 * but the chain the server sent, its own first (RFC 8446
		 * §4.4.2), is kept: what the user is shown to decide on
		 * pinning it. */
		STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);
		if (chain != NULL && sk_X509_num(chain) > 0)
			cert = sk_X509_value(chain, 0);
	}
	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32)
		return -1;
	hex_encode(md, len, out);
	return 0;
}

long
conn_verify_result(const struct conn *c)
{
	if (c->ssl == NULL)
		return X509_V_ERR_UNSPECIFIED;
	long v = SSL_get_verify_result(c->ssl);
	/* a handshake that failed the check may not have kept the peer's
	 * certificate; the reason is still worth having */
	if (v == X509_V_OK && SSL_get0_peer_certificate(c->ssl) == NULL)
		return X509_V_ERR_UNSPECIFIED;
	return v;
}

int
conn_channel_binding(const struct conn *c, const char *type, unsigned char out[64],
		     size_t *len_r)
{
	static const char label[] = "EXPORTER-Channel-Binding";

	*len_r = 0;
	if (c->ssl == NULL || !SSL_is_init_finished(c->ssl))
		return -1;
	int version = SSL_version(c->ssl);
	if (strcmp(type, "tls-exporter") == 0) {
		/* RFC 9266 §3: 32 bytes, no context; on TLS 1.2 only with the
		 * extended master secret (RFC 7627) */
		if (version < TLS1_3_VERSION && SSL_get_extms_support(c->ssl) != 1)
			return -1;
		if (SSL_export_keying_material(c->ssl, out, 32, label, sizeof label - 1,
					       NULL, 0, 0) != 1)
			return -1;
		*len_r = 32;
		return 0;
	}
	if (strcmp(type, "tls-unique") == 0) {
		/* RFC 5929 §3.1: the first Finished message of the latest
		 * handshake: the client's in a full handshake, the server's in
		 * a resumed one.  Not defined for TLS 1.3 (RFC 9266 §1). */
		if (version >= TLS1_3_VERSION)
			return -1;
		bool client_first = !SSL_session_reused(c->ssl);
		bool mine = SSL_is_server(c->ssl) ? !client_first : client_first;
		size_t n = mine ? SSL_get_finished(c->ssl, out, 64)
				: SSL_get_peer_finished(c->ssl, out, 64);
		if (n == 0 || n > 64)
			return -1;
		*len_r = n;
		return 0;
	}
	return -1;
}

const char *
conn_error(const struct conn *c)
{
	switch (c->err) {
	case CONN_ERR_NONE:
		return c->eof ? "connection closed" : "no error";
	case CONN_ERR_TIMEOUT:
		return "timed out";
	case CONN_ERR_EOF:
		return "connection closed";
	case CONN_ERR_TLS:
		return c->err_tls;
	case CONN_ERR_ERRNO:
		switch (c->err_errno) {
		case ECONNRESET:
			return "connection reset";
		case EPIPE:
			return "connection closed";
		default:
			return errfmt("%s", strerror(c->err_errno));
		}
	}
	return "unknown error";
}

const char *
conn_peer_ip(const struct conn *c)
{
	return c->peer_ip;
}

unsigned
conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

const char *
conn_local_ip(const struct conn *c)
{
	return c->local_ip;
}

unsigned
conn_local_port(const struct conn *c)
{
	return c->local_port;
}

bool
conn_is_loopback(const struct conn *c)
{
	return c->loopback;
}

uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

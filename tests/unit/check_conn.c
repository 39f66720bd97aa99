/* Unit tests for core/conn: buffered line and byte I/O over a socketpair,
 * plain and TLS, STARTTLS input discarding, deadlines, conn_wait, connect. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/conn.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/tls.h"
#include "tests/unit/runner.h"

/* The other end of a socketpair, run in its own thread. */
struct peer {
	int fd;
	pthread_t tid;
	void (*fn)(struct peer *p);
	SSL_CTX *ctx;		/* client context for TLS peers */
	const char *send;	/* what to send */
	char got[512];		/* what it received (NUL-terminated) */
	int status;		/* 0 when everything it checked went well */
	char cert_sha[65];
};

static void *
peer_main(void *arg)
{
	struct peer *p = arg;
	p->fn(p);
	return NULL;
}

/* A socketpair: returns the conn for our end and starts fn on the other. */
static struct conn *
pair_start(struct peer *p, void (*fn)(struct peer *p))
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->fd = sv[1];
	p->fn = fn;
	if (fn != NULL)
		ck_assert_int_eq(pthread_create(&p->tid, NULL, peer_main, p), 0);
	return conn_new(sv[0], 0);
}

static void
pair_join(struct peer *p)
{
	if (p->fn != NULL)
		pthread_join(p->tid, NULL);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void
send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t r = send(fd, s, n, MSG_NOSIGNAL);
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

/* Reads from fd until want bytes arrived or EOF, into p->got. */
static size_t
recv_some(int fd, char *out, size_t max, size_t want)
{
	size_t n = 0;
	while (n < want && n < max - 1) {
		ssize_t r = recv(fd, out + n, max - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	return n;
}

static void
peer_send_close(struct peer *p)
{
	send_all(p->fd, p->send, strlen(p->send));
	shutdown(p->fd, SHUT_WR);
}

static void
peer_send_bytewise(struct peer *p)
{
	for (const char *s = p->send; *s != '\0'; s++) {
		send_all(p->fd, s, 1);
		usleep(500);
	}
	shutdown(p->fd, SHUT_WR);
}

static void
expect_line(struct conn *c, size_t max, const char *want)
{
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, max, &line, &len), CONN_OK);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_int_eq(memcmp(line, want, len), 0);
}

START_TEST(test_lines_crlf_lf)
{
	struct peer p = { .send = "HELO a\r\nbare lf\n\r\nlast\r\n" };
	struct conn *c = pair_start(&p, peer_send_close);
	expect_line(c, 100, "HELO a\r\n");
	expect_line(c, 100, "bare lf\n");
	expect_line(c, 100, "\r\n");
	expect_line(c, 100, "last\r\n");
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 100, &line, &len), CONN_EOF);
	conn_free(&c);
	ck_assert_ptr_null(c);
	pair_join(&p);
}
END_TEST

START_TEST(test_line_too_long)
{
	/* exactly max (with CRLF) is fine; max + 1 is too long; the line after
	 * a too-long one is read correctly */
	struct peer p = { .send = "12345678\r\n123456789\r\nnext\r\n" };
	struct conn *c = pair_start(&p, peer_send_close);
	const char *line;
	size_t len;
	expect_line(c, 10, "12345678\r\n");
	ck_assert_int_eq(conn_read_line(c, 10, &line, &len), CONN_TOOLONG);
	expect_line(c, 10, "next\r\n");
	conn_free(&c);
	pair_join(&p);
}
END_TEST

static void
peer_send_huge_line(struct peer *p)
{
	/* far more than max and than one read chunk, in many pieces */
	char chunk[4096];
	memset(chunk, 'x', sizeof chunk);
	for (int i = 0; i < 64; i++)
		send_all(p->fd, chunk, sizeof chunk);
	send_all(p->fd, "\r\nafter\r\n", 9);
	shutdown(p->fd, SHUT_WR);
}

START_TEST(test_line_too_long_huge)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, peer_send_huge_line);
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 1000, &line, &len), CONN_TOOLONG);
	expect_line(c, 1000, "after\r\n");
	ck_assert_int_eq(conn_read_line(c, 1000, &line, &len), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

static void
expect_part(struct conn *c, size_t max, const char *want)
{
	const char *p;
	size_t len;
	ck_assert_int_eq(conn_read_line_part(c, max, &p, &len), CONN_OK);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_int_eq(memcmp(p, want, len), 0);
}

START_TEST(test_line_parts)
{
	/* a long line comes in pieces of max bytes, none of it dropped; the
	 * last piece ends with its LF, and the next line follows whole */
	struct peer p = { .send = "12345678\r\n123456789\r\n0123456789abcdefghij\nnext\r\n" };
	struct conn *c = pair_start(&p, peer_send_close);
	expect_part(c, 10, "12345678\r\n");
	expect_part(c, 10, "123456789\r");
	expect_part(c, 10, "\n");
	expect_part(c, 10, "0123456789");
	expect_part(c, 10, "abcdefghij");
	expect_part(c, 10, "\n");
	expect_part(c, 10, "next\r\n");
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line_part(c, 10, &line, &len), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

START_TEST(test_line_parts_huge)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, peer_send_huge_line);
	const char *line;
	size_t len, total = 0;
	for (;;) {
		ck_assert_int_eq(conn_read_line_part(c, 1000, &line, &len), CONN_OK);
		ck_assert_uint_le(len, 1000);
		total += len;
		if (line[len - 1] == '\n')
			break;
	}
	ck_assert_uint_eq(total, 64 * 4096 + 2);
	expect_part(c, 1000, "after\r\n");
	ck_assert_int_eq(conn_read_line_part(c, 1000, &line, &len), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

START_TEST(test_bytewise)
{
	struct peer p = { .send = "A001 LOGIN x y\r\nA002 NOOP\n{3}\r\nabc" };
	struct conn *c = pair_start(&p, peer_send_bytewise);
	expect_line(c, 100, "A001 LOGIN x y\r\n");
	expect_line(c, 100, "A002 NOOP\n");
	expect_line(c, 100, "{3}\r\n");
	char lit[3];
	ck_assert_int_eq(conn_read_exact(c, lit, 3), CONN_OK);
	ck_assert_int_eq(memcmp(lit, "abc", 3), 0);
	ck_assert_int_eq(conn_read_exact(c, lit, 1), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

START_TEST(test_read_exact_and_pending)
{
	struct peer p = { .send = "BDAT 5\r\nabcdeQUIT\r\n" };
	struct conn *c = pair_start(&p, peer_send_close);
	expect_line(c, 100, "BDAT 5\r\n");
	/* all of it arrived in one write (atomic on a socketpair), so the
	 * rest is buffered */
	ck_assert_uint_eq(conn_pending(c), 11);
	char body[5];
	ck_assert_int_eq(conn_read_exact(c, body, 5), CONN_OK);
	ck_assert_int_eq(memcmp(body, "abcde", 5), 0);
	ck_assert_uint_eq(conn_pending(c), 6);
	char two[2];
	ck_assert_int_eq(conn_read(c, two, 2), 2);
	ck_assert_int_eq(memcmp(two, "QU", 2), 0);
	expect_line(c, 100, "IT\r\n");
	ck_assert_int_eq(conn_read(c, two, 2), 0);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

START_TEST(test_eof_mid_line)
{
	struct peer p = { .send = "whole\r\npartial" };
	struct conn *c = pair_start(&p, peer_send_close);
	const char *line;
	size_t len;
	expect_line(c, 100, "whole\r\n");
	ck_assert_int_eq(conn_read_line(c, 100, &line, &len), CONN_EOF);
	ck_assert_int_eq(conn_read_line(c, 100, &line, &len), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

START_TEST(test_deadline)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, NULL);
	const char *line;
	size_t len;
	/* the peer sends half a line and then nothing */
	send_all(p.fd, "half", 4);
	conn_set_timeout(c, 100);
	ck_assert_int_eq(conn_get_timeout(c), 100);
	ck_assert_int_eq(conn_read_line(c, 100, &line, &len), CONN_ERROR);
	ck_assert_str_eq(conn_error(c), "timed out");
	/* a broken connection stays broken */
	ck_assert_int_eq(conn_puts(c, "x"), -1);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

static void
peer_expect_pipelined(struct peer *p)
{
	/* one recv must see both replies: they left in one write */
	size_t n = recv_some(p->fd, p->got, sizeof p->got, 1);
	p->status = (n == 16 && strcmp(p->got, "250 one\r\n250 two") == 0) ? 0 : -1;
	send_all(p->fd, "\r\nQUIT\r\n", 8);
	n = recv_some(p->fd, p->got, sizeof p->got, 9);
	if (strcmp(p->got, "221 bye\r\n") != 0)
		p->status = -1;
}

START_TEST(test_write_buffering)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, peer_expect_pipelined);
	ck_assert_int_eq(conn_puts(c, "250 one\r\n"), 0);
	ck_assert_int_eq(conn_printf(c, "%d %s", 250, "two"), 0);
	/* nothing sent yet; the read below must flush before it waits, or the
	 * peer never answers and the read times out */
	conn_set_timeout(c, 5000);
	expect_line(c, 100, "\r\n");
	expect_line(c, 100, "QUIT\r\n");
	ck_assert_int_eq(conn_puts(c, "221 bye\r\n"), 0);
	/* conn_free sends what is left */
	conn_free(&c);
	pair_join(&p);
	ck_assert_int_eq(p.status, 0);
}
END_TEST

START_TEST(test_explicit_flush)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, NULL);
	char tmp[64];
	ck_assert_int_eq(conn_puts(c, "hello\r\n"), 0);
	ck_assert_int_eq(recv(p.fd, tmp, sizeof tmp, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(conn_flush(c), 0);
	ck_assert_int_eq(recv(p.fd, tmp, sizeof tmp, MSG_DONTWAIT), 7);
	ck_assert_int_eq(memcmp(tmp, "hello\r\n", 7), 0);

	/* big output leaves as it goes: 200 KiB, read by the peer meanwhile */
	static char big[200 * 1024];
	memset(big, 'z', sizeof big);
	p.fn = NULL;
	close(p.fd);
	p.fd = -1;
	/* the peer is gone: writing fails, without SIGPIPE killing us */
	int r = conn_write(c, big, sizeof big);
	if (r == 0)
		r = conn_flush(c);
	ck_assert_int_eq(r, -1);
	conn_free(&c);
}
END_TEST

/* Counts what arrives until EOF; status 0 when it is all 'a' then 'b'. */
static void
peer_count(struct peer *p)
{
	char tmp[8192];
	size_t total = 0;
	bool in_b = false;
	p->status = 0;
	for (;;) {
		ssize_t r = recv(p->fd, tmp, sizeof tmp, 0);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (tmp[i] == 'b')
				in_b = true;
			else if (tmp[i] != 'a' || in_b)
				p->status = -1;
		}
		total += (size_t)r;
	}
	snprintf(p->got, sizeof p->got, "%zu", total);
}

START_TEST(test_big_output)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, peer_count);
	static char a[200 * 1024], b[100 * 1024 + 1];
	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b - 1);
	ck_assert_int_eq(conn_write(c, a, sizeof a), 0);
	ck_assert_int_eq(conn_printf(c, "%s", b), 0);
	ck_assert_int_eq(conn_puts(c, "b"), 0);
	conn_free(&c);
	pair_join(&p);
	ck_assert_int_eq(p.status, 0);
	ck_assert_str_eq(p.got, "307201");
}
END_TEST

START_TEST(test_wait_extra_fd)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, NULL);
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(conn_wait(c, pfd[0], 50), 0);
	ck_assert_int_eq(write(pfd[1], "n", 1), 1);
	ck_assert_int_eq(conn_wait(c, pfd[0], 1000), 2);
	/* a zero timeout still looks */
	ck_assert_int_eq(conn_wait(c, pfd[0], 0), 2);
	char ch;
	ck_assert_int_eq(read(pfd[0], &ch, 1), 1);
	send_all(p.fd, "DONE\r\n", 6);
	ck_assert_int_eq(conn_wait(c, pfd[0], 1000), 1);
	expect_line(c, 100, "DONE\r\n");
	/* output is flushed by conn_wait */
	ck_assert_int_eq(conn_puts(c, "* 3 EXISTS\r\n"), 0);
	ck_assert_int_eq(conn_wait(c, -1, 10), 0);
	char tmp[64];
	ck_assert_int_eq(recv(p.fd, tmp, sizeof tmp, MSG_DONTWAIT), 12);
	close(pfd[0]);
	close(pfd[1]);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

/* Writes to the stop descriptor after a moment, while conn waits. */
static void *
stop_later(void *arg)
{
	int fd = *(int *)arg;
	usleep(50 * 1000);
	ck_assert_int_eq(write(fd, "s", 1), 1);
	return NULL;
}

START_TEST(test_stop_fd)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, NULL);
	const char *line;
	size_t len;
	int sfd[2];
	pthread_t tid;
	ck_assert_int_eq(pipe(sfd), 0);
	conn_set_stop_fd(c, sfd[0]);
	conn_set_timeout(c, 10000);
	ck_assert(!conn_stop_requested(c));
	send_all(p.fd, "NOOP\r\n", 6);
	ck_assert_int_eq(conn_read_command(c, 100, &line, &len), CONN_OK);
	ck_assert_uint_eq(len, 6);
	/* waiting for the rest of a command: the stop ends the wait */
	send_all(p.fd, "PART", 4);
	ck_assert_int_eq(pthread_create(&tid, NULL, stop_later, &sfd[1]), 0);
	ck_assert_int_eq(conn_read_command(c, 100, &line, &len), CONN_STOPPED);
	pthread_join(tid, NULL);
	ck_assert(conn_stop_requested(c));
	/* from then on at once, even with a whole line buffered */
	send_all(p.fd, "IAL\r\nNEXT\r\n", 11);
	ck_assert_int_eq(conn_read_command(c, 100, &line, &len), CONN_STOPPED);
	/* the other reads (a transaction under way) do not look at it */
	expect_line(c, 100, "PARTIAL\r\n");
	expect_line(c, 100, "NEXT\r\n");
	/* conn_wait says "nothing" (0) at once, without limit otherwise */
	ck_assert_int_eq(conn_wait(c, -1, -1), 0);
	close(sfd[0]);
	close(sfd[1]);
	conn_free(&c);
	pair_join(&p);
}
END_TEST

/* ---- TLS ---- */

static char *cert_path, *key_path;

static void
tls_setup(void)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	cert_path = xasprintf("%s/cert.pem", dir);
	key_path = xasprintf("%s/key.pem", dir);
	free(dir);
	if (tls_selfsigned_create(cert_path, key_path, "mail.example.test", &error) < 0 ||
	    tls_server_load(cert_path, key_path, &error) < 0) {
		fprintf(stderr, "TLS setup: %s\n", error);
		abort();
	}
}

static void
tls_teardown(void)
{
	tls_server_clear();
	xfree(cert_path);
	xfree(key_path);
}

/* SHA-256 of the certificate file's DER, as hex. */
static void
cert_file_sha256(const char *path, char out[65])
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	ck_assert_int_gt(n, 0);
	sha256_hex(der, (size_t)n, out);
	OPENSSL_free(der);
	X509_free(x);
}

/* A TLS client on the peer's end: STARTTLS in plaintext (with an injected
 * line in the same write), then the handshake, then HELLO; records the
 * server's echo in p->got. */
static void
peer_starttls_client(struct peer *p)
{
	const char *error = NULL;
	char tmp[64];

	p->status = -1;
	send_all(p->fd, "STARTTLS\r\nINJECTED\r\n", 20);
	if (recv_some(p->fd, tmp, sizeof tmp, 8) != 8 || strcmp(tmp, "220 go\r\n") != 0)
		return;
	struct conn *c = conn_new(p->fd, 0);
	p->fd = -1;
	conn_set_timeout(c, 5000);
	if (conn_starttls_client(c, p->ctx, "mail.example.test", &error) < 0) {
		snprintf(p->got, sizeof p->got, "handshake: %s", error);
		conn_free(&c);
		return;
	}
	if (conn_peer_cert_sha256(c, p->cert_sha) < 0) {
		conn_free(&c);
		return;
	}
	conn_puts(c, "HELLO\r\n");
	const char *line;
	size_t len;
	if (conn_read_line(c, sizeof p->got - 1, &line, &len) == CONN_OK) {
		memcpy(p->got, line, len);
		p->got[len] = '\0';
		p->status = 0;
	}
	conn_free(&c);
}

START_TEST(test_starttls_discards_injected)
{
	const char *error = NULL;
	struct peer p = { 0 };
	p.ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	ck_assert_ptr_nonnull(p.ctx);
	struct conn *c = pair_start(&p, peer_starttls_client);
	conn_set_timeout(c, 5000);
	expect_line(c, 100, "STARTTLS\r\n");
	/* the injected line came in the same write (atomic on a socketpair):
	 * it really sits in our buffer, which is the case that matters */
	ck_assert_uint_eq(conn_pending(c), 10);
	ck_assert_int_eq(conn_puts(c, "220 go\r\n"), 0);
	ck_assert(!conn_is_tls(c));
	SSL_CTX *ctx = tls_server_ctx();
	ck_assert_int_eq(conn_starttls_server(c, ctx, &error), 0);
	SSL_CTX_free(ctx);
	ck_assert(conn_is_tls(c));
	ck_assert_uint_eq(conn_pending(c), 0);
	ck_assert_int_eq(strncmp(conn_tls_version(c), "TLSv1.", 6), 0);
	ck_assert_str_ne(conn_tls_cipher(c), "none");
	/* the first line after the handshake is the client's, never INJECTED */
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 100, &line, &len), CONN_OK);
	ck_assert_int_eq(len, 7);
	ck_assert_int_eq(memcmp(line, "HELLO\r\n", 7), 0);
	ck_assert_int_eq(conn_write(c, line, len), 0);
	ck_assert_int_eq(conn_flush(c), 0);
	pair_join(&p);
	conn_free(&c);
	ck_assert_int_eq(p.status, 0);
	ck_assert_str_eq(p.got, "HELLO\r\n");
	/* pinning: the client saw the certificate of the file */
	char want[65];
	cert_file_sha256(cert_path, want);
	ck_assert_str_eq(p.cert_sha, want);
	SSL_CTX_free(p.ctx);
}
END_TEST

/* TLS echo peer: handshake as client, then copies what the server sends
 * back to it, line by line, until EOF. */
static void
peer_tls_echo(struct peer *p)
{
	const char *error = NULL;
	struct conn *c = conn_new(p->fd, 0);
	p->fd = -1;
	p->status = -1;
	conn_set_timeout(c, 5000);
	if (conn_starttls_client(c, p->ctx, "mail.example.test", &error) < 0) {
		snprintf(p->got, sizeof p->got, "handshake: %s", error);
		conn_free(&c);
		return;
	}
	/* send a long line byte by byte in separate records, then others */
	conn_puts(c, "x");
	conn_flush(c);
	for (int i = 0; i < 40; i++) {
		conn_puts(c, "y");
		conn_flush(c);
	}
	conn_puts(c, "\r\nsplit");
	conn_flush(c);
	conn_puts(c, " line\r\n");
	conn_flush(c);
	for (;;) {
		const char *line;
		size_t len;
		if (conn_read_line(c, 200, &line, &len) != CONN_OK)
			break;
		conn_write(c, line, len);
	}
	p->status = 0;
	conn_free(&c);
}

START_TEST(test_tls_lines)
{
	const char *error = NULL;
	struct peer p = { 0 };
	p.ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	struct conn *c = pair_start(&p, peer_tls_echo);
	conn_set_timeout(c, 5000);
	SSL_CTX *ctx = tls_server_ctx();
	ck_assert_int_eq(conn_starttls_server(c, ctx, &error), 0);
	SSL_CTX_free(ctx);
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 20, &line, &len), CONN_TOOLONG);
	expect_line(c, 20, "split line\r\n");
	/* echo through the peer: pipelined lines come back in order */
	ck_assert_int_eq(conn_puts(c, "one\r\ntwo\r\n"), 0);
	expect_line(c, 20, "one\r\n");
	expect_line(c, 20, "two\r\n");
	/* nothing more is coming: conn_wait times out even though TLS 1.3
	 * session tickets or other records may have reached the socket */
	ck_assert_int_eq(conn_wait(c, -1, 100), 0);
	/* IDLE over TLS: a notification, then the peer's data (conn_wait
	 * flushes what we wrote, which the peer echoes) */
	int pfd[2];
	char ch;
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(write(pfd[1], "n", 1), 1);
	ck_assert_int_eq(conn_wait(c, pfd[0], 1000), 2);
	ck_assert_int_eq(read(pfd[0], &ch, 1), 1);
	ck_assert_int_eq(conn_puts(c, "abc\n"), 0);
	ck_assert_int_eq(conn_wait(c, pfd[0], 2000), 1);
	close(pfd[0]);
	close(pfd[1]);
	char body[3];
	ck_assert_int_eq(conn_read_exact(c, body, 3), CONN_OK);
	ck_assert_int_eq(memcmp(body, "abc", 3), 0);
	expect_line(c, 20, "\n");
	conn_free(&c);
	pair_join(&p);
	ck_assert_int_eq(p.status, 0);
	SSL_CTX_free(p.ctx);
}
END_TEST

/* A TLS client that only handshakes and then waits for the server. */
static void
peer_tls_handshake_only(struct peer *p)
{
	const char *error = NULL;
	struct conn *c = conn_new(p->fd, 0);
	p->fd = -1;
	conn_set_timeout(c, 5000);
	p->status = conn_starttls_client(c, p->ctx, "mail.example.test", &error);
	if (p->status < 0)
		snprintf(p->got, sizeof p->got, "%s", error);
	else
		p->status = conn_wait(c, -1, 100) == 0 ? 0 : -1;
	conn_free(&c);
}

START_TEST(test_tls_client_wait_ignores_tickets)
{
	/* the server's TLS 1.3 tickets arrive after the handshake; the client
	 * must not take them for data */
	const char *error = NULL;
	struct peer p = { 0 };
	p.ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	struct conn *c = pair_start(&p, peer_tls_handshake_only);
	conn_set_timeout(c, 5000);
	SSL_CTX *ctx = tls_server_ctx();
	ck_assert_int_eq(conn_starttls_server(c, ctx, &error), 0);
	SSL_CTX_free(ctx);
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 20, &line, &len), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
	ck_assert_int_eq(p.status, 0);
	SSL_CTX_free(p.ctx);
}
END_TEST

/* A TLS server on the peer's end for client verification tests. */
static void
peer_tls_server(struct peer *p)
{
	const char *error = NULL;
	struct conn *c = conn_new(p->fd, 0);
	p->fd = -1;
	conn_set_timeout(c, 5000);
	SSL_CTX *ctx = tls_server_ctx();
	p->status = conn_starttls_server(c, ctx, &error);
	SSL_CTX_free(ctx);
	if (p->status == 0) {
		conn_puts(c, "* OK\r\n");
		conn_flush(c);
	}
	conn_free(&c);
}

static int
client_verify(SSL_CTX *ctx, const char *host, const char **error_r)
{
	struct peer p = { 0 };
	struct conn *c = pair_start(&p, peer_tls_server);
	conn_set_timeout(c, 5000);
	int r = conn_starttls_client(c, ctx, host, error_r);
	if (r == 0) {
		ck_assert_int_eq(conn_verify_result(c), X509_V_OK);
		expect_line(c, 100, "* OK\r\n");
	}
	conn_free(&c);
	pair_join(&p);
	return r;
}

START_TEST(test_tls_client_verification)
{
	const char *error = NULL;

	/* the system store does not know our self-signed certificate */
	SSL_CTX *sys = tls_client_ctx_new(TLS_VERIFY_SYSTEM, &error);
	ck_assert_ptr_nonnull(sys);
	ck_assert_int_eq(client_verify(sys, "mail.example.test", &error), -1);
	ck_assert_msg(strstr(error, "certificate verify failed") != NULL, "%s", error);
	SSL_CTX_free(sys);

	/* trusted: the name must match the SAN */
	SSL_CTX *trust = tls_client_ctx_new(TLS_VERIFY_SYSTEM, &error);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(trust, cert_path, NULL), 1);
	ck_assert_int_eq(client_verify(trust, "mail.example.test", &error), 0);
	ck_assert_int_eq(client_verify(trust, "other.example.test", &error), -1);
	ck_assert_msg(strstr(error, "mismatch") != NULL, "%s", error);
	SSL_CTX_free(trust);
}
END_TEST

START_TEST(test_tls_no_sigpipe)
{
	const char *error = NULL;
	struct peer p = { 0 };
	p.ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	struct conn *c = pair_start(&p, peer_tls_handshake_only);
	conn_set_timeout(c, 5000);
	SSL_CTX *ctx = tls_server_ctx();
	ck_assert_int_eq(conn_starttls_server(c, ctx, &error), 0);
	SSL_CTX_free(ctx);
	pair_join(&p);	/* the client has closed its socket */
	static char big[300 * 1024];
	memset(big, 'q', sizeof big);
	int r = conn_write(c, big, sizeof big);
	if (r == 0)
		r = conn_flush(c);
	ck_assert_int_eq(r, -1);
	conn_free(&c);
	SSL_CTX_free(p.ctx);
}
END_TEST

/* A TLS client that hangs up without close_notify. */
static void
peer_tls_hang_up(struct peer *p)
{
	const char *error = NULL;
	struct conn *c = conn_new(p->fd, 0);
	p->fd = -1;
	conn_set_timeout(c, 5000);
	p->status = conn_starttls_client(c, p->ctx, "mail.example.test", &error);
	/* read everything the server sent (its session tickets come before
	 * "hi"), so the hang-up is a clean one and not a reset for unread data */
	const char *line;
	size_t len;
	if (p->status == 0 && conn_read_line(c, 20, &line, &len) != CONN_OK)
		p->status = -1;
	shutdown(conn_fd(c), SHUT_RDWR);
	conn_free(&c);
}

START_TEST(test_tls_eof_without_close_notify)
{
	/* many clients just close the socket: that is an ordinary EOF */
	const char *error = NULL;
	struct peer p = { 0 };
	p.ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	struct conn *c = pair_start(&p, peer_tls_hang_up);
	conn_set_timeout(c, 5000);
	SSL_CTX *ctx = tls_server_ctx();
	ck_assert_int_eq(conn_starttls_server(c, ctx, &error), 0);
	SSL_CTX_free(ctx);
	ck_assert_int_eq(conn_puts(c, "hi\r\n"), 0);
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 20, &line, &len), CONN_EOF);
	conn_free(&c);
	pair_join(&p);
	ck_assert_int_eq(p.status, 0);
	SSL_CTX_free(p.ctx);
}
END_TEST

/* ---- addresses and connect ---- */

START_TEST(test_connect_and_addresses)
{
	const char *error = NULL;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	socklen_t alen = sizeof a;
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	unsigned port = ntohs(a.sin_port);

	struct conn *cl = conn_connect("127.0.0.1", port, 2000, &error);
	ck_assert_ptr_nonnull(cl);
	struct conn *sv = conn_new(accept(lfd, NULL, NULL), 0);
	ck_assert_str_eq(conn_peer_ip(sv), "127.0.0.1");
	ck_assert_uint_eq(conn_peer_port(sv), conn_local_port(cl));
	ck_assert_uint_eq(conn_local_port(sv), port);
	ck_assert_str_eq(conn_local_ip(sv), "127.0.0.1");
	ck_assert(conn_is_loopback(sv));
	ck_assert(conn_id(sv) != conn_id(cl));
	ck_assert_int_ge(conn_fd(sv), 0);
	ck_assert(!conn_is_tls(sv));
	ck_assert_str_eq(conn_tls_version(sv), "none");
	char sha[65];
	ck_assert_int_eq(conn_peer_cert_sha256(sv, sha), -1);
	conn_puts(cl, "ping\r\n");
	ck_assert_int_eq(conn_flush(cl), 0);
	expect_line(sv, 100, "ping\r\n");
	conn_free(&cl);
	conn_free(&sv);

	/* nothing listens on the port any more */
	close(lfd);
	ck_assert_ptr_null(conn_connect("127.0.0.1", port, 2000, &error));
	ck_assert_str_eq(error, "connection refused");
	ck_assert_ptr_null(conn_connect("127.0.0.1", 0, 2000, &error));
}
END_TEST

START_TEST(test_connect_timeout_and_no_host)
{
	const char *error = NULL;
	/* a listener whose accept queue is full drops further SYNs, so a
	 * connect to it can only time out */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	socklen_t alen = sizeof a;
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	struct conn *fill[4];
	int n = 0;
	const char *last = NULL;
	for (; n < 4; n++) {
		fill[n] = conn_connect("127.0.0.1", ntohs(a.sin_port), 300, &error);
		if (fill[n] == NULL) {
			last = error;
			break;
		}
	}
	ck_assert_int_lt(n, 4);
	ck_assert_str_eq(last, "timed out");
	while (n-- > 0)
		conn_free(&fill[n]);
	close(lfd);

	/* RFC 6761 §6.4: .invalid names never resolve */
	ck_assert_ptr_null(conn_connect("no-such-host.invalid", 25, 1000, &error));
	ck_assert_msg(strcmp(error, "no such host") == 0 ||
		      strcmp(error, "temporary failure in name resolution") == 0, "%s", error);
}
END_TEST

START_TEST(test_loopback_v6)
{
	const char *error = NULL;
	int lfd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int zero = 0;
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0) {
		/* no IPv6 on this machine: nothing to test */
		if (lfd >= 0)
			close(lfd);
		return;
	}
	ck_assert_int_eq(listen(lfd, 4), 0);
	socklen_t alen = sizeof a;
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	unsigned port = ntohs(a.sin6_port);

	/* IPv4 through a dual-stack socket: shown as IPv4, loopback */
	struct conn *cl = conn_connect("127.0.0.1", port, 2000, &error);
	ck_assert_ptr_nonnull(cl);
	struct conn *sv = conn_new(accept(lfd, NULL, NULL), 0);
	ck_assert_str_eq(conn_peer_ip(sv), "127.0.0.1");
	ck_assert(conn_is_loopback(sv));
	conn_free(&cl);
	conn_free(&sv);

	cl = conn_connect("::1", port, 2000, &error);
	if (cl != NULL) {
		sv = conn_new(accept(lfd, NULL, NULL), 0);
		ck_assert_str_eq(conn_peer_ip(sv), "::1");
		ck_assert(conn_is_loopback(sv));
		conn_free(&cl);
		conn_free(&sv);
	}
	close(lfd);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("plain");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_lines_crlf_lf);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_line_too_long_huge);
	tcase_add_test(tc, test_line_parts);
	tcase_add_test(tc, test_line_parts_huge);
	tcase_add_test(tc, test_bytewise);
	tcase_add_test(tc, test_read_exact_and_pending);
	tcase_add_test(tc, test_eof_mid_line);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_write_buffering);
	tcase_add_test(tc, test_explicit_flush);
	tcase_add_test(tc, test_big_output);
	tcase_add_test(tc, test_wait_extra_fd);
	tcase_add_test(tc, test_stop_fd);
	tcase_add_test(tc, test_connect_and_addresses);
	tcase_add_test(tc, test_connect_timeout_and_no_host);
	tcase_add_test(tc, test_loopback_v6);
	suite_add_tcase(s, tc);

	TCase *tt = tcase_create("tls");
	tcase_set_timeout(tt, 30);
	tcase_add_checked_fixture(tt, tls_setup, tls_teardown);
	tcase_add_test(tt, test_starttls_discards_injected);
	tcase_add_test(tt, test_tls_lines);
	tcase_add_test(tt, test_tls_client_wait_ignores_tickets);
	tcase_add_test(tt, test_tls_client_verification);
	tcase_add_test(tt, test_tls_no_sigpipe);
	tcase_add_test(tt, test_tls_eof_without_close_notify);
	suite_add_tcase(s, tt);
	return s;
}

/*
 * A scripted upstream server on loopback for the fetcher's client tests:
 * it sends script[0] on accept, then for each line the client sends, the
 * next script entry, with "$T" replaced by the first word of that line (the
 * IMAP tag).  Special entries: FAKE_CLOSE closes the connection at once,
 * FAKE_FLOOD "text" sends text, then endless message lines until the client
 * goes away, and
 * FAKE_HUGE sends one line of 2 MiB without its end, then closes.
 * Header-only (static functions) so each suite stays one source file.
 */
#ifndef MAILHUB_TESTS_FETCH_FAKE_SERVER_H
#define MAILHUB_TESTS_FETCH_FAKE_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/client_conn.h"
#include "tests/unit/runner.h"

/* How the clients reach the fake server: it is on loopback, which only
 * [fetch] allow_private_hosts lets them reach. */
static const struct client_conn_params LOOPBACK_5S = { .timeout_ms = 5000,
						       .allow_private = true };
static const struct client_conn_params LOOPBACK_3S = { .timeout_ms = 3000,
						       .allow_private = true };

#define FAKE_CLOSE "\001close"
#define FAKE_FLOOD "\001flood"
#define FAKE_HUGE "\001huge"

struct fake_server {
	int lfd;
	unsigned port;
	pthread_t thread;
	const char *const *script;
	size_t n;
	struct buf heard;	/* every line the client sent */
};

static int
fake_send(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fake_entry(int fd, const char *entry, const char *tag, size_t tag_len)
{
	if (strcmp(entry, FAKE_CLOSE) == 0)
		return -1;
	if (strncmp(entry, FAKE_FLOOD, strlen(FAKE_FLOOD)) == 0) {
		/* what follows the marker first, then the endless lines */
		const char *first = entry + strlen(FAKE_FLOOD);
		if (fake_send(fd, first, strlen(first)) < 0)
			return -1;
		const char *line = "this message never ends, this message never ends\r\n";
		for (unsigned long i = 0; i < 100000000UL; i++) {
			if (fake_send(fd, line, strlen(line)) < 0)
				return -1;
		}
		return -1;
	}
	if (strcmp(entry, FAKE_HUGE) == 0) {
		char chunk[65536];
		memset(chunk, 'h', sizeof chunk);
		for (int i = 0; i < 32; i++) {
			if (fake_send(fd, chunk, sizeof chunk) < 0)
				return -1;
		}
		return -1;
	}
	struct buf out = BUF_INIT;
	for (const char *p = entry; *p != '\0'; p++) {
		if (p[0] == '$' && p[1] == 'T') {
			buf_append(&out, tag, tag_len);
			p++;
		} else {
			buf_putc(&out, *p);
		}
	}
	int ret = fake_send(fd, out.data != NULL ? out.data : "", out.len);
	buf_free(&out);
	return ret;
}

static void *
fake_main(void *arg)
{
	struct fake_server *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct buf line = BUF_INIT;
	if (f->n > 0 && fake_entry(fd, f->script[0], "", 0) < 0)
		goto out;
	for (size_t i = 1; i < f->n; i++) {
		char ch;
		buf_reset(&line);
		for (;;) {
			ssize_t r = recv(fd, &ch, 1, 0);
			if (r <= 0)
				goto out;
			buf_putc(&line, ch);
			if (ch == '\n')
				break;
		}
		buf_append(&f->heard, line.data, line.len);
		const char *sp = memchr(line.data, ' ', line.len);
		size_t tag_len = sp != NULL ? (size_t)(sp - line.data) : 0;
		if (fake_entry(fd, f->script[i], line.data, tag_len) < 0)
			goto out;
	}
	/* read what is left (a LOGOUT or QUIT) until the client closes */
	char b[512];
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (recv(fd, b, sizeof b, 0) > 0)
		;
out:
	buf_free(&line);
	close(fd);
	return NULL;
}

static void
fake_server_start(struct fake_server *f, const char *const *script, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	memset(f, 0, sizeof *f);
	f->script = script;
	f->n = n;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

/* Waits for the session to end; f->heard stays for the caller to look
 * at and free (buf_free). */
static void
fake_server_stop(struct fake_server *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
}

#endif

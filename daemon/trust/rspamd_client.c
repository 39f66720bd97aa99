/*
 * rspamd_client: requests to rspamd over one connection each, and the
 * status of the last contacts (see rspamd_client.h).
 */
#include "trust/rspamd_client.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* Bytes of the message read from its file at a time. */
#define SEND_CHUNK 65536
/* A ping answers before this, or the status says so. */
#define PING_TIMEOUT_MS 5000
/* A ping is recorded as a contact when no check was recorded for this long. */
#define PING_RECORD_AFTER 60

/* ---- the status (owned here, under its lock) ----------------------------- */

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rspamd_status status;

static void
record(bool learn, bool ok, const char *fmt, ...) MH_PRINTF(3, 4);

static void
record(bool learn, bool ok, const char *fmt, ...)
{
	char text[sizeof status.last_result];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&status_lock);
	if (learn) {
		status.last_learn = time(NULL);
		status.learn_ok = ok;
		memcpy(status.learn_result, text, sizeof text);
		status.learned += ok;
	} else {
		status.last_contact = time(NULL);
		status.ok = ok;
		memcpy(status.last_result, text, sizeof text);
	}
	pthread_mutex_unlock(&status_lock);
}

void
rspamd_status_get(struct rspamd_status *out)
{
	pthread_mutex_lock(&status_lock);
	*out = status;
	pthread_mutex_unlock(&status_lock);
}

void
rspamd_status_unchecked(void)
{
	pthread_mutex_lock(&status_lock);
	status.unavailable++;
	pthread_mutex_unlock(&status_lock);
}

static void
count_checked(void)
{
	pthread_mutex_lock(&status_lock);
	status.checked++;
	pthread_mutex_unlock(&status_lock);
}

/* ---- servers ------------------------------------------------------------- */

int
rspamd_server_init(struct rspamd_server *s, const char *url, unsigned timeout_s,
		   const char *password, const char **error_r)
{
	memset(s, 0, sizeof *s);
	if (config_parse_http_url(url, &s->host, &s->port, error_r) < 0)
		return -1;
	s->timeout_ms = (int)(timeout_s > 600 ? 600 : timeout_s) * 1000;
	s->password = password != NULL ? xstrdup(password) : NULL;
	return 0;
}

void
rspamd_server_clear(struct rspamd_server *s)
{
	xfree(s->host);
	xfree(s->password);
	memset(s, 0, sizeof *s);
}

/* ---- one exchange -------------------------------------------------------- */

struct exchange {
	struct conn *c;
	struct timespec deadline;
	struct rspamd_http_head head;
	struct buf body;
};

static int64_t
ms_left(const struct exchange *x)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(x->deadline.tv_sec - now.tv_sec) * 1000 +
	       (x->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

/* Sets the conn deadline to what is left of the exchange; -1 when none is. */
static int
arm(struct exchange *x)
{
	int64_t left = ms_left(x);
	if (left <= 0)
		return -1;
	conn_set_timeout(x->c, (int)left);
	return 0;
}

static const char *
io_error(const struct exchange *x)
{
	return ms_left(x) <= 0 ? "timed out" : conn_error(x->c);
}

/* Connects, sends head and the message, and reads the reply head and body
 * (at most RSPAMD_REPLY_MAX bytes).  0, or -1 with *error_r. */
static int
exchange_run(struct exchange *x, const struct rspamd_server *srv, const struct buf *head,
	     int fd, uint64_t size, const char **error_r)
{
	clock_gettime(CLOCK_MONOTONIC, &x->deadline);
	x->deadline.tv_sec += srv->timeout_ms / 1000;
	x->deadline.tv_nsec += (long)(srv->timeout_ms % 1000) * 1000000L;
	if (x->deadline.tv_nsec >= 1000000000L) {
		x->deadline.tv_sec++;
		x->deadline.tv_nsec -= 1000000000L;
	}
	rspamd_http_head_init(&x->head);
	buf_init(&x->body, RSPAMD_REPLY_MAX);

	x->c = conn_connect(srv->host, srv->port, srv->timeout_ms, error_r);
	if (x->c == NULL)
		return -1;
	if (arm(x) < 0 || conn_write(x->c, head->data, head->len) < 0)
		goto io;
	if (size > 0) {
		char *chunk = xmalloc(SEND_CHUNK);
		uint64_t left = size;
		while (left > 0) {
			size_t want = left > SEND_CHUNK ? SEND_CHUNK : (size_t)left;
			ssize_t n = read(fd, chunk, want);
			if (n <= 0) {
				free(chunk);
				*error_r = n < 0 ? errfmt("cannot read the message: %s",
							  strerror(errno))
						 : "the message is shorter than its size";
				return -1;
			}
			if (arm(x) < 0 || conn_write(x->c, chunk, (size_t)n) < 0) {
				free(chunk);
				goto io;
			}
			left -= (uint64_t)n;
		}
		free(chunk);
	}
	if (arm(x) < 0 || conn_flush(x->c) < 0)
		goto io;
	while (!x->head.done) {
		const char *line;
		size_t len;
		if (arm(x) < 0)
			goto io;
		enum conn_result r = conn_read_line(x->c, RSPAMD_HEAD_LINE_MAX + 2, &line, &len);
		if (r == CONN_TOOLONG) {
			*error_r = "bad reply: HTTP header too long";
			return -1;
		}
		if (r != CONN_OK)
			goto io;
		if (rspamd_http_head_line(&x->head, line, len, error_r) < 0) {
			*error_r = errfmt("bad reply: %s", *error_r);
			return -1;
		}
	}
	if (x->head.chunked) {
		*error_r = "bad reply: chunked transfer coding";
		return -1;
	}
	if (x->head.have_length && x->head.length > RSPAMD_REPLY_MAX) {
		*error_r = "bad reply: too large";
		return -1;
	}
	/* the body: Content-Length bytes, or up to the end of the connection */
	uint64_t want = x->head.have_length ? x->head.length : RSPAMD_REPLY_MAX + 1;
	while (x->body.len < want) {
		size_t room = (size_t)(want - x->body.len);
		if (room > SEND_CHUNK)
			room = SEND_CHUNK;
		char *p = buf_reserve(&x->body, room);
		if (p == NULL) {
			*error_r = "bad reply: too large";
			return -1;
		}
		if (arm(x) < 0)
			goto io;
		ssize_t n = conn_read(x->c, p, room);
		if (n == 0 && !x->head.have_length)
			break;
		if (n <= 0)
			goto io;
		buf_commit(&x->body, (size_t)n);
	}
	return 0;
io:
	*error_r = io_error(x);
	return -1;
}

static void
exchange_clear(struct exchange *x)
{
	conn_free(&x->c);
	buf_free(&x->body);
}

/* ---- the requests -------------------------------------------------------- */

int
rspamd_check(const struct rspamd_server *srv, const struct rspamd_request *req, int fd,
	     uint64_t size, struct rspamd_result *r, const char **error_r)
{
	struct exchange x;
	struct buf head = BUF_INIT;
	int ret = -1;

	memset(&x, 0, sizeof x);
	memset(r, 0, sizeof *r);
	rspamd_request_head(&head, "/checkv2", srv->host, srv->port, req, NULL, size);
	if (exchange_run(&x, srv, &head, fd, size, error_r) < 0)
		goto out;
	if (x.head.status != 200) {
		struct buf why = BUF_INIT;
		if (!rspamd_reply_error(x.body.data != NULL ? x.body.data : "", x.body.len, &why))
			buf_puts(&why, x.head.reason);
		*error_r = errfmt("HTTP %u %s", x.head.status, buf_cstr(&why));
		buf_free(&why);
		goto out;
	}
	if (rspamd_reply_parse(x.body.data != NULL ? x.body.data : "", x.body.len, r,
			       error_r) < 0) {
		*error_r = errfmt("bad reply: %s", *error_r);
		rspamd_result_clear(r);
		goto out;
	}
	ret = 0;
out:
	if (ret == 0) {
		count_checked();
		record(false, true, "%s, score=%.2f", rspamd_action_name(r->action), r->score);
	} else {
		record(false, false, "%s", *error_r);
	}
	buf_free(&head);
	exchange_clear(&x);
	return ret;
}

enum rspamd_learn_result
rspamd_learn(const struct rspamd_server *srv, bool spam, int fd, uint64_t size,
	     struct buf *reason)
{
	struct exchange x;
	struct buf head = BUF_INIT;
	const char *error;
	enum rspamd_learn_result ret;

	memset(&x, 0, sizeof x);
	rspamd_request_head(&head, spam ? "/learnspam" : "/learnham", srv->host, srv->port,
			    NULL, srv->password, size);
	if (exchange_run(&x, srv, &head, fd, size, &error) < 0) {
		buf_puts(reason, error);
		ret = RSPAMD_LEARN_FAILED;
	} else if (x.head.status == 200) {
		ret = RSPAMD_LEARN_OK;
	} else {
		if (!rspamd_reply_error(x.body.data != NULL ? x.body.data : "", x.body.len,
					reason))
			buf_puts(reason, x.head.reason);
		/* 208 Already Reported: rspamd has learned this message so */
		ret = x.head.status == 208 ? RSPAMD_LEARN_DONE
		    : x.head.status >= 400 && x.head.status < 500 ? RSPAMD_LEARN_REFUSED
								  : RSPAMD_LEARN_FAILED;
	}
	if (ret == RSPAMD_LEARN_OK)
		record(true, true, "learned %s", spam ? "spam" : "ham");
	else if (ret == RSPAMD_LEARN_DONE)
		record(true, true, "%s learned already", spam ? "spam" : "ham");
	else
		record(true, false, "%s", buf_cstr(reason));
	buf_free(&head);
	exchange_clear(&x);
	return ret;
}

int
rspamd_ping(const struct rspamd_server *srv, const char **error_r)
{
	struct rspamd_server quick = *srv;
	struct exchange x;
	struct buf head = BUF_INIT;
	int ret = -1;

	memset(&x, 0, sizeof x);
	if (quick.timeout_ms > PING_TIMEOUT_MS)
		quick.timeout_ms = PING_TIMEOUT_MS;
	buf_printf(&head, "GET /ping HTTP/1.0\r\nConnection: close\r\n\r\n");
	if (exchange_run(&x, &quick, &head, -1, 0, error_r) == 0) {
		if (x.head.status == 200 && x.body.len >= 4 && memcmp(x.body.data, "pong", 4) == 0)
			ret = 0;
		else
			*error_r = errfmt("HTTP %u %s: not rspamd", x.head.status, x.head.reason);
	}
	struct rspamd_status now;
	rspamd_status_get(&now);
	if (ret < 0)
		record(false, false, "%s", *error_r);
	else if (!now.ok || now.last_contact + PING_RECORD_AFTER < time(NULL))
		record(false, true, "pong");
	buf_free(&head);
	exchange_clear(&x);
	return ret;
}

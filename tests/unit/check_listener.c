/* Unit tests for core/listener: real loopback sockets on port 0. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/tls.h"
#include "tests/unit/runner.h"

/* What the sessions saw, for the test to check. */
struct state {
	atomic_int sessions;	/* sessions started */
	atomic_int last_result;	/* the read result that ended the last one */
	atomic_int said_bye;	/* sessions that noticed listener_stopping() */
	atomic_int resumed;	/* resume calls of parked sessions */
	int wake_fd;		/* what parked sessions watch besides the socket */
	int park_timeout_ms;
};

/* Greets, echoes lines, ends at "quit" or when the peer goes. */
static void
echo_session(struct conn *c, void *ctx)
{
	struct state *st = ctx;
	const char *line;
	size_t len;

	atomic_fetch_add(&st->sessions, 1);
	conn_printf(c, "hello %s\r\n", conn_is_tls(c) ? "tls" : "plain");
	for (;;) {
		enum conn_result r = conn_read_line(c, 100, &line, &len);
		if (r != CONN_OK) {
			atomic_store(&st->last_result, r);
			break;
		}
		if (len >= 4 && memcmp(line, "quit", 4) == 0) {
			conn_puts(c, "bye\r\n");
			break;
		}
		conn_write(c, line, len);
	}
	conn_free(&c);
}

/* Like IMAP IDLE: waits for the peer, and says goodbye on shutdown. */
static void
idle_session(struct conn *c, void *ctx)
{
	struct state *st = ctx;

	atomic_fetch_add(&st->sessions, 1);
	conn_puts(c, "hello idle\r\n");
	for (;;) {
		int w = conn_wait(c, -1, 50);
		if (w != 0)
			break;
		if (listener_stopping()) {
			atomic_fetch_add(&st->said_bye, 1);
			conn_puts(c, "* BYE shutting down\r\n");
			break;
		}
	}
	conn_free(&c);
}

static struct state st;

static void park_resume(struct conn *c, void *arg);

/* Parks the session; when that is refused (the listeners are stopping, if
 * the test is right), says goodbye and ends it. */
static void
park(struct conn *c, struct state *s)
{
	if (listener_park(c, s->wake_fd, s->park_timeout_ms, park_resume, s) < 0) {
		if (listener_stopping()) {
			atomic_fetch_add(&s->said_bye, 1);
			conn_puts(c, "* BYE shutting down\r\n");
		} else {
			conn_puts(c, "not parked\r\n");
		}
		conn_free(&c);
	}
}

/* Says why it was woken (a line from the peer, the wake descriptor, the
 * time-out, or stopping), then parks again; ends at "quit" or EOF. */
static void
park_resume(struct conn *c, void *arg)
{
	struct state *s = arg;
	const char *line;
	size_t len;

	atomic_fetch_add(&s->resumed, 1);
	if (listener_stopping()) {
		atomic_fetch_add(&s->said_bye, 1);
		conn_puts(c, "* BYE shutting down\r\n");
		conn_free(&c);
		return;
	}
	int w = conn_wait(c, s->wake_fd, 0);
	if (w == 1) {
		if (conn_read_line(c, 100, &line, &len) != CONN_OK ||
		    (len >= 4 && memcmp(line, "quit", 4) == 0)) {
			conn_free(&c);
			return;
		}
		conn_puts(c, "line ");
		conn_write(c, line, len);
	} else if (w == 2) {
		uint64_t v;
		ck_assert_int_eq(read(s->wake_fd, &v, sizeof v), (ssize_t)sizeof v);
		conn_puts(c, "woken\r\n");
	} else {
		conn_puts(c, "time-out\r\n");
		s->park_timeout_ms = -1;
	}
	if (conn_flush(c) < 0) {
		conn_free(&c);
		return;
	}
	park(c, s);
}

/* Greets and parks at once. */
static void
park_session(struct conn *c, void *ctx)
{
	struct state *s = ctx;

	atomic_fetch_add(&s->sessions, 1);
	conn_puts(c, "hello park\r\n");
	if (conn_flush(c) < 0) {
		conn_free(&c);
		return;
	}
	park(c, s);
}

static void
add_listener(const char *name, const char *host, bool tls, listener_session_fn *fn)
{
	const char *error = NULL;
	struct listener_spec spec = {
		.name = name,
		.host = host,
		.port = 0,
		.implicit_tls = tls,
		.busy_reply = "421 too many connections\r\n",
		.session = fn,
		.ctx = &st,
	};
	ck_assert_msg(listener_add(&spec, &error) == 0, "listener_add: %s", error);
	ck_assert_uint_ne(listener_bound_port(name), 0);
}

static void
start(void)
{
	const char *error = NULL;
	ck_assert_msg(listener_start(&error) == 0, "listener_start: %s", error);
}

/* A client connection from src (NULL: any) to 127.0.0.1:port. */
static struct conn *
client(const char *src, unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	if (src != NULL) {
		struct sockaddr_in s = { .sin_family = AF_INET };
		ck_assert_int_eq(inet_pton(AF_INET, src, &s.sin_addr), 1);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&s, sizeof s), 0);
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	struct conn *c = conn_new(fd, 0);
	conn_set_timeout(c, 5000);
	return c;
}

static void
expect(struct conn *c, const char *want)
{
	const char *line;
	size_t len;
	enum conn_result r = conn_read_line(c, 200, &line, &len);
	ck_assert_msg(r == CONN_OK, "read: %d (%s), wanted %s", r, conn_error(c), want);
	ck_assert_msg(len == strlen(want) && memcmp(line, want, len) == 0,
		      "got %.*s, wanted %s", (int)len, line, want);
}

static void
expect_eof(struct conn *c)
{
	const char *line;
	size_t len;
	ck_assert_int_eq(conn_read_line(c, 200, &line, &len), CONN_EOF);
}

/* Waits (bounded) until listener_active(name) is n. */
static void
wait_active(const char *name, unsigned n)
{
	for (int i = 0; i < 500 && listener_active(name) != n; i++)
		usleep(10000);
	ck_assert_uint_eq(listener_active(name), n);
}

START_TEST(test_accept_and_session)
{
	add_listener("t1", "127.0.0.1", false, echo_session);
	add_listener("t2", "127.0.0.1", false, echo_session);
	ck_assert_uint_ne(listener_bound_port("t1"), listener_bound_port("t2"));
	ck_assert_uint_eq(listener_bound_port("nope"), 0);
	start();
	ck_assert(!listener_stopping());

	struct conn *a = client(NULL, listener_bound_port("t1"));
	struct conn *b = client(NULL, listener_bound_port("t2"));
	expect(a, "hello plain\r\n");
	expect(b, "hello plain\r\n");
	ck_assert_uint_eq(listener_active("t1"), 1);
	ck_assert_uint_eq(listener_active("t2"), 1);
	ck_assert_uint_eq(listener_active(NULL), 2);
	conn_puts(a, "ping\r\n");
	expect(a, "ping\r\n");
	conn_puts(a, "quit\r\n");
	expect(a, "bye\r\n");
	expect_eof(a);
	wait_active("t1", 0);
	ck_assert_uint_eq(listener_active("t2"), 1);
	/* the peer hanging up ends a session too */
	conn_free(&b);
	wait_active(NULL, 0);
	ck_assert_int_eq(atomic_load(&st.last_result), CONN_EOF);
	conn_free(&a);
	ck_assert_uint_eq(listener_stop(1), 0);
	ck_assert(listener_stopping());
	ck_assert_int_eq(atomic_load(&st.sessions), 2);
}
END_TEST

START_TEST(test_global_limit)
{
	struct listener_limits lim = { .max_connections = 2, .max_per_ip = 0 };
	listener_set_limits(&lim);
	add_listener("g", "127.0.0.1", false, echo_session);
	start();
	unsigned port = listener_bound_port("g");
	struct conn *a = client(NULL, port);
	struct conn *b = client(NULL, port);
	expect(a, "hello plain\r\n");
	expect(b, "hello plain\r\n");
	struct conn *c = client(NULL, port);
	expect(c, "421 too many connections\r\n");
	expect_eof(c);
	conn_free(&c);
	ck_assert_uint_eq(listener_active("g"), 2);
	/* one leaves: room again */
	conn_free(&a);
	wait_active("g", 1);
	c = client(NULL, port);
	expect(c, "hello plain\r\n");
	conn_free(&b);
	conn_free(&c);
	wait_active(NULL, 0);
	ck_assert_uint_eq(listener_stop(1), 0);
	ck_assert_int_eq(atomic_load(&st.sessions), 3);
}
END_TEST

START_TEST(test_per_ip_limit)
{
	struct listener_limits lim = { .max_connections = 10, .max_per_ip = 1 };
	listener_set_limits(&lim);
	add_listener("p", "127.0.0.1", false, echo_session);
	start();
	unsigned port = listener_bound_port("p");
	struct conn *a = client("127.0.0.1", port);
	expect(a, "hello plain\r\n");
	struct conn *b = client("127.0.0.1", port);
	expect(b, "421 too many connections\r\n");
	expect_eof(b);
	conn_free(&b);
	/* another address (all of 127/8 is loopback on Linux) is let in */
	struct conn *c = client("127.0.0.2", port);
	expect(c, "hello plain\r\n");
	ck_assert_uint_eq(listener_active("p"), 2);
	conn_free(&a);
	wait_active("p", 1);
	/* the first address's count went back down */
	b = client("127.0.0.1", port);
	expect(b, "hello plain\r\n");
	conn_free(&b);
	conn_free(&c);
	wait_active(NULL, 0);
	ck_assert_uint_eq(listener_stop(1), 0);
}
END_TEST

START_TEST(test_stop_ends_blocked_session)
{
	add_listener("s", "127.0.0.1", false, echo_session);
	start();
	unsigned port = listener_bound_port("s");
	struct conn *a = client(NULL, port);
	expect(a, "hello plain\r\n");
	ck_assert_uint_eq(listener_active("s"), 1);
	atomic_store(&st.last_result, 99);
	/* the session sits in a read with the default 5-minute deadline: the
	 * grace period passes, then its socket is shut down and it ends */
	ck_assert_uint_eq(listener_stop(0), 0);
	ck_assert_uint_eq(listener_active(NULL), 0);
	int r = atomic_load(&st.last_result);
	ck_assert(r == CONN_EOF || r == CONN_ERROR);
	expect_eof(a);
	conn_free(&a);
	/* nothing listens any more */
	const char *error = NULL;
	ck_assert_ptr_null(conn_connect("127.0.0.1", port, 2000, &error));
}
END_TEST

START_TEST(test_stop_grace_goodbye)
{
	add_listener("i", "127.0.0.1", false, idle_session);
	start();
	struct conn *a = client(NULL, listener_bound_port("i"));
	expect(a, "hello idle\r\n");
	/* the session notices listener_stopping() within the grace period */
	ck_assert_uint_eq(listener_stop(10), 0);
	ck_assert_int_eq(atomic_load(&st.said_bye), 1);
	expect(a, "* BYE shutting down\r\n");
	expect_eof(a);
	conn_free(&a);
}
END_TEST

START_TEST(test_implicit_tls)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	char *cert = xasprintf("%s/cert.pem", dir);
	char *key = xasprintf("%s/key.pem", dir);
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "mail.example.test", &error), 0);
	ck_assert_int_eq(tls_server_load(cert, key, &error), 0);
	add_listener("imaps", "127.0.0.1", true, echo_session);
	struct listener_limits lim = { .max_connections = 1, .max_per_ip = 1 };
	listener_set_limits(&lim);
	start();
	unsigned port = listener_bound_port("imaps");
	SSL_CTX *ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);

	struct conn *a = conn_connect("127.0.0.1", port, 2000, &error);
	ck_assert_ptr_nonnull(a);
	conn_set_timeout(a, 5000);
	ck_assert_msg(conn_starttls_client(a, ctx, "mail.example.test", &error) == 0, "%s", error);
	/* the session runs only after the handshake, so it sees TLS */
	expect(a, "hello tls\r\n");
	conn_puts(a, "secret\r\n");
	expect(a, "secret\r\n");

	/* over the limit on a TLS listener: no plaintext busy reply, closed */
	struct conn *b = client(NULL, port);
	expect_eof(b);
	conn_free(&b);

	/* a client that never handshakes does not hold a session */
	conn_free(&a);
	wait_active(NULL, 0);
	b = client(NULL, port);
	conn_puts(b, "not tls\r\n");
	conn_flush(b);
	/* the server answers with an alert and closes (or resets) */
	const char *line;
	size_t len;
	enum conn_result r = conn_read_line(b, 200, &line, &len);
	ck_assert(r == CONN_EOF || r == CONN_ERROR);
	conn_free(&b);
	wait_active(NULL, 0);
	ck_assert_int_eq(atomic_load(&st.sessions), 1);

	ck_assert_uint_eq(listener_stop(1), 0);
	SSL_CTX_free(ctx);
	tls_server_clear();
	free(cert);
	free(key);
	free(dir);
}
END_TEST

START_TEST(test_all_addresses)
{
	const char *error = NULL;
	add_listener("any", NULL, false, echo_session);
	start();
	unsigned port = listener_bound_port("any");
	struct conn *a = conn_connect("127.0.0.1", port, 2000, &error);
	ck_assert_ptr_nonnull(a);
	conn_set_timeout(a, 5000);
	expect(a, "hello plain\r\n");
	conn_free(&a);
	/* IPv6 loopback too, where the machine has it */
	a = conn_connect("::1", port, 2000, &error);
	if (a != NULL) {
		conn_set_timeout(a, 5000);
		expect(a, "hello plain\r\n");
		conn_free(&a);
	}
	wait_active(NULL, 0);
	ck_assert_uint_eq(listener_stop(1), 0);
}
END_TEST

START_TEST(test_bind_error)
{
	const char *error = NULL;
	add_listener("first", "127.0.0.1", false, echo_session);
	struct listener_spec spec = {
		.name = "second",
		.host = "127.0.0.1",
		.port = listener_bound_port("first"),
		.session = echo_session,
	};
	ck_assert_int_eq(listener_add(&spec, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "second"));
	ck_assert_uint_eq(listener_bound_port("second"), 0);
	ck_assert_uint_eq(listener_stop(0), 0);
}
END_TEST

START_TEST(test_park_and_resume)
{
	static const uint64_t one = 1;

	st.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(st.wake_fd, 0);
	st.park_timeout_ms = 200;
	add_listener("pk", "127.0.0.1", false, park_session);
	start();
	unsigned port = listener_bound_port("pk");
	struct conn *a = client(NULL, port);
	expect(a, "hello park\r\n");
	/* the first wake-up is the time-out (the session then parks without
	 * one); a parked session still counts */
	expect(a, "time-out\r\n");
	ck_assert_uint_eq(listener_active("pk"), 1);
	conn_puts(a, "ping\r\n");
	expect(a, "line ping\r\n");
	ck_assert_int_eq(write(st.wake_fd, &one, sizeof one), (ssize_t)sizeof one);
	expect(a, "woken\r\n");
	/* the line and the wake-up together: one resume each, never lost */
	conn_puts(a, "pong\r\n");
	conn_flush(a);
	ck_assert_int_eq(write(st.wake_fd, &one, sizeof one), (ssize_t)sizeof one);
	const char *line;
	size_t len;
	bool got_line = false, got_wake = false;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(conn_read_line(a, 200, &line, &len), CONN_OK);
		if (len == 11 && memcmp(line, "line pong\r\n", 11) == 0)
			got_line = true;
		else if (len == 7 && memcmp(line, "woken\r\n", 7) == 0)
			got_wake = true;
	}
	ck_assert(got_line && got_wake);
	ck_assert_int_eq(atomic_load(&st.resumed), 5);
	conn_puts(a, "quit\r\n");
	conn_flush(a);
	expect_eof(a);
	wait_active(NULL, 0);
	conn_free(&a);

	/* a peer that hangs up while parked ends the session too */
	a = client(NULL, port);
	expect(a, "hello park\r\n");
	conn_free(&a);
	wait_active(NULL, 0);
	ck_assert_uint_eq(listener_stop(1), 0);
	ck_assert_int_eq(atomic_load(&st.said_bye), 0);
	close(st.wake_fd);
}
END_TEST

START_TEST(test_stop_resumes_parked)
{
	st.wake_fd = -1;
	st.park_timeout_ms = -1;
	add_listener("ps", "127.0.0.1", false, park_session);
	start();
	struct conn *a = client(NULL, listener_bound_port("ps"));
	struct conn *b = client(NULL, listener_bound_port("ps"));
	expect(a, "hello park\r\n");
	expect(b, "hello park\r\n");
	/* parked sessions are given a thread to say goodbye (the sockets
	 * are never shut down under them: they would not get it out) */
	ck_assert_uint_eq(listener_stop(20), 0);
	ck_assert_int_eq(atomic_load(&st.said_bye), 2);
	expect(a, "* BYE shutting down\r\n");
	expect(b, "* BYE shutting down\r\n");
	expect_eof(a);
	expect_eof(b);
	conn_free(&a);
	conn_free(&b);
	/* not from a session thread */
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct conn *c = conn_new(sv[0], 0);
	ck_assert_int_eq(listener_park(c, -1, -1, park_resume, &st), -1);
	conn_free(&c);
	close(sv[1]);
}
END_TEST

static void
reset_state(void)
{
	atomic_store(&st.sessions, 0);
	atomic_store(&st.last_result, 0);
	atomic_store(&st.said_bye, 0);
	atomic_store(&st.resumed, 0);
	struct listener_limits none = { 0, 0 };
	listener_set_limits(&none);
	log_set_quiet(1);
}

Suite *
make_suite(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("listener");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, reset_state, NULL);
	tcase_add_test(tc, test_accept_and_session);
	tcase_add_test(tc, test_global_limit);
	tcase_add_test(tc, test_per_ip_limit);
	tcase_add_test(tc, test_stop_ends_blocked_session);
	tcase_add_test(tc, test_stop_grace_goodbye);
	tcase_add_test(tc, test_implicit_tls);
	tcase_add_test(tc, test_all_addresses);
	tcase_add_test(tc, test_bind_error);
	tcase_add_test(tc, test_park_and_resume);
	tcase_add_test(tc, test_stop_resumes_parked);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for core/client_conn: which addresses an upstream connection
 * may reach, that a refused one is never connected to, and the end a
 * connection test gets however slowly the peer trickles. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/client_conn.h"
#include "core/conn.h"
#include "tests/unit/runner.h"

static bool
public(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else {
		ck_assert_msg(inet_pton(AF_INET6, text, &s6->sin6_addr) == 1, "%s", text);
		s6->sin6_family = AF_INET6;
	}
	return client_conn_addr_public((const struct sockaddr *)&ss);
}

START_TEST(test_address_classes)
{
	static const char *const refused[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1",
		"100.127.255.254", "127.0.0.1", "127.1.2.3", "169.254.169.254",
		"172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.168.1.1",
		"198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1",
		"239.255.255.250", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
		"::ffff:169.254.169.254", "::ffff:0.0.0.0", "64:ff9b::7f00:1",
		"64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::1", "2002:c0a8:101::1",
		"fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1",
		"ff0e::1", "2001:db8::1", "100::1",
	};
	static const char *const allowed[] = {
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.1", "100.63.255.255",
		"100.128.0.1", "126.255.255.255", "128.0.0.1", "169.253.0.1", "172.15.255.255",
		"172.32.0.1", "192.167.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1",
		"223.255.255.255",
		"2001:4860:4860::8888", "2a00:1450::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
		"2002:808:808::1", "fbff::1", "fe00::1",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_msg(!public(refused[i]), "%s must be refused", refused[i]);
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		ck_assert_msg(public(allowed[i]), "%s must be allowed", allowed[i]);
	struct sockaddr sa = { .sa_family = AF_UNIX };
	ck_assert(!client_conn_addr_public(&sa));
}
END_TEST

/* A listening socket on 127.0.0.1; its port in *port_r. */
static int
listen_loopback(unsigned *port_r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port_r = ntohs(sa.sin_port);
	return fd;
}

START_TEST(test_loopback_refused_unless_allowed)
{
	unsigned port;
	int lfd = listen_loopback(&port);
	const char *error = NULL;
	struct client_conn_params p = { .timeout_ms = 2000 };
	for (const char *const *h = (const char *const[]){ "127.0.0.1", "localhost",
							   "::ffff:127.0.0.1", "0.0.0.0",
							   NULL };
	     *h != NULL; h++) {
		ck_assert_ptr_null(client_conn_open(*h, port, &p, &error));
		ck_assert_msg(strstr(error, "allow_private_hosts") != NULL, "%s", error);
	}
	/* nothing got as far as the listener */
	ck_assert_int_eq(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_lt(accept(lfd, NULL, NULL), 0);
	ck_assert_int_eq(errno, EAGAIN);
	p.allow_private = true;
	struct conn *c = client_conn_open("localhost", port, &p, &error);
	ck_assert_msg(c != NULL, "%s", error);
	conn_free(&c);
	close(lfd);
}
END_TEST

struct trickler {
	int lfd;
	int stop[2];
};

/* Accepts one connection and sends a byte every 50 ms, never a line end,
 * until told to stop. */
static void *
trickle(void *arg)
{
	struct trickler *t = arg;
	int fd = accept(t->lfd, NULL, NULL);
	for (int i = 0; fd >= 0 && i < 400; i++) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		char b;
		if (recv(t->stop[0], &b, 1, MSG_DONTWAIT) == 1)
			break;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

START_TEST(test_total_deadline_ends_a_trickling_peer)
{
	struct trickler t;
	unsigned port;
	t.lfd = listen_loopback(&port);
	ck_assert_int_eq(pipe(t.stop), 0);
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, trickle, &t), 0);
	/* every read moves within its 10 s, but the whole has 300 ms */
	struct client_conn_params p = { .timeout_ms = 10000, .total_ms = 300,
					.allow_private = true };
	const char *error = NULL, *line;
	size_t len;
	struct conn *c = client_conn_open("127.0.0.1", port, &p, &error);
	ck_assert_msg(c != NULL, "%s", error);
	ck_assert_int_eq(conn_read_line(c, 1 << 20, &line, &len), CONN_ERROR);
	ck_assert_str_eq(conn_error(c), "timed out");
	conn_free(&c);
	ck_assert_int_eq(write(t.stop[1], "s", 1), 1);
	pthread_join(tid, NULL);
	close(t.lfd);
	close(t.stop[0]);
	close(t.stop[1]);
}
END_TEST

struct firing {
	struct client_conn_cancel *cancel;
	int started[2];
};

/* Fires the cancel once the reader is about to wait. */
static void *
fire_later(void *arg)
{
	struct firing *f = arg;
	char b;
	ck_assert_int_eq(read(f->started[0], &b, 1), 1);
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	client_conn_cancel_fire(f->cancel);
	return NULL;
}

START_TEST(test_cancel_ends_a_wait_on_a_silent_peer)
{
	unsigned port;
	int lfd = listen_loopback(&port);
	struct client_conn_cancel cancel;
	client_conn_cancel_init(&cancel);
	struct client_conn_params p = { .timeout_ms = 60000, .allow_private = true,
					.cancel = &cancel };
	const char *error = NULL, *line;
	size_t len;
	struct conn *c = client_conn_open("127.0.0.1", port, &p, &error);
	ck_assert_msg(c != NULL, "%s", error);
	struct firing f = { &cancel, { -1, -1 } };
	ck_assert_int_eq(pipe(f.started), 0);
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, fire_later, &f), 0);
	ck_assert_int_eq(write(f.started[1], "s", 1), 1);
	/* the peer (the listen backlog) never says a word: without the
	 * cancel this would wait its 60 s and time out */
	enum conn_result r = conn_read_line(c, 1024, &line, &len);
	ck_assert_int_ne(r, CONN_OK);
	ck_assert_msg(strcmp(conn_error(c), "timed out") != 0, "not ended by the cancel");
	pthread_join(tid, NULL);
	conn_free(&c);
	/* once fired, no new connection is made with it */
	ck_assert_ptr_null(client_conn_open("127.0.0.1", port, &p, &error));
	ck_assert_str_eq(error, "cancelled: mailhub is stopping");
	client_conn_cancel_clear(&cancel);
	pthread_mutex_destroy(&cancel.lock);
	close(f.started[0]);
	close(f.started[1]);
	close(lfd);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("client_conn");
	TCase *tc = tcase_create("client_conn");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_address_classes);
	tcase_add_test(tc, test_loopback_refused_unless_allowed);
	tcase_add_test(tc, test_total_deadline_ends_a_trickling_peer);
	tcase_add_test(tc, test_cancel_ends_a_wait_on_a_silent_peer);
	suite_add_tcase(s, tc);
	return s;
}

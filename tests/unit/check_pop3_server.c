/*
 * Unit tests for pop3/server: whole sessions over a socket pair against a
 * real store in a temporary data dir, as transcripts (what the client
 * sends, what the server must answer).  A local socket counts as loopback,
 * so with plaintext_on_loopback the session allows logins without TLS;
 * no TLS context is loaded, so STLS is not offered.
 */
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/password.h"
#include "core/throttle.h"
#include "core/xmalloc.h"
#include "pop3/inuse.h"
#include "pop3/server.h"
#include "store/blob.h"
#include "store/store.h"
#include "tests/unit/runner.h"

static const char *const texts[] = {
	"Subject: one\r\n\r\n.dot\r\nfirst\r\n",
	"Subject: two\r\n\r\nsecond\r\n",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

struct world {
	char *dir;
	struct config *cfg;
	struct pop3_listener listener;
	int64_t user_id;
	int64_t inbox_id;
};

static void
world_open(struct world *w)
{
	const char *error = NULL;
	struct store *st = NULL;
	struct store_user u;
	struct store_mailbox mb;
	char *hash = NULL;
	char blob[SHA256_HEX_LEN + 1];
	struct throttle_settings ts = { 100, 60, 0 };

	throttle_configure(&ts);
	throttle_reset();
	w->dir = test_tmpdir();
	w->cfg = config_defaults();
	free(w->cfg->data_dir);
	w->cfg->data_dir = xstrdup(w->dir);
	w->cfg->plaintext_on_loopback = true;
	w->cfg->pop3_timeout = 30;
	w->listener.implicit_tls = false;
	w->listener.cfg = w->cfg;

	ck_assert_int_eq(store_open(w->dir, &st, &error), STORE_OK);
	ck_assert_int_eq(store_domain_add(st, "example.org", &error), STORE_OK);
	ck_assert_int_eq(password_hash("pass word", &hash, &error), 0);
	ck_assert_int_eq(store_user_add(st, "alice@example.org", hash, false,
					0, &error), STORE_OK);
	free(hash);
	ck_assert_int_eq(store_user_get(st, "alice@example.org", &u, &error),
			 STORE_OK);
	w->user_id = u.id;
	store_user_clear(&u);
	ck_assert_int_eq(store_mailbox_get(st, w->user_id, "INBOX", &mb,
					   &error), STORE_OK);
	w->inbox_id = mb.id;
	store_mailbox_clear(&mb);
	for (size_t i = 0; i < N_TEXTS; i++) {
		uint32_t uid;
		ck_assert_int_eq(blob_put(st, texts[i], strlen(texts[i]), blob,
					  &error), STORE_OK);
		ck_assert_int_eq(store_append(st, w->inbox_id, blob,
					      strlen(texts[i]), 1700000000, 0,
					      NULL, false, &uid, &error),
				 STORE_OK);
	}
	store_close(&st);
}

static void
world_close(struct world *w)
{
	config_free(&w->cfg);
	free(w->dir);
}

static size_t
inbox_count(struct world *w)
{
	const char *error = NULL;
	struct store *st = NULL;
	struct store_message *list = NULL;
	size_t n = 0;

	ck_assert_int_eq(store_open(w->dir, &st, &error), STORE_OK);
	ck_assert_int_eq(store_message_list(st, w->inbox_id, 1, &list, &n,
					    &error), STORE_OK);
	store_message_list_free(&list, n);
	store_close(&st);
	return n;
}

/* The client end of one session, with the server in its own thread. */
struct client {
	int fd;
	pthread_t server;
	struct buf in;
};

struct server_arg {
	struct conn *c;
	struct pop3_listener *listener;
};

static void *
server_main(void *p)
{
	struct server_arg *a = p;
	pop3_session_run(a->c, a->listener);
	free(a);
	return NULL;
}

static void
client_start(struct client *cl, struct world *w)
{
	int sv[2];
	struct timeval tv = { 20, 0 };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof tv), 0);
	struct server_arg *a = xmalloc(sizeof *a);
	a->c = conn_new(sv[0], 0);
	a->listener = &w->listener;
	cl->fd = sv[1];
	buf_init(&cl->in, 0);
	ck_assert_int_eq(pthread_create(&cl->server, NULL, server_main, a), 0);
}

/* The next line from the server without its CRLF, malloc'd; NULL at EOF. */
static char *
client_line(struct client *cl)
{
	for (int i = 0; i < 100000; i++) {
		char *lf = cl->in.data ? memchr(cl->in.data, '\n', cl->in.len)
				       : NULL;
		if (lf != NULL) {
			size_t n = (size_t)(lf - cl->in.data) + 1;
			ck_assert_msg(n >= 2 && lf[-1] == '\r', "line without CRLF");
			char *line = xstrndup(cl->in.data, n - 2);
			buf_consume(&cl->in, n);
			return line;
		}
		char chunk[4096];
		ssize_t got = read(cl->fd, chunk, sizeof chunk);
		ck_assert_msg(got >= 0, "read timed out or failed");
		if (got == 0)
			return NULL;
		buf_append(&cl->in, chunk, (size_t)got);
	}
	ck_abort_msg("no line");
	return NULL;
}

static void
client_send(struct client *cl, const char *text)
{
	size_t n = strlen(text);
	ck_assert_int_eq(write(cl->fd, text, n), (ssize_t)n);
}

/* Sends cmd (CRLF added) and checks that the reply starts with want. */
static void
expect(struct client *cl, const char *cmd, const char *want)
{
	if (cmd != NULL) {
		client_send(cl, cmd);
		client_send(cl, "\r\n");
	}
	char *line = client_line(cl);
	ck_assert_msg(line != NULL, "EOF after %s", cmd ? cmd : "(greeting)");
	ck_assert_msg(strncmp(line, want, strlen(want)) == 0,
		      "%s: got \"%s\", want \"%s...\"", cmd ? cmd : "greeting",
		      line, want);
	free(line);
}

/* Reads a multi-line body up to "." into one string of lines joined with
 * "\n" (stuffing kept). */
static char *
multi(struct client *cl)
{
	struct buf b = BUF_INIT;
	for (;;) {
		char *line = client_line(cl);
		ck_assert_ptr_nonnull(line);
		if (strcmp(line, ".") == 0) {
			free(line);
			break;
		}
		buf_printf(&b, "%s\n", line);
		free(line);
	}
	if (b.data == NULL)
		buf_puts(&b, "");
	return buf_steal(&b);
}

static void
client_end(struct client *cl)
{
	char *line = client_line(cl);
	ck_assert_msg(line == NULL, "more after the end: %s", line);
	pthread_join(cl->server, NULL);
	close(cl->fd);
	buf_free(&cl->in);
}

static void
login(struct client *cl)
{
	expect(cl, NULL, "+OK");
	expect(cl, "USER alice@example.org", "+OK");
	expect(cl, "PASS pass word", "+OK");
}

START_TEST(test_transcript)
{
	struct world w;
	struct client cl;
	char *body;
	char want[64];

	world_open(&w);
	client_start(&cl, &w);
	expect(&cl, NULL, "+OK");
	expect(&cl, "CAPA", "+OK");
	body = multi(&cl);
	ck_assert_ptr_nonnull(strstr(body, "\nUSER\n"));
	/* plaintext on loopback: SCRAM, but no channel-bound -PLUS */
	ck_assert_ptr_nonnull(strstr(body, "SASL PLAIN LOGIN SCRAM-SHA-256\n"));
	ck_assert_ptr_null(strstr(body, "STLS"));	/* no certificate */
	free(body);
	expect(&cl, "STAT", "-ERR");
	expect(&cl, "PASS pass word", "-ERR");	/* USER first */
	expect(&cl, "USER alice@example.org", "+OK");
	expect(&cl, "PASS pass word", "+OK");
	snprintf(want, sizeof want, "+OK 2 %zu",
		 strlen(texts[0]) + strlen(texts[1]));
	expect(&cl, "STAT", want);
	expect(&cl, "LIST", "+OK");
	body = multi(&cl);
	snprintf(want, sizeof want, "1 %zu\n2 %zu\n", strlen(texts[0]),
		 strlen(texts[1]));
	ck_assert_str_eq(body, want);
	free(body);
	expect(&cl, "UIDL", "+OK");
	body = multi(&cl);
	ck_assert_uint_eq(strlen(body), 2 * (2 + 16 + 1));
	free(body);
	snprintf(want, sizeof want, "+OK %zu octets", strlen(texts[0]));
	expect(&cl, "RETR 1", want);
	body = multi(&cl);
	ck_assert_str_eq(body, "Subject: one\n\n..dot\nfirst\n");
	free(body);
	expect(&cl, "TOP 2 0", "+OK");
	body = multi(&cl);
	ck_assert_str_eq(body, "Subject: two\n\n");
	free(body);
	expect(&cl, "DELE 1", "+OK");
	expect(&cl, "DELE 1", "-ERR");
	expect(&cl, "RETR 1", "-ERR");
	expect(&cl, "LIST 2", "+OK 2 ");
	expect(&cl, "RSET", "+OK 2 ");
	expect(&cl, "DELE 2", "+OK");
	expect(&cl, "STLS", "-ERR");		/* not after login */
	expect(&cl, "QUIT", "+OK");
	client_end(&cl);
	/* UPDATE removed message 2 only */
	ck_assert_uint_eq(inbox_count(&w), 1);
	ck_assert(!pop3_inuse_held(w.user_id));
	world_close(&w);
}
END_TEST

START_TEST(test_no_update_without_quit)
{
	struct world w;
	struct client cl;

	world_open(&w);
	client_start(&cl, &w);
	login(&cl);
	expect(&cl, "DELE 1", "+OK");
	expect(&cl, "DELE 2", "+OK");
	shutdown(cl.fd, SHUT_WR);	/* the client goes away */
	client_end(&cl);
	ck_assert_uint_eq(inbox_count(&w), 2);
	ck_assert(!pop3_inuse_held(w.user_id));
	world_close(&w);
}
END_TEST

START_TEST(test_in_use_and_auth_plain)
{
	struct world w;
	struct client a, b;

	world_open(&w);
	client_start(&a, &w);
	login(&a);
	ck_assert(pop3_inuse_held(w.user_id));
	client_start(&b, &w);
	expect(&b, NULL, "+OK");
	/* "\0alice@example.org\0pass word" */
	expect(&b, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHBhc3Mgd29yZA==",
	       "-ERR [IN-USE]");
	expect(&a, "QUIT", "+OK");
	client_end(&a);
	expect(&b, "AUTH PLAIN", "+ ");
	expect(&b, "AGFsaWNlQGV4YW1wbGUub3JnAHBhc3Mgd29yZA==", "+OK");
	expect(&b, "QUIT", "+OK");
	client_end(&b);
	world_close(&w);
}
END_TEST

START_TEST(test_pipelined_and_errors)
{
	struct world w;
	struct client cl;

	world_open(&w);
	w.cfg->errors = 3;
	client_start(&cl, &w);
	expect(&cl, NULL, "+OK");
	client_send(&cl, "USER alice@example.org\r\nPASS pass word\r\n"
		    "NOOP\r\nBOGUS\r\nRETR\r\nLIST 9\r\nNOOP\r\n");
	expect(&cl, NULL, "+OK");
	expect(&cl, NULL, "+OK");
	expect(&cl, NULL, "+OK");
	expect(&cl, NULL, "-ERR unknown command");
	expect(&cl, NULL, "-ERR missing argument");
	expect(&cl, NULL, "-ERR no such message");
	/* the third error ends the session: the last NOOP is not answered */
	expect(&cl, NULL, "-ERR too many errors");
	client_end(&cl);
	ck_assert(!pop3_inuse_held(w.user_id));
	world_close(&w);
}
END_TEST

START_TEST(test_wrong_password)
{
	struct world w;
	struct client cl;

	world_open(&w);
	client_start(&cl, &w);
	expect(&cl, NULL, "+OK");
	expect(&cl, "USER alice@example.org", "+OK");
	expect(&cl, "PASS wrong", "-ERR [AUTH]");
	expect(&cl, "USER nobody@example.org", "+OK");
	expect(&cl, "PASS pass word", "-ERR [AUTH]");
	expect(&cl, "USER ALICE@example.org", "+OK");
	expect(&cl, "PASS pass word", "+OK");
	expect(&cl, "QUIT", "+OK");
	client_end(&cl);
	world_close(&w);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("pop3_server");
	TCase *tc = tcase_create("session");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_transcript);
	tcase_add_test(tc, test_no_update_without_quit);
	tcase_add_test(tc, test_in_use_and_auth_plain);
	tcase_add_test(tc, test_pipelined_and_errors);
	tcase_add_test(tc, test_wrong_password);
	suite_add_tcase(s, tc);
	return s;
}

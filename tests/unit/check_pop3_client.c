/* Unit tests for pop3/client: the pure reply parser, and the client
 * against a scripted server on loopback. */
#include <string.h>

#include "core/log.h"
#include "pop3/client.h"
#include "tests/unit/runner.h"
#include "tests/unit/fetch_fake_server.h"

#define S(s) s, strlen(s)

START_TEST(test_status)
{
	const char *t;
	size_t n;
	ck_assert_int_eq(pop3c_parse_status(S("+OK ready\r\n"), &t, &n), 1);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(t, "ready", 5), 0);
	ck_assert_int_eq(pop3c_parse_status(S("+OK\r\n"), &t, &n), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(pop3c_parse_status(S("-ERR [AUTH] no\n"), &t, &n), 0);
	ck_assert_int_eq(memcmp(t, "[AUTH] no", n), 0);
	ck_assert_int_eq(pop3c_parse_status(S("+OKAY\r\n"), &t, &n), -1);
	ck_assert_int_eq(pop3c_parse_status(S("* OK imap\r\n"), &t, &n), -1);
	ck_assert_int_eq(pop3c_parse_status(S(""), &t, &n), -1);
}
END_TEST

START_TEST(test_unstuff)
{
	const char *d;
	size_t n;
	ck_assert_int_eq(pop3c_unstuff_line(S(".\r\n"), &d, &n), 1);
	ck_assert_int_eq(pop3c_unstuff_line(S(".\n"), &d, &n), 1);
	ck_assert_int_eq(pop3c_unstuff_line(S("..\r\n"), &d, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(d[0], '.');
	ck_assert_int_eq(pop3c_unstuff_line(S("..x\r\n"), &d, &n), 0);
	ck_assert_int_eq(memcmp(d, ".x", n), 0);
	ck_assert_int_eq(pop3c_unstuff_line(S("text\r\n"), &d, &n), 0);
	ck_assert_int_eq(memcmp(d, "text", n), 0);
	ck_assert_int_eq(pop3c_unstuff_line(S("\r\n"), &d, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_uidl_pair_capa)
{
	uint32_t m;
	const char *u;
	size_t n;
	ck_assert_int_eq(pop3c_parse_uidl(S("1 whqtswO00WBw418f9t5JxYwZ\r\n"), &m, &u, &n), 0);
	ck_assert_uint_eq(m, 1);
	ck_assert_uint_eq(n, 24);
	ck_assert_int_eq(pop3c_parse_uidl(S("0 abc"), &m, &u, &n), -1);
	ck_assert_int_eq(pop3c_parse_uidl(S("1 "), &m, &u, &n), -1);
	ck_assert_int_eq(pop3c_parse_uidl(S("1 a b"), &m, &u, &n), -1);
	ck_assert_int_eq(pop3c_parse_uidl(S("x abc"), &m, &u, &n), -1);
	char longu[100];
	memset(longu, 'a', sizeof longu);
	memcpy(longu, "1 ", 2);
	ck_assert_int_eq(pop3c_parse_uidl(longu, 72, &m, &u, &n), 0);
	ck_assert_int_eq(pop3c_parse_uidl(longu, 73, &m, &u, &n), -1);

	uint32_t a;
	uint64_t b;
	ck_assert_int_eq(pop3c_parse_pair(S("2 320"), &a, &b), 0);
	ck_assert_uint_eq(a, 2);
	ck_assert_uint_eq(b, 320);
	ck_assert_int_eq(pop3c_parse_pair(S("2 320 messages"), &a, &b), 0);
	ck_assert_int_eq(pop3c_parse_pair(S("2"), &a, &b), -1);
	ck_assert_int_eq(pop3c_parse_pair(S("4294967296 1"), &a, &b), -1);

	ck_assert_uint_eq(pop3c_parse_capa(S("STLS\r\n")), POP3C_CAP_STLS);
	ck_assert_uint_eq(pop3c_parse_capa(S("SASL LOGIN PLAIN\r\n")), POP3C_CAP_SASL_PLAIN);
	ck_assert_uint_eq(pop3c_parse_capa(S("SASL LOGIN")), 0);
	ck_assert_uint_eq(pop3c_parse_capa(S("PIPELINING")), POP3C_CAP_PIPELINING);
	ck_assert_uint_eq(pop3c_parse_capa(S("UIDL")), POP3C_CAP_UIDL);
	ck_assert_uint_eq(pop3c_parse_capa(S("UIDLX")), 0);
}
END_TEST

static struct upstream_settings
plain_settings(unsigned port)
{
	struct upstream_settings set = { 0 };
	set.protocol = UPSTREAM_POP3;
	set.host = (char *)"127.0.0.1";
	set.port = port;
	set.tls = UPSTREAM_TLS_NONE;
	set.tls_verify = (char *)"off";
	set.username = (char *)"joe";
	return set;
}

static int
collect(void *ctx, const void *p, size_t n, const char **error_r)
{
	return buf_append(ctx, p, n) < 0 ? -1 : 0;
}

START_TEST(test_session)
{
	static const char *const script[] = {
		"+OK POP3 ready\r\n",
		"+OK\r\nCAPA\r\nUIDL\r\nPIPELINING\r\nUSER\r\n.\r\n",
		"+OK\r\n",		/* USER */
		"+OK logged in\r\n",	/* PASS */
		"+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n",
		"+OK 9 octets\r\nSubject: x\r\n\r\n..dot\r\n.\r\n",	/* RETR 1 */
		"+OK\r\nline\r\n.\r\n",	/* RETR 2 */
		"+OK deleted\r\n",
		"+OK bye\r\n",
	};
	struct fake_server fs;
	fake_server_start(&fs, script, sizeof script / sizeof script[0]);
	struct upstream_settings set = plain_settings(fs.port);
	struct pop3_client *c = NULL;
	const char *error = NULL;
	ck_assert_msg(pop3_client_open(&set, "secret", &LOOPBACK_5S, 1, &c, &error) == 0, "%s", error);
	ck_assert(pop3_client_caps(c) & POP3C_CAP_PIPELINING);
	struct pop3c_message *msgs;
	size_t n;
	ck_assert_msg(pop3_client_list(c, &msgs, &n, &error) == 0, "%s", error);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(msgs[1].uidl, "bbb");
	pop3c_messages_free(&msgs, n);
	struct buf got = BUF_INIT;
	ck_assert_int_eq(pop3_client_retr_send(c, 1), 0);
	ck_assert_msg(pop3_client_retr_read(c, collect, &got, &error) == 0, "%s", error);
	ck_assert_str_eq(buf_cstr(&got), "Subject: x\r\n\r\n.dot\r\n");
	buf_reset(&got);
	ck_assert_int_eq(pop3_client_retr_send(c, 2), 0);
	ck_assert_msg(pop3_client_retr_read(c, collect, &got, &error) == 0, "%s", error);
	ck_assert_str_eq(buf_cstr(&got), "line\r\n");
	ck_assert_int_eq(pop3_client_dele_send(c, 1), 0);
	ck_assert_int_eq(pop3_client_status_read(c, "DELE", &error), 0);
	ck_assert_int_eq(pop3_client_quit(c, &error), 0);
	pop3_client_free(&c);
	fake_server_stop(&fs);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&fs.heard), "USER joe\r\nPASS secret\r\nUIDL\r\n"
							  "RETR 1\r\nRETR 2\r\nDELE 1\r\nQUIT\r\n"));
	buf_free(&fs.heard);
	buf_free(&got);
}
END_TEST

/* Opens and retrieves message 1 from a server playing script; the error. */
static const char *
retr_error(const char *const *script, size_t n, size_t max)
{
	struct fake_server fs;
	fake_server_start(&fs, script, n);
	struct upstream_settings set = plain_settings(fs.port);
	struct pop3_client *c = NULL;
	const char *error = NULL;
	int ret = pop3_client_open(&set, "pw", &LOOPBACK_3S, 1, &c, &error);
	if (ret == 0) {
		struct buf got;
		buf_init(&got, max);
		pop3_client_retr_send(c, 1);
		ret = pop3_client_retr_read(c, collect, &got, &error);
		buf_free(&got);
	}
	ck_assert_int_eq(ret, -1);
	pop3_client_free(&c);
	fake_server_stop(&fs);
	buf_free(&fs.heard);
	return error;
}

START_TEST(test_hostile_servers)
{
	const char *e;
	static const char *const not_pop[] = { "* OK IMAP here\r\n" };
	e = retr_error(not_pop, 1, 0);
	ck_assert_str_eq(e, "this is not a POP3 server (its greeting is not a POP3 one)");

	static const char *const refused[] = {
		"+OK hi\r\n", "-ERR no CAPA\r\n", "+OK\r\n", "-ERR [AUTH] wrong password\r\n",
	};
	e = retr_error(refused, 4, 0);
	ck_assert_str_eq(e, "login failed: the server rejected the username or password");

	const char *s[5] = { "+OK hi\r\n", "-ERR\r\n", "+OK\r\n", "+OK\r\n", NULL };
	s[4] = "+OK\r\nhalf a message";
	e = retr_error(s, 5, 0);
	ck_assert_ptr_nonnull(strstr(e, "closed the connection in the middle of a message"));

	s[4] = FAKE_FLOOD "+OK\r\n";
	e = retr_error(s, 5, 1 << 20);	/* the writer refuses past 1 MiB */
	ck_assert_str_eq(e, "cannot store the message");

	s[4] = "-ERR no such message\r\n";
	e = retr_error(s, 5, 0);
	ck_assert_str_eq(e, "RETR failed: the server answered -ERR");

	static const char *const huge[] = { "+OK hi\r\n", "-ERR\r\n", "+OK\r\n", "+OK\r\n", FAKE_HUGE };
	e = retr_error(huge, 5, 0);
	ck_assert_msg(strstr(e, "closed") || strstr(e, "longer than"), "%s", e);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("pop3_client");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_unstuff);
	tcase_add_test(tc, test_uidl_pair_capa);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_session);
	tcase_add_test(tc, test_hostile_servers);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for smtp/client: the reply and EHLO parsers, and transcripts
 * of the client against a scripted server on loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/limits.h"
#include "smtp/client.h"
#include "store/queue.h"
#include "tests/unit/runner.h"

/* ---- the reply parser ---------------------------------------------------- */

START_TEST(test_reply_single)
{
	struct smtp_reply r;
	const char *error = NULL;
	size_t used = 0;
	smtp_reply_init(&r);
	const char *in = "250 2.1.0 Ok\r\nextra";
	ck_assert_int_eq(smtp_reply_parse(in, strlen(in), &r, &used, &error), 1);
	ck_assert_uint_eq(r.code, 250);
	ck_assert_str_eq(r.status, "2.1.0");
	ck_assert_str_eq(buf_cstr(&r.text), "2.1.0 Ok");
	ck_assert_uint_eq(used, 14);
	/* a bare code is a whole reply (RFC 5321 §4.2) */
	ck_assert_int_eq(smtp_reply_parse("354\n", 4, &r, &used, &error), 1);
	ck_assert_uint_eq(r.code, 354);
	ck_assert_str_eq(r.status, "");
	smtp_reply_free(&r);
}
END_TEST

START_TEST(test_reply_multiline_bytewise)
{
	const char *in = "250-mx.example.org hello\r\n250-PIPELINING\r\n"
			 "250-SIZE 1000\r\n250 8BITMIME\r\n";
	size_t len = strlen(in);
	struct smtp_reply r;
	const char *error = NULL;
	size_t used = 0;
	smtp_reply_init(&r);
	/* every prefix but the whole is "need more" */
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(smtp_reply_parse(in, i, &r, &used, &error), 0);
	ck_assert_int_eq(smtp_reply_parse(in, len, &r, &used, &error), 1);
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(r.lines, 4);
	ck_assert_str_eq(buf_cstr(&r.text),
			 "mx.example.org hello\nPIPELINING\nSIZE 1000\n8BITMIME");
	struct smtp_caps caps;
	smtp_caps_parse(&r, &caps);
	ck_assert(caps.esmtp && caps.pipelining && caps.eightbitmime && caps.size);
	ck_assert_uint_eq(caps.size_max, 1000);
	ck_assert(!caps.starttls && !caps.chunking && !caps.smtputf8);
	smtp_reply_free(&r);
}
END_TEST

START_TEST(test_reply_errors)
{
	static const char *const bad[] = {
		"25 short\r\n", "abc text\r\n", "250-a\r\n251 b\r\n", "199 low\r\n",
		"250x no separator\r\n", "600 high\r\n",
	};
	struct smtp_reply r;
	const char *error = NULL;
	size_t used;
	smtp_reply_init(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		error = NULL;
		ck_assert_int_eq(smtp_reply_parse(bad[i], strlen(bad[i]), &r, &used, &error), -1);
		ck_assert_ptr_nonnull(error);
	}
	/* a line over the limit is refused even before its LF */
	char *big = xmalloc(SMTP_REPLY_LINE_MAX + 10);
	memset(big, 'x', SMTP_REPLY_LINE_MAX + 10);
	memcpy(big, "250 ", 4);
	ck_assert_int_eq(smtp_reply_parse(big, SMTP_REPLY_LINE_MAX + 10, &r, &used, &error), -1);
	free(big);
	/* too many lines */
	struct buf b = BUF_INIT;
	for (int i = 0; i <= SMTP_REPLY_LINES_MAX; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 end\r\n");
	ck_assert_int_eq(smtp_reply_parse(b.data, b.len, &r, &used, &error), -1);
	buf_free(&b);
	smtp_reply_free(&r);
}
END_TEST

START_TEST(test_reply_format_and_caps)
{
	struct smtp_reply r;
	const char *error;
	size_t used;
	smtp_reply_init(&r);
	const char *in = "550-5.1.1 no such\r\n550 5.1.1 user\r\n";
	ck_assert_int_eq(smtp_reply_parse(in, strlen(in), &r, &used, &error), 1);
	struct buf b = BUF_INIT;
	smtp_reply_format(&r, &b);
	ck_assert_str_eq(buf_cstr(&b), "550 5.1.1 no such 5.1.1 user");
	buf_free(&b);
	/* an enhanced code of another class is not taken */
	in = "550 2.0.0 odd\r\n";
	ck_assert_int_eq(smtp_reply_parse(in, strlen(in), &r, &used, &error), 1);
	ck_assert_str_eq(r.status, "");
	in = "250-x\r\n250-starttls\r\n250-AUTH LOGIN PLAIN\r\n250-CHUNKING\r\n"
	     "250-DSN\r\n250 SMTPUTF8\r\n";
	ck_assert_int_eq(smtp_reply_parse(in, strlen(in), &r, &used, &error), 1);
	struct smtp_caps caps;
	smtp_caps_parse(&r, &caps);
	ck_assert(caps.starttls && caps.auth_login && caps.auth_plain && caps.chunking &&
		  caps.dsn && caps.smtputf8 && !caps.pipelining);
	smtp_reply_free(&r);
}
END_TEST

/* ---- a scripted server ---------------------------------------------------- */

struct fake {
	int lfd;
	unsigned port;
	const char *greeting;
	const char *ehlo;	/* NULL: EHLO refused with 502 */
	struct buf log;		/* everything the client sent */
	pthread_t thread;
};

static bool
read_line(FILE *in, struct fake *f, char *line, size_t size)
{
	if (fgets(line, (int)size, in) == NULL)
		return false;
	buf_puts(&f->log, line);
	return true;
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	FILE *in = fdopen(dup(fd), "r");
	FILE *out = fdopen(fd, "w");
	char line[4096];
	fprintf(out, "%s\r\n", f->greeting);
	fflush(out);
	if (f->greeting[0] != '2')
		goto done;
	while (read_line(in, f, line, sizeof line)) {
		if (strncmp(line, "EHLO", 4) == 0) {
			if (f->ehlo != NULL)
				fprintf(out, "%s", f->ehlo);
			else
				fprintf(out, "502 5.5.1 no EHLO here\r\n");
		} else if (strncmp(line, "HELO", 4) == 0) {
			fprintf(out, "250 fake\r\n");
		} else if (strncmp(line, "MAIL", 4) == 0 || strncmp(line, "RSET", 4) == 0) {
			fprintf(out, "250 2.1.0 ok\r\n");
		} else if (strncmp(line, "RCPT", 4) == 0) {
			if (strstr(line, "bad") != NULL)
				fprintf(out, "550 5.1.1 no such user\r\n");
			else if (strstr(line, "later") != NULL)
				fprintf(out, "451 4.3.0 try later\r\n");
			else
				fprintf(out, "250 2.1.5 ok\r\n");
		} else if (strncmp(line, "DATA", 4) == 0) {
			fprintf(out, "354 go\r\n");
			fflush(out);
			while (read_line(in, f, line, sizeof line) && strcmp(line, ".\r\n") != 0)
				;
			fprintf(out, "250 2.0.0 queued as FAKE\r\n");
		} else if (strncmp(line, "BDAT", 4) == 0) {
			size_t n = strtoul(line + 5, NULL, 10);
			char *data = xmalloc(n + 1);
			size_t got = fread(data, 1, n, in);
			buf_append(&f->log, data, got);
			free(data);
			fprintf(out, "250 2.0.0 chunk ok\r\n");
		} else if (strncmp(line, "QUIT", 4) == 0) {
			fprintf(out, "221 bye\r\n");
			break;
		} else {
			fprintf(out, "500 what\r\n");
		}
		fflush(out);
	}
done:
	fflush(out);
	fclose(in);
	fclose(out);
	return NULL;
}

static void
fake_start(struct fake *f, const char *greeting, const char *ehlo)
{
	memset(f, 0, sizeof *f);
	f->greeting = greeting;
	f->ehlo = ehlo;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
	socklen_t sl = sizeof sin;
	getsockname(f->lfd, (struct sockaddr *)&sin, &sl);
	f->port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_finish(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
}

static struct smtp_client_params
params_for(const struct fake *f)
{
	struct smtp_client_params p = {
		.id = 1, .host = "127.0.0.1", .port = f->port, .helo = "client.test",
		.tls = SMTP_TLS_NONE, .command_timeout = 10, .data_init_timeout = 10,
		.data_block_timeout = 10, .data_term_timeout = 10, .connect_timeout = 10,
	};
	return p;
}

/* A message in a temporary file, fd at its start. */
static int
message_fd(const char *text)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/msg", dir);
	FILE *fp = fopen(path, "w+");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fflush(fp);
	int fd = dup(fileno(fp));
	fclose(fp);
	lseek(fd, 0, SEEK_SET);
	free(path);
	free(dir);
	return fd;
}

static const char MSG[] = "Subject: t\r\n\r\nline one\r\n.leading dot\r\n.\r\nend\r\n";

START_TEST(test_pipelined_data)
{
	struct fake f;
	fake_start(&f, "220 fake ESMTP", "250-fake\r\n250-PIPELINING\r\n250 SIZE\r\n");
	struct smtp_client_params p = params_for(&f);
	struct smtp_result res = { 0 };
	struct smtp_client *c = smtp_client_open(&p, &res);
	ck_assert_msg(c != NULL, "open: %s", res.text);
	ck_assert(smtp_client_caps(c)->pipelining);
	const char *rcpts[] = { "good@x.test", "bad@x.test", "later@x.test" };
	unsigned notify[] = { STORE_QUEUE_NOTIFY_FAILURE | STORE_QUEUE_NOTIFY_DELAY, 0, 0 };
	struct smtp_envelope env = {
		.sender = "a@example.org", .n_rcpts = 3, .rcpts = rcpts, .notify = notify,
	};
	struct smtp_result rr[3] = { { 0 } };
	int fd = message_fd(MSG);
	const char *prefix = "DKIM-Signature: x\r\n";
	ck_assert_int_eq(smtp_client_send(c, &env, prefix, strlen(prefix), fd,
					  strlen(MSG), rr), 0);
	close(fd);
	ck_assert_int_eq(rr[0].fail, SMTP_FAIL_NONE);
	ck_assert_uint_eq(rr[0].code, 250);
	ck_assert_int_eq(rr[1].fail, SMTP_FAIL_PERM);
	ck_assert_ptr_nonnull(strstr(rr[1].text, "550 5.1.1 no such user"));
	ck_assert_int_eq(rr[2].fail, SMTP_FAIL_TEMP);
	smtp_client_close(&c);
	fake_finish(&f);
	const char *log = buf_cstr(&f.log);
	/* SIZE counts the prefix; no NOTIFY without DSN */
	char *mail = xasprintf("MAIL FROM:<a@example.org> SIZE=%zu\r\n",
			       strlen(prefix) + strlen(MSG));
	ck_assert_msg(strstr(log, mail) != NULL, "%s", log);
	free(mail);
	ck_assert(strstr(log, "NOTIFY") == NULL);
	/* dot-stuffing (RFC 5321 §4.5.2) */
	ck_assert(strstr(log, "\r\n..leading dot\r\n..\r\nend\r\n.\r\n") != NULL);
	ck_assert(strstr(log, "DKIM-Signature: x\r\nSubject: t\r\n") != NULL);
	ck_assert(strstr(log, "QUIT\r\n") != NULL);
	for (int i = 0; i < 3; i++)
		smtp_result_clear(&rr[i]);
	buf_free(&f.log);
}
END_TEST

START_TEST(test_helo_fallback_and_all_rejected)
{
	struct fake f;
	fake_start(&f, "220 old", NULL);
	struct smtp_client_params p = params_for(&f);
	struct smtp_result res = { 0 };
	struct smtp_client *c = smtp_client_open(&p, &res);
	ck_assert_msg(c != NULL, "open: %s", res.text);
	ck_assert(!smtp_client_caps(c)->esmtp);
	const char *rcpts[] = { "bad1@x.test", "bad2@x.test" };
	unsigned notify[] = { STORE_QUEUE_NOTIFY_NEVER, 0 };
	struct smtp_envelope env = {
		.sender = "", .n_rcpts = 2, .rcpts = rcpts, .notify = notify, .eightbit = true,
	};
	struct smtp_result rr[2] = { { 0 } };
	int fd = message_fd(MSG);
	ck_assert_int_eq(smtp_client_send(c, &env, NULL, 0, fd, strlen(MSG), rr), 0);
	close(fd);
	ck_assert_int_eq(rr[0].fail, SMTP_FAIL_PERM);
	ck_assert_int_eq(rr[1].fail, SMTP_FAIL_PERM);
	smtp_client_close(&c);
	fake_finish(&f);
	const char *log = buf_cstr(&f.log);
	ck_assert(strstr(log, "HELO client.test\r\n") != NULL);
	/* no BODY= to a server that did not offer 8BITMIME; no DATA at all */
	ck_assert(strstr(log, "MAIL FROM:<>\r\n") != NULL);
	ck_assert(strstr(log, "DATA") == NULL);
	ck_assert(strstr(log, "RSET\r\n") != NULL);
	for (int i = 0; i < 2; i++)
		smtp_result_clear(&rr[i]);
	buf_free(&f.log);
}
END_TEST

START_TEST(test_bdat_and_dsn)
{
	struct fake f;
	fake_start(&f, "220 new", "250-fake\r\n250-CHUNKING\r\n250-DSN\r\n"
		   "250-8BITMIME\r\n250 SMTPUTF8\r\n");
	struct smtp_client_params p = params_for(&f);
	struct smtp_result res = { 0 };
	struct smtp_client *c = smtp_client_open(&p, &res);
	ck_assert_msg(c != NULL, "open: %s", res.text);
	const char *rcpts[] = { "good@x.test" };
	unsigned notify[] = { STORE_QUEUE_NOTIFY_SUCCESS | STORE_QUEUE_NOTIFY_FAILURE };
	const char *orcpt[] = { "rfc822;good@x.test" };
	struct smtp_envelope env = {
		.sender = "a@example.org", .n_rcpts = 1, .rcpts = rcpts, .notify = notify,
		.orcpt = orcpt, .ret = "HDRS", .envid = "ID1", .eightbit = true,
		.smtputf8 = true,
	};
	struct smtp_result rr[1] = { { 0 } };
	int fd = message_fd(MSG);
	ck_assert_int_eq(smtp_client_send(c, &env, NULL, 0, fd, strlen(MSG), rr), 0);
	close(fd);
	ck_assert_int_eq(rr[0].fail, SMTP_FAIL_NONE);
	smtp_client_close(&c);
	fake_finish(&f);
	const char *log = buf_cstr(&f.log);
	ck_assert_msg(strstr(log, "MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8"
			      " RET=HDRS ENVID=ID1\r\n") != NULL, "%s", log);
	ck_assert(strstr(log, "RCPT TO:<good@x.test> NOTIFY=SUCCESS,FAILURE"
			      " ORCPT=rfc822;good@x.test\r\n") != NULL);
	/* BDAT carries the bytes as they are: no dot-stuffing (RFC 3030) */
	char *want = xasprintf("BDAT %zu LAST\r\n%s", strlen(MSG), MSG);
	ck_assert_msg(strstr(log, want) != NULL, "%s", log);
	free(want);
	smtp_result_clear(&rr[0]);
	buf_free(&f.log);
}
END_TEST

START_TEST(test_smtputf8_needed_and_size)
{
	struct fake f;
	fake_start(&f, "220 small", "250-fake\r\n250 SIZE 10\r\n");
	struct smtp_client_params p = params_for(&f);
	struct smtp_result res = { 0 };
	struct smtp_client *c = smtp_client_open(&p, &res);
	ck_assert_msg(c != NULL, "open: %s", res.text);
	const char *rcpts[] = { "good@x.test" };
	struct smtp_envelope env = {
		.sender = "a@example.org", .n_rcpts = 1, .rcpts = rcpts, .smtputf8 = true,
	};
	struct smtp_result rr[1] = { { 0 } };
	int fd = message_fd(MSG);
	ck_assert_int_eq(smtp_client_send(c, &env, NULL, 0, fd, 5, rr), 0);
	ck_assert_int_eq(rr[0].fail, SMTP_FAIL_PERM);
	ck_assert_ptr_nonnull(strstr(rr[0].text, "5.6.7"));
	env.smtputf8 = false;
	ck_assert_int_eq(smtp_client_send(c, &env, NULL, 0, fd, strlen(MSG), rr), 0);
	ck_assert_int_eq(rr[0].fail, SMTP_FAIL_PERM);
	ck_assert_ptr_nonnull(strstr(rr[0].text, "552 5.3.4"));
	close(fd);
	smtp_client_close(&c);
	fake_finish(&f);
	ck_assert(strstr(buf_cstr(&f.log), "MAIL") == NULL);
	smtp_result_clear(&rr[0]);
	buf_free(&f.log);
}
END_TEST

START_TEST(test_greeting_refused)
{
	struct fake f;
	fake_start(&f, "554 5.7.1 go away", NULL);
	struct smtp_client_params p = params_for(&f);
	struct smtp_result res = { 0 };
	struct smtp_client *c = smtp_client_open(&p, &res);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(res.fail, SMTP_FAIL_PERM);
	ck_assert_uint_eq(res.code, 554);
	ck_assert_ptr_nonnull(strstr(res.text, "go away"));
	smtp_result_clear(&res);
	fake_finish(&f);
	buf_free(&f.log);
	/* and nobody listening at all */
	p.port = 1;
	c = smtp_client_open(&p, &res);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(res.fail, SMTP_FAIL_CONNECT);
	smtp_result_clear(&res);
}
END_TEST

START_TEST(test_starttls_required_but_missing)
{
	struct fake f;
	fake_start(&f, "220 plain", "250-fake\r\n250 PIPELINING\r\n");
	struct smtp_client_params p = params_for(&f);
	p.tls = SMTP_TLS_STARTTLS;
	struct smtp_result res = { 0 };
	struct smtp_client *c = smtp_client_open(&p, &res);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(res.fail, SMTP_FAIL_TLS);
	smtp_result_clear(&res);
	fake_finish(&f);
	buf_free(&f.log);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("smtp_client");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_reply_single);
	tcase_add_test(tc, test_reply_multiline_bytewise);
	tcase_add_test(tc, test_reply_errors);
	tcase_add_test(tc, test_reply_format_and_caps);
	suite_add_tcase(s, tc);
	tc = tcase_create("session");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pipelined_data);
	tcase_add_test(tc, test_helo_fallback_and_all_rejected);
	tcase_add_test(tc, test_bdat_and_dsn);
	tcase_add_test(tc, test_smtputf8_needed_and_size);
	tcase_add_test(tc, test_greeting_refused);
	tcase_add_test(tc, test_starttls_required_but_missing);
	suite_add_tcase(s, tc);
	return s;
}

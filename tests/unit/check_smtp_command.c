/* Unit tests for smtp/command: command lines, paths, ESMTP parameters, xtext. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/command.h"
#include "smtp/received.h"
#include "tests/unit/runner.h"

/* Splits a copy of text (a whole line with CRLF). */
static int
split(const char *text, struct smtp_command *cmd, struct buf *b, const char **error)
{
	buf_reset(b);
	buf_puts(b, text);
	return smtp_command_split(b->data, b->len, cmd, error);
}

START_TEST(test_split)
{
	struct buf b = BUF_INIT;
	struct smtp_command cmd;
	const char *error;

	ck_assert_int_eq(split("mail FROM:<a@b.c> SIZE=10\r\n", &cmd, &b, &error), 0);
	ck_assert_str_eq(cmd.verb, "MAIL");
	ck_assert_str_eq(cmd.args, "FROM:<a@b.c> SIZE=10");
	ck_assert_int_eq(split("QUIT\r\n", &cmd, &b, &error), 0);
	ck_assert_str_eq(cmd.verb, "QUIT");
	ck_assert_str_eq(cmd.args, "");
	ck_assert_int_eq(split("StartTLS\r\n", &cmd, &b, &error), 0);
	ck_assert_str_eq(cmd.verb, "STARTTLS");

	/* no CRLF, bare LF, bare CR, NUL, odd verbs */
	ck_assert_int_eq(split("QUIT\n", &cmd, &b, &error), -1);
	ck_assert_str_eq(error, "500 5.5.2 Syntax error: lines must end in CRLF");
	ck_assert_int_eq(split("QUIT", &cmd, &b, &error), -1);
	ck_assert_int_eq(split("NOOP\rQUIT\r\n", &cmd, &b, &error), -1);
	ck_assert_int_eq(split("NOOP x\ny\r\n", &cmd, &b, &error), -1);
	ck_assert_int_eq(split("\r\n", &cmd, &b, &error), -1);
	ck_assert_int_eq(split(" QUIT\r\n", &cmd, &b, &error), -1);
	ck_assert_int_eq(split("QU1T\r\n", &cmd, &b, &error), -1);
	ck_assert_int_eq(split("AAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n", &cmd, &b, &error), -1);
	buf_reset(&b);
	buf_append(&b, "NOOP a\0b\r\n", 10);
	ck_assert_int_eq(smtp_command_split(b.data, b.len, &cmd, &error), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_mail_basic)
{
	struct smtp_mail_args m;
	const char *error;

	ck_assert_int_eq(smtp_parse_mail("FROM:<alice@example.org>", &m, &error), 0);
	ck_assert_str_eq(m.path.address, "alice@example.org");
	ck_assert_str_eq(m.path.local, "alice");
	ck_assert_str_eq(m.path.domain, "example.org");
	ck_assert(!m.size_given);
	smtp_mail_args_clear(&m);

	ck_assert_int_eq(smtp_parse_mail("from: <>", &m, &error), 0);
	ck_assert_str_eq(m.path.address, "");
	smtp_mail_args_clear(&m);

	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.example> SIZE=12345 BODY=8BITMIME "
					 "RET=HDRS ENVID=QQ+2B1 AUTH=<>", &m, &error), 0);
	ck_assert(m.size_given);
	ck_assert_uint_eq(m.size, 12345);
	ck_assert_int_eq(m.body, SMTP_BODY_8BITMIME);
	ck_assert_int_eq(m.ret, SMTP_RET_HDRS);
	ck_assert_str_eq(m.envid, "QQ+2B1");
	ck_assert_str_eq(m.auth, "<>");
	smtp_mail_args_clear(&m);

	/* a SIZE beyond 64 bits saturates: over any limit, not wrapped */
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.example> SIZE=99999999999999999999",
					 &m, &error), 0);
	ck_assert_uint_eq(m.size, UINT64_MAX);
	smtp_mail_args_clear(&m);
}
END_TEST

START_TEST(test_mail_errors)
{
	struct smtp_mail_args m;
	const char *error;

	ck_assert_int_eq(smtp_parse_mail("TO:<a@b.c>", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:a@b.c", &m, &error), -1);
	ck_assert_str_eq(error, "501 5.1.7 Bad sender address syntax");
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> FOO=1", &m, &error), -1);
	ck_assert_str_eq(error, "555 5.5.4 Unsupported MAIL parameter");
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> SIZE=1 SIZE=2", &m, &error), -1);
	ck_assert_str_eq(error, "501 5.5.4 Duplicate MAIL parameter");
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> ENVID=a ENVID=b", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> AUTH=a AUTH=b", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> SIZE=x", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> BODY=BINARYMIME", &m, &error), -1);
	ck_assert_str_eq(error, "555 5.5.4 Unsupported BODY type");
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> RET=ALL", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> ENVID=a=b", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> ENVID=+4", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> SMTPUTF8=yes", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c>x", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b.c> =1", &m, &error), -1);
	/* ENVID over 100 characters (RFC 3461 §4.4) */
	char big[200];
	memset(big, 0, sizeof big);
	snprintf(big, sizeof big, "%s", "FROM:<a@b.c> ENVID=");
	memset(big + strlen(big), 'x', 101);
	ck_assert_int_eq(smtp_parse_mail(big, &m, &error), -1);
}
END_TEST

START_TEST(test_mail_utf8)
{
	struct smtp_mail_args m;
	const char *error;

	ck_assert_int_eq(smtp_parse_mail("FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>",
					 &m, &error), -1);
	ck_assert_str_eq(error, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
	ck_assert_int_eq(smtp_parse_mail("FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8",
					 &m, &error), 0);
	ck_assert(m.smtputf8);
	ck_assert(m.path.utf8);
	ck_assert_str_eq(m.path.address, "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
	smtp_mail_args_clear(&m);
	/* broken UTF-8 stays refused even with SMTPUTF8 */
	ck_assert_int_eq(smtp_parse_mail("FROM:<j\xc3rg@b.example> SMTPUTF8", &m, &error), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<a\xed\xa0\x80@b.example> SMTPUTF8", &m,
					 &error), -1);
}
END_TEST

START_TEST(test_paths)
{
	struct smtp_path p;
	const char *end, *error;

	/* RFC 5321 §4.1.1.3: the source route is dropped */
	ck_assert_int_eq(smtp_parse_path("<@relay.example,@x.example:bob@remote.example>",
					 false, false, &p, &end, &error), 0);
	ck_assert(p.had_route);
	ck_assert_str_eq(p.address, "bob@remote.example");
	ck_assert_str_eq(end, "");
	smtp_path_clear(&p);

	/* quotes that are not needed go, needed ones stay */
	ck_assert_int_eq(smtp_parse_path("<\"bob\"@example.org>", false, false, &p, &end,
					 &error), 0);
	ck_assert(!p.quoted);
	ck_assert_str_eq(p.address, "bob@example.org");
	smtp_path_clear(&p);
	ck_assert_int_eq(smtp_parse_path("<\"bob@remote.example\"@example.org>", false, false,
					 &p, &end, &error), 0);
	ck_assert(p.quoted);
	ck_assert_str_eq(p.local, "bob@remote.example");
	ck_assert_str_eq(p.domain, "example.org");
	ck_assert_str_eq(p.address, "\"bob@remote.example\"@example.org");
	smtp_path_clear(&p);
	ck_assert_int_eq(smtp_parse_path("<\"a\\\"b c\"@example.org>", false, false, &p, &end,
					 &error), 0);
	ck_assert_str_eq(p.local, "a\"b c");
	ck_assert_str_eq(p.address, "\"a\\\"b c\"@example.org");
	smtp_path_clear(&p);

	/* '%' is an ordinary atext character: the domain decides locality */
	ck_assert_int_eq(smtp_parse_path("<bob%remote.example@example.org>", false, false, &p,
					 &end, &error), 0);
	ck_assert_str_eq(p.domain, "example.org");
	smtp_path_clear(&p);

	/* address literals */
	ck_assert_int_eq(smtp_parse_path("<bob@[192.0.2.1]>", false, false, &p, &end, &error), 0);
	ck_assert(p.domain_literal);
	ck_assert_str_eq(p.domain, "[192.0.2.1]");
	smtp_path_clear(&p);
	ck_assert_int_eq(smtp_parse_path("<bob@[IPv6:2001:db8::1]>", false, false, &p, &end,
					 &error), 0);
	smtp_path_clear(&p);
	ck_assert_int_eq(smtp_parse_path("<bob@[300.1.1.1]>", false, false, &p, &end, &error), -1);
	ck_assert_int_eq(smtp_parse_path("<bob@[IPv6:zz]>", false, false, &p, &end, &error), -1);

	/* the postmaster without a domain (§4.1.1.3) */
	ck_assert_int_eq(smtp_parse_path("<Postmaster>", false, false, &p, &end, &error), 0);
	ck_assert(p.postmaster);
	smtp_path_clear(&p);

	/* syntax errors, each one */
	static const char *const bad[] = {
		"<bob@example.org.>", "<bob@example..org>", "<bob@.example.org>",
		"<.bob@example.org>", "<bob.@example.org>", "<bo..b@example.org>",
		"<bob@example.org", "bob@example.org", "<bob>", "<@example.org>",
		"<bob@-example.org>", "<bob@example-.org>", "<bob@exa_mple.org>",
		"<bob@@example.org>", "<bob@remote@example.org>", "<\"bob@example.org>",
		"<@a.example:>", "<@a.example,bob@example.org>", "<b ob@example.org>",
		"<>", "<\"\"@example.org>", "<bob@>", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (smtp_parse_path(bad[i], false, false, &p, &end, &error) == 0)
			ck_abort_msg("accepted %s", bad[i]);
	}
	ck_assert_int_eq(smtp_parse_path("<>", true, false, &p, &end, &error), 0);
	smtp_path_clear(&p);

	/* RFC 5321 §4.5.3.1.1's 64 octets are not enforced on the wire (SRS
	 * addresses are longer); the 256 of a path are */
	char big[400];
	snprintf(big, sizeof big, "%s", "<");
	memset(big + 1, 'a', 200);
	snprintf(big + 201, sizeof big - 201, "%s", "@example.org>");
	ck_assert_int_eq(smtp_parse_path(big, false, false, &p, &end, &error), 0);
	smtp_path_clear(&p);
	memset(big + 1, 'a', 250);
	snprintf(big + 251, sizeof big - 251, "%s", "@example.org>");
	ck_assert_int_eq(smtp_parse_path(big, false, false, &p, &end, &error), -1);
}
END_TEST

START_TEST(test_rcpt)
{
	struct smtp_rcpt_args r;
	const char *error;

	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE "
					 "ORCPT=rfc822;bob+2Bx@example.org", false, &r, &error), 0);
	ck_assert_uint_eq(r.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	ck_assert_str_eq(r.orcpt, "rfc822;bob+2Bx@example.org");
	smtp_rcpt_args_clear(&r);
	ck_assert_int_eq(smtp_parse_rcpt("to:<bob@example.org> notify=never", false, &r,
					 &error), 0);
	ck_assert_uint_eq(r.notify, SMTP_NOTIFY_NEVER);
	smtp_rcpt_args_clear(&r);

	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> NOTIFY=NEVER,DELAY", false, &r,
					 &error), -1);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> NOTIFY=SUCCESS,", false, &r,
					 &error), -1);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> NOTIFY=DELAY,DELAY", false, &r,
					 &error), -1);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> ORCPT=rfc822;a ORCPT=rfc822;b",
					 false, &r, &error), -1);
	ck_assert_str_eq(error, "501 5.5.4 Duplicate RCPT parameter");
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> ORCPT=bob", false, &r, &error), -1);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> ORCPT=rfc822;", false, &r,
					 &error), -1);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org> SIZE=1", false, &r, &error), -1);
	ck_assert_str_eq(error, "555 5.5.4 Unsupported RCPT parameter");
	ck_assert_int_eq(smtp_parse_rcpt("TO:<>", false, &r, &error), -1);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<b\xc3\xb6@example.org>", false, &r, &error), -1);
	ck_assert_str_eq(error, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
	ck_assert_int_eq(smtp_parse_rcpt("TO:<b\xc3\xb6@example.org>", true, &r, &error), 0);
	ck_assert(r.path.utf8);
	smtp_rcpt_args_clear(&r);
}
END_TEST

START_TEST(test_xtext)
{
	struct buf b = BUF_INIT;
	ck_assert(smtp_xtext_valid("abc+2B+3D", 9));
	ck_assert(!smtp_xtext_valid("a+2", 3));
	ck_assert(!smtp_xtext_valid("a+2b", 4));	/* hex must be upper case */
	ck_assert(!smtp_xtext_valid("a=b", 3));
	ck_assert(!smtp_xtext_valid("a b", 3));
	ck_assert_int_eq(smtp_xtext_decode("a+2Bb+3D", 8, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "a+b=");
	buf_reset(&b);
	ck_assert_int_eq(smtp_xtext_encode("x+y=z \x01\xff", 8, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "x+2By+3Dz+20+01+FF");
	/* round trip of every byte */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	buf_reset(&b);
	ck_assert_int_eq(smtp_xtext_encode(all, sizeof all, &b), 0);
	struct buf d = BUF_INIT;
	ck_assert_int_eq(smtp_xtext_decode(b.data, b.len, &d), 0);
	ck_assert_uint_eq(d.len, 256);
	ck_assert_int_eq(memcmp(d.data, all, 256), 0);
	buf_free(&d);
	buf_free(&b);
}
END_TEST

START_TEST(test_bdat_auth_helo)
{
	uint64_t size;
	bool last;
	const char *error, *mech, *initial;
	struct buf scratch = BUF_INIT;

	ck_assert_int_eq(smtp_parse_bdat("100", &size, &last, &error), 0);
	ck_assert_uint_eq(size, 100);
	ck_assert(!last);
	ck_assert_int_eq(smtp_parse_bdat("0 LAST", &size, &last, &error), 0);
	ck_assert(last);
	ck_assert_int_eq(smtp_parse_bdat("10 last", &size, &last, &error), 0);
	ck_assert(last);
	ck_assert_int_eq(smtp_parse_bdat("", &size, &last, &error), -1);
	ck_assert_int_eq(smtp_parse_bdat("-1", &size, &last, &error), -1);
	ck_assert_int_eq(smtp_parse_bdat("10 MORE", &size, &last, &error), -1);
	ck_assert_int_eq(smtp_parse_bdat("123456789012345678901", &size, &last, &error), -1);

	ck_assert_int_eq(smtp_parse_auth("plain AGFsaWNlAHNlY3JldA==", &scratch, &mech,
					 &initial, &error), 0);
	ck_assert_str_eq(mech, "PLAIN");
	ck_assert_str_eq(initial, "AGFsaWNlAHNlY3JldA==");
	ck_assert_int_eq(smtp_parse_auth("LOGIN", &scratch, &mech, &initial, &error), 0);
	ck_assert_ptr_null(initial);
	ck_assert_int_eq(smtp_parse_auth("", &scratch, &mech, &initial, &error), -1);
	ck_assert_int_eq(smtp_parse_auth("PLAIN a b", &scratch, &mech, &initial, &error), -1);
	ck_assert_int_eq(smtp_parse_auth("PL(AIN", &scratch, &mech, &initial, &error), -1);
	buf_free(&scratch);

	ck_assert(smtp_helo_valid("client.example.org"));
	ck_assert(smtp_helo_valid("[192.0.2.1]"));
	ck_assert(smtp_helo_valid("my_host"));
	ck_assert(!smtp_helo_valid(""));
	ck_assert(!smtp_helo_valid("a b"));
	ck_assert(!smtp_helo_valid("evil)(comment"));
	ck_assert(!smtp_helo_valid("[1.2.3.4"));
}
END_TEST

/* Every prefix of valid commands parses or fails cleanly (no reads past
 * the end: run under ASan). */
START_TEST(test_prefixes)
{
	static const char *const lines[] = {
		"FROM:<@a.example,@b.example:\"q\\\"x\"@[IPv6:2001:db8::1]> SIZE=10 BODY=7BIT "
		"SMTPUTF8 RET=FULL ENVID=x+2By AUTH=a+3Db",
		"TO:<postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@c.example",
	};
	for (size_t k = 0; k < 2; k++) {
		size_t n = strlen(lines[k]);
		for (size_t i = 0; i <= n; i++) {
			char *copy = xstrndup(lines[k], i);
			struct smtp_mail_args m;
			struct smtp_rcpt_args r;
			const char *error;
			if (smtp_parse_mail(copy, &m, &error) == 0)
				smtp_mail_args_clear(&m);
			if (smtp_parse_rcpt(copy, true, &r, &error) == 0)
				smtp_rcpt_args_clear(&r);
			free(copy);
		}
		struct smtp_mail_args m;
		struct smtp_rcpt_args r;
		const char *error;
		if (k == 0) {
			ck_assert_int_eq(smtp_parse_mail(lines[k], &m, &error), 0);
			ck_assert_str_eq(m.path.address, "\"q\\\"x\"@[IPv6:2001:db8::1]");
			smtp_mail_args_clear(&m);
		} else {
			ck_assert_int_eq(smtp_parse_rcpt(lines[k], false, &r, &error), 0);
			smtp_rcpt_args_clear(&r);
		}
	}
}
END_TEST

START_TEST(test_received)
{
	struct buf b = BUF_INIT;
	struct smtp_received_info info = {
		.helo = "client.example", .ip = "192.0.2.1", .hostname = "mail.test",
		.with = smtp_with_protocol(true, true, false, false), .id = "0123456789ABCDEF",
		.tls_version = "TLSv1.3", .tls_cipher = "TLS_AES_256_GCM_SHA384",
		.for_rcpt = "bob@example.org", .when = 1795423163,
	};
	smtp_received_build(&b, &info);
	ck_assert_str_eq(buf_cstr(&b),
			 "Received: from client.example ([192.0.2.1])\r\n"
			 "\tby mail.test (mailhub) with ESMTPS id 0123456789ABCDEF\r\n"
			 "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
			 "\tfor <bob@example.org>; Mon, 23 Nov 2026 08:39:23 +0000\r\n");
	buf_reset(&b);
	info.ip = "2001:db8::1";
	info.tls_version = NULL;
	info.for_rcpt = NULL;
	info.with = smtp_with_protocol(true, false, true, true);
	smtp_received_build(&b, &info);
	ck_assert_str_eq(buf_cstr(&b),
			 "Received: from client.example ([IPv6:2001:db8::1])\r\n"
			 "\tby mail.test (mailhub) with UTF8SMTPA id 0123456789ABCDEF; "
			 "Mon, 23 Nov 2026 08:39:23 +0000\r\n");
	ck_assert_str_eq(smtp_with_protocol(false, false, false, false), "SMTP");
	ck_assert_str_eq(smtp_with_protocol(true, true, true, false), "ESMTPSA");
	ck_assert_str_eq(smtp_with_protocol(true, true, true, true), "UTF8SMTPSA");
	buf_reset(&b);
	smtp_message_id_build(&b, "mail.test", 5);
	ck_assert(strncmp(buf_cstr(&b), "<", 1) == 0);
	ck_assert(strstr(buf_cstr(&b), ".5@mail.test>") != NULL);
	char id1[17], id2[17];
	smtp_tx_id_build(id1);
	smtp_tx_id_build(id2);
	ck_assert_uint_eq(strlen(id1), 16);
	ck_assert_str_ne(id1, id2);
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("smtp_command");
	TCase *tc = tcase_create("command");
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_mail_basic);
	tcase_add_test(tc, test_mail_errors);
	tcase_add_test(tc, test_mail_utf8);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_rcpt);
	tcase_add_test(tc, test_xtext);
	tcase_add_test(tc, test_bdat_auth_helo);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_received);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for the relay's pure parts: smtp/bounce (RFC 3463 status
 * codes from replies, the shape of an RFC 3464 DSN) and the retry schedule
 * of smtp/queue. */
#include <string.h>

#include "core/buf.h"
#include "smtp/bounce.h"
#include "smtp/queue.h"
#include "smtp/tlsrpt_post.h"
#include "mail/tlsrpt_report.h"
#include "tests/unit/runner.h"

START_TEST(test_status)
{
	char st[16];
	bounce_status("550 5.1.1 no such user", false, st);
	ck_assert_str_eq(st, "5.1.1");
	bounce_status("556 5.1.10 null MX", false, st);
	ck_assert_str_eq(st, "5.1.10");
	/* no enhanced code: the class of the outcome */
	bounce_status("550 no such user", false, st);
	ck_assert_str_eq(st, "5.0.0");
	bounce_status("451 4.7.1 greylisted", true, st);
	ck_assert_str_eq(st, "4.7.1");
	/* a code of the other class is not taken (a 4xx that expired) */
	bounce_status("451 4.7.1 greylisted", false, st);
	ck_assert_str_eq(st, "5.0.0");
	bounce_status(NULL, true, st);
	ck_assert_str_eq(st, "4.0.0");
	bounce_status("550 5.1.1x odd", false, st);
	ck_assert_str_eq(st, "5.0.0");
	bounce_status("550 5.1234.1 odd", false, st);
	ck_assert_str_eq(st, "5.0.0");
}
END_TEST

START_TEST(test_build)
{
	struct bounce_rcpt r[2] = {
		{ .address = "bob@remote.test", .orcpt = "rfc822;bob@remote.test",
		  .reply = "550 5.1.1 no such user", .host = "mx.remote.test",
		  .last_attempt = 1795424976 },
		{ .address = "eve@slow.test", .reply = "451 4.4.1 no answer\x01",
		  .delayed = true },
	};
	struct bounce_params p = {
		.hostname = "mail.example.org", .to = "alice@example.org", .qid = "Q1",
		.envid = "ENV1", .arrival = 1795424000, .retry_until = 1795856000,
		.now = 1795424976,
	};
	const char orig[] = "From: alice@example.org\r\nSubject: hi\r\n\r\n";
	struct buf b = BUF_INIT;
	ck_assert_int_eq(bounce_build(&p, r, 2, orig, strlen(orig), false, &b), 0);
	const char *t = buf_cstr(&b);
	ck_assert_ptr_nonnull(strstr(t, "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "To: <alice@example.org>\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "Subject: Undelivered Mail Returned to Sender\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "Auto-Submitted: auto-replied\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "multipart/report; report-type=delivery-status;"));
	ck_assert_ptr_nonnull(strstr(t, "Reporting-MTA: dns; mail.example.org\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "Original-Envelope-Id: ENV1\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "Date: Mon, 23 Nov 2026 "));
	ck_assert_ptr_nonnull(strstr(t, "Final-Recipient: rfc822; bob@remote.test\r\n"
				     "Original-Recipient: rfc822; bob@remote.test\r\n"
				     "Action: failed\r\nStatus: 5.1.1\r\n"
				     "Remote-MTA: dns; mx.remote.test\r\n"
				     "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "Action: delayed\r\nStatus: 4.4.1\r\n"));
	ck_assert_ptr_nonnull(strstr(t, "Will-Retry-Until: "));
	/* peer text is made plain ASCII */
	ck_assert_ptr_nonnull(strstr(t, "no answer?"));
	ck_assert_ptr_nonnull(strstr(t, "Content-Type: text/rfc822-headers\r\n\r\n"
				     "From: alice@example.org\r\nSubject: hi\r\n"));
	/* the last line closes the multipart */
	ck_assert(b.len > 4 && strcmp(t + b.len - 4, "--\r\n") == 0);
	buf_free(&b);

	/* only delays: a delay notice; RET=FULL: the message itself */
	buf_init(&b, 0);
	ck_assert_int_eq(bounce_build(&p, &r[1], 1, orig, strlen(orig), true, &b), 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "Subject: Delayed Mail (still being retried)"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "Content-Type: message/rfc822\r\n"));
	buf_free(&b);
}
END_TEST

START_TEST(test_schedule)
{
	const int64_t c = 1000000;	/* created */
	const unsigned first = 300, max = 14400, life = 432000;
	/* 5m, 10m, 20m, ... doubling up to 4h */
	ck_assert_int_eq(relay_next_attempt(c, 0, c, first, max, life), c + 300);
	ck_assert_int_eq(relay_next_attempt(c, 1, c, first, max, life), c + 600);
	ck_assert_int_eq(relay_next_attempt(c, 2, c, first, max, life), c + 1200);
	ck_assert_int_eq(relay_next_attempt(c, 6, c, first, max, life), c + 14400);
	ck_assert_int_eq(relay_next_attempt(c, 40, c, first, max, life), c + 14400);
	/* never past the end of life, which is the last attempt */
	int64_t late = c + life - 100;
	ck_assert_int_eq(relay_next_attempt(c, 10, late, first, max, life), c + life);
	ck_assert_int_eq(relay_next_attempt(c, 10, c + life + 5, first, max, life),
			 c + life + 5);
}
END_TEST

/* ---- TLS reports to https: addresses (smtp/tlsrpt_post) ------------------ */

START_TEST(test_tlsrpt_uri)
{
	static const struct {
		const char *uri, *host, *path;
		unsigned port;
	} good[] = {
		{ "https://reports.example.net/tlsrpt", "reports.example.net", "/tlsrpt", 443 },
		{ "HTTPS://r.example:8443", "r.example", "/", 8443 },
		{ "https://r.example?x=1", "r.example", "/?x=1", 443 },
		{ "https://r.example/a/b?c=d&e=f#frag", "r.example", "/a/b?c=d&e=f", 443 },
		{ "https://[2001:db8::1]:444/r", "2001:db8::1", "/r", 444 },
		{ "https://[2001:db8::1]/r", "2001:db8::1", "/r", 443 },
	};
	struct tlsrpt_uri u;
	const char *error = NULL;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ck_assert_msg(tlsrpt_uri_parse(good[i].uri, &u, &error) == 0, "%s: %s",
			      good[i].uri, error);
		ck_assert_str_eq(u.host, good[i].host);
		ck_assert_str_eq(u.path, good[i].path);
		ck_assert_uint_eq(u.port, good[i].port);
		tlsrpt_uri_clear(&u);
	}
	static const char *const bad[] = {
		"http://r.example/x", "mailto:a@b.example", "https://", "https:///path",
		"https://user:pw@r.example/", "https://r.example:0/", "https://r.example:65536/",
		"https://r.example:44x/", "https://[2001:db8::1/", "https://[::1]x/",
		"https://r example/", "https://r.example/a b", "https://r.example/\x7f",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		error = NULL;
		ck_assert_msg(tlsrpt_uri_parse(bad[i], &u, &error) == -1, "%s", bad[i]);
		ck_assert_ptr_nonnull(error);
		ck_assert_ptr_null(u.host);
	}
}
END_TEST

START_TEST(test_tlsrpt_gzip)
{
	/* what the POST carries inflates to the report again */
	struct buf json = BUF_INIT, gz = BUF_INIT, back = BUF_INIT;
	for (int i = 0; i < 2000; i++)
		buf_printf(&json, "{\"n\": %d}", i);
	tlsrpt_gzip(json.data, json.len, &gz);
	ck_assert_uint_lt(gz.len, json.len);
	ck_assert_uint_eq((unsigned char)gz.data[0], 0x1f);
	ck_assert_uint_eq((unsigned char)gz.data[1], 0x8b);
	const char *error = NULL;
	ck_assert_msg(tlsrpt_gunzip(gz.data, gz.len, json.len, &back, &error) == 0, "%s", error);
	ck_assert_uint_eq(back.len, json.len);
	ck_assert_mem_eq(back.data, json.data, json.len);
	buf_free(&json);
	buf_free(&gz);
	buf_free(&back);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("bounce");
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_build);
	suite_add_tcase(s, tc);
	tc = tcase_create("queue");
	tcase_add_test(tc, test_schedule);
	tcase_add_test(tc, test_tlsrpt_uri);
	tcase_add_test(tc, test_tlsrpt_gzip);
	suite_add_tcase(s, tc);
	return s;
}

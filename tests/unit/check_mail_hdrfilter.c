/* Unit tests for mail/hdrfilter: fed whole, split at every point, and byte
 * by byte, the output and the Received count are the same. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "mail/hdrfilter.h"
#include "tests/unit/runner.h"

static const char *const return_path[] = { "Return-Path", NULL };
static const char *const spam_fields[] = { "Return-Path", "X-Spam-Status", "X-Spam", NULL };

static int
sink(void *ctx, const void *p, size_t n)
{
	return buf_append(ctx, p, n);
}

static void
check_with(const char *const *drop, const char *in, const char *want, unsigned want_received)
{
	size_t n = strlen(in);
	/* cut at every point, then byte by byte */
	for (size_t cut = 0; cut <= n + 1; cut++) {
		struct mail_hdr_filter f;
		struct buf out = BUF_INIT;
		mail_hdr_filter_init(&f, drop, sink, &out);
		if (cut <= n) {
			ck_assert_int_eq(mail_hdr_filter_feed(&f, in, cut), 0);
			ck_assert_int_eq(mail_hdr_filter_feed(&f, in + cut, n - cut), 0);
		} else {
			for (size_t i = 0; i < n; i++)
				ck_assert_int_eq(mail_hdr_filter_feed(&f, in + i, 1), 0);
		}
		ck_assert_int_eq(mail_hdr_filter_end(&f), 0);
		ck_assert_msg(strcmp(buf_cstr(&out), want) == 0, "cut %zu: got [%s]", cut,
			      buf_cstr(&out));
		ck_assert_uint_eq(f.received, want_received);
		buf_free(&out);
	}
}

static void
check(const char *in, const char *want, unsigned want_received)
{
	check_with(return_path, in, want, want_received);
}

START_TEST(test_drop_return_path)
{
	check("Return-Path: <a@b.example>\r\nSubject: x\r\n\r\nbody\r\n",
	      "Subject: x\r\n\r\nbody\r\n", 0);
	/* any case, folded, white space before the colon, several of them */
	check("Subject: x\r\nreturn-PATH :\r\n <a@b.example>\r\n\t(more)\r\n"
	      "From: c@d.example\r\nReturn-Path: <>\r\n\r\nbody\r\n",
	      "Subject: x\r\nFrom: c@d.example\r\n\r\nbody\r\n", 0);
	/* not in the body, and not a longer name */
	check("Return-Paths: x\r\nX-Return-Path: y\r\n\r\nReturn-Path: <z>\r\n",
	      "Return-Paths: x\r\nX-Return-Path: y\r\n\r\nReturn-Path: <z>\r\n", 0);
	/* the last line of a message without a body, no line end */
	check("Subject: x\r\nReturn-Path: <a>", "Subject: x\r\n", 0);
	check("Subject: x\r\nReturn-Pa", "Subject: x\r\nReturn-Pa", 0);
	/* a line without a colon is kept and the header goes on */
	check("no colon here\r\nReturn-Path: <a>\r\n\r\n", "no colon here\r\n\r\n", 0);
	/* a long name is no Return-Path */
	char longname[200];
	memset(longname, 'X', 150);
	strcpy(longname + 150, ": v\r\n\r\n");
	check(longname, longname, 0);
}
END_TEST

START_TEST(test_drop_several)
{
	/* a spam filter's verdict fields go, whatever a client wrote */
	check_with(spam_fields,
		   "X-Spam: Yes\r\nSubject: x\r\nx-spam-status: No,\r\n score=-100\r\n"
		   "X-Spam-Level: ***\r\nreturn-path: <a>\r\n\r\nX-Spam: body\r\n",
		   "Subject: x\r\nX-Spam-Level: ***\r\n\r\nX-Spam: body\r\n", 0);
	check_with(spam_fields, "X-Spam-Status: No\r\n", "", 0);
}
END_TEST

START_TEST(test_count_received)
{
	check("Received: from a\r\n by b\r\nreceived: c\r\nX-Received: d\r\n"
	      "RECEIVED : e\r\n\r\nReceived: body\r\n",
	      "Received: from a\r\n by b\r\nreceived: c\r\nX-Received: d\r\n"
	      "RECEIVED : e\r\n\r\nReceived: body\r\n", 3);
	/* the header ends after MIME_HEADER_LINES_MAX lines */
	struct buf in = BUF_INIT;
	for (int i = 0; i < MIME_HEADER_LINES_MAX + 10; i++)
		buf_puts(&in, "Received: x\r\n");
	struct mail_hdr_filter f;
	struct buf out = BUF_INIT;
	mail_hdr_filter_init(&f, return_path, sink, &out);
	ck_assert_int_eq(mail_hdr_filter_feed(&f, in.data, in.len), 0);
	ck_assert_uint_eq(f.received, MIME_HEADER_LINES_MAX);
	ck_assert(f.in_body);
	ck_assert_uint_eq(out.len, in.len);
	buf_free(&in);
	buf_free(&out);
}
END_TEST

static int
failing_sink(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return -1;
}

START_TEST(test_sink_failure)
{
	struct mail_hdr_filter f;
	mail_hdr_filter_init(&f, return_path, failing_sink, NULL);
	ck_assert_int_eq(mail_hdr_filter_feed(&f, "Subject: x\r\n", 12), -1);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_hdrfilter");
	TCase *tc = tcase_create("hdrfilter");
	tcase_add_test(tc, test_drop_return_path);
	tcase_add_test(tc, test_drop_several);
	tcase_add_test(tc, test_count_received);
	tcase_add_test(tc, test_sink_failure);
	suite_add_tcase(s, tc);
	return s;
}

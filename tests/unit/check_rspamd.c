/* Unit tests for trust/rspamd: the /checkv2 reply parser (with replies as
 * rspamd 3.4 writes them), the header fields made from a verdict, the
 * request head, and the HTTP reply head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "trust/rspamd.h"
#include "tests/unit/runner.h"

/* rspamd 3.4 for a GTUBE message (enable_test_patterns). */
static const char gtube_reply[] =
	"{\"is_skipped\":true,\"score\":15.0,\"required_score\":15.0,\"action\":\"reject\","
	"\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0.0,\"metric_score\":0.0}},"
	"\"messages\":{\"smtp_message\":\"Gtube pattern\"},\"message-id\":\"1@example.org\","
	"\"time_real\":0.270663}";

/* rspamd 3.4 for a short clean message. */
static const char clean_reply[] =
	"{\"is_skipped\":false,\"score\":1.0,\"required_score\":15.0,\"action\":\"no action\","
	"\"symbols\":{\"FROM_NO_DN\":{\"name\":\"FROM_NO_DN\",\"score\":0.0,\"metric_score\":0.0,"
	"\"description\":\"From header does not have a display name\"},"
	"\"MISSING_DATE\":{\"name\":\"MISSING_DATE\",\"score\":1.0,\"metric_score\":1.0,"
	"\"description\":\"Message date is missing\"},"
	"\"RCVD_COUNT_ZERO\":{\"name\":\"RCVD_COUNT_ZERO\",\"score\":0.0,\"metric_score\":0.0,"
	"\"description\":\"Message has no Received headers\",\"options\":[\"0\"]},"
	"\"BAYES_HAM\":{\"name\":\"BAYES_HAM\",\"score\":-2.5,\"options\":[\"99.0%\"]}},"
	"\"messages\":{},\"message-id\":\"1@example.org\",\"time_real\":0.001694}";

static void
parse_ok(const char *json, struct rspamd_result *r)
{
	const char *error = NULL;
	int ret = rspamd_reply_parse(json, strlen(json), r, &error);
	ck_assert_msg(ret == 0, "%s: %s", json, error);
}

static void
parse_fails(const char *json, size_t len, const char *want)
{
	struct rspamd_result r;
	const char *error = NULL;
	ck_assert_int_eq(rspamd_reply_parse(json, len, &r, &error), -1);
	ck_assert_str_eq(error, want);
	rspamd_result_clear(&r);
}

START_TEST(test_reply_gtube)
{
	struct rspamd_result r;
	parse_ok(gtube_reply, &r);
	ck_assert_int_eq(r.action, RSPAMD_REJECT);
	ck_assert(r.skipped);
	ck_assert(r.score == 15.0 && r.required == 15.0);
	ck_assert_str_eq(r.message, "Gtube pattern");
	ck_assert_ptr_null(r.subject);
	ck_assert_uint_eq(r.n_symbols, 1);
	ck_assert_str_eq(r.symbols[0].name, "GTUBE");
	rspamd_result_clear(&r);
	rspamd_result_clear(&r);	/* twice is harmless */
}
END_TEST

START_TEST(test_reply_clean)
{
	struct rspamd_result r;
	parse_ok(clean_reply, &r);
	ck_assert_int_eq(r.action, RSPAMD_NO_ACTION);
	ck_assert(!r.skipped);
	ck_assert_ptr_null(r.message);
	/* by |score|, then by name */
	ck_assert_uint_eq(r.n_symbols, 4);
	ck_assert_str_eq(r.symbols[0].name, "BAYES_HAM");
	ck_assert(r.symbols[0].score == -2.5);
	ck_assert_str_eq(r.symbols[1].name, "MISSING_DATE");
	ck_assert_str_eq(r.symbols[2].name, "FROM_NO_DN");
	ck_assert_str_eq(r.symbols[3].name, "RCVD_COUNT_ZERO");
	ck_assert_uint_eq(r.symbols[3].n_options, 1);
	ck_assert_str_eq(r.symbols[3].options[0], "0");

	struct buf h = BUF_INIT;
	rspamd_result_headers(&r, &h);
	ck_assert_str_eq(buf_cstr(&h),
			 "X-Spamd-Result: default: False [1.00 / 15.00];\r\n"
			 "\tBAYES_HAM(-2.50)[99.0%];\r\n"
			 "\tMISSING_DATE(1.00)[];\r\n"
			 "\tFROM_NO_DN(0.00)[];\r\n"
			 "\tRCVD_COUNT_ZERO(0.00)[0]\r\n"
			 "X-Spam-Status: No, score=1.00\r\n");
	buf_free(&h);
	rspamd_result_clear(&r);
}
END_TEST

START_TEST(test_reply_actions)
{
	static const struct {
		const char *name;
		enum rspamd_action action;
		bool spam;
	} cases[] = {
		{ "no action", RSPAMD_NO_ACTION, false },
		{ "greylist", RSPAMD_GREYLIST, false },
		{ "add header", RSPAMD_ADD_HEADER, true },
		{ "rewrite subject", RSPAMD_REWRITE_SUBJECT, true },
		{ "soft reject", RSPAMD_SOFT_REJECT, false },
		{ "reject", RSPAMD_REJECT, true },
		{ "discard", RSPAMD_DISCARD, true },
		{ "quarantine", RSPAMD_QUARANTINE, true },
		{ "add_header", RSPAMD_ADD_HEADER, true },
		{ "my_action", RSPAMD_CUSTOM, false },
		{ "Reject", RSPAMD_CUSTOM, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char json[256];
		snprintf(json, sizeof json, "{\"action\":\"%s\",\"score\":3.5}", cases[i].name);
		struct rspamd_result r;
		parse_ok(json, &r);
		ck_assert_msg(r.action == cases[i].action, "%s", cases[i].name);
		ck_assert(rspamd_action_is_spam(r.action) == cases[i].spam);
		ck_assert_uint_eq(r.n_symbols, 0);
		rspamd_result_clear(&r);
	}
	ck_assert_str_eq(rspamd_action_name(RSPAMD_ADD_HEADER), "add header");
	ck_assert_str_eq(rspamd_action_name(RSPAMD_CUSTOM), "custom");
}
END_TEST

START_TEST(test_reply_spam_headers)
{
	struct rspamd_result r;
	parse_ok("{\"action\":\"rewrite subject\",\"score\":8,\"required_score\":15,"
		 "\"subject\":\"***SPAM*** hi\",\"symbols\":{\"GTUBE\":{\"score\":0}}}",
		 &r);
	ck_assert_int_eq(r.action, RSPAMD_REWRITE_SUBJECT);
	ck_assert_str_eq(r.subject, "***SPAM*** hi");
	struct buf h = BUF_INIT;
	rspamd_result_headers(&r, &h);
	ck_assert_str_eq(buf_cstr(&h), "X-Spamd-Result: default: True [8.00 / 15.00];\r\n"
				       "\tGTUBE(0.00)[]\r\n"
				       "X-Spam-Status: Yes, score=8.00\r\n"
				       "X-Spam: Yes\r\n");
	buf_reset(&h);
	rspamd_unchecked_header("rspamd unavailable", &h);
	ck_assert_str_eq(buf_cstr(&h), "X-Spam-Status: unchecked (rspamd unavailable)\r\n");
	buf_free(&h);
	rspamd_result_clear(&r);
}
END_TEST

START_TEST(test_reply_hostile)
{
	struct rspamd_result r;
	/* control bytes, CR LF and non-ASCII never reach a header or reply */
	parse_ok("{\"action\":\"reject\",\"score\":1e300,\"required_score\":-1e300,"
		 "\"messages\":{\"smtp_message\":\"spam\\r\\n250 ok \\u00e9\"},"
		 "\"subject\":\"a\\r\\nBcc: x \\u00e9\\ud83d\\ude00\","
		 "\"symbols\":{\"A\\nB\":{\"score\":\"x\",\"options\":[\"o\\r\\n\",7,"
		 "\"2\",\"3\",\"4\",\"5\",\"6\"]}}}",
		 &r);
	ck_assert_str_eq(r.message, "spam??250 ok ??");
	ck_assert_str_eq(r.subject, "a  Bcc: x \xc3\xa9\xf0\x9f\x98\x80");
	ck_assert(r.score == 1e6 && r.required == -1e6);
	ck_assert_uint_eq(r.n_symbols, 1);
	ck_assert_str_eq(r.symbols[0].name, "A?B");
	ck_assert(r.symbols[0].score == 0);
	ck_assert_uint_eq(r.symbols[0].n_options, RSPAMD_OPTIONS_MAX);
	ck_assert_str_eq(r.symbols[0].options[0], "o??");
	ck_assert_str_eq(r.symbols[0].options[1], "2");
	struct buf h = BUF_INIT;
	rspamd_result_headers(&r, &h);
	/* every line of the fields ends in CRLF and holds no other CR or LF */
	for (size_t i = 0; i < h.len; i++)
		if (h.data[i] == '\n' || h.data[i] == '\r')
			ck_assert(h.data[i] == '\r' ? h.data[i + 1] == '\n' : h.data[i - 1] == '\r');
	buf_free(&h);
	rspamd_result_clear(&r);

	/* many symbols: the largest RSPAMD_SYMBOLS_MAX are kept, long text cut */
	struct buf json = BUF_INIT;
	buf_puts(&json, "{\"action\":\"add header\",\"score\":7,\"symbols\":{");
	for (int i = 0; i < 300; i++)
		buf_printf(&json, "%s\"S%03d\":{\"score\":%d}", i > 0 ? "," : "", i, i);
	buf_printf(&json, ",\"%0300d\":{\"score\":0.5}}}", 7);
	parse_ok(buf_cstr(&json), &r);
	ck_assert_uint_eq(r.n_symbols, RSPAMD_SYMBOLS_MAX);
	ck_assert_str_eq(r.symbols[0].name, "S299");
	ck_assert_str_eq(r.symbols[RSPAMD_SYMBOLS_MAX - 1].name, "S200");
	rspamd_result_clear(&r);
	buf_reset(&json);
	buf_printf(&json, "{\"action\":\"add header\",\"score\":7,\"symbols\":{\"%0300d\":{}}}", 7);
	parse_ok(buf_cstr(&json), &r);
	ck_assert_uint_eq(strlen(r.symbols[0].name), RSPAMD_TEXT_MAX);
	rspamd_result_clear(&r);
	buf_free(&json);
}
END_TEST

START_TEST(test_reply_errors)
{
	parse_fails("", 0, "reply is not a JSON object");
	parse_fails("[1,2]", 5, "reply is not a JSON object");
	parse_fails("{\"action\":\"reject\"", 18, "reply is not a JSON object");
	parse_fails("{\"action\":\"reject\"}", 19, "reply has no action or score");
	parse_fails("{\"action\":1,\"score\":1}", 22, "reply has no action or score");
	parse_fails("{\"score\":1}", 11, "reply has no action or score");
	/* the length is what counts, not a NUL */
	parse_fails("{\"action\":\"reject\",\"score\":1}", 10, "reply is not a JSON object");
	static char big[RSPAMD_REPLY_MAX + 2];
	memset(big, ' ', sizeof big);
	parse_fails(big, sizeof big, "reply too large");
	/* deep nesting is refused by the parser, not a crash */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 5000; i++)
		buf_puts(&deep, "[");
	parse_fails(deep.data, deep.len, "reply is not a JSON object");
	buf_free(&deep);

	struct buf e = BUF_INIT;
	const char *j = "{\"error\":\"<s1@x> has been already learned as spam, ignore it\"}";
	ck_assert(rspamd_reply_error(j, strlen(j), &e));
	ck_assert_str_eq(buf_cstr(&e), "<s1@x> has been already learned as spam, ignore it");
	buf_reset(&e);
	ck_assert(!rspamd_reply_error("{\"success\":true}", 16, &e));
	ck_assert(!rspamd_reply_error("garbage", 7, &e));
	ck_assert_uint_eq(e.len, 0);
	buf_free(&e);
}
END_TEST

/* Decodes the encoded words of a Subject field written by
 * rspamd_subject_header() back to the text. */
static void
decode_subject(const char *field, struct buf *out)
{
	const char *p = field + strlen("Subject:");
	for (;;) {
		const char *w = strstr(p, "=?UTF-8?B?");
		if (w == NULL)
			break;
		const char *end = strstr(w + 10, "?=");
		ck_assert_ptr_nonnull(end);
		ck_assert_uint_le((size_t)(end + 2 - w), 75);	/* RFC 2047 §2 */
		ck_assert_int_eq(base64_decode(out, w + 10, (size_t)(end - w - 10), false), 0);
		p = end + 2;
	}
}

START_TEST(test_subject_header)
{
	struct buf h = BUF_INIT;
	rspamd_subject_header("***SPAM*** hello", &h);
	ck_assert_str_eq(buf_cstr(&h), "Subject: ***SPAM*** hello\r\n");
	buf_reset(&h);

	const char *utf8 = "***SPAM*** Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x82\xac\xe2\x82"
			   "\xac\xe2\x82\xac \xf0\x9f\x98\x80 and a long tail of words to fold";
	rspamd_subject_header(utf8, &h);
	ck_assert(strncmp(buf_cstr(&h), "Subject: =?UTF-8?B?", 19) == 0);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&h), "?=\r\n =?UTF-8?B?"));
	ck_assert(h.len > 2 && memcmp(h.data + h.len - 2, "\r\n", 2) == 0);
	struct buf back = BUF_INIT;
	decode_subject(buf_cstr(&h), &back);
	ck_assert_str_eq(buf_cstr(&back), utf8);
	buf_free(&back);
	buf_reset(&h);

	/* a long ASCII subject is encoded (and so folded) too */
	char longs[1001];
	memset(longs, 'a', 1000);
	longs[1000] = '\0';
	rspamd_subject_header(longs, &h);
	back = (struct buf)BUF_INIT;
	decode_subject(buf_cstr(&h), &back);
	ck_assert_str_eq(buf_cstr(&back), longs);
	for (const char *line = h.data; line != NULL; line = strstr(line + 1, "\r\n"))
		ck_assert_uint_lt(strcspn(line + 2, "\r"), 998);
	buf_free(&back);
	buf_free(&h);
}
END_TEST

START_TEST(test_request_head)
{
	const char *rcpts[] = { "a@example.org", "b@example.org\r\nX-Evil: 1" };
	struct rspamd_request req = {
		.ip = "192.0.2.1",
		.helo = "mx.example.net",
		.from = "",
		.rcpts = rcpts,
		.n_rcpts = 2,
		.queue_id = "0123456789ABCDEF",
		.hostname = "unknown",
	};
	struct buf h = BUF_INIT;
	rspamd_request_head(&h, "/checkv2", "127.0.0.1", 11333, &req, NULL, 42);
	ck_assert_str_eq(buf_cstr(&h), "POST /checkv2 HTTP/1.0\r\n"
				       "Host: 127.0.0.1:11333\r\n"
				       "Connection: close\r\n"
				       "Content-Length: 42\r\n"
				       "Ip: 192.0.2.1\r\n"
				       "Helo: mx.example.net\r\n"
				       "From: <>\r\n"
				       "Rcpt: a@example.org\r\n"
				       "Rcpt: b@example.org??X-Evil: 1\r\n"
				       "Queue-Id: 0123456789ABCDEF\r\n"
				       "Hostname: unknown\r\n"
				       "\r\n");
	buf_reset(&h);
	rspamd_request_head(&h, "/learnspam", "::1", 11334, NULL, "pw", 0);
	ck_assert_str_eq(buf_cstr(&h), "POST /learnspam HTTP/1.0\r\n"
				       "Host: [::1]:11334\r\n"
				       "Connection: close\r\n"
				       "Content-Length: 0\r\n"
				       "Password: pw\r\n"
				       "\r\n");
	buf_free(&h);
}
END_TEST

static int
head(struct rspamd_http_head *h, const char *text, const char **error_r)
{
	rspamd_http_head_init(h);
	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		if (p[len] == '\n')
			len++;
		if (rspamd_http_head_line(h, p, len, error_r) < 0)
			return -1;
		p += len;
	}
	return 0;
}

START_TEST(test_http_head)
{
	struct rspamd_http_head h;
	const char *error = NULL;
	ck_assert_int_eq(head(&h, "HTTP/1.1 200 OK\r\nConnection: close\r\nServer: rspamd/3.4\r\n"
				  "content-length:  234 \r\nContent-Type: application/json\r\n\r\n",
			      &error),
			 0);
	ck_assert(h.done);
	ck_assert_uint_eq(h.status, 200);
	ck_assert_str_eq(h.reason, "OK");
	ck_assert(h.have_length && h.length == 234 && !h.chunked);

	ck_assert_int_eq(head(&h, "HTTP/1.1 208 <s1@x> has been already learned as spam\r\n\r\n",
			      &error),
			 0);
	ck_assert_uint_eq(h.status, 208);
	ck_assert_str_eq(h.reason, "<s1@x> has been already learned as spam");
	ck_assert(!h.have_length);

	ck_assert_int_eq(head(&h, "HTTP/1.0 401\r\nTransfer-Encoding: chunked\r\n\r\n", &error), 0);
	ck_assert_uint_eq(h.status, 401);
	ck_assert(h.chunked);

	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "SMTP/1.1 200 OK\r\n", "not an HTTP reply" },
		{ "HTTP/1.1 2000 OK\r\n", "not an HTTP reply" },
		{ "HTTP/1.1 099 x\r\n", "not an HTTP reply" },
		{ "HTTP/2 200 OK\r\n", "not an HTTP reply" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n", "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: \r\n", "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n",
		  "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
		  "two Content-Lengths" },
		{ "HTTP/1.1 200 OK\r\nno colon\r\n", "malformed HTTP header" },
		{ "HTTP/1.1 200 OK\r\n\r\nX: y\r\n", "HTTP head already complete" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(head(&h, bad[i].text, &error) == -1, "%s", bad[i].text);
		ck_assert_str_eq(error, bad[i].error);
	}
	struct buf many = BUF_INIT;
	buf_puts(&many, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < RSPAMD_HEAD_LINES_MAX; i++)
		buf_puts(&many, "X: y\r\n");
	ck_assert_int_eq(head(&h, buf_cstr(&many), &error), -1);
	ck_assert_str_eq(error, "HTTP reply head too large");
	buf_free(&many);
}
END_TEST

/* RFC 5235's scales: spam at the top, else the score's share of the
 * required score (1..9, 0..100). */
START_TEST(test_spamtest)
{
	static const struct {
		enum rspamd_action action;
		double score, required;
		int value, percent;
	} cases[] = {
		{ RSPAMD_NO_ACTION, -3.0, 15.0, 1, 0 },	{ RSPAMD_NO_ACTION, 0.0, 15.0, 1, 0 },
		{ RSPAMD_NO_ACTION, 1.5, 15.0, 1, 10 },	{ RSPAMD_NO_ACTION, 7.5, 15.0, 5, 50 },
		{ RSPAMD_GREYLIST, 14.9, 15.0, 9, 99 },	{ RSPAMD_SOFT_REJECT, 30.0, 15.0, 9, 100 },
		{ RSPAMD_ADD_HEADER, 0.0, 15.0, 10, 100 }, { RSPAMD_REJECT, 20.0, 15.0, 10, 100 },
		{ RSPAMD_NO_ACTION, 2.0, 0.0, 9, 100 },	{ RSPAMD_NO_ACTION, 0.0, 0.0, 1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rspamd_result r;
		memset(&r, 0, sizeof r);
		r.action = cases[i].action;
		r.score = cases[i].score;
		r.required = cases[i].required;
		int value = -1, percent = -1;
		rspamd_spamtest(&r, &value, &percent);
		ck_assert_msg(value == cases[i].value && percent == cases[i].percent,
			      "case %zu: %d %d", i, value, percent);
	}
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("rspamd");
	TCase *tc = tcase_create("reply");
	tcase_add_test(tc, test_reply_gtube);
	tcase_add_test(tc, test_reply_clean);
	tcase_add_test(tc, test_reply_actions);
	tcase_add_test(tc, test_reply_spam_headers);
	tcase_add_test(tc, test_reply_hostile);
	tcase_add_test(tc, test_reply_errors);
	tcase_add_test(tc, test_spamtest);
	suite_add_tcase(s, tc);
	tc = tcase_create("http");
	tcase_add_test(tc, test_subject_header);
	tcase_add_test(tc, test_request_head);
	tcase_add_test(tc, test_http_head);
	suite_add_tcase(s, tc);
	return s;
}

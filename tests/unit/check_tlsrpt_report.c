/* Unit tests for mail/tlsrpt_report: received SMTP TLS reports (RFC 8460
 * §4.4), as JSON and as gzip, and what a hostile reporter may send. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/base64.h"
#include "mail/tlsrpt_mail.h"
#include "mail/tlsrpt_report.h"
#include "tests/unit/runner.h"

/* RFC 8460 Appendix B, the example report (one policy, three failures). */
static const char rfc_example[] =
	"{\"organization-name\": \"Company-X\","
	" \"date-range\": {\"start-datetime\": \"2016-04-01T00:00:00Z\","
	"   \"end-datetime\": \"2016-04-01T23:59:59Z\"},"
	" \"contact-info\": \"sts-reporting@company-x.example\","
	" \"report-id\": \"5065427c-23d3-47ca-b6e0-946ea0e8c4be\","
	" \"policies\": [{"
	"   \"policy\": {\"policy-type\": \"sts\","
	"     \"policy-string\": [\"version: STSv1\",\"mode: testing\","
	"       \"mx: *.mail.company-y.example\",\"max_age: 86400\"],"
	"     \"policy-domain\": \"company-y.example\","
	"     \"mx-host\": [\"*.mail.company-y.example\"]},"
	"   \"summary\": {\"total-successful-session-count\": 5326,"
	"     \"total-failure-session-count\": 303},"
	"   \"failure-details\": ["
	"     {\"result-type\": \"certificate-expired\", \"sending-mta-ip\": \"2001:db8:abcd:0012::1\","
	"      \"receiving-mx-hostname\": \"mx1.mail.company-y.example\","
	"      \"failed-session-count\": 100},"
	"     {\"result-type\": \"starttls-not-supported\", \"sending-mta-ip\": \"2001:db8:abcd:0013::1\","
	"      \"receiving-mx-hostname\": \"mx2.mail.company-y.example\","
	"      \"receiving-ip\": \"203.0.113.56\", \"failed-session-count\": 200,"
	"      \"additional-information\": \"https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported\"},"
	"     {\"result-type\": \"validation-failure\", \"sending-mta-ip\": \"198.51.100.62\","
	"      \"receiving-ip\": \"203.0.113.58\", \"receiving-mx-hostname\": \"mx-backup.mail.company-y.example\","
	"      \"failed-session-count\": 3, \"failure-reason-code\": \"X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED\"}]"
	" }]}";

static void
gzip(const char *s, size_t len, struct buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	unsigned char chunk[4096];
	z.next_in = (unsigned char *)s;
	z.avail_in = (uInt)len;
	int ret;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof chunk;
		ret = deflate(&z, Z_FINISH);
		buf_append(out, chunk, sizeof chunk - z.avail_out);
	} while (ret != Z_STREAM_END);
	deflateEnd(&z);
}

static void
check_example(const struct tlsrpt_report *r)
{
	ck_assert_str_eq(r->org, "Company-X");
	ck_assert_str_eq(r->contact, "sts-reporting@company-x.example");
	ck_assert_str_eq(r->report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	ck_assert_str_eq(r->start, "2016-04-01T00:00:00Z");
	ck_assert_str_eq(r->end, "2016-04-01T23:59:59Z");
	ck_assert_uint_eq(r->n_policies, 1);
	const struct tlsrpt_policy *p = &r->policies[0];
	ck_assert_str_eq(p->type, "sts");
	ck_assert_str_eq(p->domain, "company-y.example");
	ck_assert_str_eq(p->mx_host, "*.mail.company-y.example");
	ck_assert_uint_eq(p->success, 5326);
	ck_assert_uint_eq(p->failure, 303);
	ck_assert_uint_eq(p->n_failures, 3);
	ck_assert_str_eq(p->failures[0].result_type, "certificate-expired");
	ck_assert_str_eq(p->failures[0].receiving_mx, "mx1.mail.company-y.example");
	ck_assert_ptr_null(p->failures[0].receiving_ip);
	ck_assert_uint_eq(p->failures[0].count, 100);
	ck_assert_str_eq(p->failures[1].receiving_ip, "203.0.113.56");
	ck_assert_uint_eq(p->failures[2].count, 3);
}

START_TEST(test_rfc_example)
{
	struct tlsrpt_report r;
	const char *error = NULL;
	ck_assert_msg(tlsrpt_report_parse(rfc_example, strlen(rfc_example), &r, &error) == 0,
		      "%s", error);
	check_example(&r);
	tlsrpt_report_clear(&r);
	/* decode takes plain JSON too */
	ck_assert_int_eq(tlsrpt_report_decode(rfc_example, strlen(rfc_example), &r, &error), 0);
	check_example(&r);
	tlsrpt_report_clear(&r);
}
END_TEST

START_TEST(test_gzip)
{
	struct buf gz = BUF_INIT;
	gzip(rfc_example, strlen(rfc_example), &gz);
	struct tlsrpt_report r;
	const char *error = NULL;
	ck_assert_msg(tlsrpt_report_decode(gz.data, gz.len, &r, &error) == 0, "%s", error);
	check_example(&r);
	tlsrpt_report_clear(&r);
	/* truncated: refused, nothing kept */
	ck_assert_int_eq(tlsrpt_report_decode(gz.data, gz.len - 9, &r, &error), -1);
	ck_assert_str_eq(error, "truncated gzip");
	ck_assert_ptr_null(r.org);
	/* corrupt */
	gz.data[gz.len / 2] ^= 0x55;
	ck_assert_int_eq(tlsrpt_report_decode(gz.data, gz.len, &r, &error), -1);
	buf_free(&gz);
	/* a bomb: a megabyte of spaces inflates past a small bound */
	char *spaces = malloc(1 << 20);
	memset(spaces, ' ', 1 << 20);
	gzip(spaces, 1 << 20, &gz);
	free(spaces);
	ck_assert_uint_lt(gz.len, 4096);
	struct buf out = BUF_INIT;
	ck_assert_int_eq(tlsrpt_gunzip(gz.data, gz.len, 65536, &out, &error), -1);
	ck_assert_str_eq(error, "report too large once inflated");
	ck_assert_uint_le(out.len, 65536);
	buf_free(&out);
	ck_assert_int_eq(tlsrpt_gunzip("{}", 2, 100, &out, &error), -1);
	ck_assert_str_eq(error, "not gzip");
	buf_free(&out);
	buf_free(&gz);
}
END_TEST

static void
refused(const char *json, const char *want)
{
	struct tlsrpt_report r;
	const char *error = NULL;
	ck_assert_msg(tlsrpt_report_parse(json, strlen(json), &r, &error) == -1, "%s", json);
	ck_assert_msg(strcmp(error, want) == 0, "%s: %s", json, error);
	ck_assert_ptr_null(r.org);
	ck_assert_uint_eq(r.n_policies, 0);
}

#define HEAD "{\"organization-name\":\"o\",\"contact-info\":\"c\",\"report-id\":\"i\"," \
	"\"date-range\":{\"start-datetime\":\"2026-12-05T00:00:00Z\"," \
	"\"end-datetime\":\"2026-12-05T23:59:59Z\"},"
#define POL(type, ok, bad) "{\"policy\":{\"policy-type\":\"" type "\",\"policy-domain\":\"d.test\"}," \
	"\"summary\":{\"total-successful-session-count\":" ok ",\"total-failure-session-count\":" bad "}"

START_TEST(test_refused)
{
	refused("", "not JSON");
	refused("{\"organization-name\":", "not JSON");
	refused("[]", "not a TLS report (no organization-name or report-id)");
	refused("{\"organization-name\":\"o\",\"report-id\":\"\"}",
		"not a TLS report (no organization-name or report-id)");
	refused("{\"organization-name\":\"o\",\"report-id\":\"i\",\"policies\":[]}",
		"a date-range without RFC 3339 start and end");
	refused("{\"organization-name\":\"o\",\"report-id\":\"i\",\"date-range\":"
		"{\"start-datetime\":\"yesterday\",\"end-datetime\":\"2026-12-05T23:59:59Z\"},"
		"\"policies\":[]}", "a date-range without RFC 3339 start and end");
	refused(HEAD "\"policies\":{}}", "no policies array");
	refused(HEAD "\"policies\":[" POL("dmarc", "1", "0") "}]}",
		"a policy-type that is not tlsa, sts or no-policy-found");
	refused(HEAD "\"policies\":[" POL("sts", "-1", "0") "}]}",
		"a summary without its session counts");
	refused(HEAD "\"policies\":[" POL("sts", "1.5", "0") "}]}",
		"a summary without its session counts");
	refused(HEAD "\"policies\":[" POL("sts", "1e300", "0") "}]}",
		"a summary without its session counts");
	refused(HEAD "\"policies\":[" POL("sts", "\"1\"", "0") "}]}",
		"a summary without its session counts");
	refused(HEAD "\"policies\":[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{}}]}",
		"a policy without its policy-domain");
	refused(HEAD "\"policies\":[" POL("tlsa", "1", "1") ",\"failure-details\":[{}]}]}",
		"a failure detail without a result-type");
	refused(HEAD "\"policies\":[" POL("tlsa", "1", "1")
		",\"failure-details\":[{\"result-type\":\"x\"}]}]}",
		"a failure detail without a failed-session-count");
	refused(HEAD "\"policies\":[" POL("tlsa", "1", "1") ",\"failure-details\":7}]}",
		"failure-details is not an array");
	/* too many policies */
	struct buf b = BUF_INIT;
	buf_puts(&b, HEAD "\"policies\":[");
	for (int i = 0; i <= TLSRPT_POLICIES_MAX; i++)
		buf_printf(&b, "%s" POL("sts", "1", "0") "}", i > 0 ? "," : "");
	buf_puts(&b, "]}");
	refused(buf_cstr(&b), "too many policies");
	buf_free(&b);
}
END_TEST

START_TEST(test_hostile_text)
{
	/* control characters and long texts: reduced and cut */
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"organization-name\":\"evil\\r\\nX-Injected: 1\",\"report-id\":\"");
	for (int i = 0; i < 1000; i++)
		buf_putc(&b, 'a');
	buf_puts(&b, "\",\"date-range\":{\"start-datetime\":\"2026-12-05T00:00:00Z\","
		 "\"end-datetime\":\"2026-12-05T23:59:59.5+01:00\"},"
		 "\"policies\":[" POL("no-policy-found", "0", "9007199254740992") "}]}");
	struct tlsrpt_report r;
	const char *error = NULL;
	ck_assert_msg(tlsrpt_report_parse(b.data, b.len, &r, &error) == 0, "%s", error);
	ck_assert_str_eq(r.org, "evil??X-Injected: 1");
	ck_assert_uint_eq(strlen(r.report_id), TLSRPT_TEXT_MAX);
	ck_assert_str_eq(r.contact, "");
	ck_assert_uint_eq(r.policies[0].failure, 9007199254740992ull);
	ck_assert_ptr_null(r.policies[0].mx_host);
	tlsrpt_report_clear(&r);
	tlsrpt_report_clear(&r);	/* twice is harmless */
	buf_free(&b);
	/* failure details beyond the bound are dropped, not refused */
	buf_puts(&b, HEAD "\"policies\":[" POL("tlsa", "0", "100") ",\"failure-details\":[");
	for (int i = 0; i < TLSRPT_FAILURES_MAX + 10; i++)
		buf_printf(&b, "%s{\"result-type\":\"tlsa-invalid\",\"failed-session-count\":1}",
			   i > 0 ? "," : "");
	buf_puts(&b, "]}]}");
	ck_assert_msg(tlsrpt_report_parse(b.data, b.len, &r, &error) == 0, "%s", error);
	ck_assert_uint_eq(r.policies[0].n_failures, TLSRPT_FAILURES_MAX);
	tlsrpt_report_clear(&r);
	buf_free(&b);
}
END_TEST

/* ---- reports that come as messages (mail/tlsrpt_mail) ----------------------- */

/* A report message as RFC 8460 §5.3 has it, around part (its fields and
 * body, already encoded). */
static void
report_message(struct buf *out, const char *part_fields, const char *body, size_t len)
{
	buf_puts(out, "Received: from mx.company-x.example by mail.test\r\n"
		 "From: tlsrpt@company-x.example\r\nTo: postmaster@company-y.example\r\n"
		 "Subject: Report Domain: company-y.example Submitter: company-x.example"
		 " Report-ID: <5065427c@company-x.example>\r\n"
		 "TLS-Report-Domain: company-y.example\r\n"
		 "TLS-Report-Submitter: company-x.example\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
		 "\tboundary=\"b1\"\r\n\r\n"
		 "--b1\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n"
		 "--b1\r\n");
	buf_puts(out, part_fields);
	buf_puts(out, "\r\n");
	buf_append(out, body, len);
	buf_puts(out, "\r\n--b1--\r\n");
}

START_TEST(test_mail_gzip_base64)
{
	struct buf gz = BUF_INIT, b64 = BUF_INIT, msg = BUF_INIT;
	gzip(rfc_example, strlen(rfc_example), &gz);
	for (size_t pos = 0; pos < gz.len; pos += 57) {
		base64_encode(&b64, gz.data + pos, gz.len - pos < 57 ? gz.len - pos : 57);
		buf_puts(&b64, "\r\n");
	}
	report_message(&msg, "Content-Type: application/tlsrpt+gzip\r\n"
		       "Content-Transfer-Encoding: base64\r\n"
		       "Content-Disposition: attachment; filename=\"x.json.gz\"\r\n",
		       b64.data, b64.len);
	ck_assert(tlsrpt_mail_announced(msg.data, msg.len));
	struct tlsrpt_report r;
	const char *error = NULL;
	ck_assert_msg(tlsrpt_mail_decode(msg.data, msg.len, &r, &error) == 1, "%s", error);
	check_example(&r);
	tlsrpt_report_clear(&r);
	/* the part alone, as it was before base64 */
	struct buf part = BUF_INIT;
	ck_assert_int_eq(tlsrpt_mail_part(msg.data, msg.len, &part, &error), 1);
	ck_assert_uint_eq(part.len, gz.len);
	ck_assert_mem_eq(part.data, gz.data, gz.len);
	buf_free(&part);
	buf_free(&gz);
	buf_free(&b64);
	buf_free(&msg);
}
END_TEST

START_TEST(test_mail_json_forms)
{
	struct buf msg = BUF_INIT;
	struct tlsrpt_report r;
	const char *error = NULL;
	/* JSON as it is, in an upper-case media type */
	report_message(&msg, "Content-Type: Application/TLSRPT+JSON\r\n", rfc_example,
		       strlen(rfc_example));
	ck_assert_msg(tlsrpt_mail_decode(msg.data, msg.len, &r, &error) == 1, "%s", error);
	check_example(&r);
	tlsrpt_report_clear(&r);
	/* quoted-printable, soft line breaks in the middle of names */
	buf_reset(&msg);
	struct buf qp = BUF_INIT;
	for (size_t i = 0; rfc_example[i] != '\0'; i++) {
		if (i > 0 && i % 60 == 0)
			buf_puts(&qp, "=\r\n");
		if (rfc_example[i] == '=')
			buf_puts(&qp, "=3D");
		else
			buf_putc(&qp, rfc_example[i]);
	}
	report_message(&msg, "Content-Type: application/tlsrpt+json\r\n"
		       "Content-Transfer-Encoding: quoted-printable\r\n", qp.data, qp.len);
	ck_assert_msg(tlsrpt_mail_decode(msg.data, msg.len, &r, &error) == 1, "%s", error);
	check_example(&r);
	tlsrpt_report_clear(&r);
	buf_free(&qp);
	/* the report as the whole message, announced by its own type */
	buf_reset(&msg);
	buf_printf(&msg, "From: a@b.example\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: application/tlsrpt+json\r\n\r\n%s\r\n", rfc_example);
	ck_assert(tlsrpt_mail_announced(msg.data, msg.len));
	ck_assert_msg(tlsrpt_mail_decode(msg.data, msg.len, &r, &error) == 1, "%s", error);
	check_example(&r);
	tlsrpt_report_clear(&r);
	buf_free(&msg);
}
END_TEST

START_TEST(test_mail_not_announced)
{
	static const char *const plain[] = {
		"From: a@b.example\r\nSubject: tlsrpt is a word\r\n\r\nhello\r\n",
		"From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;"
		" report-type=delivery-status; boundary=x\r\n\r\n--x--\r\n",
		"From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;"
		" report-type=tlsrpt-not; boundary=x\r\n\r\n--x--\r\n",
		/* in the body, not the header */
		"From: a@b.example\r\n\r\nTLS-Report-Domain: example.org\r\n",
	};
	for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
		ck_assert_msg(!tlsrpt_mail_announced(plain[i], strlen(plain[i])), "%zu", i);
	static const char announced[] =
		"From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;\r\n"
		" report-type=TLSRPT; boundary=x\r\n\r\n--x--\r\n";
	ck_assert(tlsrpt_mail_announced(announced, strlen(announced)));
}
END_TEST

START_TEST(test_mail_bad)
{
	struct buf msg = BUF_INIT;
	struct tlsrpt_report r;
	const char *error = NULL;
	/* announced, but no report part: 0, nothing kept */
	report_message(&msg, "Content-Type: application/json\r\n", rfc_example,
		       strlen(rfc_example));
	ck_assert(tlsrpt_mail_announced(msg.data, msg.len));
	ck_assert_int_eq(tlsrpt_mail_decode(msg.data, msg.len, &r, &error), 0);
	ck_assert_ptr_null(r.org);
	/* an encoding nobody defined */
	buf_reset(&msg);
	report_message(&msg, "Content-Type: application/tlsrpt+json\r\n"
		       "Content-Transfer-Encoding: x-uuencode\r\n", rfc_example,
		       strlen(rfc_example));
	ck_assert_int_eq(tlsrpt_mail_decode(msg.data, msg.len, &r, &error), -1);
	ck_assert_str_eq(error, "the report part has an unknown Content-Transfer-Encoding");
	/* an empty part */
	buf_reset(&msg);
	report_message(&msg, "Content-Type: application/tlsrpt+gzip\r\n"
		       "Content-Transfer-Encoding: base64\r\n", "", 0);
	ck_assert_int_eq(tlsrpt_mail_decode(msg.data, msg.len, &r, &error), -1);
	ck_assert_str_eq(error, "the report part is empty");
	/* a part that is no report: the report parser's reason */
	buf_reset(&msg);
	report_message(&msg, "Content-Type: application/tlsrpt+json\r\n", "{\"a\": 1}", 8);
	ck_assert_int_eq(tlsrpt_mail_decode(msg.data, msg.len, &r, &error), -1);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_null(r.org);
	/* gzip that is cut short */
	struct buf gz = BUF_INIT, b64 = BUF_INIT;
	gzip(rfc_example, strlen(rfc_example), &gz);
	base64_encode(&b64, gz.data, gz.len - 12);
	buf_reset(&msg);
	report_message(&msg, "Content-Type: application/tlsrpt+gzip\r\n"
		       "Content-Transfer-Encoding: base64\r\n", b64.data, b64.len);
	ck_assert_int_eq(tlsrpt_mail_decode(msg.data, msg.len, &r, &error), -1);
	ck_assert_str_eq(error, "truncated gzip");
	buf_free(&gz);
	buf_free(&b64);
	/* larger than a report may be: refused before any JSON is read */
	size_t big = TLSRPT_MAIL_MAX + 10;
	char *fill = malloc(big);
	memset(fill, ' ', big);
	buf_reset(&msg);
	report_message(&msg, "Content-Type: application/tlsrpt+json\r\n", fill, big);
	free(fill);
	struct buf part = BUF_INIT;
	ck_assert_int_eq(tlsrpt_mail_part(msg.data, msg.len, &part, &error), -1);
	ck_assert_str_eq(error, "the report part is too large");
	ck_assert_uint_le(part.len, TLSRPT_MAIL_MAX);
	buf_free(&part);
	buf_free(&msg);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("tlsrpt_report");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_rfc_example);
	tcase_add_test(tc, test_gzip);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_hostile_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("mail");
	tcase_add_test(tc, test_mail_gzip_base64);
	tcase_add_test(tc, test_mail_json_forms);
	tcase_add_test(tc, test_mail_not_announced);
	tcase_add_test(tc, test_mail_bad);
	suite_add_tcase(s, tc);
	return s;
}

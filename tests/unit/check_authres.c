/* Unit tests for trust/authres: the Authentication-Results field (RFC 8601)
 * built from DKIM and ARC results, its quoting, the authserv-id of a
 * field, and the removal of fields that claim ours (§5). */
#include <string.h>

#include "core/buf.h"
#include "tests/unit/runner.h"
#include "trust/arc.h"
#include "trust/authres.h"
#include "trust/dkim_verify.h"

START_TEST(test_none)
{
	struct buf b = BUF_INIT;
	authres_build(&b, "mail.example.org", NULL, 0);
	ck_assert_str_eq(buf_cstr(&b), "Authentication-Results: mail.example.org; none\r\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_dkim_and_arc)
{
	struct dkim_sig_result pass = {
		.status = DKIM_PASS, .reason = "good signature", .domain = (char *)"example.com",
		.selector = (char *)"sel", .identity = (char *)"@example.com", .algorithm = (char *)"rsa-sha256",
		.b = (char *)"abcdefgh/ijk+lmn=",
	};
	struct dkim_sig_result fail = {
		.status = DKIM_FAIL, .reason = "body hash mismatch", .domain = (char *)"example.net",
		.selector = (char *)"s\"1", .algorithm = (char *)"ed25519-sha256", .b = (char *)"abcdefghXYZ",
		.testing = true, .length_limited = true, .length = 10, .body_length = 50,
	};
	struct arc_result arc = { .status = ARC_PASS, .reason = "ok", .instances = 2 };
	struct authres_result r[3];
	const struct dkim_sig_result *sigs[] = { &pass, &fail };
	size_t prefix = authres_dkim_b_prefix(sigs, 2);
	ck_assert_uint_eq(prefix, 9);	/* both start "abcdefgh" */
	authres_from_dkim(&pass, prefix, &r[0]);
	authres_from_dkim(&fail, prefix, &r[1]);
	authres_from_arc(&arc, &r[2]);
	struct buf b = BUF_INIT;
	authres_build(&b, "mx.example.org", r, 3);
	ck_assert_str_eq(buf_cstr(&b),
			 "Authentication-Results: mx.example.org;\r\n"
			 "\tdkim=pass header.d=example.com header.i=@example.com header.s=sel"
			 " header.a=rsa-sha256 header.b=\"abcdefgh/\";\r\n"
			 "\tdkim=fail (key in testing mode; only 10 of 50 body bytes signed)"
			 " reason=\"body hash mismatch\" header.d=example.net header.s=\"s\\\"1\""
			 " header.a=ed25519-sha256 header.b=abcdefghX;\r\n"
			 "\tarc=pass (i=2)\r\n");
	for (int i = 0; i < 3; i++)
		authres_result_free(&r[i]);
	buf_free(&b);
}
END_TEST

/* SPF and DMARC write their resinfo whole; it goes in as it is, in the
 * order given (RFC 8601 §2.2 sets none; ours: spf, dkim, dmarc, arc). */
START_TEST(test_text_results)
{
	struct dkim_sig_result sig = {
		.status = DKIM_PASS, .domain = (char *)"example.com", .selector = (char *)"s",
		.b = (char *)"AbCdEfGhIj",
	};
	struct authres_result r[4];
	memset(r, 0, sizeof r);
	r[0].text = "spf=pass smtp.mailfrom=example.com";
	authres_from_dkim(&sig, 8, &r[1]);
	r[2].text = "dmarc=pass (p=reject dis=none) header.from=example.com";
	struct arc_result arc = { .status = ARC_NONE };
	authres_from_arc(&arc, &r[3]);
	struct buf b = BUF_INIT;
	authres_build(&b, "mx.example.org", r, 4);
	ck_assert_str_eq(buf_cstr(&b),
			 "Authentication-Results: mx.example.org;\r\n"
			 "\tspf=pass smtp.mailfrom=example.com;\r\n"
			 "\tdkim=pass header.d=example.com header.s=s header.b=AbCdEfGh;\r\n"
			 "\tdmarc=pass (p=reject dis=none) header.from=example.com;\r\n"
			 "\tarc=none\r\n");
	for (int i = 0; i < 4; i++)
		authres_result_free(&r[i]);
	buf_free(&b);
}
END_TEST

START_TEST(test_quoting)
{
	struct authres_result r = { .method = "spf", .result = "pass" };
	r.comment = "a (nested) \\ \r\n comment";
	r.reason = "say \"hi\"\n";
	authres_result_prop(&r, "smtp", "mailfrom", "user.name+tag@example.org", 0);
	authres_result_prop(&r, "smtp", "helo", "[192.0.2.1]", 0);
	authres_result_prop(&r, "policy", "x", "with space", 0);
	authres_result_prop(&r, "policy", "y", "", 0);
	authres_result_prop(&r, "policy", "z", "ab", 1);
	struct buf b = BUF_INIT;
	authres_build(&b, "odd id", &r, 1);
	ck_assert_str_eq(buf_cstr(&b),
			 "Authentication-Results: \"odd id\";\r\n"
			 "\tspf=pass (a \\(nested\\) \\\\ ?? comment) reason=\"say \\\"hi\\\"?\""
			 " smtp.mailfrom=user.name+tag@example.org smtp.helo=\"[192.0.2.1]\""
			 " policy.x=\"with space\" policy.y=\"\" policy.z=a\r\n");
	/* more properties than there is room for are dropped */
	for (int i = 0; i < 10; i++)
		authres_result_prop(&r, "policy", "n", "v", 0);
	ck_assert_uint_eq(r.n_props, AUTHRES_PROPS_MAX);
	buf_free(&b);
}
END_TEST

START_TEST(test_authserv_id)
{
	static const struct {
		const char *value, *id;
	} cases[] = {
		{ "mx.example.org; spf=pass", "mx.example.org" },
		{ " (comment (nested)) MX.Example.org 1; none", "MX.Example.org" },
		{ "\"quoted id\"; none", "quoted id" },
		{ "\r\n\tmx.example.org;", "mx.example.org" },
		{ "mx.example.org", "mx.example.org" },
		{ ";", NULL },
		{ "(unclosed comment", NULL },
		{ "\"unclosed", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b = BUF_INIT;
		int r = authres_authserv_id(cases[i].value, strlen(cases[i].value), &b);
		if (cases[i].id == NULL)
			ck_assert_msg(r == -1, "case %zu: got \"%s\"", i, buf_cstr(&b));
		else
			ck_assert_msg(r == 0 && strcmp(buf_cstr(&b), cases[i].id) == 0,
				      "case %zu: got %d \"%s\"", i, r, buf_cstr(&b));
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_strip)
{
	const char *hdr =
		"Authentication-Results: mx.example.org; dkim=pass (forged)\r\n"
		"Received: from a by b\r\n"
		"authentication-results: MX.EXAMPLE.ORG;\r\n"
		"\tspf=pass smtp.mailfrom=x@example.com\r\n"
		"Authentication-Results: other.example.net; dkim=fail\r\n"
		"Authentication-Results: mx.example.org.evil.example; none\r\n"
		"Authentication-Results: (c) \"mx.example.org\"; none\r\n"
		"ARC-Authentication-Results: i=1; mx.example.org; none\r\n"
		"Subject: hi\r\n"
		"\r\n";
	struct buf out = BUF_INIT;
	ck_assert_uint_eq(authres_strip(hdr, strlen(hdr), "mx.example.org", &out), 3);
	ck_assert_str_eq(buf_cstr(&out),
			 "Received: from a by b\r\n"
			 "Authentication-Results: other.example.net; dkim=fail\r\n"
			 "Authentication-Results: mx.example.org.evil.example; none\r\n"
			 "ARC-Authentication-Results: i=1; mx.example.org; none\r\n"
			 "Subject: hi\r\n"
			 "\r\n");
	buf_reset(&out);
	/* nothing to remove: the same bytes */
	ck_assert_uint_eq(authres_strip(hdr, strlen(hdr), "other.example", &out), 0);
	ck_assert_str_eq(buf_cstr(&out), hdr);
	buf_free(&out);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("authres");
	TCase *tc = tcase_create("authres");
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_dkim_and_arc);
	tcase_add_test(tc, test_text_results);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_authserv_id);
	tcase_add_test(tc, test_strip);
	suite_add_tcase(s, tc);
	return s;
}

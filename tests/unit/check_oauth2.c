/* Unit tests for core/oauth2: the SASL responses (RFC 7628 §3.1, XOAUTH2),
 * token answers (RFC 6749 §5.1-5.2, RFC 8628 §3.2 and §3.5), PKCE (RFC 7636
 * appendix B) and endpoint URLs; and the POST of core/https_get. */
#include <stdlib.h>
#include <string.h>

#include "core/https_get.h"
#include "core/oauth2.h"
#include "tests/unit/runner.h"

START_TEST(test_sasl_xoauth2)
{
	struct buf b = BUF_INIT;
	oauth2_sasl_xoauth2(&b, "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	/* Google's documented example */
	ck_assert_str_eq(buf_cstr(&b), "user=someuser@example.com\001auth=Bearer "
				       "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001");
	buf_free(&b);
}
END_TEST

START_TEST(test_sasl_oauthbearer)
{
	struct buf b = BUF_INIT;
	/* RFC 7628 §4.1 */
	oauth2_sasl_oauthbearer(&b, "user@example.com", "server.example.com", 143,
				"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	ck_assert_str_eq(buf_cstr(&b), "n,a=user@example.com,\001host=server.example.com\001"
				       "port=143\001auth=Bearer "
				       "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001");
	/* RFC 5801 §4: ',' and '=' in the authzid are escaped */
	buf_reset(&b);
	oauth2_sasl_oauthbearer(&b, "a,b=c", "h", 993, "t");
	ck_assert_str_eq(buf_cstr(&b), "n,a=a=2Cb=3Dc,\001host=h\001port=993\001auth=Bearer t\001\001");
	buf_free(&b);
}
END_TEST

START_TEST(test_token_answers)
{
	struct oauth2_token t;
	const char *err;
	const char *ok = "{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\"token_type\":\"Bearer\","
			 "\"expires_in\":3600,\"refresh_token\":\"tGzv3JOkF0XG5Qx2TlKWIA\"}";
	ck_assert_int_eq(oauth2_token_parse(200, ok, strlen(ok), &t, &err), OAUTH2_OK);
	ck_assert_str_eq(t.access_token, "2YotnFZFEjr1zCsicMWpAA");
	ck_assert_str_eq(t.refresh_token, "tGzv3JOkF0XG5Qx2TlKWIA");
	ck_assert_int_eq(t.expires_in, 3600);
	oauth2_token_clear(&t);
	/* no refresh token, expires_in as a string (seen in the wild) */
	const char *ok2 = "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"99\"}";
	ck_assert_int_eq(oauth2_token_parse(200, ok2, strlen(ok2), &t, &err), OAUTH2_OK);
	ck_assert_ptr_null(t.refresh_token);
	ck_assert_int_eq(t.expires_in, 99);
	oauth2_token_clear(&t);
	/* RFC 6749 §5.2 */
	const char *bad = "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been "
			  "expired or revoked.\"}";
	ck_assert_int_eq(oauth2_token_parse(400, bad, strlen(bad), &t, &err),
			 OAUTH2_INVALID_GRANT);
	ck_assert_ptr_nonnull(strstr(err, "invalid_grant"));
	ck_assert_ptr_nonnull(strstr(err, "expired or revoked"));
	const char *pend = "{\"error\":\"authorization_pending\"}";
	ck_assert_int_eq(oauth2_token_parse(400, pend, strlen(pend), &t, &err), OAUTH2_PENDING);
	const char *slow = "{\"error\":\"slow_down\"}";
	ck_assert_int_eq(oauth2_token_parse(400, slow, strlen(slow), &t, &err), OAUTH2_SLOW_DOWN);
	const char *denied = "{\"error\":\"access_denied\"}";
	ck_assert_int_eq(oauth2_token_parse(400, denied, strlen(denied), &t, &err),
			 OAUTH2_INVALID_GRANT);
	const char *client = "{\"error\":\"invalid_client\"}";
	ck_assert_int_eq(oauth2_token_parse(401, client, strlen(client), &t, &err), OAUTH2_ERROR);
	/* not JSON, a 200 with an error, a MAC token, a token with ^A */
	ck_assert_int_eq(oauth2_token_parse(502, "<html>", 6, &t, &err), OAUTH2_ERROR);
	const char *no_tok = "{\"token_type\":\"Bearer\"}";
	ck_assert_int_eq(oauth2_token_parse(200, no_tok, strlen(no_tok), &t, &err), OAUTH2_ERROR);
	const char *mac = "{\"access_token\":\"a\",\"token_type\":\"mac\"}";
	ck_assert_int_eq(oauth2_token_parse(200, mac, strlen(mac), &t, &err), OAUTH2_ERROR);
	const char *ctl = "{\"access_token\":\"a\\u0001b\",\"token_type\":\"Bearer\"}";
	ck_assert_int_eq(oauth2_token_parse(200, ctl, strlen(ctl), &t, &err), OAUTH2_ERROR);
	ck_assert_ptr_null(t.access_token);
}
END_TEST

START_TEST(test_device_answer)
{
	struct oauth2_device d;
	const char *err;
	/* RFC 8628 §3.2 */
	const char *ok = "{\"device_code\":\"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\","
			 "\"user_code\":\"WDJB-MJHT\",\"verification_uri\":"
			 "\"https://example.com/device\",\"verification_uri_complete\":"
			 "\"https://example.com/device?user_code=WDJB-MJHT\",\"expires_in\":1800,"
			 "\"interval\":5}";
	ck_assert_int_eq(oauth2_device_parse(200, ok, strlen(ok), &d, &err), 0);
	ck_assert_str_eq(d.user_code, "WDJB-MJHT");
	ck_assert_str_eq(d.verification_uri, "https://example.com/device");
	ck_assert_int_eq(d.expires_in, 1800);
	ck_assert_int_eq(d.interval, 5);
	oauth2_device_clear(&d);
	const char *lacking = "{\"device_code\":\"x\"}";
	ck_assert_int_eq(oauth2_device_parse(200, lacking, strlen(lacking), &d, &err), -1);
	const char *refused = "{\"error\":\"invalid_client\"}";
	ck_assert_int_eq(oauth2_device_parse(401, refused, strlen(refused), &d, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "invalid_client"));
}
END_TEST

START_TEST(test_pkce)
{
	/* RFC 7636 appendix B */
	char ch[44];
	oauth2_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
	ck_assert_str_eq(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	char v[44], c2[44];
	oauth2_pkce_new(v, c2);
	ck_assert_uint_eq(strlen(v), 43);
	oauth2_pkce_challenge(v, ch);
	ck_assert_str_eq(ch, c2);
}
END_TEST

START_TEST(test_url_split)
{
	char *h, *p;
	unsigned port;
	const char *err;
	ck_assert_int_eq(oauth2_url_split("https://oauth2.googleapis.com/token", &h, &port, &p,
					  &err), 0);
	ck_assert_str_eq(h, "oauth2.googleapis.com");
	ck_assert_uint_eq(port, 443);
	ck_assert_str_eq(p, "/token");
	free(h);
	free(p);
	ck_assert_int_eq(oauth2_url_split("https://[::1]:8443/a?b=c", &h, &port, &p, &err), 0);
	ck_assert_str_eq(h, "::1");
	ck_assert_uint_eq(port, 8443);
	ck_assert_str_eq(p, "/a?b=c");
	free(h);
	free(p);
	ck_assert_int_eq(oauth2_url_split("https://127.0.0.1:9", &h, &port, &p, &err), 0);
	ck_assert_str_eq(p, "/");
	free(h);
	free(p);
	ck_assert_int_eq(oauth2_url_split("http://x/token", &h, &port, &p, &err), -1);
	ck_assert_int_eq(oauth2_url_split("https://user@x/", &h, &port, &p, &err), -1);
	ck_assert_int_eq(oauth2_url_split("https://x:0/", &h, &port, &p, &err), -1);
	ck_assert_int_eq(oauth2_url_split("https://x:99999/", &h, &port, &p, &err), -1);
	ck_assert_int_eq(oauth2_url_split("https:///t", &h, &port, &p, &err), -1);
	ck_assert_int_eq(oauth2_url_split("https://x/a b", &h, &port, &p, &err), -1);
}
END_TEST

START_TEST(test_form_escape)
{
	struct buf b = BUF_INIT;
	https_form_escape(&b, "a b&c=d/é~-._");
	ck_assert_str_eq(buf_cstr(&b), "a%20b%26c%3Dd%2F%C3%A9~-._");
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("oauth2");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_sasl_xoauth2);
	tcase_add_test(tc, test_sasl_oauthbearer);
	tcase_add_test(tc, test_token_answers);
	tcase_add_test(tc, test_device_answer);
	tcase_add_test(tc, test_pkce);
	tcase_add_test(tc, test_url_split);
	tcase_add_test(tc, test_form_escape);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for smtp/dkim: signatures of a fixed message with fixed
 * keys compared with known-good output.  The Ed25519 key and the message
 * are RFC 8463 Appendix A's, so the body hash is the RFC's; the whole
 * expected fields were checked with dkimpy (python3-dkim) against the
 * public keys, and tests/integration/test_relay.py verifies live ones. */
#include <string.h>

#include "core/buf.h"
#include "smtp/dkim.h"
#include "tests/unit/runner.h"

/* RFC 8463 A.2: seed nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=,
 * public key 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= */
static const char ED_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
	"-----END PRIVATE KEY-----\n";

/* A fixed RSA-2048 test key (made for this test only). */
static const char RSA_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCXbQwFrAfkpBZw\n"
	"GIkWqZGwcA7zcBmtLljKu713inpMlqqfzneMO5P7dIIBTduCdHnjFqQXxEWZlO8x\n"
	"mk54023cHCxiwxqNM43w+rx+n2o6irasjBLAYNf349JEoTZKJ7hjR8yQiQvLUhEf\n"
	"ivwGegN2nOhVIm0YMnFGXLxqEp8sf6UwbG8nknRP6OInUXUHiszkwwRSa+nsMMsK\n"
	"8tf45rIADaG4qaArPdzCWvshN2y2T96Lk7SdO+UNoV9jElJ2nwgw5Sj2WSLIYRdD\n"
	"YmBmai24Qq2B5h/JnoT3dJRO3jht/vevW+dk4TvagCWabhziktcGSeJ2bavyaYLU\n"
	"vnBt+PXpAgMBAAECggEANYfXOCoYoDthsz75N4m6dyUmI+j9Kru3p/O2hwvtMCYT\n"
	"K2tR18E4DyygyNU9RGDotd7LI5u+/wwnguGJ3CziKW3MQx21xTT0eLwq5ph0dT2U\n"
	"VmsuNdQGhRuEub5D8vMXvAElz/KiuL3KT9xSO/fmQYg2meIRrvwmDzm5YcYzfwcV\n"
	"ZT7A+lzaFEItbZ1PYoepzkZNikRJRvWSuEUhSjpKi3PJcIo4pEdFJc5EpPztDdxA\n"
	"ZVxflgQOWkS8JjCXcdph5Wl/qlbgzKWBY51sfBYcb1HB4jBb1+peALb+gR1CH4cO\n"
	"G9KaldgZtIbTznxAJITCFTPg7I9Lp8T1ScioU0WKAQKBgQDReqhq9MATr4tfbgBs\n"
	"BzzYakPOwN1NEWgDOmSi72Pfw6dPV+elaa12IE61xGY9ZFvkuvM1p8xItLZ77UFl\n"
	"1MJ1kKrnvkS/QrIS7YHHj5pqQXvigI9aAGzqvouLwPV1ijCRgv8yymTqV0Z/F06K\n"
	"eS1i4NIRjQKpdnaoujfq1n5vIwKBgQC5DfDajQLyeHNqJs+naWuFNV5fG/fEVSO5\n"
	"KhqnblVVAE7BARIkrFl9eNEbEouufmcWyqbOUETHJn8mKxFN18OaaDv3c/DoFHb+\n"
	"k8TWyg25gN+1Nzyg68bt5qUnDOUwieSGUXs4Zk0edLjZ5qiaiSpUvlSQ6C2SJBMP\n"
	"r8N+NhZ9gwKBgFYgKRh4cnRli1b8Ah5oR2LvJdvevd4O1wXkvzWiWRzJ84MSsEH5\n"
	"FgFoPRRMoICDP6jmGFKqH7qQ2ipPnMDCXgU6KppHRzqfsFlJ3z7uUt12+PliRA4L\n"
	"+Lv3Baa6+fCOlXNuOYBnaGBU674bFgam1bs+lf/zSvHjq9upXI4oDCmjAoGBAJiG\n"
	"ngt1CIXTs8U9ohApet67o0IfKjOfvScERh3Uee7qpv67pDmn+MbLSwbWXV0AgHWv\n"
	"qJcKX/YJi+lovAV+HpHo8ew+msSfAYlJQIeM2I0aZMjXc1hrnXY+kcdDALDmJv5y\n"
	"sG5HG69Lo4Suci+VeNeKXOdnBxCaPT/Drg0cBaODAoGACdpfudD49qkeTmMeVR4C\n"
	"xU/KJFc8DutY5Mv8+Xr8ie1mMtEPIxSsS1IgYktxWEN4tJvmknHn8eeH4LyLQpG/\n"
	"lg7UJHt77Wj3fj1aNciDEGcoGMQB5IYAT4mFtKHKnuByc+Yk676uy+QIm/cugTPn\n"
	"R9DrANcSd9DA4O5yBTMpTYA=\n"
	"-----END PRIVATE KEY-----\n";

/* RFC 8463 A.1 */
static const char MSG_HDR[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n";
static const char MSG_BODY[] =
	"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";

/* dkimpy 1.1.4 verifies both against the public keys above */
static const char EXPECTED[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	"\td=football.example.com; s=brisbane; t=1528637909; h=from:from:subject:date:\r\n"
	"\tmessage-id:to; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=3x0ouGspXD\r\n"
	"\tW0Ri+7TYSAzEOPNf+tiRf/FrPKe/g63Q7ABPO7SSAWCIP5SbtDJexl1b20cTIT0LUTYKQbS56RAw\r\n"
	"\t==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=football.example.com;\r\n"
	"\ts=test; t=1528637909; h=from:from:subject:date:message-id:to;\r\n"
	"\tbh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=B01Iy+FfBpsdSQclVLsLxkwEq\r\n"
	"\ttGn/LI8f8STwPGj6uVJVbt92l/hKJ9Td99oZ3q7c/h9FJq1v0sQ3Ef3KgTOkGrAXLkvyEGcwWrVX\r\n"
	"\ttawnha4Kf0kW2q12v1JhMiVHbg3fIKwemVazJLKSwrogtDw22BwpKu/jj5PHz113XcsMuxedKsdY\r\n"
	"\tpiinWqAccgf1eCAXuKxYYh4hjlJTkOKECRCiEWGzaJ/JkCMDTaI0PxSa/z3OLXTq49F1i53UMjc9\r\n"
	"\tUuON6FD+WUSr+XK0B1Y0dqSkWwKJxFsEgGCduwNXz6bGNfLGVP1NXlz/sSBVRy7jzFB7sr4F+7NG\r\n"
	"\ttjuDnWUA+Qo/Q==\r\n";

static void
sign(size_t step, struct buf *out)
{
	struct dkim_key keys[2] = {
		{ DKIM_ED25519, "football.example.com", "brisbane", ED_PEM },
		{ DKIM_RSA, "football.example.com", "test", RSA_PEM },
	};
	const char *error = NULL;
	struct dkim_signer *s = dkim_signer_new(MSG_HDR, strlen(MSG_HDR), 1528637909);
	size_t len = strlen(MSG_BODY);
	for (size_t i = 0; i < len; i += step)
		dkim_signer_body(s, MSG_BODY + i, len - i < step ? len - i : step);
	ck_assert_msg(dkim_signer_finish(s, keys, 2, out, &error) == 0, "%s", error);
	dkim_signer_free(&s);
	ck_assert_ptr_null(s);
}

START_TEST(test_sign_known_good)
{
	struct buf b = BUF_INIT;
	sign(1000, &b);
	/* RFC 8463 A.3's body hash */
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b),
				     "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"));
	ck_assert_msg(strcmp(buf_cstr(&b), EXPECTED) == 0, "got:\n%s", buf_cstr(&b));
	/* the body fed a byte at a time signs the same */
	struct buf c = BUF_INIT;
	sign(1, &c);
	ck_assert_str_eq(buf_cstr(&c), buf_cstr(&b));
	buf_free(&b);
	buf_free(&c);
}
END_TEST

START_TEST(test_bad_key)
{
	struct dkim_key key = { DKIM_RSA, "x.test", "s", "not a key" };
	struct buf b = BUF_INIT;
	const char *error = NULL;
	struct dkim_signer *s = dkim_signer_new(MSG_HDR, strlen(MSG_HDR), 1);
	ck_assert_int_eq(dkim_signer_finish(s, &key, 1, &b, &error), -1);
	ck_assert_ptr_nonnull(error);
	/* an Ed25519 key given as RSA fails too, without a signature */
	key.private_pem = ED_PEM;
	dkim_signer_free(&s);
	s = dkim_signer_new(MSG_HDR, strlen(MSG_HDR), 1);
	buf_reset(&b);
	ck_assert_int_eq(dkim_signer_finish(s, &key, 1, &b, &error), -1);
	ck_assert_uint_eq(b.len, 0);
	dkim_signer_free(&s);
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dkim");
	TCase *tc = tcase_create("dkim");
	tcase_add_test(tc, test_sign_known_good);
	tcase_add_test(tc, test_bad_key);
	suite_add_tcase(s, tc);
	return s;
}

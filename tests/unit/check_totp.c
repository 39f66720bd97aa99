/* Unit tests for core/totp: RFC 6238 and RFC 4226 vectors, the window and
 * single use, base32 (RFC 4648 §10), the otpauth URI, recovery codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/totp.h"
#include "tests/unit/runner.h"

/* RFC 6238 Appendix B and RFC 4226 Appendix D: the SHA-1 seed. */
static const char seed[] = "12345678901234567890";

START_TEST(test_rfc6238_sha1_vectors)
{
	/* RFC 6238 Appendix B, the SHA-1 rows (8 digits) */
	static const struct {
		int64_t time;
		int64_t step;
		uint32_t code;
	} v[] = {
		{ 59, 0x1, 94287082 },
		{ 1111111109, 0x23523EC, 7081804 },
		{ 1111111111, 0x23523ED, 14050471 },
		{ 1234567890, 0x273EF07, 89005924 },
		{ 2000000000, 0x3F940AA, 69279037 },
		{ 20000000000, 0x27BC86AA, 65353130 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int64_t t = totp_step(v[i].time);
		ck_assert_int_eq(t, v[i].step);
		ck_assert_uint_eq(totp_hotp(seed, 20, (uint64_t)t, 8), v[i].code);
		/* 6 digits are the last six of those eight */
		char code[TOTP_DIGITS + 1], want[16];
		totp_code(seed, 20, t, code);
		snprintf(want, sizeof want, "%06u", (unsigned)(v[i].code % 1000000));
		ck_assert_str_eq(code, want);
		/* and a verifier at that time accepts it, giving the step */
		int64_t step = -1;
		ck_assert(totp_check(seed, 20, v[i].time, code, 0, &step));
		ck_assert_int_eq(step, t);
	}
}
END_TEST

START_TEST(test_rfc4226_hotp_vectors)
{
	static const uint32_t want[] = {
		755224, 287082, 359152, 969429, 338314,
		254676, 287922, 162583, 399871, 520489,
	};
	for (uint64_t c = 0; c < 10; c++)
		ck_assert_uint_eq(totp_hotp(seed, 20, c, 6), want[c]);
}
END_TEST

START_TEST(test_window_and_single_use)
{
	const int64_t now = 1111111111;	/* step 0x23523ED */
	const int64_t t = totp_step(now);
	char prev[7], cur[7], next[7], far[7];
	int64_t step;
	totp_code(seed, 20, t - 1, prev);
	totp_code(seed, 20, t, cur);
	totp_code(seed, 20, t + 1, next);
	totp_code(seed, 20, t + 2, far);
	/* one step either side is accepted, two are not */
	ck_assert(totp_check(seed, 20, now, prev, 0, &step));
	ck_assert_int_eq(step, t - 1);
	ck_assert(totp_check(seed, 20, now, next, 0, &step));
	ck_assert_int_eq(step, t + 1);
	ck_assert(!totp_check(seed, 20, now, far, 0, &step));
	totp_code(seed, 20, t - 2, far);
	ck_assert(!totp_check(seed, 20, now, far, 0, &step));
	/* once step t was used, its code and older ones are refused */
	ck_assert(!totp_check(seed, 20, now, cur, t, &step));
	ck_assert(!totp_check(seed, 20, now, prev, t, &step));
	ck_assert(totp_check(seed, 20, now, next, t, &step));
	ck_assert_int_eq(step, t + 1);
	/* the time a step lasts: its first and last second */
	ck_assert(totp_check(seed, 20, t * TOTP_PERIOD, cur, 0, &step));
	ck_assert(totp_check(seed, 20, t * TOTP_PERIOD + TOTP_PERIOD - 1, cur, 0, &step));
	/* a wrong key, a short code, no key */
	ck_assert(!totp_check("12345678901234567891", 20, now, cur, 0, &step));
	ck_assert(!totp_check(seed, 20, now, "12345", 0, &step));
	ck_assert(!totp_check(seed, 0, now, cur, 0, &step));
}
END_TEST

START_TEST(test_code_normalize)
{
	char out[TOTP_DIGITS + 1];
	ck_assert(totp_code_normalize("123456", out));
	ck_assert_str_eq(out, "123456");
	ck_assert(totp_code_normalize(" 123 456 ", out));
	ck_assert_str_eq(out, "123456");
	ck_assert(totp_code_normalize("012345", out));
	ck_assert_str_eq(out, "012345");
	ck_assert(!totp_code_normalize("12345", out));
	ck_assert(!totp_code_normalize("1234567", out));
	ck_assert(!totp_code_normalize("12345a", out));
	ck_assert(!totp_code_normalize("", out));
	ck_assert(!totp_code_normalize("123-456", out));
	char spaces[100];
	memset(spaces, ' ', sizeof spaces - 7);
	memcpy(spaces + sizeof spaces - 7, "123456", 7);
	ck_assert(!totp_code_normalize(spaces, out));	/* over the typed limit */
}
END_TEST

START_TEST(test_base32_vectors)
{
	/* RFC 4648 §10 (without the padding, as otpauth URIs carry it) */
	static const struct {
		const char *plain, *coded;
	} v[] = {
		{ "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" }, { "foobar", "MZXW6YTBOI" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char out[32];
		unsigned char back[16];
		size_t len = 99;
		size_t n = strlen(v[i].plain);
		ck_assert_uint_eq(base32_encode(v[i].plain, n, out), strlen(v[i].coded));
		ck_assert_str_eq(out, v[i].coded);
		ck_assert_int_eq(base32_decode(v[i].coded, back, sizeof back, &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert(memcmp(back, v[i].plain, n) == 0);
	}
	unsigned char back[16];
	size_t len;
	/* padding, lower case and spaces as people copy them */
	ck_assert_int_eq(base32_decode("mzxw 6ytb oi======", back, sizeof back, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert(memcmp(back, "foobar", 6) == 0);
	/* outside the alphabet, non-zero leftover bits, a stray letter, too long */
	ck_assert_int_eq(base32_decode("MZXW1", back, sizeof back, &len), -1);
	ck_assert_int_eq(base32_decode("MZ", back, sizeof back, &len), -1);
	ck_assert_int_eq(base32_decode("MYA", back, sizeof back, &len), -1);
	ck_assert_int_eq(base32_decode("MZXW6YTBOI", back, 5, &len), -1);
	ck_assert_int_eq(base32_decode("MZ=XW", back, sizeof back, &len), -1);
}
END_TEST

START_TEST(test_uri_and_secret)
{
	char secret[TOTP_SECRET_B32_LEN + 1], other[TOTP_SECRET_B32_LEN + 1];
	unsigned char raw[TOTP_SECRET_BYTES + 1];
	size_t len;
	totp_secret_new(secret);
	totp_secret_new(other);
	ck_assert_uint_eq(strlen(secret), TOTP_SECRET_B32_LEN);
	ck_assert_str_ne(secret, other);
	ck_assert_int_eq(base32_decode(secret, raw, sizeof raw, &len), 0);
	ck_assert_uint_eq(len, TOTP_SECRET_BYTES);

	char *uri = totp_uri("mail.example.org", "alice+x@example.org", "JBSWY3DPEHPK3PXP");
	ck_assert_str_eq(uri, "otpauth://totp/mail.example.org:alice%2Bx%40example.org"
		"?secret=JBSWY3DPEHPK3PXP&issuer=mail.example.org&algorithm=SHA1&digits=6&period=30");
	free(uri);
	uri = totp_uri("a b&c", "x?y", "AA");
	ck_assert_str_eq(uri, "otpauth://totp/a%20b%26c:x%3Fy?secret=AA&issuer=a%20b%26c"
		"&algorithm=SHA1&digits=6&period=30");
	free(uri);
}
END_TEST

START_TEST(test_recovery_codes)
{
	char a[TOTP_RECOVERY_TEXT_LEN + 1], b[TOTP_RECOVERY_TEXT_LEN + 1];
	char n[TOTP_RECOVERY_CHARS + 1], m[TOTP_RECOVERY_CHARS + 1];
	totp_recovery_new(a);
	totp_recovery_new(b);
	ck_assert_uint_eq(strlen(a), TOTP_RECOVERY_TEXT_LEN);
	ck_assert_str_ne(a, b);
	ck_assert(a[4] == '-' && a[9] == '-' && a[14] == '-');
	ck_assert(totp_recovery_normalize(a, n));
	ck_assert_uint_eq(strlen(n), TOTP_RECOVERY_CHARS);
	ck_assert(strchr(n, '-') == NULL);
	/* upper case and other grouping are the same code */
	char typed[64];
	size_t o = 0;
	for (size_t i = 0; a[i] != '\0'; i++)
		if (a[i] != '-') {
			typed[o++] = (char)(a[i] >= 'a' && a[i] <= 'z' ? a[i] - 32 : a[i]);
			if (o % 3 == 0)
				typed[o++] = ' ';
		}
	typed[o] = '\0';
	ck_assert(totp_recovery_normalize(typed, m));
	ck_assert_str_eq(m, n);
	ck_assert(!totp_recovery_normalize("abcd-efgh-ijkl-mno", m));
	ck_assert(!totp_recovery_normalize("abcd-efgh-ijkl-mnopq", m));
	ck_assert(!totp_recovery_normalize("abcd-efgh-ijkl-mn0p", m));	/* 0 is not base32 */
	ck_assert(!totp_recovery_normalize("123456", m));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("totp");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rfc6238_sha1_vectors);
	tcase_add_test(tc, test_rfc4226_hotp_vectors);
	tcase_add_test(tc, test_window_and_single_use);
	tcase_add_test(tc, test_code_normalize);
	tcase_add_test(tc, test_base32_vectors);
	tcase_add_test(tc, test_uri_and_secret);
	tcase_add_test(tc, test_recovery_codes);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for core/base64: RFC 4648 §10 vectors, strict and lenient. */
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "tests/unit/runner.h"

/* RFC 4648 §10 */
static const struct {
	const char *plain, *coded;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

#define N_VECTORS (sizeof vectors / sizeof vectors[0])

static int
decode(const char *text, bool lenient, struct buf *out)
{
	buf_reset(out);
	return base64_decode(out, text, strlen(text), lenient);
}

START_TEST(test_encode_vectors)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < N_VECTORS; i++) {
		buf_reset(&b);
		ck_assert_int_eq(base64_encode(&b, vectors[i].plain, strlen(vectors[i].plain)), 0);
		ck_assert_str_eq(buf_cstr(&b), vectors[i].coded);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_decode_vectors)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < N_VECTORS; i++) {
		for (int lenient = 0; lenient <= 1; lenient++) {
			ck_assert_int_eq(decode(vectors[i].coded, lenient, &b), 0);
			ck_assert_uint_eq(b.len, strlen(vectors[i].plain));
			ck_assert_str_eq(buf_cstr(&b), vectors[i].plain);
		}
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_binary_round_trip)
{
	unsigned char all[256];
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= sizeof all; n++) {
		buf_reset(&enc);
		buf_reset(&dec);
		ck_assert_int_eq(base64_encode(&enc, all, n), 0);
		ck_assert_uint_eq(enc.len, (n + 2) / 3 * 4);
		ck_assert_int_eq(base64_decode(&dec, enc.data ? enc.data : "", enc.len, false), 0);
		ck_assert_uint_eq(dec.len, n);
		ck_assert_int_eq(memcmp(dec.data ? dec.data : "", all, n), 0);
	}
	buf_free(&enc);
	buf_free(&dec);
	/* the full alphabet, both ends */
	struct buf b = BUF_INIT;
	ck_assert_int_eq(decode("+/+/", false, &b), 0);
	ck_assert_int_eq(memcmp(b.data, "\xfb\xff\xbf", 3), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_strict_refuses)
{
	static const char *const bad[] = {
		"Zg=",		/* short padding */
		"Zg",		/* no padding */
		"Z",		/* one digit */
		"Zm9v\r\n",	/* line break */
		"Zm 9v",	/* space */
		"Zm9v=",	/* padding after a full group */
		"Zg==Zg==",	/* data after padding */
		"Z===",		/* too much padding */
		"====",
		"Zh==",		/* non-zero pad bits (RFC 4648 §3.5) */
		"Zm9=",		/* non-zero pad bits */
		"Zm9v!A==",	/* outside the alphabet */
		"Zm-_",		/* base64url is another alphabet */
	};
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(decode(bad[i], false, &b) == -1, "accepted '%s'", bad[i]);
	/* a NUL inside the counted text is not base64 */
	buf_reset(&b);
	ck_assert_int_eq(base64_decode(&b, "Zm\0v", 4, false), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_lenient)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(decode("Zm9v\r\nYmFy\r\n", true, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "foobar");
	ck_assert_int_eq(decode(" Zm 9v\tYg = =\r\n", true, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "foob");
	/* an unpadded tail, as real mail has it */
	ck_assert_int_eq(decode("Zm9vYg", true, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "foob");
	ck_assert_int_eq(decode("Zm9vYmE", true, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "fooba");
	/* still refused: garbage, one lone digit, data after padding */
	ck_assert_int_eq(decode("Zm9v*", true, &b), -1);
	ck_assert_int_eq(decode("Zm9vY", true, &b), -1);
	ck_assert_int_eq(decode("Zg==Zg==", true, &b), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_limits_leave_buffer)
{
	struct buf b;
	buf_init(&b, 5);
	ck_assert_int_eq(buf_puts(&b, "ab"), 0);
	/* "foob" does not fit after "ab": refused, "ab" kept */
	ck_assert_int_eq(base64_decode(&b, "Zm9vYg==", 8, false), -1);
	ck_assert_str_eq(buf_cstr(&b), "ab");
	/* a malformed tail leaves nothing behind either */
	ck_assert_int_eq(base64_decode(&b, "Zm9vZ", 5, false), -1);
	ck_assert_str_eq(buf_cstr(&b), "ab");
	ck_assert_int_eq(base64_decode(&b, "Zm8=", 4, false), 0);
	ck_assert_str_eq(buf_cstr(&b), "abfo");
	/* encoding past the maximum is refused too */
	struct buf e;
	buf_init(&e, 7);
	ck_assert_int_eq(base64_encode(&e, "foobar", 6), -1);
	ck_assert_uint_eq(e.len, 0);
	ck_assert_int_eq(base64_encode(&e, "foo", 3), 0);
	ck_assert_str_eq(buf_cstr(&e), "Zm9v");
	buf_free(&b);
	buf_free(&e);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_encode_vectors);
	tcase_add_test(tc, test_decode_vectors);
	tcase_add_test(tc, test_binary_round_trip);
	tcase_add_test(tc, test_strict_refuses);
	tcase_add_test(tc, test_lenient);
	tcase_add_test(tc, test_limits_leave_buffer);
	suite_add_tcase(s, tc);
	return s;
}

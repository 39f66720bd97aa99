/* Unit tests for core/hash: SHA-256 (FIPS 180-2 vectors), hex, randomness. */
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "tests/unit/runner.h"

START_TEST(test_sha256_vectors)
{
	char out[SHA256_HEX_LEN + 1];
	sha256_hex("", 0, out);
	ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, out);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), out);
	ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* bytes, not a C string */
	sha256_hex("\0", 1, out);
	ck_assert_str_eq(out, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}
END_TEST

START_TEST(test_sha256_million_a_incremental)
{
	/* FIPS 180-2 appendix B.3: one million 'a', fed in uneven pieces */
	char chunk[1000];
	char out[SHA256_HEX_LEN + 1];
	memset(chunk, 'a', sizeof chunk);
	struct sha256_ctx *ctx = sha256_new();
	size_t done = 0, step = 1;
	while (done < 1000000) {
		size_t n = step < 1000000 - done ? step : 1000000 - done;
		if (n > sizeof chunk)
			n = sizeof chunk;
		sha256_update(ctx, chunk, n);
		done += n;
		step = step * 7 % 997 + 1;
	}
	sha256_update(ctx, chunk, 0);
	sha256_finish_hex(&ctx, out);
	ck_assert_ptr_null(ctx);
	ck_assert_str_eq(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_incremental_equals_oneshot)
{
	unsigned char data[777];
	char one[SHA256_HEX_LEN + 1], inc[SHA256_HEX_LEN + 1];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	sha256_hex(data, sizeof data, one);
	for (size_t split = 0; split <= sizeof data; split += 37) {
		struct sha256_ctx *ctx = sha256_new();
		sha256_update(ctx, data, split);
		sha256_update(ctx, data + split, sizeof data - split);
		sha256_finish_hex(&ctx, inc);
		ck_assert_str_eq(inc, one);
	}
	/* byte at a time */
	struct sha256_ctx *ctx = sha256_new();
	for (size_t i = 0; i < sizeof data; i++)
		sha256_update(ctx, data + i, 1);
	sha256_finish_hex(&ctx, inc);
	ck_assert_str_eq(inc, one);
	ck_assert(is_lower_hex(one, SHA256_HEX_LEN));
}
END_TEST

START_TEST(test_hex)
{
	char out[16];
	hex_encode("\x00\x01\xab\xff\x7f", 5, out);
	ck_assert_str_eq(out, "0001abff7f");
	hex_encode("", 0, out);
	ck_assert_str_eq(out, "");
	ck_assert(is_lower_hex("0123456789abcdef", 16));
	ck_assert(!is_lower_hex("0123456789ABCDEF", 16));
	ck_assert(!is_lower_hex("abcg", 4));
	/* exactly n digits: longer and shorter strings are refused */
	ck_assert(!is_lower_hex("abcd", 3));
	ck_assert(!is_lower_hex("abc", 4));
	ck_assert(is_lower_hex("", 0));
}
END_TEST

START_TEST(test_random_and_ct)
{
	unsigned char a[32], b[32], zero[32] = { 0 };
	random_bytes(a, sizeof a);
	random_bytes(b, sizeof b);
	/* 2^-256 chance of a false failure */
	ck_assert(!mem_equal_ct(a, b, sizeof a));
	ck_assert(!mem_equal_ct(a, zero, sizeof a));
	memcpy(b, a, sizeof a);
	ck_assert(mem_equal_ct(a, b, sizeof a));
	b[31] ^= 1;
	ck_assert(!mem_equal_ct(a, b, sizeof a));
	ck_assert(mem_equal_ct(a, b, 31));
	ck_assert(mem_equal_ct(a, b, 0));
	random_bytes(a, 0);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_sha256_vectors);
	tcase_add_test(tc, test_sha256_million_a_incremental);
	tcase_add_test(tc, test_incremental_equals_oneshot);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_random_and_ct);
	suite_add_tcase(s, tc);
	return s;
}

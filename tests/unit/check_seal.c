/* Unit tests for core/seal: AES-256-GCM sealing under data_dir/secret.key. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/seal.h"
#include "tests/unit/runner.h"

static char *
key_file(const char *dir)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, SEAL_KEY_FILE), 0);
	return p;
}

/* A fresh data_dir with a key, loaded. */
static char *
fresh_keyed_dir(void)
{
	const char *err = NULL;
	char *dir = test_tmpdir();
	ck_assert_msg(seal_key_create(dir, &err) == 0, "%s", err);
	ck_assert_msg(seal_key_load(dir, &err) == 0, "%s", err);
	return dir;
}

START_TEST(test_round_trip)
{
	char *dir = fresh_keyed_dir();
	const char *err;
	char *sealed = NULL, *plain = NULL;
	size_t len = 99;

	ck_assert_int_eq(seal("hunter2", 7, &sealed, &err), 0);
	ck_assert_msg(strncmp(sealed, "v1:", 3) == 0, "%s", sealed);
	ck_assert_ptr_null(strstr(sealed, "hunter2"));
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), 0);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(plain, "hunter2");
	free(plain);
	/* 12 + 7 + 16 = 35 bytes -> 48 base64 characters */
	ck_assert_uint_eq(strlen(sealed), 3 + 48);
	/* sealing twice gives two values (a new nonce each time) */
	char *again = NULL;
	ck_assert_int_eq(seal("hunter2", 7, &again, &err), 0);
	ck_assert_str_ne(sealed, again);
	free(again);
	free(sealed);

	/* binary with NULs, and the empty value */
	ck_assert_int_eq(seal("a\0b", 3, &sealed, &err), 0);
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(plain, "a\0b", 4), 0);
	free(plain);
	free(sealed);
	ck_assert_int_eq(seal("", 0, &sealed, &err), 0);
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(plain, "");
	free(plain);
	free(sealed);
	/* the size limit */
	char *big = calloc(1, SEAL_PLAINTEXT_MAX + 1);
	ck_assert_int_eq(seal(big, SEAL_PLAINTEXT_MAX + 1, &sealed, &err), -1);
	ck_assert_int_eq(seal(big, SEAL_PLAINTEXT_MAX, &sealed, &err), 0);
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), 0);
	ck_assert_uint_eq(len, SEAL_PLAINTEXT_MAX);
	free(plain);
	free(sealed);
	free(big);
	free(dir);
}
END_TEST

START_TEST(test_tamper)
{
	char *dir = fresh_keyed_dir();
	const char *err;
	char *sealed = NULL, *plain = NULL;
	size_t len;

	ck_assert_int_eq(seal("the upstream password", 21, &sealed, &err), 0);
	/* flip each bit of the raw value in turn (nonce, ciphertext, tag) */
	struct buf raw = BUF_INIT;
	ck_assert_int_eq(base64_decode(&raw, sealed + 3, strlen(sealed + 3), false), 0);
	for (size_t i = 0; i < raw.len * 8; i++) {
		raw.data[i / 8] ^= (char)(1 << (i % 8));
		struct buf txt = BUF_INIT;
		buf_puts(&txt, "v1:");
		base64_encode(&txt, raw.data, raw.len);
		plain = NULL;
		ck_assert_msg(unseal(buf_cstr(&txt), &plain, &len, &err) == -1, "bit %zu", i);
		ck_assert_ptr_null(plain);
		buf_free(&txt);
		raw.data[i / 8] ^= (char)(1 << (i % 8));
	}
	/* cut short, or extended */
	struct buf txt = BUF_INIT;
	buf_puts(&txt, "v1:");
	base64_encode(&txt, raw.data, raw.len - 1);
	ck_assert_int_eq(unseal(buf_cstr(&txt), &plain, &len, &err), -1);
	buf_reset(&txt);
	buf_puts(&txt, "v1:");
	base64_encode(&txt, raw.data, 27);
	ck_assert_int_eq(unseal(buf_cstr(&txt), &plain, &len, &err), -1);
	ck_assert_str_eq(err, "sealed value too short");
	buf_free(&txt);
	buf_free(&raw);
	/* not sealed values at all */
	ck_assert_int_eq(unseal("hunter2", &plain, &len, &err), -1);
	ck_assert_int_eq(unseal("v2:AAAA", &plain, &len, &err), -1);
	ck_assert_int_eq(unseal("v1:!!!!", &plain, &len, &err), -1);
	ck_assert_int_eq(unseal("v1:", &plain, &len, &err), -1);
	/* the original still opens */
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), 0);
	free(plain);
	free(sealed);
	free(dir);
}
END_TEST

START_TEST(test_wrong_key)
{
	char *a = fresh_keyed_dir();
	const char *err;
	char *sealed = NULL, *plain = NULL;
	size_t len;

	ck_assert_int_eq(seal("secret", 6, &sealed, &err), 0);
	char *b = fresh_keyed_dir();
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "wrong secret.key"));
	/* back to the right key */
	ck_assert_int_eq(seal_key_load(a, &err), 0);
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), 0);
	ck_assert_str_eq(plain, "secret");
	free(plain);
	/* no key at all */
	seal_key_forget();
	ck_assert_int_eq(unseal(sealed, &plain, &len, &err), -1);
	ck_assert_str_eq(err, "no sealing key loaded");
	ck_assert_int_eq(seal("x", 1, &plain, &err), -1);
	free(sealed);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_key_file)
{
	char *dir = test_tmpdir();
	char *path = key_file(dir);
	const char *err;
	struct stat st;

	/* missing */
	ck_assert_int_eq(seal_key_load(dir, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	/* created 0600, 32 bytes, even under a permissive umask */
	mode_t old = umask(0);
	ck_assert_int_eq(seal_key_create(dir, &err), 0);
	umask(old);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 32);
	/* creating again keeps the key */
	unsigned char k1[32], k2[32];
	FILE *f = fopen(path, "rb");
	ck_assert_uint_eq(fread(k1, 1, 32, f), 32);
	fclose(f);
	ck_assert_int_eq(seal_key_create(dir, &err), 0);
	f = fopen(path, "rb");
	ck_assert_uint_eq(fread(k2, 1, 32, f), 32);
	fclose(f);
	ck_assert_int_eq(memcmp(k1, k2, 32), 0);
	ck_assert_int_eq(seal_key_load(dir, &err), 0);
	/* readable by group or others: refused */
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(seal_key_load(dir, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "0640"));
	ck_assert_int_eq(chmod(path, 0604), 0);
	ck_assert_int_eq(seal_key_load(dir, &err), -1);
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(seal_key_load(dir, &err), 0);
	ck_assert_int_eq(chmod(path, 0600), 0);
	/* the wrong size */
	f = fopen(path, "ab");
	fputc('x', f);
	fclose(f);
	ck_assert_int_eq(seal_key_load(dir, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "33 bytes"));
	ck_assert_int_eq(truncate(path, 16), 0);
	ck_assert_int_eq(seal_key_load(dir, &err), -1);
	/* a symlink is not followed */
	ck_assert_int_eq(unlink(path), 0);
	char *other = test_tmpdir();
	char *target = key_file(other);
	ck_assert_int_eq(seal_key_create(other, &err), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(seal_key_load(dir, &err), -1);
	/* a data_dir that does not exist */
	ck_assert_int_eq(seal_key_create("/nonexistent-mailhub-dir", &err), -1);
	free(target);
	free(other);
	free(path);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_tamper);
	tcase_add_test(tc, test_wrong_key);
	tcase_add_test(tc, test_key_file);
	suite_add_tcase(s, tc);
	return s;
}

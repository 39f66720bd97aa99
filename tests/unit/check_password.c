/* Unit tests for core/password: yescrypt hashes in Dovecot's form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/password.h"
#include "tests/unit/runner.h"

START_TEST(test_hash_verify_round_trip)
{
	char *h = NULL;
	const char *err;
	ck_assert_int_eq(password_hash("correct horse battery staple", &h, &err), 0);
	ck_assert_msg(strncmp(h, "{CRYPT}$y$", 10) == 0, "hash %s", h);
	ck_assert(password_verify("correct horse battery staple", h));
	ck_assert(!password_verify("correct horse battery stapler", h));
	ck_assert(!password_verify("Correct horse battery staple", h));
	ck_assert(!password_verify("", h));
	/* the same password twice gets two salts */
	char *h2 = NULL;
	ck_assert_int_eq(password_hash("correct horse battery staple", &h2, &err), 0);
	ck_assert_str_ne(h, h2);
	ck_assert(password_verify("correct horse battery staple", h2));
	free(h);
	free(h2);
}
END_TEST

START_TEST(test_prefix_optional)
{
	char *h = NULL;
	const char *err;
	ck_assert_int_eq(password_hash("s3cret!", &h, &err), 0);
	const char *bare = h + strlen(PASSWORD_SCHEME_PREFIX);
	ck_assert(password_verify("s3cret!", bare));
	ck_assert(!password_verify("s3cret", bare));
	/* scheme names are case-insensitive in Dovecot */
	char *lower = strdup(h);
	memcpy(lower, "{crypt}", 7);
	ck_assert(password_verify("s3cret!", lower));
	/* an unknown scheme is never a match */
	char *other = strdup(h);
	memcpy(other, "{PLAIN}", 7);
	ck_assert(!password_verify("s3cret!", other));
	free(lower);
	free(other);
	free(h);
}
END_TEST

START_TEST(test_known_sha512_crypt)
{
	/* what Dovecot's SHA512-CRYPT scheme stores; the vector is from Ulrich
	 * Drepper's SHA-crypt specification (salt "saltstring") */
	const char *h = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJu"
			"esI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
	ck_assert(password_verify("Hello world!", h));
	ck_assert(!password_verify("Hello world", h));
	char pre[256];
	snprintf(pre, sizeof pre, "{SHA512-CRYPT}%s", h);
	ck_assert(password_verify("Hello world!", pre));
	snprintf(pre, sizeof pre, "{CRYPT}%s", h);
	ck_assert(password_verify("Hello world!", pre));
	snprintf(pre, sizeof pre, "{MD5-CRYPT}%s", h);
	/* the prefix names a family; libcrypt goes by the hash itself */
	ck_assert(password_verify("Hello world!", pre));
}
END_TEST

START_TEST(test_known_bcrypt)
{
	/* OpenBSD's bcrypt test vector, as $2b$ */
	const char *h = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	ck_assert(password_verify("U*U", h));
	ck_assert(!password_verify("U*V", h));
}
END_TEST

START_TEST(test_refused)
{
	char *h = NULL;
	const char *err = NULL;
	ck_assert_int_eq(password_hash("", &h, &err), -1);
	ck_assert_str_eq(err, "the password is empty");
	ck_assert_ptr_null(h);
	ck_assert_int_eq(password_hash("a\nb", &h, &err), -1);
	ck_assert_int_eq(password_hash("a\rb", &h, &err), -1);
	char *big = malloc(PASSWORD_MAX + 2);
	memset(big, 'x', PASSWORD_MAX + 1);
	big[PASSWORD_MAX + 1] = '\0';
	ck_assert_int_eq(password_hash(big, &h, &err), -1);
	big[PASSWORD_MAX] = '\0';
	ck_assert_int_eq(password_acceptable(big, PASSWORD_MAX, &err), 0);
	free(big);
	/* a NUL inside a counted password (from SASL or JSON) */
	ck_assert_int_eq(password_acceptable("ab\0cd", 5, &err), -1);
	ck_assert_int_eq(password_acceptable("abcd", 4, &err), 0);
	ck_assert_int_eq(password_acceptable("", 0, &err), -1);
}
END_TEST

START_TEST(test_verify_refuses_garbage)
{
	ck_assert(!password_verify("x", ""));
	ck_assert(!password_verify("x", "{CRYPT}"));
	ck_assert(!password_verify("x", "!"));
	ck_assert(!password_verify("x", "*"));
	ck_assert(!password_verify("x", "{CRYPT}!$y$j9T$abc"));
	ck_assert(!password_verify("x", "$y$"));
	ck_assert(!password_verify("x", "$9$unknown$scheme"));
	ck_assert(!password_verify(NULL, "$y$"));
	ck_assert(!password_verify("x", NULL));
	/* a truncated real hash */
	char *h = NULL;
	const char *err;
	ck_assert_int_eq(password_hash("x", &h, &err), 0);
	h[strlen(h) - 1] = '\0';
	ck_assert(!password_verify("x", h));
	free(h);
	password_verify_dummy("anything");
}
END_TEST

START_TEST(test_generate)
{
	int counts[256] = { 0 };
	char *prev = NULL;
	for (int i = 0; i < 200; i++) {
		char *p = password_generate();
		ck_assert_uint_eq(strlen(p), PASSWORD_GENERATE_LEN);
		for (size_t j = 0; p[j] != '\0'; j++) {
			unsigned char c = (unsigned char)p[j];
			ck_assert_msg(strchr("0O1lI", c) == NULL, "ambiguous %c", c);
			ck_assert((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '2' && c <= '9'));
			counts[c]++;
		}
		if (prev != NULL)
			ck_assert_str_ne(p, prev);
		free(prev);
		prev = p;
	}
	const char *err;
	ck_assert_int_eq(password_acceptable(prev, strlen(prev), &err), 0);
	free(prev);
	/* 4000 characters over 56 symbols: each about 71 times; a symbol never
	 * drawn, or drawn 3x too often, means a broken generator */
	int used = 0;
	for (int c = 0; c < 256; c++) {
		if (counts[c] > 0)
			used++;
		ck_assert_int_lt(counts[c], 214);
	}
	ck_assert_int_eq(used, 56);
}
END_TEST

START_TEST(test_app_passwords)
{
	char out[PASSWORD_APP_LEN + 1];
	int counts[26] = { 0 };
	for (int i = 0; i < 200; i++) {
		char *p = password_app_generate();
		ck_assert_uint_eq(strlen(p), PASSWORD_APP_LEN);
		for (int k = 0; k < PASSWORD_APP_LEN; k++) {
			if (k % 5 == 4) {
				ck_assert_int_eq(p[k], '-');
			} else {
				ck_assert(p[k] >= 'a' && p[k] <= 'z');
				counts[p[k] - 'a']++;
			}
		}
		/* the shown form is the canonical one */
		ck_assert(password_app_canonical(p, out));
		ck_assert_str_eq(out, p);
		free(p);
	}
	/* 3200 letters: each of the 26 turns up */
	for (int c = 0; c < 26; c++)
		ck_assert_int_gt(counts[c], 40);
	/* as a person may type it */
	ck_assert(password_app_canonical("ABCD EFGH ijkl-mnop", out));
	ck_assert_str_eq(out, "abcd-efgh-ijkl-mnop");
	ck_assert(password_app_canonical("abcdefghijklmnop", out));
	ck_assert_str_eq(out, "abcd-efgh-ijkl-mnop");
	/* anything else is not an app password */
	static const char *const no[] = {
		"", "abcd-efgh-ijkl-mno", "abcd-efgh-ijkl-mnopq", "abcd-efgh-ijkl-mn0p",
		"abcd_efgh_ijkl_mnop", "a correct horse battery staple",
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!password_app_canonical(no[i], out), "took %s", no[i]);
}
END_TEST

START_TEST(test_strength)
{
	const char *err = NULL;
	static const char *const weak[] = {
		"", "short", "123456789", "1234567890", "QWERTYUIOP", "Password123",
		"aaaaaaaaaaaa", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x", /* 6 characters, 11 bytes */
		"jonathan.smith", "JONATHAN.SMITH", "jonathan.smith@example.org", "a\nlong password",
	};
	for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
		err = NULL;
		ck_assert_msg(password_strong_enough(weak[i], "jonathan.smith@example.org", &err) < 0,
			      "%s", weak[i]);
		ck_assert_ptr_nonnull(err);
	}
	ck_assert_int_lt(password_strong_enough("Password123", NULL, &err), 0);
	ck_assert_str_eq(err, PASSWORD_RULE);
	static const char *const fine[] = {
		"correct horse", "\xc3\xa9t\xc3\xa9 chaud!", "jonathan.smith1", "aaaaaaaaab",
		"Corr3ct-horse-battery-7781",
	};
	for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
		ck_assert_msg(password_strong_enough(fine[i], "jonathan.smith@example.org", &err) == 0,
			      "%s: %s", fine[i], err);
	/* the local part only counts as a whole, and without an address
	 * nothing is compared */
	ck_assert_int_eq(password_strong_enough("jonathan.smith", NULL, &err), 0);
	ck_assert_int_eq(password_strong_enough("postmaster-of-it", "postmaster@example.org", &err), 0);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("password");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hash_verify_round_trip);
	tcase_add_test(tc, test_prefix_optional);
	tcase_add_test(tc, test_known_sha512_crypt);
	tcase_add_test(tc, test_known_bcrypt);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_verify_refuses_garbage);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_app_passwords);
	tcase_add_test(tc, test_strength);
	suite_add_tcase(s, tc);
	return s;
}

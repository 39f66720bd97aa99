/* Unit tests for smtp/srs: test vectors of libsrs2's algorithm (the
 * SRS1 one checked against postsrsd 1.10, the SRS0 ones against the same
 * algorithm written independently), round trips, age and hash checks. */
#include <string.h>

#include "core/buf.h"
#include "smtp/srs.h"
#include "tests/unit/runner.h"

/* 2026-01-01T00:00:00Z: day 20454, timestamp "7G" */
#define NOW ((time_t)1767225600)
#define DAY ((time_t)86400)

static const char *const one_secret[] = { "tops3cret" };
static const struct srs_key key = { one_secret, 1 };

static void
expect_forward(const char *sender, const char *domain, int want, const char *want_out)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(srs_forward(&key, sender, domain, NOW, &b), want);
	ck_assert_str_eq(buf_cstr(&b), want_out);
	buf_free(&b);
}

START_TEST(test_vectors)
{
	expect_forward("alice@remote.example", "example.org", 1,
		       "SRS0=lyf6=7G=remote.example=alice@example.org");
	expect_forward("Bob.Smith@Example.COM", "example.org", 1,
		       "SRS0=gNeR=7G=Example.COM=Bob.Smith@example.org");
	/* another forwarder's SRS0 is wrapped (postsrsd gives the same) */
	expect_forward("SRS0=abcd=XY=orig.example=carol@fwd.example", "example.org", 1,
		       "SRS1=OArh=fwd.example==abcd=XY=orig.example=carol@example.org");
	expect_forward("SRS1=wxyz=orig.example==abcd=XY=d.example=u@fwd2.example",
		       "example.org", 1,
		       "SRS1=te9+=orig.example==abcd=XY=d.example=u@example.org");
	/* nothing to do: null sender, our own domain (any case), no '@' */
	expect_forward("", "example.org", 0, "");
	expect_forward("alice@EXAMPLE.org", "example.org", 0, "");
	expect_forward("postmaster", "example.org", 0, "");
}
END_TEST

START_TEST(test_round_trip_and_age)
{
	struct buf f = BUF_INIT, r = BUF_INIT;
	const char *error;
	ck_assert_int_eq(srs_forward(&key, "Alice@Remote.Example", "example.org", NOW, &f), 1);
	for (time_t age = 0; age <= SRS_MAX_AGE_DAYS; age++) {
		buf_reset(&r);
		ck_assert_int_eq(srs_reverse(&key, buf_cstr(&f), NOW + age * DAY, &r, &error), 1);
		ck_assert_str_eq(buf_cstr(&r), "Alice@Remote.Example");
	}
	buf_reset(&r);
	ck_assert_int_eq(srs_reverse(&key, buf_cstr(&f), NOW + (SRS_MAX_AGE_DAYS + 1) * DAY,
				     &r, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "old"));
	/* an MTA that lowercased the whole address: still good */
	char *lower = strdup(buf_cstr(&f));
	for (char *p = lower; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	buf_reset(&r);
	ck_assert_int_eq(srs_reverse(&key, lower, NOW, &r, &error), 1);
	ck_assert_str_eq(buf_cstr(&r), "alice@remote.example");
	free(lower);
	/* every day of the 1024-day cycle works, across its wrap */
	for (time_t d = 0; d < 1100; d += 7) {
		buf_reset(&f);
		buf_reset(&r);
		ck_assert_int_eq(srs_forward(&key, "x@y.example", "example.org", d * DAY, &f), 1);
		ck_assert_int_eq(srs_reverse(&key, buf_cstr(&f), d * DAY + 3 * DAY, &r, &error), 1);
		ck_assert_str_eq(buf_cstr(&r), "x@y.example");
	}
	buf_free(&f);
	buf_free(&r);
}
END_TEST

START_TEST(test_reverse_refusals)
{
	struct buf r = BUF_INIT;
	const char *error;
	/* not SRS at all */
	ck_assert_int_eq(srs_reverse(&key, "alice@example.org", NOW, &r, &error), 0);
	ck_assert_int_eq(srs_reverse(&key, "srs0x@example.org", NOW, &r, &error), 0);
	static const char *const bad[] = {
		"SRS0=lyf7=7G=remote.example=alice@example.org",	/* hash */
		"SRS0=lyf6=7H=remote.example=alice@example.org",	/* stamp changed */
		"SRS0=lyf6=7G=remote.example=alicf@example.org",	/* user changed */
		"SRS0=lyf6=7G=remote.exampl=alice@example.org",	/* host changed */
		"SRS0=lyf=7G=remote.example=alice@example.org",	/* hash too short */
		"SRS0=lyf6=7G=remote.example=@example.org",
		"SRS0=lyf6=7G==alice@example.org",
		"SRS0=lyf6=7G@example.org",
		"SRS0=lyf6@example.org",
		"SRS0=@example.org",
		"SRS0==7G=remote.example=alice@example.org",
		"SRS0=lyf6=7!=remote.example=alice@example.org",	/* stamp */
		"SRS0=lyf6=7GG=remote.example=alice@example.org",
		"SRS1=OArg=fwd.example==abcd=XY=orig.example=carol@example.org",
		"SRS1=OArh=fwd.example=@example.org",
		"SRS1=OArh==abcd@example.org",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&r);
		ck_assert_msg(srs_reverse(&key, bad[i], NOW, &r, &error) == -1, "%s", bad[i]);
		ck_assert_uint_eq(r.len, 0);
	}
	/* the good ones the list was made from */
	buf_reset(&r);
	ck_assert_int_eq(srs_reverse(&key, "SRS0=lyf6=7G=remote.example=alice@example.org",
				     NOW, &r, &error), 1);
	ck_assert_str_eq(buf_cstr(&r), "alice@remote.example");
	buf_reset(&r);
	ck_assert_int_eq(srs_reverse(&key, "SRS1=OArh=fwd.example==abcd=XY=orig.example=carol"
				     "@example.org", NOW, &r, &error), 1);
	ck_assert_str_eq(buf_cstr(&r), "SRS0=abcd=XY=orig.example=carol@fwd.example");
	buf_free(&r);
}
END_TEST

START_TEST(test_secrets_and_length)
{
	/* signed with the first secret, verified with any */
	static const char *const two[] = { "new-secret", "tops3cret" };
	const struct srs_key rotated = { two, 2 };
	struct buf r = BUF_INIT, f = BUF_INIT;
	const char *error;
	ck_assert_int_eq(srs_reverse(&rotated, "SRS0=lyf6=7G=remote.example=alice@example.org",
				     NOW, &r, &error), 1);
	ck_assert_int_eq(srs_forward(&rotated, "alice@remote.example", "example.org", NOW, &f), 1);
	ck_assert_str_ne(buf_cstr(&f), "SRS0=lyf6=7G=remote.example=alice@example.org");
	buf_reset(&r);
	ck_assert_int_eq(srs_reverse(&key, buf_cstr(&f), NOW, &r, &error), -1);
	/* too long to be a path: not rewritten */
	char sender[300];
	memset(sender, 'a', 240);
	strcpy(sender + 240, "@remote.example");
	buf_reset(&f);
	ck_assert_int_eq(srs_forward(&key, sender, "example.org", NOW, &f), -1);
	ck_assert_uint_eq(f.len, 0);
	buf_free(&r);
	buf_free(&f);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("srs");
	TCase *tc = tcase_create("srs");
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_round_trip_and_age);
	tcase_add_test(tc, test_reverse_refusals);
	tcase_add_test(tc, test_secrets_and_length);
	suite_add_tcase(s, tc);
	return s;
}

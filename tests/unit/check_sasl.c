/* Unit tests for core/sasl: PLAIN (RFC 4616) and LOGIN on the server side. */
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/sasl.h"
#include "tests/unit/runner.h"

/* base64 of n bytes at p, malloc'd */
static char *
b64(const char *p, size_t n)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(base64_encode(&b, p, n), 0);
	char *s = buf_steal(&b);
	return s != NULL ? s : strdup("");
}

START_TEST(test_mechanisms)
{
	ck_assert(sasl_mechanism_known("PLAIN"));
	ck_assert(sasl_mechanism_known("login"));
	ck_assert(!sasl_mechanism_known("CRAM-MD5"));
	ck_assert(!sasl_mechanism_known(NULL));
	ck_assert_ptr_null(sasl_server_new("GSSAPI"));
	ck_assert_ptr_null(sasl_server_new(NULL));
	struct sasl_server *s = sasl_server_new("Plain");
	ck_assert_ptr_nonnull(s);
	sasl_server_free(&s);
	ck_assert_ptr_null(s);
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_plain_initial_response)
{
	const char *ch, *err;
	/* RFC 4616 §4 example without authzid */
	char *ir = b64("\0tim\0tanstaaftanstaaf", 21);
	struct sasl_server *s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, ir, &ch, &err), SASL_DONE);
	ck_assert_str_eq(sasl_server_user(s), "tim");
	ck_assert_str_eq(sasl_server_password(s), "tanstaaftanstaaf");
	ck_assert_str_eq(sasl_server_authzid(s), "");
	/* the exchange is over: more input fails */
	ck_assert_int_eq(sasl_server_step(s, ir, &ch, &err), SASL_FAIL);
	sasl_server_free(&s);
	free(ir);
}
END_TEST

START_TEST(test_plain_authzid)
{
	const char *ch, *err;
	/* RFC 4616 §4: "Ursel" acting as "Kurt" */
	char *ir = b64("Ursel\0Kurt\0xipj3plmq", 20);
	struct sasl_server *s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, ir, &ch, &err), SASL_DONE);
	ck_assert_str_eq(sasl_server_authzid(s), "Ursel");
	ck_assert_str_eq(sasl_server_user(s), "Kurt");
	ck_assert_str_eq(sasl_server_password(s), "xipj3plmq");
	sasl_server_free(&s);
	free(ir);
}
END_TEST

START_TEST(test_plain_no_initial_response)
{
	const char *ch = NULL, *err;
	struct sasl_server *s = sasl_server_new("PLAIN");
	/* RFC 4954 §4: "AUTH PLAIN" alone gets an empty challenge "334 " */
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_str_eq(ch, "");
	/* the literal from RFC 4954 §8's example */
	ck_assert_int_eq(sasl_server_step(s, "AGFsaWNlAHNlY3JldA==", &ch, &err), SASL_DONE);
	ck_assert_str_eq(sasl_server_user(s), "alice");
	ck_assert_str_eq(sasl_server_password(s), "secret");
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_plain_malformed)
{
	const char *ch, *err;
	static const struct {
		const char *msg;
		size_t len;
	} bad[] = {
		{ "alice", 5 },			/* no NUL */
		{ "\0alice", 6 },		/* one NUL */
		{ "\0\0secret", 8 },		/* empty authcid */
		{ "\0alice\0", 7 },		/* empty password */
		{ "\0alice\0sec\0ret", 14 },	/* NUL in the password */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *ir = b64(bad[i].msg, bad[i].len);
		struct sasl_server *s = sasl_server_new("PLAIN");
		err = NULL;
		ck_assert_int_eq(sasl_server_step(s, ir, &ch, &err), SASL_FAIL);
		ck_assert_ptr_nonnull(err);
		sasl_server_free(&s);
		free(ir);
	}
}
END_TEST

START_TEST(test_bad_base64)
{
	const char *ch, *err = NULL;
	struct sasl_server *s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, "AGFsaWNlAHNlY3JldA", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "invalid base64 in response");
	sasl_server_free(&s);
	/* whitespace is not base64 in SASL */
	s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "AGFsaWNl AHNlY3JldA==", &ch, &err), SASL_FAIL);
	sasl_server_free(&s);
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "!!!!", &ch, &err), SASL_FAIL);
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_empty_initial_response)
{
	const char *ch, *err = NULL;
	/* "=" is an empty initial response (RFC 4954 §4): for PLAIN that is a
	 * malformed message */
	struct sasl_server *s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, "=", &ch, &err), SASL_FAIL);
	ck_assert_ptr_nonnull(err);
	sasl_server_free(&s);
	/* "" as an initial response is not allowed (it must be "=") */
	s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, "", &ch, &err), SASL_FAIL);
	sasl_server_free(&s);
	/* "=" after a challenge is not base64 */
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "=", &ch, &err), SASL_FAIL);
	sasl_server_free(&s);
	/* LOGIN with an empty initial response: an empty user name */
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, "=", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "empty user name");
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_login_two_steps)
{
	const char *ch, *err;
	struct sasl_server *s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_str_eq(ch, "VXNlcm5hbWU6");	/* "Username:" */
	ck_assert_int_eq(sasl_server_step(s, "YWxpY2VAZXhhbXBsZS5vcmc=", &ch, &err), SASL_CONTINUE);
	ck_assert_str_eq(ch, "UGFzc3dvcmQ6");	/* "Password:" */
	ck_assert_int_eq(sasl_server_step(s, "c2VjcmV0", &ch, &err), SASL_DONE);
	ck_assert_str_eq(sasl_server_user(s), "alice@example.org");
	ck_assert_str_eq(sasl_server_password(s), "secret");
	ck_assert_str_eq(sasl_server_authzid(s), "");
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_login_initial_user)
{
	const char *ch, *err;
	/* "AUTH LOGIN YWxpY2U=": the user name comes with the command */
	struct sasl_server *s = sasl_server_new("login");
	ck_assert_int_eq(sasl_server_step(s, "YWxpY2U=", &ch, &err), SASL_CONTINUE);
	ck_assert_str_eq(ch, "UGFzc3dvcmQ6");
	ck_assert_int_eq(sasl_server_step(s, "c2VjcmV0", &ch, &err), SASL_DONE);
	ck_assert_str_eq(sasl_server_user(s), "alice");
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_login_bad_fields)
{
	const char *ch, *err;
	struct sasl_server *s = sasl_server_new("LOGIN");
	/* NUL inside the user name */
	ck_assert_int_eq(sasl_server_step(s, "YQBi", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "NUL byte in user name");
	sasl_server_free(&s);
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, "YWxpY2U=", &ch, &err), SASL_CONTINUE);
	/* an empty password line */
	ck_assert_int_eq(sasl_server_step(s, "", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "empty password");
	sasl_server_free(&s);
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, "YWxpY2U=", &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_FAIL);
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_cancel)
{
	const char *ch, *err = NULL;
	struct sasl_server *s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "*", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "authentication cancelled");
	sasl_server_free(&s);
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "YWxpY2U=", &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "*", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "authentication cancelled");
	sasl_server_free(&s);
	s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "*", &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "authentication cancelled");
	sasl_server_free(&s);
}
END_TEST

START_TEST(test_oversize)
{
	const char *ch, *err = NULL;
	/* a user name of ADDRESS_MAX bytes passes, one more fails */
	char user[ADDRESS_MAX + 2];
	memset(user, 'u', sizeof user);
	char *ok = b64(user, ADDRESS_MAX);
	char *over = b64(user, ADDRESS_MAX + 1);
	struct sasl_server *s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, ok, &ch, &err), SASL_CONTINUE);
	sasl_server_free(&s);
	s = sasl_server_new("LOGIN");
	ck_assert_int_eq(sasl_server_step(s, over, &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "response too long");
	sasl_server_free(&s);
	free(ok);
	free(over);

	/* PLAIN: password of PASSWORD_MAX passes, one more fails */
	size_t n = 2 + 5 + PASSWORD_MAX + 1;
	char *msg = malloc(n);
	memcpy(msg, "\0alice\0", 7);
	memset(msg + 7, 'p', n - 7);
	char *ir = b64(msg, n - 1);
	s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, ir, &ch, &err), SASL_DONE);
	ck_assert_uint_eq(strlen(sasl_server_password(s)), PASSWORD_MAX);
	sasl_server_free(&s);
	free(ir);
	ir = b64(msg, n);
	s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, ir, &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "password too long");
	sasl_server_free(&s);
	free(ir);
	free(msg);

	/* a line far over SASL_LINE_MAX never gets decoded */
	char *huge = malloc(SASL_LINE_MAX + 5);
	memset(huge, 'A', SASL_LINE_MAX + 4);
	huge[SASL_LINE_MAX + 4] = '\0';
	s = sasl_server_new("PLAIN");
	ck_assert_int_eq(sasl_server_step(s, huge, &ch, &err), SASL_FAIL);
	ck_assert_str_eq(err, "response too long");
	sasl_server_free(&s);
	free(huge);
}
END_TEST

START_TEST(test_plain_split)
{
	char *z, *c, *p;
	const char *err;
	ck_assert_int_eq(sasl_plain_split("a\0b\0c", 5, &z, &c, &p, &err), 0);
	ck_assert_str_eq(z, "a");
	ck_assert_str_eq(c, "b");
	ck_assert_str_eq(p, "c");
	free(z);
	free(c);
	free(p);
	ck_assert_int_eq(sasl_plain_split("a\0b", 3, &z, &c, &p, &err), -1);
	ck_assert_int_eq(sasl_plain_split("", 0, &z, &c, &p, &err), -1);
	ck_assert_int_eq(sasl_plain_split("\0\0", 2, &z, &c, &p, &err), -1);
	/* the length counts: bytes after len are not looked at */
	ck_assert_int_eq(sasl_plain_split("\0b\0cXYZ", 4, &z, &c, &p, &err), 0);
	ck_assert_str_eq(p, "c");
	free(z);
	free(c);
	free(p);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_mechanisms);
	tcase_add_test(tc, test_plain_initial_response);
	tcase_add_test(tc, test_plain_authzid);
	tcase_add_test(tc, test_plain_no_initial_response);
	tcase_add_test(tc, test_plain_malformed);
	tcase_add_test(tc, test_bad_base64);
	tcase_add_test(tc, test_empty_initial_response);
	tcase_add_test(tc, test_login_two_steps);
	tcase_add_test(tc, test_login_initial_user);
	tcase_add_test(tc, test_login_bad_fields);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_plain_split);
	suite_add_tcase(s, tc);
	return s;
}

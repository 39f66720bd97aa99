/* Unit tests for core/sasl: PLAIN (RFC 4616), LOGIN and SCRAM-SHA-256(-PLUS)
 * (RFC 5802, RFC 7677) on the server side, and core/scram. */
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/sasl.h"
#include "core/scram.h"
#include "core/xmalloc.h"
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


/* ---- SCRAM-SHA-256 --------------------------------------------------------- */

/* RFC 7677 §3: user "user", password "pencil". */
#define V_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define V_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_SERVER_FIRST \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define V_CLIENT_FINAL_BARE "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_CLIENT_FINAL V_CLIENT_FINAL_BARE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* The same keys in Dovecot's form ("pencil" with the RFC's salt). */
#define V_STORED "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==," \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=," \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
/* Made by `doveadm pw -s SCRAM-SHA-256 -p pencil` (a random salt). */
#define DOVEADM_STORED "{SCRAM-SHA-256}4096,+ON69mI+vx/fuPhV9FsoVA==," \
	"gBWmXBL876jmELLOHgpHnMSKiO+LHAkIvKX32oidWtw=," \
	"6xRrhi+EZJvo1AS1p6I32nMeoaoUtojEJR7FcjCxpSY="

static char *
b64s(const char *text)
{
	return b64(text, strlen(text));
}

static struct scram_keys
pencil_keys(void)
{
	struct scram_keys k;
	ck_assert_int_eq(scram_parse(V_STORED, &k), 0);
	return k;
}

START_TEST(test_scram_keys)
{
	struct scram_keys k, d;
	const char *err;
	/* derived from the password, the stored form is Dovecot's to the byte */
	ck_assert_int_eq(scram_parse(V_STORED, &k), 0);
	ck_assert_int_eq(scram_derive("pencil", 6, k.salt, k.salt_len, 4096, &d, &err), 0);
	char *text = scram_format(&d);
	ck_assert_str_eq(text, V_STORED);
	free(text);
	/* a hash made by Dovecot checks out against its password */
	ck_assert_int_eq(scram_parse(DOVEADM_STORED, &k), 0);
	ck_assert_uint_eq(k.iterations, 4096);
	ck_assert_uint_eq(k.salt_len, 16);
	ck_assert_int_eq(scram_derive("pencil", 6, k.salt, k.salt_len, 4096, &d, &err), 0);
	ck_assert_mem_eq(d.stored_key, k.stored_key, SCRAM_KEY_LEN);
	ck_assert_mem_eq(d.server_key, k.server_key, SCRAM_KEY_LEN);
	ck_assert_int_eq(scram_derive("pencils", 7, k.salt, k.salt_len, 4096, &d, &err), 0);
	ck_assert(memcmp(d.stored_key, k.stored_key, SCRAM_KEY_LEN) != 0);
	/* the prefix in any case; nothing else */
	ck_assert_int_eq(scram_parse("{scram-sha-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
				     "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
				     "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", &k), 0);
	static const char *const bad[] = {
		NULL, "", "{CRYPT}$y$j9T$", "{SCRAM-SHA-1}4096,a,b,c",
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
		"{SCRAM-SHA-256}100,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"{SCRAM-SHA-256}99999999,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"{SCRAM-SHA-256}4096,,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpc=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=,x",
		"{SCRAM-SHA-256}4x96,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(scram_parse(bad[i], &k) < 0, "accepted: %s", bad[i] ? bad[i] : "NULL");
	/* derive refuses counts and salts out of bounds */
	ck_assert_int_eq(scram_derive("x", 1, d.salt, 16, 1000, &d, &err), -1);
	ck_assert_int_eq(scram_derive("x", 1, d.salt, 0, 4096, &d, &err), -1);
}
END_TEST

/* Runs the RFC 7677 exchange against keys[0..n) (server nonce fixed);
 * returns the result of the proof step and leaves s for more checks. */
static enum sasl_result
rfc_exchange(struct sasl_server *s, const struct scram_keys *keys, size_t n,
	     const char **challenge)
{
	const char *err;
	char *m = b64s(V_CLIENT_FIRST);
	sasl_server_set_nonce(s, V_SNONCE);
	ck_assert_int_eq(sasl_server_step(s, m, challenge, &err), SASL_NEED_KEYS);
	free(m);
	ck_assert_str_eq(sasl_server_user(s), "user");
	ck_assert_str_eq(sasl_server_authzid(s), "");
	ck_assert(!sasl_server_expects_proof(s));
	ck_assert_int_eq(sasl_server_scram_keys(s, keys, n, challenge, &err), SASL_CONTINUE);
	char *want = b64s(V_SERVER_FIRST);
	ck_assert_str_eq(*challenge, want);
	free(want);
	ck_assert(sasl_server_expects_proof(s));
	m = b64s(V_CLIENT_FINAL);
	enum sasl_result r = sasl_server_step(s, m, challenge, &err);
	free(m);
	return r;
}

START_TEST(test_scram_rfc7677)
{
	const char *ch, *err;
	struct scram_keys k = pencil_keys();
	struct sasl_server *s = sasl_server_new("scram-sha-256");
	ck_assert(sasl_server_is_scram(s));
	ck_assert_int_eq(rfc_exchange(s, &k, 1, &ch), SASL_CONTINUE);
	char *want = b64s(V_SERVER_FINAL);
	ck_assert_str_eq(ch, want);
	free(want);
	/* the client's empty response ends it */
	ck_assert_int_eq(sasl_server_step(s, "", &ch, &err), SASL_DONE);
	ck_assert_int_eq(sasl_server_scram_match(s), 0);
	ck_assert_ptr_null(sasl_server_password(s));
	ck_assert_str_eq(sasl_server_user(s), "user");
	sasl_server_free(&s);

	/* the client's proof computed here agrees with the RFC's */
	unsigned char proof[SCRAM_KEY_LEN];
	const char *auth = "n=user,r=rOprNGfwEbeRWgbNEkqO," V_SERVER_FIRST "," V_CLIENT_FINAL_BARE;
	ck_assert_int_eq(scram_client_proof("pencil", 6, k.salt, k.salt_len, 4096, auth,
					    strlen(auth), proof), 0);
	char *p64 = b64((const char *)proof, sizeof proof);
	ck_assert_str_eq(p64, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	free(p64);
}
END_TEST

START_TEST(test_scram_keys_and_failures)
{
	const char *ch, *err;
	struct scram_keys keys[3];
	/* the right key among others (a password and its app passwords) */
	keys[0] = keys[1] = keys[2] = pencil_keys();
	keys[0].stored_key[0] ^= 1;
	keys[2].stored_key[5] ^= 1;
	struct sasl_server *s = sasl_server_new("SCRAM-SHA-256");
	ck_assert_int_eq(rfc_exchange(s, keys, 3, &ch), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "", &ch, &err), SASL_DONE);
	ck_assert_int_eq(sasl_server_scram_match(s), 1);
	sasl_server_free(&s);

	/* no key matches: a rejected login, not a malformed one */
	s = sasl_server_new("SCRAM-SHA-256");
	ck_assert_int_eq(rfc_exchange(s, keys, 1, &ch), SASL_FAIL);
	ck_assert(sasl_server_rejected(s));
	ck_assert_int_eq(sasl_server_step(s, "", &ch, &err), SASL_FAIL);
	sasl_server_free(&s);

	/* anything but an empty response after server-final fails */
	keys[0] = pencil_keys();
	s = sasl_server_new("SCRAM-SHA-256");
	ck_assert_int_eq(rfc_exchange(s, keys, 1, &ch), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "eA==", &ch, &err), SASL_FAIL);
	ck_assert(!sasl_server_rejected(s));
	sasl_server_free(&s);

	/* no initial response: an empty challenge first; "*" cancels */
	s = sasl_server_new("SCRAM-SHA-256");
	ck_assert_int_eq(sasl_server_step(s, NULL, &ch, &err), SASL_CONTINUE);
	ck_assert_str_eq(ch, "");
	char *m = b64s("n,a=user,n=user,r=abc");
	ck_assert_int_eq(sasl_server_step(s, m, &ch, &err), SASL_NEED_KEYS);
	free(m);
	ck_assert_str_eq(sasl_server_authzid(s), "user");
	ck_assert_int_eq(sasl_server_scram_keys(s, keys, 1, &ch, &err), SASL_CONTINUE);
	ck_assert_int_eq(sasl_server_step(s, "*", &ch, &err), SASL_FAIL);
	ck_assert(!sasl_server_rejected(s));
	sasl_server_free(&s);
}
END_TEST

/* A client-first message that must fail (mechanism mech, the server
 * offering a tls-exporter binding when bind). */
static void
first_fails(const char *mech, bool bind, const char *msg)
{
	const char *ch, *err = NULL;
	unsigned char data[32] = { 1, 2, 3 };
	struct sasl_server *s = sasl_server_new(mech);
	if (bind)
		sasl_server_channel_binding(s, "tls-exporter", data, sizeof data);
	char *m = b64(msg, strlen(msg));
	ck_assert_msg(sasl_server_step(s, m, &ch, &err) == SASL_FAIL, "accepted: %s", msg);
	ck_assert_ptr_nonnull(err);
	free(m);
	sasl_server_free(&s);
}

START_TEST(test_scram_malformed)
{
	first_fails("SCRAM-SHA-256", false, "");
	first_fails("SCRAM-SHA-256", false, "x,,n=user,r=abc");
	first_fails("SCRAM-SHA-256", false, "n,,n=,r=abc");
	first_fails("SCRAM-SHA-256", false, "n,,n=us=2Xer,r=abc");
	first_fails("SCRAM-SHA-256", false, "n,,n=user=,r=abc");
	first_fails("SCRAM-SHA-256", false, "n,,n=user");
	first_fails("SCRAM-SHA-256", false, "n,,n=user,r=");
	first_fails("SCRAM-SHA-256", false, "n,,n=user,r=a b");
	first_fails("SCRAM-SHA-256", false, "n,,m=ext,n=user,r=abc");
	first_fails("SCRAM-SHA-256", false, "n,a=x");
	first_fails("SCRAM-SHA-256", false, "n,,r=abc,n=user");
	/* RFC 5802 §6: channel binding flags against the mechanism */
	first_fails("SCRAM-SHA-256", false, "p=tls-exporter,,n=user,r=abc");
	first_fails("SCRAM-SHA-256", true, "y,,n=user,r=abc");
	first_fails("SCRAM-SHA-256-PLUS", true, "n,,n=user,r=abc");
	first_fails("SCRAM-SHA-256-PLUS", true, "y,,n=user,r=abc");
	first_fails("SCRAM-SHA-256-PLUS", true, "p=tls-unique,,n=user,r=abc");
	first_fails("SCRAM-SHA-256-PLUS", false, "p=tls-exporter,,n=user,r=abc");
	/* a NUL inside */
	const char *ch, *err;
	struct sasl_server *s = sasl_server_new("SCRAM-SHA-256");
	char *m = b64("n,,n=us\0er,r=abc", 16);
	ck_assert_int_eq(sasl_server_step(s, m, &ch, &err), SASL_FAIL);
	free(m);
	sasl_server_free(&s);
	/* "y" is fine while the server offers no binding; names decode */
	s = sasl_server_new("SCRAM-SHA-256");
	m = b64s("y,,n=a=2Cb=3Dc,r=abc,x=ext");
	ck_assert_int_eq(sasl_server_step(s, m, &ch, &err), SASL_NEED_KEYS);
	ck_assert_str_eq(sasl_server_user(s), "a,b=c");
	free(m);
	sasl_server_free(&s);
}
END_TEST

/* The proof step of a client-final message must fail for these. */
START_TEST(test_scram_final_malformed)
{
	static const char *const finals[] = {
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		V_CLIENT_FINAL_BARE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7Ad",
		V_CLIENT_FINAL_BARE ",p=!!!",
		"",
	};
	struct scram_keys k = pencil_keys();
	for (size_t i = 0; i < sizeof finals / sizeof finals[0]; i++) {
		const char *ch, *err;
		struct sasl_server *s = sasl_server_new("SCRAM-SHA-256");
		char *m = b64s(V_CLIENT_FIRST);
		sasl_server_set_nonce(s, V_SNONCE);
		ck_assert_int_eq(sasl_server_step(s, m, &ch, &err), SASL_NEED_KEYS);
		free(m);
		ck_assert_int_eq(sasl_server_scram_keys(s, &k, 1, &ch, &err), SASL_CONTINUE);
		m = b64s(finals[i]);
		ck_assert_msg(sasl_server_step(s, m[0] ? m : "=", &ch, &err) == SASL_FAIL,
			      "accepted: %s", finals[i]);
		ck_assert(!sasl_server_rejected(s));
		free(m);
		sasl_server_free(&s);
	}
}
END_TEST

/* A -PLUS exchange with binding data bound; the client binds with
 * client_data.  Returns the proof step's result. */
static enum sasl_result
plus_exchange(const unsigned char *bound, const unsigned char *client_data,
	      const char *type)
{
	const char *ch, *err;
	struct scram_keys k = pencil_keys();
	struct sasl_server *s = sasl_server_new("SCRAM-SHA-256-PLUS");
	sasl_server_channel_binding(s, "tls-unique", bound, 12);
	sasl_server_channel_binding(s, "tls-exporter", bound, 32);
	char *first = xasprintf("p=%s,,n=user,r=cnonce", type);
	char *m = b64s(first);
	sasl_server_set_nonce(s, "snonce");
	ck_assert_int_eq(sasl_server_step(s, m, &ch, &err), SASL_NEED_KEYS);
	free(m);
	ck_assert_int_eq(sasl_server_scram_keys(s, &k, 1, &ch, &err), SASL_CONTINUE);
	/* c= is base64(gs2-header || cbind-data) */
	size_t dlen = strcmp(type, "tls-unique") == 0 ? 12 : 32;
	char cb[128];
	size_t hlen = strlen(first) - strlen("n=user,r=cnonce");
	memcpy(cb, first, hlen);
	memcpy(cb + hlen, client_data, dlen);
	char *c64 = b64(cb, hlen + dlen);
	char *bare = xasprintf("c=%s,r=cnoncesnonce", c64);
	char *auth = xasprintf("n=user,r=cnonce,r=cnoncesnonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
			       "i=4096,%s", bare);
	unsigned char proof[SCRAM_KEY_LEN];
	ck_assert_int_eq(scram_client_proof("pencil", 6, k.salt, k.salt_len, 4096, auth,
					    strlen(auth), proof), 0);
	char *p64 = b64((const char *)proof, sizeof proof);
	char *final = xasprintf("%s,p=%s", bare, p64);
	m = b64s(final);
	enum sasl_result r = sasl_server_step(s, m, &ch, &err);
	if (r == SASL_CONTINUE)
		ck_assert_int_eq(sasl_server_step(s, "", &ch, &err), SASL_DONE);
	free(m);
	free(final);
	free(p64);
	free(auth);
	free(bare);
	free(c64);
	free(first);
	sasl_server_free(&s);
	return r;
}

START_TEST(test_scram_plus)
{
	unsigned char bound[32], other[32];
	for (int i = 0; i < 32; i++) {
		bound[i] = (unsigned char)i;
		other[i] = (unsigned char)(i + 1);
	}
	ck_assert_int_eq(plus_exchange(bound, bound, "tls-exporter"), SASL_CONTINUE);
	ck_assert_int_eq(plus_exchange(bound, bound, "tls-unique"), SASL_CONTINUE);
	/* another connection's binding (a man in the middle) fails */
	ck_assert_int_eq(plus_exchange(bound, other, "tls-exporter"), SASL_FAIL);
	ck_assert_int_eq(plus_exchange(bound, other, "tls-unique"), SASL_FAIL);
	/* what is offered */
	const char *const *m = sasl_mechanisms(false);
	ck_assert_str_eq(m[2], "SCRAM-SHA-256");
	ck_assert_ptr_null(m[3]);
	m = sasl_mechanisms(true);
	ck_assert_str_eq(m[3], "SCRAM-SHA-256-PLUS");
	ck_assert_ptr_null(m[4]);
	ck_assert(sasl_mechanism_known("scram-sha-256-plus"));
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
	tcase_add_test(tc, test_scram_keys);
	tcase_add_test(tc, test_scram_rfc7677);
	tcase_add_test(tc, test_scram_keys_and_failures);
	tcase_add_test(tc, test_scram_malformed);
	tcase_add_test(tc, test_scram_final_malformed);
	tcase_add_test(tc, test_scram_plus);
	suite_add_tcase(s, tc);
	return s;
}

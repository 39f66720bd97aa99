/* Unit tests for trust/dkim_verify: RFC 8463's published example and
 * messages signed by dkimpy (dkim_test.h), verified whole, with the
 * body a byte at a time and from a file; then changed in the ways that must
 * fail them, and with keys that must not be used.  DNS is a dns_table. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/limits.h"
#include "mail/header.h"
#include "tests/unit/dkim_test.h"
#include "tests/unit/runner.h"
#include "trust/arc.h"
#include "trust/dkim_verify.h"
#include "trust/dns_source.h"

static struct dns_table *
table(const char *extra)
{
	struct dns_table *t = dns_table_new();
	const char *error = NULL;
	ck_assert_msg(dns_table_load(t, DNS_KEYS, strlen(DNS_KEYS), &error) == 0, "%s", error);
	if (extra != NULL)
		ck_assert_msg(dns_table_load(t, extra, strlen(extra), &error) == 0, "%s", error);
	return t;
}

/* Verifies msg with the body fed step bytes at a time (0: whole). */
static struct dkim_verify *
verify_with(const char *msg, struct dns_table *t, size_t step)
{
	size_t len = strlen(msg);
	size_t hl = mail_header_size(msg, len);
	struct dkim_verify *v = dkim_verify_new(msg, hl, TEST_NOW);
	if (step == 0)
		step = len;
	for (size_t i = hl; i < len; i += step)
		dkim_verify_body(v, msg + i, len - i < step ? len - i : step);
	struct dns_source src = dns_table_source(t);
	dkim_verify_finish(v, &src);
	return v;
}

static struct dkim_verify *
verify(const char *msg, const char *extra_dns)
{
	struct dns_table *t = table(extra_dns);
	struct dkim_verify *v = verify_with(msg, t, 0);
	dns_table_free(&t);
	return v;
}

static void
expect(const struct dkim_verify *v, size_t i, enum dkim_status status, const char *reason)
{
	const struct dkim_sig_result *r = dkim_verify_result(v, i);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->status == status && (reason == NULL || strstr(r->reason, reason) != NULL),
		      "signature %zu: %s (%s), wanted %s (%s)", i, dkim_status_name(r->status),
		      r->reason, dkim_status_name(status), reason != NULL ? reason : "any");
}

/* The first signature of msg (changed by one replacement) is status. */
static void
expect_first(const char *msg, const char *from, const char *to, const char *extra_dns,
	     enum dkim_status status, const char *reason)
{
	char *m = replace(msg, from, to);
	struct dkim_verify *v = verify(m, extra_dns);
	ck_assert_uint_ge(dkim_verify_count(v), 1);
	expect(v, 0, status, reason);
	dkim_verify_free(&v);
	free(m);
}

START_TEST(test_rfc8463)
{
	struct dns_table *t = table(NULL);
	for (size_t step = 0; step <= 3; step++) {
		struct dkim_verify *v = verify_with(RFC8463_MSG, t, step);
		ck_assert_uint_eq(dkim_verify_count(v), 2);
		expect(v, 0, DKIM_PASS, NULL);
		expect(v, 1, DKIM_PASS, NULL);
		const struct dkim_sig_result *r = dkim_verify_result(v, 0);
		ck_assert_str_eq(r->domain, "football.example.com");
		ck_assert_str_eq(r->selector, "brisbane");
		ck_assert_str_eq(r->algorithm, "ed25519-sha256");
		ck_assert_str_eq(r->identity, "@football.example.com");
		ck_assert(strncmp(r->b, "/gCrinpcQOoIfuHN", 16) == 0);
		ck_assert_uint_eq(r->key_bits, 256);
		ck_assert_uint_eq(dkim_verify_result(v, 1)->key_bits, 1024);
		ck_assert(!r->length_limited);
		ck_assert_int_eq(dkim_verify_summary(v), DKIM_PASS);
		dkim_verify_free(&v);
		ck_assert_ptr_null(v);
	}
	dns_table_free(&t);
}
END_TEST

START_TEST(test_dkimpy_signed)
{
	static const char *const msgs[] = { LIMITED, SIMPLE_ED };
	struct dns_table *t = table(NULL);
	for (size_t k = 0; k < 2; k++) {
		for (size_t step = 0; step <= 2; step++) {
			struct dkim_verify *v = verify_with(msgs[k], t, step);
			ck_assert_uint_eq(dkim_verify_count(v), 1);
			expect(v, 0, DKIM_PASS, NULL);
			dkim_verify_free(&v);
		}
	}
	dns_table_free(&t);
	/* the message with bare LF line ends verifies the same (§5.3) */
	struct buf lf = BUF_INIT;
	for (const char *p = SIMPLE_ED; *p != '\0'; p++)
		if (*p != '\r')
			buf_putc(&lf, *p);
	struct dkim_verify *v = verify(buf_cstr(&lf), NULL);
	expect(v, 0, DKIM_PASS, NULL);
	dkim_verify_free(&v);
	buf_free(&lf);
}
END_TEST

START_TEST(test_changes_fail)
{
	/* the body */
	expect_first(RFC8463_MSG, "hungry", "angry", NULL, DKIM_FAIL, "body hash");
	expect_first(SIMPLE_ED, "Hello", "Hallo", NULL, DKIM_FAIL, "body hash");
	/* white space: relaxed does not mind, simple does */
	expect_first(RFC8463_MSG, "the game.  Are", "the game. \t Are", NULL, DKIM_PASS, NULL);
	expect_first(RFC8463_MSG, "Subject: Is dinner", "Subject:   Is \t dinner", NULL,
		     DKIM_PASS, NULL);
	expect_first(SIMPLE_ED, "lunch   at", "lunch at", NULL, DKIM_FAIL, "body hash");
	expect_first(SIMPLE_ED, "Subject: Lunch", "Subject:  Lunch", NULL, DKIM_FAIL,
		     "signature mismatch");
	/* empty lines at the end do not count (§3.4.3) */
	char *more = xasprintf("%s\r\n\r\n", SIMPLE_ED);
	struct dkim_verify *v = verify(more, NULL);
	expect(v, 0, DKIM_PASS, NULL);
	dkim_verify_free(&v);
	free(more);
	/* a signed field */
	expect_first(RFC8463_MSG, "dinner", "lunch", NULL, DKIM_FAIL, "signature mismatch");
	expect_first(SIMPLE_ED, "alice@example.org>", "mallory@example.org>", NULL, DKIM_FAIL,
		     "signature mismatch");
	/* a second From above the signed one */
	expect_first(RFC8463_MSG, "From: Joe", "From: Mallory <m@evil.example>\r\nFrom: Joe", NULL,
		     DKIM_FAIL, "signature mismatch");
	/* a field the signature does not cover may be added */
	expect_first(RFC8463_MSG, "Message-ID:", "X-Mailer: any\r\nMessage-ID:", NULL, DKIM_PASS,
		     NULL);
	/* signed fields reordered: each name is taken bottom up, so the
	 * order of different names does not matter, but that of two
	 * instances of one name does */
	expect_first(RFC8463_MSG,
		     "To: Suzie Q <suzie@shopping.example.net>\r\nSubject: Is dinner ready?\r\n",
		     "Subject: Is dinner ready?\r\nTo: Suzie Q <suzie@shopping.example.net>\r\n",
		     NULL, DKIM_PASS, NULL);
	expect_first(SIMPLE_ED, "Subject: Lunch\r\n", "Subject: Lunch\r\nSubject: Dinner\r\n",
		     NULL, DKIM_FAIL, "signature mismatch");
	/* the signature's own tags */
	expect_first(RFC8463_MSG, "t=1528637909; h=from", "t=1528637908; h=from", NULL,
		     DKIM_FAIL, "signature mismatch");
}
END_TEST

START_TEST(test_signature_tags)
{
	const char *M = RFC8463_MSG;
	expect_first(M, "a=ed25519-sha256", "a=rsa-sha1", NULL, DKIM_PERMERROR, "rsa-sha1");
	expect_first(M, "a=ed25519-sha256", "a=ed448-sha256", NULL, DKIM_PERMERROR, "algorithm");
	expect_first(M, "v=1", "v=2", NULL, DKIM_PERMERROR, "version");
	expect_first(M, "v=1; ", "", NULL, DKIM_PERMERROR, "required tag");
	expect_first(M, " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n", "", NULL,
		     DKIM_PERMERROR, "required tag");
	expect_first(M, "s=brisbane; ", "", NULL, DKIM_PERMERROR, "required tag");
	expect_first(M, "b=/gCrinp", "b=/gC!inp", NULL, DKIM_PERMERROR, "base64");
	expect_first(M, "bh=2jUSOH9N", "bh=2jUSOH9", NULL, DKIM_PERMERROR, "base64");
	expect_first(M, "c=relaxed/relaxed", "c=relaxed/loose", NULL, DKIM_PERMERROR,
		     "canonicalization");
	expect_first(M, "s=brisbane;", "s=brisbane; s=brisbane;", NULL, DKIM_PERMERROR, "twice");
	expect_first(M, "q=dns/txt", "q=http/well-known", NULL, DKIM_PERMERROR, "query");
	expect_first(M, "i=@football.example.com", "i=@example.net", NULL, DKIM_PERMERROR,
		     "i= is not within d=");
	expect_first(M, "i=@football.example.com", "i=joe@news.football.example.com", NULL,
		     DKIM_FAIL, "signature mismatch");
	expect_first(M, "h=from : to :\r\n subject : date : message-id : from : subject : date;",
		     "h=to : subject;", NULL, DKIM_PERMERROR, "From is not signed");
	expect_first(M, "h=from : to :", "h=from :: to :", NULL, DKIM_PERMERROR, "h=");
}
END_TEST

START_TEST(test_times)
{
	const char *M = RFC8463_MSG;
	/* x= passed (§6.1.1) */
	expect_first(M, "t=1528637909; h=from", "t=1528637909; x=1528637910; h=from", NULL,
		     DKIM_FAIL, "expired");
	/* x= before t= */
	expect_first(M, "t=1528637909; h=from", "t=1528637909; x=1528637900; h=from", NULL,
		     DKIM_PERMERROR, "x= is before t=");
	/* t= in the future, a little and a lot */
	char *soon = xasprintf("t=%lld; h=from", (long long)TEST_NOW + 60);
	char *later = xasprintf("t=%lld; h=from", (long long)TEST_NOW + 86400);
	expect_first(M, "t=1528637909; h=from", soon, NULL, DKIM_FAIL, "signature mismatch");
	expect_first(M, "t=1528637909; h=from", later, NULL, DKIM_PERMERROR, "future");
	expect_first(M, "t=1528637909; h=from", "t=15286x7909; h=from", NULL, DKIM_PERMERROR,
		     "t=");
	free(soon);
	free(later);
}
END_TEST

START_TEST(test_keys)
{
	const char *M = RFC8463_MSG;
	const char *ED = "brisbane._domainkey.football.example.com";
	struct {
		const char *record;
		enum dkim_status status;
		const char *reason;
	} cases[] = {
		{ "TXT \"v=DKIM1; k=ed25519; p=\"", DKIM_PERMERROR, "revoked" },
		{ "TXT \"" KEY_RFC_RSA "\"", DKIM_PERMERROR, "another type" },
		{ "TXT \"v=DKIM1; k=dsa; p=AAAA\"", DKIM_PERMERROR, "unknown key type" },
		{ "TXT \"v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
		  DKIM_PERMERROR, "version" },
		{ "TXT \"k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
		  DKIM_PERMERROR, "version" },
		{ "TXT \"" KEY_RFC_ED "; h=sha1\"", DKIM_PERMERROR, "sha256" },
		{ "TXT \"" KEY_RFC_ED "; h=sha1:sha256\"", DKIM_PASS, NULL },
		{ "TXT \"" KEY_RFC_ED "; s=tlsrpt\"", DKIM_PERMERROR, "not for email" },
		{ "TXT \"" KEY_RFC_ED "; s=tlsrpt:email\"", DKIM_PASS, NULL },
		{ "TXT \"" KEY_RFC_ED "; s=*\"", DKIM_PASS, NULL },
		{ "TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR\"",
		  DKIM_PERMERROR, "malformed key" },
		{ "TXT \"v=DKIM1; k=ed25519\"", DKIM_PERMERROR, "without p=" },
		{ "TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=; p=\"",
		  DKIM_PERMERROR, "malformed key record" },
		{ "TXT \"not a key\"", DKIM_PERMERROR, "malformed key record" },
		{ "TXT !TEMPFAIL", DKIM_TEMPERROR, "lookup failed" },
		{ "A 192.0.2.1", DKIM_PERMERROR, "no key" },
		/* the key split over several strings and folded (§3.6.2.2) */
		{ "TXT \"v=DKIM1; k=ed25519; \" \"p=11qYAYKxCrfVS/7TyWQH \" \"Og7hcvPapiMlrwIaaPcHURo=\"",
		  DKIM_PASS, NULL },
		{ "TXT \"" KEY_RFC_ED "; t=s\"", DKIM_PASS, NULL },
		{ "TXT \"" KEY_RFC_ED "; t=y\"", DKIM_PASS, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* the table answers the first record of a name: put the
		 * case's before the shared one by making a table of its own */
		struct dns_table *t = dns_table_new();
		const char *error = NULL;
		char *line = xasprintf("%s %s\n", ED, cases[i].record);
		ck_assert_msg(dns_table_load(t, line, strlen(line), &error) == 0, "%s: %s", line, error);
		struct dkim_verify *v = verify_with(M, t, 0);
		expect(v, 0, cases[i].status, cases[i].reason);
		if (strstr(cases[i].record, "t=y") != NULL)
			ck_assert(dkim_verify_result(v, 0)->testing);
		dkim_verify_free(&v);
		dns_table_free(&t);
		free(line);
	}
	/* no record at all */
	struct dns_table *t = dns_table_new();
	struct dkim_verify *v = verify_with(M, t, 0);
	expect(v, 0, DKIM_PERMERROR, "no key");
	expect(v, 1, DKIM_PERMERROR, "no key");
	ck_assert_int_eq(dkim_verify_summary(v), DKIM_PERMERROR);
	dkim_verify_free(&v);
	dns_table_free(&t);
}
END_TEST

START_TEST(test_key_flags)
{
	const char *strict = "brisbane._domainkey.football.example.com TXT \"" KEY_RFC_ED "; t=s\"\n";
	const char *testing = "brisbane._domainkey.football.example.com TXT \"" KEY_RFC_ED "; t=y\"\n";
	struct dns_table *t = dns_table_new();
	const char *error;
	/* t=s: an i= under d= is refused (§3.6.1) */
	ck_assert(dns_table_load(t, strict, strlen(strict), &error) == 0);
	char *m = replace(RFC8463_MSG, "i=@football.example.com", "i=@news.football.example.com");
	struct dkim_verify *v = verify_with(m, t, 0);
	expect(v, 0, DKIM_FAIL, "t=s");
	dkim_verify_free(&v);
	free(m);
	dns_table_free(&t);
	/* t=y: a failure is neutral, as if unsigned (§3.6.1) */
	t = dns_table_new();
	ck_assert(dns_table_load(t, testing, strlen(testing), &error) == 0);
	m = replace(RFC8463_MSG, "hungry", "angry");
	v = verify_with(m, t, 0);
	expect(v, 0, DKIM_NEUTRAL, "testing");
	ck_assert(dkim_verify_result(v, 0)->testing);
	dkim_verify_free(&v);
	free(m);
	dns_table_free(&t);
}
END_TEST

START_TEST(test_weak_key)
{
	struct dkim_verify *v = verify(WEAK, NULL);
	expect(v, 0, DKIM_POLICY, "1024");
	ck_assert_uint_eq(dkim_verify_result(v, 0)->key_bits, 512);
	dkim_verify_free(&v);
	/* and one that does not verify either is a plain failure */
	expect_first(WEAK, "Lunch", "Dinner", NULL, DKIM_FAIL, "signature mismatch");
}
END_TEST

START_TEST(test_length)
{
	/* l= covers the whole body: nothing unsigned */
	struct dkim_verify *v = verify(LIMITED, NULL);
	const struct dkim_sig_result *r = dkim_verify_result(v, 0);
	expect(v, 0, DKIM_PASS, NULL);
	ck_assert(r->length_limited);
	ck_assert_uint_eq(r->length, 31);
	ck_assert_uint_eq(r->body_length, 31);
	dkim_verify_free(&v);
	/* content appended after the signed length: still a pass, but the
	 * result says how much is unsigned */
	char *m = xasprintf("%sBuy cheap pills at http://evil.example/\r\n", LIMITED);
	v = verify(m, NULL);
	r = dkim_verify_result(v, 0);
	expect(v, 0, DKIM_PASS, NULL);
	ck_assert_uint_eq(r->length, 31);
	/* the two empty lines after the signed part count now */
	ck_assert_uint_eq(r->body_length, 31 + 4 + 41);
	dkim_verify_free(&v);
	free(m);
	/* a change inside the signed length fails */
	expect_first(LIMITED, "Hello Bob", "Hello Rob", NULL, DKIM_FAIL, "body hash");
	/* l= longer than the body */
	expect_first(LIMITED, "l=31", "l=3100", NULL, DKIM_PERMERROR, "longer than the body");
	expect_first(LIMITED, "l=31", "l=3x", NULL, DKIM_PERMERROR, "l=");
	expect_first(LIMITED, "l=31",
		     "l=99999999999999999999999999999999999999999999999999999999999999999999999", NULL,
		     DKIM_PERMERROR, "longer than the body");
}
END_TEST

START_TEST(test_many_signatures)
{
	/* DKIM_VERIFY_SIGS_MAX are checked, the others counted */
	struct buf m = BUF_INIT;
	const char *hdr_end = strstr(SIMPLE_ED, "From:");
	for (int i = 0; i < DKIM_VERIFY_SIGS_MAX + 3; i++)
		buf_append(&m, SIMPLE_ED, (size_t)(hdr_end - SIMPLE_ED));
	buf_puts(&m, hdr_end);
	struct dkim_verify *v = verify(buf_cstr(&m), NULL);
	ck_assert_uint_eq(dkim_verify_count(v), DKIM_VERIFY_SIGS_MAX);
	ck_assert_uint_eq(dkim_verify_skipped(v), 3);
	for (size_t i = 0; i < DKIM_VERIFY_SIGS_MAX; i++)
		expect(v, i, DKIM_PASS, NULL);
	dkim_verify_free(&v);
	buf_free(&m);
	/* no signature: none */
	v = verify("From: a@example.org\r\n\r\nhi\r\n", NULL);
	ck_assert_uint_eq(dkim_verify_count(v), 0);
	ck_assert_int_eq(dkim_verify_summary(v), DKIM_NONE);
	dkim_verify_free(&v);
	/* one good signature among bad ones makes the summary pass */
	char *two = xasprintf("%s", RFC8463_MSG);
	char *bad = replace(two, "s=brisbane", "s=nokey");
	v = verify(bad, NULL);
	expect(v, 0, DKIM_PERMERROR, "no key");
	expect(v, 1, DKIM_PASS, NULL);
	ck_assert_int_eq(dkim_verify_summary(v), DKIM_PASS);
	dkim_verify_free(&v);
	free(two);
	free(bad);
}
END_TEST

/* dkim_verify_fd() reads a file once in pieces: a body far over one piece
 * (DKIM_VERIFY_CHUNK) verifies, and a header block over the limit is
 * refused. */
START_TEST(test_fd)
{
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/msg", dir);
	struct dns_table *t = table(NULL);
	struct dns_source src = dns_table_source(t);
	const char *error = NULL;

	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(RFC8463_MSG, f);
	fclose(f);
	int fd = open(path, O_RDONLY);
	struct dkim_verify *v = NULL;
	struct arc_verify *a = NULL;
	ck_assert_int_eq(dkim_verify_fd(fd, TEST_NOW, &src, &v, &a, &error), 0);
	close(fd);
	ck_assert_uint_eq(dkim_verify_count(v), 2);
	expect(v, 0, DKIM_PASS, NULL);
	expect(v, 1, DKIM_PASS, NULL);
	ck_assert_int_eq(arc_verify_result(a)->status, ARC_NONE);
	dkim_verify_free(&v);
	arc_verify_free(&a);

	/* a 3 MiB body of which the signed part is only the start (l=) */
	f = fopen(path, "wb");
	fputs(LIMITED, f);
	for (int i = 0; i < 3 * 1024; i++)
		fprintf(f, "%01023d\n", i);
	fclose(f);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(dkim_verify_fd(fd, TEST_NOW, &src, &v, NULL, &error), 0);
	close(fd);
	expect(v, 0, DKIM_PASS, NULL);
	ck_assert_uint_eq(dkim_verify_result(v, 0)->body_length, 31 + 4 + 3 * 1024 * 1025);
	dkim_verify_free(&v);

	/* a header block over the limit */
	f = fopen(path, "wb");
	for (int i = 0; i < 1500; i++)
		fprintf(f, "X-Long-%d: %01000d\r\n", i, i);
	fputs("\r\nbody\r\n", f);
	fclose(f);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(dkim_verify_fd(fd, TEST_NOW, &src, &v, &a, &error), -1);
	ck_assert_ptr_null(v);
	ck_assert_ptr_null(a);
	ck_assert_ptr_nonnull(strstr(error, "too big"));
	close(fd);

	/* an empty file: no signature */
	f = fopen(path, "wb");
	fclose(f);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(dkim_verify_fd(fd, TEST_NOW, &src, &v, NULL, &error), 0);
	ck_assert_uint_eq(dkim_verify_count(v), 0);
	dkim_verify_free(&v);
	close(fd);

	dns_table_free(&t);
	free(path);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dkim_verify");
	TCase *tc = tcase_create("dkim_verify");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rfc8463);
	tcase_add_test(tc, test_dkimpy_signed);
	tcase_add_test(tc, test_changes_fail);
	tcase_add_test(tc, test_signature_tags);
	tcase_add_test(tc, test_times);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_key_flags);
	tcase_add_test(tc, test_weak_key);
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_many_signatures);
	tcase_add_test(tc, test_fd);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for trust/arc: chains sealed by dkimpy (dkim_test.h)
 * verify, with the body fed whole and a byte at a time; every way of
 * breaking a chain fails it; no ARC field is "none". */
#include <string.h>

#include "core/buf.h"
#include "mail/header.h"
#include "tests/unit/dkim_test.h"
#include "tests/unit/runner.h"
#include "trust/arc.h"
#include "trust/dns_source.h"

static struct arc_verify *
verify_with(const char *msg, const char *dns_text, size_t step)
{
	struct dns_table *t = dns_table_new();
	const char *error = NULL;
	ck_assert_msg(dns_table_load(t, dns_text, strlen(dns_text), &error) == 0, "%s", error);
	size_t len = strlen(msg);
	size_t hl = mail_header_size(msg, len);
	struct arc_verify *a = arc_verify_new(msg, hl, TEST_NOW);
	if (step == 0)
		step = len;
	for (size_t i = hl; i < len; i += step)
		arc_verify_body(a, msg + i, len - i < step ? len - i : step);
	struct dns_source src = dns_table_source(t);
	arc_verify_finish(a, &src);
	dns_table_free(&t);
	return a;
}

static void
expect(const char *msg, enum arc_status status, const char *reason)
{
	struct arc_verify *a = verify_with(msg, DNS_KEYS, 0);
	const struct arc_result *r = arc_verify_result(a);
	ck_assert_msg(r->status == status && (reason == NULL || strstr(r->reason, reason) != NULL),
		      "%s (%s), wanted %s (%s)", arc_status_name(r->status), r->reason,
		      arc_status_name(status), reason != NULL ? reason : "any");
	arc_verify_free(&a);
	ck_assert_ptr_null(a);
}

static void
expect_changed(const char *msg, const char *from, const char *to, enum arc_status status,
	       const char *reason)
{
	char *m = replace(msg, from, to);
	expect(m, status, reason);
	free(m);
}

START_TEST(test_pass)
{
	for (size_t step = 0; step <= 2; step++) {
		struct arc_verify *a = verify_with(ARC2, DNS_KEYS, step);
		const struct arc_result *r = arc_verify_result(a);
		ck_assert_msg(r->status == ARC_PASS, "%s", r->reason);
		ck_assert_uint_eq(r->instances, 2);
		ck_assert_str_eq(r->domain, "example.net");
		ck_assert_str_eq(r->selector, "rsa");
		arc_verify_free(&a);
	}
	expect(ARC1, ARC_PASS, NULL);
	expect(RFC8463_MSG, ARC_NONE, NULL);
	/* the sets in another order in the header: found by instance */
	const char *set1 = strstr(ARC2, "ARC-Seal: i=1");
	const char *end1 = strstr(ARC2, "Authentication-Results: lists");
	const char *set2_end = strstr(ARC2, "Authentication-Results: mx");
	char *moved = xasprintf("%.*s%.*s%.*s%s", (int)(end1 - set1), set1,
				(int)(set2_end - ARC2), ARC2, (int)(set1 - set2_end), set2_end, end1);
	expect(moved, ARC_PASS, NULL);
	free(moved);
}
END_TEST

START_TEST(test_changes_fail)
{
	/* the body and a signed field: the newest AMS */
	expect_changed(ARC2, "how  are", "who  are", ARC_FAIL, "Message-Signature");
	expect_changed(ARC2, "[list] Hello", "[list] Hi", ARC_FAIL, "Message-Signature");
	/* relaxed: white space does not matter */
	expect_changed(ARC2, "how  are", "how are", ARC_PASS, NULL);
	/* an older set's results: the seals cover them */
	expect_changed(ARC2, "i=1; lists.example.org; spf=pass", "i=1; lists.example.org; spf=fail",
		       ARC_FAIL, "ARC-Seal does not verify");
	/* an older message signature: sealed too */
	expect_changed(ARC2, "i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=example.org",
		       "i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org", ARC_PASS, NULL);
	expect_changed(ARC2, "i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=example.org",
		       "i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=example.org ", ARC_FAIL,
		       "ARC-Seal does not verify");
	expect_changed(ARC2, "b=JYENv+EA7npMYhmsJjrkyuw79VNs", "b=JYENv+EA7npMYhmsJjrkyuw79VNt",
		       ARC_FAIL, "ARC-Seal does not verify");
	/* the newest seal's own signature */
	expect_changed(ARC2, "t=1700000100;\r\n b=T4JNQ9o6Fro3", "t=1700000101;\r\n b=T4JNQ9o6Fro3",
		       ARC_FAIL, "ARC-Seal does not verify");
}
END_TEST

START_TEST(test_structure)
{
	/* a set missing a field */
	const char *seal1 = strstr(ARC2, "ARC-Seal: i=1");
	const char *ams1 = strstr(ARC2, "ARC-Message-Signature: i=1");
	char *m = xasprintf("%.*s%s", (int)(seal1 - ARC2), ARC2, ams1);
	expect(m, ARC_FAIL, "incomplete");
	free(m);
	/* a set whose field is there twice */
	m = xasprintf("ARC-Authentication-Results: i=2; mx.example.net; arc=fail\r\n%s", ARC2);
	expect(m, ARC_FAIL, "twice");
	free(m);
	/* a set without its results, another with two */
	expect_changed(ARC1, "i=1; lists", "i=2; lists", ARC_FAIL, "incomplete");
	/* instances out of range */
	expect_changed(ARC1, "ARC-Seal: i=1", "ARC-Seal: i=0", ARC_FAIL, "instance");
	expect_changed(ARC1, "ARC-Seal: i=1", "ARC-Seal: i=51", ARC_FAIL, "instance");
	expect_changed(ARC1, "ARC-Seal: i=1", "ARC-Seal: i=x", ARC_FAIL, "instance");
	/* cv=: the newest says fail; the first must be none, later pass */
	expect_changed(ARC2, "i=2; cv=pass", "i=2; cv=fail", ARC_FAIL, "cv=fail");
	expect_changed(ARC2, "i=2; cv=pass", "i=2; cv=none", ARC_FAIL, "cv=");
	expect_changed(ARC1, "i=1; cv=none", "i=1; cv=pass", ARC_FAIL, "cv=");
	expect_changed(ARC1, "i=1; cv=none", "i=1; cv=maybe", ARC_FAIL, "malformed ARC-Seal");
	/* tags an ARC-Seal must not have, or must have */
	expect_changed(ARC1, "i=1; cv=none;", "i=1; cv=none; h=from;", ARC_FAIL, "malformed ARC-Seal");
	expect_changed(ARC1, "i=1; cv=none; a=rsa-sha256; d=example.org;",
		       "i=1; cv=none; a=rsa-sha256;", ARC_FAIL, "malformed ARC-Seal");
	/* an AMS that signs the seal */
	expect_changed(ARC1, "h=from : to", "h=arc-seal : from : to", ARC_FAIL,
		       "malformed ARC-Message-Signature");
	/* a chain of every instance, each with a seal only: the first
	 * field met twice ends the collection (at most 150 are looked at) */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 3 * 50 + 1; i++)
		buf_printf(&b, "ARC-Seal: i=%d; cv=none\r\n", i % 50 + 1);
	buf_puts(&b, ARC1);
	expect(buf_cstr(&b), ARC_FAIL, "twice");
	buf_free(&b);
}
END_TEST

START_TEST(test_keys)
{
	/* no key for the newest set, and for the older one only */
	struct arc_verify *a = verify_with(ARC2, "", 0);
	ck_assert_int_eq(arc_verify_result(a)->status, ARC_FAIL);
	arc_verify_free(&a);
	char *only_net = xasprintf("rsa._domainkey.example.net TXT \"" KEY_RSA "\"\n");
	a = verify_with(ARC2, only_net, 0);
	ck_assert_int_eq(arc_verify_result(a)->status, ARC_FAIL);
	ck_assert_ptr_nonnull(strstr(arc_verify_result(a)->reason, "ARC-Seal"));
	arc_verify_free(&a);
	free(only_net);
	/* a key too small */
	char *weak = xasprintf("rsa._domainkey.example.org TXT \"" KEY_WEAK "\"\n");
	a = verify_with(ARC1, weak, 0);
	ck_assert_int_eq(arc_verify_result(a)->status, ARC_FAIL);
	arc_verify_free(&a);
	free(weak);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("arc");
	TCase *tc = tcase_create("arc");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pass);
	tcase_add_test(tc, test_changes_fail);
	tcase_add_test(tc, test_structure);
	tcase_add_test(tc, test_keys);
	suite_add_tcase(s, tc);
	return s;
}

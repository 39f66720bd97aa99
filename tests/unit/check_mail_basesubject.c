/* Unit tests for mail/basesubject: RFC 5256 §2.1, step by step. */
#include <string.h>

#include "core/buf.h"
#include "mail/basesubject.h"
#include "tests/unit/runner.h"

static void
ck_base(const char *subject, const char *want, bool want_reply)
{
	struct buf b = BUF_INIT;
	bool reply = mail_base_subject(&b, subject, strlen(subject));
	ck_assert_msg(strcmp(buf_cstr(&b), want) == 0, "'%s': '%s' != '%s'",
		      subject, buf_cstr(&b), want);
	ck_assert_msg(reply == want_reply, "'%s': reply %d", subject, reply);
	buf_free(&b);
}

START_TEST(test_plain)
{
	ck_base("Hello world", "HELLO WORLD", false);
	ck_base("", "", false);
	ck_base("   ", "", false);
	/* (1) tabs and continuations become one space */
	ck_base("a\t b\r\n  c", "A B C", false);
	/* i;ascii-casemap: letters upper-cased */
	ck_base("mIxEd", "MIXED", false);
}
END_TEST

START_TEST(test_trailer)
{
	/* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
	ck_base("foo (fwd)", "FOO", true);
	ck_base("foo (FWD)(fwd)  ", "FOO", true);
	ck_base("foo(fwd) x", "FOO(FWD) X", false);
}
END_TEST

START_TEST(test_leader)
{
	/* (3) subj-leader = (*subj-blob subj-refwd) / WSP */
	ck_base("Re: foo", "FOO", true);
	ck_base("RE: Re: re: foo", "FOO", true);
	ck_base("Fw: foo", "FOO", true);
	ck_base("FWD: foo", "FOO", true);
	ck_base("re:fw:fwd:foo", "FOO", true);
	ck_base("Re : foo", "FOO", true);
	ck_base("Re[2]: foo", "FOO", true);
	ck_base("Re [2]: foo", "FOO", true);
	ck_base("[list] Re: foo", "FOO", true);
	ck_base("[a][b] Re: foo", "FOO", true);
	/* not a subj-refwd: no colon, or a word that starts with "re" */
	ck_base("Re foo", "RE FOO", false);
	ck_base("Regarding: foo", "REGARDING: FOO", false);
	ck_base("Fwx: foo", "FWX: FOO", false);
}
END_TEST

START_TEST(test_blob)
{
	/* (4) a leading subj-blob goes when something is left */
	ck_base("[PATCH] fix", "FIX", false);
	ck_base("[PATCH 1/2] Re: fix", "FIX", true);
	ck_base("Re: [PATCH] fix", "FIX", true);
	ck_base("[PATCH]", "[PATCH]", false);
	ck_base("Re: [PATCH]", "[PATCH]", true);
	ck_base("[a] [b]", "[B]", false);
	/* unbalanced brackets are not blobs */
	ck_base("[a foo", "[A FOO", false);
	ck_base("[a [b] foo", "[A [B] FOO", false);
}
END_TEST

START_TEST(test_fwd_wrapper)
{
	/* (6) "[fwd:" subject "]", then again from (2) */
	ck_base("[Fwd: hello]", "HELLO", true);
	ck_base("[fwd: Re: hello (fwd)]", "HELLO", true);
	ck_base("[Fwd: [Fwd: hello]]", "HELLO", true);
	ck_base("Re: [Fwd: hello]", "HELLO", true);
	ck_base("[Fwd: hello", "[FWD: HELLO", false);
}
END_TEST

START_TEST(test_encoded)
{
	/* (1) RFC 2047 words decoded first */
	ck_base("=?utf-8?q?Re=3A_caf=C3=A9?=", "CAFE\xcc\x81", true);
	ck_base("=?iso-8859-1?q?Re:_=5Bx=5D_y?=", "Y", true);
	/* titlecase, decomposed: "é" and "É" as "E" and U+0301; "ß" has no
	 * one-character titlecase and stays; "ﬁ" decomposes */
	ck_base("=?utf-8?q?=C3=89t=C3=A9?=", "E\xcc\x81TE\xcc\x81", false);
	ck_base("=?utf-8?q?Stra=C3=9Fe?=", "STRA\xc3\x9f" "E", false);
	ck_base("=?utf-8?q?=EF=AC=81x?=", "fiX", false);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_basesubject");
	TCase *tc = tcase_create("basesubject");
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_trailer);
	tcase_add_test(tc, test_leader);
	tcase_add_test(tc, test_blob);
	tcase_add_test(tc, test_fwd_wrapper);
	tcase_add_test(tc, test_encoded);
	suite_add_tcase(s, tc);
	return s;
}

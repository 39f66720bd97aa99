/* Unit tests for mail/mailfile: Maildir names, Dovecot's files, mbox lines. */
#include <string.h>

#include "core/buf.h"
#include "mail/mailfile.h"
#include "tests/unit/runner.h"

#define S(x) x, strlen(x)

START_TEST(test_maildir_names)
{
	uint32_t kw;
	const char *n = "1700000000.M1P2.host,S=123,W=130:2,FSab";
	ck_assert_uint_eq(maildir_base_len(S(n)), strlen("1700000000.M1P2.host,S=123,W=130"));
	ck_assert_uint_eq(maildir_name_flags(S(n), &kw), MAILFILE_FLAGGED | MAILFILE_SEEN);
	ck_assert_uint_eq(kw, 3);
	ck_assert_uint_eq(maildir_name_flags(S("x:2,DPRST"), &kw),
			  MAILFILE_DRAFT | MAILFILE_ANSWERED | MAILFILE_SEEN | MAILFILE_DELETED);
	ck_assert_uint_eq(kw, 0);
	/* no info, an experimental info, '!' as on some systems */
	ck_assert_uint_eq(maildir_name_flags(S("1700000000.M1P2.host"), &kw), 0);
	ck_assert_uint_eq(maildir_name_flags(S("x:1,S"), &kw), 0);
	ck_assert_uint_eq(maildir_name_flags(S("x!2,S"), &kw), MAILFILE_SEEN);
	ck_assert_uint_eq(maildir_base_len(S("abc")), 3);

	struct buf b = BUF_INIT;
	maildir_info(MAILFILE_SEEN | MAILFILE_DRAFT | MAILFILE_ANSWERED, 1u | (1u << 25), &b);
	ck_assert_str_eq(buf_cstr(&b), ":2,DRSaz");
	maildir_info(0, 0, &b);
	ck_assert_str_eq(buf_cstr(&b), ":2,");
	buf_free(&b);
}
END_TEST

START_TEST(test_uidlist)
{
	uint32_t v, next, uid;
	const char *base;
	size_t bl;
	ck_assert_int_eq(dovecot_uidlist_header(S("3 V1700000000 N42 G0123abcd"), &v, &next), 0);
	ck_assert_uint_eq(v, 1700000000);
	ck_assert_uint_eq(next, 42);
	ck_assert_int_eq(dovecot_uidlist_header(S("1 12345 7"), &v, &next), 0);
	ck_assert_uint_eq(v, 12345);
	ck_assert_uint_eq(next, 7);
	ck_assert_int_eq(dovecot_uidlist_header(S("2 V1 N2"), &v, &next), -1);
	ck_assert_int_eq(dovecot_uidlist_header(S("3 N2"), &v, &next), -1);
	ck_assert_int_eq(dovecot_uidlist_header(S(""), &v, &next), -1);
	ck_assert_int_eq(dovecot_uidlist_header(S("3 V99999999999"), &v, &next), -1);

	ck_assert_int_eq(dovecot_uidlist_entry(S("17 :1700.M1P2.host,S=5:2,S"), &uid, &base, &bl),
			 0);
	ck_assert_uint_eq(uid, 17);
	ck_assert_int_eq((int)bl, (int)strlen("1700.M1P2.host,S=5"));
	ck_assert(strncmp(base, "1700.M1P2.host", 14) == 0);
	ck_assert_int_eq(dovecot_uidlist_entry(S("18 W130 G1a2b :1800.M1.host"), &uid, &base,
					       &bl), 0);
	ck_assert_uint_eq(uid, 18);
	ck_assert_int_eq((int)bl, (int)strlen("1800.M1.host"));
	ck_assert_int_eq(dovecot_uidlist_entry(S("5 1234.host"), &uid, &base, &bl), 0);
	ck_assert_uint_eq(uid, 5);
	ck_assert_int_eq((int)bl, 9);
	ck_assert_int_eq(dovecot_uidlist_entry(S("0 :x"), &uid, &base, &bl), -1);
	ck_assert_int_eq(dovecot_uidlist_entry(S("x :x"), &uid, &base, &bl), -1);
	ck_assert_int_eq(dovecot_uidlist_entry(S("5 :"), &uid, &base, &bl), -1);
	ck_assert_int_eq(dovecot_uidlist_entry(S("5"), &uid, &base, &bl), -1);

	unsigned idx;
	const char *kw;
	size_t kl;
	ck_assert_int_eq(dovecot_keywords_line(S("0 $Label1"), &idx, &kw, &kl), 0);
	ck_assert_uint_eq(idx, 0);
	ck_assert_int_eq((int)kl, 7);
	ck_assert_int_eq(dovecot_keywords_line(S("25 work"), &idx, &kw, &kl), 0);
	ck_assert_uint_eq(idx, 25);
	ck_assert_int_eq(dovecot_keywords_line(S("26 work"), &idx, &kw, &kl), -1);
	ck_assert_int_eq(dovecot_keywords_line(S("1 a b"), &idx, &kw, &kl), -1);
	ck_assert_int_eq(dovecot_keywords_line(S("1 "), &idx, &kw, &kl), -1);
	ck_assert_int_eq(dovecot_keywords_line(S("1 (x"), &idx, &kw, &kl), -1);
}
END_TEST

START_TEST(test_mbox_lines)
{
	time_t t;
	ck_assert(mbox_is_from_line(S("From alice@example.org Thu Feb 15 01:02:03 2007")));
	ck_assert(!mbox_is_from_line(S(">From x")));
	ck_assert(!mbox_is_from_line(S("From:")));
	ck_assert_int_eq(mbox_from_date(S("From alice@example.org Thu Feb 15 01:02:03 2007"), &t),
			 0);
	ck_assert_int_eq((long long)t, 1171501323LL);
	/* day padded with a space, as asctime(3) writes it */
	ck_assert_int_eq(mbox_from_date(S("From MAILER-DAEMON Thu Feb  1 01:02:03 2007"), &t), 0);
	ck_assert_int_eq((long long)t, 1170291723LL);
	/* a zone after the year, and one before it */
	ck_assert_int_eq(mbox_from_date(S("From a@b Thu Feb 15 03:02:03 2007 +0200"), &t), 0);
	ck_assert_int_eq((long long)t, 1171501323LL);
	ck_assert_int_eq(mbox_from_date(S("From a@b Thu Feb 15 03:02:03 +0200 2007"), &t), 0);
	ck_assert_int_eq((long long)t, 1171501323LL);
	ck_assert_int_eq(mbox_from_date(S("From a@b"), &t), -1);
	ck_assert_int_eq(mbox_from_date(S("From a@b Thu Feb 15 2007"), &t), -1);

	ck_assert_uint_eq(mbox_unescape_len(S(">From x")), 1);
	ck_assert_uint_eq(mbox_unescape_len(S(">>From x")), 1);
	ck_assert_uint_eq(mbox_unescape_len(S(">Fromx")), 0);
	ck_assert_uint_eq(mbox_unescape_len(S("> From x")), 0);
	ck_assert_uint_eq(mbox_unescape_len(S("From x")), 0);
	ck_assert(mbox_needs_escape(S("From x")));
	ck_assert(mbox_needs_escape(S(">>From x")));
	ck_assert(!mbox_needs_escape(S("from x")));
	ck_assert(!mbox_needs_escape(S(">")));

	ck_assert_uint_eq(mbox_status_flags(S(" RO"), false), MAILFILE_SEEN);
	ck_assert_uint_eq(mbox_status_flags(S(" O"), false), 0);
	ck_assert_uint_eq(mbox_status_flags(S(" AFTD"), true),
			  MAILFILE_ANSWERED | MAILFILE_FLAGGED | MAILFILE_DRAFT | MAILFILE_DELETED);
	ck_assert_uint_eq(mbox_status_flags(S("R"), true), 0);
	ck_assert(mbox_state_field(S("status")));
	ck_assert(mbox_state_field(S("X-IMAPbase")));
	ck_assert(mbox_state_field(S("Content-Length")));
	ck_assert(!mbox_state_field(S("Subject")));
	ck_assert(!mbox_state_field(S("X-Statu")));

	struct buf b = BUF_INIT;
	mbox_from_line(NULL, 1170291723, &b);
	ck_assert_str_eq(buf_cstr(&b), "From MAILER-DAEMON Thu Feb  1 01:02:03 2007\n");
	ck_assert_int_eq(mbox_from_date(b.data, b.len - 1, &t), 0);
	ck_assert_int_eq((long long)t, 1170291723LL);
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mailfile");
	TCase *tc = tcase_create("mailfile");
	tcase_add_test(tc, test_maildir_names);
	tcase_add_test(tc, test_uidlist);
	tcase_add_test(tc, test_mbox_lines);
	suite_add_tcase(s, tc);
	return s;
}

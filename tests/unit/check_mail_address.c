/* Unit tests for mail/address and mail/imapquote. */
#include <string.h>

#include "core/buf.h"
#include "mail/address.h"
#include "mail/imapquote.h"
#include "tests/unit/runner.h"

/* The IMAP form of an address list, for comparing. */
static char *
imap_of(const char *value)
{
	struct buf b = BUF_INIT;
	struct mail_address *list = mail_address_parse(value, strlen(value), 0);
	mail_address_write_imap(&b, list);
	mail_address_free(&list);
	ck_assert_ptr_null(list);
	return buf_steal(&b);
}

#define ck_imap(value, expected) \
	do { \
		char *got_ = imap_of(value); \
		ck_assert_str_eq(got_, expected); \
		free(got_); \
	} while (0)

START_TEST(test_quote_string)
{
	struct buf b = BUF_INIT;
	imap_append_string(&b, "plain", 5);
	buf_putc(&b, ' ');
	imap_append_string(&b, "a\"b\\c", 5);
	buf_putc(&b, ' ');
	imap_append_nstring(&b, NULL, 0);
	buf_putc(&b, ' ');
	imap_append_string(&b, "", 0);
	ck_assert_str_eq(buf_cstr(&b), "\"plain\" \"a\\\"b\\\\c\" NIL \"\"");
	buf_reset(&b);
	/* CR/LF and 8-bit bytes need a literal */
	imap_append_string(&b, "a\r\nb", 4);
	ck_assert_str_eq(buf_cstr(&b), "{4}\r\na\r\nb");
	buf_reset(&b);
	imap_append_string(&b, "gr\xc3\xbc\xc3\x9f", 6);
	ck_assert_str_eq(buf_cstr(&b), "{6}\r\ngr\xc3\xbc\xc3\x9f");
	buf_reset(&b);
	/* more than four quoted-specials: a literal (Dovecot's choice) */
	imap_append_string(&b, "\"\"\"\"\"", 5);
	ck_assert_str_eq(buf_cstr(&b), "{5}\r\n\"\"\"\"\"");
	buf_reset(&b);
	/* NUL travels as 0x80 in a literal */
	imap_append_string(&b, "a\0b", 3);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(memcmp(b.data, "{3}\r\na\x80" "b", 8), 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_quote_astring_nolf_humans)
{
	struct buf b = BUF_INIT;
	imap_append_astring(&b, "INBOX", 5);
	buf_putc(&b, ' ');
	imap_append_astring(&b, "NIL", 3);
	buf_putc(&b, ' ');
	imap_append_astring(&b, "two words", 9);
	buf_putc(&b, ' ');
	imap_append_astring(&b, "", 0);
	buf_putc(&b, ' ');
	imap_append_astring(&b, "a]b", 3);
	ck_assert_str_eq(buf_cstr(&b), "INBOX \"NIL\" \"two words\" \"\" a]b");
	buf_reset(&b);
	imap_append_nstring_nolf(&b, "a\nb\n c", 6);
	ck_assert_str_eq(buf_cstr(&b), "\"a b c\"");
	buf_reset(&b);
	imap_append_string_for_humans(&b, "subject header", 14);
	ck_assert_str_eq(buf_cstr(&b), "\"subject header\"");
	buf_reset(&b);
	/* folding and double spaces are cleaned, which makes it a literal */
	imap_append_string_for_humans(&b, " a\n\tb  c ", 9);
	ck_assert_str_eq(buf_cstr(&b), "{5}\r\na b c");
	buf_reset(&b);
	imap_append_string_for_humans(&b, " \t ", 3);
	ck_assert_str_eq(buf_cstr(&b), "\"\"");
	buf_reset(&b);
	imap_append_string_for_humans(&b, "say \"hi\"", 8);
	ck_assert_str_eq(buf_cstr(&b), "{8}\r\nsay \"hi\"");
	buf_free(&b);
}
END_TEST

START_TEST(test_simple)
{
	ck_imap("user@domain", "((NIL NIL \"user\" \"domain\"))");
	ck_imap("From Real <fromuser@fromdomain.org>",
		"((\"From Real\" NIL \"fromuser\" \"fromdomain.org\"))");
	ck_imap("<a@b.example>", "((NIL NIL \"a\" \"b.example\"))");
	ck_imap("user@domain (Real Name)",
		"((\"Real Name\" NIL \"user\" \"domain\"))");
	ck_imap("\"Doe, John\" <john@example.org>, jane@example.org",
		"((\"Doe, John\" NIL \"john\" \"example.org\")"
		"(NIL NIL \"jane\" \"example.org\"))");
	ck_imap("John Q. Public <jqp@example.com>",
		"((\"John Q. Public\" NIL \"jqp\" \"example.com\"))");
	ck_imap("\"quoted local\"@example.com",
		"((NIL NIL \"quoted local\" \"example.com\"))");
	ck_imap("a@[192.0.2.1]", "((NIL NIL \"a\" \"[192.0.2.1]\"))");
	/* encoded words stay as written: clients decode them */
	ck_imap("=?utf-8?q?J=C3=B6rg?= <j@example.de>",
		"((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.de\"))");
	/* 8-bit display names become literals */
	ck_imap("J\xc3\xb6rg <j@example.de>",
		"(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"example.de\"))");
}
END_TEST

START_TEST(test_groups)
{
	ck_imap("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;",
		"((NIL NIL \"group\" NIL)"
		"(NIL NIL \"g1\" \"d1.org\")"
		"(NIL NIL \"g2\" \"d2.org\")"
		"(NIL NIL NIL NIL)"
		"(NIL NIL \"group2\" NIL)"
		"(NIL NIL \"g3\" \"d3.org\")"
		"(NIL NIL NIL NIL))");
	ck_imap("group:;, group2: (foo) ;",
		"((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)"
		"(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL))");
	ck_imap("undisclosed-recipients:;",
		"((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
}
END_TEST

START_TEST(test_obsolete)
{
	ck_imap("<@route:user@domain>",
		"((NIL \"@route\" \"user\" \"domain\"))");
	ck_imap("Name <@r1,@r2:u@d>",
		"((\"Name\" \"@r1,@r2\" \"u\" \"d\"))");
	/* white space around the dots of a local part is not read as
	 * obs-local-part but as words of a display name (as Dovecot 2.3.19
	 * answers) */
	ck_imap("john . doe @ example . org",
		"(({9}\r\njohn. doe NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	/* dots anywhere in a local part are accepted (common in Japan) */
	ck_imap("us..er@example.org", "((NIL NIL \"us..er\" \"example.org\"))");
	ck_imap(".user@example.org", "((NIL NIL \".user\" \"example.org\"))");
	ck_imap("user.@example.org", "((NIL NIL \"user.\" \"example.org\"))");
	/* folding inside the value */
	ck_imap("A B\r\n <ab@example.org>,\r\n\tc@example.org",
		"((\"A B\" NIL \"ab\" \"example.org\")"
		"(NIL NIL \"c\" \"example.org\"))");
	/* empty elements of obs-addr-list */
	ck_imap("a@b, , c@d", "((NIL NIL \"a\" \"b\")"
		"(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
		"(NIL NIL \"c\" \"d\"))");
}
END_TEST

START_TEST(test_broken)
{
	ck_assert_ptr_null(mail_address_parse("", 0, 0));
	ck_assert_ptr_null(mail_address_parse("  (just a comment) ", 19, 0));
	ck_imap("user", "((NIL NIL \"user\" \"MISSING_DOMAIN\"))");
	ck_imap("@domain", "((NIL NIL \"MISSING_MAILBOX\" \"domain\"))");
	ck_imap("Name <user@", "((\"Name\" NIL \"user\" \"SYNTAX_ERROR\"))");
	/* a broken route is marked, the address after it still read */
	ck_imap("Name <@bad user@x>",
		"((\"Name\" \"INVALID_ROUTE\" \"user\" \"x\"))");
	ck_imap("<>", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	/* words without an address are a display name (Dovecot 2.3) */
	ck_imap("John Smith",
		"((\"John Smith\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	/* a broken member does not end its group */
	ck_imap("g: a@b, <bad, c@d;",
		"((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")"
		"(NIL NIL \"bad\" \"SYNTAX_ERROR\")"
		"(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL))");
	ck_imap("\"unterminated <a@b>",
		"((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	/* as in Dovecot, a broken comment after the domain loses it */
	ck_imap("a@b (unterminated comment",
		"((NIL NIL \"a\" \"MISSING_DOMAIN\"))");
	struct mail_address *a = mail_address_parse("user", 4, 0);
	ck_assert(a->invalid);
	mail_address_free(&a);

	/* every prefix of a messy list parses without trouble */
	const char *messy = "\"A \\\"B\\\"\" <@x,@y:a@[1.2.3.4]>, g: (c) x@y, "
			    "<z@w>; k.l@m (n (o) p), \"q\r\n r\" <s@t>";
	for (size_t i = 0; i <= strlen(messy); i++) {
		struct mail_address *l = mail_address_parse(messy, i, 0);
		struct buf b = BUF_INIT;
		mail_address_write_imap(&b, l);
		ck_assert_uint_gt(b.len, 2);
		buf_free(&b);
		mail_address_free(&l);
	}
}
END_TEST

START_TEST(test_nul_bytes)
{
	/* atoms end at NUL; in quoted strings and comments it becomes
	 * U+FFFD (Dovecot 2.3.19's answers) */
	struct buf b = BUF_INIT;
	struct mail_address *l = mail_address_parse("a@bc\0de", 7, 0);
	mail_address_write_imap(&b, l);
	ck_assert_str_eq(buf_cstr(&b), "((NIL NIL \"a\" \"bc\"))");
	mail_address_free(&l);
	buf_reset(&b);
	l = mail_address_parse("\"q\0r\" <c@d>", 12, 0);
	mail_address_write_imap(&b, l);
	ck_assert_str_eq(buf_cstr(&b), "(({5}\r\nq\xef\xbf\xbdr NIL \"c\" \"d\"))");
	mail_address_free(&l);
	buf_reset(&b);
	l = mail_address_parse("n\0m <a@b>", 10, 0);
	mail_address_write_imap(&b, l);
	ck_assert_str_eq(buf_cstr(&b), "((NIL NIL \"n\" \"MISSING_DOMAIN\"))");
	mail_address_free(&l);
	buf_free(&b);
}
END_TEST

START_TEST(test_limit_and_addr_spec)
{
	struct mail_address *l = mail_address_parse("a@b, c@d, e@f", 13, 2);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(l->next);
	ck_assert_ptr_null(l->next->next);
	struct buf b = BUF_INIT;
	ck_assert_int_eq(mail_address_append_addr_spec(&b, l->next), 0);
	ck_assert_str_eq(buf_cstr(&b), "c@d");
	mail_address_free(&l);
	l = mail_address_parse("g:;", 3, 0);
	ck_assert_int_eq(mail_address_append_addr_spec(&b, l), -1);
	mail_address_free(&l);
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_address");
	TCase *tc = tcase_create("address");
	tcase_add_test(tc, test_quote_string);
	tcase_add_test(tc, test_quote_astring_nolf_humans);
	tcase_add_test(tc, test_simple);
	tcase_add_test(tc, test_groups);
	tcase_add_test(tc, test_obsolete);
	tcase_add_test(tc, test_broken);
	tcase_add_test(tc, test_nul_bytes);
	tcase_add_test(tc, test_limit_and_addr_spec);
	suite_add_tcase(s, tc);
	return s;
}

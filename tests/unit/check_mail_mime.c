/* Unit tests for mail/mime: part tree, ENVELOPE, BODY/BODYSTRUCTURE,
 * sections, search text.  Several cases are Dovecot's own test vectors
 * (lib-imap/test-imap-bodystructure.c, test-imap-envelope.c), turned into
 * CRLF messages as mailhub stores them. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "tests/unit/runner.h"

/* LF -> CRLF, as messages are stored. */
static char *
crlf(const char *lf, size_t *len_r)
{
	struct buf b = BUF_INIT;
	for (const char *p = lf; *p != '\0'; p++) {
		if (*p == '\n' && (p == lf || p[-1] != '\r'))
			buf_putc(&b, '\r');
		buf_putc(&b, *p);
	}
	*len_r = b.len;
	return buf_steal(&b);
}

static char *
bs_of(const char *msg, size_t len, bool extended)
{
	struct buf b = BUF_INIT;
	struct mime_part *root = mime_parse(msg, len);
	ck_assert_int_eq(mime_write_bodystructure(&b, msg, root, extended), 0);
	mime_part_free(&root);
	ck_assert_ptr_null(root);
	return buf_steal(&b);
}

static void
ck_structure(const char *lf_msg, const char *bodystructure, const char *body)
{
	size_t len;
	char *msg = crlf(lf_msg, &len);
	char *got = bs_of(msg, len, true);
	ck_assert_str_eq(got, bodystructure);
	free(got);
	got = bs_of(msg, len, false);
	ck_assert_str_eq(got, body);
	free(got);
	free(msg);
}

static char *
env_of(const char *lf_msg)
{
	size_t len;
	char *msg = crlf(lf_msg, &len);
	struct buf b = BUF_INIT;
	ck_assert_int_eq(mime_write_envelope(&b, msg, mail_header_size(msg, len)), 0);
	free(msg);
	return buf_steal(&b);
}

#define ck_envelope(msg, want) \
	do { \
		char *got_ = env_of(msg); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

/* ---- Dovecot's vectors ------------------------------------------------ */

START_TEST(test_dovecot_simple)
{
	ck_structure("From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: text/plain; charset=us-ascii\n"
		     "\n"
		     "body\n",
		     "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL",
		     "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1");
	ck_structure("From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: text/plain; charset=utf-8\n"
		     "Content-Transfer-Encoding: 8bit\n"
		     "\n"
		     "body\n"
		     "\n",
		     "\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2 NIL NIL NIL NIL",
		     "\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2");
	ck_structure("From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: multipart/mixed; boundary=\"foo\n"
		     " bar\"\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: text/x-myown; charset=us-ascii\n"
		     "\n"
		     "hello\n"
		     "\n"
		     "--foo bar--\n"
		     "\n",
		     "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
		     "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1) \"mixed\"");
	/* a multipart without parts */
	ck_structure("Content-Type: multipart/mixed; boundary=\"foo\"\n\n",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\"");
}
END_TEST

START_TEST(test_dovecot_rfc822)
{
	ck_structure("From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: text/plain; charset=us-ascii\n"
		     "Content-ID: <A.frop.example.com>\n"
		     "Content-Description: Container message\n"
		     "\n"
		     "See attached...\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: message/rfc822\n"
		     "Content-ID: <B.frop.example.com>\n"
		     "Content-Description: Forwarded\n"
		     "\n"
		     "From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: text/plain; charset=us-ascii\n"
		     "\n"
		     "body\n"
		     "\n"
		     "--foo bar--\n",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\" \"Container message\" \"7bit\" 17 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133 (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\" \"Container message\" \"7bit\" 17 1)(\"message\" \"rfc822\" NIL \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133 (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) 6) \"mixed\"");
}
END_TEST

START_TEST(test_dovecot_extensions)
{
	ck_structure("From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: text/plain; charset=us-ascii; format=\"flowed\";\n"
		     "  delsp=\"no\"\n"
		     "Content-Language: la\n"
		     "\n"
		     "Lorem ipsum\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: image/png\n"
		     "Content-Transfer-Encoding: base64\n"
		     "Content-Disposition: attachment; filename=\"pigeon.png\"\n"
		     "\n"
		     "iVBORw0KGgo=\n"
		     "--foo bar--\n",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\" \"delsp\" \"no\") NIL NIL \"7bit\" 13 1 NIL NIL (\"la\") NIL)(\"image\" \"png\" NIL NIL NIL \"base64\" 12 NIL (\"attachment\" (\"filename\" \"pigeon.png\")) NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\" \"delsp\" \"no\") NIL NIL \"7bit\" 13 1)(\"image\" \"png\" NIL NIL NIL \"base64\" 12) \"mixed\"");
	ck_structure("From: user@domain.org\n"
		     "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
		     "Mime-Version: 1.0\n"
		     "Content-Type: multipart/mixed; boundary=\"foo\n"
		     " bar\"\n"
		     "\n"
		     "Root MIME prologue\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n"
		     "Content-ID: <foo@example.com>\n"
		     "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
		     "Content-Disposition: inline; foo=bar\n"
		     "Content-Description: hellodescription\n"
		     "Content-Language: en, fi, se\n"
		     "Content-Location: http://example.com/test.txt\n"
		     "\n"
		     "hello\n"
		     "\n"
		     "--foo bar\n"
		     "Content-Type: message/rfc822\n"
		     "\n"
		     "From: sub@domain.org\n"
		     "To: sub-to1@domain.org, sub-to2@domain.org\n"
		     "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
		     "Subject: submsg\n"
		     "Content-Type: multipart/alternative; boundary=\"sub1\"\n"
		     "\n"
		     "Sub MIME prologue\n"
		     "--sub1\n"
		     "Content-Type: text/html\n"
		     "Content-Transfer-Encoding: 8bit\n"
		     "\n"
		     "<p>Hello world</p>\n"
		     "\n"
		     "--sub1\n"
		     "Content-Type: text/plain\n"
		     "Content-Transfer-Encoding: ?invalid\n"
		     "\n"
		     "Hello another world\n"
		     "\n"
		     "--sub1--\n"
		     "Sub MIME epilogue\n"
		     "\n"
		     "--foo bar--\n"
		     "Root MIME epilogue\n",
		     "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"foo\" \"bar\")) (\"en\" \"fi\" \"se\") \"http://example.com/test.txt\")(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"sub1\") NIL NIL NIL) 21 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL",
		     "(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1) \"alternative\") 21) \"mixed\"");
}
END_TEST

START_TEST(test_dovecot_envelopes)
{
	ck_envelope("Message-ID: <msg@id>\n"
		    "In-Reply-To: <reply@to.id>\n"
		    "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
		    "Subject: subject header\n"
		    "From: From Real <fromuser@fromdomain.org>\n"
		    "To: To Real <touser@todomain.org>\n"
		    "Cc: Cc Real <ccuser@ccdomain.org>\n"
		    "Bcc: Bcc Real <bccuser@bccdomain.org>\n"
		    "Sender: Sender Real <senderuser@senderdomain.org>\n"
		    "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n"
		    "\n"
		    "body\n",
		    "\"Thu, 15 Feb 2007 01:02:03 +0200\" "
		    "\"subject header\" "
		    "((\"From Real\" NIL \"fromuser\" \"fromdomain.org\")) "
		    "((\"Sender Real\" NIL \"senderuser\" \"senderdomain.org\")) "
		    "((\"ReplyTo Real\" NIL \"replytouser\" \"replytodomain.org\")) "
		    "((\"To Real\" NIL \"touser\" \"todomain.org\")) "
		    "((\"Cc Real\" NIL \"ccuser\" \"ccdomain.org\")) "
		    "((\"Bcc Real\" NIL \"bccuser\" \"bccdomain.org\")) "
		    "\"<reply@to.id>\" \"<msg@id>\"");
	ck_envelope("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
		    "From: user@domain\n"
		    "\n"
		    "body\n",
		    "\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL "
		    "((NIL NIL \"user\" \"domain\")) "
		    "((NIL NIL \"user\" \"domain\")) "
		    "((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL");
	ck_envelope("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
		    "From: user@domain (Real Name)\n"
		    "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
		    "Cc: group:;, group2: (foo) ;\n"
		    "\n"
		    "body\n",
		    "\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL "
		    "((\"Real Name\" NIL \"user\" \"domain\")) "
		    "((\"Real Name\" NIL \"user\" \"domain\")) "
		    "((\"Real Name\" NIL \"user\" \"domain\")) "
		    "((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")"
		    "(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)"
		    "(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")"
		    "(NIL NIL NIL NIL)) "
		    "((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)"
		    "(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)) "
		    "NIL NIL NIL");
	ck_envelope("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
		    "From: user@domain (Real Name)\n"
		    "Sender: \n"
		    "Reply-To: \n"
		    "\n"
		    "body\n",
		    "\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL "
		    "((\"Real Name\" NIL \"user\" \"domain\")) "
		    "((\"Real Name\" NIL \"user\" \"domain\")) "
		    "((\"Real Name\" NIL \"user\" \"domain\")) "
		    "NIL NIL NIL NIL NIL");
	ck_envelope("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
		    "From: <@route:user@domain>\n"
		    "\n"
		    "body\n",
		    "\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL "
		    "((NIL \"@route\" \"user\" \"domain\")) "
		    "((NIL \"@route\" \"user\" \"domain\")) "
		    "((NIL \"@route\" \"user\" \"domain\")) "
		    "NIL NIL NIL NIL NIL");
}
END_TEST

/* ---- more real shapes --------------------------------------------------- */

START_TEST(test_envelope_shapes)
{
	/* no header at all */
	ck_envelope("\nbody\n", "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL");
	/* folded and 8-bit subjects become literals; encoded words stay;
	 * the last Subject counts */
	ck_envelope("Subject: first\n"
		    "Subject: =?utf-8?q?caf=C3=A9?= and\n"
		    "  more\n"
		    "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\n"
		    "\n",
		    "NIL {30}\r\n=?utf-8?q?caf=C3=A9?= and more "
		    "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.de\")) "
		    "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.de\")) "
		    "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"example.de\")) "
		    "NIL NIL NIL NIL NIL");
	ck_envelope("Subject: Gr\xc3\xbc\xc3\x9f" "e\n\n",
		    "NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e NIL NIL NIL NIL NIL NIL NIL NIL");
	/* undisclosed recipients and a quoted display name */
	ck_envelope("From: \"Doe, Jane\" <jane@example.org>\n"
		    "To: undisclosed-recipients:;\n"
		    "Message-ID: <1@example.org>\n\n",
		    "NIL NIL ((\"Doe, Jane\" NIL \"jane\" \"example.org\")) "
		    "((\"Doe, Jane\" NIL \"jane\" \"example.org\")) "
		    "((\"Doe, Jane\" NIL \"jane\" \"example.org\")) "
		    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
		    "NIL NIL NIL \"<1@example.org>\"");
	/* every From line adds its addresses; NUL in text becomes U+FFFD;
	 * a value starting on a continuation line keeps its line break,
	 * which makes the subject a literal; folded dates and ids lose their
	 * line breaks (all checked against Dovecot 2.3.19) */
	ck_envelope("From: a@b\n"
		    "Subject:\n folded-only\n"
		    "From: c@d\n"
		    "Date: Thu, 15 Feb 2007\n 01:02:03 +0200\n"
		    "In-Reply-To: <x@y>\n <z@w>\n\n",
		    "\"Thu, 15 Feb 2007 01:02:03 +0200\" {11}\r\nfolded-only "
		    "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) "
		    "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) "
		    "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) "
		    "NIL NIL NIL \"<x@y> <z@w>\" NIL");
	{
		static const char nul[] = "Subject: x\0y\r\nMessage-ID: <a\0b>\r\n\r\n";
		struct buf b = BUF_INIT;
		ck_assert_int_eq(mime_write_envelope(&b, nul, sizeof nul - 1), 0);
		ck_assert_str_eq(buf_cstr(&b),
				 "NIL {5}\r\nx\xef\xbf\xbdy NIL NIL NIL NIL NIL NIL NIL "
				 "{7}\r\n<a\xef\xbf\xbd" "b>");
		buf_free(&b);
	}
	/* a line without a colon is no Subject */
	ck_envelope("Subject\n\n", "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL");
	/* a too small buffer is left alone */
	struct buf small;
	buf_init(&small, 10);
	ck_assert_int_eq(mime_write_envelope(&small, "Subject: x\r\n\r\n", 14), -1);
	ck_assert_uint_eq(small.len, 0);
	buf_free(&small);
}
END_TEST

START_TEST(test_defaults)
{
	/* no MIME at all: text/plain us-ascii */
	ck_structure("Subject: hi\n\nline one\nline two\n",
		     "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL",
		     "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2");
	/* Content-Type without MIME-Version counts (Dovecot is not strict);
	 * type and subtype keep their case; a missing charset is added only
	 * for text */
	ck_structure("Content-Type: TEXT/HTML\n\n<p>x</p>",
		     "\"TEXT\" \"HTML\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL",
		     "\"TEXT\" \"HTML\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0");
	ck_structure("MIME-Version: 1.0\nContent-Type: application/pdf; name=a.pdf\n"
		     "Content-Transfer-Encoding: BASE64\n\nJVBERi0=\n",
		     "\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"BASE64\" 10 NIL NIL NIL NIL",
		     "\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"BASE64\" 10");
	/* a multipart without boundary stays a multipart without parts
	 * (checked against Dovecot 2.3.19) */
	ck_structure("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\"");
	/* a type without subtype keeps its type; worse breakage gives ""
	 * "" without parameters (both as Dovecot 2.3.19) */
	ck_structure("MIME-Version: 1.0\nContent-Type: image\n\nxx",
		     "\"image\" \"\" NIL NIL NIL \"7bit\" 2 NIL NIL NIL NIL",
		     "\"image\" \"\" NIL NIL NIL \"7bit\" 2");
	ck_structure("MIME-Version: 1.0\nContent-Type: text/plain charset=utf-8\n\nxx",
		     "\"\" \"\" NIL NIL NIL \"7bit\" 2 NIL NIL NIL NIL",
		     "\"\" \"\" NIL NIL NIL \"7bit\" 2");
	ck_structure("MIME-Version: 1.0\nContent-Type: text\nContent-Disposition: ; filename=x\n\nx\ny\n",
		     "\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 2 NIL (\"\" (\"filename\" \"x\")) NIL NIL",
		     "\"text\" \"\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 2");
}
END_TEST

START_TEST(test_digest_and_alternative)
{
	ck_structure("MIME-Version: 1.0\n"
		     "Content-Type: multipart/digest; boundary=d\n"
		     "\n"
		     "--d\n"
		     "\n"
		     "Subject: one\n"
		     "\n"
		     "first\n"
		     "--d\n"
		     "Content-Type: text/plain\n"
		     "\n"
		     "plain\n"
		     "--d--\n",
		     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 (NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)"
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL",
		     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 (NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) 2)"
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) \"digest\"");
	/* mixed with an alternative inside and an attachment with RFC 2231
	 * parameters */
	ck_structure("MIME-Version: 1.0\n"
		     "Content-Type: multipart/mixed; boundary=\"outer\"\n"
		     "\n"
		     "This is a multi-part message in MIME format.\n"
		     "--outer\n"
		     "Content-Type: multipart/alternative; boundary=\"inner\"\n"
		     "\n"
		     "--inner\n"
		     "Content-Type: text/plain; charset=UTF-8\n"
		     "Content-Transfer-Encoding: quoted-printable\n"
		     "\n"
		     "caf=C3=A9\n"
		     "--inner\n"
		     "Content-Type: text/html; charset=UTF-8\n"
		     "\n"
		     "<b>caf\xc3\xa9</b>\n"
		     "--inner--\n"
		     "\n"
		     "--outer\n"
		     "Content-Type: application/octet-stream;\n"
		     " name*0*=utf-8''%E2%82%AC%20rates;\n"
		     " name*1=\".pdf\"\n"
		     "Content-Disposition: attachment;\n"
		     " filename*=UTF-8''%E2%82%AC%20rates.pdf; size=3\n"
		     "Content-Transfer-Encoding: base64\n"
		     "\n"
		     "AAAA\n"
		     "--outer--\n",
		     "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 9 0 NIL NIL NIL NIL)"
		     "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)"
		     "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") NIL NIL \"base64\" 4 NIL"
		     " (\"attachment\" (\"size\" \"3\" \"filename*\" \"UTF-8''%E2%82%AC%20rates.pdf\")) NIL NIL)"
		     " \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL",
		     "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 9 0)"
		     "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 12 0) \"alternative\")"
		     "(\"application\" \"octet-stream\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") NIL NIL \"base64\" 4)"
		     " \"mixed\"");
}
END_TEST

START_TEST(test_broken_mime)
{
	/* unterminated last boundary: the part runs to the end */
	ck_structure("Content-Type: multipart/mixed; boundary=b\n\n"
		     "--b\nContent-Type: text/plain\n\nabc\n",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1) \"mixed\"");
	/* an outer boundary ends an unterminated inner multipart; the
	 * inner boundary starts with the outer one and must still win */
	ck_structure("Content-Type: multipart/mixed; boundary=a\n\n"
		     "--a\nContent-Type: multipart/alternative; boundary=a1\n\n"
		     "--a1\n\none\n"
		     "--a1\n\ntwo\n"
		     "--a\n\nthree\n"
		     "--a--\n",
		     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)"
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"a1\") NIL NIL NIL)"
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL",
		     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"alternative\")"
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) \"mixed\"");
	/* header line without colon, junk after a boundary, NUL bytes */
	static const char nul[] =
		"Content-Type: multipart/mixed; boundary=z\r\n\r\n"
		"--z  trailing junk\r\n"
		"no colon line\r\n"
		"Content-Type: text/plain\r\n\r\n"
		"a\0b\r\n"
		"--z--";
	char *got = bs_of(nul, sizeof nul - 1, false);
	ck_assert_str_eq(got, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\"");
	free(got);
	struct mime_part *root = mime_parse(nul, sizeof nul - 1);
	ck_assert(root->children->flags & MIME_PART_HAS_NULS);
	mime_part_free(&root);
	/* a part without any header before the body */
	ck_structure("Content-Type: multipart/mixed; boundary=q\n\n--q\nno header\n--q--\n",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"q\") NIL NIL NIL",
		     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\"");
}
END_TEST

START_TEST(test_lf_only)
{
	const char *msg = "Content-Type: multipart/mixed; boundary=x\n\n"
			  "--x\nContent-Type: text/plain\n\nhello\nworld\n--x--\n";
	char *got = bs_of(msg, strlen(msg), false);
	/* sizes are bytes as stored */
	ck_assert_str_eq(got, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1) \"mixed\"");
	free(got);
}
END_TEST

START_TEST(test_limits)
{
	/* nesting deeper than MIME_DEPTH_MAX is not opened */
	struct buf m = BUF_INIT;
	for (int i = 0; i < MIME_DEPTH_MAX + 5; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	buf_puts(&m, "\r\nleaf\r\n");
	struct mime_part *root = mime_parse(m.data, m.len);
	int depth = 0;
	const struct mime_part *p = root;
	while (p->children != NULL) {
		p = p->children;
		depth++;
	}
	ck_assert_int_eq(depth, MIME_DEPTH_MAX);
	ck_assert(!(p->flags & MIME_PART_MULTIPART));
	struct buf out = BUF_INIT;
	ck_assert_int_eq(mime_write_bodystructure(&out, m.data, root, true), 0);
	mime_part_free(&root);
	buf_free(&out);
	buf_reset(&m);

	/* more parts than MIME_PARTS_MAX are not recorded */
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < MIME_PARTS_MAX + 50; i++)
		buf_puts(&m, "--p\r\n\r\nx\r\n");
	root = mime_parse(m.data, m.len);
	size_t n = 0;
	for (p = root->children; p != NULL; p = p->next)
		n++;
	ck_assert_uint_eq(n, MIME_PARTS_MAX - 1);
	mime_part_free(&root);
	buf_free(&m);
}
END_TEST

/* Boundary lines are found among lines with '-' anywhere (the scan goes
 * from '-' to '-'), and lines are counted right across long bodies. */
START_TEST(test_scan_and_count)
{
	static const char *const lines[] = {
		"- item", "a-b-c", "-", "--x", "---", "plain", "", "-b", " --b",
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJz",
	};
	struct buf m = BUF_INIT;
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n");
	size_t body_off = m.len, want_lines = 0;
	for (size_t i = 0; i < 1000; i++) {
		buf_puts(&m, lines[i * 7 % (sizeof lines / sizeof lines[0])]);
		buf_puts(&m, i % 3 == 0 ? "\n" : "\r\n");
		want_lines++;
	}
	buf_puts(&m, "last");	/* the line end before the boundary is its own */
	size_t body_len = m.len - body_off;
	buf_puts(&m, "\r\n--b\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--b--\r\n");
	struct mime_part *root = mime_parse(m.data, m.len);
	const struct mime_part *one = root->children;
	ck_assert_ptr_nonnull(one);
	ck_assert_ptr_nonnull(one->next);
	ck_assert_ptr_null(one->next->next);
	ck_assert_uint_eq(one->body_off, body_off);
	ck_assert_uint_eq(one->body_len, body_len);
	ck_assert_uint_eq(one->body_lines, want_lines);
	ck_assert_uint_eq(one->next->body_len, 3);
	mime_part_free(&root);
	buf_free(&m);
}
END_TEST

/* The ENVELOPE takes at most MIME_ENVELOPE_FIELD_MAX bytes of a field and
 * of the address fields together, cut after a whole address; the store's
 * cache is the ENVELOPE and BODYSTRUCTURE as the writers make them. */
START_TEST(test_envelope_bound)
{
	struct buf m = BUF_INIT;
	buf_puts(&m, "From: f@example.org\r\nTo: ");
	unsigned n = 1;
	buf_puts(&m, "x1@example.org");
	while (m.len < 2 * MIME_ENVELOPE_FIELD_MAX)
		buf_printf(&m, ", x%u@example.org", ++n);
	buf_puts(&m, "\r\nCc: late@example.org\r\nSubject: ");
	size_t subject = m.len;
	while (m.len - subject < 2 * MIME_ENVELOPE_FIELD_MAX)
		buf_puts(&m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	buf_puts(&m, "\r\n\r\nbody\r\n");
	char *env, *bs;
	mime_imap_cache(m.data, m.len, &env, &bs);
	/* the first addresses are there, the last ones and Cc (past the
	 * limit) are not, and the list ends with a whole address */
	ck_assert_ptr_nonnull(strstr(env, "(NIL NIL \"x1\" \"example.org\")"));
	char last[32];
	snprintf(last, sizeof last, "\"x%u\"", n);
	ck_assert_ptr_null(strstr(env, last));
	ck_assert_ptr_null(strstr(env, "\"late\""));
	ck_assert_ptr_nonnull(strstr(env, "\"example.org\")) NIL NIL NIL"));
	ck_assert_uint_lt(strlen(env), 4 * MIME_ENVELOPE_FIELD_MAX);
	/* the Subject is there, cut */
	size_t run = 0, longest = 0;
	for (const char *p = env; *p != '\0'; p++) {
		run = *p == 'a' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	ck_assert_uint_gt(longest, MIME_ENVELOPE_FIELD_MAX - 1000);
	ck_assert_uint_le(longest, MIME_ENVELOPE_FIELD_MAX);

	struct mime_part *root = mime_parse(m.data, m.len);
	struct buf e = BUF_INIT, b = BUF_INIT;
	ck_assert_int_eq(mime_write_envelope(&e, m.data, root->hdr_len), 0);
	ck_assert_int_eq(mime_write_bodystructure(&b, m.data, root, true), 0);
	ck_assert_str_eq(env, e.data);
	ck_assert_str_eq(bs, b.data);
	mime_part_free(&root);
	buf_free(&e);
	buf_free(&b);
	free(env);
	free(bs);
	buf_free(&m);
}
END_TEST

/* ---- sections ----------------------------------------------------------- */

static const char sect_msg[] =
	"Subject: top\r\n"
	"Content-Type: multipart/mixed; boundary=s\r\n"
	"\r\n"
	"--s\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"part one\r\n"
	"--s\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=t\r\n"
	"\r\n"
	"--t\r\n"
	"\r\n"
	"inner one\r\n"
	"--t\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<b>two</b>\r\n"
	"--t--\r\n"
	"--s\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: plain inner\r\n"
	"\r\n"
	"just text\r\n"
	"--s--\r\n";

static char *
section(const struct mime_part *root, const char *path, enum mime_section what)
{
	size_t off, len;
	if (mime_section_find(root, path, strlen(path), what, &off, &len) < 0)
		return NULL;
	return strndup(sect_msg + off, len);
}

#define ck_section(root, path, what, want) \
	do { \
		char *got_ = section(root, path, what); \
		ck_assert_ptr_nonnull(got_); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

START_TEST(test_sections)
{
	struct mime_part *root = mime_parse(sect_msg, sizeof sect_msg - 1);
	ck_section(root, "", MIME_SECTION_HEADER,
		   "Subject: top\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n");
	ck_section(root, "", MIME_SECTION_ALL, sect_msg);
	ck_section(root, "1", MIME_SECTION_ALL, "part one");
	ck_section(root, "1", MIME_SECTION_MIME, "Content-Type: text/plain\r\n\r\n");
	const char *inner =
		"Subject: inner\r\n"
		"Content-Type: multipart/alternative; boundary=t\r\n"
		"\r\n"
		"--t\r\n\r\ninner one\r\n--t\r\nContent-Type: text/html\r\n"
		"\r\n<b>two</b>\r\n--t--\r\n";
	/* the line end after "--t--" is the first line of the (empty)
	 * epilogue, so it stays in the part, as in Dovecot */
	ck_section(root, "2", MIME_SECTION_ALL, inner);
	ck_section(root, "2", MIME_SECTION_HEADER,
		   "Subject: inner\r\nContent-Type: multipart/alternative; boundary=t\r\n\r\n");
	ck_section(root, "2", MIME_SECTION_TEXT,
		   "--t\r\n\r\ninner one\r\n--t\r\nContent-Type: text/html\r\n"
		   "\r\n<b>two</b>\r\n--t--\r\n");
	ck_section(root, "2", MIME_SECTION_MIME, "Content-Type: message/rfc822\r\n\r\n");
	ck_section(root, "2.1", MIME_SECTION_ALL, "inner one");
	ck_section(root, "2.1", MIME_SECTION_MIME, "\r\n");
	ck_section(root, "2.2", MIME_SECTION_ALL, "<b>two</b>");
	ck_section(root, "2.2", MIME_SECTION_MIME, "Content-Type: text/html\r\n\r\n");
	ck_section(root, "3.1", MIME_SECTION_ALL, "just text");
	ck_section(root, "3", MIME_SECTION_HEADER, "Subject: plain inner\r\n\r\n");
	ck_section(root, "3", MIME_SECTION_TEXT, "just text");
	/* a part that is no container has one part, itself (Dovecot) */
	ck_section(root, "1.1", MIME_SECTION_ALL, "part one");
	ck_section(root, "1.1", MIME_SECTION_MIME, "Content-Type: text/plain\r\n\r\n");
	ck_section(root, "2.2.1", MIME_SECTION_ALL, "<b>two</b>");
	const char *bad[] = { "4", "0", "1.1.1", "3.2", "3.1.1", "01", "1.",
			      ".1", "a", "2.3", "1.2.3.4.5", "2.2.1.1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_ptr_null(section(root, bad[i], MIME_SECTION_ALL));
	ck_assert_ptr_null(section(root, "1", MIME_SECTION_HEADER));
	ck_assert_ptr_null(section(root, "1", MIME_SECTION_TEXT));
	ck_assert_ptr_null(section(root, "", MIME_SECTION_MIME));
	mime_part_free(&root);

	/* a message that is not multipart: part 1 is its body */
	const char *single = "Subject: x\r\n\r\nbody\r\n";
	size_t off, len;
	root = mime_parse(single, strlen(single));
	ck_assert_int_eq(mime_section_find(root, "1", 1, MIME_SECTION_ALL, &off, &len), 0);
	ck_assert_uint_eq(off, 14);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(mime_section_find(root, "", 0, MIME_SECTION_TEXT, &off, &len), 0);
	ck_assert_uint_eq(off, 14);
	ck_assert_int_eq(mime_section_find(root, "1", 1, MIME_SECTION_MIME, &off, &len), 0);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(len, 14);
	ck_assert_int_eq(mime_section_find(root, "2", 1, MIME_SECTION_ALL, &off, &len), -1);
	ck_assert_int_eq(mime_section_find(root, "1.1", 3, MIME_SECTION_ALL, &off, &len), -1);
	mime_part_free(&root);
}
END_TEST

START_TEST(test_search_text)
{
	const char *msg =
		"From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\r\n"
		"Subject: =?iso-8859-1?q?caf=E9?=\r\n"
		"Content-Type: multipart/mixed; boundary=m\r\n"
		"\r\n"
		"preamble is not text\r\n"
		"--m\r\n"
		"Content-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"na=EFve soft=\r\nbreak\r\n"
		"--m\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"PGI+w7w8L2I+\r\n"
		"--m\r\n"
		"Content-Type: image/png\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"iVBORw0KGgo=\r\n"
		"--m\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"Subject: inner\r\n"
		"\r\n"
		"inner body\r\n"
		"--m--\r\n";
	struct mime_part *root = mime_parse(msg, strlen(msg));
	struct buf out = BUF_INIT;
	mime_search_text(&out, msg, root);
	ck_assert_str_eq(buf_cstr(&out),
			 "From: J\xc3\xb6rg <j@example.de>\n"
			 "Subject: caf\xc3\xa9\n"
			 "Content-Type: multipart/mixed; boundary=m\n"
			 "na\xc3\xafve softbreak\n"
			 /* the HTML part reduced to its text (mail/htmltext.c) */
			 "\xc3\xbc\n"
			 "Subject: inner\n"
			 "inner body\n");
	/* bounded: stops at the limit, never splits a character */
	struct buf small;
	buf_init(&small, 8);
	mime_search_text(&small, msg, root);
	ck_assert_str_eq(buf_cstr(&small), "From: J");
	buf_free(&small);
	buf_free(&out);
	mime_part_free(&root);
}
END_TEST

START_TEST(test_every_prefix)
{
	/* any cut of a complex message parses and builds without trouble */
	for (size_t cut = 0; cut <= sizeof sect_msg - 1; cut++) {
		struct mime_part *root = mime_parse(sect_msg, cut);
		struct buf b = BUF_INIT;
		ck_assert_int_eq(mime_write_bodystructure(&b, sect_msg, root, true), 0);
		ck_assert_int_eq(mime_write_envelope(&b, sect_msg, root->hdr_len), 0);
		struct buf t;
		buf_init(&t, 4096);
		mime_search_text(&t, sect_msg, root);
		buf_free(&t);
		buf_free(&b);
		mime_part_free(&root);
	}
}
END_TEST

/* ---- RFC 2231 parameters ------------------------------------------------ */

static char *
params_of(const char *value)
{
	struct rfc822_lex lx;
	struct mime_param *p;
	size_t n;
	struct buf b = BUF_INIT;
	rfc822_lex_init(&lx, value, strlen(value), NULL);
	rfc2231_parse_params(&lx, 100, &p, &n);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "[%s=%s]", p[i].name, p[i].value);
	mime_params_free(&p, n);
	ck_assert_ptr_null(p);
	return b.data != NULL ? buf_steal(&b) : strdup("");
}

#define ck_params(value, want) \
	do { \
		char *got_ = params_of(value); \
		ck_assert_str_eq(got_, want); \
		free(got_); \
	} while (0)

START_TEST(test_params)
{
	ck_params("; charset=utf-8; format=flowed", "[charset=utf-8][format=flowed]");
	ck_params(";\r\n\tname=\"a \\\"b\\\" c.txt\"", "[name=a \"b\" c.txt]");
	/* continuations, out of order, merged after the plain ones */
	ck_params("; title*1=\" world\"; x=1; title*0=\"hello\"",
		  "[x=1][title=hello world]");
	/* extended pieces: charset'lang' kept, plain pieces escape '%' */
	ck_params("; name*0*=utf-8''%E2%82%AC; name*1=\"5%\"",
		  "[name*=utf-8''%E2%82%AC5%25]");
	ck_params("; name*=iso-8859-1'de'caf%E9", "[name*=iso-8859-1'de'caf%E9]");
	/* a missing piece: passed on under the numbered names */
	ck_params("; a*0=x; a*2=z", "[a*0=x][a*2=z]");
	/* broken parameters are skipped byte by byte, as Dovecot does; an
	 * empty name is taken as it is */
	ck_params("; good=1; bad; also=2", "[good=1]");
	ck_params("; good=1; =v; also=2", "[good=1][=v][also=2]");
	ck_params("; a=b c; d=e", "[a=b][d=e]");
	ck_params("; name==?utf-8?q?x?=; n=2", "[name==?utf-8?q?x?=][n=2]");
	ck_params("; empty=; e2=\"\"", "[empty=][e2=]");
	ck_params("", "");
	ck_params(" garbage", "");
	/* at most max_params */
	struct buf many = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_printf(&many, "; p%d=v", i);
	struct rfc822_lex lx;
	struct mime_param *p;
	size_t n;
	rfc822_lex_init(&lx, many.data, many.len, NULL);
	rfc2231_parse_params(&lx, 100, &p, &n);
	ck_assert_uint_eq(n, 100);
	mime_params_free(&p, n);
	buf_free(&many);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_mime");
	TCase *tc = tcase_create("mime");
	tcase_add_test(tc, test_dovecot_simple);
	tcase_add_test(tc, test_dovecot_rfc822);
	tcase_add_test(tc, test_dovecot_extensions);
	tcase_add_test(tc, test_dovecot_envelopes);
	tcase_add_test(tc, test_envelope_shapes);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_digest_and_alternative);
	tcase_add_test(tc, test_broken_mime);
	tcase_add_test(tc, test_lf_only);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_scan_and_count);
	tcase_add_test(tc, test_envelope_bound);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_sections);
	tcase_add_test(tc, test_search_text);
	tcase_add_test(tc, test_every_prefix);
	suite_add_tcase(s, tc);
	return s;
}

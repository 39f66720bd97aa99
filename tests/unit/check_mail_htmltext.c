/* Unit tests for mail/htmltext: tags, block and inline elements, comments,
 * script and style, character references (expected values from Python's
 * html.unescape(), scripts/gen-htmlent.py --vectors), white space, the
 * <meta> charset, and what SEARCH's text makes of an HTML part. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "mail/htmlent_table.h"
#include "mail/htmltext.h"
#include "mail/mime.h"
#include "mail/searchfields.h"
#include "tests/unit/runner.h"

static void
check_text(const char *in, const char *want)
{
	struct buf out = BUF_INIT;
	mail_html_text(&out, in, strlen(in));
	const char *got = buf_cstr(&out);
	ck_assert_msg(strcmp(got, want) == 0, "text(\"%s\") = \"%s\", want \"%s\"",
		      in, got, want);
	buf_free(&out);
}

/* What html.unescape() makes of a string, one reference after another. */
static void
check_unescape(const char *in, const char *want)
{
	struct buf out = BUF_INIT;
	size_t n = strlen(in);
	for (size_t i = 0; i < n;) {
		if (in[i] == '&') {
			size_t used = mail_html_charref(&out, in + i, n - i);
			ck_assert_uint_ge(used, 1);
			ck_assert_uint_le(used, n - i);
			i += used;
		} else {
			buf_putc(&out, in[i++]);
		}
	}
	ck_assert_msg(out.len == strlen(want) && memcmp(buf_cstr(&out), want, out.len) == 0,
		      "unescape(\"%s\") = \"%s\", want \"%s\"", in, buf_cstr(&out), want);
	buf_free(&out);
}

START_TEST(test_plain)
{
	check_text("", "");
	check_text("budget", "budget");
	check_text("  lunch \r\n\t boat \f ", "lunch boat");
	check_text("a\xc2\xa0\xc2\xa0" "b", "a b");
	check_text("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
	/* bytes of other charsets pass through */
	check_text("\xd0\xd2\xc9<b>\xd7\xc5\xd4</b>", "\xd0\xd2\xc9\xd7\xc5\xd4");
}
END_TEST

START_TEST(test_tags)
{
	check_text("<html><body><p>Hello</p></body></html>", "Hello");
	/* inline elements do not split words, block ones do */
	check_text("bud<b>get</b> ker<span class=\"x\">nel</span>", "budget kernel");
	check_text("<p>lunch</p><p>boat</p>", "lunch boat");
	check_text("one<br>two<br/>three<BR />four", "one two three four");
	check_text("<td>a</td><td>b</td>", "a b");
	check_text("<DIV>x</DIV>y", "x y");
	check_text("a<img src=x.png alt=\"img\">b", "a b");
	/* attributes: quotes hold ">" and "<", after "=" only */
	check_text("<a href=\"x>y\" title='<p>'>link</a>", "link");
	check_text("<a b\"c>d\">e", "d\">e");
	check_text("<a href=x>y</a>z", "yz");
	/* "<" that starts no tag is text */
	check_text("1 < 2 and 3 <= 4, a<3", "1 < 2 and 3 <= 4, a<3");
	check_text("x</>y", "xy");
	check_text("x</ p>y", "xy");
	check_text("end <", "end <");
	check_text("end </", "end </");
	/* a tag cut off by the end is dropped */
	check_text("text <a href=\"unterminated", "text");
	check_text("text <p", "text");
	check_text("<unknowntag>a</unknowntag>b", "ab");
}
END_TEST

START_TEST(test_comments_and_raw_text)
{
	check_text("bud<!-- hidden <p>x</p> -->get", "budget");
	check_text("a<!---->b<!-->c<!--->d", "abcd");
	check_text("a<!-- x --!>b", "ab");
	check_text("a<!-- never ends", "a");
	check_text("<!DOCTYPE html><html>x</html>", "x");
	check_text("a<![CDATA[ b ]]>c", "ac");
	/* a bogus comment ends at the first ">" */
	check_text("a<![CDATA[ b > x ]]>c", "a x ]]>c");
	check_text("a<?xml version=\"1.0\"?>b", "ab");
	check_text("a<script>var s = \"<p>kernel</p>\"; if (a<b) x();</script>b", "a b");
	check_text("a<SCRIPT type=x>zebra</ScRiPt >b", "a b");
	check_text("a<style>p { color: red } </style>b", "a b");
	check_text("a<style>x</stylesheet>y</style>b", "a b");
	check_text("a<script>never closed", "a");
	check_text("a<scripts>b</scripts>c", "abc");
	check_text("a<title>The title</title>b", "a The title b");
}
END_TEST

START_TEST(test_references)
{
	check_text("Tom &amp; Jerry &lt;b&gt;", "Tom & Jerry <b>");
	check_text("caf&eacute; na&#239;ve &#x3a3;&#X3C3;", "caf\xc3\xa9 na\xc3\xafve \xce\xa3\xcf\x83");
	check_text("a&nbsp;b&#160;c &#32; d", "a b c d");
	check_text("&lt;div&gt;", "<div>");
	check_text("bud&shy;get", "bud\xc2\xad" "get");
	check_text("AT&T <b>&", "AT&T &");
	/* a reference is decoded once */
	check_text("&amp;lt;", "&lt;");
	/* not in attributes */
	check_text("<a title=\"&eacute;\">x</a>", "x");
}
END_TEST

/* From scripts/gen-htmlent.py --vectors (Python 3.11's html.unescape()). */
static const struct {
	const char *in, *want;
} vectors[] = {
	{ "a&amp;b", "a&b" },
	{ "a&ampb", "a&b" },
	{ "&amp", "&" },
	{ "&", "&" },
	{ "&;", "&;" },
	{ "&#", "&#" },
	{ "&#;", "&#;" },
	{ "&#x;", "&#x;" },
	{ "&#65", "A" },
	{ "&#65;x", "Ax" },
	{ "&#x41;", "A" },
	{ "&#X41", "A" },
	{ "&#0;", "\357\277\275" },
	{ "&#13;", "\015" },
	{ "&#128;", "\342\202\254" },
	{ "&#129;", "\302\201" },
	{ "&#150;", "\342\200\223" },
	{ "&#159;", "\305\270" },
	{ "&#x1;", "" },
	{ "&#11;", "" },
	{ "&#x7f;", "" },
	{ "&#xfdd0;", "" },
	{ "&#xfffe;", "" },
	{ "&#x1ffff;", "" },
	{ "&#xd800;", "\357\277\275" },
	{ "&#x110000;", "\357\277\275" },
	{ "&#99999999999999999999;", "\357\277\275" },
	{ "&#x10FFFF;", "" },
	{ "&#x10FFFD;", "\364\217\277\275" },
	{ "&notit;", "\302\254it;" },
	{ "&notin;", "\342\210\211" },
	{ "&noti", "\302\254i" },
	{ "&copy2", "\302\2512" },
	{ "&eacute;", "\303\251" },
	{ "&Eacute", "\303\211" },
	{ "&eacutex", "\303\251x" },
	{ "&nGt;", "\342\211\253\342\203\222" },
	{ "&fjlig;", "fj" },
	{ "&NotNestedGreaterGreater;", "\342\252\242\314\270" },
	{ "&CounterClockwiseContourIntegral;", "\342\210\263" },
	{ "&CounterClockwiseContourIntegralX;", "&CounterClockwiseContourIntegralX;" },
	{ "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;", "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;" },
	{ "&lt&gt", "<>" },
	{ "&LT;", "<" },
	{ "&Lt;", "\342\211\252" },
	{ "&amp;amp;", "&amp;" },
	{ "&nbsp", "\302\240" },
	{ "&unknown;", "&unknown;" },
	{ "&#x41&#66;", "AB" },
	{ "&amp\303\251;", "&\303\251;" },
	{ "&\303\251", "&\303\251" },
	{ "&lt;script&gt;", "<script>" },
	{ "&#x00041;", "A" },
	{ "&#00065;", "A" },
	{ "&quot&apos;", "\042'" },
};

START_TEST(test_vectors)
{
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
		check_unescape(vectors[i].in, vectors[i].want);
}
END_TEST

START_TEST(test_every_entity)
{
	/* every name of the table decodes to its value, with or without
	 * what follows it */
	ck_assert_uint_eq(html_entities_count, 2231);
	for (size_t i = 0; i < html_entities_count; i++) {
		struct buf in = BUF_INIT, out = BUF_INIT;
		buf_printf(&in, "&%s", html_entities[i].name);
		size_t used = mail_html_charref(&out, in.data, in.len);
		ck_assert_uint_eq(used, in.len);
		ck_assert_str_eq(buf_cstr(&out), html_entities[i].value);
		ck_assert(utf8_valid(out.data, out.len));
		if (i > 0)
			ck_assert_int_lt(strcmp(html_entities[i - 1].name,
						html_entities[i].name), 0);
		buf_free(&in);
		buf_free(&out);
	}
}
END_TEST

static void
check_meta(const char *in, const char *want)
{
	char name[MAIL_HTML_CHARSET_MAX];
	bool found = mail_html_meta_charset(in, strlen(in), name, sizeof name);
	if (want == NULL) {
		ck_assert_msg(!found, "meta(\"%s\") = \"%s\", want none", in,
			      found ? name : "");
		return;
	}
	ck_assert_msg(found, "meta(\"%s\"): none, want \"%s\"", in, want);
	ck_assert_str_eq(name, want);
}

START_TEST(test_meta_charset)
{
	check_meta("<html><head><meta charset=\"iso-8859-1\"></head>", "iso-8859-1");
	check_meta("<META CHARSET=windows-1252>", "windows-1252");
	check_meta("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-15\">",
		   "ISO-8859-15");
	check_meta("<meta content='text/html;charset = \"koi8-r\"' http-equiv=content-type>",
		   "koi8-r");
	check_meta("<meta name=\"viewport\" content=\"width=device-width\"><meta charset=utf-8>",
		   "utf-8");
	/* content without http-equiv says nothing */
	check_meta("<meta content=\"text/html; charset=latin1\">", NULL);
	check_meta("<!-- <meta charset=latin1> --><p>x</p>", NULL);
	check_meta("<metadata charset=latin1>", NULL);
	check_meta("no markup at all", NULL);
	/* only the first 1024 bytes */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 1100; i++)
		buf_putc(&b, ' ');
	buf_puts(&b, "<meta charset=latin1>");
	char name[MAIL_HTML_CHARSET_MAX];
	ck_assert(!mail_html_meta_charset(b.data, b.len, name, sizeof name));
	buf_free(&b);
	/* too long for the caller */
	ck_assert(!mail_html_meta_charset("<meta charset=abcdefgh>", 23, name, 4));
}
END_TEST

/* What SEARCH compares with: BODY's folded text and TEXT's, of one
 * message with its HTML part. */
static void
search_texts(const char *msg, struct buf *body, struct buf *text)
{
	struct mime_part *root = mime_parse(msg, strlen(msg));
	mail_search_body_folded(body, msg, root);
	mime_search_text(text, msg, root);
	mime_part_free(&root);
}

START_TEST(test_search_text)
{
	struct buf body = BUF_INIT, text = BUF_INIT;
	/* the charset of a <meta> when Content-Type has none; quoted-printable */
	search_texts("Subject: s\r\nContent-Type: text/html\r\n"
		     "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		     "<meta charset=3D\"iso-8859-1\"><p>Caf=E9 &amp; <b>bud</b>get</p>\r\n",
		     &body, &text);
	ck_assert_str_eq(buf_cstr(&body), "caf\xc3\xa9 & budget\n");
	ck_assert_ptr_nonnull(strstr(buf_cstr(&text), "\nCaf\xc3\xa9 & budget\n"));
	ck_assert_ptr_null(strstr(buf_cstr(&text), "<p>"));
	buf_reset(&body);
	buf_reset(&text);
	/* Content-Type's charset comes before the <meta>'s */
	search_texts("Content-Type: text/html; charset=windows-1252\r\n\r\n"
		     "<meta charset=utf-8>\x93quoted\x94<script>zebra()</script>\r\n",
		     &body, &text);
	ck_assert_str_eq(buf_cstr(&body), "\xe2\x80\x9cquoted\xe2\x80\x9d\n");
	ck_assert_ptr_null(strstr(buf_cstr(&text), "zebra"));
	buf_reset(&body);
	buf_reset(&text);
	/* text/plain is left as it is */
	search_texts("Content-Type: text/plain\r\n\r\n<b>bold</b> &amp;\r\n", &body, &text);
	ck_assert_str_eq(buf_cstr(&body), "<b>bold</b> &amp;\r\n\n");
	buf_free(&body);
	buf_free(&text);
}
END_TEST

START_TEST(test_preview_of_html)
{
	/* RFC 8970 PREVIEW of HTML-only mail: the text, not the style sheet */
	const char *msg = "Content-Type: text/html\r\n\r\n<html><head>"
		"<meta charset=iso-8859-1><style>body { margin: 0 }</style>"
		"<script>x()</script></head><body><p>Caf\xe9&nbsp;&amp; "
		"<b>bud</b>get</p>\r\n<p>next</p></body></html>\r\n";
	struct mime_part *root = mime_parse(msg, strlen(msg));
	struct buf pv = BUF_INIT;
	mail_preview_compute(msg, root, &pv);
	ck_assert_str_eq(buf_cstr(&pv), "Caf\xc3\xa9 & budget next");
	buf_free(&pv);
	mime_part_free(&root);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("mail_htmltext");
	TCase *tc = tcase_create("htmltext");
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_comments_and_raw_text);
	tcase_add_test(tc, test_references);
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_every_entity);
	tcase_add_test(tc, test_meta_charset);
	tcase_add_test(tc, test_search_text);
	tcase_add_test(tc, test_preview_of_html);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for imap/client: the pure response parser, and the client
 * against a scripted server on loopback. */
#include <string.h>

#include "core/log.h"
#include "imap/client.h"
#include "tests/unit/runner.h"
#include "tests/unit/fetch_fake_server.h"

#define S(s) s, strlen(s)

START_TEST(test_parse_tagged_untagged)
{
	struct imapc_resp r;
	ck_assert_int_eq(imapc_parse_response(S("A0001 OK [READ-WRITE] SELECT done\r\n"), &r), 0);
	ck_assert_int_eq(r.kind, IMAPC_TAGGED);
	ck_assert_int_eq(r.tag_len, 5);
	ck_assert(imapc_resp_is(&r, "OK"));
	ck_assert_int_eq(r.code_len, 10);
	ck_assert_int_eq(memcmp(r.code, "READ-WRITE", 10), 0);
	ck_assert_int_eq(memcmp(r.rest, "SELECT done", r.rest_len), 0);

	ck_assert_int_eq(imapc_parse_response(S("* 23 EXISTS"), &r), 0);
	ck_assert_int_eq(r.kind, IMAPC_UNTAGGED);
	ck_assert(r.has_number);
	ck_assert_uint_eq(r.number, 23);
	ck_assert(imapc_resp_is(&r, "exists"));

	ck_assert_int_eq(imapc_parse_response(S("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"), &r), 0);
	uint32_t v = 0;
	ck_assert_int_eq(imapc_code_number(r.code, r.code_len, "UIDVALIDITY", &v), 1);
	ck_assert_uint_eq(v, 3857529045u);
	ck_assert_int_eq(imapc_code_number(r.code, r.code_len, "UIDNEXT", &v), 0);

	ck_assert_int_eq(imapc_parse_response(S("+ idling\r\n"), &r), 0);
	ck_assert_int_eq(r.kind, IMAPC_CONTINUE);
	ck_assert_int_eq(imapc_parse_response(S("+\r\n"), &r), 0);
	ck_assert_int_eq(r.kind, IMAPC_CONTINUE);

	/* malformed */
	ck_assert_int_eq(imapc_parse_response(S("\r\n"), &r), -1);
	ck_assert_int_eq(imapc_parse_response(S("*EXISTS\r\n"), &r), -1);
	ck_assert_int_eq(imapc_parse_response(S("A1\r\n"), &r), -1);
	ck_assert_int_eq(imapc_parse_response(S("A1 FETCH x\r\n"), &r), -1);
	ck_assert_int_eq(imapc_parse_response(S("* 99999999999 EXISTS\r\n"), &r), -1);
	ck_assert_int_eq(imapc_parse_response(S("* OK [UIDVALIDITY 1\r\n"), &r), -1);
	ck_assert_int_eq(imapc_parse_response(S("* \x01\r\n"), &r), -1);
}
END_TEST

START_TEST(test_literal_and_caps)
{
	uint64_t n = 0;
	ck_assert_int_eq(imapc_line_literal(S("* 1 FETCH (BODY[] {42}\r\n"), 100, &n), 1);
	ck_assert_uint_eq(n, 42);
	ck_assert_int_eq(imapc_line_literal(S("* 1 FETCH (BODY[] {42+}"), 100, &n), 1);
	ck_assert_int_eq(imapc_line_literal(S("* 1 FETCH (BODY[] {420}"), 100, &n), -1);
	ck_assert_int_eq(imapc_line_literal(S("* 1 FETCH (BODY[] {}"), 100, &n), -1);
	ck_assert_int_eq(imapc_line_literal(S("* OK done}"), 100, &n), 0);
	ck_assert_int_eq(imapc_line_literal(S("* OK done"), 100, &n), 0);
	ck_assert_int_eq(imapc_line_literal(S("{99999999999999999999}"), UINT64_MAX, &n), -1);

	unsigned caps = imapc_parse_caps(S("IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE "
					   "AUTH=PLAIN auth=login UIDPLUS STARTTLS"));
	ck_assert_uint_eq(caps, IMAPC_CAP_IMAP4REV1 | IMAPC_CAP_SASL_IR | IMAPC_CAP_LITERALPLUS |
					IMAPC_CAP_IDLE | IMAPC_CAP_AUTH_PLAIN | IMAPC_CAP_UIDPLUS |
					IMAPC_CAP_STARTTLS);
	ck_assert_uint_eq(imapc_parse_caps(S("IMAP4rev1 LOGINDISABLED")),
			  IMAPC_CAP_IMAP4REV1 | IMAPC_CAP_LOGINDISABLED);
	ck_assert_uint_eq(imapc_parse_caps(S("IDLEX AUTH=PLAINX")), 0);
}
END_TEST

START_TEST(test_search)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	ck_assert_int_eq(imapc_parse_search(S("1 2 3 4000000000\r\n"), &uids, &n, 10), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(uids[3], 4000000000u);
	ck_assert_int_eq(imapc_parse_search(S(""), &uids, &n, 10), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(imapc_parse_search(S("5 6 7 8 9 10 11"), &uids, &n, 10), -1);
	free(uids);
	uids = NULL;
	n = 0;
	ck_assert_int_eq(imapc_parse_search(S("1 x"), &uids, &n, 10), -1);
	ck_assert_int_eq(imapc_parse_search(S("0"), &uids, &n, 10), -1);
	free(uids);

	struct buf b = BUF_INIT;
	uint32_t set[] = { 1, 2, 3, 5, 7, 8, 10 };
	imapc_uidset(&b, set, 7);
	ck_assert_str_eq(buf_cstr(&b), "1:3,5,7:8,10");
	buf_free(&b);
}
END_TEST

/* Feeds a whole FETCH response (after "* N FETCH ") the way the client
 * does: segment by segment, literals taken out by their size. */
static enum imapc_fetch_result
feed_all(struct imapc_fetch *f, const char *text, struct buf *body)
{
	size_t len = strlen(text), pos = 0;
	imapc_fetch_init(f);
	for (;;) {
		const char *lf = memchr(text + pos, '\n', len - pos);
		size_t seg = lf != NULL ? (size_t)(lf - (text + pos)) + 1 : len - pos;
		enum imapc_fetch_result r = imapc_fetch_feed(f, text + pos, seg);
		if (f->quoted_body != NULL)
			buf_append(body, f->quoted_body, f->quoted_body_len);
		pos += seg;
		if (r == IMAPC_FETCH_BODY || r == IMAPC_FETCH_SKIP) {
			ck_assert_uint_le(f->literal, len - pos);
			if (r == IMAPC_FETCH_BODY)
				buf_append(body, text + pos, (size_t)f->literal);
			pos += (size_t)f->literal;
			continue;
		}
		return r;
	}
}

START_TEST(test_sync_parsers)
{
	uint32_t *u = NULL;
	size_t n = 0;
	/* sequence sets, both orders of a range */
	ck_assert_int_eq(imapc_parse_uidset("1:3,7,10:9", 10, &u, &n, 100), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(u[0], 1);
	ck_assert_uint_eq(u[2], 3);
	ck_assert_uint_eq(u[3], 7);
	ck_assert_uint_eq(u[4], 9);
	ck_assert_uint_eq(u[5], 10);
	free(u);
	u = NULL;
	n = 0;
	ck_assert_int_eq(imapc_parse_uidset("1:*", 3, &u, &n, 100), -1);
	ck_assert_int_eq(imapc_parse_uidset("0", 1, &u, &n, 100), -1);
	ck_assert_int_eq(imapc_parse_uidset("1,", 2, &u, &n, 100), -1);
	ck_assert_int_eq(imapc_parse_uidset("", 0, &u, &n, 100), -1);
	/* a range over the limit is refused before it is expanded */
	ck_assert_int_eq(imapc_parse_uidset("1:4000000000", 12, &u, &n, 100), -1);
	free(u);
	u = NULL;
	n = 0;
	/* RFC 4731 ESEARCH */
	const char *es = "(TAG \"A0004\") UID ALL 2:4,8\r\n";
	ck_assert_int_eq(imapc_parse_esearch_all(es, strlen(es), &u, &n, 100), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(u[3], 8);
	free(u);
	u = NULL;
	n = 0;
	es = "(TAG \"A0004\") UID";
	ck_assert_int_eq(imapc_parse_esearch_all(es, strlen(es), &u, &n, 100), 0);
	ck_assert_uint_eq(n, 0);
	/* RFC 4315 COPYUID */
	uint32_t uv, *src, *dst;
	const char *cu = "38505 304,319:320 3956:3958";
	ck_assert_int_eq(imapc_parse_copyuid(cu, strlen(cu), &uv, &src, &dst, &n), 0);
	ck_assert_uint_eq(uv, 38505);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(src[1], 319);
	ck_assert_uint_eq(dst[1], 3957);
	free(src);
	free(dst);
	cu = "38505 304,319 3956";
	ck_assert_int_eq(imapc_parse_copyuid(cu, strlen(cu), &uv, &src, &dst, &n), -1);
	ck_assert_ptr_null(src);
	ck_assert_uint_eq(imapc_parse_caps("IMAP4rev1 CONDSTORE MOVE ESEARCH", 32),
			  IMAPC_CAP_IMAP4REV1 | IMAPC_CAP_CONDSTORE | IMAPC_CAP_MOVE |
				  IMAPC_CAP_ESEARCH);
}
END_TEST

/* RFC 7162 §7.3 VANISHED: what a QRESYNC SELECT reports expunged. */
START_TEST(test_vanished)
{
	uint32_t *u = NULL;
	size_t n = 0;
	bool earlier = false;
	const char *error = NULL;
	const char *v = "(EARLIER) 300:310,405,411\r\n";
	ck_assert_int_eq(imapc_parse_vanished(v, strlen(v), &earlier, &u, &n, 100, &error), 0);
	ck_assert(earlier);
	ck_assert_uint_eq(n, 13);
	ck_assert_uint_eq(u[0], 300);
	ck_assert_uint_eq(u[10], 310);
	ck_assert_uint_eq(u[11], 405);
	ck_assert_uint_eq(u[12], 411);
	/* a live one (no EARLIER) appends to what came before; a range
	 * given high to low is the same range; the tag in any case */
	v = "9:7";
	ck_assert_int_eq(imapc_parse_vanished(v, strlen(v), &earlier, &u, &n, 100, &error), 0);
	ck_assert(!earlier);
	ck_assert_uint_eq(n, 16);
	ck_assert_uint_eq(u[13], 7);
	ck_assert_uint_eq(u[15], 9);
	v = "(earlier) 1";
	ck_assert_int_eq(imapc_parse_vanished(v, strlen(v), &earlier, &u, &n, 100, &error), 0);
	ck_assert(earlier);
	ck_assert_uint_eq(n, 17);
	free(u);
	/* refused, each with a reason in plain words */
	static const struct {
		const char *text;
		const char *reason;
	} bad[] = {
		{ "", "without UIDs" },
		{ "(EARLIER)", "without UIDs" },
		{ "(EARLIER) ", "without UIDs" },
		{ "(LATER) 5", "unknown tag" },
		{ "(EARLIER 5", "unknown tag" },
		{ "1:*", "malformed VANISHED" },
		{ "0", "malformed VANISHED" },
		{ "3,", "malformed VANISHED" },
		{ "3:x", "malformed VANISHED" },
		{ "-3", "malformed VANISHED" },
		{ "5 6", "text after its UIDs" },
		{ "(EARLIER) 5 (MODSEQ 7)", "text after its UIDs" },
		/* over the limit: refused before the range is expanded */
		{ "1:4000000000", "too many" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		u = NULL;
		n = 0;
		error = NULL;
		ck_assert_msg(imapc_parse_vanished(bad[i].text, strlen(bad[i].text), &earlier, &u,
						   &n, 100, &error) == -1,
			      "accepted %s", bad[i].text);
		ck_assert_ptr_nonnull(error);
		ck_assert_msg(strstr(error, bad[i].reason) != NULL, "%s: %s", bad[i].text, error);
		free(u);
	}
	ck_assert_uint_eq(imapc_parse_caps("IMAP4rev1 QRESYNC", 17),
			  IMAPC_CAP_IMAP4REV1 | IMAPC_CAP_CONDSTORE | IMAPC_CAP_QRESYNC);
	ck_assert_uint_eq(imapc_parse_caps("IMAP4rev1 CONDSTORE", 19) & IMAPC_CAP_QRESYNC, 0);
}
END_TEST

START_TEST(test_fetch_state_machine)
{
	struct imapc_fetch f;
	struct buf body = BUF_INIT;
	ck_assert_int_eq(feed_all(&f, "(UID 17 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
				     "BODY[] {12}\r\nhello\r\nworld)\r\n", &body),
			 IMAPC_FETCH_DONE);
	ck_assert_uint_eq(f.uid, 17);
	ck_assert(f.have_date);
	ck_assert_str_eq(f.date, "17-Jul-1996 02:44:25 -0700");
	ck_assert(f.have_body);
	ck_assert_uint_eq(body.len, 12);
	ck_assert_int_eq(memcmp(body.data, "hello\r\nworld", 12), 0);

	/* items in another order, values to skip (lists, literals, sections) */
	buf_reset(&body);
	ck_assert_int_eq(feed_all(&f, "(X-OTHER (\\Seen $Junk (x)) BODY[] {3}\r\nabc "
				     "BODY[HEADER.FIELDS (A B)] {2}\r\nzz X-GM-LABELS ({1}\r\nq NIL) "
				     "UID 9)\r\n", &body),
			 IMAPC_FETCH_DONE);
	ck_assert_uint_eq(f.uid, 9);
	ck_assert_uint_eq(body.len, 3);

	/* FLAGS: system flags to bits, keywords kept once, \\Recent and
	 * unknown backslash flags dropped; X-GM-MSGID as a 64-bit number */
	buf_reset(&body);
	ck_assert_int_eq(feed_all(&f, "(UID 4 FLAGS (\\Seen \\Flagged \\Recent \\Answered "
				     "\\Draft \\Deleted \\Other $Label1 Work $label1 work) "
				     "X-GM-MSGID 1278455344230334865 BODY[] {1}\r\nx)\r\n", &body),
			 IMAPC_FETCH_DONE);
	ck_assert(f.have_flags);
	ck_assert_uint_eq(f.flags, IMAPC_FLAG_SEEN | IMAPC_FLAG_FLAGGED | IMAPC_FLAG_ANSWERED |
					   IMAPC_FLAG_DRAFT | IMAPC_FLAG_DELETED);
	ck_assert_str_eq(f.keywords, "$Label1 Work");
	ck_assert_uint_eq(f.gm_msgid, 1278455344230334865ULL);
	/* FLAGS after the body, in the segment after the literal */
	buf_reset(&body);
	ck_assert_int_eq(feed_all(&f, "(UID 5 BODY[] {1}\r\nx FLAGS ())\r\n", &body),
			 IMAPC_FETCH_DONE);
	ck_assert(f.have_flags);
	ck_assert_uint_eq(f.flags, 0);
	ck_assert_str_eq(f.keywords, "");
	/* a FLAGS value that is no list, a list inside it */
	ck_assert_int_eq(feed_all(&f, "(UID 5 FLAGS \\Seen)", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(UID 5 FLAGS (\\Seen (x)))", &body), IMAPC_FETCH_ERROR);
	/* keywords past the limit are left out, whole */
	{
		struct buf many = BUF_INIT;
		buf_puts(&many, "(UID 6 FLAGS (");
		for (int i = 0; i < 1000; i++)
			buf_printf(&many, "%skw%04d", i > 0 ? " " : "", i);
		buf_puts(&many, "))\r\n");
		ck_assert_int_eq(feed_all(&f, buf_cstr(&many), &body), IMAPC_FETCH_DONE);
		ck_assert_uint_le(strlen(f.keywords), MESSAGE_KEYWORDS_MAX);
		ck_assert_uint_eq(strlen(f.keywords) % 7, 6);	/* "kwNNNN" words, spaces between */
		buf_free(&many);
	}

	/* a quoted body */
	buf_reset(&body);
	ck_assert_int_eq(feed_all(&f, "(UID 1 BODY[] \"a\\\"b\")\r\n", &body), IMAPC_FETCH_DONE);
	ck_assert_int_eq(memcmp(body.data, "a\\\"b", 4), 0);

	/* a flags-only FETCH (no body) */
	ck_assert_int_eq(feed_all(&f, "(FLAGS (\\Deleted) UID 3)\r\n", &body), IMAPC_FETCH_DONE);
	ck_assert(!f.have_body);

	/* broken ones */
	ck_assert_int_eq(feed_all(&f, "(UID 1 BODY[] NIL)", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "UID 1)", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(UID x)", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(UID 1", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(UID 1) junk", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(INTERNALDATE \"0123456789012345678901234567890123456789\")",
				  &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(BODY[] {1}\r\na BODY[] {1}\r\nb)", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(X \"unterminated)", &body), IMAPC_FETCH_ERROR);
	ck_assert_int_eq(feed_all(&f, "(X ((((", &body), IMAPC_FETCH_ERROR);
	buf_free(&body);
}
END_TEST

/* A segment fed in two pieces is not how the client works (it reads whole
 * lines), but a response split across literals is: every split point of
 * literal boundaries gives the same result. */
START_TEST(test_fetch_many_literals)
{
	struct imapc_fetch f;
	struct buf body = BUF_INIT, text = BUF_INIT;
	buf_puts(&text, "(");
	for (int i = 0; i < 50; i++)
		buf_printf(&text, "X-%d {%d}\r\n%*s ", i, i % 7, i % 7, "");
	buf_puts(&text, "UID 5 BODY[] {0}\r\n)\r\n");
	ck_assert_int_eq(feed_all(&f, buf_cstr(&text), &body), IMAPC_FETCH_DONE);
	ck_assert_uint_eq(f.uid, 5);
	ck_assert(f.have_body);
	ck_assert_uint_eq(body.len, 0);
	buf_free(&body);
	buf_free(&text);
}
END_TEST

/* ---- against a scripted server ---------------------------------------- */

struct collected {
	struct buf data;
	uint32_t uids[16];
	time_t dates[16];
	unsigned flags[16];
	char keywords[16][64];
	int n;
	int begun;
	int aborted;
};

static int
c_begin(void *ctx, uint64_t size, const char **error_r)
{
	struct collected *c = ctx;
	c->begun++;
	return 0;
}

static int
c_write(void *ctx, const void *p, size_t n, const char **error_r)
{
	struct collected *c = ctx;
	buf_append(&c->data, p, n);
	return 0;
}

static int
c_end(void *ctx, const struct imapc_message_meta *meta, const char **error_r)
{
	struct collected *c = ctx;
	c->flags[c->n] = meta->flags;
	snprintf(c->keywords[c->n], sizeof c->keywords[0], "%s", meta->keywords);
	c->uids[c->n] = meta->uid;
	c->dates[c->n++] = meta->internal_date;
	buf_putc(&c->data, '|');
	return 0;
}

static void
c_abort(void *ctx)
{
	struct collected *c = ctx;
	c->aborted++;
}

static struct upstream_settings
plain_settings(unsigned port)
{
	struct upstream_settings set = { 0 };
	set.protocol = UPSTREAM_IMAP;
	set.host = (char *)"127.0.0.1";
	set.port = port;
	set.tls = UPSTREAM_TLS_NONE;
	set.tls_verify = (char *)"off";
	set.username = (char *)"joe";
	return set;
}

/* The scripted server started and a session opened to it (logged in). */
static struct imap_client *
scripted_session(struct fake_server *fs, const char *const *script, size_t n)
{
	/* the session keeps a pointer to its settings */
	static struct upstream_settings set;
	fake_server_start(fs, script, n);
	set = plain_settings(fs->port);
	struct imap_client *c = NULL;
	const char *error = NULL;
	ck_assert_msg(imap_client_open(&set, "secret", &LOOPBACK_5S, 1, &c, &error) == 0, "%s", error);
	return c;
}

START_TEST(test_session)
{
	static const char *const script[] = {
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN IDLE UIDPLUS] hi\r\n",
		"$T OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] logged in\r\n",	/* AUTHENTICATE */
		"* 2 EXISTS\r\n* OK [UIDVALIDITY 77] x\r\n* OK [UIDNEXT 12] x\r\n$T OK [READ-ONLY] ok\r\n",
		"* SEARCH 11 3\r\n$T OK done\r\n",
		"* 1 FETCH (UID 3 FLAGS (\\Seen $Work) INTERNALDATE \"01-Jan-2020 00:00:00 +0000\" BODY[] {5}\r\nabcde)\r\n"
		"* 1 FETCH (FLAGS (\\Seen))\r\n"
		"* 2 FETCH (BODY[] {2}\r\nxy UID 11)\r\n$T OK done\r\n",
		"+ idling\r\n* 3 EXISTS\r\n",
		"A0005 OK idle done\r\n",
		"* BYE bye\r\n$T OK bye\r\n",
	};
	struct fake_server fs;
	struct imap_client *c = scripted_session(&fs, script, sizeof script / sizeof script[0]);
	const char *error = NULL;
	ck_assert(imap_client_caps(c) & IMAPC_CAP_IDLE);
	struct imapc_mailbox mb;
	ck_assert_msg(imap_client_select(c, "INBOX", true, &mb, &error) == 0, "%s", error);
	ck_assert_uint_eq(mb.uidvalidity, 77);
	ck_assert_uint_eq(mb.uidnext, 12);
	ck_assert_uint_eq(mb.exists, 2);
	uint32_t *uids;
	size_t n;
	ck_assert_msg(imap_client_search_from(c, 3, &uids, &n, &error) == 0, "%s", error);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(uids[0], 3);	/* sorted */
	ck_assert_uint_eq(uids[1], 11);
	free(uids);
	struct collected col = { BUF_INIT };
	struct imapc_fetch_sink sink = { c_begin, c_write, c_end, c_abort, &col };
	ck_assert_msg(imap_client_fetch(c, "3,11", &sink, &error) == 0, "%s", error);
	ck_assert_int_eq(col.n, 2);
	ck_assert_str_eq(buf_cstr(&col.data), "abcde|xy|");
	ck_assert_uint_eq(col.uids[0], 3);
	ck_assert_uint_eq(col.uids[1], 11);
	ck_assert_int_eq(col.dates[0], 1577836800);
	ck_assert_uint_eq(col.flags[0], IMAPC_FLAG_SEEN);
	ck_assert_str_eq(col.keywords[0], "$Work");
	ck_assert_uint_eq(col.flags[1], 0);
	ck_assert_str_eq(col.keywords[1], "");
	bool news = false;
	ck_assert_msg(imap_client_idle(c, -1, 5000, &news, &error) == 0, "%s", error);
	ck_assert(news);
	imap_client_free(&c);
	fake_server_stop(&fs);
	/* AUTHENTICATE PLAIN with the initial response: \0joe\0secret */
	/* the capabilities came with the login's OK: not asked again */
	ck_assert_ptr_null(strstr(buf_cstr(&fs.heard), " CAPABILITY\r\n"));
	ck_assert_msg(strstr(buf_cstr(&fs.heard), "A0001 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n") != NULL,
		      "%s", buf_cstr(&fs.heard));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&fs.heard), "EXAMINE \"INBOX\"\r\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&fs.heard), "UID FETCH 3,11 (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n"));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&fs.heard), "DONE\r\n"));
	buf_free(&fs.heard);
	buf_free(&col.data);
}
END_TEST

struct status_seen {
	char names[4][16];
	struct imapc_status st[4];
	size_t n;
};

static void
status_collect(void *ctx, const char *folder, const struct imapc_status *st)
{
	struct status_seen *s = ctx;
	if (s->n < 4) {
		snprintf(s->names[s->n], sizeof s->names[0], "%s", folder);
		s->st[s->n++] = *st;
	}
}

static int
flags_collect(void *ctx, uint32_t uid, unsigned flags, const char *keywords, const char **error_r)
{
	(void)keywords;
	(void)error_r;
	uint32_t *v = ctx;
	v[0] = uid;
	v[1] = flags;
	return 0;
}

/* two-way sync's commands: STATUS of many folders at once (a NO for one
 * is no failure), SELECT + SEARCH ALL + FETCH CHANGEDSINCE at once,
 * APPEND with LITERAL+ and APPENDUID, CREATE, RENAME, DELETE, CLOSE */
START_TEST(test_twoway_up_commands)
{
	static const char *const script[] = {
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN LITERAL+ UIDPLUS CONDSTORE] hi\r\n",
		"$T OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS CONDSTORE] logged in\r\n",
		"* STATUS A (MESSAGES 2 UIDNEXT 5 UIDVALIDITY 7 HIGHESTMODSEQ 99)\r\n$T OK done\r\n",
		"$T NO [NONEXISTENT] no such folder\r\n",
		"* STATUS \"L&AOQ-ndi\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 8)\r\n$T OK done\r\n",
		"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT 5] x\r\n"
		"* OK [HIGHESTMODSEQ 9] x\r\n$T OK [READ-WRITE] ok\r\n",
		"* SEARCH 4 2\r\n$T OK done\r\n",
		"* 2 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (98))\r\n$T OK done\r\n",
		"$T OK [APPENDUID 7 5] appended\r\n",
		"",	/* the literal's line */
		"$T OK created\r\n",
		"$T OK renamed\r\n",
		"$T OK closed\r\n",
		"$T OK deleted\r\n",
		"* BYE bye\r\n$T OK bye\r\n",
	};
	struct fake_server fs;
	struct imap_client *c = scripted_session(&fs, script, sizeof script / sizeof script[0]);
	const char *error = NULL;
	const char *const folders[] = { "A", "Gone", "L\xc3\xa4ndi" };
	struct status_seen seen = { 0 };
	ck_assert_msg(imap_client_status_many(c, folders, 3, status_collect, &seen, &error) == 0,
		      "%s", error);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_str_eq(seen.names[0], "A");
	ck_assert_uint_eq(seen.st[0].messages, 2);
	ck_assert_uint_eq(seen.st[0].uidnext, 5);
	ck_assert_uint_eq(seen.st[0].uidvalidity, 7);
	ck_assert_uint_eq(seen.st[0].highestmodseq, 99);
	ck_assert_str_eq(seen.names[1], "L\xc3\xa4ndi");
	ck_assert_uint_eq(seen.st[1].highestmodseq, 0);
	struct imapc_mailbox mb;
	uint32_t *uids = NULL, got[2] = { 0, 0 };
	size_t n = 0;
	ck_assert_msg(imap_client_select_sync(c, "A", 50, &mb, &uids, &n, flags_collect, got,
					      &error) == 0,
		      "%s", error);
	ck_assert_uint_eq(mb.uidvalidity, 7);
	ck_assert_uint_eq(mb.highestmodseq, 9);	/* one digit (Dovecot's fresh folders) */
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(uids[0], 2);	/* sorted */
	ck_assert_uint_eq(uids[1], 4);
	free(uids);
	ck_assert_uint_eq(got[0], 4);
	ck_assert_uint_eq(got[1], IMAPC_FLAG_SEEN);
	uint32_t uv = 0, uid = 0;
	ck_assert_msg(imap_client_append(c, "A", IMAPC_FLAG_SEEN, "$Work", 1577836800, "hello", 5,
					 &uv, &uid, &error) == 0,
		      "%s", error);
	ck_assert_uint_eq(uv, 7);
	ck_assert_uint_eq(uid, 5);
	ck_assert_msg(imap_client_create(c, "New", &error) == 0, "%s", error);
	ck_assert_msg(imap_client_rename(c, "Old", "Newer", &error) == 0, "%s", error);
	ck_assert_msg(imap_client_unselect(c, &error) == 0, "%s", error);
	ck_assert_msg(imap_client_delete_folder(c, "A", &error) == 0, "%s", error);
	imap_client_free(&c);
	fake_server_stop(&fs);
	const char *heard = buf_cstr(&fs.heard);
	ck_assert_msg(strstr(heard, "STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)\r\n") != NULL,
		      "%s", heard);
	ck_assert_ptr_nonnull(strstr(heard, "STATUS \"L&AOQ-ndi\" ("));
	ck_assert_ptr_nonnull(strstr(heard, "SELECT \"A\" (CONDSTORE)\r\n"));
	ck_assert_ptr_nonnull(strstr(heard, "UID SEARCH ALL\r\n"));
	ck_assert_ptr_nonnull(strstr(heard, "UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 50)\r\n"));
	ck_assert_msg(strstr(heard, "APPEND \"A\" (\\Seen $Work) \"01-Jan-2020 00:00:00 +0000\" {5+}\r\nhello\r\n") != NULL,
		      "%s", heard);
	ck_assert_ptr_nonnull(strstr(heard, "CREATE \"New\"\r\n"));
	ck_assert_ptr_nonnull(strstr(heard, "RENAME \"Old\" \"Newer\"\r\n"));
	ck_assert_ptr_nonnull(strstr(heard, "CLOSE\r\n"));
	ck_assert_ptr_nonnull(strstr(heard, "DELETE \"A\"\r\n"));
	buf_free(&fs.heard);
}
END_TEST

/* RFC 7162 QRESYNC: ENABLE, then SELECT (QRESYNC (uidvalidity modseq))
 * and UID SEARCH UID from:* sent at once: what vanished since (only
 * VANISHED (EARLIER): a live one before [CLOSED] is the folder's before),
 * the flags changed, the new UIDs (the last UID below from dropped), and a
 * malformed VANISHED refused in plain words */
START_TEST(test_qresync_select)
{
	static const char *const script[] = {
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN QRESYNC] hi\r\n",
		"$T OK [CAPABILITY IMAP4rev1 QRESYNC] logged in\r\n",
		"* ENABLED QRESYNC\r\n$T OK enabled\r\n",
		"* VANISHED 900\r\n* OK [CLOSED] x\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n"
		"* OK [UIDNEXT 12] x\r\n* OK [HIGHESTMODSEQ 90] x\r\n"
		"* VANISHED (EARLIER) 3:4,8\r\n* 2 FETCH (UID 6 FLAGS (\\Seen) MODSEQ (60))\r\n"
		"$T OK [READ-WRITE] ok\r\n",
		"* SEARCH 11 10\r\n$T OK done\r\n",
		"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [HIGHESTMODSEQ 91] x\r\n$T OK ok\r\n",
		"* SEARCH 6\r\n$T OK done\r\n",
		"* OK [UIDVALIDITY 7] x\r\n* VANISHED (EARLIER) 5:*\r\n$T OK ok\r\n",
		"$T OK done\r\n",
	};
	struct fake_server fs;
	struct imap_client *c = scripted_session(&fs, script, sizeof script / sizeof script[0]);
	const char *error = NULL;
	ck_assert(!imap_client_qresync(c));
	ck_assert_msg(imap_client_enable_qresync(c, &error) == 0, "%s", error);
	ck_assert(imap_client_qresync(c));
	struct imapc_mailbox mb;
	uint32_t *uids = NULL, *vanished = NULL, got[2] = { 0, 0 };
	size_t n = 0, n_vanished = 0;
	ck_assert_msg(imap_client_select_qresync(c, "A", 7, 50, 9, &mb, &uids, &n, &vanished,
						 &n_vanished, flags_collect, got, &error) == 0,
		      "%s", error);
	ck_assert_uint_eq(mb.uidvalidity, 7);
	ck_assert_uint_eq(mb.uidnext, 12);
	ck_assert_uint_eq(mb.highestmodseq, 90);
	ck_assert_uint_eq(n_vanished, 3);
	ck_assert_uint_eq(vanished[0], 3);
	ck_assert_uint_eq(vanished[1], 4);
	ck_assert_uint_eq(vanished[2], 8);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(uids[0], 10);
	ck_assert_uint_eq(uids[1], 11);
	ck_assert_uint_eq(got[0], 6);
	ck_assert_uint_eq(got[1], IMAPC_FLAG_SEEN);
	free(uids);
	free(vanished);
	/* nothing new: "9:*" answered with the last UID, 6 */
	ck_assert_msg(imap_client_select_qresync(c, "B", 7, 50, 9, &mb, &uids, &n, &vanished,
						 &n_vanished, flags_collect, got, &error) == 0,
		      "%s", error);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(n_vanished, 0);
	free(uids);
	free(vanished);
	error = NULL;
	ck_assert_int_eq(imap_client_select_qresync(c, "C", 7, 50, 9, &mb, &uids, &n, &vanished,
						    &n_vanished, flags_collect, got, &error),
			 -1);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, "malformed VANISHED") != NULL, "%s", error);
	ck_assert_ptr_null(uids);
	ck_assert_ptr_null(vanished);
	imap_client_free(&c);
	fake_server_stop(&fs);
	const char *heard = buf_cstr(&fs.heard);
	ck_assert_msg(strstr(heard, "ENABLE QRESYNC\r\n") != NULL, "%s", heard);
	ck_assert_msg(strstr(heard, "SELECT \"A\" (QRESYNC (7 50))\r\n") != NULL, "%s", heard);
	ck_assert_msg(strstr(heard, "UID SEARCH UID 9:*\r\n") != NULL, "%s", heard);
	buf_free(&fs.heard);
}
END_TEST

/* Every flags report, in order. */
struct flags_list {
	uint32_t uids[8];
	unsigned flags[8];
	int n;
};

static int
flags_list_add(void *ctx, uint32_t uid, unsigned flags, const char *keywords, const char **error_r)
{
	(void)keywords;
	(void)error_r;
	struct flags_list *l = ctx;
	ck_assert_int_lt(l->n, 8);
	l->uids[l->n] = uid;
	l->flags[l->n++] = flags;
	return 0;
}

/* imap_client_sync_many: each folder's SELECT (QRESYNC) with the UID
 * FETCH of its new messages behind it, every folder's at once; a FETCH
 * before [CLOSED] is the folder's before (RFC 7162 §3.2.11), not given to
 * the next one's callback; from a server that sends no [CLOSED] it is the
 * folder's own */
START_TEST(test_qresync_sync_many)
{
	static const char *const script[] = {
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN QRESYNC] hi\r\n",
		"$T OK [CAPABILITY IMAP4rev1 QRESYNC] logged in\r\n",
		"* ENABLED QRESYNC\r\n$T OK enabled\r\n",
		/* A: nothing selected before, no [CLOSED] */
		"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT 12] x\r\n"
		"* OK [HIGHESTMODSEQ 90] x\r\n* VANISHED (EARLIER) 4,2\r\n"
		"* 2 FETCH (UID 6 FLAGS (\\Seen) MODSEQ (60))\r\n$T OK [READ-WRITE] ok\r\n",
		"* 3 FETCH (UID 10 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n$T OK done\r\n",
		/* B: A's flag change before [CLOSED] */
		"* 3 FETCH (UID 5 FLAGS (\\Flagged))\r\n* OK [CLOSED] x\r\n* 1 EXISTS\r\n"
		"* OK [UIDVALIDITY 8] x\r\n* OK [HIGHESTMODSEQ 41] x\r\n"
		"* 1 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (41))\r\n$T OK ok\r\n",
		/* C: a server without [CLOSED] */
		"* 1 FETCH (UID 3 FLAGS (\\Draft) MODSEQ (31))\r\n* OK [UIDVALIDITY 9] x\r\n"
		"* OK [HIGHESTMODSEQ 31] x\r\n$T OK ok\r\n",
		"* BYE bye\r\n$T OK bye\r\n",
	};
	struct fake_server fs;
	struct imap_client *c = scripted_session(&fs, script, sizeof script / sizeof script[0]);
	const char *error = NULL;
	struct imapc_sync_folder v[3];
	memset(v, 0, sizeof v);
	/* not without QRESYNC enabled */
	v[0] = (struct imapc_sync_folder){ .folder = "A", .uidvalidity = 7, .modseq = 50 };
	ck_assert_int_eq(imap_client_sync_many(c, v, 1, &error), -1);
	ck_assert_msg(imap_client_enable_qresync(c, &error) == 0, "%s", error);
	struct collected got;
	memset(&got, 0, sizeof got);
	struct imapc_fetch_sink sink = { c_begin, c_write, c_end, c_abort, &got };
	struct flags_list fl[3];
	memset(fl, 0, sizeof fl);
	v[0] = (struct imapc_sync_folder){ .folder = "A", .uidvalidity = 7, .modseq = 50,
					   .uidset = "10:11", .sink = &sink,
					   .flags_fn = flags_list_add, .flags_ctx = &fl[0] };
	v[1] = (struct imapc_sync_folder){ .folder = "B", .uidvalidity = 8, .modseq = 40,
					   .flags_fn = flags_list_add, .flags_ctx = &fl[1] };
	v[2] = (struct imapc_sync_folder){ .folder = "C", .uidvalidity = 9, .modseq = 30,
					   .flags_fn = flags_list_add, .flags_ctx = &fl[2] };
	ck_assert_msg(imap_client_sync_many(c, v, 3, &error) == 0, "%s", error);
	ck_assert_uint_eq(v[0].mb.uidvalidity, 7);
	ck_assert_uint_eq(v[0].mb.uidnext, 12);
	ck_assert_uint_eq(v[0].mb.highestmodseq, 90);
	ck_assert_uint_eq(v[0].n_vanished, 2);
	ck_assert_uint_eq(v[0].vanished[0], 2);
	ck_assert_uint_eq(v[0].vanished[1], 4);
	ck_assert_int_eq(fl[0].n, 1);
	ck_assert_uint_eq(fl[0].uids[0], 6);
	ck_assert_int_eq(got.n, 1);
	ck_assert_uint_eq(got.uids[0], 10);
	ck_assert_str_eq(buf_cstr(&got.data), "abc|");
	ck_assert_uint_eq(v[1].mb.uidvalidity, 8);
	ck_assert_uint_eq(v[1].n_vanished, 0);
	ck_assert_int_eq(fl[1].n, 1);	/* UID 5 was A's */
	ck_assert_uint_eq(fl[1].uids[0], 2);
	ck_assert_uint_eq(fl[1].flags[0], IMAPC_FLAG_ANSWERED);
	ck_assert_int_eq(fl[2].n, 1);
	ck_assert_uint_eq(fl[2].uids[0], 3);
	ck_assert_uint_eq(fl[2].flags[0], IMAPC_FLAG_DRAFT);
	for (size_t i = 0; i < 3; i++)
		free(v[i].vanished);
	buf_free(&got.data);
	imap_client_free(&c);
	fake_server_stop(&fs);
	const char *heard = buf_cstr(&fs.heard);
	ck_assert_msg(strstr(heard, "SELECT \"A\" (QRESYNC (7 50))\r\n") != NULL, "%s", heard);
	ck_assert_msg(strstr(heard, "UID FETCH 10:11 (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n") != NULL,
		      "%s", heard);
	ck_assert_msg(strstr(heard, "SELECT \"C\" (QRESYNC (9 30))\r\n") != NULL, "%s", heard);
	buf_free(&fs.heard);
}
END_TEST

/* imap_client_select_ahead: the SELECT goes behind the last command of
 * the folder (behind UID EXPUNGE, not behind the UID STORE before it),
 * imap_client_select_rw of that folder reads its answer without sending
 * it again; one written at once and not wanted is read and dropped
 * before the next command */
START_TEST(test_select_ahead)
{
	static const char *const script[] = {
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN UIDPLUS] hi\r\n",
		"$T OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in\r\n",
		"* OK [UIDVALIDITY 7] x\r\n$T OK [READ-WRITE] ok\r\n",	/* SELECT A */
		"$T OK stored\r\n",
		"* VANISHED 3\r\n$T OK expunged\r\n",
		"* 2 EXISTS\r\n* OK [UIDVALIDITY 8] x\r\n$T OK [READ-WRITE] ok\r\n",	/* B */
		"* OK [UIDVALIDITY 9] x\r\n$T OK [READ-WRITE] ok\r\n",	/* C, dropped */
		"$T OK noop\r\n",
		"* BYE bye\r\n$T OK bye\r\n",
	};
	struct fake_server fs;
	struct imap_client *c = scripted_session(&fs, script, sizeof script / sizeof script[0]);
	const char *error = NULL;
	struct imapc_mailbox mb;
	ck_assert_msg(imap_client_select_rw(c, "A", &mb, &error) == 0, "%s", error);
	ck_assert_int_eq(imap_client_select_ahead(c, "B", false, &error), 0);
	ck_assert_msg(imap_client_delete(c, "3", &error) == 0, "%s", error);
	ck_assert_msg(imap_client_select_rw(c, "B", &mb, &error) == 0, "%s", error);
	ck_assert_uint_eq(mb.uidvalidity, 8);
	ck_assert_uint_eq(mb.exists, 2);
	ck_assert_int_eq(imap_client_select_ahead(c, "C", true, &error), 0);
	bool news;
	ck_assert_msg(imap_client_noop(c, &news, &error) == 0, "%s", error);
	imap_client_free(&c);
	fake_server_stop(&fs);
	const char *heard = buf_cstr(&fs.heard);
	const char *store = strstr(heard, "UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\n");
	const char *expunge = strstr(heard, "UID EXPUNGE 3\r\n");
	const char *b = strstr(heard, "SELECT \"B\"\r\n");
	ck_assert_msg(store != NULL && expunge != NULL && b != NULL, "%s", heard);
	ck_assert_msg(store < expunge && expunge < b, "%s", heard);
	ck_assert_msg(strstr(b + 1, "SELECT \"B\"") == NULL, "%s", heard);	/* once */
	ck_assert_msg(strstr(heard, "SELECT \"C\"\r\n") != NULL, "%s", heard);
	buf_free(&fs.heard);
}
END_TEST

START_TEST(test_login_literal_and_errors)
{
	/* LOGIN with a password that needs a literal; then the login fails */
	static const char *const script[] = {
		"* OK hi\r\n",
		"* CAPABILITY IMAP4rev1\r\n$T OK\r\n",
		"+ go on\r\n",
		"A0002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
	};
	struct fake_server fs;
	fake_server_start(&fs, script, 4);
	struct upstream_settings set = plain_settings(fs.port);
	struct imap_client *c = NULL;
	const char *error = NULL;
	ck_assert_int_eq(imap_client_open(&set, "p\xc3\xa4ss", &LOOPBACK_5S, 1, &c, &error), -1);
	ck_assert_ptr_null(c);
	/* the server's words stay out of the error (they are logged) */
	ck_assert_str_eq(error, "login failed: the server rejected the username or password");
	fake_server_stop(&fs);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&fs.heard), "LOGIN \"joe\" {5}\r\np\xc3\xa4ss\r\n"));
	buf_free(&fs.heard);
}
END_TEST

static const char *
open_error(const char *const *script, size_t n)
{
	struct fake_server fs;
	fake_server_start(&fs, script, n);
	struct upstream_settings set = plain_settings(fs.port);
	struct imap_client *c = NULL;
	const char *error = NULL;
	int ret = imap_client_open(&set, "pw", &LOOPBACK_3S, 1, &c, &error);
	if (ret == 0) {
		struct collected col = { BUF_INIT };
		struct imapc_fetch_sink sink = { c_begin, c_write, c_end, c_abort, &col };
		ret = imap_client_fetch(c, "1", &sink, &error);
		buf_free(&col.data);
		ck_assert_int_eq(col.n, 0);
		ck_assert_int_eq(col.aborted, col.begun);
	}
	ck_assert_int_eq(ret, -1);
	imap_client_free(&c);
	fake_server_stop(&fs);
	buf_free(&fs.heard);
	return error;
}

START_TEST(test_hostile_servers)
{
	const char *e;
	static const char *const not_imap[] = { "220 smtp.example.org ESMTP\r\n" };
	e = open_error(not_imap, 1);
	ck_assert_str_eq(e, "this is not an IMAP server (its greeting is not an IMAP one)");

	static const char *const bye[] = { "* BYE too many connections from you\r\n" };
	e = open_error(bye, 1);
	ck_assert_str_eq(e, "the server refused the session (BYE in its greeting)");

	static const char *const huge[] = { FAKE_HUGE };
	e = open_error(huge, 1);
	ck_assert_msg(strstr(e, "overlong") || strstr(e, "closed"), "%s", e);

	static const char *const ok_then[] = {
		"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n",
		"$T OK in\r\n",
		"* CAPABILITY IMAP4rev1\r\n$T OK\r\n",
		NULL,
	};
	const char *mid[4];
	memcpy(mid, ok_then, sizeof mid);
	mid[3] = "* 1 FETCH (UID 1 BODY[] {100}\r\nonly part of it";
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "closed the connection in the middle of a message"));

	mid[3] = "* 1 FETCH (UID 1 BODY[] {-5}\r\n";
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "malformed"));

	mid[3] = "* 1 FETCH (UID 1 X {999999999}\r\n";
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "overlong literal"));

	mid[3] = "* 1 FETCH (BODY[] {3}\r\nabc)\r\n$T OK\r\n";
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "without its UID"));

	mid[3] = "* BYE shutting down\r\n";
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "closed the session"));
	ck_assert_ptr_null(strstr(e, "shutting down"));

	mid[3] = "X99 OK wrong tag\r\n";
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "unknown tag"));
	ck_assert_ptr_null(strstr(e, "wrong tag"));

	mid[3] = FAKE_CLOSE;
	e = open_error(mid, 4);
	ck_assert_ptr_nonnull(strstr(e, "closed the connection"));
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("imap_client");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, test_parse_tagged_untagged);
	tcase_add_test(tc, test_literal_and_caps);
	tcase_add_test(tc, test_search);
	tcase_add_test(tc, test_sync_parsers);
	tcase_add_test(tc, test_vanished);
	tcase_add_test(tc, test_fetch_state_machine);
	tcase_add_test(tc, test_fetch_many_literals);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_session);
	tcase_add_test(tc, test_twoway_up_commands);
	tcase_add_test(tc, test_qresync_select);
	tcase_add_test(tc, test_qresync_sync_many);
	tcase_add_test(tc, test_select_ahead);
	tcase_add_test(tc, test_login_literal_and_errors);
	tcase_add_test(tc, test_hostile_servers);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for imap/parser and imap/utf7. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/parser.h"
#include "imap/utf7.h"
#include "tests/unit/runner.h"

static const struct imap_parser_limits test_limits = {
	.line_max = 1000,
	.literal_max = 100000,
	.literal_buffer_max = 100000,
	.command_max = 1000000,
	.skip_max = 1000000,
	.args_max = 200,
	.depth_max = 8,
};

static void
dump_args(struct buf *out, const struct imap_arg *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];
		if (i > 0)
			buf_putc(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_printf(out, "a:%s", a->str);
			break;
		case IMAP_ARG_QUOTED:
			buf_printf(out, "q:%s", a->str);
			break;
		case IMAP_ARG_LITERAL:
			if (a->streamed)
				buf_printf(out, "s:%zu", a->len);
			else
				buf_printf(out, "l:%s", a->str);
			break;
		case IMAP_ARG_LIST:
			buf_putc(out, '(');
			dump_args(out, a->list, a->n);
			buf_putc(out, ')');
			break;
		}
	}
}

/*
 * Feeds text in chunks of step bytes (0: all at once), accepting every
 * literal (or streaming it when stream is set, skipping its bytes).  Returns
 * the dump of the first complete command, or "ERR:reason"; *literals_r
 * counts literal headers seen, *sync_r the synchronising ones.
 */
static char *
parse_with(const char *text, size_t len, size_t step, bool stream,
	   unsigned *literals_r, unsigned *sync_r)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	struct buf out = BUF_INIT;
	size_t pos = 0;
	unsigned lits = 0, syncs = 0;
	for (;;) {
		size_t chunk = len - pos;
		if (step > 0 && chunk > step)
			chunk = step;
		size_t used;
		const char *err;
		enum imap_parse_result r =
			imap_parser_feed(p, text + pos, chunk, &used, &err);
		ck_assert_uint_le(used, chunk);
		pos += used;
		if (r == IMAP_PARSE_COMPLETE) {
			size_t n;
			const struct imap_arg *args = imap_parser_args(p, &n);
			dump_args(&out, args, n);
			break;
		}
		if (r == IMAP_PARSE_ERROR) {
			buf_printf(&out, "ERR:%s", err);
			break;
		}
		if (r == IMAP_PARSE_LITERAL) {
			uint64_t size;
			bool sync;
			imap_parser_literal(p, &size, &sync);
			lits++;
			syncs += sync;
			if (stream) {
				ck_assert_uint_le(pos + size, len);
				pos += size;
				imap_parser_literal_streamed(p);
			} else if (imap_parser_literal_accept(p) < 0) {
				buf_puts(&out, "ERR:literal refused");
				break;
			}
			continue;
		}
		if (pos == len) {
			buf_puts(&out, "MORE");
			break;
		}
	}
	imap_parser_free(&p);
	if (literals_r)
		*literals_r = lits;
	if (sync_r)
		*sync_r = syncs;
	return buf_steal(&out);
}

/* Parses text at once, byte by byte, and in chunks of 3 and 7; all four
 * must agree; returns the dump. */
static char *
parse_all_ways(const char *text)
{
	size_t len = strlen(text);
	char *whole = parse_with(text, len, 0, false, NULL, NULL);
	const size_t steps[] = { 1, 3, 7 };
	for (size_t i = 0; i < 3; i++) {
		char *other = parse_with(text, len, steps[i], false, NULL, NULL);
		ck_assert_str_eq(other, whole);
		free(other);
	}
	return whole;
}

#define CHECK_PARSE(text, expected)                     \
	do {                                            \
		char *got_ = parse_all_ways(text);      \
		ck_assert_str_eq(got_, expected);       \
		free(got_);                             \
	} while (0)

START_TEST(test_simple_commands)
{
	CHECK_PARSE("a1 NOOP\r\n", "a:a1 a:NOOP");
	CHECK_PARSE("a1 NOOP\n", "a:a1 a:NOOP");
	CHECK_PARSE("tag LOGIN \"bob\" \"p\\\"w\\\\d\"\r\n",
		    "a:tag a:LOGIN q:bob q:p\"w\\d");
	CHECK_PARSE("x SELECT \"\"\r\n", "a:x a:SELECT q:");
	CHECK_PARSE("\r\n", "");
	CHECK_PARSE("A LIST \"\" %/*\r\n", "a:A a:LIST q: a:%/*");
	CHECK_PARSE("A STORE 1:*,3 +FLAGS.SILENT (\\Seen $Junk)\r\n",
		    "a:A a:STORE a:1:*,3 a:+FLAGS.SILENT (a:\\Seen a:$Junk)");
}
END_TEST

START_TEST(test_lists_and_sections)
{
	CHECK_PARSE("a FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)\r\n",
		    "a:a a:FETCH a:1 (a:FLAGS a:BODY.PEEK[HEADER.FIELDS (From To)]<0.100> a:UID)");
	CHECK_PARSE("a FETCH 1 BODY[1.2.MIME]\r\n", "a:a a:FETCH a:1 a:BODY[1.2.MIME]");
	CHECK_PARSE("a SEARCH (OR (FROM x) NOT (TO y)) ()\r\n",
		    "a:a a:SEARCH (a:OR (a:FROM a:x) a:NOT (a:TO a:y)) ()");
	CHECK_PARSE("a X ((()))\r\n", "a:a a:X ((()))");
}
END_TEST

START_TEST(test_literals)
{
	unsigned lits, syncs;
	const char *t = "a LOGIN {3}\r\nbob {4+}\r\np\r\nw\r\n";
	char *got = parse_with(t, strlen(t), 1, false, &lits, &syncs);
	ck_assert_str_eq(got, "a:a a:LOGIN l:bob l:p\r\nw");
	ck_assert_uint_eq(lits, 2);
	ck_assert_uint_eq(syncs, 1);
	free(got);
	CHECK_PARSE("a APPEND INBOX (\\Seen) {0}\r\n\r\n",
		    "a:a a:APPEND a:INBOX (a:\\Seen) l:");
	/* streamed: the parser never sees the literal's bytes */
	t = "a APPEND INBOX {5}\r\nHello\r\n";
	got = parse_with(t, strlen(t), 2, true, &lits, &syncs);
	ck_assert_str_eq(got, "a:a a:APPEND a:INBOX s:5");
	free(got);
	/* multiappend: more after a literal */
	t = "a APPEND INBOX {2+}\r\nab INBOX {1+}\r\nc\r\n";
	got = parse_with(t, strlen(t), 0, false, &lits, &syncs);
	ck_assert_str_eq(got, "a:a a:APPEND a:INBOX l:ab a:INBOX l:c");
	ck_assert_uint_eq(syncs, 0);
	free(got);
}
END_TEST

START_TEST(test_literal_checked_before_continuation)
{
	struct imap_parser_limits lim = test_limits;
	lim.literal_buffer_max = 10;
	struct imap_parser *p = imap_parser_new(&lim);
	const char *t = "a LOGIN {99999999999}\r\n";
	size_t used;
	const char *err;
	ck_assert_int_eq(imap_parser_feed(p, t, strlen(t), &used, &err),
			 IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, strlen(t));
	uint64_t size;
	bool sync;
	imap_parser_literal(p, &size, &sync);
	ck_assert(sync);
	ck_assert_uint_eq(size, 99999999999ULL);
	/* refused: the caller answers NO without sending "+" */
	ck_assert_int_eq(imap_parser_literal_accept(p), -1);
	imap_parser_reset(p);
	t = "b NOOP\r\n";
	ck_assert_int_eq(imap_parser_feed(p, t, strlen(t), &used, &err),
			 IMAP_PARSE_COMPLETE);
	imap_parser_free(&p);
}
END_TEST

START_TEST(test_errors)
{
	char *got;
	got = parse_all_ways("a LOGIN \"unterminated\r\n");
	ck_assert(strncmp(got, "ERR:", 4) == 0);
	free(got);
	got = parse_all_ways("a X (a b\r\n");
	ck_assert_str_eq(got, "ERR:unterminated list");
	free(got);
	got = parse_all_ways("a X a)\r\n");
	ck_assert_str_eq(got, "ERR:unexpected ')'");
	free(got);
	got = parse_all_ways("a X {12a}\r\n");
	ck_assert_str_eq(got, "ERR:invalid literal size");
	free(got);
	got = parse_all_ways("a X {+}\r\n");
	ck_assert_str_eq(got, "ERR:invalid literal size");
	free(got);
	got = parse_all_ways("a X {3} \r\n");
	ck_assert(strncmp(got, "ERR:", 4) == 0);
	free(got);
	got = parse_all_ways("a NOOP \r\n");
	ck_assert_str_eq(got, "ERR:trailing space");
	free(got);
	got = parse_all_ways("a X \"q\\n\"\r\n");
	ck_assert_str_eq(got, "ERR:invalid escape in a quoted string");
	free(got);
	got = parse_all_ways("a X \r");
	ck_assert(strncmp(got, "ERR", 3) == 0 || strcmp(got, "MORE") == 0);
	free(got);
	got = parse_all_ways("a X\rx");
	ck_assert_str_eq(got, "ERR:CR without LF");
	free(got);
	got = parse_all_ways("a X ((((((((((x))))))))))\r\n");
	ck_assert(strncmp(got, "ERR:lists nested", 16) == 0);
	free(got);
	got = parse_all_ways("a NOOP");
	ck_assert_str_eq(got, "MORE");
	free(got);
}
END_TEST

START_TEST(test_line_limit)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "a LOGIN ");
	for (int i = 0; i < 1200; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\r\n");
	char *got = parse_all_ways(buf_cstr(&b));
	ck_assert_str_eq(got, "ERR:command line too long");
	free(got);
	buf_free(&b);
	/* literal bytes do not count against the line */
	buf_puts(&b, "a LOGIN {1100}\r\n");
	for (int i = 0; i < 1100; i++)
		buf_putc(&b, 'y');
	buf_puts(&b, " z\r\n");
	got = parse_all_ways(buf_cstr(&b));
	ck_assert(strncmp(got, "a:a a:LOGIN l:yyy", 17) == 0);
	free(got);
	buf_free(&b);
}
END_TEST

START_TEST(test_args_limit)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "a X");
	for (int i = 0; i < 250; i++)
		buf_puts(&b, " x");
	buf_puts(&b, "\r\n");
	char *got = parse_all_ways(buf_cstr(&b));
	ck_assert_str_eq(got, "ERR:too many arguments");
	free(got);
	buf_free(&b);
}
END_TEST

START_TEST(test_next_command_after_complete)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	const char *t = "a NOOP\r\nb CHECK\r\n";
	size_t used;
	const char *err;
	ck_assert_int_eq(imap_parser_feed(p, t, strlen(t), &used, &err),
			 IMAP_PARSE_COMPLETE);
	ck_assert_uint_eq(used, 8);
	imap_parser_reset(p);
	ck_assert_int_eq(imap_parser_feed(p, t + used, strlen(t) - used,
					  &used, &err),
			 IMAP_PARSE_COMPLETE);
	size_t n;
	const struct imap_arg *args = imap_parser_args(p, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert(imap_arg_atom_eq(&args[1], "check"));
	imap_parser_free(&p);
}
END_TEST

/*
 * Drives the parser over text as the session does, fed in chunks of step
 * bytes (0: all at once), and writes down what happened, one event per
 * entry, separated by " | ": a complete command as its dump; "TOOBIG" for
 * a literal refused before its continuation (over literal_buffer_max or
 * command_max); "LIMIT(tag):why" for a limit passed inside a command;
 * "SKIPPED" for the end of a refused command; "DROP" for a synchronising
 * literal that ends a refused command (the client sends none); "BYE" for
 * a literal too large to skip (the end); "ERR:why" for a syntax error (the
 * rest of the line is dropped as the session does).  Literal bytes come
 * from the text itself.
 */
/* Starts the next entry of a transcript. */
static void
next_event(struct buf *out)
{
	if (out->len > 0)
		buf_puts(out, " | ");
}

static char *
transcript(const struct imap_parser_limits *lim, const char *text, size_t len,
	   size_t step)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct buf out = BUF_INIT;
	size_t pos = 0;
	bool more = true;

	while (more) {
		size_t chunk = len - pos;
		if (step > 0 && chunk > step)
			chunk = step;
		size_t used, n;
		const char *err;
		const struct imap_arg *args;
		uint64_t size;
		bool sync;
		enum imap_parse_result r =
			imap_parser_feed(p, text + pos, chunk, &used, &err);
		ck_assert_uint_le(used, chunk);
		pos += used;
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			break;
		case IMAP_PARSE_COMPLETE:
			next_event(&out);
			args = imap_parser_args(p, &n);
			dump_args(&out, args, n);
			imap_parser_reset(p);
			break;
		case IMAP_PARSE_SKIPPED:
			next_event(&out);
			buf_puts(&out, "SKIPPED");
			imap_parser_reset(p);
			break;
		case IMAP_PARSE_ERROR:
			next_event(&out);
			if (!imap_parser_skipping(p)) {
				const char *lf = memchr(text + pos, '\n', len - pos);
				buf_printf(&out, "ERR:%s", err);
				pos = lf != NULL ? (size_t)(lf - text) + 1 : len;
				imap_parser_reset(p);
				break;
			}
			args = imap_parser_args(p, &n);
			ck_assert_uint_le(n, 1);
			buf_printf(&out, "LIMIT(%s):%s", n == 1 ? args[0].str : "", err);
			break;
		case IMAP_PARSE_LITERAL:
			imap_parser_literal(p, &size, &sync);
			if (!imap_parser_skipping(p)) {
				if (imap_parser_literal_accept(p) == 0)
					break;
				next_event(&out);
				buf_puts(&out, "TOOBIG");
				imap_parser_skip(p);
				ck_assert(imap_parser_skipping(p));
			}
			if (sync) {
				next_event(&out);
				buf_puts(&out, "DROP");
				imap_parser_reset(p);
			} else if (imap_parser_literal_accept(p) < 0) {
				next_event(&out);
				buf_puts(&out, "BYE");
				more = false;
			}
			break;
		}
		if (pos == len)
			more = false;
	}
	imap_parser_free(&p);
	return buf_steal(&out);
}

/* transcript() at once, byte by byte and in chunks of 3 and 7, which must
 * all agree, compared with expected. */
static void
check_transcript(const struct imap_parser_limits *lim, const char *text,
		 size_t len, const char *expected)
{
	const size_t steps[] = { 0, 1, 3, 7 };
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		char *got = transcript(lim, text, len, steps[i]);
		ck_assert_msg(strcmp(got, expected) == 0,
			      "step %zu: got \"%s\", expected \"%s\"", steps[i],
			      got, expected);
		free(got);
	}
}

/* Appends n copies of c. */
static void
put_n(struct buf *b, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_putc(b, c);
}

START_TEST(test_command_limit_counts_literals)
{
	struct imap_parser_limits lim = test_limits;
	lim.literal_buffer_max = 1000;
	lim.command_max = 2000;
	lim.skip_max = 10000;
	struct buf b = BUF_INIT;
	/* each literal alone is allowed, two are not: the second is refused
	 * before its continuation, and the rest of the command, literals and
	 * all, is skipped; a literal that looks like a command is never taken
	 * for one */
	buf_puts(&b, "a X");
	for (int i = 0; i < 8; i++) {
		buf_puts(&b, " {900+}\r\n");
		put_n(&b, 'y', 890);
		buf_puts(&b, "z LOGOUT\r\n");
	}
	buf_puts(&b, " (q {3+}\r\nb Y) end\r\nc NOOP\r\n");
	check_transcript(&lim, b.data, b.len, "TOOBIG | SKIPPED | a:c a:NOOP");
	buf_free(&b);
}
END_TEST

START_TEST(test_literal_over_its_own_limit_is_skipped)
{
	struct imap_parser_limits lim = test_limits;
	lim.literal_buffer_max = 10;
	lim.skip_max = 100;
	const char t1[] = "a LOGIN {20+}\r\nb LOGOUT\r\n12345678 x\r\nc NOOP\r\n";
	check_transcript(&lim, t1, sizeof t1 - 1, "TOOBIG | SKIPPED | a:c a:NOOP");
	/* synchronising: refused without "+", so the client sends no literal
	 * and its command ends there */
	const char t2[] = "a LOGIN {20}\r\nc NOOP\r\n";
	check_transcript(&lim, t2, sizeof t2 - 1, "TOOBIG | DROP | a:c a:NOOP");
	/* a synchronising literal later in a refused command ends it too */
	const char t3[] = "a X {20+}\r\n12345678901234567890 {5}\r\nc NOOP\r\n";
	check_transcript(&lim, t3, sizeof t3 - 1, "TOOBIG | DROP | a:c a:NOOP");
	/* more than skip_max of literals in one refused command: the session
	 * must end */
	const char t4[] = "a X {20+}\r\n12345678901234567890 {90+}\r\n";
	check_transcript(&lim, t4, sizeof t4 - 1, "TOOBIG | BYE");
	const char t5[] = "a X {101+}\r\n";
	check_transcript(&lim, t5, sizeof t5 - 1, "TOOBIG | BYE");
}
END_TEST

START_TEST(test_limits_inside_a_command_skip_it)
{
	struct imap_parser_limits lim = test_limits;
	lim.args_max = 50;
	lim.skip_max = 100;
	struct buf b = BUF_INIT;
	/* tag, name and 48 atoms are 50 arguments: fine */
	buf_puts(&b, "a X");
	for (int i = 0; i < 48; i++)
		buf_puts(&b, " x");
	buf_puts(&b, "\r\n");
	char *got = transcript(&lim, b.data, b.len, 1);
	ck_assert(strncmp(got, "a:a a:X a:x", 11) == 0);
	free(got);
	/* one more, ended by the CRLF: refused, and the CRLF still ends it */
	buf_reset(&b);
	buf_puts(&b, "a X");
	for (int i = 0; i < 49; i++)
		buf_puts(&b, " x");
	buf_puts(&b, "\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT(a):too many arguments | SKIPPED | a:b a:NOOP");
	/* inside lists, with literals after the limit */
	buf_reset(&b);
	buf_puts(&b, "t1 SEARCH (");
	for (int i = 0; i < 60; i++)
		buf_puts(&b, "x ");
	buf_puts(&b, "(y {8+}\r\nz LOGOUT) \"q)\" [a (b] {3+}\r\n)))\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT(t1):too many arguments | SKIPPED | a:b a:NOOP");
	/* nesting */
	buf_reset(&b);
	buf_puts(&b, "n X ((((((((((x)))))))))) {4+}\r\nc Y)\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT(n):lists nested too deep | SKIPPED | a:b a:NOOP");
	/* a syntax error in a refused command ends it with its line */
	buf_reset(&b);
	buf_puts(&b, "n X ((((((((((x)))))))))) ) {4+}\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT(n):lists nested too deep | SKIPPED | a:b a:NOOP");
	buf_free(&b);
	/* the limit passed by an empty literal, taken at once */
	lim.args_max = 3;
	const char t[] = "a X y {0}\r\n z\r\nb NOOP\r\n";
	check_transcript(&lim, t, sizeof t - 1,
			 "LIMIT(a):too many arguments | SKIPPED | a:b a:NOOP");
}
END_TEST

START_TEST(test_line_and_command_limits_without_literals)
{
	struct imap_parser_limits lim = test_limits;
	lim.skip_max = 100;
	struct buf b = BUF_INIT;
	/* the line limit: what comes after it is skipped, literals too */
	buf_puts(&b, "a LOGIN ");
	put_n(&b, 'x', 1200);
	buf_puts(&b, " {10+}\r\nc LOGOUT\r\n\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT(a):command line too long | SKIPPED | a:b a:NOOP");
	/* what a command holds counts its arguments, not only its bytes */
	lim.command_max = 3000;
	buf_reset(&b);
	buf_puts(&b, "a X");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, " x");
	buf_puts(&b, "\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT(a):command too large | SKIPPED | a:b a:NOOP");
	/* a tag too long to keep: the reply has none */
	buf_reset(&b);
	put_n(&b, 't', 1100);
	buf_puts(&b, " NOOP\r\nb NOOP\r\n");
	check_transcript(&lim, b.data, b.len,
			 "LIMIT():command line too long | SKIPPED | a:b a:NOOP");
	buf_free(&b);
}
END_TEST

START_TEST(test_pending)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t used;
	const char *err;
	ck_assert(!imap_parser_pending(p));
	ck_assert_int_eq(imap_parser_feed(p, "a", 1, &used, &err),
			 IMAP_PARSE_NEED_MORE);
	ck_assert(imap_parser_pending(p));
	imap_parser_reset(p);
	ck_assert(!imap_parser_pending(p));
	ck_assert_int_eq(imap_parser_feed(p, "a X {1+}\r\n", 10, &used, &err),
			 IMAP_PARSE_LITERAL);
	ck_assert(imap_parser_pending(p));
	imap_parser_free(&p);
}
END_TEST

static void
check_utf7(const char *utf8, const char *mutf7)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(imap_utf8_to_mutf7(utf8, strlen(utf8), &b), 0);
	ck_assert_str_eq(buf_cstr(&b), mutf7);
	buf_reset(&b);
	ck_assert_int_eq(imap_mutf7_to_utf8(mutf7, strlen(mutf7), &b), 0);
	ck_assert_str_eq(buf_cstr(&b), utf8);
	buf_free(&b);
}

START_TEST(test_mutf7)
{
	check_utf7("INBOX", "INBOX");
	check_utf7("A&B", "A&-B");
	/* RFC 3501 §5.1.3's example */
	check_utf7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		   "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	check_utf7("Entw\xc3\xbc" "rfe", "Entw&APw-rfe");
	check_utf7("\xf0\x9f\x93\xa7", "&2D3c5w-");	/* U+1F4E7, a surrogate pair */
	struct buf b = BUF_INIT;
	/* not canonical or malformed */
	const char *bad[] = { "&", "&Jjo", "&AGE-", "&U,BTFw-&ZeVnLIqe-",
			      "&2D0-", "&3D3c5w-", "a\x80", "&APw", "&APx-",
			      "&-&", "&!-" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&b);
		ck_assert_msg(imap_mutf7_to_utf8(bad[i], strlen(bad[i]), &b) < 0,
			      "accepted %s", bad[i]);
		ck_assert_uint_eq(b.len, 0);
	}
	const char *bad8[] = { "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xff" };
	for (size_t i = 0; i < sizeof bad8 / sizeof bad8[0]; i++) {
		buf_reset(&b);
		ck_assert(imap_utf8_to_mutf7(bad8[i], strlen(bad8[i]), &b) < 0);
	}
	buf_free(&b);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("imap_parser");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_simple_commands);
	tcase_add_test(tc, test_lists_and_sections);
	tcase_add_test(tc, test_literals);
	tcase_add_test(tc, test_literal_checked_before_continuation);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_args_limit);
	tcase_add_test(tc, test_next_command_after_complete);
	tcase_add_test(tc, test_command_limit_counts_literals);
	tcase_add_test(tc, test_literal_over_its_own_limit_is_skipped);
	tcase_add_test(tc, test_limits_inside_a_command_skip_it);
	tcase_add_test(tc, test_line_and_command_limits_without_literals);
	tcase_add_test(tc, test_pending);
	tcase_add_test(tc, test_mutf7);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for mail/dkim_canon: the simple and relaxed canonicalizations
 * of RFC 6376 §3.4, with §3.4.5's example, every body fed whole, a byte at
 * a time and split at every position, and the sink's bounded pieces. */
#include <string.h>

#include "core/buf.h"
#include "mail/dkim_canon.h"
#include "mail/header.h"
#include "tests/unit/runner.h"

/* RFC 6376 §3.4.5 */
static const char EXAMPLE_HDR[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n";
static const char EXAMPLE_BODY[] = " C \r\nD \t E\r\n\r\n\r\n";

static void
canon_headers(const char *hdr, enum dkim_canon c, struct buf *out)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	size_t len = mail_header_size(hdr, strlen(hdr));
	mail_header_iter_init(&it, hdr, len);
	while (mail_header_iter_next(&it, &f)) {
		if (c == DKIM_CANON_RELAXED)
			dkim_canon_header(f.name, f.name_len, f.value, f.value_len, out);
		else
			dkim_canon_header_simple(hdr + f.raw_off, f.raw_len, out);
	}
}

START_TEST(test_header_example)
{
	struct buf b = BUF_INIT;
	canon_headers(EXAMPLE_HDR, DKIM_CANON_RELAXED, &b);
	ck_assert_str_eq(buf_cstr(&b), "a:X\r\nb:Y Z\r\n");
	buf_reset(&b);
	canon_headers(EXAMPLE_HDR, DKIM_CANON_SIMPLE, &b);
	ck_assert_str_eq(buf_cstr(&b), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_header_cases)
{
	struct buf b = BUF_INIT;
	/* relaxed: name lowercased, value's white space runs one space,
	 * none at its ends; folding gone */
	dkim_canon_header("SUBJECT", 7, "  a \t b\r\n  c \r\n", 15, &b);
	ck_assert_str_eq(buf_cstr(&b), "subject:a b c\r\n");
	buf_reset(&b);
	dkim_canon_header("X", 1, "", 0, &b);
	ck_assert_str_eq(buf_cstr(&b), "x:\r\n");
	buf_reset(&b);
	/* simple: bare LF made CRLF, nothing else changes */
	dkim_canon_header_simple("Subject:  a \n\tb\n", 16, &b);
	ck_assert_str_eq(buf_cstr(&b), "Subject:  a \r\n\tb\r\n");
	buf_reset(&b);
	dkim_canon_header_simple("A: b\r\n", 6, &b);
	ck_assert_str_eq(buf_cstr(&b), "A: b\r\n");
	buf_free(&b);
}
END_TEST

/* Canonicalizes in[0..len) fed in pieces: split at cut (when cut < len),
 * then the rest step bytes at a time. */
static void
canon_body(enum dkim_canon c, const char *in, size_t len, size_t cut, size_t step,
	   struct buf *out)
{
	struct dkim_body st;
	dkim_body_init(&st, c, dkim_body_sink_buf, out);
	size_t i = 0;
	if (cut < len) {
		dkim_body_add(&st, in, cut);
		i = cut;
	}
	for (; i < len; i += step)
		dkim_body_add(&st, in + i, len - i < step ? len - i : step);
	dkim_body_finish(&st);
}

static const struct {
	const char *in, *relaxed, *simple;
} bodies[] = {
	{ EXAMPLE_BODY, " C\r\nD E\r\n", " C \r\nD \t E\r\n" },
	{ "", "", "\r\n" },
	{ "\r\n", "", "\r\n" },
	{ "\r\n\r\n", "", "\r\n" },
	{ " \t \r\n", "", " \t \r\n" },
	{ "no end", "no end\r\n", "no end\r\n" },
	{ "a\r\n \t\r\nb  \r\n\r\n", "a\r\n\r\nb\r\n", "a\r\n \t\r\nb  \r\n" },
	{ "bare\rcr\r\n", "bare\rcr\r\n", "bare\rcr\r\n" },
	{ "ends in cr\r", "ends in cr\r\r\n", "ends in cr\r\r\n" },
	{ "lf\nonly\n\n", "lf\r\nonly\r\n", "lf\r\nonly\r\n" },
	{ "\r\n\r\nx\r\n", "\r\n\r\nx\r\n", "\r\n\r\nx\r\n" },
	{ "a\t\tb   c\r\n", "a b c\r\n", "a\t\tb   c\r\n" },
	{ "\r\r\n", "\r\r\n", "\r\r\n" },
	{ "x\r\n\r\n \r\n", "x\r\n", "x\r\n\r\n \r\n" },
};

START_TEST(test_body_cases)
{
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		const char *in = bodies[i].in;
		size_t len = strlen(in);
		for (int r = 0; r < 2; r++) {
			enum dkim_canon c = r ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
			const char *want = r ? bodies[i].relaxed : bodies[i].simple;
			/* whole, a byte at a time, in threes, split anywhere */
			for (size_t cut = 0; cut <= len + 1; cut++) {
				for (size_t step = 1; step <= 3; step++) {
					struct buf b = BUF_INIT;
					canon_body(c, in, len, cut, step, &b);
					ck_assert_msg(strcmp(buf_cstr(&b), want) == 0,
						      "case %zu %s cut %zu step %zu: got \"%s\"",
						      i, dkim_canon_name(c), cut, step,
						      buf_cstr(&b));
					buf_free(&b);
				}
			}
		}
	}
}
END_TEST

struct pieces {
	size_t bytes, calls, largest;
};

static void
count_sink(void *ctx, const void *p, size_t n)
{
	struct pieces *pc = ctx;
	(void)p;
	pc->bytes += n;
	pc->calls++;
	if (n > pc->largest)
		pc->largest = n;
}

/* A million empty lines held back and then written when text follows
 * reach the sink in bounded pieces, not as one 2 MB write. */
START_TEST(test_body_bounded_output)
{
	struct pieces pc = { 0, 0, 0 };
	struct dkim_body st;
	dkim_body_init(&st, DKIM_CANON_RELAXED, count_sink, &pc);
	for (int i = 0; i < 1000000; i++)
		dkim_body_add(&st, "\r\n", 2);
	ck_assert_uint_eq(pc.bytes, 0);
	dkim_body_add(&st, "x", 1);
	dkim_body_finish(&st);
	ck_assert_uint_eq(pc.bytes, 2000000 + 3);
	ck_assert_uint_le(pc.largest, DKIM_BODY_OUT);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dkim_canon");
	TCase *tc = tcase_create("dkim_canon");
	tcase_add_test(tc, test_header_example);
	tcase_add_test(tc, test_header_cases);
	tcase_add_test(tc, test_body_cases);
	tcase_add_test(tc, test_body_bounded_output);
	suite_add_tcase(s, tc);
	return s;
}

/* Unit tests for smtp/data: the streaming DATA reader. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/data.h"
#include "tests/unit/runner.h"

struct sink {
	struct buf out;
	unsigned calls;
	int fail_after;		/* fail the call after this many, -1 never */
};

static int
sink_fn(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;
	if (k->fail_after >= 0 && k->calls >= (unsigned)k->fail_after)
		return -1;
	k->calls++;
	buf_append(&k->out, p, n);
	return 0;
}

/* Feeds in[0..n) in pieces of step bytes (0: all at once) until done;
 * returns the bytes consumed. */
static size_t
run(const char *in, size_t n, size_t step, size_t max_line, struct sink *k,
    struct smtp_data *d)
{
	memset(k, 0, sizeof *k);
	k->fail_after = -1;
	smtp_data_init(d, max_line, sink_fn, k);
	size_t pos = 0;
	while (pos < n && !d->done) {
		size_t len = step == 0 || n - pos < step ? n - pos : step;
		size_t used = smtp_data_feed(d, in + pos, len);
		ck_assert_uint_le(used, len);
		if (!d->done)
			ck_assert_uint_eq(used, len);
		pos += used;
	}
	return pos;
}

/* The whole input, every piece size, and every split into two pieces give
 * the same output and consume the same bytes. */
static void
check_all_splits(const char *in, size_t n, const char *want, size_t want_len,
		 size_t want_used, unsigned want_errors)
{
	struct sink k;
	struct smtp_data d;
	for (size_t step = 0; step <= n; step++) {
		size_t used = run(in, n, step, 0, &k, &d);
		if (want_used == 0) {
			ck_assert(!d.done);
		} else {
			ck_assert_msg(d.done, "not done at step %zu", step);
			ck_assert_uint_eq(used, want_used);
		}
		ck_assert_uint_eq(d.errors, want_errors);
		if (want_errors == 0) {
			ck_assert_uint_eq(k.out.len, want_len);
			ck_assert_int_eq(memcmp(k.out.data != NULL ? k.out.data : "", want, want_len), 0);
		}
		buf_free(&k.out);
	}
	for (size_t cut = 0; cut <= n; cut++) {
		memset(&k, 0, sizeof k);
		k.fail_after = -1;
		smtp_data_init(&d, 0, sink_fn, &k);
		size_t used = smtp_data_feed(&d, in, cut);
		if (!d.done)
			used += smtp_data_feed(&d, in + cut, n - cut);
		if (want_used != 0)
			ck_assert_uint_eq(used, want_used);
		ck_assert_uint_eq(d.errors, want_errors);
		if (want_errors == 0) {
			ck_assert_uint_eq(k.out.len, want_len);
			ck_assert_int_eq(memcmp(k.out.data != NULL ? k.out.data : "", want, want_len), 0);
		}
		buf_free(&k.out);
	}
}

START_TEST(test_simple)
{
	static const char in[] = "Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n";
	static const char want[] = "Subject: x\r\n\r\nhello\r\n";
	check_all_splits(in, sizeof in - 1, want, sizeof want - 1,
			 sizeof in - 1 - strlen("QUIT\r\n"), 0);
}
END_TEST

START_TEST(test_empty_and_dots)
{
	static const char empty[] = ".\r\nNOOP\r\n";
	check_all_splits(empty, sizeof empty - 1, "", 0, 3, 0);

	/* RFC 5321 §4.5.2: the first dot of a line goes */
	static const char in[] = "..\r\n..x\r\n.y\r\na.b\r\n...\r\n.\r\n";
	static const char want[] = ".\r\n.x\r\ny\r\na.b\r\n..\r\n";
	check_all_splits(in, sizeof in - 1, want, sizeof want - 1, sizeof in - 1, 0);
}
END_TEST

START_TEST(test_smuggling)
{
	/* "<LF>.<LF>", "<LF>.<CRLF>", "<CRLF>.<LF>", "<CR>.<CR>" never end
	 * the data: the real end follows, and the errors are recorded */
	static const char a[] = "x\n.\nMAIL FROM:<a@b.c>\r\n.\r\n";
	check_all_splits(a, sizeof a - 1, NULL, 0, sizeof a - 1, SMTP_DATA_ERR_BARE_LF);
	static const char b[] = "x\n.\r\nMAIL FROM:<a@b.c>\r\n.\r\n";
	check_all_splits(b, sizeof b - 1, NULL, 0, sizeof b - 1, SMTP_DATA_ERR_BARE_LF);
	static const char c[] = "x\r\n.\nMAIL FROM:<a@b.c>\r\n.\r\n";
	check_all_splits(c, sizeof c - 1, NULL, 0, sizeof c - 1, SMTP_DATA_ERR_BARE_LF);
	static const char d[] = "x\r.\rMAIL\r\n.\r\n";
	check_all_splits(d, sizeof d - 1, NULL, 0, sizeof d - 1, SMTP_DATA_ERR_BARE_CR);
	static const char e[] = "x\r\n.\rMAIL\r\n.\r\n";
	check_all_splits(e, sizeof e - 1, NULL, 0, sizeof e - 1, SMTP_DATA_ERR_BARE_CR);
	static const char f[] = "x\r\r\n.\r\n";
	check_all_splits(f, sizeof f - 1, NULL, 0, sizeof f - 1, SMTP_DATA_ERR_BARE_CR);
	/* never ends at all on bare line ends only */
	static const char g[] = "x\n.\n";
	check_all_splits(g, sizeof g - 1, NULL, 0, 0, SMTP_DATA_ERR_BARE_LF);
}
END_TEST

START_TEST(test_long_line)
{
	struct sink k;
	struct smtp_data d;
	static const char ok[] = "12345678\r\n.\r\n";	/* 10 with CRLF */
	run(ok, sizeof ok - 1, 0, 10, &k, &d);
	ck_assert(d.done);
	ck_assert_uint_eq(d.errors, 0);
	buf_free(&k.out);
	static const char bad[] = "123456789\r\n.\r\n";	/* 11 with CRLF */
	run(bad, sizeof bad - 1, 1, 10, &k, &d);
	ck_assert(d.done);
	ck_assert_uint_eq(d.errors, SMTP_DATA_ERR_LONG_LINE);
	buf_free(&k.out);
}
END_TEST

/* in = prefix, n_long bytes of 'a', long_end, suffix; fed in pieces of
 * step bytes (0: whole) with a line limit of 1000. */
static size_t
run_long(const char *prefix, size_t n_long, const char *long_end,
	 const char *suffix, size_t step, struct sink *k, struct smtp_data *d)
{
	struct buf in = BUF_INIT;
	buf_puts(&in, prefix);
	for (size_t i = 0; i < n_long; i++)
		buf_putc(&in, 'a');
	buf_puts(&in, long_end);
	buf_puts(&in, suffix);
	size_t used = run(in.data, in.len, step, 1000, k, d);
	buf_free(&in);
	return used;
}

START_TEST(test_long_line_smuggling)
{
	/* issue 14: a line over the limit that ends in a bare LF (or CR) puts
	 * nothing at the start of a line, so "<long><LF>.<CRLF>" is no end;
	 * whole, in pieces, and byte by byte */
	static const char *const ends[] = { "\n", "\r", "\r\r", "\n\r", "\r\n\n" };
	static const char forged[] = ".\r\nMAIL FROM:<a@b.c>\r\nDATA\r\nevil\r\n";
	static const size_t steps[] = { 0, 1, 2, 3, 999, 1000, 1001, 4096 };
	for (size_t e = 0; e < sizeof ends / sizeof ends[0]; e++) {
		for (size_t t = 0; t < sizeof steps / sizeof steps[0]; t++) {
			struct sink k;
			struct smtp_data d;
			size_t used = run_long("Subject: x\r\n\r\n", 70000, ends[e], forged,
					       steps[t], &k, &d);
			/* never ends: the forged lines are all still data */
			ck_assert_msg(!d.done, "end %zu step %zu", e, steps[t]);
			ck_assert_uint_eq(used, d.bytes_in);
			ck_assert(d.errors & SMTP_DATA_ERR_LONG_LINE);
			ck_assert(d.errors & (SMTP_DATA_ERR_BARE_LF | SMTP_DATA_ERR_BARE_CR));
			buf_free(&k.out);
			/* and the real end marker still ends it */
			used = run_long("Subject: x\r\n\r\n", 70000, ends[e],
					".\r\nx\r\n.\r\nNEXT\r\n", steps[t], &k, &d);
			ck_assert(d.done);
			buf_free(&k.out);
		}
	}
	/* a long line that ends in CRLF: the next line does start there */
	static const size_t lens[] = { 998, 999, 1000, 70000 };
	for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
		for (size_t t = 0; t < sizeof steps / sizeof steps[0]; t++) {
			struct sink k;
			struct smtp_data d;
			size_t used = run_long("", lens[l], "\r\n", ".\r\nNEXT\r\n",
					       steps[t], &k, &d);
			ck_assert(d.done);
			ck_assert_uint_eq(used, lens[l] + 5);
			/* 998 + CRLF is the limit of 1000; more is too long */
			ck_assert_uint_eq(d.errors, lens[l] + 2 > 1000 ? SMTP_DATA_ERR_LONG_LINE : 0);
			buf_free(&k.out);
		}
	}
}
END_TEST

/* Feeds the chunks of a BDAT body; the errors at the end. */
static unsigned
run_chunked(const char *const *chunks, size_t n, size_t max_line, struct buf *out)
{
	struct sink k;
	struct smtp_data d;
	memset(&k, 0, sizeof k);
	k.fail_after = -1;
	smtp_data_init_chunked(&d, max_line, sink_fn, &k);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(chunks[i]);
		ck_assert_uint_eq(smtp_data_feed(&d, chunks[i], len), len);
		ck_assert(!d.done);
	}
	smtp_data_end(&d);
	ck_assert(d.done);
	if (out != NULL)
		buf_append(out, k.out.data, k.out.len);
	buf_free(&k.out);
	return d.errors;
}

START_TEST(test_chunked)
{
	/* BDAT: bytes pass as they are (dots too, ".\r\n" is no end), and
	 * the line rules of DATA apply across chunk boundaries */
	struct buf out = BUF_INIT;
	const char *a[] = { "Subject: x\r\n\r\n.\r\n..x\r", "\nend\r\n" };
	ck_assert_uint_eq(run_chunked(a, 2, 1000, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), "Subject: x\r\n\r\n.\r\n..x\r\nend\r\n");
	buf_free(&out);
	const char *b[] = { "x\n.\r\n" };
	ck_assert_uint_eq(run_chunked(b, 1, 1000, NULL), SMTP_DATA_ERR_BARE_LF);
	const char *c[] = { "x\r", ".\r\n" };
	ck_assert_uint_eq(run_chunked(c, 2, 1000, NULL), SMTP_DATA_ERR_BARE_CR);
	const char *d[] = { "no line end at all" };
	ck_assert_uint_eq(run_chunked(d, 1, 1000, NULL), 0);
	const char *e[] = { "ends in a bare CR\r" };
	ck_assert_uint_eq(run_chunked(e, 1, 1000, NULL), SMTP_DATA_ERR_BARE_CR);
	const char *f[] = { "0123456", "7\r", "\n" };
	ck_assert_uint_eq(run_chunked(f, 3, 10, NULL), 0);
	const char *g[] = { "0123456", "789\r", "\n" };
	ck_assert_uint_eq(run_chunked(g, 3, 10, NULL), SMTP_DATA_ERR_LONG_LINE);
	/* byte by byte: a CR at a chunk's end and its LF in the next one */
	static const char bytes[] = "a\r\n.b\r\n\r\n";
	const char *one[sizeof bytes - 1];
	char store[sizeof bytes - 1][2];
	for (size_t i = 0; i < sizeof bytes - 1; i++) {
		store[i][0] = bytes[i];
		store[i][1] = '\0';
		one[i] = store[i];
	}
	ck_assert_uint_eq(run_chunked(one, sizeof bytes - 1, 1000, &out), 0);
	ck_assert_str_eq(buf_cstr(&out), bytes);
	buf_free(&out);
}
END_TEST

START_TEST(test_sink_failure)
{
	struct sink k;
	struct smtp_data d;
	memset(&k, 0, sizeof k);
	k.fail_after = 0;
	smtp_data_init(&d, 0, sink_fn, &k);
	static const char in[] = "a\r\n.b\r\nc\r\n.\r\nNEXT";
	size_t used = smtp_data_feed(&d, in, 3);
	used += smtp_data_feed(&d, in + used, sizeof in - 1 - used);
	ck_assert(d.done);
	ck_assert_uint_eq(used, sizeof in - 1 - 4);
	ck_assert_uint_eq(d.errors, SMTP_DATA_ERR_SINK);
	ck_assert_uint_eq(k.calls, 0);
	/* the count goes on, for the size check */
	ck_assert_uint_eq(d.bytes_out, strlen("a\r\nb\r\nc\r\n"));
	ck_assert_uint_eq(d.bytes_in, used);
	buf_free(&k.out);
}
END_TEST

START_TEST(test_binary_and_big)
{
	/* 8-bit bytes and NULs pass through; 1 MiB in 3-byte pieces */
	struct buf in = BUF_INIT, want = BUF_INIT;
	for (int i = 0; i < 20000; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "%s%05d \xc3\xa9\x01%c\r\n",
				 i % 7 == 0 ? "." : "", i, 0);
		buf_append(&in, line, (size_t)n);
		buf_append(&want, line + (i % 7 == 0 ? 1 : 0), (size_t)n - (i % 7 == 0 ? 1 : 0));
	}
	buf_puts(&in, ".\r\n");
	struct sink k;
	struct smtp_data d;
	size_t used = run(in.data, in.len, 3, 1000, &k, &d);
	ck_assert(d.done);
	ck_assert_uint_eq(used, in.len);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_uint_eq(k.out.len, want.len);
	ck_assert_int_eq(memcmp(k.out.data, want.data, want.len), 0);
	buf_free(&k.out);
	buf_free(&in);
	buf_free(&want);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("smtp_data");
	TCase *tc = tcase_create("data");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_simple);
	tcase_add_test(tc, test_empty_and_dots);
	tcase_add_test(tc, test_smuggling);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_long_line_smuggling);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_sink_failure);
	tcase_add_test(tc, test_binary_and_big);
	suite_add_tcase(s, tc);
	return s;
}

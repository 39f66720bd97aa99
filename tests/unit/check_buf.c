/* Unit tests for core/buf and core/log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "tests/unit/runner.h"

START_TEST(test_append_and_limit)
{
	struct buf b;
	buf_init(&b, 10);
	ck_assert_int_eq(buf_puts(&b, "hello"), 0);
	ck_assert_int_eq(buf_append(&b, "\0x", 2), 0);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_int_eq(memcmp(b.data, "hello\0x", 7), 0);
	ck_assert_int_eq(b.data[7], '\0');
	/* 4 more would make 11 > 10: refused, buffer unchanged */
	ck_assert_int_eq(buf_puts(&b, "abcd"), -1);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_int_eq(buf_puts(&b, "abc"), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(buf_putc(&b, 'z'), -1);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_str_eq(buf_cstr(&b), "");
}
END_TEST

START_TEST(test_printf_grows)
{
	struct buf b = BUF_INIT;
	char big[1000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(buf_printf(&b, "%d-%s", 42, big), 0);
	ck_assert_uint_eq(b.len, 3 + 999);
	ck_assert_int_eq(strncmp(buf_cstr(&b), "42-aaa", 6), 0);
	struct buf small;
	buf_init(&small, 100);
	ck_assert_int_eq(buf_printf(&small, "%s", big), -1);
	ck_assert_uint_eq(small.len, 0);
	buf_free(&b);
	buf_free(&small);
}
END_TEST

START_TEST(test_consume_truncate_steal)
{
	struct buf b = BUF_INIT;
	ck_assert_int_eq(buf_puts(&b, "line1\r\nline2"), 0);
	buf_consume(&b, 7);
	ck_assert_str_eq(buf_cstr(&b), "line2");
	buf_truncate(&b, 4);
	ck_assert_str_eq(buf_cstr(&b), "line");
	buf_consume(&b, 100);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(buf_puts(&b, "x"), 0);
	char *s = buf_steal(&b);
	ck_assert_str_eq(s, "x");
	ck_assert_ptr_null(b.data);
	free(s);
}
END_TEST

START_TEST(test_reserve_commit)
{
	struct buf b;
	buf_init(&b, 8);
	char *p = buf_reserve(&b, 8);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "12345678", 8);
	buf_commit(&b, 8);
	ck_assert_str_eq(buf_cstr(&b), "12345678");
	ck_assert_ptr_null(buf_reserve(&b, 1));
	buf_free(&b);
}
END_TEST

START_TEST(test_escape)
{
	struct buf b = BUF_INIT;
	buf_append_escaped(&b, "a\"b\\c\r\n\x01\xff", 9, 100);
	ck_assert_str_eq(buf_cstr(&b), "a\\\"b\\\\c\\x0d\\x0a\\x01\\xff");
	buf_reset(&b);
	buf_append_escaped(&b, "abcdef", 6, 3);
	ck_assert_str_eq(buf_cstr(&b), "abc...");
	buf_free(&b);
	ck_assert_str_eq(esc("x\ny", 3), "x\\x0ay");
	ck_assert_str_eq(esc_str(NULL), "(null)");
}
END_TEST

START_TEST(test_nocase)
{
	ck_assert(str_eq_nocase("HeLLo", "hello"));
	ck_assert(!str_eq_nocase("hello", "hell"));
	ck_assert(str_has_prefix_nocase("MAIL FROM:<a>", "mail from:"));
	ck_assert(!str_has_prefix_nocase("MAI", "mail"));
	char s[] = "MiXeD@Example.ORG";
	str_lower(s);
	ck_assert_str_eq(s, "mixed@example.org");
}
END_TEST

START_TEST(test_log_ring)
{
	struct log_event *ev = xcalloc(LOG_RING_SIZE + 10, sizeof *ev);
	char want[32];
	log_set_quiet(1);
	size_t before = log_ring_read(0, ev, LOG_RING_SIZE + 10);
	uint64_t last = before > 0 ? ev[before - 1].seq : 0;
	log_info("first event key=%d", 1);
	log_warning("second\nevent");
	size_t n = log_ring_read(last, ev, 10);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ev[0].text, "first event key=1");
	/* a newline never splits an event */
	ck_assert_str_eq(ev[1].text, "second event");
	ck_assert_int_eq(ev[1].level, LOG_LEVEL_WARNING);
	ck_assert_uint_eq(ev[1].seq, ev[0].seq + 1);
	/* the ring keeps only the newest LOG_RING_SIZE events */
	for (int i = 0; i < LOG_RING_SIZE + 5; i++)
		log_info("filler %d", i);
	n = log_ring_read(0, ev, LOG_RING_SIZE + 10);
	ck_assert_uint_eq(n, LOG_RING_SIZE);
	snprintf(want, sizeof want, "filler %d", LOG_RING_SIZE + 4);
	ck_assert_str_eq(ev[n - 1].text, want);
	log_debug("below the level");
	ck_assert_uint_eq(log_ring_read(ev[n - 1].seq, ev, 10), 0);
	free(ev);
}
END_TEST

START_TEST(test_journal_entry)
{
	struct buf b = BUF_INIT;
	log_journal_entry(&b, LOG_LEVEL_INFO, "imap[12] login user=alice@example.org"
			  " ip=192.0.2.4 tls=TLSv1.3 reason=\"bad \\\"x\\\" y\" x=");
	ck_assert_str_eq(buf_cstr(&b),
		"MESSAGE=imap[12] login user=alice@example.org ip=192.0.2.4 tls=TLSv1.3"
		" reason=\"bad \\\"x\\\" y\" x=\n"
		"PRIORITY=6\nSYSLOG_IDENTIFIER=mailhub\nSYSLOG_FACILITY=2\n"
		"MAILHUB_PROTOCOL=imap\nMAILHUB_SESSION=12\n"
		"MAILHUB_USER=alice@example.org\nMAILHUB_IP=192.0.2.4\n"
		"MAILHUB_TLS=TLSv1.3\nMAILHUB_REASON=bad \\\"x\\\" y\nMAILHUB_X=\n");
	buf_reset(&b);
	/* no session prefix; words without '=' are only message */
	log_journal_entry(&b, LOG_LEVEL_ERROR, "store gc removed=3 of them");
	ck_assert_str_eq(buf_cstr(&b),
		"MESSAGE=store gc removed=3 of them\nPRIORITY=3\n"
		"SYSLOG_IDENTIFIER=mailhub\nSYSLOG_FACILITY=2\nMAILHUB_REMOVED=3\n");
	/* at most 32 fields, whatever the line */
	struct buf line = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_printf(&line, "k%d=v ", i);
	buf_reset(&b);
	log_journal_entry(&b, LOG_LEVEL_INFO, buf_cstr(&line));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&b), "MAILHUB_K31=v\n"));
	ck_assert_ptr_null(strstr(buf_cstr(&b), "MAILHUB_K32="));
	buf_free(&line);
	buf_free(&b);
}
END_TEST

START_TEST(test_level_parse)
{
	enum log_level l;
	ck_assert_int_eq(log_level_parse("warning", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARNING);
	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("Info", &l), -1);
	ck_assert_int_eq(log_level_parse("", &l), -1);
}
END_TEST

START_TEST(test_errfmt)
{
	const char *a = errfmt("one %d", 1);
	const char *b = errfmt("two %s", "x");
	ck_assert_str_eq(a, "one 1");
	ck_assert_str_eq(b, "two x");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_append_and_limit);
	tcase_add_test(tc, test_printf_grows);
	tcase_add_test(tc, test_consume_truncate_steal);
	tcase_add_test(tc, test_reserve_commit);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_nocase);
	tcase_add_test(tc, test_log_ring);
	tcase_add_test(tc, test_journal_entry);
	tcase_add_test(tc, test_level_parse);
	tcase_add_test(tc, test_errfmt);
	suite_add_tcase(s, tc);
	return s;
}

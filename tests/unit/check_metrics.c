/* Unit tests for core/metrics: counters bumped from threads at once add up,
 * the account table claims one slot per id (and shares "other" past it),
 * the text format, and the history ring. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "tests/unit/runner.h"

#define THREADS 8
#define ROUNDS 20000

static void *
bumper(void *arg)
{
	int64_t id = (int64_t)(intptr_t)arg;
	for (int i = 0; i < ROUNDS; i++) {
		metrics_received(METRICS_PROTO_SMTP);
		metrics_rejected(METRICS_REJECT_GREYLIST);
		metrics_login_failed("imap");
		metrics_fetch_run(1 + (i % 3) + id * 0, i % 2 == 0, 1);
	}
	return NULL;
}

/* The value of the sample line "name{labels} V" in text, or -1. */
static long long
sample(const char *text, const char *line_start)
{
	const char *p = text;
	size_t n = strlen(line_start);
	while ((p = strstr(p, line_start)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

START_TEST(test_threads_add_up)
{
	pthread_t t[THREADS];
	metrics_reset();
	for (intptr_t i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, bumper, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	struct metrics_gauges g = { .queue_messages = 2, .queue_oldest = 1000, .started = 900 };
	g.sessions[METRICS_PROTO_IMAPS] = 3;
	struct buf out = BUF_INIT;
	metrics_render(&g, 1060, &out);
	const char *text = buf_cstr(&out);
	ck_assert_int_eq(sample(text, "mailhub_messages_received_total{via=\"smtp\"}"),
			 THREADS * ROUNDS);
	ck_assert_int_eq(sample(text, "mailhub_messages_rejected_total{reason=\"greylist\"}"),
			 THREADS * ROUNDS);
	ck_assert_int_eq(sample(text, "mailhub_logins_failed_total{protocol=\"imap\"}"),
			 THREADS * ROUNDS);
	ck_assert_int_eq(sample(text, "mailhub_logins_failed_total{protocol=\"pop3\"}"), 0);
	/* ids 1, 2, 3 got a third of the runs each; half of them failed */
	long long runs = 0, errors = 0;
	char key[96];
	for (int id = 1; id <= 3; id++) {
		snprintf(key, sizeof key, "mailhub_fetch_runs_total{account=\"%d\"}", id);
		runs += sample(text, key);
		snprintf(key, sizeof key, "mailhub_fetch_errors_total{account=\"%d\"}", id);
		errors += sample(text, key);
	}
	ck_assert_int_eq(runs, THREADS * ROUNDS);
	ck_assert_int_eq(errors, THREADS * ROUNDS / 2);
	ck_assert_int_eq(sample(text, "mailhub_queue_oldest_age_seconds"), 60);
	ck_assert_int_eq(sample(text, "mailhub_sessions{listener=\"imaps\"}"), 3);
	/* every line is a comment or "name{labels} value" */
	for (const char *l = text; *l != '\0';) {
		const char *nl = strchr(l, '\n');
		ck_assert_ptr_nonnull(nl);
		if (l[0] != '#') {
			const char *sp = memchr(l, ' ', (size_t)(nl - l));
			ck_assert_ptr_nonnull(sp);
			ck_assert(strspn(sp + 1, "0123456789") == (size_t)(nl - sp - 1));
		}
		l = nl + 1;
	}
	buf_free(&out);
}
END_TEST

START_TEST(test_account_table)
{
	metrics_reset();
	for (int64_t id = 1; id <= METRICS_ACCOUNTS_MAX + 5; id++)
		metrics_fetch_run(id, false, 2);
	metrics_fetch_run(7, true, 0);
	struct metrics_gauges g = { 0 };
	struct buf out = BUF_INIT;
	metrics_render(&g, 0, &out);
	const char *text = buf_cstr(&out);
	ck_assert_int_eq(sample(text, "mailhub_fetch_runs_total{account=\"7\"}"), 2);
	ck_assert_int_eq(sample(text, "mailhub_fetch_errors_total{account=\"7\"}"), 1);
	ck_assert_int_eq(sample(text, "mailhub_fetch_messages_total{account=\"1024\"}"), 2);
	/* the five past the table share one line */
	ck_assert_int_eq(sample(text, "mailhub_fetch_runs_total{account=\"other\"}"), 5);
	ck_assert_int_eq(sample(text, "mailhub_fetch_runs_total{account=\"1025\"}"), -1);
	buf_free(&out);
}
END_TEST

START_TEST(test_history)
{
	struct metrics_sample s[METRICS_HISTORY_MAX];
	metrics_reset();
	ck_assert_uint_eq(metrics_history(0, s), 0);
	for (int i = 0; i < METRICS_HISTORY_MAX + 10; i++) {
		metrics_delivered_remote();
		metrics_sample_take(1000 + i, (uint64_t)i);
	}
	size_t n = metrics_history(0, s);
	ck_assert_uint_eq(n, METRICS_HISTORY_MAX);
	ck_assert_int_eq(s[0].time, 1010);	/* the oldest ten went */
	ck_assert_uint_eq(s[0].delivered, 11);
	ck_assert_int_eq(s[n - 1].time, 1000 + METRICS_HISTORY_MAX + 9);
	ck_assert_uint_eq(s[n - 1].queue, METRICS_HISTORY_MAX + 9);
	ck_assert_uint_eq(metrics_history(1000 + METRICS_HISTORY_MAX + 5, s), 5);
	ck_assert_int_eq(metrics_proto_by_name("pop3s"), METRICS_PROTO_POP3S);
	ck_assert_int_eq(metrics_proto_by_name("carrier-pigeon"), METRICS_PROTO_OTHER);
	ck_assert_int_eq(metrics_proto_by_name(NULL), METRICS_PROTO_OTHER);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads_add_up);
	tcase_add_test(tc, test_account_table);
	tcase_add_test(tc, test_history);
	suite_add_tcase(s, tc);
	return s;
}

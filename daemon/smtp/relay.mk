# daemon/smtp relay: outbound client, queue scheduler, DKIM, bounces (see Makefile.am).
# The relay's store tables (sql/005_relay.sql) and functions (store/relayq.c)
# are added to the store library.
libsmtp_a_SOURCES += \
	daemon/smtp/client.c daemon/smtp/client.h daemon/smtp/client_parse.c \
	daemon/smtp/dkim.c daemon/smtp/dkim.h \
	daemon/smtp/bounce.c daemon/smtp/bounce.h \
	daemon/smtp/queue.c daemon/smtp/queue.h \
	daemon/smtp/mtasts.c daemon/smtp/mtasts.h \
	daemon/smtp/dane.c daemon/smtp/dane.h \
	daemon/smtp/tlsrpt.c daemon/smtp/tlsrpt.h \
	daemon/smtp/tlsrpt_recv.c daemon/smtp/tlsrpt_recv.h \
	daemon/smtp/tlsrpt_post.c daemon/smtp/tlsrpt_post.h
libstore_a_SOURCES += daemon/store/relayq.c daemon/store/relayq.h \
	daemon/store/relaytls.c daemon/store/relaytls.h \
	daemon/store/sendlimit.c daemon/store/sendlimit.h \
	daemon/store/tlsrpt_in.c daemon/store/tlsrpt_in.h
SQL_MIGRATIONS += sql/005_relay.sql sql/019_outbound.sql sql/028_queue_hold.sql \
	sql/038_tlsrpt_https.sql

# What a relay test links (the smtp library needs mail and store below it).
RELAY_TEST_LIBS = libsmtp.a libsieve.a libmail.a $(STORE_LIBS) $(RESOLV_LIBS)

if HAVE_CHECK
RELAY_CHECKS = tests/unit/check_smtp_client tests/unit/check_dkim \
	tests/unit/check_dns tests/unit/check_relayq tests/unit/check_relay
check_PROGRAMS += $(RELAY_CHECKS)
TESTS += $(RELAY_CHECKS)
tests_unit_check_smtp_client_SOURCES = tests/unit/check_smtp_client.c $(CHECK_RUNNER)
tests_unit_check_smtp_client_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_smtp_client_LDADD = $(RELAY_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_dkim_SOURCES = tests/unit/check_dkim.c $(CHECK_RUNNER)
tests_unit_check_dkim_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dkim_LDADD = $(RELAY_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_dns_SOURCES = tests/unit/check_dns.c $(CHECK_RUNNER)
tests_unit_check_dns_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dns_LDADD = $(CORE_LIBS) $(RESOLV_LIBS) $(CHECK_LIBS)
tests_unit_check_relay_SOURCES = tests/unit/check_relay.c $(CHECK_RUNNER)
tests_unit_check_relay_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_relay_LDADD = $(RELAY_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_relayq_SOURCES = tests/unit/check_relayq.c $(CHECK_RUNNER)
tests_unit_check_relayq_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_relayq_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

TESTS += tests/integration/test_relay.py tests/integration/test_relay_crash.py \
	tests/integration/test_relay_forward.py tests/integration/test_relay_tls.py \
	tests/integration/test_relay_limits.py tests/integration/test_spam_outbound.py \
	tests/integration/test_tlsrpt_in.py
EXTRA_DIST += tests/integration/test_relay.py tests/integration/test_relay_crash.py \
	tests/integration/test_relay_forward.py tests/integration/test_relay_tls.py \
	tests/integration/test_relay_limits.py tests/integration/relay_util.py \
	tests/integration/test_spam_outbound.py tests/integration/test_tlsrpt_in.py

FUZZ_TARGETS += tests/fuzz/fuzz_smtp_reply tests/fuzz/fuzz_dns
tests_fuzz_fuzz_smtp_reply_SRCS = tests/fuzz/fuzz_smtp_reply.c \
	daemon/smtp/client_parse.c $(FUZZ_CORE_SRCS)
tests_fuzz_fuzz_dns_SRCS = tests/fuzz/fuzz_dns.c daemon/core/dns.c daemon/core/dns_cache.c \
	$(FUZZ_CORE_SRCS)

# `make bench` only.
BENCHMARKS += tests/bench/relay_drain.py tests/bench/relay_policy_bench.py

# Received TLS reports (RFC 8460), the pure parser: mail/tlsrpt_report.c
# (JSON with cJSON, gzip with zlib).
libmail_a_SOURCES += daemon/mail/tlsrpt_report.c daemon/mail/tlsrpt_report.h \
	daemon/mail/tlsrpt_mail.c daemon/mail/tlsrpt_mail.h
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_tlsrpt_report
TESTS += tests/unit/check_tlsrpt_report
tests_unit_check_tlsrpt_report_SOURCES = tests/unit/check_tlsrpt_report.c $(CHECK_RUNNER)
tests_unit_check_tlsrpt_report_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_tlsrpt_report_LDADD = $(MAIL_LIBS) $(CJSON_LIBS) $(CHECK_LIBS)
endif
FUZZ_TARGETS += tests/fuzz/fuzz_tlsrpt_report
tests_fuzz_fuzz_tlsrpt_report_SRCS = tests/fuzz/fuzz_tlsrpt_report.c \
	daemon/mail/tlsrpt_report.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_tlsrpt_report.c
# ... and a report that came as a message (mail/tlsrpt_mail.c, on mime.c)
FUZZ_TARGETS += tests/fuzz/fuzz_tlsrpt_mail
tests_fuzz_fuzz_tlsrpt_mail_SRCS = tests/fuzz/fuzz_tlsrpt_mail.c \
	daemon/mail/tlsrpt_mail.c daemon/mail/tlsrpt_report.c $(MAIL_SRCS) $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_tlsrpt_mail.c

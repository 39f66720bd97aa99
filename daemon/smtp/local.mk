# daemon/smtp: the SMTP server (inbound on port 25, submission on 587/465),
# its pure command and DATA parsers, and the queue table it fills.
noinst_LIBRARIES += libsmtp.a
libsmtp_a_SOURCES = \
	daemon/smtp/command.c daemon/smtp/command.h \
	daemon/smtp/data.c daemon/smtp/data.h \
	daemon/smtp/received.c daemon/smtp/received.h \
	daemon/smtp/session.h daemon/smtp/body.c daemon/smtp/delivery.c \
	daemon/smtp/server.c daemon/smtp/server.h \
	daemon/smtp/srs.c daemon/smtp/srs.h \
	daemon/smtp/trust_inbound.c daemon/smtp/trust_inbound.h \
	daemon/smtp/sendlimit.c daemon/smtp/sendlimit.h
libsmtp_a_CFLAGS = $(AM_CFLAGS)
SMTP_LIB = libsmtp.a

# The counts of the inbound checks (trust_inbound.c) for the panel.
libstore_a_SOURCES += daemon/store/trust_stats.c daemon/store/trust_stats.h
SQL_MIGRATIONS += sql/013_trust_stats.sql

# The queue table lives in the store (only store/ touches SQLite).
libstore_a_SOURCES += daemon/store/queue.c daemon/store/queue.h
SQL_MIGRATIONS += sql/002_queue.sql

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_smtp_command tests/unit/check_smtp_data \
	tests/unit/check_queue tests/unit/check_srs
TESTS += tests/unit/check_smtp_command tests/unit/check_smtp_data \
	tests/unit/check_queue tests/unit/check_srs
tests_unit_check_smtp_command_SOURCES = tests/unit/check_smtp_command.c $(CHECK_RUNNER)
tests_unit_check_smtp_command_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_smtp_command_LDADD = libsmtp.a $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_smtp_data_SOURCES = tests/unit/check_smtp_data.c $(CHECK_RUNNER)
tests_unit_check_smtp_data_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_smtp_data_LDADD = libsmtp.a $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_srs_SOURCES = tests/unit/check_srs.c $(CHECK_RUNNER)
tests_unit_check_srs_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_srs_LDADD = libsmtp.a $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_queue_SOURCES = tests/unit/check_queue.c $(CHECK_RUNNER)
tests_unit_check_queue_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_queue_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

TESTS += tests/integration/test_smtp.py tests/integration/test_smtp_security.py \
	tests/integration/test_smtp_delivery.py tests/integration/test_inbound_trust.py \
	tests/integration/test_smtp_crash.py
EXTRA_DIST += tests/integration/test_smtp.py tests/integration/test_smtp_security.py \
	tests/integration/test_smtp_delivery.py tests/integration/test_inbound_trust.py \
	tests/integration/test_smtp_crash.py \
	tests/integration/smtp_util.py

FUZZ_TARGETS += tests/fuzz/fuzz_smtp_command tests/fuzz/fuzz_smtp_data
tests_fuzz_fuzz_smtp_command_SRCS = tests/fuzz/fuzz_smtp_command.c \
	daemon/smtp/command.c $(FUZZ_CORE_SRCS)
tests_fuzz_fuzz_smtp_data_SRCS = tests/fuzz/fuzz_smtp_data.c \
	daemon/smtp/data.c $(FUZZ_CORE_SRCS)

# `make bench` runs every BENCHMARKS entry; never part of make check.
BENCHMARKS += tests/bench/smtp_inbound.sh tests/bench/smtp_trust.py

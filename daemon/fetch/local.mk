# daemon/fetch: the upstream fetcher (scheduling, IDLE push, dedupe,
# delivery), with the IMAP and POP3 clients it drives and its store tables.
noinst_LIBRARIES += libfetch.a
libfetch_a_SOURCES = \
	daemon/fetch/fetch.h daemon/fetch/fetch_int.h \
	daemon/fetch/scheduler.c daemon/fetch/account.c \
	daemon/fetch/sink.c daemon/fetch/commit.c daemon/fetch/run_imap.c daemon/fetch/lanes.c \
	daemon/fetch/watch.c daemon/fetch/twoway.c daemon/fetch/twoway_up.c \
	daemon/fetch/sieve.c daemon/fetch/spam.c \
	daemon/fetch/run_pop3.c daemon/fetch/push.c \
	daemon/fetch/oauth.c daemon/fetch/oauth.h daemon/fetch/oauth_pending.c \
	daemon/fetch/presets.c daemon/fetch/presets.h \
	daemon/fetch/import.h daemon/fetch/import_run.c daemon/fetch/import_imap.c \
	daemon/fetch/import_job.h daemon/fetch/import_job.c \
	daemon/imap/client.c daemon/imap/client_parse.c daemon/imap/client.h \
	daemon/imap/client_sync.c daemon/imap/client_write.c daemon/imap/client_int.h \
	daemon/pop3/client.c daemon/pop3/client_parse.c daemon/pop3/client.h
libfetch_a_CFLAGS = $(AM_CFLAGS)
FETCH_LIB = libfetch.a

# The fetcher's tables and their SQL live in the store.
libstore_a_SOURCES += daemon/store/upstreams.c daemon/store/upstreams.h \
	daemon/store/upstream_batch.c daemon/store/upstream_oauth.c \
	daemon/store/upstream_state.c \
	daemon/store/twoway.c daemon/store/twoway_up.c daemon/store/twoway.h
SQL_MIGRATIONS += sql/004_upstream.sql sql/015_upstream_mirror.sql \
	sql/023_upstream_oauth.sql sql/024_upstream_twoway.sql \
	sql/032_upstream_folder_state.sql sql/044_twoway_up.sql \
	sql/048_twoway_moving.sql sql/055_twoway_dirty.sql

# What a test of the fetcher links.
FETCH_TEST_LIBS = libfetch.a libimap.a libsieve.a libsmtp.a libtrust.a libmail.a $(STORE_LIBS) $(MAILHUB_SYS_LIBS)

if HAVE_CHECK
FETCH_CHECKS = tests/unit/check_imap_client tests/unit/check_pop3_client \
	tests/unit/check_upstreams tests/unit/check_fetch_lanes
check_PROGRAMS += $(FETCH_CHECKS)
TESTS += $(FETCH_CHECKS)
tests_unit_check_imap_client_SOURCES = tests/unit/check_imap_client.c $(CHECK_RUNNER)
tests_unit_check_imap_client_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_imap_client_LDADD = $(FETCH_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_pop3_client_SOURCES = tests/unit/check_pop3_client.c $(CHECK_RUNNER)
tests_unit_check_pop3_client_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_pop3_client_LDADD = $(FETCH_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_upstreams_SOURCES = tests/unit/check_upstreams.c $(CHECK_RUNNER)
tests_unit_check_upstreams_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_upstreams_LDADD = $(FETCH_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_fetch_lanes_SOURCES = tests/unit/check_fetch_lanes.c $(CHECK_RUNNER)
tests_unit_check_fetch_lanes_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_fetch_lanes_LDADD = $(FETCH_TEST_LIBS) $(CHECK_LIBS)
endif

EXTRA_DIST += tests/unit/fetch_fake_server.h

TESTS += tests/integration/test_fetch.py
EXTRA_DIST += tests/integration/test_fetch.py tests/integration/dovecot_upstream.py
TESTS += tests/integration/test_fetch_sync.py
EXTRA_DIST += tests/integration/test_fetch_sync.py
TESTS += tests/integration/test_fetch_twoway.py
EXTRA_DIST += tests/integration/test_fetch_twoway.py tests/integration/imap_proxy.py
TESTS += tests/integration/test_fetch_oauth.py
EXTRA_DIST += tests/integration/test_fetch_oauth.py tests/integration/oauth_server.py
TESTS += tests/integration/test_fetch_nouidl.py
EXTRA_DIST += tests/integration/test_fetch_nouidl.py tests/integration/pop3_nouidl_server.py

FUZZ_TARGETS += tests/fuzz/fuzz_imap_client tests/fuzz/fuzz_pop3_client
tests_fuzz_fuzz_imap_client_SRCS = tests/fuzz/fuzz_imap_client.c \
	daemon/imap/client_parse.c $(FUZZ_CORE_SRCS)
tests_fuzz_fuzz_pop3_client_SRCS = tests/fuzz/fuzz_pop3_client.c \
	daemon/pop3/client_parse.c $(FUZZ_CORE_SRCS)

# Run by `make bench`, never by `make check`.
BENCHMARKS += tests/bench/fetch_bench.py

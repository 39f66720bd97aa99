# daemon/imap: the IMAP server (client.c, the fetcher's IMAP client, is
# another engineer's and added by its own lines).
noinst_LIBRARIES += libimap.a
libimap_a_SOURCES = \
	daemon/imap/parser.c daemon/imap/parser.h \
	daemon/imap/utf7.c daemon/imap/utf7.h \
	daemon/imap/imap.h daemon/imap/session.h daemon/imap/session.c \
	daemon/imap/seqset.c daemon/imap/idle.c daemon/imap/mailbox.c \
	daemon/imap/append.c daemon/imap/fetch.c daemon/imap/store.c \
	daemon/imap/search.c
libimap_a_CFLAGS = $(AM_CFLAGS)
IMAP_LIB = libimap.a

# The IMAP server's store operations live in the store (the only SQL).
libstore_a_SOURCES += daemon/store/imapdb.c daemon/store/imapdb.h \
	daemon/store/viewcache.c daemon/store/viewcache.h
SQL_MIGRATIONS += sql/003_imap.sql sql/009_subscriptions.sql sql/012_imap_state.sql

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_imap_parser
TESTS += tests/unit/check_imap_parser
tests_unit_check_imap_parser_SOURCES = tests/unit/check_imap_parser.c $(CHECK_RUNNER)
tests_unit_check_imap_parser_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_imap_parser_LDADD = libimap.a $(CORE_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_imap_db
TESTS += tests/unit/check_imap_db
tests_unit_check_imap_db_SOURCES = tests/unit/check_imap_db.c $(CHECK_RUNNER)
tests_unit_check_imap_db_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_imap_db_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

FUZZ_TARGETS += tests/fuzz/fuzz_imap_parser
tests_fuzz_fuzz_imap_parser_SRCS = tests/fuzz/fuzz_imap_parser.c \
	daemon/imap/parser.c daemon/imap/utf7.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_imap_parser.c

TESTS += tests/integration/test_imap.py tests/integration/test_imap_clients.py \
	tests/integration/test_imap_dovecot.py tests/integration/test_imap_idle.py \
	tests/integration/test_imap_compliance.py \
	tests/integration/test_imap_limits.py tests/integration/test_imap_crash.py \
	tests/integration/test_imap_park.py
EXTRA_DIST += tests/integration/test_imap.py \
	tests/integration/test_imap_clients.py \
	tests/integration/test_imap_dovecot.py \
	tests/integration/test_imap_idle.py \
	tests/integration/test_imap_compliance.py \
	tests/integration/test_imap_limits.py \
	tests/integration/test_imap_crash.py \
	tests/integration/test_imap_park.py \
	tests/integration/imap_corpus.py tests/integration/dovecot_util.py \
	tests/integration/imap_util.py

# Run by `make bench`, never by `make check`.
BENCHMARKS += tests/bench/imap_bench.py tests/bench/imap_load.py

# CONDSTORE/QRESYNC (RFC 7162) and the extensions that keep phones in step
# cheaply: their own files beside the command families.
libimap_a_SOURCES += daemon/imap/condstore.c daemon/imap/qresync.c \
	daemon/imap/quota.c daemon/imap/objectid.c daemon/imap/compress.c \
	daemon/imap/binary.c
libstore_a_SOURCES += daemon/store/imapsync.c daemon/store/imapsync.h
SQL_MIGRATIONS += sql/020_imap_sync.sql
TESTS += tests/integration/test_imap_sync.py tests/integration/test_imap_ext.py \
	tests/integration/test_imap_rev2.py tests/integration/test_imap_views.py
EXTRA_DIST += tests/integration/test_imap_sync.py tests/integration/test_imap_ext.py \
	tests/integration/test_imap_rev2.py tests/integration/test_imap_views.py
BENCHMARKS += tests/bench/imap_sync_bench.py

# daemon/sieve: the Sieve language (RFC 5228 and extensions: lexer, parser,
# checker, interpreter; pure functions, see sieve.h) and the ManageSieve
# server session (RFC 5804).  Uses core and mail; the scripts and the
# vacation/duplicate memory are the store's (store/sieve_store.h,
# sql/018_sieve.sql, sql/051_sieve_version.sql).
noinst_LIBRARIES += libsieve.a
libsieve_a_SOURCES = \
	daemon/sieve/sieve.h daemon/sieve/sieve_int.h \
	daemon/sieve/parse.c daemon/sieve/validate.c daemon/sieve/match.c \
	daemon/sieve/interp.c daemon/sieve/actions.c \
	daemon/sieve/deliver.c daemon/sieve/deliver.h \
	daemon/sieve/cache.c daemon/sieve/cache.h
libsieve_a_CFLAGS = $(AM_CFLAGS)
SIEVE_LIB = libsieve.a
SIEVE_LIBS = libsieve.a libmail.a $(CORE_LIBS)
SIEVE_SRCS = daemon/sieve/parse.c daemon/sieve/validate.c daemon/sieve/match.c \
	daemon/sieve/interp.c daemon/sieve/actions.c

libstore_a_SOURCES += daemon/store/sieve_store.c daemon/store/sieve_store.h
SQL_MIGRATIONS += sql/018_sieve.sql sql/051_sieve_version.sql
mailhub_SOURCES += daemon/cli/sieve.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_sieve
TESTS += tests/unit/check_sieve
tests_unit_check_sieve_SOURCES = tests/unit/check_sieve.c $(CHECK_RUNNER)
tests_unit_check_sieve_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_sieve_LDADD = $(SIEVE_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_sieve_cache
TESTS += tests/unit/check_sieve_cache
tests_unit_check_sieve_cache_SOURCES = tests/unit/check_sieve_cache.c $(CHECK_RUNNER)
tests_unit_check_sieve_cache_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_sieve_cache_LDADD = libsieve.a $(STORE_LIBS) $(CHECK_LIBS)
endif

TESTS += tests/integration/test_sieve_delivery.py tests/integration/test_sieve_fetch.py

# The differential run against Dovecot Pigeonhole's sieve-test (package
# dovecot-sieve): every script of the corpus on every message, about 4,000
# runs of each interpreter, too long for make check: make sieve-diff.
sieve-diff: all
	@$(AM_TESTS_ENVIRONMENT) $(PYTHON3) $(srcdir)/tests/integration/test_sieve_pigeonhole.py
.PHONY: sieve-diff
EXTRA_DIST += tests/integration/test_sieve_pigeonhole.py tests/integration/test_sieve_delivery.py \
	tests/integration/test_sieve_fetch.py tests/integration/sieve_corpus.py

# The parser and checker on arbitrary scripts.
FUZZ_TARGETS += tests/fuzz/fuzz_sieve
tests_fuzz_fuzz_sieve_SRCS = tests/fuzz/fuzz_sieve.c $(SIEVE_SRCS) $(MAIL_SRCS) \
	daemon/core/base64.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_sieve.c

# Run by `make bench`, never by `make check`: delivery with a 50-rule
# script, against none and against Dovecot LMTP with Pigeonhole.
BENCHMARKS += tests/bench/sieve_bench.py

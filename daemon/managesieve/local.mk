# daemon/managesieve: the ManageSieve server (RFC 5804) of the managesieve
# listener: the command parser (pure, parser.c) and the session
# (session.c).  The scripts are the store's (store/sieve_store.h), compiled
# by daemon/sieve before they are stored.
noinst_LIBRARIES += libmanagesieve.a
libmanagesieve_a_SOURCES = \
	daemon/managesieve/parser.c daemon/managesieve/parser.h \
	daemon/managesieve/session.c daemon/managesieve/session.h
libmanagesieve_a_CFLAGS = $(AM_CFLAGS)
MANAGESIEVE_LIB = libmanagesieve.a

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_managesieve_parser
TESTS += tests/unit/check_managesieve_parser
tests_unit_check_managesieve_parser_SOURCES = \
	tests/unit/check_managesieve_parser.c $(CHECK_RUNNER)
tests_unit_check_managesieve_parser_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_managesieve_parser_LDADD = libmanagesieve.a $(CORE_LIBS) $(CHECK_LIBS)
endif

TESTS += tests/integration/test_managesieve.py
EXTRA_DIST += tests/integration/test_managesieve.py

FUZZ_TARGETS += tests/fuzz/fuzz_managesieve
tests_fuzz_fuzz_managesieve_SRCS = tests/fuzz/fuzz_managesieve.c \
	daemon/managesieve/parser.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_managesieve.c

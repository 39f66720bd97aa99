# daemon/pop3: the POP3 server (pop3 and pop3s listeners).  The fetcher's
# POP3 client (client.c, client_parse.c) is built into libfetch.a by
# daemon/fetch/local.mk.
noinst_LIBRARIES += libpop3.a
libpop3_a_SOURCES = \
	daemon/pop3/command.c daemon/pop3/command.h \
	daemon/pop3/inuse.c daemon/pop3/inuse.h \
	daemon/pop3/maildrop.c daemon/pop3/maildrop.h \
	daemon/pop3/server.c daemon/pop3/server.h
libpop3_a_CFLAGS = $(AM_CFLAGS)
POP3_LIB = libpop3.a

if HAVE_CHECK
POP3_CHECKS = tests/unit/check_pop3_command tests/unit/check_pop3_maildrop \
	tests/unit/check_pop3_server
check_PROGRAMS += $(POP3_CHECKS)
TESTS += $(POP3_CHECKS)
# What a test of the server side links.
POP3_TEST_LIBS = libpop3.a $(STORE_LIB) libmail.a $(CORE_LIBS) $(SQLITE_LIBS)
tests_unit_check_pop3_command_SOURCES = tests/unit/check_pop3_command.c $(CHECK_RUNNER)
tests_unit_check_pop3_command_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_pop3_command_LDADD = libpop3.a $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_pop3_maildrop_SOURCES = tests/unit/check_pop3_maildrop.c $(CHECK_RUNNER)
tests_unit_check_pop3_maildrop_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_pop3_maildrop_LDADD = $(POP3_TEST_LIBS) $(CHECK_LIBS)
tests_unit_check_pop3_server_SOURCES = tests/unit/check_pop3_server.c $(CHECK_RUNNER)
tests_unit_check_pop3_server_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_pop3_server_LDADD = $(POP3_TEST_LIBS) $(CHECK_LIBS)
endif

TESTS += tests/integration/test_pop3.py
EXTRA_DIST += tests/integration/test_pop3.py

FUZZ_TARGETS += tests/fuzz/fuzz_pop3_command
tests_fuzz_fuzz_pop3_command_SRCS = tests/fuzz/fuzz_pop3_command.c \
	daemon/pop3/command.c $(FUZZ_CORE_SRCS)

# Run by `make bench`, never by `make check`.
BENCHMARKS += tests/bench/pop3_retr.py

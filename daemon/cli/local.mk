# daemon/cli and daemon/main.c: the mailhub binary.  main.c holds the one
# command table; each command lives in its own file under daemon/cli/.
sbin_PROGRAMS += mailhub
mailhub_SOURCES = daemon/main.c \
	daemon/cli/cli.h daemon/cli/util.c \
	daemon/cli/init.c daemon/cli/domain.c daemon/cli/user.c daemon/cli/app_password.c \
	daemon/cli/alias.c daemon/cli/token.c daemon/cli/fsck.c \
	daemon/cli/serve.c daemon/cli/upstream.c \
	daemon/cli/queue.c daemon/cli/relay.c daemon/cli/relay_cli.h \
	daemon/cli/serve_protocols.c daemon/cli/serve_protocols.h \
	daemon/cli/serve_index.c daemon/cli/serve_index.h \
	daemon/cli/check.c daemon/cli/check_cli.h daemon/cli/check_dkim.c \
	daemon/cli/import.c \
	daemon/cli/export.c daemon/cli/backup.c daemon/cli/doctor.c
mailhub_LDADD = $(MAILHUB_MODULE_LIBS) libcore.a $(MAILHUB_SYS_LIBS)

TESTS += tests/integration/test_cli.py tests/integration/test_operator.py
EXTRA_DIST += tests/integration/test_cli.py tests/integration/test_operator.py
# The man pages against the code: the settings table (check_man) and the
# commands and options of `mailhub --help` (test_man.py).
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_man
TESTS += tests/unit/check_man
tests_unit_check_man_SOURCES = tests/unit/check_man.c $(CHECK_RUNNER)
tests_unit_check_man_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_man_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
endif
TESTS += tests/integration/test_man.py
EXTRA_DIST += tests/integration/test_man.py
TESTS += tests/integration/test_import.py
EXTRA_DIST += tests/integration/test_import.py
BENCHMARKS += tests/bench/import_bench.py
TESTS += tests/integration/test_backup.py
EXTRA_DIST += tests/integration/test_backup.py

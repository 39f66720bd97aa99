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
	daemon/cli/check.c daemon/cli/check_cli.h daemon/cli/check_dkim.c
mailhub_LDADD = $(MAILHUB_MODULE_LIBS) libcore.a $(MAILHUB_SYS_LIBS)

TESTS += tests/integration/test_cli.py
EXTRA_DIST += tests/integration/test_cli.py

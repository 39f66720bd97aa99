# daemon/cli and daemon/main.c: the mailhub binary.
sbin_PROGRAMS += mailhub
mailhub_SOURCES = daemon/main.c
mailhub_LDADD = $(MAILHUB_MODULE_LIBS) libcore.a $(MAILHUB_SYS_LIBS)

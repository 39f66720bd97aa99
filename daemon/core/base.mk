# daemon/core: buffers, logging, config, conn, TLS, listeners, auth helpers.
# base.mk holds the core library itself and its basic files; io.mk (conn, TLS,
# listeners) and auth.mk (config, passwords, SASL, throttle, sealing) add to it.
noinst_LIBRARIES += libcore.a
libcore_a_SOURCES = \
	daemon/core/xmalloc.c daemon/core/xmalloc.h \
	daemon/core/buf.c daemon/core/buf.h \
	daemon/core/utf8.c daemon/core/utf8.h \
	daemon/core/log.c daemon/core/log.h \
	daemon/core/hash.c daemon/core/hash.h \
	daemon/core/metrics.c daemon/core/metrics.h \
	daemon/core/limits.h
libcore_a_CFLAGS = $(AM_CFLAGS)
CORE_LIBS = libcore.a $(SSL_LIBS) $(CRYPT_LIBS) $(ZLIB_LIBS) $(CJSON_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_buf
TESTS += tests/unit/check_buf
tests_unit_check_buf_SOURCES = tests/unit/check_buf.c $(CHECK_RUNNER)
tests_unit_check_buf_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_buf_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_metrics
TESTS += tests/unit/check_metrics
tests_unit_check_metrics_SOURCES = tests/unit/check_metrics.c $(CHECK_RUNNER)
tests_unit_check_metrics_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_metrics_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_utf8
TESTS += tests/unit/check_utf8
tests_unit_check_utf8_SOURCES = tests/unit/check_utf8.c $(CHECK_RUNNER)
tests_unit_check_utf8_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_utf8_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
endif

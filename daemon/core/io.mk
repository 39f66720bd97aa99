# daemon/core: sources, library and tests of this module (see Makefile.am).
# io.mk: connections (plain and TLS), the TLS contexts, the listeners, the
# fetcher clients' way of connecting; DNS (libresolv) and its shared TTL
# cache.
libcore_a_SOURCES += \
	daemon/core/dns.c daemon/core/dns.h \
	daemon/core/dns_cache.c daemon/core/dns_cache.h \
	daemon/core/conn.c daemon/core/conn.h \
	daemon/core/conn_deflate.c daemon/core/conn_deflate.h \
	daemon/core/tls.c daemon/core/tls.h daemon/core/tls_sni.c \
	daemon/core/listener.c daemon/core/listener.h \
	daemon/core/client_conn.c daemon/core/client_conn.h \
	daemon/core/https_get.c daemon/core/https_get.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_conn tests/unit/check_tls tests/unit/check_listener \
	tests/unit/check_client_conn
TESTS += tests/unit/check_conn tests/unit/check_tls tests/unit/check_listener \
	tests/unit/check_client_conn
tests_unit_check_conn_SOURCES = tests/unit/check_conn.c $(CHECK_RUNNER)
tests_unit_check_conn_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_conn_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_tls_SOURCES = tests/unit/check_tls.c $(CHECK_RUNNER)
tests_unit_check_tls_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_tls_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_listener_SOURCES = tests/unit/check_listener.c $(CHECK_RUNNER)
tests_unit_check_listener_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_listener_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
tests_unit_check_client_conn_SOURCES = tests/unit/check_client_conn.c $(CHECK_RUNNER)
tests_unit_check_client_conn_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_client_conn_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_dns_cache
TESTS += tests/unit/check_dns_cache
tests_unit_check_dns_cache_SOURCES = tests/unit/check_dns_cache.c $(CHECK_RUNNER)
tests_unit_check_dns_cache_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dns_cache_LDADD = $(CORE_LIBS) $(RESOLV_LIBS) $(CHECK_LIBS)
endif

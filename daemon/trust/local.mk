# daemon/trust: inbound verdicts (SPF, DKIM verification, DMARC, ARC,
# DNSBL, the rspamd client, Authentication-Results).  Each is a pure
# evaluator over a message and DNS answers; DNS comes through one small
# interface (dns_source.h).  Uses core and mail only (see DESIGN.md).
#
# This file holds the library and the DNS interface; each family of checks
# adds its sources, tests and fuzz targets in its own fragment beside it
# (spf.mk, dkim.mk, ...), included from Makefile.am after this one:
#   libtrust_a_SOURCES += daemon/trust/x.c daemon/trust/x.h
#   TRUST_SRCS += daemon/trust/x.c           (what the fuzz targets compile)
noinst_LIBRARIES += libtrust.a
libtrust_a_SOURCES = \
	daemon/trust/dns_source.c daemon/trust/dns_source.h \
	daemon/trust/dns_table.c \
	daemon/trust/header_text.c daemon/trust/header_text.h
libtrust_a_CFLAGS = $(AM_CFLAGS) $(PSL_CFLAGS)
TRUST_LIB = libtrust.a
# What a test of trust links: the layers below it and their system libraries.
TRUST_LIBS = libtrust.a libmail.a $(CORE_LIBS) $(RESOLV_LIBS) $(PSL_LIBS)
# The sources a fuzz target of trust compiles (it asks a dns_table, but
# dns_source.c links the resolver too).
TRUST_SRCS = daemon/trust/dns_source.c daemon/trust/dns_table.c daemon/trust/header_text.c \
	daemon/core/dns.c daemon/core/dns_cache.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_dns_source
TESTS += tests/unit/check_dns_source
tests_unit_check_dns_source_SOURCES = tests/unit/check_dns_source.c $(CHECK_RUNNER)
tests_unit_check_dns_source_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dns_source_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
endif

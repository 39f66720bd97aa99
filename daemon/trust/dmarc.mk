# daemon/trust: DMARC (RFC 7489) and the Public Suffix List, see
# daemon/trust/local.mk.
libtrust_a_SOURCES += \
	daemon/trust/psl.c daemon/trust/psl.h \
	daemon/trust/dmarc.c daemon/trust/dmarc.h daemon/trust/dmarc_record.c
DMARC_SRCS = daemon/trust/psl.c daemon/trust/dmarc.c daemon/trust/dmarc_record.c
TRUST_SRCS += $(DMARC_SRCS)

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_dmarc
TESTS += tests/unit/check_dmarc
tests_unit_check_dmarc_SOURCES = tests/unit/check_dmarc.c $(CHECK_RUNNER)
tests_unit_check_dmarc_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dmarc_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
endif

# The record parser, and the check over a DNS table from the input.
FUZZ_TARGETS += tests/fuzz/fuzz_dmarc
tests_fuzz_fuzz_dmarc_SRCS = tests/fuzz/fuzz_dmarc.c $(TRUST_SRCS) $(FUZZ_CORE_SRCS)

TESTS += tests/integration/test_dmarc_opendmarc.py
EXTRA_DIST += tests/integration/test_dmarc_opendmarc.py tests/integration/dmarc_corpus.py \
	tests/integration/milter_client.py

# daemon/trust: SPF (RFC 7208), see daemon/trust/local.mk.
libtrust_a_SOURCES += \
	daemon/trust/ipaddr.c daemon/trust/ipaddr.h \
	daemon/trust/spf.c daemon/trust/spf.h daemon/trust/spf_int.h \
	daemon/trust/spf_record.c daemon/trust/spf_macro.c \
	daemon/trust/spf_header.c
SPF_SRCS = daemon/trust/ipaddr.c daemon/trust/spf.c daemon/trust/spf_record.c \
	daemon/trust/spf_macro.c daemon/trust/spf_header.c
TRUST_SRCS += $(SPF_SRCS)

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_spf tests/unit/check_spf_record
TESTS += tests/unit/check_spf tests/unit/check_spf_record
tests_unit_check_spf_SOURCES = tests/unit/check_spf.c $(CHECK_RUNNER)
tests_unit_check_spf_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_spf_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
tests_unit_check_spf_record_SOURCES = tests/unit/check_spf_record.c $(CHECK_RUNNER)
tests_unit_check_spf_record_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_spf_record_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
endif

# The evaluator over a DNS table both taken from the input.
FUZZ_TARGETS += tests/fuzz/fuzz_spf
tests_fuzz_fuzz_spf_SRCS = tests/fuzz/fuzz_spf.c $(TRUST_SRCS) $(FUZZ_CORE_SRCS)

TESTS += tests/integration/test_spf_pyspf.py
EXTRA_DIST += tests/integration/test_spf_pyspf.py tests/integration/spf_corpus.py

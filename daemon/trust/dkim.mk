# daemon/trust: DKIM verification (RFC 6376, RFC 8463), ARC (RFC 8617) and
# the Authentication-Results header (RFC 8601); see daemon/trust/local.mk.
# The canonicalization they share with the signer is mail/dkim_canon.
libtrust_a_SOURCES += \
	daemon/trust/dkim_verify.c daemon/trust/dkim_verify.h \
	daemon/trust/dkim_verify_int.h daemon/trust/dkim_verify_sig.c \
	daemon/trust/dkim_verify_key.c \
	daemon/trust/dkim_verify_tags.c daemon/trust/dkim_verify_tags.h \
	daemon/trust/arc.c daemon/trust/arc.h \
	daemon/trust/authres.c daemon/trust/authres.h
# What the fuzz targets below compile: these need mail/ and base64 too,
# which the other targets of trust do not (so they stay out of TRUST_SRCS);
# $(sort) drops a file named twice.
DKIM_VERIFY_SRCS = daemon/trust/dkim_verify.c daemon/trust/dkim_verify_sig.c \
	daemon/trust/dkim_verify_key.c daemon/trust/dkim_verify_tags.c \
	daemon/trust/arc.c daemon/trust/authres.c
DKIM_FUZZ_SRCS = $(sort $(DKIM_VERIFY_SRCS) $(TRUST_SRCS) $(MAIL_SRCS) \
	daemon/core/base64.c $(FUZZ_CORE_SRCS))

if HAVE_CHECK
DKIM_VERIFY_CHECKS = tests/unit/check_dkim_verify tests/unit/check_dkim_tags \
	tests/unit/check_arc tests/unit/check_authres
check_PROGRAMS += $(DKIM_VERIFY_CHECKS)
TESTS += $(DKIM_VERIFY_CHECKS)
tests_unit_check_dkim_verify_SOURCES = tests/unit/check_dkim_verify.c \
	tests/unit/dkim_test.h $(CHECK_RUNNER)
tests_unit_check_dkim_verify_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dkim_verify_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
tests_unit_check_dkim_tags_SOURCES = tests/unit/check_dkim_tags.c $(CHECK_RUNNER)
tests_unit_check_dkim_tags_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dkim_tags_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
tests_unit_check_arc_SOURCES = tests/unit/check_arc.c \
	tests/unit/dkim_test.h $(CHECK_RUNNER)
tests_unit_check_arc_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_arc_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
tests_unit_check_authres_SOURCES = tests/unit/check_authres.c $(CHECK_RUNNER)
tests_unit_check_authres_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_authres_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
endif

# The differential test against dkimpy, with keys served by unbound.
TESTS += tests/integration/test_dkim_verify.py
EXTRA_DIST += tests/integration/test_dkim_verify.py tests/integration/dkim_cases.py

# The tag=value parser and key records; the ARC chain over a DNS table.
FUZZ_TARGETS += tests/fuzz/fuzz_dkim_tags tests/fuzz/fuzz_arc
tests_fuzz_fuzz_dkim_tags_SRCS = tests/fuzz/fuzz_dkim_tags.c $(DKIM_FUZZ_SRCS)
tests_fuzz_fuzz_arc_SRCS = tests/fuzz/fuzz_arc.c $(DKIM_FUZZ_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_dkim_tags.c tests/fuzz/fuzz_arc.c

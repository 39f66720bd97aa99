# daemon/core: sources, library and tests of this module (see Makefile.am).
# auth.mk: config, passwords, SASL, base64, the login throttle and sealing.
libcore_a_SOURCES += \
	daemon/core/config.c daemon/core/config.h \
	daemon/core/cidr.c daemon/core/cidr.h \
	daemon/core/password.c daemon/core/password.h \
	daemon/core/authcache.c daemon/core/authcache.h \
	daemon/core/sasl.c daemon/core/sasl.h \
	daemon/core/scram.c daemon/core/scram.h \
	daemon/core/base64.c daemon/core/base64.h \
	daemon/core/throttle.c daemon/core/throttle.h \
	daemon/core/seal.c daemon/core/seal.h \
	daemon/core/oauth2.c daemon/core/oauth2.h

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_config tests/unit/check_password \
	tests/unit/check_sasl tests/unit/check_base64 tests/unit/check_throttle \
	tests/unit/check_seal tests/unit/check_hash tests/unit/check_cidr \
	tests/unit/check_oauth2
TESTS += tests/unit/check_config tests/unit/check_password \
	tests/unit/check_sasl tests/unit/check_base64 tests/unit/check_throttle \
	tests/unit/check_seal tests/unit/check_hash tests/unit/check_cidr \
	tests/unit/check_oauth2
tests_unit_check_oauth2_SOURCES = tests/unit/check_oauth2.c $(CHECK_RUNNER)
tests_unit_check_oauth2_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_oauth2_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_config_SOURCES = tests/unit/check_config.c $(CHECK_RUNNER)
tests_unit_check_config_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_config_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_password_SOURCES = tests/unit/check_password.c $(CHECK_RUNNER)
tests_unit_check_password_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_password_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_sasl_SOURCES = tests/unit/check_sasl.c $(CHECK_RUNNER)
tests_unit_check_sasl_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_sasl_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_base64_SOURCES = tests/unit/check_base64.c $(CHECK_RUNNER)
tests_unit_check_base64_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_base64_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_throttle_SOURCES = tests/unit/check_throttle.c $(CHECK_RUNNER)
tests_unit_check_throttle_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_throttle_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_seal_SOURCES = tests/unit/check_seal.c $(CHECK_RUNNER)
tests_unit_check_seal_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_seal_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_hash_SOURCES = tests/unit/check_hash.c $(CHECK_RUNNER)
tests_unit_check_hash_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_hash_LDADD = $(CORE_LIBS) $(CHECK_LIBS)

tests_unit_check_cidr_SOURCES = tests/unit/check_cidr.c $(CHECK_RUNNER)
tests_unit_check_cidr_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_cidr_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
endif

FUZZ_TARGETS += tests/fuzz/fuzz_config tests/fuzz/fuzz_sasl
tests_fuzz_fuzz_config_SRCS = tests/fuzz/fuzz_config.c daemon/core/config.c \
	daemon/core/cidr.c $(FUZZ_CORE_SRCS)
tests_fuzz_fuzz_sasl_SRCS = tests/fuzz/fuzz_sasl.c daemon/core/sasl.c daemon/core/scram.c \
	daemon/core/base64.c $(FUZZ_CORE_SRCS)

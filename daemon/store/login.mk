# daemon/store: mail-client logins (store/login.c) and app passwords with
# their SCRAM keys (store/app_passwords.c), their migration and tests.
libstore_a_SOURCES += \
	daemon/store/app_passwords.c daemon/store/app_passwords.h \
	daemon/store/login.c daemon/store/login.h
SQL_MIGRATIONS += sql/007_app_passwords.sql

TESTS += tests/integration/test_auth_throttle.py tests/integration/test_scram.py \
	tests/integration/test_app_passwords.py
EXTRA_DIST += tests/integration/auth_util.py tests/integration/test_auth_throttle.py \
	tests/integration/test_scram.py tests/integration/test_app_passwords.py

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_app_passwords
TESTS += tests/unit/check_app_passwords
tests_unit_check_app_passwords_SOURCES = tests/unit/check_app_passwords.c $(CHECK_RUNNER)
tests_unit_check_app_passwords_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_app_passwords_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

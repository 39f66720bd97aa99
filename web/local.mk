# web/: the admin listener (REST API, panel files, autoconfig) on libmicrohttpd.
noinst_LIBRARIES += libweb.a
WEB_LIB = libweb.a
libweb_a_SOURCES = \
	web/web.h web/request.h web/internal.h web/api.h \
	web/server.c web/reply.c web/auth.c web/json.c web/routes.c web/path.c \
	web/static.c web/autoconfig.c web/mta_sts.c \
	web/api_session.c web/api_status.c web/api_openapi.c \
	web/api_domains.c web/api_users.c web/api_aliases.c \
	web/api_tokens.c web/api_app_passwords.c web/api_log.c web/api_queue.c web/api_sieve.c \
	web/api_upstreams.c web/api_upstreams.h web/api_upstream_folders.c \
	web/api_relay.c web/api_relay.h \
	web/api_tlsrpt.c \
	web/api_totp.c web/api_totp.h web/rfc3339.c web/rfc3339.h \
	web/upstream_test.c web/upstream_test.h web/json_nul.c web/json_nul.h \
	web/json_dup.c web/json_dup.h web/metrics.c web/api_doctor.c web/api_download.c \
	web/api_import.c
libweb_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(CJSON_CFLAGS)

# The dashboard's counts and disk use: a store function of the panel's own.
libstore_a_SOURCES += daemon/store/stats.c daemon/store/stats.h

# Two-factor sign-in to the panel: the TOTP codes (core), the secrets and
# recovery codes (store), with the schema of stronger accounts.
libcore_a_SOURCES += daemon/core/totp.c daemon/core/totp.h
libstore_a_SOURCES += daemon/store/totp.c
SQL_MIGRATIONS += sql/008_accounts.sql

# API tests over HTTP against the running daemon, and the panel in Chromium
# (SKIP when node or chromium is missing).
TESTS += tests/integration/test_api.py tests/integration/test_api_roles.py \
	tests/integration/test_api_sieve.py \
	tests/integration/test_accounts.py tests/integration/test_api_security.py \
	tests/browser/run.sh
EXTRA_DIST += tests/integration/test_api.py tests/integration/test_api_roles.py \
	tests/integration/test_api_sieve.py \
	tests/integration/test_accounts.py tests/integration/test_api_security.py \
	tests/integration/api_util.py \
	tests/browser/run.sh tests/browser/run_panel.py tests/browser/panel.mjs \
	tests/browser/package.json
AM_TESTS_ENVIRONMENT += MAILHUB_TEST_OUTPUT='$(abs_top_builddir)/tests/output'; \
	export MAILHUB_TEST_OUTPUT;

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_web
TESTS += tests/unit/check_web
tests_unit_check_web_SOURCES = tests/unit/check_web.c web/path.c web/json_nul.c web/json_dup.c \
	$(CHECK_RUNNER)
tests_unit_check_web_CFLAGS = $(CHECK_CFLAGS_ALL) $(MHD_CFLAGS) $(CJSON_CFLAGS)
tests_unit_check_web_LDADD = $(CORE_LIBS) $(CJSON_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_totp
TESTS += tests/unit/check_totp
tests_unit_check_totp_SOURCES = tests/unit/check_totp.c $(CHECK_RUNNER)
tests_unit_check_totp_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_totp_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_rfc3339
TESTS += tests/unit/check_rfc3339
tests_unit_check_rfc3339_SOURCES = tests/unit/check_rfc3339.c web/rfc3339.c $(CHECK_RUNNER)
tests_unit_check_rfc3339_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_rfc3339_LDADD = $(CORE_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_store_accounts
TESTS += tests/unit/check_store_accounts
tests_unit_check_store_accounts_SOURCES = tests/unit/check_store_accounts.c $(CHECK_RUNNER)
tests_unit_check_store_accounts_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_store_accounts_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

FUZZ_TARGETS += tests/fuzz/fuzz_web_path tests/fuzz/fuzz_json
tests_fuzz_fuzz_json_SRCS = tests/fuzz/fuzz_json.c web/json_nul.c web/json_dup.c \
	$(FUZZ_CORE_SRCS)
tests_fuzz_fuzz_web_path_SRCS = tests/fuzz/fuzz_web_path.c web/path.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_web_path.c
FUZZ_TARGETS += tests/fuzz/fuzz_totp_input
tests_fuzz_fuzz_totp_input_SRCS = tests/fuzz/fuzz_totp_input.c daemon/core/totp.c \
	web/rfc3339.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_totp_input.c

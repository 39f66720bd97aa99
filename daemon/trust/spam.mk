# The spam defence: rspamd, DNS blocklists and greylisting ([spam] in
# mailhub.conf(5)).  The verdicts are trust/'s (pure, and the rspamd
# client); the triplets and the learning queue are the store's
# (sql/014_spam.sql); daemon/smtp/inbound.c asks them for the SMTP server,
# and the spam worker of `serve` (daemon/cli/serve_spam.c) teaches rspamd
# and sweeps.  Included after the modules it adds to (see Makefile.am).
libtrust_a_SOURCES += \
	daemon/trust/rspamd.c daemon/trust/rspamd.h \
	daemon/trust/rspamd_client.c daemon/trust/rspamd_client.h \
	daemon/trust/dnsbl.c daemon/trust/dnsbl.h \
	daemon/trust/rdns.c daemon/trust/rdns.h \
	daemon/trust/greylist.c daemon/trust/greylist.h
libtrust_a_CFLAGS += $(CJSON_CFLAGS)
libstore_a_SOURCES += daemon/store/spam.h daemon/store/greylist.c daemon/store/learn.c
SQL_MIGRATIONS += sql/014_spam.sql
libsmtp_a_SOURCES += daemon/smtp/inbound.c daemon/smtp/inbound.h
mailhub_SOURCES += daemon/cli/serve_spam.c daemon/cli/serve_spam.h

if HAVE_CHECK
SPAM_CHECKS = tests/unit/check_rspamd tests/unit/check_dnsbl tests/unit/check_greylist \
	tests/unit/check_spam_store
check_PROGRAMS += $(SPAM_CHECKS)
TESTS += $(SPAM_CHECKS)
tests_unit_check_rspamd_SOURCES = tests/unit/check_rspamd.c $(CHECK_RUNNER)
tests_unit_check_rspamd_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_rspamd_LDADD = $(TRUST_LIBS) $(CJSON_LIBS) $(CHECK_LIBS)
tests_unit_check_dnsbl_SOURCES = tests/unit/check_dnsbl.c $(CHECK_RUNNER)
tests_unit_check_dnsbl_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dnsbl_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
tests_unit_check_greylist_SOURCES = tests/unit/check_greylist.c $(CHECK_RUNNER)
tests_unit_check_greylist_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_greylist_LDADD = $(TRUST_LIBS) $(CHECK_LIBS)
tests_unit_check_spam_store_SOURCES = tests/unit/check_spam_store.c \
	tests/unit/store_test.h $(CHECK_RUNNER)
tests_unit_check_spam_store_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_spam_store_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

# Against real peers: rspamd (with Redis for its Bayes statistics), unbound
# serving a blocklist zone, and greylisting through the listener.
TESTS += tests/integration/test_spam_rspamd.py tests/integration/test_spam_dnsbl.py \
	tests/integration/test_spam_greylist.py
EXTRA_DIST += tests/integration/test_spam_rspamd.py tests/integration/test_spam_dnsbl.py \
	tests/integration/test_spam_greylist.py tests/integration/rspamd_util.py
# ... and on fetched mail, with Dovecot as the upstream.
TESTS += tests/integration/test_spam_fetch.py
EXTRA_DIST += tests/integration/test_spam_fetch.py

# rspamd's JSON reply and HTTP reply head.
FUZZ_TARGETS += tests/fuzz/fuzz_rspamd_reply
tests_fuzz_fuzz_rspamd_reply_SRCS = tests/fuzz/fuzz_rspamd_reply.c daemon/trust/rspamd.c \
	daemon/core/base64.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_rspamd_reply.c

# daemon/mail: pure parsing and building of messages (addresses, headers,
# RFC 2047 words, dates, MIME structure, ENVELOPE/BODYSTRUCTURE, search text,
# dot-stuffing).  Uses only core.
noinst_LIBRARIES += libmail.a
libmail_a_SOURCES = \
	daemon/mail/imapquote.c daemon/mail/imapquote.h \
	daemon/mail/rfc822.c daemon/mail/rfc822.h \
	daemon/mail/address.c daemon/mail/address.h \
	daemon/mail/header.c daemon/mail/header.h \
	daemon/mail/charset.c daemon/mail/rfc2047.c daemon/mail/rfc2047.h \
	daemon/mail/date.c daemon/mail/date.h \
	daemon/mail/mime.c daemon/mail/imapstruct.c daemon/mail/searchtext.c \
	daemon/mail/mime.h \
	daemon/mail/dotstuff.c daemon/mail/dotstuff.h \
	daemon/mail/hdrfilter.c daemon/mail/hdrfilter.h \
	daemon/mail/casefold.c daemon/mail/casefold.h \
	daemon/mail/casefold_table.c daemon/mail/casefold_table.h \
	daemon/mail/dkim_canon.c daemon/mail/dkim_canon.h \
	daemon/mail/mailfile.c daemon/mail/mailfile.h
libmail_a_CFLAGS = $(AM_CFLAGS)
MAILHUB_MODULE_LIBS += libmail.a
MAIL_LIBS = libmail.a $(CORE_LIBS)

MAIL_SRCS = daemon/mail/imapquote.c daemon/mail/rfc822.c \
	daemon/mail/address.c daemon/mail/header.c daemon/mail/charset.c \
	daemon/mail/rfc2047.c daemon/mail/date.c daemon/mail/mime.c \
	daemon/mail/imapstruct.c daemon/mail/searchtext.c \
	daemon/mail/dotstuff.c daemon/mail/hdrfilter.c daemon/mail/casefold.c \
	daemon/mail/casefold_table.c daemon/mail/dkim_canon.c daemon/mail/mailfile.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_mail_address tests/unit/check_mail_header \
	tests/unit/check_mail_rfc2047 tests/unit/check_mail_date \
	tests/unit/check_mail_mime tests/unit/check_mail_dotstuff \
	tests/unit/check_mail_dovecot
TESTS += tests/unit/check_mail_address tests/unit/check_mail_header \
	tests/unit/check_mail_rfc2047 tests/unit/check_mail_date \
	tests/unit/check_mail_mime tests/unit/check_mail_dotstuff \
	tests/unit/check_mail_dovecot
tests_unit_check_mail_address_SOURCES = tests/unit/check_mail_address.c $(CHECK_RUNNER)
tests_unit_check_mail_address_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_address_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_header_SOURCES = tests/unit/check_mail_header.c $(CHECK_RUNNER)
tests_unit_check_mail_header_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_header_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_rfc2047_SOURCES = tests/unit/check_mail_rfc2047.c $(CHECK_RUNNER)
tests_unit_check_mail_rfc2047_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_rfc2047_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_date_SOURCES = tests/unit/check_mail_date.c $(CHECK_RUNNER)
tests_unit_check_mail_date_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_date_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_mime_SOURCES = tests/unit/check_mail_mime.c $(CHECK_RUNNER)
tests_unit_check_mail_mime_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_mime_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_dotstuff_SOURCES = tests/unit/check_mail_dotstuff.c $(CHECK_RUNNER)
tests_unit_check_mail_dotstuff_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_dotstuff_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_dovecot_SOURCES = tests/unit/check_mail_dovecot.c $(CHECK_RUNNER)
tests_unit_check_mail_dovecot_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_dovecot_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_mail_casefold tests/unit/check_mail_hdrfilter
TESTS += tests/unit/check_mail_casefold tests/unit/check_mail_hdrfilter
tests_unit_check_mail_hdrfilter_SOURCES = tests/unit/check_mail_hdrfilter.c $(CHECK_RUNNER)
tests_unit_check_mail_hdrfilter_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_hdrfilter_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_mail_casefold_SOURCES = tests/unit/check_mail_casefold.c \
	$(CHECK_RUNNER)
tests_unit_check_mail_casefold_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_casefold_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_dkim_canon
TESTS += tests/unit/check_dkim_canon
tests_unit_check_dkim_canon_SOURCES = tests/unit/check_dkim_canon.c $(CHECK_RUNNER)
tests_unit_check_dkim_canon_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_dkim_canon_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
endif
EXTRA_DIST += tests/unit/check_mail_dovecot.data \
	tests/unit/check_mail_dovecot_sections.data

FUZZ_TARGETS += tests/fuzz/fuzz_mime tests/fuzz/fuzz_address
tests_fuzz_fuzz_mime_SRCS = tests/fuzz/fuzz_mime.c $(MAIL_SRCS) $(FUZZ_CORE_SRCS)
tests_fuzz_fuzz_address_SRCS = tests/fuzz/fuzz_address.c $(MAIL_SRCS) \
	$(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_mime.c tests/fuzz/fuzz_address.c
FUZZ_TARGETS += tests/fuzz/fuzz_casefold
tests_fuzz_fuzz_casefold_SRCS = tests/fuzz/fuzz_casefold.c \
	daemon/mail/casefold.c daemon/mail/casefold_table.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_casefold.c
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_mailfile
TESTS += tests/unit/check_mailfile
tests_unit_check_mailfile_SOURCES = tests/unit/check_mailfile.c $(CHECK_RUNNER)
tests_unit_check_mailfile_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mailfile_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
endif

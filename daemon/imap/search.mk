# SORT, THREAD, ESEARCH, SEARCHRES and the full-text index of SEARCH: the
# base subject (mail/), the threading algorithms and the commands (imap/),
# the sort keys and FTS5 index per blob (store/), their migration and tests.
libmail_a_SOURCES += daemon/mail/basesubject.c daemon/mail/basesubject.h \
	daemon/mail/sortmap_table.c daemon/mail/sortmap_table.h \
	daemon/mail/sortkeys.c daemon/mail/sortkeys.h \
	daemon/mail/searchfields.c daemon/mail/searchfields.h \
	daemon/mail/preview.c \
	daemon/mail/htmltext.c daemon/mail/htmltext.h \
	daemon/mail/htmlent_table.c daemon/mail/htmlent_table.h
MAIL_SRCS += daemon/mail/basesubject.c daemon/mail/sortkeys.c \
	daemon/mail/sortmap_table.c daemon/mail/searchfields.c \
	daemon/mail/preview.c daemon/mail/htmltext.c daemon/mail/htmlent_table.c
EXTRA_DIST += scripts/gen-sortmap.py scripts/gen-htmlent.py
libimap_a_SOURCES += daemon/imap/thread.c daemon/imap/thread.h \
	daemon/imap/esearch.c daemon/imap/sort.c

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_mail_basesubject tests/unit/check_imap_thread
TESTS += tests/unit/check_mail_basesubject tests/unit/check_imap_thread
tests_unit_check_mail_basesubject_SOURCES = tests/unit/check_mail_basesubject.c $(CHECK_RUNNER)
tests_unit_check_mail_basesubject_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_basesubject_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
tests_unit_check_imap_thread_SOURCES = tests/unit/check_imap_thread.c $(CHECK_RUNNER)
tests_unit_check_imap_thread_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_imap_thread_LDADD = libimap.a $(MAIL_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_mail_htmltext
TESTS += tests/unit/check_mail_htmltext
tests_unit_check_mail_htmltext_SOURCES = tests/unit/check_mail_htmltext.c $(CHECK_RUNNER)
tests_unit_check_mail_htmltext_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_mail_htmltext_LDADD = $(MAIL_LIBS) $(CHECK_LIBS)
endif

FUZZ_TARGETS += tests/fuzz/fuzz_htmltext
tests_fuzz_fuzz_htmltext_SRCS = tests/fuzz/fuzz_htmltext.c \
	daemon/mail/htmltext.c daemon/mail/htmlent_table.c $(FUZZ_CORE_SRCS)
EXTRA_DIST += tests/fuzz/fuzz_htmltext.c

libstore_a_SOURCES += daemon/store/searchdb.c daemon/store/searchdb.h
SQL_MIGRATIONS += sql/016_search.sql sql/025_search_fields.sql \
	sql/034_search_html.sql sql/049_search_gone.sql

TESTS += tests/integration/test_imap_sort.py \
	tests/integration/test_imap_search_index.py \
	tests/integration/test_imap_search_pending.py
EXTRA_DIST += tests/integration/test_imap_sort.py tests/integration/thread_corpus.py \
	tests/integration/test_imap_search_index.py \
	tests/integration/test_imap_search_pending.py
BENCHMARKS += tests/bench/search_bench.py tests/bench/search_index_size.py
EXTRA_DIST += tests/bench/search_bench.py tests/bench/search_index_size.py

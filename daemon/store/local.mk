# daemon/store: the only code that touches SQLite and the blob files.
noinst_LIBRARIES += libstore.a
libstore_a_SOURCES = \
	daemon/store/store.h daemon/store/store_int.h \
	daemon/store/blob.h daemon/store/blob.c \
	daemon/store/blob_dir.c \
	daemon/store/blob_sync.h daemon/store/blob_sync.c \
	daemon/store/migrate.h daemon/store/migrate.c \
	daemon/store/db.c \
	daemon/store/walsync.c \
	daemon/store/walbuf.c \
	daemon/store/stmt.c \
	daemon/store/domains.c \
	daemon/store/users.c \
	daemon/store/aliases.c \
	daemon/store/resolve.c \
	daemon/store/mailboxes.c \
	daemon/store/messages.c \
	daemon/store/deliver.c \
	daemon/store/copies.c \
	daemon/store/names_pending.c \
	daemon/store/tokens.c \
	daemon/store/notify.c \
	daemon/store/fsck.c
nodist_libstore_a_SOURCES = daemon/store/migrations.c
libstore_a_CFLAGS = $(AM_CFLAGS)
STORE_LIB = libstore.a
# What a test of the store links (the store parses messages with mail/).
STORE_LIBS = libstore.a libmail.a $(CORE_LIBS) $(SQLITE_LIBS)

# The schema migrations compiled into the binary, in any order (sql2c.sh
# sorts them by version).  A module with tables of its own adds its file:
#   SQL_MIGRATIONS += sql/002_queue.sql
SQL_MIGRATIONS = sql/001_initial.sql sql/006_mailbox_quota.sql \
	sql/054_blob_names_pending.sql sql/056_blob_names_bytes.sql
EXTRA_DIST += daemon/store/sql2c.sh tests/unit/store_test.h

# Generated in the build folder from the sources in $(srcdir) (VPATH).
daemon/store/migrations.c: $(addprefix $(srcdir)/,$(SQL_MIGRATIONS)) \
		$(srcdir)/daemon/store/sql2c.sh
	@$(MKDIR_P) daemon/store
	$(AM_V_GEN)$(SHELL) $(srcdir)/daemon/store/sql2c.sh \
		$(addprefix $(srcdir)/,$(SQL_MIGRATIONS)) > $@.tmp && mv $@.tmp $@
BUILT_SOURCES += daemon/store/migrations.c
CLEANFILES += daemon/store/migrations.c daemon/store/migrations.c.tmp

if HAVE_CHECK
STORE_CHECKS = tests/unit/check_store tests/unit/check_migrate \
	tests/unit/check_deliver tests/unit/check_fsck tests/unit/check_blob
check_PROGRAMS += $(STORE_CHECKS)
TESTS += $(STORE_CHECKS)
tests_unit_check_store_SOURCES = tests/unit/check_store.c $(CHECK_RUNNER)
tests_unit_check_store_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_store_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
tests_unit_check_migrate_SOURCES = tests/unit/check_migrate.c $(CHECK_RUNNER)
tests_unit_check_migrate_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_migrate_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
tests_unit_check_deliver_SOURCES = tests/unit/check_deliver.c $(CHECK_RUNNER)
tests_unit_check_deliver_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_deliver_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
tests_unit_check_fsck_SOURCES = tests/unit/check_fsck.c $(CHECK_RUNNER)
tests_unit_check_fsck_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_fsck_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
tests_unit_check_blob_SOURCES = tests/unit/check_blob.c $(CHECK_RUNNER)
tests_unit_check_blob_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_blob_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

TESTS += tests/integration/test_store_security.py tests/integration/test_disk_full.py
EXTRA_DIST += tests/integration/test_store_security.py tests/integration/test_disk_full.py

# `mailhub import` (import.h) and what it has brought in (sql/017).
libstore_a_SOURCES += daemon/store/import.c daemon/store/import.h \
	daemon/store/backup.c daemon/store/backup.h
SQL_MIGRATIONS += sql/017_import.sql
# The panel's background imports (fetch/import_job.h).
libstore_a_SOURCES += daemon/store/import_jobs.c daemon/store/import_jobs.h
# A mailbox in Dovecot's Maildir form: `mailhub export` and the download.
libstore_a_SOURCES += daemon/store/maildir_form.c daemon/store/maildir_form.h
SQL_MIGRATIONS += sql/036_import_jobs.sql
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_import
TESTS += tests/unit/check_import
tests_unit_check_import_SOURCES = tests/unit/check_import.c $(CHECK_RUNNER)
tests_unit_check_import_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_import_LDADD = $(STORE_LIBS) $(CHECK_LIBS)
endif

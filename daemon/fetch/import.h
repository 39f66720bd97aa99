/*
 * fetch/import.h: mail moved in from another server, for one user: what
 * the sources share (fetch/import_run.c), the IMAP source
 * (fetch/import_imap.c), used by `mailhub import` (cli/import.c: Maildir,
 * mbox and IMAP) and by the panel's background import (fetch/import_job.h).
 *
 * A source hands each message to import_message() with its record; the
 * message is skipped at once when its key is known (an earlier run), else
 * queued in the store's batch, which commits every IMPORT_BATCH_MESSAGES
 * messages and at the end of each folder.  Failures are reported through
 * the run's on_error (plain words, never a password), progress through
 * on_progress: the command line prints them on the terminal, the job keeps
 * them for the panel.
 */
#ifndef MAILHUB_FETCH_IMPORT_H
#define MAILHUB_FETCH_IMPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/client_conn.h"
#include "core/log.h"
#include "store/import.h"
#include "store/upstreams.h"

struct import_run {
	struct store *st;
	int64_t user_id;
	struct store_import_batch *batch;
	/* counts */
	unsigned imported, skipped, failed, folders;
	/* the folder under way */
	const char *folder;
	size_t folder_done, folder_total;
	/* IMAP: folders of the source and their messages, once listed
	 * (0 until then) */
	size_t folders_total, folders_done;
	uint64_t messages_total, messages_before;	/* before: in folders done */
	/* reports: text in plain words without the "import: " prefix; progress
	 * at most every IMPORT_PROGRESS_MS unless forced */
	void (*on_error)(struct import_run *r, const char *text);
	void (*on_progress)(struct import_run *r);
	void *ctx;
	int64_t last_progress_ms;
	/* not NULL: set by another thread to stop at the next message */
	atomic_bool *stop;
	struct buf crlf;	/* scratch: a message with CRLF line ends */
	/* what earlier runs imported into the folder under way, read when it
	 * opens (import_known() looks there, not in SQLite, per message) */
	struct store_import_keys known;
	/* messages per commit (0: IMPORT_BATCH_MESSAGES) */
	unsigned batch_messages;
};

#define IMPORT_PROGRESS_MS 200

/* Reports a failure through r->on_error. */
void import_error(struct import_run *r, const char *fmt, ...) MH_PRINTF(2, 3);
/* Whether key is known for the mailbox (1), not (0), or -1 (reported). */
int import_known(struct import_run *r, int64_t mailbox_id, const char *key);
/* Starts a message in the batch; its bytes follow through import_write. */
int import_begin(struct import_run *r);
/* Appends bytes of the message, bare LF line ends made CRLF (*last_cr
 * carries whether the last byte written was a CR, across calls). */
int import_write(struct import_run *r, const char *p, size_t n, bool *last_cr);
/* Ends the message with its record; commits when the batch is full. */
int import_end(struct import_run *r, const struct store_import_msg *m);
/* A whole message in memory: begin, write, end. */
int import_message(struct import_run *r, const char *p, size_t n,
		   const struct store_import_msg *m);
/* Commits what the batch holds (0, or -1 reported). */
int import_commit(struct import_run *r);
/* Calls r->on_progress, at most every IMPORT_PROGRESS_MS (force: now). */
void import_progress(struct import_run *r, bool force);
/* Opens the folder's mailbox (store_import_mailbox), reporting failures. */
int import_folder_open(struct import_run *r, const char *name, uint32_t uidvalidity,
		       int64_t *mailbox_id_r);
/* Ends a folder: commits, raises UIDNEXT to next_uid (0: none). */
int import_folder_done(struct import_run *r, int64_t mailbox_id, uint32_t next_uid);
/* Frees what the run holds besides its store and batch (the keys). */
void import_run_clear(struct import_run *r);
/* Whether another thread asked the run to stop. */
bool import_stopping(const struct import_run *r);

/*
 * fetch/import_imap.c: every folder of a remote IMAP account (or those of
 * folders, a comma-separated list of the server's names; NULL: all),
 * reached as set and params say with password.  Folders are opened
 * read-only (EXAMINE) and messages fetched with BODY.PEEK[]: the old
 * account is left as it was.  Each message is recorded under
 * "imap:UIDVALIDITY:UID" in the transaction that adds it, so that a run cut
 * off at any point (even by SIGKILL) resumes, when run again, with what is
 * missing.  0, or -1 reported (also when stopped: r->stop).
 */
int import_imap_run(struct import_run *r, const struct upstream_settings *set,
		    const char *password, const struct client_conn_params *params,
		    const char *folders);

#endif

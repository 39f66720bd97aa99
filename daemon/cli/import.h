/*
 * cli/import.h: what the sources of `mailhub import` share (cli/import.c
 * for Maildir and mbox, cli/import_imap.c for a remote IMAP account).
 *
 * A source hands each message to import_message() with its record; the
 * message is skipped at once when its key is known (an earlier run), else
 * queued in the store's batch, which commits every IMPORT_BATCH_MESSAGES
 * messages and at the end of each folder.  Progress goes to stderr when it
 * is a terminal, one line rewritten in place.
 */
#ifndef MAILHUB_CLI_IMPORT_H
#define MAILHUB_CLI_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/import.h"

struct import_run {
	struct store *st;
	int64_t user_id;
	struct store_import_batch *batch;
	bool progress;		/* stderr is a terminal and not --quiet */
	/* counts */
	unsigned imported, skipped, failed, folders;
	/* the folder under way, for the progress line */
	const char *folder;
	size_t folder_done, folder_total;
	int64_t last_progress_ms;
	struct buf crlf;	/* scratch: a message with CRLF line ends */
};

/* Whether key is known for the mailbox (1), not (0), or -1 (printed). */
int import_known(struct import_run *r, int64_t mailbox_id, const char *key);
/* Starts a message in the batch; its bytes follow through import_write. */
int import_begin(struct import_run *r);
/* Appends bytes of the message, bare LF line ends made CRLF (crlf_state
 * carries whether the last byte written was a CR, across calls). */
int import_write(struct import_run *r, const char *p, size_t n, bool *last_cr);
/* Ends the message with its record; commits when the batch is full. */
int import_end(struct import_run *r, const struct store_import_msg *m);
/* A whole message in memory: begin, write, end. */
int import_message(struct import_run *r, const char *p, size_t n,
		   const struct store_import_msg *m);
/* Commits what the batch holds (0, or -1 printed). */
int import_commit(struct import_run *r);
/* The progress line, at most a few times a second (force: now). */
void import_progress(struct import_run *r, bool force);
/* Opens the folder's mailbox (store_import_mailbox), printing failures. */
int import_folder_open(struct import_run *r, const char *name, uint32_t uidvalidity,
		       int64_t *mailbox_id_r);
/* Ends a folder: commits, raises UIDNEXT to next_uid (0: none). */
int import_folder_done(struct import_run *r, int64_t mailbox_id, uint32_t next_uid);

/* cli/import_imap.c: `import ADDRESS imap HOST[:PORT] ...` from argv[3]. */
int import_imap(struct import_run *r, int argc, char **argv);

#endif

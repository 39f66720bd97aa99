/*
 * thread: the THREAD algorithms of RFC 5256 §3 (ORDEREDSUBJECT and
 * REFERENCES) over the sort keys of the messages, with no I/O, so that
 * they can be tested on the RFC's cases (tests/unit/check_imap_thread.c).
 */
#ifndef MAILHUB_IMAP_THREAD_H
#define MAILHUB_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* One message to thread. */
struct thread_msg {
	uint32_t id;		/* what the answer shows: a UID or sequence number */
	int64_t date;		/* sent date, UTC (the internal date when none) */
	const char *subject;	/* base subject, case-mapped ("" when none) */
	bool reply;		/* the subject said reply or forward */
	const char *msgid;	/* the first valid Message-ID, or NULL */
	const char *refs;	/* the References ids (or the first In-Reply-To
				 * id when none), space-separated, or NULL */
};

/* Appends the threads as RFC 5256 §4 writes them after "THREAD", e.g.
 * "(1 2)(3 (4)(5))", for msgs in mailbox order (ascending id). */
void imap_thread_orderedsubject(const struct thread_msg *msgs, size_t n,
				struct buf *out);
void imap_thread_references(const struct thread_msg *msgs, size_t n,
			    struct buf *out);

#endif

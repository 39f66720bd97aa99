/*
 * objectid: the object identifiers of RFC 8474.  A MAILBOXID must never
 * name another mailbox, even after a delete and create of the same name,
 * and must survive RENAME: UIDVALIDITY is never reused (sql/001, meta
 * uidvalidity_last) and a renamed mailbox keeps its row.  An EMAILID is
 * the same for the copies of one message: the store keeps messages by
 * the SHA-256 of their content, so identical content shares it.
 * THREADID is NIL (§5.2: the server does not compute threads).
 */
#include <string.h>

#include "core/buf.h"
#include "imap/imap.h"

void
imap_append_mailboxid(struct buf *out, const struct store_mailbox *mb)
{
	buf_printf(out, "F%08x%llx", mb->uidvalidity, (unsigned long long)mb->id);
}

void
imap_append_emailid(struct buf *out, const char *blob)
{
	size_t len = strlen(blob);
	buf_putc(out, 'M');
	buf_append(out, blob, len < 24 ? len : 24);
}

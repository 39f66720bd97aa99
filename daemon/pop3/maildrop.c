/* The POP3 view of the INBOX: see maildrop.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "mail/dotstuff.h"
#include "pop3/maildrop.h"
#include "store/blob.h"
#include "store/store.h"

/* Bytes read from a blob at a time while sending it. */
#define SEND_CHUNK 65536

int
pop3_maildrop_open(struct store *st, int64_t user_id,
		   struct pop3_maildrop **md_r, const char **error_r)
{
	struct store_mailbox mb;
	struct store_message *list = NULL;
	size_t n = 0;
	int r;

	memset(&mb, 0, sizeof mb);
	r = store_mailbox_get(st, user_id, "INBOX", &mb, error_r);
	if (r != STORE_OK)
		return r;
	r = store_message_list(st, mb.id, 1, &list, &n, error_r);
	if (r != STORE_OK) {
		store_mailbox_clear(&mb);
		return r;
	}

	struct pop3_maildrop *md = xcalloc(1, sizeof *md);
	md->mailbox_id = mb.id;
	md->uidvalidity = mb.uidvalidity;
	md->n = n;
	md->msgs = xcalloc(n == 0 ? 1 : n, sizeof *md->msgs);
	for (size_t i = 0; i < n; i++) {
		struct pop3_msg *m = &md->msgs[i];
		m->uid = list[i].uid;
		/* Messages are stored with CRLF line ends, so the blob's
		 * size is exactly what RETR sends before stuffing (RFC 1939
		 * §11: LIST and STAT count octets as transmitted, as Dovecot
		 * does, without the stuffing and the terminator). */
		m->size = list[i].size;
		memcpy(m->blob, list[i].blob, sizeof m->blob);
		md->octets += m->size;
	}
	store_message_list_free(&list, n);
	store_mailbox_clear(&mb);
	*md_r = md;
	return STORE_OK;
}

void
pop3_maildrop_free(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;

	if (md == NULL)
		return;
	free(md->msgs);
	free(md);
	*mdp = NULL;
}

size_t
pop3_maildrop_count(const struct pop3_maildrop *md)
{
	return md->n - md->n_deleted;
}

uint64_t
pop3_maildrop_octets(const struct pop3_maildrop *md)
{
	return md->octets - md->octets_deleted;
}

const struct pop3_msg *
pop3_maildrop_get(const struct pop3_maildrop *md, uint32_t msgnum)
{
	if (msgnum == 0 || msgnum > md->n)
		return NULL;
	if (md->msgs[msgnum - 1].deleted)
		return NULL;
	return &md->msgs[msgnum - 1];
}

int
pop3_maildrop_delete(struct pop3_maildrop *md, uint32_t msgnum)
{
	if (pop3_maildrop_get(md, msgnum) == NULL)
		return -1;
	struct pop3_msg *m = &md->msgs[msgnum - 1];
	m->deleted = true;
	md->n_deleted++;
	md->octets_deleted += m->size;
	return 0;
}

void
pop3_maildrop_reset(struct pop3_maildrop *md)
{
	for (size_t i = 0; i < md->n; i++)
		md->msgs[i].deleted = false;
	md->n_deleted = 0;
	md->octets_deleted = 0;
}

int
pop3_maildrop_commit(struct store *st, struct pop3_maildrop *md,
		     size_t *removed_r, const char **error_r)
{
	size_t k = 0;
	int r;

	*removed_r = 0;
	if (md->n_deleted == 0)
		return STORE_OK;
	uint32_t *uids = xcalloc(md->n_deleted, sizeof *uids);
	for (size_t i = 0; i < md->n; i++) {
		if (md->msgs[i].deleted)
			uids[k++] = md->msgs[i].uid;
	}
	/* RFC 1939 §6: all marked messages go at once, in one transaction;
	 * UIDs an IMAP session expunged meanwhile are skipped by the store. */
	r = store_expunge(st, md->mailbox_id, uids, k, removed_r, error_r);
	free(uids);
	return r;
}

/*
 * The UIDL must never change for a message (RFC 1939 §7: "the unique-id of
 * a message ... persists across sessions"), and must never be given to
 * another message, or fetchmail and getmail in keep mode would download
 * again or skip mail.  The INBOX's UIDVALIDITY never changes (the INBOX
 * cannot be deleted or renamed away), and IMAP UIDs are never reused within
 * one UIDVALIDITY (RFC 3501 §2.3.1.1), so the pair names one message
 * forever, across sessions and restarts, with nothing extra stored.  The
 * layout is Dovecot's default pop3_uidl_format "%08Xu%08Xv", so mailboxes
 * migrated from Dovecot with their UIDs and UIDVALIDITY keep their UIDLs
 * and POP3 clients do not fetch everything again.
 */
void
pop3_maildrop_uidl(const struct pop3_maildrop *md, const struct pop3_msg *m,
		   char out[POP3_UIDL_SIZE])
{
	snprintf(out, POP3_UIDL_SIZE, "%08" PRIX32 "%08" PRIX32, m->uid,
		 md->uidvalidity);
}

int
pop3_maildrop_open_msg(struct store *st, const struct pop3_msg *m, int *fd_r,
		       uint64_t *size_r, const char **error_r)
{
	if (blob_open(st, m->blob, fd_r, size_r, error_r) != STORE_OK)
		return -1;
	return 0;
}

void
pop3_top_init(struct pop3_top *t, uint32_t lines)
{
	memset(t, 0, sizeof *t);
	t->lines_left = lines;
	t->line_empty = true;
}

size_t
pop3_top_take(struct pop3_top *t, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !t->done) {
		const char *lf = memchr(p + i, '\n', n - i);
		if (lf == NULL) {
			/* the rest is part of the current line */
			for (; i < n; i++) {
				if (p[i] != '\r')
					t->line_empty = false;
			}
			break;
		}
		size_t end = (size_t)(lf - p);
		for (; i < end; i++) {
			if (p[i] != '\r')
				t->line_empty = false;
		}
		i = end + 1;	/* the LF belongs to the line */
		if (!t->in_body) {
			if (t->line_empty) {
				/* the blank line that ends the header */
				t->in_body = true;
				if (t->lines_left == 0)
					t->done = true;
			}
		} else if (--t->lines_left == 0) {
			t->done = true;
		}
		t->line_empty = true;
	}
	return i;
}

int
pop3_maildrop_send(int fd, uint64_t size, struct conn *c, bool top,
		   uint32_t lines, uint64_t *sent_r, const char **error_r)
{
	struct dotstuff ds;
	struct pop3_top cut;
	struct buf out;
	char *in = xmalloc(SEND_CHUNK);
	int ret = 0;

	*sent_r = 0;
	/* stuffing at most doubles a chunk ("\n" -> "\r\n", ".\n" ->
	 * "..\r\n"); the end adds at most "\r\n.\r\n" */
	buf_init(&out, 2 * SEND_CHUNK + 8);
	dotstuff_init(&ds);
	pop3_top_init(&cut, lines);
	/* blobs are immutable: once size bytes are in, the file is done */
	for (uint64_t done = 0; done < size;) {
		size_t want = size - done < SEND_CHUNK ? (size_t)(size - done)
						       : SEND_CHUNK;
		ssize_t got = read(fd, in, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*error_r = errfmt("reading the message: %s",
					  strerror(errno));
			ret = -1;
			break;
		}
		if (got == 0)
			break;
		done += (uint64_t)got;
		size_t take = (size_t)got;
		if (top)
			take = pop3_top_take(&cut, in, take);
		buf_reset(&out);
		if (dotstuff_add(&ds, &out, in, take) < 0)
			panic("pop3: stuffed chunk over its bound");
		*sent_r += take;
		if (conn_write(c, out.data, out.len) < 0) {
			*error_r = "connection lost";
			ret = -1;
			break;
		}
		if (top && cut.done)
			break;
	}
	if (ret == 0) {
		buf_reset(&out);
		if (dotstuff_finish(&ds, &out) < 0)
			panic("pop3: message end over its bound");
		if (conn_write(c, out.data, out.len) < 0) {
			*error_r = "connection lost";
			ret = -1;
		}
	}
	close(fd);
	buf_free(&out);
	free(in);
	return ret;
}

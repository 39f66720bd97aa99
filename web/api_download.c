/*
 * api_download: GET /api/v1/users/{address}/download, "download my
 * mailbox": every folder of the user as a Maildir++ tree in a tar stream
 * (POSIX ustar; GNU long names past 100 bytes), which any tar, Dovecot,
 * mutt or Thunderbird's ImportExportTools read:
 *   mail/cur/DATE.MUIDP0.mailhub,S=SIZE,W=VSIZE:2,FLAGS  INBOX
 *   mail/.Archive.2024/cur/...                         folder "Archive/2024"
 *   mail/.../dovecot-uidlist                           UIDVALIDITY and UIDs
 *   mail/.../dovecot-keywords                          the keyword letters
 * byte for byte what `mailhub export ADDRESS maildir` writes under mail/
 * (store/maildir_form.h: LF line ends, the internal date as mtime, flags
 * and keyword letters in the names, folder names in modified UTF-7), so
 * that Dovecot serves the unpacked tree as mailhub did.  The user themself
 * or an admin.
 *
 * The stream is made as it is sent: libmicrohttpd asks the reader for
 * more, and the reader takes the next message from the store then, so
 * memory holds one message at a time whatever the size of the mailbox.
 * The reader has a store handle of its own (the request's belongs to its
 * thread), freed with the response.  Each folder is read as it is when
 * the stream reaches it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "mail/mailfile.h"
#include "imap/utf7.h"
#include "store/maildir_form.h"
#include "store/store.h"
#include "web/api.h"
#include "web/internal.h"

#define TAR_BLOCK 512
/* What the reader hands libmicrohttpd at once, at most. */
#define DOWNLOAD_CHUNK (64 * 1024)

struct download {
	struct store *st;
	int64_t user_id;
	struct store_mailbox *mbs;
	size_t n_mbs, mb;		/* the folder being sent */
	struct store_message *msgs;
	size_t n_msgs, msg;		/* the next message of that folder */
	bool folder_started;
	int64_t made;			/* mtime of the folders and index files:
					 * now, as export writes them (Dovecot
					 * skips a dovecot-keywords of mtime 0,
					 * which it takes for read already) */
	struct maildir_keywords kw;	/* the folder's keyword letters */
	struct buf uidlist;		/* the folder's dovecot-uidlist */
	struct buf out;			/* tar bytes made and not yet sent */
	size_t out_pos;
	bool done;
};

static void
download_free(void *cls)
{
	struct download *d = cls;
	store_message_list_free(&d->msgs, d->n_msgs);
	maildir_keywords_clear(&d->kw);
	if (d->mbs != NULL)
		store_mailbox_list_free(&d->mbs, d->n_mbs);
	store_close(&d->st);
	buf_free(&d->uidlist);
	buf_free(&d->out);
	free(d);
}

static void
octal(char *field, size_t width, uint64_t v)
{
	/* width - 1 digits and a NUL, as ustar has it (a message is far
	 * below the 8 GiB that 11 octal digits hold) */
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%0*llo", (int)width - 1, (unsigned long long)v);
	size_t len = n > 0 ? (size_t)n : 0;
	memcpy(field, tmp + (len > width - 1 ? len - (width - 1) : 0), width - 1);
	field[width - 1] = '\0';
}

/* One tar entry's header (and, for a name longer than ustar holds, the
 * GNU ././@LongLink entry before it), then data and the padding. */
static void
tar_entry(struct buf *out, const char *name, char type, const void *data, size_t len,
	  int64_t mtime)
{
	size_t nlen = strlen(name);
	if (nlen >= 100)
		tar_entry(out, "././@LongLink", 'L', name, nlen + 1, 0);
	char h[TAR_BLOCK];
	memset(h, 0, sizeof h);
	memcpy(h, name, nlen < 100 ? nlen : 99);
	octal(h + 100, 8, type == '5' ? 0755 : 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, len);
	octal(h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
	memset(h + 148, ' ', 8);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof h; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	buf_append(out, h, sizeof h);
	if (len > 0) {
		buf_append(out, data, len);
		size_t pad = (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK;
		char zero[TAR_BLOCK] = { 0 };
		buf_append(out, zero, pad);
	}
}

/* "mail" for INBOX, "mail/.A.B" for "A/B". */
static void
folder_dir(const char *name, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, "mail");
	if (strcmp(name, "INBOX") == 0)
		return;
	buf_putc(out, '/');
	imap_maildirpp_dir(name, out);
}

/* Makes the next piece of the stream into d->out: a folder's start, one
 * message, a folder's end, or the end of the archive.  -1 when the store
 * fails (the stream then ends short, and the client sees a broken tar). */
static int
next_piece(struct download *d)
{
	const char *error;
	struct buf dir = BUF_INIT, name = BUF_INIT;
	int ret = 0;
	if (d->mb >= d->n_mbs) {
		char zero[2 * TAR_BLOCK] = { 0 };
		buf_append(&d->out, zero, sizeof zero);	/* the end of a tar */
		d->done = true;
		goto out;
	}
	const struct store_mailbox *mb = &d->mbs[d->mb];
	folder_dir(mb->name, &dir);
	if (!d->folder_started) {
		if (store_message_list(d->st, mb->id, 1, &d->msgs, &d->n_msgs, &error) != STORE_OK) {
			log_error("web download cannot list %s: %s", esc_str(mb->name), error);
			ret = -1;
			goto out;
		}
		d->msg = 0;
		d->folder_started = true;
		maildir_keywords_of(d->msgs, d->n_msgs, &d->kw);
		maildir_uidlist_start(mb, &d->uidlist);
		static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
		for (size_t i = 0; i < 4; i++) {
			buf_reset(&name);
			buf_printf(&name, "%s%s/", buf_cstr(&dir), subs[i]);
			tar_entry(&d->out, buf_cstr(&name), '5', NULL, 0, d->made);
		}
		goto out;
	}
	if (d->msg < d->n_msgs) {
		const struct store_message *m = &d->msgs[d->msg++];
		struct buf raw = BUF_INIT, lf = BUF_INIT, file = BUF_INIT;
		if (maildir_message(d->st, m, &d->kw, &raw, &lf, &file, &d->uidlist, &error) !=
		    STORE_OK) {
			log_error("web download message %u: %s", m->uid, error);
			ret = -1;
		} else {
			buf_printf(&name, "%s/cur/%s", buf_cstr(&dir), buf_cstr(&file));
			tar_entry(&d->out, buf_cstr(&name), '0', lf.data, lf.len, m->internal_date);
		}
		buf_free(&raw);
		buf_free(&lf);
		buf_free(&file);
		goto out;
	}
	buf_printf(&name, "%s/dovecot-uidlist", buf_cstr(&dir));
	tar_entry(&d->out, buf_cstr(&name), '0', d->uidlist.data, d->uidlist.len, d->made);
	if (d->kw.n > 0) {
		struct buf kwfile = BUF_INIT;
		maildir_keywords_file(&d->kw, &kwfile);
		buf_reset(&name);
		buf_printf(&name, "%s/dovecot-keywords", buf_cstr(&dir));
		tar_entry(&d->out, buf_cstr(&name), '0', kwfile.data, kwfile.len, d->made);
		buf_free(&kwfile);
	}
	maildir_keywords_clear(&d->kw);
	store_message_list_free(&d->msgs, d->n_msgs);
	d->n_msgs = 0;
	d->folder_started = false;
	d->mb++;
out:
	buf_free(&dir);
	buf_free(&name);
	return ret;
}

static ssize_t
download_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct download *d = cls;
	(void)pos;
	while (d->out_pos == d->out.len) {
		if (d->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		buf_reset(&d->out);
		d->out_pos = 0;
		if (next_piece(d) < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = d->out.len - d->out_pos;
	if (n > max)
		n = max;
	memcpy(buf, d->out.data + d->out_pos, n);
	d->out_pos += n;
	if (d->out_pos == d->out.len && d->out.cap > 4 * DOWNLOAD_CHUNK) {
		/* a big message has gone: give its memory back */
		buf_free(&d->out);
		d->out_pos = 0;
	}
	return (ssize_t)n;
}

enum MHD_Result
api_users_download(struct web_request *r)
{
	const char *address = r->params[0], *error;
	if (!web_may_access_user(r, address))
		return reply_problem(r, 403, "only the user or an admin may download this mail");
	struct store_user user = { 0 };
	int st = store_user_get(r->st, address, &user, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	struct download *d = xcalloc(1, sizeof *d);
	d->user_id = user.id;
	d->made = (int64_t)time(NULL);
	if (store_open(store_data_dir(r->st), &d->st, &error) != STORE_OK ||
	    store_mailbox_list(d->st, user.id, &d->mbs, &d->n_mbs, &error) != STORE_OK) {
		log_error("web download user=%s: %s", user.address, error);
		store_user_clear(&user);
		download_free(d);
		return reply_problem(r, 500, "the mailbox cannot be read; see the server log");
	}
	log_info("web download user=%s by=%s folders=%zu", user.address, r->user.address,
		 d->n_mbs);
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, DOWNLOAD_CHUNK, download_read, d, download_free);
	/* RFC 6266 §4.1: a quoted-string; an address's quotes and backslashes
	 * (a quoted local part) become '_' */
	char *disp = xasprintf("attachment; filename=\"%s.tar\"", user.address);
	for (char *c = disp + strlen("attachment; filename=\""); *c != '\0'; c++)
		if ((*c == '"' && c[1] != '\0') || *c == '\\')
			*c = '_';
	store_user_clear(&user);
	MHD_add_response_header(resp, "Content-Type", "application/x-tar");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	free(disp);
	reply_add_security_headers(resp);
	r->replied = true;
	enum MHD_Result res = MHD_queue_response(r->mhd, 200, resp);
	MHD_destroy_response(resp);
	return res;
}

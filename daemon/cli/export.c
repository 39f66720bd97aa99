/*
 * cli/export.c: `mailhub export ADDRESS maildir|mbox DEST`, a user's mail
 * written out in the forms other servers and clients read.
 *
 * Maildir: a Dovecot Maildir++ tree (INBOX at the top, folder "A/B" in
 * ".A.B" with names in modified UTF-7), each message in cur/ named
 * "DATE.MUIDP0.mailhub,S=SIZE,W=VSIZE:2,FLAGS" with LF line ends and its
 * internal date as mtime, and per folder a dovecot-uidlist (the same UIDs,
 * UIDVALIDITY and next UID) and dovecot-keywords (the first 26 keywords of
 * the folder: Maildir has no letters for more), so that Dovecot serves it
 * to clients as mailhub did, with nothing to download again.
 *
 * mbox: one file per folder under DEST (folder "A/B" in "A.sbd/B", as
 * Thunderbird lays them out and `import` reads them), mboxrd-escaped, with
 * Status:, X-Status: and X-Keywords: carrying the flags, as mutt reads them.
 *
 * DEST must not exist yet or be empty: nothing is overwritten.  The daemon
 * may run meanwhile; each folder is written as it is when it is reached.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "imap/utf7.h"
#include "mail/mailfile.h"
#include "store/blob.h"
#include "store/maildir_form.h"
#include "store/store.h"

cli_command_fn cmd_export;

static int
mkdirs(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			goto fail;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		goto fail;
	free(p);
	return 0;
fail:
	cli_error("export: cannot create %s: %s", esc_str(p), strerror(errno));
	free(p);
	return -1;
}

static int
write_file(const char *path, const char *data, size_t len, int64_t mtime)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			goto fail;
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		goto fail;
	if (mtime > 0) {
		struct timeval tv[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
		utimes(path, tv);
	}
	return 0;
fail:
	cli_error("export: cannot write %s: %s", esc_str(path), strerror(errno));
	return -1;
}

/* The message's bytes with LF line ends (how Maildir and mbox keep them). */
static int
read_lf(struct store *st, const struct store_message *m, struct buf *raw, struct buf *out)
{
	const char *error;
	buf_reset(raw);
	if (blob_read(st, m->blob, raw, &error) != STORE_OK) {
		cli_error("export: message %u: %s", m->uid, error);
		return -1;
	}
	buf_reset(out);
	for (size_t i = 0; i < raw->len; i++) {
		if (raw->data[i] == '\r' && i + 1 < raw->len && raw->data[i + 1] == '\n')
			continue;
		buf_putc(out, raw->data[i]);
	}
	return 0;
}

/* "A/B" as Maildir++ names it under dest: dest/.A.B (imap_maildirpp_dir). */
static char *
maildirpp_dir(const char *dest, const char *name)
{
	struct buf out = BUF_INIT;
	buf_puts(&out, dest);
	if (strcmp(name, "INBOX") != 0) {
		buf_putc(&out, '/');
		imap_maildirpp_dir(name, &out);
	}
	return buf_steal(&out);
}

static int
export_maildir_folder(struct store *st, const struct store_mailbox *mb, const char *dest,
		      unsigned *count)
{
	struct store_message *msgs = NULL;
	size_t n = 0;
	const char *error;
	struct maildir_keywords kw = { 0 };
	int ret = -1;
	struct buf raw = BUF_INIT, lf = BUF_INIT, name = BUF_INIT, uidlist = BUF_INIT,
		   path = BUF_INIT;
	char *dir = maildirpp_dir(dest, mb->name);
	if (store_message_list(st, mb->id, 1, &msgs, &n, &error) != STORE_OK) {
		cli_error("export: %s", error);
		goto out;
	}
	static const char *const subs[] = { "cur", "new", "tmp" };
	for (size_t i = 0; i < 3; i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir, subs[i]);
		if (mkdirs(buf_cstr(&path)) < 0)
			goto out;
	}
	maildir_keywords_of(msgs, n, &kw);
	maildir_uidlist_start(mb, &uidlist);
	for (size_t i = 0; i < n; i++) {
		const struct store_message *m = &msgs[i];
		if (maildir_message(st, m, &kw, &raw, &lf, &name, &uidlist, &error) != STORE_OK) {
			cli_error("export: message %u: %s", m->uid, error);
			goto out;
		}
		buf_reset(&path);
		buf_printf(&path, "%s/cur/%s", dir, buf_cstr(&name));
		if (write_file(buf_cstr(&path), lf.data != NULL ? lf.data : "", lf.len,
			       m->internal_date) < 0)
			goto out;
		(*count)++;
	}
	buf_reset(&path);
	buf_printf(&path, "%s/dovecot-uidlist", dir);
	if (write_file(buf_cstr(&path), uidlist.data, uidlist.len, 0) < 0)
		goto out;
	if (kw.n > 0) {
		maildir_keywords_file(&kw, &uidlist);
		buf_reset(&path);
		buf_printf(&path, "%s/dovecot-keywords", dir);
		if (write_file(buf_cstr(&path), uidlist.data, uidlist.len, 0) < 0)
			goto out;
	}
	ret = 0;
out:
	maildir_keywords_clear(&kw);
	store_message_list_free(&msgs, n);
	buf_free(&raw);
	buf_free(&lf);
	buf_free(&name);
	buf_free(&uidlist);
	buf_free(&path);
	free(dir);
	return ret;
}

static int
export_mbox_folder(struct store *st, const struct store_mailbox *mb, const char *dest,
		   unsigned *count)
{
	struct store_message *msgs = NULL;
	size_t n = 0;
	const char *error;
	int ret = -1;
	struct buf raw = BUF_INIT, lf = BUF_INIT, out = BUF_INIT, from = BUF_INIT,
		   path = BUF_INIT;
	/* "A/B" in DEST/A.sbd/B */
	buf_printf(&path, "%s/", dest);
	for (const char *p = mb->name;;) {
		const char *slash = strchr(p, '/');
		if (slash == NULL) {
			buf_puts(&path, p);
			break;
		}
		buf_append(&path, p, (size_t)(slash - p));
		buf_puts(&path, ".sbd");
		if (mkdirs(buf_cstr(&path)) < 0)
			goto out;
		buf_putc(&path, '/');
		p = slash + 1;
	}
	if (store_message_list(st, mb->id, 1, &msgs, &n, &error) != STORE_OK) {
		cli_error("export: %s", error);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_message *m = &msgs[i];
		if (read_lf(st, m, &raw, &lf) < 0)
			goto out;
		mbox_from_line(NULL, (time_t)m->internal_date, &from);
		buf_append(&out, from.data, from.len);
		/* the header, then the state fields at its end, then the body */
		const char *p = lf.data != NULL ? lf.data : "";
		const char *hdr_end = strstr(p, "\n\n");
		size_t hlen = hdr_end != NULL ? (size_t)(hdr_end - p) + 1 : lf.len;
		if (lf.len > 0 && p[0] == '\n')
			hlen = 0;
		buf_append(&out, p, hlen);
		buf_printf(&out, "Status: %sO\n", (m->flags & MAILFILE_SEEN) != 0 ? "R" : "");
		if ((m->flags & (MAILFILE_ANSWERED | MAILFILE_FLAGGED | MAILFILE_DRAFT |
				 MAILFILE_DELETED)) != 0)
			buf_printf(&out, "X-Status: %s%s%s%s\n",
				   (m->flags & MAILFILE_ANSWERED) != 0 ? "A" : "",
				   (m->flags & MAILFILE_FLAGGED) != 0 ? "F" : "",
				   (m->flags & MAILFILE_DRAFT) != 0 ? "T" : "",
				   (m->flags & MAILFILE_DELETED) != 0 ? "D" : "");
		if (m->keywords != NULL)
			buf_printf(&out, "X-Keywords: %s\n", m->keywords);
		/* the body, mboxrd-escaped (RFC 4155) */
		size_t pos = hlen;
		if (pos < lf.len && p[pos] == '\n') {
			buf_putc(&out, '\n');
			pos++;
		} else {
			buf_putc(&out, '\n');
		}
		while (pos < lf.len) {
			const char *nl = memchr(p + pos, '\n', lf.len - pos);
			size_t l = nl != NULL ? (size_t)(nl - (p + pos)) : lf.len - pos;
			if (mbox_needs_escape(p + pos, l))
				buf_putc(&out, '>');
			buf_append(&out, p + pos, l);
			buf_putc(&out, '\n');
			pos += l + 1;
		}
		buf_putc(&out, '\n');	/* the blank line before the next "From " */
		(*count)++;
	}
	ret = write_file(buf_cstr(&path), out.data != NULL ? out.data : "", out.len, 0);
out:
	store_message_list_free(&msgs, n);
	buf_free(&raw);
	buf_free(&lf);
	buf_free(&out);
	buf_free(&from);
	buf_free(&path);
	return ret;
}

int
cmd_export(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[3];
	size_t n_pos;
	int ret = cli_parse_args("export", argc, argv, 1, NULL, 0, pos, 3, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 3)
		return cli_usage_error("export: ADDRESS, maildir or mbox, and DEST are required");
	bool maildir = strcmp(pos[1], "maildir") == 0;
	if (!maildir && strcmp(pos[1], "mbox") != 0)
		return cli_usage_error("export: the form must be maildir or mbox");
	const char *dest = pos[2];
	DIR *d = opendir(dest);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				closedir(d);
				cli_error("export: %s is not empty", esc_str(dest));
				return CLI_FAIL;
			}
		closedir(d);
	}
	if (mkdirs(dest) < 0)
		return CLI_FAIL;

	struct store *st;
	struct store_user user = { 0 };
	struct store_mailbox *mbs = NULL;
	size_t n = 0;
	const char *error;
	unsigned count = 0;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	ret = CLI_FAIL;
	if (store_user_get(st, pos[0], &user, &error) != STORE_OK ||
	    store_mailbox_list(st, user.id, &mbs, &n, &error) != STORE_OK) {
		cli_error("export: %s", error);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int r = maildir ? export_maildir_folder(st, &mbs[i], dest, &count)
				: export_mbox_folder(st, &mbs[i], dest, &count);
		if (r < 0)
			goto out;
	}
	printf("export: %u messages in %zu folders\n", count, n);
	ret = CLI_OK;
out:
	if (n > 0 || mbs != NULL)
		store_mailbox_list_free(&mbs, n);
	store_user_clear(&user);
	store_close(&st);
	return ret;
}

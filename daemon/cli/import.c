/*
 * cli/import.c: `mailhub import ADDRESS maildir|mbox|imap SOURCE...`, mail
 * moved in from another server, for one user.
 *
 * Maildir: a Dovecot or Courier Maildir++ tree (INBOX at the top, folders
 * in ".Name.Sub" folders, names in modified UTF-7), or Dovecot's
 * LAYOUT=fs (folders as nested folders).  Each file keeps its flags (from
 * its name), keywords (dovecot-keywords), internal date (its mtime, as
 * Dovecot keeps it) and, with a dovecot-uidlist, its UID and the folder's
 * UIDVALIDITY and next UID, so that a client synced to the old server
 * sees the same UIDs and downloads nothing again.
 *
 * mbox: one file, or a folder of them (Thunderbird's "Name.sbd" folders
 * hold the subfolders of "Name"): mboxrd or mboxo, flags from Status: and
 * X-Status:, keywords from X-Keywords:, the internal date from the "From "
 * line; the header fields mbox servers keep their state in are left out,
 * as Dovecot leaves them out when it serves an mbox.
 *
 * Messages are stored with CRLF line ends, as IMAP serves them.  Every
 * message is recorded under a key (sql/017): running the import again, or
 * after an interruption, brings in only what is missing.
 */
#include "cli/cli.h"
#include "fetch/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "imap/utf7.h"
#include "mail/mailfile.h"
#include "store/store.h"

cli_command_fn cmd_import;

/* ---- the reports on a terminal ------------------------------------------ */

struct cli_import {
	bool progress;		/* stderr is a terminal and not --quiet */
};

static void
cli_import_error(struct import_run *r, const char *text)
{
	(void)r;
	cli_error("import: %s", text);
}

static void
cli_import_progress(struct import_run *r)
{
	const struct cli_import *ci = r->ctx;
	if (!ci->progress)
		return;
	if (r->folder_total > 0)
		fprintf(stderr, "\r\033[Kimport: %s: %zu/%zu (%u imported, %u already there)",
			r->folder != NULL ? r->folder : "", r->folder_done, r->folder_total,
			r->imported, r->skipped);
	else
		fprintf(stderr, "\r\033[Kimport: %s: %zu (%u imported, %u already there)",
			r->folder != NULL ? r->folder : "", r->folder_done, r->imported,
			r->skipped);
	fflush(stderr);
}

/* The whole file at path into out, with its mtime. */
static int
read_file(const char *path, struct buf *out, time_t *mtime_r)
{
	/* without touching its atime (which writes the old server's inodes
	 * back to disk); not allowed on a file of another owner */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		int e = errno;
		if (e != ENOENT)
			cli_error("import: cannot read %s: %s", esc_str(path), strerror(e));
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	buf_reset(out);
	for (;;) {
		size_t room = (size_t)sb.st_size + 1 > 65536 ? (size_t)sb.st_size + 1 : 65536;
		char *p = buf_reserve(out, room);
		ssize_t n = read(fd, p, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("import: cannot read %s: %s", esc_str(path), strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		buf_commit(out, (size_t)n);
		if (out->len > IMPORT_MESSAGE_MAX)
			break;	/* import_message() leaves it out */
		/* a regular file reads short only at its end: no read(2) more
		 * to be told so */
		if ((size_t)n < room && S_ISREG(sb.st_mode))
			break;
	}
	close(fd);
	*mtime_r = sb.st_mtime;
	return 0;
}

/* The next line of text[0..len) from *pos, without its LF: false at the
 * end. */
static bool
next_line(const char *text, size_t len, size_t *pos, const char **line_r, size_t *len_r)
{
	if (*pos >= len)
		return false;
	const char *line = text + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t l = nl != NULL ? (size_t)(nl - line) : len - *pos;
	*line_r = line;
	*len_r = l;
	*pos += l + (nl != NULL);
	return true;
}

static bool
is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool
has_cur(const char *dir)
{
	char *p = xasprintf("%s/cur", dir);
	bool yes = is_dir(p);
	free(p);
	return yes;
}

/* Sorted names of a folder's entries (not "." or ".."). */
static int
list_dir(const char *dir, char ***names_r, size_t *n_r)
{
	DIR *d = opendir(dir);
	*names_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n_r == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			*names_r = xreallocarray(*names_r, cap, sizeof **names_r);
		}
		(*names_r)[(*n_r)++] = xstrdup(e->d_name);
	}
	closedir(d);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- Maildir ------------------------------------------------------------ */

struct uid_entry {
	char *base;
	uint32_t uid;
};

struct md_file {
	char *path;
	char *base;
	uint32_t uid;		/* from dovecot-uidlist, or 0 */
	unsigned flags;
	uint32_t keywords;
};

static int
cmp_uid_entry(const void *a, const void *b)
{
	return strcmp(((const struct uid_entry *)a)->base, ((const struct uid_entry *)b)->base);
}

/* Known UIDs first in UID order (so each can keep its UID), then the rest
 * by name (delivery order for Maildir names that start with the time). */
static int
cmp_md_file(const void *a, const void *b)
{
	const struct md_file *x = a, *y = b;
	if ((x->uid == 0) != (y->uid == 0))
		return x->uid == 0 ? 1 : -1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->base, y->base);
}

/* dovecot-uidlist of dir: the folder's UIDVALIDITY and next UID, and each
 * file's UID, sorted by name (none when the file is missing). */
static int
read_uidlist(const char *dir, uint32_t *uidvalidity_r, uint32_t *next_uid_r,
	     struct uid_entry **list_r, size_t *n_r)
{
	char *path = xasprintf("%s/dovecot-uidlist", dir);
	struct buf text = BUF_INIT;
	time_t mtime;
	*uidvalidity_r = 0;
	*next_uid_r = 0;
	*list_r = NULL;
	*n_r = 0;
	if (access(path, F_OK) < 0) {
		free(path);
		return 0;
	}
	int ret = read_file(path, &text, &mtime);
	free(path);
	if (ret < 0)
		return -1;
	size_t cap = 0, pos = 0, line_len;
	const char *line;
	const char *data = text.data != NULL ? text.data : "";
	if (next_line(data, text.len, &pos, &line, &line_len) &&
	    dovecot_uidlist_header(line, line_len, uidvalidity_r, next_uid_r) < 0) {
		cli_error("import: %s/dovecot-uidlist: not a uidlist of version 1 or 3 "
			  "(UIDs are not kept)", esc_str(dir));
		pos = text.len;
	}
	while (next_line(data, text.len, &pos, &line, &line_len)) {
		uint32_t uid;
		const char *base;
		size_t base_len;
		if (dovecot_uidlist_entry(line, line_len, &uid, &base, &base_len) < 0)
			continue;
		if (*n_r == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			*list_r = xreallocarray(*list_r, cap, sizeof **list_r);
		}
		(*list_r)[*n_r].base = xstrndup(base, base_len);
		(*list_r)[(*n_r)++].uid = uid;
	}
	buf_free(&text);
	if (*n_r > 0)
		qsort(*list_r, *n_r, sizeof **list_r, cmp_uid_entry);
	return 0;
}

/* dovecot-keywords: the names of keyword letters a-z. */
static void
read_keywords(const char *dir, char *names[26])
{
	char *path = xasprintf("%s/dovecot-keywords", dir);
	struct buf text = BUF_INIT;
	time_t mtime;
	memset(names, 0, 26 * sizeof *names);
	if (access(path, F_OK) == 0 && read_file(path, &text, &mtime) == 0) {
		size_t pos = 0, line_len;
		const char *line;
		while (next_line(text.data, text.len, &pos, &line, &line_len)) {
			unsigned idx;
			const char *kw;
			size_t kw_len;
			if (dovecot_keywords_line(line, line_len, &idx, &kw, &kw_len) == 0) {
				free(names[idx]);
				names[idx] = xstrndup(kw, kw_len);
			}
		}
	}
	buf_free(&text);
	free(path);
}

static void
add_md_files(const char *dir, const char *sub, struct md_file **files, size_t *n,
	     size_t *cap, const struct uid_entry *uids, size_t n_uids)
{
	char *subdir = xasprintf("%s/%s", dir, sub);
	char **names;
	size_t n_names;
	if (list_dir(subdir, &names, &n_names) < 0)
		cli_error("import: cannot read %s: %s", esc_str(subdir), strerror(errno));
	for (size_t i = 0; i < n_names; i++) {
		const char *name = names[i];
		if (name[0] == '.')
			continue;
		size_t len = strlen(name);
		if (*n == *cap) {
			*cap = *cap == 0 ? 1024 : *cap * 2;
			*files = xreallocarray(*files, *cap, sizeof **files);
		}
		struct md_file *f = &(*files)[(*n)++];
		memset(f, 0, sizeof *f);
		f->path = xasprintf("%s/%s", subdir, name);
		f->base = xstrndup(name, maildir_base_len(name, len));
		/* new/ holds mail no client has seen: no flags */
		if (strcmp(sub, "cur") == 0)
			f->flags = maildir_name_flags(name, len, &f->keywords);
		struct uid_entry key = { .base = f->base };
		const struct uid_entry *u =
			n_uids > 0 ? bsearch(&key, uids, n_uids, sizeof *uids, cmp_uid_entry)
				   : NULL;
		if (u != NULL)
			f->uid = u->uid;
	}
	names_free(names, n_names);
	free(subdir);
}

static int
import_maildir_folder(struct import_run *r, const char *dir, const char *name)
{
	uint32_t uidvalidity, next_uid;
	struct uid_entry *uids;
	size_t n_uids;
	char *kw_names[26];
	struct md_file *files = NULL;
	size_t n = 0, cap = 0;
	int64_t mailbox_id;
	int ret = -1;
	struct buf data = BUF_INIT, kw = BUF_INIT, key = BUF_INIT;

	if (read_uidlist(dir, &uidvalidity, &next_uid, &uids, &n_uids) < 0)
		return -1;
	read_keywords(dir, kw_names);
	add_md_files(dir, "new", &files, &n, &cap, uids, n_uids);
	add_md_files(dir, "cur", &files, &n, &cap, uids, n_uids);
	if (n > 0)
		qsort(files, n, sizeof *files, cmp_md_file);
	if (import_folder_open(r, name, uidvalidity, &mailbox_id) < 0)
		goto out;
	r->folder_total = n;
	for (size_t i = 0; i < n; i++) {
		struct md_file *f = &files[i];
		buf_reset(&key);
		buf_printf(&key, "md:%s", f->base);
		r->folder_done = i + 1;
		import_progress(r, false);
		int known = import_known(r, mailbox_id, buf_cstr(&key));
		if (known < 0)
			goto out;
		if (known > 0) {
			r->skipped++;
			continue;
		}
		time_t mtime;
		if (read_file(f->path, &data, &mtime) < 0) {
			if (errno == ENOENT)
				continue;	/* moved by the old server meanwhile */
			r->failed++;
			continue;
		}
		buf_reset(&kw);
		for (unsigned b = 0; b < 26; b++) {
			if ((f->keywords & (1u << b)) == 0 || kw_names[b] == NULL)
				continue;
			if (kw.len > 0)
				buf_putc(&kw, ' ');
			buf_puts(&kw, kw_names[b]);
		}
		struct store_import_msg m = {
			.mailbox_id = mailbox_id,
			.uid = f->uid,
			.flags = f->flags,
			.keywords = kw.len > 0 ? buf_cstr(&kw) : NULL,
			.internal_date = mtime,
			.key = buf_cstr(&key),
		};
		if (import_message(r, data.data != NULL ? data.data : "", data.len, &m) < 0)
			goto out;
	}
	ret = import_folder_done(r, mailbox_id, next_uid);
out:
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].base);
	}
	free(files);
	for (size_t i = 0; i < n_uids; i++)
		free(uids[i].base);
	free(uids);
	for (unsigned b = 0; b < 26; b++)
		free(kw_names[b]);
	buf_free(&data);
	buf_free(&kw);
	buf_free(&key);
	return ret;
}

/* A Maildir++ folder ".A.B" (modified UTF-7, '.' between levels) as the
 * store names it, "A/B"; NULL when it cannot be one. */
static char *
maildirpp_name(const char *entry)
{
	struct buf out = BUF_INIT, part = BUF_INIT;
	const char *p = entry + 1;
	char *ret = NULL;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		buf_reset(&part);
		if (len == 0 || memchr(p, '/', len) != NULL ||
		    imap_mutf7_to_utf8(p, len, &part) < 0)
			goto out;
		if (out.len > 0)
			buf_putc(&out, '/');
		buf_append(&out, part.data, part.len);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	ret = buf_steal(&out);
out:
	buf_free(&out);
	buf_free(&part);
	return ret;
}

/* Dovecot's LAYOUT=fs: folders as nested folders under dir (prefix is the
 * name of dir itself, NULL at the top). */
static int
import_maildir_fs(struct import_run *r, const char *dir, const char *prefix)
{
	char **names;
	size_t n;
	int ret = 0;
	if (list_dir(dir, &names, &n) < 0)
		return 0;
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *e = names[i];
		if (e[0] == '.' || strcmp(e, "cur") == 0 || strcmp(e, "new") == 0 ||
		    strcmp(e, "tmp") == 0)
			continue;
		char *sub = xasprintf("%s/%s", dir, e);
		if (is_dir(sub)) {
			struct buf utf8 = BUF_INIT;
			if (imap_mutf7_to_utf8(e, strlen(e), &utf8) < 0) {
				buf_reset(&utf8);
				buf_puts(&utf8, e);
			}
			char *name = prefix != NULL ? xasprintf("%s/%s", prefix, buf_cstr(&utf8))
						    : xstrdup(buf_cstr(&utf8));
			buf_free(&utf8);
			if (has_cur(sub))
				ret = import_maildir_folder(r, sub, name);
			if (ret == 0)
				ret = import_maildir_fs(r, sub, name);
			free(name);
		}
		free(sub);
	}
	names_free(names, n);
	return ret;
}

static int
import_maildir(struct import_run *r, const char *root, const char *folder)
{
	if (!is_dir(root)) {
		cli_error("import: %s is not a folder", esc_str(root));
		return -1;
	}
	if (folder != NULL) {
		if (!has_cur(root)) {
			cli_error("import: %s is not a Maildir (it has no cur/)", esc_str(root));
			return -1;
		}
		return import_maildir_folder(r, root, folder);
	}
	int ret = 0;
	if (has_cur(root))
		ret = import_maildir_folder(r, root, "INBOX");
	char **names;
	size_t n;
	if (ret == 0 && list_dir(root, &names, &n) == 0) {
		qsort(names, n, sizeof *names, cmp_str);
		for (size_t i = 0; i < n && ret == 0; i++) {
			if (names[i][0] != '.')
				continue;
			char *sub = xasprintf("%s/%s", root, names[i]);
			char *name = has_cur(sub) ? maildirpp_name(names[i]) : NULL;
			if (name != NULL)
				ret = import_maildir_folder(r, sub, name);
			free(name);
			free(sub);
		}
		names_free(names, n);
	}
	if (ret == 0)
		ret = import_maildir_fs(r, root, NULL);
	return ret;
}

/* ---- mbox --------------------------------------------------------------- */

/* One message of an mbox (from its "From " line to the line before the
 * next), stored as the folder shows it: state fields left out, escaped
 * lines unescaped, CRLF line ends. */
static int
import_mbox_message(struct import_run *r, int64_t mailbox_id, const char *p, size_t len,
		    const char *from_line, size_t from_len)
{
	struct buf *out = &r->crlf;
	unsigned flags = 0;
	struct buf kw = BUF_INIT;
	bool in_header = true, skipping = false;
	buf_reset(out);
	size_t pos = 0, line_len;
	const char *line;
	while (next_line(p, len, &pos, &line, &line_len)) {
		size_t l = line_len;
		if (l > 0 && line[l - 1] == '\r')
			l--;
		if (in_header) {
			if (l == 0) {
				in_header = false;
				skipping = false;
			} else if (line[0] == ' ' || line[0] == '\t') {
				if (skipping)
					continue;
			} else {
				const char *colon = memchr(line, ':', l);
				size_t nl = colon != NULL ? (size_t)(colon - line) : 0;
				skipping = colon != NULL && mbox_state_field(line, nl);
				if (skipping) {
					const char *v = colon + 1;
					size_t vl = l - nl - 1;
					if (nl == 6)
						flags |= mbox_status_flags(v, vl, false);
					else if (nl == 8 && mem_eq_nocase(line, "X-Status", 8))
						flags |= mbox_status_flags(v, vl, true);
					else if (nl == 10 && mem_eq_nocase(line, "X-Keywords", 10)) {
						for (size_t i = 0; i < vl; i++) {
							char c = v[i] == ',' ? ' ' : v[i];
							if (c == ' ' && (kw.len == 0 ||
									 kw.data[kw.len - 1] == ' '))
								continue;
							buf_putc(&kw, c);
						}
					}
					continue;
				}
			}
			buf_append(out, line, l);
		} else {
			size_t skip = mbox_unescape_len(line, l);
			buf_append(out, line + skip, l - skip);
		}
		/* the last line of the file may lack its line end */
		if (line + line_len < p + len)
			buf_append(out, "\r\n", 2);
	}
	while (kw.len > 0 && kw.data[kw.len - 1] == ' ')
		buf_truncate(&kw, kw.len - 1);
	char hash[SHA256_HEX_LEN + 1];
	sha256_hex(out->data != NULL ? out->data : "", out->len, hash);
	char key[6 + SHA256_HEX_LEN + 1];
	snprintf(key, sizeof key, "mbox:%s", hash);
	int ret = 0;
	int known = import_known(r, mailbox_id, key);
	if (known < 0) {
		ret = -1;
	} else if (known > 0) {
		r->skipped++;
	} else {
		time_t t;
		if (mbox_from_date(from_line, from_len, &t) < 0)
			t = time(NULL);
		struct store_import_msg m = {
			.mailbox_id = mailbox_id,
			.flags = flags,
			.keywords = kw.len > 0 ? buf_cstr(&kw) : NULL,
			.internal_date = t,
			.key = key,
		};
		bool last_cr = false;
		if (out->len > IMPORT_MESSAGE_MAX) {
			cli_error("import: a message of %u bytes or more is left out",
				  (unsigned)IMPORT_MESSAGE_MAX);
			r->failed++;
		} else if (import_begin(r) < 0 ||
			   import_write(r, out->data != NULL ? out->data : "", out->len,
					&last_cr) < 0 ||
			   import_end(r, &m) < 0) {
			ret = -1;
		}
	}
	buf_free(&kw);
	return ret;
}

/* Where a message that starts at start ends by its Content-Length field,
 * when there is one and it ends the message at the end of the file or
 * before a blank line and a "From " line: *end_r (the body's end) and
 * *next_r (the next message), and true. */
static bool
mbox_content_length_end(const char *p, size_t size, size_t start, size_t *end_r,
			size_t *next_r)
{
	size_t pos = start, line_len, body = 0;
	const char *line;
	uint64_t length = 0;
	bool have = false;
	while (next_line(p, size, &pos, &line, &line_len)) {
		size_t l = line_len > 0 && line[line_len - 1] == '\r' ? line_len - 1 : line_len;
		if (l == 0) {
			body = pos;
			break;
		}
		if (l > 15 && mem_eq_nocase(line, "Content-Length:", 15)) {
			char *e;
			char num[24];
			size_t k = l - 15 < sizeof num - 1 ? l - 15 : sizeof num - 1;
			memcpy(num, line + 15, k);
			num[k] = '\0';
			unsigned long long v = strtoull(num, &e, 10);
			have = e != num && (*e == '\0' || *e == ' ' || *e == '\r');
			length = v;
		}
	}
	if (!have || body == 0 || length > size - body)
		return false;
	size_t end = body + (size_t)length;
	if (end == size || (end + 1 == size && p[end] == '\n')) {
		*end_r = end;
		*next_r = size;
		return true;
	}
	if (p[end] == '\n' && mbox_is_from_line(p + end + 1, size - end - 1)) {
		*end_r = end;
		*next_r = end + 1;
		return true;
	}
	return false;
}

static int
import_mbox_file(struct import_run *r, const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		cli_error("import: cannot read %s: %s", esc_str(path), strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t size = (size_t)sb.st_size;
	const char *p = "";
	void *map = NULL;
	if (size > 0) {
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			cli_error("import: cannot read %s: %s", esc_str(path), strerror(errno));
			close(fd);
			return -1;
		}
		p = map;
		madvise(map, size, MADV_SEQUENTIAL);
	}
	close(fd);
	int64_t mailbox_id;
	int ret = -1;
	/* skip blank lines before the first message */
	size_t pos = 0;
	while (pos < size && (p[pos] == '\n' || p[pos] == '\r'))
		pos++;
	if (pos < size && !mbox_is_from_line(p + pos, size - pos)) {
		cli_error("import: %s is not an mbox file (it does not start with \"From \")",
			  esc_str(path));
		goto out;
	}
	if (import_folder_open(r, name, 0, &mailbox_id) < 0)
		goto out;
	while (pos < size) {
		/* the "From " line */
		const char *from = p + pos;
		const char *eol = memchr(from, '\n', size - pos);
		size_t from_len = eol != NULL ? (size_t)(eol - from) : size - pos;
		size_t start = eol != NULL ? (size_t)(eol - p) + 1 : size;
		/* the message runs to a blank line followed by "From " (RFC 4155
		 * §2: the separator), or to the end; a Content-Length that lands
		 * on such a separator is believed first, as mutt writes "From "
		 * lines of the body unescaped and counts on it */
		size_t end = size, next = size, q = start, prev_start = start;
		bool prev_blank = false;
		bool by_length = mbox_content_length_end(p, size, start, &end, &next);
		if (by_length)
			q = size;
		while (q < size) {
			if (prev_blank && mbox_is_from_line(p + q, size - q)) {
				end = prev_start;	/* the blank line is the separator's */
				next = q;
				break;
			}
			const char *nl = memchr(p + q, '\n', size - q);
			size_t line_end = nl != NULL ? (size_t)(nl - p) : size;
			size_t l = line_end - q;
			if (l > 0 && p[line_end - 1] == '\r')
				l--;
			prev_blank = l == 0;
			prev_start = q;
			q = nl != NULL ? line_end + 1 : size;
		}
		if (end == size && !by_length) {
			/* the last message: its one closing blank line is not its own */
			if (end >= start + 2 && p[end - 1] == '\n' && p[end - 2] == '\n')
				end--;
			else if (end >= start + 4 && memcmp(p + end - 4, "\r\n\r\n", 4) == 0)
				end -= 2;
		}
		size_t mlen = end > start ? end - start : 0;
		/* the message's own last line end stays: "\n" before the blank */
		if (import_mbox_message(r, mailbox_id, p + start, mlen, from, from_len) < 0)
			goto out;
		r->folder_done++;
		import_progress(r, false);
		pos = next;
	}
	ret = import_folder_done(r, mailbox_id, 0);
out:
	if (map != NULL)
		munmap(map, size);
	return ret;
}

/* Whether path looks like an mbox file: empty or starting with "From ". */
static bool
looks_like_mbox(const char *path)
{
	char head[5];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, head, sizeof head);
	close(fd);
	return n == 0 || (n == 5 && memcmp(head, "From ", 5) == 0);
}

/* A folder of mbox files: each file is a folder (its name less ".mbox"),
 * each subfolder (less Thunderbird's ".sbd") a level of the hierarchy. */
static int
import_mbox_dir(struct import_run *r, const char *dir, const char *prefix)
{
	char **names;
	size_t n;
	int ret = 0;
	if (list_dir(dir, &names, &n) < 0) {
		cli_error("import: cannot read %s: %s", esc_str(dir), strerror(errno));
		return -1;
	}
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *e = names[i];
		size_t len = strlen(e);
		if (e[0] == '.' || (len > 4 && strcmp(e + len - 4, ".msf") == 0))
			continue;
		char *path = xasprintf("%s/%s", dir, e);
		char *base = xstrdup(e);
		size_t bl = strlen(base);
		if (bl > 5 && strcmp(base + bl - 5, ".mbox") == 0)
			base[bl - 5] = '\0';
		else if (bl > 4 && strcmp(base + bl - 4, ".sbd") == 0)
			base[bl - 4] = '\0';
		char *name;
		if (prefix == NULL && strcasecmp(base, "inbox") == 0)
			name = xstrdup("INBOX");
		else
			name = prefix != NULL ? xasprintf("%s/%s", prefix, base) : xstrdup(base);
		if (is_dir(path))
			ret = import_mbox_dir(r, path, name);
		else if (looks_like_mbox(path))
			ret = import_mbox_file(r, path, name);
		free(name);
		free(base);
		free(path);
	}
	names_free(names, n);
	return ret;
}

/* ---- IMAP (fetch/import_imap.c) ----------------------------------------- */

enum { I_USERNAME, I_PASSWORD, I_TLS, I_VERIFY, I_FOLDERS, I_QUIET, I_COUNT };

static int
import_imap_cli(struct import_run *r, int argc, char **argv)
{
	struct cli_option opts[I_COUNT] = {
		[I_USERNAME] = { .name = "--username", .takes_value = true },
		[I_PASSWORD] = { .name = "--password-stdin" },
		[I_TLS] = { .name = "--tls", .takes_value = true },
		[I_VERIFY] = { .name = "--tls-verify", .takes_value = true },
		[I_FOLDERS] = { .name = "--folders", .takes_value = true },
		[I_QUIET] = { .name = "--quiet" },
	};
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args("import", argc, argv, 3, opts, I_COUNT, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (opts[I_QUIET].seen)
		((struct cli_import *)r->ctx)->progress = false;
	if (n_pos != 1)
		return cli_usage_error("import: HOST[:PORT] of the IMAP server is missing");
	if (!opts[I_USERNAME].seen || !opts[I_PASSWORD].seen)
		return cli_usage_error("import: --username and --password-stdin are required "
				       "(passwords are never taken from the command line)");
	struct upstream_settings set = { 0 };
	set.protocol = UPSTREAM_IMAP;
	set.tls = UPSTREAM_TLS_IMPLICIT;
	set.keep = true;
	set.enabled = true;
	if (opts[I_TLS].seen && upstream_tls_parse(opts[I_TLS].value, &set.tls) < 0)
		return cli_usage_error("import: --tls must be implicit, starttls or none");
	/* HOST, HOST:PORT or [IPv6]:PORT */
	const char *hp = pos[0];
	const char *colon = strrchr(hp, ':');
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (close == NULL)
			return cli_usage_error("import: malformed address '%s'", esc_str(hp));
		set.host = xstrndup(hp + 1, (size_t)(close - hp - 1));
		colon = close[1] == ':' ? close + 1 : NULL;
	} else if (colon != NULL && strchr(hp, ':') == colon) {
		set.host = xstrndup(hp, (size_t)(colon - hp));
	} else {
		set.host = xstrdup(hp);
		colon = NULL;
	}
	if (colon != NULL) {
		char *end;
		long port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535) {
			upstream_settings_clear(&set);
			return cli_usage_error("import: the port must be 1-65535");
		}
		set.port = (unsigned)port;
	}
	set.username = xstrdup(opts[I_USERNAME].value);
	if (opts[I_VERIFY].seen)
		set.tls_verify = xstrdup(opts[I_VERIFY].value);
	const char *error;
	if (upstream_settings_check(&set, &error) < 0) {
		upstream_settings_clear(&set);
		return cli_usage_error("import: %s", error);
	}
	char *password;
	if (cli_read_password(&password) != CLI_OK) {
		upstream_settings_clear(&set);
		return -1;
	}
	/* the administrator names the server here: a host on the home network
	 * (the old mail server) is what is expected, not refused as the
	 * fetcher refuses one an ordinary user gives */
	const struct client_conn_params params = {
		.timeout_ms = 60000,
		.allow_private = true,
	};
	ret = import_imap_run(r, &set, password, &params,
			      opts[I_FOLDERS].seen ? opts[I_FOLDERS].value : NULL);
	cli_password_free(&password);
	upstream_settings_clear(&set);
	return ret;
}

/* ---- the command -------------------------------------------------------- */

enum { O_FOLDER, O_QUIET, O_COUNT };

int
cmd_import(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 3)
		return cli_usage_error("import: ADDRESS and the kind of source are required");
	const char *address = argv[1], *kind = argv[2];
	bool imap = strcmp(kind, "imap") == 0;
	if (!imap && strcmp(kind, "maildir") != 0 && strcmp(kind, "mbox") != 0)
		return cli_usage_error("import: the source must be maildir, mbox or imap");
	struct cli_option opts[O_COUNT] = {
		[O_FOLDER] = { .name = "--folder", .takes_value = true },
		[O_QUIET] = { .name = "--quiet" },
	};
	const char *pos[16];
	size_t n_pos = 0;
	if (!imap) {
		int ret = cli_parse_args("import", argc, argv, 3, opts, O_COUNT, pos, 16, &n_pos);
		if (ret != CLI_OK)
			return ret;
		if (n_pos == 0)
			return cli_usage_error("import: SOURCE is missing");
		if (opts[O_FOLDER].seen && n_pos > 1)
			return cli_usage_error("import: --folder takes one SOURCE");
	}

	struct import_run r = { 0 };
	struct store_user user;
	const char *error;
	if (cli_store_open(ctx, &r.st) != CLI_OK)
		return CLI_FAIL;
	if (store_user_get(r.st, address, &user, &error) != STORE_OK) {
		cli_error("import: %s", error);
		store_close(&r.st);
		return CLI_FAIL;
	}
	r.user_id = user.id;
	store_user_clear(&user);
	store_import_batch_new(r.st, &r.batch);
	struct cli_import ci = { .progress = isatty(STDERR_FILENO) && !opts[O_QUIET].seen };
	r.ctx = &ci;
	r.on_error = cli_import_error;
	r.on_progress = cli_import_progress;
	if (!imap) {
		/* files on this machine: larger batches (fewer syncfs and
		 * commits), and a page cache that holds the indexes the rows
		 * go into (messages by blob is in random order) */
		r.batch_messages = IMPORT_LOCAL_BATCH_MESSAGES;
		store_import_bulk(r.st);
	}

	int ret = 0;
	if (imap) {
		ret = import_imap_cli(&r, argc, argv);
	} else {
		for (size_t i = 0; i < n_pos && ret == 0; i++) {
			if (strcmp(kind, "maildir") == 0)
				ret = import_maildir(&r, pos[i], opts[O_FOLDER].value);
			else if (is_dir(pos[i]) && !opts[O_FOLDER].seen)
				ret = import_mbox_dir(&r, pos[i], NULL);
			else
				ret = import_mbox_file(&r, pos[i],
						       opts[O_FOLDER].seen ? opts[O_FOLDER].value
									   : "INBOX");
		}
	}
	if (ret == 0)
		ret = import_commit(&r);
	if (ci.progress)
		fputc('\n', stderr);
	store_import_batch_free(&r.batch);
	buf_free(&r.crlf);
	import_run_clear(&r);
	store_close(&r.st);
	printf("import: %u imported, %u already there, %u failed, %u folders\n", r.imported,
	       r.skipped, r.failed, r.folders);
	if (ret == CLI_USAGE)
		return CLI_USAGE;
	return ret == 0 && r.failed == 0 ? CLI_OK : CLI_FAIL;
}

/*
 * blob: immutable message files named by their SHA-256 (see blob.h).
 */
#include "store/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

/* Writes are gathered into this much memory before write(2): SMTP DATA
 * hands over a line at a time. */
#define BLOB_WRITE_BUFFER 65536

struct blob_writer {
	char *blob_dir;
	char *tmp_path;
	int fd;			/* -1 once past max_size */
	struct sha256_ctx *sha;
	uint64_t size;
	uint64_t max_size;
	bool over;
	size_t buffered;
	unsigned char buffer[BLOB_WRITE_BUFFER];
};

char *
blob_path(const struct store *st, const char *hash)
{
	return xasprintf("%s/%.2s/%s", st->blob_dir, hash, hash);
}

static int
fsync_dir(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		*error_r = errfmt("cannot fsync %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
blob_writer_new(struct store *st, uint64_t max_size, struct blob_writer **w_r,
		const char **error_r)
{
	struct blob_writer *w = xmalloc(sizeof *w);
	unsigned char rnd[16];
	char hex[sizeof rnd * 2 + 1];

	w->blob_dir = xstrdup(st->blob_dir);
	w->sha = NULL;
	w->size = 0;
	w->max_size = max_size;
	w->over = false;
	w->buffered = 0;
	/* A random name with O_EXCL: two writers (threads or processes)
	 * never share a temporary file. */
	random_bytes(rnd, sizeof rnd);
	hex_encode(rnd, sizeof rnd, hex);
	w->tmp_path = xasprintf("%s/tmp/%s.tmp", st->blob_dir, hex);
	/* Read-only from the start: a blob is never written again. */
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0440);
	if (w->fd < 0) {
		*error_r = errfmt("cannot create %s: %s", w->tmp_path,
				  strerror(errno));
		free(w->tmp_path);
		free(w->blob_dir);
		free(w);
		*w_r = NULL;
		return STORE_ERROR;
	}
	w->sha = sha256_new();
	*w_r = w;
	return STORE_OK;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t r = write(fd, c, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
flush_buffer(struct blob_writer *w, const char **error_r)
{
	if (w->buffered == 0)
		return STORE_OK;
	if (write_all(w->fd, w->buffer, w->buffered) < 0) {
		*error_r = errfmt("cannot write %s: %s", w->tmp_path,
				  strerror(errno));
		return STORE_ERROR;
	}
	w->buffered = 0;
	return STORE_OK;
}

/* Past max_size: the partial file goes at once, the rest is only counted. */
static void
drop_file(struct blob_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
		if (unlink(w->tmp_path) < 0 && errno != ENOENT)
			log_error("store: cannot remove %s: %s", w->tmp_path,
				  strerror(errno));
	}
}

int
blob_write(struct blob_writer *w, const void *p, size_t n,
	   const char **error_r)
{
	w->size += n;
	if (w->over)
		goto over;
	if (w->max_size != 0 && w->size > w->max_size) {
		w->over = true;
		drop_file(w);
		goto over;
	}
	sha256_update(w->sha, p, n);
	if (w->buffered + n > sizeof w->buffer) {
		if (flush_buffer(w, error_r) < 0)
			return STORE_ERROR;
		if (n >= sizeof w->buffer) {
			if (write_all(w->fd, p, n) < 0) {
				*error_r = errfmt("cannot write %s: %s",
						  w->tmp_path, strerror(errno));
				return STORE_ERROR;
			}
			return STORE_OK;
		}
	}
	memcpy(w->buffer + w->buffered, p, n);
	w->buffered += n;
	return STORE_OK;
over:
	*error_r = errfmt("the message is larger than %llu bytes",
			  (unsigned long long)w->max_size);
	return STORE_INVALID;
}

uint64_t
blob_writer_size(const struct blob_writer *w)
{
	return w->size;
}

static void
writer_free(struct blob_writer **wp)
{
	struct blob_writer *w = *wp;
	drop_file(w);
	if (w->sha != NULL) {
		char dummy[SHA256_HEX_LEN + 1];
		sha256_finish_hex(&w->sha, dummy);
	}
	free(w->tmp_path);
	free(w->blob_dir);
	free(w);
	*wp = NULL;
}

int
blob_move_into_place(const char *blob_dir, const char *tmp_path, const char *hash,
		     bool *dir_made_r, const char **error_r)
{
	char *dir = xasprintf("%s/%.2s", blob_dir, hash);
	char *path = xasprintf("%s/%s", dir, hash);
	int ret = STORE_ERROR;
	*dir_made_r = false;

	/* at most: the folder made, then gc taking an old copy once */
	for (unsigned attempt = 0; attempt < 3; attempt++) {
		if (renameat2(AT_FDCWD, tmp_path, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
			ret = STORE_OK;
			goto out;
		}
		if (errno == EEXIST) {
			/* The same content stored before: keep that file (blobs
			 * are never rewritten) but make it young again, so that
			 * store_blob_gc() cannot take it before our row commits.
			 * If gc took it a moment ago, ours goes in its place. */
			if (utimensat(AT_FDCWD, path, NULL, 0) == 0) {
				if (unlink(tmp_path) < 0)
					log_error("store: cannot remove %s: %s", tmp_path,
						  strerror(errno));
				ret = STORE_OK;
				goto out;
			}
			if (errno == ENOENT)
				continue;
			*error_r = errfmt("cannot touch %s: %s", path, strerror(errno));
			goto out;
		}
		if (errno == ENOENT && !*dir_made_r) {
			/* the first blob of this prefix */
			if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
				*error_r = errfmt("cannot create %s: %s", dir, strerror(errno));
				goto out;
			}
			*dir_made_r = true;
			continue;
		}
		break;
	}
	*error_r = errfmt("cannot rename %s to %s: %s", tmp_path, path, strerror(errno));
out:
	free(dir);
	free(path);
	return ret;
}

/* Moves the finished temporary file to its name; the file is fsynced. */
static int
place(struct blob_writer *w, const char *hash, const char **error_r)
{
	bool dir_made;
	if (blob_move_into_place(w->blob_dir, w->tmp_path, hash, &dir_made,
				 error_r) != STORE_OK)
		return STORE_ERROR;
	/* the names durable: the new folder's in blobs/, the file's in it */
	if (dir_made && fsync_dir(w->blob_dir, error_r) < 0)
		return STORE_ERROR;
	char *dir = xasprintf("%s/%.2s", w->blob_dir, hash);
	int ret = fsync_dir(dir, error_r) < 0 ? STORE_ERROR : STORE_OK;
	free(dir);
	return ret;
}

int
blob_writer_commit(struct blob_writer **wp, char hash_r[SHA256_HEX_LEN + 1],
		   uint64_t *size_r, const char **error_r)
{
	struct blob_writer *w = *wp;
	int ret = STORE_ERROR;

	if (w->over) {
		*error_r = errfmt("the message is larger than %llu bytes",
				  (unsigned long long)w->max_size);
		writer_free(wp);
		return STORE_INVALID;
	}
	if (flush_buffer(w, error_r) < 0)
		goto out;
	/* The content is on disk before its name is (DESIGN.md: durability). */
	if (fsync(w->fd) < 0) {
		*error_r = errfmt("cannot fsync %s: %s", w->tmp_path,
				  strerror(errno));
		goto out;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		*error_r = errfmt("cannot close %s: %s", w->tmp_path,
				  strerror(errno));
		unlink(w->tmp_path);
		goto out;
	}
	w->fd = -1;
	sha256_finish_hex(&w->sha, hash_r);
	if (place(w, hash_r, error_r) < 0) {
		unlink(w->tmp_path);
		goto out;
	}
	if (size_r != NULL)
		*size_r = w->size;
	ret = STORE_OK;
out:
	writer_free(wp);
	return ret;
}

void
blob_writer_abort(struct blob_writer **wp)
{
	if (*wp != NULL)
		writer_free(wp);
}

int
blob_put(struct store *st, const void *p, size_t n,
	 char hash_r[SHA256_HEX_LEN + 1], const char **error_r)
{
	struct blob_writer *w;

	if (blob_writer_new(st, 0, &w, error_r) < 0)
		return STORE_ERROR;
	if (blob_write(w, p, n, error_r) < 0) {
		blob_writer_abort(&w);
		return STORE_ERROR;
	}
	return blob_writer_commit(&w, hash_r, NULL, error_r);
}

int
blob_open(struct store *st, const char *hash, int *fd_r, uint64_t *size_r,
	  const char **error_r)
{
	struct stat sb;

	if (!is_lower_hex(hash, SHA256_HEX_LEN)) {
		*error_r = errfmt("invalid blob name '%s'", esc_str(hash));
		return STORE_INVALID;
	}
	char *path = blob_path(st, hash);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*error_r = errfmt("cannot open %s: %s", path, strerror(e));
		free(path);
		return e == ENOENT ? STORE_NOTFOUND : STORE_ERROR;
	}
	if (fstat(fd, &sb) < 0) {
		*error_r = errfmt("cannot stat %s: %s", path, strerror(errno));
		close(fd);
		free(path);
		return STORE_ERROR;
	}
	free(path);
	*fd_r = fd;
	if (size_r != NULL)
		*size_r = (uint64_t)sb.st_size;
	return STORE_OK;
}

int
blob_read(struct store *st, const char *hash, struct buf *out,
	  const char **error_r)
{
	int fd;
	uint64_t size;
	int ret = blob_open(st, hash, &fd, &size, error_r);
	if (ret < 0)
		return ret;
	if (out->max != 0 && size > out->max - out->len) {
		*error_r = errfmt("blob %s (%llu bytes) does not fit", hash,
				  (unsigned long long)size);
		close(fd);
		return STORE_INVALID;
	}
	size_t start = out->len;
	uint64_t left = size;
	while (left > 0) {
		size_t chunk = left > 1048576 ? 1048576 : (size_t)left;
		char *p = buf_reserve(out, chunk);
		if (p == NULL) {
			*error_r = errfmt("blob %s does not fit", hash);
			buf_truncate(out, start);
			close(fd);
			return STORE_INVALID;
		}
		ssize_t r = read(fd, p, chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*error_r = errfmt("cannot read blob %s: %s", hash,
					  r < 0 ? strerror(errno) : "file shorter than expected");
			buf_truncate(out, start);
			close(fd);
			return STORE_ERROR;
		}
		buf_commit(out, (size_t)r);
		left -= (uint64_t)r;
	}
	close(fd);
	return STORE_OK;
}

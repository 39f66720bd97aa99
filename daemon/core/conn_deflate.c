/*
 * conn_deflate: raw DEFLATE in both directions of a connection (see
 * conn_deflate.h).  Input is inflated a chunk at a time, so a small
 * compressed burst cannot make the connection hold more than one chunk
 * of plain bytes beyond what its reader asked for.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/conn_deflate.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"

struct conn_deflate {
	z_stream in, out;
	/* compressed input: in_buf[in_pos..in_len) */
	char *in_buf;
	size_t in_pos, in_len, in_cap;
	/* compressed output: obuf.data[opos..obuf.len) */
	struct buf obuf;
	size_t opos;
};

struct conn_deflate *
conn_deflate_new(void)
{
	struct conn_deflate *z = xcalloc(1, sizeof *z);
	/* RFC 4978 §4: raw deflate, no zlib header (negative window bits) */
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		return NULL;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return NULL;
	}
	z->in_cap = CONN_READ_CHUNK;
	z->in_buf = xmalloc(z->in_cap);
	buf_init(&z->obuf, 0);
	return z;
}

void
conn_deflate_free(struct conn_deflate **zp)
{
	struct conn_deflate *z = *zp;
	if (z == NULL)
		return;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z->in_buf);
	buf_free(&z->obuf);
	free(z);
	*zp = NULL;
}

/* Moves waiting input to the front and makes room for n more bytes. */
static void
in_room(struct conn_deflate *z, size_t n)
{
	if (z->in_pos > 0) {
		memmove(z->in_buf, z->in_buf + z->in_pos, z->in_len - z->in_pos);
		z->in_len -= z->in_pos;
		z->in_pos = 0;
	}
	if (z->in_cap - z->in_len < n) {
		z->in_cap = z->in_len + n;
		z->in_buf = xrealloc(z->in_buf, z->in_cap);
	}
}

void
conn_deflate_feed(struct conn_deflate *z, const void *p, size_t n)
{
	in_room(z, n);
	memcpy(z->in_buf + z->in_len, p, n);
	z->in_len += n;
}

bool
conn_deflate_has_input(const struct conn_deflate *z)
{
	return z->in_pos < z->in_len;
}

void *
conn_deflate_in_space(struct conn_deflate *z, size_t *n_r)
{
	in_room(z, CONN_READ_CHUNK);
	*n_r = z->in_cap - z->in_len;
	return z->in_buf + z->in_len;
}

void
conn_deflate_commit(struct conn_deflate *z, size_t n)
{
	z->in_len += n;
}

ssize_t
conn_deflate_inflate(struct conn_deflate *z, char *dst, size_t max)
{
	z->in.next_in = (Bytef *)(z->in_buf + z->in_pos);
	z->in.avail_in = (uInt)(z->in_len - z->in_pos);
	z->in.next_out = (Bytef *)dst;
	z->in.avail_out = (uInt)max;
	int r = inflate(&z->in, Z_SYNC_FLUSH);
	z->in_pos = z->in_len - z->in.avail_in;
	if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
		return -1;
	return (ssize_t)(max - z->in.avail_out);
}

void
conn_deflate_deflate(struct conn_deflate *z, const void *p, size_t n)
{
	z->out.next_in = (Bytef *)(uintptr_t)p;
	z->out.avail_in = (uInt)n;
	do {
		char *dst = buf_reserve(&z->obuf, CONN_READ_CHUNK);
		if (dst == NULL)
			panic("conn: deflate output refused to grow");
		z->out.next_out = (Bytef *)dst;
		z->out.avail_out = CONN_READ_CHUNK;
		/* Z_SYNC_FLUSH: what was written reaches the peer now */
		int r = deflate(&z->out, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR)
			panic("conn: deflate failed (%d)", r);
		buf_commit(&z->obuf, CONN_READ_CHUNK - z->out.avail_out);
	} while (z->out.avail_out == 0);
}

const char *
conn_deflate_out(const struct conn_deflate *z, size_t *n_r)
{
	*n_r = z->obuf.len - z->opos;
	return z->obuf.data != NULL ? z->obuf.data + z->opos : "";
}

void
conn_deflate_sent(struct conn_deflate *z, size_t n)
{
	z->opos += n;
	if (z->opos >= z->obuf.len) {
		if (z->obuf.cap > 4 * CONN_READ_CHUNK)
			buf_free(&z->obuf);
		else
			buf_reset(&z->obuf);
		z->opos = 0;
	}
}

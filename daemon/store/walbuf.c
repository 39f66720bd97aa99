/*
 * walbuf: SQLite's default VFS with the writes to a write-ahead log
 * gathered.  SQLite writes each frame of a transaction as two pwrite()
 * calls (its 24-byte header, then the page), so a commit of ten pages is
 * twenty system calls; here the frames of a transaction go to memory and
 * reach the file in one pwrite() when the commit frame's page is written
 * (its header carries the database size; any other frame's header has
 * zero there), before that xWrite() returns.  The commit therefore fails
 * as it did when the file cannot take it (a full disk), and its frames
 * are in the file before SQLite publishes them in the WAL index.  Anything
 * else done to the log (read, sync, truncate, size, close, a write that
 * does not follow on) first writes what is gathered; so do the main
 * database's xShmBarrier() and xShmLock(), the points at which SQLite
 * tells other connections of new frames.  A process killed with frames
 * gathered loses only frames of a transaction that had not committed.
 */
#include "store/store_int.h"

#include <string.h>

#include "core/xmalloc.h"

/* A transaction bigger than this goes to the file in several writes.
 * Under 128 KiB: the unix VFS writes at most 0x1ffff bytes at a time and
 * takes a write of a multiple of 128 KiB for a full disk. */
#define WALBUF_MAX (96u << 10)

struct wb_file {
	sqlite3_file base;
	sqlite3_file *real;
	struct wb_file *wal;	/* main database: its log while open */
	struct wb_file *db;	/* log: its main database */
	bool is_wal;
	/* log: bytes gathered for offset off */
	char *buf;
	size_t len;
	sqlite3_int64 off;
	/* the last write was a commit frame's header ending here */
	sqlite3_int64 commit_page_at;
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs wb_vfs;
static sqlite3_io_methods wb_methods;

#define REAL(f) (((struct wb_file *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int
wb_flush(struct wb_file *p)
{
	if (p == NULL || p->len == 0)
		return SQLITE_OK;
	size_t n = p->len;
	p->len = 0;
	return p->real->pMethods->xWrite(p->real, p->buf, (int)n, p->off);
}

static int
wb_close(sqlite3_file *f)
{
	struct wb_file *p = (struct wb_file *)f;
	int rc = wb_flush(p);
	if (p->is_wal && p->db != NULL)
		p->db->wal = NULL;
	if (!p->is_wal && p->wal != NULL)
		p->wal->db = NULL;
	free(p->buf);
	p->buf = NULL;
	int rc2 = RM(f)->xClose(REAL(f));
	return rc != SQLITE_OK ? rc : rc2;
}

static int
wb_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct wb_file *p = (struct wb_file *)f;
	int rc = wb_flush(p);
	if (rc != SQLITE_OK)
		return rc;
	return RM(f)->xRead(REAL(f), buf, amt, off);
}

static int
wb_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct wb_file *p = (struct wb_file *)f;
	if (!p->is_wal)
		return RM(f)->xWrite(REAL(f), buf, amt, off);
	/* the page of a commit frame: everything to the file now */
	bool commit_page = p->commit_page_at != 0 && off == p->commit_page_at;
	p->commit_page_at = 0;
	if (amt == 24 && off >= 32) {
		/* a frame header: bytes 4-7 are the database size after a
		 * commit, zero in every other frame */
		const unsigned char *h = buf;
		if ((h[4] | h[5] | h[6] | h[7]) != 0)
			p->commit_page_at = off + 24;
	}
	int rc;
	if (p->len > 0 && (off != p->off + (sqlite3_int64)p->len ||
			   p->len + (size_t)amt > WALBUF_MAX)) {
		/* not where the gathered bytes end, or too much */
		if ((rc = wb_flush(p)) != SQLITE_OK)
			return rc;
	}
	if ((size_t)amt > WALBUF_MAX) {
		if ((rc = wb_flush(p)) != SQLITE_OK)
			return rc;
		return RM(f)->xWrite(REAL(f), buf, amt, off);
	}
	if (p->buf == NULL)
		p->buf = xmalloc(WALBUF_MAX);
	if (p->len == 0)
		p->off = off;
	memcpy(p->buf + p->len, buf, (size_t)amt);
	p->len += (size_t)amt;
	if (!commit_page)
		return SQLITE_OK;
	rc = wb_flush(p);
	/* a connection that waits holds no buffer */
	free(p->buf);
	p->buf = NULL;
	return rc;
}

static int
wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = wb_flush((struct wb_file *)f);
	return rc != SQLITE_OK ? rc : RM(f)->xTruncate(REAL(f), size);
}

static int
wb_sync(sqlite3_file *f, int flags)
{
	int rc = wb_flush((struct wb_file *)f);
	return rc != SQLITE_OK ? rc : RM(f)->xSync(REAL(f), flags);
}

static int
wb_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = wb_flush((struct wb_file *)f);
	return rc != SQLITE_OK ? rc : RM(f)->xFileSize(REAL(f), size);
}

static int
wb_lock(sqlite3_file *f, int level)
{
	return RM(f)->xLock(REAL(f), level);
}

static int
wb_unlock(sqlite3_file *f, int level)
{
	return RM(f)->xUnlock(REAL(f), level);
}

static int
wb_check_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int
wb_file_control(sqlite3_file *f, int op, void *arg)
{
	struct wb_file *p = (struct wb_file *)f;
	int rc = wb_flush(p->is_wal ? p : p->wal);
	return rc != SQLITE_OK ? rc : RM(f)->xFileControl(REAL(f), op, arg);
}

static int
wb_sector_size(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}

static int
wb_device_characteristics(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int
wb_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
wb_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	/* nothing gathered is left behind a change of locks (the commit
	 * frame wrote it already: this is a second guard) */
	int rc = wb_flush(((struct wb_file *)f)->wal);
	return rc != SQLITE_OK ? rc : RM(f)->xShmLock(REAL(f), offset, n, flags);
}

static void
wb_shm_barrier(sqlite3_file *f)
{
	/* SQLite publishes frames after this: they must be in the file (the
	 * commit frame's write put them there; a failure here would have
	 * failed that write first) */
	(void)wb_flush(((struct wb_file *)f)->wal);
	RM(f)->xShmBarrier(REAL(f));
}

static int
wb_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return RM(f)->xShmUnmap(REAL(f), delete_flag);
}

static int
wb_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return RM(f)->xFetch(REAL(f), off, amt, pp);
}

static int
wb_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

static int
wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	(void)vfs;
	struct wb_file *p = (struct wb_file *)f;
	memset(p, 0, sizeof *p);
	p->real = (sqlite3_file *)(p + 1);
	int rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out_flags);
	if (p->real->pMethods == NULL) {
		p->base.pMethods = NULL;
		return rc;
	}
	if (p->real->pMethods->iVersion < 3) {
		/* not the unix VFS this was written for: unwrapped */
		p->real->pMethods->xClose(p->real);
		p->base.pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	p->base.pMethods = &wb_methods;
	if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) != 0 && name != NULL) {
		sqlite3_file *db = sqlite3_database_file_object(name);
		if (db != NULL && db->pMethods == &wb_methods) {
			p->is_wal = true;
			p->db = (struct wb_file *)db;
			p->db->wal = p;
		}
	}
	return rc;
}

int
store_walbuf_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL)
		return SQLITE_ERROR;
	wb_vfs = *real_vfs;
	wb_vfs.zName = "mailhub-walbuf";
	wb_vfs.pNext = NULL;
	/* the real file right after ours, 8-byte aligned */
	size_t head = (sizeof(struct wb_file) + 7) & ~(size_t)7;
	wb_vfs.szOsFile = (int)head + real_vfs->szOsFile;
	wb_vfs.xOpen = wb_open;
	wb_methods = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = wb_close,
		.xRead = wb_read,
		.xWrite = wb_write,
		.xTruncate = wb_truncate,
		.xSync = wb_sync,
		.xFileSize = wb_file_size,
		.xLock = wb_lock,
		.xUnlock = wb_unlock,
		.xCheckReservedLock = wb_check_reserved,
		.xFileControl = wb_file_control,
		.xSectorSize = wb_sector_size,
		.xDeviceCharacteristics = wb_device_characteristics,
		.xShmMap = wb_shm_map,
		.xShmLock = wb_shm_lock,
		.xShmBarrier = wb_shm_barrier,
		.xShmUnmap = wb_shm_unmap,
		.xFetch = wb_fetch,
		.xUnfetch = wb_unfetch,
	};
	return sqlite3_vfs_register(&wb_vfs, 1);
}

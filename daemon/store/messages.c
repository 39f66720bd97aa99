/*
 * messages: the rows that put a blob into a mailbox under a UID, with the
 * IMAP ENVELOPE and BODYSTRUCTURE of the blob.
 *
 * Those two are computed once per blob, when it is delivered or appended,
 * before the write transaction (the parse must not hold SQLite's write
 * lock, nor the SMTP server's delivery lock), and go into the INSERT of
 * every row of the blob: a message delivered to five users is parsed once,
 * and FETCH reads them from the row.  The handle keeps the last blob's
 * (store_imap_cache_prepare()); a caller hands them to store_append_tx()
 * through st->append_cache, which also lets store_upstream_deliver_tx()
 * (upstreams.c) and COPY pass them through without knowing of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "mail/mime.h"
#include "store/blob.h"
#include "store/queue.h"
#include "store/spam.h"
#include "store/store_int.h"

#define STORE_FLAGS_ALL (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | \
	STORE_FLAG_FLAGGED | STORE_FLAG_DELETED | STORE_FLAG_DRAFT)

static const char SQL_QUOTA[] =
	"SELECT u.quota, u.used, u.address, u.quota_messages,"
	" (SELECT coalesce(sum(messages), 0) FROM mailboxes WHERE user_id = u.id)"
	" FROM mailboxes m JOIN users u ON u.id = m.user_id WHERE m.id = ?1";
/* One statement takes the UID and the MODSEQ: no other writer can come
 * between (BEGIN IMMEDIATE holds the write lock anyway). */
static const char SQL_NEXT_UID[] =
	"UPDATE mailboxes SET uidnext = uidnext + 1,"
	" highestmodseq = highestmodseq + 1 WHERE id = ?1"
	" RETURNING uidnext - 1, highestmodseq";
/* An import keeps the UID the message had (store_append_uid_tx()) when it
 * is not below UIDNEXT: then UIDNEXT moves past it. */
static const char SQL_WANT_UID[] =
	"UPDATE mailboxes SET uidnext = ?2 + 1,"
	" highestmodseq = highestmodseq + 1 WHERE id = ?1 AND uidnext <= ?2"
	" RETURNING ?2, highestmodseq";
static const char SQL_INSERT[] =
	"INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords,"
	" internal_date, size, blob, envelope, bodystructure, save_date)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, unixepoch())";
static const char SQL_LIST[] =
	"SELECT id, uid, modseq, blob, size, internal_date, flags, keywords"
	" FROM messages WHERE mailbox_id = ?1 AND uid >= ?2 ORDER BY uid";
static const char SQL_EXPUNGE[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2";
static const char SQL_BUMP_MODSEQ[] =
	"UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1";
/* a message, or one expunged that a session may still read (sql/012) */
static const char SQL_REFERENCED[] =
	"SELECT 1 FROM messages WHERE blob = ?1"
	" UNION ALL SELECT 1 FROM expunged WHERE blob = ?1 LIMIT 1";

void
store_imap_cache_clear(struct store_imap_cache *c)
{
	free(c->envelope);
	free(c->bodystructure);
	memset(c, 0, sizeof *c);
}

/* Files up to this size are read into memory for their IMAP cache, larger
 * ones mapped: a read(2) is cheaper than setting up a mapping for a small
 * message, and a large one is not copied. */
#define IMAP_CACHE_READ_MAX (1024 * 1024)

/* The whole file into a buffer of its size: 0, or -1 with errno. */
static int
read_all(int fd, char *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = read(fd, p + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;	/* shorter than fstat said */
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

void
store_imap_cache_from(const char *data, size_t len, const char *blob,
		      struct store_imap_cache *c)
{
	store_imap_cache_clear(c);
	mime_imap_cache(data, len, &c->envelope, &c->bodystructure);
	memcpy(c->blob, blob, SHA256_HEX_LEN);
	c->blob[SHA256_HEX_LEN] = '\0';
}

void
store_imap_cache_compute(const char *path, const char *blob,
			 struct store_imap_cache *c)
{
	struct stat sb;
	char *data = NULL;
	void *map = NULL;

	store_imap_cache_clear(c);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0)
		goto fail;
	size_t len = (size_t)sb.st_size;
	if (len <= IMAP_CACHE_READ_MAX) {
		data = xmalloc(len + 1);
		if (read_all(fd, data, len) < 0)
			goto fail;
	} else {
		/* read-only and private, as the parser never writes and a
		 * blob is never changed in place; populated at once, since
		 * the parser reads every byte */
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			goto fail;
		}
	}
	close(fd);
	store_imap_cache_from(map != NULL ? map : data, len, blob, c);
	if (map != NULL)
		munmap(map, len);
	free(data);
	return;
fail:
	log_error("store: cannot read %s for its IMAP cache: %s", path,
		  strerror(errno));
	if (fd >= 0)
		close(fd);
	free(data);
}

void
store_imap_cache_prepare(struct store *st, const char *blob)
{
	if (!is_lower_hex(blob, SHA256_HEX_LEN) || blob[SHA256_HEX_LEN] != '\0' ||
	    strcmp(st->imap_cache.blob, blob) == 0)
		return;
	char *path = blob_path(st, blob);
	store_imap_cache_compute(path, blob, &st->imap_cache);
	free(path);
}

int
store_append_tx(struct store *st, int64_t mailbox_id, const char *blob,
		uint64_t size, int64_t internal_date, unsigned flags,
		const char *keywords, bool ignore_quota, uint32_t *uid_r,
		const char **error_r)
{
	return store_append_uid_tx(st, mailbox_id, 0, blob, size, internal_date,
				   flags, keywords, ignore_quota, uid_r, error_r);
}

int
store_append_uid_tx(struct store *st, int64_t mailbox_id, uint32_t want_uid,
		    const char *blob, uint64_t size, int64_t internal_date,
		    unsigned flags, const char *keywords, bool ignore_quota,
		    uint32_t *uid_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_QUOTA);
	stmt_int(s, 1, mailbox_id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		stmt_done(s);
		if (rc == SQLITE_DONE) {
			*error_r = errfmt("mailbox #%lld does not exist",
					  (long long)mailbox_id);
			return STORE_NOTFOUND;
		}
		*error_r = store_db_error(st, "cannot read the quota");
		return STORE_ERROR;
	}
	uint64_t quota = (uint64_t)sqlite3_column_int64(s, 0);
	uint64_t used = (uint64_t)sqlite3_column_int64(s, 1);
	if (!ignore_quota && quota != 0 && (size > quota || used > quota - size)) {
		*error_r = errfmt("user '%s' is over quota (%llu of %llu bytes used, "
				  "message %llu bytes)",
				  (const char *)sqlite3_column_text(s, 2),
				  (unsigned long long)used,
				  (unsigned long long)quota,
				  (unsigned long long)size);
		stmt_done(s);
		return STORE_OVERQUOTA;
	}
	uint64_t max_msgs = (uint64_t)sqlite3_column_int64(s, 3);
	uint64_t msgs = (uint64_t)sqlite3_column_int64(s, 4);
	if (!ignore_quota && max_msgs != 0 && msgs >= max_msgs) {
		*error_r = errfmt("user '%s' is over quota (%llu of %llu messages)",
				  (const char *)sqlite3_column_text(s, 2),
				  (unsigned long long)msgs,
				  (unsigned long long)max_msgs);
		stmt_done(s);
		return STORE_OVERQUOTA;
	}
	stmt_done(s);

	rc = SQLITE_DONE;
	if (want_uid > 0 && want_uid < UINT32_MAX) {
		s = store_stmt(st, SQL_WANT_UID);
		stmt_int(s, 1, mailbox_id);
		stmt_int(s, 2, want_uid);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			*error_r = store_db_error(st, "cannot take the UID");
			stmt_done(s);
			return store_rc_status(rc);
		}
		if (rc == SQLITE_DONE)
			stmt_done(s);	/* taken or below UIDNEXT: the next one */
	}
	if (rc == SQLITE_DONE) {
		s = store_stmt(st, SQL_NEXT_UID);
		stmt_int(s, 1, mailbox_id);
		rc = sqlite3_step(s);
	}
	if (rc != SQLITE_ROW) {
		*error_r = store_db_error(st, "cannot take the next UID");
		stmt_done(s);
		return store_rc_status(rc);
	}
	int64_t uid = sqlite3_column_int64(s, 0);
	int64_t modseq = sqlite3_column_int64(s, 1);
	stmt_done(s);
	store_tx_modseq(st, mailbox_id, (uint64_t)modseq);
	/* RFC 3501 §2.3.1.1: UIDs are non-zero 32-bit numbers. */
	if (uid <= 0 || uid >= (int64_t)UINT32_MAX) {
		*error_r = errfmt("mailbox #%lld has run out of UIDs",
				  (long long)mailbox_id);
		return STORE_ERROR;
	}

	s = store_stmt(st, SQL_INSERT);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, uid);
	stmt_int(s, 3, modseq);
	stmt_int(s, 4, flags);
	stmt_text(s, 5, keywords != NULL && *keywords != '\0' ? keywords : NULL);
	stmt_int(s, 6, internal_date);
	stmt_int(s, 7, (int64_t)size);
	stmt_text(s, 8, blob);
	/* no cache (a blob stored by another path, or unreadable): NULLs,
	 * which FETCH fills in */
	const struct store_imap_cache *c = st->append_cache;
	if (c != NULL && strcmp(c->blob, blob) != 0)
		c = NULL;
	stmt_text(s, 9, c != NULL ? c->envelope : NULL);
	stmt_text(s, 10, c != NULL ? c->bodystructure : NULL);
	int ret = stmt_exec(st, s, "cannot add the message", error_r);
	if (ret != STORE_OK)
		return ret;
	/* the search index is not written here: the row's triggers mark
	 * the message pending (sql/016, sql/025), SEARCH reads a pending
	 * message's file, and the background indexer, woken once this
	 * commits, indexes it in a batch of its own (searchdb.h) */
	st->index_wake = true;
	store_tx_touch(st, mailbox_id);
	if (uid_r != NULL)
		*uid_r = (uint32_t)uid;
	return STORE_OK;
}

int
store_append(struct store *st, int64_t mailbox_id, const char *blob,
	     uint64_t size, int64_t internal_date, unsigned flags,
	     const char *keywords, bool ignore_quota, uint32_t *uid_r,
	     const char **error_r)
{
	int ret;

	if (!is_lower_hex(blob, SHA256_HEX_LEN)) {
		*error_r = errfmt("invalid blob name '%s'", esc_str(blob));
		return STORE_INVALID;
	}
	if ((flags & ~(unsigned)STORE_FLAGS_ALL) != 0 || size > INT64_MAX) {
		*error_r = "invalid flags or size";
		return STORE_INVALID;
	}
	if (keywords != NULL && strlen(keywords) > MESSAGE_KEYWORDS_MAX) {
		*error_r = "too many keywords";
		return STORE_INVALID;
	}
	store_imap_cache_prepare(st, blob);
	/* light: COMMIT writes the WAL and frees SQLite's write lock without
	 * a flush, and store_commit() syncs the WAL outside the lock, in a
	 * flush shared with the commits of the moment, before it returns: the
	 * message is durable before its OK all the same (as a delivery's),
	 * and no other session's flag change waits behind this flush */
	if ((ret = store_begin_light(st, error_r)) < 0)
		return ret;
	st->append_cache = &st->imap_cache;
	ret = store_append_tx(st, mailbox_id, blob, size, internal_date, flags,
			      keywords, ignore_quota, uid_r, error_r);
	st->append_cache = NULL;
	if (ret == STORE_OK)
		ret = store_commit(st, error_r);
	else
		store_rollback(st);
	return ret;
}

int
store_message_list(struct store *st, int64_t mailbox_id, uint32_t uid_min,
		   struct store_message **list_r, size_t *n_r,
		   const char **error_r)
{
	struct store_message *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	stmt_int(s, 1, mailbox_id);
	stmt_int(s, 2, uid_min);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		struct store_message *m = &list[n++];
		m->id = sqlite3_column_int64(s, 0);
		m->mailbox_id = mailbox_id;
		m->uid = (uint32_t)sqlite3_column_int64(s, 1);
		m->modseq = (uint64_t)sqlite3_column_int64(s, 2);
		const unsigned char *blob = sqlite3_column_text(s, 3);
		size_t blob_len = (size_t)sqlite3_column_bytes(s, 3);
		if (blob == NULL || blob_len != SHA256_HEX_LEN)
			blob_len = 0;
		memcpy(m->blob, blob_len > 0 ? (const char *)blob : "", blob_len);
		m->blob[blob_len] = '\0';
		m->size = (uint64_t)sqlite3_column_int64(s, 4);
		m->internal_date = sqlite3_column_int64(s, 5);
		m->flags = (unsigned)sqlite3_column_int(s, 6);
		m->keywords = stmt_col_strdup(s, 7);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot list messages");
		store_message_list_free(&list, n);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

void
store_message_list_free(struct store_message **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*list)[i].keywords);
	xfree(*list);
}

int
store_expunge(struct store *st, int64_t mailbox_id, const uint32_t *uids,
	      size_t n, size_t *removed_r, const char **error_r)
{
	size_t removed = 0;
	int ret;

	if (removed_r != NULL)
		*removed_r = 0;
	if (n == 0)
		return STORE_OK;
	/* a removal carries no message: a lazy commit (store_begin_lazy()) */
	if ((ret = store_begin_lazy(st, error_r)) < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_EXPUNGE);
	stmt_int(s, 1, mailbox_id);
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		/* Bindings survive a reset: only the UID changes. */
		stmt_int(s, 2, uids[i]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			*error_r = store_db_error(st, "cannot expunge");
			ret = STORE_ERROR;
		} else {
			removed += (size_t)sqlite3_changes(st->db);
		}
		sqlite3_reset(s);
	}
	if (ret == STORE_OK && removed > 0) {
		/* RFC 7162 §3.2.10: an expunge changes the mailbox's
		 * HIGHESTMODSEQ. */
		s = store_stmt(st, SQL_BUMP_MODSEQ);
		stmt_int(s, 1, mailbox_id);
		ret = stmt_exec(st, s, "cannot update HIGHESTMODSEQ", error_r);
		store_tx_touch(st, mailbox_id);
		store_tx_modseq(st, mailbox_id, 0);	/* raised, value not read */
	}
	if (ret == STORE_OK)
		ret = store_commit(st, error_r);
	else
		store_rollback(st);
	if (ret == STORE_OK && removed_r != NULL)
		*removed_r = removed;
	return ret;
}

int
store_blob_referenced(struct store *st, const char *hash)
{
	sqlite3_stmt *s = store_stmt(st, SQL_REFERENCED);
	stmt_text(s, 1, hash);
	int rc = sqlite3_step(s);
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE) {
		log_error("store: cannot look up blob %s: %s", hash,
			  sqlite3_errmsg(st->db));
		return -1;
	}
	/* A message waiting in the outbound queue holds its blob too, and
	 * one waiting to be learned by rspamd. */
	int ref = store_queue_blob_referenced(st, hash);
	return ref != 0 ? ref : store_learn_blob_referenced(st, hash);
}

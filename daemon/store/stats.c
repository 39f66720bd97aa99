/*
 * stats: counts and disk use for the dashboard.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/stats.h"
#include "store/store_int.h"

/* Recipients still to be tried, their messages and the oldest of them;
 * then the messages of every mailbox and their sizes. */
static const char SQL_METRICS[] =
	"SELECT (SELECT count(*) FROM queue_recipients WHERE state IN ('pending', 'deferred')),"
	" (SELECT count(DISTINCT message_id) FROM queue_recipients"
	"  WHERE state IN ('pending', 'deferred')),"
	" (SELECT coalesce(min(m.created), 0) FROM queue_messages m WHERE EXISTS"
	"  (SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id"
	"   AND r.state IN ('pending', 'deferred'))),"
	" (SELECT count(*) FROM messages), (SELECT coalesce(sum(size), 0) FROM messages)";
static const char SQL_COUNTS[] =
	"SELECT (SELECT count(*) FROM domains), (SELECT count(*) FROM users),"
	" (SELECT count(*) FROM aliases)";

/* Bytes a file takes on disk: its allocated blocks (a sparse or compressed
 * file counts what it really uses), never less than nothing. */
static uint64_t
disk_bytes(const struct stat *stt)
{
	return (uint64_t)stt->st_blocks * 512u;
}

/* Adds the regular files of dirfd's subdirectory name (and, at depth 0, of
 * its subdirectories) to stats. */
static void
walk(int dirfd, const char *name, int depth, struct store_stats *stats)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat stt;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(fd, de->d_name, &stt, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(stt.st_mode)) {
			stats->blob_files++;
			stats->blob_bytes += disk_bytes(&stt);
		} else if (S_ISDIR(stt.st_mode) && depth == 0) {
			walk(fd, de->d_name, depth + 1, stats);
		}
	}
	closedir(d);
}

static uint64_t
file_bytes(const char *dir, const char *name)
{
	struct stat stt;
	char *path = xasprintf("%s/%s", dir, name);
	int r = stat(path, &stt);
	free(path);
	return r == 0 ? disk_bytes(&stt) : 0;
}

int
store_stats_get(struct store *st, struct store_stats *stats_r,
		const char **error_r)
{
	memset(stats_r, 0, sizeof *stats_r);
	int64_t n[3];
	int ret = stmt_ints(st, store_stmt(st, SQL_COUNTS),
			    "cannot count domains and users", n, 3, error_r);
	if (ret != STORE_OK)
		return ret;
	stats_r->domains = (unsigned)n[0];
	stats_r->users = (unsigned)n[1];
	stats_r->aliases = (unsigned)n[2];

	const char *dir = store_data_dir(st);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		*error_r = errfmt("cannot open %s: %s", dir, strerror(errno));
		return STORE_ERROR;
	}
	walk(dirfd, "blobs", 0, stats_r);
	close(dirfd);
	stats_r->db_bytes = file_bytes(dir, "mailhub.db") + file_bytes(dir, "mailhub.db-wal");
	return STORE_OK;
}

int
store_metrics_get(struct store *st, struct store_metrics *m_r, const char **error_r)
{
	int64_t v[5];
	memset(m_r, 0, sizeof *m_r);
	int ret = stmt_ints(st, store_stmt(st, SQL_METRICS), "cannot read the metrics",
			    v, 5, error_r);
	if (ret != STORE_OK)
		return ret;
	m_r->queue_recipients = (uint64_t)v[0];
	m_r->queue_messages = (uint64_t)v[1];
	m_r->queue_oldest = v[2];
	m_r->messages = (uint64_t)v[3];
	m_r->bytes = (uint64_t)v[4];
	return STORE_OK;
}

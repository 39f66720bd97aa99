/*
 * blob_dir: the blob folder of a data directory laid out ahead (blob.h,
 * blob_dir_prepare()).
 */
#include "store/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

/* The blob folders this process has prepared: each data directory's once
 * (a daemon opens one, with a store per thread; a test program a few). */
struct prepared_dir {
	char *blob_dir;
	struct prepared_dir *next;
};
static pthread_mutex_t prepared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prepared_dir *prepared;

/* mkdir with the mode meant exactly (mkdir() applies the umask); *made_r
 * set when it was made.  0, or -1. */
static int
make_one(const char *path, bool *made_r, const char **error_r)
{
	if (mkdir(path, STORE_DIR_MODE) < 0) {
		struct stat sb;
		if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return 0;
		*error_r = errno == EEXIST ? errfmt("%s is not a directory", path)
					   : errfmt("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, STORE_DIR_MODE) < 0) {
		*error_r = errfmt("cannot set the mode of %s: %s", path, strerror(errno));
		return -1;
	}
	*made_r = true;
	return 0;
}

/* FS_TOPDIR_FL on the folder path, where the filesystem has it (ext4);
 * only placement depends on it, so a filesystem without it is no error. */
static void
set_topdir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int flags = 0;
	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0 ||
	    ((flags & FS_TOPDIR_FL) == 0 &&
	     (flags |= FS_TOPDIR_FL, ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)))
		log_debug("store: %s not marked as a top folder: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The entries of folder path durable; 0, or -1. */
static int
sync_dir(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || blob_fsync_fn(fd) < 0) {
		*error_r = errfmt("cannot fsync %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* before: this process prepared blob_dir already (the XX folders are
 * not looked at again) */
static int
prepare(const char *data_dir, const char *blob_dir, bool before, const char **error_r)
{
	bool made_top = false, made = false;
	if (make_one(blob_dir, &made_top, error_r) < 0)
		return -1;
	/* before its first folder: the flag places the folders made in it */
	if (made_top)
		set_topdir(blob_dir);
	/* blobs/tmp at every store_open(), as before the folders were made
	 * ahead (one removed by hand comes back with the next session) */
	char *path = xasprintf("%s/tmp", blob_dir);
	int ret = make_one(path, &made, error_r);
	free(path);
	for (unsigned i = 0; ret == 0 && !before && i < 256; i++) {
		path = xasprintf("%s/%02x", blob_dir, i);
		ret = make_one(path, &made, error_r);
		free(path);
	}
	/* the folders durable before a blob is named in one (place() syncs
	 * blobs/ only for a folder it makes itself) */
	if (ret == 0 && (made || made_top))
		ret = sync_dir(blob_dir, error_r);
	if (ret == 0 && made_top)
		ret = sync_dir(data_dir, error_r);
	return ret;
}

int
blob_dir_prepare(const char *data_dir, const char *blob_dir, const char **error_r)
{
	pthread_mutex_lock(&prepared_lock);
	struct prepared_dir *p = prepared;
	while (p != NULL && strcmp(p->blob_dir, blob_dir) != 0)
		p = p->next;
	/* the other threads wait here until the folders are durable */
	int ret = prepare(data_dir, blob_dir, p != NULL, error_r);
	if (p == NULL && ret == 0) {
		p = xcalloc(1, sizeof *p);
		p->blob_dir = xstrdup(blob_dir);
		p->next = prepared;
		prepared = p;
	}
	pthread_mutex_unlock(&prepared_lock);
	return ret;
}

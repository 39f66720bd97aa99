/*
 * static: the panel's files from static_dir.
 *
 * A path is served only when every segment is a plain name (letters, digits,
 * '-', '_', '.', not starting with '.'), so "..", hidden files and encoded
 * tricks never reach the file system; the file is opened relative to an fd
 * of static_dir with O_NOFOLLOW, so a symlink cannot lead out of it either.
 * The panel routes in the browser after '#', so only "/" means index.html:
 * any other path is a file or a 404.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "web/internal.h"

static const struct {
	const char *ext;
	const char *type;
} mime_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".webmanifest", "application/manifest+json" },
};

static const char *
mime_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
		if (strcmp(dot, mime_types[i].ext) == 0)
			return mime_types[i].type;
	return NULL;
}

static enum MHD_Result
serve_file(struct web_request *r, int dirfd, const char *rel, bool *missing_r)
{
	*missing_r = false;
	int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat stt;
	if (fd < 0 || fstat(fd, &stt) < 0 || !S_ISREG(stt.st_mode)) {
		if (fd >= 0)
			close(fd);
		*missing_r = true;
		return MHD_NO;
	}
	const char *type = mime_type(rel);
	struct MHD_Response *resp = MHD_create_response_from_fd((size_t)stt.st_size, fd);
	if (resp == NULL) {
		close(fd);
		return reply_problem(r, 500, "cannot send the file");
	}
	MHD_add_response_header(resp, "Content-Type",
				type != NULL ? type : "application/octet-stream");
	/* No build step means no hashed file names: let the browser revalidate. */
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	char lm[64];
	struct tm tm;
	gmtime_r(&stt.st_mtime, &tm);
	strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	MHD_add_response_header(resp, "Last-Modified", lm);
	reply_add_security_headers(resp);
	r->replied = true;
	const char *ims = MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	unsigned status = 200;
	if (ims != NULL && strcmp(ims, lm) == 0) {
		MHD_destroy_response(resp);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Last-Modified", lm);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
		reply_add_security_headers(resp);
		status = 304;
	}
	enum MHD_Result res = MHD_queue_response(r->mhd, status, resp);
	MHD_destroy_response(resp);
	return res;
}

enum MHD_Result
web_static_serve(struct web_request *r)
{
	const struct config *cfg = r->srv->cfg;
	const char *rel = r->path + (r->path[0] == '/');
	if (*rel == '\0')
		rel = "index.html";
	if (!web_static_path_ok(rel))
		return reply_problem(r, 404, "no such file");

	int dirfd = open(cfg->static_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		log_error("web cannot open static_dir=%s: %s", cfg->static_dir, strerror(errno));
		return reply_problem(r, 503, "the panel's files are not installed");
	}
	bool missing;
	enum MHD_Result res = serve_file(r, dirfd, rel, &missing);
	close(dirfd);
	if (missing)
		return reply_problem(r, 404, "no such file");
	return res;
}

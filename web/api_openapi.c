/*
 * api_openapi: GET /api/v1/openapi.json, the OpenAPI 3 description of the
 * route table, kept as static/openapi.json beside the panel (a test checks
 * that it lists exactly the routes of routes.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "web/api.h"
#include "web/internal.h"

#define OPENAPI_FILE "openapi.json"
#define OPENAPI_MAX (1024 * 1024)

enum MHD_Result
api_openapi_get(struct web_request *r)
{
	const char *dir = r->srv->cfg->static_dir;
	char *path = xasprintf("%s/%s", dir, OPENAPI_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat stt;
	if (fd < 0 || fstat(fd, &stt) < 0 || !S_ISREG(stt.st_mode) ||
	    stt.st_size > OPENAPI_MAX) {
		log_error("web cannot read %s: %s", path, fd < 0 ? strerror(errno) : "not a small file");
		if (fd >= 0)
			close(fd);
		free(path);
		return reply_problem(r, 503, "the API description is not installed");
	}
	free(path);
	struct MHD_Response *resp = MHD_create_response_from_fd((size_t)stt.st_size, fd);
	if (resp == NULL) {
		close(fd);
		return reply_problem(r, 500, "cannot send the API description");
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	reply_add_security_headers(resp);
	r->replied = true;
	enum MHD_Result res = MHD_queue_response(r->mhd, 200, resp);
	MHD_destroy_response(resp);
	return res;
}

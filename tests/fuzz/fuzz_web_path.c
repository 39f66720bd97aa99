/* libFuzzer target: the admin listener's route matching and static file
 * name check, over any path a browser or a script could send. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
	"/api/v1/users/{address}", "/api/v1/queue/{id}/retry",
	"/api/v1/domains/{name}/dns", "/{a}/{b}/{c}/{d}", "/api/v1/status",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1);
	memcpy(path, data, size);
	path[size] = '\0';

	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		char *params[WEB_PARAMS_MAX];
		size_t n = 0;
		bool plain = web_route_match(patterns[i], path, NULL, NULL);
		bool with = web_route_match(patterns[i], path, params, &n);
		if (plain != with)
			abort();
		for (size_t k = 0; with && k < n; k++) {
			if (params[k][0] == '\0' || strchr(params[k], '/') != NULL)
				abort();
			free(params[k]);
		}
	}
	if (web_static_path_ok(path)) {
		if (path[0] == '.' || path[0] == '/' || strstr(path, "/.") != NULL ||
		    strstr(path, "//") != NULL || strlen(path) > WEB_STATIC_PATH_MAX)
			abort();
	}
	free(path);
	return 0;
}

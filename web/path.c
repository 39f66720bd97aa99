/*
 * path: route patterns and static file names, as pure functions over
 * strings (no request, no socket) so that they can be unit tested and
 * fuzzed.  libmicrohttpd hands over the path already percent-decoded.
 */
#include <string.h>

#include "core/xmalloc.h"
#include "web/internal.h"

bool
web_route_match(const char *pattern, const char *path, char **params, size_t *n_r)
{
	const char *p = pattern, *s = path;
	size_t n = 0;
	char *found[WEB_PARAMS_MAX];

	while (*p != '\0' && *s != '\0') {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *se = strchr(s, '/');
			size_t len = se != NULL ? (size_t)(se - s) : strlen(s);
			if (pe == NULL || len == 0 || n == WEB_PARAMS_MAX)
				goto fail;
			found[n++] = params != NULL ? xstrndup(s, len) : NULL;
			p = pe + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			goto fail;
		p++;
		s++;
	}
	if (*p != '\0' || *s != '\0')
		goto fail;
	if (params != NULL) {
		for (size_t i = 0; i < n; i++)
			params[i] = found[i];
		*n_r = n;
	}
	return true;
fail:
	if (params != NULL)
		for (size_t i = 0; i < n; i++)
			free(found[i]);
	return false;
}

static bool
plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool
web_static_path_ok(const char *rel)
{
	size_t seg = 0;
	if (*rel == '\0' || strlen(rel) > WEB_STATIC_PATH_MAX)
		return false;
	for (const char *p = rel; ; p++) {
		char c = *p;
		if (c == '/' || c == '\0') {
			if (seg == 0)
				return false;
			if (c == '\0')
				return true;
			seg = 0;
			continue;
		}
		if (seg == 0 && c == '.')
			return false;
		if (!plain_char(c))
			return false;
		seg++;
	}
}

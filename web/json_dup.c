/*
 * json_dup: finding a member name written twice (see json_dup.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "web/json_dup.h"

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *
json_duplicate_member(const cJSON *json)
{
	if (json == NULL)
		return NULL;
	size_t n = 0;
	for (const cJSON *c = json->child; c != NULL; c = c->next)
		n++;
	const char *dup = NULL;
	if (cJSON_IsObject(json) && n > 1) {
		const char **names = xcalloc(n, sizeof *names);
		size_t i = 0;
		for (const cJSON *c = json->child; c != NULL; c = c->next)
			names[i++] = c->string != NULL ? c->string : "";
		qsort(names, n, sizeof *names, cmp_names);
		for (i = 1; i < n && dup == NULL; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				dup = names[i];
		free(names);
	}
	/* cJSON refuses nesting deeper than CJSON_NESTING_LIMIT, so this
	 * recursion is bounded */
	for (const cJSON *c = json->child; c != NULL && dup == NULL; c = c->next)
		dup = json_duplicate_member(c);
	return dup;
}

/* libFuzzer target: a request body as the admin listener reads it: the
 * scan for "\u0000" (web/json_nul.c), then cJSON's parse with the options
 * web/server.c uses and its check for names given twice (web/json_dup.c);
 * what the scan names must lie inside the body. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "web/json_dup.h"
#include "web/json_nul.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A number beyond a double's range parses as infinity, which cJSON prints
 * as null: such a body cannot read back the same (the server refuses such
 * numbers where it reads them: web/json.c). */
static int
has_nonfinite(const cJSON *v)
{
	for (; v != NULL; v = v->next) {
		if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
			return 1;
		if (has_nonfinite(v->child))
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the server caps bodies at 1 MiB */
	if (size > (1 << 20))
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	const char *field = NULL;
	size_t field_len = 0;
	if (json_text_has_nul(text, size, &field, &field_len) && field != NULL) {
		if (field < text || field + field_len > text + size)
			__builtin_trap();
	}
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(text, size + 1, &end, 1);
	if (json != NULL) {
		char *again = cJSON_PrintUnformatted(json);
		cJSON *back = again != NULL ? cJSON_Parse(again) : NULL;
		/* what the server would answer with reads back the same; a body
		 * with a name given twice is refused before (cJSON_Compare looks
		 * members up by name, so it cannot compare such a body) */
		if (back != NULL && json_duplicate_member(json) == NULL &&
		    !has_nonfinite(json) && !cJSON_Compare(json, back, 1))
			__builtin_trap();
		cJSON_Delete(back);
		free(again);
		cJSON_Delete(json);
	}
	free(text);
	return 0;
}

/*
 * json: typed access to request bodies.  Every failure replies 422 naming the
 * field, so handlers read as a list of fields and stop at the first bad one.
 */
#include <math.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "web/request.h"

static cJSON *
field(const cJSON *obj, const char *name)
{
	/* Field names are case-sensitive, as JSON is. */
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

int
json_get_string(struct web_request *r, const cJSON *obj, const char *name,
		bool required, const char **out)
{
	const cJSON *v = field(obj, name);
	if (v == NULL) {
		if (!required)
			return 0;
		reply_problem(r, 422, "field '%s' is required", name);
		return -1;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		reply_problem(r, 422, "field '%s' must be a string", name);
		return -1;
	}
	*out = v->valuestring;
	return 0;
}

int
json_get_bool(struct web_request *r, const cJSON *obj, const char *name,
	      bool required, bool *out)
{
	const cJSON *v = field(obj, name);
	if (v == NULL) {
		if (!required)
			return 0;
		reply_problem(r, 422, "field '%s' is required", name);
		return -1;
	}
	if (!cJSON_IsBool(v)) {
		reply_problem(r, 422, "field '%s' must be true or false", name);
		return -1;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

int
json_get_uint(struct web_request *r, const cJSON *obj, const char *name,
	      bool required, uint64_t max, uint64_t *out)
{
	const cJSON *v = field(obj, name);
	if (v == NULL) {
		if (!required)
			return 0;
		reply_problem(r, 422, "field '%s' is required", name);
		return -1;
	}
	/* A double holds integers exactly up to 2^53: enough for any size here. */
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (!cJSON_IsNumber(v) || d < 0 || d != floor(d) || d > (double)max ||
	    d > 9007199254740992.0) {
		reply_problem(r, 422, "field '%s' must be a whole number from 0 to %llu",
			      name, (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)d;
	return 0;
}

int
json_only_fields(struct web_request *r, const cJSON *obj, const char *const *allowed)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, obj) {
		bool ok = false;
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (item->string != NULL && strcmp(item->string, allowed[i]) == 0)
				ok = true;
		if (!ok) {
			reply_problem(r, 422, "unknown field '%s'",
				      item->string != NULL ? item->string : "");
			return -1;
		}
	}
	return 0;
}

int
json_get_text(struct web_request *r, const cJSON *obj, const char *name,
	      bool required, size_t max, const char **out)
{
	const char *s = NULL;
	if (json_get_string(r, obj, name, required, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	size_t len = strlen(s);
	if (len > max) {
		reply_problem(r, 422, "field '%s' is longer than %zu bytes", name, max);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			reply_problem(r, 422, "field '%s' must not contain control characters",
				      name);
			return -1;
		}
	}
	*out = s;
	return 0;
}

static bool
address_ok(const char *s, bool allow_catchall)
{
	if (strlen(s) > ADDRESS_MAX)
		return false;
	if (allow_catchall && s[0] == '@')
		return store_domain_name_valid(s + 1);
	return store_address_valid(s);
}

int
json_get_address(struct web_request *r, const cJSON *obj, const char *name,
		 bool required, bool allow_catchall, const char **out)
{
	const char *s = NULL;
	if (json_get_string(r, obj, name, required, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	if (!address_ok(s, allow_catchall)) {
		reply_problem(r, 422, "field '%s' is not a valid address%s: '%s'", name,
			      allow_catchall ? " (or @domain for a catch-all)" : "",
			      esc_str(s));
		return -1;
	}
	*out = s;
	return 0;
}

int
json_get_address_list(struct web_request *r, const cJSON *obj, const char *name,
		      size_t max, const char ***list_r, size_t *n_r)
{
	const cJSON *v = field(obj, name);
	if (v == NULL) {
		reply_problem(r, 422, "field '%s' is required", name);
		return -1;
	}
	if (!cJSON_IsArray(v)) {
		reply_problem(r, 422, "field '%s' must be an array of addresses", name);
		return -1;
	}
	size_t n = (size_t)cJSON_GetArraySize(v);
	if (n == 0 || n > max) {
		reply_problem(r, 422, "field '%s' must hold 1 to %zu addresses", name, max);
		return -1;
	}
	const char **list = xcalloc(n + 1, sizeof *list);
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, v) {
		if (!cJSON_IsString(item) || !address_ok(item->valuestring, false)) {
			reply_problem(r, 422, "field '%s' item %zu is not a valid address%s%s%s",
				      name, i + 1, cJSON_IsString(item) ? ": '" : "",
				      cJSON_IsString(item) ? esc_str(item->valuestring) : "",
				      cJSON_IsString(item) ? "'" : "");
			free(list);
			return -1;
		}
		list[i++] = item->valuestring;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

int
web_param_id(struct web_request *r, size_t i, int64_t *id_r)
{
	const char *s = i < r->n_params ? r->params[i] : "";
	int64_t v = 0;
	if (*s == '\0' || strlen(s) > 18)
		goto bad;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v <= 0)
		goto bad;
	*id_r = v;
	return 0;
bad:
	reply_problem(r, 404, "'%s' is not an id", esc_str(s));
	return -1;
}

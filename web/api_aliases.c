/*
 * api_aliases: addresses that forward, and each domain's catch-all
 * ("@example.org").
 *   GET    /api/v1/aliases             admin: all; a user: those that deliver to them
 *   POST   /api/v1/aliases             admin: {"source","destinations":[...]}
 *   GET    /api/v1/aliases/{source}    admin, or a user among its destinations
 *   PATCH  /api/v1/aliases/{source}    admin: {"destinations":[...]}
 *   DELETE /api/v1/aliases/{source}    admin
 * A user sees an alias when one of its destinations is their address;
 * anything else answers 404 as if it did not exist.
 */
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "web/api.h"
#include "web/internal.h"

static cJSON *
alias_json(const struct store_alias *a)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "source", a->source);
	cJSON_AddBoolToObject(o, "catchall", a->source[0] == '@');
	cJSON *d = cJSON_AddArrayToObject(o, "destinations");
	for (size_t i = 0; i < a->n_destinations; i++)
		cJSON_AddItemToArray(d, cJSON_CreateString(a->destinations[i]));
	cJSON_AddItemToObject(o, "created", json_time(a->created));
	return o;
}

static bool
may_see(const struct web_request *r, const struct store_alias *a)
{
	if (web_is_admin(r))
		return true;
	for (size_t i = 0; i < a->n_destinations; i++)
		if (str_eq_nocase(a->destinations[i], r->user.address))
			return true;
	return false;
}

static enum MHD_Result
field_error(struct web_request *r, int st, const char *field, const char *error)
{
	if (st == STORE_INVALID || st == STORE_NOTLOCAL)
		return reply_problem(r, 422, "field '%s': %s", field, error);
	if (st == STORE_LOOP)
		return reply_problem(r, 409, "field 'destinations': %s", error);
	return reply_store_error(r, st, error);
}

enum MHD_Result
api_aliases_list(struct web_request *r)
{
	struct store_alias *list = NULL;
	size_t n = 0;
	const char *error;
	int st = store_alias_list(r->st, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		if (may_see(r, &list[i]))
			cJSON_AddItemToArray(arr, alias_json(&list[i]));
	store_alias_list_free(&list, n);
	return reply_json(r, 200, arr);
}

static enum MHD_Result
reply_alias(struct web_request *r, unsigned status, const char *source)
{
	struct store_alias a = { 0 };
	const char *error;
	int st = store_alias_get(r->st, source, &a, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	if (!may_see(r, &a)) {
		store_alias_clear(&a);
		return reply_problem(r, 404, "alias '%s' does not exist", esc_str(source));
	}
	cJSON *o = alias_json(&a);
	store_alias_clear(&a);
	return reply_json(r, status, o);
}

enum MHD_Result
api_aliases_create(struct web_request *r)
{
	static const char *const fields[] = { "source", "destinations", NULL };
	const char *source = NULL, *error;
	const char **dests = NULL;
	size_t n = 0;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_address(r, r->json, "source", true, true, &source) < 0 ||
	    json_get_address_list(r, r->json, "destinations", ALIAS_EXPANSION_MAX,
				  &dests, &n) < 0)
		return MHD_YES;
	int st = store_alias_add(r->st, source, dests, n, &error);
	free(dests);
	if (st != STORE_OK)
		return field_error(r, st, "source", error);
	log_info("web alias=%s added by=%s", esc_str(source), r->user.address);
	return reply_alias(r, 201, source);
}

enum MHD_Result
api_aliases_get(struct web_request *r)
{
	return reply_alias(r, 200, r->params[0]);
}

enum MHD_Result
api_aliases_patch(struct web_request *r)
{
	static const char *const fields[] = { "destinations", NULL };
	const char *error;
	const char **dests = NULL;
	size_t n = 0;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_address_list(r, r->json, "destinations", ALIAS_EXPANSION_MAX,
				  &dests, &n) < 0)
		return MHD_YES;
	int st = store_alias_set(r->st, r->params[0], dests, n, &error);
	free(dests);
	if (st != STORE_OK)
		return field_error(r, st, "destinations", error);
	log_info("web alias=%s changed by=%s", esc_str(r->params[0]), r->user.address);
	return reply_alias(r, 200, r->params[0]);
}

enum MHD_Result
api_aliases_delete(struct web_request *r)
{
	const char *error;
	int st = store_alias_del(r->st, r->params[0], &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web alias=%s deleted by=%s", esc_str(r->params[0]), r->user.address);
	return reply_empty(r, 204);
}

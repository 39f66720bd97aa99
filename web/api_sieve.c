/*
 * api_sieve: the caller's Sieve scripts (store/sieve_store.h), as the
 * panel's Filters page and ManageSieve clients manage them.
 *   GET    /api/v1/sieve                     the scripts: name, active, updated
 *   GET    /api/v1/sieve/{name}              one, with its text
 *   PUT    /api/v1/sieve/{name} {"script", "active"}
 *                                            stores it (201 new, 200 replaced)
 *                                            once it compiles; 422 with the
 *                                            compiler's "line N: error: ..."
 *                                            lines otherwise; "active": true
 *                                            makes it the one delivery runs
 *   POST   /api/v1/sieve/{name}/activate     the one delivery runs
 *   POST   /api/v1/sieve/{name}/deactivate   none runs (when it was active)
 *   DELETE /api/v1/sieve/{name}              not the active one (409)
 * Each user manages their own scripts only.
 */
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "sieve/cache.h"
#include "sieve/sieve.h"
#include "store/sieve_store.h"
#include "web/api.h"
#include "web/internal.h"

/* The {name} of the route, or a 404 (names as ManageSieve takes them). */
static const char *
script_name(struct web_request *r)
{
	const char *name = r->n_params > 0 ? r->params[0] : NULL;
	if (name == NULL || !store_sieve_name_valid(name)) {
		reply_problem(r, 404, "there is no script of that name");
		return NULL;
	}
	return name;
}

enum MHD_Result
api_sieve_list(struct web_request *r)
{
	struct store_sieve_script *list = NULL;
	const char *error;
	size_t n = 0;
	int st = store_sieve_list(r->st, r->user.id, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", list[i].name);
		cJSON_AddBoolToObject(o, "active", list[i].active);
		cJSON_AddItemToObject(o, "updated", json_time(list[i].updated));
		cJSON_AddItemToArray(arr, o);
	}
	store_sieve_list_free(&list, n);
	return reply_json(r, 200, arr);
}

/* Whether the user has the script (and whether it is active); a store
 * error is STORE_ERROR. */
static int
script_state(struct web_request *r, const char *name, bool *active_r, const char **error_r)
{
	char *text = NULL;
	int st = store_sieve_get(r->st, r->user.id, name, &text, active_r, error_r);
	free(text);
	return st;
}

/* The script as GET answers it, with status. */
static enum MHD_Result
reply_script(struct web_request *r, unsigned status, const char *name)
{
	const char *error;
	char *text = NULL;
	bool active = false;
	int st = store_sieve_get(r->st, r->user.id, name, &text, &active, &error);
	if (st == STORE_NOTFOUND)
		return reply_problem(r, 404, "there is no script of that name");
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "active", active);
	cJSON_AddStringToObject(o, "script", text);
	free(text);
	return reply_json(r, status, o);
}

enum MHD_Result
api_sieve_get(struct web_request *r)
{
	const char *name = script_name(r);
	if (name == NULL)
		return MHD_YES;
	return reply_script(r, 200, name);
}

enum MHD_Result
api_sieve_put(struct web_request *r)
{
	static const char *const fields[] = { "script", "active", NULL };
	const char *name = script_name(r), *text = NULL, *error;
	bool activate = false;
	if (name == NULL)
		return MHD_YES;
	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "script", true, &text) < 0 ||
	    json_get_bool(r, r->json, "active", false, &activate) < 0)
		return MHD_YES;
	size_t len = strlen(text);
	if (len > SIEVE_SCRIPT_MAX)
		return reply_problem(r, 413, "field 'script': larger than %d bytes",
				     SIEVE_SCRIPT_MAX);
	struct buf errors = BUF_INIT;
	struct sieve_script *script = NULL;
	if (sieve_compile(text, len, &script, &errors) < 0) {
		/* the compiler's own lines, as ManageSieve gives them */
		enum MHD_Result ret = reply_problem(r, 422, "field 'script': %s",
						    buf_cstr(&errors));
		buf_free(&errors);
		return ret;
	}
	sieve_script_free(&script);
	buf_free(&errors);
	bool was_active;
	bool existed = script_state(r, name, &was_active, &error) == STORE_OK;
	int st = store_sieve_put(r->st, r->user.id, name, text, len, &error);
	if (st == STORE_OVERQUOTA)
		return reply_problem(r, 409, "at most %d scripts", SIEVE_SCRIPTS_MAX);
	if (st == STORE_OK && activate)
		st = store_sieve_activate(r->st, r->user.id, name, &error);
	sieve_cache_forget_user(r->user.id);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web sieve put user=%s name=%s size=%zu%s", r->user.address, esc_str(name),
		 len, activate ? " active" : "");
	return reply_script(r, existed ? 200 : 201, name);
}

/* activate / deactivate */
static enum MHD_Result
set_active(struct web_request *r, bool on)
{
	const char *name = script_name(r), *error;
	bool active = false;
	if (name == NULL)
		return MHD_YES;
	int st = script_state(r, name, &active, &error);
	if (st == STORE_OK && (on || active))
		st = store_sieve_activate(r->st, r->user.id, on ? name : NULL, &error);
	sieve_cache_forget_user(r->user.id);
	if (st == STORE_NOTFOUND)
		return reply_problem(r, 404, "there is no script of that name");
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web sieve %s user=%s name=%s", on ? "activate" : "deactivate",
		 r->user.address, esc_str(name));
	return reply_empty(r, 204);
}

enum MHD_Result
api_sieve_activate(struct web_request *r)
{
	return set_active(r, true);
}

enum MHD_Result
api_sieve_deactivate(struct web_request *r)
{
	return set_active(r, false);
}

enum MHD_Result
api_sieve_delete(struct web_request *r)
{
	const char *name = script_name(r), *error;
	if (name == NULL)
		return MHD_YES;
	int st = store_sieve_delete(r->st, r->user.id, name, &error);
	if (st == STORE_NOTFOUND)
		return reply_problem(r, 404, "there is no script of that name");
	if (st == STORE_BUSY)
		/* RFC 5804 §2.10: the active script stays */
		return reply_problem(r, 409, "the script is active: deactivate it first");
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web sieve delete user=%s name=%s", r->user.address, esc_str(name));
	return reply_empty(r, 204);
}

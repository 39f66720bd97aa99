/*
 * api_tokens: the caller's own API bearer tokens.
 *   GET    /api/v1/tokens          the caller's tokens (prefix, name, dates; never the token)
 *   POST   /api/v1/tokens {"name", "expires": RFC 3339 | "expires_in_days": N}
 *                                  a new token, shown this once
 *   DELETE /api/v1/tokens/{id}     one of the caller's tokens
 * Nobody, admin included, sees or deletes another user's tokens here.  A
 * token without an expiry lasts until it is deleted, the user's password
 * changes or the user is disabled.
 */
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "web/api.h"
#include "web/internal.h"
#include "web/rfc3339.h"

/* As the store allows (tokens.c). */
#define TOKEN_NAME_MAX 200
/* The longest life a token may be given: ten years. */
#define TOKEN_DAYS_MAX 3650

static cJSON *
token_json(const struct store_token *t)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)t->id);
	cJSON_AddStringToObject(o, "name", t->name != NULL ? t->name : "");
	cJSON_AddStringToObject(o, "prefix", t->prefix != NULL ? t->prefix : "");
	cJSON_AddItemToObject(o, "created", json_time(t->created));
	cJSON_AddItemToObject(o, "last_used", json_time(t->last_used));
	cJSON_AddItemToObject(o, "expires", json_time(t->expires));
	return o;
}

enum MHD_Result
api_tokens_list(struct web_request *r)
{
	struct store_token *list = NULL;
	size_t n = 0;
	const char *error;
	int st = store_token_list(r->st, r->user.id, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, token_json(&list[i]));
	store_token_list_free(&list, n);
	return reply_json(r, 200, arr);
}

/* The expiry the body asks for into *expires_r (0: none); -1 after a 422. */
static int
get_expiry(struct web_request *r, int64_t *expires_r)
{
	const char *text = NULL;
	uint64_t days = 0;
	bool by_days = cJSON_GetObjectItemCaseSensitive(r->json, "expires_in_days") != NULL;
	int64_t now = (int64_t)time(NULL), max = now + (int64_t)TOKEN_DAYS_MAX * 86400;

	*expires_r = 0;
	if (json_get_string(r, r->json, "expires", false, &text) < 0 ||
	    json_get_uint(r, r->json, "expires_in_days", false, TOKEN_DAYS_MAX, &days) < 0)
		return -1;
	if (text != NULL && by_days) {
		reply_problem(r, 422, "field 'expires': give either 'expires' or "
			      "'expires_in_days', not both");
		return -1;
	}
	if (by_days) {
		if (days == 0) {
			reply_problem(r, 422, "field 'expires_in_days' must be from 1 to %d",
				      TOKEN_DAYS_MAX);
			return -1;
		}
		*expires_r = now + (int64_t)days * 86400;
	} else if (text != NULL) {
		int64_t t;
		if (!rfc3339_parse(text, &t)) {
			reply_problem(r, 422, "field 'expires' must be an RFC 3339 date-time "
				      "such as 2030-01-31T12:00:00Z");
			return -1;
		}
		if (t <= now || t > max) {
			reply_problem(r, 422, "field 'expires' must be in the future and at most "
				      "%d days away", TOKEN_DAYS_MAX);
			return -1;
		}
		*expires_r = t;
	}
	return 0;
}

enum MHD_Result
api_tokens_create(struct web_request *r)
{
	static const char *const fields[] = { "name", "expires", "expires_in_days", NULL };
	const char *name = "", *error;
	char *token = NULL;
	int64_t id = 0, expires;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_text(r, r->json, "name", false, TOKEN_NAME_MAX, &name) < 0 ||
	    get_expiry(r, &expires) < 0)
		return MHD_YES;
	int st = store_token_create(r->st, r->user.address, name, expires, &token, &id, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web token id=%lld created user=%s", (long long)id, r->user.address);

	/* Read back the stored row so the answer has the same shape as GET. */
	struct store_token *list = NULL;
	size_t n = 0;
	cJSON *o = NULL;
	if (store_token_list(r->st, r->user.id, &list, &n, &error) == STORE_OK) {
		for (size_t i = 0; i < n && o == NULL; i++)
			if (list[i].id == id)
				o = token_json(&list[i]);
		store_token_list_free(&list, n);
	}
	if (o == NULL) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", (double)id);
		cJSON_AddStringToObject(o, "name", name);
	}
	cJSON_AddStringToObject(o, "token", token);
	explicit_bzero(token, strlen(token));
	free(token);
	return reply_json(r, 201, o);
}

enum MHD_Result
api_tokens_delete(struct web_request *r)
{
	int64_t id;
	const char *error;
	if (web_param_id(r, 0, &id) < 0)
		return MHD_YES;
	int st = store_token_del(r->st, r->user.id, id, &error);
	if (st == STORE_NOTFOUND)
		return reply_problem(r, 404, "you have no token %lld", (long long)id);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web token id=%lld deleted user=%s", (long long)id, r->user.address);
	return reply_empty(r, 204);
}

/*
 * api_tokens: the caller's own API bearer tokens.
 *   GET    /api/v1/tokens          the caller's tokens (prefix, name, dates; never the token)
 *   POST   /api/v1/tokens {"name"} a new token, shown this once
 *   DELETE /api/v1/tokens/{id}     one of the caller's tokens
 * Nobody, admin included, sees or deletes another user's tokens here.
 */
#include <string.h>

#include "core/log.h"
#include "web/api.h"
#include "web/internal.h"

/* As the store allows (tokens.c). */
#define TOKEN_NAME_MAX 200

static cJSON *
token_json(const struct store_token *t)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)t->id);
	cJSON_AddStringToObject(o, "name", t->name != NULL ? t->name : "");
	cJSON_AddStringToObject(o, "prefix", t->prefix != NULL ? t->prefix : "");
	cJSON_AddItemToObject(o, "created", json_time(t->created));
	cJSON_AddItemToObject(o, "last_used", json_time(t->last_used));
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

enum MHD_Result
api_tokens_create(struct web_request *r)
{
	static const char *const fields[] = { "name", NULL };
	const char *name = "", *error;
	char *token = NULL;
	int64_t id = 0;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_text(r, r->json, "name", false, TOKEN_NAME_MAX, &name) < 0)
		return MHD_YES;
	int st = store_token_create(r->st, r->user.address, name, &token, &id, &error);
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

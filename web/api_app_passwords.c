/*
 * api_app_passwords: app passwords for mail clients (store/app_passwords.h).
 *   GET    /api/v1/app-passwords           the caller's; an admin may add
 *                                          ?user=ADDRESS for another user's
 *   POST   /api/v1/app-passwords {"name"}  a new one for the caller, whose
 *                                          password is in this answer only
 *   DELETE /api/v1/app-passwords/{id}      revoke: the caller's own, or any
 *                                          for an admin
 * An app password never logs in to the panel or this API: the session login
 * checks the user's password alone.
 */
#include <string.h>

#include "core/log.h"
#include "store/app_passwords.h"
#include "web/api.h"
#include "web/internal.h"

static cJSON *
app_password_json(const struct store_app_password *ap)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)ap->id);
	cJSON_AddStringToObject(o, "user", ap->user != NULL ? ap->user : "");
	cJSON_AddStringToObject(o, "name", ap->name != NULL ? ap->name : "");
	cJSON_AddItemToObject(o, "created", json_time(ap->created));
	cJSON_AddItemToObject(o, "last_used", json_time(ap->last_used));
	if (ap->last_protocol != NULL)
		cJSON_AddStringToObject(o, "last_protocol", ap->last_protocol);
	else
		cJSON_AddNullToObject(o, "last_protocol");
	return o;
}

enum MHD_Result
api_app_passwords_list(struct web_request *r)
{
	struct store_app_password *list = NULL;
	size_t n = 0;
	const char *error;
	const char *user = web_query(r, "user");

	if (user == NULL)
		user = r->user.address;
	/* a user asking about someone else learns nothing, not even whether
	 * that user exists */
	if (!web_may_access_user(r, user))
		return reply_problem(r, 404, "user '%s' does not exist", esc_str(user));
	int st = store_app_password_list(r->st, user, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, app_password_json(&list[i]));
	store_app_password_list_free(&list, n);
	return reply_json(r, 200, arr);
}

enum MHD_Result
api_app_passwords_create(struct web_request *r)
{
	static const char *const fields[] = { "name", NULL };
	struct store_app_password ap;
	const char *name = NULL, *error;
	char *password = NULL;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_text(r, r->json, "name", true, APP_PASSWORD_NAME_MAX, &name) < 0)
		return MHD_YES;
	int st = store_app_password_create(r->st, r->user.address, name, &password, &ap,
					   &error);
	if (st == STORE_INVALID || st == STORE_EXISTS)
		return reply_problem(r, st == STORE_EXISTS ? 409 : 422, "field 'name': %s",
				     error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web app-password id=%lld created user=%s", (long long)ap.id,
		 r->user.address);
	cJSON *o = app_password_json(&ap);
	store_app_password_clear(&ap);
	cJSON_AddStringToObject(o, "password", password);
	explicit_bzero(password, strlen(password));
	free(password);
	return reply_json(r, 201, o);
}

enum MHD_Result
api_app_passwords_delete(struct web_request *r)
{
	struct store_app_password ap;
	int64_t id;
	const char *error;

	if (web_param_id(r, 0, &id) < 0)
		return MHD_YES;
	int st = store_app_password_get(r->st, id, &ap, &error);
	if (st == STORE_OK && !web_may_access_user(r, ap.user))
		st = STORE_NOTFOUND;
	store_app_password_clear(&ap);
	if (st == STORE_OK)
		st = store_app_password_del(r->st, id, &error);
	if (st == STORE_NOTFOUND)
		return reply_problem(r, 404, "app password %lld does not exist", (long long)id);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web app-password id=%lld deleted by=%s", (long long)id, r->user.address);
	return reply_empty(r, 204);
}

/*
 * api_users: accounts.
 *   GET    /api/v1/users               admin: every user; a user: themself
 *   POST   /api/v1/users               admin: {"address","password","admin","quota",
 *                                       "quota_messages","enabled"}
 *   GET    /api/v1/users/{address}     admin, or the user themself
 *   PATCH  /api/v1/users/{address}     admin: any field; a user: their own password
 *   DELETE /api/v1/users/{address}     admin (not themself)
 * A user asking for someone else's account gets 404, as if it did not
 * exist: the panel must not tell users which other accounts there are.
 * Changing one's own password needs the current one ("current_password"),
 * so that a session left open is not enough to take the account.  A new
 * password must be strong enough (password_strong_enough(): the rule is in
 * the 422's words).  A new password, or disabling the user, ends the user's
 * panel sessions and deletes their API tokens (sql/008), except the one
 * session that changed its own password, which goes on.
 * "quota" limits bytes, "quota_messages" the number of messages (QUOTA's
 * STORAGE and MESSAGE resources, RFC 9208), 0 for none; a user reads
 * "used" bytes and "messages" beside them.
 */
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/password.h"
#include "core/throttle.h"
#include "store/app_passwords.h"
#include "web/api.h"
#include "web/internal.h"

/* Quotas are byte counts a JSON number holds exactly (2^53). */
#define QUOTA_MAX 9007199254740992ull

static cJSON *
user_json(const struct store_user *u)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "address", u->address);
	cJSON_AddBoolToObject(o, "admin", u->admin);
	cJSON_AddBoolToObject(o, "enabled", u->enabled);
	cJSON_AddNumberToObject(o, "quota", (double)u->quota);
	cJSON_AddNumberToObject(o, "used", (double)u->used);
	cJSON_AddNumberToObject(o, "quota_messages", (double)u->quota_messages);
	cJSON_AddNumberToObject(o, "messages", (double)u->messages);
	cJSON_AddItemToObject(o, "created", json_time(u->created));
	return o;
}

/* A store failure about one field: name the field for INVALID/NOTLOCAL. */
static enum MHD_Result
field_error(struct web_request *r, int st, const char *field, const char *error)
{
	if (st == STORE_INVALID || st == STORE_NOTLOCAL)
		return reply_problem(r, 422, "field '%s': %s", field, error);
	return reply_store_error(r, st, error);
}

/* A new password for address from the body's field. */
static int
get_password(struct web_request *r, const char *field, bool required,
	     const char *address, const char **out)
{
	const char *pw = NULL, *error;
	if (json_get_string(r, r->json, field, required, &pw) < 0)
		return -1;
	if (pw == NULL)
		return 0;
	if (password_strong_enough(pw, address, &error) < 0) {
		reply_problem(r, 422, "field '%s': %s", field, error);
		return -1;
	}
	*out = pw;
	return 0;
}

enum MHD_Result
api_users_list(struct web_request *r)
{
	cJSON *arr = cJSON_CreateArray();
	if (!web_is_admin(r)) {
		cJSON_AddItemToArray(arr, user_json(&r->user));
		return reply_json(r, 200, arr);
	}
	struct store_user *list = NULL;
	size_t n = 0;
	const char *error;
	int st = store_user_list(r->st, &list, &n, &error);
	if (st != STORE_OK) {
		cJSON_Delete(arr);
		return reply_store_error(r, st, error);
	}
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, user_json(&list[i]));
	store_user_list_free(&list, n);
	return reply_json(r, 200, arr);
}

static enum MHD_Result
reply_user(struct web_request *r, unsigned status, const char *address)
{
	struct store_user u = { 0 };
	const char *error;
	int st = store_user_get(r->st, address, &u, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = user_json(&u);
	store_user_clear(&u);
	return reply_json(r, status, o);
}

/* The SCRAM keys of a password just set (store/app_passwords.h); without
 * them only SCRAM logins fail, so a failure is logged, not answered. */
static void
set_scram(struct web_request *r, const char *address, const char *password)
{
	const char *error;
	if (store_user_set_scram(r->st, address, password, &error) != STORE_OK)
		log_warning("web user=%s no SCRAM keys stored: %s", esc_str(address), error);
}

enum MHD_Result
api_users_create(struct web_request *r)
{
	static const char *const fields[] = {
		"address", "password", "admin", "quota", "quota_messages", "enabled", NULL
	};
	const char *address = NULL, *password = NULL, *error;
	bool admin = false, enabled = true;
	uint64_t quota = 0, quota_messages = 0;
	char *hash = NULL;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_address(r, r->json, "address", true, false, &address) < 0 ||
	    get_password(r, "password", true, address, &password) < 0 ||
	    json_get_bool(r, r->json, "admin", false, &admin) < 0 ||
	    json_get_uint(r, r->json, "quota", false, QUOTA_MAX, &quota) < 0 ||
	    json_get_uint(r, r->json, "quota_messages", false, QUOTA_MAX,
			  &quota_messages) < 0 ||
	    json_get_bool(r, r->json, "enabled", false, &enabled) < 0)
		return MHD_YES;
	if (password_hash(password, &hash, &error) < 0)
		return reply_problem(r, 422, "field 'password': %s", error);
	int st = store_user_add(r->st, address, hash, admin, quota, &error);
	free(hash);
	if (st != STORE_OK)
		return field_error(r, st, "address", error);
	set_scram(r, address, password);
	if (quota_messages > 0 &&
	    (st = store_user_set_quota_messages(r->st, address, quota_messages,
						&error)) != STORE_OK)
		return reply_store_error(r, st, error);
	if (!enabled && (st = store_user_set_enabled(r->st, address, false, &error)) != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web user=%s added admin=%d by=%s", esc_str(address), admin ? 1 : 0,
		 r->user.address);
	return reply_user(r, 201, address);
}

/* The user of the path, when the caller may see them; else a reply (404
 * for a user asking about someone else) and -1. */
static int
target_user(struct web_request *r, struct store_user *u)
{
	const char *address = r->params[0], *error;
	if (!web_may_access_user(r, address)) {
		reply_problem(r, 404, "user '%s' does not exist", esc_str(address));
		return -1;
	}
	int st = store_user_get(r->st, address, u, &error);
	if (st != STORE_OK) {
		reply_store_error(r, st, error);
		return -1;
	}
	return 0;
}

enum MHD_Result
api_users_get(struct web_request *r)
{
	struct store_user u = { 0 };
	if (target_user(r, &u) < 0)
		return MHD_YES;
	cJSON *o = user_json(&u);
	store_user_clear(&u);
	return reply_json(r, 200, o);
}

/* Checks the caller's current password for a change of their own. */
static int
check_current_password(struct web_request *r)
{
	const char *current = NULL, *error;
	struct store_user u = { 0 };
	if (json_get_string(r, r->json, "current_password", false, &current) < 0)
		return -1;
	if (current == NULL) {
		reply_problem(r, 422, "field 'current_password' is required to change "
			      "your own password");
		return -1;
	}
	struct throttle_ticket ticket;
	enum throttle_verdict v = throttle_begin(&ticket, r->peer_ip, r->user.address);
	if (v != THROTTLE_GO) {
		reply_problem(r, v == THROTTLE_BLOCKED ? 429 : 503,
			      "too many failed logins from this address; try later");
		return -1;
	}
	bool ok = strlen(current) <= PASSWORD_MAX &&
		  store_user_authenticate(r->st, r->user.address, current, &u, &error) == STORE_OK;
	unsigned delay = throttle_end(&ticket, ok);
	if (!ok) {
		log_info("web password-change user=%s ip=%s result=fail", r->user.address,
			 r->peer_ip);
		if (delay > 0)
			usleep(delay * 1000u);
		reply_problem(r, 422, "field 'current_password' is not your current password");
		return -1;
	}
	store_user_clear(&u);
	return 0;
}

enum MHD_Result
api_users_patch(struct web_request *r)
{
	static const char *const fields[] = {
		"password", "current_password", "admin", "quota", "quota_messages",
		"enabled", NULL
	};
	static const char *const admin_fields[] = {
		"admin", "quota", "quota_messages", "enabled"
	};
	struct store_user u = { 0 };
	const char *password = NULL, *error;
	bool admin, enabled;
	uint64_t quota, quota_messages;
	enum MHD_Result res = MHD_YES;
	int st = STORE_OK;

	if (json_only_fields(r, r->json, fields) < 0 || target_user(r, &u) < 0)
		return MHD_YES;
	bool self = u.id == r->user.id;
	if (!web_is_admin(r)) {
		for (size_t i = 0; i < sizeof admin_fields / sizeof admin_fields[0]; i++) {
			if (cJSON_GetObjectItemCaseSensitive(r->json, admin_fields[i]) != NULL) {
				res = reply_problem(r, 403, "field '%s' can only be changed by an admin",
						    admin_fields[i]);
				goto out;
			}
		}
	}
	admin = u.admin;
	enabled = u.enabled;
	quota = u.quota;
	quota_messages = u.quota_messages;
	if (get_password(r, "password", false, u.address, &password) < 0 ||
	    json_get_bool(r, r->json, "admin", false, &admin) < 0 ||
	    json_get_uint(r, r->json, "quota", false, QUOTA_MAX, &quota) < 0 ||
	    json_get_uint(r, r->json, "quota_messages", false, QUOTA_MAX,
			  &quota_messages) < 0 ||
	    json_get_bool(r, r->json, "enabled", false, &enabled) < 0)
		goto out;
	/* An admin cannot lock themself out of the panel. */
	if (self && u.admin && !admin) {
		res = reply_problem(r, 409, "field 'admin': you cannot remove your own admin "
				    "rights; ask another admin");
		goto out;
	}
	if (self && u.enabled && !enabled) {
		res = reply_problem(r, 409, "field 'enabled': you cannot disable your own account");
		goto out;
	}
	if (password != NULL && self && check_current_password(r) < 0)
		goto out;

	if (password != NULL) {
		char *hash = NULL;
		if (password_hash(password, &hash, &error) < 0) {
			res = reply_problem(r, 422, "field 'password': %s", error);
			goto out;
		}
		st = store_user_set_password(r->st, u.address, hash, &error);
		free(hash);
		if (st == STORE_OK)
			set_scram(r, u.address, password);
		if (st == STORE_OK) {
			/* The new password moved the user's epoch, which ends every
			 * session; the one that changed its own password goes on. */
			int64_t epoch;
			const char *keep = self && r->session_id != NULL &&
				store_user_epoch(r->st, u.id, NULL, &epoch, &error) == STORE_OK
				? r->session_id : NULL;
			if (keep != NULL)
				web_session_set_epoch(keep, epoch);
			web_session_destroy_user(u.id, keep);
			log_info("web user=%s password changed by=%s", u.address, r->user.address);
		}
	}
	if (st == STORE_OK && admin != u.admin)
		st = store_user_set_admin(r->st, u.address, admin, &error);
	if (st == STORE_OK && quota != u.quota)
		st = store_user_set_quota(r->st, u.address, quota, &error);
	if (st == STORE_OK && quota_messages != u.quota_messages)
		st = store_user_set_quota_messages(r->st, u.address, quota_messages,
						   &error);
	if (st == STORE_OK && enabled != u.enabled &&
	    (st = store_user_set_enabled(r->st, u.address, enabled, &error)) == STORE_OK &&
	    !enabled)
		web_session_destroy_user(u.id, NULL);
	if (st != STORE_OK) {
		res = reply_store_error(r, st, error);
		goto out;
	}
	res = reply_user(r, 200, u.address);
out:
	store_user_clear(&u);
	return res;
}

enum MHD_Result
api_users_delete(struct web_request *r)
{
	const char *address = r->params[0], *error;
	if (str_eq_nocase(address, r->user.address))
		return reply_problem(r, 409, "you cannot delete your own account");
	int st = store_user_del(r->st, address, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web user=%s deleted by=%s", esc_str(address), r->user.address);
	return reply_empty(r, 204);
}

/*
 * api_totp: enrolment, confirmation, turning off and the admin's reset of
 * two-factor sign-in, and the code check the sign-in uses (api_totp.h).
 *
 * Only the user enrols and turns it off for themself: the secret is theirs
 * alone, so not even an admin sees it.  An admin only resets it, for a user
 * who lost the device.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/seal.h"
#include "core/throttle.h"
#include "core/totp.h"
#include "web/api_totp.h"
#include "web/internal.h"

void
web_login_failed(struct web_request *r, const char *user, const char *what)
{
	unsigned delay = throttle_account_failure(r->peer_ip, user);
	log_info("web %s user=%s ip=%s result=fail", what, esc_str(user), r->peer_ip);
	if (delay > 0)
		usleep(delay * 1000u);
}

int
web_totp_enabled(struct web_request *r, int64_t user_id, const char **error_r)
{
	struct store_totp t;
	int st = store_totp_get(r->st, user_id, &t, error_r);
	if (st == STORE_NOTFOUND)
		return 0;
	if (st != STORE_OK)
		return -1;
	bool on = t.enabled;
	store_totp_clear(&t);
	return on ? 1 : 0;
}

/* The key of a sealed base32 secret into key[TOTP_KEY_MAX]; 0 or -1. */
static int
open_secret(const char *sealed, unsigned char *key, size_t *len_r, const char **error_r)
{
	char *b32 = NULL;
	size_t b32_len;
	if (unseal(sealed, &b32, &b32_len, error_r) < 0)
		return -1;
	int ret = base32_decode(b32, key, TOTP_KEY_MAX, len_r);
	explicit_bzero(b32, b32_len);
	free(b32);
	if (ret < 0 || *len_r == 0) {
		*error_r = "the stored TOTP secret is not base32";
		return -1;
	}
	return 0;
}

/* Whether code is the secret's at a step after last_step: 1 with *step_r,
 * 0, or -1 when the secret cannot be opened. */
static int
check_code(const struct store_totp *t, const char *code, int64_t *step_r,
	   const char **error_r)
{
	unsigned char key[TOTP_KEY_MAX];
	size_t key_len;
	if (open_secret(t->secret_sealed, key, &key_len, error_r) < 0)
		return -1;
	bool ok = totp_check(key, key_len, (int64_t)time(NULL), code, t->last_step, step_r);
	explicit_bzero(key, sizeof key);
	return ok ? 1 : 0;
}

int
web_totp_verify(struct web_request *r, int64_t user_id, const char *code,
		bool allow_recovery, const char **error_r)
{
	char digits[TOTP_DIGITS + 1], recovery[TOTP_RECOVERY_CHARS + 1];
	struct store_totp t;
	int st = store_totp_get(r->st, user_id, &t, error_r);
	if (st == STORE_NOTFOUND)
		return 0;
	if (st != STORE_OK)
		return -1;
	int ret = 0;
	if (!t.enabled) {
		ret = 0;
	} else if (totp_code_normalize(code, digits)) {
		int64_t step;
		ret = check_code(&t, digits, &step, error_r);
		/* One conditional UPDATE: of two requests with the same code,
		 * one wins (RFC 6238 §5.2). */
		if (ret == 1 && (st = store_totp_use_step(r->st, user_id, step, error_r)) != STORE_OK)
			ret = st == STORE_NOTFOUND ? 0 : -1;
	} else if (allow_recovery && totp_recovery_normalize(code, recovery)) {
		st = store_totp_use_recovery(r->st, user_id, recovery, error_r);
		ret = st == STORE_OK ? 1 : st == STORE_NOTFOUND ? 0 : -1;
		explicit_bzero(recovery, sizeof recovery);
	}
	store_totp_clear(&t);
	return ret;
}

/* The user of the path for a change only they may make: 0 with *u, or -1
 * after replying (404 for someone else's account, as api_users.c does; 403
 * for an admin, who may only reset). */
static int
own_account(struct web_request *r, struct store_user *u)
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
	if (u->id != r->user.id) {
		store_user_clear(u);
		reply_problem(r, 403, "only the user can set up or turn off their own two-factor "
			      "sign-in; an admin can reset it (DELETE)");
		return -1;
	}
	return 0;
}

enum MHD_Result
api_totp_get(struct web_request *r)
{
	const char *address = r->params[0], *error;
	struct store_user u = { 0 };
	struct store_totp t = { 0 };
	if (!web_may_access_user(r, address))
		return reply_problem(r, 404, "user '%s' does not exist", esc_str(address));
	int st = store_user_get(r->st, address, &u, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	st = store_totp_get(r->st, u.id, &t, &error);
	store_user_clear(&u);
	if (st != STORE_OK && st != STORE_NOTFOUND)
		return reply_store_error(r, st, error);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "enabled", t.enabled);
	cJSON_AddBoolToObject(o, "pending", st == STORE_OK && !t.enabled);
	cJSON_AddNumberToObject(o, "recovery_codes_left", t.enabled ? t.recovery_left : 0);
	store_totp_clear(&t);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_totp_enrol(struct web_request *r)
{
	struct store_user u = { 0 };
	const char *error;
	char secret[TOTP_SECRET_B32_LEN + 1], *sealed = NULL;
	enum MHD_Result res;

	if (own_account(r, &u) < 0)
		return MHD_YES;
	totp_secret_new(secret);
	if (seal(secret, strlen(secret), &sealed, &error) < 0) {
		log_error("web totp cannot seal the secret: %s", error);
		res = reply_problem(r, 500, "the secret cannot be stored; see the server log");
		goto out;
	}
	int st = store_totp_begin(r->st, u.id, sealed, &error);
	if (st == STORE_EXISTS) {
		res = reply_problem(r, 409, "two-factor sign-in is on already; turn it off "
				    "first to set up a new device");
		goto out;
	}
	if (st != STORE_OK) {
		res = reply_store_error(r, st, error);
		goto out;
	}
	const char *issuer = r->srv->cfg->hostname != NULL ? r->srv->cfg->hostname : "mailhub";
	char *uri = totp_uri(issuer, u.address, secret);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "secret", secret);
	cJSON_AddStringToObject(o, "uri", uri);
	cJSON_AddNumberToObject(o, "digits", TOTP_DIGITS);
	cJSON_AddNumberToObject(o, "period", TOTP_PERIOD);
	explicit_bzero(uri, strlen(uri));
	free(uri);
	log_info("web totp enrolment started user=%s", u.address);
	res = reply_json(r, 201, o);
out:
	explicit_bzero(secret, sizeof secret);
	free(sealed);
	store_user_clear(&u);
	return res;
}

enum MHD_Result
api_totp_confirm(struct web_request *r)
{
	static const char *const fields[] = { "code", NULL };
	struct store_user u = { 0 };
	struct store_totp t = { 0 };
	const char *code = NULL, *error;
	char digits[TOTP_DIGITS + 1];
	char shown[TOTP_RECOVERY_CODES][TOTP_RECOVERY_TEXT_LEN + 1];
	char canon[TOTP_RECOVERY_CODES][TOTP_RECOVERY_CHARS + 1];
	const char *hashed[TOTP_RECOVERY_CODES];
	enum MHD_Result res = MHD_YES;
	int64_t step;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "code", true, &code) < 0 || own_account(r, &u) < 0)
		return MHD_YES;
	int st = store_totp_get(r->st, u.id, &t, &error);
	if (st == STORE_NOTFOUND || (st == STORE_OK && t.enabled)) {
		res = reply_problem(r, 409, st == STORE_OK ? "two-factor sign-in is on already"
				    : "there is no enrolment to confirm: start one first");
		goto out;
	}
	if (st != STORE_OK) {
		res = reply_store_error(r, st, error);
		goto out;
	}
	int ok = totp_code_normalize(code, digits) ? check_code(&t, digits, &step, &error) : 0;
	if (ok < 0) {
		log_error("web totp user=%s: %s", u.address, error);
		res = reply_problem(r, 500, "the secret cannot be read; see the server log");
		goto out;
	}
	if (ok == 0) {
		res = reply_problem(r, 422, "field 'code': that is not the current code of the "
				    "new secret; check that the device's clock is right");
		goto out;
	}
	for (size_t i = 0; i < TOTP_RECOVERY_CODES; i++) {
		totp_recovery_new(shown[i]);
		if (!totp_recovery_normalize(shown[i], canon[i]))
			panic("a new recovery code does not read back");
		hashed[i] = canon[i];
	}
	st = store_totp_enable(r->st, u.id, step, hashed, TOTP_RECOVERY_CODES, &error);
	if (st != STORE_OK) {
		res = st == STORE_EXISTS || st == STORE_NOTFOUND ? reply_problem(r, 409, "%s", error)
			: reply_store_error(r, st, error);
		goto out;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "enabled", true);
	cJSON *arr = cJSON_AddArrayToObject(o, "recovery_codes");
	for (size_t i = 0; i < TOTP_RECOVERY_CODES; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(shown[i]));
	log_info("web totp on user=%s", u.address);
	res = reply_json(r, 200, o);
out:
	explicit_bzero(shown, sizeof shown);
	explicit_bzero(canon, sizeof canon);
	store_totp_clear(&t);
	store_user_clear(&u);
	return res;
}

enum MHD_Result
api_totp_disable(struct web_request *r)
{
	static const char *const fields[] = { "code", "password", NULL };
	struct store_user u = { 0 }, again = { 0 };
	const char *code = NULL, *password = NULL, *error;
	enum MHD_Result res = MHD_YES;

	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_string(r, r->json, "code", false, &code) < 0 ||
	    json_get_string(r, r->json, "password", false, &password) < 0 ||
	    own_account(r, &u) < 0)
		return MHD_YES;
	if ((code == NULL) == (password == NULL)) {
		res = reply_problem(r, 422, "field 'code': give a current code (or a recovery "
				    "code), or else field 'password'");
		goto out;
	}
	if (throttle_blocked(r->peer_ip)) {
		res = reply_problem(r, 429, "too many failed logins from this address; try later");
		goto out;
	}
	int on = web_totp_enabled(r, u.id, &error);
	if (on == 0) {
		res = reply_problem(r, 409, "two-factor sign-in is not on");
		goto out;
	}
	int ok = on < 0 ? -1 : 0;
	if (ok == 0 && code != NULL)
		ok = web_totp_verify(r, u.id, code, true, &error);
	else if (ok == 0)
		ok = strlen(password) <= PASSWORD_MAX &&
		     store_user_authenticate(r->st, u.address, password, &again, &error) == STORE_OK;
	store_user_clear(&again);
	if (ok < 0) {
		log_error("web totp user=%s: %s", u.address, error);
		res = reply_problem(r, 500, "two-factor sign-in cannot be read; see the server log");
		goto out;
	}
	if (ok == 0) {
		web_login_failed(r, u.address, "totp-disable");
		res = reply_problem(r, 422, code != NULL ? "field 'code': wrong or used code"
				    : "field 'password' is not your current password");
		goto out;
	}
	int st = store_totp_remove(r->st, u.id, false, &error);
	if (st != STORE_OK && st != STORE_NOTFOUND) {
		res = reply_store_error(r, st, error);
		goto out;
	}
	log_info("web totp off user=%s", u.address);
	res = reply_empty(r, 204);
out:
	store_user_clear(&u);
	return res;
}

enum MHD_Result
api_totp_reset(struct web_request *r)
{
	const char *address = r->params[0], *error;
	struct store_user u = { 0 };
	int st = store_user_get(r->st, address, &u, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	if (u.id == r->user.id) {
		store_user_clear(&u);
		return reply_problem(r, 409, "to turn off your own two-factor sign-in, use "
				     "POST .../totp/disable with a code or your password");
	}
	st = store_totp_remove(r->st, u.id, true, &error);
	if (st == STORE_NOTFOUND) {
		enum MHD_Result res = reply_problem(r, 404, "user '%s' has no two-factor sign-in",
						    u.address);
		store_user_clear(&u);
		return res;
	}
	if (st != STORE_OK) {
		store_user_clear(&u);
		return reply_store_error(r, st, error);
	}
	web_session_destroy_user(u.id, NULL);
	log_info("web totp reset user=%s by=%s", u.address, r->user.address);
	store_user_clear(&u);
	return reply_empty(r, 204);
}

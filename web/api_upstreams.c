/*
 * api_upstreams: the REST resource of upstream accounts (see api_upstreams.h).
 */
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/seal.h"
#include "fetch/fetch.h"
#include "store/sieve_store.h"
#include "store/upstreams.h"
#include "web/api_upstreams.h"
#include "web/internal.h"
#include "web/upstream_test.h"
#include "fetch/oauth.h"
#include "fetch/presets.h"

static cJSON *
upstream_json(struct web_request *r, const struct store_upstream *up)
{
	const struct upstream_settings *s = &up->set;
	const char *error;
	bool sieve = false;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)up->id);
	cJSON_AddStringToObject(o, "owner", up->owner);
	cJSON_AddStringToObject(o, "protocol", upstream_protocol_name(s->protocol));
	cJSON_AddStringToObject(o, "host", s->host);
	cJSON_AddNumberToObject(o, "port", s->port);
	cJSON_AddStringToObject(o, "tls", upstream_tls_name(s->tls));
	cJSON_AddStringToObject(o, "tls_verify", s->tls_verify);
	cJSON_AddStringToObject(o, "username", s->username);
	cJSON *f = cJSON_AddArrayToObject(o, "folders");
	for (size_t i = 0; i < s->n_folders; i++)
		cJSON_AddItemToArray(f, cJSON_CreateString(s->folders[i]));
	cJSON_AddStringToObject(o, "target", s->target);
	cJSON_AddBoolToObject(o, "keep", s->keep);
	cJSON_AddBoolToObject(o, "idle", s->idle);
	cJSON_AddBoolToObject(o, "dedupe", s->dedupe);
	cJSON_AddBoolToObject(o, "mirror", s->mirror);
	cJSON_AddBoolToObject(o, "two_way", s->two_way);
	/* the owner's active Sieve script runs on what is fetched */
	if (store_upstream_sieve_get(r->st, up->id, &sieve, &error) != STORE_OK)
		log_error("web upstream=%lld cannot read its sieve setting: %s", (long long)up->id,
			  error);
	cJSON_AddBoolToObject(o, "sieve", sieve);
	cJSON_AddNumberToObject(o, "interval", s->interval);
	cJSON_AddBoolToObject(o, "enabled", s->enabled);
	cJSON_AddStringToObject(o, "auth", upstream_auth_name(s->auth));
	if (s->provider != NULL)
		cJSON_AddStringToObject(o, "provider", s->provider);
	else
		cJSON_AddNullToObject(o, "provider");
	cJSON *state = cJSON_AddObjectToObject(o, "state");
	cJSON_AddItemToObject(state, "last_ok", json_time(up->last_ok));
	cJSON_AddItemToObject(state, "last_attempt", json_time(up->last_attempt));
	if (up->last_error != NULL)
		cJSON_AddStringToObject(state, "last_error", up->last_error);
	else
		cJSON_AddNullToObject(state, "last_error");
	cJSON_AddNumberToObject(state, "fetched", (double)up->fetched);
	cJSON_AddNumberToObject(state, "failures", up->failures);
	/* oauth2: the grant was refused (or never given): paused until the
	 * user connects the account (last_error says so in plain words) */
	cJSON_AddBoolToObject(state, "reconnect", up->reconnect);
	return o;
}

/* The account of the path when the caller may see it; else a reply and -1. */
static int
path_account(struct web_request *r, struct store_upstream *up)
{
	int64_t id;
	const char *error;
	if (web_param_id(r, 0, &id) < 0)
		return -1;
	int st = store_upstream_get(r->st, id, up, &error);
	if (st == STORE_OK && !web_is_admin(r) && up->user_id != r->user.id) {
		store_upstream_clear(up);
		st = STORE_NOTFOUND;
	}
	if (st != STORE_OK) {
		if (st == STORE_NOTFOUND)
			reply_problem(r, 404, "upstream account %lld does not exist", (long long)id);
		else
			reply_store_error(r, st, error);
		return -1;
	}
	return 0;
}

static const char *const setting_fields[] = {
	"protocol", "host", "port", "tls", "tls_verify", "username", "password",
	"folders", "target", "keep", "idle", "dedupe", "mirror", "interval", "enabled",
	"two_way", "auth", "provider", "sieve", NULL
};

/* The body's "sieve" (whether the owner's script runs on fetched mail,
 * kept apart from the settings: store/sieve_store.h): 0 and *given_r,
 * or -1 after a reply. */
static int
read_sieve(struct web_request *r, bool *given_r, bool *on_r)
{
	*given_r = cJSON_GetObjectItemCaseSensitive(r->json, "sieve") != NULL;
	*on_r = false;
	return json_get_bool(r, r->json, "sieve", false, on_r);
}

/* upstream_settings_check() starts its reasons with the field's name
 * ("port must be 1-65535", "folders: at most 100"): name it the way every
 * other answer of the API does, so the panel puts it beside the field. */
static void
reply_settings_error(struct web_request *r, const char *error)
{
	size_t len = strspn(error, "abcdefghijklmnopqrstuvwxyz_");
	for (size_t i = 0; len > 0 && setting_fields[i] != NULL; i++) {
		if (strlen(setting_fields[i]) == len && strncmp(error, setting_fields[i], len) == 0) {
			reply_problem(r, 422, "field '%s': %s", setting_fields[i], error);
			return;
		}
	}
	reply_problem(r, 422, "%s", error);
}

/*
 * Reads the settings fields of the body over *set (fields left out keep
 * their value) and the password (NULL when not given).  -1 after a reply.
 */
static int
read_settings(struct web_request *r, struct upstream_settings *set,
	      const char **password_r)
{
	const cJSON *o = r->json;
	const char *text = NULL;
	uint64_t v;
	*password_r = NULL;
	text = NULL;
	if (json_get_string(r, o, "protocol", false, &text) < 0)
		return -1;
	if (text != NULL && upstream_protocol_parse(text, &set->protocol) < 0) {
		reply_problem(r, 422, "field 'protocol' must be \"imap\" or \"pop3\"");
		return -1;
	}
	/* a preset fills host, port, TLS, auth and provider; fields given
	 * beside it win */
	text = NULL;
	if (json_get_string(r, o, "preset", false, &text) < 0)
		return -1;
	if (text != NULL) {
		const struct upstream_preset *p = upstream_preset_find(text);
		const char *perr;
		if (p == NULL) {
			reply_problem(r, 422, "field 'preset' must be gmail, outlook, yahoo, icloud, "
				      "fastmail or gmx");
			return -1;
		}
		if (upstream_preset_apply(p, set, &perr) < 0) {
			reply_problem(r, 422, "field 'preset': %s", perr);
			return -1;
		}
	}
	text = NULL;
	if (json_get_string(r, o, "auth", false, &text) < 0)
		return -1;
	if (text != NULL && upstream_auth_parse(text, &set->auth) < 0) {
		reply_problem(r, 422, "field 'auth' must be \"password\" or \"oauth2\"");
		return -1;
	}
	text = NULL;
	if (json_get_text(r, o, "provider", false, UPSTREAM_PROVIDER_MAX, &text) < 0)
		return -1;
	if (text != NULL) {
		free(set->provider);
		set->provider = xstrdup(text);
	}
	text = NULL;
	if (json_get_text(r, o, "host", false, UPSTREAM_HOST_MAX, &text) < 0)
		return -1;
	if (text != NULL) {
		free(set->host);
		set->host = xstrdup(text);
	}
	v = set->port;
	if (json_get_uint(r, o, "port", false, 65535, &v) < 0)
		return -1;
	set->port = (unsigned)v;
	text = NULL;
	if (json_get_string(r, o, "tls", false, &text) < 0)
		return -1;
	if (text != NULL && upstream_tls_parse(text, &set->tls) < 0) {
		reply_problem(r, 422, "field 'tls' must be \"implicit\", \"starttls\" or \"none\"");
		return -1;
	}
	text = NULL;
	if (json_get_text(r, o, "tls_verify", false, 100, &text) < 0)
		return -1;
	if (text != NULL) {
		free(set->tls_verify);
		set->tls_verify = xstrdup(text);
	}
	text = NULL;
	if (json_get_text(r, o, "username", false, UPSTREAM_USERNAME_MAX, &text) < 0)
		return -1;
	if (text != NULL) {
		free(set->username);
		set->username = xstrdup(text);
	}
	if (json_get_string(r, o, "password", false, password_r) < 0)
		return -1;
	if (*password_r != NULL && (**password_r == '\0' || strlen(*password_r) > PASSWORD_MAX)) {
		reply_problem(r, 422, "field 'password' must be 1-%d bytes", PASSWORD_MAX);
		return -1;
	}
	const cJSON *folders = cJSON_GetObjectItemCaseSensitive(o, "folders");
	if (folders != NULL) {
		if (!cJSON_IsArray(folders) || cJSON_GetArraySize(folders) < 1 ||
		    cJSON_GetArraySize(folders) > UPSTREAM_FOLDERS_MAX) {
			reply_problem(r, 422, "field 'folders' must be an array of 1-%d folder names",
				      UPSTREAM_FOLDERS_MAX);
			return -1;
		}
		size_t n = (size_t)cJSON_GetArraySize(folders), i = 0;
		const char **names = xcalloc(n, sizeof *names);
		const cJSON *item;
		cJSON_ArrayForEach(item, folders) {
			if (!cJSON_IsString(item) || item->valuestring == NULL) {
				free(names);
				reply_problem(r, 422, "field 'folders' must hold strings");
				return -1;
			}
			names[i++] = item->valuestring;
		}
		upstream_settings_set_folders(set, names, n);
		free(names);
	}
	text = NULL;
	if (json_get_text(r, o, "target", false, 1024, &text) < 0)
		return -1;
	if (text != NULL) {
		free(set->target);
		set->target = xstrdup(text);
	}
	v = set->interval;
	if (json_get_bool(r, o, "keep", false, &set->keep) < 0 ||
	    json_get_bool(r, o, "idle", false, &set->idle) < 0 ||
	    json_get_bool(r, o, "dedupe", false, &set->dedupe) < 0 ||
	    json_get_bool(r, o, "mirror", false, &set->mirror) < 0 ||
	    json_get_bool(r, o, "two_way", false, &set->two_way) < 0 ||
	    json_get_bool(r, o, "enabled", false, &set->enabled) < 0 ||
	    json_get_uint(r, o, "interval", false, UPSTREAM_INTERVAL_MAX, &v) < 0)
		return -1;
	set->interval = (unsigned)v;
	const char *error;
	if (upstream_settings_check(set, &error) < 0) {
		reply_settings_error(r, error);
		return -1;
	}
	return 0;
}

/*
 * A stored password only ever goes to the server it was saved for: the
 * same protocol, host, port, TLS mode, certificate check and username.
 * Otherwise anyone who may change or test the account (its owner's
 * session, or an admin) could send it to a host of their own and read it.
 * Changing any of these needs the password again.  NULL when none
 * changed, else the first field that did.
 */
static const char *
destination_changed(const struct upstream_settings *saved,
		    const struct upstream_settings *now)
{
	if (saved->protocol != now->protocol)
		return "protocol";
	if (strcasecmp(saved->host, now->host) != 0)	/* RFC 4343: DNS names */
		return "host";
	if (saved->port != now->port)
		return "port";
	if (saved->tls != now->tls)
		return "tls";
	if (strcmp(saved->tls_verify, now->tls_verify) != 0)
		return "tls_verify";
	if (strcmp(saved->username, now->username) != 0)
		return "username";
	return NULL;
}

/* -1 after a 422 when the body changes where the stored password would go
 * (see above) without giving a password. */
static int
check_stored_password_use(struct web_request *r, const struct upstream_settings *saved,
			  const struct upstream_settings *now, const char *password)
{
	const char *changed = password == NULL ? destination_changed(saved, now) : NULL;
	if (changed == NULL)
		return 0;
	reply_problem(r, 422, "field 'password' is required when '%s' changes: the stored "
		      "password only goes to the server, port, TLS settings and username it "
		      "was saved with", changed);
	return -1;
}

/* A new account needs these; names the first one missing. */
static enum MHD_Result
reply_missing(struct web_request *r)
{
	static const char *const required[] = { "protocol", "host", "username", "password" };
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (cJSON_GetObjectItemCaseSensitive(r->json, required[i]) == NULL)
			return reply_problem(r, 422, "field '%s' is required", required[i]);
	return reply_problem(r, 422, "fields 'protocol', 'host', 'username' and 'password' "
			     "are required");
}

/* Seals a password; -1 after a reply. */
static int
seal_password(struct web_request *r, const char *password, char **sealed_r)
{
	const char *error;
	if (seal(password, strlen(password), sealed_r, &error) < 0) {
		log_error("web cannot seal an upstream password: %s", error);
		reply_problem(r, 500, "cannot seal the password: %s", error);
		return -1;
	}
	return 0;
}

static enum MHD_Result
reply_account(struct web_request *r, unsigned status, int64_t id)
{
	struct store_upstream up;
	const char *error;
	int st = store_upstream_get(r->st, id, &up, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = upstream_json(r, &up);
	store_upstream_clear(&up);
	return reply_json(r, status, o);
}

enum MHD_Result
api_upstreams_list(struct web_request *r)
{
	int64_t user_id = web_is_admin(r) ? 0 : r->user.id;
	const char *owner = web_query(r, "owner"), *error;
	if (owner != NULL && web_is_admin(r)) {
		struct store_user u;
		int st = store_user_get(r->st, owner, &u, &error);
		if (st != STORE_OK)
			return reply_store_error(r, st, error);
		user_id = u.id;
		store_user_clear(&u);
	}
	struct store_upstream *list = NULL;
	size_t n = 0;
	int st = store_upstream_list(r->st, user_id, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, upstream_json(r, &list[i]));
	store_upstream_list_free(&list, n);
	return reply_json(r, 200, arr);
}

enum MHD_Result
api_upstreams_create(struct web_request *r)
{
	static const char *const fields[] = {
		"owner", "protocol", "host", "port", "tls", "tls_verify", "username",
		"password", "folders", "target", "keep", "idle", "dedupe", "mirror", "interval",
		"enabled", "two_way", "auth", "provider", "preset", "sieve", NULL
	};
	const char *owner = r->user.address, *password, *error;
	bool sieve_given, sieve;
	struct upstream_settings set = { 0 };
	set.keep = true;
	set.idle = true;
	set.enabled = true;
	set.protocol = (enum upstream_protocol)-1;
	enum MHD_Result res = MHD_YES;
	char *sealed = NULL;
	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_address(r, r->json, "owner", false, false, &owner) < 0 ||
	    read_sieve(r, &sieve_given, &sieve) < 0)
		goto out;
	if (!web_may_access_user(r, owner)) {
		res = reply_problem(r, 403, "only an admin may add accounts for another user");
		goto out;
	}
	bool preset = cJSON_GetObjectItemCaseSensitive(r->json, "preset") != NULL;
	if (preset && cJSON_GetObjectItemCaseSensitive(r->json, "protocol") == NULL)
		set.protocol = UPSTREAM_IMAP;
	if ((cJSON_GetObjectItemCaseSensitive(r->json, "protocol") == NULL && !preset) ||
	    (cJSON_GetObjectItemCaseSensitive(r->json, "host") == NULL && !preset) ||
	    cJSON_GetObjectItemCaseSensitive(r->json, "username") == NULL) {
		res = reply_problem(r, 422, "fields 'protocol', 'host' (or 'preset'), 'username' "
				    "and 'password' are required");
		goto out;
	}
	if (read_settings(r, &set, &password) < 0)
		goto out;
	/* an oauth2 account starts without a grant: it is connected next
	 * (POST .../oauth/device, or the panel's Connect) */
	if (set.auth == UPSTREAM_AUTH_OAUTH2 && password != NULL) {
		res = reply_problem(r, 422, "field 'password': an oauth2 account has none; "
				    "connect it instead");
		goto out;
	}
	if (set.auth == UPSTREAM_AUTH_PASSWORD && password == NULL) {
		res = reply_problem(r, 422, "fields 'protocol', 'host' (or 'preset'), 'username' "
				    "and 'password' are required");
		goto out;
	}
	if (set.auth == UPSTREAM_AUTH_OAUTH2 &&
	    fetch_oauth_provider(r->srv->cfg, set.provider, &error) == NULL) {
		res = reply_problem(r, 422, "field 'provider': %s", error);
		goto out;
	}
	if (seal_password(r, password != NULL ? password : "", &sealed) < 0)
		goto out;
	int64_t id;
	int st = store_upstream_add(r->st, owner, &set, sealed, &id, &error);
	if (st == STORE_OK && set.auth == UPSTREAM_AUTH_OAUTH2)
		st = store_upstream_oauth_reconnect(r->st, id, FETCH_OAUTH_CONNECT, &error);
	if (st == STORE_OK && sieve_given && sieve)
		st = store_upstream_sieve_set(r->st, id, true, &error);
	if (st != STORE_OK) {
		if (st == STORE_NOTFOUND)
			res = reply_problem(r, 422, "field 'owner': %s", error);
		else if (st == STORE_INVALID)
			res = reply_problem(r, 422, "%s", error);
		else
			res = reply_store_error(r, st, error);
		goto out;
	}
	log_info("web upstream=%lld added owner=%s host=%s by=%s", (long long)id,
		 esc_str(owner), esc_str(set.host), r->user.address);
	fetch_account_now(id);
	res = reply_account(r, 201, id);
out:
	free(sealed);
	upstream_settings_clear(&set);
	return res;
}

enum MHD_Result
api_upstreams_get(struct web_request *r)
{
	struct store_upstream up;
	if (path_account(r, &up) < 0)
		return MHD_YES;
	cJSON *o = upstream_json(r, &up);
	store_upstream_clear(&up);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_upstreams_patch(struct web_request *r)
{
	struct store_upstream up;
	struct upstream_settings saved;
	const char *password, *error;
	char *sealed = NULL;
	bool sieve_given, sieve;
	enum MHD_Result res = MHD_YES;
	if (path_account(r, &up) < 0)
		return MHD_YES;
	upstream_settings_copy(&saved, &up.set);
	if (json_only_fields(r, r->json, setting_fields) < 0 ||
	    read_sieve(r, &sieve_given, &sieve) < 0 ||
	    read_settings(r, &up.set, &password) < 0 ||
	    check_stored_password_use(r, &saved, &up.set, password) < 0 ||
	    (password != NULL && seal_password(r, password, &sealed) < 0))
		goto out;
	/* the stored secret is a password or a grant of one provider: it
	 * does not turn into the other */
	if (up.set.auth != saved.auth ||
	    (saved.provider != NULL && strcmp(saved.provider, up.set.provider) != 0)) {
		res = reply_problem(r, 422, "fields 'auth' and 'provider' do not change: delete the "
				    "account and add it again");
		goto out;
	}
	if (up.set.auth == UPSTREAM_AUTH_OAUTH2 && password != NULL) {
		res = reply_problem(r, 422, "field 'password': an oauth2 account has none; "
				    "connect it instead");
		goto out;
	}
	int st = store_upstream_update(r->st, up.id, &up.set, sealed, &error);
	if (st == STORE_OK && sieve_given)
		st = store_upstream_sieve_set(r->st, up.id, sieve, &error);
	if (st != STORE_OK) {
		res = st == STORE_INVALID ? reply_problem(r, 422, "%s", error)
					  : reply_store_error(r, st, error);
		goto out;
	}
	log_info("web upstream=%lld changed by=%s", (long long)up.id, r->user.address);
	fetch_account_now(up.id);
	res = reply_account(r, 200, up.id);
out:
	free(sealed);
	upstream_settings_clear(&saved);
	store_upstream_clear(&up);
	return res;
}

enum MHD_Result
api_upstreams_delete(struct web_request *r)
{
	struct store_upstream up;
	const char *error;
	if (path_account(r, &up) < 0)
		return MHD_YES;
	int st = store_upstream_del(r->st, up.id, &error);
	if (st == STORE_OK) {
		log_info("web upstream=%lld deleted by=%s", (long long)up.id, r->user.address);
		/* RFC 7009: the provider forgets the grant too */
		fetch_oauth_revoke(r->srv->cfg, &up);
	}
	store_upstream_clear(&up);
	return st == STORE_OK ? reply_empty(r, 204) : reply_store_error(r, st, error);
}

enum MHD_Result
api_upstreams_fetch(struct web_request *r)
{
	struct store_upstream up;
	const char *error;
	if (path_account(r, &up) < 0)
		return MHD_YES;
	/* the mark works for a fetcher in this process or another; the
	 * direct call only makes this process's fetcher look at once */
	int st = store_upstream_request_fetch(r->st, up.id, &error);
	if (st == STORE_OK)
		fetch_account_now(up.id);
	int64_t id = up.id;
	store_upstream_clear(&up);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddBoolToObject(o, "queued", true);
	return reply_json(r, 202, o);
}

enum MHD_Result
api_upstreams_test(struct web_request *r)
{
	static const char *const fields[] = {
		"id", "protocol", "host", "port", "tls", "tls_verify", "username",
		"password", "folders", "target", "keep", "idle", "dedupe", "mirror", "interval",
		"enabled", "two_way", "auth", "provider", "sieve", NULL
	};
	struct store_upstream up = { 0 };
	struct upstream_settings saved = { 0 };
	const char *password = NULL, *error;
	char *stored = NULL;
	size_t stored_len = 0;
	uint64_t id = 0;
	enum MHD_Result res = MHD_YES;
	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_uint(r, r->json, "id", false, INT64_MAX, &id) < 0)
		return MHD_YES;
	if (id != 0) {
		/* a stored account, with changes from the body on top */
		int st = store_upstream_get(r->st, (int64_t)id, &up, &error);
		if (st == STORE_OK && !web_is_admin(r) && up.user_id != r->user.id) {
			store_upstream_clear(&up);
			st = STORE_NOTFOUND;
		}
		if (st != STORE_OK)
			return st == STORE_NOTFOUND
			       ? reply_problem(r, 404, "upstream account %llu does not exist",
					       (unsigned long long)id)
			       : reply_store_error(r, st, error);
		upstream_settings_copy(&saved, &up.set);
	} else {
		up.set.protocol = (enum upstream_protocol)-1;
		up.set.keep = up.set.idle = up.set.enabled = true;
		if (cJSON_GetObjectItemCaseSensitive(r->json, "protocol") == NULL ||
		    cJSON_GetObjectItemCaseSensitive(r->json, "host") == NULL ||
		    cJSON_GetObjectItemCaseSensitive(r->json, "username") == NULL ||
		    cJSON_GetObjectItemCaseSensitive(r->json, "password") == NULL) {
			res = reply_missing(r);
			goto out;
		}
	}
	if (read_settings(r, &up.set, &password) < 0 ||
	    (id != 0 && check_stored_password_use(r, &saved, &up.set, password) < 0))
		goto out;
	if (up.set.auth == UPSTREAM_AUTH_OAUTH2 && (id == 0 || saved.auth != UPSTREAM_AUTH_OAUTH2)) {
		res = reply_problem(r, 422, "an oauth2 account is tried once it is saved and "
				    "connected");
		goto out;
	}
	if (password == NULL) {
		/* the stored password, or a (renewed) access token */
		if (fetch_oauth_secret(r->srv->cfg, r->st, &up, false, &stored, &stored_len,
				       &error) < 0) {
			res = reply_problem(r, up.set.auth == UPSTREAM_AUTH_OAUTH2 ? 422 : 500,
					    "%s", error);
			goto out;
		}
		password = stored;
	}
	/* off the request thread (upstream_test.c); the settings move there */
	res = web_test_start(r, &up.set, password,
			     r->srv->cfg->fetch_allow_private_hosts);
out:
	if (stored != NULL) {
		explicit_bzero(stored, stored_len);
		free(stored);
	}
	upstream_settings_clear(&saved);
	store_upstream_clear(&up);
	return res;
}

/* The session a code flow is bound to (RFC 6749 §10.12): the browser
 * session, or the token's user for API clients. */
static const char *
flow_binding(struct web_request *r)
{
	return r->session_id != NULL ? errfmt("s:%s", r->session_id)
				     : errfmt("u:%lld", (long long)r->user.id);
}

/* The oauth2 account of the path; else a reply and -1. */
static int
path_oauth_account(struct web_request *r, struct store_upstream *up)
{
	if (path_account(r, up) < 0)
		return -1;
	if (up->set.auth != UPSTREAM_AUTH_OAUTH2) {
		reply_problem(r, 409, "upstream account %lld logs in with a password",
			      (long long)up->id);
		store_upstream_clear(up);
		return -1;
	}
	return 0;
}

enum MHD_Result
api_upstreams_device(struct web_request *r)
{
	struct store_upstream up;
	struct oauth2_device dev;
	const char *error;
	if (path_oauth_account(r, &up) < 0)
		return MHD_YES;
	int ret = fetch_oauth_device_begin(r->srv->cfg, up.id, up.set.provider, &dev, &error);
	store_upstream_clear(&up);
	if (ret < 0)
		return reply_problem(r, 502, "%s", error);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "user_code", dev.user_code);
	cJSON_AddStringToObject(o, "verification_uri", dev.verification_uri);
	if (dev.verification_uri_complete != NULL)
		cJSON_AddStringToObject(o, "verification_uri_complete",
					dev.verification_uri_complete);
	cJSON_AddNumberToObject(o, "expires_in", (double)dev.expires_in);
	cJSON_AddNumberToObject(o, "interval", (double)dev.interval);
	oauth2_device_clear(&dev);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_upstreams_device_poll(struct web_request *r)
{
	struct store_upstream up;
	const char *error, *status;
	if (path_oauth_account(r, &up) < 0)
		return MHD_YES;
	int64_t id = up.id;
	int ret = fetch_oauth_device_step(r->srv->cfg, r->st, id, up.set.provider, &status,
					  &error);
	store_upstream_clear(&up);
	if (ret < 0)
		return reply_problem(r, 422, "%s", error);
	if (strcmp(status, "connected") == 0) {
		log_info("web upstream=%lld connected (device grant) by=%s", (long long)id,
			 r->user.address);
		fetch_account_now(id);
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", status);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_upstreams_authorize(struct web_request *r)
{
	static const char *const fields[] = { "redirect_uri", NULL };
	struct store_upstream up;
	const char *redirect = NULL, *error;
	char *url = NULL;
	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_text(r, r->json, "redirect_uri", true, 2048, &redirect) < 0)
		return MHD_YES;
	if (strncmp(redirect, "https://", 8) != 0 && strncmp(redirect, "http://", 7) != 0)
		return reply_problem(r, 422, "field 'redirect_uri' must be an http(s) URL");
	if (path_oauth_account(r, &up) < 0)
		return MHD_YES;
	int ret = fetch_oauth_code_begin(r->srv->cfg, up.id, up.set.provider, redirect,
					 flow_binding(r), &url, &error);
	store_upstream_clear(&up);
	if (ret < 0)
		return reply_problem(r, 422, "%s", error);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "url", url);
	free(url);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_upstreams_code(struct web_request *r)
{
	static const char *const fields[] = { "state", "code", NULL };
	struct store_upstream up;
	const char *state = NULL, *code = NULL, *error;
	if (json_only_fields(r, r->json, fields) < 0 ||
	    json_get_text(r, r->json, "state", true, 128, &state) < 0 ||
	    json_get_text(r, r->json, "code", true, 4096, &code) < 0)
		return MHD_YES;
	if (path_oauth_account(r, &up) < 0)
		return MHD_YES;
	int64_t id = up.id;
	int ret = fetch_oauth_code_finish(r->srv->cfg, r->st, id, up.set.provider, state, code,
					  flow_binding(r), &error);
	store_upstream_clear(&up);
	if (ret < 0)
		return reply_problem(r, 422, "%s", error);
	log_info("web upstream=%lld connected (authorization code) by=%s", (long long)id,
		 r->user.address);
	fetch_account_now(id);
	return reply_account(r, 200, id);
}

enum MHD_Result
api_upstream_presets(struct web_request *r)
{
	size_t n;
	const struct upstream_preset *p = upstream_presets(&n);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", p[i].name);
		cJSON_AddStringToObject(o, "title", p[i].title);
		cJSON_AddStringToObject(o, "imap_host", p[i].imap_host);
		if (p[i].pop3_host != NULL)
			cJSON_AddStringToObject(o, "pop3_host", p[i].pop3_host);
		else
			cJSON_AddNullToObject(o, "pop3_host");
		cJSON_AddStringToObject(o, "smtp_host", p[i].smtp_host);
		cJSON_AddNumberToObject(o, "smtp_port", p[i].smtp_port);
		cJSON_AddStringToObject(o, "smtp_tls", upstream_tls_name(p[i].smtp_tls));
		cJSON_AddStringToObject(o, "auth", upstream_auth_name(p[i].auth));
		if (p[i].provider != NULL) {
			cJSON_AddStringToObject(o, "provider", p[i].provider);
			/* whether the admin has set the provider up */
			const char *why;
			cJSON_AddBoolToObject(o, "provider_ready",
					      fetch_oauth_provider(r->srv->cfg, p[i].provider,
								   &why) != NULL);
		} else {
			cJSON_AddNullToObject(o, "provider");
		}
		cJSON *sp = cJSON_AddObjectToObject(o, "special_folders");
		if (p[i].sent != NULL)
			cJSON_AddStringToObject(sp, "sent", p[i].sent);
		if (p[i].junk != NULL)
			cJSON_AddStringToObject(sp, "junk", p[i].junk);
		if (p[i].all != NULL)
			cJSON_AddStringToObject(sp, "all", p[i].all);
		cJSON_AddStringToObject(o, "guide", p[i].guide);
		cJSON_AddItemToArray(arr, o);
	}
	return reply_json(r, 200, arr);
}

int
api_upstream_path_account(struct web_request *r, struct store_upstream *up)
{
	return path_account(r, up);
}

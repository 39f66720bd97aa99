/*
 * api_relay: the smarthost setting (see api_relay.h).
 */
#include "web/api_relay.h"

#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/seal.h"
#include "store/relaytls.h"
#include "store/relayq.h"
#include "store/upstreams.h"

static cJSON *
relay_json(const struct relayq_smarthost *sh)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "mode", sh != NULL ? "smarthost" : "direct");
	if (sh == NULL) {
		cJSON_AddNullToObject(o, "smarthost");
		return o;
	}
	cJSON *s = cJSON_AddObjectToObject(o, "smarthost");
	cJSON_AddStringToObject(s, "host", sh->host);
	cJSON_AddNumberToObject(s, "port", sh->port);
	cJSON_AddStringToObject(s, "tls", sh->tls);
	if (sh->username != NULL)
		cJSON_AddStringToObject(s, "username", sh->username);
	else
		cJSON_AddNullToObject(s, "username");
	cJSON_AddBoolToObject(s, "password_set", sh->password_sealed != NULL);
	/* the upstream account whose OAuth2 grant logs in (its username) */
	if (sh->oauth_upstream != 0)
		cJSON_AddNumberToObject(s, "oauth_upstream", (double)sh->oauth_upstream);
	else
		cJSON_AddNullToObject(s, "oauth_upstream");
	cJSON_AddItemToObject(s, "updated", json_time(sh->updated));
	return o;
}

/* The field a STORE_INVALID reason of relayq_smarthost_set() is about
 * ("the smarthost port must be 1-65535"), for the panel to show it there. */
static const char *
invalid_field(const char *error)
{
	static const char *const fields[] = { "port", "tls", "username", "password" };
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strstr(error, fields[i]) != NULL)
			return fields[i];
	return "host";
}

static enum MHD_Result
reply_current(struct web_request *r)
{
	struct relayq_smarthost sh;
	const char *error;
	int st = relayq_smarthost_get(r->st, &sh, &error);
	if (st == STORE_NOTFOUND)
		return reply_json(r, 200, relay_json(NULL));
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	enum MHD_Result res = reply_json(r, 200, relay_json(&sh));
	relayq_smarthost_clear(&sh);
	return res;
}

enum MHD_Result
api_relay_get(struct web_request *r)
{
	return reply_current(r);
}

/* GET /api/v1/relay/domains: per destination domain, how the last
 * delivery went (TLS, MTA-STS, DANE, the last error), for the panel. */
enum MHD_Result
api_relay_domains(struct web_request *r)
{
	struct relaytls_domain *list = NULL;
	size_t n = 0;
	const char *error;
	int st = relaytls_domains(r->st, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "domain", list[i].domain);
		cJSON_AddStringToObject(o, "tls", list[i].tls);
		cJSON_AddStringToObject(o, "mta_sts", list[i].mta_sts);
		cJSON_AddStringToObject(o, "dane", list[i].dane);
		if (list[i].last_host != NULL)
			cJSON_AddStringToObject(o, "last_host", list[i].last_host);
		else
			cJSON_AddNullToObject(o, "last_host");
		if (list[i].last_error != NULL)
			cJSON_AddStringToObject(o, "last_error", list[i].last_error);
		else
			cJSON_AddNullToObject(o, "last_error");
		cJSON_AddItemToObject(o, "last_ok", list[i].last_ok > 0 ? json_time(list[i].last_ok)
								 : cJSON_CreateNull());
		cJSON_AddItemToObject(o, "updated", json_time(list[i].updated));
		cJSON_AddItemToArray(arr, o);
	}
	relaytls_domains_free(&list, n);
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "domains", arr);
	return reply_json(r, 200, body);
}

enum MHD_Result
api_relay_put(struct web_request *r)
{
	static const char *const top[] = { "smarthost", NULL };
	static const char *const fields[] = { "host", "port", "tls", "username",
					      "password", "oauth_upstream", NULL };
	const char *host = NULL, *tls = NULL, *username = NULL, *password = NULL;
	const char *error;
	uint64_t port = 0, oauth_upstream = 0;
	struct relayq_smarthost sh = { 0 }, old = { 0 };
	enum MHD_Result res = MHD_YES;

	if (json_only_fields(r, r->json, top) < 0)
		return MHD_YES;
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(r->json, "smarthost");
	if (s == NULL)
		return reply_problem(r, 422, "field 'smarthost' is required (null for direct"
				     " delivery)");
	if (cJSON_IsNull(s)) {
		int st = relayq_smarthost_set(r->st, NULL, &error);
		if (st != STORE_OK)
			return reply_store_error(r, st, error);
		log_info("web relay=direct by=%s", r->user.address);
		return reply_current(r);
	}
	if (!cJSON_IsObject(s))
		return reply_problem(r, 422, "field 'smarthost' must be an object or null");
	if (json_only_fields(r, s, fields) < 0 ||
	    json_get_text(r, s, "host", true, 253, &host) < 0 ||
	    json_get_uint(r, s, "port", true, 65535, &port) < 0 ||
	    json_get_text(r, s, "tls", true, 16, &tls) < 0 ||
	    json_get_text(r, s, "username", false, ADDRESS_MAX, &username) < 0 ||
	    json_get_string(r, s, "password", false, &password) < 0)
		return MHD_YES;
	const cJSON *ou = cJSON_GetObjectItemCaseSensitive(s, "oauth_upstream");
	if (ou != NULL && !cJSON_IsNull(ou) &&
	    json_get_uint(r, s, "oauth_upstream", false, INT64_MAX, &oauth_upstream) < 0)
		return MHD_YES;
	if (oauth_upstream != 0) {
		/* SASL OAUTHBEARER/XOAUTH2 with that account's grant, as
		 * `relay smarthost --oauth-upstream` */
		if (username != NULL || password != NULL)
			return reply_problem(r, 422, "field 'oauth_upstream' logs in with the "
					     "account's username: no 'username' or 'password'");
		struct store_upstream up;
		int st = store_upstream_get(r->st, (int64_t)oauth_upstream, &up, &error);
		if (st == STORE_NOTFOUND)
			return reply_problem(r, 422, "field 'oauth_upstream': upstream account "
					     "%llu does not exist", (unsigned long long)oauth_upstream);
		if (st != STORE_OK)
			return reply_store_error(r, st, error);
		bool oauth = up.set.auth == UPSTREAM_AUTH_OAUTH2;
		store_upstream_clear(&up);
		if (!oauth)
			return reply_problem(r, 422, "field 'oauth_upstream': upstream account %llu "
					     "does not sign in with OAuth2",
					     (unsigned long long)oauth_upstream);
	}
	if (strcmp(tls, "implicit") != 0 && strcmp(tls, "starttls") != 0)
		return reply_problem(r, 422, "field 'tls' must be \"implicit\" or \"starttls\""
				     " (the smarthost is always reached over TLS)");
	if (password != NULL && (password[0] == '\0' || strlen(password) > PASSWORD_MAX))
		return reply_problem(r, 422, "field 'password' must have 1 to %d bytes",
				     PASSWORD_MAX);
	if (password != NULL && username == NULL)
		return reply_problem(r, 422, "field 'password' needs a 'username'");
	if (username != NULL && username[0] == '\0')
		username = NULL;

	sh.host = (char *)host;
	sh.port = (unsigned)port;
	sh.tls = (char *)tls;
	sh.username = (char *)username;
	sh.oauth_upstream = (int64_t)oauth_upstream;
	char *sealed = NULL;
	if (username != NULL && password != NULL) {
		if (seal(password, strlen(password), &sealed, &error) < 0) {
			res = reply_problem(r, 500, "cannot seal the password: %s", error);
			goto out;
		}
	} else if (username != NULL) {
		/* write-only: the same username without a password keeps it */
		int st = relayq_smarthost_get(r->st, &old, &error);
		if (st == STORE_OK && old.username != NULL && old.password_sealed != NULL &&
		    strcmp(old.username, username) == 0) {
			sealed = xstrdup(old.password_sealed);
		} else {
			res = reply_problem(r, 422, "field 'password' is required with a new"
					    " 'username'");
			goto out;
		}
	}
	sh.password_sealed = sealed;
	int st = relayq_smarthost_set(r->st, &sh, &error);
	if (st != STORE_OK) {
		res = st == STORE_INVALID ? reply_problem(r, 422, "field '%s': %s",
							  invalid_field(error), error)
					  : reply_store_error(r, st, error);
		goto out;
	}
	log_info("web relay=smarthost host=%s port=%u oauth_upstream=%llu by=%s", esc_str(host),
		 (unsigned)port, (unsigned long long)oauth_upstream, r->user.address);
	res = reply_current(r);
out:
	if (sealed != NULL)
		explicit_bzero(sealed, strlen(sealed));
	free(sealed);
	relayq_smarthost_clear(&old);
	return res;
}

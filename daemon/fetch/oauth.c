/*
 * oauth: access tokens for upstream accounts, the device grant and the
 * code exchange (see oauth.h).
 */
#include "fetch/oauth.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/client_conn.h"
#include "core/https_get.h"
#include "core/log.h"
#include "core/seal.h"
#include "core/tls.h"
#include "core/xmalloc.h"

/* Serialises refreshes in this process (see oauth.h). */
static pthread_mutex_t oauth_lock = PTHREAD_MUTEX_INITIALIZER;

void
fetch_secret_free(char **secret, size_t len)
{
	if (*secret != NULL) {
		explicit_bzero(*secret, len);
		free(*secret);
		*secret = NULL;
	}
}

const struct config_oauth2 *
fetch_oauth_provider(const struct config *cfg, const char *name, const char **error_r)
{
	const struct config_oauth2 *p = config_oauth2_find(cfg, name);
	if (p == NULL) {
		*error_r = errfmt("there is no OAuth2 provider named '%s' (google, microsoft, "
				  "yahoo or custom)", esc_str(name != NULL ? name : ""));
		return NULL;
	}
	if (p->client_id == NULL || p->token_endpoint == NULL) {
		*error_r = errfmt("the OAuth2 provider %s is not set up: the administrator "
				  "sets client_id (and token_endpoint) in [oauth2_%s]",
				  name, name);
		return NULL;
	}
	return p;
}

/* The form fields that name the client (RFC 6749 §2.3.1: in the body). */
static void
form_client(struct buf *form, const struct config_oauth2 *p)
{
	buf_puts(form, "&client_id=");
	https_form_escape(form, p->client_id);
	if (p->client_secret != NULL) {
		buf_puts(form, "&client_secret=");
		https_form_escape(form, p->client_secret);
	}
}

/* POSTs form to url (an admin-configured endpoint: any address, TLS
 * checked against the system's CAs); the answer in *resp. */
static int
post(const char *url, const struct buf *form, struct https_response *resp,
     const char **error_r)
{
	char *host = NULL, *path = NULL;
	unsigned port;
	const char *error;
	memset(resp, 0, sizeof *resp);
	if (oauth2_url_split(url, &host, &port, &path, &error) < 0) {
		*error_r = errfmt("the endpoint %s: %s", esc_str(url), error);
		return -1;
	}
	int ret = -1;
	const struct client_conn_params cp = {
		.timeout_ms = FETCH_OAUTH_TIMEOUT * 1000,
		.total_ms = FETCH_OAUTH_TIMEOUT * 1000,
		.allow_private = true,
	};
	SSL_CTX *ctx = NULL;
	struct conn *c = client_conn_open(host, port, &cp, &error);
	if (c == NULL) {
		*error_r = errfmt("cannot reach the OAuth2 provider: %s", error);
		goto out;
	}
	ctx = tls_client_ctx_new(TLS_VERIFY_SYSTEM, &error);
	if (ctx == NULL) {
		*error_r = errfmt("cannot make a TLS context: %s", error);
		goto out;
	}
	const struct https_get_params hp = {
		.host = host,
		.port = port,
		.path = path,
		.ctx = ctx,
		.timeout = FETCH_OAUTH_TIMEOUT,
		.max_body = OAUTH2_RESPONSE_MAX,
		.form = form->data != NULL ? form->data : "",
		.accept = "application/json",
	};
	if (https_request_on(c, &hp, resp, NULL, &error) < 0) {
		*error_r = errfmt("the OAuth2 provider: %s", error);
		goto out;
	}
	ret = 0;
out:
	SSL_CTX_free(ctx);
	conn_free(&c);
	free(host);
	free(path);
	return ret;
}

/* POSTs form (its first field without '&') to the token endpoint. */
static enum oauth2_result
token_request(const struct config_oauth2 *p, struct buf *form, struct oauth2_token *tok,
	      const char **error_r)
{
	struct https_response resp;
	form_client(form, p);
	int r = post(p->token_endpoint, form, &resp, error_r);
	explicit_bzero(form->data, form->len);
	buf_free(form);
	if (r < 0)
		return OAUTH2_ERROR;
	enum oauth2_result res = oauth2_token_parse(resp.status, resp.body.data, resp.body.len,
						    tok, error_r);
	if (resp.body.data != NULL)
		explicit_bzero(resp.body.data, resp.body.len);
	https_response_clear(&resp);
	return res;
}

static int64_t
expiry_of(const struct oauth2_token *tok)
{
	return (int64_t)time(NULL) +
	       (tok->expires_in > 0 ? tok->expires_in : FETCH_OAUTH_DEFAULT_LIFETIME);
}

/* Seals tok's access token (and refresh token, when given) and stores them. */
static int
store_access(struct store *st, int64_t id, const struct oauth2_token *tok,
	     const char **error_r)
{
	char *access = NULL, *refresh = NULL;
	int ret = -1;
	if (seal(tok->access_token, strlen(tok->access_token), &access, error_r) < 0)
		goto out;
	if (tok->refresh_token != NULL &&
	    seal(tok->refresh_token, strlen(tok->refresh_token), &refresh, error_r) < 0)
		goto out;
	ret = store_upstream_oauth_set_access(st, id, access, expiry_of(tok), refresh,
					      error_r) == STORE_OK ? 0 : -1;
out:
	free(access);
	free(refresh);
	return ret;
}

/* Under oauth_lock, with up read anew: a valid access token, or a new one. */
static int
access_token(const struct config *cfg, struct store *st, const struct store_upstream *up,
	     bool force, char **secret_r, size_t *len_r, const char **error_r)
{
	const char *error;
	if (up->reconnect) {
		*error_r = FETCH_OAUTH_RECONNECT;
		return -1;
	}
	if (!force && up->oauth_access_sealed != NULL &&
	    up->oauth_expires > (int64_t)time(NULL) + FETCH_OAUTH_MARGIN) {
		if (unseal(up->oauth_access_sealed, secret_r, len_r, &error) == 0)
			return 0;
		log_warning("fetch upstream=%lld cannot open the stored access token: %s",
			    (long long)up->id, error);
	}
	const struct config_oauth2 *p = fetch_oauth_provider(cfg, up->set.provider, error_r);
	if (p == NULL)
		return -1;
	char *refresh = NULL;
	size_t rlen;
	if (unseal(up->password_sealed, &refresh, &rlen, &error) < 0) {
		*error_r = errfmt("cannot open the stored refresh token: %s", error);
		return -1;
	}
	/* RFC 6749 §6 */
	struct buf form = BUF_INIT;
	buf_puts(&form, "grant_type=refresh_token&refresh_token=");
	https_form_escape(&form, refresh);
	fetch_secret_free(&refresh, rlen);
	struct oauth2_token tok;
	enum oauth2_result res = token_request(p, &form, &tok, &error);
	if (res == OAUTH2_INVALID_GRANT) {
		log_warning("fetch upstream=%lld owner=%s oauth2 refresh refused: %s; paused",
			    (long long)up->id, up->owner, error);
		const char *err2;
		if (store_upstream_oauth_reconnect(st, up->id, FETCH_OAUTH_RECONNECT, &err2) !=
		    STORE_OK)
			log_error("fetch upstream=%lld cannot pause: %s", (long long)up->id, err2);
		*error_r = FETCH_OAUTH_RECONNECT;
		return -1;
	}
	if (res != OAUTH2_OK) {
		*error_r = errfmt("cannot renew the OAuth2 access token: %s", error);
		return -1;
	}
	log_info("fetch upstream=%lld owner=%s oauth2 access token renewed expires_in=%lld%s",
		 (long long)up->id, up->owner, (long long)tok.expires_in,
		 tok.refresh_token != NULL ? " refresh_token=rotated" : "");
	if (store_access(st, up->id, &tok, &error) < 0)
		/* the token works now; the next run refreshes again */
		log_error("fetch upstream=%lld cannot store the access token: %s",
			  (long long)up->id, error);
	*len_r = strlen(tok.access_token);
	*secret_r = xstrdup(tok.access_token);
	oauth2_token_clear(&tok);
	return 0;
}

int
fetch_oauth_secret(const struct config *cfg, struct store *st,
		   const struct store_upstream *up, bool force, char **secret_r,
		   size_t *len_r, const char **error_r)
{
	const char *error;
	*secret_r = NULL;
	*len_r = 0;
	if (up->set.auth != UPSTREAM_AUTH_OAUTH2) {
		if (unseal(up->password_sealed, secret_r, len_r, &error) < 0) {
			*error_r = errfmt("cannot open the stored password: %s", error);
			return -1;
		}
		return 0;
	}
	struct store *own = NULL;
	if (st == NULL) {
		if (store_open(cfg->data_dir, &own, &error) != STORE_OK) {
			*error_r = errfmt("cannot open the store: %s", error);
			return -1;
		}
		st = own;
	}
	pthread_mutex_lock(&oauth_lock);
	/* read anew: another thread may have refreshed meanwhile */
	struct store_upstream now;
	int ret = -1;
	if (store_upstream_get(st, up->id, &now, &error) != STORE_OK) {
		*error_r = errfmt("%s", error);
	} else {
		ret = access_token(cfg, st, &now, force, secret_r, len_r, error_r);
		if (ret < 0)
			*error_r = errfmt("%s", *error_r);	/* outlive now */
		store_upstream_clear(&now);
	}
	pthread_mutex_unlock(&oauth_lock);
	store_close(&own);
	return ret;
}

int
fetch_oauth_device_start(const struct config *cfg, const char *provider,
			 struct oauth2_device *dev, const char **error_r)
{
	memset(dev, 0, sizeof *dev);
	const struct config_oauth2 *p = fetch_oauth_provider(cfg, provider, error_r);
	if (p == NULL)
		return -1;
	if (p->device_endpoint == NULL) {
		*error_r = errfmt("the OAuth2 provider %s offers no device authorization "
				  "(device_authorization_endpoint in [oauth2_%s])", provider,
				  provider);
		return -1;
	}
	/* RFC 8628 §3.1 */
	struct buf form = BUF_INIT;
	buf_puts(&form, "scope=");
	https_form_escape(&form, p->scopes != NULL ? p->scopes : "");
	form_client(&form, p);
	struct https_response resp;
	int r = post(p->device_endpoint, &form, &resp, error_r);
	explicit_bzero(form.data, form.len);
	buf_free(&form);
	if (r < 0)
		return -1;
	r = oauth2_device_parse(resp.status, resp.body.data, resp.body.len, dev, error_r);
	https_response_clear(&resp);
	return r;
}

enum oauth2_result
fetch_oauth_device_poll(const struct config *cfg, const char *provider,
			const struct oauth2_device *dev, struct oauth2_token *tok,
			const char **error_r)
{
	memset(tok, 0, sizeof *tok);
	const struct config_oauth2 *p = fetch_oauth_provider(cfg, provider, error_r);
	if (p == NULL)
		return OAUTH2_ERROR;
	/* RFC 8628 §3.4 */
	struct buf form = BUF_INIT;
	buf_puts(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
			"&device_code=");
	https_form_escape(&form, dev->device_code);
	return token_request(p, &form, tok, error_r);
}

enum oauth2_result
fetch_oauth_code_exchange(const struct config *cfg, const char *provider, const char *code,
			  const char *verifier, const char *redirect_uri,
			  struct oauth2_token *tok, const char **error_r)
{
	memset(tok, 0, sizeof *tok);
	const struct config_oauth2 *p = fetch_oauth_provider(cfg, provider, error_r);
	if (p == NULL)
		return OAUTH2_ERROR;
	/* RFC 6749 §4.1.3, RFC 7636 §4.5 */
	struct buf form = BUF_INIT;
	buf_puts(&form, "grant_type=authorization_code&code=");
	https_form_escape(&form, code);
	buf_puts(&form, "&redirect_uri=");
	https_form_escape(&form, redirect_uri);
	buf_puts(&form, "&code_verifier=");
	https_form_escape(&form, verifier);
	return token_request(p, &form, tok, error_r);
}

int
fetch_oauth_store_grant(struct store *st, int64_t id, const struct oauth2_token *tok,
			const char **error_r)
{
	if (tok->refresh_token == NULL) {
		*error_r = "the provider gave no refresh token (offline access was not granted)";
		return -1;
	}
	struct store_upstream up;
	if (store_upstream_get(st, id, &up, error_r) != STORE_OK)
		return -1;
	char *refresh = NULL;
	int ret = -1;
	if (up.set.auth != UPSTREAM_AUTH_OAUTH2) {
		*error_r = errfmt("upstream account %lld does not use OAuth2", (long long)id);
		goto out;
	}
	if (seal(tok->refresh_token, strlen(tok->refresh_token), &refresh, error_r) < 0)
		goto out;
	/* a new refresh token forgets the old access token and the pause */
	if (store_upstream_update(st, id, &up.set, refresh, error_r) != STORE_OK)
		goto out;
	struct oauth2_token access_only = *tok;
	access_only.refresh_token = NULL;
	ret = store_access(st, id, &access_only, error_r);
out:
	free(refresh);
	store_upstream_clear(&up);
	return ret;
}

void
fetch_oauth_revoke(const struct config *cfg, const struct store_upstream *up)
{
	const char *error;
	if (up->set.auth != UPSTREAM_AUTH_OAUTH2)
		return;
	const struct config_oauth2 *p = config_oauth2_find(cfg, up->set.provider);
	if (p == NULL || p->client_id == NULL || p->revocation_endpoint == NULL)
		return;
	char *refresh = NULL;
	size_t rlen;
	if (unseal(up->password_sealed, &refresh, &rlen, &error) < 0)
		return;
	/* RFC 7009 §2.1 */
	struct buf form = BUF_INIT;
	buf_puts(&form, "token_type_hint=refresh_token&token=");
	https_form_escape(&form, refresh);
	fetch_secret_free(&refresh, rlen);
	form_client(&form, p);
	struct https_response resp;
	if (post(p->revocation_endpoint, &form, &resp, &error) < 0)
		log_warning("fetch upstream=%lld oauth2 revocation failed: %s", (long long)up->id,
			    error);
	else if (resp.status != 200)
		log_warning("fetch upstream=%lld oauth2 revocation answered HTTP %u",
			    (long long)up->id, resp.status);
	else
		log_info("fetch upstream=%lld oauth2 grant revoked", (long long)up->id);
	explicit_bzero(form.data, form.len);
	buf_free(&form);
	https_response_clear(&resp);
}

int
fetch_oauth_account_token(const struct config *cfg, int64_t id, char **username_r,
			  char **token_r, const char **error_r)
{
	struct store *st = NULL;
	struct store_upstream up;
	const char *error;
	size_t len;
	*username_r = *token_r = NULL;
	if (store_open(cfg->data_dir, &st, &error) != STORE_OK) {
		*error_r = errfmt("cannot open the store: %s", error);
		return -1;
	}
	int ret = -1;
	if (store_upstream_get(st, id, &up, &error) != STORE_OK) {
		*error_r = errfmt("%s", error);
		store_close(&st);
		return -1;
	}
	if (up.set.auth != UPSTREAM_AUTH_OAUTH2)
		*error_r = errfmt("upstream account %lld does not use OAuth2", (long long)id);
	else if (fetch_oauth_secret(cfg, st, &up, false, token_r, &len, &error) < 0)
		*error_r = errfmt("%s", error);
	else
		ret = 0;
	if (ret == 0)
		*username_r = xstrdup(up.set.username);
	store_upstream_clear(&up);
	store_close(&st);
	return ret;
}

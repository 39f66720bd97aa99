/*
 * oauth_pending: grants being given through the API (see oauth.h): device
 * codes being polled, and authorization code flows waiting for the user to
 * come back with a code.  This module owns the table behind its own lock;
 * nothing of it survives a restart (the user starts again).
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/https_get.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "fetch/oauth.h"

struct pending {
	bool used;
	int64_t id;			/* the account */
	time_t created;
	/* device grant */
	bool device;
	char *device_code;
	time_t next_poll;
	time_t expires;
	int64_t interval;
	/* code flow */
	char state[44];
	char verifier[44];
	char *redirect_uri;
	char *binding;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending table[FETCH_OAUTH_PENDING_MAX];

static void
pending_clear(struct pending *p)
{
	if (p->device_code != NULL)
		explicit_bzero(p->device_code, strlen(p->device_code));
	free(p->device_code);
	free(p->redirect_uri);
	free(p->binding);
	explicit_bzero(p, sizeof *p);
}

/* A free slot (the oldest one is dropped when none); under lock. */
static struct pending *
slot_new(void)
{
	struct pending *oldest = &table[0];
	time_t now = time(NULL);
	for (size_t i = 0; i < FETCH_OAUTH_PENDING_MAX; i++) {
		struct pending *p = &table[i];
		if (p->used && now - p->created > FETCH_OAUTH_PENDING_TTL)
			pending_clear(p);
		if (!p->used)
			return p;
		if (p->created < oldest->created)
			oldest = p;
	}
	pending_clear(oldest);
	return oldest;
}

int
fetch_oauth_device_begin(const struct config *cfg, int64_t id, const char *provider,
			 struct oauth2_device *dev, const char **error_r)
{
	if (fetch_oauth_device_start(cfg, provider, dev, error_r) < 0)
		return -1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FETCH_OAUTH_PENDING_MAX; i++) {
		if (table[i].used && table[i].device && table[i].id == id)
			pending_clear(&table[i]);	/* a new code replaces it */
	}
	struct pending *p = slot_new();
	p->used = true;
	p->device = true;
	p->id = id;
	p->created = time(NULL);
	p->device_code = dev->device_code;	/* moved: it stays here */
	dev->device_code = NULL;
	p->interval = dev->interval;
	p->next_poll = p->created + (time_t)dev->interval;
	p->expires = p->created + (time_t)dev->expires_in;
	pthread_mutex_unlock(&lock);
	return 0;
}

int
fetch_oauth_device_step(const struct config *cfg, struct store *st, int64_t id,
			const char *provider, const char **status_r, const char **error_r)
{
	struct oauth2_device dev = { 0 };
	time_t now = time(NULL);
	pthread_mutex_lock(&lock);
	struct pending *p = NULL;
	for (size_t i = 0; i < FETCH_OAUTH_PENDING_MAX && p == NULL; i++) {
		if (table[i].used && table[i].device && table[i].id == id)
			p = &table[i];
	}
	if (p == NULL || now >= p->expires) {
		if (p != NULL)
			pending_clear(p);
		pthread_mutex_unlock(&lock);
		*error_r = "no code is waiting for this account (it expired, or none was asked "
			   "for): start again";
		return -1;
	}
	if (now < p->next_poll) {
		/* RFC 8628 §3.5: not more often than the interval */
		pthread_mutex_unlock(&lock);
		*status_r = "pending";
		return 0;
	}
	dev.device_code = xstrdup(p->device_code);
	p->next_poll = now + (time_t)p->interval;
	pthread_mutex_unlock(&lock);

	struct oauth2_token tok;
	enum oauth2_result r = fetch_oauth_device_poll(cfg, provider, &dev, &tok, error_r);
	oauth2_device_clear(&dev);
	if (r == OAUTH2_PENDING || r == OAUTH2_SLOW_DOWN) {
		if (r == OAUTH2_SLOW_DOWN) {
			pthread_mutex_lock(&lock);
			for (size_t i = 0; i < FETCH_OAUTH_PENDING_MAX; i++) {
				if (table[i].used && table[i].device && table[i].id == id) {
					table[i].interval += 5;
					table[i].next_poll = now + (time_t)table[i].interval;
				}
			}
			pthread_mutex_unlock(&lock);
		}
		*status_r = "pending";
		return 0;
	}
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FETCH_OAUTH_PENDING_MAX; i++) {
		if (table[i].used && table[i].device && table[i].id == id)
			pending_clear(&table[i]);
	}
	pthread_mutex_unlock(&lock);
	if (r != OAUTH2_OK)
		return -1;
	int ret = fetch_oauth_store_grant(st, id, &tok, error_r);
	oauth2_token_clear(&tok);
	if (ret == 0)
		*status_r = "connected";
	return ret;
}

int
fetch_oauth_code_begin(const struct config *cfg, int64_t id, const char *provider,
		       const char *redirect_uri, const char *binding, char **url_r,
		       const char **error_r)
{
	const struct config_oauth2 *c = fetch_oauth_provider(cfg, provider, error_r);
	if (c == NULL)
		return -1;
	if (c->authorization_endpoint == NULL) {
		*error_r = errfmt("the OAuth2 provider %s has no authorization_endpoint", provider);
		return -1;
	}
	pthread_mutex_lock(&lock);
	struct pending *p = slot_new();
	p->used = true;
	p->id = id;
	p->created = time(NULL);
	/* RFC 6749 §10.12: an unguessable state bound to the session */
	unsigned char r[16];
	_Static_assert(sizeof r * 2 + 1 <= sizeof p->state, "state size");
	random_bytes(r, sizeof r);
	hex_encode(r, sizeof r, p->state);	/* 128 bits as 32 hex digits */
	char challenge[44];
	oauth2_pkce_new(p->verifier, challenge);
	p->redirect_uri = xstrdup(redirect_uri);
	p->binding = xstrdup(binding);
	struct buf url = BUF_INIT;
	buf_printf(&url, "%s%sresponse_type=code&client_id=", c->authorization_endpoint,
		   strchr(c->authorization_endpoint, '?') != NULL ? "&" : "?");
	https_form_escape(&url, c->client_id);
	buf_puts(&url, "&redirect_uri=");
	https_form_escape(&url, redirect_uri);
	buf_puts(&url, "&scope=");
	https_form_escape(&url, c->scopes != NULL ? c->scopes : "");
	buf_printf(&url, "&state=%s&code_challenge=%s&code_challenge_method=S256", p->state,
		   challenge);
	/* Google gives a refresh token only with these */
	buf_puts(&url, "&access_type=offline&prompt=consent");
	pthread_mutex_unlock(&lock);
	*url_r = buf_steal(&url);
	return 0;
}

int
fetch_oauth_code_finish(const struct config *cfg, struct store *st, int64_t id,
			const char *provider, const char *state, const char *code,
			const char *binding, const char **error_r)
{
	char verifier[44] = "", *redirect = NULL;
	time_t now = time(NULL);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < FETCH_OAUTH_PENDING_MAX; i++) {
		struct pending *p = &table[i];
		if (!p->used || p->device || strlen(state) != strlen(p->state) ||
		    !mem_equal_ct(p->state, state, strlen(state)))
			continue;
		/* the state is used once, whatever comes of it */
		bool ok = p->id == id && strcmp(p->binding, binding) == 0 &&
			  now - p->created <= FETCH_OAUTH_PENDING_TTL;
		if (ok) {
			memcpy(verifier, p->verifier, sizeof verifier);
			redirect = xstrdup(p->redirect_uri);
		}
		pending_clear(p);
		break;
	}
	pthread_mutex_unlock(&lock);
	if (redirect == NULL) {
		*error_r = "this authorization was not started here, or it is too old: start "
			   "again";
		return -1;
	}
	struct oauth2_token tok;
	enum oauth2_result r =
		fetch_oauth_code_exchange(cfg, provider, code, verifier, redirect, &tok, error_r);
	explicit_bzero(verifier, sizeof verifier);
	free(redirect);
	if (r != OAUTH2_OK)
		return -1;
	int ret = fetch_oauth_store_grant(st, id, &tok, error_r);
	oauth2_token_clear(&tok);
	return ret;
}

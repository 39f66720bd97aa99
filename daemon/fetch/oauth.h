/*
 * fetch/oauth: OAuth2 grants of upstream accounts.
 *
 * An account with auth oauth2 keeps the refresh token of its grant sealed
 * where a password would be (store/upstreams.h) and the provider's name,
 * whose client and endpoints are the [oauth2_NAME] section of the config.
 * Before each login the fetcher asks fetch_oauth_secret() for an access
 * token: the stored one while it has more than FETCH_OAUTH_MARGIN seconds
 * left, else a new one from the provider's token endpoint (RFC 6749 §6),
 * stored sealed with the refresh token the provider may have rotated to.
 * Refreshes are serialised by this module's own lock (a provider that
 * rotates refresh tokens would refuse the second of two at once).  A
 * refresh refused with invalid_grant (revoked, expired) pauses the account
 * with the plain words of FETCH_OAUTH_RECONNECT until the user connects it
 * again.
 *
 * The device authorization grant (RFC 8628) is here too, for `mailhub
 * upstream connect` and the panel: start, then poll until the user has
 * said yes at the provider.
 */
#ifndef MAILHUB_FETCH_OAUTH_H
#define MAILHUB_FETCH_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/oauth2.h"
#include "store/upstreams.h"

/* An access token with less than this many seconds left is refreshed. */
#define FETCH_OAUTH_MARGIN 60
/* Seconds for one exchange with a provider (connect to answer). */
#define FETCH_OAUTH_TIMEOUT 30
/* When the provider says nothing of the lifetime (RFC 6749 §5.1). */
#define FETCH_OAUTH_DEFAULT_LIFETIME 3600
/* The account's last error once its grant was refused. */
#define FETCH_OAUTH_RECONNECT                                                               \
	"reconnect this account: the provider no longer accepts its authorization "         \
	"(it was revoked or has expired)"

/* The last error of an oauth2 account added without a grant. */
#define FETCH_OAUTH_CONNECT "connect this account: it has no OAuth2 authorization yet"

/*
 * What the account logs in with, malloc'd into *secret_r (*len_r bytes):
 * its password, or for oauth2 an access token (refreshed when due, or
 * always when force: the server refused the stored one).  st may be NULL
 * (a store is opened on cfg's data_dir for the refresh).  -1 with *error_r
 * in plain words.  Free with fetch_secret_free().
 */
int fetch_oauth_secret(const struct config *cfg, struct store *st,
		       const struct store_upstream *up, bool force, char **secret_r,
		       size_t *len_r, const char **error_r);
void fetch_secret_free(char **secret, size_t len);

/* For the smarthost (smtp/queue.h relay_oauth_fn): the username of
 * upstream account id (an oauth2 one) and a valid access token, both
 * malloc'd; opens a store of its own. */
int fetch_oauth_account_token(const struct config *cfg, int64_t id, char **username_r,
			      char **token_r, const char **error_r);

/* The provider of that name, set up for use (a client id and a token
 * endpoint); NULL with *error_r in plain words. */
const struct config_oauth2 *fetch_oauth_provider(const struct config *cfg,
						 const char *name, const char **error_r);

/* RFC 8628 §3.1: asks the provider for a device code.  0 or -1. */
int fetch_oauth_device_start(const struct config *cfg, const char *provider,
			     struct oauth2_device *dev, const char **error_r);
/* RFC 8628 §3.4: one poll; OAUTH2_OK fills *tok. */
enum oauth2_result fetch_oauth_device_poll(const struct config *cfg, const char *provider,
					   const struct oauth2_device *dev,
					   struct oauth2_token *tok, const char **error_r);
/* RFC 6749 §4.1.3 with RFC 7636 §4.5: the authorization code and its
 * verifier for tokens. */
enum oauth2_result fetch_oauth_code_exchange(const struct config *cfg, const char *provider,
					     const char *code, const char *verifier,
					     const char *redirect_uri,
					     struct oauth2_token *tok, const char **error_r);

/* Stores a new grant for account id (its refresh token and first access
 * token, sealed), which ends a pause for reconnection. */
int fetch_oauth_store_grant(struct store *st, int64_t id, const struct oauth2_token *tok,
			    const char **error_r);

/* RFC 7009: asks the provider to revoke the account's refresh token (when
 * the provider has a revocation endpoint; failures are logged only). */
void fetch_oauth_revoke(const struct config *cfg, const struct store_upstream *up);

/* ---- grants being given, for the API (oauth_pending.c) ---------------- */

/* Seconds a pending authorization (code flow) is kept. */
#define FETCH_OAUTH_PENDING_TTL 900
/* Pending grants kept at most (the oldest is dropped). */
#define FETCH_OAUTH_PENDING_MAX 64

/* RFC 8628 for account id: asks the provider for a code (kept here with
 * the device code, which never leaves this module) and fills *dev with
 * what the user is shown (the device_code field NULL). */
int fetch_oauth_device_begin(const struct config *cfg, int64_t id, const char *provider,
			     struct oauth2_device *dev, const char **error_r);
/* One poll for account id's device grant, unless the provider's interval
 * has not passed (then "pending" without asking).  *status_r: "pending",
 * "connected" (the grant stored), or -1 with *error_r (denied, expired,
 * none begun). */
int fetch_oauth_device_step(const struct config *cfg, struct store *st, int64_t id,
			    const char *provider, const char **status_r,
			    const char **error_r);

/*
 * RFC 6749 §4.1 with PKCE (RFC 7636): the provider's authorization URL for
 * account id (malloc'd into *url_r), with a fresh state (RFC 6749 §10.12)
 * remembered here together with the verifier, the redirect URI and
 * binding (the caller's session: only the same session may finish it).
 */
int fetch_oauth_code_begin(const struct config *cfg, int64_t id, const char *provider,
			   const char *redirect_uri, const char *binding, char **url_r,
			   const char **error_r);
/* Finishes it: the state must be one begun for id under the same binding
 * and not older than FETCH_OAUTH_PENDING_TTL (used once); the code is
 * exchanged and the grant stored. */
int fetch_oauth_code_finish(const struct config *cfg, struct store *st, int64_t id,
			    const char *provider, const char *state, const char *code,
			    const char *binding, const char **error_r);

#endif

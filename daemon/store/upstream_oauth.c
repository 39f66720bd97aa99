/*
 * upstream_oauth: the OAuth2 state of an upstream account (see
 * upstreams.h): the sealed access token and its expiry, the refresh token
 * the provider rotated to, and the pause after a refused grant.
 */
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"
#include "store/upstreams.h"

static const char SQL_SET_ACCESS[] =
	"UPDATE upstreams SET oauth_access = ?2, oauth_expires = ?3,"
	" password = coalesce(?4, password) WHERE id = ?1 AND auth = 'oauth2'";
/* the error is recorded like a failed fetch's, but the failure count is
 * not raised: the account is paused, not backed off */
static const char SQL_RECONNECT[] =
	"UPDATE upstreams SET reconnect = 1, oauth_access = NULL, oauth_expires = 0,"
	" last_attempt = ?2, last_error = ?3 WHERE id = ?1";

int
store_upstream_oauth_set_access(struct store *st, int64_t id, const char *access_sealed,
				int64_t expires, const char *refresh_sealed,
				const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_SET_ACCESS);
	stmt_int(s, 1, id);
	stmt_text(s, 2, access_sealed);
	stmt_int(s, 3, expires);
	if (refresh_sealed != NULL)
		stmt_text(s, 4, refresh_sealed);
	int ret = stmt_exec_one(st, s, "cannot record the access token", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("upstream account %lld does not exist or uses no OAuth2",
				  (long long)id);
	return ret;
}

int
store_upstream_oauth_reconnect(struct store *st, int64_t id, const char *reason,
			       const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_RECONNECT);
	stmt_int(s, 1, id);
	stmt_int(s, 2, store_now());
	char *cut = xstrndup(reason, strnlen(reason, UPSTREAM_ERROR_MAX));
	stmt_text(s, 3, cut);
	free(cut);
	int ret = stmt_exec_one(st, s, "cannot pause the account", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("upstream account %lld does not exist", (long long)id);
	return ret;
}

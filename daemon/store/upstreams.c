/*
 * upstreams: upstream accounts and what the fetcher remembers about them
 * (see upstreams.h).  The folder list is kept one name per line, since a
 * folder name never holds a line end (checked here).
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"
#include "store/upstreams.h"

static const char SQL_ADD[] =
	"INSERT INTO upstreams (user_id, protocol, host, port, tls, tls_verify,"
	" username, password, folders, target, keep, idle, dedupe, interval,"
	" enabled, created, mirror, auth, oauth_provider, two_way) VALUES (?1, ?2, ?3,"
	" ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)";
static const char SQL_UPDATE[] =
	"UPDATE upstreams SET protocol = ?2, host = ?3, port = ?4, tls = ?5,"
	" tls_verify = ?6, username = ?7, password = coalesce(?8, password),"
	" folders = ?9, target = ?10, keep = ?11, idle = ?12, dedupe = ?13,"
	" interval = ?14, enabled = ?15, mirror = ?17, auth = ?18,"
	" oauth_provider = ?19, two_way = ?20, failures = 0,"
	" oauth_access = CASE WHEN ?8 IS NULL THEN oauth_access ELSE NULL END,"
	" oauth_expires = CASE WHEN ?8 IS NULL THEN oauth_expires ELSE 0 END,"
	" reconnect = CASE WHEN ?8 IS NULL THEN reconnect ELSE 0 END,"
	" generation = generation + 1 WHERE id = ?1";
static const char SQL_DEL[] = "DELETE FROM upstreams WHERE id = ?1";
#define UP_COLUMNS \
	"SELECT p.id, p.user_id, u.address, p.protocol, p.host, p.port, p.tls," \
	" p.tls_verify, p.username, p.password, p.folders, p.target, p.keep," \
	" p.idle, p.dedupe, p.interval, p.enabled, p.last_ok, p.last_attempt," \
	" p.last_error, p.fetched, p.failures, p.generation, p.fetch_requested," \
	" p.created, p.mirror, p.auth, p.oauth_provider, p.oauth_access," \
	" p.oauth_expires, p.reconnect, p.two_way FROM upstreams p JOIN users u ON u.id = p.user_id"
static const char SQL_GET[] = UP_COLUMNS " WHERE p.id = ?1";
static const char SQL_LIST_ALL[] = UP_COLUMNS " ORDER BY p.id";
static const char SQL_LIST_USER[] = UP_COLUMNS " WHERE p.user_id = ?1 ORDER BY p.id";
static const char SQL_REQUEST_ONE[] =
	"UPDATE upstreams SET fetch_requested = 1 WHERE id = ?1";
static const char SQL_REQUEST_ALL[] =
	"UPDATE upstreams SET fetch_requested = 1 WHERE enabled = 1";
static const char SQL_REQUESTS[] =
	"SELECT id FROM upstreams WHERE fetch_requested = 1 ORDER BY id";
static const char SQL_REQUESTS_CLEAR[] =
	"UPDATE upstreams SET fetch_requested = 0 WHERE fetch_requested = 1";
static const char SQL_FOLDER_GET[] =
	"SELECT uidvalidity, last_uid, refetch FROM upstream_folders"
	" WHERE upstream_id = ?1 AND folder = ?2";
static const char SQL_FOLDER_SET[] =
	"INSERT OR REPLACE INTO upstream_folders (upstream_id, folder,"
	" uidvalidity, last_uid, refetch) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_FOLDER_ADVANCE[] =
	"UPDATE upstream_folders SET last_uid = max(last_uid, ?3)"
	" WHERE upstream_id = ?1 AND folder = ?2";
static const char SQL_HASH_KNOWN[] =
	"SELECT 1 FROM upstream_hashes WHERE upstream_id = ?1 AND hash = ?2";
static const char SQL_HASH_ADD[] =
	"INSERT OR IGNORE INTO upstream_hashes (upstream_id, hash) VALUES (?1, ?2)";
static const char SQL_UIDL_LIST[] =
	"SELECT uidl FROM upstream_uidls WHERE upstream_id = ?1";
static const char SQL_UIDL_KNOWN[] =
	"SELECT 1 FROM upstream_uidls WHERE upstream_id = ?1 AND uidl = ?2";
static const char SQL_UIDL_ADD[] =
	"INSERT OR IGNORE INTO upstream_uidls (upstream_id, uidl, seen)"
	" VALUES (?1, ?2, ?3)";
static const char SQL_UIDL_DEL[] =
	"DELETE FROM upstream_uidls WHERE upstream_id = ?1 AND uidl = ?2";
static const char SQL_DEDUPE_ADD[] =
	"INSERT OR IGNORE INTO upstream_dedupe (user_id, key, created)"
	" VALUES (?1, ?2, ?3)";
/* two-way (sql/024, 044): a message of an unresolved link (or of an APPEND
 * from here cut short: UPLOADING) found again by its
 * raw hash in the link's folder gets its new UID instead of a copy */
static const char SQL_LINK_RESOLVE[] =
	"UPDATE upstream_links SET uidvalidity = ?4, uid = ?5, dest = NULL,"
	" state = CASE WHEN state IN (3, 6) THEN 0 ELSE 1 END WHERE id = (SELECT id"
	" FROM upstream_links WHERE upstream_id = ?1 AND raw_hash = ?2 AND folder = ?3"
	" AND state IN (3, 4, 6, 7) LIMIT 1)";
static const char SQL_LINK_ADD[] =
	"INSERT INTO upstream_links (upstream_id, message_id, folder, uidvalidity, uid,"
	" raw_hash, blob, flags, keywords) SELECT ?1, id, ?3, ?4, ?5, ?6, blob, flags,"
	" coalesce(keywords, '') FROM messages WHERE mailbox_id = ?2 AND uid = ?7";
static const char SQL_COUNT[] =
	"UPDATE upstreams SET fetched = fetched + 1 WHERE id = ?1";

static const char *const protocol_names[] = { "imap", "pop3" };
static const char *const tls_names[] = { "implicit", "starttls", "none" };

/* The index of text in names, or -1. */
static int
name_index(const char *const *names, size_t n, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (text != NULL && strcmp(text, names[i]) == 0)
			return (int)i;
	return -1;
}

#define N_PROTOCOLS (sizeof protocol_names / sizeof protocol_names[0])
#define N_TLS (sizeof tls_names / sizeof tls_names[0])

const char *
upstream_protocol_name(enum upstream_protocol p)
{
	return (unsigned)p < N_PROTOCOLS ? protocol_names[p] : "?";
}

int
upstream_protocol_parse(const char *text, enum upstream_protocol *p_r)
{
	int i = name_index(protocol_names, N_PROTOCOLS, text);
	if (i >= 0)
		*p_r = (enum upstream_protocol)i;
	return i < 0 ? -1 : 0;
}

static const char *const auth_names[] = { "password", "oauth2" };

const char *
upstream_auth_name(enum upstream_auth a)
{
	return (unsigned)a < 2 ? auth_names[a] : "?";
}

int
upstream_auth_parse(const char *text, enum upstream_auth *a_r)
{
	int i = name_index(auth_names, 2, text);
	if (i < 0)
		return -1;
	*a_r = (enum upstream_auth)i;
	return 0;
}

const char *
upstream_tls_name(enum upstream_tls t)
{
	return (unsigned)t < N_TLS ? tls_names[t] : "?";
}

int
upstream_tls_parse(const char *text, enum upstream_tls *t_r)
{
	int i = name_index(tls_names, N_TLS, text);
	if (i >= 0)
		*t_r = (enum upstream_tls)i;
	return i < 0 ? -1 : 0;
}

unsigned
upstream_default_port(enum upstream_protocol p, enum upstream_tls t)
{
	/* RFC 8314 §7: 993 and 995 for implicit TLS; RFC 3501/1939: 143, 110 */
	if (p == UPSTREAM_IMAP)
		return t == UPSTREAM_TLS_IMPLICIT ? 993 : 143;
	return t == UPSTREAM_TLS_IMPLICIT ? 995 : 110;
}

/* No control characters (so no line ends), not empty, at most max bytes. */
static bool
text_ok(const char *s, size_t max)
{
	if (s == NULL || *s == '\0' || strlen(s) > max)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

static bool
host_ok(const char *h)
{
	if (!text_ok(h, UPSTREAM_HOST_MAX))
		return false;
	for (const char *p = h; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == ':' ||
		      *p == '_'))
			return false;
	}
	return true;
}

/* A provider's name: the NAME of a [oauth2_NAME] config section. */
static bool
provider_ok(const char *p)
{
	if (p == NULL || *p == '\0' || strlen(p) > UPSTREAM_PROVIDER_MAX)
		return false;
	for (; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return false;
	}
	return true;
}

int
upstream_settings_check(struct upstream_settings *set, const char **error_r)
{
	if ((unsigned)set->protocol > UPSTREAM_POP3) {
		*error_r = "protocol must be imap or pop3";
		return -1;
	}
	if ((unsigned)set->tls > UPSTREAM_TLS_NONE) {
		*error_r = "tls must be implicit, starttls or none";
		return -1;
	}
	if (!host_ok(set->host)) {
		*error_r = "host must be a host name or an IP address";
		return -1;
	}
	if (set->port == 0)
		set->port = upstream_default_port(set->protocol, set->tls);
	if (set->port > 65535) {
		*error_r = "port must be 1-65535";
		return -1;
	}
	if (set->tls_verify == NULL)
		set->tls_verify = xstrdup("system");
	if (strncmp(set->tls_verify, "pin:", 4) == 0) {
		str_lower(set->tls_verify + 4);
		if (!is_lower_hex(set->tls_verify + 4, SHA256_HEX_LEN)) {
			*error_r = "tls_verify pin must be pin: and 64 hex digits (SHA-256 of the certificate)";
			return -1;
		}
	} else if (strcmp(set->tls_verify, "system") != 0 &&
		   strcmp(set->tls_verify, "off") != 0) {
		*error_r = "tls_verify must be system, off or pin:SHA256HEX";
		return -1;
	}
	if (!text_ok(set->username, UPSTREAM_USERNAME_MAX)) {
		*error_r = "username must be 1-320 bytes without control characters";
		return -1;
	}
	if (set->n_folders == 0) {
		const char *inbox = "INBOX";
		upstream_settings_set_folders(set, &inbox, 1);
	}
	if (set->n_folders > UPSTREAM_FOLDERS_MAX) {
		*error_r = "folders: at most 100";
		return -1;
	}
	for (size_t i = 0; i < set->n_folders; i++) {
		if (!text_ok(set->folders[i], MAILBOX_NAME_MAX)) {
			*error_r = "folders: each must be a folder name without control characters";
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(set->folders[i], set->folders[j]) == 0) {
				*error_r = "folders: each folder at most once";
				return -1;
			}
		}
	}
	if (set->target == NULL)
		set->target = xstrdup("INBOX");
	if (!text_ok(set->target, MAILBOX_NAME_MAX)) {
		*error_r = "target must be a mailbox name without control characters";
		return -1;
	}
	/* two-way sync changes the upstream's messages: IMAP only, and the
	 * fetched mail must stay there */
	if (set->two_way && set->protocol != UPSTREAM_IMAP) {
		*error_r = "two_way needs an IMAP account";
		return -1;
	}
	if (set->two_way && !set->keep) {
		*error_r = "two_way needs keep (fetched mail stays upstream)";
		return -1;
	}
	if (set->interval == 0)
		set->interval = UPSTREAM_INTERVAL_DEFAULT;
	if (set->interval < UPSTREAM_INTERVAL_MIN || set->interval > UPSTREAM_INTERVAL_MAX) {
		*error_r = "interval must be 10-86400 seconds";
		return -1;
	}
	if ((unsigned)set->auth > UPSTREAM_AUTH_OAUTH2) {
		*error_r = "auth must be password or oauth2";
		return -1;
	}
	if (set->auth == UPSTREAM_AUTH_OAUTH2 && !provider_ok(set->provider)) {
		*error_r = "provider must be the name of an OAuth2 provider (letters, digits, _ and -)";
		return -1;
	}
	if (set->auth == UPSTREAM_AUTH_PASSWORD && set->provider != NULL) {
		free(set->provider);
		set->provider = NULL;
	}
	return 0;
}

void
upstream_settings_set_folders(struct upstream_settings *set,
			      const char *const *folders, size_t n)
{
	char **copy = n > 0 ? xcalloc(n, sizeof *copy) : NULL;
	for (size_t i = 0; i < n; i++)
		copy[i] = xstrdup(folders[i]);
	for (size_t i = 0; i < set->n_folders; i++)
		free(set->folders[i]);
	free(set->folders);
	set->folders = copy;
	set->n_folders = n;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
upstream_settings_copy(struct upstream_settings *dst,
		       const struct upstream_settings *src)
{
	*dst = *src;
	dst->host = dup_or_null(src->host);
	dst->tls_verify = dup_or_null(src->tls_verify);
	dst->username = dup_or_null(src->username);
	dst->target = dup_or_null(src->target);
	dst->provider = dup_or_null(src->provider);
	dst->folders = NULL;
	dst->n_folders = 0;
	upstream_settings_set_folders(dst, (const char *const *)src->folders,
				      src->n_folders);
}

void
upstream_settings_clear(struct upstream_settings *set)
{
	upstream_settings_set_folders(set, NULL, 0);
	free(set->host);
	free(set->tls_verify);
	free(set->username);
	free(set->target);
	free(set->provider);
	memset(set, 0, sizeof *set);
}

static char *
folders_join(const struct upstream_settings *set)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < set->n_folders; i++) {
		if (i > 0)
			buf_putc(&b, '\n');
		buf_puts(&b, set->folders[i]);
	}
	return buf_steal(&b);
}

static void
folders_split(struct upstream_settings *set, const char *text)
{
	size_t n = 0;
	const char **v = NULL;
	char *copy = xstrdup(text != NULL ? text : "");
	char *save = NULL;
	for (char *t = strtok_r(copy, "\n", &save); t != NULL;
	     t = strtok_r(NULL, "\n", &save)) {
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = t;
	}
	upstream_settings_set_folders(set, v, n);
	free(v);
	free(copy);
}

static void
bind_settings(sqlite3_stmt *s, const struct upstream_settings *set,
	      const char *sealed, const char *folders)
{
	stmt_text(s, 2, upstream_protocol_name(set->protocol));
	stmt_text(s, 3, set->host);
	stmt_int(s, 4, set->port);
	stmt_text(s, 5, upstream_tls_name(set->tls));
	stmt_text(s, 6, set->tls_verify);
	stmt_text(s, 7, set->username);
	if (sealed != NULL)
		stmt_text(s, 8, sealed);
	stmt_text(s, 9, folders);
	stmt_text(s, 10, set->target);
	stmt_int(s, 11, set->keep);
	stmt_int(s, 12, set->idle);
	stmt_int(s, 13, set->dedupe);
	stmt_int(s, 14, set->interval);
	stmt_int(s, 15, set->enabled);
	stmt_int(s, 17, set->mirror);
	stmt_text(s, 18, upstream_auth_name(set->auth));
	if (set->provider != NULL)
		stmt_text(s, 19, set->provider);
	stmt_int(s, 20, set->two_way);
}

int
store_upstream_add(struct store *st, const char *owner,
		   const struct upstream_settings *set_in,
		   const char *password_sealed, int64_t *id_r,
		   const char **error_r)
{
	struct upstream_settings set;
	upstream_settings_copy(&set, set_in);
	if (upstream_settings_check(&set, error_r) < 0) {
		upstream_settings_clear(&set);
		return STORE_INVALID;
	}
	if (password_sealed == NULL) {
		upstream_settings_clear(&set);
		*error_r = "password is required";
		return STORE_INVALID;
	}
	int64_t user_id;
	char *lower = store_lower_dup(owner);
	int ret = store_user_id(st, lower, &user_id, error_r);
	if (ret != STORE_OK)
		goto out;
	char *folders = folders_join(&set);
	sqlite3_stmt *s = store_stmt(st, SQL_ADD);
	stmt_int(s, 1, user_id);
	bind_settings(s, &set, password_sealed, folders);
	stmt_int(s, 16, store_now());
	ret = stmt_exec(st, s, "cannot add the upstream account", error_r);
	free(folders);
	if (ret == STORE_OK && id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(st->db);
out:
	free(lower);
	upstream_settings_clear(&set);
	return ret;
}

/* Runs s, a change of the account id. */
static int
account_exec(struct store *st, sqlite3_stmt *s, int64_t id, const char *what,
	     const char **error_r)
{
	int ret = stmt_exec_one(st, s, what, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("upstream account %lld does not exist", (long long)id);
	return ret;
}

int
store_upstream_update(struct store *st, int64_t id,
		      const struct upstream_settings *set_in,
		      const char *password_sealed, const char **error_r)
{
	struct upstream_settings set;
	upstream_settings_copy(&set, set_in);
	if (upstream_settings_check(&set, error_r) < 0) {
		upstream_settings_clear(&set);
		return STORE_INVALID;
	}
	char *folders = folders_join(&set);
	sqlite3_stmt *s = store_stmt(st, SQL_UPDATE);
	stmt_int(s, 1, id);
	bind_settings(s, &set, password_sealed, folders);
	int ret = account_exec(st, s, id, "cannot change the upstream account",
			       error_r);
	free(folders);
	upstream_settings_clear(&set);
	return ret;
}

int
store_upstream_del(struct store *st, int64_t id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DEL);
	stmt_int(s, 1, id);
	return account_exec(st, s, id, "cannot delete the upstream account",
			    error_r);
}

static void
upstream_read(sqlite3_stmt *s, void *elem)
{
	struct store_upstream *up = elem;
	up->id = sqlite3_column_int64(s, 0);
	up->user_id = sqlite3_column_int64(s, 1);
	up->owner = stmt_col_strdup(s, 2);
	char *text = stmt_col_strdup(s, 3);
	if (upstream_protocol_parse(text, &up->set.protocol) < 0)
		up->set.protocol = UPSTREAM_IMAP;
	free(text);
	up->set.host = stmt_col_strdup(s, 4);
	up->set.port = (unsigned)sqlite3_column_int(s, 5);
	text = stmt_col_strdup(s, 6);
	if (upstream_tls_parse(text, &up->set.tls) < 0)
		up->set.tls = UPSTREAM_TLS_IMPLICIT;
	free(text);
	up->set.tls_verify = stmt_col_strdup(s, 7);
	up->set.username = stmt_col_strdup(s, 8);
	up->password_sealed = stmt_col_strdup(s, 9);
	folders_split(&up->set, (const char *)sqlite3_column_text(s, 10));
	up->set.target = stmt_col_strdup(s, 11);
	up->set.keep = sqlite3_column_int(s, 12) != 0;
	up->set.idle = sqlite3_column_int(s, 13) != 0;
	up->set.dedupe = sqlite3_column_int(s, 14) != 0;
	up->set.interval = (unsigned)sqlite3_column_int(s, 15);
	up->set.enabled = sqlite3_column_int(s, 16) != 0;
	up->last_ok = sqlite3_column_int64(s, 17);
	up->last_attempt = sqlite3_column_int64(s, 18);
	up->last_error = stmt_col_strdup(s, 19);
	up->fetched = (uint64_t)sqlite3_column_int64(s, 20);
	up->failures = (unsigned)sqlite3_column_int(s, 21);
	up->generation = sqlite3_column_int64(s, 22);
	up->fetch_requested = sqlite3_column_int(s, 23) != 0;
	up->created = sqlite3_column_int64(s, 24);
	up->set.mirror = sqlite3_column_int(s, 25) != 0;
	text = stmt_col_strdup(s, 26);
	if (upstream_auth_parse(text, &up->set.auth) < 0)
		up->set.auth = UPSTREAM_AUTH_PASSWORD;
	free(text);
	up->set.provider = stmt_col_strdup(s, 27);
	up->oauth_access_sealed = stmt_col_strdup(s, 28);
	up->oauth_expires = sqlite3_column_int64(s, 29);
	up->reconnect = sqlite3_column_int(s, 30) != 0;
	up->set.two_way = sqlite3_column_int(s, 31) != 0;
}

static void
upstream_clear(void *elem)
{
	store_upstream_clear(elem);
}

static const struct stmt_rows upstream_rows = {
	.size = sizeof(struct store_upstream),
	.read = upstream_read,
	.clear = upstream_clear,
};

int
store_upstream_get(struct store *st, int64_t id, struct store_upstream *up_r,
		   const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_int(s, 1, id);
	int ret = stmt_get(st, s, &upstream_rows, "cannot read the upstream account",
			   up_r, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("upstream account %lld does not exist", (long long)id);
	return ret;
}

int
store_upstream_list(struct store *st, int64_t user_id,
		    struct store_upstream **list_r, size_t *n_r,
		    const char **error_r)
{
	void *list;
	sqlite3_stmt *s = store_stmt(st, user_id != 0 ? SQL_LIST_USER : SQL_LIST_ALL);
	if (user_id != 0)
		stmt_int(s, 1, user_id);
	int ret = stmt_list(st, s, &upstream_rows, "cannot list the upstream accounts",
			    &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

void
store_upstream_clear(struct store_upstream *up)
{
	if (up == NULL)
		return;
	free(up->owner);
	upstream_settings_clear(&up->set);
	if (up->password_sealed != NULL)
		explicit_bzero(up->password_sealed, strlen(up->password_sealed));
	free(up->password_sealed);
	if (up->oauth_access_sealed != NULL)
		explicit_bzero(up->oauth_access_sealed, strlen(up->oauth_access_sealed));
	free(up->oauth_access_sealed);
	free(up->last_error);
	memset(up, 0, sizeof *up);
}

void
store_upstream_list_free(struct store_upstream **list, size_t n)
{
	stmt_rows_free(&upstream_rows, *list, n);
	*list = NULL;
}

int
store_upstream_request_fetch(struct store *st, int64_t id, const char **error_r)
{
	static const char what[] = "cannot mark the account for fetching";
	if (id == 0)
		return stmt_exec(st, store_stmt(st, SQL_REQUEST_ALL), what, error_r);
	sqlite3_stmt *s = store_stmt(st, SQL_REQUEST_ONE);
	stmt_int(s, 1, id);
	return account_exec(st, s, id, what, error_r);
}

int
store_upstream_take_requests(struct store *st, int64_t **ids_r, size_t *n_r,
			     const char **error_r)
{
	*ids_r = NULL;
	*n_r = 0;
	if (store_begin(st, error_r) != STORE_OK)
		return STORE_ERROR;
	sqlite3_stmt *s = store_stmt(st, SQL_REQUESTS);
	int64_t *ids = NULL;
	size_t n = 0;
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot read fetch requests");
		ret = STORE_ERROR;
	} else if (n > 0) {
		ret = stmt_exec(st, store_stmt(st, SQL_REQUESTS_CLEAR),
				"cannot clear fetch requests", error_r);
	}
	if (store_end(st, ret, error_r) != STORE_OK) {
		free(ids);
		return STORE_ERROR;
	}
	*ids_r = ids;
	*n_r = n;
	return STORE_OK;
}

int
store_upstream_folder_get(struct store *st, int64_t id, const char *folder,
			  uint32_t *uidvalidity_r, uint32_t *last_uid_r,
			  bool *refetch_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FOLDER_GET);
	stmt_int(s, 1, id);
	stmt_text(s, 2, folder);
	int64_t v[3];
	int ret = stmt_ints(st, s, "cannot read the folder state", v, 3, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "folder not fetched before";
	if (ret != STORE_OK)
		return ret;
	*uidvalidity_r = (uint32_t)v[0];
	*last_uid_r = (uint32_t)v[1];
	*refetch_r = v[2] != 0;
	return STORE_OK;
}

int
store_upstream_folder_set(struct store *st, int64_t id, const char *folder,
			  uint32_t uidvalidity, uint32_t last_uid, bool refetch,
			  const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_FOLDER_SET);
	stmt_int(s, 1, id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, uidvalidity);
	stmt_int(s, 4, last_uid);
	stmt_int(s, 5, refetch);
	return stmt_exec(st, s, "cannot record the folder state", error_r);
}

int
store_upstream_folder_advance(struct store *st, int64_t id, const char *folder, uint32_t uid,
			      const char **error_r)
{
	if (store_begin_light(st, error_r) != STORE_OK)
		return STORE_ERROR;
	sqlite3_stmt *s = store_stmt(st, SQL_FOLDER_ADVANCE);
	stmt_int(s, 1, id);
	stmt_text(s, 2, folder);
	stmt_int(s, 3, uid);
	return store_end(st, stmt_exec(st, s, "cannot record the UID", error_r), error_r);
}

/* Whether the row (?1 the account, ?2 text) is there: 1, 0, -1. */
static int
exists(struct store *st, const char *sql, int64_t id, const char *text,
       const char *what, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	stmt_int(s, 1, id);
	stmt_text(s, 2, text);
	return stmt_exists(st, s, what, error_r);
}

int
store_upstream_hash_known(struct store *st, int64_t id, const char *hash)
{
	const char *error;
	return exists(st, SQL_HASH_KNOWN, id, hash,
		      "cannot look up the message hash", &error);
}

int
store_upstream_uidl_list(struct store *st, int64_t id, char ***uidls_r,
			 size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_UIDL_LIST);
	stmt_int(s, 1, id);
	return stmt_strings(st, s, "cannot read the UIDLs", uidls_r, n_r, error_r);
}

int
store_upstream_uidl_forget(struct store *st, int64_t id, const char *const *uidls,
			   size_t n, const char **error_r)
{
	if (n == 0)
		return STORE_OK;
	if (store_begin(st, error_r) != STORE_OK)
		return STORE_ERROR;
	int ret = STORE_OK;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		sqlite3_stmt *s = store_stmt(st, SQL_UIDL_DEL);
		stmt_int(s, 1, id);
		stmt_text(s, 2, uidls[i]);
		ret = stmt_exec(st, s, "cannot forget a UIDL", error_r);
	}
	return store_end(st, ret, error_r);
}

void
store_upstream_uidls_free(char ***uidls, size_t n)
{
	store_strv_free(uidls, n);
}

/* Inside the transaction: is the message recorded as fetched already? */
static int
already_fetched(struct store *st, const struct upstream_delivery *d,
		const char **error_r)
{
	if (d->folder != NULL) {
		uint32_t uidvalidity = 0, last_uid = 0;
		bool refetch = false;
		int ret = store_upstream_folder_get(st, d->upstream_id, d->folder,
						    &uidvalidity, &last_uid, &refetch,
						    error_r);
		if (ret == STORE_NOTFOUND)
			return 0;
		if (ret != STORE_OK)
			return -1;
		/* another fetcher (a CLI `upstream run`) got here first, or the
		 * folder was reset under us: either way nothing to append */
		if (uidvalidity != d->uidvalidity || d->uid <= last_uid)
			return 1;
		return 0;
	}
	if (d->uidl != NULL)
		return exists(st, SQL_UIDL_KNOWN, d->upstream_id, d->uidl,
			      "cannot look up the UIDL", error_r);
	/* A POP3 server without UIDL: the raw hash is all we have. */
	return exists(st, SQL_HASH_KNOWN, d->upstream_id, d->raw_hash,
		      "cannot look up the message hash", error_r);
}

int
store_upstream_deliver_tx(struct store *st, const struct upstream_delivery *d,
			  bool *appended_r, const char **error_r)
{
	*appended_r = false;
	int known = already_fetched(st, d, error_r);
	if (known < 0)
		return STORE_ERROR;
	if (known > 0)
		return STORE_OK;
	bool append = true;
	sqlite3_stmt *s;
	if (d->two_way && d->folder != NULL) {
		s = store_stmt(st, SQL_LINK_RESOLVE);
		stmt_int(s, 1, d->upstream_id);
		stmt_text(s, 2, d->raw_hash);
		stmt_text(s, 3, d->folder);
		stmt_int(s, 4, d->uidvalidity);
		stmt_int(s, 5, d->uid);
		unsigned resolved;
		int ret = stmt_exec_n(st, s, "cannot link the message", &resolved, error_r);
		if (ret != STORE_OK)
			return ret;
		append = resolved == 0;
	}
	if (append && d->skip_known_hash) {
		int hk = exists(st, SQL_HASH_KNOWN, d->upstream_id, d->raw_hash,
				"cannot look up the message hash", error_r);
		if (hk < 0)
			return STORE_ERROR;
		append = hk == 0;
	}
	/* Gmail shows one message in every label's folder (and All Mail)
	 * under one X-GM-MSGID: the first folder fetched brings it, the
	 * others only record their UID.  Kept beside the raw hashes as
	 * "gm:" + the id, so it goes with the account. */
	char gm_key[32];
	if (d->gm_msgid != 0) {
		snprintf(gm_key, sizeof gm_key, "gm:%llu", (unsigned long long)d->gm_msgid);
		if (append) {
			int gk = exists(st, SQL_HASH_KNOWN, d->upstream_id, gm_key,
					"cannot look up the message id", error_r);
			if (gk < 0)
				return STORE_ERROR;
			append = gk == 0;
		}
	}
	if (append && d->dedupe_key != NULL) {
		s = store_stmt(st, SQL_DEDUPE_ADD);
		stmt_int(s, 1, d->user_id);
		stmt_text(s, 2, d->dedupe_key);
		stmt_int(s, 3, store_now());
		unsigned added;
		int ret = stmt_exec_n(st, s, "cannot record the dedupe key", &added,
				      error_r);
		if (ret != STORE_OK)
			return ret;
		append = added > 0;
	}
	if (append) {
		uint32_t uid = 0;
		/* the upstream's flags, \\Deleted apart (it would go with
		 * any client's next EXPUNGE) */
		unsigned flags = d->flags & (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED |
					     STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT);
		int ret = STORE_OK;
		int64_t target = d->mailbox_id;
		if (!d->placed && d->junk)
			ret = store_special_mailbox_tx(st, d->user_id, "\\Junk", &target, error_r);
		if (!d->placed && ret == STORE_OK)
			ret = store_append_tx(st, target, d->blob, d->size,
					      d->internal_date, flags, d->keywords, false, &uid,
					      error_r);
		for (size_t i = 0; d->placed && ret == STORE_OK && i < d->n_copies; i++) {
			const struct store_copy *c = &d->copies[i];
			int64_t mailbox;
			if (c->special_use != NULL && c->special_use[0] == '\\')
				ret = store_special_mailbox_tx(st, d->user_id, c->special_use,
							       &mailbox, error_r);
			else
				ret = store_copy_mailbox_tx(st, d->user_id, c->mailbox,
							    c->create, &mailbox, error_r);
			if (ret == STORE_OK)
				ret = store_append_tx(st, mailbox, c->blob, c->size,
						      d->internal_date, flags | c->flags,
						      c->keywords, false, &uid, error_r);
		}
		if (ret != STORE_OK)
			return ret;
		if (d->two_way && d->folder != NULL) {
			s = store_stmt(st, SQL_LINK_ADD);
			stmt_int(s, 1, d->upstream_id);
			stmt_int(s, 2, d->mailbox_id);
			stmt_text(s, 3, d->folder);
			stmt_int(s, 4, d->uidvalidity);
			stmt_int(s, 5, d->uid);
			stmt_text(s, 6, d->raw_hash);
			stmt_int(s, 7, uid);
			if ((ret = stmt_exec(st, s, "cannot link the message", error_r)) != STORE_OK)
				return ret;
		}
		s = store_stmt(st, SQL_COUNT);
		stmt_int(s, 1, d->upstream_id);
		if ((ret = stmt_exec(st, s, "cannot count the message", error_r)) != STORE_OK)
			return ret;
	}
	s = store_stmt(st, SQL_HASH_ADD);
	stmt_int(s, 1, d->upstream_id);
	stmt_text(s, 2, d->raw_hash);
	int ret = stmt_exec(st, s, "cannot record the message hash", error_r);
	if (ret != STORE_OK)
		return ret;
	if (d->gm_msgid != 0) {
		s = store_stmt(st, SQL_HASH_ADD);
		stmt_int(s, 1, d->upstream_id);
		stmt_text(s, 2, gm_key);
		if ((ret = stmt_exec(st, s, "cannot record the message id", error_r)) != STORE_OK)
			return ret;
	}
	if (d->folder != NULL) {
		s = store_stmt(st, SQL_FOLDER_ADVANCE);
		stmt_int(s, 1, d->upstream_id);
		stmt_text(s, 2, d->folder);
		stmt_int(s, 3, d->uid);
		unsigned advanced;
		if ((ret = stmt_exec_n(st, s, "cannot record the UID", &advanced,
				       error_r)) != STORE_OK)
			return ret;
		if (advanced == 0) {
			s = store_stmt(st, SQL_FOLDER_SET);
			stmt_int(s, 1, d->upstream_id);
			stmt_text(s, 2, d->folder);
			stmt_int(s, 3, d->uidvalidity);
			stmt_int(s, 4, d->uid);
			stmt_int(s, 5, 0);
			if ((ret = stmt_exec(st, s, "cannot record the UID", error_r)) != STORE_OK)
				return ret;
		}
	} else if (d->uidl != NULL) {
		s = store_stmt(st, SQL_UIDL_ADD);
		stmt_int(s, 1, d->upstream_id);
		stmt_text(s, 2, d->uidl);
		stmt_int(s, 3, store_now());
		if ((ret = stmt_exec(st, s, "cannot record the UIDL", error_r)) != STORE_OK)
			return ret;
	}
	*appended_r = append;
	return STORE_OK;
}

int
store_upstream_deliver(struct store *st, const struct upstream_delivery *d,
		       bool *appended_r, const char **error_r)
{
	bool appended = false;
	*appended_r = false;
	/* ENVELOPE and BODYSTRUCTURE, before the write lock (messages.c) */
	store_imap_cache_prepare(st, d->blob);
	if (store_begin(st, error_r) != STORE_OK)
		return STORE_ERROR;
	st->append_cache = &st->imap_cache;
	int ret = store_upstream_deliver_tx(st, d, &appended, error_r);
	st->append_cache = NULL;
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK)
		*appended_r = appended;
	return ret;
}

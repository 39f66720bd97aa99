/*
 * app_passwords: app passwords and the SCRAM keys of a user (see
 * app_passwords.h for the design: one slow hash per login, one salt per
 * user).
 */
#include "store/app_passwords.h"

#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/password.h"
#include "core/sasl.h"
#include "core/seal.h"
#include "core/utf8.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

#define AP_COLUMNS \
	"a.id, a.user_id, u.address, a.name, a.created, a.last_used, a.last_protocol"

static const char SQL_COUNT[] =
	"SELECT count(*) FROM app_passwords WHERE user_id = ?1";
static const char SQL_NAME_TAKEN[] =
	"SELECT 1 FROM app_passwords WHERE user_id = ?1 AND name = ?2";
static const char SQL_ADD[] =
	"INSERT INTO app_passwords (user_id, name, tag, password_hash, scram, created)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_LIST_USER[] =
	"SELECT " AP_COLUMNS " FROM app_passwords a JOIN users u ON u.id = a.user_id"
	" WHERE a.user_id = ?1 ORDER BY a.id";
static const char SQL_LIST_ALL[] =
	"SELECT " AP_COLUMNS " FROM app_passwords a JOIN users u ON u.id = a.user_id"
	" ORDER BY u.address, a.id";
static const char SQL_GET[] =
	"SELECT " AP_COLUMNS " FROM app_passwords a JOIN users u ON u.id = a.user_id"
	" WHERE a.id = ?1";
static const char SQL_DEL[] = "DELETE FROM app_passwords WHERE id = ?1";
static const char SQL_FIND[] =
	"SELECT id, password_hash FROM app_passwords WHERE user_id = ?1 AND tag = ?2";
static const char SQL_USED[] =
	"UPDATE app_passwords SET last_used = ?2, last_protocol = ?3 WHERE id = ?1";
static const char SQL_USER_SCRAM[] =
	"SELECT id, enabled, scram FROM users WHERE address = ?1";
static const char SQL_APP_SCRAM[] =
	"SELECT id, scram FROM app_passwords WHERE user_id = ?1 ORDER BY id";
static const char SQL_SET_SCRAM[] = "UPDATE users SET scram = ?2 WHERE id = ?1";

/* ---- the user's SCRAM salt ---------------------------------------------- */

/* The user's SCRAM row: id, enabled, and the password's keys if any. */
struct user_scram {
	int64_t id;
	bool enabled;
	bool has_keys;
	struct scram_keys keys;
};

static int
user_scram_get(struct store *st, const char *lower, struct user_scram *u,
	       const char **error_r)
{
	memset(u, 0, sizeof *u);
	sqlite3_stmt *s = store_stmt(st, SQL_USER_SCRAM);
	stmt_text(s, 1, lower);
	int ret = stmt_row(st, s, "cannot read the user", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("user '%s' does not exist", esc_str(lower));
	if (ret != STORE_OK)
		return ret;
	u->id = sqlite3_column_int64(s, 0);
	u->enabled = sqlite3_column_int(s, 1) != 0;
	const char *text = (const char *)sqlite3_column_text(s, 2);
	u->has_keys = text != NULL && scram_parse(text, &u->keys) == 0;
	stmt_done(s);
	return STORE_OK;
}

/* Calls fn for each of the user's app passwords' SCRAM keys that parse;
 * stops early when fn returns false.  STORE_OK or STORE_ERROR. */
static int
each_app_scram(struct store *st, int64_t user_id,
	       bool (*fn)(void *ctx, int64_t id, const struct scram_keys *k), void *ctx,
	       const char **error_r)
{
	int rc;
	sqlite3_stmt *s = store_stmt(st, SQL_APP_SCRAM);
	stmt_int(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct scram_keys k;
		const char *text = (const char *)sqlite3_column_text(s, 1);
		if (text != NULL && scram_parse(text, &k) == 0 &&
		    !fn(ctx, sqlite3_column_int64(s, 0), &k))
			break;
	}
	stmt_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot read the app passwords");
		return STORE_ERROR;
	}
	return STORE_OK;
}

static bool
take_first(void *ctx, int64_t id, const struct scram_keys *k)
{
	(void)id;
	*(struct scram_keys *)ctx = *k;
	return false;
}

/*
 * Inside a transaction: derives the SCRAM keys of password for user u with
 * the user's salt (the password's keys', else an app password's, else a new
 * random one) into *text_r (the stored form, malloc'd).
 */
static int
derive_for_user(struct store *st, const struct user_scram *u, const char *password,
		char **text_r, const char **error_r)
{
	struct scram_keys salt_from = { 0 }, k;
	int ret;

	if (u->has_keys) {
		salt_from = u->keys;
	} else if ((ret = each_app_scram(st, u->id, take_first, &salt_from, error_r)) < 0) {
		return ret;
	}
	if (salt_from.salt_len == 0) {
		salt_from.salt_len = SCRAM_SALT_LEN;
		random_bytes(salt_from.salt, SCRAM_SALT_LEN);
	}
	if (scram_derive(password, strlen(password), salt_from.salt, salt_from.salt_len,
			 SCRAM_ITERATIONS, &k, error_r) < 0)
		return STORE_ERROR;
	*text_r = scram_format(&k);
	explicit_bzero(&k, sizeof k);
	return STORE_OK;
}

static int
set_scram_tx(struct store *st, const char *lower, const char *password,
	     const char **error_r)
{
	struct user_scram u;
	char *text = NULL;
	int ret;

	if ((ret = user_scram_get(st, lower, &u, error_r)) < 0)
		return ret;
	if ((ret = derive_for_user(st, &u, password, &text, error_r)) < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_SET_SCRAM);
	stmt_int(s, 1, u.id);
	stmt_text(s, 2, text);
	ret = stmt_exec(st, s, "cannot store the SCRAM keys", error_r);
	free(text);
	return ret;
}

int
store_user_set_scram(struct store *st, const char *address, const char *password,
		     const char **error_r)
{
	int ret;
	char *lower = store_lower_dup(address);

	if ((ret = store_begin(st, error_r)) == STORE_OK)
		ret = store_end(st, set_scram_tx(st, lower, password, error_r), error_r);
	free(lower);
	return ret;
}

/* ---- the SCRAM keys of a login ------------------------------------------ */

struct keys_acc {
	struct store_scram_keys *out;
};

static void
keys_push(struct store_scram_keys *out, int64_t app_id, const struct scram_keys *k)
{
	out->keys = xreallocarray(out->keys, out->n + 1, sizeof *out->keys);
	out->app_ids = xreallocarray(out->app_ids, out->n + 1, sizeof *out->app_ids);
	out->keys[out->n] = *k;
	out->app_ids[out->n] = app_id;
	out->n++;
}

static bool
take_same_salt(void *ctx, int64_t id, const struct scram_keys *k)
{
	struct store_scram_keys *out = ctx;
	const struct scram_keys *first = out->n > 0 ? &out->keys[0] : NULL;
	if (first == NULL ||
	    (k->iterations == first->iterations && k->salt_len == first->salt_len &&
	     memcmp(k->salt, first->salt, k->salt_len) == 0))
		keys_push(out, id, k);
	return out->n < SASL_SCRAM_KEYS_MAX;
}

int
store_scram_keys_get(struct store *st, const char *address, struct store_scram_keys *out,
		     const char **error_r)
{
	struct user_scram u;
	int ret;

	memset(out, 0, sizeof *out);
	if (strlen(address) > ADDRESS_MAX) {
		*error_r = "user does not exist";
		return STORE_NOTFOUND;
	}
	char *lower = store_lower_dup(address);
	ret = user_scram_get(st, lower, &u, error_r);
	free(lower);
	if (ret != STORE_OK)
		return ret;
	out->user_id = u.id;
	if (!u.enabled)
		return STORE_OK;
	if (u.has_keys)
		keys_push(out, 0, &u.keys);
	ret = each_app_scram(st, u.id, take_same_salt, out, error_r);
	explicit_bzero(&u, sizeof u);
	if (ret != STORE_OK)
		store_scram_keys_clear(out);
	return ret;
}

void
store_scram_keys_clear(struct store_scram_keys *k)
{
	if (k->keys != NULL) {
		explicit_bzero(k->keys, k->n * sizeof *k->keys);
		free(k->keys);
	}
	free(k->app_ids);
	memset(k, 0, sizeof *k);
}

/* ---- app passwords ------------------------------------------------------ */

/* The tag of a canonical app password, as hex. */
static int
app_tag(const char *canonical, char hex[2 * SEAL_MAC_LEN + 1], const char **error_r)
{
	unsigned char mac[SEAL_MAC_LEN];
	if (seal_mac(APP_PASSWORD_TAG_PURPOSE, canonical, strlen(canonical), mac,
		     error_r) < 0)
		return -1;
	hex_encode(mac, sizeof mac, hex);
	return 0;
}

static int
name_valid(const char *name, const char **error_r)
{
	size_t n = strlen(name);
	if (n == 0 || n > APP_PASSWORD_NAME_MAX || !utf8_valid(name, n)) {
		*error_r = errfmt("an app password's name has 1 to %d bytes of UTF-8",
				  APP_PASSWORD_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f) {
			*error_r = "an app password's name has no control characters";
			return -1;
		}
	}
	return 0;
}

struct new_app {
	const char *lower;
	const char *name;
	const char *password;
	const char *hash;
	const char *tag;
	int64_t id;
};

static int
create_tx(struct store *st, struct new_app *a, const char **error_r)
{
	struct user_scram u;
	int64_t count;
	char *scram = NULL;
	int ret;

	if ((ret = user_scram_get(st, a->lower, &u, error_r)) < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_COUNT);
	stmt_int(s, 1, u.id);
	if ((ret = stmt_ints(st, s, "cannot count app passwords", &count, 1, error_r)) < 0)
		return ret;
	if (count >= APP_PASSWORDS_MAX) {
		*error_r = errfmt("a user has at most %d app passwords", APP_PASSWORDS_MAX);
		return STORE_INVALID;
	}
	s = store_stmt(st, SQL_NAME_TAKEN);
	stmt_int(s, 1, u.id);
	stmt_text(s, 2, a->name);
	int taken = stmt_exists(st, s, "cannot look up the name", error_r);
	if (taken < 0)
		return STORE_ERROR;
	if (taken > 0) {
		*error_r = errfmt("an app password named '%s' exists already", esc_str(a->name));
		return STORE_EXISTS;
	}
	if ((ret = derive_for_user(st, &u, a->password, &scram, error_r)) < 0)
		return ret;
	s = store_stmt(st, SQL_ADD);
	stmt_int(s, 1, u.id);
	stmt_text(s, 2, a->name);
	stmt_text(s, 3, a->tag);
	stmt_text(s, 4, a->hash);
	stmt_text(s, 5, scram);
	stmt_int(s, 6, store_now());
	ret = stmt_exec(st, s, "cannot add the app password", error_r);
	free(scram);
	if (ret == STORE_OK)
		a->id = sqlite3_last_insert_rowid(st->db);
	return ret;
}

int
store_app_password_create(struct store *st, const char *address, const char *name,
			  char **password_r, struct store_app_password *ap_r,
			  const char **error_r)
{
	char tag[2 * SEAL_MAC_LEN + 1];
	char *hash = NULL;
	int ret;

	*password_r = NULL;
	memset(ap_r, 0, sizeof *ap_r);
	if (name_valid(name, error_r) < 0)
		return STORE_INVALID;
	char *password = password_app_generate();
	/* the slow hash before the transaction, which it would hold up */
	if (app_tag(password, tag, error_r) < 0 ||
	    password_hash(password, &hash, error_r) < 0) {
		explicit_bzero(password, strlen(password));
		free(password);
		return STORE_ERROR;
	}
	char *lower = store_lower_dup(address);
	struct new_app a = { .lower = lower, .name = name, .password = password,
			     .hash = hash, .tag = tag };
	if ((ret = store_begin(st, error_r)) == STORE_OK)
		ret = store_end(st, create_tx(st, &a, error_r), error_r);
	explicit_bzero(hash, strlen(hash));
	free(hash);
	if (ret == STORE_OK)
		ret = store_app_password_get(st, a.id, ap_r, error_r);
	if (ret == STORE_OK) {
		log_info("store app-password id=%lld user=%s name=%s created",
			 (long long)a.id, lower, esc_str(name));
		*password_r = password;
	} else {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	free(lower);
	return ret;
}

static void
ap_read(sqlite3_stmt *s, void *elem)
{
	struct store_app_password *ap = elem;
	ap->id = sqlite3_column_int64(s, 0);
	ap->user_id = sqlite3_column_int64(s, 1);
	ap->user = stmt_col_strdup(s, 2);
	ap->name = stmt_col_strdup(s, 3);
	ap->created = sqlite3_column_int64(s, 4);
	ap->last_used = sqlite3_column_int64(s, 5);
	ap->last_protocol = sqlite3_column_type(s, 6) == SQLITE_NULL ? NULL
								     : stmt_col_strdup(s, 6);
}

static void
ap_clear(void *elem)
{
	store_app_password_clear(elem);
}

static const struct stmt_rows ap_rows = {
	.size = sizeof(struct store_app_password),
	.read = ap_read,
	.clear = ap_clear,
};

void
store_app_password_clear(struct store_app_password *ap)
{
	if (ap == NULL)
		return;
	free(ap->user);
	free(ap->name);
	free(ap->last_protocol);
	memset(ap, 0, sizeof *ap);
}

void
store_app_password_list_free(struct store_app_password **list, size_t n)
{
	stmt_rows_free(&ap_rows, *list, n);
	*list = NULL;
}

int
store_app_password_list(struct store *st, const char *address,
			struct store_app_password **list_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s;
	void *list;
	int ret;

	*list_r = NULL;
	*n_r = 0;
	if (address != NULL) {
		int64_t user_id;
		char *lower = store_lower_dup(address);
		ret = store_user_id(st, lower, &user_id, error_r);
		free(lower);
		if (ret != STORE_OK)
			return ret;
		s = store_stmt(st, SQL_LIST_USER);
		stmt_int(s, 1, user_id);
	} else {
		s = store_stmt(st, SQL_LIST_ALL);
	}
	ret = stmt_list(st, s, &ap_rows, "cannot list app passwords", &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

int
store_app_password_get(struct store *st, int64_t id, struct store_app_password *ap_r,
		       const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_int(s, 1, id);
	int ret = stmt_get(st, s, &ap_rows, "cannot read the app password", ap_r, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("app password #%lld does not exist", (long long)id);
	return ret;
}

int
store_app_password_del(struct store *st, int64_t id, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DEL);
	stmt_int(s, 1, id);
	int ret = stmt_exec_one(st, s, "cannot delete the app password", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("app password #%lld does not exist", (long long)id);
	if (ret == STORE_OK)
		log_info("store app-password id=%lld deleted", (long long)id);
	return ret;
}

int
store_app_password_find(struct store *st, int64_t user_id, const char *password,
			struct store_app_password_match *m, const char **error_r)
{
	char canonical[PASSWORD_APP_LEN + 1];
	char tag[2 * SEAL_MAC_LEN + 1];
	const char *why;

	memset(m, 0, sizeof *m);
	if (!password_app_canonical(password, canonical))
		return 0;
	/* without the key no tag can match: the user's password is checked */
	int r = app_tag(canonical, tag, &why);
	explicit_bzero(canonical, sizeof canonical);
	if (r < 0)
		return 0;
	sqlite3_stmt *s = store_stmt(st, SQL_FIND);
	stmt_int(s, 1, user_id);
	stmt_text(s, 2, tag);
	int ret = stmt_row(st, s, "cannot look up app passwords", error_r);
	if (ret == STORE_NOTFOUND)
		return 0;
	if (ret != STORE_OK)
		return -1;
	m->id = sqlite3_column_int64(s, 0);
	m->password_hash = stmt_col_strdup(s, 1);
	stmt_done(s);
	return 1;
}

void
store_app_password_match_clear(struct store_app_password_match *m)
{
	if (m->password_hash != NULL) {
		explicit_bzero(m->password_hash, strlen(m->password_hash));
		free(m->password_hash);
	}
	memset(m, 0, sizeof *m);
}

int
store_app_password_used(struct store *st, int64_t id, const char *protocol,
			const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_USED);
	stmt_int(s, 1, id);
	stmt_int(s, 2, store_now());
	stmt_text(s, 3, protocol);
	return stmt_exec(st, s, "cannot record the app password's use", error_r);
}

/*
 * domains: the local domains, and the validation of domain names and
 * addresses that every other part of the store relies on.
 */
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_ID[] = "SELECT id FROM domains WHERE name = ?1";
static const char SQL_ADD[] =
	"INSERT INTO domains (name, created) VALUES (?1, ?2)";
static const char SQL_IN_USE[] =
	"SELECT (SELECT count(*) FROM users WHERE domain_id = ?1),"
	" (SELECT count(*) FROM aliases WHERE domain_id = ?1)";
static const char SQL_DEL[] = "DELETE FROM domains WHERE id = ?1";
static const char SQL_LIST[] =
	"SELECT id, name, created FROM domains ORDER BY name";

/* RFC 1035 §2.3.4 (a label at most 63 octets, a name at most 255 with its
 * length bytes, so 253 as text) and RFC 1123 §2.1 (labels may start with a
 * digit): letters, digits and inner hyphens. */
#define DOMAIN_TEXT_MAX 253
#define DOMAIN_LABEL_MAX 63

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

bool
store_domain_name_valid(const char *name)
{
	size_t len = strlen(name);
	size_t label = 0;

	if (len == 0 || len > DOMAIN_TEXT_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return false;
		} else if (!is_alnum(c)) {
			return false;
		}
		if (++label > DOMAIN_LABEL_MAX)
			return false;
	}
	return true;
}

/* RFC 5322 §3.2.3 atext, the characters of a dot-atom besides '.'. */
static bool
is_atext(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool
store_address_valid(const char *address)
{
	const char *at = strchr(address, '@');
	size_t local_len;

	if (at == NULL || strlen(address) > ADDRESS_MAX)
		return false;
	local_len = (size_t)(at - address);
	/* RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
	if (local_len == 0 || local_len > SMTP_LOCAL_PART_MAX)
		return false;
	if (address[0] == '.' || at[-1] == '.')
		return false;
	for (const char *p = address; p < at; p++) {
		if (*p == '.') {
			if (p[1] == '.')
				return false;
		} else if (!is_atext(*p)) {
			return false;
		}
	}
	return strlen(at + 1) <= SMTP_DOMAIN_MAX && store_domain_name_valid(at + 1);
}

int
store_domain_id(struct store *st, const char *name, int64_t *id_r,
		const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_ID);
	stmt_text(s, 1, name);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(s, 0);
		stmt_done(s);
		return STORE_OK;
	}
	stmt_done(s);
	if (rc == SQLITE_DONE) {
		*error_r = errfmt("domain '%s' does not exist", name);
		return STORE_NOTFOUND;
	}
	*error_r = store_db_error(st, "cannot look up a domain");
	return STORE_ERROR;
}

int
store_domain_add(struct store *st, const char *name, const char **error_r)
{
	int64_t id;
	int ret;

	if (!store_domain_name_valid(name)) {
		*error_r = errfmt("invalid domain name '%s'", esc_str(name));
		return STORE_INVALID;
	}
	char *lower = store_lower_dup(name);
	if ((ret = store_begin(st, error_r)) < 0)
		goto out;
	ret = store_domain_id(st, lower, &id, error_r);
	if (ret == STORE_OK) {
		*error_r = errfmt("domain '%s' exists already", lower);
		ret = STORE_EXISTS;
	} else if (ret == STORE_NOTFOUND) {
		sqlite3_stmt *s = store_stmt(st, SQL_ADD);
		stmt_text(s, 1, lower);
		stmt_int(s, 2, store_now());
		ret = stmt_exec(st, s, "cannot add the domain", error_r);
	}
	if (ret == STORE_OK)
		ret = store_commit(st, error_r);
	else
		store_rollback(st);
	if (ret == STORE_OK)
		log_info("store domain=%s added", lower);
out:
	free(lower);
	return ret;
}

int
store_domain_del(struct store *st, const char *name, const char **error_r)
{
	int64_t id;
	int ret;

	char *lower = store_lower_dup(name);
	if ((ret = store_begin(st, error_r)) < 0)
		goto out;
	ret = store_domain_id(st, lower, &id, error_r);
	if (ret == STORE_OK) {
		sqlite3_stmt *s = store_stmt(st, SQL_IN_USE);
		stmt_int(s, 1, id);
		if (sqlite3_step(s) != SQLITE_ROW) {
			*error_r = store_db_error(st, "cannot count the domain's users");
			ret = STORE_ERROR;
		} else {
			int64_t users = sqlite3_column_int64(s, 0);
			int64_t aliases = sqlite3_column_int64(s, 1);
			if (users > 0 || aliases > 0) {
				*error_r = errfmt("domain '%s' still has %lld "
						  "user(s) and %lld alias(es)",
						  lower, (long long)users,
						  (long long)aliases);
				ret = STORE_BUSY;
			}
		}
		stmt_done(s);
	}
	if (ret == STORE_OK) {
		sqlite3_stmt *s = store_stmt(st, SQL_DEL);
		stmt_int(s, 1, id);
		ret = stmt_exec(st, s, "cannot delete the domain", error_r);
	}
	if (ret == STORE_OK)
		ret = store_commit(st, error_r);
	else
		store_rollback(st);
	if (ret == STORE_OK)
		log_info("store domain=%s deleted", lower);
out:
	free(lower);
	return ret;
}

int
store_domain_is_local(struct store *st, const char *name)
{
	const char *error;
	int64_t id;

	char *lower = store_lower_dup(name);
	int ret = store_domain_id(st, lower, &id, &error);
	free(lower);
	if (ret == STORE_OK)
		return 1;
	if (ret == STORE_NOTFOUND)
		return 0;
	log_error("store: %s", error);
	return -1;
}

int
store_domain_list(struct store *st, struct store_domain **list_r, size_t *n_r,
		  const char **error_r)
{
	struct store_domain *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xreallocarray(list, cap, sizeof *list);
		}
		list[n].id = sqlite3_column_int64(s, 0);
		list[n].name = stmt_col_strdup(s, 1);
		list[n].created = sqlite3_column_int64(s, 2);
		n++;
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot list domains");
		store_domain_list_free(&list, n);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

void
store_domain_list_free(struct store_domain **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*list)[i].name);
	xfree(*list);
}

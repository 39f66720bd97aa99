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
	int ret = stmt_ints(st, s, "cannot look up a domain", id_r, 1, error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("domain '%s' does not exist", name);
	return ret;
}

int
store_domain_id_local(struct store *st, const char *name, int64_t *id_r,
		      const char **error_r)
{
	int ret = store_domain_id(st, name, id_r, error_r);
	if (ret == STORE_NOTFOUND) {
		*error_r = errfmt("domain '%s' is not a local domain", name);
		return STORE_NOTLOCAL;
	}
	return ret;
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
	if ((ret = store_end(st, ret, error_r)) == STORE_OK)
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
		/* users, aliases */
		int64_t in_use[2];
		sqlite3_stmt *s = store_stmt(st, SQL_IN_USE);
		stmt_int(s, 1, id);
		ret = stmt_ints(st, s, "cannot count the domain's users", in_use,
				2, error_r);
		if (ret == STORE_OK && (in_use[0] > 0 || in_use[1] > 0)) {
			*error_r = errfmt("domain '%s' still has %lld "
					  "user(s) and %lld alias(es)",
					  lower, (long long)in_use[0],
					  (long long)in_use[1]);
			ret = STORE_BUSY;
		}
	}
	if (ret == STORE_OK) {
		sqlite3_stmt *s = store_stmt(st, SQL_DEL);
		stmt_int(s, 1, id);
		ret = stmt_exec(st, s, "cannot delete the domain", error_r);
	}
	if ((ret = store_end(st, ret, error_r)) == STORE_OK)
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

static void
domain_read(sqlite3_stmt *s, void *elem)
{
	struct store_domain *d = elem;
	d->id = sqlite3_column_int64(s, 0);
	d->name = stmt_col_strdup(s, 1);
	d->created = sqlite3_column_int64(s, 2);
}

static void
domain_clear(void *elem)
{
	struct store_domain *d = elem;
	free(d->name);
}

static const struct stmt_rows domain_rows = {
	.size = sizeof(struct store_domain),
	.read = domain_read,
	.clear = domain_clear,
};

int
store_domain_list(struct store *st, struct store_domain **list_r, size_t *n_r,
		  const char **error_r)
{
	void *list;
	int ret = stmt_list(st, store_stmt(st, SQL_LIST), &domain_rows,
			    "cannot list domains", &list, n_r, error_r);
	if (ret == STORE_OK)
		*list_r = list;
	return ret;
}

void
store_domain_list_free(struct store_domain **list, size_t n)
{
	stmt_rows_free(&domain_rows, *list, n);
	*list = NULL;
}

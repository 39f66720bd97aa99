/*
 * aliases: addresses that forward to others, and each domain's catch-all
 * ("@example.org").  Every change is checked for loops before it commits.
 */
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_GET[] =
	"SELECT id, source, created FROM aliases WHERE source = ?1";
static const char SQL_DESTS[] =
	"SELECT address FROM alias_destinations WHERE alias_id = ?1"
	" ORDER BY position";
static const char SQL_LIST[] =
	"SELECT a.id, a.source, a.created, d.address FROM aliases a"
	" LEFT JOIN alias_destinations d ON d.alias_id = a.id"
	" ORDER BY a.source, d.position";
static const char SQL_SOURCES[] = "SELECT source FROM aliases ORDER BY id";
static const char SQL_USER_EXISTS[] = "SELECT 1 FROM users WHERE address = ?1";
static const char SQL_ADD[] =
	"INSERT INTO aliases (domain_id, source, created) VALUES (?1, ?2, ?3)";
static const char SQL_ADD_DEST[] =
	"INSERT INTO alias_destinations (alias_id, position, address)"
	" VALUES (?1, ?2, ?3)";
static const char SQL_CLEAR_DESTS[] =
	"DELETE FROM alias_destinations WHERE alias_id = ?1";
static const char SQL_DEL[] = "DELETE FROM aliases WHERE id = ?1";

void
store_alias_clear(struct store_alias *a)
{
	if (a == NULL)
		return;
	free(a->source);
	for (size_t i = 0; i < a->n_destinations; i++)
		free(a->destinations[i]);
	free(a->destinations);
	memset(a, 0, sizeof *a);
}

void
store_alias_list_free(struct store_alias **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_alias_clear(&(*list)[i]);
	xfree(*list);
}

static void
alias_add_dest(struct store_alias *a, const char *dest)
{
	a->destinations = xreallocarray(a->destinations, a->n_destinations + 1,
					sizeof *a->destinations);
	a->destinations[a->n_destinations++] = xstrdup(dest);
}

/* "x@example.org" or "@example.org". */
static bool
source_valid(const char *source)
{
	if (source[0] == '@')
		return store_domain_name_valid(source + 1);
	return store_address_valid(source);
}

/* Looks the alias up: STORE_OK with id and (optionally) the row, or
 * STORE_NOTFOUND / STORE_ERROR. */
static int
alias_find(struct store *st, const char *lower, int64_t *id_r,
	   struct store_alias *a, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_text(s, 1, lower);
	int ret = stmt_row(st, s, "cannot read an alias", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = errfmt("alias '%s' does not exist", esc_str(lower));
	if (ret != STORE_OK)
		return ret;
	*id_r = sqlite3_column_int64(s, 0);
	if (a != NULL) {
		memset(a, 0, sizeof *a);
		a->id = *id_r;
		a->source = stmt_col_strdup(s, 1);
		a->created = sqlite3_column_int64(s, 2);
	}
	stmt_done(s);
	if (a == NULL)
		return STORE_OK;
	s = store_stmt(st, SQL_DESTS);
	stmt_int(s, 1, *id_r);
	ret = stmt_strings(st, s, "cannot read an alias", &a->destinations,
			   &a->n_destinations, error_r);
	if (ret != STORE_OK)
		store_alias_clear(a);
	return ret;
}

int
store_alias_get(struct store *st, const char *source, struct store_alias *a,
		const char **error_r)
{
	int64_t id;
	char *lower = store_lower_dup(source);
	int ret = alias_find(st, lower, &id, a, error_r);
	free(lower);
	return ret;
}

int
store_alias_list(struct store *st, struct store_alias **list_r, size_t *n_r,
		 const char **error_r)
{
	struct store_alias *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		if (n == 0 || list[n - 1].id != id) {
			if (n == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				list = xreallocarray(list, cap, sizeof *list);
			}
			struct store_alias *a = &list[n++];
			memset(a, 0, sizeof *a);
			a->id = id;
			a->source = stmt_col_strdup(s, 1);
			a->created = sqlite3_column_int64(s, 2);
		}
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			alias_add_dest(&list[n - 1], (const char *)sqlite3_column_text(s, 3));
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot list aliases");
		store_alias_list_free(&list, n);
		return STORE_ERROR;
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

/* Validated, lowercased destinations without repeats (malloc'd). */
static int
clean_destinations(const char *const *dests, size_t n, char ***out_r,
		   size_t *n_r, const char **error_r)
{
	if (n == 0) {
		*error_r = "an alias needs at least one destination";
		return STORE_INVALID;
	}
	if (n > ALIAS_EXPANSION_MAX) {
		*error_r = errfmt("an alias has at most %d destinations",
				  ALIAS_EXPANSION_MAX);
		return STORE_INVALID;
	}
	char **out = xcalloc(n, sizeof *out);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (dests[i] == NULL || !store_address_valid(dests[i])) {
			*error_r = errfmt("invalid destination '%s'",
					  esc_str(dests[i]));
			for (size_t j = 0; j < m; j++)
				free(out[j]);
			free(out);
			return STORE_INVALID;
		}
		char *lower = store_lower_dup(dests[i]);
		bool dup = false;
		for (size_t j = 0; j < m && !dup; j++)
			dup = strcmp(out[j], lower) == 0;
		if (dup)
			free(lower);
		else
			out[m++] = lower;
	}
	*out_r = out;
	*n_r = m;
	return STORE_OK;
}

static int
write_destinations(struct store *st, int64_t alias_id, char **dests, size_t n,
		   const char **error_r)
{
	int ret = STORE_OK;
	sqlite3_stmt *s = store_stmt(st, SQL_ADD_DEST);
	stmt_int(s, 1, alias_id);
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		/* Bindings survive the reset: ?1 stays. */
		stmt_int(s, 2, (int64_t)i);
		stmt_text(s, 3, dests[i]);
		ret = stmt_exec(st, s, "cannot add a destination", error_r);
	}
	return ret;
}

/*
 * Inside the transaction, after the change: resolves every alias source.
 * An alias can make another source loop (its chain now runs through the
 * new alias) or run too deep, so checking only the changed one is not
 * enough.  A source that looped before the change (a user deleted under a
 * chain) is told apart by the caller, which checks first with before=true.
 */
static int
check_loops(struct store *st, const char *changed, char ***looping,
	    size_t *n_looping, bool before, const char **error_r)
{
	char **sources = NULL;
	size_t n = 0;

	int ret = stmt_strings(st, store_stmt(st, SQL_SOURCES), "cannot list aliases",
			       &sources, &n, error_r);
	/* The changed alias first (i == 0): its own chain makes the clearest
	 * message.  Then the others. */
	for (size_t i = 0; i <= n && ret == STORE_OK; i++) {
		const char *source = i == 0 ? changed : sources[i - 1];
		if (i > 0 && strcmp(source, changed) == 0)
			continue;
		struct store_resolution res;
		const char *err;
		int r = store_resolve_internal(st, source, true, &res, &err);
		store_resolution_clear(&res);
		if (r == STORE_ERROR) {
			*error_r = err;
			ret = STORE_ERROR;
		} else if (r == STORE_LOOP) {
			/* The changed alias itself may never loop. */
			bool known = false;
			for (size_t j = 0; i > 0 && j < *n_looping && !known; j++)
				known = strcmp((*looping)[j], source) == 0;
			if (before && !known) {
				*looping = xreallocarray(*looping, *n_looping + 1,
							 sizeof **looping);
				(*looping)[(*n_looping)++] = xstrdup(source);
			} else if (!before && !known) {
				*error_r = errfmt("alias '%s' would %s", changed, err);
				ret = STORE_LOOP;
			}
		}
	}
	store_strv_free(&sources, n);
	return ret;
}

static int
alias_write_tx(struct store *st, const char *lower, char **dests, size_t n,
	       bool replace, const char **error_r)
{
	const char *domain = lower[0] == '@' ? lower + 1 : strchr(lower, '@') + 1;
	char **looping = NULL;
	size_t n_looping = 0;
	int64_t domain_id, alias_id;
	int ret;

	if ((ret = store_domain_id_local(st, domain, &domain_id, error_r)) < 0)
		return ret;
	ret = alias_find(st, lower, &alias_id, NULL, error_r);
	if (ret == STORE_ERROR)
		return ret;
	if (!replace && ret == STORE_OK) {
		*error_r = errfmt("alias '%s' exists already", lower);
		return STORE_EXISTS;
	}
	if (replace && ret == STORE_NOTFOUND)
		return ret;
	if (!replace) {
		sqlite3_stmt *s = store_stmt(st, SQL_USER_EXISTS);
		stmt_text(s, 1, lower);
		int found = stmt_exists(st, s, "cannot look up a user", error_r);
		if (found > 0) {
			*error_r = errfmt("'%s' is a user already", lower);
			return STORE_EXISTS;
		}
		if (found < 0)
			return STORE_ERROR;
	}

	if ((ret = check_loops(st, lower, &looping, &n_looping, true, error_r)) < 0)
		goto out;
	if (replace) {
		sqlite3_stmt *s = store_stmt(st, SQL_CLEAR_DESTS);
		stmt_int(s, 1, alias_id);
		if ((ret = stmt_exec(st, s, "cannot change the alias", error_r)) < 0)
			goto out;
	} else {
		sqlite3_stmt *s = store_stmt(st, SQL_ADD);
		stmt_int(s, 1, domain_id);
		stmt_text(s, 2, lower);
		stmt_int(s, 3, store_now());
		if ((ret = stmt_exec(st, s, "cannot add the alias", error_r)) < 0)
			goto out;
		alias_id = sqlite3_last_insert_rowid(st->db);
	}
	if ((ret = write_destinations(st, alias_id, dests, n, error_r)) < 0)
		goto out;
	ret = check_loops(st, lower, &looping, &n_looping, false, error_r);
out:
	for (size_t i = 0; i < n_looping; i++)
		free(looping[i]);
	free(looping);
	return ret;
}

static int
alias_write(struct store *st, const char *source, const char *const *dests,
	    size_t n, bool replace, const char **error_r)
{
	char **clean;
	size_t n_clean;
	int ret;

	if (source == NULL || !source_valid(source)) {
		*error_r = errfmt("invalid alias source '%s'", esc_str(source));
		return STORE_INVALID;
	}
	if ((ret = clean_destinations(dests, n, &clean, &n_clean, error_r)) < 0)
		return ret;
	char *lower = store_lower_dup(source);
	if ((ret = store_begin(st, error_r)) == STORE_OK)
		ret = store_end(st, alias_write_tx(st, lower, clean, n_clean,
						   replace, error_r), error_r);
	if (ret == STORE_OK)
		log_info("store alias=%s %s destinations=%zu", lower,
			 replace ? "changed" : "added", n_clean);
	store_strv_free(&clean, n_clean);
	free(lower);
	return ret;
}

int
store_alias_add(struct store *st, const char *source,
		const char *const *destinations, size_t n, const char **error_r)
{
	return alias_write(st, source, destinations, n, false, error_r);
}

int
store_alias_set(struct store *st, const char *source,
		const char *const *destinations, size_t n, const char **error_r)
{
	return alias_write(st, source, destinations, n, true, error_r);
}

int
store_alias_del(struct store *st, const char *source, const char **error_r)
{
	int64_t id;
	int ret;
	char *lower = store_lower_dup(source);

	if ((ret = store_begin(st, error_r)) == STORE_OK) {
		ret = alias_find(st, lower, &id, NULL, error_r);
		if (ret == STORE_OK) {
			/* alias_destinations go by ON DELETE CASCADE. */
			sqlite3_stmt *s = store_stmt(st, SQL_DEL);
			stmt_int(s, 1, id);
			ret = stmt_exec(st, s, "cannot delete the alias", error_r);
		}
		ret = store_end(st, ret, error_r);
	}
	if (ret == STORE_OK)
		log_info("store alias=%s deleted", lower);
	free(lower);
	return ret;
}

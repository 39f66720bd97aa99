/*
 * resolve: where mail for an address goes, following aliases, catch-alls
 * and chains of them, with a guard against loops and runaway expansion.
 */
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_DOMAIN[] = "SELECT 1 FROM domains WHERE name = ?1";
static const char SQL_USER[] =
	"SELECT id, enabled FROM users WHERE address = ?1";
static const char SQL_ALIAS[] =
	"SELECT d.address FROM aliases a JOIN alias_destinations d"
	" ON d.alias_id = a.id WHERE a.source = ?1 ORDER BY d.position";
static const char SQL_ALIAS_EXISTS[] = "SELECT 1 FROM aliases WHERE source = ?1";

struct resolver {
	struct store *st;
	bool include_disabled;
	struct store_resolution *res;
	/* The chain being expanded, for cycle detection and the message;
	 * ALIAS_DEPTH_MAX bounds it. */
	const char *path[ALIAS_DEPTH_MAX + 2];
	size_t depth;
	/* Nodes expanded completely: reached again through another branch
	 * they add nothing (a diamond is not a loop). */
	char **done;
	size_t n_done, cap_done;
	size_t expansions;
	bool saw_disabled;
	const char **error_r;
};

static void
strv_add(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[(*n)++] = xstrdup(s);
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void
store_resolution_clear(struct store_resolution *res)
{
	if (res == NULL)
		return;
	free(res->user_ids);
	for (size_t i = 0; i < res->n_users; i++)
		free(res->details != NULL ? res->details[i] : NULL);
	free(res->details);
	store_strv_free(&res->user_addresses, res->n_users);
	store_strv_free(&res->remote, res->n_remote);
	memset(res, 0, sizeof *res);
}

/* Adds a user reached as address (with detail: the subaddress, or NULL);
 * the first way a user is reached is the one kept. */
static void
add_user(struct store_resolution *res, int64_t id, const char *address,
	 const char *detail)
{
	for (size_t i = 0; i < res->n_users; i++)
		if (res->user_ids[i] == id)
			return;
	/* user_ids, user_addresses and details grow together. */
	size_t n = res->n_users, cap = n;
	res->user_ids = xreallocarray(res->user_ids, n + 1, sizeof *res->user_ids);
	res->user_ids[n] = id;
	res->details = xreallocarray(res->details, n + 1, sizeof *res->details);
	res->details[n] = detail != NULL ? xstrdup(detail) : NULL;
	strv_add(&res->user_addresses, &n, &cap, address);
	res->n_users = n;
}

/* "a@x -> b@x -> a@x": the chain so far and the next node. */
static const char *
chain_text(const struct resolver *r, const char *next)
{
	struct buf b;
	buf_init(&b, 900);
	for (size_t i = 0; i < r->depth; i++)
		if (buf_puts(&b, r->path[i]) < 0 || buf_puts(&b, " -> ") < 0)
			break;
	(void)buf_puts(&b, next);
	const char *text = errfmt("%s", buf_cstr(&b));
	buf_free(&b);
	return text;
}

/* The destinations of alias source (or catch-all "@domain"), copied out
 * of the statement before anything recurses into it. */
static int
alias_destinations(struct resolver *r, const char *source, char ***v_r,
		   size_t *n_r)
{
	sqlite3_stmt *s = store_stmt(r->st, SQL_ALIAS);
	stmt_text(s, 1, source);
	return stmt_strings(r->st, s, "cannot read an alias", v_r, n_r,
			    r->error_r);
}

/* 1 when the statement with ?1 = text finds a row, 0 when not, -1. */
static int
exists(struct resolver *r, const char *sql, const char *text)
{
	sqlite3_stmt *s = store_stmt(r->st, sql);
	stmt_text(s, 1, text);
	return stmt_exists(r->st, s, "cannot resolve an address", r->error_r);
}

static int resolve_node(struct resolver *r, const char *node);
static int expand(struct resolver *r, const char *node, char **dests, size_t n);

/* A user by address: 1 (id and enabled in user[]), 0, or STORE_ERROR. */
static int
find_user(struct resolver *r, const char *address, int64_t user[2])
{
	sqlite3_stmt *s = store_stmt(r->st, SQL_USER);
	stmt_text(s, 1, address);
	int ret = stmt_ints(r->st, s, "cannot resolve an address", user, 2, r->error_r);
	if (ret == STORE_ERROR)
		return ret;
	return ret == STORE_OK ? 1 : 0;
}

static void
reach_user(struct resolver *r, const int64_t user[2], const char *address,
	   const char *detail)
{
	if (user[1] != 0 || r->include_disabled)
		add_user(r->res, user[0], address, detail);
	else
		r->saw_disabled = true;
}

/*
 * RFC 5233: node (not found as it is) has a subaddress: "alice+shopping@x"
 * with '+' among the delimiters.  The address without it is a user (who
 * gets the mail with the subaddress kept) or an alias (expanded as for
 * itself): 1 when so, 0 when there is no such address or no subaddress,
 * or a negative STORE_*.  Postfix looks up the unextended address the same
 * way, before the catch-all.
 */
static int
resolve_subaddress(struct resolver *r, const char *node, const char *domain)
{
	const char *delims = r->st->delimiters;
	if (delims == NULL)
		return 0;
	size_t local_len = (size_t)(domain - 1 - node);
	size_t cut = strcspn(node, delims);
	/* no delimiter, or one that starts the local part: no subaddress */
	if (cut == 0 || cut >= local_len)
		return 0;
	char *base = xasprintf("%.*s@%s", (int)cut, node, domain);
	char *detail = xstrndup(node + cut, local_len - cut);
	int64_t user[2];
	char **dests = NULL;
	size_t n = 0;
	int ret = find_user(r, base, user);
	if (ret == 1) {
		reach_user(r, user, base, detail);
	} else if (ret == 0) {
		ret = alias_destinations(r, base, &dests, &n);
		if (ret == STORE_OK && n > 0) {
			ret = expand(r, node, dests, n);
			if (ret == STORE_OK)
				ret = 1;
		}
	}
	store_strv_free(&dests, n);
	free(detail);
	free(base);
	return ret;
}

/* Expands node into its destinations (or the catch-all). */
static int
expand(struct resolver *r, const char *node, char **dests, size_t n)
{
	int ret = STORE_OK;

	r->path[r->depth++] = node;
	for (size_t i = 0; i < n && ret == STORE_OK; i++)
		ret = resolve_node(r, dests[i]);
	r->depth--;
	return ret;
}

static int
resolve_node(struct resolver *r, const char *node)
{
	char **dests = NULL;
	size_t n = 0;
	int ret, found;

	for (size_t i = 0; i < r->depth; i++) {
		if (strcmp(r->path[i], node) == 0) {
			*r->error_r = errfmt("loop: %s", chain_text(r, node));
			return STORE_LOOP;
		}
	}
	if (strv_has(r->done, r->n_done, node))
		return STORE_OK;
	if (r->depth > ALIAS_DEPTH_MAX) {
		*r->error_r = errfmt("loop: chain longer than %d: %s",
				     ALIAS_DEPTH_MAX, chain_text(r, node));
		return STORE_LOOP;
	}
	if (++r->expansions > ALIAS_EXPANSION_MAX) {
		*r->error_r = errfmt("loop: expands to more than %d addresses",
				     ALIAS_EXPANSION_MAX);
		return STORE_LOOP;
	}

	if (node[0] == '@') {
		/* A catch-all expands the same whatever the local part, so
		 * it is one node: reached twice on one chain is a loop. */
		if ((ret = alias_destinations(r, node, &dests, &n)) < 0)
			return ret;
		ret = expand(r, node, dests, n);
		goto out;
	}

	const char *domain = strchr(node, '@');
	if (domain == NULL) {
		/* Only validated addresses get here; skip anything else. */
		ret = STORE_OK;
		goto out;
	}
	domain++;
	if ((found = exists(r, SQL_DOMAIN, domain)) < 0)
		return STORE_ERROR;
	if (found == 0) {
		if (r->depth == 0) {
			*r->error_r = errfmt("domain '%s' is not a local domain",
					     esc_str(domain));
			return STORE_NOTLOCAL;
		}
		if (!strv_has(r->res->remote, r->res->n_remote, node)) {
			size_t cap = r->res->n_remote;
			strv_add(&r->res->remote, &r->res->n_remote, &cap, node);
		}
		ret = STORE_OK;
		goto out;
	}

	int64_t user[2];	/* id, enabled */
	if ((found = find_user(r, node, user)) < 0)
		return found;
	if (found > 0) {
		reach_user(r, user, node, NULL);
		ret = STORE_OK;
		goto out;
	}

	if ((ret = alias_destinations(r, node, &dests, &n)) < 0)
		return ret;
	if (n > 0) {
		ret = expand(r, node, dests, n);
		goto out;
	}
	if ((found = resolve_subaddress(r, node, domain)) != 0) {
		ret = found > 0 ? STORE_OK : found;
		goto out;
	}

	char *catchall = xasprintf("@%s", domain);
	found = exists(r, SQL_ALIAS_EXISTS, catchall);
	if (found > 0)
		ret = expand(r, node, &catchall, 1);
	else if (found < 0)
		ret = STORE_ERROR;
	else if (r->depth == 0) {
		*r->error_r = errfmt("address '%s' does not exist", esc_str(node));
		ret = STORE_NOTFOUND;
	} else {
		/* A destination of a local domain that is nobody: dropped,
		 * the other destinations still get the mail. */
		log_debug("store resolve destination=%s unknown, skipped", node);
		ret = STORE_OK;
	}
	free(catchall);
out:
	store_strv_free(&dests, n);
	if (ret == STORE_OK)
		strv_add(&r->done, &r->n_done, &r->cap_done, node);
	return ret;
}

int
store_resolve_internal(struct store *st, const char *address,
		       bool include_disabled, struct store_resolution *res_r,
		       const char **error_r)
{
	struct resolver r;

	memset(res_r, 0, sizeof *res_r);
	memset(&r, 0, sizeof r);
	r.st = st;
	r.include_disabled = include_disabled;
	r.res = res_r;
	r.error_r = error_r;
	int ret = resolve_node(&r, address);
	store_strv_free(&r.done, r.n_done);
	if (ret == STORE_OK && address[0] != '@' &&
	    res_r->n_users == 0 && res_r->n_remote == 0) {
		*error_r = r.saw_disabled
			? errfmt("address '%s' reaches only disabled users", address)
			: errfmt("address '%s' reaches nobody", address);
		ret = STORE_NOTFOUND;
	}
	if (ret < 0)
		store_resolution_clear(res_r);
	return ret;
}

int
store_resolve(struct store *st, const char *address,
	      struct store_resolution *res_r, const char **error_r)
{
	memset(res_r, 0, sizeof *res_r);
	if (!store_address_valid(address)) {
		*error_r = errfmt("invalid address '%s'", esc_str(address));
		return STORE_INVALID;
	}
	char *lower = store_lower_dup(address);
	int ret = store_resolve_internal(st, lower, false, res_r, error_r);
	if (ret == STORE_LOOP)
		*error_r = errfmt("alias %s", *error_r);
	free(lower);
	return ret;
}

int
store_address_owned_by(struct store *st, const char *address, int64_t user_id,
		       bool *owned_r, const char **error_r)
{
	struct store_resolution res;

	*owned_r = false;
	int ret = store_resolve(st, address, &res, error_r);
	if (ret == STORE_ERROR)
		return ret;
	if (ret == STORE_OK) {
		for (size_t i = 0; i < res.n_users; i++)
			if (res.user_ids[i] == user_id)
				*owned_r = true;
		store_resolution_clear(&res);
	}
	return STORE_OK;
}

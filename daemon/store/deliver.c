/*
 * deliver: one received message to the INBOXes of every local user its
 * recipients reach, in one transaction.  The message is parsed once for
 * its IMAP cache before the transaction, and every copy gets it.
 */
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_INBOX[] =
	"SELECT id FROM mailboxes WHERE user_id = ?1 AND name = 'INBOX'";
static const char SQL_USER_QUOTA[] =
	"SELECT quota, used, address, quota_messages, (SELECT"
	" coalesce(sum(messages), 0) FROM mailboxes WHERE user_id = ?1)"
	" FROM users WHERE id = ?1";

/* What happened to one local user in this delivery. */
struct reached {
	int64_t user_id;
	int status;		/* STORE_OK (has the copy) or STORE_OVERQUOTA */
	char *error;
};

void
store_delivery_clear(struct store_delivery *d)
{
	if (d == NULL)
		return;
	free(d->error);
	for (size_t i = 0; i < d->n_forward; i++)
		free(d->forward[i]);
	free(d->forward);
	memset(d, 0, sizeof *d);
}

static int
inbox_of(struct store *st, int64_t user_id, int64_t *id_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_INBOX);
	stmt_int(s, 1, user_id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(s, 0);
	stmt_done(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot find the INBOX");
		return STORE_ERROR;
	}
	/* Every user is made with an INBOX; one lost by hand comes back. */
	return store_mailbox_create_tx(st, user_id, "INBOX", NULL, true, id_r, error_r);
}

/* Gives user_id its copy unless it has one already; returns the entry. */
static int
reach_user(struct store *st, int64_t user_id, const char *blob, uint64_t size,
	   int64_t internal_date, struct reached **reached, size_t *n_reached,
	   struct reached **entry_r, const char **error_r)
{
	for (size_t i = 0; i < *n_reached; i++) {
		if ((*reached)[i].user_id == user_id) {
			*entry_r = &(*reached)[i];
			return STORE_OK;
		}
	}
	int64_t inbox;
	uint32_t uid;
	int ret = inbox_of(st, user_id, &inbox, error_r);
	if (ret < 0)
		return ret;
	const char *err = NULL;
	ret = store_append_tx(st, inbox, blob, size, internal_date, 0, NULL,
			      false, &uid, &err);
	if (ret != STORE_OK && ret != STORE_OVERQUOTA) {
		*error_r = err;
		return ret;
	}
	*reached = xreallocarray(*reached, *n_reached + 1, sizeof **reached);
	struct reached *e = &(*reached)[(*n_reached)++];
	e->user_id = user_id;
	e->status = ret;
	e->error = ret == STORE_OK ? NULL : xstrdup(err);
	*entry_r = e;
	return STORE_OK;
}

/*
 * One recipient inside the transaction.  A recipient that reaches several
 * users succeeds when any of them (or a remote forward) gets the message:
 * the others' fate is logged, since refusing the recipient would make the
 * sender retry and give the rest a second copy.  STORE_ERROR (or
 * STORE_NOSPACE) only for a failure that breaks the whole transaction.
 */
static int
deliver_one(struct store *st, const char *recipient, const char *blob,
	    uint64_t size, int64_t internal_date, struct reached **reached,
	    size_t *n_reached, struct store_delivery *d, const char **error_r)
{
	struct store_resolution res;
	const char *err;
	int ret;

	if (recipient == NULL || !store_address_valid(recipient)) {
		d->status = STORE_INVALID;
		d->error = xasprintf("invalid address '%s'", esc_str(recipient));
		return STORE_OK;
	}
	char *lower = store_lower_dup(recipient);
	ret = store_resolve_internal(st, lower, false, &res, &err);
	if (ret == STORE_ERROR) {
		*error_r = err;
		free(lower);
		return STORE_ERROR;
	}
	if (ret < 0) {
		d->status = ret;
		d->error = ret == STORE_LOOP ? xasprintf("alias %s", err)
					     : xstrdup(err);
		free(lower);
		return STORE_OK;
	}
	size_t delivered = 0;
	char *refusal = NULL;	/* copied: reached[] may move */
	for (size_t i = 0; i < res.n_users; i++) {
		struct reached *e = NULL;
		ret = reach_user(st, res.user_ids[i], blob, size, internal_date,
				 reached, n_reached, &e, error_r);
		if (ret < 0) {
			store_resolution_clear(&res);
			free(refusal);
			free(lower);
			return ret;
		}
		if (e->status == STORE_OK)
			delivered++;
		else if (refusal == NULL)
			refusal = xstrdup(e->error);
		if (e->status != STORE_OK && res.n_users + res.n_remote > 1)
			log_warning("store deliver rcpt=%s user=%s skipped: %s",
				    lower, res.user_addresses[i], e->error);
	}
	d->forward = res.remote;
	d->n_forward = res.n_remote;
	res.remote = NULL;
	res.n_remote = 0;
	if (delivered == 0 && d->n_forward == 0) {
		d->status = STORE_OVERQUOTA;
		d->error = refusal != NULL ? refusal : xstrdup("over quota");
		refusal = NULL;
	}
	free(refusal);
	store_resolution_clear(&res);
	free(lower);
	return STORE_OK;
}

int
store_deliver_many(struct store *st, const char *const *recipients, size_t n,
		   const char *blob, uint64_t size, int64_t internal_date,
		   struct store_delivery *deliveries, const char **error_r)
{
	struct reached *reached = NULL;
	size_t n_reached = 0;
	int ret;

	memset(deliveries, 0, n * sizeof *deliveries);
	if (!is_lower_hex(blob, SHA256_HEX_LEN) || size > INT64_MAX) {
		*error_r = errfmt("invalid blob name '%s'", esc_str(blob));
		ret = STORE_INVALID;
		goto fail;
	}
	store_imap_cache_prepare(st, blob);
	if ((ret = store_begin(st, error_r)) < 0)
		goto fail;
	st->append_cache = &st->imap_cache;
	for (size_t i = 0; i < n && ret == STORE_OK; i++)
		ret = deliver_one(st, recipients[i], blob, size, internal_date,
				  &reached, &n_reached, &deliveries[i], error_r);
	st->append_cache = NULL;
	if (ret == STORE_OK)
		ret = store_commit(st, error_r);
	else
		store_rollback(st);
	for (size_t i = 0; i < n_reached; i++)
		free(reached[i].error);
	free(reached);
	if (ret == STORE_OK)
		return STORE_OK;
fail:
	for (size_t i = 0; i < n; i++) {
		store_delivery_clear(&deliveries[i]);
		deliveries[i].status = ret;
		deliveries[i].error = xstrdup(*error_r);
	}
	return ret;
}

int
store_deliver(struct store *st, const char *recipient, const char *blob,
	      uint64_t size, int64_t internal_date,
	      struct store_delivery *delivery_r, const char **error_r)
{
	int ret = store_deliver_many(st, &recipient, 1, blob, size,
				     internal_date, delivery_r, error_r);
	if (ret != STORE_OK)
		return ret;
	if (delivery_r->status != STORE_OK) {
		*error_r = errfmt("%s", delivery_r->error);
		return delivery_r->status;
	}
	return STORE_OK;
}

int
store_user_quota_fits(struct store *st, int64_t user_id, uint64_t size,
		      const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_USER_QUOTA);
	stmt_int(s, 1, user_id);
	int ret = stmt_row(st, s, "cannot read the quota", error_r);
	if (ret != STORE_OK) {
		if (ret == STORE_NOTFOUND)
			*error_r = "no such user";
		return ret;
	}
	uint64_t quota = (uint64_t)sqlite3_column_int64(s, 0);
	uint64_t used = (uint64_t)sqlite3_column_int64(s, 1);
	/* the test of store_append_tx() */
	int fits = quota == 0 || (size <= quota && used <= quota - size);
	uint64_t max_msgs = (uint64_t)sqlite3_column_int64(s, 3);
	uint64_t msgs = (uint64_t)sqlite3_column_int64(s, 4);
	if (fits && max_msgs != 0 && msgs >= max_msgs) {
		*error_r = errfmt("user '%s' is over quota (%llu of %llu messages)",
				  (const char *)sqlite3_column_text(s, 2),
				  (unsigned long long)msgs,
				  (unsigned long long)max_msgs);
		stmt_done(s);
		return 0;
	}
	if (!fits)
		*error_r = errfmt("user '%s' is over quota (%llu of %llu bytes used, "
				  "message %llu bytes)",
				  (const char *)sqlite3_column_text(s, 2),
				  (unsigned long long)used, (unsigned long long)quota,
				  (unsigned long long)size);
	stmt_done(s);
	return fits;
}

/* One recipient of store_deliver_check(): 1 when it would take it. */
static int
check_one(struct store *st, const char *recipient, uint64_t size,
	  struct store_delivery *d, const char **error_r)
{
	struct store_resolution res;
	const char *err;

	if (recipient == NULL || !store_address_valid(recipient)) {
		d->status = STORE_INVALID;
		d->error = xasprintf("invalid address '%s'", esc_str(recipient));
		return 0;
	}
	char *lower = store_lower_dup(recipient);
	int ret = store_resolve_internal(st, lower, false, &res, &err);
	free(lower);
	if (ret == STORE_ERROR) {
		*error_r = err;
		return STORE_ERROR;
	}
	if (ret < 0) {
		d->status = ret;
		d->error = ret == STORE_LOOP ? xasprintf("alias %s", err) : xstrdup(err);
		return 0;
	}
	/* taken when any user it reaches has room, or it is forwarded */
	int taken = res.n_remote > 0;
	for (size_t i = 0; i < res.n_users && !taken; i++) {
		int fits = store_user_quota_fits(st, res.user_ids[i], size, &err);
		if (fits == STORE_ERROR) {
			*error_r = err;
			store_resolution_clear(&res);
			return STORE_ERROR;
		}
		if (fits > 0)
			taken = 1;
		else if (d->error == NULL && fits == 0)
			d->error = xstrdup(err);
	}
	store_resolution_clear(&res);
	if (!taken) {
		d->status = STORE_OVERQUOTA;
		if (d->error == NULL)
			d->error = xstrdup("over quota");
	}
	return taken;
}

int
store_deliver_check(struct store *st, const char *const *recipients, size_t n,
		    uint64_t size, struct store_delivery *deliveries,
		    const char **error_r)
{
	int taken = 0;
	memset(deliveries, 0, n * sizeof *deliveries);
	for (size_t i = 0; i < n; i++) {
		int r = check_one(st, recipients[i], size, &deliveries[i], error_r);
		if (r < 0) {
			for (size_t j = 0; j <= i; j++)
				store_delivery_clear(&deliveries[j]);
			return STORE_ERROR;
		}
		taken += r;
	}
	return taken;
}

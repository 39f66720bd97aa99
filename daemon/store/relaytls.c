/*
 * relaytls: outbound TLS policy and reporting rows (see relaytls.h).
 */
#include "store/relaytls.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_STS_GET[] =
	"SELECT domain, policy_id, mode, mx, max_age, fetched, checked, policy_text"
	" FROM mta_sts_policies WHERE domain = ?1";
static const char SQL_STS_PUT[] =
	"INSERT OR REPLACE INTO mta_sts_policies (domain, policy_id, mode, mx, max_age,"
	" fetched, checked, policy_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_STS_CHECKED[] =
	"UPDATE mta_sts_policies SET checked = ?2 WHERE domain = ?1";
static const char SQL_RESULT_ADD[] =
	"INSERT INTO tls_results (day, domain, policy_type, policy_string, mx_host,"
	" result, receiving_ip, detail, count)"
	" VALUES (strftime('%Y-%m-%d', ?1, 'unixepoch'), ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)"
	" ON CONFLICT (day, domain, policy_type, mx_host, result, receiving_ip)"
	" DO UPDATE SET count = count + 1, policy_string = excluded.policy_string,"
	" detail = CASE WHEN excluded.detail <> '' THEN excluded.detail ELSE detail END";
static const char SQL_COUNTS[] =
	"SELECT policy_type, policy_string, mx_host, result, receiving_ip, detail, count"
	" FROM tls_results WHERE day = ?1 AND domain = ?2"
	" ORDER BY policy_type, policy_string, mx_host, result, receiving_ip";
static const char SQL_REPORT_DUE[] =
	"SELECT DISTINCT t.domain FROM tls_results t WHERE t.day = ?1 AND NOT EXISTS"
	" (SELECT 1 FROM tlsrpt_sent s WHERE s.day = t.day AND s.domain = t.domain)"
	" ORDER BY t.domain";
static const char SQL_REPORT_DONE[] =
	"INSERT OR REPLACE INTO tlsrpt_sent (day, domain, sent, rua) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_POST_ADD[] =
	"INSERT OR IGNORE INTO tlsrpt_posts (day, domain, uri, report, created, next_try)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
static const char SQL_POST_PRUNE[] =
	"DELETE FROM tlsrpt_posts WHERE state <> 'pending' AND done < ?1";
static const char SQL_POST_DUE[] =
	"SELECT id, created, attempts, day, domain, uri, report FROM tlsrpt_posts"
	" WHERE state = 'pending' AND next_try <= ?1 ORDER BY next_try, id LIMIT ?2";
static const char SQL_POST_RESULT[] =
	"UPDATE tlsrpt_posts SET state = ?2, next_try = ?3, last_error = ?4,"
	" attempts = attempts + 1, done = CASE WHEN ?2 <> 'pending' THEN ?5 END WHERE id = ?1";
static const char SQL_DOMAIN_STATUS[] =
	"INSERT INTO relay_domains (domain, tls, mta_sts, dane, last_host, last_error,"
	" last_ok, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
	" CASE WHEN ?6 IS NULL THEN ?7 END, ?7)"
	" ON CONFLICT (domain) DO UPDATE SET tls = excluded.tls, mta_sts = excluded.mta_sts,"
	" dane = excluded.dane, last_host = coalesce(excluded.last_host, last_host),"
	" last_error = excluded.last_error,"
	" last_ok = coalesce(excluded.last_ok, last_ok), updated = excluded.updated";
static const char SQL_DOMAINS[] =
	"SELECT domain, tls, mta_sts, dane, last_host, last_error, last_ok, updated"
	" FROM relay_domains ORDER BY domain";

void
relaytls_sts_clear(struct relaytls_sts *p)
{
	free(p->domain);
	free(p->policy_id);
	free(p->mode);
	free(p->mx);
	free(p->policy_text);
	memset(p, 0, sizeof *p);
}

int
relaytls_sts_get(struct store *st, const char *domain, struct relaytls_sts *p,
		 const char **error_r)
{
	memset(p, 0, sizeof *p);
	sqlite3_stmt *s = store_stmt(st, SQL_STS_GET);
	stmt_text(s, 1, domain);
	int ret = stmt_row(st, s, "cannot read the MTA-STS cache", error_r);
	if (ret != STORE_OK)
		return ret;
	p->domain = stmt_col_strdup(s, 0);
	p->policy_id = stmt_col_strdup(s, 1);
	p->mode = stmt_col_strdup(s, 2);
	p->mx = stmt_col_strdup(s, 3);
	p->max_age = sqlite3_column_int64(s, 4);
	p->fetched = sqlite3_column_int64(s, 5);
	p->checked = sqlite3_column_int64(s, 6);
	p->policy_text = stmt_col_strdup(s, 7);
	stmt_done(s);
	return STORE_OK;
}

int
relaytls_sts_put(struct store *st, const struct relaytls_sts *p, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_STS_PUT);
	stmt_text(s, 1, p->domain);
	stmt_text(s, 2, p->policy_id);
	stmt_text(s, 3, p->mode);
	stmt_text(s, 4, p->mx);
	stmt_int(s, 5, p->max_age);
	stmt_int(s, 6, p->fetched);
	stmt_int(s, 7, p->checked);
	stmt_text(s, 8, p->policy_text);
	return stmt_exec(st, s, "cannot store an MTA-STS policy", error_r);
}

int
relaytls_sts_checked(struct store *st, const char *domain, int64_t now,
		     const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_STS_CHECKED);
	stmt_text(s, 1, domain);
	stmt_int(s, 2, now);
	return stmt_exec(st, s, "cannot update the MTA-STS cache", error_r);
}

int
relaytls_result_add(struct store *st, const struct relaytls_result *r,
		    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_RESULT_ADD);
	stmt_int(s, 1, r->when);
	stmt_text(s, 2, r->domain);
	stmt_text(s, 3, r->policy_type);
	stmt_text(s, 4, r->policy_string != NULL ? r->policy_string : "");
	stmt_text(s, 5, r->mx_host != NULL ? r->mx_host : "");
	stmt_text(s, 6, r->result);
	stmt_text(s, 7, r->receiving_ip != NULL ? r->receiving_ip : "");
	stmt_text(s, 8, r->detail != NULL ? r->detail : "");
	return stmt_exec(st, s, "cannot count a TLS result", error_r);
}

static void
count_read(sqlite3_stmt *s, void *elem)
{
	struct relaytls_count *c = elem;
	c->policy_type = stmt_col_strdup(s, 0);
	c->policy_string = stmt_col_strdup(s, 1);
	c->mx_host = stmt_col_strdup(s, 2);
	c->result = stmt_col_strdup(s, 3);
	c->receiving_ip = stmt_col_strdup(s, 4);
	c->detail = stmt_col_strdup(s, 5);
	c->count = sqlite3_column_int64(s, 6);
}

static void
count_clear(void *elem)
{
	struct relaytls_count *c = elem;
	free(c->policy_type);
	free(c->policy_string);
	free(c->mx_host);
	free(c->result);
	free(c->receiving_ip);
	free(c->detail);
}

static const struct stmt_rows count_rows = {
	sizeof(struct relaytls_count), count_read, count_clear,
};

int
relaytls_counts(struct store *st, const char *day, const char *domain,
		struct relaytls_count **list_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_COUNTS);
	stmt_text(s, 1, day);
	stmt_text(s, 2, domain);
	return stmt_list(st, s, &count_rows, "cannot read the TLS results",
			 (void **)list_r, n_r, error_r);
}

void
relaytls_counts_free(struct relaytls_count **list, size_t n)
{
	stmt_rows_free(&count_rows, *list, n);
	*list = NULL;
}

int
relaytls_report_due(struct store *st, const char *day, char ***domains_r, size_t *n_r,
		    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_REPORT_DUE);
	stmt_text(s, 1, day);
	return stmt_strings(st, s, "cannot read the TLS reports due", domains_r, n_r,
			    error_r);
}

int
relaytls_report_done(struct store *st, const char *day, const char *domain,
		     const char *rua, int64_t now, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_REPORT_DONE);
	stmt_text(s, 1, day);
	stmt_text(s, 2, domain);
	stmt_int(s, 3, now);
	stmt_text(s, 4, rua);
	return stmt_exec(st, s, "cannot note a TLS report", error_r);
}

/* Rows of posts done this long ago go. */
#define POST_KEEP_SECONDS (30 * 86400)

int
relaytls_post_add(struct store *st, const char *day, const char *domain, const char *uri,
		  const char *report, int64_t now, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_POST_PRUNE);
	stmt_int(s, 1, now - POST_KEEP_SECONDS);
	int ret = stmt_exec(st, s, "cannot prune the TLS report posts", error_r);
	if (ret != STORE_OK)
		return ret;
	s = store_stmt(st, SQL_POST_ADD);
	stmt_text(s, 1, day);
	stmt_text(s, 2, domain);
	stmt_text(s, 3, uri);
	stmt_text(s, 4, report);
	stmt_int(s, 5, now);
	return stmt_exec(st, s, "cannot owe a TLS report", error_r);
}

static void
post_read(sqlite3_stmt *s, void *elem)
{
	struct relaytls_post *p = elem;
	p->id = sqlite3_column_int64(s, 0);
	p->created = sqlite3_column_int64(s, 1);
	p->attempts = sqlite3_column_int64(s, 2);
	p->day = stmt_col_strdup(s, 3);
	p->domain = stmt_col_strdup(s, 4);
	p->uri = stmt_col_strdup(s, 5);
	p->report = stmt_col_strdup(s, 6);
}

static void
post_clear(void *elem)
{
	struct relaytls_post *p = elem;
	free(p->day);
	free(p->domain);
	free(p->uri);
	free(p->report);
}

static const struct stmt_rows post_rows = {
	sizeof(struct relaytls_post), post_read, post_clear,
};

int
relaytls_post_due(struct store *st, int64_t now, size_t max, struct relaytls_post **list_r,
		  size_t *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_POST_DUE);
	stmt_int(s, 1, now);
	stmt_int(s, 2, (int64_t)max);
	return stmt_list(st, s, &post_rows, "cannot read the TLS report posts",
			 (void **)list_r, n_r, error_r);
}

void
relaytls_post_free(struct relaytls_post **list, size_t n)
{
	stmt_rows_free(&post_rows, *list, n);
	*list = NULL;
}

int
relaytls_post_result(struct store *st, int64_t id, const char *state, int64_t next_try,
		     const char *error, int64_t now, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_POST_RESULT);
	stmt_int(s, 1, id);
	stmt_text(s, 2, state);
	stmt_int(s, 3, next_try);
	stmt_text(s, 4, error);
	stmt_int(s, 5, now);
	return stmt_exec(st, s, "cannot note a TLS report post", error_r);
}

int
relaytls_domain_status(struct store *st, const char *domain, const char *tls,
		       const char *mta_sts, const char *dane, const char *host,
		       const char *error, int64_t now, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_DOMAIN_STATUS);
	stmt_text(s, 1, domain);
	stmt_text(s, 2, tls);
	stmt_text(s, 3, mta_sts);
	stmt_text(s, 4, dane);
	stmt_text(s, 5, host);
	stmt_text(s, 6, error);
	stmt_int(s, 7, now);
	return stmt_exec(st, s, "cannot note a domain's delivery status", error_r);
}

static void
domain_read(sqlite3_stmt *s, void *elem)
{
	struct relaytls_domain *d = elem;
	d->domain = stmt_col_strdup(s, 0);
	d->tls = stmt_col_strdup(s, 1);
	d->mta_sts = stmt_col_strdup(s, 2);
	d->dane = stmt_col_strdup(s, 3);
	d->last_host = stmt_col_strdup(s, 4);
	d->last_error = stmt_col_strdup(s, 5);
	d->last_ok = sqlite3_column_int64(s, 6);
	d->updated = sqlite3_column_int64(s, 7);
}

static void
domain_clear(void *elem)
{
	struct relaytls_domain *d = elem;
	free(d->domain);
	free(d->tls);
	free(d->mta_sts);
	free(d->dane);
	free(d->last_host);
	free(d->last_error);
}

static const struct stmt_rows domain_rows = {
	sizeof(struct relaytls_domain), domain_read, domain_clear,
};

int
relaytls_domains(struct store *st, struct relaytls_domain **list_r, size_t *n_r,
		 const char **error_r)
{
	return stmt_list(st, store_stmt(st, SQL_DOMAINS), &domain_rows,
			 "cannot read the relay's domains", (void **)list_r, n_r, error_r);
}

void
relaytls_domains_free(struct relaytls_domain **list, size_t n)
{
	stmt_rows_free(&domain_rows, *list, n);
	*list = NULL;
}

int
relaytls_note(struct store *st, const struct relaytls_result *r, size_t n,
	      const struct relaytls_status *status, const char **error_r)
{
	int ret = store_begin_light(st, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n && ret == STORE_OK; i++)
		ret = relaytls_result_add(st, &r[i], error_r);
	if (ret == STORE_OK && status != NULL)
		ret = relaytls_domain_status(st, status->domain, status->tls,
					     status->mta_sts, status->dane, status->host,
					     status->error, status->when, error_r);
	return store_end(st, ret, error_r);
}

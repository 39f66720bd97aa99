/*
 * tlsrpt_in: received TLS reports in the store (see tlsrpt_in.h).
 */
#include "store/tlsrpt_in.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

static const char SQL_ADD[] =
	"INSERT OR IGNORE INTO tls_reports_in (received, via, organization, report_id,"
	" contact, start_time, end_time, policy_type, policy_domain, mx_host, success,"
	" failure, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_LIST[] =
	"SELECT id, received, via, organization, report_id, contact, start_time, end_time,"
	" policy_type, policy_domain, mx_host, success, failure, details"
	" FROM tls_reports_in ORDER BY received DESC, id DESC LIMIT ?1";

int
tlsrpt_in_add(struct store *st, const struct tlsrpt_report *r, const char *via,
	      int64_t now, unsigned *kept_r, const char **error_r)
{
	*kept_r = 0;
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < r->n_policies && ret == STORE_OK; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		char *domain = xstrdup(p->domain);
		str_lower(domain);
		if (store_domain_is_local(st, domain) <= 0) {
			free(domain);
			continue;
		}
		struct buf details = BUF_INIT;
		for (size_t k = 0; k < p->n_failures; k++) {
			const struct tlsrpt_failure *f = &p->failures[k];
			buf_printf(&details, "%s%s x%llu", k > 0 ? "\n" : "", f->result_type,
				   (unsigned long long)f->count);
			if (f->receiving_mx != NULL)
				buf_printf(&details, " %s", f->receiving_mx);
			if (f->receiving_ip != NULL)
				buf_printf(&details, " [%s]", f->receiving_ip);
		}
		sqlite3_stmt *s = store_stmt(st, SQL_ADD);
		stmt_int(s, 1, now);
		stmt_text(s, 2, via);
		stmt_text(s, 3, r->org);
		stmt_text(s, 4, r->report_id);
		stmt_text(s, 5, r->contact);
		stmt_text(s, 6, r->start);
		stmt_text(s, 7, r->end);
		stmt_text(s, 8, p->type);
		stmt_text(s, 9, domain);
		stmt_text(s, 10, p->mx_host);
		stmt_int(s, 11, (int64_t)p->success);
		stmt_int(s, 12, (int64_t)p->failure);
		stmt_text(s, 13, buf_cstr(&details));
		ret = stmt_exec(st, s, "cannot keep a TLS report", error_r);
		buf_free(&details);
		free(domain);
		(*kept_r)++;
	}
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK && *kept_r == 0) {
		*error_r = "the report is about none of this server's domains";
		return STORE_NOTFOUND;
	}
	return ret;
}

static void
row_read(sqlite3_stmt *s, void *elem)
{
	struct tlsrpt_in_row *r = elem;
	r->id = sqlite3_column_int64(s, 0);
	r->received = sqlite3_column_int64(s, 1);
	r->via = stmt_col_strdup(s, 2);
	r->organization = stmt_col_strdup(s, 3);
	r->report_id = stmt_col_strdup(s, 4);
	r->contact = stmt_col_strdup(s, 5);
	r->start = stmt_col_strdup(s, 6);
	r->end = stmt_col_strdup(s, 7);
	r->policy_type = stmt_col_strdup(s, 8);
	r->policy_domain = stmt_col_strdup(s, 9);
	r->mx_host = stmt_col_strdup(s, 10);
	r->success = sqlite3_column_int64(s, 11);
	r->failure = sqlite3_column_int64(s, 12);
	r->details = stmt_col_strdup(s, 13);
}

static void
row_clear(void *elem)
{
	struct tlsrpt_in_row *r = elem;
	free(r->via);
	free(r->organization);
	free(r->report_id);
	free(r->contact);
	free(r->start);
	free(r->end);
	free(r->policy_type);
	free(r->policy_domain);
	free(r->mx_host);
	free(r->details);
}

static const struct stmt_rows rows = {
	sizeof(struct tlsrpt_in_row), row_read, row_clear,
};

int
tlsrpt_in_list(struct store *st, size_t max, struct tlsrpt_in_row **list_r, size_t *n_r,
	       const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_LIST);
	stmt_int(s, 1, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	return stmt_list(st, s, &rows, "cannot list TLS reports", (void **)list_r, n_r, error_r);
}

void
tlsrpt_in_list_free(struct tlsrpt_in_row **list, size_t n)
{
	stmt_rows_free(&rows, *list, n);
	*list = NULL;
}

/*
 * tlsrpt_in: the SMTP TLS reports (RFC 8460) received about mail to our
 * domains (sql/028_queue_hold.sql, tls_reports_in): stored per policy
 * entry, listed for the API and the panel.
 */
#ifndef MAILHUB_STORE_TLSRPT_IN_H
#define MAILHUB_STORE_TLSRPT_IN_H

#include <stddef.h>
#include <stdint.h>

#include "mail/tlsrpt_report.h"
#include "store/store.h"

/*
 * Keeps the policy entries of report r that are about a local domain, in
 * one transaction (a report already kept is kept once: same organization,
 * report-id, policy type and domain).  via: "https" or "mail".  *kept_r
 * counts the entries about our domains; STORE_NOTFOUND when there is none
 * (the report is not for us).
 */
int tlsrpt_in_add(struct store *st, const struct tlsrpt_report *r, const char *via,
		  int64_t now, unsigned *kept_r, const char **error_r);

struct tlsrpt_in_row {
	int64_t id, received;
	char *via, *organization, *report_id, *contact, *start, *end;
	char *policy_type, *policy_domain, *mx_host;	/* mx_host may be NULL */
	int64_t success, failure;
	char *details;
};

/* The newest max rows, newest first. */
int tlsrpt_in_list(struct store *st, size_t max, struct tlsrpt_in_row **list_r, size_t *n_r,
		   const char **error_r);
void tlsrpt_in_list_free(struct tlsrpt_in_row **list, size_t n);

#endif

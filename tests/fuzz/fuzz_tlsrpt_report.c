/* libFuzzer target: a received SMTP TLS report (RFC 8460), JSON or gzip,
 * as the admin listener gets it in a POST.  Whatever is accepted keeps
 * its bounds: texts printable ASCII of at most TLSRPT_TEXT_MAX bytes,
 * at most TLSRPT_POLICIES_MAX policies and TLSRPT_FAILURES_MAX failure
 * details each, counts within 2^53. */
#include <stdint.h>
#include <string.h>

#include "mail/tlsrpt_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, int may_be_null)
{
	if (s == NULL) {
		if (!may_be_null)
			__builtin_trap();
		return;
	}
	size_t n = strlen(s);
	if (n > TLSRPT_TEXT_MAX)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_report r;
	const char *error;
	if (tlsrpt_report_decode(data, size, &r, &error) < 0) {
		if (r.org != NULL || r.policies != NULL || error == NULL)
			__builtin_trap();
		return 0;
	}
	check_text(r.org, 0);
	check_text(r.contact, 0);
	check_text(r.report_id, 0);
	check_text(r.start, 0);
	check_text(r.end, 0);
	if (r.n_policies > TLSRPT_POLICIES_MAX)
		__builtin_trap();
	for (size_t i = 0; i < r.n_policies; i++) {
		const struct tlsrpt_policy *p = &r.policies[i];
		check_text(p->type, 0);
		check_text(p->domain, 0);
		check_text(p->mx_host, 1);
		if (p->success > 9007199254740992ull || p->failure > 9007199254740992ull ||
		    p->n_failures > TLSRPT_FAILURES_MAX)
			__builtin_trap();
		for (size_t k = 0; k < p->n_failures; k++) {
			check_text(p->failures[k].result_type, 0);
			check_text(p->failures[k].receiving_mx, 1);
			check_text(p->failures[k].receiving_ip, 1);
		}
	}
	tlsrpt_report_clear(&r);
	return 0;
}

/* libFuzzer target: a message that may carry an SMTP TLS report (RFC 8460
 * §5.3), as the SMTP server hands a delivered one to mail/tlsrpt_mail.
 * Never more decoded bytes than TLSRPT_MAIL_MAX; whatever is accepted
 * keeps the report's bounds (as fuzz_tlsrpt_report checks them), and a
 * failure leaves the report cleared with a reason. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "mail/tlsrpt_mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	(void)tlsrpt_mail_announced(msg, size);
	struct buf part = BUF_INIT;
	const char *error = NULL;
	int ret = tlsrpt_mail_part(msg, size, &part, &error);
	if (ret < -1 || ret > 1 || part.len > TLSRPT_MAIL_MAX || (ret == -1 && error == NULL) ||
	    (ret == 0 && part.len != 0))
		__builtin_trap();
	buf_free(&part);
	struct tlsrpt_report r;
	error = NULL;
	ret = tlsrpt_mail_decode(msg, size, &r, &error);
	if (ret != 1) {
		if (r.org != NULL || r.policies != NULL || (ret == -1 && error == NULL))
			__builtin_trap();
		return 0;
	}
	if (r.org == NULL || r.n_policies > TLSRPT_POLICIES_MAX)
		__builtin_trap();
	for (size_t i = 0; i < r.n_policies; i++)
		if (r.policies[i].domain == NULL ||
		    r.policies[i].n_failures > TLSRPT_FAILURES_MAX)
			__builtin_trap();
	tlsrpt_report_clear(&r);
	return 0;
}

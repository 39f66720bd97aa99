/* libFuzzer target: the DMARC record parser, and the whole check over a
 * DNS table.  The input is "FROM\nSPF-DOMAIN\nDKIM-DOMAIN\n" and then a
 * DNS table (trust/dns_source.h) whose _dmarc records the check reads;
 * the parser also reads the whole input as one record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "trust/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
next_line(const uint8_t *data, size_t size, size_t *pos)
{
	const uint8_t *nl = memchr(data + *pos, '\n', size - *pos);
	size_t end = nl != NULL ? (size_t)(nl - data) : size;
	char *s = malloc(end - *pos + 1);
	memcpy(s, data + *pos, end - *pos);
	s[end - *pos] = '\0';
	*pos = nl != NULL ? end + 1 : size;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record rec;
	const char *error;
	int r = dmarc_record_parse((const char *)data, size, &rec, &error);
	if (r == 0 && (rec.pct > 100 || rec.p > DMARC_POLICY_REJECT))
		abort();

	size_t pos = 0;
	char *from = next_line(data, size, &pos);
	char *spf_domain = next_line(data, size, &pos);
	char *dkim_domain = next_line(data, size, &pos);
	struct dns_table *t = dns_table_new();
	(void)dns_table_load(t, (const char *)data + pos, size - pos, &error);
	struct dns_source src = dns_table_source(t);
	struct dmarc_dkim_result dkim = { dkim_domain, true };
	struct dmarc_request req = { .from_domain = from, .spf = SPF_PASS,
				     .spf_domain = spf_domain, .dkim = &dkim, .n_dkim = 1,
				     .sample = (unsigned)(size % 100) };
	struct dmarc_verdict v;
	dmarc_check(&src, &req, &v);
	/* at most the From domain's and the organisational domain's */
	if (dns_table_queries(t) > 2)
		abort();
	if (v.result != DMARC_FAIL && v.disposition != DMARC_POLICY_NONE)
		abort();
	struct buf out = BUF_INIT;
	dmarc_authres(&out, &v);
	buf_free(&out);
	dmarc_verdict_free(&v);
	dns_table_free(&t);
	free(from);
	free(spf_domain);
	free(dkim_domain);
	return 0;
}

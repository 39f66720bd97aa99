/* libFuzzer target: the SPF record parser and the whole check_host()
 * evaluator.  The input is "IP\nSENDER\nHELO\n" and then a DNS table
 * (trust/dns_source.h) that answers the evaluator's queries, so the
 * fuzzer writes the records, and the record parser also reads the input
 * as one record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "trust/spf.h"
#include "trust/spf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of data[*pos..size) as a C string (malloc'd). */
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
	struct spf_record rec;
	const char *error;
	if (spf_record_parse((const char *)data, size, &rec, &error) == 0)
		spf_record_free(&rec);

	size_t pos = 0;
	char *ip = next_line(data, size, &pos);
	char *sender = next_line(data, size, &pos);
	char *helo = next_line(data, size, &pos);
	struct spf_request req;
	memset(&req, 0, sizeof req);
	if (ip_addr_parse(ip, &req.ip) < 0)
		ip_addr_parse("192.0.2.1", &req.ip);
	req.sender = sender;
	req.helo = helo;
	req.receiver = "mx.example";
	struct dns_table *t = dns_table_new();
	(void)dns_table_load(t, (const char *)data + pos, size - pos, &error);
	struct dns_source src = dns_table_source(t);
	struct spf_verdict v;
	spf_check(&src, &req, &v);
	struct buf out = BUF_INIT;
	spf_received_spf(&out, &v, &req);
	spf_authres(&out, &v);
	/* the bounds of §4.6.4 hold whatever the records say */
	if (v.lookups > SPF_LOOKUPS_MAX + 1 || dns_table_queries(t) > 1 + 10 * 11 + 12)
		abort();
	buf_free(&out);
	spf_verdict_free(&v);
	dns_table_free(&t);
	free(ip);
	free(sender);
	free(helo);
	return 0;
}

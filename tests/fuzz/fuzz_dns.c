/* libFuzzer target: DNS answers as the resolver's parsers read them (the
 * MX and TXT answer sections of a reply message, and dns_parse_answer()'s
 * records, TTLs and rcodes for every type the inbound checks ask), and MX
 * ordering. */
#include <stdint.h>
#include <string.h>

#include "core/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx *mx = NULL;
	char **txt = NULL;
	size_t n = 0;
	const char *error;

	/* A DNS message over TCP is at most 65535 octets (RFC 1035 §4.2.2). */
	if (size > 65535)
		return 0;
	if (dns_parse_mx(data, size, &mx, &n, &error) == DNS_OK) {
		dns_mx_sort(mx, n, false);
		(void)dns_mx_is_null(mx, n);
		for (size_t i = 0; i < n; i++)
			if (mx[i].host == NULL)
				__builtin_trap();	/* every record has its host */
		dns_mx_list_free(&mx, n);
	}
	n = 0;
	if (dns_parse_txt(data, size, &txt, &n, &error) == DNS_OK) {
		for (size_t i = 0; i < n; i++)
			if (txt[i] == NULL)
				__builtin_trap();
		dns_strings_free(&txt, n);
	}
	static const enum dns_type types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT,
					       DNS_T_PTR };
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		struct dns_answer ans, copy;
		int st = dns_parse_answer(data, size, types[t], &ans);
		/* the contract: records with DNS_OK, none without */
		if (st != (int)ans.status || (st == DNS_OK) != (ans.n > 0))
			__builtin_trap();
		dns_answer_copy(&copy, &ans);
		dns_answer_free(&ans);
		dns_answer_free(&copy);
	}
	return 0;
}

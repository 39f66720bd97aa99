/* rdns: forward-confirmed reverse DNS; see rdns.h. */
#include "trust/rdns.h"

#include <string.h>
#include <sys/socket.h>

/* Whether name's A (IPv4) or AAAA (IPv6) records hold ip. */
static bool
resolves_to(const struct dns_source *src, const char *name, const struct ip_addr *ip)
{
	struct dns_answer a;
	bool found = false;
	size_t len = ip->family == AF_INET ? 4 : 16;
	if (dns_source_query(src, name, ip->family == AF_INET ? DNS_T_A : DNS_T_AAAA, &a) ==
	    DNS_OK) {
		for (size_t i = 0; i < a.n && !found; i++)
			found = memcmp(a.rr[i].addr, ip->a, len) == 0;
	}
	dns_answer_free(&a);
	return found;
}

int
rdns_verified_name(const struct dns_source *src, const struct ip_addr *ip, struct buf *out)
{
	struct buf rev = BUF_INIT;
	struct dns_answer ptr;
	int ret = -1;

	ip_addr_reverse_name(&rev, ip);
	if (dns_source_query(src, buf_cstr(&rev), DNS_T_PTR, &ptr) == DNS_OK) {
		for (size_t i = 0; i < ptr.n && i < RDNS_NAMES_MAX; i++) {
			const char *name = ptr.rr[i].text;
			if (name == NULL || name[0] == '\0' || !resolves_to(src, name, ip))
				continue;
			buf_puts(out, name);
			ret = 0;
			break;
		}
	}
	dns_answer_free(&ptr);
	buf_free(&rev);
	return ret;
}

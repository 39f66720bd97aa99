/*
 * ipaddr: parsing, matching and the text forms of a client address (see
 * ipaddr.h).
 */
#include "trust/ipaddr.h"

#include <arpa/inet.h>
#include <string.h>

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int
ip4_parse_strict(const char *text, size_t len, unsigned char out[4])
{
	size_t pos = 0;
	for (int k = 0; k < 4; k++) {
		if (k > 0) {
			if (pos >= len || text[pos] != '.')
				return -1;
			pos++;
		}
		size_t start = pos;
		unsigned v = 0;
		while (pos < len && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3)
			v = v * 10 + (unsigned)(text[pos++] - '0');
		size_t digits = pos - start;
		/* dec-octet: no leading zero, at most 255 */
		if (digits == 0 || v > 255 || (digits > 1 && text[start] == '0'))
			return -1;
		out[k] = (unsigned char)v;
	}
	return pos == len ? 0 : -1;
}

int
ip_addr_parse(const char *text, struct ip_addr *ip)
{
	memset(ip, 0, sizeof *ip);
	if (ip4_parse_strict(text, strlen(text), ip->a) == 0) {
		ip->family = AF_INET;
		return 0;
	}
	if (strchr(text, ':') == NULL || inet_pton(AF_INET6, text, ip->a) != 1)
		return -1;
	if (memcmp(ip->a, v4_mapped, sizeof v4_mapped) == 0) {
		memmove(ip->a, ip->a + 12, 4);
		memset(ip->a + 4, 0, 12);
		ip->family = AF_INET;
	} else {
		ip->family = AF_INET6;
	}
	return 0;
}

bool
ip_addr_in_net(const struct ip_addr *ip, const unsigned char *net, int family, unsigned prefix)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	if (ip->family != family || prefix > bits)
		return false;
	size_t whole = prefix / 8;
	if (memcmp(ip->a, net, whole) != 0)
		return false;
	unsigned rest = prefix % 8;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (ip->a[whole] & mask) == (net[whole] & mask);
}

void
ip_addr_text(struct buf *out, const struct ip_addr *ip)
{
	char text[INET6_ADDRSTRLEN];
	if (inet_ntop(ip->family == AF_INET ? AF_INET : AF_INET6, ip->a, text, sizeof text) ==
	    NULL)
		text[0] = '\0';
	buf_puts(out, text);
}

static const char hexdig[] = "0123456789abcdef";

void
ip_addr_dotted(struct buf *out, const struct ip_addr *ip)
{
	if (ip->family == AF_INET) {
		buf_printf(out, "%u.%u.%u.%u", ip->a[0], ip->a[1], ip->a[2], ip->a[3]);
		return;
	}
	for (int i = 0; i < 16; i++) {
		buf_putc(out, hexdig[ip->a[i] >> 4]);
		buf_putc(out, '.');
		buf_putc(out, hexdig[ip->a[i] & 15]);
		if (i < 15)
			buf_putc(out, '.');
	}
}

void
ip_addr_reverse_name(struct buf *out, const struct ip_addr *ip)
{
	if (ip->family == AF_INET) {
		buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", ip->a[3], ip->a[2], ip->a[1],
			   ip->a[0]);
		return;
	}
	for (int i = 15; i >= 0; i--) {
		buf_putc(out, hexdig[ip->a[i] & 15]);
		buf_putc(out, '.');
		buf_putc(out, hexdig[ip->a[i] >> 4]);
		buf_putc(out, '.');
	}
	buf_puts(out, "ip6.arpa");
}

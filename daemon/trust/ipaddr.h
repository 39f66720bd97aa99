/*
 * ipaddr: the client address as the inbound checks see it.
 *
 * SPF matches it against ip4/ip6 networks and A/AAAA answers, writes it
 * into macros (%{i} dotted or as IPv6 nibbles, %{c}) and into reverse
 * names for PTR (in-addr.arpa, ip6.arpa); DNSBLs build the same reverse
 * names.  An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is IPv4, as
 * RFC 7208 §5 and the listeners' dual-stack sockets need.
 */
#ifndef MAILHUB_TRUST_IPADDR_H
#define MAILHUB_TRUST_IPADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct ip_addr {
	int family;		/* AF_INET or AF_INET6; 0: none */
	unsigned char a[16];	/* IPv4 in the first 4 bytes */
};

/* Parses "192.0.2.1" or an IPv6 address (no brackets, no zone); an
 * IPv4-mapped IPv6 address becomes IPv4.  0, or -1 when it is neither. */
int ip_addr_parse(const char *text, struct ip_addr *ip);
/* Strict RFC 7208 §5.6 ip4-network: four decimal octets, no leading
 * zeros.  0 or -1. */
int ip4_parse_strict(const char *text, size_t len, unsigned char out[4]);
/* Whether ip is in the network net/prefix of the same family (prefix up
 * to 32 or 128; net's bits past it do not matter). */
bool ip_addr_in_net(const struct ip_addr *ip, const unsigned char *net, int family,
		    unsigned prefix);
/* The address as text ("192.0.2.1", "2001:db8::1") into out. */
void ip_addr_text(struct buf *out, const struct ip_addr *ip);
/* The dotted form of RFC 7208 §7.3 %{i}: "192.0.2.1", or 32 dot-separated
 * lowercase nibbles for IPv6. */
void ip_addr_dotted(struct buf *out, const struct ip_addr *ip);
/* The PTR name: "1.2.0.192.in-addr.arpa" or the ip6.arpa nibble name. */
void ip_addr_reverse_name(struct buf *out, const struct ip_addr *ip);

#endif

/*
 * cidr: lists of IP networks as the config writes them ("192.0.2.0/24,
 * 2001:db8::/32, 198.51.100.7"), for the allow lists of the spam defence
 * ([spam] dnsbl_allow, greylist_allow).  Pure: text in, networks out; the
 * inbound checks match addresses with trust/ipaddr's ip_addr_in_net().
 */
#ifndef MAILHUB_CORE_CIDR_H
#define MAILHUB_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"

struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char net[16];	/* IPv4 in the first 4 bytes */
	unsigned prefix;	/* 0-32 or 0-128 */
};

/*
 * Parses a list of networks separated by commas and/or blanks: each an
 * IPv4 or IPv6 address with an optional "/PREFIX" (a bare address is one
 * host).  An IPv4-mapped IPv6 network (::ffff:192.0.2.0/120) is taken as
 * the IPv4 one.  *list_r (malloc'd; NULL for an empty list) and *n_r;
 * 0, or -1 with *error_r naming the entry (errfmt text).
 */
int cidr_list_parse(const char *text, struct cidr **list_r, size_t *n_r,
		    const char **error_r);

#endif

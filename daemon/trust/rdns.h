/*
 * rdns: the client's host name as forward-confirmed reverse DNS finds it
 * (a PTR name of its address whose A or AAAA records hold the address
 * again; RFC 8601 §3 "iprev"), for the Hostname that rspamd is given, as a
 * milter gets Postfix's {client_name}.  Pure: DNS through a dns_source.
 */
#ifndef MAILHUB_TRUST_RDNS_H
#define MAILHUB_TRUST_RDNS_H

#include "core/buf.h"
#include "core/limits.h"
#include "trust/dns_source.h"
#include "trust/ipaddr.h"

/* Appends the first PTR name of ip that resolves back to ip: 0, or -1
 * when none does (no PTR, no match, or a lookup failed). */
int rdns_verified_name(const struct dns_source *src, const struct ip_addr *ip,
		       struct buf *out);

#endif

/*
 * dnsbl: DNS blocklists (RFC 5782) for the address of a connecting client.
 *
 * An address is listed in a zone when the A query for its reversed form
 * under the zone (RFC 5782 §2.1: the IPv4 octets reversed; §2.4: the 32
 * nibbles of an IPv6 address reversed) has an answer in 127.0.0.0/8 (§2.3)
 * other than 127.255.255.0/24, which lists such as Spamhaus use to report
 * an error of the query itself (a refused public resolver), not a listing.
 * The TXT record of the same name says why (§2.1); it goes into the SMTP
 * reply printable ASCII only and cut at DNSBL_TEXT_MAX.
 *
 * A lookup that fails lets the mail through (fail open: a broken list
 * must not stop the mail of a household); the caller logs it.  Pure: DNS
 * through a dns_source.
 */
#ifndef MAILHUB_TRUST_DNSBL_H
#define MAILHUB_TRUST_DNSBL_H

#include "core/buf.h"
#include "core/limits.h"
#include "trust/dns_source.h"
#include "trust/ipaddr.h"

/* The query name of ip under zone ("2.0.0.127.bl.example");
 * -1 when it would be no DNS name (a zone too long). */
int dnsbl_query_name(const struct ip_addr *ip, const char *zone, struct buf *out);

enum dnsbl_verdict {
	DNSBL_CLEAN,		/* no zone lists the address */
	DNSBL_LISTED,		/* one does: *zone_r and *text_r say which and why */
	DNSBL_UNKNOWN,		/* none lists it, but a lookup failed */
};

/* What a check found. */
struct dnsbl_result {
	enum dnsbl_verdict verdict;
	char *zone;		/* LISTED: the zone; UNKNOWN: one that failed */
	char *text;		/* LISTED: the list's TXT (sanitised), "" when none */
};

/*
 * Looks ip up in each zone of zones ("zone, zone" as [spam] dnsbl has it)
 * in turn, and stops at the first that lists it.  The result is the
 * caller's to clear.
 */
void dnsbl_check(const struct dns_source *src, const char *zones, const struct ip_addr *ip,
		 struct dnsbl_result *r);
void dnsbl_result_clear(struct dnsbl_result *r);

/* Appends the SMTP reply for a listed address (RFC 5321 §3.1 554, RFC
 * 3463 5.7.1), as Postfix words it:
 * "554 5.7.1 Service unavailable; client [192.0.2.1] blocked using ZONE; TEXT". */
void dnsbl_reply(const struct dnsbl_result *r, const struct ip_addr *ip, struct buf *out);

#endif

/*
 * dns_source: the one way the inbound checks (SPF, DKIM, DMARC, ARC,
 * DNSBL) ask DNS.
 *
 * The evaluators in trust/ are pure: they see DNS only through a struct
 * dns_source, a query function and its context.  The daemon's source is
 * its resolver (core/dns.h, with the shared TTL cache of core/dns_cache.h);
 * unit tests and fuzzers use a table in memory (dns_table below), so every
 * answer, NXDOMAIN, empty answer and server failure can be fed by hand.
 *
 * An answer is a struct dns_answer (core/dns.h): its status (DNS_OK with
 * at least one record, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL for
 * SERVFAIL or a timeout, DNS_ERROR for a malformed answer or a name DNS
 * cannot carry), its TTL and the records of the type asked for.
 */
#ifndef MAILHUB_TRUST_DNS_SOURCE_H
#define MAILHUB_TRUST_DNS_SOURCE_H

#include <stddef.h>

#include "core/dns.h"

/* Fills *ans_r (the caller frees it with dns_answer_free()) and returns
 * ans_r->status.  name is fully qualified; a trailing dot is optional. */
typedef int dns_query_fn(void *ctx, const char *name, enum dns_type type,
			 struct dns_answer *ans_r);

struct dns_source {
	dns_query_fn *query;
	void *ctx;
};

/* Asks src: the one call the evaluators make. */
int dns_source_query(const struct dns_source *src, const char *name, enum dns_type type,
		     struct dns_answer *ans_r);

/* The daemon's source: r answers (through its cache, if it has one). */
struct dns_source dns_source_resolver(struct dns_resolver *r);

/*
 * dns_table: a source answered from records in memory, for unit tests,
 * fuzzers and reproducing a report.  Its text form is one record a line,
 * zone-file like:
 *
 *	example.org TXT "v=spf1 ip4:192.0.2.0/24" "-all"
 *	example.org A 192.0.2.1
 *	example.org AAAA 2001:db8::1
 *	example.org MX 10 mx.example.org
 *	1.2.0.192.in-addr.arpa PTR mail.example.org
 *	*.bl.example TXT "listed"          (a wildcard: names below, RFC 4592)
 *	broken.example TXT !TEMPFAIL        (this question fails: SERVFAIL)
 *	bad.example A !ERROR                (a malformed answer)
 *
 * TXT data is one or more quoted strings (joined as DNS would; \" and \\
 * escape), so a record may be empty ("").  A name with no record of the
 * type asked is DNS_NODATA when it has records of another type (or is the
 * parent of a listed name), DNS_NXDOMAIN otherwise.  Names compare
 * without case; blank lines and lines starting with '#' are skipped.
 * Every answer has TTL 300.
 */
struct dns_table;

struct dns_table *dns_table_new(void);
void dns_table_free(struct dns_table **t);
/* Adds the records of text[0..len); -1 with *error_r naming the line
 * when one is not understood (the lines before it stay added). */
int dns_table_load(struct dns_table *t, const char *text, size_t len, const char **error_r);
/* A source that answers from t (t must outlive it). */
struct dns_source dns_table_source(struct dns_table *t);
/* How many questions t has answered (tests of the lookup limits). */
size_t dns_table_queries(const struct dns_table *t);

#endif

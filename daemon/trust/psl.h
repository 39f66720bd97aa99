/*
 * psl: the organisational domain of RFC 7489 §3.2, from the Public Suffix
 * List.
 *
 * DMARC's relaxed alignment compares organisational domains: a name's
 * public suffix plus one label ("mail.example.co.uk" -> "example.co.uk").
 * The list is Debian's publicsuffix data, read through libpsl the first
 * time it is needed (psl_latest(): the newer of the system's file and
 * libpsl's built-in copy), then shared read-only by every thread.
 */
#ifndef MAILHUB_TRUST_PSL_H
#define MAILHUB_TRUST_PSL_H

/* The organisational domain of domain (any case, a trailing dot
 * allowed): lowercase, without the dot; the domain itself when it is a
 * public suffix.  malloc'd. */
char *psl_org_domain(const char *domain);

#endif

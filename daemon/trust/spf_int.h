/*
 * spf_int: what the files of the SPF check share (not for other modules):
 * the parsed record (spf_record.c) and macro expansion (spf_macro.c).
 */
#ifndef MAILHUB_TRUST_SPF_INT_H
#define MAILHUB_TRUST_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "trust/spf.h"

/* RFC 7208 §5: the mechanisms. */
enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qualifier;	/* pass, fail, softfail or neutral (§4.6.2) */
	char *text;			/* the term as written, for the verdict */
	char *domain_spec;		/* NULL: the current domain */
	unsigned cidr4, cidr6;		/* a, mx: dual-cidr-length; ip4/ip6: the prefix */
	unsigned char net[16];		/* ip4, ip6 */
};

struct spf_record {
	struct spf_term *terms;
	size_t n;
	char *redirect;		/* domain-spec, or NULL */
	char *exp;		/* domain-spec, or NULL */
};

/* RFC 7208 §4.5: whether a TXT record is an SPF record: "v=spf1" (any
 * case) alone or followed by a space. */
bool spf_record_is_spf(const char *text, size_t len);

/* Parses a selected record (§4.6, §12): every term is checked before any
 * is evaluated, so a syntax error anywhere is permerror (§4.6).  0, or -1
 * with *error_r. */
int spf_record_parse(const char *text, size_t len, struct spf_record *rec,
		     const char **error_r);
void spf_record_free(struct spf_record *rec);

/* What the macros of §7.3 expand to.  ptr_name (for %{p}) is called at
 * most when a p macro is expanded; it returns the validated name or
 * "unknown". */
struct spf_macro_env {
	const char *sender;		/* s */
	const char *local;		/* l */
	const char *sender_domain;	/* o */
	const char *domain;		/* d */
	const char *helo;		/* h */
	const struct ip_addr *ip;	/* i, c, v */
	const char *receiver;		/* r */
	long long now;			/* t */
	const char *(*ptr_name)(void *ctx);
	void *ctx;
};

/* Checks a macro-string (§7.1); exp allows the letters c, r, t and
 * spaces (explanation-string).  0, or -1 with *error_r. */
int spf_macro_check(const char *s, size_t len, bool exp, const char **error_r);
/* Checks a domain-spec: a macro-string ending in "." toplabel ["."] or a
 * macro-expand (§7.1).  0, or -1 with *error_r. */
int spf_domain_spec_check(const char *s, size_t len, const char **error_r);
/* Expands a checked macro-string into out; -1 past out's maximum. */
int spf_macro_expand(struct buf *out, const char *s, const struct spf_macro_env *env);
/* Expands a checked domain-spec into a name to query: without a trailing
 * dot, cut from the left a label at a time to 253 bytes (§7.3).  The
 * result is malloc'd. */
char *spf_domain_expand(const char *spec, const struct spf_macro_env *env);
/* Whether name can be asked of DNS: labels of 1 to 63 bytes, printable
 * and not '\\' (the resolver's escape). */
bool spf_name_ok(const char *name);

#endif

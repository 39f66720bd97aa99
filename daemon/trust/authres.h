/*
 * authres: the Authentication-Results header field (RFC 8601) that mailhub
 * prepends to inbound mail, and the removal of forged ones.  Pure.
 *
 * A header is built from a list of results (struct authres_result: a
 * method, its result, an optional reason and comment, and properties such
 * as header.d=example.org), which authres_from_dkim() and
 * authres_from_arc() fill from the verifiers' results; SPF and DMARC write
 * their resinfo whole (spf_authres(), dmarc_authres()) and are taken as
 * text.  Values are written as they may stand (a token, a
 * domain name, local-part@domain) or as a quoted-string (RFC 8601 §2.2,
 * RFC 2045 §5.1), reasons always quoted, comments with '(', ')' and '\'
 * escaped; control characters never pass (they become '?').
 *
 * RFC 8601 §5: a receiving server removes any Authentication-Results field
 * that claims its own authserv-id before it adds its own, so that nobody
 * upstream can forge results under its name: authres_strip().
 */
#ifndef MAILHUB_TRUST_AUTHRES_H
#define MAILHUB_TRUST_AUTHRES_H

#include <stddef.h>

#include "core/buf.h"

struct dkim_sig_result;
struct arc_result;

#define AUTHRES_PROPS_MAX 6

struct authres_prop {
	const char *ptype;	/* "header", "smtp", "policy", "body" */
	const char *property;	/* "d", "mailfrom", "from"... */
	const char *value;
	size_t value_len;	/* 0: strlen(value) */
};

struct authres_result {
	/* A whole resinfo written by its check (spf_authres(),
	 * dmarc_authres()), taken as it is; NULL: made of the fields below. */
	const char *text;
	const char *method;	/* "spf", "dkim", "dmarc", "arc" */
	const char *result;	/* "pass", "fail"... */
	const char *comment;	/* written "(comment)" after the result; NULL: none */
	const char *reason;	/* reason="..."; NULL: none */
	struct authres_prop props[AUTHRES_PROPS_MAX];
	size_t n_props;
	struct buf scratch;	/* what authres_from_*() wrote the comment in */
};

/* Adds a property (at most AUTHRES_PROPS_MAX; more are dropped). */
void authres_result_prop(struct authres_result *r, const char *ptype, const char *property,
			 const char *value, size_t value_len);
/* Frees the result's scratch text. */
void authres_result_free(struct authres_result *r);

/* dkim=RESULT for one signature, with header.d, header.i (when there),
 * header.s, header.a and header.b (the first b_prefix characters of b=,
 * RFC 6008 §4: at least 8, more when two signatures share a prefix), a
 * reason unless it passed, and comments for a key in testing mode and for
 * a body signed only in part (l=).  r must outlive the result. */
void authres_from_dkim(const struct dkim_sig_result *r, size_t b_prefix,
		       struct authres_result *out);
/* The header.b prefix length for these signatures: 8, or the least longer
 * that tells apart any two that share their first 8 characters. */
size_t authres_dkim_b_prefix(const struct dkim_sig_result *const *r, size_t n);
/* arc=RESULT with the chain's length as a comment (RFC 8617 §7.2) and a
 * reason unless it passed or there is none. */
void authres_from_arc(const struct arc_result *r, struct authres_result *out);

/* Appends "Authentication-Results: ID;\r\n\tRESULT;\r\n\tRESULT\r\n" (or
 * "ID; none" without results, §2.2) to out, folded one result a line. */
void authres_build(struct buf *out, const char *authserv_id,
		   const struct authres_result *results, size_t n);

/* The authserv-id an Authentication-Results value claims (its first word,
 * after comments and white space, unquoted) appended to out.  0, or -1
 * when there is none. */
int authres_authserv_id(const char *value, size_t len, struct buf *out);

/* Copies the header block hdr[0..len) to out without the
 * Authentication-Results fields that claim authserv_id (compared without
 * case, §5).  Returns how many were left out. */
size_t authres_strip(const char *hdr, size_t len, const char *authserv_id, struct buf *out);

#endif

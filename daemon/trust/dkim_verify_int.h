/*
 * dkim_verify_int: what the DKIM verifier (dkim_verify.c) and the ARC
 * verifier (arc.c) share: a parsed signature field (DKIM-Signature,
 * ARC-Message-Signature or ARC-Seal: the same tag language and the same
 * hashing, RFC 8617 §4.1), the header fields of the message, a set of
 * streaming body hashes, and the key records with the signature check.
 */
#ifndef MAILHUB_TRUST_DKIM_VERIFY_INT_H
#define MAILHUB_TRUST_DKIM_VERIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mail/dkim_canon.h"
#include "mail/header.h"
#include "trust/dkim_verify.h"
#include "trust/dkim_verify_tags.h"

struct dns_source;

/* The header block of the message, split into fields once. */
struct dkim_headers {
	const char *data;	/* the block (owned by the verifier) */
	size_t len;
	struct mail_header_field *f;
	size_t n;
};

void dkim_headers_init(struct dkim_headers *hs, const char *data, size_t len);
void dkim_headers_free(struct dkim_headers *hs);
/* True when field i is called name (case-insensitive). */
bool dkim_headers_is(const struct dkim_headers *hs, size_t i, const char *name);

/* Appends field f canonicalized (with its CRLF) to out. */
void dkim_canon_field(const struct dkim_headers *hs, const struct mail_header_field *f,
		      enum dkim_canon c, struct buf *out);

enum dkim_sig_kind {
	DKIM_SIG_DKIM,		/* DKIM-Signature (RFC 6376 §3.5) */
	DKIM_SIG_AMS,		/* ARC-Message-Signature (RFC 8617 §4.1.2) */
	DKIM_SIG_AS,		/* ARC-Seal (RFC 8617 §4.1.3) */
};

enum arc_cv {
	ARC_CV_NONE,
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

/* A body hash computed streaming: one per (canonicalization, l=) that the
 * signatures of a message ask for. */
struct dkim_bodyhash {
	enum dkim_canon canon;
	bool limited;
	uint64_t limit;		/* l=, when limited */
	uint64_t total;		/* canonical body bytes seen */
	void *md;		/* EVP_MD_CTX * */
	struct dkim_body body;
	unsigned char digest[32];
};

struct dkim_bodyhashes {
	struct dkim_bodyhash *h;	/* capacity fixed at init: never moves */
	size_t n, cap;
};

void dkim_bodyhashes_init(struct dkim_bodyhashes *set, size_t cap);
/* The index of the body hash with this canonicalization and limit, made
 * when new; SIZE_MAX when the set is full (cannot happen when cap counts
 * every signature). */
size_t dkim_bodyhashes_want(struct dkim_bodyhashes *set, enum dkim_canon canon,
			    bool limited, uint64_t limit);
void dkim_bodyhashes_add(struct dkim_bodyhashes *set, const void *p, size_t n);
void dkim_bodyhashes_finish(struct dkim_bodyhashes *set);
void dkim_bodyhashes_free(struct dkim_bodyhashes *set);

/* One signature field, parsed and checked for syntax (not yet verified). */
struct dkim_sig {
	enum dkim_sig_kind kind;
	size_t field;		/* its index in the headers */
	struct dkim_tags tags;	/* into the header block */
	int alg;		/* DKIM_ALG_* below */
	enum dkim_canon hcanon, bcanon;
	const struct dkim_tag *h;	/* h=, or NULL (ARC-Seal) */
	const struct dkim_tag *b;
	struct buf bh_raw;	/* bh= decoded */
	struct buf b_raw;	/* b= decoded */
	char *d, *s, *i, *a;	/* the tags, squeezed; NULL when absent */
	char *b_text;		/* b= squeezed */
	unsigned instance;	/* ARC: i= */
	enum arc_cv cv;		/* ARC-Seal: cv= */
	bool limited;
	uint64_t limit;		/* l= */
	size_t body;		/* index in the body hashes; SIZE_MAX: none */
	/* set by the checks */
	enum dkim_status status;
	const char *reason;
	unsigned key_bits;
	bool testing;
};

enum {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
};

/* Parses the signature field hs->f[field] of kind.  On a syntax error the
 * signature gets status DKIM_PERMERROR and a reason (its d=, s= still
 * read when they can be) and -1 is returned; 0 otherwise. */
int dkim_sig_parse(struct dkim_sig *sig, enum dkim_sig_kind kind,
		   const struct dkim_headers *hs, size_t field, int64_t now);
void dkim_sig_free(struct dkim_sig *sig);

/* Appends the signature field with its b= value removed, canonicalized by
 * c, without its final CRLF (RFC 6376 §3.7): the last piece of the data a
 * signature covers. */
void dkim_sig_canon_self(const struct dkim_headers *hs, const struct dkim_sig *sig,
			 enum dkim_canon c, struct buf *out);

/* Appends the fields named in the signature's h=, canonicalized, picked
 * from the bottom up (RFC 6376 §5.4.2); with extra_from, one From more is
 * picked after h='s list (so that a From added above the signed one fails
 * the signature, as dkimpy does). */
void dkim_sig_select_fields(const struct dkim_headers *hs, const struct dkim_sig *sig,
			    bool extra_from, struct buf *out);

/* RFC 6376 §6.1.2-6.1.3 for a parsed signature: looks its key
 * (s=._domainkey.d=) up through dns, compares its bh= with body (NULL for
 * an ARC-Seal, which signs no body) and checks its b= over data[0..len)
 * (the header hash input).  Sets sig->status, reason, key_bits, testing. */
void dkim_sig_check(struct dkim_sig *sig, const struct dns_source *dns,
		    const struct dkim_bodyhash *body, const void *data, size_t len);

/* A key record (RFC 6376 §3.6.1), parsed. */
struct dkim_key_record {
	void *pkey;		/* EVP_PKEY * */
	int alg;		/* DKIM_ALG_* of its k= */
	unsigned bits;
	bool testing;		/* t=y */
	bool strict;		/* t=s */
};

/* Parses the TXT text of a key record for a signature of algorithm alg
 * (DKIM_ALG_*).  0, or -1 with *status_r (permerror) and *reason_r. */
int dkim_key_parse(const char *txt, size_t len, int alg, struct dkim_key_record *key,
		   enum dkim_status *status_r, const char **reason_r);
void dkim_key_free(struct dkim_key_record *key);

#endif

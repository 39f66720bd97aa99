/*
 * dkim_verify: DKIM signature verification (RFC 6376, with ed25519-sha256
 * of RFC 8463 and the crypto updates of RFC 8301) for inbound mail.
 *
 * A verifier is made from the header block of a message (held whole: the
 * signed fields are hashed from it), then fed the body in pieces of any
 * size: each body hash is computed streaming, so a 50 MiB message costs no
 * more memory than a small one.  dkim_verify_finish() then asks DNS for the
 * keys (through a struct dns_source, trust/dns_source.h) and checks every
 * signature; dkim_verify_fd() does all of it over a message file read once.
 *
 *	struct dkim_verify *v = dkim_verify_new(hdr, hdr_len, time(NULL));
 *	while (...) dkim_verify_body(v, chunk, n);
 *	dkim_verify_finish(v, &dns);
 *	for (size_t i = 0; i < dkim_verify_count(v); i++)
 *		use(dkim_verify_result(v, i));
 *	dkim_verify_free(&v);
 *
 * At most DKIM_VERIFY_SIGS_MAX signatures are checked, the topmost first
 * (core/limits.h); dkim_verify_skipped() says how many more there were.
 *
 * What a result means (RFC 8601 §2.7.1's words, which the
 * Authentication-Results header carries):
 *   pass       the signature verified with its key
 *   fail       it did not: body hash or signature mismatch, expired (x=),
 *              an i= that a strict key (t=s) does not allow
 *   policy     it verified, but local policy refuses it: an RSA key under
 *              DKIM_RSA_BITS_MIN bits (RFC 8301 §3.2)
 *   neutral    a signature by a key in testing mode (t=y) that did not
 *              verify: RFC 6376 §3.6.1 asks to treat it as unsigned
 *   temperror  DNS failed for the key: try later
 *   permerror  the signature or its key cannot be used: a syntax error,
 *              a required tag missing (v a b bh d h s), an algorithm
 *              other than rsa-sha256 and ed25519-sha256 (rsa-sha1 is
 *              refused, RFC 8301 §3.1), From not in h=,
 *              i= outside d=, l= past the body, t= in the future, no key,
 *              a revoked key (empty p=), a key of another type (k=), for
 *              other hashes (h=) or services (s=), a malformed key
 *
 * l= (body length): only that many bytes of the canonical body are
 * signed.  Content after them is not covered by the signature; the result
 * says so (length_limited, body_length > length) so that the caller can
 * treat it as unsigned, and Authentication-Results marks it.
 */
#ifndef MAILHUB_TRUST_DKIM_VERIFY_H
#define MAILHUB_TRUST_DKIM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dns_source;

enum dkim_status {
	DKIM_NONE,		/* no signature (whole-message summary only) */
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_POLICY,
	DKIM_NEUTRAL,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

/* "none", "pass", "fail", "policy", "neutral", "temperror", "permerror"
 * (RFC 8601 §2.7.1). */
const char *dkim_status_name(enum dkim_status status);

struct dkim_sig_result {
	enum dkim_status status;
	const char *reason;	/* plain words, static: "body hash mismatch" */
	/* The tags as written (NUL-terminated, white space removed), or NULL
	 * when the signature did not have them (or was too broken to read). */
	char *domain;		/* d= */
	char *selector;		/* s= */
	char *identity;		/* i=, or NULL when absent */
	char *algorithm;	/* a= */
	char *b;		/* b= (for header.b, RFC 6008) */
	unsigned key_bits;	/* of the key used, 0 when none was */
	bool testing;		/* the key says t=y */
	/* l=: only `length` bytes of the body_length bytes of the canonical
	 * body are signed; the rest is unsigned content. */
	bool length_limited;
	uint64_t length;
	uint64_t body_length;
};

struct dkim_verify;

/* A verifier for the message whose header block is hdr[0..hdr_len) (from
 * mail_header_size(), the empty line included or not); now is the time
 * t= and x= are judged at.  The header is copied. */
struct dkim_verify *dkim_verify_new(const char *hdr, size_t hdr_len, int64_t now);
/* Feeds body bytes (everything after the header block), in order. */
void dkim_verify_body(struct dkim_verify *v, const void *p, size_t n);
/* Ends the body, looks the keys up through dns and checks each
 * signature.  Call once. */
void dkim_verify_finish(struct dkim_verify *v, const struct dns_source *dns);

/* The signatures checked, topmost first (after finish). */
size_t dkim_verify_count(const struct dkim_verify *v);
const struct dkim_sig_result *dkim_verify_result(const struct dkim_verify *v, size_t i);
/* DKIM-Signature fields beyond DKIM_VERIFY_SIGS_MAX, not checked. */
size_t dkim_verify_skipped(const struct dkim_verify *v);
/* The best status among the signatures, in the order pass, fail, policy,
 * neutral, temperror, permerror; DKIM_NONE when there is none. */
enum dkim_status dkim_verify_summary(const struct dkim_verify *v);

void dkim_verify_free(struct dkim_verify **v);

struct arc_verify;

/*
 * Reads the message in fd (from its current offset to its end) once, in
 * pieces of DKIM_VERIFY_CHUNK bytes: the header block (at most
 * DKIM_VERIFY_HEADER_MAX bytes) is kept, the body streamed through the
 * DKIM verifier and, when arc_r is not NULL, the ARC verifier
 * (trust/arc.h), and both are finished with dns.  This is what SMTP calls
 * on the stored blob after DATA.  *dkim_r (and *arc_r) are the caller's to
 * free.  0, or -1 with *error_r (a read error, a header block too big).
 */
int dkim_verify_fd(int fd, int64_t now, const struct dns_source *dns,
		   struct dkim_verify **dkim_r, struct arc_verify **arc_r,
		   const char **error_r);

#endif

/*
 * dkim: DKIM signatures (RFC 6376) for the mail local users send, with
 * relaxed/relaxed canonicalization, by Ed25519 (RFC 8463) and RSA-2048
 * (rsa-sha256) keys.  The relay puts both signatures on each message.
 *
 * The keys live in the store (store/relayq.h: relayq_dkim_keys(), made at
 * first need); this module only signs.  A signer is fed the header block
 * whole and the body in pieces of any size, so a big message is never held
 * in memory; the canonicalizers (mail/dkim_canon.h, shared with the
 * verifiers of trust/) are pure and tested on their own.
 */
#ifndef MAILHUB_SMTP_DKIM_H
#define MAILHUB_SMTP_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum dkim_alg {
	DKIM_ED25519,		/* a=ed25519-sha256 (RFC 8463) */
	DKIM_RSA,		/* a=rsa-sha256 (RFC 6376 §3.3.1) */
};

struct dkim_key {
	enum dkim_alg alg;
	const char *domain;	/* d= */
	const char *selector;	/* s= */
	const char *private_pem;	/* PKCS#8 PEM */
	void *pkey;		/* the parsed key (EVP_PKEY *) from
				 * dkim_key_load(), or NULL: parsed from
				 * private_pem at each signature */
	void *sign_ctx;		/* RSA: its signing context (EVP_PKEY_CTX *),
				 * from dkim_key_load(); a loaded key belongs
				 * to one thread */
};

/* Parses private_pem once into key->pkey, so that signing many messages
 * does not decode the PEM each time (it costs more than the signature).
 * 0, or -1 with *error_r. */
int dkim_key_load(struct dkim_key *key, const char **error_r);
/* Frees key->pkey and key->sign_ctx (NULL ok). */
void dkim_key_unload(struct dkim_key *key);

struct dkim_signer;

/* A signer for the message whose header block is hdr[0..hdr_len) (from
 * mail_header_size(), the empty line included or not); t is the signing
 * time (t=). */
struct dkim_signer *dkim_signer_new(const char *hdr, size_t hdr_len, int64_t t);
/* Feeds body bytes (everything after the header block). */
void dkim_signer_body(struct dkim_signer *s, const void *p, size_t n);
/* Appends one "DKIM-Signature: ..." field (CRLF-terminated, folded) per
 * key to out.  0, or -1 with *error_r (a key that does not load). */
int dkim_signer_finish(struct dkim_signer *s, const struct dkim_key *keys,
		       size_t n_keys, struct buf *out, const char **error_r);
void dkim_signer_free(struct dkim_signer **s);

/* The header fields we sign, lowercase (RFC 6376 §5.4.1's list). */
extern const char *const dkim_signed_fields[];

#endif

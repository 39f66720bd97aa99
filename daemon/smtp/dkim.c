/*
 * dkim: signing (see dkim.h).
 */
#include "smtp/dkim.h"

#include <pthread.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/log.h"
#include "mail/dkim_canon.h"
#include "mail/header.h"

/* RFC 6376 §5.4.1: fields that should be signed when present.  "from" is
 * listed once more than it occurs (over-signing, §8.15) so that nobody can
 * add a second From that verifiers would show. */
const char *const dkim_signed_fields[] = {
	"from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
	"mime-version", "content-type", "content-transfer-encoding",
	"content-id", "content-description", "resent-date", "resent-from",
	"resent-sender", "resent-to", "resent-cc", "resent-message-id",
	"in-reply-to", "references", "list-id", "list-help", "list-unsubscribe",
	"list-subscribe", "list-post", "list-owner", "list-archive", NULL,
};

/* SHA-256 fetched once: OpenSSL 3 looks an implicit EVP_sha256() up in its
 * provider tables under a lock at every use, which costs more than hashing
 * a message when several workers sign at once. */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched != NULL ? sha256_fetched : EVP_sha256();
}

struct dkim_signer {
	char *hdr;
	size_t hdr_len;
	int64_t t;
	struct dkim_body body;
	EVP_MD_CTX *bh;
};

static void
body_hash(void *ctx, const void *p, size_t n)
{
	EVP_DigestUpdate(ctx, p, n);
}

struct dkim_signer *
dkim_signer_new(const char *hdr, size_t hdr_len, int64_t t)
{
	struct dkim_signer *s = xcalloc(1, sizeof *s);
	s->hdr = xmemdup(hdr, hdr_len);
	s->hdr_len = hdr_len;
	s->t = t;
	s->bh = EVP_MD_CTX_new();
	if (s->bh == NULL || EVP_DigestInit_ex(s->bh, sha256_md(), NULL) != 1)
		fatal("dkim: cannot start SHA-256");
	dkim_body_init(&s->body, DKIM_CANON_RELAXED, body_hash, s->bh);
	return s;
}

void
dkim_signer_body(struct dkim_signer *s, const void *p, size_t n)
{
	dkim_body_add(&s->body, p, n);
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->bh);
	free(s->hdr);
	free(s);
	*sp = NULL;
}

struct field {
	struct mail_header_field f;
	bool used;
};

/* Appends "name:..." lines of the signed fields (bottom-up instances,
 * §5.4.2) to canon and their names to hlist. */
static void
select_fields(const struct dkim_signer *s, struct buf *canon, struct buf *hlist)
{
	struct field *fields = NULL;
	size_t n = 0, cap = 0;
	struct mail_header_iter it;
	struct mail_header_field f;
	mail_header_iter_init(&it, s->hdr, s->hdr_len);
	while (mail_header_iter_next(&it, &f)) {
		if (n == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			fields = xreallocarray(fields, cap, sizeof *fields);
		}
		fields[n].f = f;
		fields[n++].used = false;
	}
	unsigned signed_n = 0;
	for (size_t k = 0; dkim_signed_fields[k] != NULL; k++) {
		const char *name = dkim_signed_fields[k];
		size_t nl = strlen(name);
		bool from = strcmp(name, "from") == 0;
		for (size_t i = n; i-- > 0;) {
			if (fields[i].used || fields[i].f.name_len != nl ||
			    !mem_eq_nocase(fields[i].f.name, name, nl))
				continue;
			if (signed_n >= DKIM_SIGNED_FIELDS_MAX)
				break;
			fields[i].used = true;
			signed_n++;
			dkim_canon_header(fields[i].f.name, fields[i].f.name_len,
					  fields[i].f.value, fields[i].f.value_len, canon);
			buf_printf(hlist, "%s%s", hlist->len > 0 ? ":" : "", name);
		}
		/* over-signing: a From that does not exist hashes as nothing */
		if (from)
			buf_printf(hlist, "%s%s", hlist->len > 0 ? ":" : "", name);
	}
	free(fields);
}

static int
load_key(const char *pem, EVP_PKEY **pkey_r, const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		fatal("dkim: out of memory");
	*pkey_r = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (*pkey_r == NULL) {
		*error_r = "cannot read a DKIM private key";
		return -1;
	}
	return 0;
}

static EVP_PKEY_CTX *rsa_sign_ctx(EVP_PKEY *pkey);

int
dkim_key_load(struct dkim_key *key, const char **error_r)
{
	EVP_PKEY *pkey;
	dkim_key_unload(key);
	if (load_key(key->private_pem, &pkey, error_r) < 0)
		return -1;
	key->pkey = pkey;
	if (key->alg == DKIM_RSA)
		key->sign_ctx = rsa_sign_ctx(pkey);	/* NULL: made at each use */
	return 0;
}

void
dkim_key_unload(struct dkim_key *key)
{
	EVP_PKEY_CTX_free(key->sign_ctx);
	key->sign_ctx = NULL;
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
}

/* Signs the SHA-256 digest: RSA PKCS#1 v1.5 over the DigestInfo
 * (§3.3.1), Ed25519 over the 32 digest bytes (RFC 8463 §3). */
static EVP_PKEY_CTX *
rsa_sign_ctx(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	if (ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, sha256_md()) == 1)
		return ctx;
	EVP_PKEY_CTX_free(ctx);
	return NULL;
}

/* Signs the SHA-256 digest with pkey, or with an RSA signing context set
 * up already (rsa_ctx, not NULL: reused, which spares OpenSSL's lookups). */
static int
sign_digest(EVP_PKEY *pkey, EVP_PKEY_CTX *rsa_ctx, enum dkim_alg alg,
	    const unsigned char *digest, struct buf *sig_b64, const char **error_r)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int ok = 0;
	if (alg == DKIM_ED25519) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		    EVP_DigestSign(ctx, NULL, &siglen, digest, 32) == 1) {
			sig = xmalloc(siglen);
			ok = EVP_DigestSign(ctx, sig, &siglen, digest, 32) == 1;
		}
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = rsa_ctx != NULL ? rsa_ctx : rsa_sign_ctx(pkey);
		if (ctx != NULL && EVP_PKEY_sign(ctx, NULL, &siglen, digest, 32) == 1) {
			sig = xmalloc(siglen);
			ok = EVP_PKEY_sign(ctx, sig, &siglen, digest, 32) == 1;
		}
		if (ctx != rsa_ctx)
			EVP_PKEY_CTX_free(ctx);
	}
	if (ok)
		base64_encode(sig_b64, sig, siglen);
	free(sig);
	if (!ok) {
		*error_r = "DKIM signing failed (wrong key type?)";
		return -1;
	}
	return 0;
}

/* Appends text folded: a line break + tab before a word that would pass
 * 78 columns (RFC 5322 §2.1.1). */
static void
fold_append(struct buf *out, size_t *col, const char *word)
{
	size_t l = strlen(word);
	if (*col + l + 1 > 78 && *col > 1) {
		buf_puts(out, "\r\n\t");
		*col = 1;
	} else if (*col > 0) {
		buf_putc(out, ' ');
		(*col)++;
	}
	buf_puts(out, word);
	*col += l;
}

int
dkim_signer_finish(struct dkim_signer *s, const struct dkim_key *keys,
		   size_t n_keys, struct buf *out, const char **error_r)
{
	unsigned char bh[EVP_MAX_MD_SIZE];
	unsigned bh_len = 0;
	struct buf canon = BUF_INIT, hlist = BUF_INIT, bh64 = BUF_INIT;
	int ret = -1;

	dkim_body_finish(&s->body);
	if (EVP_DigestFinal_ex(s->bh, bh, &bh_len) != 1)
		fatal("dkim: SHA-256 failed");
	base64_encode(&bh64, bh, bh_len);
	select_fields(s, &canon, &hlist);

	for (size_t k = 0; k < n_keys; k++) {
		const struct dkim_key *key = &keys[k];
		struct buf field = BUF_INIT, hashed = BUF_INIT, sig = BUF_INIT;
		EVP_PKEY *pkey = NULL;
		size_t col = 0;
		char *w;

		buf_puts(&field, "DKIM-Signature:");
		col = field.len;
		w = xasprintf("v=1; a=%s; c=relaxed/relaxed;",
			      key->alg == DKIM_ED25519 ? "ed25519-sha256" : "rsa-sha256");
		fold_append(&field, &col, w);
		free(w);
		w = xasprintf("d=%s;", key->domain);
		fold_append(&field, &col, w);
		free(w);
		w = xasprintf("s=%s;", key->selector);
		fold_append(&field, &col, w);
		free(w);
		w = xasprintf("t=%lld;", (long long)s->t);
		fold_append(&field, &col, w);
		free(w);
		/* h= broken at its colons, which FWS may surround (§3.5) */
		const char *h = buf_cstr(&hlist);
		fold_append(&field, &col, "h=");
		while (*h != '\0') {
			const char *c = strchr(h, ':');
			size_t l = c != NULL ? (size_t)(c - h) + 1 : strlen(h);
			if (col + l > 77) {
				buf_puts(&field, "\r\n\t");
				col = 1;
			}
			buf_append(&field, h, l);
			col += l;
			h += l;
		}
		buf_putc(&field, ';');
		col++;
		w = xasprintf("bh=%s;", buf_cstr(&bh64));
		fold_append(&field, &col, w);
		free(w);
		fold_append(&field, &col, "b=");

		/* §3.7: the signed fields, then this field with an empty b=,
		 * relaxed, without its final CRLF */
		buf_append(&hashed, canon.data, canon.len);
		dkim_canon_header("DKIM-Signature", 14, field.data + 15, field.len - 15,
				  &hashed);
		buf_truncate(&hashed, hashed.len - 2);
		unsigned char digest[32];
		unsigned dl = 0;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		if (md == NULL || EVP_DigestInit_ex(md, sha256_md(), NULL) != 1 ||
		    EVP_DigestUpdate(md, hashed.data, hashed.len) != 1 ||
		    EVP_DigestFinal_ex(md, digest, &dl) != 1)
			fatal("dkim: SHA-256 failed");
		EVP_MD_CTX_free(md);

		int r = 0;
		if (key->pkey == NULL)
			r = load_key(key->private_pem, &pkey, error_r);
		if (r == 0)
			r = sign_digest(key->pkey != NULL ? key->pkey : pkey,
					key->pkey != NULL ? key->sign_ctx : NULL, key->alg,
					digest, &sig, error_r);
		EVP_PKEY_free(pkey);
		if (r == 0) {
			/* b= folded in pieces; verifiers drop its FWS (§3.5) */
			const char *p = buf_cstr(&sig);
			size_t left = sig.len;
			while (left > 0) {
				size_t room = col < 77 ? 77 - col : 0;
				if (room == 0) {
					buf_puts(&field, "\r\n\t");
					col = 1;
					continue;
				}
				size_t l = left < room ? left : room;
				buf_append(&field, p, l);
				p += l;
				left -= l;
				col += l;
			}
			buf_puts(&field, "\r\n");
			buf_append(out, field.data, field.len);
		}
		buf_free(&field);
		buf_free(&hashed);
		buf_free(&sig);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	buf_free(&canon);
	buf_free(&hlist);
	buf_free(&bh64);
	return ret;
}

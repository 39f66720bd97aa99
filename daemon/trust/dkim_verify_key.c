/*
 * dkim_verify_key: DKIM key records (RFC 6376 §3.6.1) and the check of one
 * signature against its key (§6.1.2, §6.1.3); see dkim_verify_int.h.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/limits.h"
#include "core/log.h"
#include "trust/dkim_verify_int.h"
#include "trust/dns_source.h"

static int
key_error(enum dkim_status *status_r, const char **reason_r, const char *reason)
{
	*status_r = DKIM_PERMERROR;
	*reason_r = reason;
	return -1;
}

/* True when the colon list t holds one of the words a, b (b may be NULL). */
static bool
list_has(const struct dkim_tag *t, const char *a, const char *b)
{
	size_t pos = 0, len;
	const char *item;
	while (dkim_tag_list_next(t, ':', &pos, &item, &len)) {
		if (len == strlen(a) && mem_eq_nocase(item, a, len))
			return true;
		if (b != NULL && len == strlen(b) && mem_eq_nocase(item, b, len))
			return true;
	}
	return false;
}

static EVP_PKEY *
rsa_key(const unsigned char *der, size_t len)
{
	/* §3.6.1 p=: an RSA key is a SubjectPublicKeyInfo; some publish the
	 * bare RSAPublicKey (PKCS#1), which verifiers take as well */
	const unsigned char *p = der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey != NULL && (p != der + len || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (pkey == NULL) {
		p = der;
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		if (pkey != NULL && p != der + len) {
			EVP_PKEY_free(pkey);
			return NULL;
		}
	}
	return pkey;
}

/*
 * Parsed RSA keys by their DER bytes.  OpenSSL 3 decodes a key through its
 * provider decoders, which costs several times the verification itself,
 * and the same few senders' keys come with message after message (their
 * records are cached by the DNS cache already).  Owned by this file, under
 * its own lock; an EVP_PKEY is shared by reference (read-only afterwards,
 * which OpenSSL allows across threads); entries are replaced in turn.
 */
#define KEY_CACHE_ENTRIES 64

static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned char *der;
	size_t len;
	EVP_PKEY *pkey;
} key_cache[KEY_CACHE_ENTRIES];
static size_t key_cache_next;

/* A new reference to the key of der, parsed or cached; NULL when it is
 * not an RSA key. */
static EVP_PKEY *
rsa_key_cached(const unsigned char *der, size_t len)
{
	EVP_PKEY *pkey = NULL;
	pthread_mutex_lock(&key_cache_lock);
	for (size_t i = 0; i < KEY_CACHE_ENTRIES && pkey == NULL; i++)
		if (key_cache[i].pkey != NULL && key_cache[i].len == len &&
		    memcmp(key_cache[i].der, der, len) == 0 && EVP_PKEY_up_ref(key_cache[i].pkey) == 1)
			pkey = key_cache[i].pkey;
	pthread_mutex_unlock(&key_cache_lock);
	if (pkey != NULL)
		return pkey;
	pkey = rsa_key(der, len);
	if (pkey == NULL || EVP_PKEY_up_ref(pkey) != 1)
		return pkey;
	pthread_mutex_lock(&key_cache_lock);
	size_t i = key_cache_next++ % KEY_CACHE_ENTRIES;
	EVP_PKEY_free(key_cache[i].pkey);
	free(key_cache[i].der);
	key_cache[i].der = xmalloc(len);
	memcpy(key_cache[i].der, der, len);
	key_cache[i].len = len;
	key_cache[i].pkey = pkey;	/* the cache's reference */
	pthread_mutex_unlock(&key_cache_lock);
	return pkey;
}

int
dkim_key_parse(const char *txt, size_t len, int alg, struct dkim_key_record *key,
	       enum dkim_status *status_r, const char **reason_r)
{
	struct dkim_tags tags;
	const char *error;
	memset(key, 0, sizeof *key);
	if (dkim_tags_parse(txt, len, &tags, &error) < 0)
		return key_error(status_r, reason_r, "malformed key record");
	const struct dkim_tag *v = dkim_tags_get(&tags, "v");
	/* v=, when there, comes first and says DKIM1 */
	if (v != NULL && (v != &tags.tag[0] || !dkim_tag_is(v, "DKIM1", false)))
		return key_error(status_r, reason_r, "key record of another version (v=)");
	const struct dkim_tag *h = dkim_tags_get(&tags, "h");
	if (h != NULL && !list_has(h, "sha256", NULL))
		return key_error(status_r, reason_r, "key not for sha256 (h=)");
	const struct dkim_tag *k = dkim_tags_get(&tags, "k");
	if (k == NULL || dkim_tag_is(k, "rsa", true))
		key->alg = DKIM_ALG_RSA_SHA256;
	else if (dkim_tag_is(k, "ed25519", true))
		key->alg = DKIM_ALG_ED25519_SHA256;
	else
		return key_error(status_r, reason_r, "unknown key type (k=)");
	if (key->alg != alg)
		return key_error(status_r, reason_r, "key of another type than a= (k=)");
	const struct dkim_tag *s = dkim_tags_get(&tags, "s");
	if (s != NULL && !list_has(s, "*", "email"))
		return key_error(status_r, reason_r, "key not for email (s=)");
	const struct dkim_tag *t = dkim_tags_get(&tags, "t");
	if (t != NULL) {
		key->testing = list_has(t, "y", NULL);
		key->strict = list_has(t, "s", NULL);
	}
	const struct dkim_tag *p = dkim_tags_get(&tags, "p");
	if (p == NULL)
		return key_error(status_r, reason_r, "key record without p=");
	struct buf der = BUF_INIT;
	if (dkim_tag_base64(p, &der) < 0) {
		buf_free(&der);
		return key_error(status_r, reason_r, "malformed key (p=)");
	}
	if (der.len == 0)
		return key_error(status_r, reason_r, "key revoked (empty p=)");
	EVP_PKEY *pkey;
	if (key->alg == DKIM_ALG_ED25519_SHA256)
		pkey = der.len == 32 ? EVP_PKEY_new_raw_public_key(
					       EVP_PKEY_ED25519, NULL,
					       (const unsigned char *)der.data, 32)
				     : NULL;
	else
		pkey = rsa_key_cached((const unsigned char *)der.data, der.len);
	buf_free(&der);
	if (pkey == NULL)
		return key_error(status_r, reason_r, "malformed key (p=)");
	key->pkey = pkey;
	key->bits = (unsigned)EVP_PKEY_get_bits(pkey);
	if (key->alg == DKIM_ALG_RSA_SHA256 && key->bits > DKIM_RSA_BITS_MAX) {
		dkim_key_free(key);
		return key_error(status_r, reason_r, "RSA key too large to check");
	}
	return 0;
}

void
dkim_key_free(struct dkim_key_record *key)
{
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
}

/* RSA: PKCS#1 v1.5 over the SHA-256 DigestInfo (§3.3.1); Ed25519: over
 * the 32 digest bytes (RFC 8463 §3). */
static bool
signature_ok(const struct dkim_key_record *key, const unsigned char digest[32],
	     const struct buf *sig)
{
	const unsigned char *s = (const unsigned char *)sig->data;
	bool ok = false;
	if (key->alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1 &&
		     EVP_DigestVerify(ctx, s, sig->len, digest, 32) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key->pkey, NULL);
		ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_verify(ctx, s, sig->len, digest, 32) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	return ok;
}

static void
set_status(struct dkim_sig *sig, enum dkim_status status, const char *reason)
{
	sig->status = status;
	sig->reason = reason;
}

/* §3.6.1 t=s: the i= domain must be d= itself, not a subdomain. */
static bool
strict_identity_ok(const struct dkim_sig *sig)
{
	if (sig->kind != DKIM_SIG_DKIM || sig->i == NULL)
		return true;
	const char *at = strrchr(sig->i, '@');
	return at != NULL && str_eq_nocase(at + 1, sig->d);
}

void
dkim_sig_check(struct dkim_sig *sig, const struct dns_source *dns,
	       const struct dkim_bodyhash *body, const void *data, size_t len)
{
	struct dns_answer ans;
	struct dkim_key_record key;
	enum dkim_status status;
	const char *reason;

	char *name = xasprintf("%s._domainkey.%s", sig->s, sig->d);
	int r = dns_source_query(dns, name, DNS_T_TXT, &ans);
	free(name);
	if (r == DNS_NXDOMAIN || r == DNS_NODATA) {
		dns_answer_free(&ans);
		set_status(sig, DKIM_PERMERROR, "no key for the signature");
		return;
	}
	if (r != DNS_OK) {
		dns_answer_free(&ans);
		set_status(sig, DKIM_TEMPERROR, "key lookup failed");
		return;
	}
	/* §3.6.2.2: one record is expected; with several, the first */
	r = dkim_key_parse(ans.rr[0].text, ans.rr[0].text_len, sig->alg, &key, &status, &reason);
	dns_answer_free(&ans);
	if (r < 0) {
		set_status(sig, status, reason);
		return;
	}
	sig->key_bits = key.bits;
	sig->testing = key.testing;

	unsigned char digest[32];
	unsigned dl = 0;
	if (key.strict && !strict_identity_ok(sig)) {
		set_status(sig, DKIM_FAIL, "i= is a subdomain, which the key forbids (t=s)");
	} else if (body != NULL && body->limited && body->limit > body->total) {
		set_status(sig, DKIM_PERMERROR, "l= is longer than the body");
	} else if (body != NULL && (sig->bh_raw.len != 32 ||
				    memcmp(sig->bh_raw.data, body->digest, 32) != 0)) {
		set_status(sig, DKIM_FAIL, "body hash mismatch");
	} else if (EVP_Digest(data, len, digest, &dl, EVP_sha256(), NULL) != 1 || dl != 32) {
		fatal("dkim: SHA-256 failed");
	} else if (!signature_ok(&key, digest, &sig->b_raw)) {
		set_status(sig, DKIM_FAIL, "signature mismatch");
	} else if (key.alg == DKIM_ALG_RSA_SHA256 && key.bits < DKIM_RSA_BITS_MIN) {
		/* RFC 8301 §3.2: keys under 1024 bits are not valid */
		set_status(sig, DKIM_POLICY, "RSA key under 1024 bits");
	} else {
		set_status(sig, DKIM_PASS, "good signature");
	}
	/* §3.6.1 t=y: a key in testing mode is treated like no signature
	 * when it fails */
	if (key.testing && sig->status == DKIM_FAIL)
		set_status(sig, DKIM_NEUTRAL, "failed, but the key is in testing mode (t=y)");
	dkim_key_free(&key);
}

#include "core/hash.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *
sha256_new(void)
{
	struct sha256_ctx *ctx = xmalloc(sizeof *ctx);
	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1)
		fatal("OpenSSL cannot start a SHA-256 digest");
	return ctx;
}

void
sha256_update(struct sha256_ctx *ctx, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(ctx->md, p, n) != 1)
		fatal("OpenSSL SHA-256 update failed");
}

void
sha256_finish_hex(struct sha256_ctx **ctxp, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx *ctx = *ctxp;
	unsigned char md[32];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(ctx->md, md, &len) != 1 || len != sizeof md)
		fatal("OpenSSL SHA-256 final failed");
	hex_encode(md, sizeof md, out);
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
	*ctxp = NULL;
}

void
sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx *ctx = sha256_new();
	sha256_update(ctx, p, n);
	sha256_finish_hex(&ctx, out);
}

void
hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[s[i] >> 4];
		out[2 * i + 1] = digits[s[i] & 15];
	}
	out[2 * n] = '\0';
}

bool
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

void
random_bytes(void *p, size_t n)
{
	unsigned char *out = p;

	/* RAND_bytes takes an int: larger requests go in pieces */
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(out, chunk) != 1)
			fatal("the system's random number generator failed");
		out += chunk;
		n -= (size_t)chunk;
	}
}

bool
mem_equal_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

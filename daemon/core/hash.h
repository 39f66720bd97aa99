/*
 * hash: SHA-256, hex and randomness helpers on top of OpenSSL.
 */
#ifndef MAILHUB_CORE_HASH_H
#define MAILHUB_CORE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

/* An incremental SHA-256 (for blobs written in pieces). */
struct sha256_ctx;
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *ctx, const void *p, size_t n);
/* Writes 64 lowercase hex digits and a NUL, and frees ctx. */
void sha256_finish_hex(struct sha256_ctx **ctx, char out[SHA256_HEX_LEN + 1]);

/* One-shot SHA-256 of p[0..n) as hex. */
void sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1]);
/* Lowercase hex of p[0..n) into out (2n+1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/* True when s is exactly n lowercase hex digits. */
bool is_lower_hex(const char *s, size_t n);
/* Cryptographically random bytes (RAND_bytes); aborts if the RNG fails. */
void random_bytes(void *p, size_t n);
/* Compares in time independent of where they differ. */
bool mem_equal_ct(const void *a, const void *b, size_t n);

#endif

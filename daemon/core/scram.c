#include "core/scram.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"

/* The longest stored form: prefix, count, three base64 fields. */
#define SCRAM_FORMAT_MAX 256

static void
hmac(const unsigned char *key, size_t key_len, const void *data, size_t len,
     unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int out_len = 0;
	if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) == NULL ||
	    out_len != SCRAM_KEY_LEN)
		fatal("scram: HMAC-SHA-256 failed");
}

/* ClientKey and ServerKey from SaltedPassword (RFC 5802 §3). */
static int
salted_keys(const char *password, size_t len, const unsigned char *salt,
	    size_t salt_len, unsigned iterations, unsigned char client_key[SCRAM_KEY_LEN],
	    unsigned char server_key[SCRAM_KEY_LEN], const char **error_r)
{
	unsigned char salted[SCRAM_KEY_LEN];

	if (iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX) {
		*error_r = "SCRAM iteration count out of bounds";
		return -1;
	}
	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX) {
		*error_r = "SCRAM salt length out of bounds";
		return -1;
	}
	/* Hi() is PBKDF2 with HMAC as the PRF and one block (RFC 5802 §2.2) */
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len, (int)iterations,
			      EVP_sha256(), sizeof salted, salted) != 1) {
		*error_r = "PBKDF2 failed";
		return -1;
	}
	hmac(salted, sizeof salted, "Client Key", 10, client_key);
	if (server_key != NULL)
		hmac(salted, sizeof salted, "Server Key", 10, server_key);
	explicit_bzero(salted, sizeof salted);
	return 0;
}

int
scram_derive(const char *password, size_t len, const unsigned char *salt,
	     size_t salt_len, unsigned iterations, struct scram_keys *keys_r,
	     const char **error_r)
{
	unsigned char client_key[SCRAM_KEY_LEN];

	memset(keys_r, 0, sizeof *keys_r);
	if (salted_keys(password, len, salt, salt_len, iterations, client_key,
			keys_r->server_key, error_r) < 0)
		return -1;
	SHA256(client_key, sizeof client_key, keys_r->stored_key);
	explicit_bzero(client_key, sizeof client_key);
	keys_r->iterations = iterations;
	keys_r->salt_len = salt_len;
	memcpy(keys_r->salt, salt, salt_len);
	return 0;
}

char *
scram_format(const struct scram_keys *k)
{
	struct buf b;

	buf_init(&b, SCRAM_FORMAT_MAX);
	if (buf_printf(&b, "%s%u,", SCRAM_PREFIX, k->iterations) < 0 ||
	    base64_encode(&b, k->salt, k->salt_len) < 0 || buf_putc(&b, ',') < 0 ||
	    base64_encode(&b, k->stored_key, SCRAM_KEY_LEN) < 0 || buf_putc(&b, ',') < 0 ||
	    base64_encode(&b, k->server_key, SCRAM_KEY_LEN) < 0)
		panic("scram: stored form longer than %d bytes", SCRAM_FORMAT_MAX);
	return buf_steal(&b);
}

/* Decodes the base64 field text[0..n) into out, which must come to between
 * min and max bytes.  Returns the length, or -1. */
static long
decode_field(const char *text, size_t n, unsigned char *out, size_t min, size_t max)
{
	struct buf b;
	long r = -1;

	buf_init(&b, max);
	if (base64_decode(&b, text, n, false) == 0 && b.len >= min && b.len <= max) {
		memcpy(out, b.data, b.len);
		r = (long)b.len;
	}
	buf_free(&b);
	return r;
}

int
scram_parse(const char *text, struct scram_keys *k)
{
	memset(k, 0, sizeof *k);
	if (text == NULL || !str_has_prefix_nocase(text, SCRAM_PREFIX) ||
	    strlen(text) > SCRAM_FORMAT_MAX)
		return -1;
	const char *p = text + strlen(SCRAM_PREFIX);
	/* ITERATIONS,SALT,STOREDKEY,SERVERKEY */
	const char *f[4];
	size_t n[4];
	for (int i = 0; i < 4; i++) {
		const char *comma = strchr(p, ',');
		f[i] = p;
		n[i] = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if ((i < 3) != (comma != NULL))
			return -1;
		p = comma != NULL ? comma + 1 : p + n[i];
	}
	unsigned long it = 0;
	if (n[0] == 0 || n[0] > 7)
		return -1;
	for (size_t i = 0; i < n[0]; i++) {
		if (f[0][i] < '0' || f[0][i] > '9')
			return -1;
		it = it * 10 + (unsigned long)(f[0][i] - '0');
	}
	if (it < SCRAM_ITERATIONS_MIN || it > SCRAM_ITERATIONS_MAX)
		return -1;
	long salt_len = decode_field(f[1], n[1], k->salt, 1, SCRAM_SALT_MAX);
	if (salt_len < 0 ||
	    decode_field(f[2], n[2], k->stored_key, SCRAM_KEY_LEN, SCRAM_KEY_LEN) < 0 ||
	    decode_field(f[3], n[3], k->server_key, SCRAM_KEY_LEN, SCRAM_KEY_LEN) < 0) {
		memset(k, 0, sizeof *k);
		return -1;
	}
	k->iterations = (unsigned)it;
	k->salt_len = (size_t)salt_len;
	return 0;
}

bool
scram_proof_valid(const struct scram_keys *k, const char *auth_message, size_t len,
		  const unsigned char proof[SCRAM_KEY_LEN])
{
	unsigned char signature[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	unsigned char stored[SCRAM_KEY_LEN];

	hmac(k->stored_key, SCRAM_KEY_LEN, auth_message, len, signature);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ signature[i];
	SHA256(client_key, sizeof client_key, stored);
	bool ok = mem_equal_ct(stored, k->stored_key, SCRAM_KEY_LEN);
	explicit_bzero(client_key, sizeof client_key);
	return ok;
}

void
scram_server_signature(const struct scram_keys *k, const char *auth_message,
		       size_t len, unsigned char out[SCRAM_KEY_LEN])
{
	hmac(k->server_key, SCRAM_KEY_LEN, auth_message, len, out);
}

int
scram_client_proof(const char *password, size_t len, const unsigned char *salt,
		   size_t salt_len, unsigned iterations, const char *auth_message,
		   size_t auth_len, unsigned char proof_r[SCRAM_KEY_LEN])
{
	unsigned char client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	unsigned char signature[SCRAM_KEY_LEN];
	const char *why;

	if (salted_keys(password, len, salt, salt_len, iterations, client_key, NULL,
			&why) < 0)
		return -1;
	SHA256(client_key, sizeof client_key, stored);
	hmac(stored, sizeof stored, auth_message, auth_len, signature);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		proof_r[i] = client_key[i] ^ signature[i];
	explicit_bzero(client_key, sizeof client_key);
	return 0;
}

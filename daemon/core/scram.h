/*
 * scram: the keys and proofs of SCRAM-SHA-256 (RFC 5802 §3, RFC 7677), and
 * their stored form.
 *
 *   SaltedPassword  = Hi(password, salt, i)      (PBKDF2-HMAC-SHA-256)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 *
 * The server keeps only salt, i, StoredKey and ServerKey: enough to check a
 * proof and to prove itself, not enough to log in.  They are stored in
 * Dovecot's form "{SCRAM-SHA-256}4096,SALT,STOREDKEY,SERVERKEY" (base64
 * fields), so they move to a Dovecot passwd-file unchanged.
 *
 * The password is used as its UTF-8 bytes, without SASLprep (RFC 4013), as
 * Dovecot and Cyrus SASL do; for ASCII passwords the two are the same.
 */
#ifndef MAILHUB_CORE_SCRAM_H
#define MAILHUB_CORE_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#define SCRAM_PREFIX "{SCRAM-SHA-256}"
/* Dovecot's default; RFC 7677 §4 asks for at least 4096. */
#define SCRAM_ITERATIONS 4096
/* Bounds on what a stored form may say (a stored value is trusted data,
 * but a huge count would stall logins). */
#define SCRAM_ITERATIONS_MIN 4096
#define SCRAM_ITERATIONS_MAX 1000000
#define SCRAM_SALT_LEN 16
#define SCRAM_SALT_MAX 64
#define SCRAM_KEY_LEN 32

struct scram_keys {
	unsigned iterations;
	size_t salt_len;
	unsigned char salt[SCRAM_SALT_MAX];
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Derives the keys of password[0..len) with salt and iterations (within
 * the bounds above).  Returns 0, or -1 with *error_r. */
int scram_derive(const char *password, size_t len, const unsigned char *salt,
		 size_t salt_len, unsigned iterations, struct scram_keys *keys_r,
		 const char **error_r);
/* The stored form of keys (malloc'd "{SCRAM-SHA-256}..."). */
char *scram_format(const struct scram_keys *keys);
/* Reads a stored form (the prefix in any case).  Returns 0, or -1 for
 * anything else (another scheme, a malformed field, out of bounds). */
int scram_parse(const char *text, struct scram_keys *keys_r);

/* True when proof is the client's proof for keys over auth_message. */
bool scram_proof_valid(const struct scram_keys *keys, const char *auth_message,
		       size_t len, const unsigned char proof[SCRAM_KEY_LEN]);
/* ServerSignature over auth_message. */
void scram_server_signature(const struct scram_keys *keys, const char *auth_message,
			    size_t len, unsigned char out[SCRAM_KEY_LEN]);
/* The client's side, for tests and the fuzz target: ClientProof from the
 * SaltedPassword-derived ClientKey of password. */
int scram_client_proof(const char *password, size_t len, const unsigned char *salt,
		       size_t salt_len, unsigned iterations, const char *auth_message,
		       size_t auth_len, unsigned char proof_r[SCRAM_KEY_LEN]);

#endif
